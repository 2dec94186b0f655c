/*
 * t_powerloss: a pool-resident segment's size is durable in the pool, not in the real log-dir file.
 *
 * A writer under the shim appends to a few segments (O_APPEND, random lengths, an fdatasync now and then)
 * and reports every write and sync that returned through a pipe. The parent SIGKILLs it at a random point
 * of that stream, then does what a power loss can do to the slow tier: each real file that was fsynced is
 * cut back, with raw system calls, to a size between its size at its first fsync (the only real fsync an
 * append-only, pool-resident file gets: after it the shim persists the pool alone) and its current size.
 * The pool is kept whole, as persistent memory keeps it.
 *
 * Then a verifier under the shim must see, for every segment, at least every byte of every write that
 * returned (at most one more write, the one the kill interrupted), each byte the one written there, the
 * same size through every stat variant and in another process without the shim, and the real file
 * re-extended to it. Rounds take turns: the msync path, libpmem's flush path (PMEM_IS_PMEM_FORCE=1), and
 * a pool too small for the segments (a log dir and a 4 MiB pool of their own), so that they spill: there
 * the slow tier holds bytes of its own, the power loss cuts to the last fsync (all an fsync promises for
 * them), and the verifier must see at least every fsynced byte and never a zero where a byte was written
 * (recovery must not extend a file over disk bytes that never became durable). Reboot rounds (msync
 * path, a pool of their own) also lose the pool bytes written after each file's last fsync while keeping
 * its record (the page cache's worst order), and the verifier sees another kernel boot id (libfakeboot.so):
 * every fsynced byte must read back and no written byte as zero. Clean rounds stop the writer with
 * SIGTERM (it exits; the shim persists the whole pool) before the reboot: every acknowledged byte must
 * read back. Seeded (PFTEST_SEED, printed); only meaningful with the shim, skips without it.
 */
#include "pftest.h"

#define NSEG 3
#define ROUNDS 10
#define MAXW 70000

struct note {
	char type; /* 'W' a write returned, 'S' an fdatasync starts, 'F' it returned */
	int seg;
	uint64_t size; /* the segment's size after it */
};

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* In the managed log dir of this process (PAFKA_LOG_DIRS: the spill rounds have their own). */
static void seg_path(char *buf, int round, int i)
{
	const char *logs = getenv("PAFKA_LOG_DIRS");
	CHECK(logs && *logs && !strchr(logs, ','));
	char dir[PATH_MAX];
	pftest_fmt(dir, sizeof dir, "%s/pl%d-%d", logs, round, i);
	if (mkdir(dir, 0755) != 0)
		CHECKF(errno == EEXIST, "mkdir %s", dir);
	pftest_fmt(buf, PATH_MAX, "%s/%s", dir, PFTEST_SEG0);
}

enum mode { MODE_MSYNC, MODE_PMEM, MODE_SPILL, MODE_REBOOT, MODE_CLEAN, NMODES };
static const char *const mode_names[] = { "msync path", "libpmem flush path", "spilling, msync path",
					  "reboot, msync path", "clean exit, then reboot, msync path" };

static volatile sig_atomic_t stop_writing;
static void on_term(int sig)
{
	(void)sig;
	stop_writing = 1;
}

/* What the parent learnt from the writer's notes about each segment. */
struct seen {
	uint64_t acked;      /* size after the last write that returned */
	uint64_t first_sync; /* size at the first fdatasync that returned */
	uint64_t last_sync;  /* ... at the last one */
	uint64_t last_start; /* size at the last fdatasync that started (it may have completed unreported) */
	int synced;
};

static void take(struct seen *v, const struct note *n)
{
	CHECK(n->seg >= 0 && n->seg < NSEG);
	struct seen *x = &v[n->seg];
	if (n->type == 'W') {
		x->acked = n->size;
	} else if (n->type == 'S') {
		x->last_start = n->size;
	} else {
		CHECK(n->type == 'F');
		if (!x->synced++)
			x->first_sync = n->size;
		x->last_sync = n->size;
	}
}

/* A power loss of a pool in page cache at its worst: the record's page reached the media, the data written
 * since the file's last fsync did not. Zero every pool byte of seg from file offset from on (raw reads and
 * writes of the pool file, decoded with pool_format.h). Returns the bytes zeroed. */
static uint64_t zero_unsynced(const char *pool_path, const char *seg, uint64_t from)
{
	struct stat st;
	CHECKF(syscall(SYS_newfstatat, AT_FDCWD, seg, &st, 0) == 0, "raw stat %s", seg);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, pool_path, O_RDWR | O_CLOEXEC, 0);
	CHECKF(fd >= 0, "open %s", pool_path);
	struct pf_pool_header h;
	CHECK_EQ(syscall(SYS_pread64, fd, &h, sizeof h, 0), (long)sizeof h);
	uint64_t salt = pf_pool_salt(h.uuid), nrec = h.nrecords, nblk = h.nblocks, bs = h.block_size;
	CHECK(h.magic == PF_POOL_MAGIC && nrec <= PF_MAX_RECORDS && nblk < (1ULL << 28) && bs >= 4096 && bs <= (1ULL << 30));
	int fmt2 = pf_header_format(&h) == 2;
	int64_t rec = -1;
	for (uint64_t r = 0; r < nrec && rec < 0; r++) {
		uint64_t w[PF_RECORD_SIZE / 8];
		struct pf_rec_view v;
		CHECK_EQ(syscall(SYS_pread64, fd, w, sizeof w, (off_t)(h.rec_off + r * PF_RECORD_SIZE)), (long)sizeof w);
		if (pf_rec_decode_words(salt, fmt2, (uint32_t)r, w, &v) == 0 && v.state == PF_REC_LIVE && v.ino == st.st_ino)
			rec = (int64_t)r;
	}
	CHECKF(rec >= 0, "%s has no record in %s", seg, pool_path);
	uint64_t *tab = pftest_xmalloc(nblk * 8);
	CHECK_EQ(syscall(SYS_pread64, fd, tab, nblk * 8, (off_t)h.blk_off), (long)(nblk * 8));
	uint8_t *z = calloc(1, bs);
	CHECK(z != NULL);
	uint64_t zeroed = 0;
	for (uint64_t phys = 0; phys < nblk; phys++) {
		uint32_t rr, idx;
		enum pf_entry_fault why;
		if (pf_entry_decode(salt, fmt2, nrec, phys, tab[phys], &rr, &idx, &why) != PF_ENT_OWNED || rr != rec)
			continue;
		uint64_t b0 = (uint64_t)idx * bs, b1 = b0 + bs;
		if (b1 <= from)
			continue;
		uint64_t a = b0 > from ? b0 : from;
		CHECK_EQ(syscall(SYS_pwrite64, fd, z, b1 - a, (off_t)(h.data_off + phys * bs + (a - b0))), (long)(b1 - a));
		zeroed += b1 - a;
	}
	free(z);
	pftest_free(tab);
	CHECK(pftest_raw_close(fd) == 0);
	return zeroed;
}

/* The writer: appends until killed. Each segment's bytes are pattern seed 700 + segment at their offset. */
static int role_writer(int argc, char **argv)
{
	CHECK(argc == 5);
	int round = atoi(argv[2]), out = atoi(argv[3]);
	uint64_t s = strtoull(argv[4], NULL, 10);
	int fd[NSEG];
	uint64_t size[NSEG];
	for (int i = 0; i < NSEG; i++) {
		char p[PATH_MAX];
		seg_path(p, round, i);
		fd[i] = OK(open(p, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644));
		size[i] = 0;
	}
	uint8_t *b = pftest_xmalloc(MAXW);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	CHECK(sigaction(SIGTERM, &sa, NULL) == 0);
	for (;;) {
		if (stop_writing)
			exit(0); /* a clean exit: the shim persists the whole pool and says so in its header */
		int i = (int)(rnd(&s) % NSEG);
		size_t n = 1 + rnd(&s) % MAXW;
		pftest_fill(b, size[i], n, 700 + (uint32_t)i);
		CHECK_EQ(write(fd[i], b, n), n);
		size[i] += n;
		struct note w = { 'W', i, size[i] };
		CHECK_EQ(write(out, &w, sizeof w), sizeof w);
		if (rnd(&s) % 4 == 0) {
			struct note st = { 'S', i, size[i] };
			CHECK_EQ(write(out, &st, sizeof st), sizeof st);
			CHECK_EQ(fdatasync(fd[i]), 0);
			struct note f = { 'F', i, size[i] };
			CHECK_EQ(write(out, &f, sizeof f), sizeof f);
		}
	}
}

/* The verifier: every segment holds at least want[i] bytes, at most one more write, all of them right. */
static int role_verify(int argc, char **argv)
{
	CHECK(argc == 3 + 2 * NSEG);
	int round = atoi(argv[2]);
	for (int i = 0; i < NSEG; i++) {
		uint64_t want = strtoull(argv[3 + i], NULL, 10);
		char p[PATH_MAX];
		seg_path(p, round, i);
		int fd = OK(open(p, O_RDONLY));
		long long size = pftest_fsize(fd);
		STEP("round %d: %s holds %lld bytes; it must keep %llu", round, p, size, (unsigned long long)want);
		CHECKF(size >= (long long)want, "%s: %lld bytes after the power loss, but the writes it must keep made it %llu",
		       p, size, (unsigned long long)want);
		uint64_t acked = strtoull(argv[3 + NSEG + i], NULL, 10);
		CHECKF(size <= (long long)(acked + MAXW), "%s: %lld bytes, more than one write past the %llu acknowledged", p,
		       size, (unsigned long long)acked);
		struct pftest_shadow sh = { 0 };
		pftest_shadow_pat(&sh, 0, (uint64_t)size, 700 + (uint32_t)i);
		pftest_check_fd(fd, &sh, "a segment after a kill and the slow tier's power loss");
		pftest_check_sizes(fd, p, size);
		OK(close(fd));
		pftest_shadow_free(&sh);
	}
	return 0;
}

/* The size of path as the kernel has it (raw system call, whatever LD_PRELOAD holds). */
static long long raw_size(const char *path)
{
	struct stat st;
	CHECKF(syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0, "raw stat %s", path);
	return (long long)st.st_size;
}

static void round_run(int round, uint64_t seed, enum mode mode)
{
	static char logs[PATH_MAX + 32], pool[PATH_MAX + 32];
	const char *env[5] = { mode == MODE_PMEM ? "PMEM_IS_PMEM_FORCE=1" : "PMEM_IS_PMEM_FORCE", NULL };
	if (mode == MODE_SPILL || mode == MODE_REBOOT || mode == MODE_CLEAN) {
		/* a log dir and a pool of their own: the main pool is too big to fill, and a reboot changes how
		 * every file of its pool is recovered (each log dir's marker names its pool) */
		const char *tag = mode == MODE_SPILL ? "spill" : mode == MODE_REBOOT ? "reboot" : "clean";
		pftest_fmt(logs, sizeof logs, "PAFKA_LOG_DIRS=%s/%s-logs", pftest_dir(), tag);
		pftest_fmt(pool, sizeof pool, "PAFKA_STORAGE_TIERS_FIRST_PATHS=%s/%s-pool", getenv("PAFKA_TEST_POOLDIR"), tag);
		if (mkdir(strchr(logs, '=') + 1, 0755) != 0)
			CHECK(errno == EEXIST);
		if (mkdir(strchr(pool, '=') + 1, 0755) != 0)
			CHECK(errno == EEXIST);
		env[1] = logs;
		env[2] = pool;
		env[3] = mode == MODE_SPILL ? "PAFKA_STORAGE_TIERS_FIRST_SIZES=4M" : "PAFKA_STORAGE_TIERS_FIRST_SIZES=64M";
		CHECK(setenv("PAFKA_LOG_DIRS", strchr(logs, '=') + 1, 1) == 0); /* seg_path here */
	} else {
		char d[PATH_MAX];
		pftest_fmt(d, sizeof d, "%s/logs", pftest_dir());
		CHECK(setenv("PAFKA_LOG_DIRS", d, 1) == 0);
	}
	int pp[2];
	CHECK(pipe2(pp, O_CLOEXEC) == 0);
	pftest_inherit(pp[1], 1);
	char a_round[16], a_fd[16], a_seed[32];
	pftest_fmt(a_round, sizeof a_round, "%d", round);
	pftest_fmt(a_fd, sizeof a_fd, "%d", pp[1]);
	pftest_fmt(a_seed, sizeof a_seed, "%llu", (unsigned long long)seed);
	pid_t pid = pftest_spawn_self("writer", (const char *const[]){ a_round, a_fd, a_seed, NULL }, env, 0, NULL, NULL);
	close(pp[1]);

	uint64_t s = seed ^ 0x9e3779b97f4a7c15ULL;
	/* notes to read before the kill (a spill round writes at least twice the pool: about 35 KB a write, 1.5 notes a write) */
	unsigned stop = mode == MODE_SPILL ? 480 + rnd(&s) % 100 : 40 + rnd(&s) % 160;
	struct seen v[NSEG];
	memset(v, 0, sizeof v);
	for (unsigned k = 0; k < stop; k++) {
		struct note n;
		CHECKF(read(pp[0], &n, sizeof n) == (ssize_t)sizeof n, "the writer stopped after %u notes", k);
		take(v, &n);
	}
	if (mode == MODE_CLEAN) {
		CHECK(kill(pid, SIGTERM) == 0);
		CHECK_EQ(pftest_wait(pid), 0);
	} else {
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK_EQ(pftest_wait(pid), 128 + SIGKILL);
	}
	/* notes the writer sent before it died still count: those writes returned */
	struct note n;
	while (read(pp[0], &n, sizeof n) == (ssize_t)sizeof n)
		take(v, &n);
	close(pp[0]);
	uint64_t acked[NSEG], first_sync[NSEG], last_sync[NSEG];
	int synced[NSEG];
	for (int i = 0; i < NSEG; i++) {
		acked[i] = v[i].acked;
		first_sync[i] = v[i].first_sync;
		last_sync[i] = v[i].last_sync;
		synced[i] = v[i].synced;
	}
	if (mode == MODE_SPILL)
		CHECKF(acked[0] + acked[1] + acked[2] > 8 * PFTEST_MIB,
		       "the spill round wrote %llu bytes, not more than twice its 4 MiB pool",
		       (unsigned long long)(acked[0] + acked[1] + acked[2]));

	char a_want[NSEG][32], a_acked[NSEG][32];
	for (int i = 0; i < NSEG; i++) {
		char p[PATH_MAX];
		seg_path(p, round, i);
		long long now = raw_size(p);
		CHECKF(now >= (long long)acked[i], "%s: the real file holds %lld bytes before the power loss, %llu acknowledged",
		       p, now, (unsigned long long)acked[i]);
		/* what the file must keep: every write that returned while all its bytes are in the pool; with a
		 * slow-tier part, what its last fsync made durable */
		uint64_t want = mode == MODE_SPILL || mode == MODE_REBOOT ? last_sync[i] : acked[i];
		if (mode == MODE_REBOOT) {
			char pp_[PATH_MAX];
			pftest_fmt(pp_, sizeof pp_, "%s/pafka.pool", strchr(pool, '=') + 1);
			uint64_t z = zero_unsynced(pp_, p, v[i].last_start);
			STEP("round %d: the pool lost %s's %llu bytes written after its last fsync (from %llu)", round, p,
			     (unsigned long long)z, (unsigned long long)v[i].last_start);
		}
		if (synced[i]) {
			/* the slow tier keeps the size its file had at its first fsync at least (its last, when the
			 * slow tier holds bytes of its own), anything up to now */
			uint64_t lo = mode == MODE_SPILL ? last_sync[i] : first_sync[i];
			long long cut = (long long)lo + (long long)(rnd(&s) % ((uint64_t)(now - (long long)lo) + 1));
			if (rnd(&s) % 2)
				cut = (long long)lo;
			STEP("round %d (%s): the power loss cuts %s from %lld to %lld bytes (first fsync at %llu, last at %llu, "
			     "%llu acked)",
			     round, mode_names[mode], p, now, cut, (unsigned long long)first_sync[i],
			     (unsigned long long)last_sync[i], (unsigned long long)acked[i]);
			CHECK(syscall(SYS_truncate, p, (off_t)cut) == 0);
		}
		pftest_fmt(a_want[i], sizeof a_want[i], "%llu", (unsigned long long)want);
		pftest_fmt(a_acked[i], sizeof a_acked[i], "%llu", (unsigned long long)acked[i]);
	}
	static char pre[3 * PATH_MAX], fake[64];
	if (mode == MODE_REBOOT || mode == MODE_CLEAN) {
		/* the verifier sees another kernel boot id: libfakeboot.so behind the shim */
		pftest_preload_after(pre, "libfakeboot.so");
		pftest_fmt(fake, sizeof fake, "FAKEBOOT_ID=00000000-0000-4000-8000-%012llx", (unsigned long long)(seed & 0xffffffffffffULL));
	}
	const char *venv[8];
	int nv = 0;
	for (; env[nv]; nv++)
		venv[nv] = env[nv];
	if (mode == MODE_REBOOT || mode == MODE_CLEAN) {
		venv[nv++] = pre;
		venv[nv++] = fake;
	}
	venv[nv] = NULL;
	pid = pftest_spawn_self("verify",
				(const char *const[]){ a_round, a_want[0], a_want[1], a_want[2], a_acked[0], a_acked[1],
						       a_acked[2], NULL },
				venv, 0, NULL, NULL);
	pftest_wait_ok(pid, "verify");
	if (mode == MODE_MSYNC || mode == MODE_PMEM)
		for (int i = 0; i < NSEG; i++) {
			char p[PATH_MAX];
			seg_path(p, round, i);
			CHECKF(raw_size(p) >= (long long)acked[i],
			       "%s: recovery left the real file at %lld bytes, %llu acknowledged", p, raw_size(p),
			       (unsigned long long)acked[i]);
		}
	printf("round %d (%s, seed %llu): stopped after %u notes; acknowledged %llu/%llu/%llu bytes, last fsynced "
	       "%llu/%llu/%llu; every byte it must keep is there after the power loss\n",
	       round, mode_names[mode], (unsigned long long)seed, stop, (unsigned long long)acked[0],
	       (unsigned long long)acked[1], (unsigned long long)acked[2], (unsigned long long)last_sync[0],
	       (unsigned long long)last_sync[1], (unsigned long long)last_sync[2]);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("writer"))
		return role_writer(argc, argv);
	if (pftest_role("verify"))
		return role_verify(argc, argv);
	if (!pftest_shim_active()) {
		printf("SKIP: only meaningful with the shim (the plain kernel keeps only what was fsynced to the disk)\n");
		return 77;
	}
	const char *e = getenv("PFTEST_SEED");
	uint64_t seed = e && *e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
	printf("seed %llu (PFTEST_SEED=%llu reruns it)\n", (unsigned long long)seed, (unsigned long long)seed);
	for (int r = 0; r < ROUNDS; r++)
		round_run(r, seed + (uint64_t)r, (enum mode)(r % NMODES));
	printf("PASS\n");
	return 0;
}
