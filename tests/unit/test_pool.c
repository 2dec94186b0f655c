/*
 * test_pool.c - unit tests of the pool module (src/pool.c, layout in src/pool_format.h): creation and
 * header validation, the OFD writer lock, the block allocator, the record table and recovery
 * (pf_pool_load). Every test gets its own directory on /dev/shm (tmpfs, the PMem stand-in) with a small
 * pool; criterion runs each test in its own process, so the static pools below never leak between tests.
 * Corrupt states are crafted by writing the mapped tables (or the closed file) directly.
 */
#define _GNU_SOURCE
#include "unit.h"

#include "log.h"
#include "pool.h"
#include "real.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#define MIB (1024ULL * 1024ULL)
#define BS (64ULL * 1024ULL)
#define POOL_SIZE (4 * MIB)

/* ---- fixture ---------------------------------------------------------------------------------------- */

static char tmpdir[128];   /* /dev/shm/pafka-unit-pool.XXXXXX */
static char pooldir[256];  /* <tmpdir>/pool: the storage.tiers.first.paths entry */
static char poolfile[512]; /* <pooldir>/pafka.pool */
static struct pf_err E;
static int open_errno; /* errno right after the last pf_pool_open that open_fails() checked */

/* pools opened by a test: closed at teardown (pf_pool_close is idempotent) */
static struct pf_pool P, Q;
static struct pf_pool *tracked[8];
static int ntracked;

/* what pf_pool_load delivered */
struct loaded {
	uint32_t rec;
	uint32_t *map;
	uint64_t len;
};
static struct loaded got[64];
static int ngot;

static void reset_got(void)
{
	for (int i = 0; i < ngot; i++)
		free(got[i].map);
	ngot = 0;
}

static int collect(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t len)
{
	if (ngot >= (int)(sizeof got / sizeof got[0])) {
		free(map);
		return -1;
	}
	got[ngot++] = (struct loaded){ rec, map, len };
	return 0;
}

static const struct loaded *got_rec(uint32_t rec)
{
	for (int i = 0; i < ngot; i++)
		if (got[i].rec == rec)
			return &got[i];
	return NULL;
}

static void setup(void)
{
	pf_log_set_level(PF_LOG_WARN); /* no "created pool" lines */
	unit_mkdtemp(tmpdir, sizeof tmpdir, "/dev/shm", "pafka-unit-pool");
	snprintf(pooldir, sizeof pooldir, "%s/pool", tmpdir);
	snprintf(poolfile, sizeof poolfile, "%s/%s", pooldir, PF_POOL_FILE);
}

static void teardown(void)
{
	for (int i = 0; i < ntracked; i++)
		pf_pool_close(tracked[i]);
	ntracked = 0;
	reset_got();
	unit_rmtree(tmpdir);
	unit_leak_check();
}

TestSuite(pool, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------------------------------------- */

static void track(struct pf_pool *p)
{
	for (int i = 0; i < ntracked; i++)
		if (tracked[i] == p)
			return;
	cr_assert_lt(ntracked, 8);
	tracked[ntracked++] = p;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

static void assert_one_line(const char *m)
{
	cr_assert_neq(m[0], '\0', "empty error message");
	cr_assert_null(strchr(m, '\n'), "error message is not one line: '%s'", m);
}

#define assert_err_has(s) cr_assert(strstr(E.msg, (s)) != NULL, "error '%s' lacks '%s'", E.msg, (s))

static void open_in(struct pf_pool *p, const char *dir, int64_t size, uint64_t bs, int ro)
{
	track(p);
	E.msg[0] = '\0';
	int rc = pf_pool_open(p, 0, dir, size, 0.5, bs, ro, &E);
	cr_assert_eq(rc, 0, "pf_pool_open(%s): %s", dir, E.msg);
	cr_assert_not_null(p->base);
	cr_assert_geq(p->fd, 0);
}

static void open_rw(struct pf_pool *p)
{
	open_in(p, pooldir, POOL_SIZE, BS, 0);
}

static void load_ok(struct pf_pool *p)
{
	E.msg[0] = '\0';
	int rc = pf_pool_load(p, collect, NULL, &E);
	cr_assert_eq(rc, 0, "pf_pool_load: %s", E.msg);
}

static void open_load(struct pf_pool *p)
{
	open_rw(p);
	load_ok(p);
}

static void reopen_load(struct pf_pool *p)
{
	pf_pool_close(p);
	reset_got();
	open_load(p);
}

/* pf_pool_open must fail with one line containing needle, leaving nothing open. */
static void open_fails(struct pf_pool *p, const char *dir, int64_t size, uint64_t bs, int ro, const char *needle)
{
	track(p);
	int fds = count_fds();
	memset(E.msg, 0, sizeof E.msg);
	errno = 0;
	int rc = pf_pool_open(p, 0, dir, size, 0.5, bs, ro, &E);
	open_errno = errno;
	cr_assert_eq(rc, -1, "pf_pool_open(%s) succeeded, expected an error containing '%s'", dir, needle);
	assert_one_line(E.msg);
	assert_err_has(needle);
	cr_assert_null(p->base, "failed open left a mapping");
	cr_assert_eq(p->fd, -1, "failed open left its descriptor");
	cr_assert_eq(count_fds(), fds, "failed open leaked a descriptor");
}

/* pf_pool_load must fail with one line containing needle and the fsck advice, calling back nothing. */
static void load_fails(struct pf_pool *p, const char *needle)
{
	memset(E.msg, 0, sizeof E.msg);
	int rc = pf_pool_load(p, collect, NULL, &E);
	cr_assert_neq(rc, 0, "pf_pool_load accepted a pool that should need fsck ('%s')", needle);
	assert_one_line(E.msg);
	assert_err_has(needle);
	assert_err_has("pafka fsck");
	cr_assert_eq(ngot, 0, "pf_pool_load delivered records of a pool it rejected");
}

static void file_write(const char *path, off_t off, const void *buf, size_t n)
{
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pwrite(fd, buf, n, off), (ssize_t)n);
	cr_assert_eq(close(fd), 0);
}

static void file_read_header(struct pf_pool_header *h)
{
	int fd = open(poolfile, O_RDONLY);
	cr_assert_geq(fd, 0, "open %s: %s", poolfile, strerror(errno));
	cr_assert_eq(pread(fd, h, sizeof *h, 0), (ssize_t)sizeof *h);
	close(fd);
}

static void file_write_header(const struct pf_pool_header *h)
{
	file_write(poolfile, 0, h, sizeof *h);
}

static void flip_header_byte(size_t off)
{
	unsigned char b;
	int fd = open(poolfile, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static uint64_t header_sum(const struct pf_pool_header *h)
{
	return pf_fnv1a(h, offsetof(struct pf_pool_header, checksum));
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Create a pool, close it: for tests that then damage the file. */
static void make_pool(void)
{
	open_rw(&P);
	pf_pool_close(&P);
}

static uint32_t rec_new(struct pf_pool *p, uint64_t ino, uint64_t lo, const char *path)
{
	int64_t r = pf_pool_rec_alloc(p, ino, 1700000000 + (int64_t)ino, (uint32_t)ino * 7, lo, path);
	cr_assert_geq(r, 0, "pf_pool_rec_alloc failed");
	cr_assert_lt((uint64_t)r, p->nrecords);
	return (uint32_t)r;
}

/* reserve a block (preferring hint) and publish it as block idx of rec */
static uint64_t give(struct pf_pool *p, uint32_t rec, uint32_t idx, int64_t hint)
{
	int64_t b = pf_pool_block_reserve(p, hint);
	cr_assert_geq(b, 0, "pool full");
	cr_assert_eq(p->blocks[b], PF_BLOCK_RESERVED);
	pf_pool_block_publish(p, (uint64_t)b, rec, idx);
	cr_assert_eq(p->blocks[b], PF_ENTRY(rec, idx));
	return (uint64_t)b;
}

static void usage(const struct pf_pool *p, uint64_t *live, uint64_t *used)
{
	*live = *used = UINT64_MAX;
	pf_pool_usage(p, live, used);
}

/* ---- creation ------------------------------------------------------------------------------------- */

Test(pool, create_mode_size_and_header)
{
	open_rw(&P);
	struct stat st;
	cr_assert_eq(stat(poolfile, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "pool file mode %o, want 0600", st.st_mode & 07777);
	cr_assert_eq((uint64_t)st.st_size, POOL_SIZE);
	cr_assert_eq(st.st_blocks * 512ULL >= POOL_SIZE, 1, "pool space is not reserved (fallocate)");
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.new", poolfile);
	cr_assert_not(exists(tmp), "pafka.pool.new left over");

	const struct pf_pool_header *h = P.hdr;
	cr_assert_eq(h->magic, PF_POOL_MAGIC);
	cr_assert_eq(h->version, PF_POOL_VERSION);
	cr_assert_eq(h->header_size, PF_HEADER_SIZE);
	static const uint8_t zero[16];
	cr_assert_neq(memcmp(h->uuid, zero, sizeof zero), 0, "uuid is all zeros");
	cr_assert_eq(h->pool_size, POOL_SIZE);
	cr_assert_eq(h->block_size, BS);
	cr_assert_eq(h->checksum, header_sum(h));
	cr_assert_eq(h->next_seq, 1);
	cr_assert_neq(h->created_ns, 0);
	/* geometry */
	cr_assert_geq(h->nblocks, 16);
	cr_assert_geq(h->nrecords, 1024);
	cr_assert_eq(h->rec_off, PF_HEADER_SIZE);
	cr_assert_eq(h->blk_off, h->rec_off + h->nrecords * PF_RECORD_SIZE);
	cr_assert_geq(h->data_off, h->blk_off + h->nblocks * 8);
	cr_assert_eq(h->data_off % BS, 0, "data_off %llu is not block aligned", (unsigned long long)h->data_off);
	cr_assert_leq(h->data_off + h->nblocks * h->block_size, h->pool_size);
	/* not wasteful: one more block (and its table entry) would not have fitted */
	uint64_t off1 = (h->blk_off + (h->nblocks + 1) * 8 + BS - 1) & ~(BS - 1);
	cr_assert_gt(off1 + (h->nblocks + 1) * BS, h->pool_size, "room for another block was wasted");
	/* the in-memory view matches the header */
	cr_assert_eq(P.nblocks, h->nblocks);
	cr_assert_eq(P.nrecords, h->nrecords);
	cr_assert_eq(P.bsize, BS);
	cr_assert_eq(1ULL << P.bshift, BS);
	cr_assert_eq(P.len, POOL_SIZE);
	cr_assert_eq((char *)P.recs, P.base + h->rec_off);
	cr_assert_eq((char *)P.blocks, P.base + h->blk_off);
	cr_assert_eq(P.data, P.base + h->data_off);
	cr_assert_eq(pf_pool_block_ptr(&P, 3), P.data + 3 * BS);
	cr_assert_eq(P.readonly, 0);
	/* a fresh pool: every record free, every block free */
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(live, 0);
	cr_assert_eq(used, 0);
}

Test(pool, create_rounds_size_down_to_block_size)
{
	open_in(&P, pooldir, (int64_t)(POOL_SIZE + BS / 2 + 123), BS, 0);
	struct stat st;
	cr_assert_eq(stat(poolfile, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, POOL_SIZE);
	cr_assert_eq(P.hdr->pool_size, POOL_SIZE);
}

Test(pool, create_other_block_sizes)
{
	static const uint64_t sizes[] = { 4096, 8192, 1 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/bs%zu", tmpdir, i);
		open_in(&P, dir, 32 * (int64_t)MIB + 12345, sizes[i], 0);
		const struct pf_pool_header *h = P.hdr;
		cr_assert_eq(h->block_size, sizes[i]);
		cr_assert_eq(h->pool_size % sizes[i], 0);
		cr_assert_eq(h->data_off % sizes[i], 0, "block size %llu: data_off %llu not aligned",
			     (unsigned long long)sizes[i], (unsigned long long)h->data_off);
		cr_assert_leq(h->data_off + h->nblocks * h->block_size, h->pool_size);
		cr_assert_geq(h->nblocks, 16);
		pf_pool_close(&P);
	}
}

Test(pool, create_makes_missing_pool_dir_private)
{
	cr_assert_not(exists(pooldir));
	open_rw(&P);
	struct stat st;
	cr_assert_eq(stat(pooldir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700, "pool dir mode %o", st.st_mode & 0777);
}

Test(pool, symlinked_pool_file_refused)
{
	/* a real pool elsewhere, and pooldir/pafka.pool pointing at it */
	char other[512], target[PATH_MAX];
	snprintf(other, sizeof other, "%s/elsewhere", tmpdir);
	open_in(&Q, other, POOL_SIZE, BS, 0);
	pf_pool_close(&Q);
	snprintf(target, sizeof target, "%s/%s", other, PF_POOL_FILE);
	cr_assert_eq(mkdir(pooldir, 0700), 0);
	cr_assert_eq(symlink(target, poolfile), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "symbolic link");
	open_fails(&P, pooldir, POOL_SIZE, BS, 1, "symbolic link");
}

Test(pool, dangling_symlink_is_not_created_through)
{
	char target[PATH_MAX];
	snprintf(target, sizeof target, "%s/nowhere.pool", tmpdir);
	cr_assert_eq(mkdir(pooldir, 0700), 0);
	cr_assert_eq(symlink(target, poolfile), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "symbolic link");
	cr_assert_not(exists(target), "a pool was created through a dangling symlink");
}

Test(pool, pool_path_not_a_regular_file)
{
	cr_assert_eq(mkdir(pooldir, 0700), 0);
	cr_assert_eq(mkdir(poolfile, 0700), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "not a regular file");
}

Test(pool, too_small_refused_with_advice)
{
	open_fails(&P, pooldir, 64 * 1024, BS, 0, "too small");
	assert_err_has("give at least");
	assert_err_has(pooldir);
	cr_assert_not(exists(poolfile), "a too-small pool file was installed");
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.new", poolfile);
	cr_assert_not(exists(tmp), "pafka.pool.new left behind");
	open_fails(&P, pooldir, 0, BS, 0, "too small");
	open_fails(&P, pooldir, 1000, BS, 0, "too small");
}

/* The size a too-small error advises must then be accepted. */
static void advice_is_enough(uint64_t bs)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/bs%llu", tmpdir, (unsigned long long)bs);
	open_fails(&P, dir, (int64_t)bs * 4, bs, 0, "too small");
	const char *s = strstr(E.msg, "give at least ");
	cr_assert_not_null(s, "no advice in '%s'", E.msg);
	unsigned long long min = 0;
	cr_assert_eq(sscanf(s, "give at least %llu", &min), 1);
	E.msg[0] = '\0';
	int rc = pf_pool_open(&P, 0, dir, (int64_t)min, 0.5, bs, 0, &E);
	cr_expect_eq(rc, 0, "block size %llu: the advised minimum %llu bytes is refused: %s", (unsigned long long)bs, min,
		     E.msg);
	if (rc == 0)
		cr_expect_geq(P.nblocks, 16);
}

Test(pool, too_small_advice_suffices_64k)
{
	advice_is_enough(64 * 1024);
}

Test(pool, too_small_advice_suffices_1m)
{
	advice_is_enough(1 << 20);
}

Test(pool, too_small_advice_suffices_8k)
{
	advice_is_enough(8192);
}

Test(pool, too_small_advice_suffices_4k)
{
	advice_is_enough(4096);
}

Test(pool, size_minus_one_uses_free_space_times_ratio)
{
	cr_assert_eq(mkdir(pooldir, 0700), 0);
	struct statvfs v;
	cr_assert_eq(statvfs(pooldir, &v), 0);
	double avail = (double)v.f_bavail * (double)v.f_frsize;
	cr_assert_gt(avail, 64.0 * MIB, "/dev/shm has too little free space for this test");
	double ratio = (double)(6 * MIB) / avail; /* about 6 MiB */
	track(&P);
	int rc = pf_pool_open(&P, 0, pooldir, -1, ratio, BS, 0, &E);
	cr_assert_eq(rc, 0, "%s", E.msg);
	uint64_t got_size = P.hdr->pool_size;
	cr_assert_eq(got_size % BS, 0);
	/* free space moves a little while other tests run: allow a few blocks */
	cr_assert_geq(got_size, 6 * MIB - 4 * BS, "pool of %llu bytes, want about 6 MiB", (unsigned long long)got_size);
	cr_assert_leq(got_size, 6 * MIB + 4 * BS, "pool of %llu bytes, want about 6 MiB", (unsigned long long)got_size);
	struct stat st;
	cr_assert_eq(stat(poolfile, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, got_size);
}

Test(pool, readonly_open_without_pool_fails_and_creates_nothing)
{
	open_fails(&P, pooldir, POOL_SIZE, BS, 1, "no pool");
	cr_assert_not(exists(pooldir), "a readonly open created the pool directory");
}

/* ---- reopen and header validation ------------------------------------------------------------------- */

Test(pool, reopen_keeps_uuid_and_geometry)
{
	open_rw(&P);
	struct pf_pool_header h0 = *P.hdr;
	pf_pool_close(&P);
	/* the size and block size given at reopen apply to new pools only */
	open_in(&P, pooldir, 8 * (int64_t)MIB, 4096, 0);
	cr_assert_eq(memcmp(P.hdr->uuid, h0.uuid, 16), 0, "uuid changed on reopen");
	cr_assert_eq(P.hdr->created_ns, h0.created_ns);
	cr_assert_eq(P.hdr->pool_size, POOL_SIZE);
	cr_assert_eq(P.bsize, BS);
	cr_assert_eq(P.nblocks, h0.nblocks);
	cr_assert_eq(P.nrecords, h0.nrecords);
	pf_pool_close(&P);
	/* readonly sees the same pool */
	open_in(&P, pooldir, 0, 4096, 1);
	cr_assert_eq(P.readonly, 1);
	cr_assert_eq(memcmp(P.hdr->uuid, h0.uuid, 16), 0);
}

Test(pool, two_pools_have_different_uuids)
{
	char d2[PATH_MAX];
	snprintf(d2, sizeof d2, "%s/second", tmpdir);
	open_rw(&P);
	open_in(&Q, d2, POOL_SIZE, BS, 0);
	cr_assert_neq(memcmp(P.hdr->uuid, Q.hdr->uuid, 16), 0);
}

Test(pool, bad_magic_refused)
{
	make_pool();
	flip_header_byte(offsetof(struct pf_pool_header, magic) + 3);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "bad magic");
	assert_err_has("not a libpafka pool");
	assert_err_has(poolfile);
	open_fails(&P, pooldir, POOL_SIZE, BS, 1, "bad magic");
	/* and the damaged file is left alone, never re-created over */
	struct pf_pool_header h;
	file_read_header(&h);
	cr_assert_neq(h.magic, PF_POOL_MAGIC);
}

Test(pool, bad_checksum_refused)
{
	make_pool();
	flip_header_byte(offsetof(struct pf_pool_header, checksum));
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "checksum");
	open_fails(&P, pooldir, POOL_SIZE, BS, 1, "checksum");
}

Test(pool, checksum_covers_uuid_and_geometry)
{
	make_pool();
	flip_header_byte(offsetof(struct pf_pool_header, uuid) + 5);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "checksum");
	flip_header_byte(offsetof(struct pf_pool_header, uuid) + 5); /* undo */
	open_rw(&P);
	pf_pool_close(&P);
	flip_header_byte(offsetof(struct pf_pool_header, nrecords));
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "checksum");
}

Test(pool, mutable_next_seq_not_covered_by_checksum)
{
	make_pool();
	struct pf_pool_header h;
	file_read_header(&h);
	h.next_seq = 4242;
	file_write_header(&h);
	open_rw(&P);
	cr_assert_eq(P.hdr->next_seq, 4242);
}

Test(pool, bad_version_refused)
{
	make_pool();
	struct pf_pool_header h;
	file_read_header(&h);
	h.version = PF_POOL_VERSION + 1;
	file_write_header(&h);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "version");
	char want[64];
	snprintf(want, sizeof want, "version %u", PF_POOL_VERSION + 1);
	assert_err_has(want);
	/* a version byte damaged, with the checksum fixed up: still the version error */
	h.checksum = header_sum(&h);
	file_write_header(&h);
	open_fails(&P, pooldir, POOL_SIZE, BS, 1, "version");
}

Test(pool, bad_geometry_with_valid_checksum_refused)
{
	make_pool();
	struct pf_pool_header h0, h;
	file_read_header(&h0);
	/* one block more than fits */
	h = h0;
	h.nblocks++;
	h.checksum = header_sum(&h);
	file_write_header(&h);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "geometry");
	/* not a power of two block size */
	h = h0;
	h.block_size = 3 * 4096;
	h.checksum = header_sum(&h);
	file_write_header(&h);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "geometry");
	/* data overlapping the block table */
	h = h0;
	h.data_off = h.blk_off;
	h.checksum = header_sum(&h);
	file_write_header(&h);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "geometry");
	/* restored: fine again */
	file_write_header(&h0);
	open_rw(&P);
}

Test(pool, truncated_pool_refused)
{
	make_pool();
	cr_assert_eq(truncate(poolfile, POOL_SIZE / 2), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "geometry");
	open_fails(&P, pooldir, POOL_SIZE, BS, 1, "geometry");
	cr_assert_eq(truncate(poolfile, 100), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "too short");
	cr_assert_eq(truncate(poolfile, 0), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "too short");
	/* never silently re-created over */
	struct stat st;
	cr_assert_eq(stat(poolfile, &st), 0);
	cr_assert_eq(st.st_size, 0);
}

Test(pool, grown_pool_refused)
{
	make_pool();
	cr_assert_eq(truncate(poolfile, POOL_SIZE + BS), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "geometry");
}

/* ---- the writer lock ---------------------------------------------------------------------------------- */

/* In a child process: try a writable open of pooldir; report rc and the message through a pipe. */
static int child_try_open(char *msg, size_t msglen)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		struct pf_pool c;
		struct pf_err e = { "" };
		int rc = pf_pool_open(&c, 0, pooldir, POOL_SIZE, 0.5, BS, 0, &e);
		if (rc == 0)
			pf_pool_close(&c);
		if (write(pfd[1], e.msg, strlen(e.msg)) < 0)
			_exit(3);
		_exit(rc == 0 ? 0 : 1);
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < msglen - 1 && (r = read(pfd[0], msg + n, msglen - 1 - n)) > 0)
		n += (size_t)r;
	msg[n] = '\0';
	close(pfd[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died");
	cr_assert_neq(WEXITSTATUS(status), 3);
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

Test(pool, second_writer_in_another_process_refused)
{
	open_load(&P);
	char msg[1024];
	cr_assert_eq(child_try_open(msg, sizeof msg), -1, "a second process opened a locked pool for writing");
	cr_assert(strstr(msg, "in use") != NULL, "message '%s' lacks 'in use'", msg);
	cr_assert_null(strchr(msg, '\n'));
	/* once the holder closes, another process may open it */
	pf_pool_close(&P);
	cr_assert_eq(child_try_open(msg, sizeof msg), 0, "pool still locked after close: %s", msg);
}

Test(pool, second_writer_in_same_process_refused)
{
	open_load(&P);
	open_fails(&Q, pooldir, POOL_SIZE, BS, 0, "in use");
	cr_assert_eq(open_errno, EAGAIN, "errno %d after a refused lock, want EAGAIN", open_errno);
	/* the refused open closed its own descriptor: that must not drop the holder's lock (OFD, not POSIX) */
	char msg[1024];
	cr_assert_eq(child_try_open(msg, sizeof msg), -1, "the lock was lost when a refused open closed its fd");
	open_fails(&Q, pooldir, POOL_SIZE, BS, 0, "in use");
	/* the holder still works */
	cr_assert_geq(pf_pool_block_reserve(&P, -1), 0);
	pf_pool_close(&P);
	open_rw(&Q);
}

Test(pool, lock_released_when_holder_dies)
{
	make_pool();
	int up[2], down[2];
	cr_assert_eq(pipe(up), 0);
	cr_assert_eq(pipe(down), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		struct pf_pool c;
		struct pf_err e = { "" };
		char ok = pf_pool_open(&c, 0, pooldir, POOL_SIZE, 0.5, BS, 0, &e) == 0 ? 'y' : 'n';
		if (write(up[1], &ok, 1) != 1)
			_exit(3);
		char x;
		while (read(down[0], &x, 1) > 0)
			;
		_exit(0); /* dies holding the lock, without pf_pool_close */
	}
	close(up[1]);
	close(down[0]);
	char ok = 0;
	cr_assert_eq(read(up[0], &ok, 1), 1);
	cr_assert_eq(ok, 'y', "child could not open the pool");
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "in use");
	close(down[1]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(up[0]);
	open_rw(&P);
}

/* Two brokers starting at once on the same pool dir: the second one's lstat() saw no pool, and the first
 * one creates, opens and locks it before the second creates its own. Simulated deterministically by
 * hooking the real-libc lstat pointer pool.c calls through (REAL(lstat)). */
static pf_real_lstat_t saved_lstat;
static int hook_fired, hook_rc;

static int lstat_then_other_broker_creates(const char *path, struct stat *st)
{
	int r = saved_lstat(path, st);
	if (r < 0 && errno == ENOENT && !hook_fired && strcmp(path, poolfile) == 0) {
		int e = errno;
		hook_fired = 1;
		pf_real_lstat = saved_lstat;
		struct pf_err e2 = { "" };
		hook_rc = pf_pool_open(&Q, 0, pooldir, POOL_SIZE, 0.5, BS, 0, &e2);
		if (hook_rc)
			fprintf(stderr, "first broker: %s\n", e2.msg);
		errno = e;
	}
	return r;
}

Test(pool, concurrent_creation_never_replaces_a_live_pool)
{
	track(&P);
	track(&Q);
	pf_real_resolve();
	saved_lstat = pf_real_lstat;
	pf_real_lstat = lstat_then_other_broker_creates;
	E.msg[0] = '\0';
	int rc = pf_pool_open(&P, 0, pooldir, POOL_SIZE, 0.5, BS, 0, &E);
	pf_real_lstat = saved_lstat;
	cr_assert(hook_fired, "the hook did not run: pool.c no longer calls REAL(lstat) on the pool path?");
	cr_assert_eq(hook_rc, 0, "the first broker could not create the pool");
	/* the first broker's pool must still be the one at the path */
	struct stat at_path, held;
	cr_assert_eq(stat(poolfile, &at_path), 0);
	cr_assert_eq(fstat(Q.fd, &held), 0);
	cr_expect_eq(at_path.st_ino, held.st_ino,
		     "the second broker renamed a new pool over the live pool of the first (whose bytes are now in "
		     "an unlinked file)");
	cr_assert_neq(rc, 0, "two writers hold pool %s at once", poolfile);
	assert_err_has("in use");
}

Test(pool, readonly_open_while_locked)
{
	open_load(&P);
	open_in(&Q, pooldir, 0, BS, 1);
	cr_assert_eq(Q.readonly, 1);
	cr_assert_eq(memcmp(Q.hdr->uuid, P.hdr->uuid, 16), 0);
	cr_assert_eq(Q.nblocks, P.nblocks);
	/* the reader sees the writer's tables and data (shared mapping) */
	uint32_t r = rec_new(&P, 11, 0, "/logs/t-0/00000000000000000000.log");
	uint64_t b = give(&P, r, 0, -1);
	memcpy(pf_pool_block_ptr(&P, b), "hello", 5);
	uint64_t live, used;
	usage(&Q, &live, &used);
	cr_assert_eq(live, 1);
	cr_assert_eq(used, 1);
	cr_assert_eq(memcmp(pf_pool_block_ptr(&Q, b), "hello", 5), 0);
	cr_assert_eq(Q.recs[r].ino, 11);
	/* and a readonly open does not take the lock */
	char msg[1024];
	pf_pool_close(&P);
	cr_assert_eq(child_try_open(msg, sizeof msg), 0, "a readonly open holds a write lock: %s", msg);
}

/* ---- allocator -------------------------------------------------------------------------------------- */

Test(pool, reserve_distinct_until_full)
{
	open_load(&P);
	uint64_t n = P.nblocks;
	cr_assert_eq(P.nfree, n);
	cr_assert_leq(n, 4096);
	unsigned char seen[4096] = { 0 };
	for (uint64_t k = 0; k < n; k++) {
		int64_t b = pf_pool_block_reserve(&P, -1);
		cr_assert_geq(b, 0, "pool full after %llu of %llu blocks", (unsigned long long)k, (unsigned long long)n);
		cr_assert_lt((uint64_t)b, n);
		cr_assert_not(seen[b], "block %lld handed out twice", (long long)b);
		seen[b] = 1;
		cr_assert_eq(P.blocks[b], PF_BLOCK_RESERVED);
		cr_assert_eq(P.nfree, n - k - 1);
	}
	cr_assert_eq(pf_pool_block_reserve(&P, -1), -1);
	cr_assert_eq(pf_pool_block_reserve(&P, 0), -1);
	cr_assert_eq(pf_pool_block_reserve(&P, (int64_t)n - 1), -1);
	cr_assert_eq(P.nfree, 0);
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(used, n);
	cr_assert_eq(live, 0);
}

Test(pool, unhinted_reserves_are_contiguous)
{
	open_load(&P);
	int64_t first = pf_pool_block_reserve(&P, -1);
	cr_assert_geq(first, 0);
	for (int k = 1; k < 8; k++)
		cr_assert_eq(pf_pool_block_reserve(&P, -1), first + k);
}

Test(pool, freed_blocks_are_reused)
{
	open_load(&P);
	uint64_t n = P.nblocks;
	for (uint64_t k = 0; k < n; k++)
		cr_assert_geq(pf_pool_block_reserve(&P, -1), 0);
	cr_assert_eq(pf_pool_block_reserve(&P, -1), -1);
	pf_pool_block_free(&P, 7);
	cr_assert_eq(P.blocks[7], PF_BLOCK_FREE);
	cr_assert_eq(P.nfree, 1);
	cr_assert_eq(pf_pool_block_reserve(&P, -1), 7);
	cr_assert_eq(P.nfree, 0);
	pf_pool_block_free(&P, 3);
	pf_pool_block_free(&P, n - 1);
	cr_assert_eq(P.nfree, 2);
	int64_t a = pf_pool_block_reserve(&P, -1), b = pf_pool_block_reserve(&P, -1);
	cr_assert((a == 3 && b == (int64_t)n - 1) || (a == (int64_t)n - 1 && b == 3), "got %lld %lld", (long long)a,
		  (long long)b);
	cr_assert_eq(pf_pool_block_reserve(&P, -1), -1);
}

Test(pool, hint_honoured_when_free)
{
	open_load(&P);
	cr_assert_eq(pf_pool_block_reserve(&P, 10), 10);
	cr_assert_eq(pf_pool_block_reserve(&P, 11), 11);
	cr_assert_eq(pf_pool_block_reserve(&P, 40), 40);
	cr_assert_eq(pf_pool_block_reserve(&P, 0), 0);
	cr_assert_eq(pf_pool_block_reserve(&P, (int64_t)P.nblocks - 1), (int64_t)P.nblocks - 1);
	/* taken hint: another free block */
	int64_t b = pf_pool_block_reserve(&P, 10);
	cr_assert_geq(b, 0);
	cr_assert_neq(b, 10);
	cr_assert_neq(b, 11);
	cr_assert_neq(b, 40);
	cr_assert_neq(b, 0);
	/* out-of-range hints are ignored, not followed */
	int64_t c = pf_pool_block_reserve(&P, (int64_t)P.nblocks + 5);
	cr_assert_geq(c, 0);
	cr_assert_lt((uint64_t)c, P.nblocks);
	int64_t d = pf_pool_block_reserve(&P, INT64_MAX);
	cr_assert_geq(d, 0);
	cr_assert_lt((uint64_t)d, P.nblocks);
	cr_assert_eq(P.nfree, P.nblocks - 8);
	/* a freed block is available as a hint again */
	pf_pool_block_free(&P, 40);
	cr_assert_eq(pf_pool_block_reserve(&P, 40), 40);
}

Test(pool, publish_free_and_usage)
{
	open_load(&P);
	uint32_t r1 = rec_new(&P, 1, 0, "/l/t-0/00000000000000000000.log");
	uint32_t r2 = rec_new(&P, 2, 0, "/l/t-1/00000000000000000000.log");
	cr_assert_neq(r1, r2);
	uint64_t a = give(&P, r1, 0, -1), b = give(&P, r1, 1, -1), c = give(&P, r2, 4, -1);
	int64_t d = pf_pool_block_reserve(&P, -1);
	cr_assert_geq(d, 0);
	cr_assert_eq(P.nfree, P.nblocks - 4);
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(live, 2);
	cr_assert_eq(used, 4, "a reserved block counts as used");
	cr_assert_eq(PF_ENTRY_REC(P.blocks[c]), r2);
	cr_assert_eq(PF_ENTRY_IDX(P.blocks[c]), 4);
	pf_pool_block_free(&P, b);
	cr_assert_eq(P.blocks[b], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[a], PF_ENTRY(r1, 0));
	cr_assert_eq(P.nfree, P.nblocks - 3);
	usage(&P, &live, &used);
	cr_assert_eq(used, 3);
	cr_assert_eq(live, 2);
}

Test(pool, entry_encoding)
{
	cr_assert_eq(PF_ENTRY(0, 0), 1ULL << 32, "record 0 block 0 must not look free");
	cr_assert_neq(PF_ENTRY(0, 0), PF_BLOCK_FREE);
	cr_assert_eq(PF_ENTRY_REC(PF_ENTRY(1023, 77)), 1023);
	cr_assert_eq(PF_ENTRY_IDX(PF_ENTRY(1023, 77)), 77);
	cr_assert_eq(PF_ENTRY_IDX(PF_ENTRY(5, UINT32_MAX)), UINT32_MAX);
	cr_assert_neq(PF_ENTRY((1u << 20) - 1, UINT32_MAX), PF_BLOCK_RESERVED, "the largest record table collides");
}

Test(pool, data_survives_reopen)
{
	open_load(&P);
	uint32_t r = rec_new(&P, 5, 0, "/l/t-0/00000000000000000000.log");
	char buf[4096];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 31 + 7);
	uint64_t b = give(&P, r, 0, -1);
	pf_pool_copy(&P, pf_pool_block_ptr(&P, b), buf, sizeof buf);
	pf_pool_zero(&P, pf_pool_block_ptr(&P, b) + sizeof buf, 100);
	cr_assert_eq(pf_pool_sync(&P, pf_pool_block_ptr(&P, b), BS), 0);
	cr_assert_eq(pf_pool_sync_meta(&P), 0);
	pf_pool_close(&P);
	/* also visible through the file itself */
	int fd = open(poolfile, O_RDONLY);
	cr_assert_geq(fd, 0);
	struct pf_pool_header h;
	file_read_header(&h);
	char fbuf[4096];
	cr_assert_eq(pread(fd, fbuf, sizeof fbuf, (off_t)(h.data_off + b * BS)), (ssize_t)sizeof fbuf);
	close(fd);
	cr_assert_eq(memcmp(fbuf, buf, sizeof buf), 0);
	open_load(&P);
	cr_assert_eq(memcmp(pf_pool_block_ptr(&P, b), buf, sizeof buf), 0);
	static const char zeros[100];
	cr_assert_eq(memcmp(pf_pool_block_ptr(&P, b) + sizeof buf, zeros, sizeof zeros), 0);
}

struct reserver {
	struct pf_pool *p;
	int64_t got[4096];
	int n;
};

static void *reserve_all(void *arg)
{
	struct reserver *r = arg;
	int64_t b;
	while ((b = pf_pool_block_reserve(r->p, -1)) >= 0)
		r->got[r->n++] = b;
	return NULL;
}

Test(pool, concurrent_reserves_are_distinct)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/big", tmpdir);
	open_in(&P, dir, 16 * (int64_t)MIB, 4096, 0); /* a few thousand blocks */
	load_ok(&P);
	uint64_t n = P.nblocks;
	cr_assert_leq(n, 4096);
	static struct reserver rs[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		rs[i].p = &P;
		rs[i].n = 0;
		cr_assert_eq(pthread_create(&t[i], NULL, reserve_all, &rs[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	static unsigned char seen[4096];
	uint64_t total = 0;
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < rs[i].n; k++) {
			cr_assert_not(seen[rs[i].got[k]], "block %lld reserved twice", (long long)rs[i].got[k]);
			seen[rs[i].got[k]] = 1;
			total++;
		}
	cr_assert_eq(total, n);
	cr_assert_eq(P.nfree, 0);
}

/* ---- records ------------------------------------------------------------------------------------------ */

Test(pool, rec_alloc_until_table_full)
{
	open_load(&P);
	uint64_t n = P.nrecords;
	cr_assert_eq(P.nfree_recs, n);
	cr_assert_leq(n, 4096);
	unsigned char seen[4096] = { 0 };
	for (uint64_t k = 0; k < n; k++) {
		int64_t r = pf_pool_rec_alloc(&P, k + 1, 0, 0, 0, "/l/t-0/00000000000000000000.log");
		cr_assert_geq(r, 0, "record table full after %llu of %llu", (unsigned long long)k, (unsigned long long)n);
		cr_assert_lt((uint64_t)r, n);
		cr_assert_not(seen[r], "record %lld handed out twice", (long long)r);
		seen[r] = 1;
		cr_assert_eq(P.recs[r].state, PF_REC_LIVE);
	}
	cr_assert_eq(pf_pool_rec_alloc(&P, 99999, 0, 0, 0, "/x"), -1);
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(live, n);
	cr_assert_eq(used, 0);
	/* a freed record can be allocated again */
	pf_pool_rec_free(&P, 17, NULL, 0);
	cr_assert_eq(P.recs[17].state, PF_REC_FREE);
	cr_assert_eq(pf_pool_rec_alloc(&P, 5, 0, 0, 0, "/y"), 17);
	cr_assert_eq(pf_pool_rec_alloc(&P, 6, 0, 0, 0, "/z"), -1);
}

Test(pool, rec_alloc_fields)
{
	open_load(&P);
	const char *path = "/var/kafka/logs/orders-3/00000000000000012345.log";
	int64_t r = pf_pool_rec_alloc(&P, 987654321, 1700000123, 456789, 3, path);
	cr_assert_geq(r, 0);
	const struct pf_pool_record *rec = &P.recs[r];
	cr_assert_eq(rec->state, PF_REC_LIVE);
	cr_assert_eq(rec->ino, 987654321);
	cr_assert_eq(rec->btime_sec, 1700000123);
	cr_assert_eq(rec->btime_nsec, 456789);
	cr_assert_eq(rec->lo, 3);
	cr_assert_eq(rec->hi, PF_HI_NONE);
	cr_assert_eq(rec->seq, 1);
	cr_assert_eq(rec->size_hint, 0);
	cr_assert_eq(rec->flags, 0);
	cr_assert_eq(rec->path_len, strlen(path));
	cr_assert_eq(memcmp(rec->path, path, strlen(path)), 0);
	cr_assert_eq(rec->path_sum, pf_fnv1a(rec->path, rec->path_len), "path checksum does not match the path");
	cr_assert_eq(P.hdr->next_seq, 2);
	cr_assert_eq(P.nfree_recs, P.nrecords - 1);
}

Test(pool, rec_alloc_clears_a_reused_record)
{
	open_load(&P);
	uint32_t r = rec_new(&P, 1, 0, "/l/t-0/00000000000000000000.log");
	P.recs[r].size_hint = 777;
	P.recs[r].flags = PF_RECF_REAL_VALID;
	P.recs[r].hi = 12;
	pf_pool_rec_free(&P, r, NULL, 0);
	uint32_t r2 = rec_new(&P, 2, 5, "/l/t-0/00000000000000000001.log");
	cr_assert_eq(r2, r, "the freed record was not reused");
	cr_assert_eq(P.recs[r2].size_hint, 0);
	cr_assert_eq(P.recs[r2].flags, 0);
	cr_assert_eq(P.recs[r2].hi, PF_HI_NONE);
	cr_assert_eq(P.recs[r2].lo, 5);
	cr_assert_eq(P.recs[r2].ino, 2);
}

Test(pool, rec_free_returns_record_and_blocks)
{
	open_load(&P);
	uint32_t keep = rec_new(&P, 1, 0, "/l/t-0/00000000000000000000.log");
	uint32_t r = rec_new(&P, 2, 0, "/l/t-0/00000000000000000100.log");
	uint64_t kb = give(&P, keep, 0, -1);
	uint32_t map[6] = { 0 };
	map[0] = (uint32_t)give(&P, r, 0, -1) + 1;
	map[1] = (uint32_t)give(&P, r, 1, -1) + 1;
	map[4] = (uint32_t)give(&P, r, 4, -1) + 1; /* holes at 2, 3, 5 */
	uint64_t nfree = P.nfree, nrecs = P.nfree_recs;
	pf_pool_rec_free(&P, r, map, 6);
	cr_assert_eq(P.recs[r].state, PF_REC_FREE);
	cr_assert_eq(P.blocks[map[0] - 1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[map[1] - 1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[map[4] - 1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[kb], PF_ENTRY(keep, 0), "another record's block was freed");
	cr_assert_eq(P.recs[keep].state, PF_REC_LIVE);
	cr_assert_eq(pf_pool_free_blocks(&P), nfree + 3);
	cr_assert_eq(P.nfree_recs, nrecs + 1);
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(live, 1);
	cr_assert_eq(used, 1);
	/* the record and its blocks come back */
	cr_assert_eq(rec_new(&P, 3, 0, "/l/t-0/00000000000000000200.log"), r);
	cr_assert_eq(pf_pool_block_reserve(&P, (int64_t)map[4] - 1), (int64_t)map[4] - 1);
	/* and a reload agrees */
	reopen_load(&P);
	cr_assert_eq(P.nfree, P.nblocks - 1);
	cr_assert_eq(ngot, 2);
	cr_assert_not_null(got_rec(keep));
	cr_assert_not_null(got_rec(r));
}

Test(pool, seq_increases_and_survives_reopen)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 0, "/a"), b = rec_new(&P, 2, 0, "/b"), c = rec_new(&P, 3, 0, "/c");
	cr_assert_eq(P.recs[a].seq, 1);
	cr_assert_eq(P.recs[b].seq, 2);
	cr_assert_eq(P.recs[c].seq, 3);
	pf_pool_rec_free(&P, b, NULL, 0);
	uint32_t d = rec_new(&P, 4, 0, "/d");
	cr_assert_eq(P.recs[d].seq, 4, "a freed record's seq was reused");
	reopen_load(&P);
	cr_assert_eq(P.hdr->next_seq, 5);
	cr_assert_eq(P.recs[a].seq, 1);
	cr_assert_eq(P.recs[c].seq, 3);
	cr_assert_eq(P.recs[d].seq, 4);
	uint32_t e = rec_new(&P, 5, 0, "/e");
	cr_assert_eq(P.recs[e].seq, 5);
	cr_assert_eq(P.hdr->next_seq, 6);
	/* seq is a mutable field: the header checksum still holds */
	cr_assert_eq(P.hdr->checksum, header_sum(P.hdr));
	pf_pool_close(&P);
	open_rw(&P);
	cr_assert_eq(P.hdr->next_seq, 6);
}

Test(pool, long_path_keeps_its_tail)
{
	open_load(&P);
	char path[400];
	memset(path, 0, sizeof path);
	strcpy(path, "/");
	while (strlen(path) < 300)
		strcat(path, "very-long-directory-name/");
	strcat(path, "orders-12/00000000000000000042.log");
	size_t n = strlen(path);
	uint32_t r = rec_new(&P, 1, 0, path);
	const struct pf_pool_record *rec = &P.recs[r];
	cr_assert_eq(rec->path_len, PF_PATH_MAX_REC);
	cr_assert_eq(memcmp(rec->path, path + n - PF_PATH_MAX_REC, PF_PATH_MAX_REC), 0, "the tail was not kept");
	cr_assert_eq(rec->path_sum, pf_fnv1a(rec->path, rec->path_len));
	/* exactly PF_PATH_MAX_REC fits whole */
	char exact[PF_PATH_MAX_REC + 1];
	memset(exact, 'x', PF_PATH_MAX_REC);
	exact[0] = '/';
	exact[PF_PATH_MAX_REC] = '\0';
	pf_pool_rec_set_path(&P, r, exact);
	cr_assert_eq(rec->path_len, PF_PATH_MAX_REC);
	cr_assert_eq(memcmp(rec->path, exact, PF_PATH_MAX_REC), 0);
	cr_assert_eq(rec->path_sum, pf_fnv1a(exact, PF_PATH_MAX_REC));
}

Test(pool, set_path_replaces_path_and_checksum)
{
	open_load(&P);
	uint32_t r = rec_new(&P, 1, 0, "/logs/t-0/00000000000000000000.log");
	pf_pool_rec_set_path(&P, r, "/logs/t-0/00000000000000000000.log.deleted");
	const struct pf_pool_record *rec = &P.recs[r];
	cr_assert_eq(rec->path_len, strlen("/logs/t-0/00000000000000000000.log.deleted"));
	cr_assert_eq(memcmp(rec->path, "/logs/t-0/00000000000000000000.log.deleted", rec->path_len), 0);
	cr_assert_eq(rec->path_sum, pf_fnv1a(rec->path, rec->path_len));
	pf_pool_rec_set_path(&P, r, "/s");
	cr_assert_eq(rec->path_len, 2);
	cr_assert_eq(memcmp(rec->path, "/s", 2), 0);
	cr_assert_eq(rec->path_sum, pf_fnv1a("/s", 2));
	/* it persists */
	reopen_load(&P);
	cr_assert_eq(P.recs[r].path_len, 2);
	cr_assert_eq(P.recs[r].path_sum, pf_fnv1a(P.recs[r].path, 2));
}

static void *alloc_recs(void *arg)
{
	struct reserver *r = arg;
	int64_t x;
	while ((x = pf_pool_rec_alloc(r->p, 1, 0, 0, 0, "/p")) >= 0)
		r->got[r->n++] = x;
	return NULL;
}

Test(pool, concurrent_rec_allocs_are_distinct)
{
	open_load(&P);
	static struct reserver rs[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		rs[i].p = &P;
		rs[i].n = 0;
		cr_assert_eq(pthread_create(&t[i], NULL, alloc_recs, &rs[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	static unsigned char seen[1 << 20];
	static unsigned char seenseq[1 << 20];
	uint64_t total = 0;
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < rs[i].n; k++) {
			int64_t r = rs[i].got[k];
			cr_assert_not(seen[r], "record %lld allocated twice", (long long)r);
			seen[r] = 1;
			uint64_t s = P.recs[r].seq;
			cr_assert(s >= 1 && s <= P.nrecords);
			cr_assert_not(seenseq[s], "seq %llu given twice", (unsigned long long)s);
			seenseq[s] = 1;
			total++;
		}
	cr_assert_eq(total, P.nrecords);
	cr_assert_eq(P.hdr->next_seq, P.nrecords + 1);
}

/* ---- recovery (pf_pool_load) ---------------------------------------------------------------------------- */

Test(pool, load_delivers_each_record_with_its_blocks)
{
	open_load(&P);
	cr_assert_eq(ngot, 0, "an empty pool delivered records");
	uint32_t a = rec_new(&P, 100, 0, "/l/t-0/00000000000000000000.log");
	uint32_t b = rec_new(&P, 200, 0, "/l/t-1/00000000000000000000.log");
	uint32_t empty = rec_new(&P, 300, 0, "/l/t-2/00000000000000000000.log");
	/* interleave the two records' blocks, out of order */
	uint64_t a2 = give(&P, a, 2, 20), b0 = give(&P, b, 0, 5), a0 = give(&P, a, 0, 30), b5 = give(&P, b, 5, 6);
	uint64_t a1 = give(&P, a, 1, 2);
	pf_pool_close(&P); /* nothing freed */
	reset_got();
	open_load(&P);
	cr_assert_eq(ngot, 3, "delivered %d records, want 3", ngot);
	const struct loaded *la = got_rec(a), *lb = got_rec(b), *le = got_rec(empty);
	cr_assert_not_null(la);
	cr_assert_not_null(lb);
	cr_assert_not_null(le);
	cr_assert_eq(la->len, 3);
	cr_assert_eq(la->map[0], a0 + 1);
	cr_assert_eq(la->map[1], a1 + 1);
	cr_assert_eq(la->map[2], a2 + 1);
	cr_assert_eq(lb->len, 6);
	cr_assert_eq(lb->map[0], b0 + 1);
	for (int i = 1; i < 5; i++)
		cr_assert_eq(lb->map[i], 0, "hole %d of b has block %u", i, lb->map[i] - 1);
	cr_assert_eq(lb->map[5], b5 + 1);
	cr_assert_eq(le->len, 0);
	/* bookkeeping rebuilt */
	cr_assert_eq(P.nfree, P.nblocks - 5);
	cr_assert_eq(P.nfree_recs, P.nrecords - 3);
	cr_assert_eq(P.recs[a].ino, 100);
	cr_assert_eq(P.recs[b].ino, 200);
	/* new allocations avoid what is in use */
	uint32_t c = rec_new(&P, 400, 0, "/x");
	cr_assert(c != a && c != b && c != empty);
	int64_t blk = pf_pool_block_reserve(&P, (int64_t)a0);
	cr_assert_neq(blk, (int64_t)a0, "an owned block was handed out after load");
	cr_assert(blk != (int64_t)a1 && blk != (int64_t)a2 && blk != (int64_t)b0 && blk != (int64_t)b5);
}

Test(pool, load_frees_reserved_blocks)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 0, "/a");
	uint64_t own = give(&P, a, 0, -1);
	int64_t r1 = pf_pool_block_reserve(&P, -1), r2 = pf_pool_block_reserve(&P, -1);
	cr_assert_geq(r1, 0);
	cr_assert_geq(r2, 0);
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	cr_assert_eq(P.blocks[r1], PF_BLOCK_RESERVED, "open alone should not change the tables");
	load_ok(&P);
	cr_assert_eq(P.blocks[r1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[r2], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[own], PF_ENTRY(a, 0));
	cr_assert_eq(P.nfree, P.nblocks - 1);
	cr_assert_eq(ngot, 1);
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(used, 1);
	/* durable: a second reload finds nothing to fix */
	reopen_load(&P);
	cr_assert_eq(P.blocks[r1], PF_BLOCK_FREE);
	cr_assert_eq(P.nfree, P.nblocks - 1);
}

Test(pool, load_finishes_dying_record)
{
	open_load(&P);
	uint32_t keep = rec_new(&P, 1, 0, "/keep");
	uint32_t dying = rec_new(&P, 2, 0, "/dying");
	uint64_t k0 = give(&P, keep, 0, -1);
	uint64_t d0 = give(&P, dying, 0, -1), d1 = give(&P, dying, 1, -1), d7 = give(&P, dying, 7, -1);
	/* a crash right after rec_free's first commit point */
	P.recs[dying].state = PF_REC_DYING;
	pf_pool_close(&P);
	reset_got();
	open_load(&P);
	cr_assert_eq(P.recs[dying].state, PF_REC_FREE);
	cr_assert_eq(P.blocks[d0], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[d1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[d7], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[k0], PF_ENTRY(keep, 0));
	cr_assert_eq(ngot, 1);
	cr_assert_not_null(got_rec(keep));
	cr_assert_null(got_rec(dying), "a dying record was delivered");
	cr_assert_eq(P.nfree, P.nblocks - 1);
	cr_assert_eq(P.nfree_recs, P.nrecords - 1);
	/* the freed record is allocatable again */
	cr_assert_eq(rec_new(&P, 3, 0, "/n"), dying);
	/* and it stays fixed */
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	cr_assert_eq(P.recs[dying].state, PF_REC_LIVE);
}

Test(pool, load_frees_blocks_outside_lo_hi)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 2, "/a"); /* lo = 2 */
	uint64_t blk[6];
	for (uint32_t i = 0; i < 6; i++)
		blk[i] = give(&P, a, i, -1);
	P.recs[a].hi = 4; /* [2, 4) pool-resident */
	uint32_t b = rec_new(&P, 2, 0, "/b"); /* hi = none: everything is resident */
	uint64_t bb = give(&P, b, 1000, -1);
	pf_pool_close(&P);
	reset_got();
	open_load(&P);
	for (int i = 0; i < 6; i++) {
		if (i >= 2 && i < 4)
			cr_assert_eq(P.blocks[blk[i]], PF_ENTRY(a, i), "resident block %d was freed", i);
		else
			cr_assert_eq(P.blocks[blk[i]], PF_BLOCK_FREE, "stale block %d was kept", i);
	}
	const struct loaded *la = got_rec(a), *lb = got_rec(b);
	cr_assert_not_null(la);
	cr_assert_eq(la->len, 4);
	cr_assert_eq(la->map[0], 0);
	cr_assert_eq(la->map[1], 0);
	cr_assert_eq(la->map[2], blk[2] + 1);
	cr_assert_eq(la->map[3], blk[3] + 1);
	cr_assert_not_null(lb);
	cr_assert_eq(lb->len, 1001);
	cr_assert_eq(lb->map[1000], bb + 1);
	cr_assert_eq(P.nfree, P.nblocks - 3);
	/* everything stale: the record is still delivered, with no blocks */
	P.recs[a].lo = 10;
	P.recs[a].hi = 20;
	reopen_load(&P);
	la = got_rec(a);
	cr_assert_not_null(la);
	cr_assert_eq(la->len, 0);
	cr_assert_eq(P.blocks[blk[2]], PF_BLOCK_FREE);
	cr_assert_eq(P.nfree, P.nblocks - 1);
}

Test(pool, load_refuses_block_of_free_record)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 0, "/a");
	give(&P, a, 0, -1);
	uint32_t freerec = (uint32_t)(a == 0 ? 1 : 0);
	cr_assert_eq(P.recs[freerec].state, PF_REC_FREE);
	int64_t b = pf_pool_block_reserve(&P, -1);
	P.blocks[b] = PF_ENTRY(freerec, 3);
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	load_fails(&P, "not in use");
	char want[64];
	snprintf(want, sizeof want, "block %lld", (long long)b);
	assert_err_has(want);
	/* the pool was not "repaired" by dropping the block */
	cr_assert_eq(P.blocks[b], PF_ENTRY(freerec, 3));
}

Test(pool, load_refuses_block_of_record_out_of_range)
{
	open_load(&P);
	int64_t b = pf_pool_block_reserve(&P, -1);
	P.blocks[b] = PF_ENTRY(P.nrecords + 5, 0);
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	load_fails(&P, "not in use");
	/* an entry whose record half is 0 (neither free, reserved nor (rec + 1) << 32) */
	P.blocks[b] = 12345;
	pf_pool_close(&P);
	open_rw(&P);
	load_fails(&P, "fsck");
}

Test(pool, load_refuses_duplicate_block)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 0, "/a");
	uint32_t other = rec_new(&P, 2, 0, "/b");
	give(&P, other, 0, -1);
	uint64_t x = give(&P, a, 4, -1);
	give(&P, a, 5, -1);
	int64_t y = pf_pool_block_reserve(&P, -1);
	P.blocks[y] = PF_ENTRY(a, 4); /* a second block claims (a, 4) */
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	load_fails(&P, "both hold");
	char want[128];
	snprintf(want, sizeof want, "blocks %llu and %lld", (unsigned long long)x, (long long)y);
	assert_err_has(want);
}

Test(pool, load_refuses_invalid_record_state)
{
	open_load(&P);
	rec_new(&P, 1, 0, "/a");
	P.recs[5].state = 7;
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	load_fails(&P, "invalid state");
	assert_err_has("record 5");
	/* nothing was changed by the refused load */
	cr_assert_eq(P.recs[5].state, 7);
	pf_pool_close(&P);
	open_rw(&P);
	P.recs[5].state = UINT64_MAX;
	load_fails(&P, "invalid state");
}

static int refuse_second(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t len)
{
	int *calls = arg;
	free(map);
	return ++*calls == 2 ? -7 : 0;
}

Test(pool, load_stops_at_callback_error)
{
	open_load(&P);
	for (int i = 0; i < 4; i++) {
		uint32_t r = rec_new(&P, (uint64_t)i + 1, 0, "/r");
		give(&P, r, 0, -1);
	}
	pf_pool_close(&P);
	open_rw(&P);
	int calls = 0;
	int rc = pf_pool_load(&P, refuse_second, &calls, &E);
	cr_assert_neq(rc, 0, "a callback error was swallowed");
	cr_assert_eq(calls, 2, "records were delivered after the callback failed");
	/* the maps not delivered were freed: checked by the leak check at teardown under ASan */
}

/* ---- read-only attach (tools while the broker holds the pool) --------------------------------------------- */

Test(pool, readonly_load_delivers_live_blocks_and_writes_nothing)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 1, "/a"); /* lo = 1 */
	uint32_t d = rec_new(&P, 2, 0, "/dying");
	uint64_t a0 = give(&P, a, 0, -1); /* stale: below lo */
	uint64_t a1 = give(&P, a, 1, -1), a3 = give(&P, a, 3, -1);
	uint64_t d0 = give(&P, d, 0, -1);
	int64_t resv = pf_pool_block_reserve(&P, -1);
	cr_assert_geq(resv, 0);
	P.recs[d].state = PF_REC_DYING; /* the writer is half way through freeing d */
	uint64_t before[4096];
	cr_assert_leq(P.nblocks, 4096);
	memcpy(before, P.blocks, P.nblocks * 8);

	open_in(&Q, pooldir, 0, BS, 1);
	E.msg[0] = '\0';
	int rc = pf_pool_load(&Q, collect, NULL, &E);
	cr_assert_eq(rc, 0, "read-only load: %s", E.msg);
	cr_assert_eq(ngot, 1, "delivered %d records, want only the live one", ngot);
	const struct loaded *la = got_rec(a);
	cr_assert_not_null(la);
	cr_assert_eq(la->len, 4);
	cr_assert_eq(la->map[0], 0, "a stale block was delivered read-only");
	cr_assert_eq(la->map[1], a1 + 1);
	cr_assert_eq(la->map[2], 0);
	cr_assert_eq(la->map[3], a3 + 1);
	/* nothing written: the writer's tables are exactly as they were */
	cr_assert_eq(memcmp(before, P.blocks, P.nblocks * 8), 0, "a read-only load changed the block table");
	cr_assert_eq(P.blocks[a0], PF_ENTRY(a, 0));
	cr_assert_eq(P.blocks[resv], PF_BLOCK_RESERVED);
	cr_assert_eq(P.blocks[d0], PF_ENTRY(d, 0));
	cr_assert_eq(P.recs[d].state, PF_REC_DYING);
}

Test(pool, readonly_load_tolerates_states_in_flux)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 0, "/a");
	uint64_t a0 = give(&P, a, 0, -1);
	/* states a writer passes through, or that only fsck should judge: a read-only reader must not fail */
	uint32_t freerec = (uint32_t)(a == 0 ? 1 : 0);
	int64_t x = pf_pool_block_reserve(&P, -1), y = pf_pool_block_reserve(&P, -1);
	P.blocks[x] = PF_ENTRY(freerec, 0); /* published before its record went LIVE (as seen racily) */
	P.blocks[y] = PF_ENTRY(a, 0);       /* a duplicate */
	P.recs[7].state = 9;
	open_in(&Q, pooldir, 0, BS, 1);
	E.msg[0] = '\0';
	int rc = pf_pool_load(&Q, collect, NULL, &E);
	cr_assert_eq(rc, 0, "read-only load failed: %s", E.msg);
	const struct loaded *la = got_rec(a);
	cr_assert_not_null(la);
	cr_assert_eq(la->len, 1);
	cr_assert(la->map[0] == a0 + 1 || la->map[0] == (uint64_t)y + 1);
	cr_assert_null(got_rec(freerec));
	cr_assert_eq(P.recs[7].state, 9, "read-only load wrote the record table");
	/* the writer's own load would refuse the same tables */
	pf_pool_close(&Q);
	reset_got();
	pf_pool_close(&P);
	open_rw(&P);
	load_fails(&P, "fsck");
}
