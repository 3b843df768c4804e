#!/usr/bin/env bats
# Seccomp: linux.seccomp filters a container's syscalls with the action,
# errno and flags the profile says, hands notified syscalls to an agent,
# answers ENOSYS for syscalls newer than the profile, and refuses a bad
# profile before anything is made (see docs/seccomp.md).

load helpers

setup() {
	setup_busybox
	# The busybox bundle's root is read-only; mkdir must reach seccomp.
	update_config '.root.readonly = false'
}

teardown() {
	# Stopped and waited for here, so that bash does not report the kill
	# of teardown_common on the test's output.
	if [ -n "${AGENT_PID:-}" ]; then
		kill -KILL "$AGENT_PID" 2>/dev/null || true
		wait "$AGENT_PID" 2>/dev/null || true
	fi
	teardown_common
}

# allowed_syscalls prints, one a line, the x86_64 syscalls a Docker-style
# profile lets run: what a shell, a C library and the Go runtime use.
# The highest numbered of them is futex_waitv (449).
allowed_syscalls() {
	tr -s ' \n' '\n\n' <<-'EOF'
		accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
		clock_adjtime clock_getres clock_gettime clock_nanosleep clone clone3 close
		close_range connect copy_file_range creat dup dup2 dup3 epoll_create
		epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait eventfd eventfd2
		execve execveat exit exit_group faccessat faccessat2 fadvise64 fallocate
		fanotify_mark fchdir fchmod fchmodat fchown fchownat fcntl fdatasync
		fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstatfs fsync
		ftruncate futex futex_waitv futimesat getcpu getcwd getdents getdents64
		getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp
		getpid getppid getpriority getrandom getresgid getresuid getrlimit
		get_robust_list getrusage getsid getsockname getsockopt gettid gettimeofday
		getuid getxattr inotify_add_watch inotify_init inotify_init1
		inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents ioprio_get
		ioprio_set io_setup io_submit io_uring_enter io_uring_register io_uring_setup
		ioctl kill landlock_add_rule landlock_create_ruleset landlock_restrict_self
		lchown lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek
		lsetxattr lstat madvise membarrier memfd_create memfd_secret mincore mkdir
		mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect mq_getsetattr
		mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget
		msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
		newfstatat open openat openat2 pause pidfd_getfd pidfd_open pidfd_send_signal
		pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64
		preadv preadv2 prlimit64 process_mrelease pselect6 pwrite64 pwritev pwritev2
		read readahead readlink readlinkat readv recvfrom recvmmsg recvmsg
		remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
		rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
		rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity
		sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
		sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr
		sched_setparam sched_setscheduler sched_yield seccomp select semctl semget
		semop semtimedop sendfile sendmmsg sendmsg sendto setfsgid setfsuid setgid
		setgroups setitimer setpgid setpriority setregid setresgid setresuid setreuid
		setrlimit set_robust_list setsid setsockopt set_tid_address setuid setxattr
		shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 socket
		socketpair splice stat statfs statx symlink symlinkat sync sync_file_range
		syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
		timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime
		times tkill truncate umask uname unlink unlinkat utime utimensat utimes vfork
		vmsplice wait4 waitid write writev arch_prctl modify_ldt chroot
	EOF
}

# set_seccomp JSON sets linux.seccomp to JSON.
set_seccomp() {
	update_config '.linux.seccomp = $s' --argjson s "$1"
}

# set_default_profile [NAME...] sets a Docker-style profile: every syscall
# fails with EPERM but those of allowed_syscalls, less the NAMEs;
# architectures is null, so only the native ABI is handled.
set_default_profile() {
	local names
	names=$(allowed_syscalls | jq -Rn --args '[inputs | select(. != "") |
		select(. as $n | $ARGS.positional | index($n) | not)]' "$@")
	set_seccomp "$(jq -n --argjson n "$names" '{
		"defaultAction": "SCMP_ACT_ERRNO",
		"architectures": null,
		"syscalls": [{"names": $n, "action": "SCMP_ACT_ALLOW"}]
	}')"
}

# deny_mkdir ACTION [EXTRA-JSON] sets a profile that lets every syscall
# run but mkdir and mkdirat, which get ACTION; EXTRA-JSON is merged into
# their rule (an errnoRet, say).
deny_mkdir() {
	set_seccomp "$(jq -n --arg a "$1" --argjson x "${2:-{\}}" '{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": $a} + $x]
	}')"
}

# seccompagent prints the path of contrib/cmd/seccompagent, built once per
# run. It links libseccomp, so it needs cgo, which go_helper turns off; it
# runs on the host, so it need not be static.
seccompagent() {
	local bin=$BATS_RUN_TMPDIR/bin/seccompagent-cgo
	(
		flock 9
		if [ ! -x "$bin" ]; then
			command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
			cd "$REPO_ROOT" &&
				CGO_ENABLED=1 go build -o "$bin" ./contrib/cmd/seccompagent >&2
		fi
	) 9>"$BATS_RUN_TMPDIR/seccompagent.lock" || return
	echo "$bin"
}

# fails_cleanly CMD... runs towel with CMD and checks the failure: non-zero
# status, one line on stderr, nothing left behind.
fails_cleanly() {
	local before
	mkdir -p "$ROOT"
	before=$(snapshot)
	towel_captured "$@"
	echo "status $status, stderr: $stderr"
	[ "$status" -ne 0 ]
	one_line_error
	assert_nothing_left "$before" "$CT"
}

@test "seccomp: a denied syscall fails with the rule's errnoRet" {
	deny_mkdir SCMP_ACT_ERRNO '{"errnoRet": 13}'
	in_container sh -c 'mkdir /tmp/x; echo rc=$?'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"Permission denied"* ]]
	[ "${lines[1]}" = rc=1 ]
	[ ! -e "$BUNDLE/rootfs/tmp/x" ]
}

@test "seccomp: defaultErrnoRet is the errno of the default action" {
	# mkdir and mkdirat are left out, so they get the default action.
	set_default_profile mkdir mkdirat
	# EDQUOT rather than the EPERM of a profile without defaultErrnoRet.
	update_config '.linux.seccomp.defaultErrnoRet = 122'
	in_container sh -c 'mkdir /tmp/x; echo rc=$?'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"quota exceeded"* ]]
	[ "${lines[1]}" = rc=1 ]
	[ ! -e "$BUNDLE/rootfs/tmp/x" ]
}

@test "seccomp: SCMP_ACT_KILL kills the process with SIGSYS" {
	deny_mkdir SCMP_ACT_KILL
	in_container mkdir /tmp/x
	echo "$output"
	[ "$status" -eq 159 ]
	[ ! -e "$BUNDLE/rootfs/tmp/x" ]
}

@test "seccomp: SCMP_ACT_KILL_PROCESS kills the process with SIGSYS" {
	deny_mkdir SCMP_ACT_KILL_PROCESS
	in_container mkdir /tmp/x
	echo "$output"
	[ "$status" -eq 159 ]
	[ ! -e "$BUNDLE/rootfs/tmp/x" ]
}

@test "seccomp: SCMP_ACT_LOG lets the syscall run and the kernel logs it" {
	# In the host's PID namespace, the pid the shell sees is the one the
	# kernel's audit record names.
	update_config '.linux.namespaces -= [{"type": "pid"}]'
	deny_mkdir SCMP_ACT_LOG
	in_container sh -c 'mkdir /tmp/x & echo $!; wait $!; echo rc=$?
		test -d /tmp/x && echo made; grep ^Seccomp: /proc/self/status'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = rc=0 ]
	[ "${lines[2]}" = made ]
	[ "$(echo ${lines[3]})" = "Seccomp: 2" ]
	[ -d "$BUNDLE/rootfs/tmp/x" ]

	# type=1326 is AUDIT_SECCOMP; without auditd it goes to the kernel log.
	local pid=${lines[0]} i
	for i in $(seq 100); do
		dmesg | grep 'type=1326' | grep -q " pid=$pid .* syscall=83 " && return
		sleep 0.1
	done
	echo "no audit record for pid $pid:" >&2
	dmesg | grep 'type=1326' | tail -n 5 >&2
	return 1
}

@test "seccomp: a syscall newer than the profile gets ENOSYS, an old one EPERM" {
	local rawsyscall
	rawsyscall=$(go_helper rawsyscall)
	cp "$rawsyscall" "$BUNDLE/rootfs/bin/rawsyscall"
	# getppid (110) is known to the profile's authors but left out; mseal
	# (462) and 1000 are past futex_waitv (449), the highest one named.
	set_default_profile getppid
	in_container /bin/rawsyscall 110 462 1000
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "110 EPERM" ]
	[ "${lines[1]}" = "462 ENOSYS" ]
	[ "${lines[2]}" = "1000 ENOSYS" ]
}

@test "seccomp: a Docker-style profile runs busybox and Debian's apt-get" {
	set_default_profile
	in_container sh -c 'echo ok'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]

	local debian=$BATS_RUN_TMPDIR/debian-seccomp
	if ! "$MKBUNDLE" "$debian" debian true >"$BATS_TEST_TMPDIR/mkbundle.log" 2>&1; then
		skip "no Debian rootfs: $(tail -n1 "$BATS_TEST_TMPDIR/mkbundle.log")"
	fi
	jq --arg r "$debian/rootfs" --argjson s "$(jq .linux.seccomp "$BUNDLE/config.json")" \
		'.root.path = $r | .linux.seccomp = $s' "$debian/config.json" \
		>"$BUNDLE/config.json"
	in_container apt-get --version
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "apt "* ]]
}

@test "seccomp: SCMP_ACT_NOTIFY hands mkdir to the agent, which answers it" {
	local agent sock=$BATS_TEST_TMPDIR/agent.sock
	agent=$(seccompagent)
	# fd 3 closed: bats waits for whoever holds it.
	"$agent" --mkdir-errno EDQUOT --pid-file "$BATS_TEST_TMPDIR/agent.pid" \
		"$sock" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/agent.log" 3>&- &
	AGENT_PID=$!
	wait_for_file "$BATS_TEST_TMPDIR/agent.pid"
	set_seccomp "$(jq -n --arg p "$sock" '{
		"defaultAction": "SCMP_ACT_ALLOW",
		"listenerPath": $p,
		"listenerMetadata": "seccomp.bats",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
	}')"
	in_container sh -c 'mkdir /tmp/x; echo rc=$?'
	echo "$output"
	cat "$BATS_TEST_TMPDIR/agent.log"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"quota exceeded"* ]]
	[ "${lines[1]}" = rc=1 ]
	[ ! -e "$BUNDLE/rootfs/tmp/x" ]
	grep -q mkdir "$BATS_TEST_TMPDIR/agent.log"
}

@test "seccomp: SCMP_ACT_NOTIFY takes the agent's success, and nothing is made" {
	local agent sock=$BATS_TEST_TMPDIR/agent.sock
	agent=$(seccompagent)
	"$agent" --mkdir-value 0 --pid-file "$BATS_TEST_TMPDIR/agent.pid" \
		"$sock" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/agent.log" 3>&- &
	AGENT_PID=$!
	wait_for_file "$BATS_TEST_TMPDIR/agent.pid"
	set_seccomp "$(jq -n --arg p "$sock" '{
		"defaultAction": "SCMP_ACT_ALLOW",
		"listenerPath": $p,
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
	}')"
	in_container sh -c 'mkdir /tmp/x; echo rc=$?; test -e /tmp/x || echo absent'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = rc=0 ]
	[ "${lines[1]}" = absent ]
}

@test "seccomp: the log and tsync flags load one filter" {
	local flag
	for flag in SECCOMP_FILTER_FLAG_LOG SECCOMP_FILTER_FLAG_TSYNC; do
		deny_mkdir SCMP_ACT_ERRNO
		update_config '.linux.seccomp.flags = [$f]' --arg f "$flag"
		in_container sh -c 'grep ^Seccomp /proc/self/status; mkdir /tmp/x'
		echo "$flag: $output"
		[ "$status" -ne 0 ]
		[ "$(echo ${lines[0]})" = "Seccomp: 2" ]
		[ "$(echo ${lines[1]})" = "Seccomp_filters: 1" ]
		[[ "$output" == *"not permitted"* ]]
	done
}

@test "seccomp: a bad profile fails create with one line and leaves nothing" {
	local bad
	for bad in \
		'.linux.seccomp.syscalls[0].action = "SCMP_ACT_FROBNICATE"' \
		'.linux.seccomp.syscalls[0].args = [{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]' \
		'.linux.seccomp.architectures = ["SCMP_ARCH_PDP11"]' \
		'.linux.seccomp.defaultAction = "SCMP_ACT_BOGUS"'; do
		deny_mkdir SCMP_ACT_ERRNO
		update_config "$bad"
		fails_cleanly create --bundle "$BUNDLE" "$CT"
	done
}

@test "seccomp: a process started by exec gets the container's filter" {
	deny_mkdir SCMP_ACT_ERRNO '{"errnoRet": 13}'
	set_args sleep 1000
	run_detached "$CT"
	wait_for_status "$CT" running
	run towel exec "$CT" sh -c 'grep ^Seccomp /proc/self/status; mkdir /tmp/x'
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(echo ${lines[0]})" = "Seccomp: 2" ]
	[ "$(echo ${lines[1]})" = "Seccomp_filters: 1" ]
	[[ "${lines[2]}" == *"Permission denied"* ]]
	[ ! -e "$BUNDLE/rootfs/tmp/x" ]
}
