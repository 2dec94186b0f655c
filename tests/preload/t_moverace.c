/*
 * t_moverace: an application write that lands while a migration thread is between asking the real file's
 * size and noting the file's change count. libmovehook.so (preloaded after the shim) runs the write at that
 * exact moment: inside the statx of the move's own descriptor, after the kernel answered. The move must
 * then copy the bytes the write added, or give up; it must never commit without them.
 *   a sealed segment (a newer one in its partition) with its bytes in the pool is demoted whole while
 *   300 KiB are appended to it: every byte reads back, in this process and in a new one.
 * (A promotion notes its size under the same lock too, but an append to a slow-tier segment gives it a pool
 * record first, and a file with a record is never promoted: no write reaches that moment.)
 * Found by CI (errno.sh, once in some thousand runs): a demotion that had read the size just before an
 * append dropped the record without the appended blocks, and the file served zeros there.
 * Needs the shim and libmovehook.so (built next to this program); without the shim it says why and skips.
 */
#include "pftest.h"

#include <dlfcn.h>

#define OLD (700 * 1024)
#define ADD (300 * 1024)
#define NEW (500 * 1024)

static int seg_fd;

static void append_now(void *arg)
{
	(void)arg;
	uint8_t *b = pftest_patbuf(OLD, ADD, 11);
	ssize_t w = pwrite(seg_fd, b, ADD, OLD);
	pftest_free(b);
	CHECKF(w == ADD, "the append during the move wrote %zd of %d bytes (%s)", w, ADD, strerror(errno));
}

static void check_bytes(const char *path, const char *when)
{
	int fd = OK(open(path, O_RDONLY));
	CHECK_EQ(pftest_fsize(fd), OLD + ADD);
	uint8_t *got = pftest_xmalloc(OLD + ADD);
	CHECK_EQ(pread(fd, got, OLD + ADD, 0), OLD + ADD);
	OK(close(fd));
	uint8_t *a = pftest_patbuf(0, OLD, 10), *b = pftest_patbuf(OLD, ADD, 11);
	pftest_cmp(when, got, a, OLD, 0);
	pftest_cmp(when, got + OLD, b, ADD, OLD);
	pftest_free(a);
	pftest_free(b);
	pftest_free(got);
}

static int role_race(const char *seg, const char *newer)
{
	void (*arm)(uint64_t, void (*)(void *), void *) =
		(void (*)(uint64_t, void (*)(void *), void *))dlsym(RTLD_DEFAULT, "movehook_arm");
	int (*wait)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "movehook_wait");
	CHECKF(arm && wait, "libmovehook.so is not loaded");

	STEP("a segment in the pool");
	seg_fd = OK(open(seg, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, OLD, 10);
	CHECK_EQ(pwrite(seg_fd, b, OLD, 0), OLD);
	pftest_free(b);
	struct stat st;
	OK(fstat(seg_fd, &st));
	STEP("arm the append, then a newer segment takes the pool past its threshold");
	arm((uint64_t)st.st_ino, append_now, NULL);
	int nfd = OK(open(newer, O_RDWR | O_CREAT | O_TRUNC, 0644));
	b = pftest_patbuf(0, NEW, 12);
	CHECK_EQ(pwrite(nfd, b, NEW, 0), NEW);
	pftest_free(b);
	CHECKF(wait(60000), "no move of the sealed segment asked its size within 60 s (the scenario is stale)");

	STEP("every byte, after the move");
	check_bytes(seg, "after the move");
	OK(close(seg_fd));
	OK(close(nfd));
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	char seg[PATH_MAX], newer[PATH_MAX], name[64];
	pftest_mpath(seg, "race-0", pftest_segname(name, 0, NULL));
	pftest_mpath(newer, "race-0", pftest_segname(name, 100, NULL));
	if (pftest_role("demote"))
		return role_race(seg, newer);
	if (pftest_role("verify")) {
		check_bytes(seg, "in a new process");
		return 0;
	}
	const char *lib = getenv("PAFKA_TEST_LIB");
	if (!pftest_shim_active() || !lib || !*lib) {
		printf("SKIP: only meaningful with the shim (it races the shim's migration)\n");
		return 77;
	}
	char pre[3 * PATH_MAX];
	pftest_preload_after(pre, "libmovehook.so");
	const char *const env[] = { pre, "PAFKA_LOG_CHANNEL_TYPE=tiered", "PAFKA_STORAGE_TIERS_FIRST_SIZES=2M",
				    "PAFKA_POOL_BLOCK_SIZE=65536", "PAFKA_STORAGE_MIGRATE_THRESHOLD=0.5",
				    "PAFKA_MIGRATE_IDLE_MS=600000", NULL };

	STEP("demotion racing an append");
	pftest_wait_ok(pftest_spawn_self("demote", NULL, env, 0, NULL, NULL), "demote");
	STEP("a new process reads it");
	pftest_wait_ok(pftest_spawn_self("verify", NULL, env + 1, 0, NULL, NULL), "verify");
	printf("PASS\n");
	return 0;
}
