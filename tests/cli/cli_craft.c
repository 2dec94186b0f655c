/*
 * cli_craft - damage a pool's tables in one precise way, for the `pafka fsck` tests (layout from
 * src/pool_format.h; the pool must not be in use). Prints what it did as "key=value" words.
 *
 *   cli_craft POOLFILE list            one line per live record: rec= state= ino= lo= hi= blocks= path=
 *   cli_craft POOLFILE header-flip OFF flip the bits of header byte OFF (checksummed part: OFF < 104)
 *   cli_craft POOLFILE free-owner      a free block now belongs to a free record
 *   cli_craft POOLFILE dup             a free block now holds the same file block as a live record's block
 *   cli_craft POOLFILE reserve         a free block becomes RESERVED
 *   cli_craft POOLFILE past-eof        a free block becomes block 4000 of a live record (far past its EOF)
 *   cli_craft POOLFILE dying           a free record becomes DYING and owns a free block
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool_format.h"

static struct pf_pool_header *h;
static struct pf_pool_record *recs;
static uint64_t *blocks;

static int64_t find_block(uint64_t want)
{
	for (uint64_t b = 0; b < h->nblocks; b++)
		if (blocks[b] == want)
			return (int64_t)b;
	return -1;
}

static int64_t find_rec(uint64_t state)
{
	for (uint64_t r = 0; r < h->nrecords; r++)
		if (recs[r].state == state)
			return (int64_t)r;
	return -1;
}

/* A block owned by a live record, inside its window: sets *rec and *idx. */
static int64_t owned_block(uint32_t *rec, uint32_t *idx)
{
	for (uint64_t b = 0; b < h->nblocks; b++) {
		uint64_t e = blocks[b];
		if (e == PF_BLOCK_FREE || e == PF_BLOCK_RESERVED)
			continue;
		uint32_t r = PF_ENTRY_REC(e);
		if (r < h->nrecords && recs[r].state == PF_REC_LIVE) {
			*rec = r;
			*idx = PF_ENTRY_IDX(e);
			return (int64_t)b;
		}
	}
	return -1;
}

static int fail(const char *what)
{
	fprintf(stderr, "cli_craft: %s\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return fail("usage: cli_craft POOLFILE {list|header-flip OFF|free-owner|dup|reserve|past-eof|dying}");
	int fd = open(argv[1], O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail("cannot open the pool");
	char *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return fail("cannot map the pool");
	h = (struct pf_pool_header *)base;
	const char *op = argv[2];
	if (!strcmp(op, "header-flip") && argc > 3) {
		long off = strtol(argv[3], NULL, 0);
		if (off < 0 || off >= PF_HEADER_SIZE)
			return fail("offset outside the header");
		base[off] ^= (char)0xff;
		printf("flipped=%ld\n", off);
		return msync(base, PF_HEADER_SIZE, MS_SYNC) == 0 ? 0 : fail("msync");
	}
	recs = (struct pf_pool_record *)(base + h->rec_off);
	blocks = (uint64_t *)(base + h->blk_off);
	int64_t freeb = find_block(PF_BLOCK_FREE);
	if (!strcmp(op, "list")) {
		for (uint64_t r = 0; r < h->nrecords; r++) {
			if (recs[r].state == PF_REC_FREE)
				continue;
			uint64_t n = 0;
			for (uint64_t b = 0; b < h->nblocks; b++)
				n += blocks[b] != PF_BLOCK_FREE && blocks[b] != PF_BLOCK_RESERVED && PF_ENTRY_REC(blocks[b]) == r;
			printf("rec=%llu state=%llu ino=%llu lo=%llu hi=%lld blocks=%llu path=%.*s\n", (unsigned long long)r,
			       (unsigned long long)recs[r].state, (unsigned long long)recs[r].ino,
			       (unsigned long long)recs[r].lo, (long long)recs[r].hi, (unsigned long long)n,
			       (int)(recs[r].path_len <= PF_PATH_MAX_REC ? recs[r].path_len : 0), recs[r].path);
		}
		return 0;
	}
	if (freeb < 0)
		return fail("no free block");
	uint32_t rec, idx;
	if (!strcmp(op, "free-owner")) {
		int64_t r = find_rec(PF_REC_FREE);
		if (r < 0)
			return fail("no free record");
		blocks[freeb] = PF_ENTRY(r, 0);
		printf("block=%lld rec=%lld\n", (long long)freeb, (long long)r);
	} else if (!strcmp(op, "dup")) {
		int64_t b = owned_block(&rec, &idx);
		if (b < 0)
			return fail("no owned block");
		blocks[freeb] = PF_ENTRY(rec, idx);
		printf("block=%lld copy_of=%lld rec=%u idx=%u\n", (long long)freeb, (long long)b, rec, idx);
	} else if (!strcmp(op, "reserve")) {
		blocks[freeb] = PF_BLOCK_RESERVED;
		printf("block=%lld\n", (long long)freeb);
	} else if (!strcmp(op, "past-eof")) {
		if (owned_block(&rec, &idx) < 0)
			return fail("no owned block");
		blocks[freeb] = PF_ENTRY(rec, 4000);
		printf("block=%lld rec=%u idx=4000\n", (long long)freeb, rec);
	} else if (!strcmp(op, "dying")) {
		int64_t r = find_rec(PF_REC_FREE);
		if (r < 0)
			return fail("no free record");
		recs[r].state = PF_REC_DYING;
		blocks[freeb] = PF_ENTRY(r, 0);
		printf("block=%lld rec=%lld\n", (long long)freeb, (long long)r);
	} else {
		return fail("unknown operation");
	}
	return msync(base, (size_t)h->data_off, MS_SYNC) == 0 ? 0 : fail("msync");
}
