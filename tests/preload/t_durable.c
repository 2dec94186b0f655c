/*
 * t_durable: what an fsync of a managed segment costs the kernel, counted by libcallcount.so preloaded
 * after the shim (it sees every fsync, fdatasync and msync the shim and libpmem make):
 *   - the first fsync of a file makes the real file itself durable (a real fdatasync/fsync);
 *   - after that, an append that lands in the pool + fdatasync (or fsync, or an O_DSYNC write) makes no
 *     real fsync at all, and persists only a few pages (the bytes written, at most one block-table entry
 *     page and the record's page), the same whether the file holds 1 MiB or 48 MiB;
 *   - a write to the part of the file that lives in the real file (below the pool window), a shrink, and
 *     a file without pool bytes each need the real fsync again, and get it;
 *   - every byte and size stays right, through the shim and in the real file without it.
 * Needs the shim and libcallcount.so (built next to this program); without the shim it says why and skips.
 */
#include "pftest.h"

#include <dlfcn.h>
#include <sys/mman.h>

struct callcount {
	uint64_t fsyncs, fdatasyncs, msyncs, msync_bytes;
};

static struct callcount counts(void)
{
	static void (*get)(struct callcount *);
	if (!get)
		get = (void (*)(struct callcount *))dlsym(RTLD_DEFAULT, "callcount_get");
	CHECKF(get != NULL, "libcallcount.so is not loaded (callcount_get not found)");
	struct callcount c;
	get(&c);
	return c;
}

static uint64_t real_syncs(void)
{
	struct callcount c = counts();
	return c.fsyncs + c.fdatasyncs;
}

/* Append n bytes of pattern seed to fd (O_APPEND) and to the shadow. */
static void append(int fd, struct pftest_shadow *sh, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(sh->size, n, seed);
	CHECK_EQ(write(fd, b, n), n);
	pftest_shadow_write(sh, sh->size, b, n);
	pftest_free(b);
}

/* 20 appends of 4 KiB, each followed by sync(fd): no real sync, a few pages persisted per sync. */
static void durable_appends(int fd, struct pftest_shadow *sh, int (*sync)(int), const char *what)
{
	STEP("20 x (4 KiB append + %s) at %llu bytes", what, (unsigned long long)sh->size);
	uint64_t before = real_syncs();
	for (int i = 0; i < 20; i++) {
		struct callcount c0 = counts();
		append(fd, sh, 4096, 100 + (uint32_t)i);
		CHECK_EQ(sync(fd), 0);
		struct callcount c1 = counts();
		CHECKF(c1.msync_bytes - c0.msync_bytes <= 4 * 4096,
		       "%s %d persisted %llu bytes of the pool (%llu msync calls): more than the page written, an entry "
		       "page and the record's page",
		       what, i, (unsigned long long)(c1.msync_bytes - c0.msync_bytes),
		       (unsigned long long)(c1.msyncs - c0.msyncs));
	}
	CHECKF(real_syncs() == before, "%s of pool appends called the real fsync/fdatasync %llu times", what,
	       (unsigned long long)(real_syncs() - before));
	pftest_check_fd(fd, sh, what);
}

static int role_count(const char *seg, const char *plain_seg)
{
	struct pftest_shadow sh = { 0 }, sp = { 0 };
	int fd = OK(open(seg, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644));

	STEP("a new segment: 1 MiB, then its first fdatasync syncs the real file too");
	append(fd, &sh, PFTEST_MIB, 1);
	uint64_t r0 = real_syncs();
	CHECK_EQ(fdatasync(fd), 0);
	CHECKF(real_syncs() == r0 + 1, "the first fdatasync made %llu real syncs, expected 1 (the file's creation)",
	       (unsigned long long)(real_syncs() - r0));

	durable_appends(fd, &sh, fdatasync, "fdatasync");
	durable_appends(fd, &sh, fsync, "fsync");
	STEP("grow to 48 MiB");
	for (int i = 0; i < 47; i++)
		append(fd, &sh, PFTEST_MIB, 2 + (uint32_t)i);
	CHECK_EQ(fdatasync(fd), 0);
	durable_appends(fd, &sh, fdatasync, "fdatasync at 48 MiB");

	STEP("O_DSYNC appends");
	{
		int dfd = OK(open(seg, O_WRONLY | O_APPEND | O_DSYNC));
		uint64_t before = real_syncs();
		for (int i = 0; i < 10; i++)
			append(dfd, &sh, 4096, 200 + (uint32_t)i);
		CHECKF(real_syncs() == before, "O_DSYNC pool appends called the real sync %llu times",
		       (unsigned long long)(real_syncs() - before));
		CHECK_EQ(close(dfd), 0);
	}

	STEP("a shrink needs the real file's fsync");
	CHECK_EQ(ftruncate(fd, (off_t)(sh.size - 10000)), 0);
	pftest_shadow_truncate(&sh, sh.size - 10000);
	r0 = real_syncs();
	CHECK_EQ(fdatasync(fd), 0);
	CHECKF(real_syncs() == r0 + 1, "fdatasync after a shrink made %llu real syncs, expected 1",
	       (unsigned long long)(real_syncs() - r0));
	durable_appends(fd, &sh, fdatasync, "fdatasync after the shrink");
	pftest_check_fd(fd, &sh, "the segment");
	CHECK_EQ(close(fd), 0);

	STEP("a segment written before the shim: its old bytes live in the real file");
	int pfd = OK(open(plain_seg, O_RDWR | O_APPEND));
	pftest_shadow_pat(&sp, 0, 100000, 7); /* what the parent wrote */
	append(pfd, &sp, 200000, 8);          /* into the pool, from the next block on */
	CHECK_EQ(fdatasync(pfd), 0);          /* the first one: real */
	durable_appends(pfd, &sp, fdatasync, "fdatasync of pool appends to a pre-existing segment");
	r0 = real_syncs();
	{
		uint8_t *b = pftest_patbuf(10, 100, 9);
		CHECK_EQ(pwrite(OK(open(plain_seg, O_RDWR)), b, 100, 10), 100); /* below the pool window */
		pftest_shadow_write(&sp, 10, b, 100);
		pftest_free(b);
	}
	CHECK_EQ(fdatasync(pfd), 0);
	CHECKF(real_syncs() == r0 + 1, "fdatasync after a write to the real file's part made %llu real syncs, expected 1",
	       (unsigned long long)(real_syncs() - r0));
	pftest_check_fd(pfd, &sp, "the pre-existing segment");

	STEP("a segment without pool bytes (mapped, so kept in the real file) gets the real fsync every time");
	{
		void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, pfd, 0);
		CHECK(m != MAP_FAILED);
		CHECK_EQ(munmap(m, 4096), 0);
		for (int i = 0; i < 3; i++) {
			r0 = real_syncs();
			append(pfd, &sp, 4096, 300 + (uint32_t)i);
			CHECK_EQ(fdatasync(pfd), 0);
			CHECKF(real_syncs() == r0 + 1, "fdatasync of a plain file made %llu real syncs, expected 1",
			       (unsigned long long)(real_syncs() - r0));
		}
	}
	pftest_check_fd(pfd, &sp, "the pre-existing segment, now plain");
	CHECK_EQ(close(pfd), 0);
	STEP("sizes seen by a process without the shim");
	CHECKF(pftest_size_nopreload(seg) == (long long)sh.size, "the segment's real file is %lld bytes, expected %llu",
	       pftest_size_nopreload(seg), (unsigned long long)sh.size);
	CHECKF(pftest_size_nopreload(plain_seg) == (long long)sp.size, "the pre-existing segment's real file size");
	pftest_shadow_free(&sh);
	pftest_shadow_free(&sp);
	printf("count: every check held\n");
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	char seg[PATH_MAX], plain[PATH_MAX];
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	pftest_mpath(plain, "topic-1", PFTEST_SEG0);
	if (pftest_role("count"))
		return role_count(seg, plain);
	const char *lib = getenv("PAFKA_TEST_LIB");
	if (!pftest_shim_active() || !lib || !*lib) {
		printf("SKIP: only meaningful with the shim (it counts the shim's calls to the kernel)\n");
		return 77;
	}
	char pre[3 * PATH_MAX];
	pftest_preload_after(pre, "libcallcount.so");

	STEP("a segment written without the shim (raw system calls)");
	{
		struct pftest_shadow sp = { 0 };
		pftest_shadow_pat(&sp, 0, 100000, 7);
		char d[PATH_MAX];
		pftest_fmt(d, sizeof d, "%s/logs/topic-1", pftest_dir());
		CHECK(mkdir(d, 0755) == 0 || errno == EEXIST);
		int fd = (int)syscall(SYS_openat, AT_FDCWD, plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		CHECK(fd >= 0);
		CHECK_EQ(syscall(SYS_write, fd, sp.b, (size_t)sp.size), (long)sp.size);
		CHECK(pftest_raw_close(fd) == 0);
		pftest_shadow_free(&sp);
	}

	STEP("the counting run");
	pid_t pid = pftest_spawn_self("count", NULL, (const char *const[]){ pre, NULL }, 0, NULL, NULL);
	pftest_wait_ok(pid, "count");

	printf("PASS\n");
	return 0;
}
