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
