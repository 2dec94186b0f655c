/*
 * t_names: which files are segments. Every segment name Kafka uses (<20 digits>.log, .index and
 * .timeindex, each also with .cleaned, .swap or .deleted) in partition directories of every shape (plain, dotted and underscored topics,
 * __consumer_offsets-49, -delete and -future directories) must read back exactly and, with the shim, keep
 * its bytes in the pool (sparse log-dir file, pool use grows). Every other file in the log dir (.txnindex,
 * snapshots, checkpoints, look-alike names with 19 or 21 digits, other suffixes or case) and a segment name
 * outside the log dir must read back exactly and never use the pool (its bytes are in the kernel file).
 */
#include "pftest.h"

#define N (PFTEST_MIB + 4321)

static void write_check(const char *path, uint32_t seed)
{
	STEP("write %s", path);
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, N, seed);
	pftest_write_all(fd, b, N);
	struct pftest_shadow sh = { 0 };
	pftest_shadow_write(&sh, 0, b, N);
	pftest_check_fd(fd, &sh, path);
	CHECK(close(fd) == 0);
	pftest_check_path(path, &sh);
	pftest_shadow_free(&sh);
	pftest_free(b);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	char p[PATH_MAX];
	const char *D = pftest_dir();
	static const char *dirs[] = { "topic-0", "my.dotted_topic-12", "__consumer_offsets-49",
				      "topic-0.0123456789abcdef0123456789abcdef-delete",
				      "topic-3.fedcba9876543210fedcba9876543210-future", NULL };
	static const char *segs[] = { "00000000000000000000.log", "00000000000000001234.log.cleaned",
				      "00000000000000001234.log.swap", "09223372036854775807.log.deleted",
				      "00000000000000000007.log", "00000000000000000000.index",
				      "00000000000000000000.timeindex", "00000000000000000000.index.swap",
				      "00000000000000001234.timeindex.deleted", NULL };
	static const char *others[] = { "00000000000000000000.txnindex", "00000000000000000000.snapshot",
					"00000000000000000000.indexx", "leader-epoch-checkpoint", "partition.metadata",
					"0000000000000000000.log", "000000000000000000000.log", "00000000000000000000.log.tmp",
					"00000000000000000000.LOG", "x00000000000000000000.log", "00000000000000000000.logx",
					"00000000000000000000.log.cleanedx", "0000000000000000000a.log", NULL };
	uint32_t seed = 1;
	for (int d = 0; dirs[d]; d++) {
		for (int s = 0; segs[s]; s++) {
			long long before = pftest_pool_used0();
			write_check(pftest_mpath(p, dirs[d], segs[s]), seed++);
			pftest_check_sparse(p, N);
			if (pftest_shim_active())
				CHECKF(pftest_pool_used0() >= before + N / PFTEST_BLK,
				       "%s: pool used blocks %lld -> %lld after writing %lld bytes", p, before,
				       pftest_pool_used0(), N);
			CHECK(unlink(p) == 0);
		}
	}
	for (int d = 0; dirs[d]; d++) {
		for (int s = 0; others[s]; s++) {
			long long before = pftest_pool_used0();
			write_check(pftest_mpath(p, dirs[d], others[s]), seed++);
			pftest_check_kernel_resident(p, N);
			CHECKF(pftest_pool_used0() == before, "%s is not a segment but pool use went %lld -> %lld", p, before,
			       pftest_pool_used0());
			CHECK(unlink(p) == 0);
		}
	}
	STEP("files directly in the log dir and segment names outside it");
	static const char *top[] = { "recovery-point-offset-checkpoint", "meta.properties", "cleaner-offset-checkpoint",
				     NULL };
	for (int s = 0; top[s]; s++) {
		long long before = pftest_pool_used0();
		write_check(pftest_fmt(p, sizeof p, "%s/logs/%s", D, top[s]), seed++);
		pftest_check_kernel_resident(p, N);
		CHECK(pftest_pool_used0() == before);
	}
	for (int s = 0; segs[s]; s++) {
		long long before = pftest_pool_used0();
		write_check(pftest_ppath(p, "topic-0", segs[s]), seed++);
		pftest_check_kernel_resident(p, N);
		CHECK(pftest_pool_used0() == before);
		write_check(pftest_fmt(p, sizeof p, "%s/%s", D, segs[s]), seed++); /* parent of the log dir */
		pftest_check_kernel_resident(p, N);
		CHECK(pftest_pool_used0() == before);
	}
	printf("PASS\n");
	return 0;
}
