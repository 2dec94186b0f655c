/*
 * libfakeboot.so: a test helper preloaded AFTER the shim. The shim reads the kernel's boot id through its
 * table of real functions (dlsym RTLD_NEXT: this library's open), so with FAKEBOOT_ID set, a process under
 * the shim sees that boot id instead of the kernel's: to the shim the machine has restarted since the
 * pool's last writer (t_powerloss's reboot rounds). Every other open goes through unchanged. Never
 * installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int open(const char *path, int flags, ...);

int open(const char *path, int flags, ...)
{
	static int (*next)(const char *, int, ...);
	if (!next)
		next = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	const char *id = getenv("FAKEBOOT_ID");
	if (id && strcmp(path, "/proc/sys/kernel/random/boot_id") == 0) {
		int fd = memfd_create("boot_id", MFD_CLOEXEC);
		if (fd < 0)
			return -1;
		size_t n = strlen(id);
		if (write(fd, id, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || lseek(fd, 0, SEEK_SET) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	return next(path, flags, mode);
}
