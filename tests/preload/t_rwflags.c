/*
 * t_rwflags: pwritev2 flags on a managed segment answer as the kernel does for the unmanaged twin.
 *   b. RWF_NOAPPEND on an O_APPEND descriptor with offset -1: since Linux 6.9 the kernel writes at the
 *      file offset (and advances it) instead of appending; with an explicit offset it writes there. If the
 *      twin's kernel rejects RWF_NOAPPEND that part is skipped, saying so.
 *   c. RWF_NOWAIT on a buffered write: the same result and errno as the twin (ext4: EOPNOTSUPP), at the
 *      file offset and at an explicit one, on plain and O_APPEND descriptors; nothing changes when it fails.
 * Results, errno, file offsets, sizes and every byte are compared.
 */
#include "pftest.h"

static uint32_t seed = 1;

/* pwritev2 of n pattern bytes on both descriptors of t; the shadow follows the twin's kernel. */
static long long pwv2(struct pftest_twin *t, long long off, size_t n, int flags, int append_fd)
{
	STEP("pwritev2(%s fd, %zu bytes, offset %lld, flags 0x%x) on a %llu-byte file",
	     append_fd ? "O_APPEND" : "plain", n, off, flags, (unsigned long long)t->sh.size);
	uint64_t pos = (uint64_t)lseek(t->fp, 0, SEEK_CUR);
	/* where the kernel puts it: computed from the twin after the fact (its offset moved or its size grew) */
	uint64_t size_before = t->sh.size;
	uint8_t *b = pftest_patbuf(0, n, seed++);
	struct iovec v = { b, n };
	long long r = TWIN(t, pwritev2(FD, &v, 1, (off_t)off, flags));
	if (r > 0) {
		uint64_t at;
		if (off == -1 && !(append_fd && !(flags & RWF_NOAPPEND)) && !(flags & RWF_APPEND))
			at = pos; /* at the file offset */
		else if (off >= 0 && !((append_fd || (flags & RWF_APPEND)) && !(flags & RWF_NOAPPEND)))
			at = (uint64_t)off;
		else
			at = size_before; /* appended */
		pftest_shadow_write(&t->sh, at, b, (uint64_t)r);
	}
	pftest_free(b);
	pftest_check_sizes(t->fp, t->p, (long long)t->sh.size);
	pftest_check_sizes(t->fm, t->m, (long long)t->sh.size);
	pftest_twin_check(t);
	return r;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT | O_APPEND, 0644) >= 0);
	uint8_t *b = pftest_patbuf(0, 3 * PFTEST_BLK + 10, seed++);
	CHECK_EQ(TWIN(&t, write(FD, b, 3 * PFTEST_BLK + 10)), 3 * PFTEST_BLK + 10);
	pftest_shadow_write(&t.sh, 0, b, 3 * PFTEST_BLK + 10);
	pftest_free(b);
	pftest_check_sparse(t.m, (long long)t.sh.size);

	/* by hand, "t_rwflags c" runs one part; make check runs both */
	const char *parts = argc > 1 ? argv[1] : "bc";
	STEP("b: RWF_NOAPPEND on an O_APPEND descriptor");
	CHECK_EQ(TWIN(&t, lseek(FD, 100, SEEK_SET)), 100);
	errno = 0;
	struct iovec probe = { (void *)"", 0 };
	if (!strchr(parts, 'b')) {
		printf("part b not selected\n");
	} else if (pwritev2(t.fp, &probe, 1, -1, RWF_NOAPPEND) < 0) {
		CHECKF(errno == EINVAL || errno == EOPNOTSUPP, "RWF_NOAPPEND probe on the twin");
		printf("note: this kernel rejects RWF_NOAPPEND (errno %d %s): part b is not tested\n", errno,
		       strerror(errno));
	} else {
		/* offset -1: the kernel writes at the file offset (100) and moves it */
		pwv2(&t, -1, 5000, RWF_NOAPPEND, 1);
		CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_CUR)), 5100);
		pwv2(&t, -1, PFTEST_BLK + 1, RWF_NOAPPEND, 1); /* across a block boundary */
		CHECK_EQ(TWIN(&t, lseek(FD, (off_t)t.sh.size - 10, SEEK_SET)), t.sh.size - 10);
		pwv2(&t, -1, 3000, RWF_NOAPPEND, 1); /* across the end */
		/* explicit offset: there */
		pwv2(&t, 7, 70, RWF_NOAPPEND, 1);
		/* no flag: O_APPEND appends, also with an explicit offset */
		pwv2(&t, -1, 33, 0, 1);
		pwv2(&t, 5, 44, 0, 1);
	}

	STEP("c: RWF_NOWAIT buffered writes");
	if (strchr(parts, 'c')) {
		CHECK_EQ(TWIN(&t, lseek(FD, 1000, SEEK_SET)), 1000);
		pwv2(&t, -1, 4096, RWF_NOWAIT, 1);
		pwv2(&t, 2000, 4096, RWF_NOWAIT, 1);
	}
	pftest_twin_close(&t);
	CHECK(pftest_twin_open(&t, O_RDWR, 0) >= 0);
	if (strchr(parts, 'c')) {
		CHECK_EQ(TWIN(&t, lseek(FD, 1000, SEEK_SET)), 1000);
		pwv2(&t, -1, 4096, RWF_NOWAIT, 0);
		pwv2(&t, (long long)t.sh.size + 10, 100, RWF_NOWAIT, 0);
		pwv2(&t, 3 * PFTEST_BLK, PFTEST_BLK, RWF_NOWAIT | RWF_DSYNC, 0);
	}
	pftest_twin_close(&t);
	pftest_check_path(t.m, &t.sh);
	printf("PASS\n");
	return 0;
}
