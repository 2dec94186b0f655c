/*
 * file_impl.h - the file model's private header: struct pf_file and struct pf_ofd, and the functions the
 * file model's own files (every .c file in src/file/) share. Nothing outside src/file/ includes it; the rest of the shim
 * uses src/file.h.
 *
 * The files of the model, from the bottom up:
 *   table.c      identity table (inode + birth time -> struct pf_file), open descriptions, references,
 *                the views migration and metrics take of it
 *   poslock.c    the offset locks, shared by the files whose identities hash alike
 *   iovcur.c     an iovec cursor, and the kernel's checks of a read/write's arguments
 *   placement.c  which bytes of a file live where (pool block, real file, hole); new pool blocks, spill,
 *                the window [lo, hi); persisting a file's pool bytes; the read-only attacher's view
 *   io.c         data operations on a descriptor: read, write, lseek, truncate, fallocate, fsync
 *   transfer.c   sendfile, copy_file_range, splice: one copy-through helper for every copy via user space
 *   moves.c      moving bytes between the tiers: materialise, demote, promote
 *   pathops.c    path operations on managed names: unlink, rename, truncate, directory renames
 *   orphans.c    records whose file is gone, found at activation
 *   maps.c       the application's mappings of pool blocks, by address, and their pins
 *   mapped.c     mmap, munmap, msync and mremap of managed files: pool blocks mapped in place
 *   durable.c    what an fsync must make durable: the durable size in the record, the dirty ranges, and
 *                whether the real file needs its own fsync
 *
 * LOCKING (every lock in the shim, in the order they may be taken; never take an earlier one while
 * holding a later one):
 *   0. plan_lock         (migrate.c) the migration plan; held while it takes a snapshot of the table and
 *                        claims files.
 *   1. shim_lock         (shim.c) configuration and activation, once per process.
 *   2. files_lock        (table.c) the identity table: membership, refs, nopen, unlinked, migrating.
 *                        Data operations never take it; opens, closes, unlinks, renames and the
 *                        migration/metrics views do.
 *   3. offset lock       (poslock.c: pos_lock, a lock shared by the files whose identities hash alike; a thread
 *                        holds at most two, a sendfile's ends, taken together by pos_lock_pair)
 *                        serialises the operations of one file that use the kernel file offset (read,
 *                        write at the offset, O_APPEND writes, sendfile without an offset).
 *   3b. sync lock        one fsync of the file at a time (durable.c: durable_sync_begin/end, a lock shared by
 *                        the files whose identities hash alike; a thread holds at most one); taken before
 *                        f->lock, and held across the real fsync, which runs without f->lock so that
 *                        appends never wait for a disk.
 *   4. f->lock           (rwlock) the file's bytes, size and placement: readers share it, writes,
 *                        truncates and placement changes take it exclusively. A migration copies under the
 *                        read lock one block at a time and commits under the write lock.
 *   4b. maps_lock        (maps.c) the table of mappings of pool blocks; taken under f->lock (a shrink detaches
 *                        mappings) or alone (munmap, msync, mmap), held across the real call that changes
 *                        what it describes; never while taking f->lock, files_lock or a sync lock.
 *   5. pool->lock        (pool.c) the pool allocator's free lists, counters and block pins.
 *   6. lease_lock        (moves.c) a head move's lease, with its condition: a canceller waits on it
 *                        after letting go of f->lock.
 *   leaves (take no other lock while held): rate_lock (rate.c, the migration token bucket),
 *                        boundary_lock (tier.c, the promotion boundary), nowait_lock (io.c, which
 *                        file systems take RWF_NOWAIT writes).
 *   The fd table (fdtab.c) has no lock: atomic pointer swaps. The real-function table (real.c) has none:
 *   atomic pointer stores.
 *   f->rec is written under f->lock and read there, except by evict_locked() (files_lock only), where a
 *   stale value is harmless; its stores are atomic so that the one unlocked read is well defined.
 *
 * ERRORS, one style per layer:
 *   - the interposer and the data and path operations under it return -1 with errno exactly as the
 *     kernel would (never an errno the kernel would not give for that call);
 *   - moves return 0 (done), 1 (gave up: the file changed, nothing lost, retry later) or -1 (errno);
 *   - init-time code (configuration, pools, markers, CLI setup) fills one struct pf_err (log.h) with one
 *     line saying what is wrong and what to do; its caller prints it;
 *   - background threads (migration, drain, metrics) log a warning and retry;
 *   - pf_die only where the protocol makes going on unsafe (an untrustworthy pool or marker at
 *     activation, a file system without birth times, out of memory while registering a descriptor).
 */
#ifndef PAFKA_FILE_IMPL_H
#define PAFKA_FILE_IMPL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "file.h"
#include "log.h"
#include "pool.h"
#include "tier.h"

struct pf_key {
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
};

struct pf_file {
	/* Small on purpose: a broker keeps one per segment and index file, 100k and more (see README, "Scale").
	 * The one-byte flags are separate memory locations (never bit fields): each is written under its own
	 * lock or atomically. */
	struct pf_key key;
	struct pf_file *hnext;  /* the next entry of its bucket in the identity table (table.c; files_lock) */
	int refs;               /* table + open descriptions + holds; under files_lock */
	int nopen;              /* open descriptions (struct pf_ofd) of this process */
	int nmaps;              /* mappings of its pool blocks (maps.c): changed under files_lock, read atomically;
				   while any exists its blocks never move and the record stays */
	int rfd;                /* our own O_RDWR descriptor of the file, -1 for most: opened only when a positioned
				   write must reach the real file and the application's descriptor is O_APPEND (where
				   the kernel appends whatever the offset); closed at the last close. Set under the
				   write lock, read atomically (file_rfd) */
	pthread_rwlock_t lock;  /* data: readers share, writers/truncate/placement changes exclude */
	struct pf_pool *pool;
	int64_t rec;            /* record index in pool, -1: no pool bytes (plain file) */
	uint32_t *map;          /* map[i] = physical block + 1 of file block i, 0 = none */
	uint32_t maplen, bornlen; /* (a file's blocks stay below PF_MAX_FILE_BLOCKS). bornlen is 0 or maplen: when
				   not 0, placement.c keeps born[i] (when pool block i was written, in the
				   process-wide order of block writes; 0: oldest, found at start) in map's allocation,
				   after map[maplen] */
	uint64_t lo, hi;        /* copies of the record's placement window */
	uint64_t size;          /* logical size == the real file's size (valid while open) */
	/* What the next fsync must make durable (durable.c). The ranges change under the write lock, or under
	 * the read lock together with the sync lock (a sync taking them); real_gen/real_synced are atomic. */
	uint64_t dirty_lo, dirty_hi; /* pool bytes written since the last sync: file offsets [lo, hi) */
	uint32_t ent_lo, ent_hi;     /* file blocks whose block-table entries were published since */
	uint64_t size_w;             /* the durable size last stored in the record (PF_SIZE_NONE: none) */
	uint64_t synced_sz;          /* the size stored as fsynced in the record (non-PMem pools; NONE: none) */
	uint64_t real_gen;           /* changes the real file needs its own fsync for (bytes written to it, a
					shrink, its creation): counted up; real_synced is the count the last
					real fsync covered */
	uint64_t real_synced;
	uint64_t gen;           /* bumped by every change of bytes or size: a migration copy checks it */
	int64_t last_write_ms;  /* monotonic ms of the last change (sealing by idleness) */
	/* A head move's lease (moves.c): file bytes [lease_lo, lease_hi) (whole blocks) are being copied to the
	 * real file without the file's lock. Appends above never wait; an operation that would change or free
	 * those blocks cancels the lease and waits for the mover to let go (at most one block copy). Under f->lock. */
	uint64_t lease_lo, lease_hi;
	char *path;             /* last known absolute path ("" when none), file_path_store's: changed in place under
				   the write lock while it fits, else in a new buffer; a replaced buffer lives on
				   until the file is freed, so a reader that copies it without the lock never reads
				   freed memory (at worst a path torn by a rename, as before) */
	uint32_t path_cap;      /* bytes path's buffer holds */
	/* The one-byte flags, in 4-byte groups by what guards their writes: a compiler may read neighbouring
	 * flags with one wider load, and a flag written under another lock must not share that word (TSan
	 * sees such a load race with the write). */
	uint8_t lease_active, lease_cancel; /* (atomic) */
	uint8_t pad_a[2];
	uint8_t unlinked;       /* last link gone: free the pool record at the last close (files_lock) */
	uint8_t migrating;      /* a migration thread owns a move of this file (files_lock) */
	uint8_t in_table;       /* reachable through the identity table (files_lock) */
	uint8_t pad_b;
	uint8_t size_known;     /* (f->lock, written exclusively) */
	uint8_t pinned_real;    /* mapped or moved out of the managed dirs: never back into the pool (f->lock) */
	uint8_t broken;         /* its pool record fails its integrity check: every data call answers EIO (f->lock) */
	uint8_t pad_c;
	uint32_t rec_dirty;     /* the record's words (size, window) changed since the last sync (durable.c; the read
				   lock with the sync lock) */
	char path0[];           /* the first path's buffer, allocated with the struct */
};

struct pf_ofd {
	int refs;               /* table entries (descriptors, after dup) + holds of calls in progress; 0: dead */
	int flags;              /* O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC as open/F_SETFL left them */
	struct pf_file *file;
	struct pf_ofd *next_free; /* on the free list (table.c): descriptions are recycled, never freed */
};

/* ---- identity: inode number + birth time, which survive renames and cannot be confused with a later file
 * that reuses the inode number */
/* The identity of the file statx describes; dies (one line) if its file system has no birth times. */
static inline void key_of_statx(const struct statx *stx, struct pf_key *k, const char *what)
{
	if (!(stx->stx_mask & STATX_BTIME))
		pf_die("the file system of %s does not report birth times (statx btime), which libpafka needs to "
		       "identify segment files across restarts: put log.dirs on ext4, xfs, btrfs or tmpfs",
		       what);
	k->ino = stx->stx_ino;
	k->btime_sec = stx->stx_btime.tv_sec;
	k->btime_nsec = stx->stx_btime.tv_nsec;
}
/* Does the statx result describe the file with key k? */
static inline int key_matches(const struct statx *stx, const struct pf_key *k)
{
	return (stx->stx_mask & STATX_BTIME) && stx->stx_ino == k->ino && stx->stx_btime.tv_sec == k->btime_sec &&
	       (uint64_t)stx->stx_btime.tv_nsec == k->btime_nsec;
}

/* ---- table.c */
/* The table entry for a path (symlinks followed only with follow; "" means dirfd itself), with a
 * reference; NULL if the path is not a regular file this process knows. nlink and size (if not NULL) get
 * the path's. */
struct pf_file *file_find_path(int dirfd, const char *path, int follow, uint64_t *nlink, uint64_t *size);
/* Drop a reference taken by file_find_path. */
void file_put(struct pf_file *f);
/* The file's last link is gone: free its pool bytes once nothing can reach them. */
void file_unlinked(struct pf_file *f);
/* Run cb on every file under files_lock (cb may take f->lock, never files_lock). */
void files_each_locked(void (*cb)(struct pf_file *f, void *arg), void *arg);
/* The file's path changed (write lock taken here): the table's copy and the record's hint follow. */
void file_set_path(struct pf_file *f, const char *abspath);
/* Store f's path (write lock held, or f not yet visible to other threads). Returns 0, or -1 when out of
 * memory (the path stays as it was). */
int file_path_store(struct pf_file *f, const char *abspath);
/* An inode this process did not track gained the managed name abspath (a rename or link onto it):
 * register this process's descriptors of it, so every fd of the file goes through the shim. */
void file_adopt_fds(const struct pf_key *k, const char *abspath);
/* The orphan scan found nothing that can reach f (files_lock held, by files_each_locked). */
void file_orphaned_locked(struct pf_file *f);

/* One call's use of an application descriptor that the table mapped to o (a description, or the
 * tombstone). A description is reached without a lock and another thread may close its descriptor while a
 * call through it is under way, so: descriptions are recycled, never freed; a call holds o (a reference
 * taken only while it is alive, and only while the table still maps fd to it); failing that (fd closed,
 * reopened or changing hands meanwhile), it takes what fd is at this instant (an atomic dup) and serves it
 * through a description of its own when its file is one the table knows, else hands it to the kernel. */
struct pf_fd_use {
	int fd;                 /* the descriptor to use: fd, or the dup */
	struct pf_ofd *o;       /* the description to use, NULL: the kernel's (not a file the shim knows) */
	int held, dup;
	struct pf_file *file;
	struct pf_ofd own;      /* the description of our own, for a captured fd */
};
/* Returns 0, or -1 with errno EBADF when fd was closed at that instant. End with pf_fd_use_end. */
int pf_fd_use(int fd, struct pf_ofd *o, struct pf_fd_use *u);
void pf_fd_use_end(struct pf_fd_use *u);

/* f's last known path, if it still has a name: 1, else 0. */
int file_linked_path(struct pf_file *f, char *buf, size_t n);
/* Answer EIO for a managed file (damaged pool metadata, or bytes that could not be made durable): sets
 * errno and counts the error in pafka_errors_total. */
static inline void file_eio(void)
{
	pf_stat_add(PF_STAT_ERRORS, PF_TIER_NONE, 1);
	errno = EIO;
}
/* A mapping of f's pool blocks now exists / is gone: it holds the file like an open description does. */
void file_mapped(struct pf_file *f);
void file_unmapped(struct pf_file *f);

/* ---- maps.c (see its top comment) */
struct pf_map;
/* Any mapping recorded? One atomic load: the fast path of every munmap, msync and MAP_FIXED mmap. */
int maps_any(void);
/* maps_lock, for the interposer's munmap/mmap(MAP_FIXED)/mremap around the real call and the update. */
void maps_lock_all(void);
void maps_unlock_all(void);
void maps_atfork_child(void);
/* Record the mapping [addr, addr + len) of file blocks b0 .. b0 + n (physical blocks phys[]), pinning
 * them. maps_lock held. -1 (out of memory): nothing recorded. */
int maps_add_locked(struct pf_file *f, struct pf_pool *p, void *addr, size_t len, uint64_t b0, const uint64_t *phys,
		    uint64_t n, int prot);
/* Record a mapping the kernel made of f's real file [addr, addr + len): it pins nothing and holds f (the
 * caller took file_mapped). maps_lock held. -1 (out of memory): nothing recorded. */
int maps_add_real_locked(struct pf_file *f, void *addr, size_t len, int prot);
/* [addr, addr + len) is no longer mapped: unpin what it showed; the files of records now gone are
 * returned in *gone (malloc'd, the count returned) for file_unmapped. maps_lock held. */
int maps_forget_locked(void *addr, size_t len, struct pf_file ***gone);
/* An mremap moved [old, old + olen) to [nw, nw + nlen): real records inside it move along, what the two
 * ranges held otherwise is forgotten as by maps_forget_locked. maps_lock held. */
int maps_remapped_locked(void *old, size_t olen, void *nw, size_t nlen, struct pf_file ***gone);
/* Does a live record of pool blocks overlap [addr, addr + len)? maps_lock held. */
int maps_overlap_pool_locked(const void *addr, size_t len);
/* f shrinks to file block first: its mappings show anonymous zero pages from there on and let go of those
 * blocks, which can then be freed. f->lock held for writing. */
void maps_cut_from(struct pf_file *f, uint64_t first);
/* fsync of a mapped file: the kernel's msync of each of its writable mappings (stores made through them
 * never pass through the shim). -1 with EIO. */
int maps_sync_file(struct pf_file *f);
/* msync: the records overlapping [addr, addr + len), each held (users) until maps_user_done, which
 * returns 1 and the file in *gone when that was the last use of an unmapped record. */
int maps_users(const void *addr, size_t len, struct pf_map ***out);
/* Moving a mapped file to its real file (materialise): copies of the pool blocks its mappings show, taken
 * word by word; maps_snap_block finds the copy of file block b (pool block phys), NULL if none. */
struct maps_snap;
int maps_snapshot_file(struct pf_file *f, struct maps_snap **out);
const void *maps_snap_block(const struct maps_snap *v, int n, uint64_t b, uint64_t phys);
void maps_snap_free(struct maps_snap *v, int n);
/* Once the copies are in the real file (rfd, size bytes long) and durable: every mapping of f shows the
 * real file instead, the stores that reached a pool block after its copy are carried over, and the blocks
 * are let go (the records stay, with nothing pinned, until the application unmaps). f->lock held for
 * writing. Stops the process (one line) if a mapping cannot be replaced. */
void maps_swap_file(struct pf_file *f, int rfd, uint64_t size, const struct maps_snap *v, int nv);
struct pf_file *maps_user_file(const struct pf_map *m);
int maps_user_writable(const struct pf_map *m);
int maps_user_done(struct pf_map *m, struct pf_file **gone);

/* ---- placement.c */
enum seg_kind { SEG_REAL, SEG_POOL, SEG_ZERO };
static inline uint64_t blk_start(const struct pf_file *f, uint64_t b)
{
	return b << f->pool->bshift;
}
static inline void set_rec(struct pf_file *f, int64_t rec)
{
	__atomic_store_n(&f->rec, rec, __ATOMIC_RELEASE);
}
/* The longest run from pos (up to end) that lives in one place; *ptr gets the pool address of SEG_POOL. */
enum seg_kind seg_at(const struct pf_file *f, uint64_t pos, uint64_t end, uint64_t *len, char **ptr);
int map_grow(struct pf_file *f, uint64_t b);
/* When file block b was written to the pool, in the order of all block writes of this process (larger is
 * newer; 0 for a block found at start, which is older than any written since). Migration moves the oldest
 * block ranges first. Write lock held for block_born_now, any lock for block_born. */
void block_born_now(struct pf_file *f, uint64_t b);
uint64_t block_born(const struct pf_file *f, uint64_t b);
/* The file's bytes or size are about to change (write lock held). */
void file_changing(struct pf_file *f);
/* The file handle of fd (name_to_handle_at), kept in a new record so that recovery can tell whether a
 * file missing from every log dir still lives under another name; h->bytes 0 when there is none. */
void file_handle_of(int fd, struct pf_rec_handle *h);
/* Give the file a record so new blocks can go to the pool (fd: a descriptor of it, for the record's file
 * handle, or -1: none at hand). Returns 1 if it has one. Write lock held. */
int ensure_record(struct pf_file *f, int fd);
/* Zero the pool bytes of [from, to). */
void zero_owned(struct pf_file *f, uint64_t from, uint64_t to);
void map_free_blocks_from(struct pf_file *f, uint64_t first);
/* Give file block b (a hole inside the window) a pool block of zeros. 1 done, 0 the pool has none, -1 error. */
int zero_new_block(struct pf_file *f, uint64_t b);
/* Pool blocks past the size are leftovers (a write that never returned, an O_TRUNC open): free them. */
void trim_beyond_size(struct pf_file *f);
/* Free the record and every pool block of the file (commit point: DYING). Write lock held. */
void file_drop_record(struct pf_file *f);
struct cur;
/* Fill file block b (not yet in the pool) with n bytes at in-block offset boff from the cursor. Returns
 * 1 if done, 0 when the pool has no block (the caller spills), -1 on error. */
int write_new_block(struct pf_file *f, uint64_t b, uint64_t boff, uint64_t n, struct cur *c);
/* The pool has no block for file block b: b and everything after it go to the real file. Returns 0 when
 * the window end moved down to b, 1 when pool blocks lie beyond b, so the whole file must first be
 * materialised (moves.c), which the caller does. */
int spill(struct pf_file *f, uint64_t b);

/* ---- durable.c (see its top comment for the contract) */
void durable_init(struct pf_file *f);
/* The file's sync lock (see LOCKING, 3b): around a sync of its pool part and its real fsync. */
void durable_sync_begin(struct pf_file *f);
void durable_sync_end(struct pf_file *f);
/* In a forked child: every sync lock anew (a thread that held one is gone). */
void durable_atfork_child(void);
/* Pool bytes [off, off + n) / the entry of file block b changed: the next sync persists them (msync path
 * only; on PMem they were persisted as they were stored). Write lock held. */
void dirty_bytes(struct pf_file *f, uint64_t off, uint64_t n);
void dirty_entry(struct pf_file *f, uint64_t b);
/* The real file changed in a way only its own fsync makes durable (bytes written to it, a shrink). */
void real_changed(struct pf_file *f);
/* Commit point: the record's durable size becomes size (write lock held; a file without a record, a
 * damaged one, or a process that is not the pools' writer: nothing). */
void size_commit(struct pf_file *f, uint64_t size);
/* The record is gone (placement.c): nothing left to persist in it. */
void size_forget(struct pf_file *f);
/* Persist what changed in the pool since the last sync (write lock, or read lock with the sync lock).
 * -1 with EIO. */
int durable_sync_locked(struct pf_file *f);
/* The same, taking the read lock itself, after the kernel's msync of the file's mappings (maps.c); the
 * caller holds the sync lock (fsync, sync_file_range, msync). */
int durable_sync_pool(struct pf_file *f);
/* The real fsync (or fdatasync), only when the real file changed since the last one. */
int durable_real_sync(struct pf_file *f, int fd, int datasync);
/* fsync/fdatasync of a managed file: the pool part, then the real file when it needs it. */
int durable_fsync(struct pf_file *f, int fd, int datasync);
/* At activation, for a record's file found at path: make the real file exactly the durable size long. */
void durable_restore(struct pf_file *f, const char *path);
/* Read-only attacher: rebuild the file's placement from the shared tables (before a read), and check it
 * still holds for [pos, end) (after it). */
void ro_refresh(struct pf_file *f, int fd);
/* Does a pool hold a live record (or a damaged one) for the file with key k? From the shared tables, for a
 * process that is not the writer. */
int ro_has_record(const struct pf_key *k);
int ro_still_valid(const struct pf_file *f, uint64_t pos, uint64_t end);
/* The descriptor the real file is read (or sized, synced, stamped) through in a call on the application's
 * descriptor fd: fd itself (positioned calls do not move its offset), or f's own when it has one. */
static inline int file_rfd(const struct pf_file *f, int fd)
{
	int r = __atomic_load_n(&f->rfd, __ATOMIC_ACQUIRE);
	return r >= 0 ? r : fd;
}
/* The descriptor positioned writes to the real file go through in a call on fd, whose description has
 * flags oflags: fd when it is O_RDWR without O_APPEND (Kafka's), else f's own, opened now when it has
 * none (table.c). -1 with errno when none can be had. Write lock held. */
int file_wfd(struct pf_file *f, int fd, int oflags);

/* ---- poslock.c */
/* f's offset lock (LOCKING 3), unless this thread holds it already; returns what pos_unlock needs. */
int pos_lock(struct pf_file *f);
void pos_unlock(struct pf_file *f, int took);
/* Both ends' offset locks for a sendfile between two managed files, in the one order every thread uses. */
int pos_lock_pair(struct pf_file *f, struct pf_file *g);
void pos_unlock_pair(struct pf_file *f, struct pf_file *g, int took);
/* In a forked child: every offset lock anew. */
void pos_atfork_child(void);

/* ---- io.c */
/* The position an operation at the descriptor's file offset starts at (the kernel keeps the offset).
 * Returns 0, or -1 with errno. */
int offset_of(int fd, uint64_t *pos);
/* Set the size to len (write lock held); do_real performs the real truncate on the file. fd: the
 * descriptor of the call, or -1 (a truncate by path). */
int truncate_locked(struct pf_file *f, int fd, uint64_t len, int (*do_real)(void *), void *arg);

/* ---- moves.c */
/* With f->lock held for writing: if a head move's lease overlaps file bytes [lo, hi), cancel it and wait until the
 * mover lets go. Returns 1 if it waited (f->lock was let go meanwhile: the caller looks at the file
 * again), 0 if there was nothing to wait for. */
int lease_clear_locked(struct pf_file *f, uint64_t lo, uint64_t hi);
/* Move every pool byte of the file to the real file and drop the record. Write lock. wfd: a descriptor of
 * the file open for writing and not O_APPEND (file_wfd gives one), or -1: f's own, or one opened through
 * its last known path for the move and closed after it (its identity checked). */
int materialise(struct pf_file *f, int wfd);
/* Materialise and keep the file on the slow tier for good, opening a descriptor through dirfd/path for the
 * move (a rename out of the managed dirs, a stdio open). */
int pin_real_by_path(struct pf_file *f, int dirfd, const char *path);

#endif
