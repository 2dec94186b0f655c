/*
 * pf_migrate.c - migration scenarios under LD_PRELOAD=libpafka.so with log.channel.type=tiered (driven by
 * tests/crash/migrate.sh, which gives every scenario a fresh log dir and pool and the settings).
 *
 * Roles (argv[1]):
 *   demote        several partitions, segments of odd sizes totalling ~3x the pool, fds kept open as Kafka
 *                 does; wait (bounded poll) until usage settles at or under the threshold; then: usage,
 *                 the active segments still fully in the pool, demoted files dense with the right bytes
 *                 (also from a process without the shim), pool-resident files sparse, every size (fstat,
 *                 stat, statx, SEEK_END) and byte right through the shim.
 *   drain         segments in the pool, then <pool dir>/pafka.drain while the active ones are appended to: the
 *                 pool empties, no append after the drain began goes to the pool, every byte right.
 *   order         with <pool dir>/pafka.pause present: nothing moves (the shim reports "paused", usage holds
 *                 above the threshold); removing it lets migration finish, and exactly the oldest sealed
 *                 files are demoted (a simulation of the policy from the pool's own snapshot). With
 *                 PAFKA_MIGRATE_RATE_BYTES set it also measures the time against the rate.
 *   boundary1/2   no ping-pong: after the oldest files were demoted and room was made, nothing older than the
 *                 newest demoted file is promoted back, in the same process and after a restart.
 *   promote-prep  (log.channel.type=file) plain segment files written before the shim manages anything.
 *   promote       the newest sealed slow-tier files that fit under the threshold get promoted (simulated
 *                 from the real birth times), older ones and the active segments stay; promoted log-dir
 *                 files stay dense (their slow-tier copy remains valid); a write clears that validity.
 *   promote-mapped  the same files, the newest sealed one mapped (MAP_SHARED, writable: the kernel maps its
 *                 real file), its descriptor closed and the file opened again, as Kafka does with an index
 *                 (map, close, open again to resize it beside the old mapping), while another old file
 *                 is opened and closed again and again: the others are promoted as the policy says (the
 *                 reopened file does not hold promotion off), the mapped one is not while it is mapped
 *                 (though it fits), reads through the shim see stores made through the mapping, and once
 *                 unmapped and opened again it is promoted.
 *   during        a writer thread keeps appending, overwriting and truncating a sealed file while it is
 *                 being demoted (rate limited so copies overlap writes): no byte lost.
 *   during-promote  writes, overwrites and truncations of a sealed slow-tier file while it is being promoted
 *                 (rate limited): the promotion gives up, no byte lost.
 *   idle          a lone segment (no newer one) is demoted whole only after pafka.migrate.idle.ms without
 *                 writes, while appends to another partition keep the pool over the threshold (before that,
 *                 only its cold head may move).
 *   kill          SIGKILL a writer while migration runs (the child says so through a pipe), restart and
 *                 kill again during the resumed migration, then restart and verify every byte and size.
 *   head          active segments appended round-robin (paced like a broker's ingest) through a small pool
 *                 while readers read them whole: every byte right at all times, no append fails or spills
 *                 (every byte goes to the pool), the pool never fills, head_demotions grows, and afterwards
 *                 every segment's head is data in its log-dir file and its tail (at least the kept tail) the
 *                 pool's, the log-dir file a hole there.
 *   head-truncate a pwrite into a block a head move has already copied, and a truncate into the part of a
 *                 head a move has not copied yet (rate limited moves): the pwrite and the truncate win, the
 *                 moves give up, bytes and sizes (every stat variant, another process) are the kernel's.
 *   readmit       an active segment spills (the pool full of other segments, migration paused); the others
 *                 are deleted and migration resumes: it is readmitted (readmissions, a window open at its
 *                 end) and its next blocks go to the pool (bytes_written to each tier exact); a reader
 *                 checks it throughout.
 *   head-kill     SIGKILL during a head move's copy, restart (recovery checked: bytes, no block leaked or
 *                 owned twice), SIGKILL right after a head move committed in the restarted process, restart.
 *   readmit-kill  the same during a readmission's copy, and after appends past the readmission.
 * Every scenario leaves $PAFKA_TEST_DIR/manifest for the generic roles (crashlib.h): check-shim,
 * check-real, cleanup, check-empty, which the driver runs after a restart. A scenario run under errno
 * injection (PAFKA_FAIL, by tests/crash/errno.sh through migrate.sh) may see as many failed moves as
 * PAFKA_TEST_MIGRATE_FAILURES_ALLOWED says (each injected failure fails at most one move, which is retried);
 * everything else it asserts stands.
 */
#include "crashlib.h"

#include <pthread.h>

#define BS 65536ULL
#define SETTLE_MS 30000

static uint64_t failures_allowed(void)
{
	const char *v = getenv("PAFKA_TEST_MIGRATE_FAILURES_ALLOWED");
	return v ? strtoull(v, NULL, 10) : 0;
}

struct seg {
	char rel[512];
	uint64_t size;    /* target size */
	uint64_t written; /* bytes appended so far */
	uint32_t seed;
	int fd;
	int k;            /* chunks written */
};

static void seg_init(struct seg *s, const char *part, unsigned long long base, uint64_t size, uint32_t seed)
{
	memset(s, 0, sizeof *s);
	pftest_fmt(s->rel, sizeof s->rel, "%s/%020llu.log", part, base);
	s->size = size;
	s->seed = seed;
	s->fd = -1;
}

static void seg_open(struct seg *s, int flags)
{
	char p[PATH_MAX], d[PATH_MAX];
	cl_abs(p, s->rel);
	pftest_fmt(d, sizeof d, "%s", p);
	*strrchr(d, '/') = 0;
	pftest_mkdirs(d);
	STEP("open %s", s->rel);
	s->fd = (int)OK(open(p, flags, 0644));
}

/* Append the next chunk (Kafka-like odd sizes); returns 0 once the segment is complete. */
static int seg_chunk(struct seg *s)
{
	if (s->written >= s->size)
		return 0;
	size_t len = (size_t)(s->k * 7919 % 300000) + 1 + (size_t)s->k * 13;
	s->k++;
	if (len > s->size - s->written)
		len = (size_t)(s->size - s->written);
	uint8_t *b = pftest_patbuf(s->written, len, s->seed);
	STEP("append %zu to %s at %llu", len, s->rel, (unsigned long long)s->written);
	pftest_write_all(s->fd, b, len);
	free(b);
	s->written += len;
	return s->written < s->size;
}

static void seg_write_all(struct seg *s)
{
	while (seg_chunk(s))
		;
}

static uint64_t blocks_of(uint64_t size)
{
	return (size + BS - 1) / BS;
}

/* The bytes behind an open fd (through the shim) are the pattern; its fstat size is right. */
static void check_fd(const struct seg *s)
{
	STEP("check fd of %s", s->rel);
	CHECK_EQ(pftest_fsize(s->fd), s->size);
	const size_t chunk = 1 << 20;
	uint8_t *got = pftest_xmalloc(chunk), *exp = pftest_xmalloc(chunk);
	for (uint64_t off = 0; off < s->size; off += chunk) {
		size_t n = s->size - off < chunk ? (size_t)(s->size - off) : chunk;
		CHECK_EQ(pread(s->fd, got, n, (off_t)off), n);
		pftest_fill(exp, off, n, s->seed);
		pftest_cmp("read through the kept-open fd", got, exp, n, off);
	}
	free(got);
	free(exp);
}

static void check_all(struct seg *v, int n)
{
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		if (v[i].fd >= 0)
			check_fd(&v[i]);
		STEP("check path %s", v[i].rel);
		uint32_t seed = v[i].seed;
		cl_check_content(cl_abs(p, v[i].rel), v[i].size, cl_expect_pat, &seed);
	}
}

static void close_segs(struct seg *v, int n)
{
	for (int i = 0; i < n; i++)
		if (v[i].fd >= 0) {
			OK(close(v[i].fd));
			v[i].fd = -1;
		}
}

static void save_manifest(struct seg *v, int n)
{
	struct cl_manifest m;
	memset(&m, 0, sizeof m);
	for (int i = 0; i < n; i++)
		cl_manifest_pat(&m, v[i].rel, v[i].size, v[i].seed);
	cl_manifest_save(&m);
	free(m.e);
}

/* Run check-real in a child without the shim. */
static void check_real_child(const char *a1, const char *a2)
{
	const char *args[] = { a1, a2, NULL };
	pid_t pid = pftest_spawn_self("check-real", args, NULL, PFTEST_NO_PRELOAD, NULL, NULL);
	pftest_wait_ok(pid, "check-real without the shim");
}

static char *pause_path(char *buf)
{
	const char *d = getenv("PAFKA_TEST_POOLDIR");
	CHECK(d && *d);
	return pftest_fmt(buf, PATH_MAX, "%s/%s", d, PF_PAUSE_FILE);
}

static void pause_on(void)
{
	char p[PATH_MAX];
	int fd = (int)OK(open(pause_path(p), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	close(fd);
}

static void pause_off(void)
{
	char p[PATH_MAX];
	OK(unlink(pause_path(p)));
}

static int cond_quiet(const struct cl_pool *p, void *arg)
{
	(void)arg;
	return cl_pool_quiet(p);
}

static long long settle(struct cl_pool *P, const char *what)
{
	STEP("%s: wait for usage <= threshold", what);
	long long ms = cl_poll(P, cl_cond_settled, NULL, SETTLE_MS);
	CHECKF(ms >= 0, "%s: usage did not settle under the threshold within %d ms: %llu used blocks, limit %llu of %llu",
	       what, SETTLE_MS, (unsigned long long)cl_pool_used(P), (unsigned long long)cl_limit(P->nblocks),
	       (unsigned long long)P->nblocks);
	return ms;
}

/* The live statistics count a move after its commit, which the pool's tables show first: read them until
 * cond holds (at most 5 s), then the caller checks cond. */
#define LIVE_WAIT(L, cond) \
	do { \
		int64_t t0_ = cl_now_ms(); \
		for (;;) { \
			(L) = cl_live_stats(); \
			if ((cond) || cl_now_ms() - t0_ > 5000) \
				break; \
			cl_nap_ms(2); \
		} \
	} while (0)

/* ================================================================ drain */

#define RP 3

static int cond_drained(const struct cl_pool *p, void *arg)
{
	(void)arg;
	return cl_pool_used(p) == 0 && cl_pool_quiet(p);
}

/* drain: RP partitions, each with two sealed segments and an active one half written, every fd kept open;
 * then <pool dir>/pafka.drain, and the active segments are appended to while the drain runs (a file that
 * changes under a demotion is moved under its lock instead: materialised); the pool must empty, every byte
 * read right through the kept fds and by path, and no append after the drain began went to the pool. */
static int role_drain(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	static struct seg v[RP * 3];
	int n = 0;
	for (int s = 0; s < 3; s++)
		for (int p = 0; p < RP; p++) {
			char part[64];
			pftest_fmt(part, sizeof part, "drain-%d", p);
			seg_init(&v[n], part, (unsigned long long)s * 100000, 1200000ULL + (uint64_t)p * 54321 + (uint64_t)s * 777,
				 (uint32_t)(300 + n));
			seg_open(&v[n], O_RDWR | O_CREAT | O_TRUNC);
			if (s < 2)
				seg_write_all(&v[n]);
			else
				for (int k = 0; k < 3; k++)
					seg_chunk(&v[n]);
			n++;
		}
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	char dp[PATH_MAX];
	const char *pd = getenv("PAFKA_TEST_POOLDIR");
	CHECK(pd && *pd);
	pftest_fmt(dp, sizeof dp, "%s/%s", pd, PF_DRAIN_FILE);
	STEP("start the drain");
	struct pf_pool_live before = cl_live_stats();
	int fd = (int)OK(open(dp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	close(fd);
	/* appends while the drain runs; the first waits for the shim to see the drain (its live state) */
	for (int t0 = (int)cl_now_ms(); !(cl_live_stats().state & PF_LIVE_DRAINING);) {
		CHECKF(cl_now_ms() - t0 < SETTLE_MS, "the shim did not start draining within %d ms", SETTLE_MS);
		cl_nap_ms(5);
	}
	for (int p = 0; p < RP; p++)
		while (v[2 * RP + p].written < v[2 * RP + p].size * 2 / 3 && seg_chunk(&v[2 * RP + p]))
			;
	STEP("wait until the pool is empty");
	long long ms = cl_poll(&P, cond_drained, NULL, SETTLE_MS);
	CHECKF(ms >= 0, "the drain did not empty the pool within %d ms: %llu blocks used", SETTLE_MS,
	       (unsigned long long)cl_pool_used(&P));
	/* the rest of the active segments: a draining shim admits no new pool data */
	for (int p = 0; p < RP; p++)
		seg_write_all(&v[2 * RP + p]);
	cl_pool_free(&P);
	CHECK(cl_pool_load(&P) == 0);
	CHECKF(cl_pool_used(&P) == 0, "%llu pool blocks in use after appends to a drained pool",
	       (unsigned long long)cl_pool_used(&P));
	struct pf_pool_live L;
	LIVE_WAIT(L, L.demotions > before.demotions);
	CHECKF(L.migration_failures - before.migration_failures <= failures_allowed(), "%llu failed drain steps",
	       (unsigned long long)(L.migration_failures - before.migration_failures));
	check_all(v, n);
	OK(unlink(dp));
	close_segs(v, n);
	save_manifest(v, n);
	cl_pool_free(&P);
	printf("drain: %d files drained in %lld ms\n", n, ms);
	return 0;
}

/* ================================================================ demote */

#define DP 4
#define DS 4

static int role_demote(int argc, char **argv)
{
	static struct seg v[DP * (DS + 1)];
	int n = 0;
	uint64_t total = 0;
	for (int s = 0; s <= DS; s++)
		for (int p = 0; p < DP; p++) {
			char part[64];
			pftest_fmt(part, sizeof part, "demo-%d", p);
			uint64_t size = s < DS ? 2500000ULL + (uint64_t)p * 333331 + (uint64_t)s * 77773 + 13
					       : 150001ULL + (uint64_t)p * 1111;
			seg_init(&v[n], part, (unsigned long long)s * 100000, size, (uint32_t)(100 + n));
			total += size;
			n++;
		}
	/* sealed rounds: the DP segments of a round are appended to in turn, chunk by chunk */
	for (int s = 0; s < DS; s++) {
		for (int p = 0; p < DP; p++)
			seg_open(&v[s * DP + p], O_RDWR | O_CREAT | O_TRUNC);
		for (int more = 1; more;) {
			more = 0;
			for (int p = 0; p < DP; p++)
				more |= seg_chunk(&v[s * DP + p]);
		}
		for (int p = 0; p < DP; p += 2)
			OK(fsync(v[s * DP + p].fd));
	}
	/* the active segments (the newest of each partition), empty for now: they seal the last round */
	for (int p = 0; p < DP; p++)
		seg_open(&v[DS * DP + p], O_RDWR | O_CREAT | O_TRUNC);
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	long long ms1 = settle(&P, "after the sealed segments");
	for (int p = 0; p < DP; p++)
		seg_write_all(&v[DS * DP + p]);
	long long ms2 = settle(&P, "after the active segments");
	pause_on(); /* freeze the state for the checks (a move in progress still finishes) */
	CHECK(cl_poll(&P, cond_quiet, NULL, SETTLE_MS) >= 0);
	uint64_t used = cl_pool_used(&P), limit = cl_limit(P.nblocks);
	CHECKF(used <= limit, "used %llu > limit %llu", (unsigned long long)used, (unsigned long long)limit);
	int demoted = 0, resident = 0;
	uint64_t demoted_bytes = 0;
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		struct cl_key k;
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &k) == 0);
		int64_t r = cl_find_rec(&P, &k);
		if (i >= DS * DP) {
			/* never demoted: not sealed (no newer segment, idle time far away) */
			CHECKF(r >= 0, "active segment %s has no pool record", v[i].rel);
			CHECKF(cl_rec_blocks(&P, r) == blocks_of(v[i].size) && P.recs[r].lo == 0 &&
				       P.recs[r].hi == PF_HI_NONE,
			       "active segment %s: %llu of %llu blocks in the pool, window [%llu, %llu)", v[i].rel,
			       (unsigned long long)cl_rec_blocks(&P, r), (unsigned long long)blocks_of(v[i].size),
			       (unsigned long long)P.recs[r].lo, (unsigned long long)P.recs[r].hi);
			CHECKF(k.blocks512 * 512 <= v[i].size / 8, "active segment %s is not sparse: %llu bytes allocated",
			       v[i].rel, (unsigned long long)k.blocks512 * 512);
			continue;
		}
		if (r < 0) {
			demoted++;
			demoted_bytes += v[i].size;
			CHECKF(k.blocks512 * 512 >= v[i].size, "demoted %s is sparse: %llu bytes allocated of %llu",
			       v[i].rel, (unsigned long long)k.blocks512 * 512, (unsigned long long)v[i].size);
		} else if (cl_rec_blocks(&P, r) > 0) {
			resident++;
		}
	}
	CHECKF(demoted > 0, "nothing was demoted");
	struct pf_pool_live L = P.h.live;
	CHECKF(L.migration_failures <= failures_allowed(), "%llu migration failures", (unsigned long long)L.migration_failures);
	CHECKF(L.demotions >= 1, "live stats: no demotion although %d files are entirely in the log dir", demoted);
	check_all(v, n);
	save_manifest(v, n);
	check_real_child("--strict", "--dense");
	pause_off();
	printf("demote: wrote %.1f MiB in %d segments (%d partitions) through a pool of %llu blocks (%.1f MiB), limit %llu;"
	       " settled in %lld ms and %lld ms; used %llu; %d files (%.1f MiB) entirely in the log dir (demoted, "
	       "or written while the pool was full), %d sealed files still pool-resident; live stats: %llu demotions, %llu spills, %llu aborts\n",
	       (double)total / PFTEST_MIB, n, DP, (unsigned long long)P.nblocks,
	       (double)(P.nblocks * BS) / PFTEST_MIB, (unsigned long long)limit, ms1, ms2, (unsigned long long)used,
	       demoted, (double)demoted_bytes / PFTEST_MIB, resident, (unsigned long long)L.demotions,
	       (unsigned long long)L.spills, (unsigned long long)L.migration_aborts);
	cl_pool_free(&P);
	close_segs(v, n);
	return 0;
}

/* ================================================================ order (pause, policy order, rate) */

#define OPN 3
#define OSN 4

/* The files of the order and boundary scenarios: OSN segments in each of OPN partitions "<prefix>-P", file n
 * just under OBLOCKS[n] blocks, seeds from seed0 on; index order is the order they are created in. */
static const uint64_t OBLOCKS[OPN * OSN] = { 14, 20, 9, 17, 11, 22, 16, 8, 19, 12, 18, 10 };

static void order_plan(struct seg *v, const char *prefix, uint32_t seed0)
{
	int n = 0;
	for (int s = 0; s < OSN; s++)
		for (int p = 0; p < OPN; p++) {
			char part[64];
			pftest_fmt(part, sizeof part, "%s-%d", prefix, p);
			uint64_t size = OBLOCKS[n] * BS - (1 + (uint64_t)(1237 * n) % 60000);
			seg_init(&v[n], part, (unsigned long long)s * 5000, size, seed0 + (uint32_t)n);
			n++;
		}
}

static int role_order(int argc, char **argv)
{
	static struct seg v[OPN * OSN];
	pause_on(); /* before anything is written: nothing may move until it goes */
	order_plan(v, "order", 200);
	int n = 0;
	uint64_t total_blocks = 0;
	for (; n < OPN * OSN; n++) {
		seg_open(&v[n], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[n]); /* creation order == record order (seq) */
		OK(fdatasync(v[n].fd));
		total_blocks += OBLOCKS[n];
	}
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	CHECK(cl_pool_load(&P) == 0);
	uint64_t limit = cl_limit(P.nblocks);
	CHECKF(total_blocks < P.nblocks && total_blocks > limit, "scenario needs %llu blocks in (%llu, %llu)",
	       (unsigned long long)total_blocks, (unsigned long long)limit, (unsigned long long)P.nblocks);
	/* the shim must say it is paused, and hold still while it is */
	STEP("wait for the paused state");
	int64_t t0 = cl_now_ms();
	while (!(cl_live_stats().state & PF_LIVE_PAUSED)) {
		CHECKF(cl_now_ms() - t0 < 10000, "the shim never reported PF_LIVE_PAUSED with %s present", PF_PAUSE_FILE);
		cl_nap_ms(CL_POLL_MS);
	}
	STEP("paused: usage must hold");
	t0 = cl_now_ms();
	int polls = 0;
	while (cl_now_ms() - t0 < 1200) { /* six migration ticks */
		cl_pool_free(&P);
		CHECK(cl_pool_load(&P) == 0);
		CHECKF(cl_pool_used(&P) == total_blocks, "while paused, usage went from %llu to %llu blocks",
		       (unsigned long long)total_blocks, (unsigned long long)cl_pool_used(&P));
		polls++;
		cl_nap_ms(CL_POLL_MS);
	}
	struct pf_pool_live before = cl_live_stats();
	/* expected: the policy from this snapshot: oldest sealed (by record seq) first until used <= limit */
	int expect[OPN * OSN] = { 0 };
	int64_t order[OPN * OSN];
	uint64_t seqs[OPN * OSN];
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		order[i] = cl_find_rec_path(&P, cl_abs(p, v[i].rel));
		CHECKF(order[i] >= 0, "%s has no record before migration", v[i].rel);
		CHECK_EQ(cl_rec_blocks(&P, order[i]), OBLOCKS[i]);
		seqs[i] = P.recs[order[i]].seq;
	}
	uint64_t u = total_blocks;
	for (;;) {
		if (u <= limit)
			break;
		int best = -1;
		for (int i = 0; i < n; i++) {
			int sealed = i / OPN < OSN - 1;
			if (sealed && !expect[i] && (best < 0 || seqs[i] < seqs[best]))
				best = i;
		}
		CHECK(best >= 0);
		expect[best] = 1;
		u -= OBLOCKS[best];
	}
	pause_off();
	int64_t t1 = cl_now_ms();
	long long ms = settle(&P, "after the pause was removed");
	double elapsed = (double)(cl_now_ms() - t1) / 1000.0;
	int ndem = 0;
	uint64_t dem_blocks = 0;
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		int64_t r = cl_find_rec_path(&P, cl_abs(p, v[i].rel));
		CHECKF((r < 0) == (expect[i] == 1),
		       "%s (created %d-th, %llu blocks) is %s, the policy demotes exactly the oldest sealed files until "
		       "usage <= %llu",
		       v[i].rel, i, (unsigned long long)OBLOCKS[i], r < 0 ? "demoted but should not be" : "still in the pool but should be demoted",
		       (unsigned long long)limit);
		if (r < 0) {
			ndem++;
			dem_blocks += OBLOCKS[i];
		}
	}
	struct pf_pool_live after;
	LIVE_WAIT(after, after.demotions - before.demotions >= (uint64_t)ndem);
	CHECK_EQ(after.demotions - before.demotions, ndem);
	CHECK_EQ(after.migration_aborts - before.migration_aborts, 0);
	CHECK_EQ(cl_pool_used(&P), total_blocks - dem_blocks);
	check_all(v, n);
	save_manifest(v, n);
	check_real_child("--strict", "--dense");
	printf("order: paused for %d polls (usage held at %llu > limit %llu); after removing %s: %d oldest sealed files "
	       "demoted (%llu blocks) in %lld ms, exactly as the policy predicts\n",
	       polls, (unsigned long long)total_blocks, (unsigned long long)limit, PF_PAUSE_FILE, ndem,
	       (unsigned long long)dem_blocks, ms);
	long long rate = cl_env_size("PAFKA_MIGRATE_RATE_BYTES", 0);
	if (rate > 0) {
		double bytes = (double)dem_blocks * (double)BS;
		/* one second of burst is allowed (token bucket), and the bucket was full after the pause */
		double bound = (bytes - (double)rate) / (double)rate;
		printf("rate: %.2f MiB demoted (%llu bytes by the live stats) in %.2f s at PAFKA_MIGRATE_RATE_BYTES=%lld: "
		       "%.2f MiB/s; the limit implies >= %.2f s\n",
		       bytes / PFTEST_MIB, (unsigned long long)(after.bytes_demoted - before.bytes_demoted), elapsed, rate,
		       bytes / PFTEST_MIB / elapsed, bound);
		if (bound > 0.4)
			CHECKF(elapsed >= bound / 2, "demoting %.0f bytes took %.2f s: faster than half the rate limit allows "
						     "(%.2f s)", bytes, elapsed, bound);
	}
	cl_pool_free(&P);
	close_segs(v, n);
	return 0;
}

/* ================================================================ boundary (no ping-pong) */

/* The order plan again, migrating at once: the 4 oldest sealed files are demoted. Then the sealed files left in
 * the pool are deleted: there is room, but everything on the slow tier is older than (or is) the newest file
 * demoted, so nothing may be promoted back - in this process, and (boundary2) after a restart. */
static void boundary_plan(struct seg *v)
{
	order_plan(v, "bound", 700);
}

struct hold_arg {
	struct cl_key key[OPN * OSN];
	int n;
	int64_t had[OPN * OSN]; /* record at the start of the hold, -1 none */
};

/* Hold 1.5 s (several migration ticks): no file without a record may get one. */
static void hold_no_promotion(struct hold_arg *h, struct seg *v, const char *when)
{
	STEP("%s: hold, no promotion", when);
	int64_t t0 = cl_now_ms();
	while (cl_now_ms() - t0 < 1500) {
		struct cl_pool P;
		CHECK(cl_pool_load(&P) == 0);
		for (int i = 0; i < h->n; i++) {
			int64_t r = cl_find_rec(&P, &h->key[i]);
			CHECKF(h->had[i] >= 0 || r < 0,
			       "%s: %s was demoted (the newest demoted file is at least as new) yet got promoted back: "
			       "record %lld, %llu blocks, %llu used of limit %llu",
			       when, v[i].rel, (long long)r, (unsigned long long)cl_rec_blocks(&P, r),
			       (unsigned long long)cl_pool_used(&P), (unsigned long long)cl_limit(P.nblocks));
		}
		cl_pool_free(&P);
		cl_nap_ms(CL_POLL_MS);
	}
}

static int role_boundary1(int argc, char **argv)
{
	static struct seg v[OPN * OSN];
	boundary_plan(v);
	int n = OPN * OSN;
	for (int i = 0; i < n; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
	}
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	settle(&P, "boundary: first demotions");
	struct hold_arg h;
	memset(&h, 0, sizeof h);
	h.n = n;
	int demoted = 0, deleted = 0;
	struct seg keep[OPN * OSN];
	int nkeep = 0;
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &h.key[i]) == 0);
		h.had[i] = cl_find_rec(&P, &h.key[i]);
		int sealed = i / OPN < OSN - 1;
		if (h.had[i] < 0) {
			demoted++;
			keep[nkeep++] = v[i];
		} else if (sealed) {
			STEP("delete %s", v[i].rel);
			OK(close(v[i].fd)); /* Kafka closes, then deletes */
			OK(unlink(p));
			v[i].fd = -1;
			h.had[i] = -2; /* gone */
			deleted++;
		} else {
			keep[nkeep++] = v[i];
		}
	}
	CHECKF(demoted > 0 && deleted > 0, "scenario: %d demoted, %d deleted", demoted, deleted);
	cl_pool_free(&P);
	CHECK(cl_pool_load(&P) == 0);
	uint64_t used = cl_pool_used(&P), limit = cl_limit(P.nblocks);
	/* the demoted files that would fit now: the policy would promote them but for the boundary */
	int fit = 0;
	for (int i = 0; i < n; i++)
		fit += h.had[i] == -1 && used + blocks_of(v[i].size) <= limit;
	CHECKF(fit > 0, "scenario: no demoted file would fit under the threshold (used %llu, limit %llu)",
	       (unsigned long long)used, (unsigned long long)limit);
	for (int i = 0; i < n; i++)
		if (h.had[i] == -2) {
			h.had[i] = 0; /* deleted: its key is gone, nothing to check */
			memset(&h.key[i], 0, sizeof h.key[i]);
		}
	hold_no_promotion(&h, v, "same process");
	check_all(keep, nkeep);
	save_manifest(keep, nkeep);
	printf("boundary: %d files demoted, %d sealed pool files deleted (used %llu, limit %llu, %d demoted files would "
	       "fit): nothing promoted back in this process\n",
	       demoted, deleted, (unsigned long long)used, (unsigned long long)limit, fit);
	cl_pool_free(&P);
	close_segs(v, n);
	return 0;
}

static int role_boundary2(int argc, char **argv)
{
	struct cl_manifest m;
	cl_manifest_load(&m);
	static struct seg v[OPN * OSN];
	struct hold_arg h;
	memset(&h, 0, sizeof h);
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	for (int i = 0; i < m.n; i++) {
		char p[PATH_MAX];
		memset(&v[i], 0, sizeof v[i]);
		pftest_fmt(v[i].rel, sizeof v[i].rel, "%s", m.e[i].rel);
		v[i].size = m.e[i].size;
		v[i].seed = m.e[i].seed;
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &h.key[i]) == 0);
		h.had[i] = cl_find_rec(&P, &h.key[i]);
	}
	h.n = m.n;
	cl_pool_free(&P);
	for (int i = 0; i < m.n; i++) /* the restarted broker opens every segment */
		seg_open(&v[i], O_RDWR);
	hold_no_promotion(&h, v, "after a restart");
	check_all(v, m.n);
	printf("boundary: after a restart nothing older than the newest demoted file was promoted back\n");
	close_segs(v, m.n);
	cl_manifest_free(&m);
	return 0;
}

/* ================================================================ promote */

#define PP 2
#define PS 5

static void promote_plan(struct seg *v)
{
	/* blocks of the sealed files in creation (= birth) order; the newest sealed ones fit under the threshold
	 * (6 files, 100 blocks) then the next one (30) does not, while the oldest (3) would: it must stay */
	static const uint64_t sealed_blocks[PP * (PS - 1)] = { 3, 30, 20, 20, 20, 20, 10, 10 };
	int n = 0;
	for (int s = 0; s < PS; s++)
		for (int p = 0; p < PP; p++) {
			char part[64];
			pftest_fmt(part, sizeof part, "prom-%d", p);
			uint64_t b = s < PS - 1 ? sealed_blocks[n] : 5;
			uint64_t size = b * BS - (7 + (uint64_t)(911 * n) % 50000);
			seg_init(&v[n], part, (unsigned long long)s * 7000, size, (uint32_t)(300 + n));
			n++;
		}
}

/* A plain file, written dense; the next file is born later (distinct birth times). */
static void born_before_next(const char *rel)
{
	char p[PATH_MAX];
	struct cl_key k;
	CHECK(cl_key_of(cl_abs(p, rel), &k) == 0);
	CHECKF(k.blocks512 * 512 >= k.size, "%s is sparse although written plainly", rel);
	cl_after_birth_of(p);
}

static int role_promote_prep(int argc, char **argv)
{
	(void)argc, (void)argv;
	static struct seg v[PP * PS];
	promote_plan(v);
	for (int i = 0; i < PP * PS; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
		OK(fsync(v[i].fd));
		OK(close(v[i].fd));
		born_before_next(v[i].rel);
	}
	CHECKF(!pftest_pool_exists(), "log.channel.type=file created a pool");
	printf("promote-prep: %d plain segment files written with log.channel.type=file\n", PP * PS);
	return 0;
}

struct prom_expect {
	int n;
	int64_t want[PP * PS]; /* 1: must be promoted */
	struct cl_key key[PP * PS];
	uint64_t blocks;
	int count;
};

static int cond_promoted(const struct cl_pool *p, void *arg)
{
	const struct prom_expect *e = arg;
	for (int i = 0; i < e->n; i++)
		if (!e->want[i] && cl_find_rec(p, &e->key[i]) >= 0)
			return 1; /* a file that must stay got promoted: stop waiting, the checks below say which */
	if (!cl_pool_quiet(p) || cl_pool_used(p) != e->blocks || (int)cl_pool_live(p) != e->count)
		return 0;
	for (int i = 0; i < e->n; i++) {
		int64_t r = cl_find_rec(p, &e->key[i]);
		if (e->want[i] && (r < 0 || p->recs[r].lo != 0))
			return 0;
	}
	return 1;
}

/* The policy: newest sealed (by birth) first, while it fits; stop at the first that does not. File skip
 * (-1: none) is not a candidate. */
static void promote_expect(struct prom_expect *E, const struct seg *v, uint64_t limit, int skip)
{
	int taken[PP * PS] = { 0 };
	for (;;) {
		int best = -1;
		for (int i = 0; i < E->n; i++) {
			int sealed = i / PP < PS - 1;
			if (sealed && !taken[i] && i != skip && !E->want[i] &&
			    (best < 0 || cl_birth_ns(&E->key[i]) > cl_birth_ns(&E->key[best])))
				best = i;
		}
		if (best < 0)
			break;
		taken[best] = 1;
		if (E->blocks + blocks_of(v[best].size) > limit)
			break;
		E->want[best] = 1;
		E->blocks += blocks_of(v[best].size);
		E->count++;
	}
}

/* Open every planned segment, as Kafka does at startup (and keeps them open); no promotion expected yet. */
static void promote_open(struct seg *v, struct prom_expect *E)
{
	memset(E, 0, sizeof *E);
	E->n = PP * PS;
	for (int i = 0; i < E->n; i++) {
		char p[PATH_MAX];
		seg_open(&v[i], O_RDWR);
		CHECK_EQ(pftest_fsize(v[i].fd), v[i].size);
		OK(lseek(v[i].fd, 0, SEEK_END));
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &E->key[i]) == 0);
	}
}

/* Once the promotions are as expected: nothing else moves for a second (an absence, observed for a bounded
 * time; it orders nothing). Returns with *P reloaded. */
static void hold_promoted(struct cl_pool *P, struct prom_expect *E)
{
	int64_t t0 = cl_now_ms();
	while (cl_now_ms() - t0 < 1000 && cond_promoted(P, E)) {
		cl_nap_ms(CL_POLL_MS);
		cl_pool_free(P);
		CHECK(cl_pool_load(P) == 0);
	}
}

static int role_promote(int argc, char **argv)
{
	static struct seg v[PP * PS];
	promote_plan(v);
	struct prom_expect E;
	promote_open(v, &E);
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	CHECK(cl_pool_load(&P) == 0);
	uint64_t limit = cl_limit(P.nblocks);
	promote_expect(&E, v, limit, -1);
	CHECKF(E.count > 0 && E.count < PP * (PS - 1), "scenario: %d of %d sealed files expected promoted", E.count,
	       PP * (PS - 1));
	STEP("wait for the promotions");
	long long ms = cl_poll(&P, cond_promoted, &E, SETTLE_MS);
	if (ms < 0) {
		for (int i = 0; i < E.n; i++) {
			int64_t r = cl_find_rec(&P, &E.key[i]);
			fprintf(stderr, "  %s: %llu blocks, expected %s, record %lld (%llu blocks)\n", v[i].rel,
				(unsigned long long)blocks_of(v[i].size), E.want[i] ? "promoted" : "slow tier", (long long)r,
				(unsigned long long)cl_rec_blocks(&P, r));
		}
		CHECKF(0, "promotions did not reach the expected state within %d ms (used %llu, expected %llu, limit %llu)",
		       SETTLE_MS, (unsigned long long)cl_pool_used(&P), (unsigned long long)E.blocks,
		       (unsigned long long)limit);
	}
	/* and then nothing else moves: no older file jumps ahead of the one that does not fit */
	STEP("hold: no further promotion");
	hold_promoted(&P, &E);
	for (int i = 0; i < E.n; i++) {
		int64_t r = cl_find_rec(&P, &E.key[i]);
		struct cl_key k;
		char p[PATH_MAX];
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &k) == 0);
		if (!E.want[i]) {
			CHECKF(r < 0, "%s was promoted but should stay on the slow tier (%s)", v[i].rel,
			       i / PP == PS - 1 ? "it is the active segment of its partition: no newer segment, and it was "
						  "last written (mtime) moments ago, well within pafka.migrate.idle.ms"
					       : "older than a newer sealed file that did not fit");
			continue;
		}
		CHECKF(r >= 0, "%s not promoted", v[i].rel);
		CHECKF(P.recs[r].flags & PF_RECF_REAL_VALID, "promoted %s: slow-tier copy not marked valid", v[i].rel);
		CHECKF(P.recs[r].hi == PF_HI_NONE, "promoted %s: window end %llu", v[i].rel, (unsigned long long)P.recs[r].hi);
		CHECK_EQ(cl_rec_blocks(&P, r), blocks_of(v[i].size));
		CHECKF(k.blocks512 * 512 >= k.size, "promoted %s: the log-dir file became sparse (%llu of %llu bytes)",
		       v[i].rel, (unsigned long long)k.blocks512 * 512, (unsigned long long)k.size);
	}
	check_all(v, E.n);
	save_manifest(v, E.n);
	check_real_child("--dense", NULL);
	printf("promote: %d newest sealed files (%llu blocks, limit %llu) promoted in %lld ms; the next one did not fit "
	       "and nothing older was promoted; the active segments stayed\n",
	       E.count, (unsigned long long)E.blocks, (unsigned long long)limit, ms);

	/* a write to a promoted file: its slow-tier copy is no longer valid */
	int wp = -1;
	for (int i = 0; i < E.n; i++)
		if (E.want[i] && (wp < 0 || cl_birth_ns(&E.key[i]) > cl_birth_ns(&E.key[wp])))
			wp = i;
	int wa = PP * (PS - 1); /* an active slow-tier segment */
	for (int t = 0; t < 2; t++) {
		struct seg *s = &v[t ? wa : wp];
		uint64_t old = s->size;
		uint8_t *b = pftest_patbuf(old, 100000, s->seed);
		STEP("append to %s", s->rel);
		pftest_write_all(s->fd, b, 100000);
		free(b);
		s->size += 100000;
		cl_pool_free(&P);
		CHECK(cl_pool_load(&P) == 0);
		int64_t r = cl_find_rec(&P, &E.key[t ? wa : wp]);
		CHECKF(r >= 0, "%s has no record after an append", s->rel);
		if (t == 0)
			CHECKF(!(P.recs[r].flags & PF_RECF_REAL_VALID), "%s written after promotion but its slow-tier copy "
									"is still marked valid", s->rel);
		else
			CHECKF(P.recs[r].lo == blocks_of(old), "%s: appended to a slow-tier file: window starts at %llu, "
							       "expected %llu", s->rel, (unsigned long long)P.recs[r].lo,
			       (unsigned long long)blocks_of(old));
	}
	check_all(v, E.n);
	save_manifest(v, E.n);
	check_real_child(NULL, NULL);
	cl_pool_free(&P);
	close_segs(v, E.n);
	return 0;
}

/* ================================================================ promote-mapped */

/* Kafka maps each index file, closes its descriptor and keeps the mapping; it opens the index files of old
 * segments again now and then. storm-0's file stands for the latter: no newer segment beside it (never a
 * candidate itself), born before every segment. */
#define STORM_REL "storm-0/00000000000000000000.index"
#define STORM_SIZE 4096
#define STORM_SEED 4242u

static int role_pmap_prep(int argc, char **argv)
{
	char p[PATH_MAX], d[PATH_MAX];
	pftest_fmt(d, sizeof d, "%s", cl_abs(p, STORM_REL));
	*strrchr(d, '/') = 0;
	pftest_mkdirs(d);
	int fd = (int)OK(open(p, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, STORM_SIZE, STORM_SEED);
	pftest_write_all(fd, b, STORM_SIZE);
	free(b);
	OK(fsync(fd));
	OK(close(fd));
	born_before_next(STORM_REL);
	return role_promote_prep(argc, argv);
}

struct storm {
	int stop;
	int opens;
};

static void *storm_run(void *arg)
{
	struct storm *st = arg;
	char p[PATH_MAX];
	cl_abs(p, STORM_REL);
	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		int fd = (int)OK(open(p, O_RDONLY));
		uint8_t b[64], e[64];
		CHECK_EQ(pread(fd, b, sizeof b, 0), sizeof b);
		pftest_fill(e, 0, sizeof e, STORM_SEED);
		pftest_cmp("storm file", b, e, sizeof b, 0);
		OK(close(fd));
		__atomic_add_fetch(&st->opens, 1, __ATOMIC_RELEASE);
		cl_nap_ms(20); /* pacing, like an index lookup now and then; nothing waits on it */
	}
	return NULL;
}

static int role_promote_mapped(int argc, char **argv)
{
	(void)argc, (void)argv;
	static struct seg v[PP * PS];
	promote_plan(v);
	struct prom_expect E;
	promote_open(v, &E);
	/* the newest sealed file is mapped shared and writable (a slow-tier file: the kernel maps its real
	 * file), then its descriptor is closed */
	int mi = 0;
	for (int i = 0; i < E.n; i++)
		if (i / PP < PS - 1 && cl_birth_ns(&E.key[i]) > cl_birth_ns(&E.key[mi]))
			mi = i;
	struct seg *m = &v[mi];
	STEP("map %s", m->rel);
	uint8_t *map = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	CHECKF(map != MAP_FAILED, "mmap of %s: %s", m->rel, strerror(errno));
	OK(close(m->fd));
	/* and opened again while the mapping lives (Kafka's resize of an index opens it beside its old
	 * mapping): a file the shim knows again, the newest sealed one, and it would fit */
	seg_open(m, O_RDWR);
	struct storm st = { 0, 0 };
	pthread_t th;
	CHECK(pthread_create(&th, NULL, storm_run, &st) == 0);
	while (__atomic_load_n(&st.opens, __ATOMIC_ACQUIRE) == 0)
		cl_nap_ms(1);

	struct cl_pool P;
	memset(&P, 0, sizeof P);
	CHECK(cl_pool_load(&P) == 0);
	uint64_t limit = cl_limit(P.nblocks);
	promote_expect(&E, v, limit, mi);
	CHECKF(E.blocks + blocks_of(m->size) <= limit,
	       "scenario: the mapped file (%llu blocks) must fit beside the other promotions (%llu blocks, limit %llu); "
	       "raise PAFKA_STORAGE_MIGRATE_THRESHOLD", (unsigned long long)blocks_of(m->size),
	       (unsigned long long)E.blocks, (unsigned long long)limit);
	STEP("wait for the promotions of all but the mapped file");
	long long ms = cl_poll(&P, cond_promoted, &E, SETTLE_MS);
	int opens = __atomic_load_n(&st.opens, __ATOMIC_ACQUIRE);
	CHECKF(ms >= 0, "promotions did not settle within %d ms (used %llu, expected %llu, limit %llu) while %s was "
			"opened and closed again %d times", SETTLE_MS, (unsigned long long)cl_pool_used(&P),
	       (unsigned long long)E.blocks, (unsigned long long)limit, STORM_REL, opens);
	STEP("hold: the mapped file stays where its mapping is");
	hold_promoted(&P, &E);
	CHECKF(cl_find_rec(&P, &E.key[mi]) < 0, "%s was promoted while the application's mapping of its real file "
						 "lives (it would fit, but stores through the mapping would miss the pool copy)",
	       m->rel);
	CHECKF(cond_promoted(&P, &E), "the promotions changed during the hold (used %llu, expected %llu)",
	       (unsigned long long)cl_pool_used(&P), (unsigned long long)E.blocks);
	/* stores through the mapping are what the shim reads */
	char p[PATH_MAX];
	cl_abs(p, m->rel);
	int fd = (int)OK(open(p, O_RDONLY));
	uint64_t offs[3] = { 0, m->size / 2, m->size - 1 };
	for (int k = 0; k < 3; k++) {
		uint8_t old = map[offs[k]], flipped = (uint8_t)(old ^ 0xffu), got = 0;
		map[offs[k]] = flipped;
		CHECK_EQ(pread(fd, &got, 1, (off_t)offs[k]), 1);
		CHECKF(got == flipped, "%s at %llu: a read through the shim misses a store made through the mapping",
		       m->rel, (unsigned long long)offs[k]);
		map[offs[k]] = old;
	}
	OK(close(fd));
	OK(munmap(map, m->size));

	/* unmapped, closed and opened again (learned anew): it is the newest candidate and fits */
	OK(close(m->fd));
	seg_open(m, O_RDWR);
	E.want[mi] = 1;
	E.blocks += blocks_of(m->size);
	E.count++;
	STEP("wait for the promotion of the unmapped file");
	long long ms2 = cl_poll(&P, cond_promoted, &E, SETTLE_MS);
	CHECKF(ms2 >= 0, "%s was not promoted within %d ms of its unmapping (record %lld, used %llu, expected %llu)",
	       m->rel, SETTLE_MS, (long long)cl_find_rec(&P, &E.key[mi]), (unsigned long long)cl_pool_used(&P),
	       (unsigned long long)E.blocks);
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(th, NULL) == 0);
	check_all(v, E.n);
	struct cl_manifest mf;
	memset(&mf, 0, sizeof mf);
	for (int i = 0; i < E.n; i++)
		cl_manifest_pat(&mf, v[i].rel, v[i].size, v[i].seed);
	cl_manifest_pat(&mf, STORM_REL, STORM_SIZE, STORM_SEED);
	cl_manifest_save(&mf);
	free(mf.e);
	check_real_child("--dense", NULL);
	printf("promote-mapped: %d sealed files promoted in %lld ms while %s was opened and closed %d times; the mapped "
	       "newest one stayed on the slow tier while mapped (it fit) and was promoted %lld ms after its unmapping\n",
	       E.count - 1, ms, STORM_REL, __atomic_load_n(&st.opens, __ATOMIC_ACQUIRE), ms2);
	cl_pool_free(&P);
	close_segs(v, E.n);
	return 0;
}

/* ================================================================ during */

struct during {
	struct seg *x;
	struct pftest_shadow sh;
	uint64_t rng;
	int ops, interleaved, fsyncs;
	volatile int stop;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *during_writer(void *arg)
{
	struct during *d = arg;
	int fd = d->x->fd;
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	blkcnt_t last = st.st_blocks;
	for (int op = 0; op < 40; op++) {
		/* pace: go on as soon as the demotion's copy shows in the log-dir file, at most 150 ms */
		int64_t t0 = cl_now_ms();
		for (;;) {
			CHECK(fstat(fd, &st) == 0);
			if (st.st_blocks != last) {
				d->interleaved++;
				break;
			}
			if (cl_now_ms() - t0 >= 150)
				break;
			cl_nap_ms(2);
		}
		uint64_t size = d->sh.size, r = rnd(&d->rng) % 100;
		uint32_t seed = (uint32_t)(1000 + op);
		if (r < 45) {
			uint64_t len = 1 + rnd(&d->rng) % 200000;
			uint8_t *b = pftest_patbuf(size, len, seed);
			STEP("during: append %llu at %llu", (unsigned long long)len, (unsigned long long)size);
			OK(lseek(fd, 0, SEEK_END));
			pftest_write_all(fd, b, len);
			pftest_shadow_write(&d->sh, size, b, len);
			free(b);
		} else if (r < 65) {
			uint64_t off = rnd(&d->rng) % size, len = 1 + rnd(&d->rng) % 100000;
			uint8_t *b = pftest_patbuf(off, len, seed);
			STEP("during: overwrite %llu at %llu", (unsigned long long)len, (unsigned long long)off);
			pftest_pwrite_all(fd, b, len, (off_t)off);
			pftest_shadow_write(&d->sh, off, b, len);
			free(b);
		} else if (r < 80) {
			uint64_t cut = rnd(&d->rng) % 300000, len = size > cut + 1000000 ? size - cut : size;
			STEP("during: truncate %llu -> %llu", (unsigned long long)size, (unsigned long long)len);
			OK(ftruncate(fd, (off_t)len));
			pftest_shadow_truncate(&d->sh, len);
		} else if (r < 90) {
			uint64_t len = size + 1 + rnd(&d->rng) % 100000;
			STEP("during: extend %llu -> %llu", (unsigned long long)size, (unsigned long long)len);
			OK(ftruncate(fd, (off_t)len));
			pftest_shadow_truncate(&d->sh, len);
		} else {
			uint64_t off = size + 1 + rnd(&d->rng) % 70000, len = 1 + rnd(&d->rng) % 50000;
			uint8_t *b = pftest_patbuf(off, len, seed);
			STEP("during: write past the end, %llu at %llu", (unsigned long long)len, (unsigned long long)off);
			pftest_pwrite_all(fd, b, len, (off_t)off);
			pftest_shadow_write(&d->sh, off, b, len);
			free(b);
		}
		if (op % 7 == 6) {
			OK(fdatasync(fd));
			d->fsyncs++;
		}
		d->ops++;
		CHECK(fstat(fd, &st) == 0);
		CHECK_EQ(st.st_size, d->sh.size);
		last = st.st_blocks;
	}
	return NULL;
}

static int role_during(int argc, char **argv)
{
	static struct seg v[2];
	seg_init(&v[0], "dur-0", 0, 10500001, 400);
	seg_init(&v[1], "dur-0", 100000, 65537, 401);
	/* nothing moves until the newer segment exists: while dur-0 is the active segment and over the threshold,
	 * migration would move its cold head instead (head-truncate covers writes during head moves) */
	pause_on();
	seg_open(&v[0], O_RDWR | O_CREAT | O_TRUNC);
	seg_write_all(&v[0]);
	struct during d;
	memset(&d, 0, sizeof d);
	d.x = &v[0];
	d.rng = 0x9E3779B97F4A7C15ULL;
	{
		uint8_t *b = pftest_patbuf(0, v[0].size, v[0].seed);
		pftest_shadow_write(&d.sh, 0, b, v[0].size);
		free(b);
	}
	struct pf_pool_live before = cl_live_stats();
	/* a newer segment seals it: demotion starts while the writer goes on */
	seg_open(&v[1], O_RDWR | O_CREAT | O_TRUNC);
	seg_write_all(&v[1]);
	pause_off();
	pthread_t t;
	CHECK(pthread_create(&t, NULL, during_writer, &d) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	long long ms = settle(&P, "after the writer stopped");
	char p[PATH_MAX];
	int64_t r = cl_find_rec_path(&P, cl_abs(p, v[0].rel));
	uint64_t left = cl_rec_blocks(&P, r);
	struct pf_pool_live after = P.h.live;
	/* no byte lost */
	STEP("during: verify through the writer's fd");
	v[0].size = d.sh.size;
	pftest_check_fd(v[0].fd, &d.sh, "file written during its demotion (kept-open fd)");
	pftest_check_path(p, &d.sh);
	check_fd(&v[1]);
	struct cl_manifest m;
	memset(&m, 0, sizeof m);
	cl_manifest_copy(&m, v[0].rel, d.sh.b, d.sh.size);
	cl_manifest_pat(&m, v[1].rel, v[1].size, v[1].seed);
	cl_manifest_save(&m);
	free(m.e);
	check_real_child(NULL, NULL);
	uint64_t aborts = after.migration_aborts - before.migration_aborts;
	CHECKF(after.head_demotions == before.head_demotions, "%llu head moves: the sealed file must be demoted whole",
	       (unsigned long long)(after.head_demotions - before.head_demotions));
	printf("during: %d writes/truncations (%d fdatasyncs) on a sealed %.1f MiB file while it was being demoted "
	       "(%d of them right after the copy showed progress); %llu demotion attempts aborted by a change, %llu "
	       "demotions committed; settled %lld ms after the writer stopped with %llu of its blocks in the pool%s; every "
	       "byte right\n",
	       d.ops, d.fsyncs, 10500001.0 / PFTEST_MIB, d.interleaved, (unsigned long long)aborts,
	       (unsigned long long)(after.demotions - before.demotions), ms, (unsigned long long)left,
	       r >= 0 ? " (record kept)" : "");
	if (d.interleaved >= 3)
		CHECKF(aborts >= 1, "%d writes landed while a demotion copy was visibly in progress, yet no demotion was "
				    "aborted: a stale copy may have been committed", d.interleaved);
	pftest_shadow_free(&d.sh);
	cl_pool_free(&P);
	close_segs(v, 2);
	return 0;
}

/* ================================================================ during a promotion */

static int role_dprom_prep(int argc, char **argv)
{
	static struct seg v[2];
	seg_init(&v[0], "dprom-0", 0, 6000011, 420);
	seg_init(&v[1], "dprom-0", 100000, 30011, 421);
	for (int i = 0; i < 2; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
		OK(fsync(v[i].fd));
	}
	close_segs(v, 2);
	CHECKF(!pftest_pool_exists(), "log.channel.type=file created a pool");
	return 0;
}

/* A promotion of this file is under way: a LIVE record with an empty window (lo = none). */
static int promoting(const struct cl_key *k)
{
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	int64_t r = cl_find_rec(&P, k);
	int yes = r >= 0 && P.recs[r].lo == PF_HI_NONE;
	cl_pool_free(&P);
	return yes;
}

static int role_dprom(int argc, char **argv)
{
	static struct seg v[2];
	seg_init(&v[0], "dprom-0", 0, 6000011, 420);
	seg_init(&v[1], "dprom-0", 100000, 30011, 421);
	for (int i = 0; i < 2; i++) {
		seg_open(&v[i], O_RDWR);
		v[i].written = v[i].size;
	}
	char p[PATH_MAX];
	struct cl_key k;
	CHECK(cl_key_of(cl_abs(p, v[0].rel), &k) == 0);
	struct pftest_shadow sh = { 0 };
	pftest_shadow_pat(&sh, 0, v[0].size, v[0].seed);
	/* wait for the promotion of the sealed file to be under way */
	STEP("wait for a promotion");
	int64_t t0 = cl_now_ms();
	while (!promoting(&k)) {
		CHECKF(cl_now_ms() - t0 < 20000, "no promotion of %s started within 20 s", v[0].rel);
		cl_nap_ms(1);
	}
	struct pf_pool_live before = cl_live_stats();
	int fd = v[0].fd, during = 0;
	uint64_t rng = 0x2545F4914F6CDD1DULL;
	for (int op = 0; op < 12; op++) {
		during += promoting(&k);
		uint64_t size = sh.size, r = rnd(&rng) % 4;
		uint32_t seed = (uint32_t)(2000 + op);
		if (r == 0 || r == 1) {
			uint64_t len = 1 + rnd(&rng) % 150000;
			uint8_t *b = pftest_patbuf(size, len, seed);
			STEP("during promotion: append %llu", (unsigned long long)len);
			OK(lseek(fd, 0, SEEK_END));
			pftest_write_all(fd, b, len);
			pftest_shadow_write(&sh, size, b, len);
			free(b);
		} else if (r == 2) {
			uint64_t off = rnd(&rng) % size, len = 1 + rnd(&rng) % 80000;
			uint8_t *b = pftest_patbuf(off, len, seed);
			STEP("during promotion: overwrite %llu at %llu", (unsigned long long)len, (unsigned long long)off);
			pftest_pwrite_all(fd, b, len, (off_t)off);
			pftest_shadow_write(&sh, off, b, len);
			free(b);
		} else {
			uint64_t len = size - rnd(&rng) % 200000;
			STEP("during promotion: truncate to %llu", (unsigned long long)len);
			OK(ftruncate(fd, (off_t)len));
			pftest_shadow_truncate(&sh, len);
		}
		CHECK_EQ(pftest_fsize(fd), sh.size);
	}
	CHECKF(during >= 1, "the first write did not land during the promotion");
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	CHECK(cl_poll(&P, cond_quiet, NULL, SETTLE_MS) >= 0);
	struct pf_pool_live after = P.h.live;
	pftest_check_fd(fd, &sh, "file written during its promotion (kept-open fd)");
	pftest_check_path(p, &sh);
	check_fd(&v[1]);
	int64_t r = cl_find_rec(&P, &k);
	struct cl_manifest m;
	memset(&m, 0, sizeof m);
	cl_manifest_copy(&m, v[0].rel, sh.b, sh.size);
	cl_manifest_pat(&m, v[1].rel, v[1].size, v[1].seed);
	cl_manifest_save(&m);
	free(m.e);
	check_real_child(NULL, NULL);
	printf("during-promote: 12 writes/truncations on a sealed slow-tier file, %d of them while its promotion was "
	       "under way; %llu promotion attempts aborted, %llu committed; now record %lld (window starts at block "
	       "%llu); every byte right\n",
	       during, (unsigned long long)(after.migration_aborts - before.migration_aborts),
	       (unsigned long long)(after.promotions - before.promotions), (long long)r,
	       r >= 0 ? (unsigned long long)P.recs[r].lo : 0ULL);
	pftest_shadow_free(&sh);
	cl_pool_free(&P);
	close_segs(v, 2);
	return 0;
}

/* ================================================================ head moves and readmission: shared */

/* The tail every active segment keeps in the pool, in blocks, as the policy computes it (policy.h). */
static uint64_t kept_tail(uint64_t limit, int active)
{
	uint64_t keep = (uint64_t)cl_env_size("PAFKA_MIGRATE_TAIL_KEEP", 64LL << 20) / BS;
	uint64_t share = limit / (2 * (uint64_t)(active > 0 ? active : 1));
	if (share < keep)
		keep = share;
	return keep > 0 ? keep : 1;
}

struct win {
	int64_t rec;          /* LIVE record, or -1 */
	uint64_t lo, hi;      /* its window */
	uint64_t owned;       /* blocks it owns inside the window */
};

static void win_of(const struct cl_pool *P, const struct cl_key *k, struct win *w)
{
	w->rec = cl_find_rec(P, k);
	w->lo = w->rec >= 0 ? P->recs[w->rec].lo : 0;
	w->hi = w->rec >= 0 ? P->recs[w->rec].hi : 0;
	w->owned = cl_rec_blocks(P, w->rec);
}

static struct win win_now(const struct cl_key *k)
{
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	struct win w;
	CHECK(cl_pool_load(&P) == 0);
	win_of(&P, k, &w);
	cl_pool_free(&P);
	return w;
}

static struct cl_key key_of_seg(const struct seg *s)
{
	char p[PATH_MAX];
	struct cl_key k;
	CHECKF(cl_key_of(cl_abs(p, s->rel), &k) == 0, "statx %s", s->rel);
	return k;
}

/* Append chunks (as seg_chunk does) until the segment holds upto bytes; its target size stays (a reader
 * thread may be reading it). */
static void seg_write_upto(struct seg *s, uint64_t upto)
{
	CHECK(upto <= s->size);
	while (s->written < upto) {
		size_t len = (size_t)(s->k * 7919 % 300000) + 1 + (size_t)s->k * 13;
		s->k++;
		if (len > upto - s->written)
			len = (size_t)(upto - s->written);
		uint8_t *b = pftest_patbuf(s->written, len, s->seed);
		STEP("append %zu to %s at %llu", len, s->rel, (unsigned long long)s->written);
		pftest_write_all(s->fd, b, len);
		pftest_free(b);
		s->written += len;
	}
}

/* The expected contents of the bytes written so far. */
static void seg_shadow(const struct seg *s, struct pftest_shadow *sh)
{
	memset(sh, 0, sizeof *sh);
	pftest_shadow_pat(sh, 0, s->written, s->seed);
}

/*
 * A head move (or a readmission's move) of the file with key k is copying: its window still starts at
 * first_lo and hi is still hi0 (the move has not committed), while the log-dir file already holds at least
 * min bytes of data from byte first_lo * BS on (the copy, made with raw system calls' view). Polls every
 * millisecond for at most 20 s; fails if the move committed before it was seen copying. Returns the bytes
 * of data seen.
 */
static uint64_t wait_copying(const struct cl_key *k, const char *rel, uint64_t first_lo, uint64_t hi0, uint64_t min)
{
	char p[PATH_MAX];
	cl_abs(p, rel);
	int64_t t0 = cl_now_ms();
	for (;;) {
		struct win w = win_now(k);
		CHECKF(w.rec >= 0 && w.lo == first_lo && w.hi == hi0,
		       "%s: the move committed (window now [%llu, %llu), was [%llu, %llu)) before it was seen copying: the "
		       "rate limit (pafka.migrate.rate.bytes) should keep it going for about a second",
		       rel, (unsigned long long)w.lo, (unsigned long long)w.hi, (unsigned long long)first_lo,
		       (unsigned long long)hi0);
		uint64_t d = cl_raw_data_from(p, first_lo * BS);
		if (d >= min)
			return d;
		CHECKF(cl_now_ms() - t0 < 20000, "%s: no move copying its blocks from %llu within 20 s (%llu bytes of data there)",
		       rel, (unsigned long long)first_lo, (unsigned long long)d);
		cl_nap_ms(1);
	}
}

struct win_want {
	struct cl_key key;
	uint64_t min_lo; /* the window starts at or past this block */
	int open;        /* 1: and it is open at the end (hi = none) */
};

static int cond_window(const struct cl_pool *p, void *arg)
{
	const struct win_want *ww = arg;
	struct win w;
	win_of(p, &ww->key, &w);
	return w.rec >= 0 && w.lo >= ww->min_lo && w.lo != PF_HI_NONE && (!ww->open || w.hi == PF_HI_NONE) &&
	       cl_pool_quiet(p);
}

/* Segments from the manifest's pattern entries (the kill scenarios' restarts). */
static int segs_from_manifest(struct seg *v, int max)
{
	struct cl_manifest m;
	cl_manifest_load(&m);
	CHECK(m.n <= max);
	for (int i = 0; i < m.n; i++) {
		CHECKF(!m.e[i].is_copy, "manifest entry %s is not a pattern", m.e[i].rel);
		seg_init(&v[i], "", 0, m.e[i].size, m.e[i].seed);
		pftest_fmt(v[i].rel, sizeof v[i].rel, "%s", m.e[i].rel);
		v[i].written = v[i].size;
	}
	int n = m.n;
	cl_manifest_free(&m);
	return n;
}

/* Readers that read whole files over and over through their own descriptors while others append to them
 * and migration moves their blocks: every byte up to the size fstat gives must be the pattern. */
struct reader {
	const struct seg *v; /* rel, seed and (target) size only: the writer changes nothing else a reader reads */
	int n;
	const int *stop;     /* set (atomically) when the writes are done: one more pass, then return */
	uint64_t bytes, passes, passes_during;
	pthread_t t;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	int fds[8];
	CHECK(r->n <= 8);
	for (int i = 0; i < r->n; i++) {
		char p[PATH_MAX];
		fds[i] = open(cl_abs(p, r->v[i].rel), O_RDONLY | O_CLOEXEC);
		CHECKF(fds[i] >= 0, "reader: open %s", r->v[i].rel);
	}
	const size_t chunk = 256 << 10;
	uint8_t *got = pftest_xmalloc(chunk), *exp = pftest_xmalloc(chunk);
	for (;;) {
		int last = __atomic_load_n(r->stop, __ATOMIC_ACQUIRE);
		for (int i = 0; i < r->n; i++) {
			struct stat st;
			CHECK(fstat(fds[i], &st) == 0);
			uint64_t size = (uint64_t)st.st_size;
			CHECKF(size <= r->v[i].size, "reader: %s has %llu bytes, more than the %llu ever written", r->v[i].rel,
			       (unsigned long long)size, (unsigned long long)r->v[i].size);
			for (uint64_t off = 0; off < size; off += chunk) {
				size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
				ssize_t got_n = pread(fds[i], got, n, (off_t)off);
				CHECKF(got_n == (ssize_t)n, "reader: pread(%zu at %llu) of %s (size %llu) returned %zd", n,
				       (unsigned long long)off, r->v[i].rel, (unsigned long long)size, got_n);
				pftest_fill(exp, off, n, r->v[i].seed);
				if (memcmp(got, exp, n) != 0) {
					char what[600];
					cl_fmt(what, sizeof what, "concurrent reader of %s (size %llu)", r->v[i].rel,
					       (unsigned long long)size);
					pftest_cmp(what, got, exp, n, off);
				}
			}
			r->bytes += size;
		}
		r->passes++;
		if (last)
			break;
		r->passes_during++;
	}
	pftest_free(got);
	pftest_free(exp);
	for (int i = 0; i < r->n; i++)
		close(fds[i]);
	return NULL;
}

static void readers_start(struct reader *r, int nr, const struct seg *v, int n, const int *stop)
{
	for (int i = 0; i < nr; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].v = v;
		r[i].n = n;
		r[i].stop = stop;
		CHECK(pthread_create(&r[i].t, NULL, reader_main, &r[i]) == 0);
	}
}

static void readers_join(struct reader *r, int nr, uint64_t *bytes, uint64_t *passes_during)
{
	*bytes = *passes_during = 0;
	for (int i = 0; i < nr; i++) {
		CHECK(pthread_join(r[i].t, NULL) == 0);
		*bytes += r[i].bytes;
		*passes_during += r[i].passes_during;
	}
}

/* ================================================================ idle */

/* A lone segment (no newer one in its partition) under the threshold, then appends to a segment of another
 * partition (paced at a broker's rate) that keep the pool going over it: while the lone segment is active
 * only its cold head may move (policy.h); once it has had no write for pafka.migrate.idle.ms it is sealed,
 * and the next time the pool is over the threshold it is demoted whole, before any head. */
#define IRATE (8.0 * PFTEST_MIB)

static int role_idle(int argc, char **argv)
{
	long long idle = cl_env_ll("PAFKA_MIGRATE_IDLE_MS", -1);
	if (idle <= 0)
		pftest_skip("PAFKA_MIGRATE_IDLE_MS must be set to a small value for this scenario");
	static struct seg v[2];
	seg_init(&v[0], "idle-0", 0, 3900007, 500); /* 60 blocks: under the threshold, alone in its partition */
	seg_init(&v[1], "idle-1", 0, 400 * BS, 501); /* the busy segment of another partition (at most this much) */
	seg_open(&v[0], O_RDWR | O_CREAT | O_TRUNC);
	seg_write_all(&v[0]);
	int64_t t_last = cl_now_ms();
	struct cl_key k0 = key_of_seg(&v[0]);
	seg_open(&v[1], O_RDWR | O_CREAT | O_TRUNC);
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	CHECKF(blocks_of(v[0].size) < cl_limit(P.nblocks), "scenario: %s must be under the threshold (%llu blocks)", v[0].rel,
	       (unsigned long long)cl_limit(P.nblocks));
	cl_pool_free(&P);
	STEP("idle: append to %s until %s leaves the pool", v[1].rel, v[0].rel);
	int64_t t1 = cl_now_ms(), t_gone = -1;
	uint64_t head_lo = 0; /* how far its head had moved before it was demoted whole */
	while (t_gone < 0) {
		CHECKF(v[1].written < v[1].size && cl_now_ms() - t1 < SETTLE_MS,
		       "%s still in the pool after %llu bytes were appended to %s over %lld ms (idle.ms=%lld): a lone segment "
		       "without writes must be sealed and demoted whole when the pool goes over the threshold",
		       v[0].rel, (unsigned long long)v[1].written, v[1].rel, (long long)(cl_now_ms() - t1), idle);
		seg_chunk(&v[1]);
		struct win w = win_now(&k0);
		if (w.rec < 0)
			t_gone = cl_now_ms();
		else if (w.lo > head_lo)
			head_lo = w.lo;
		while ((double)v[1].written > IRATE * (double)(cl_now_ms() - t1) / 1000.0)
			cl_nap_ms(2);
	}
	v[1].size = v[1].written;
	memset(&P, 0, sizeof P);
	long long ms = settle(&P, "idle segment");
	char p[PATH_MAX];
	CHECKF(cl_find_rec_path(&P, cl_abs(p, v[0].rel)) < 0, "%s still in the pool", v[0].rel);
	long long after = t_gone - t_last;
	/* the shim's idle clock started with the last write (coarse clock): half the idle time is a safe floor */
	CHECKF(after >= idle / 2, "demoted %lld ms after the last write, before pafka.migrate.idle.ms=%lld elapsed", after,
	       idle);
	check_all(v, 2);
	save_manifest(v, 2);
	check_real_child("--strict", "--dense");
	printf("idle: a lone segment (no newer one) was demoted whole %lld ms after its last write (idle.ms=%lld; its head "
	       "had moved up to block %llu before), while %.1f MiB were appended to another partition; settled in %lld ms\n",
	       after, idle, (unsigned long long)head_lo, (double)v[1].size / PFTEST_MIB, ms);
	cl_pool_free(&P);
	close_segs(v, 2);
	return 0;
}

/* ================================================================ kill */

#define KP 3
#define KS 3

static void kill_plan(struct seg *v)
{
	int n = 0;
	for (int s = 0; s <= KS; s++)
		for (int p = 0; p < KP; p++) {
			char part[64];
			pftest_fmt(part, sizeof part, "kill-%d", p);
			uint64_t size = s < KS ? 1500007ULL + (uint64_t)p * 44441 + (uint64_t)s * 9973 : 40009ULL + (uint64_t)p;
			seg_init(&v[n], part, (unsigned long long)s * 3000, size, (uint32_t)(600 + n));
			n++;
		}
}

static void say(int fd, char c)
{
	CHECK(write(fd, &c, 1) == 1);
}

/* child, round 1: write everything, tell the parent once a demotion copy is visibly under way, block. */
static int role_kill_child1(int argc, char **argv)
{
	CHECKF(argc > 2, "kill-child1 needs the write end of the parent's pipe");
	int wfd = atoi(argv[2]);
	static struct seg v[KP * (KS + 1)];
	kill_plan(v);
	int n = KP * (KS + 1);
	for (int i = 0; i < n; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
		if (i % 2 == 0)
			OK(fsync(v[i].fd));
	}
	STEP("kill-child1: wait for a demotion copy");
	int64_t t0 = cl_now_ms();
	for (;;) {
		int started = 0;
		for (int i = 0; i < KP * KS && !started; i++) {
			struct stat st;
			CHECK(fstat(v[i].fd, &st) == 0);
			started = st.st_blocks > 0;
		}
		if (started)
			break;
		CHECKF(cl_now_ms() - t0 < 20000, "no demotion started within 20 s");
		cl_nap_ms(2);
	}
	say(wfd, 'M');
	for (;;)
		pause(); /* the parent kills us */
}

/* child, round 2: restart, verify, tell the parent once a demotion committed in this process, block. */
static int role_kill_child2(int argc, char **argv)
{
	CHECKF(argc > 2, "kill-child2 needs the write end of the parent's pipe");
	int wfd = atoi(argv[2]);
	static struct seg v[KP * (KS + 1)];
	kill_plan(v);
	int n = KP * (KS + 1);
	uint64_t d0 = cl_live_stats().demotions;
	check_all(v, n); /* activates the shim: recovery, then migration resumes */
	STEP("kill-child2: wait for a demotion");
	int64_t t0 = cl_now_ms();
	while (cl_live_stats().demotions == d0) {
		CHECKF(cl_now_ms() - t0 < 20000, "no demotion completed within 20 s of the restart");
		cl_nap_ms(2);
	}
	say(wfd, 'M');
	for (;;)
		pause();
}

static int role_kill_verify(int argc, char **argv)
{
	static struct seg v[KP * (KS + 1)];
	kill_plan(v);
	int n = KP * (KS + 1);
	check_all(v, n);
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	memset(&P, 0, sizeof P);
	long long ms = settle(&P, "after the second restart");
	check_all(v, n);
	printf("kill-verify: every byte and size right after two kills during migration; settled %lld ms after the "
	       "restart (used %llu, limit %llu)\n",
	       ms, (unsigned long long)cl_pool_used(&P), (unsigned long long)cl_limit(P.nblocks));
	cl_pool_free(&P);
	return 0;
}

static int role_kill(int argc, char **argv)
{
	static struct seg v[KP * (KS + 1)];
	kill_plan(v);
	save_manifest(v, KP * (KS + 1));
	for (int round = 1; round <= 2; round++) {
		int pfd[2];
		CHECK(pipe2(pfd, O_CLOEXEC) == 0);
		char fdarg[16];
		pftest_fmt(fdarg, sizeof fdarg, "%d", pfd[1]);
		int fl = fcntl(pfd[1], F_GETFD);
		CHECK(fcntl(pfd[1], F_SETFD, fl & ~FD_CLOEXEC) == 0); /* the child inherits the write end */
		const char *args[] = { fdarg, NULL };
		pid_t pid = pftest_spawn_self(round == 1 ? "kill-child1" : "kill-child2", args, NULL, 0, NULL, NULL);
		close(pfd[1]);
		char c = 0;
		STEP("kill round %d: wait for the child's signal", round);
		ssize_t r = read(pfd[0], &c, 1);
		if (r != 1) {
			int rc = pftest_wait(pid);
			CHECKF(0, "round %d: the child exited (%d) before migration was under way", round, rc);
		}
		CHECK(kill(pid, SIGKILL) == 0);
		int rc = pftest_wait(pid);
		CHECKF(rc == 128 + SIGKILL, "round %d: child ended with %d, not SIGKILL", round, rc);
		close(pfd[0]);
		struct cl_pool P;
		CHECK(cl_pool_load(&P) == 0);
		printf("kill round %d: SIGKILLed during migration with %llu used blocks, %llu LIVE records, %s\n", round,
		       (unsigned long long)cl_pool_used(&P), (unsigned long long)cl_pool_live(&P),
		       cl_pool_quiet(&P) ? "no move half done" : "a move half done");
		cl_pool_free(&P);
	}
	pid_t pid = pftest_spawn_self("kill-verify", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "restart after the kills");
	return 0;
}

/* ================================================================ head */

#define HP 4          /* active segments, one per partition */
#define HREADERS 2
#define HRATE (8.0 * PFTEST_MIB) /* bytes per second appended: a broker's ingest, paced by the clock */

struct head_writer {
	struct seg *v;
	int n;
	int done;
	uint64_t total;
};

static void *head_writer_main(void *arg)
{
	struct head_writer *w = arg;
	int64_t t0 = cl_now_ms();
	for (int more = 1; more;) {
		more = 0;
		for (int i = 0; i < w->n; i++) {
			uint64_t before = w->v[i].written;
			size_t len = (size_t)(w->v[i].k * 7919 % 300000) + 1 + (size_t)w->v[i].k * 13;
			w->v[i].k++;
			if (len > w->v[i].size - w->v[i].written)
				len = (size_t)(w->v[i].size - w->v[i].written);
			if (len == 0)
				continue;
			uint8_t *b = pftest_patbuf(w->v[i].written, len, w->v[i].seed);
			pftest_write_all(w->v[i].fd, b, len); /* a failed append fails the test */
			pftest_free(b);
			w->v[i].written += len;
			w->total += w->v[i].written - before;
			more |= w->v[i].written < w->v[i].size;
			/* pace the producer (this is its rate, not a wait for the shim) */
			while ((double)w->total > HRATE * (double)(cl_now_ms() - t0) / 1000.0)
				cl_nap_ms(2);
		}
	}
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int role_head(int argc, char **argv)
{
	static struct seg v[HP];
	for (int p = 0; p < HP; p++) {
		char part[64];
		pftest_fmt(part, sizeof part, "head-%d", p);
		seg_init(&v[p], part, 0, 72 * BS - 4999 - (uint64_t)p * 1237, (uint32_t)(1100 + p));
		seg_open(&v[p], O_RDWR | O_CREAT | O_TRUNC); /* activates the shim: the pool exists from here on */
	}
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	uint64_t nblocks = P.nblocks, limit = cl_limit(nblocks), keep = kept_tail(limit, HP), total = 0;
	for (int p = 0; p < HP; p++) {
		/* a segment whose head never moved would hold more than the threshold by itself */
		CHECKF(v[p].size / BS > limit, "scenario: %s (%llu blocks) must be larger than the threshold (%llu blocks)",
		       v[p].rel, (unsigned long long)(v[p].size / BS), (unsigned long long)limit);
		total += v[p].size;
	}
	CHECKF(total > nblocks * BS, "scenario: %llu bytes must not fit in the pool (%llu blocks)",
	       (unsigned long long)total, (unsigned long long)nblocks);
	struct pf_pool_live before = P.h.live;
	cl_pool_free(&P);

	STEP("head: appends, readers and migration under way");
	struct head_writer w = { v, HP, 0, 0 };
	struct reader rd[HREADERS];
	pthread_t wt;
	int64_t t0 = cl_now_ms();
	CHECK(pthread_create(&wt, NULL, head_writer_main, &w) == 0);
	readers_start(rd, HREADERS, v, HP, &w.done);
	/* while it runs: the pool never fills (a full pool would send appends to the slow tier) */
	uint64_t max_used = 0, samples = 0, sum_used = 0;
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		CHECK(cl_pool_load(&P) == 0);
		uint64_t u = cl_pool_used(&P);
		cl_pool_free(&P);
		max_used = u > max_used ? u : max_used;
		sum_used += u;
		samples++;
		CHECKF(u < nblocks, "the pool is full (%llu of %llu blocks) while active segments are appended at %.0f MiB/s: "
				    "migration did not keep the pool at its threshold (%llu)",
		       (unsigned long long)u, (unsigned long long)nblocks, HRATE / PFTEST_MIB, (unsigned long long)limit);
		cl_nap_ms(20);
	}
	CHECK(pthread_join(wt, NULL) == 0);
	double secs = (double)(cl_now_ms() - t0) / 1000.0;
	double mean = samples ? (double)sum_used / (double)samples : 0.0;
	/* near the threshold: on average closer to it than to a full pool */
	CHECKF(mean <= (double)limit + (double)(nblocks - limit) / 2,
	       "usage averaged %.0f blocks while appending (threshold %llu, pool %llu): migration lagged far behind", mean,
	       (unsigned long long)limit, (unsigned long long)nblocks);
	long long ms = settle(&P, "after the appends");
	pause_on(); /* freeze the placement for the checks */
	CHECK(cl_poll(&P, cond_quiet, NULL, SETTLE_MS) >= 0);
	uint64_t rbytes, rduring;
	readers_join(rd, HREADERS, &rbytes, &rduring);
	struct pf_pool_live L;
	LIVE_WAIT(L, L.head_demotions - before.head_demotions >= HP);
	uint64_t used = cl_pool_used(&P), tails = 0;
	CHECKF(L.head_demotions - before.head_demotions >= HP,
	       "%llu head demotions (live stats), expected at least one per active segment (%d)",
	       (unsigned long long)(L.head_demotions - before.head_demotions), HP);
	CHECKF(L.spills == before.spills, "%llu appends spilled to the slow tier", (unsigned long long)(L.spills - before.spills));
	CHECKF(L.bytes_written[1] == before.bytes_written[1] && L.bytes_written[0] - before.bytes_written[0] == total,
	       "of %llu bytes appended, %llu went to the pool and %llu to the slow tier: all must go to the pool",
	       (unsigned long long)total, (unsigned long long)(L.bytes_written[0] - before.bytes_written[0]),
	       (unsigned long long)(L.bytes_written[1] - before.bytes_written[1]));
	CHECKF(L.migration_failures - before.migration_failures <= failures_allowed(), "%llu migration failures",
	       (unsigned long long)(L.migration_failures - before.migration_failures));
	CHECKF(L.demotions == before.demotions, "%llu whole-file demotions of active segments",
	       (unsigned long long)(L.demotions - before.demotions));
	for (int p = 0; p < HP; p++) {
		struct cl_key k = key_of_seg(&v[p]);
		struct win wn;
		win_of(&P, &k, &wn);
		uint64_t full = v[p].size / BS, nb = blocks_of(v[p].size);
		CHECKF(wn.rec >= 0, "%s (active) has no pool record: it was demoted whole", v[p].rel);
		CHECKF(wn.hi == PF_HI_NONE, "%s: its window closed at block %llu (it spilled)", v[p].rel,
		       (unsigned long long)wn.hi);
		CHECKF(wn.lo >= 1 && wn.lo + keep <= full,
		       "%s: window starts at block %llu; its head must have moved (>= 1) and its kept tail of %llu blocks "
		       "stayed (<= %llu)",
		       v[p].rel, (unsigned long long)wn.lo, (unsigned long long)keep, (unsigned long long)(full - keep));
		CHECKF(wn.owned == nb - wn.lo, "%s: %llu of its %llu tail blocks [%llu, %llu) are in the pool", v[p].rel,
		       (unsigned long long)wn.owned, (unsigned long long)(nb - wn.lo), (unsigned long long)wn.lo,
		       (unsigned long long)nb);
		/* the head is data in the log-dir file, the tail holes there (check-real --strict below: block by block) */
		CHECKF(k.blocks512 * 512 >= wn.lo * BS && k.blocks512 * 512 < wn.lo * BS + (nb - wn.lo) * BS / 2,
		       "%s: %llu bytes allocated in the log-dir file, expected the head's %llu and (almost) nothing of the "
		       "pool-resident tail",
		       v[p].rel, (unsigned long long)k.blocks512 * 512, (unsigned long long)(wn.lo * BS));
		tails += nb - wn.lo;
	}
	CHECKF(used == tails && used <= limit, "used %llu blocks, the tails hold %llu, limit %llu", (unsigned long long)used,
	       (unsigned long long)tails, (unsigned long long)limit);
	CHECKF(rduring >= HREADERS, "the readers finished only %llu passes while the writes and moves went on",
	       (unsigned long long)rduring);
	check_all(v, HP);
	save_manifest(v, HP);
	check_real_child("--strict", NULL);
	pause_off();
	printf("head: %d active segments, %.1f MiB appended round-robin in %.1f s (paced at %.0f MiB/s) through a pool of "
	       "%llu blocks (limit %llu, kept tail %llu blocks each): %llu head demotions, 0 spills, every byte to the "
	       "pool; usage peaked at %llu blocks (mean %.0f), settled at %llu in %lld ms; %d readers checked %.1f MiB "
	       "(%llu passes during the writes)\n",
	       HP, (double)total / PFTEST_MIB, secs, HRATE / PFTEST_MIB, (unsigned long long)nblocks,
	       (unsigned long long)limit, (unsigned long long)keep,
	       (unsigned long long)(L.head_demotions - before.head_demotions), (unsigned long long)max_used, mean,
	       (unsigned long long)used, ms, HREADERS,
	       (double)rbytes / PFTEST_MIB, (unsigned long long)rduring);
	cl_pool_free(&P);
	close_segs(v, HP);
	return 0;
}

/* ================================================================ head-truncate */

/* X and Y, one active segment each in its own partition: over the threshold together, so the head of X and
 * then the head of Y move (rate limited, so each copy takes about a second). A pwrite into a block of X's
 * head the move has already copied, and a truncate into the part of Y's head it has not copied yet: both
 * must win over the move, which gives up (and may retry later). */
static int role_head_truncate(int argc, char **argv)
{
	static struct seg v[2];
	seg_init(&v[0], "htr-0", 0, 20 * BS - 1001, 1200);
	seg_init(&v[1], "htr-1", 0, 30 * BS - 777, 1201);
	for (int i = 0; i < 2; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
	}
	char px[PATH_MAX], py[PATH_MAX];
	cl_abs(px, v[0].rel);
	cl_abs(py, v[1].rel);
	struct cl_key kx = key_of_seg(&v[0]), ky = key_of_seg(&v[1]);
	struct pftest_shadow sx, sy;
	seg_shadow(&v[0], &sx);
	seg_shadow(&v[1], &sy);
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	uint64_t limit = cl_limit(P.nblocks), keep = kept_tail(limit, 2);
	CHECKF(blocks_of(v[0].size) + blocks_of(v[1].size) > limit &&
		       blocks_of(v[0].size) + blocks_of(v[1].size) < P.nblocks &&
		       blocks_of(v[1].size) + keep + 1 > limit,
	       "scenario: the two segments must be over the threshold (%llu) together, fit in the pool (%llu) and stay "
	       "over it with only X's tail",
	       (unsigned long long)limit, (unsigned long long)P.nblocks);
	struct pf_pool_live before = P.h.live;
	cl_pool_free(&P);

	/* 1. pwrite into block 1 of X while its head move is copying, after the copy went past it */
	STEP("head-truncate: wait for the head move of %s", v[0].rel);
	uint64_t copied_x = wait_copying(&kx, v[0].rel, 0, PF_HI_NONE, 2 * BS);
	uint64_t woff = BS + 123, wlen = 1000;
	uint8_t *b = pftest_patbuf(woff, wlen, 1210);
	STEP("head-truncate: pwrite %llu at %llu into %s", (unsigned long long)wlen, (unsigned long long)woff, v[0].rel);
	pftest_pwrite_all(v[0].fd, b, wlen, (off_t)woff);
	pftest_shadow_write(&sx, woff, b, wlen);
	pftest_free(b);
	pftest_check_fd(v[0].fd, &sx, "X right after the pwrite into its head");
	STEP("head-truncate: wait for X's head to be moved");
	struct win_want want_x = { kx, 1, 1 };
	CHECKF(cl_poll(&P, cond_window, &want_x, SETTLE_MS) >= 0, "the head of %s was never moved", v[0].rel);
	struct win wx;
	win_of(&P, &kx, &wx);
	cl_pool_free(&P);
	pftest_check_fd(v[0].fd, &sx, "X after its head move (a pwrite landed in a block the move had copied)");
	pftest_check_path(px, &sx);
	struct pf_pool_live mid = cl_live_stats();
	CHECKF(mid.migration_aborts > before.migration_aborts,
	       "a pwrite into block 1 of %s while its head move was copying (the log-dir file held %llu bytes of the copy, "
	       "window [0, none) right after the write) did not make the move give up (%llu aborts)",
	       v[0].rel, (unsigned long long)copied_x, (unsigned long long)mid.migration_aborts);

	/* 2. truncate Y into the part of its head the move has not copied yet */
	STEP("head-truncate: wait for the head move of %s", v[1].rel);
	uint64_t copied_y = wait_copying(&ky, v[1].rel, 0, PF_HI_NONE, BS);
	uint64_t head_end = v[1].size / BS - keep, cut = copied_y / BS + 2;
	if (cut > head_end - 1)
		cut = head_end - 1;
	uint64_t len = cut * BS + 4321;
	STEP("head-truncate: truncate %s from %llu to %llu", v[1].rel, (unsigned long long)v[1].size, (unsigned long long)len);
	OK(ftruncate(v[1].fd, (off_t)len));
	pftest_shadow_truncate(&sy, len);
	pftest_check_sizes(v[1].fd, py, (long long)len);
	STEP("head-truncate: wait for the move of Y to end");
	int64_t t0 = cl_now_ms();
	for (;;) {
		struct pf_pool_live l = cl_live_stats();
		struct win wy = win_now(&ky);
		if (l.migration_aborts > mid.migration_aborts || (wy.rec >= 0 && wy.lo > 0))
			break;
		CHECKF(cl_now_ms() - t0 < SETTLE_MS, "the head move of %s neither gave up nor committed within %d ms", v[1].rel,
		       SETTLE_MS);
		cl_nap_ms(CL_POLL_MS);
	}
	pause_on();
	CHECK(cl_poll(&P, cond_quiet, NULL, SETTLE_MS) >= 0);
	struct win wy;
	win_of(&P, &ky, &wy);
	struct pf_pool_live after = P.h.live;
	cl_pool_free(&P);
	pftest_check_sizes(v[1].fd, py, (long long)len);
	pftest_check_fd(v[1].fd, &sy, "Y after a truncate into its head during its move");
	pftest_check_path(py, &sy);
	CHECKF(after.migration_aborts > mid.migration_aborts,
	       "a truncate of %s to %llu (inside its head, past the %llu bytes the move had copied) did not make the move "
	       "give up; its window now starts at block %llu",
	       v[1].rel, (unsigned long long)len, (unsigned long long)copied_y, (unsigned long long)wy.lo);
	CHECKF(wy.rec >= 0 && wy.lo <= blocks_of(len), "%s: window starts at block %llu, past its end (%llu bytes)", v[1].rel,
	       (unsigned long long)wy.lo, (unsigned long long)len);
	struct cl_manifest m;
	memset(&m, 0, sizeof m);
	cl_manifest_copy(&m, v[0].rel, sx.b, sx.size);
	cl_manifest_copy(&m, v[1].rel, sy.b, sy.size);
	cl_manifest_save(&m);
	free(m.e);
	check_real_child(NULL, NULL);
	pause_off();
	printf("head-truncate: a pwrite into block 1 of X while its head move had copied %llu bytes, and a truncate of Y to "
	       "%llu while its move had copied %llu: both moves gave up (%llu aborts), X's head moved later (window from "
	       "block %llu), Y's window starts at %llu; bytes and sizes as the kernel gives them\n",
	       (unsigned long long)copied_x, (unsigned long long)len, (unsigned long long)copied_y,
	       (unsigned long long)(after.migration_aborts - before.migration_aborts), (unsigned long long)wx.lo,
	       (unsigned long long)wy.lo);
	pftest_shadow_free(&sx);
	pftest_shadow_free(&sy);
	close_segs(v, 2);
	return 0;
}

/* ================================================================ readmit */

/*
 * With migration paused: two fillers (active segments of other partitions), then S (already open, empty)
 * appended past what the pool has free, so it spills: its window closes at hi0 and the rest goes to the log
 * dir. Then the fillers are deleted (close, unlink, as Kafka does), leaving S's pool part under the
 * threshold. Migration stays paused; *hi0_out gets S's window end.
 */
static void readmit_fill(struct seg *f, struct seg *s, uint64_t *hi0_out)
{
	pause_on();
	seg_init(&f[0], "rmf-0", 0, 20 * BS - 3, 1300);
	seg_init(&f[1], "rmf-1", 0, 20 * BS - 5, 1301);
	for (int i = 0; i < 2; i++) {
		seg_open(&f[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&f[i]);
	}
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	uint64_t used = cl_pool_used(&P), nb = P.nblocks, limit = cl_limit(nb);
	CHECKF(used > limit && nb - used + 2 < limit, "scenario: the fillers hold %llu of %llu blocks (limit %llu)",
	       (unsigned long long)used, (unsigned long long)nb, (unsigned long long)limit);
	struct pf_pool_live before = P.h.live;
	cl_pool_free(&P);
	/* S: 10 blocks more than the pool has free */
	seg_write_upto(s, (nb - used + 10) * BS + 12345);
	struct cl_key k = key_of_seg(s);
	struct win w = win_now(&k);
	struct pf_pool_live L = cl_live_stats();
	CHECKF(L.spills > before.spills && w.rec >= 0 && w.hi != PF_HI_NONE && w.hi <= nb - used,
	       "%s was meant to spill (the pool is full): %llu spills, window [%llu, %llu)", s->rel,
	       (unsigned long long)(L.spills - before.spills), (unsigned long long)w.lo, (unsigned long long)w.hi);
	CHECKF(L.bytes_written[1] > before.bytes_written[1], "no byte of %s went to the slow tier", s->rel);
	*hi0_out = w.hi;
	for (int i = 0; i < 2; i++) {
		char p[PATH_MAX];
		STEP("delete %s", f[i].rel);
		OK(close(f[i].fd));
		f[i].fd = -1;
		OK(unlink(cl_abs(p, f[i].rel)));
	}
	CHECK(cl_pool_load(&P) == 0);
	CHECKF(cl_pool_used(&P) == w.owned && w.owned < limit,
	       "after deleting the fillers: %llu used blocks, %s owns %llu, limit %llu", (unsigned long long)cl_pool_used(&P),
	       s->rel, (unsigned long long)w.owned, (unsigned long long)limit);
	cl_pool_free(&P);
}

static int role_readmit(int argc, char **argv)
{
	static struct seg f[2], s[1];
	seg_init(&s[0], "rms-0", 0, 200 * BS, 1310); /* (the most a reader may ever see) */
	seg_open(&s[0], O_RDWR | O_CREAT | O_TRUNC);
	int stop = 0;
	struct reader rd[1];
	readers_start(rd, 1, s, 1, &stop);
	uint64_t hi0;
	readmit_fill(f, &s[0], &hi0);
	uint64_t s1 = s[0].written;
	struct cl_key k = key_of_seg(&s[0]);
	struct pftest_shadow sh;
	seg_shadow(&s[0], &sh);
	pftest_check_fd(s[0].fd, &sh, "S after it spilled");
	struct pf_pool_live before = cl_live_stats();

	STEP("readmit: resume migration, wait for the readmission of %s", s[0].rel);
	pause_off();
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	struct win_want want = { k, blocks_of(s1), 1 };
	long long ms = cl_poll(&P, cond_window, &want, SETTLE_MS);
	struct win w1;
	win_of(&P, &k, &w1);
	CHECKF(ms >= 0, "%s (%llu bytes, spilled at block %llu) was not readmitted within %d ms: window [%llu, %llu), %llu "
			"readmissions, %llu used blocks of limit %llu",
	       s[0].rel, (unsigned long long)s1, (unsigned long long)hi0, SETTLE_MS, (unsigned long long)w1.lo,
	       (unsigned long long)w1.hi, (unsigned long long)(P.h.live.readmissions - before.readmissions),
	       (unsigned long long)cl_pool_used(&P), (unsigned long long)cl_limit(P.nblocks));
	cl_pool_free(&P);
	struct pf_pool_live L1;
	LIVE_WAIT(L1, L1.readmissions - before.readmissions >= 1);
	CHECKF(L1.readmissions - before.readmissions == 1, "%llu readmissions (live stats), expected 1",
	       (unsigned long long)(L1.readmissions - before.readmissions));
	CHECKF(w1.lo == blocks_of(s1) && w1.owned == 0, "%s readmitted with window [%llu, none) and %llu blocks, expected "
							"[%llu, none) and none",
	       s[0].rel, (unsigned long long)w1.lo, (unsigned long long)w1.owned, (unsigned long long)blocks_of(s1));
	pftest_check_fd(s[0].fd, &sh, "S after its readmission");

	/* the next appends: what lies past the new window's start goes to the pool */
	STEP("readmit: append to %s", s[0].rel);
	seg_write_upto(&s[0], s1 + 10 * BS + 777);
	uint64_t s2 = s[0].written;
	pftest_shadow_free(&sh);
	seg_shadow(&s[0], &sh);
	pftest_check_fd(s[0].fd, &sh, "S after appends past its readmission");
	struct win w2 = win_now(&k);
	struct pf_pool_live L2 = cl_live_stats();
	uint64_t to_pool = s2 - w1.lo * BS, to_slow = w1.lo * BS - s1;
	CHECKF(L2.bytes_written[0] - L1.bytes_written[0] == to_pool && L2.bytes_written[1] - L1.bytes_written[1] == to_slow,
	       "appends of %llu bytes after the readmission: %llu to the pool (expected %llu, from block %llu on), %llu to the "
	       "slow tier (expected %llu, the rest of the block below the window)",
	       (unsigned long long)(s2 - s1), (unsigned long long)(L2.bytes_written[0] - L1.bytes_written[0]),
	       (unsigned long long)to_pool, (unsigned long long)w1.lo,
	       (unsigned long long)(L2.bytes_written[1] - L1.bytes_written[1]), (unsigned long long)to_slow);
	CHECKF(L2.spills == L1.spills, "%llu spills after the readmission", (unsigned long long)(L2.spills - L1.spills));
	CHECKF(w2.rec >= 0 && w2.hi == PF_HI_NONE && w2.owned == blocks_of(s2) - w2.lo && w2.owned >= 10,
	       "%s after the appends: window [%llu, %llu), %llu blocks in the pool, expected every block from %llu to %llu",
	       s[0].rel, (unsigned long long)w2.lo, (unsigned long long)w2.hi, (unsigned long long)w2.owned,
	       (unsigned long long)w2.lo, (unsigned long long)blocks_of(s2));

	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	uint64_t rbytes, rduring;
	readers_join(rd, 1, &rbytes, &rduring);
	CHECKF(rduring >= 2, "the reader finished only %llu passes during the test", (unsigned long long)rduring);
	pause_on();
	CHECK(cl_poll(&P, cond_quiet, NULL, SETTLE_MS) >= 0);
	cl_pool_free(&P);
	s[0].size = s2;
	check_all(s, 1);
	save_manifest(s, 1);
	check_real_child("--strict", NULL);
	pause_off();
	printf("readmit: %s spilled at block %llu (%llu bytes written, the pool full of other segments); after they were "
	       "deleted it was readmitted in %lld ms (window [%llu, none)); %llu more bytes: %llu to the pool, %llu to the "
	       "block below the window; a reader checked %.1f MiB in %llu passes\n",
	       s[0].rel, (unsigned long long)hi0, (unsigned long long)s1, ms, (unsigned long long)w1.lo,
	       (unsigned long long)(s2 - s1), (unsigned long long)to_pool, (unsigned long long)to_slow,
	       (double)rbytes / PFTEST_MIB, (unsigned long long)rduring);
	pftest_shadow_free(&sh);
	close_segs(s, 1);
	return 0;
}

/* ================================================================ head-kill, readmit-kill */

/* After a SIGKILL: a restart without migration recovers the pool and must read every byte (check-shim), and
 * a process without the shim must find the recovered pool consistent: no block leaked or owned twice. */
static void check_after_kill(const char *what)
{
	const char *env[] = { "PAFKA_LOG_CHANNEL_TYPE=pmem", NULL };
	pid_t pid = pftest_spawn_self("check-shim", NULL, env, 0, NULL, NULL);
	pftest_wait_ok(pid, what);
	const char *args[] = { "--consistent", NULL };
	pid = pftest_spawn_self("check-real", args, NULL, PFTEST_NO_PRELOAD, NULL, NULL);
	pftest_wait_ok(pid, what);
}

/* Run child role (round n) with the write end of a pipe, wait until it says a move is under way, SIGKILL it. */
static void run_and_kill(const char *role, const char *const env[])
{
	int pfd[2];
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	char fdarg[16];
	pftest_fmt(fdarg, sizeof fdarg, "%d", pfd[1]);
	pftest_inherit(pfd[1], 1);
	const char *args[] = { fdarg, NULL };
	pid_t pid = pftest_spawn_self(role, args, env, 0, NULL, NULL);
	close(pfd[1]);
	char c = 0;
	STEP("%s: wait for the child's signal", role);
	if (read(pfd[0], &c, 1) != 1) {
		int rc = pftest_wait(pid);
		CHECKF(0, "%s: the child exited (%d) before the move was under way", role, rc);
	}
	CHECK(kill(pid, SIGKILL) == 0);
	int rc = pftest_wait(pid);
	CHECKF(rc == 128 + SIGKILL, "%s: child ended with %d, not SIGKILL", role, rc);
	close(pfd[0]);
}

static void hk_plan(struct seg *v)
{
	seg_init(&v[0], "hk-0", 0, 30 * BS - 2221, 1400); /* over the threshold alone: its head moves */
	seg_init(&v[1], "hk-1", 0, 5 * BS - 77, 1401);
}

/* child, round 1: write, tell the parent once the head move of hk-0 is copying (not committed), block. */
static int role_head_kill_child1(int argc, char **argv)
{
	CHECKF(argc > 2, "head-kill-child1 needs the write end of the parent's pipe");
	int wfd = atoi(argv[2]);
	static struct seg v[2];
	hk_plan(v);
	for (int i = 0; i < 2; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
	}
	struct cl_key k = key_of_seg(&v[0]);
	STEP("head-kill-child1: wait for the head move");
	wait_copying(&k, v[0].rel, 0, PF_HI_NONE, BS);
	say(wfd, 'M');
	for (;;)
		pause();
}

/* child, round 2 (no rate limit): restart, read everything, tell the parent once a head move committed. */
static int role_head_kill_child2(int argc, char **argv)
{
	CHECKF(argc > 2, "head-kill-child2 needs the write end of the parent's pipe");
	int wfd = atoi(argv[2]);
	static struct seg v[2];
	hk_plan(v);
	uint64_t h0 = cl_live_stats().head_demotions;
	for (int i = 0; i < 2; i++)
		seg_open(&v[i], O_RDWR); /* activates the shim: recovery, then migration resumes */
	check_all(v, 2);
	STEP("head-kill-child2: wait for a head move to commit");
	int64_t t0 = cl_now_ms();
	while (cl_live_stats().head_demotions == h0) {
		CHECKF(cl_now_ms() - t0 < 20000, "no head move committed within 20 s of the restart");
		cl_nap_ms(1);
	}
	say(wfd, 'M');
	for (;;)
		pause();
}

static int role_head_kill_verify(int argc, char **argv)
{
	static struct seg v[2];
	hk_plan(v);
	for (int i = 0; i < 2; i++)
		seg_open(&v[i], O_RDWR); /* the restarted broker opens its segments */
	check_all(v, 2);
	struct cl_key k = key_of_seg(&v[0]);
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	struct win_want want = { k, 1, 1 };
	long long ms = cl_poll(&P, cond_window, &want, SETTLE_MS);
	CHECKF(ms >= 0, "%s: its head was not moved after the restarts", v[0].rel);
	struct win w;
	win_of(&P, &k, &w);
	CHECKF(w.owned == blocks_of(v[0].size) - w.lo, "%s: %llu blocks of its tail [%llu, %llu) in the pool", v[0].rel,
	       (unsigned long long)w.owned, (unsigned long long)w.lo, (unsigned long long)blocks_of(v[0].size));
	check_all(v, 2);
	printf("head-kill-verify: every byte and size right after kills during a head move and right after one; the head "
	       "of %s is in the log dir (window from block %llu), its tail in the pool\n",
	       v[0].rel, (unsigned long long)w.lo);
	cl_pool_free(&P);
	close_segs(v, 2);
	return 0;
}

static void print_kill_state(const char *what, const struct cl_key *k, const char *rel)
{
	struct cl_pool P;
	CHECK(cl_pool_load(&P) == 0);
	struct win w;
	win_of(&P, k, &w);
	char p[PATH_MAX];
	printf("%s: SIGKILLed with %llu used blocks, %llu LIVE records, %s; %s: window [%llu, %s), %llu blocks in the "
	       "pool, %llu bytes of data at the start of its log-dir file\n",
	       what, (unsigned long long)cl_pool_used(&P), (unsigned long long)cl_pool_live(&P),
	       cl_pool_quiet(&P) ? "no move half done" : "a move half done", rel, (unsigned long long)w.lo,
	       w.hi == PF_HI_NONE ? "none" : "spilled", (unsigned long long)w.owned,
	       (unsigned long long)cl_raw_data_from(cl_abs(p, rel), 0));
	cl_pool_free(&P);
}

static int role_head_kill(int argc, char **argv)
{
	static struct seg v[2];
	hk_plan(v);
	for (int i = 0; i < 2; i++)
		v[i].written = v[i].size;
	save_manifest(v, 2);
	run_and_kill("head-kill-child1", NULL);
	struct cl_key k = key_of_seg(&v[0]);
	struct win w = win_now(&k);
	print_kill_state("head-kill round 1", &k, v[0].rel);
	CHECKF(w.rec >= 0 && w.lo == 0, "round 1: the head move was meant to be killed before its commit, window starts at %llu",
	       (unsigned long long)w.lo);
	check_after_kill("restart after a kill during a head move");
	const char *env2[] = { "PAFKA_MIGRATE_RATE_BYTES", NULL }; /* no rate limit: the move finishes at once */
	run_and_kill("head-kill-child2", env2);
	print_kill_state("head-kill round 2", &k, v[0].rel);
	check_after_kill("restart after a kill right after a head move");
	pid_t pid = pftest_spawn_self("head-kill-verify", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "restart after the kills");
	return 0;
}

/* readmit-kill, round 1: S spills, the fillers go, the manifest is written, migration resumes (rate limited):
 * tell the parent once the readmission is copying S's pool part (the window still closed), block. */
static int role_readmit_kill_child1(int argc, char **argv)
{
	CHECKF(argc > 2, "readmit-kill-child1 needs the write end of the parent's pipe");
	int wfd = atoi(argv[2]);
	static struct seg f[2], s[1];
	seg_init(&s[0], "rmk-0", 0, 200 * BS, 1320);
	seg_open(&s[0], O_RDWR | O_CREAT | O_TRUNC);
	uint64_t hi0;
	readmit_fill(f, &s[0], &hi0);
	s[0].size = s[0].written;
	save_manifest(s, 1);
	struct cl_key k = key_of_seg(&s[0]);
	pause_off();
	STEP("readmit-kill-child1: wait for the readmission to copy");
	wait_copying(&k, s[0].rel, 0, hi0, BS);
	say(wfd, 'M');
	for (;;)
		pause();
}

/* round 2 (no rate limit): restart, read, wait for the readmission, append past it (the manifest first says
 * so), then tell the parent. */
static int role_readmit_kill_child2(int argc, char **argv)
{
	CHECKF(argc > 2, "readmit-kill-child2 needs the write end of the parent's pipe");
	int wfd = atoi(argv[2]);
	static struct seg s[1];
	CHECK(segs_from_manifest(s, 1) == 1);
	uint64_t r0 = cl_live_stats().readmissions;
	seg_open(&s[0], O_RDWR);
	OK(lseek(s[0].fd, 0, SEEK_END));
	check_all(s, 1);
	struct cl_key k = key_of_seg(&s[0]);
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	struct win_want want = { k, blocks_of(s[0].size), 1 };
	CHECKF(cl_poll(&P, cond_window, &want, SETTLE_MS) >= 0, "%s was not readmitted after the restart", s[0].rel);
	cl_pool_free(&P);
	struct pf_pool_live L;
	LIVE_WAIT(L, L.readmissions > r0);
	CHECKF(L.readmissions > r0, "readmitted, but the readmissions counter stayed at %llu", (unsigned long long)r0);
	s[0].size += 5 * BS + 99;
	seg_write_all(&s[0]);
	save_manifest(s, 1); /* before the signal: the kill comes after it */
	struct win w = win_now(&k);
	CHECKF(w.owned >= 5, "%s: appends after its readmission left %llu blocks in the pool", s[0].rel,
	       (unsigned long long)w.owned);
	check_all(s, 1);
	say(wfd, 'M');
	for (;;)
		pause();
}

static int role_readmit_kill_verify(int argc, char **argv)
{
	static struct seg s[1];
	CHECK(segs_from_manifest(s, 1) == 1);
	seg_open(&s[0], O_RDWR);
	check_all(s, 1);
	struct cl_key k = key_of_seg(&s[0]);
	struct win w = win_now(&k);
	CHECKF(w.rec >= 0 && w.hi == PF_HI_NONE && w.owned == blocks_of(s[0].size) - w.lo,
	       "%s: window [%llu, %s) with %llu blocks in the pool, expected an open window holding its last blocks",
	       s[0].rel, (unsigned long long)w.lo, w.hi == PF_HI_NONE ? "none" : "spilled", (unsigned long long)w.owned);
	printf("readmit-kill-verify: every byte and size right after kills during a readmission and after appends past "
	       "it; %s's window is [%llu, none)\n",
	       s[0].rel, (unsigned long long)w.lo);
	close_segs(s, 1);
	return 0;
}

static int role_readmit_kill(int argc, char **argv)
{
	run_and_kill("readmit-kill-child1", NULL);
	static struct seg s[1];
	CHECK(segs_from_manifest(s, 1) == 1);
	struct cl_key k = key_of_seg(&s[0]);
	struct win w = win_now(&k);
	print_kill_state("readmit-kill round 1", &k, s[0].rel);
	CHECKF(w.rec >= 0 && w.hi != PF_HI_NONE, "round 1: the readmission was meant to be killed before its window opened");
	check_after_kill("restart after a kill during a readmission");
	const char *env2[] = { "PAFKA_MIGRATE_RATE_BYTES", NULL };
	run_and_kill("readmit-kill-child2", env2);
	print_kill_state("readmit-kill round 2", &k, s[0].rel);
	check_after_kill("restart after a kill after a readmission");
	pid_t pid = pftest_spawn_self("readmit-kill-verify", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "restart after the kills");
	return 0;
}

int main(int argc, char **argv)
{
	/* promote-prep and the kill roles also run without the shim: the first writes plain files, the others
	 * only spawn their children (under the shim) and kill them */
	static const struct cl_role roles[] = {
		{ "demote", role_demote, 1 },
		{ "drain", role_drain, 1 },
		{ "order", role_order, 1 },
		{ "boundary1", role_boundary1, 1 },
		{ "boundary2", role_boundary2, 1 },
		{ "promote-prep", role_promote_prep, 0 },
		{ "promote", role_promote, 1 },
		{ "promote-mapped-prep", role_pmap_prep, 0 },
		{ "promote-mapped", role_promote_mapped, 1 },
		{ "during", role_during, 1 },
		{ "during-promote-prep", role_dprom_prep, 1 },
		{ "during-promote", role_dprom, 1 },
		{ "idle", role_idle, 1 },
		{ "kill", role_kill, 0 },
		{ "kill-child1", role_kill_child1, 1 },
		{ "kill-child2", role_kill_child2, 1 },
		{ "kill-verify", role_kill_verify, 1 },
		{ "head", role_head, 1 },
		{ "head-truncate", role_head_truncate, 1 },
		{ "readmit", role_readmit, 1 },
		{ "head-kill", role_head_kill, 0 },
		{ "head-kill-child1", role_head_kill_child1, 1 },
		{ "head-kill-child2", role_head_kill_child2, 1 },
		{ "head-kill-verify", role_head_kill_verify, 1 },
		{ "readmit-kill", role_readmit_kill, 0 },
		{ "readmit-kill-child1", role_readmit_kill_child1, 1 },
		{ "readmit-kill-child2", role_readmit_kill_child2, 1 },
		{ "readmit-kill-verify", role_readmit_kill_verify, 1 },
	};
	return cl_main(argc, argv, roles, sizeof roles / sizeof roles[0]);
}
