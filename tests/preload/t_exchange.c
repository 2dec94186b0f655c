/*
 * t_exchange: renameat2(RENAME_EXCHANGE) between an ordinary file and a pool-resident segment swaps the
 * two files' names and nothing else: afterwards each name holds the other's bytes, read under the shim,
 * with raw system calls and by a process without the shim; descriptors keep their files; writes through
 * either name land in the right file. Compared with the same operations on unmanaged twins.
 *   1. renameat2(plain, segment, RENAME_EXCHANGE), plain a non-segment name in the partition directory,
 *      nothing open; then an append and a pwrite through the new names;
 *   2. the exchange back, the segment's name first, with descriptors open on both files;
 *   3. renameat2(plain, segment, RENAME_EXCHANGE) with plain outside the log dirs.
 */
#include "pftest.h"

static uint32_t seed = 1;

static void fill(const char *m, const char *p, struct pftest_shadow *sh, uint64_t n)
{
	int a = OK(open(m, O_RDWR | O_CREAT | O_TRUNC, 0644)), b = OK(open(p, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *buf = pftest_patbuf(0, n, seed++);
	CHECK_EQ(SAME(write(a, buf, n), write(b, buf, n)), n);
	pftest_shadow_write(sh, 0, buf, n);
	pftest_free(buf);
	CHECK(close(a) == 0 && close(b) == 0);
}

static int exchange(const char *a_m, const char *b_m, const char *a_p, const char *b_p)
{
	STEP("renameat2(%s, %s, RENAME_EXCHANGE)", a_m, b_m);
	long long r = SAME(renameat2(AT_FDCWD, a_m, AT_FDCWD, b_m, RENAME_EXCHANGE),
			   renameat2(AT_FDCWD, a_p, AT_FDCWD, b_p, RENAME_EXCHANGE));
	if (r == -1) {
		CHECKF(errno == EINVAL || errno == ENOSYS, "RENAME_EXCHANGE failed on both");
		return 0;
	}
	return 1;
}

/* name_m / name_p hold the file whose bytes are sh: under the shim and on the twin. */
static void holds(const char *name_m, const char *name_p, const struct pftest_shadow *sh, int kernel_view)
{
	STEP("%s after the exchange (under the shim)", name_m);
	pftest_check_path(name_p, sh);
	pftest_check_path(name_m, sh);
	pftest_check_sizes(-1, name_m, (long long)sh->size);
	if (kernel_view) {
		STEP("%s after the exchange (raw system calls, a process without the shim)", name_m);
		pftest_check_path_raw(name_m, sh);
		pftest_check_path_nopreload(name_m, sh);
	}
}

static void write_through(const char *name_m, const char *name_p, struct pftest_shadow *sh, int append,
			  uint64_t off, size_t n)
{
	STEP("%s through %s", append ? "O_APPEND write" : "pwrite", name_m);
	int flags = O_WRONLY | (append ? O_APPEND : 0);
	int a = OK(open(name_m, flags)), b = OK(open(name_p, flags));
	if (append)
		off = sh->size;
	uint8_t *buf = pftest_patbuf(off, n, seed++);
	if (append)
		CHECK_EQ(SAME(write(a, buf, n), write(b, buf, n)), n);
	else
		CHECK_EQ(SAME(pwrite(a, buf, n, (off_t)off), pwrite(b, buf, n, (off_t)off)), n);
	pftest_shadow_write(sh, off, buf, n);
	pftest_free(buf);
	CHECK(close(a) == 0 && close(b) == 0);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	char seg_m[PATH_MAX], seg_p[PATH_MAX], oth_m[PATH_MAX], oth_p[PATH_MAX];
	struct pftest_shadow X = { 0 }, Y = { 0 }; /* X: the segment's inode, Y: the ordinary file's */

	pftest_mpath(seg_m, "topic-0", PFTEST_SEG0);
	pftest_ppath(seg_p, "topic-0", PFTEST_SEG0);
	pftest_mpath(oth_m, "topic-0", "other.dat");
	pftest_ppath(oth_p, "topic-0", "other.dat");
	STEP("a pool-resident segment and an ordinary file in its partition directory");
	fill(seg_m, seg_p, &X, 2 * PFTEST_MIB + 3);
	fill(oth_m, oth_p, &Y, 700001);
	pftest_check_sparse(seg_m, (long long)X.size);

	/* 1 */
	if (!exchange(oth_m, seg_m, oth_p, seg_p))
		pftest_skip("the log dir's file system does not support RENAME_EXCHANGE");
	holds(seg_m, seg_p, &Y, 1);
	holds(oth_m, oth_p, &X, 1);
	write_through(seg_m, seg_p, &Y, 1, 0, 3 * PFTEST_BLK + 7);
	write_through(oth_m, oth_p, &X, 0, X.size - 100, PFTEST_BLK);
	write_through(oth_m, oth_p, &X, 1, 0, 5000);
	holds(seg_m, seg_p, &Y, 0);
	holds(oth_m, oth_p, &X, 0);

	/* 2 */
	STEP("descriptors open on both files, then the exchange back");
	int sm = OK(open(seg_m, O_RDWR)), sp = OK(open(seg_p, O_RDWR)); /* Y */
	int om = OK(open(oth_m, O_RDWR)), op = OK(open(oth_p, O_RDWR)); /* X */
	CHECK(exchange(seg_m, oth_m, seg_p, oth_p));
	holds(seg_m, seg_p, &X, 0);
	holds(oth_m, oth_p, &Y, 0);
	pftest_check_fd(sp, &Y, "twin descriptor opened before the exchange");
	pftest_check_fd(sm, &Y, "descriptor opened before the exchange back");
	pftest_check_fd(op, &X, "twin descriptor opened before the exchange");
	pftest_check_fd(om, &X, "descriptor opened before the exchange back");
	STEP("writes through the old descriptors after the exchange back");
	uint8_t *buf = pftest_patbuf(Y.size, 2 * PFTEST_BLK, seed++);
	CHECK_EQ(SAME(pwrite(sm, buf, 2 * PFTEST_BLK, (off_t)Y.size), pwrite(sp, buf, 2 * PFTEST_BLK, (off_t)Y.size)),
		 2 * PFTEST_BLK);
	pftest_shadow_write(&Y, Y.size, buf, 2 * PFTEST_BLK);
	pftest_free(buf);
	buf = pftest_patbuf(10, 300, seed++);
	CHECK_EQ(SAME(pwrite(om, buf, 300, 10), pwrite(op, buf, 300, 10)), 300);
	pftest_shadow_write(&X, 10, buf, 300);
	pftest_free(buf);
	pftest_check_fd(sm, &Y, "descriptor of the ordinary file");
	pftest_check_fd(om, &X, "descriptor of the segment");
	holds(seg_m, seg_p, &X, 0);
	holds(oth_m, oth_p, &Y, 0);
	CHECK(close(sm) == 0 && close(sp) == 0 && close(om) == 0 && close(op) == 0);

	/* 3 */
	char seg2_m[PATH_MAX], seg2_p[PATH_MAX], out_m[PATH_MAX], out_p[PATH_MAX];
	struct pftest_shadow X2 = { 0 }, Y2 = { 0 };
	pftest_mpath(seg2_m, "topic-1", PFTEST_SEG0);
	pftest_ppath(seg2_p, "topic-1", PFTEST_SEG0);
	pftest_path_in(out_m, "outside", "m", "outside.dat");
	pftest_path_in(out_p, "outside", "p", "outside.dat");
	STEP("a pool-resident segment and an ordinary file outside the log dirs");
	fill(seg2_m, seg2_p, &X2, PFTEST_MIB + 5 * PFTEST_BLK + 1);
	fill(out_m, out_p, &Y2, 123457);
	pftest_check_sparse(seg2_m, (long long)X2.size);
	CHECK(exchange(out_m, seg2_m, out_p, seg2_p));
	holds(seg2_m, seg2_p, &Y2, 1);
	holds(out_m, out_p, &X2, 1);
	write_through(out_m, out_p, &X2, 1, 0, PFTEST_BLK + 1);
	write_through(seg2_m, seg2_p, &Y2, 1, 0, PFTEST_BLK + 2);
	holds(seg2_m, seg2_p, &Y2, 0);
	holds(out_m, out_p, &X2, 0);

	pftest_shadow_free(&X);
	pftest_shadow_free(&Y);
	pftest_shadow_free(&X2);
	pftest_shadow_free(&Y2);
	printf("PASS\n");
	return 0;
}
