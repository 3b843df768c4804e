#!/usr/bin/env bats
# Terminals: foreground run and exec -t on a real pty (driven by expect),
# console sockets for detached containers (recvtty), /dev/console, and the
# pass-through stdio of terminal: false.

load helpers

setup() {
	setup_busybox
	update_config '.process.terminal = true'
	T=$BATS_TEST_TMPDIR
}

teardown() {
	teardown_common
}

# session.sh runs towel in a shell on the pty expect made, 33 rows by 99
# columns: it records the terminal's settings before and after, prints
# towel's pid and its exit status.
write_session() {
	cat >"$T/session.sh" <<-'EOF'
		stty rows 33 cols 99
		stty -g >"$T/before"
		sh -c 'echo "towel-pid=$$"; exec "$@"' sh "$TOWEL" --root "$ROOT" "$@"
		echo "towel-exit=$?"
		stty -g >"$T/after"
	EOF
}

# in_pty EXPECT-BODY [TOWEL-ARGS...] runs towel with TOWEL-ARGS in
# session.sh under expect, then the Tcl in EXPECT-BODY, then waits for
# the end. It leaves bats' $status and $output (expect's transcript).
in_pty() {
	local body=$1 arg args=""
	shift
	# Each argument a Tcl word, taken literally.
	for arg in "$@"; do
		args+=" {$arg}"
	done
	write_session
	cat >"$T/t.exp" <<-EOF
		set timeout 20
		log_user 1
		spawn -noecho sh $T/session.sh$args
		$body
		expect {
			eof {}
			timeout { puts "\\nEXPECT-TIMEOUT"; exit 1 }
		}
	EOF
	export T TOWEL
	run expect "$T/t.exp"
}

# terminal_restored checks the session's terminal ended as it started.
terminal_restored() {
	if ! cmp -s "$T/before" "$T/after"; then
		echo "before: $(cat "$T/before")" >&2
		echo "after:  $(cat "$T/after")" >&2
		return 1
	fi
}

# Tcl: wait for a pattern or fail the expect script.
expect_or_fail() {
	echo "expect {
		-re {$1} {}
		timeout { puts \"\\nEXPECT-TIMEOUT waiting for $1\"; exit 1 }
		eof { puts \"\\nEXPECT-EOF waiting for $1\"; exit 1 }
	}"
}

@test "run with a terminal: output arrives, input reaches the process, the exit status is kept" {
	set_args sh -c 'echo ready; read line; echo "got:$line"; exit 5'
	in_pty "$(expect_or_fail ready)
		send \"hello\\r\"
		$(expect_or_fail got:hello)" run --bundle "$BUNDLE" "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"towel-exit=5"* ]]
	terminal_restored
}

@test "run with a terminal: the pty has the caller's size and follows SIGWINCH" {
	# SIGWINCH reaches towel a little after the resize: poll for it.
	set_args sh -c 'stty size; echo ready; read x
		for i in $(seq 50); do s=$(stty size); [ "$s" = "40 120" ] && break; sleep 0.1; done
		echo "size:$s"'
	in_pty "$(expect_or_fail '33 99')
		$(expect_or_fail ready)
		exec stty rows 40 cols 120 < \$spawn_out(slave,name)
		send \"\\r\"
		$(expect_or_fail 'size:40 120')" run --bundle "$BUNDLE" "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"towel-exit=0"* ]]
}

@test "run with a terminal: ^C reaches the process as SIGINT, not towel" {
	set_args sh -c 'trap "echo caught-int; exit 3" INT; echo ready; while :; do sleep 1; done'
	in_pty "$(expect_or_fail ready)
		send \"\\x03\"
		$(expect_or_fail caught-int)" run --bundle "$BUNDLE" "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"towel-exit=3"* ]]
	terminal_restored
}

@test "run with a terminal: the caller's terminal is restored when towel is sent SIGTERM" {
	set_args sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 1; done'
	in_pty "$(expect_or_fail 'towel-pid=([0-9]+)')
		set pid \$expect_out(1,string)
		$(expect_or_fail ready)
		exec kill -TERM \$pid" run --bundle "$BUNDLE" "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"towel-exit=7"* ]]
	terminal_restored
}

@test "run with a terminal: the caller's terminal is restored when the process cannot start" {
	set_args /does/not/exist
	in_pty "" run --bundle "$BUNDLE" "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"towel-exit=0"* ]]
	[[ "$output" == *"towel-exit="* ]]
	terminal_restored
	[ "$(count_state_dirs)" -eq 0 ]
}

@test "run with a terminal started in the background stops, as job control wants, until fg" {
	set_args sh -c 'echo ready; read l; echo "got:$l"'
	cat >"$T/bg.exp" <<-'EOF'
		set timeout 20
		proc step {pattern} {
			expect {
				-re $pattern {}
				timeout { puts "\nEXPECT-TIMEOUT waiting for $pattern"; exit 1 }
				eof { puts "\nEXPECT-EOF waiting for $pattern"; exit 1 }
			}
		}
		spawn -noecho bash --norc --noprofile -i
		send "PS1='P> '\r"
		step {P> }
		send "\"\$TOWEL\" --root \"\$ROOT\" run --bundle \"\$BUNDLE\" \"\$CT\" &\r"
		step {P> }
		send "sleep 1; echo state=\$(ps -o stat= -p \$!)\r"
		step {state=T}
		send "fg\r"
		step ready
		send "hi\r"
		step got:hi
		step {P> }
		send "exit\r"
		expect eof
	EOF
	export TOWEL
	run expect "$T/bg.exp"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "run with a terminal and no terminal of the caller: consoleSize, stdin EOF ends the input" {
	update_config '.process.consoleSize = {"height": 10, "width": 110}'
	set_args sh -c 'stty size; tty; cat >/dev/shm/got; echo "lines=$(wc -l </dev/shm/got)"'
	run towel run --bundle "$BUNDLE" "$CT" < <(printf 'one\ntwo\n')
	echo "$output"
	[ "$status" -eq 0 ]
	# The pty echoes the input, which arrives before the process runs.
	[[ "$output" == *$'\n10 110\n/dev/pts/'* ]]
	[[ "$output" == *"lines=2"* ]]
}

@test "run with a terminal: output has plain newlines, stdout and stderr are the pty" {
	set_args sh -c 'echo out; echo err >&2; for f in 0 1 2; do readlink /proc/self/fd/$f; done'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = out ]
	[ "${lines[1]}" = err ]
	[[ "${lines[2]}" == /dev/pts/* ]]
	[ "${lines[2]}" = "${lines[3]}" ]
	[ "${lines[2]}" = "${lines[4]}" ]
}

@test "/dev/console is a bind mount of the process's pty" {
	set_args sh -c 'stat -c "%t:%T" /dev/console; stat -L -c "%t:%T" /proc/self/fd/0; grep -c " /dev/console " /proc/self/mountinfo'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "${lines[1]}" ]
	[ "${lines[2]}" = 1 ]
}

@test "run: the pty belongs to the process's user, group tty" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args sh -c 'stat -c %u:%g $(tty); echo ok >/proc/self/fd/0'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000:5 ]
	[ "${lines[1]}" = ok ]
}

@test "exec -t: the pty belongs to the process's user, group tty" {
	setup_recvtty
	set_args sleep 100
	towel run -d --console-socket "$CONSOLE_SOCKET" --bundle "$BUNDLE" "$CT"
	run towel exec -t --user 1000:1000 "$CT" sh -c 'stat -c %u:%g $(tty); echo ok >/proc/self/fd/0' </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	# An exec'd process may write before towel turns onlcr off, as with
	# runc: a line can end in \r.
	[ "${lines[0]%$'\r'}" = 1000:5 ]
	[ "${lines[1]%$'\r'}" = ok ]
}

# plant_console KIND puts a KIND at the image's /dev/console and takes the
# tmpfs off /dev, so that the image's /dev is what the container gets.
plant_console() {
	update_config 'del(.mounts[] | select(.destination == "/dev"))'
	mkdir -p "$BUNDLE/rootfs/dev/pts" "$BUNDLE/rootfs/dev/shm" "$BUNDLE/rootfs/dev/mqueue"
	rm -f "$BUNDLE/rootfs/dev/console"
	case $1 in
	symlink) ln -s "$T/hostfile" "$BUNDLE/rootfs/dev/console" ;;
	fifo) mkfifo "$BUNDLE/rootfs/dev/console" ;;
	file) echo image >"$BUNDLE/rootfs/dev/console" ;;
	esac
}

@test "/dev/console planted as a symlink to a host file: the host file is neither opened nor mounted on" {
	echo host-content >"$T/hostfile"
	chmod 0600 "$T/hostfile"
	plant_console symlink
	set_args sh -c 'test -c /dev/console && echo chardev; grep -c hostfile /proc/self/mountinfo || true'
	run timeout 20 "$TOWEL" --root "$ROOT" run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = chardev ]
	[ "${lines[1]}" = 0 ]
	[ "$(cat "$T/hostfile")" = host-content ]
	[ -f "$T/hostfile" ] && [ ! -L "$T/hostfile" ]
	[ "$(stat -c %a "$T/hostfile")" = 600 ]
	! grep -q hostfile /proc/self/mountinfo
}

@test "/dev/console planted as a fifo or a file: the pty is mounted over it without opening it" {
	for kind in fifo file; do
		plant_console "$kind"
		set_args sh -c 'test -c /dev/console && echo chardev'
		run timeout 20 "$TOWEL" --root "$ROOT" run --bundle "$BUNDLE" "$CT-$kind" </dev/null
		echo "$kind: $output"
		[ "$status" -eq 0 ]
		[ "$output" = chardev ]
	done
}

@test "run -d with --console-socket: recvtty gets the pty and the output" {
	local recvtty
	recvtty=$(go_helper recvtty)
	"$recvtty" --mode single --no-stdin --pid-file "$T/single.pid" "$T/single.sock" \
		</dev/null >"$T/single.out" 2>&1 3>&- &
	wait_for_file "$T/single.pid"
	set_args sh -c 'tty; echo hello-console'
	run towel run -d --console-socket "$T/single.sock" --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]
	# recvtty ends once the process has closed its terminal.
	for i in $(seq 100); do
		kill -0 "$(cat "$T/single.pid")" 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/single.out"
	grep -q '^/dev/pts/' "$T/single.out"
	grep -q hello-console "$T/single.out"
}

@test "create and start with --console-socket, the console socket path relative to the cwd" {
	setup_recvtty
	set_args sleep 100
	cd "$T"
	run towel create --console-socket "$(basename "$CONSOLE_SOCKET")" --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]
	[ "$(status_of "$CT")" = created ]
	run towel start "$CT"
	[ "$status" -eq 0 ]
	[ "$(status_of "$CT")" = running ]
	# The container's stdio is its pty, not anything of ours.
	[[ "$(readlink "/proc/$(pid_of "$CT")/fd/1")" == /dev/pts/* ]]
}

@test "exec -t: output, input and size on the caller's terminal; exec -t -d with a console socket" {
	setup_recvtty
	set_args sleep 100
	towel run -d --console-socket "$CONSOLE_SOCKET" --bundle "$BUNDLE" "$CT"
	# The process reads first: exec sizes its pty once it runs.
	in_pty "$(expect_or_fail ready)
		send \"typed\\r\"
		$(expect_or_fail '33 99')
		$(expect_or_fail got:typed)" \
		exec -t "$CT" sh -c 'echo ready; read l; stty size; echo got:$l'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"towel-exit=0"* ]]
	terminal_restored

	run towel exec -t -d --console-socket "$CONSOLE_SOCKET" "$CT" sleep 1
	[ "$status" -eq 0 ]
}

@test "a detached terminal without a console socket is an error that leaves nothing" {
	local before
	before=$(snapshot)
	run -1 --separate-stderr towel create --bundle "$BUNDLE" "$CT"
	[[ "$stderr" == *"cannot allocate tty if runc will detach without setting console socket"* ]]
	one_line_error
	run -1 towel run -d --bundle "$BUNDLE" "$CT"
	assert_nothing_left "$before" "$CT"
}

@test "a console socket nobody listens on is an error that leaves nothing" {
	local before
	before=$(snapshot)
	run -1 --separate-stderr towel run -d --console-socket "$T/nobody.sock" --bundle "$BUNDLE" "$CT"
	[[ "$stderr" == *"console socket"*"$T/nobody.sock"* ]]
	one_line_error
	assert_nothing_left "$before" "$CT"
}

@test "--console-socket without a terminal, or in the foreground, is an error" {
	setup_recvtty
	run -1 towel run --console-socket "$CONSOLE_SOCKET" --bundle "$BUNDLE" "$CT"
	[[ "$output" == *"cannot use console socket"* ]]
	update_config '.process.terminal = false'
	run -1 towel create --console-socket "$CONSOLE_SOCKET" --bundle "$BUNDLE" "$CT"
	[[ "$output" == *"cannot use console socket"* ]]
	[ "$(count_state_dirs)" -eq 0 ]
}

@test "terminal false: the process's stdio are the caller's, pipes and redirections work" {
	update_config '.process.terminal = false'
	set_args sh -c 'read line; echo "out:$line"; echo "err:$line" >&2'
	echo from-stdin >"$T/in"
	towel run --bundle "$BUNDLE" "$CT" <"$T/in" >"$T/out" 2>"$T/err"
	[ "$(cat "$T/out")" = out:from-stdin ]
	[ "$(cat "$T/err")" = err:from-stdin ]

	run bash -c 'echo piped | "$TOWEL_BINARY" --root "$ROOT" run --bundle "$BUNDLE" "$CT" 2>/dev/null | cat'
	[ "$status" -eq 0 ]
	[ "$output" = out:piped ]
}

@test "terminal false: the process gets the caller's very pipe, not a copy" {
	update_config '.process.terminal = false'
	set_args sh -c 'readlink /proc/self/fd/1'
	run bash -c '"$TOWEL_BINARY" --root "$ROOT" run --bundle "$BUNDLE" "$CT" | { cat; readlink /proc/self/fd/0; }'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == pipe:* ]]
	[ "${lines[0]}" = "${lines[1]}" ]
}

@test "terminal false: fifos as stdio, as a shim gives them, with create and start" {
	update_config '.process.terminal = false'
	set_args sh -c 'read line; echo "echo:$line"'
	mkfifo "$T/stdin" "$T/stdout"
	# The shim holds both ends open, so neither open blocks.
	exec 7<>"$T/stdin" 8<>"$T/stdout"
	towel create --bundle "$BUNDLE" "$CT" <"$T/stdin" >"$T/stdout" 2>/dev/null
	towel start "$CT"
	echo via-fifo >&7
	read -r -t 10 reply <&8
	exec 7>&- 8>&-
	[ "$reply" = echo:via-fifo ]
}

@test "terminal false: a non-root process can reopen its stdio pipes; a host file keeps its owner" {
	update_config '.process.terminal = false | .process.user = {"uid": 1000, "gid": 1000}'
	set_args sh -c 'echo via-dev-stdout >/dev/stdout; echo via-dev-stderr >/dev/stderr'
	run bash -c '"$TOWEL_BINARY" --root "$ROOT" run --bundle "$BUNDLE" "$CT" </dev/null 2>/dev/null | cat'
	[ "$status" -eq 0 ]
	[ "$output" = via-dev-stdout ]
	run bash -c '"$TOWEL_BINARY" --root "$ROOT" run --bundle "$BUNDLE" "$CT" </dev/null 2>&1 >/dev/null | cat'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *via-dev-stderr* ]]
	[[ "$output" != *"Permission denied"* ]]

	: >"$T/file"
	set_args sh -c 'echo direct; echo reopened >/dev/stdout'
	# The reopen fails here, as the file is root's.
	towel run --bundle "$BUNDLE" "$CT" </dev/null >"$T/file" 2>/dev/null || true
	[ "$(stat -c %u "$T/file")" = 0 ]
	grep -qx direct "$T/file"
}
