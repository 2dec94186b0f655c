/*
 * table.c - the identity table (inode number + birth time -> struct pf_file), the open descriptions that
 * reference its entries, and the copies of it that migration and metrics work from (see file.h).
 *
 * A file is in the table while something can reach it: an open description of this process, or pool
 * bytes and a name. Its struct stays allocated while references (table, descriptions, holds) remain.
 *
 * Owns: the table and files_lock (see file_impl.h for the order of locks). May call: placement.c, tier.h,
 * pool.h, fdtab.h, paths.h, log.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fdtab.h"
#include "log.h"
#include "paths.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

/* The identity table: chained buckets (a power of two, doubled when the files outnumber them), each entry
 * linked through its own hnext, so a file costs one pointer in it and the buckets about one more. Under
 * files_lock. */
static struct pf_file *first_buckets[64];
static struct pf_file **buckets = first_buckets;
static size_t nbuckets = 64, nfiles;

static size_t bucket_of(const struct pf_key *k, size_t n)
{
	uint64_t h = (k->ino ^ (uint64_t)k->btime_sec * 0x9E3779B97F4A7C15ULL ^ k->btime_nsec * 0xC2B2AE3D27D4EB4FULL) *
		     0xFF51AFD7ED558CCDULL;
	return (size_t)(h >> 32) & (n - 1);
}

static struct pf_file *table_find(const struct pf_key *k)
{
	for (struct pf_file *f = buckets[bucket_of(k, nbuckets)]; f; f = f->hnext)
		if (f->key.ino == k->ino && f->key.btime_sec == k->btime_sec && f->key.btime_nsec == k->btime_nsec)
			return f;
	return NULL;
}

static void table_add(struct pf_file *f)
{
	if (nfiles >= nbuckets) {
		/* (if the bigger array cannot be had, the chains just grow longer) */
		struct pf_file **nb = calloc(nbuckets * 2, sizeof *nb);
		if (nb) {
			for (size_t i = 0; i < nbuckets; i++)
				for (struct pf_file *g = buckets[i], *next; g; g = next) {
					next = g->hnext;
					size_t b = bucket_of(&g->key, nbuckets * 2);
					g->hnext = nb[b];
					nb[b] = g;
				}
			if (buckets != first_buckets)
				free(buckets);
			buckets = nb;
			nbuckets *= 2;
		}
	}
	size_t b = bucket_of(&f->key, nbuckets);
	f->hnext = buckets[b];
	buckets[b] = f;
	f->in_table = 1;
	nfiles++;
}

static void table_del(struct pf_file *f)
{
	for (struct pf_file **pp = &buckets[bucket_of(&f->key, nbuckets)]; *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			f->hnext = NULL;
			f->in_table = 0;
			nfiles--;
			return;
		}
}

/* Every entry, in no particular order; cb may take its own entry out of the table (and no other). */
static void table_each(void (*cb)(struct pf_file *f, void *arg), void *arg)
{
	for (size_t i = 0; i < nbuckets; i++)
		for (struct pf_file *f = buckets[i], *next; f; f = next) {
			next = f->hnext;
			cb(f, arg);
		}
}
static int64_t learned_ms;     /* when a file newer than any known before was learned */
static uint64_t newest_birth;  /* the newest birth time learned so far (files_lock) */

/* fork: hold the table lock across it so the child never inherits it locked by a vanished thread. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&files_lock);
	maps_lock_all();
}

static void fork_parent(void)
{
	maps_unlock_all();
	pthread_mutex_unlock(&files_lock);
}

/* Only the forking thread exists in the child: a file lock another thread held at the fork would stay
 * held forever (a close in the child would hang on it). Their work ended with the fork, and the child
 * re-reads every placement from the shared tables (tier.c), so the locks start over. */
static void locks_anew(struct pf_file *f, void *arg)
{
	(void)arg;
	pthread_rwlock_init(&f->lock, NULL);
}

static void fork_child(void)
{
	table_each(locks_anew, NULL);
	durable_atfork_child();
	pos_atfork_child();
	maps_atfork_child();
	pthread_mutex_unlock(&files_lock);
}

void pf_files_atfork(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* A new entry for key k, its path buffer sized for path (its first known path, "" when none). */
static struct pf_file *file_new(const struct pf_key *k, const char *path)
{
	size_t n = strlen(path) + 1;
	struct pf_file *f = calloc(1, sizeof *f + n);
	if (!f)
		return NULL;
	memcpy(f->path0, path, n);
	f->path = f->path0;
	f->path_cap = (uint32_t)n;
	f->key = *k;
	f->rec = -1; /* not published yet */
	f->rfd = -1;
	f->hi = PF_HI_NONE;
	f->last_write_ms = pf_mono_ms(); /* the idle clock starts when we learn of the file, not at boot */
	/* Only a file newer than every one known can change which file promotion takes first; Kafka opens
	 * the index files of old segments again and again (each open is learned anew once the last one was
	 * closed and forgotten), and that must not hold promotion off for ever. */
	uint64_t birth = (uint64_t)k->btime_sec * 1000000000u + k->btime_nsec;
	if (birth > newest_birth) {
		newest_birth = birth;
		__atomic_store_n(&learned_ms, f->last_write_ms, __ATOMIC_RELAXED);
	}
	pthread_rwlock_init(&f->lock, NULL);
	durable_init(f);
	return f;
}

/* A path buffer: the path, after a link to the buffer it replaced (freed with the file). */
struct pathbuf {
	struct pathbuf *older;
	char s[];
};

static struct pathbuf *pathbuf_of(char *s)
{
	return (struct pathbuf *)(s - offsetof(struct pathbuf, s));
}

int file_path_store(struct pf_file *f, const char *abspath)
{
	size_t n = strlen(abspath) + 1;
	if (n <= f->path_cap) {
		memcpy(f->path, abspath, n);
		return 0;
	}
	size_t cap = (n + 15) & ~(size_t)15;
	struct pathbuf *b = malloc(sizeof *b + cap);
	if (!b)
		return -1;
	b->older = f->path != f->path0 ? pathbuf_of(f->path) : NULL;
	memcpy(b->s, abspath, n);
	__atomic_store_n(&f->path, b->s, __ATOMIC_RELEASE);
	f->path_cap = (uint32_t)cap;
	return 0;
}

static void file_free(struct pf_file *f)
{
	for (struct pathbuf *b = f->path != f->path0 ? pathbuf_of(f->path) : NULL, *o; b; b = o) {
		o = b->older;
		free(b);
	}
	pthread_rwlock_destroy(&f->lock);
	free(f->map); /* (and born, which lives in it) */
	free(f);
}

/* files_lock held. Drop one reference; the last one frees. */
static void unref_locked(struct pf_file *f)
{
	if (--f->refs == 0)
		file_free(f);
}

void file_put(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	unref_locked(f);
	pthread_mutex_unlock(&files_lock);
}

/* files_lock held. Leave the table when nothing can reach the file any more: no open description and
 * either no pool bytes, or no name left (its bytes are garbage once the last descriptor is gone). */
static void evict_locked(struct pf_file *f)
{
	if (f->nopen > 0 || f->nmaps > 0 || !f->in_table || f->migrating)
		return; /* a move in progress: pf_file_release looks again */
	if (__atomic_load_n(&f->rec, __ATOMIC_ACQUIRE) >= 0 && !f->unlinked)
		return;
	pthread_rwlock_wrlock(&f->lock);
	if (f->unlinked)
		file_drop_record(f);
	int keep = f->rec >= 0;
	pthread_rwlock_unlock(&f->lock);
	if (keep)
		return;
	table_del(f);
	unref_locked(f);
}

void file_mapped(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	__atomic_add_fetch(&f->nmaps, 1, __ATOMIC_ACQ_REL);
	f->refs++;
	pthread_mutex_unlock(&files_lock);
}

void file_unmapped(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	__atomic_sub_fetch(&f->nmaps, 1, __ATOMIC_ACQ_REL);
	evict_locked(f);
	unref_locked(f);
	pthread_mutex_unlock(&files_lock);
}

void file_unlinked(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	f->unlinked = 1;
	evict_locked(f);
	pthread_mutex_unlock(&files_lock);
}

void files_each_locked(void (*cb)(struct pf_file *f, void *arg), void *arg)
{
	pthread_mutex_lock(&files_lock);
	table_each(cb, arg);
	pthread_mutex_unlock(&files_lock);
}

/* Mark a file the orphan scan found unreachable (files_lock held by files_each_locked). */
void file_orphaned_locked(struct pf_file *f)
{
	f->unlinked = 1;
	evict_locked(f);
}

int pf_files_load_record(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen, int broken,
			 const char *why)
{
	(void)arg;
	struct pf_rec_view r;
	pf_pool_rec_get(p, rec, &r);
	if (!broken && r.lo == PF_HI_NONE) {
		/* A promotion that never committed: its copies were stale and are gone; so is the record. */
		pf_pool_rec_free(p, rec, map, maplen);
		free(map);
		return 0;
	}
	struct pf_key k = { r.ino, r.btime_sec, r.btime_nsec };
	struct pf_file *f;
	f = table_find(&k);
	if (f) {
		free(map);
		pf_log(PF_LOG_ERROR, "pool %s: two records (%lld and %u) for inode %llu: run 'pafka fsck'", p->path,
		       (long long)f->rec, rec, (unsigned long long)k.ino);
		return -1;
	}
	char hint[PF_PATH_MAX_REC + 1];
	if (pf_pool_rec_path(&p->recs[rec], hint) <= 0)
		hint[0] = '\0';
	f = file_new(&k, hint);
	if (!f) {
		free(map);
		return -1;
	}
	f->pool = p;
	set_rec(f, rec);
	f->map = map;
	f->maplen = (uint32_t)maplen; /* below PF_MAX_FILE_BLOCKS: the loader's check */
	f->lo = r.lo;
	f->hi = r.hi;
	if (broken) {
		/* Damaged metadata, but the record still names its file: that file is refused (EIO), never
		 * served from metadata that could give zeros or another file's bytes. Its blocks stay as they
		 * are, for 'pafka fsck'; an unlink frees them. */
		f->broken = 1;
		f->lo = f->hi = PF_HI_NONE;
		pf_log(PF_LOG_ERROR, "pool %s: the record of %s (inode %llu) fails its integrity check (its %s): its reads "
				     "and writes fail with EIO; run 'pafka fsck'",
		       p->path, f->path[0] ? f->path : "an unknown path", (unsigned long long)k.ino, why ? why : "words");
	}
	f->refs = 1;
	table_add(f);
	return 0;
}

/* The table entry with key k, with a reference, or NULL. */
static struct pf_file *find_ref(const struct pf_key *k)
{
	struct pf_file *f;
	pthread_mutex_lock(&files_lock);
	f = table_find(k);
	if (f)
		f->refs++;
	pthread_mutex_unlock(&files_lock);
	return f;
}

struct pf_file *file_find_path(int dirfd, const char *path, int follow, uint64_t *nlink, uint64_t *size)
{
	int e = errno;
	struct statx stx;
	int how = (follow ? 0 : AT_SYMLINK_NOFOLLOW) | (path[0] ? 0 : AT_EMPTY_PATH);
	if (REAL(statx)(dirfd, path, how, STATX_TYPE | STATX_INO | STATX_BTIME | STATX_NLINK | STATX_SIZE, &stx) < 0 ||
	    !S_ISREG(stx.stx_mode) || !(stx.stx_mask & STATX_BTIME)) {
		errno = e;
		return NULL;
	}
	struct pf_key k = { stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
	if (nlink)
		*nlink = stx.stx_nlink;
	if (size)
		*size = stx.stx_size;
	return find_ref(&k);
}

/* Open our own descriptor of the file (for slow-tier I/O that must not disturb the application's offset
 * or O_APPEND), through one of the application's descriptors. */
int file_wfd(struct pf_file *f, int fd, int oflags)
{
	if ((oflags & O_ACCMODE) == O_RDWR && !(oflags & O_APPEND))
		return fd;
	if (f->rfd >= 0)
		return f->rfd;
	/* The same file as the application's descriptor, read-write and without O_APPEND (a materialise may
	 * map it): through its /proc name. A write-only descriptor serves when that is refused. */
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int own = pf_fd_hide(pf_openat_spare(AT_FDCWD, p, O_RDWR | O_CLOEXEC));
	if (own < 0)
		return (oflags & O_APPEND) || (oflags & O_ACCMODE) == O_RDONLY ? -1 : fd;
	__atomic_store_n(&f->rfd, own, __ATOMIC_RELEASE);
	return own;
}

void file_set_path(struct pf_file *f, const char *abspath)
{
	pthread_rwlock_wrlock(&f->lock);
	if (file_path_store(f, abspath) < 0)
		pf_die("out of memory keeping the path of %s", abspath);
	if (f->rec >= 0 && pf_tier_is_writer())
		pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, abspath);
	pthread_rwlock_unlock(&f->lock);
}

/* ---------------------------------------------------------------- open descriptions
 *
 * A description is reached from the fd table without a lock, and another thread may close its descriptor
 * while a call through it is under way (the kernel keeps the file alive for that call). So descriptions
 * are type-stable: their memory is recycled, never freed, and a call takes a hold (a reference, taken only
 * while the count is not zero) and checks the table still maps its fd to it. refs counts the table's
 * entries (one per descriptor, after dup) and the holds of calls in progress. */
static pthread_mutex_t ofd_lock = PTHREAD_MUTEX_INITIALIZER; /* a leaf lock: the free list */
static struct pf_ofd *ofd_free;

static struct pf_ofd *ofd_alloc(void)
{
	pthread_mutex_lock(&ofd_lock);
	struct pf_ofd *o = ofd_free;
	if (o)
		ofd_free = o->next_free;
	pthread_mutex_unlock(&ofd_lock);
	return o ? o : calloc(1, sizeof *o);
}

static void ofd_recycle(struct pf_ofd *o)
{
	pthread_mutex_lock(&ofd_lock);
	o->next_free = ofd_free;
	ofd_free = o;
	pthread_mutex_unlock(&ofd_lock);
}

int pf_file_opened(int fd, int oflags, const char *abspath)
{
	struct statx stx;
	int e = errno;
	if (REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME | STATX_SIZE | STATX_NLINK, &stx) < 0)
		return -1;
	if (!S_ISREG(stx.stx_mode)) {
		errno = e;
		return 0;
	}
	struct pf_key k;
	key_of_statx(&stx, &k, abspath);
	struct pf_ofd *o = ofd_alloc();
	if (!o)
		pf_die("out of memory registering %s", abspath);
	pthread_mutex_lock(&files_lock);
	struct pf_file *f;
	f = table_find(&k);
	if (!f) {
		f = file_new(&k, abspath);
		if (!f)
			pf_die("out of memory registering %s", abspath);
		f->refs = 1;
		table_add(f);
	}
	f->refs++;
	f->nopen++;
	pthread_mutex_unlock(&files_lock);

	pthread_rwlock_wrlock(&f->lock);
	/* The kernel's size is the truth; bytes of pool blocks past it are leftovers of a write that never
	 * returned (crash), or of an O_TRUNC open. It is read again under the write lock: every change of size
	 * in this process happens under it, so the statx above may already be stale (another thread appended
	 * meanwhile) and trimming by it would throw away its bytes. */
	struct stat st;
	f->size = REAL(fstat)(fd, &st) == 0 ? (uint64_t)st.st_size : stx.stx_size;
	f->size_known = 1;
	trim_beyond_size(f);
	size_commit(f, f->size); /* an O_TRUNC open cut it: so is its durable size */
	if (file_path_store(f, abspath) < 0)
		pf_die("out of memory keeping the path of %s", abspath);
	if (f->rec >= 0 && pf_tier_is_writer())
		pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, abspath);
	if (stx.stx_nlink > 1 && !f->pinned_real && pf_tier_is_writer()) {
		/* Another name reaches it (a hard link made behind the shim's back, a backup's `cp -al`): its
		 * bytes belong in its real file, where that name finds them (see pathops.c). */
		int writable = (oflags & O_ACCMODE) == O_RDWR && !(oflags & O_APPEND);
		if (materialise(f, writable ? fd : -1) == 0)
			f->pinned_real = 1;
		else
			pf_log(PF_LOG_ERROR, "%s has %llu names but its pool bytes cannot be moved to its real file: %s; "
					     "the other names read zeros until they can",
			       abspath, (unsigned long long)stx.stx_nlink, strerror(errno));
	}
	pthread_rwlock_unlock(&f->lock);

	o->flags = oflags & (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC);
	o->file = f;
	__atomic_store_n(&o->refs, 1, __ATOMIC_RELEASE); /* alive: holds may succeed from here on */
	struct pf_ofd *old = pf_fd_set(fd, o);
	if (old)
		pf_ofd_put(old);
	errno = e;
	return 0;
}

int pf_file_opened_alias(int fd, int oflags)
{
	int e = errno;
	struct statx stx;
	if (REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME, &stx) < 0 || !S_ISREG(stx.stx_mode) ||
	    !(stx.stx_mask & STATX_BTIME)) {
		errno = e;
		return 0;
	}
	struct pf_key k = { stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
	struct pf_file *f;
	char path[PATH_MAX];
	pthread_mutex_lock(&files_lock);
	f = table_find(&k);
	if (f)
		snprintf(path, sizeof path, "%s", f->path); /* its managed name stays the one we track */
	pthread_mutex_unlock(&files_lock);
	errno = e;
	if (!f)
		return 0;
	pf_file_opened(fd, oflags, path);
	return 1;
}

void file_adopt_fds(const struct pf_key *k, const char *abspath)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		struct statx stx;
		if (e->d_name[0] == '.' || fd == dirfd(d) || pf_fd_get(fd) ||
		    REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME, &stx) < 0 ||
		    !S_ISREG(stx.stx_mode) || !key_matches(&stx, k))
			continue;
		int fl = REAL(fcntl)(fd, F_GETFL);
		if (fl >= 0)
			pf_file_opened(fd, fl, abspath);
	}
	closedir(d);
}

/* The entry a managed close leaves: the number is no longer the shim's, but until a call has looked at what
 * it is now, the table cannot say "unmanaged" (see pf_fd_use). Dead (refs 0), no file. */
static struct pf_ofd tombstone;

struct pf_ofd *pf_ofd_tombstone(void)
{
	return &tombstone;
}

struct pf_ofd *pf_ofd_hold(int fd, struct pf_ofd *o)
{
	if (!o || o == &tombstone)
		return NULL;
	int n = __atomic_load_n(&o->refs, __ATOMIC_ACQUIRE);
	while (n > 0 && !__atomic_compare_exchange_n(&o->refs, &n, n + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	if (n <= 0)
		return NULL;
	if (pf_fd_get(fd) == o)
		return o;
	pf_ofd_put(o); /* alive, but no longer this fd's */
	return NULL;
}

int pf_fd_use(int fd, struct pf_ofd *o, struct pf_fd_use *u)
{
	memset(u, 0, sizeof *u);
	u->fd = fd;
	u->dup = -1;
	if ((u->o = pf_ofd_hold(fd, o))) {
		u->held = 1;
		return 0;
	}
	/* Closed, reopened or changing hands while the call began: take what fd is at this instant (a dup is
	 * atomic in the kernel), high up, out of the application's way. */
	int e = errno;
	struct rlimit rl;
	int floor = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 > 256
			    ? (int)(rl.rlim_cur / 2)
			    : 256;
	u->dup = pf_dupfd_spare(fd, floor); /* (never the reason for an EMFILE: see sys.h) */
	if (u->dup < 0)
		return -1; /* EBADF: fd was closed at that instant, as the kernel would say */
	errno = e;
	u->fd = u->dup;
	struct statx stx;
	struct pf_key k;
	if (REAL(statx)(u->dup, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME, &stx) == 0 &&
	    S_ISREG(stx.stx_mode) && (stx.stx_mask & STATX_BTIME)) {
		k = (struct pf_key){ stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
		u->file = find_ref(&k);
	}
	if (u->file) {
		/* a file the table knows (it may have pool bytes): a description of our own for this call, with
		 * the size from the kernel when no open description of this process keeps it (it is exact) */
		struct pf_file *f = u->file;
		pthread_rwlock_wrlock(&f->lock);
		struct stat st;
		if (!f->size_known && REAL(fstat)(u->dup, &st) == 0)
			f->size = (uint64_t)st.st_size;
		pthread_rwlock_unlock(&f->lock);
		int fl = REAL(fcntl)(u->dup, F_GETFL);
		u->own.flags = fl < 0 ? 0 : fl & (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC);
		u->own.file = u->file;
		u->own.refs = 1;
		u->o = &u->own;
	} else {
		/* not the shim's: its tombstone can go (a registration replaces it anyway) */
		struct pf_ofd *t = &tombstone;
		if ((size_t)(unsigned)fd < __atomic_load_n(&pf_fdcap, __ATOMIC_ACQUIRE))
			__atomic_compare_exchange_n(&pf_fdtab[fd], &t, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	errno = e;
	return 0;
}

void pf_fd_use_end(struct pf_fd_use *u)
{
	int e = errno;
	if (u->held)
		pf_ofd_put(u->o);
	if (u->file)
		file_put(u->file);
	if (u->dup >= 0) {
		REAL(close)(u->dup);
		pf_spare_reserve(); /* (in case the dup took the reserve's place) */
	}
	errno = e;
}

void pf_ofd_put(struct pf_ofd *o)
{
	if (!o || o == &tombstone)
		return;
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	struct pf_file *f = o->file;
	ofd_recycle(o);
	int e = errno;
	pthread_mutex_lock(&files_lock);
	if (--f->nopen == 0) {
		pthread_rwlock_wrlock(&f->lock);
		if (f->rec >= 0 && !f->unlinked && pf_tier_is_writer())
			pf_pool_rec_set_size_hint(f->pool, (uint32_t)f->rec, f->size); /* for tools only */
		if (f->rfd >= 0) {
			REAL(close)(f->rfd);
			pf_spare_reserve();
		}
		f->rfd = -1;
		f->size_known = 0;
		pthread_rwlock_unlock(&f->lock);
		evict_locked(f);
	}
	unref_locked(f);
	pthread_mutex_unlock(&files_lock);
	errno = e;
}

void pf_ofd_setfl(struct pf_ofd *o, int flags)
{
	if (o == &tombstone)
		return;
	int keep = o->flags & (O_ACCMODE | O_SYNC | O_DSYNC);
	__atomic_store_n(&o->flags, keep | (flags & O_APPEND), __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- views for migration and metrics */

int64_t pf_files_learned_ms(void)
{
	return __atomic_load_n(&learned_ms, __ATOMIC_RELAXED);
}

static uint64_t base_offset(const char *path)
{
	const char *b = strrchr(path, '/');
	return strtoull(b ? b + 1 : path, NULL, 10);
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && !strcmp(s + len - n, suffix);
}

struct snap {
	struct pf_file_info *v;
	int n, cap;
};

/* files_lock held: only try the file's lock; a file busy right now is simply skipped this round. */
static void collect(struct pf_file *f, void *arg)
{
	struct snap *s = arg;
	if (f->unlinked || s->n == s->cap)
		return;
	if (pthread_rwlock_tryrdlock(&f->lock) != 0)
		return;
	size_t len = strlen(f->path);
	const char *slash = strrchr(f->path, '/');
	if (!len || !slash || f->pinned_real || f->broken || ends_with(f->path, len, ".deleted")) {
		/* unknown path, kept on the slow tier, or about to be deleted (moving it would be wasted I/O) */
		pthread_rwlock_unlock(&f->lock);
		return;
	}
	struct pf_file_info *c = &s->v[s->n];
	memset(c, 0, sizeof *c);
	c->file = f;
	c->dir_hash = pf_fnv1a(f->path, (uint64_t)(slash - f->path));
	c->base_offset = base_offset(f->path);
	c->in_pool = f->rec >= 0;
	c->pool = c->in_pool ? f->pool->index : -1;
	c->slot = pf_path_logdir_slot(f->path);
	c->busy = f->migrating;
	c->mapped = __atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE) > 0;
	c->birth_ns = (uint64_t)f->key.btime_sec * 1000000000ULL + f->key.btime_nsec;
	c->size = f->size_known ? f->size : 0;
	/* stores through a mapping never pass through the shim: a mapped file is as busy as it gets */
	c->last_write_ms = c->mapped ? pf_mono_ms() : f->last_write_ms;
	if (c->in_pool) {
		for (uint64_t i = 0; i < f->maplen; i++)
			c->pool_blocks += f->map[i] != 0;
		c->seq = pf_pool_rec_seq(f->pool, (uint32_t)f->rec);
		c->busy |= f->lo == PF_HI_NONE || f->lease_active; /* a promotion or head move in progress */
		c->win_lo = f->lo;
		c->win_hi = f->hi;
		c->full_blocks = f->size_known ? f->size >> f->pool->bshift : 0;
		c->head_born = UINT64_MAX;
		for (uint64_t i = f->lo; i < f->maplen && i < c->full_blocks; i++)
			if (f->map[i]) {
				c->head_born = block_born(f, i);
				break;
			}
	}
	pthread_rwlock_unlock(&f->lock);
	f->refs++;
	s->n++;
}

unsigned pf_files_count(void)
{
	pthread_mutex_lock(&files_lock);
	unsigned n = (unsigned)nfiles;
	pthread_mutex_unlock(&files_lock);
	return n;
}

int pf_files_snapshot(struct pf_file_info **out, int *n)
{
	struct snap s = { NULL, 0, 0 };
	pthread_mutex_lock(&files_lock);
	s.cap = (int)nfiles;
	s.v = pf_scratch_alloc((size_t)s.cap * sizeof *s.v + 1); /* (scratch: not kept in the heap between rounds) */
	if (!s.v) {
		pthread_mutex_unlock(&files_lock);
		errno = ENOMEM;
		return -1;
	}
	table_each(collect, &s);
	pthread_mutex_unlock(&files_lock);
	*out = s.v;
	*n = s.n;
	return 0;
}

void pf_files_snapshot_free(struct pf_file_info *v, int n)
{
	pthread_mutex_lock(&files_lock);
	for (int i = 0; i < n; i++)
		unref_locked(v[i].file);
	pthread_mutex_unlock(&files_lock);
	pf_scratch_free(v);
}

int pf_file_claim(struct pf_file *f)
{
	int ok = 0;
	pthread_mutex_lock(&files_lock);
	if (f->in_table && !f->migrating && !f->unlinked) {
		f->migrating = 1;
		f->refs++;
		ok = 1;
	}
	pthread_mutex_unlock(&files_lock);
	return ok;
}

void pf_file_release(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	f->migrating = 0;
	evict_locked(f);
	unref_locked(f);
	pthread_mutex_unlock(&files_lock);
}

struct pooled {
	struct pf_file *f;
};

static void find_pooled(struct pf_file *f, void *arg)
{
	struct pooled *a = arg;
	if (a->f || f->migrating || pthread_rwlock_tryrdlock(&f->lock) != 0)
		return;
	if (f->rec >= 0 && f->path[0] && !f->broken) {
		f->migrating = 1;
		f->refs++;
		a->f = f;
	}
	pthread_rwlock_unlock(&f->lock);
}

struct pf_file *pf_files_claim_pooled(void)
{
	struct pooled a = { NULL };
	files_each_locked(find_pooled, &a);
	return a.f;
}

struct totals {
	uint64_t files[2], bytes[2];
};

/* Pool bytes of files with pool blocks, and the rest of each known file on the slow tier. */
static void count_file(struct pf_file *f, void *arg)
{
	struct totals *t = arg;
	if (pthread_rwlock_tryrdlock(&f->lock) != 0)
		return;
	uint64_t pool = 0;
	for (uint64_t i = 0; f->rec >= 0 && i < f->maplen; i++)
		pool += f->map[i] ? f->pool->bsize : 0;
	uint64_t size = f->size_known ? f->size : f->rec >= 0 ? pf_pool_rec_size_hint(f->pool, (uint32_t)f->rec) : 0;
	if (pool > size)
		pool = size;
	if (pool) {
		t->files[PF_TIER_POOL]++;
		t->bytes[PF_TIER_POOL] += pool;
	}
	if (size > pool) {
		t->files[PF_TIER_SLOW]++;
		t->bytes[PF_TIER_SLOW] += size - pool;
	}
	pthread_rwlock_unlock(&f->lock);
}

void pf_files_tier_totals(uint64_t files_out[2], uint64_t bytes_out[2])
{
	struct totals t;
	memset(&t, 0, sizeof t);
	files_each_locked(count_file, &t);
	memcpy(files_out, t.files, sizeof t.files);
	memcpy(bytes_out, t.bytes, sizeof t.bytes);
}

struct damaged {
	const struct pf_pool *pool;
	uint64_t n;
};

/* A file refused because its record fails its integrity check, while it still holds that record. broken
 * is set before the file enters the table and never cleared; rec and pool are read under the file's lock. */
static void count_damaged(struct pf_file *f, void *arg)
{
	struct damaged *d = arg;
	if (!__atomic_load_n(&f->broken, __ATOMIC_RELAXED))
		return;
	pthread_rwlock_rdlock(&f->lock);
	d->n += f->rec >= 0 && f->pool == d->pool;
	pthread_rwlock_unlock(&f->lock);
}

uint64_t pf_files_damaged_records(const struct pf_pool *p)
{
	struct damaged d = { p, 0 };
	files_each_locked(count_damaged, &d);
	return d.n;
}

int file_linked_path(struct pf_file *f, char *buf, size_t n)
{
	pthread_mutex_lock(&files_lock);
	int linked = !f->unlinked;
	pthread_mutex_unlock(&files_lock);
	if (linked)
		pf_file_path(f, buf, n);
	return linked;
}

void pf_file_path(struct pf_file *f, char *buf, size_t n)
{
	pthread_rwlock_rdlock(&f->lock);
	snprintf(buf, n, "%s", f->path);
	pthread_rwlock_unlock(&f->lock);
}
