/*
 * t_mapidx: Kafka's index files (.index/.timeindex) through their whole mmap life, on a managed file and
 * its unmanaged twin, with the shim serving the mapping from pool blocks:
 *  - a writer child maps a new index, stores entries, msyncs and is SIGKILLed: every stored byte reads
 *    back afterwards (read and a new mapping), and the log-dir file stayed sparse (the bytes were in the pool);
 *  - createNewFile + setLength + map + close, entries stored, msync: pread, a fresh open and the twin agree;
 *  - Kafka's trim at roll (ftruncate down, map again) keeps the entries visible in the old and the new
 *    mapping and frees the cut-off pool blocks at once; a regrow (truncateTo) reads zeros past the trim;
 *  - a hole punched into a mapped range reads zeros, and a store after it lands in the file;
 *  - rename while mapped, fsync through a new descriptor, a fork child reading through the inherited
 *    mapping and through a mapping of its own;
 *  - mremap of a pool mapping is refused (EINVAL);
 *  - an unlinked file's pool blocks stay until the last mapping goes, also when a MAP_FIXED mapping replaces it;
 *    then the pool is back where it started;
 *  - Kafka's default 10 MiB index: entries past the pool part land in the real file;
 *  - a drain (pafka.drain) while a thread stores through a mapping moves the mapping to the real file
 *    under the stores, and every entry reads back; that mapping, now of the real file, can be shrunk
 *    with mremap as the kernel allows;
 *  - mappings the kernel makes of a managed file's real file (MAP_PRIVATE) behave as the twin's through
 *    mremap (grow and move, shrink), partial munmap and stores, and bytes written after them.
 */
#include "pftest.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define IDX "00000000000000000000.index"
#define TIX "00000000000000000000.timeindex"
#define MAXSZ (4 * PFTEST_MIB)

/* Kafka's entries: 8 bytes each from offset 0 */
static void put_entries(uint8_t *m, struct pftest_shadow *sh, uint64_t from, uint64_t n, uint32_t seed)
{
	for (uint64_t i = from; i < from + n; i++) {
		uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ULL ^ seed;
		memcpy(m + i * 8, &v, 8);
		if (sh)
			pftest_shadow_write(sh, i * 8, &v, 8);
	}
}

/* Kafka's createNewFile + RandomAccessFile("rw") + setLength + map + close */
static uint8_t *kafka_map(const char *path, uint64_t len, int create)
{
	if (create) {
		int c = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
		CHECKF(c >= 0, "createNewFile %s", path);
		CHECK(close(c) == 0);
	}
	int fd = OK(open(path, O_RDWR | O_CREAT, 0666));
	CHECK(ftruncate(fd, (off_t)len) == 0);
	uint8_t *m = mmap64(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECKF(m != MAP_FAILED, "mmap64 %s (%llu bytes)", path, (unsigned long long)len);
	CHECK(close(fd) == 0);
	return m;
}

static int killed_child(int wfd)
{
	char p[PATH_MAX];
	pftest_mpath(p, "topic-9", IDX);
	uint8_t *m = kafka_map(p, 2 * PFTEST_MIB, 1);
	put_entries(m, NULL, 0, 300 * 1024 / 8, 7);
	CHECK(msync(m, 2 * PFTEST_MIB, MS_SYNC) == 0);
	pftest_check_sparse(p, 300 * 1024); /* the entries are in the pool, not in the log-dir file */
	CHECK(write(wfd, "k", 1) == 1);
	for (;;)
		pause(); /* SIGKILL */
}

/* A thread appends entries through the mapping while the pool drains (pafka.drain): the mapping moves to
 * the real file under it, and every entry stored before, during and after the move reads back. */
struct storer {
	uint8_t *m;
	uint64_t cap, done;
	int stop;
};

static uint64_t stored_value(uint64_t i, uint64_t round)
{
	return (i + 1) * 0x9E3779B97F4A7C15ULL ^ (round << 40) ^ 77;
}

/* Round r stores stored_value(i, r) into every slot i in order, round after round, until stopped. */
static void *store_loop(void *arg)
{
	struct storer *st = arg;
	for (uint64_t k = 0; !__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE); k++) {
		uint64_t i = k % st->cap;
		__atomic_store_n((uint64_t *)(st->m + i * 8), stored_value(i, k / st->cap + 1), __ATOMIC_RELAXED);
		__atomic_store_n(&st->done, k + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void drain_while_storing(void)
{
	STEP("drain while a thread stores through a mapping: the mapping moves to the real file, nothing is lost");
	char p[PATH_MAX], d[PATH_MAX];
	pftest_mpath(p, "topic-0", "00000000000000009999.index");
	const uint64_t len = 2 * PFTEST_MIB;
	uint8_t *m = kafka_map(p, len, 1);
	pftest_check_sparse(p, 1); /* served from the pool */
	struct storer st = { m, len / 8, 0, 0 };
	pthread_t th;
	CHECK(pthread_create(&th, NULL, store_loop, &st) == 0);
	pftest_fmt(d, sizeof d, "%s/pafka.drain", getenv("PAFKA_TEST_POOLDIR"));
	int c = OK(open(d, O_WRONLY | O_CREAT, 0600));
	CHECK(close(c) == 0);
	time_t deadline = time(NULL) + 60;
	while (pftest_pool_used0() > 0) {
		CHECKF(time(NULL) < deadline, "the pool still uses %lld blocks 60 s after pafka.drain", pftest_pool_used0());
		usleep(20000); /* polling the pool file for the background drain, not ordering anything */
	}
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(th, NULL) == 0);
	uint64_t n = __atomic_load_n(&st.done, __ATOMIC_ACQUIRE);
	CHECK(msync(m, len, MS_SYNC) == 0);
	struct pftest_shadow sh = { 0 };
	pftest_shadow_truncate(&sh, len);
	CHECK(n > 0);
	uint64_t last_round = (n - 1) / st.cap + 1, last_i = (n - 1) % st.cap;
	for (uint64_t i = 0; i < st.cap; i++) {
		uint64_t r = i <= last_i ? last_round : last_round - 1;
		uint64_t v = r ? stored_value(i, r) : 0;
		pftest_shadow_write(&sh, i * 8, &v, 8);
	}
	pftest_cmp("mapping after the drain", m, sh.b, len, 0);
	pftest_check_path(p, &sh);
	pftest_check_kernel_resident(p, last_round > 1 ? (long long)len : (long long)((last_i + 1) * 8 / 4096 * 4096));
	/* stores after the move go to the real file too */
	memset(m + len - 8, 0xAB, 8);
	pftest_shadow_write(&sh, len - 8, "\xab\xab\xab\xab\xab\xab\xab\xab", 8);
	CHECK(msync(m, len, MS_SYNC) == 0);
	pftest_check_path(p, &sh);
	/* it maps the real file now: mremap is the kernel's again (a mapping of pool blocks refuses it) */
	uint8_t *h = mremap(m, len, len / 2, 0);
	CHECKF(h == m, "mremap shrinking a mapping that moved to the real file: %s", strerror(errno));
	memset(h + 8, 0xCD, 8);
	pftest_shadow_write(&sh, 8, "\xcd\xcd\xcd\xcd\xcd\xcd\xcd\xcd", 8);
	CHECK(msync(h, len / 2, MS_SYNC) == 0);
	pftest_check_path(p, &sh);
	CHECK(munmap(h, len / 2) == 0 && unlink(p) == 0 && unlink(d) == 0);
	pftest_shadow_free(&sh);
	printf("drain moved a mapping while %llu stores (%llu rounds) went through it\n", (unsigned long long)n,
	       (unsigned long long)last_round);
}

/* Mappings the kernel makes of the real file of a managed file (MAP_PRIVATE: its bytes go to the real file
 * for good) against the same on the twin. */
static void real_mappings(void)
{
	STEP("private mappings (the kernel's, of the real file): mremap grow and move, shrink, partial munmap");
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-7", "00000000000000000000.log");
	const uint64_t len = 3 * PFTEST_MIB + 4096, pg = 4096;
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT | O_TRUNC, 0644) >= 0);
	pftest_shadow_truncate(&t.sh, 0);
	for (uint64_t off = 0; off < len; off += PFTEST_MIB) {
		uint64_t n = len - off < PFTEST_MIB ? len - off : PFTEST_MIB;
		uint8_t *b = pftest_patbuf(off, n, 71);
		CHECK_EQ(pwrite(t.fm, b, n, (off_t)off), n);
		CHECK_EQ(pwrite(t.fp, b, n, (off_t)off), n);
		pftest_shadow_write(&t.sh, off, b, n);
		free(b);
	}
	uint8_t *mm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, t.fm, 0);
	uint8_t *mp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, t.fp, 0);
	CHECK(mm != MAP_FAILED && mp != MAP_FAILED);
	pftest_cmp("private mapping", mm, t.sh.b, len, 0);
	pftest_cmp("twin private mapping", mp, t.sh.b, len, 0);
	/* grow (the file ends inside the new part: the kernel maps what the file has) and let it move */
	uint8_t *gm = mremap(mm, len, 2 * len, MREMAP_MAYMOVE);
	uint8_t *gp = mremap(mp, len, 2 * len, MREMAP_MAYMOVE);
	CHECKF(gm != MAP_FAILED, "mremap growing the managed file's private mapping: %s", strerror(errno));
	CHECK(gp != MAP_FAILED);
	pftest_cmp("grown private mapping", gm, t.sh.b, len, 0);
	pftest_cmp("grown twin private mapping", gp, t.sh.b, len, 0);
	/* stores stay private; the files do not change */
	memset(gm + 100, 0x5A, 64);
	memset(gp + 100, 0x5A, 64);
	pftest_twin_check(&t);
	/* shrink in place, then unmap the first page, then the rest */
	CHECK(mremap(gm, 2 * len, len, 0) == gm && mremap(gp, 2 * len, len, 0) == gp);
	CHECK(munmap(gm, pg) == 0 && munmap(gp, pg) == 0);
	pftest_cmp("after a partial munmap", gm + pg, t.sh.b + pg, len - pg, pg);
	pftest_cmp("twin after a partial munmap", gp + pg, t.sh.b + pg, len - pg, pg);
	CHECK(munmap(gm + pg, len - pg) == 0 && munmap(gp + pg, len - pg) == 0);
	/* bytes written after the mappings are gone, and a new shared mapping, agree */
	uint8_t more[4096];
	memset(more, 0x3C, sizeof more);
	CHECK_EQ(pwrite(t.fm, more, sizeof more, (off_t)len), sizeof more);
	CHECK_EQ(pwrite(t.fp, more, sizeof more, (off_t)len), sizeof more);
	pftest_shadow_write(&t.sh, len, more, sizeof more);
	pftest_twin_check(&t);
	uint8_t *sm = mmap(NULL, len + 4096, PROT_READ, MAP_SHARED, t.fm, 0);
	CHECK(sm != MAP_FAILED);
	pftest_cmp("shared mapping after the private ones", sm, t.sh.b, len + 4096, 0);
	CHECK(munmap(sm, len + 4096) == 0);
	pftest_twin_close(&t);
	CHECK(unlink(t.m) == 0 && unlink(t.p) == 0);
	pftest_shadow_free(&t.sh);
	free(t.bm);
	free(t.bp);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("killed"))
		return killed_child(atoi(argv[2]));
	char p[PATH_MAX];

	STEP("a writer maps an index, stores, msyncs, and is SIGKILLed");
	{
		pftest_mkdirs(pftest_mpath(p, "topic-9", ""));
		int pp[2];
		CHECK(pipe2(pp, O_CLOEXEC) == 0);
		char num[16];
		pftest_fmt(num, sizeof num, "%d", pp[1]);
		pftest_inherit(pp[1], 1);
		const char *args[] = { num, NULL };
		pid_t pid = pftest_spawn_self("killed", args, NULL, 0, NULL, NULL);
		pftest_inherit(pp[1], 0);
		CHECK(close(pp[1]) == 0);
		char c;
		CHECK(read(pp[0], &c, 1) == 1);
		CHECK(kill(pid, SIGKILL) == 0);
		int st;
		CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
		CHECK(close(pp[0]) == 0);
		struct pftest_shadow sh = { 0 };
		pftest_shadow_truncate(&sh, 2 * PFTEST_MIB);
		uint8_t *tmp = pftest_xmalloc(300 * 1024);
		put_entries(tmp, &sh, 0, 300 * 1024 / 8, 7);
		pftest_free(tmp);
		pftest_check_path(pftest_mpath(p, "topic-9", IDX), &sh);
		int fd = OK(open(p, O_RDONLY));
		uint8_t *m = mmap64(NULL, 2 * PFTEST_MIB, PROT_READ, MAP_SHARED, fd, 0);
		CHECK(m != MAP_FAILED);
		pftest_cmp("new mapping after SIGKILL", m, sh.b, 2 * PFTEST_MIB, 0);
		CHECK(munmap(m, 2 * PFTEST_MIB) == 0 && close(fd) == 0);
		CHECK(unlink(p) == 0);
		pftest_shadow_free(&sh);
	}
	long long base_used = pftest_pool_used0();

	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", IDX);
	pftest_mkdirs(pftest_mpath(p, "topic-0", ""));
	pftest_mkdirs(pftest_ppath(p, "topic-0", ""));
	STEP("createNewFile, setLength, map, close; entries stored and msynced");
	uint8_t *mm = kafka_map(t.m, MAXSZ, 1), *mp = kafka_map(t.p, MAXSZ, 1);
	pftest_shadow_truncate(&t.sh, MAXSZ);
	const uint64_t nent = (200 * 1024 + 40) / 8; /* past three 64 KiB blocks */
	put_entries(mm, &t.sh, 0, nent, 1);
	put_entries(mp, NULL, 0, nent, 1);
	CHECK(msync(mm, MAXSZ, MS_SYNC) == 0 && msync(mp, MAXSZ, MS_SYNC) == 0);
	t.fm = OK(open(t.m, O_RDWR));
	t.fp = OK(open(t.p, O_RDWR));
	pftest_twin_check(&t);
	pftest_check_sparse(t.m, (long long)nent * 8);
	long long used_full = pftest_pool_used0();
	if (pftest_shim_active())
		CHECKF(used_full >= base_used + MAXSZ / PFTEST_BLK, "pool used %lld, expected >= %lld + %lld", used_full,
		       base_used, (long long)(MAXSZ / PFTEST_BLK));

	STEP("trim at roll: ftruncate down and map again; the old mapping stays readable");
	const uint64_t valid = nent * 8;
	uint8_t *mm2 = kafka_map(t.m, valid, 0), *mp2 = kafka_map(t.p, valid, 0);
	pftest_shadow_truncate(&t.sh, valid);
	pftest_twin_check(&t);
	pftest_cmp("new mapping after trim", mm2, t.sh.b, valid, 0);
	pftest_cmp("old mapping after trim", mm, t.sh.b, valid, 0);
	pftest_cmp("twin: old mapping after trim", mp, t.sh.b, valid, 0);
	long long used_trim = pftest_pool_used0();
	if (pftest_shim_active())
		CHECKF(used_trim <= base_used + (long long)((valid + PFTEST_BLK - 1) / PFTEST_BLK),
		       "after the trim the pool still uses %lld blocks (base %lld): the cut-off blocks were not freed",
		       used_trim, base_used);

	STEP("regrow (truncateTo + resize): zeros past the trimmed end");
	uint8_t *mm3 = kafka_map(t.m, MAXSZ, 0), *mp3 = kafka_map(t.p, MAXSZ, 0);
	pftest_shadow_truncate(&t.sh, MAXSZ);
	pftest_cmp("mapping after regrow", mm3, t.sh.b, MAXSZ, 0);
	pftest_cmp("twin mapping after regrow", mp3, t.sh.b, MAXSZ, 0);
	put_entries(mm3, &t.sh, nent, 1000, 2);
	put_entries(mp3, NULL, nent, 1000, 2);
	CHECK(msync(mm3, MAXSZ, MS_SYNC) == 0 && msync(mp3, MAXSZ, MS_SYNC) == 0);
	pftest_twin_check(&t);

	STEP("a hole punched into the mapped range reads zeros; a store after it lands in the file");
	CHECK_EQ(SAME(fallocate(t.fm, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PFTEST_BLK, 2 * PFTEST_BLK),
		      fallocate(t.fp, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PFTEST_BLK, 2 * PFTEST_BLK)),
		 0);
	pftest_shadow_zero(&t.sh, PFTEST_BLK, 2 * PFTEST_BLK);
	pftest_cmp("mapping after punch", mm3, t.sh.b, MAXSZ, 0);
	put_entries(mm3, &t.sh, PFTEST_BLK / 8 + 3, 10, 3);
	put_entries(mp3, NULL, PFTEST_BLK / 8 + 3, 10, 3);
	CHECK(msync(mm3, MAXSZ, MS_SYNC) == 0 && msync(mp3, MAXSZ, MS_SYNC) == 0);
	pftest_twin_check(&t);

	STEP("rename while mapped; a store after it reads back by the new name; fsync of a new descriptor");
	pftest_twin_close(&t);
	char nm[PATH_MAX], np[PATH_MAX];
	pftest_fmt(nm, sizeof nm, "%s.deleted", t.m);
	pftest_fmt(np, sizeof np, "%s.deleted", t.p);
	CHECK(rename(t.m, nm) == 0 && rename(t.p, np) == 0);
	put_entries(mm3, &t.sh, 5000, 10, 4);
	put_entries(mp3, NULL, 5000, 10, 4);
	int fm = OK(open(nm, O_RDWR)), fp = OK(open(np, O_RDWR));
	CHECK(fsync(fm) == 0 && fsync(fp) == 0);
	pftest_check_fd(fm, &t.sh, "renamed managed index after fsync");
	pftest_check_fd(fp, &t.sh, "renamed twin index after fsync");

	if (pftest_shim_active()) {
		STEP("mremap of a mapping of pool blocks is refused");
		errno = 0;
		CHECK(mremap(mm3, MAXSZ, 2 * MAXSZ, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL);
		pftest_cmp("mapping after the refused mremap", mm3, t.sh.b, MAXSZ, 0);
	}

	STEP("a fork child reads through the inherited mapping and through a mapping of its own");
	{
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			pftest_cmp("child: inherited mapping", mm3, t.sh.b, MAXSZ, 0);
			int fd = OK(open(nm, O_RDONLY));
			uint8_t *c = mmap64(NULL, MAXSZ, PROT_READ, MAP_SHARED, fd, 0);
			CHECK(c != MAP_FAILED);
			pftest_cmp("child: own mapping", c, t.sh.b, MAXSZ, 0);
			CHECK(munmap(c, MAXSZ) == 0 && close(fd) == 0);
			_exit(0);
		}
		pftest_wait_ok(pid, "fork child reading the index");
	}

	STEP("unlink while mapped: the blocks stay until the last mapping goes");
	CHECK(close(fm) == 0 && close(fp) == 0);
	CHECK(unlink(nm) == 0 && unlink(np) == 0);
	long long used_unlinked = pftest_pool_used0();
	if (pftest_shim_active())
		CHECKF(used_unlinked >= base_used + MAXSZ / PFTEST_BLK,
		       "unlinked but mapped: the pool uses %lld blocks (base %lld)", used_unlinked, base_used);
	pftest_cmp("mapping of an unlinked index", mm3, t.sh.b, MAXSZ, 0);
	CHECK(munmap(mm, MAXSZ) == 0 && munmap(mp, MAXSZ) == 0);
	CHECK(munmap(mm2, valid) == 0 && munmap(mp2, valid) == 0);
	/* a MAP_FIXED mapping replaces the last one: that, too, lets go of the file */
	CHECK(mmap(mm3, MAXSZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == mm3);
	CHECK(munmap(mp3, MAXSZ) == 0);
	if (pftest_shim_active())
		CHECKF(pftest_pool_used0() == base_used, "every mapping gone: the pool uses %lld blocks, it used %lld before",
		       pftest_pool_used0(), base_used);
	CHECK(munmap(mm3, MAXSZ) == 0);

	STEP("Kafka's default 10 MiB index: entries past the pool part land in the real file and read back");
	{
		struct pftest_twin b;
		const uint64_t big = 10 * PFTEST_MIB, far = 9 * PFTEST_MIB / 8;
		pftest_twin_init(&b, "topic-0", "00000000000000004242.index");
		uint8_t *bm = kafka_map(b.m, big, 1), *bp = kafka_map(b.p, big, 1);
		pftest_shadow_truncate(&b.sh, big);
		put_entries(bm, &b.sh, 0, 70000, 5);
		put_entries(bp, NULL, 0, 70000, 5);
		put_entries(bm, &b.sh, far, 5000, 6);
		put_entries(bp, NULL, far, 5000, 6);
		CHECK(msync(bm, big, MS_SYNC) == 0 && msync(bp, big, MS_SYNC) == 0);
		b.fm = OK(open(b.m, O_RDWR));
		b.fp = OK(open(b.p, O_RDWR));
		pftest_twin_check(&b);
		if (pftest_shim_active()) {
			struct stat st;
			CHECK(stat(b.m, &st) == 0);
			CHECKF(st.st_blocks * 512 >= 5000 * 8 && st.st_blocks * 512 < 70000 * 8,
			       "the log-dir file of the 10 MiB index has %lld bytes allocated: expected the far entries "
			       "(%d bytes, past the pool part) and not the first ones (%d bytes, in the pool)",
			       (long long)st.st_blocks * 512, 5000 * 8, 70000 * 8);
		}
		STEP("trim below the pool part, regrow, then unmap");
		uint8_t *bm2 = kafka_map(b.m, 70000 * 8, 0), *bp2 = kafka_map(b.p, 70000 * 8, 0);
		pftest_shadow_truncate(&b.sh, 70000 * 8);
		pftest_twin_check(&b);
		pftest_cmp("old 10 MiB mapping after the trim", bm, b.sh.b, 70000 * 8, 0);
		CHECK(munmap(bm, big) == 0 && munmap(bp, big) == 0);
		uint8_t *bm3 = kafka_map(b.m, big, 0), *bp3 = kafka_map(b.p, big, 0);
		pftest_shadow_truncate(&b.sh, big);
		put_entries(bm3, &b.sh, far + 10, 100, 8);
		put_entries(bp3, NULL, far + 10, 100, 8);
		CHECK(msync(bm3, big, MS_SYNC) == 0 && msync(bp3, big, MS_SYNC) == 0);
		pftest_twin_check(&b);
		pftest_cmp("regrown mapping", bm3, b.sh.b, big, 0);
		CHECK(munmap(bm2, 70000 * 8) == 0 && munmap(bp2, 70000 * 8) == 0);
		CHECK(munmap(bm3, big) == 0 && munmap(bp3, big) == 0);
		pftest_twin_check(&b);
		pftest_twin_close(&b);
		CHECK(unlink(b.m) == 0 && unlink(b.p) == 0);
		pftest_shadow_free(&b.sh);
	}

	STEP("more mappings than the pool's share for them: the later ones end on the real file sooner, same bytes");
	{
		enum { NI = 4 };
		struct pftest_twin x[NI];
		uint8_t *xm[NI], *xp[NI];
		const uint64_t big = 10 * PFTEST_MIB;
		for (int i = 0; i < NI; i++) {
			char name[64];
			pftest_fmt(name, sizeof name, "%020d.timeindex", 7000 + i);
			pftest_twin_init(&x[i], "topic-5", name);
			if (i == 0) {
				pftest_mkdirs(pftest_mpath(p, "topic-5", ""));
				pftest_mkdirs(pftest_ppath(p, "topic-5", ""));
			}
			xm[i] = kafka_map(x[i].m, big, 1);
			xp[i] = kafka_map(x[i].p, big, 1);
			pftest_shadow_truncate(&x[i].sh, big);
			/* entries from the start, and some past 3 MiB */
			put_entries(xm[i], &x[i].sh, 0, 1000, 30 + (uint32_t)i);
			put_entries(xp[i], NULL, 0, 1000, 30 + (uint32_t)i);
			put_entries(xm[i], &x[i].sh, 3 * PFTEST_MIB / 8, 1000, 40 + (uint32_t)i);
			put_entries(xp[i], NULL, 3 * PFTEST_MIB / 8, 1000, 40 + (uint32_t)i);
		}
		for (int i = 0; i < NI; i++) {
			CHECK(msync(xm[i], big, MS_SYNC) == 0 && msync(xp[i], big, MS_SYNC) == 0);
			x[i].fm = OK(open(x[i].m, O_RDWR));
			x[i].fp = OK(open(x[i].p, O_RDWR));
			pftest_twin_check(&x[i]);
		}
		if (pftest_shim_active()) {
			struct stat st;
			CHECK(stat(x[NI - 1].m, &st) == 0);
			CHECKF(st.st_blocks * 512 >= 2000 * 8, "the last index (past the pool's share for mappings) "
							       "has only %lld bytes in its log-dir file",
			       (long long)st.st_blocks * 512);
		}
		for (int i = 0; i < NI; i++) {
			CHECK(munmap(xm[i], big) == 0 && munmap(xp[i], big) == 0);
			pftest_twin_check(&x[i]);
			pftest_twin_close(&x[i]);
			CHECK(unlink(x[i].m) == 0 && unlink(x[i].p) == 0);
			pftest_shadow_free(&x[i].sh);
		}
	}

	STEP("the .timeindex pattern too, then the pool is back where it started");
	{
		struct pftest_shadow sh = { 0 };
		pftest_mpath(p, "topic-0", TIX);
		uint8_t *m = kafka_map(p, 10485756 / 16, 1);
		pftest_shadow_truncate(&sh, 10485756 / 16);
		put_entries(m, &sh, 0, 5000, 9);
		CHECK(msync(m, 10485756 / 16, MS_SYNC) == 0);
		pftest_check_path(p, &sh);
		CHECK(munmap(m, 10485756 / 16) == 0);
		pftest_check_path(p, &sh);
		CHECK(unlink(p) == 0);
		pftest_shadow_free(&sh);
	}
	if (pftest_shim_active())
		CHECK_EQ(pftest_pool_used0(), base_used);

	real_mappings();
	if (pftest_shim_active())
		drain_while_storing();
	printf("PASS\n");
	return 0;
}
