/*
 * file.h - the file model: one struct pf_file per managed inode (found by inode number + birth time), one
 * struct pf_ofd per open file description the application holds, and the operations that serve a managed
 * file's bytes from the pool, the real file, or zeros (the placement rule is in pool_format.h).
 *
 * The real file in the log dir is always kept at exactly the logical size (extended sparse with a real
 * ftruncate when a pool write grows it), so stat, statx, lseek(SEEK_END) and other processes see the
 * truth without any help. The kernel keeps each descriptor's file offset and its sharing across dup and
 * fork; the model reads and sets it with lseek around pool I/O.
 *
 * Both structs are opaque here; the model's files live in src/file/ (file_impl.h lists them and holds
 * the locking note for the whole shim).
 *
 * Owns: the identity table and every struct pf_file / pf_ofd. May call: tier.h, pool.h, paths.h,
 * fdtab.h, fault.h, log.h, sys.h, real.h.
 * Errors: the data and path operations return -1 with errno as the kernel would; the moves return 0
 * (done), 1 (gave up, nothing lost, retry later) or -1 (I/O error, errno).
 */
#ifndef PAFKA_FILE_H
#define PAFKA_FILE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct pf_file;
struct pf_ofd;
struct pf_pool;

/* ---- activation */
/* Register the fork handlers of the file table (once, at activation). */
void pf_files_atfork(void);
/* Called once per LIVE record of each pool at activation (the pool's recovery callback). */
int pf_files_load_record(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen, int broken,
			 const char *why);
/* After loading, as the pools' writer: free records of files that are gone, refresh stale path hints. */
void pf_files_reap_orphans(void);

/* ---- open descriptions */
/* After a successful real open of a managed path: register fd. abspath is the normalised path. 0, or -1
 * with errno when what fd is cannot be told (its statx failed): the caller must not hand it out, since
 * reads through the kernel would miss the file's pool bytes. */
int pf_file_opened(int fd, int oflags, const char *abspath);
/* After an open through another name (a hard link, a symlinked directory, /proc/self/fd/N): register fd
 * only if it is a file this process already knows. Returns 1 if it did. */
int pf_file_opened_alias(int fd, int oflags);
/* A reference on the description o the table gave for fd, if it is alive and the table still maps fd to
 * it; else NULL. (The data operations take one for the length of the call themselves.) */
struct pf_ofd *pf_ofd_hold(int fd, struct pf_ofd *o);
/* Drop a reference (the table's, or a hold's). The tombstone and NULL are ignored. */
void pf_ofd_put(struct pf_ofd *o);
/* The entry a managed close leaves in the fd table: the number is no longer the shim's, and the next call
 * on it looks at what it is now (see pf_fd_use in file_impl.h). */
struct pf_ofd *pf_ofd_tombstone(void);


/* fcntl(F_SETFL) changed the status flags of the description. */
void pf_ofd_setfl(struct pf_ofd *o, int flags);

/* ---- data operations on a managed descriptor. off < 0 means "at and advancing the file offset"; rwf
 * carries preadv2/pwritev2 flags. Results and errno as the kernel would give. */
ssize_t pf_io_read(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf);
ssize_t pf_io_write(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf);
off_t pf_io_lseek(struct pf_ofd *o, int fd, off_t off, int whence);
int pf_io_ftruncate(struct pf_ofd *o, int fd, off_t len);
int pf_io_fallocate(struct pf_ofd *o, int fd, int mode, off_t off, off_t len);
int pf_io_fsync(struct pf_ofd *o, int fd, int datasync);
int pf_io_sync_range(struct pf_ofd *o, int fd, off_t off, off_t n, unsigned flags);
/* Before the kernel maps the file or stdio takes it over: move its bytes to the real file and keep them
 * there, so the kernel's view is the file. Returns 0 or -1 with errno. */
int pf_io_pin_real(struct pf_ofd *o, int fd);
/* mapped.c: mmap of a managed descriptor (o), or a MAP_FIXED mmap of anything (o NULL) while mappings of
 * pool blocks exist; munmap, msync, mremap while they exist (pf_io_maps_any, one atomic load). */
int pf_io_maps_any(void);
void *pf_io_mmap(struct pf_ofd *o, int fd, void *addr, size_t n, int prot, int flags, off64_t off);
int pf_io_munmap(void *addr, size_t n);
int pf_io_msync(void *addr, size_t n, int flags);
void *pf_io_mremap(void *old, size_t olen, size_t nlen, int flags, void *naddr);

/* ---- transfers (at least one end managed; the other may be anything) */
ssize_t pf_io_sendfile(int out, int in, off_t *offp, size_t count);
ssize_t pf_io_copy_file_range(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags);
ssize_t pf_io_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags);

/* ---- path operations on names that match the segment pattern; each performs the real call itself */
enum pf_unlink_kind { PF_UNLINK, PF_UNLINKAT, PF_REMOVE };
int pf_path_unlink(enum pf_unlink_kind kind, int dirfd, const char *path, int flags);
/* how: 0 rename, 1 renameat, 2 renameat2 (flags) */
int pf_path_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags,
		   int how);
int pf_path_truncate(const char *path, off_t len);
/* Before the real open of a managed name: in a process that is not the pools' writer (a read-only attacher,
 * a fork child), an O_TRUNC open for writing of a file with pool bytes fails with EROFS, before the kernel
 * cuts the real file (as its write would). 0: go on. */
int pf_path_open_trunc(int dirfd, const char *path, int flags);
/* how: 0 link, 1 linkat (flags) */
int pf_path_link(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags, int how);
/* how: 0 symlink, 1 symlinkat; target_abs: the target resolved from the link's directory */
int pf_path_symlink(const char *target, const char *target_abs, int newdirfd, const char *linkpath, int how);
/* Before a stdio open of a managed path: make sure its bytes are in the real file. Returns 0, or -1 with
 * errno (the open must then fail: stdio would read the sparse file's zeros). */
int pf_path_pin_real(const char *path);
/* The rename of a directory inside a managed directory (oldabs, newabs: its absolute paths): first the
 * pool bytes of files that would leave the managed directories move to their real files, then the real
 * rename, then the paths of the files under it follow. */
int pf_path_rename_dir(const char *oldabs, const char *newabs, int olddirfd, const char *oldpath, int newdirfd,
		       const char *newpath, unsigned flags, int how);

/* ---- what migration and metrics see: copies taken under each file's lock, never the struct itself */
struct pf_file_info {
	struct pf_file *file;   /* a handle, held until pf_files_snapshot_free */
	uint64_t birth_ns;      /* statx birth time: age across tiers and restarts */
	uint64_t seq;           /* the pool record's creation sequence (in_pool only) */
	uint64_t pool_blocks;   /* blocks it holds in the pool */
	uint64_t size;          /* logical size, 0 when unknown */
	int64_t last_write_ms;  /* monotonic ms of its last change */
	uint64_t dir_hash;      /* its partition directory */
	uint64_t base_offset;   /* the segment's base offset (from its name) */
	int in_pool;            /* has a record (pool bytes, or a window for them) */
	int pool;               /* in_pool: the index of its pool */
	int slot;               /* the slot of its log dir (paths.h), -1 when none */
	int busy;               /* being moved now */
	int mapped;             /* an application mapping shows its pool blocks */
	uint64_t win_lo;        /* pool files: the window [win_lo, win_hi) in blocks, win_hi UINT64_MAX when */
	uint64_t win_hi;        /* open at the end (not spilled) */
	uint64_t full_blocks;   /* blocks entirely below the end of file (0 when the size is unknown) */
	uint64_t head_born;     /* when the first pool block of its window was written (see block_born;
				   larger is newer), UINT64_MAX when the window holds none */
};
/* Every file migration may move (known path, not pinned to the slow tier, not unlinked or .deleted).
 * A file whose lock is busy right now is left out of this round. Returns 0 (*out malloc'd, *n entries)
 * or -1 (out of memory). */
int pf_files_snapshot(struct pf_file_info **out, int *n);
void pf_files_snapshot_free(struct pf_file_info *v, int n);
/* Take a file for a move: 1 if it is still in the table, not unlinked and nobody else moves it. */
int pf_file_claim(struct pf_file *f);
/* The end of a move of a claimed file. */
void pf_file_release(struct pf_file *f);
/* Drain: claim any file that still has pool bytes; NULL when none is left. */
struct pf_file *pf_files_claim_pooled(void);
/* When (monotonic ms) the table last learned of a file born later than every file it knew: promotion
 * waits until that has been quiet, so that while Kafka opens its segments at start an older one is not
 * promoted before the newer are known. */
int64_t pf_files_learned_ms(void);
/* How many files the table knows now. */
unsigned pf_files_count(void);
/* Files and bytes per tier (index 0 pool, 1 slow tier), as this process knows them (metrics). */
void pf_files_tier_totals(uint64_t files[2], uint64_t bytes[2]);
/* Records of pool p whose integrity check failed at load (their files answer EIO) that this process still
 * holds (metrics: an unlink frees one). */
uint64_t pf_files_damaged_records(const struct pf_pool *p);
/* The file's last known path (for messages). */
void pf_file_path(struct pf_file *f, char *buf, size_t n);

/* ---- moves (migrate.c and house.c drive them) */
struct pf_move_ctx {
	void (*throttle)(uint64_t bytes); /* called before each block is copied (rate limit), or NULL */
	uint64_t bytes;                   /* out: bytes copied */
};
int pf_file_demote(struct pf_file *f, struct pf_move_ctx *ctx);
int pf_file_promote(struct pf_file *f, struct pf_pool *p, struct pf_move_ctx *ctx);
/* The cold head of an active segment: the first count blocks of its window that are fully written move
 * to the real file while appends go on; its tail stays in the pool. */
int pf_file_demote_head(struct pf_file *f, uint64_t count, struct pf_move_ctx *ctx);
/* A file whose window closed because the pool was full: its pool part moves down and a new window opens
 * at its end, so its next appends go to the pool again. */
int pf_file_readmit(struct pf_file *f, struct pf_move_ctx *ctx);
/* Drain: move the file's pool bytes out under the write lock (for a file that keeps changing). */
int pf_file_materialise(struct pf_file *f);

#endif
