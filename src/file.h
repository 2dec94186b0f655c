/*
 * file.h - the file model: one struct pf_file per managed inode (found by inode number + birth time),
 * one struct pf_ofd per open file description the application holds, and the data operations that serve a
 * managed file's bytes from the pool, the real file, or zeros (see pool_format.h for the placement rule).
 *
 * The real file in the log dir is always kept at exactly the logical size (extended sparse with a real
 * ftruncate when a pool write grows it), so stat, statx, lseek(SEEK_END) and other processes see the truth
 * without any help. The kernel keeps each descriptor's file offset and its sharing across dup and fork;
 * we read and set it with lseek around pool I/O.
 */
#ifndef PAFKA_FILE_H
#define PAFKA_FILE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uthash.h>

#include "pool.h"

struct pf_key {
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
};

struct pf_file {
	struct pf_key key;
	UT_hash_handle hh;
	int refs;               /* table + open descriptions + lookups in progress; under the table lock */
	int nopen;              /* open descriptions (struct pf_ofd) of this process */
	int unlinked;           /* last link gone: free the pool record at the last close */
	pthread_rwlock_t lock;  /* data: readers share, writers/truncate/placement changes exclude */
	pthread_mutex_t pos_lock; /* serialises operations that use the kernel file offset */
	struct pf_pool *pool;
	int64_t rec;            /* record index in pool, -1: no pool bytes (plain file) */
	uint32_t *map;          /* map[i] = physical block + 1 of file block i, 0 = none */
	uint64_t maplen;
	uint64_t lo, hi;        /* copies of the record's placement window */
	uint64_t size;          /* logical size == the real file's size (valid while open) */
	int size_known;
	int rfd;                /* our own O_RDWR descriptor of the file, for slow-tier I/O */
	int pinned_real;        /* mapped or moved out of the managed dirs: never back into the pool */
	int dirty;              /* pool bytes written since the last sync */
	uint64_t gen;           /* bumped by every change of bytes or size: a migration copy checks it */
	int64_t last_write_ms;  /* monotonic ms of the last change (sealing by idleness) */
	int migrating;          /* a migration thread owns a move of this file (files_lock) */
	char path[4096];        /* last known absolute path */
};

struct pf_ofd {
	int refs;               /* descriptors sharing this description (dup) */
	int flags;              /* O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC as open/F_SETFL left them */
	struct pf_file *file;
};


/* Register the fork handlers of the file table (once, at activation). */
void pf_files_atfork(void);

/* After loading, as the pool's writer: free records of files that are gone, refresh stale path hints. */
void pf_files_reap_orphans(void);

/* Called once at activation, per LIVE record of each pool (pool recovery callback). */
int pf_files_load_record(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen);

/* After a successful real open of a managed path: register fd. abspath is the normalised path. */
void pf_file_opened(int fd, int oflags, const char *abspath);
/* After an open through another name (a hard link, a symlinked directory, /proc/self/fd/N): register fd
 * only if it is a file this process already knows (pool bytes or open). Returns 1 if it did. */
int pf_file_opened_alias(int fd, int oflags);
struct pf_ofd *pf_ofd_ref(struct pf_ofd *o);
void pf_ofd_put(struct pf_ofd *o);

/* Data operations on a managed descriptor. off < 0 means "at and advancing the file offset".
 * rwf carries preadv2/pwritev2 flags. Results and errno as the kernel would give. */
ssize_t pf_io_read(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf);
ssize_t pf_io_write(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf);
ssize_t pf_io_sendfile(int out, struct pf_ofd *o, int in, off_t *offp, size_t count);
ssize_t pf_io_copy_file_range(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags);
ssize_t pf_io_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags);
off_t pf_io_lseek(struct pf_ofd *o, int fd, off_t off, int whence);
int pf_io_ftruncate(struct pf_ofd *o, int fd, off_t len);
int pf_io_fallocate(struct pf_ofd *o, int fd, int mode, off_t off, off_t len);
int pf_io_fsync(struct pf_ofd *o, int fd, int datasync);
int pf_io_sync_range(struct pf_ofd *o, int fd, off_t off, off_t n, unsigned flags);
/* Before the kernel maps the file: move its bytes to the real file and keep them there, so the mapping
 * is the kernel's own coherent view. Returns 0 or -1 with errno. */
int pf_io_pin_real(struct pf_ofd *o);
/* fcntl(F_SETFL) changed the status flags of the description. */
void pf_ofd_setfl(struct pf_ofd *o, int flags);

/* Migration (migrate.c drives, these do the moves). pf_files_foreach calls cb under the table lock;
 * cb may take a reference with pf_file_hold. A move returns 0 when committed, 1 when it gave up because
 * the file changed or went away (nothing lost, retry later), -1 on an I/O error. throttle(bytes) is
 * called before each block is copied (rate limit). */
struct pf_move_ctx {
	void (*throttle)(void *arg, uint64_t bytes);
	void *arg;
	uint64_t bytes;         /* out: bytes copied */
};
void pf_files_foreach(void (*cb)(struct pf_file *f, void *arg), void *arg);
/* When (monotonic ms) the table last learned of a new file: promotion waits until it has been quiet, so
 * that while Kafka opens its segments at start an older one is not promoted before the newer are known. */
extern int64_t pf_files_learned_ms;
void pf_file_hold(struct pf_file *f);
/* Copy the file's last known path (for messages). */
void pf_file_path(struct pf_file *f, char *buf, size_t n);
void pf_file_release(struct pf_file *f);
int pf_file_demote(struct pf_file *f, struct pf_move_ctx *ctx);
int pf_file_promote(struct pf_file *f, struct pf_pool *p, struct pf_move_ctx *ctx);
/* Drain: move the file's pool bytes out under the write lock (for a file that keeps changing). */
int pf_file_materialise(struct pf_file *f);

/* Path operations, for names that match the segment pattern. Each performs the real call itself. */
enum pf_unlink_kind { PF_UNLINK, PF_UNLINKAT, PF_REMOVE };
int pf_path_unlink(enum pf_unlink_kind kind, int dirfd, const char *path, int flags);
int pf_path_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags,
		   int how);
int pf_path_truncate(const char *path, off_t len);
/* Before a stdio open of a managed path: make sure its bytes are in the real file. */
void pf_path_pin_real(const char *path);
/* A directory rename: before it, move to the real files the pool bytes of files that would leave the
 * managed directories (-1 if that failed); after it, keep the path hints of files under it current. */
int pf_files_dir_leaving(const char *oldabs, const char *newabs);
void pf_files_dir_renamed(const char *oldabs, const char *newabs);

#endif
