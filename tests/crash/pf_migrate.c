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
 *   during        a writer thread keeps appending, overwriting and truncating a sealed file while it is
 *                 being demoted (rate limited so copies overlap writes): no byte lost.
 *   during-promote  writes, overwrites and truncations of a sealed slow-tier file while it is being promoted
 *                 (rate limited): the promotion gives up, no byte lost.
 *   idle          a lone segment (no newer one) is demoted only after pafka.migrate.idle.ms without writes.
 *   kill          SIGKILL a writer while migration runs (the child says so through a pipe), restart and
 *                 kill again during the resumed migration, then restart and verify every byte and size.
 * Every scenario leaves $PAFKA_TEST_DIR/manifest for the generic roles (crashlib.h): check-shim,
 * check-real, cleanup, check-empty, which the driver runs after a restart.
 */
#include "crashlib.h"

#include <pthread.h>

#define BS 65536ULL
#define SETTLE_MS 30000

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
	CHECKF(L.migration_failures == 0, "%llu migration failures", (unsigned long long)L.migration_failures);
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
	struct pf_pool_live after = P.h.live;
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

static int role_promote_prep(int argc, char **argv)
{
	static struct seg v[PP * PS];
	promote_plan(v);
	for (int i = 0; i < PP * PS; i++) {
		seg_open(&v[i], O_RDWR | O_CREAT | O_TRUNC);
		seg_write_all(&v[i]);
		OK(fsync(v[i].fd));
		OK(close(v[i].fd));
		/* distinct birth times: the next file is born after the clock passed this one's */
		char p[PATH_MAX];
		struct cl_key k;
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &k) == 0);
		CHECKF(k.blocks512 * 512 >= k.size, "%s is sparse although written plainly", v[i].rel);
		int64_t t0 = cl_now_ms();
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME_COARSE, &ts);
			if ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec > cl_birth_ns(&k))
				break;
			CHECK(cl_now_ms() - t0 < 2000);
			cl_nap_ms(1);
		}
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

static int role_promote(int argc, char **argv)
{
	static struct seg v[PP * PS];
	promote_plan(v);
	struct prom_expect E;
	memset(&E, 0, sizeof E);
	E.n = PP * PS;
	for (int i = 0; i < E.n; i++) {
		char p[PATH_MAX];
		seg_open(&v[i], O_RDWR); /* Kafka opens every segment at startup and keeps it open */
		CHECK_EQ(pftest_fsize(v[i].fd), v[i].size);
		OK(lseek(v[i].fd, 0, SEEK_END));
		CHECK(cl_key_of(cl_abs(p, v[i].rel), &E.key[i]) == 0);
	}
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	CHECK(cl_pool_load(&P) == 0);
	uint64_t limit = cl_limit(P.nblocks);
	/* the policy: newest sealed (by birth) first, while it fits; stop at the first that does not */
	int taken[PP * PS] = { 0 };
	uint64_t u = 0;
	for (;;) {
		int best = -1;
		for (int i = 0; i < E.n; i++) {
			int sealed = i / PP < PS - 1;
			if (sealed && !taken[i] && (best < 0 || cl_birth_ns(&E.key[i]) > cl_birth_ns(&E.key[best])))
				best = i;
		}
		if (best < 0)
			break;
		taken[best] = 1;
		if (u + blocks_of(v[best].size) > limit)
			break;
		u += blocks_of(v[best].size);
		E.want[best] = 1;
		E.blocks += blocks_of(v[best].size);
		E.count++;
	}
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
	int64_t t0 = cl_now_ms();
	while (cl_now_ms() - t0 < 1000 && cond_promoted(&P, &E)) {
		cl_nap_ms(CL_POLL_MS);
		cl_pool_free(&P);
		CHECK(cl_pool_load(&P) == 0);
	}
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

/* ================================================================ idle */

static int role_idle(int argc, char **argv)
{
	long long idle = cl_env_ll("PAFKA_MIGRATE_IDLE_MS", -1);
	if (idle <= 0)
		pftest_skip("PAFKA_MIGRATE_IDLE_MS must be set to a small value for this scenario");
	static struct seg v[1];
	seg_init(&v[0], "idle-0", 0, 9000007, 500); /* 138 blocks: over the threshold, alone in its partition */
	seg_open(&v[0], O_RDWR | O_CREAT | O_TRUNC);
	seg_write_all(&v[0]);
	int64_t t_last = cl_now_ms();
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	long long ms = settle(&P, "idle segment");
	char p[PATH_MAX];
	CHECKF(cl_find_rec_path(&P, cl_abs(p, v[0].rel)) < 0, "%s still in the pool", v[0].rel);
	long long after = cl_now_ms() - t_last;
	/* the shim's idle clock started with the last write (coarse clock): half the idle time is a safe floor */
	CHECKF(after >= idle / 2, "demoted %lld ms after the last write, before pafka.migrate.idle.ms=%lld elapsed", after,
	       idle);
	check_all(v, 1);
	save_manifest(v, 1);
	check_real_child("--strict", "--dense");
	printf("idle: a lone segment (no newer one) was demoted %lld ms after its last write (idle.ms=%lld, settled in "
	       "%lld ms)\n",
	       after, idle, ms);
	cl_pool_free(&P);
	close_segs(v, 1);
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

int main(int argc, char **argv)
{
	/* promote-prep and kill also run without the shim: the first writes plain files, the second only
	 * spawns its children (under the shim) and kills them */
	static const struct cl_role roles[] = {
		{ "demote", role_demote, 1 },
		{ "order", role_order, 1 },
		{ "boundary1", role_boundary1, 1 },
		{ "boundary2", role_boundary2, 1 },
		{ "promote-prep", role_promote_prep, 0 },
		{ "promote", role_promote, 1 },
		{ "during", role_during, 1 },
		{ "during-promote-prep", role_dprom_prep, 1 },
		{ "during-promote", role_dprom, 1 },
		{ "idle", role_idle, 1 },
		{ "kill", role_kill, 0 },
		{ "kill-child1", role_kill_child1, 1 },
		{ "kill-child2", role_kill_child2, 1 },
		{ "kill-verify", role_kill_verify, 1 },
	};
	return cl_main(argc, argv, roles, sizeof roles / sizeof roles[0]);
}
