package nsenter

/*
#include <sys/resource.h>

static unsigned long long towel_start_nofile;
static int towel_start_nofile_ok;

// Runs before the Go runtime, which raises the soft RLIMIT_NOFILE of
// every Go program at start-up (syscall package, go.dev/issue/46279).
__attribute__((constructor)) static void towel_save_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
		towel_start_nofile = r.rlim_cur;
		towel_start_nofile_ok = 1;
	}
}

static int towel_get_start_nofile(unsigned long long *cur)
{
	*cur = towel_start_nofile;
	return towel_start_nofile_ok;
}
*/
import "C"

// StartNofile returns the soft RLIMIT_NOFILE the process was started
// with, before the Go runtime raised it. syscall.Exec puts it back for
// the program it runs; a raw execve(2), like the one of the dmz stub,
// must do so itself.
func StartNofile() (cur uint64, ok bool) {
	var c C.ulonglong
	ok = C.towel_get_start_nofile(&c) != 0
	return uint64(c), ok
}
