/*
 * maps.c - the shared mappings of pool blocks this process holds on behalf of the application (mapped.c
 * makes them): where each one is, which file and which pool blocks it shows, and the pins that keep those
 * blocks from being reused while any address of this process can reach them.
 *
 * An application's mmap of a pool-resident file is served by mapping the file's pool blocks, one run of
 * physically consecutive blocks per MAP_FIXED call, into a range reserved first. munmap and msync carry no
 * descriptor (Kafka closes the index file right after mapping it), so the table is keyed by address.
 * While any record exists every munmap, msync, mremap and MAP_FIXED mmap of the process looks here; when
 * none does they cost one atomic load.
 *
 * A record can also show the real file (real): a mapping the kernel made of it (a range that could not be
 * served from the pool), or one whose pool blocks were swapped for the real file's (a materialise). It
 * pins nothing; it holds its file, so that the file stays in the table, keeps what it is (pinned to its
 * real file) and counts as mapped, and no move takes its bytes into the pool while the application can
 * still store to, or read, the real file's pages. It goes when the application has unmapped all of it.
 *
 * A munmap and the table update happen under maps_lock together, so an address the kernel hands out again
 * can never be mistaken for the mapping it used to hold.
 *
 * Owns: the mapping table and maps_lock (4b in file_impl.h's order: only pool->lock, for the pins, is
 * taken while it is held; it is held across the real munmap/mmap/msync calls that change or sync what it
 * describes). May call: pool.h, real.h,
 * sys.h, log.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "real.h"
#include "sys.h"

struct pf_map {
	uintptr_t addr;         /* the mapping's first byte (page aligned) */
	size_t len;             /* its length, a whole number of pages */
	struct pf_file *f;      /* held (nmaps, refs) until the record is dropped */
	struct pf_pool *pool;
	uint64_t b0;            /* the file block at addr */
	uint64_t n;             /* blocks shown */
	uint64_t *phys;         /* phys[i]: the pinned pool block at file block b0 + i, PF_MAP_NONE: let go */
	uint64_t live;          /* blocks still pinned */
	int users;              /* msyncs using the record right now */
	int dead;               /* unmapped: dropped when the last user is done */
	int real;               /* shows the real file, pins nothing (see the top of this file) */
	int moving;             /* maps_remapped_locked: moved with the range */
	int prot;
};

#define PF_MAP_NONE UINT64_MAX

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pf_map **maps;
static int nmaps_, capmaps;
static int any_; /* nmaps_ != 0, read without the lock */

int maps_any(void)
{
	return __atomic_load_n(&any_, __ATOMIC_ACQUIRE);
}

void maps_lock_all(void)
{
	pthread_mutex_lock(&maps_lock);
}

void maps_unlock_all(void)
{
	pthread_mutex_unlock(&maps_lock);
}

void maps_atfork_child(void)
{
	pthread_mutex_init(&maps_lock, NULL);
}

static uint64_t blk_len(const struct pf_map *m, uint64_t i, uintptr_t *start)
{
	uint64_t bs = m->pool->bsize;
	*start = m->addr + i * bs;
	uint64_t end = pf_min64((i + 1) * bs, m->len);
	return end - i * bs;
}

int maps_add_locked(struct pf_file *f, struct pf_pool *p, void *addr, size_t len, uint64_t b0, const uint64_t *phys,
		    uint64_t n, int prot)
{
	if (nmaps_ == capmaps) {
		int c = capmaps ? capmaps * 2 : 16;
		struct pf_map **t = realloc(maps, (size_t)c * sizeof *t);
		if (!t)
			return -1;
		maps = t;
		capmaps = c;
	}
	struct pf_map *m = calloc(1, sizeof *m);
	uint64_t *ph = malloc(n ? n * sizeof *ph : 1);
	if (!m || !ph) {
		free(m);
		free(ph);
		return -1;
	}
	if (n)
		memcpy(ph, phys, n * sizeof *ph);
	*m = (struct pf_map){ .addr = (uintptr_t)addr, .len = len, .f = f, .pool = p, .b0 = b0, .n = n, .phys = ph,
			      .live = n, .prot = prot };
	for (uint64_t i = 0; i < n; i++)
		pf_pool_block_pin(p, ph[i]);
	maps[nmaps_++] = m;
	__atomic_store_n(&any_, 1, __ATOMIC_RELEASE);
	return 0;
}

int maps_add_real_locked(struct pf_file *f, void *addr, size_t len, int prot)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	if (maps_add_locked(f, NULL, addr, (len + pg - 1) / pg * pg, 0, NULL, 0, prot) < 0)
		return -1;
	maps[nmaps_ - 1]->real = 1;
	return 0;
}

static void let_go(struct pf_map *m, uint64_t i)
{
	if (m->phys[i] == PF_MAP_NONE)
		return;
	pf_pool_block_unpin(m->pool, m->phys[i]);
	m->phys[i] = PF_MAP_NONE;
	m->live--;
}

/* Remove record k (maps_lock held); its file goes to gone[] for the caller to release. */
static void drop_at(int k, struct pf_file **gone, int *ngone)
{
	struct pf_map *m = maps[k];
	for (uint64_t i = 0; i < m->n; i++)
		let_go(m, i);
	gone[(*ngone)++] = m->f;
	free(m->phys);
	free(m);
	maps[k] = maps[--nmaps_];
	if (nmaps_ == 0)
		__atomic_store_n(&any_, 0, __ATOMIC_RELEASE);
}

/* [a, e) is no longer mapped (records being moved by an mremap aside). A record of pool blocks lets go
 * of each block wholly inside and is dead once it pins none; a real record loses the part at either end
 * and is dead once nothing is left (a hole in its middle leaves it whole: it holds its file a while longer,
 * which is safe). */
static void forget_range(uintptr_t a, uintptr_t e)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	e = e < a || e > UINTPTR_MAX - pg ? UINTPTR_MAX : (e + pg - 1) / pg * pg; /* the kernel unmaps whole pages */
	for (int k = 0; k < nmaps_; k++) {
		struct pf_map *m = maps[k];
		if (m->moving || m->dead || m->addr >= e || m->addr + m->len <= a)
			continue;
		if (m->real) {
			uintptr_t end = m->addr + m->len;
			if (a <= m->addr && e >= end)
				m->dead = 1;
			else if (a <= m->addr)
				m->addr = e, m->len = end - e;
			else if (e >= end)
				m->len = a - m->addr;
			continue;
		}
		for (uint64_t i = 0; i < m->n; i++) {
			uintptr_t s;
			uint64_t l = blk_len(m, i, &s);
			if (s >= a && s + l <= e)
				let_go(m, i); /* wholly unmapped: nothing of this process reaches the block through m */
		}
		if (m->live == 0)
			m->dead = 1;
	}
}

/* Drop the dead records nobody uses; their files go to *gone (see maps_forget_locked). */
static int collect_dead(struct pf_file ***gone)
{
	int ngone = 0;
	*gone = NULL;
	for (int k = 0; k < nmaps_;) {
		if (maps[k]->dead && maps[k]->users == 0) {
			if (!*gone && !(*gone = malloc((size_t)nmaps_ * sizeof **gone)))
				return ngone; /* out of memory: the records stay, and with them the pins (safe) */
			drop_at(k, *gone, &ngone);
			continue;
		}
		k++;
	}
	return ngone;
}

int maps_forget_locked(void *addr, size_t len, struct pf_file ***gone)
{
	forget_range((uintptr_t)addr, (uintptr_t)addr + len);
	return collect_dead(gone);
}

int maps_remapped_locked(void *old, size_t olen, void *nw, size_t nlen, struct pf_file ***gone)
{
	uintptr_t o = (uintptr_t)old, n = (uintptr_t)nw, pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	olen = (olen + pg - 1) / pg * pg;
	nlen = (nlen + pg - 1) / pg * pg;
	for (int k = 0; k < nmaps_; k++) {
		struct pf_map *m = maps[k];
		if (!m->real || m->dead || m->addr < o || m->addr + m->len > o + olen)
			continue;
		uintptr_t off = m->addr - o;
		if (off >= nlen) {
			m->dead = 1; /* cut off by a shrink */
			continue;
		}
		m->addr = n + off;
		m->len = m->len < nlen - off ? m->len : nlen - off;
		m->moving = 1;
	}
	if (n != o)
		forget_range(o, o + olen); /* the rest of the old range is gone with the move */
	else if (nlen < olen)
		forget_range(o + nlen, o + olen);
	forget_range(n, n + nlen); /* whatever the new range held before */
	for (int k = 0; k < nmaps_; k++)
		maps[k]->moving = 0;
	return collect_dead(gone);
}

int maps_overlap_pool_locked(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, e = a + len;
	for (int k = 0; k < nmaps_; k++)
		if (!maps[k]->dead && !maps[k]->real && maps[k]->addr < e && maps[k]->addr + maps[k]->len > a)
			return 1;
	return 0;
}

void maps_cut_from(struct pf_file *f, uint64_t first)
{
	if (!__atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&maps_lock);
	for (int k = 0; k < nmaps_; k++) {
		struct pf_map *m = maps[k];
		if (m->f != f || m->dead || m->real || m->b0 + m->n <= first)
			continue; /* a real record: the kernel does as it does for any mapping of a shrunk file */
		uint64_t i0 = first > m->b0 ? first - m->b0 : 0;
		uintptr_t s;
		(void)blk_len(m, i0, &s);
		if (s >= m->addr + m->len)
			continue;
		/* Past the new end of file the kernel would raise SIGBUS; here anonymous zero pages take the
		 * blocks' place, so the blocks can be freed and nothing reaches them. */
		void *r = REAL(mmap64)((void *)s, m->addr + m->len - s, m->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				       -1, 0);
		if (r == MAP_FAILED) {
			pf_log(PF_LOG_WARN, "cannot detach a mapping of %s past its new end (%s): its pool blocks stay "
					    "reserved until the mapping goes",
			       f->path, strerror(errno));
			continue; /* the pins stay: the freed blocks are not reused (pool.c) */
		}
		for (uint64_t i = i0; i < m->n; i++)
			let_go(m, i);
	}
	pthread_mutex_unlock(&maps_lock);
}

int maps_sync_file(struct pf_file *f)
{
	if (!__atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE))
		return 0;
	int r = 0;
	pthread_mutex_lock(&maps_lock);
	for (int k = 0; k < nmaps_; k++) {
		struct pf_map *m = maps[k];
		if (m->f == f && !m->dead && !m->real && (m->prot & PROT_WRITE) && REAL(msync)((void *)m->addr, m->len, MS_SYNC) < 0 &&
		    errno != ENOMEM)
			r = -1;
	}
	pthread_mutex_unlock(&maps_lock);
	if (r < 0)
		file_eio();
	return r;
}

int maps_users(const void *addr, size_t len, struct pf_map ***out)
{
	uintptr_t a = (uintptr_t)addr, e = a + len;
	int n = 0;
	*out = NULL;
	pthread_mutex_lock(&maps_lock);
	for (int k = 0; k < nmaps_; k++) {
		struct pf_map *m = maps[k];
		if (m->dead || m->real || m->addr >= e || m->addr + m->len <= a)
			continue; /* a real record: the kernel's msync is all there is to do */
		if (!*out && !(*out = malloc((size_t)nmaps_ * sizeof **out))) {
			n = -1; /* ENOMEM */
			break;
		}
		m->users++;
		(*out)[n++] = m;
	}
	pthread_mutex_unlock(&maps_lock);
	return n;
}

struct pf_file *maps_user_file(const struct pf_map *m)
{
	return m->f;
}

int maps_user_writable(const struct pf_map *m)
{
	return (m->prot & PROT_WRITE) != 0;
}

int maps_user_done(struct pf_map *m, struct pf_file **gone)
{
	int ngone = 0;
	pthread_mutex_lock(&maps_lock);
	m->users--;
	if (m->dead && m->users == 0)
		for (int k = 0; k < nmaps_; k++)
			if (maps[k] == m) {
				drop_at(k, gone, &ngone);
				break;
			}
	pthread_mutex_unlock(&maps_lock);
	return ngone;
}

/* ---------------------------------------------------------------- moving a mapped file to its real file */

struct maps_snap {
	uint64_t b;      /* file block */
	uint64_t phys;   /* the pool block it was copied from */
	uint32_t *copy;  /* the block as it was when copied */
};

void maps_snap_free(struct maps_snap *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].copy);
	free(v);
}

/* Copy a block word by word with atomic loads: every 4-byte word is one the application stored whole. */
static void copy_words(uint32_t *dst, const uint32_t *src, uint64_t nwords)
{
	for (uint64_t w = 0; w < nwords; w++)
		dst[w] = __atomic_load_n(&src[w], __ATOMIC_RELAXED);
}

int maps_snapshot_file(struct pf_file *f, struct maps_snap **out)
{
	int n = 0, cap = 0, bad = 0;
	struct maps_snap *v = NULL;
	pthread_mutex_lock(&maps_lock);
	for (int k = 0; k < nmaps_ && !bad; k++) {
		struct pf_map *m = maps[k];
		if (m->f != f || m->dead || m->real)
			continue;
		uint64_t bs = m->pool->bsize;
		for (uint64_t i = 0; i < m->n && !bad; i++) {
			if (m->phys[i] == PF_MAP_NONE)
				continue;
			int seen = 0;
			for (int j = 0; j < n && !seen; j++)
				seen = v[j].b == m->b0 + i;
			if (seen)
				continue;
			if (n == cap) {
				int c = cap ? cap * 2 : 16;
				struct maps_snap *t = realloc(v, (size_t)c * sizeof *t);
				if (!t) {
					bad = 1;
					break;
				}
				v = t;
				cap = c;
			}
			uint32_t *copy = malloc(bs);
			if (!copy) {
				bad = 1;
				break;
			}
			copy_words(copy, (const uint32_t *)pf_pool_block_ptr(m->pool, m->phys[i]), bs / 4);
			v[n++] = (struct maps_snap){ m->b0 + i, m->phys[i], copy };
		}
	}
	pthread_mutex_unlock(&maps_lock);
	if (bad) {
		maps_snap_free(v, n);
		errno = ENOMEM;
		return -1;
	}
	*out = v;
	return n;
}

const void *maps_snap_block(const struct maps_snap *v, int n, uint64_t b, uint64_t phys)
{
	for (int i = 0; i < n; i++)
		if (v[i].b == b && v[i].phys == phys)
			return v[i].copy;
	return NULL;
}

void maps_swap_file(struct pf_file *f, int rfd, uint64_t size, const struct maps_snap *v, int nv)
{
	pthread_mutex_lock(&maps_lock);
	for (int k = 0; k < nmaps_; k++) {
		struct pf_map *m = maps[k];
		if (m->f != f || m->dead || m->real)
			continue;
		uint64_t bs = m->pool->bsize;
		/* Each run of blocks the record still shows is replaced by the real file's pages in one call, so
		 * that each store lands either in the pool block before it or in the real file after it. A block
		 * let go before (unmapped by the application, cut off by a shrink) is not mapped again: its
		 * addresses may hold something else by now. */
		for (uint64_t i = 0; i < m->n;) {
			if (m->phys[i] == PF_MAP_NONE) {
				i++;
				continue;
			}
			uint64_t j = i + 1;
			while (j < m->n && m->phys[j] != PF_MAP_NONE)
				j++;
			uintptr_t s;
			(void)blk_len(m, i, &s);
			uint64_t part = pf_min64(j * bs, m->len) - i * bs;
			if (REAL(mmap64)((void *)s, part, m->prot, MAP_SHARED | MAP_FIXED, rfd, (off64_t)((m->b0 + i) * bs)) ==
			    MAP_FAILED)
				pf_die("cannot map %s in place of its pool blocks (%s): stopping before a store through the "
				       "mapping could go to a block that is no longer the file's",
				       f->path, strerror(errno));
			i = j;
		}
		/* Stores that reached a pool block after it was copied are carried over, unless the application
		 * stored to the same word since (compare-and-swap against the copy). */
		uint32_t *M = (uint32_t *)m->addr;
		for (uint64_t i = 0; i < m->n; i++) {
			if (m->phys[i] == PF_MAP_NONE)
				continue;
			const uint32_t *S = maps_snap_block(v, nv, m->b0 + i, m->phys[i]);
			const uint32_t *P = (const uint32_t *)pf_pool_block_ptr(m->pool, m->phys[i]);
			uint64_t start = (m->b0 + i) * bs, end = pf_min64(pf_min64(start + bs, size), m->b0 * bs + m->len);
			for (uint64_t w = 0; S && start + w * 4 + 4 <= end; w++) {
				uint32_t pv = __atomic_load_n(&P[w], __ATOMIC_RELAXED), exp = S[w];
				if (pv != exp)
					__atomic_compare_exchange_n(&M[i * bs / 4 + w], &exp, pv, 0, __ATOMIC_RELAXED,
								    __ATOMIC_RELAXED);
			}
			let_go(m, i);
		}
		m->real = 1;
	}
	pthread_mutex_unlock(&maps_lock);
}
