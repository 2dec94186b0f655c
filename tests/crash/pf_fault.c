/*
 * pf_fault.c - the workload and the verifier of the fault-injection loop (tests/crash/fault.sh).
 *
 * Roles (argv[1]):
 *   prep    (without the shim) plain segment files that exist before the shim manages anything: the
 *           sources of promotions; and a pool in format 1, as an earlier release left it, holding two
 *           more files (one all in the pool, one with its first block in the log dir) plus a reserved
 *           block, a stale block and a dying record: every run starts by upgrading it (the upgrade's
 *           persist points are hit, and verify checks every byte of those files too).
 *   phases  print where each phase of the script starts ("<letter>:<op index>").
 *   work [START [STOP]]
 *           (under the shim, log.channel.type=tiered, a 4 MiB pool, PAFKA_FAULT=<point>:<n>) one fixed
 *           script of operations that exercises every persist point: promotion of the prepared files,
 *           record and block allocation, growth (appends, ftruncate up, writes past the end), truncation,
 *           fsync, demotion, a write that fills the pool (spill), mmap (materialisation), rename (.deleted,
 *           the cleaner's .cleaned -> .swap -> .log), unlink of an open and of a closed file, truncation to
 *           zero, and an active segment that spills, has its pool part moved down and is readmitted, then has
 *           its cold head moved down (head moves and readmissions change no byte). START > 0 continues in a
 *           new process (a restarted broker) from the start of a phase, so a kill at the first hit of a point
 *           can land in every phase. Before each operation it appends "B <i>" to a journal outside the log
 *           dir, after it "E <i>"; "DONE" at the end. The shim kills the process at the n-th hit of the point.
 *   verify  (under the shim, log.channel.type=pmem: recovery, no migration) replays the script up to the
 *           last finished operation and checks every file:
 *             - a file untouched by the operation in flight must have exactly the size and bytes the
 *               finished operations gave it (fsynced or not: a process kill loses nothing the kernel or the
 *               pool mapping already has);
 *             - the operation in flight (B without E) may have happened or not, and nothing else:
 *                 create:   absent, or present and empty;
 *                 write of len bytes at off over a file of size S: the size is in [S, max(S, off+len)];
 *                   a byte of [off, off+len) below S is old or new; at or past S it is new; any other byte
 *                   is old (zeros in a gap between S and off);
 *                 truncate to L: size S with the old bytes, or size L with the old bytes cut or extended
 *                   with zeros;
 *                 unlink: present with the old bytes, or absent;
 *                 rename: under exactly one of the two names, with the old bytes;
 *                 close, fsync, mmap, open, the waits (for migration: promotions, settling, a window): no
 *                   change;
 *             - no other file exists in the log dir.
 *           It then saves the accepted contents as the manifest for check-real / cleanup / check-empty.
 *   plus the generic roles of crashlib.h (check-shim, check-real, cleanup, check-empty).
 */
#include "crashlib.h"

#include <sys/mman.h>

enum op_type {
	OP_OPEN,
	OP_CREATE,
	OP_APPEND,
	OP_PWRITE,
	OP_TRUNC,
	OP_FSYNC,
	OP_UNLINK,
	OP_RENAME,
	OP_CLOSE,
	OP_MMAP,
	OP_WAIT_PROMOTED,
	OP_WAIT_SETTLED,
	OP_WAIT_WINDOW,
};

static const char *const op_names[] = { "open",  "create", "append", "pwrite", "truncate", "fsync",
					"unlink", "rename", "close", "mmap", "wait-promoted", "wait-settled", "wait-window" };

struct op {
	enum op_type type;
	int slot;
	uint64_t off, len;
	uint32_t seed;
	const char *rel; /* create, rename: the new name */
};

#define NSLOTS 17
#define NPREP 5
#define NPREP1 2     /* the format-1 pool's files, in slots V1SLOT.. (the script never touches them) */
#define V1SLOT 13

struct slot {
	char rel[256];
	int exists;
	int open; /* the workload holds a descriptor */
	int fd;
	struct pftest_shadow sh;
};

static struct slot S[NSLOTS];
static struct op OPS[128];
static int NOPS;
/* where each phase of the script starts (a restarted workload may begin there) */
static int PHASE[16];
static char PHASE_NAME[16];
static int NPHASES;

static void phase(char name)
{
	PHASE[NPHASES] = NOPS;
	PHASE_NAME[NPHASES++] = name;
}

static const struct {
	const char *rel;
	uint64_t size;
	uint32_t seed;
} PREP[NPREP] = {
	{ "pf9/00000000000000000000.log", 300000, 900 },
	{ "pf9/00000000000000000100.log", 420000, 901 },
	{ "pf9/00000000000000000200.log", 100000, 902 },
	{ "pf8/00000000000000000000.log", 200000, 903 },
	{ "pf8/00000000000000000500.log", 50000, 904 },
};

/* Files an earlier release left in its (format-1) pool: blocks [lo, size) pool-resident, [0, lo) in the
 * log-dir file. */
static const struct {
	const char *rel;
	uint64_t size;
	uint32_t seed;
	uint32_t lo;
} PREP1[NPREP1] = {
	{ "pf7/00000000000000000000.log", 150000, 905, 0 },
	{ "pf7/00000000000000000300.log", 200000, 906, 1 },
};

static void add(enum op_type t, int slot, uint64_t off, uint64_t len, uint32_t seed, const char *rel)
{
	CHECK(NOPS < (int)(sizeof OPS / sizeof OPS[0]));
	OPS[NOPS++] = (struct op){ t, slot, off, len, seed, rel };
}

#define OPEN(s) add(OP_OPEN, s, 0, 0, 0, NULL)
#define CREATE(s, rel) add(OP_CREATE, s, 0, 0, 0, rel)
#define APPEND(s, len, seed) add(OP_APPEND, s, 0, len, seed, NULL)
#define PWRITE(s, off, len, seed) add(OP_PWRITE, s, off, len, seed, NULL)
#define TRUNC(s, len) add(OP_TRUNC, s, 0, len, 0, NULL)
#define FSYNC(s) add(OP_FSYNC, s, 0, 0, 0, NULL)
#define UNLINK(s) add(OP_UNLINK, s, 0, 0, 0, NULL)
#define RENAME(s, rel) add(OP_RENAME, s, 0, 0, 0, rel)
#define CLOSE(s) add(OP_CLOSE, s, 0, 0, 0, NULL)
#define MMAP(s) add(OP_MMAP, s, 0, 0, 0, NULL)
#define WAIT_PROMOTED(n) add(OP_WAIT_PROMOTED, -1, 0, n, 0, NULL)
#define WAIT_SETTLED() add(OP_WAIT_SETTLED, -1, 0, 0, 0, NULL)
/* until the slot's window starts at block lo or later and is open at the end (not spilled) */
#define WAIT_WINDOW(s, lo) add(OP_WAIT_WINDOW, s, lo, 0, 0, NULL)

/* The script (sizes for a pool of 59 blocks of 64 KiB, threshold 0.5: 29 blocks). */
static void build_script(void)
{
	NOPS = 0;
	NPHASES = 0;
	phase('A');
	/* A: the prepared files are opened (Kafka opens every segment) and the sealed ones promoted */
	for (int i = 0; i < NPREP; i++)
		OPEN(i);
	WAIT_PROMOTED(3);
	APPEND(2, 150000, 912); /* the active pf9 segment: its new blocks go to the pool */
	APPEND(1, 50000, 911);  /* a promoted file: its slow-tier copy stops being valid */
	FSYNC(1);
	phase('B');
	/* B: allocation, growth, truncation */
	CREATE(5, "pf0/00000000000000000000.log");
	APPEND(5, 100003, 920);
	APPEND(5, 150001, 921);
	APPEND(5, 200003, 922);
	APPEND(5, 250007, 923);
	FSYNC(5);
	TRUNC(5, 500000);
	TRUNC(5, 600000);
	PWRITE(5, 650000, 30000, 924); /* past the end: a gap of zeros */
	PWRITE(5, 100000, 70000, 925); /* overwrite */
	FSYNC(5);
	phase('C');
	/* C: over the threshold; newer segments seal the older ones: demotion */
	CREATE(6, "pf1/00000000000000000000.log");
	APPEND(6, 200001, 930);
	APPEND(6, 200003, 931);
	APPEND(6, 200005, 932);
	CREATE(7, "pf0/00000000000000001000.log");
	APPEND(7, 70000, 940);
	CREATE(8, "pf1/00000000000000001000.log");
	APPEND(8, 30000, 950);
	FSYNC(6);
	WAIT_SETTLED();
	phase('D');
	/* D: more than the pool holds: spill; then sealed and demoted */
	CREATE(9, "pf2/00000000000000000000.log");
	for (int k = 0; k < 5; k++)
		APPEND(9, 700001 + (uint64_t)k * 2, 960 + (uint32_t)k);
	CREATE(10, "pf2/00000000000000001000.log");
	APPEND(10, 20000, 970);
	WAIT_SETTLED();
	phase('E');
	/* E: a shared mapping of the pool blocks, then a private mapping moves the file's bytes to the log dir
	 * (materialise), the shared mapping with them */
	CREATE(11, "pf3/00000000000000000000.log");
	APPEND(11, 200000, 980);
	MMAP(11);
	/* Kafka's new index: setLength past what the pool's share for mappings holds (8 of 64 blocks), then a
	 * shared mapping: the window ends where the share does, the rest maps the real file */
	CREATE(16, "pf3/00000000000000000000.index");
	TRUNC(16, 1 << 20);
	MMAP(16);
	phase('F');
	/* F: Kafka's deletion (rename to .deleted, unlink while open, close), unlink of a closed file, the
	 * cleaner's swap, truncation to zero */
	RENAME(5, "pf0/00000000000000000000.log.deleted");
	UNLINK(5);
	APPEND(6, 40000, 933);
	CLOSE(5);
	CLOSE(8);
	UNLINK(8);
	CREATE(12, "pf4/00000000000000000000.log.cleaned");
	APPEND(12, 90000, 990);
	FSYNC(12);
	RENAME(12, "pf4/00000000000000000000.log.swap");
	RENAME(12, "pf4/00000000000000000000.log");
	TRUNC(7, 0);
	APPEND(7, 10000, 941);
	phase('G');
	/* G */
	APPEND(10, 100000, 971);
	FSYNC(10);
	WAIT_SETTLED();
	phase('H');
	/* H: an active segment that spills (one append larger than the whole pool): migration moves its pool part
	 * down (a head move) and readmits it (a new window at its end, 62 blocks in) */
	CREATE(15, "pf5/00000000000000000000.log");
	APPEND(15, 4000037, 1000);
	WAIT_WINDOW(15, 62);
	phase('I');
	/* I: its next appends go to the pool again (30 blocks: over the threshold whatever else the pool holds,
	 * 59 blocks at most with it), so the cold head of the active segment moves down while its tail stays */
	APPEND(15, 2000003, 1001);
	WAIT_WINDOW(15, 63);
	FSYNC(15);
}

static void model_init(void)
{
	for (int i = 0; i < NSLOTS; i++) {
		pftest_shadow_free(&S[i].sh);
		memset(&S[i], 0, sizeof S[i]);
		S[i].fd = -1;
	}
	for (int i = 0; i < NPREP; i++) {
		pftest_fmt(S[i].rel, sizeof S[i].rel, "%s", PREP[i].rel);
		S[i].exists = 1;
		pftest_shadow_pat(&S[i].sh, 0, PREP[i].size, PREP[i].seed);
	}
	for (int i = 0; i < NPREP1; i++) {
		struct slot *s = &S[V1SLOT + i];
		pftest_fmt(s->rel, sizeof s->rel, "%s", PREP1[i].rel);
		s->exists = 1;
		pftest_shadow_pat(&s->sh, 0, PREP1[i].size, PREP1[i].seed);
	}
}

/* Apply op to the model (and, if real, to the files). */
static void apply(const struct op *o, int real)
{
	struct slot *s = o->slot >= 0 ? &S[o->slot] : NULL;
	char p[PATH_MAX], q[PATH_MAX];
	if (s && s->rel[0])
		cl_abs(p, s->rel);
	STEP("op %s slot %d (%s)", op_names[o->type], o->slot, s ? s->rel : "-");
	switch (o->type) {
	case OP_OPEN:
		s->open = 1;
		if (real) {
			s->fd = (int)OK(open(p, O_RDWR | O_CLOEXEC));
			CHECK_EQ(lseek(s->fd, 0, SEEK_END), s->sh.size);
		}
		break;
	case OP_CREATE:
		pftest_fmt(s->rel, sizeof s->rel, "%s", o->rel);
		cl_abs(p, s->rel);
		if (real) {
			char d[PATH_MAX];
			pftest_fmt(d, sizeof d, "%s", p);
			*strrchr(d, '/') = 0;
			pftest_mkdirs(d);
			s->fd = (int)OK(open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		}
		s->exists = 1;
		s->open = 1;
		pftest_shadow_truncate(&s->sh, 0);
		break;
	case OP_APPEND:
	case OP_PWRITE: {
		uint64_t off = o->type == OP_APPEND ? s->sh.size : o->off;
		uint8_t *b = pftest_patbuf(off, o->len, o->seed);
		if (real) {
			if (o->type == OP_APPEND) {
				CHECK_EQ(lseek(s->fd, 0, SEEK_CUR), off);
				pftest_write_all(s->fd, b, o->len);
			} else {
				pftest_pwrite_all(s->fd, b, o->len, (off_t)off);
			}
		}
		pftest_shadow_write(&s->sh, off, b, o->len);
		free(b);
		break;
	}
	case OP_TRUNC:
		if (real) {
			OK(ftruncate(s->fd, (off_t)o->len));
			OK(lseek(s->fd, (off_t)o->len, SEEK_SET)); /* Kafka's truncateTo moves the position too */
		}
		pftest_shadow_truncate(&s->sh, o->len);
		break;
	case OP_FSYNC:
		if (real)
			OK(fsync(s->fd));
		break;
	case OP_UNLINK:
		if (real)
			OK(unlink(p));
		s->exists = 0;
		break;
	case OP_RENAME:
		if (real)
			OK(rename(p, cl_abs(q, o->rel)));
		pftest_fmt(s->rel, sizeof s->rel, "%s", o->rel);
		break;
	case OP_CLOSE:
		if (real)
			OK(close(s->fd));
		s->fd = -1;
		s->open = 0;
		break;
	case OP_MMAP:
		if (real) {
			/* a shared mapping is served from the pool blocks; a private one moves the bytes to the
			 * log dir (materialise) */
			void *m = mmap(NULL, s->sh.size, PROT_READ, MAP_SHARED, s->fd, 0);
			CHECK(m != MAP_FAILED);
			pftest_cmp("shared mapping", m, s->sh.b, s->sh.size, 0);
			/* while the shared mapping lives: the materialise moves it to the real file (a swap) */
			void *q = mmap(NULL, s->sh.size, PROT_READ, MAP_PRIVATE, s->fd, 0);
			CHECK(q != MAP_FAILED);
			pftest_cmp("private mapping", q, s->sh.b, s->sh.size, 0);
			pftest_cmp("shared mapping after the move", m, s->sh.b, s->sh.size, 0);
			OK(munmap(q, s->sh.size));
			OK(munmap(m, s->sh.size));
		}
		break;
	case OP_WAIT_PROMOTED:
	case OP_WAIT_SETTLED:
	case OP_WAIT_WINDOW:
		break;
	}
}

/* ================================================================ work */

static int cond_promoted(const struct cl_pool *p, void *arg)
{
	uint64_t want = *(uint64_t *)arg, n = 0;
	for (uint64_t r = 0; r < p->nrecords; r++)
		n += p->recs[r].state == PF_REC_LIVE && (p->recs[r].flags & PF_RECF_REAL_VALID) && p->recs[r].lo == 0;
	return n >= want && cl_pool_quiet(p);
}

struct window_want {
	struct cl_key key;
	uint64_t lo;
};

/* The file's window starts at want->lo or later and is open at the end; no move half done. */
static int cond_window(const struct cl_pool *p, void *arg)
{
	const struct window_want *w = arg;
	int64_t r = cl_find_rec(p, &w->key);
	return r >= 0 && p->recs[r].lo >= w->lo && p->recs[r].lo != PF_HI_NONE && p->recs[r].hi == PF_HI_NONE &&
	       cl_pool_quiet(p);
}

static void jprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jprintf(int fd, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	CHECK(write(fd, buf, (size_t)n) == n);
}

/* work [START [STOP]]: run ops [START, STOP). START > 0 continues the script in a new process, as a restarted
 * broker would: the model is replayed and the files the script holds open are opened again. */
static int role_work(int argc, char **argv)
{
	CHECKF(pftest_shim_active(), "work runs under the shim");
	model_init();
	build_script();
	int start = argc > 2 ? atoi(argv[2]) : 0, stop = argc > 3 ? atoi(argv[3]) : NOPS;
	CHECK(start >= 0 && start <= stop && stop <= NOPS);
	char jp[PATH_MAX];
	pftest_fmt(jp, sizeof jp, "%s/journal", pftest_dir());
	int j = (int)OK(open(jp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (start ? 0 : O_TRUNC), 0644));
	for (int i = 0; i < start; i++)
		apply(&OPS[i], 0);
	for (int i = 0; i < NSLOTS; i++) {
		if (!S[i].open)
			continue;
		char p[PATH_MAX];
		CHECKF(S[i].exists, "cannot restart at op %d: slot %d is open but unlinked", start, i);
		S[i].fd = (int)OK(open(cl_abs(p, S[i].rel), O_RDWR | O_CLOEXEC));
		CHECK_EQ(lseek(S[i].fd, 0, SEEK_END), S[i].sh.size);
	}
	int timeouts = 0;
	for (int i = start; i < stop; i++) {
		jprintf(j, "B %d\n", i);
		const struct op *o = &OPS[i];
		if (o->type == OP_WAIT_PROMOTED || o->type == OP_WAIT_SETTLED || o->type == OP_WAIT_WINDOW) {
			struct cl_pool P;
			memset(&P, 0, sizeof P);
			uint64_t want = o->len;
			struct window_want ww = { .lo = o->off };
			if (o->type == OP_WAIT_WINDOW) {
				char p[PATH_MAX];
				CHECK(cl_key_of(cl_abs(p, S[o->slot].rel), &ww.key) == 0);
			}
			long long ms = o->type == OP_WAIT_PROMOTED ? cl_poll(&P, cond_promoted, &want, 10000)
				       : o->type == OP_WAIT_WINDOW ? cl_poll(&P, cond_window, &ww, 10000)
								   : cl_poll(&P, cl_cond_settled, NULL, 10000);
			if (ms < 0) {
				timeouts++;
				fprintf(stderr, "work: op %d (%s) timed out: used %llu limit %llu\n", i, op_names[o->type],
					(unsigned long long)cl_pool_used(&P), (unsigned long long)cl_limit(P.nblocks));
			}
			cl_pool_free(&P);
		} else {
			apply(o, 1);
		}
		jprintf(j, "E %d\n", i);
	}
	for (int i = 0; i < NSLOTS; i++)
		if (S[i].fd >= 0)
			OK(close(S[i].fd));
	if (stop == NOPS)
		jprintf(j, "DONE\n");
	close(j);
	if (stop < NOPS)
		return 0;
	struct pf_pool_live L = cl_live_stats();
	printf("work: %d operations done; live stats: %llu demotions, %llu promotions, %llu head demotions, %llu "
	       "readmissions, %llu spills, %llu aborts, %llu failures; %d waits timed out\n",
	       NOPS, (unsigned long long)L.demotions, (unsigned long long)L.promotions,
	       (unsigned long long)L.head_demotions, (unsigned long long)L.readmissions, (unsigned long long)L.spills,
	       (unsigned long long)L.migration_aborts, (unsigned long long)L.migration_failures, timeouts);
	return 0;
}

/* ================================================================ prep */

static uint64_t pf_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The format-1 pool and its files (the oldest of all, so a demotion of them leaves the promotion of the
 * plain files possible). */
static void prep_v1_pool(void)
{
	struct cl_v1 v;
	uint64_t bs = (uint64_t)cl_env_size("PAFKA_POOL_BLOCK_SIZE", 65536);
	cl_v1_create(&v, (uint64_t)cl_env_size("PAFKA_STORAGE_TIERS_FIRST_SIZES", 4 << 20), bs);
	uint64_t phys = 0;
	for (int i = 0; i < NPREP1; i++) {
		char p[PATH_MAX], d[PATH_MAX];
		cl_abs(p, PREP1[i].rel);
		pftest_fmt(d, sizeof d, "%s", p);
		*strrchr(d, '/') = 0;
		pftest_mkdirs(d);
		uint8_t *b = pftest_patbuf(0, PREP1[i].size, PREP1[i].seed);
		/* the log-dir file: its size, the bytes below lo, a hole for the rest */
		int fd = (int)OK(open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		uint64_t below = pf_min_u64((uint64_t)PREP1[i].lo * bs, PREP1[i].size);
		pftest_pwrite_all(fd, b, below, 0);
		OK(ftruncate(fd, (off_t)PREP1[i].size));
		OK(fsync(fd));
		OK(close(fd));
		uint32_t r = (uint32_t)(2 * i); /* records 0 and 2: record 1 stays free */
		cl_v1_record(&v, r, PF_REC_LIVE, p, PREP1[i].lo, PF_HI_NONE, 0);
		for (uint64_t off = below; off < PREP1[i].size; off += bs)
			cl_v1_block(&v, phys++, r, (uint32_t)(off / bs), b + off, pf_min_u64(bs, PREP1[i].size - off));
		if (PREP1[i].lo > 0) /* a stale copy of block 0 (a demotion that finished): freed at recovery */
			cl_v1_block(&v, phys++, r, 0, b, 100);
		free(b);
		cl_after_birth_of(p);
	}
	/* a free that a crash interrupted, with one block; and a reserved block */
	char p0[PATH_MAX];
	cl_v1_record(&v, 5, PF_REC_DYING, cl_abs(p0, PREP1[0].rel), 0, PF_HI_NONE, 0);
	cl_v1_block(&v, phys++, 5, 0, (const uint8_t *)"dying", 5);
	((uint64_t *)(v.base + v.h->blk_off))[phys++] = PF_BLOCK_RESERVED;
	cl_v1_close(&v);
}

static int role_prep(int argc, char **argv)
{
	CHECKF(!pftest_shim_active(), "prep runs without the shim");
	prep_v1_pool();
	for (int i = 0; i < NPREP; i++) {
		char p[PATH_MAX], d[PATH_MAX];
		cl_abs(p, PREP[i].rel);
		pftest_fmt(d, sizeof d, "%s", p);
		*strrchr(d, '/') = 0;
		pftest_mkdirs(d);
		int fd = (int)OK(open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		uint8_t *b = pftest_patbuf(0, PREP[i].size, PREP[i].seed);
		pftest_write_all(fd, b, PREP[i].size);
		free(b);
		OK(fsync(fd));
		OK(close(fd));
		cl_after_birth_of(p);
	}
	return 0;
}

/* ================================================================ verify */

struct actual {
	int exists;
	uint8_t *b;
	uint64_t size;
};

/* Read a file through the shim (opening it also trims pool blocks past its end). */
static void read_actual(const char *rel, struct actual *a)
{
	char p[PATH_MAX];
	memset(a, 0, sizeof a[0]);
	cl_abs(p, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		CHECKF(errno == ENOENT, "open %s", rel);
		return;
	}
	a->exists = 1;
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	a->size = (uint64_t)st.st_size;
	struct stat st2;
	CHECK(stat(p, &st2) == 0);
	CHECKF(st2.st_size == st.st_size, "%s: stat %lld, fstat %lld", rel, (long long)st2.st_size, (long long)st.st_size);
	CHECKF(lseek(fd, 0, SEEK_END) == (off_t)a->size, "%s: SEEK_END", rel);
	a->b = pftest_xmalloc(a->size);
	CHECKF(pread(fd, a->b, a->size, 0) == (ssize_t)a->size, "%s: read %llu bytes", rel, (unsigned long long)a->size);
	uint8_t extra;
	CHECKF(pread(fd, &extra, 1, (off_t)a->size) == 0, "%s: a byte past the end", rel);
	close(fd);
}

static int same_as(const struct actual *a, const struct pftest_shadow *sh)
{
	return a->exists && a->size == sh->size && (sh->size == 0 || memcmp(a->b, sh->b, sh->size) == 0);
}

static void describe_diff(const char *rel, const struct actual *a, const struct pftest_shadow *sh, char *out,
			  size_t n)
{
	if (!a->exists) {
		cl_fmt(out, n, "%s: missing", rel);
		return;
	}
	if (a->size != sh->size) {
		cl_fmt(out, n, "%s: size %llu, expected %llu", rel, (unsigned long long)a->size,
			 (unsigned long long)sh->size);
		return;
	}
	uint64_t i = 0;
	while (a->b[i] == sh->b[i])
		i++;
	cl_fmt(out, n, "%s: byte %llu is 0x%02x, expected 0x%02x", rel, (unsigned long long)i, a->b[i], sh->b[i]);
}

/* The write rule (see the top of the file). */
static int write_acceptable(const struct actual *a, const struct pftest_shadow *old, uint64_t off, uint64_t len,
			    uint32_t seed, char *why, size_t n)
{
	uint64_t s0 = old->size, e = off + len > s0 ? off + len : s0;
	if (!a->exists) {
		cl_fmt(why, n, "missing");
		return 0;
	}
	if (a->size < s0 || a->size > e) {
		cl_fmt(why, n, "size %llu outside [%llu, %llu]", (unsigned long long)a->size, (unsigned long long)s0,
			 (unsigned long long)e);
		return 0;
	}
	for (uint64_t i = 0; i < a->size; i++) {
		uint8_t got = a->b[i], oldb = i < s0 ? old->b[i] : 0;
		int ok;
		if (i >= off && i < off + len) {
			uint8_t nw = pftest_pat(i, seed);
			ok = i < s0 ? (got == oldb || got == nw) : got == nw;
		} else {
			ok = got == oldb;
		}
		if (!ok) {
			cl_fmt(why, n, "byte %llu is 0x%02x (old 0x%02x, new %s)", (unsigned long long)i, got, oldb,
				 i >= off && i < off + len ? "written" : "untouched");
			return 0;
		}
	}
	return 1;
}

static int role_verify(int argc, char **argv)
{
	CHECKF(pftest_shim_active(), "verify runs under the shim");
	char jp[PATH_MAX];
	pftest_fmt(jp, sizeof jp, "%s/journal", pftest_dir());
	int last_end = -1, last_begin = -1, done = 0;
	FILE *jf = fopen(jp, "r");
	if (jf) {
		char line[64];
		while (fgets(line, sizeof line, jf)) {
			int i;
			if (sscanf(line, "B %d", &i) == 1)
				last_begin = i;
			else if (sscanf(line, "E %d", &i) == 1)
				last_end = i;
			else if (!strncmp(line, "DONE", 4))
				done = 1;
		}
		fclose(jf);
	}
	model_init();
	build_script();
	CHECKF(last_end < NOPS && last_begin <= last_end + 1 && last_begin >= last_end, "journal: B %d, E %d", last_begin,
	       last_end);
	for (int i = 0; i <= last_end; i++)
		apply(&OPS[i], 0);
	int inflight = last_begin > last_end ? last_begin : -1;
	const struct op *o = inflight >= 0 ? &OPS[inflight] : NULL;
	/* the model before and after the operation in flight */
	static struct slot before;
	if (o && o->slot >= 0) {
		before = S[o->slot];
		memset(&before.sh, 0, sizeof before.sh);
		if (S[o->slot].sh.size)
			pftest_shadow_write(&before.sh, 0, S[o->slot].sh.b, S[o->slot].sh.size);
	}
	char verdict[2048] = "no operation in flight";
	struct cl_manifest m;
	memset(&m, 0, sizeof m);
	/* every slot */
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &S[i];
		if (!s->rel[0] && !(o && o->slot == i))
			continue;
		STEP("verify slot %d (%s)", i, s->rel);
		char why[256] = "";
		if (!o || o->slot != i) {
			struct actual a;
			read_actual(s->rel, &a);
			if (!s->exists) {
				CHECKF(!a.exists, "%s should not exist (finished ops removed it)", s->rel);
				continue;
			}
			if (!same_as(&a, &s->sh)) {
				describe_diff(s->rel, &a, &s->sh, why, sizeof why);
				CHECKF(0, "finished operations not reflected (%s op %d done): %s", done ? "all" : "up to",
				       last_end, why);
			}
			cl_manifest_copy(&m, s->rel, a.b, a.size);
			free(a.b);
			continue;
		}
		/* the slot of the operation in flight */
		struct actual a, b2;
		const char *rel = s->rel;
		int ok = 0;
		switch (o->type) {
		case OP_CREATE:
			read_actual(o->rel, &a);
			ok = !a.exists || a.size == 0;
			cl_fmt(verdict, sizeof verdict, "create of %s in flight: %s", o->rel, !a.exists ? "absent" : a.size == 0 ? "present, empty" : "present with bytes");
			rel = o->rel;
			break;
		case OP_APPEND:
		case OP_PWRITE: {
			read_actual(s->rel, &a);
			uint64_t off = o->type == OP_APPEND ? before.sh.size : o->off;
			ok = write_acceptable(&a, &before.sh, off, o->len, o->seed, why, sizeof why);
			cl_fmt(verdict, sizeof verdict, "%s of %llu bytes at %llu to %s (size %llu) in flight: size now %llu "
				 "(%s)",
				 op_names[o->type], (unsigned long long)o->len, (unsigned long long)off, s->rel,
				 (unsigned long long)before.sh.size, (unsigned long long)a.size,
				 !ok ? why : a.size == before.sh.size && same_as(&a, &before.sh) ? "not done" : "done or partly done");
			break;
		}
		case OP_TRUNC: {
			read_actual(s->rel, &a);
			struct pftest_shadow cut = { 0 };
			if (before.sh.size)
				pftest_shadow_write(&cut, 0, before.sh.b, before.sh.size);
			pftest_shadow_truncate(&cut, o->len);
			int old = same_as(&a, &before.sh), nw = same_as(&a, &cut);
			ok = old || nw;
			cl_fmt(verdict, sizeof verdict, "truncate of %s from %llu to %llu in flight: %s", s->rel,
				 (unsigned long long)before.sh.size, (unsigned long long)o->len,
				 nw ? "done" : old ? "not done" : "neither old nor new");
			if (!ok)
				describe_diff(s->rel, &a, &cut, why, sizeof why);
			pftest_shadow_free(&cut);
			break;
		}
		case OP_UNLINK:
			read_actual(s->rel, &a);
			ok = !a.exists || same_as(&a, &before.sh);
			cl_fmt(verdict, sizeof verdict, "unlink of %s in flight: %s", s->rel, a.exists ? "still there" : "gone");
			if (!ok)
				describe_diff(s->rel, &a, &before.sh, why, sizeof why);
			if (!a.exists)
				s->exists = 0;
			break;
		case OP_RENAME:
			read_actual(s->rel, &a);
			read_actual(o->rel, &b2);
			ok = (a.exists != b2.exists) && (a.exists ? same_as(&a, &before.sh) : same_as(&b2, &before.sh));
			cl_fmt(verdict, sizeof verdict, "rename %s -> %s in flight: %s", s->rel, o->rel,
				 a.exists && b2.exists ? "both names exist" : a.exists ? "old name" : b2.exists ? "new name" : "neither name");
			if (b2.exists) {
				free(a.b);
				a = b2;
				rel = o->rel;
			} else {
				free(b2.b);
			}
			break;
		default:
			read_actual(s->rel, &a);
			ok = s->exists ? same_as(&a, &s->sh) : !a.exists;
			cl_fmt(verdict, sizeof verdict, "%s of %s in flight: no change", op_names[o->type], s->rel);
			if (!ok)
				describe_diff(s->rel, &a, &s->sh, why, sizeof why);
			break;
		}
		CHECKF(ok, "op %d in flight: %s %s", inflight, verdict, why);
		if (a.exists)
			cl_manifest_copy(&m, rel, a.b, a.size);
		free(a.b);
	}
	if (o && o->slot < 0)
		cl_fmt(verdict, sizeof verdict, "%s in flight: no change", op_names[o->type]);
	/* nothing else under logs/ */
	cl_check_only_manifest(&m);
	cl_manifest_save(&m);
	printf("verify: %s; %d of %d operations finished; %s; %d files, every finished operation reflected\n",
	       done ? "workload completed" : "workload killed", last_end + 1, NOPS, verdict, m.n);
	cl_manifest_free(&m);
	pftest_shadow_free(&before.sh);
	return 0;
}

static int role_phases(int argc, char **argv)
{
	build_script();
	for (int i = 0; i < NPHASES; i++)
		printf("%c:%d\n", PHASE_NAME[i], PHASE[i]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cl_role roles[] = {
		{ "prep", role_prep, 0 },
		{ "work", role_work, 0 },
		{ "phases", role_phases, 0 },
		{ "verify", role_verify, 0 },
	};
	return cl_main(argc, argv, roles, sizeof roles / sizeof roles[0]);
}
