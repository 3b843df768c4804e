/*
 * towel-dmz: the optional last stage before the container's program.
 *
 * `towel init` execs this stub, from a sealed memfd, instead of the
 * container's program when RUNC_DMZ=true. The stub execs the program in
 * turn, so the last image the container could see through /proc/self/exe
 * before its own program is this file of a few hundred bytes, never the
 * runtime.
 *
 * Calling convention, set by libcontainer/dmz/stub.go:
 *
 *	argv[0]   the program to run, already resolved by init
 *	argv[1..] the program's own argv, argv[1] being its argv[0]
 *	envp      the program's environment
 *
 * There is no libc: the file is built with -nostdlib -static, starts at
 * _start, and makes its two system calls directly. If execve(2) fails it
 * prints the program and the error number, and exits 127 for a missing
 * program and 126 otherwise, as shells do.
 */

#define ENOENT 2

#if defined(__x86_64__)

#define NR_WRITE 1
#define NR_EXECVE 59
#define NR_EXIT_GROUP 231

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The kernel leaves argc at (%rsp); the ABI wants a 16-byte aligned call. */
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call stub_main\n"
	"	hlt\n");

#elif defined(__aarch64__)

#define NR_WRITE 64
#define NR_EXECVE 221
#define NR_EXIT_GROUP 94

static long sys3(long nr, long a, long b, long c)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2)
			 : "memory");
	return x0;
}

__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	mov x0, sp\n"
	"	bl stub_main\n"
	"	brk #0\n");

#else
#error "the dmz stub knows the system calls of x86_64 and aarch64 only"
#endif

static unsigned long length(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	sys3(NR_WRITE, 2, (long)s, (long)length(s));
}

__attribute__((noreturn, used)) void stub_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	char num[24];
	int i = sizeof(num) - 1;
	long err, n;

	if (argc < 2) {
		say("towel-dmz: no program to run\n");
		sys3(NR_EXIT_GROUP, 127, 0, 0);
	}
	err = -sys3(NR_EXECVE, (long)argv[0], (long)(argv + 1), (long)envp);

	num[i] = '\0';
	n = err;
	do {
		num[--i] = '0' + n % 10;
		n /= 10;
	} while (n > 0 && i > 0);
	say("towel-dmz: exec ");
	say(argv[0]);
	say(": error ");
	say(num + i);
	say("\n");
	sys3(NR_EXIT_GROUP, err == ENOENT ? 127 : 126, 0, 0);
	for (;;)
		;
}
