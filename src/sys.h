/*
 * sys.h - the lowest layer's helpers over the real libc table (real.h): whole-buffer writes, whole-file
 * reads, moving the shim's own descriptors out of the application's way, the clocks, and the kernel's
 * limits that several modules must agree on.
 *
 * Owns: nothing mutable. May call: real.h only (and libc functions the shim never wraps).
 * Errors: -1 with errno, as the calls underneath give it.
 */
#ifndef PAFKA_SYS_H
#define PAFKA_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The most one read or write system call transfers (MAX_RW_COUNT in the kernel: 2 GiB minus a page).
 * sendfile, copy_file_range and every emulation of them are capped to it too. */
#define PF_MAX_RW_COUNT 0x7ffff000UL
/* The bounce buffer of every copy the shim makes through user space (sendfile into a managed file,
 * copy_file_range, splice, a slow-tier read forwarded to a managed descriptor). */
#define PF_COPY_CHUNK ((size_t)1 << 20)

/* Write all n bytes at off (pwrite64), retrying short writes and EINTR. Returns 0, or -1 with errno
 * (the bytes before the failure may have been written). */
int pf_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);
/* The same at the descriptor's file offset (write). */
int pf_write_all(int fd, const void *buf, size_t n);

/* Read a whole (small) file through the real libc calls. Returns 0 and a malloc'd NUL-terminated buffer,
 * or -1 with errno set. */
int pf_read_whole_file(const char *path, char **buf, size_t *len);

/* The kernel's boot id (/proc/sys/kernel/random/boot_id, 32 hex digits) as two words; 0, 0 and -1 when it
 * cannot be read. */
int pf_boot_id(uint64_t out[2]);

/* fsync a directory by path (after a rename or create in it). Returns 0 or -1 with errno. */
int pf_fsync_dir(const char *dir);

/* Move one of libpafka's own descriptors to a high number (keeping O_CLOEXEC), so the application never
 * finds it in a slot it expects to be free (e.g. the number of a descriptor closed by exec). */
int pf_fd_hide(int fd);

/* libpafka is never the reason for an EMFILE: it keeps one descriptor in reserve (of /dev/null), and an
 * open of its own that finds the table full (EMFILE, ENFILE) gives the reserve up and tries once more.
 * pf_spare_reserve takes the reserve again when it is not held (at activation, and after libpafka closes
 * a descriptor of its own; one atomic load when it is held). */
void pf_spare_reserve(void);

/* Memory for a large, short-lived array (a snapshot of the file table and what is computed from it): mapped
 * for it and unmapped when freed, so that it never stays in the heap (and in RSS) between uses. NULL with
 * errno when out of memory. */
void *pf_scratch_alloc(size_t n);
void pf_scratch_free(void *p);
int pf_openat_spare(int dirfd, const char *path, int flags);
/* A close-on-exec duplicate of fd at floor or above (else anywhere), with the reserve's help when the table
 * is full. */
int pf_dupfd_spare(int fd, int floor);

/* Start a detached thread named name running fn(NULL). Returns 0, or -1 with errno. */
int pf_start_thread(void *(*fn)(void *), const char *name);
/* Is the calling thread one that pf_start_thread started (migration, housekeeping, metrics)? */
int pf_in_shim_thread(void);

/* Clocks. Monotonic (coarse for milliseconds: they only order events and measure idleness). */
int64_t pf_mono_ms(void);
int64_t pf_mono_ns(void);
/* CLOCK_REALTIME in milliseconds (heartbeats that another process compares with its own clock). */
uint64_t pf_wall_ms(void);
/* CLOCK_REALTIME in nanoseconds (creation stamps). */
uint64_t pf_wall_ns(void);

static inline uint64_t pf_min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}
static inline uint64_t pf_max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

#endif
