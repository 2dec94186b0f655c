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
#include "fault.h"
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
	int broken;
	char why[160];
};
static struct loaded got[64];
static int ngot;

static void reset_got(void)
{
	for (int i = 0; i < ngot; i++)
		free(got[i].map);
	ngot = 0;
}

static int collect(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t len, int broken,
		   const char *why)
{
	if (ngot >= (int)(sizeof got / sizeof got[0])) {
		free(map);
		return -1;
	}
	got[ngot] = (struct loaded){ rec, map, len, broken, "" };
	if (why)
		snprintf(got[ngot].why, sizeof got[ngot].why, "%s", why);
	ngot++;
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

/* ---- the tables through the format's encoders (pool_format.h) */

/* The owned entry of physical block phys holding block idx of rec. */
static uint64_t ENT(const struct pf_pool *p, uint64_t phys, uint32_t rec, uint32_t idx)
{
	return pf_entry2(p->salt, phys, rec, idx);
}

/* Record r decoded; its checks must hold. */
static struct pf_rec_view RV(const struct pf_pool *p, uint32_t r)
{
	struct pf_rec_view v;
	char why[160];
	int d = pf_pool_rec_decode(p, r, &v);
	cr_assert_eq(d, 0, "record %u fails its checks: %s", r, pf_rec_bad_str(v.bad, why, sizeof why));
	return v;
}

static uint64_t STATE(const struct pf_pool *p, uint32_t r)
{
	return pf_pool_rec_state(p, r);
}

/* A crash state the protocol passes through: record r's state word, validly encoded. */
static void set_state(struct pf_pool *p, uint32_t r, uint64_t state)
{
	p->recs[r].state_w = state == PF_REC_FREE ? 0 : pf_rec_word32(p->salt, r, p->recs[r].seq, PF_CK_STATE, (uint32_t)state);
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
	cr_assert_eq(p->blocks[b], ENT(p, (uint64_t)b, rec, idx));
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
	uint32_t er, ei;
	cr_assert_eq(pf_pool_entry(&P, c, &er, &ei), PF_ENT_OWNED);
	cr_assert_eq(er, r2);
	cr_assert_eq(ei, 4);
	pf_pool_block_free(&P, b);
	cr_assert_eq(P.blocks[b], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[a], ENT(&P, a, r1, 0));
	cr_assert_eq(P.nfree, P.nblocks - 3);
	usage(&P, &live, &used);
	cr_assert_eq(used, 3);
	cr_assert_eq(live, 2);
}

Test(pool, entry_encoding)
{
	/* format 1 (old pools): the properties the upgrade relies on */
	cr_assert_eq(PF_ENTRY1(0, 0), 1ULL << 32, "record 0 block 0 must not look free");
	cr_assert_neq(PF_ENTRY1(0, 0), PF_BLOCK_FREE);
	cr_assert_eq(PF_ENTRY1_REC(PF_ENTRY1(1023, 77)), 1023);
	cr_assert_eq(PF_ENTRY1_IDX(PF_ENTRY1(1023, 77)), 77);
	cr_assert_eq(PF_ENTRY1_IDX(PF_ENTRY1(5, UINT32_MAX)), UINT32_MAX);
	cr_assert_neq(PF_ENTRY1((1u << 20) - 1, UINT32_MAX), PF_BLOCK_RESERVED, "the largest record table collides");
	cr_assert_eq(PF_ENTRY1((1u << 20) - 1, UINT32_MAX) & PF_E2_OWNED, 0, "a format-1 entry has bit 63 set");
	/* format 2: owned entries round-trip, never look free or reserved, and are bound to their block */
	uint64_t salt = pf_mix64(42);
	uint32_t rec, idx;
	enum pf_entry_fault f;
	static const uint32_t recs[] = { 0, 1, 1023, (uint32_t)PF_MAX_RECORDS - 1 };
	static const uint32_t idxs[] = { 0, 77, (uint32_t)PF_MAX_FILE_BLOCKS - 1 };
	for (size_t a = 0; a < sizeof recs / sizeof recs[0]; a++)
		for (size_t b = 0; b < sizeof idxs / sizeof idxs[0]; b++) {
			uint64_t e = pf_entry2(salt, 5, recs[a], idxs[b]);
			cr_assert_neq(e, PF_BLOCK_FREE);
			cr_assert_neq(e, PF_BLOCK_RESERVED, "the largest record table collides");
			cr_assert(e & PF_E2_OWNED);
			cr_assert_eq(pf_entry_decode(salt, 1, PF_MAX_RECORDS, 5, e, &rec, &idx, &f), PF_ENT_OWNED);
			cr_assert_eq(rec, recs[a]);
			cr_assert_eq(idx, idxs[b]);
			/* at another block, with another salt, or with any one bit flipped: refused */
			cr_assert_eq(pf_entry_decode(salt, 1, PF_MAX_RECORDS, 6, e, &rec, &idx, &f), PF_ENT_CORRUPT);
			cr_assert_eq(f, PF_EF_CHECK);
			cr_assert_eq(pf_entry_decode(salt + 1, 1, PF_MAX_RECORDS, 5, e, &rec, &idx, &f), PF_ENT_CORRUPT);
			for (int bit = 0; bit < 64; bit++) {
				uint64_t x = e ^ (1ULL << bit);
				if (x == PF_BLOCK_FREE || x == PF_BLOCK_RESERVED)
					continue;
				cr_assert_eq(pf_entry_decode(salt, 1, PF_MAX_RECORDS, 5, x, &rec, &idx, &f), PF_ENT_CORRUPT,
					     "entry %#llx with bit %d flipped still decodes", (unsigned long long)e, bit);
			}
		}
	/* a format-1 entry in a format-2 pool is refused; in a format-1 pool it is read */
	cr_assert_eq(pf_entry_decode(salt, 1, 1024, 5, PF_ENTRY1(3, 4), &rec, &idx, &f), PF_ENT_CORRUPT);
	cr_assert_eq(f, PF_EF_FORMAT1);
	cr_assert_eq(pf_entry_decode(salt, 0, 1024, 5, PF_ENTRY1(3, 4), &rec, &idx, &f), PF_ENT_OWNED);
	cr_assert(rec == 3 && idx == 4);
	/* a record beyond the table */
	cr_assert_eq(pf_entry_decode(salt, 1, 1024, 5, pf_entry2(salt, 5, 1024, 0), &rec, &idx, &f), PF_ENT_CORRUPT);
	cr_assert_eq(f, PF_EF_RECORD);
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
		cr_assert_eq(STATE(&P, (uint32_t)r), PF_REC_LIVE);
	}
	cr_assert_eq(pf_pool_rec_alloc(&P, 99999, 0, 0, 0, "/x"), -1);
	uint64_t live, used;
	usage(&P, &live, &used);
	cr_assert_eq(live, n);
	cr_assert_eq(used, 0);
	/* a freed record can be allocated again */
	pf_pool_rec_free(&P, 17, NULL, 0);
	cr_assert_eq(STATE(&P, 17), PF_REC_FREE);
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
	struct pf_rec_view v = RV(&P, (uint32_t)r);
	cr_assert_eq(v.state, PF_REC_LIVE);
	cr_assert_eq(v.ino, 987654321);
	cr_assert_eq(v.btime_sec, 1700000123);
	cr_assert_eq(v.btime_nsec, 456789);
	cr_assert_eq(v.lo, 3);
	cr_assert_eq(v.hi, PF_HI_NONE);
	cr_assert_eq(v.seq, 1);
	cr_assert_eq(v.size_hint, 0);
	cr_assert_eq(v.flags, 0);
	cr_assert_eq(v.size, PF_SIZE_NONE);
	cr_assert_eq(v.handle_bytes, 0);
	cr_assert_eq(v.format, 2);
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
	pf_pool_rec_set_size_hint(&P, r, 777);
	pf_pool_rec_set_flags(&P, r, PF_RECF_REAL_VALID);
	pf_pool_rec_set_hi(&P, r, 12);
	pf_pool_rec_set_size(&P, r, 12345);
	pf_pool_rec_free(&P, r, NULL, 0);
	uint32_t r2 = rec_new(&P, 2, 5, "/l/t-0/00000000000000000001.log");
	cr_assert_eq(r2, r, "the freed record was not reused");
	struct pf_rec_view v = RV(&P, r2);
	cr_assert_eq(v.size_hint, 0);
	cr_assert_eq(v.flags, 0);
	cr_assert_eq(v.hi, PF_HI_NONE);
	cr_assert_eq(v.lo, 5);
	cr_assert_eq(v.ino, 2);
	cr_assert_eq(v.size, PF_SIZE_NONE);
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
	cr_assert_eq(STATE(&P, r), PF_REC_FREE);
	cr_assert_eq(P.blocks[map[0] - 1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[map[1] - 1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[map[4] - 1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[kb], ENT(&P, kb, keep, 0), "another record's block was freed");
	cr_assert_eq(STATE(&P, keep), PF_REC_LIVE);
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
	cr_assert_eq(rec->path_len, PF_REC2_PATH_CAP);
	cr_assert_eq(memcmp(rec->path, path + n - PF_REC2_PATH_CAP, PF_REC2_PATH_CAP), 0, "the tail was not kept");
	cr_assert_eq(rec->path_sum, pf_fnv1a(rec->path, rec->path_len));
	/* exactly PF_REC2_PATH_CAP fits whole */
	char exact[PF_REC2_PATH_CAP + 1];
	memset(exact, 'x', PF_REC2_PATH_CAP);
	exact[0] = '/';
	exact[PF_REC2_PATH_CAP] = '\0';
	pf_pool_rec_set_path(&P, r, exact);
	cr_assert_eq(rec->path_len, PF_REC2_PATH_CAP);
	cr_assert_eq(memcmp(rec->path, exact, PF_REC2_PATH_CAP), 0);
	cr_assert_eq(rec->path_sum, pf_fnv1a(exact, PF_REC2_PATH_CAP));
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
	cr_assert_eq(P.blocks[own], ENT(&P, own, a, 0));
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
	set_state(&P, dying, PF_REC_DYING);
	pf_pool_close(&P);
	reset_got();
	open_load(&P);
	cr_assert_eq(STATE(&P, dying), PF_REC_FREE);
	cr_assert_eq(P.blocks[d0], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[d1], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[d7], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[k0], ENT(&P, k0, keep, 0));
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
	cr_assert_eq(STATE(&P, dying), PF_REC_LIVE);
}

Test(pool, load_frees_blocks_outside_lo_hi)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 2, "/a"); /* lo = 2 */
	uint64_t blk[6];
	for (uint32_t i = 0; i < 6; i++)
		blk[i] = give(&P, a, i, -1);
	pf_pool_rec_set_hi(&P, a, 4); /* [2, 4) pool-resident */
	uint32_t b = rec_new(&P, 2, 0, "/b"); /* hi = none: everything is resident */
	uint64_t bb = give(&P, b, 1000, -1);
	pf_pool_close(&P);
	reset_got();
	open_load(&P);
	for (int i = 0; i < 6; i++) {
		if (i >= 2 && i < 4)
			cr_assert_eq(P.blocks[blk[i]], ENT(&P, blk[i], a, (uint32_t)i), "resident block %d was freed", i);
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
	pf_pool_rec_set_lo(&P, a, 10);
	pf_pool_rec_set_hi(&P, a, 20);
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
	cr_assert_eq(STATE(&P, freerec), PF_REC_FREE);
	int64_t b = pf_pool_block_reserve(&P, -1);
	P.blocks[b] = ENT(&P, (uint64_t)b, freerec, 3);
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	load_fails(&P, "not in use");
	char want[64];
	snprintf(want, sizeof want, "block %lld", (long long)b);
	assert_err_has(want);
	/* the pool was not "repaired" by dropping the block */
	cr_assert_eq(P.blocks[b], ENT(&P, (uint64_t)b, freerec, 3));
}

Test(pool, load_refuses_block_of_record_out_of_range)
{
	open_load(&P);
	int64_t b = pf_pool_block_reserve(&P, -1);
	P.blocks[b] = ENT(&P, (uint64_t)b, (uint32_t)P.nrecords + 5, 0);
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
	P.blocks[y] = ENT(&P, (uint64_t)y, a, 4); /* a second block claims (a, 4) */
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
	P.recs[5].state_w = 7;
	pf_pool_close(&P);
	reset_got();
	open_rw(&P);
	load_fails(&P, "corrupt");
	assert_err_has("record 5");
	/* nothing was changed by the refused load */
	cr_assert_eq(P.recs[5].state_w, 7);
	pf_pool_close(&P);
	open_rw(&P);
	P.recs[5].state_w = UINT64_MAX;
	load_fails(&P, "corrupt");
}

static int refuse_second(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t len, int broken,
			 const char *why)
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
	set_state(&P, d, PF_REC_DYING); /* the writer is half way through freeing d */
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
	cr_assert_eq(P.blocks[a0], ENT(&P, a0, a, 0));
	cr_assert_eq(P.blocks[resv], PF_BLOCK_RESERVED);
	cr_assert_eq(P.blocks[d0], ENT(&P, d0, d, 0));
	cr_assert_eq(STATE(&P, d), PF_REC_DYING);
}

Test(pool, readonly_load_tolerates_states_in_flux)
{
	open_load(&P);
	uint32_t a = rec_new(&P, 1, 0, "/a");
	uint64_t a0 = give(&P, a, 0, -1);
	/* states a writer passes through, or that only fsck should judge: a read-only reader must not fail */
	uint32_t freerec = (uint32_t)(a == 0 ? 1 : 0);
	int64_t x = pf_pool_block_reserve(&P, -1), y = pf_pool_block_reserve(&P, -1);
	P.blocks[x] = ENT(&P, (uint64_t)x, freerec, 0); /* published before its record went LIVE (as seen racily) */
	P.blocks[y] = ENT(&P, (uint64_t)y, a, 0);       /* a duplicate */
	P.recs[7].state_w = 9;
	open_in(&Q, pooldir, 0, BS, 1);
	E.msg[0] = '\0';
	int rc = pf_pool_load(&Q, collect, NULL, &E);
	cr_assert_eq(rc, 0, "read-only load failed: %s", E.msg);
	const struct loaded *la = got_rec(a);
	cr_assert_not_null(la);
	cr_assert_eq(la->len, 1);
	cr_assert(la->map[0] == a0 + 1 || la->map[0] == (uint64_t)y + 1);
	cr_assert_null(got_rec(freerec));
	cr_assert_eq(P.recs[7].state_w, 9, "read-only load wrote the record table");
	/* the writer's own load would refuse the same tables */
	pf_pool_close(&Q);
	reset_got();
	pf_pool_close(&P);
	open_rw(&P);
	load_fails(&P, "fsck");
}

/* ---- opening without creating (the activation checks markers before anything is created) ----------------- */

Test(pool, nocreate_open_of_a_missing_pool_fails_with_enoent_and_creates_nothing)
{
	open_fails(&P, pooldir, POOL_SIZE, BS, PF_POOL_NOCREATE, "no pool at");
	assert_err_has(poolfile);
	cr_assert_eq(open_errno, ENOENT, "errno %d, want ENOENT", open_errno);
	cr_assert_not(exists(pooldir), "an open without creating made the pool directory");
	/* and in an existing, empty directory: no pool file either */
	cr_assert_eq(mkdir(pooldir, 0700), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, PF_POOL_NOCREATE, "no pool at");
	cr_assert_eq(open_errno, ENOENT);
	cr_assert_not(exists(poolfile), "an open without creating made a pool");
	/* an existing pool opens for writing as before */
	make_pool();
	open_in(&Q, pooldir, POOL_SIZE, BS, PF_POOL_NOCREATE);
	cr_assert_eq(Q.readonly, 0);
}

/* ---- who may have put the pool there ------------------------------------------------------------------- */

static void require_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to give files to another uid (run the unit tests as root to cover ownership)");
}

Test(pool, pool_dir_writable_by_others_refused)
{
	/* another user made the directory world-writable and planted nothing yet: a writer must not create
	 * its pool there; a dir that is only group-writable is refused too */
	static const mode_t modes[] = { 0777, 0770, 0722, 01777 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		unit_rmtree(pooldir);
		cr_assert_eq(mkdir(pooldir, 0700), 0);
		cr_assert_eq(chmod(pooldir, modes[i]), 0);
		open_fails(&P, pooldir, POOL_SIZE, BS, 0, "writable by group or others");
		assert_err_has(pooldir);
		assert_err_has("chmod go-w");
		cr_assert_not(exists(poolfile), "a pool was created in a directory others can write (mode %o)", modes[i]);
	}
	/* an existing pool in such a directory: refused for writing and for reading */
	cr_assert_eq(chmod(pooldir, 0700), 0);
	make_pool();
	cr_assert_eq(chmod(pooldir, 0777), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "writable by group or others");
	open_fails(&P, pooldir, POOL_SIZE, BS, PF_POOL_RDONLY, "writable by group or others");
	/* mode 0755 (an earlier release's mkdir under umask 022): only writability by others matters */
	cr_assert_eq(chmod(pooldir, 0755), 0);
	open_rw(&P);
}

Test(pool, pool_file_writable_by_others_refused)
{
	make_pool();
	static const mode_t modes[] = { 0666, 0660, 0602 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		cr_assert_eq(chmod(poolfile, modes[i]), 0);
		open_fails(&P, pooldir, POOL_SIZE, BS, 0, "writable by group or others");
		assert_err_has(poolfile);
		open_fails(&P, pooldir, POOL_SIZE, BS, PF_POOL_RDONLY, "writable by group or others");
	}
	/* 0644, as an earlier release could have left it: accepted */
	cr_assert_eq(chmod(poolfile, 0644), 0);
	open_rw(&P);
	pf_pool_close(&P);
	open_in(&P, pooldir, 0, BS, PF_POOL_RDONLY);
}

Test(pool, pool_dir_owned_by_another_user_refused)
{
	require_root();
	/* the squatter's directory, mode 0700 so that only ownership gives it away */
	cr_assert_eq(mkdir(pooldir, 0700), 0);
	cr_assert_eq(chown(pooldir, 65534, 65534), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "owned by uid 65534");
	assert_err_has(pooldir);
	assert_err_has("another user");
	cr_assert_not(exists(poolfile), "a pool was created in another user's directory");
	/* with our pool inside: refused for writing; root may read it (tools) */
	cr_assert_eq(chown(pooldir, 0, 0), 0);
	make_pool();
	cr_assert_eq(chown(pooldir, 65534, 65534), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "owned by uid 65534");
	open_in(&P, pooldir, 0, BS, PF_POOL_RDONLY);
}

Test(pool, pool_file_owned_by_another_user_refused)
{
	require_root();
	make_pool();
	cr_assert_eq(chown(poolfile, 65534, 65534), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "owned by uid 65534");
	assert_err_has(poolfile);
	/* root's tools may read it, never a world-writable one */
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	pf_pool_close(&Q);
	cr_assert_eq(chmod(poolfile, 0666), 0);
	open_fails(&Q, pooldir, 0, BS, PF_POOL_RDONLY, "writable by group or others");
	/* the squatting case of the issue: a world-writable directory and a pool of the user's own */
	cr_assert_eq(chown(pooldir, 65534, 65534), 0);
	cr_assert_eq(chmod(pooldir, 0777), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "owned by uid 65534");
}

Test(pool, symlinked_pool_dir_refused)
{
	char real[512];
	snprintf(real, sizeof real, "%s/real", tmpdir);
	cr_assert_eq(mkdir(real, 0700), 0);
	cr_assert_eq(symlink(real, pooldir), 0);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "symbolic link");
	char inside[PATH_MAX];
	snprintf(inside, sizeof inside, "%s/%s", real, PF_POOL_FILE);
	cr_assert_not(exists(inside), "a pool was created through a symlinked directory");
	/* a pool that is there already, reached through the link: refused too */
	open_in(&Q, real, POOL_SIZE, BS, 0);
	pf_pool_close(&Q);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, "symbolic link");
	open_fails(&P, pooldir, POOL_SIZE, BS, PF_POOL_RDONLY, "symbolic link");
}

/* ---- crafted headers (valid checksum): one check, bounded before any arithmetic ------------------------ */

static void header_refused(struct pf_pool_header *h, const char *needle)
{
	h->checksum = header_sum(h);
	file_write_header(h);
	open_fails(&P, pooldir, POOL_SIZE, BS, 0, needle);
	open_fails(&P, pooldir, POOL_SIZE, BS, PF_POOL_RDONLY, needle);
	/* the same verdict from the function the CLI uses */
	struct pf_err e = { "" };
	cr_assert_eq(pf_pool_check_header(h, POOL_SIZE, "x", &e), -1);
	char what[256];
	cr_assert_neq(pf_pool_header_problem(h, POOL_SIZE, what, sizeof what), 0);
}

Test(pool, crafted_geometry_refused)
{
	make_pool();
	struct pf_pool_header h0, h;
	file_read_header(&h0);
	/* 2^56 records: rec_off + nrecords * 256 wraps back to rec_off */
	h = h0;
	h.nrecords = 1ULL << 56;
	h.blk_off = h.rec_off;
	header_refused(&h, "record count");
	/* more records than an entry can name */
	h = h0;
	h.nrecords = PF_MAX_RECORDS + 1;
	h.blk_off = h.rec_off + h.nrecords * PF_RECORD_SIZE;
	header_refused(&h, "geometry");
	h = h0;
	h.nrecords = 0;
	h.blk_off = h.rec_off;
	header_refused(&h, "geometry");
	/* huge nblocks: the data end wraps */
	h = h0;
	h.nblocks = 1ULL << 61;
	header_refused(&h, "block count");
	h = h0;
	h.nblocks = (1ULL << 58) + 1;
	header_refused(&h, "geometry");
	/* data_off moved back by nblocks * block_size: data_off + nblocks * block_size wraps to the old end */
	h = h0;
	h.data_off -= h.nblocks * h.block_size;
	header_refused(&h, "geometry");
	/* not block-aligned; inside the block table; past the end */
	h = h0;
	h.data_off += 8;
	header_refused(&h, "aligned");
	h = h0;
	h.data_off = h.blk_off & ~(h.block_size - 1);
	header_refused(&h, "geometry");
	h = h0;
	h.data_off = POOL_SIZE + h.block_size;
	header_refused(&h, "geometry");
	/* a foreign header size */
	h = h0;
	h.header_size = 512;
	header_refused(&h, "geometry");
	/* the format word: version 2 says 2; version 1 says 0 (format 1) or 2 */
	h = h0;
	h.format = 7;
	header_refused(&h, "format word");
	h = h0;
	h.version = 1;
	h.format = 3;
	header_refused(&h, "format word");
	/* format 1 with an upgrade word naming no record */
	h = h0;
	h.version = 1;
	h.format = 0;
	h.upgrade = 2 * (h.nrecords + 1);
	header_refused(&h, "upgrade word");
	h.upgrade = 1;
	header_refused(&h, "upgrade word");
	/* restored: fine again */
	file_write_header(&h0);
	open_rw(&P);
}

/* ---- integrity of records and entries (format 2) --------------------------------------------------------- */

/* A pool with record a (3 blocks: 0, 1, 2) and record b (1 block), closed. Returns a's blocks in blk. */
static void two_files(uint32_t *a, uint32_t *b, uint64_t blk[4])
{
	open_load(&P);
	*a = rec_new(&P, 100, 0, "/l/t-0/00000000000000000000.log");
	*b = rec_new(&P, 200, 0, "/l/t-1/00000000000000000000.log");
	for (uint32_t i = 0; i < 3; i++) {
		blk[i] = give(&P, *a, i, -1);
		memset(pf_pool_block_ptr(&P, blk[i]), 'a' + (int)i, BS);
	}
	blk[3] = give(&P, *b, 0, -1);
	pf_pool_close(&P);
	reset_got();
}

/* Reload: record r must come back broken, with why naming word, its blocks kept (map and table). */
static void reload_broken(uint32_t r, const uint64_t blk[3], const char *word)
{
	open_rw(&P);
	uint64_t before[4096];
	cr_assert_leq(P.nblocks, 4096);
	memcpy(before, P.blocks, P.nblocks * 8);
	load_ok(&P);
	const struct loaded *l = got_rec(r);
	cr_assert_not_null(l, "the damaged record was not delivered");
	cr_assert_eq(l->broken, 1, "record %u with a damaged %s was delivered as intact", r, word);
	cr_assert(strstr(l->why, word) != NULL, "why '%s' does not name '%s'", l->why, word);
	cr_assert_eq(l->len, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(l->map[i], blk[i] + 1, "block %d of the damaged record is not in its map", i);
	cr_assert_eq(memcmp(before, P.blocks, P.nblocks * 8), 0, "a damaged record's blocks were changed");
	struct pf_rec_view v;
	cr_assert_eq(pf_pool_rec_get(&P, r, &v), -1, "pf_pool_rec_get accepts a damaged record");
	cr_assert_eq(v.bad & PF_RW_IDENT, 0, "the identity should still hold");
	cr_assert_eq(v.ino, 100);
	/* the intact one is delivered as before */
	cr_assert_eq(ngot, 2);
	/* read-only attachers see the same */
	reset_got();
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	int rc = pf_pool_load(&Q, collect, NULL, &E);
	cr_assert_eq(rc, 0, "read-only load: %s", E.msg);
	cr_assert_not_null(got_rec(r));
	cr_assert_eq(got_rec(r)->broken, 1);
}

Test(pool, moved_window_start_is_a_broken_record)
{
	uint32_t a, b;
	uint64_t blk[4];
	two_files(&a, &b, blk);
	open_rw(&P);
	P.recs[a].lo_w += 1; /* the window moves up by one: its block 0 would read from the (empty) real file */
	pf_pool_close(&P);
	reload_broken(a, blk, "window start (lo)");
}

Test(pool, flipped_bits_in_record_words_make_broken_records)
{
	static const struct {
		size_t off;
		int bit;
		const char *word;
	} cases[] = {
		{ offsetof(struct pf_pool_record, flags_w), 0, "flags" },       /* REAL_VALID appears */
		{ offsetof(struct pf_pool_record, hi_w), 3, "window end (hi)" },
		{ offsetof(struct pf_pool_record, hi_w), 40, "window end (hi)" }, /* in the check itself */
		{ offsetof(struct pf_pool_record, lo_w), 63, "window start (lo)" },
		{ offsetof(struct pf_pool_record, state_w), 1, "state" },
		{ offsetof(struct pf_pool_record, size_w), 5, "durable size" },
		{ offsetof(struct pf_pool_record, synced_w), 5, "fsynced size" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uint32_t a, b;
		uint64_t blk[4];
		unit_rmtree(pooldir);
		two_files(&a, &b, blk);
		open_rw(&P);
		uint64_t *w = (uint64_t *)((char *)&P.recs[a] + cases[k].off);
		*w ^= 1ULL << cases[k].bit;
		pf_pool_close(&P);
		reload_broken(a, blk, cases[k].word);
		pf_pool_close(&P);
		pf_pool_close(&Q);
		reset_got();
	}
}

Test(pool, damaged_identity_stops_the_load)
{
	static const size_t offs[] = { offsetof(struct pf_pool_record, ino), offsetof(struct pf_pool_record, btime_nsec),
				       offsetof(struct pf_pool_record, seq), offsetof(struct pf_pool_record, ident_sum),
				       offsetof(struct pf_pool_record, handle) };
	for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
		uint32_t a, b;
		uint64_t blk[4];
		unit_rmtree(pooldir);
		two_files(&a, &b, blk);
		open_rw(&P);
		*((unsigned char *)&P.recs[a] + offs[k]) ^= 0x10;
		pf_pool_close(&P);
		open_rw(&P);
		load_fails(&P, "identity");
		char want[64];
		snprintf(want, sizeof want, "record %u", a);
		assert_err_has(want);
		pf_pool_close(&P);
	}
}

/* The writer and a read-only attacher both refuse the pool, with one line naming the block. */
static void entry_refused(uint64_t b, const char *needle)
{
	open_rw(&P);
	load_fails(&P, needle);
	char want[64];
	snprintf(want, sizeof want, "block %llu", (unsigned long long)b);
	assert_err_has(want);
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	load_fails(&Q, needle);
	pf_pool_close(&Q);
	pf_pool_close(&P);
}

Test(pool, swapped_entries_refused)
{
	uint32_t a, b;
	uint64_t blk[4];
	two_files(&a, &b, blk);
	open_rw(&P);
	uint64_t t = P.blocks[blk[0]];
	P.blocks[blk[0]] = P.blocks[blk[1]];
	P.blocks[blk[1]] = t; /* without checks, a's blocks 0 and 1 would read each other's bytes */
	uint32_t r, i;
	cr_assert_eq(pf_pool_entry(&P, blk[0], &r, &i), PF_ENT_CORRUPT);
	cr_assert_eq(pf_pool_entry(&P, blk[1], &r, &i), PF_ENT_CORRUPT);
	pf_pool_close(&P);
	entry_refused(blk[0] < blk[1] ? blk[0] : blk[1], "integrity check");
	/* between two files */
	open_rw(&P);
	P.blocks[blk[0]] = ENT(&P, blk[0], a, 0);
	P.blocks[blk[1]] = ENT(&P, blk[1], a, 1);
	t = P.blocks[blk[2]];
	P.blocks[blk[2]] = P.blocks[blk[3]];
	P.blocks[blk[3]] = t;
	pf_pool_close(&P);
	entry_refused(blk[2] < blk[3] ? blk[2] : blk[3], "integrity check");
}

Test(pool, flipped_entry_bits_refused)
{
	uint32_t a, b;
	uint64_t blk[4];
	two_files(&a, &b, blk);
	for (int bit = 0; bit < 64; bit += 3) {
		open_rw(&P);
		uint64_t good = ENT(&P, blk[1], a, 1);
		P.blocks[blk[1]] = good ^ (1ULL << bit);
		pf_pool_close(&P);
		entry_refused(blk[1], bit == 63 ? "no format" : "integrity check");
		open_rw(&P);
		P.blocks[blk[1]] = good;
		pf_pool_close(&P);
	}
	open_load(&P); /* restored */
}

Test(pool, block_index_near_the_top_refused)
{
	uint32_t a, b;
	uint64_t blk[4];
	two_files(&a, &b, blk);
	/* the index field at its largest, the check left as it was */
	open_rw(&P);
	P.blocks[blk[2]] |= PF_MAX_FILE_BLOCKS - 1;
	pf_pool_close(&P);
	entry_refused(blk[2], "integrity check");
	/* an index near 2^32 in format 1's encoding, in a format-2 pool */
	open_rw(&P);
	P.blocks[blk[2]] = PF_ENTRY1(a, 0xfffffff0u);
	pf_pool_close(&P);
	entry_refused(blk[2], "no format");
}

/* ---- the setters, handles and limits -------------------------------------------------------------------- */

Test(pool, setters_encode_with_checks)
{
	open_load(&P);
	uint32_t r = rec_new(&P, 7, 2, "/l/t-0/00000000000000000000.log");
	pf_pool_rec_set_hi(&P, r, 9);
	pf_pool_rec_set_flags(&P, r, PF_RECF_REAL_VALID | PF_RECF_UNLINKED);
	pf_pool_rec_set_size(&P, r, 123456);
	struct pf_rec_view v = RV(&P, r);
	cr_assert(v.lo == 2 && v.hi == 9);
	cr_assert_eq(v.flags, PF_RECF_REAL_VALID | PF_RECF_UNLINKED);
	cr_assert_eq(v.size, 123456);
	cr_assert_eq(pf_pool_rec_flags(&P, r), PF_RECF_REAL_VALID | PF_RECF_UNLINKED);
	/* a window end beyond 32 bits: kept as the largest that fits (no block can be that high) */
	pf_pool_rec_set_hi(&P, r, 1ULL << 40);
	cr_assert_eq(RV(&P, r).hi, 0xFFFFFFFEULL);
	pf_pool_rec_set_hi(&P, r, PF_HI_NONE);
	cr_assert_eq(RV(&P, r).hi, PF_HI_NONE);
	pf_pool_rec_set_lo(&P, r, PF_HI_NONE);
	cr_assert_eq(RV(&P, r).lo, PF_HI_NONE);
	/* a size that does not fit 48 bits, or none: not maintained */
	pf_pool_rec_set_size(&P, r, 1ULL << 50);
	cr_assert_eq(RV(&P, r).size, PF_SIZE_NONE);
	pf_pool_rec_set_size(&P, r, PF_SIZE_NONE);
	cr_assert_eq(RV(&P, r).size, PF_SIZE_NONE);
	/* the fsynced size: its own word and check (a size word copied into it fails) */
	cr_assert_eq(RV(&P, r).synced, PF_SIZE_NONE);
	pf_pool_rec_set_synced(&P, r, 4096);
	pf_pool_rec_set_size(&P, r, 8192);
	cr_assert(RV(&P, r).synced == 4096 && RV(&P, r).size == 8192);
	P.recs[r].synced_w = P.recs[r].size_w;
	struct pf_rec_view bad;
	cr_assert(pf_pool_rec_decode(&P, r, &bad) != 0 && (bad.bad & PF_RW_SYNCED));
	pf_pool_rec_set_synced(&P, r, PF_SIZE_NONE);
	cr_assert_eq(RV(&P, r).synced, PF_SIZE_NONE);
	/* each setter is one word: the others still hold after a reload */
	pf_pool_rec_set_lo(&P, r, 3);
	reopen_load(&P);
	v = RV(&P, r);
	cr_assert(v.lo == 3 && v.hi == PF_HI_NONE && v.flags == (PF_RECF_REAL_VALID | PF_RECF_UNLINKED));
	/* a damaged flags word reads as no flags: never a false claim that the real copy is valid */
	P.recs[r].flags_w ^= 1ULL << 45;
	cr_assert_eq(pf_pool_rec_flags(&P, r), 0);
	cr_assert_eq(pf_pool_rec_state(&P, r), PF_REC_LIVE);
	P.recs[r].state_w ^= 1;
	cr_assert_eq(pf_pool_rec_state(&P, r), PF_REC_BAD);
}

Test(pool, record_handle_is_part_of_the_identity)
{
	open_load(&P);
	struct pf_rec_handle h = { .type = 0x81, .bytes = 12 };
	for (int i = 0; i < 12; i++)
		h.h[i] = (unsigned char)(i * 17 + 3);
	int64_t r = pf_pool_rec_alloc_handle(&P, 42, 1700000000, 5, 0, "/l/t-0/00000000000000000000.log", &h);
	cr_assert_geq(r, 0);
	struct pf_rec_view v = RV(&P, (uint32_t)r);
	cr_assert_eq(v.handle_type, 0x81);
	cr_assert_eq(v.handle_bytes, 12);
	cr_assert_eq(memcmp(v.handle, h.h, 12), 0);
	/* too long: refused, nothing allocated */
	struct pf_rec_handle big = { .type = 1, .bytes = PF_HANDLE_MAX + 1 };
	uint64_t nfree = P.nfree_recs;
	errno = 0;
	cr_assert_eq(pf_pool_rec_alloc_handle(&P, 43, 1, 1, 0, "/x", &big), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(P.nfree_recs, nfree);
	/* a window starting beyond what an entry addresses: no record (the file stays on the slow tier) */
	errno = 0;
	cr_assert_eq(pf_pool_rec_alloc(&P, 44, 1, 1, PF_MAX_FILE_BLOCKS, "/y"), -1);
	cr_assert_eq(errno, EFBIG);
	/* a handle byte changed: the identity no longer holds */
	P.recs[r].handle[3] ^= 1;
	pf_pool_close(&P);
	open_rw(&P);
	load_fails(&P, "identity");
}

Test(pool, publishing_an_index_beyond_the_format_stops_the_process)
{
	open_load(&P);
	uint32_t r = rec_new(&P, 1, 0, "/a");
	int64_t b = pf_pool_block_reserve(&P, -1);
	cr_assert_geq(b, 0);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], 2);
		pf_pool_block_publish(&P, (uint64_t)b, r, (uint32_t)PF_MAX_FILE_BLOCKS);
		_exit(0);
	}
	close(pfd[1]);
	char msg[1024];
	ssize_t n = read(pfd[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "publishing an unrepresentable index did not stop the process");
	cr_assert(strstr(msg, "cannot hold block") != NULL, "message: %s", msg);
	cr_assert_eq(P.blocks[b], PF_BLOCK_RESERVED, "the entry was written anyway");
}

/* ---- format 1 (every earlier release's pools): read, upgraded in place, crash-safely ------------------- */

/* The pool file turned into a format-1 pool of the same geometry, with empty tables. */
static struct pf_pool_header v1h;
static void v1_make(void)
{
	make_pool();
	file_read_header(&v1h);
	v1h.version = 1;
	v1h.format = 0;
	v1h.upgrade = 0;
	v1h.next_seq = 1;
	v1h.checksum = header_sum(&v1h);
	file_write_header(&v1h);
	size_t n = (size_t)(v1h.data_off - v1h.rec_off);
	char *zero = calloc(1, n);
	cr_assert_not_null(zero);
	file_write(poolfile, (off_t)v1h.rec_off, zero, n);
	free(zero);
}

static void v1_rec(uint32_t r, uint64_t state, uint64_t ino, uint64_t lo, uint64_t hi, uint64_t flags, const char *path)
{
	struct pf_pool_record_v1 x;
	memset(&x, 0, sizeof x);
	x.state = state;
	x.ino = ino;
	x.btime_sec = 1700000000 + (int64_t)ino;
	x.btime_nsec = ino * 7;
	x.lo = lo;
	x.hi = hi;
	x.seq = v1h.next_seq++;
	x.size_hint = ino * 1000;
	x.flags = flags;
	size_t n = strlen(path);
	if (n > PF_PATH_MAX_REC) /* as the earlier release did: the tail */
		path += n - PF_PATH_MAX_REC, n = PF_PATH_MAX_REC;
	memcpy(x.path, path, n);
	x.path_len = (uint32_t)n;
	x.path_sum = pf_fnv1a(x.path, n);
	file_write(poolfile, (off_t)(v1h.rec_off + r * PF_RECORD_SIZE), &x, sizeof x);
	file_write(poolfile, offsetof(struct pf_pool_header, next_seq), &v1h.next_seq, 8);
}

static void v1_ent(uint64_t phys, uint64_t e)
{
	file_write(poolfile, (off_t)(v1h.blk_off + phys * 8), &e, 8);
}

/* Block phys of the v1 scenario holds these bytes (a pattern of its own). */
static void v1_data(uint64_t phys)
{
	static char buf[BS];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(phys * 131 + i * 7 + 1);
	file_write(poolfile, (off_t)(v1h.data_off + phys * BS), buf, sizeof buf);
}

static int v1_data_ok(const struct pf_pool *p, uint64_t phys)
{
	const char *b = pf_pool_block_ptr(p, phys);
	for (size_t i = 0; i < BS; i++)
		if (b[i] != (char)(phys * 131 + i * 7 + 1))
			return 0;
	return 1;
}

static char longpath[300];

/* Records: 0 all in the pool; 2 window [2, 5) with stale copies below and above and a long path; 3 dying;
 * 4 an unfinished promotion; 6 no blocks, a window end beyond 32 bits. Block 9 reserved. */
static void v1_scenario(void)
{
	v1_make();
	memset(longpath, 0, sizeof longpath);
	strcpy(longpath, "/");
	while (strlen(longpath) < 200)
		strcat(longpath, "a-long-directory/");
	strcat(longpath, "orders-7/00000000000000000042.log");
	v1_rec(0, PF_REC_LIVE, 100, 0, PF_HI_NONE, 0, "/l/t-0/00000000000000000000.log");
	v1_rec(2, PF_REC_LIVE, 200, 2, 5, PF_RECF_REAL_VALID, longpath);
	v1_rec(3, PF_REC_DYING, 300, 0, PF_HI_NONE, 0, "/l/t-3/00000000000000000000.log");
	v1_rec(4, PF_REC_LIVE, 400, PF_HI_NONE, PF_HI_NONE, 0, "/l/t-4/00000000000000000000.log");
	v1_rec(6, PF_REC_LIVE, 600, 0, 1ULL << 40, 0, "/l/t-6/00000000000000000000.log");
	static const struct {
		uint64_t phys;
		uint32_t rec, idx;
	} ents[] = { { 3, 0, 0 }, { 4, 0, 1 }, { 10, 0, 2 }, { 0, 2, 1 }, { 1, 2, 2 }, { 5, 2, 4 }, { 6, 2, 7 },
		     { 7, 3, 0 }, { 8, 4, 0 } };
	for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
		v1_ent(ents[k].phys, PF_ENTRY1(ents[k].rec, ents[k].idx));
		v1_data(ents[k].phys);
	}
	v1_ent(9, PF_BLOCK_RESERVED);
}

/* What recovery must deliver from the v1 scenario, whatever format it is in by now (load_ok done). */
static void v1_check_delivered(const struct pf_pool *p)
{
	cr_assert_eq(ngot, 4, "delivered %d records, want 4", ngot);
	const struct loaded *l0 = got_rec(0), *l2 = got_rec(2), *l4 = got_rec(4), *l6 = got_rec(6);
	cr_assert(l0 && l2 && l4 && l6, "a live record was not delivered");
	cr_assert_null(got_rec(3), "a dying record was delivered");
	cr_assert(!l0->broken && !l2->broken && !l4->broken && !l6->broken);
	cr_assert_eq(l0->len, 3);
	cr_assert(l0->map[0] == 4 && l0->map[1] == 5 && l0->map[2] == 11);
	cr_assert_eq(l2->len, 5);
	cr_assert(l2->map[0] == 0 && l2->map[1] == 0 && l2->map[2] == 2 && l2->map[3] == 0 && l2->map[4] == 6,
		  "record 2's map: stale blocks delivered or resident ones lost");
	cr_assert_eq(l4->len, 0);
	cr_assert_eq(l6->len, 0);
	for (uint64_t phys = 0; phys <= 10; phys++)
		if (phys != 2 && phys != 9)
			cr_assert(v1_data_ok(p, phys), "the bytes of block %llu changed", (unsigned long long)phys);
}

/* The records after the upgrade: every field of the format-1 record, in format 2. */
static void v1_check_records(const struct pf_pool *p)
{
	static const struct {
		uint32_t r;
		uint64_t ino, lo, hi, flags, seq;
	} want[] = { { 0, 100, 0, PF_HI_NONE, 0, 1 },
		     { 2, 200, 2, 5, PF_RECF_REAL_VALID, 2 },
		     { 4, 400, PF_HI_NONE, PF_HI_NONE, 0, 4 },
		     { 6, 600, 0, 0xFFFFFFFEULL, 0, 5 } };
	for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
		struct pf_rec_view v = RV(p, want[k].r);
		cr_assert_eq(v.state, PF_REC_LIVE);
		cr_assert_eq(v.ino, want[k].ino);
		cr_assert_eq(v.btime_sec, 1700000000 + (int64_t)want[k].ino);
		cr_assert_eq(v.btime_nsec, want[k].ino * 7);
		cr_assert_eq(v.lo, want[k].lo, "record %u: lo %llu", want[k].r, (unsigned long long)v.lo);
		cr_assert_eq(v.hi, want[k].hi, "record %u: hi %llu", want[k].r, (unsigned long long)v.hi);
		cr_assert_eq(v.flags, want[k].flags);
		cr_assert_eq(v.seq, want[k].seq);
		cr_assert_eq(v.size_hint, want[k].ino * 1000);
	}
	char path[PF_PATH_MAX_REC + 1];
	cr_assert_eq(pf_pool_rec_path_at(p, 0, path), 1);
	cr_assert_str_eq(path, "/l/t-0/00000000000000000000.log");
	cr_assert_eq(pf_pool_rec_path_at(p, 2, path), 1);
	size_t n = strlen(longpath), m = p->hdr->format == PF_FORMAT_2 ? PF_REC2_PATH_CAP : PF_PATH_MAX_REC;
	cr_assert_str_eq(path, longpath + n - (n > m ? m : n), "the path hint's tail was not kept");
}

Test(pool, format1_pool_is_read_then_upgraded_in_place)
{
	v1_scenario();
	/* read-only (a tool while an earlier release's broker runs): format 1 as it is, nothing written */
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	cr_assert_eq(pf_pool_format(&Q), 1);
	cr_assert_eq(pf_pool_rec_state(&Q, 3), PF_REC_DYING);
	char path[PF_PATH_MAX_REC + 1];
	cr_assert_eq(pf_pool_rec_path_at(&Q, 2, path), 1);
	cr_assert_str_eq(path, longpath + strlen(longpath) - PF_PATH_MAX_REC, "format 1's hint holds 160 bytes");
	uint32_t r, i;
	cr_assert_eq(pf_pool_entry(&Q, 5, &r, &i), PF_ENT_OWNED);
	cr_assert(r == 2 && i == 4);
	E.msg[0] = '\0';
	cr_assert_eq(pf_pool_load(&Q, collect, NULL, &E), 0, "%s", E.msg);
	v1_check_delivered(&Q);
	pf_pool_close(&Q);
	reset_got();
	struct pf_pool_header h;
	file_read_header(&h);
	cr_assert_eq(h.format, 0, "a read-only load changed the format");
	/* the writer: upgraded at load, before recovery */
	open_rw(&P);
	cr_assert_eq(pf_pool_format(&P), 1);
	load_ok(&P);
	cr_assert_eq(pf_pool_format(&P), 2);
	cr_assert_eq(P.hdr->version, 1, "the checksummed version changed");
	cr_assert_eq(P.hdr->checksum, header_sum(P.hdr));
	cr_assert_eq(P.hdr->format, PF_FORMAT_2);
	v1_check_delivered(&P);
	v1_check_records(&P);
	cr_assert_eq(STATE(&P, 3), PF_REC_FREE);
	for (uint64_t b = 0; b < P.nblocks; b++) {
		uint64_t e = P.blocks[b];
		cr_assert(e == PF_BLOCK_FREE || (e & PF_E2_OWNED), "entry %llu is still in format 1", (unsigned long long)b);
	}
	cr_assert_eq(P.blocks[9], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[0], PF_BLOCK_FREE, "a stale copy survived");
	cr_assert_eq(P.blocks[6], PF_BLOCK_FREE, "a stale copy survived");
	cr_assert_eq(P.nfree, P.nblocks - 5);
	/* it stays upgraded, and keeps working */
	uint32_t n = rec_new(&P, 900, 0, "/l/t-9/00000000000000000000.log");
	give(&P, n, 0, -1);
	reopen_load(&P);
	cr_assert_eq(ngot, 5);
	cr_assert_eq(P.hdr->next_seq, 7);
	cr_assert_eq(RV(&P, n).seq, 6, "a seq was given twice");
	v1_check_records(&P);
}

static const char *const upgrade_points[] = { "pool.upgrade.scratch", "pool.upgrade.mark", "pool.upgrade.record",
					      "pool.upgrade.done", "pool.upgrade.entry", "pool.upgrade.format" };

/* In a child: open and load with PAFKA_FAULT=point:n. Returns 1 when the child was killed there, 0 when it
 * finished (the point is hit fewer than n times). */
static int killed_at(const char *point, int n)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char v[128];
		snprintf(v, sizeof v, "%s:%d", point, n);
		setenv("PAFKA_FAULT", v, 1);
		pf_fault_init();
		struct pf_pool c;
		struct pf_err e = { "" };
		if (pf_pool_open(&c, 0, pooldir, POOL_SIZE, 0.5, BS, 0, &e) < 0 || pf_pool_load(&c, collect, NULL, &e) < 0)
			_exit(3);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(!(WIFEXITED(st) && WEXITSTATUS(st) == 3), "the child could not upgrade the pool");
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

Test(pool, upgrade_killed_at_every_step_completes_with_every_byte)
{
	int hit[sizeof upgrade_points / sizeof upgrade_points[0]] = { 0 };
	for (size_t k = 0; k < sizeof upgrade_points / sizeof upgrade_points[0]; k++)
		for (int n = 1; n <= 12; n++) {
			unit_rmtree(pooldir);
			v1_scenario();
			if (!killed_at(upgrade_points[k], n))
				break;
			hit[k]++;
			/* mid-upgrade: a reader sees every record as it was */
			reset_got();
			open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
			E.msg[0] = '\0';
			cr_assert_eq(pf_pool_load(&Q, collect, NULL, &E), 0, "%s:%d, read-only: %s", upgrade_points[k], n, E.msg);
			v1_check_delivered(&Q);
			pf_pool_close(&Q);
			/* the next writer finishes the upgrade: every record and every byte */
			reset_got();
			open_load(&P);
			cr_assert_eq(pf_pool_format(&P), 2, "%s:%d: not upgraded", upgrade_points[k], n);
			v1_check_delivered(&P);
			v1_check_records(&P);
			pf_pool_close(&P);
			reset_got();
		}
	for (size_t k = 0; k < sizeof upgrade_points / sizeof upgrade_points[0]; k++)
		cr_assert_gt(hit[k], 0, "the upgrade never reached %s", upgrade_points[k]);
	cr_assert_geq(hit[0], 4, "every record in use (4 live, 1 dying) goes through the copy");
}

/* The pool's metadata (header and tables), to show a refused upgrade changed nothing. */
static char *meta_copy(size_t *n)
{
	*n = (size_t)v1h.data_off;
	char *m = malloc(*n);
	cr_assert_not_null(m);
	int fd = open(poolfile, O_RDONLY);
	cr_assert_eq(pread(fd, m, *n, 0), (ssize_t)*n);
	close(fd);
	return m;
}

static void upgrade_refused(const char *needle)
{
	size_t n;
	char *before = meta_copy(&n);
	open_rw(&P);
	memset(E.msg, 0, sizeof E.msg);
	cr_assert_neq(pf_pool_load(&P, collect, NULL, &E), 0, "a pool format 2 cannot hold was upgraded ('%s')", needle);
	assert_one_line(E.msg);
	assert_err_has(needle);
	cr_assert_eq(ngot, 0, "pf_pool_load delivered records of a pool it refused");
	pf_pool_close(&P);
	char *after = meta_copy(&n);
	cr_assert_eq(memcmp(before, after, n), 0, "a refused upgrade changed the pool");
	free(before);
	free(after);
	/* fsck's read-only check says the same */
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	struct pf_err e = { "" };
	cr_assert_eq(pf_pool_upgrade_check(&Q, &e), -1);
	cr_assert(strstr(e.msg, needle) != NULL, "'%s' lacks '%s'", e.msg, needle);
	pf_pool_close(&Q);
}

Test(pool, upgrade_refuses_what_format_2_cannot_hold)
{
	/* a resident block beyond 2^27 blocks of its file */
	v1_make();
	v1_rec(0, PF_REC_LIVE, 100, 0, PF_HI_NONE, 0, "/l/t-0/00000000000000000000.log");
	v1_ent(1, PF_ENTRY1(0, 0));
	v1_ent(2, PF_ENTRY1(0, PF_MAX_FILE_BLOCKS + 5));
	upgrade_refused("beyond what pool format 2 addresses");
	/* the same block outside the window is stale: converted to free, the rest kept */
	v1_rec(0, PF_REC_LIVE, 100, 0, 10, 0, "/l/t-0/00000000000000000000.log");
	open_load(&P);
	cr_assert_eq(P.blocks[2], PF_BLOCK_FREE);
	cr_assert_eq(P.blocks[1], ENT(&P, 1, 0, 0));
	pf_pool_close(&P);
	reset_got();
	/* a window start beyond 32 bits */
	unit_rmtree(pooldir);
	v1_make();
	v1_rec(0, PF_REC_LIVE, 100, 1ULL << 33, PF_HI_NONE, 0, "/l/t-0/00000000000000000000.log");
	upgrade_refused("beyond what pool format 2 holds");
	/* a state no release writes */
	unit_rmtree(pooldir);
	v1_make();
	v1_rec(1, 7, 100, 0, PF_HI_NONE, 0, "/l/t-0/00000000000000000000.log");
	upgrade_refused("invalid state");
	/* entries naming a free record or none of the table: upgraded, still naming them (with valid
	 * checks), then refused by recovery as the earlier release did */
	unit_rmtree(pooldir);
	v1_make();
	v1_rec(0, PF_REC_LIVE, 100, 0, PF_HI_NONE, 0, "/l/t-0/00000000000000000000.log");
	v1_ent(4, PF_ENTRY1(1, 0));
	open_rw(&P);
	load_fails(&P, "block 4 belongs to record 1, which is not in use");
	cr_assert_eq(pf_pool_format(&P), 2);
	cr_assert_eq(P.blocks[4], ENT(&P, 4, 1, 0));
	P.blocks[4] = PF_BLOCK_FREE;
	pf_pool_close(&P);
	open_rw(&P);
	load_ok(&P);
	pf_pool_close(&P);
	reset_got();
	unit_rmtree(pooldir);
	v1_make();
	v1_ent(5, PF_ENTRY1(1ULL << 30, 7));
	v1_ent(6, 77); /* a record half of 0 */
	open_rw(&P);
	load_fails(&P, "not in use");
	uint32_t r, i;
	cr_assert_eq(pf_pool_entry(&P, 5, &r, &i), PF_ENT_CORRUPT);
	cr_assert_eq(pf_pool_entry(&P, 6, &r, &i), PF_ENT_CORRUPT);
	cr_assert(P.blocks[5] & PF_E2_OWNED && P.blocks[6] & PF_E2_OWNED, "left in format 1");
}

Test(pool, upgrade_resumes_a_torn_record_from_its_copy)
{
	/* The state a power cut in the middle of rewriting record 2 leaves: its format-1 copy in the header,
	 * the word saying "record 2 is being rewritten", and the record itself half old, half new. */
	v1_scenario();
	struct pf_pool_record_v1 old;
	int fd = open(poolfile, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &old, sizeof old, (off_t)(v1h.rec_off + 2 * PF_RECORD_SIZE)), (ssize_t)sizeof old);
	cr_assert_eq(pwrite(fd, &old, sizeof old, offsetof(struct pf_pool_header, upgrade_rec)), (ssize_t)sizeof old);
	uint64_t word = 2 * (2 + 1);
	cr_assert_eq(pwrite(fd, &word, 8, offsetof(struct pf_pool_header, upgrade)), 8);
	unsigned char torn[PF_RECORD_SIZE];
	memcpy(torn, &old, sizeof torn);
	for (size_t i = 0; i < sizeof torn / 2; i++)
		torn[i] = (unsigned char)(0xa5 ^ i);
	torn[7] |= 0x80; /* a state word of format 2's shape */
	cr_assert_eq(pwrite(fd, torn, sizeof torn, (off_t)(v1h.rec_off + 2 * PF_RECORD_SIZE)), (ssize_t)sizeof torn);
	close(fd);
	/* a reader takes record 2 from the copy */
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	struct pf_rec_view v;
	cr_assert_eq(pf_pool_rec_decode(&Q, 2, &v), 0);
	cr_assert(v.ino == 200 && v.lo == 2 && v.hi == 5 && v.format == 1);
	E.msg[0] = '\0';
	cr_assert_eq(pf_pool_load(&Q, collect, NULL, &E), 0, "%s", E.msg);
	v1_check_delivered(&Q);
	pf_pool_close(&Q);
	reset_got();
	/* the writer rewrites it from the copy */
	open_load(&P);
	cr_assert_eq(pf_pool_format(&P), 2);
	v1_check_delivered(&P);
	v1_check_records(&P);
	pf_pool_close(&P);
	/* a copy that is not a format-1 record in use: refused, nothing guessed */
	unit_rmtree(pooldir);
	reset_got();
	v1_scenario();
	fd = open(poolfile, O_RDWR);
	cr_assert_eq(pwrite(fd, &word, 8, offsetof(struct pf_pool_header, upgrade)), 8);
	close(fd);
	open_in(&Q, pooldir, 0, BS, PF_POOL_RDONLY);
	cr_assert_eq(pf_pool_rec_decode(&Q, 2, &v), -1, "a reader trusted an empty copy");
	cr_assert_neq(v.state, PF_REC_FREE);
	pf_pool_close(&Q);
	upgrade_refused("damaged");
}

/* The format's fixed-width fields at production sizes, up to a 3 TiB PMem pool and beyond (no file: the
 * geometry a pool of that size gets, and the encodings of its extreme values). Prints the metadata size. */
Test(pool, geometry_at_production_sizes)
{
	static const uint64_t sizes[] = { 16ULL << 30, 3ULL << 40, 64ULL << 40, 255ULL << 40 };
	static const uint64_t bss[] = { 64 << 10, 1 << 20 };
	for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++)
		for (size_t b = 0; b < sizeof bss / sizeof bss[0]; b++) {
			struct pf_pool_header h;
			memset(&h, 0, sizeof h);
			cr_assert_eq(pf_pool_layout(&h, sizes[a], bss[b]), 0);
			h.magic = PF_POOL_MAGIC;
			h.version = PF_POOL_VERSION;
			h.header_size = PF_HEADER_SIZE;
			h.format = PF_FORMAT_2;
			h.checksum = pf_fnv1a(&h, offsetof(struct pf_pool_header, checksum));
			char why[256];
			cr_assert_eq(pf_pool_header_problem(&h, sizes[a], why, sizeof why), 0, "%llu GiB, %llu KiB blocks: %s",
				     (unsigned long long)(sizes[a] >> 30), (unsigned long long)(bss[b] >> 10), why);
			/* every physical block + 1 fits the in-memory maps' 32 bits; every record its entry's 21 bits */
			cr_assert_leq(h.nblocks, PF_MAX_BLOCKS);
			cr_assert_leq(h.nrecords, PF_MAX_RECORDS);
			cr_assert_leq(h.data_off + h.nblocks * bss[b], sizes[a]);
			uint32_t maxphys1 = (uint32_t)(h.nblocks - 1) + 1;
			cr_assert_eq((uint64_t)maxphys1, h.nblocks, "block %llu + 1 does not fit 32 bits",
				     (unsigned long long)h.nblocks - 1);
			/* the last block, owned by the last record as the largest file block: round-trips */
			uint64_t salt = pf_mix64(7);
			uint32_t rec, idx;
			enum pf_entry_fault f;
			uint64_t e = pf_entry2(salt, h.nblocks - 1, (uint32_t)h.nrecords - 1, (uint32_t)PF_MAX_FILE_BLOCKS - 1);
			cr_assert_eq(pf_entry_decode(salt, 1, h.nrecords, h.nblocks - 1, e, &rec, &idx, &f), PF_ENT_OWNED);
			cr_assert(rec == h.nrecords - 1 && idx == PF_MAX_FILE_BLOCKS - 1);
			/* a file may be as long as PF_MAX_FILE_BLOCKS blocks: at least 8 TiB at 64 KiB (Kafka: 2 GiB) */
			cr_assert_geq(PF_MAX_FILE_BLOCKS * bss[b], 8ULL << 40);
			cr_log_info("pool %llu GiB, %llu KiB blocks: %llu blocks, %llu records, metadata %llu MiB (%.3f%%)",
				    (unsigned long long)(sizes[a] >> 30), (unsigned long long)(bss[b] >> 10),
				    (unsigned long long)h.nblocks, (unsigned long long)h.nrecords,
				    (unsigned long long)(h.data_off >> 20), 100.0 * (double)h.data_off / (double)sizes[a]);
		}
}
