/*
 * cli_craft - damage a pool in one precise way, for the `pafka fsck` tests and the shim's refusals (layout
 * and encoders from src/pool_format.h; works on format-1 and format-2 pools; the pool must not be in use).
 * Prints what it did as "key=value" words.
 *
 *   cli_craft POOLFILE list              one line per record in use: rec= state= ino= lo= hi= blocks= bad= path=
 *   cli_craft POOLFILE header-flip OFF   flip the bits of header byte OFF (checksummed part: OFF < 104)
 *   cli_craft POOLFILE header-set FIELD VALUE
 *                                        set a header field (nrecords, nblocks, rec_off, blk_off, data_off,
 *                                        block_size, pool_size, version, format, upgrade) and fix the checksum
 *   cli_craft POOLFILE header-wrap-records   nrecords = 2^56 and blk_off = rec_off (the table size wraps)
 *   cli_craft POOLFILE header-wrap-data  data_off moved back by nblocks * block_size (the data end wraps)
 * The tables (entries and record words written with valid checks unless the damage is the check):
 *   free-owner      a free block now belongs to a free record
 *   dup             a free block now holds the same file block as a live record's block
 *   reserve         a free block becomes RESERVED
 *   past-eof        a free block becomes block 4000 of a live record (far past its EOF)
 *   dying           a free record becomes DYING and owns a free block
 *   path-len        a live record's path length becomes 0xffffffff
 *   move-lo         a live record's window start moves up by one (its check left as it was)
 *   swap            two owned entries change places
 *   index-high      an owned entry becomes block 0xfffffff0 of its record, in format 1's encoding
 *   index-max       an owned entry's block index becomes 2^27 - 1 (its check left as it was)
 *   flip-entry BIT  flip bit BIT of an owned entry
 *   flip-rec WORD BIT   flip bit BIT of a live record's WORD (state, ino, btime, seq, ident, lo, hi, flags, size)
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
static char *recbase;
static uint64_t *blocks;
static uint64_t salt;
static int fmt2;

static uint64_t *rec_words(uint64_t r)
{
	return (uint64_t *)(recbase + r * PF_RECORD_SIZE);
}

/* Record r decoded (returns pf_rec_decode_words's verdict). */
static int rec_view(uint64_t r, struct pf_rec_view *v)
{
	uint64_t w[PF_RECORD_SIZE / 8];
	memcpy(w, rec_words(r), sizeof w);
	return pf_rec_decode_words(salt, fmt2, (uint32_t)r, w, v);
}

static uint64_t rec_state(uint64_t r)
{
	struct pf_rec_view v;
	rec_view(r, &v);
	return v.state;
}

static enum pf_entry_kind entry(uint64_t b, uint32_t *rec, uint32_t *idx)
{
	enum pf_entry_fault f;
	return pf_entry_decode(salt, fmt2, h->nrecords, b, blocks[b], rec, idx, &f);
}

/* An owned entry in this pool's format. */
static uint64_t make_entry(uint64_t phys, uint32_t rec, uint32_t idx)
{
	return fmt2 ? pf_entry2(salt, phys, rec, idx) : PF_ENTRY1(rec, idx);
}

static int64_t find_block(uint64_t want, int64_t after)
{
	for (uint64_t b = (uint64_t)(after + 1); b < h->nblocks; b++)
		if (blocks[b] == want)
			return (int64_t)b;
	return -1;
}

static int64_t find_rec(uint64_t state)
{
	for (uint64_t r = 0; r < h->nrecords; r++)
		if (rec_state(r) == state && (state != PF_REC_FREE || rec_words(r)[0] == 0))
			return (int64_t)r;
	return -1;
}

/* The n-th block (from 0) owned by a live record, inside its window: sets *rec and *idx. */
static int64_t owned_block(int n, uint32_t *rec, uint32_t *idx)
{
	for (uint64_t b = 0; b < h->nblocks; b++) {
		uint32_t r, i;
		struct pf_rec_view v;
		if (entry(b, &r, &i) != PF_ENT_OWNED || rec_view(r, &v) != 0 || v.state != PF_REC_LIVE || i < v.lo ||
		    i >= v.hi || n-- > 0)
			continue;
		*rec = r;
		*idx = i;
		return (int64_t)b;
	}
	return -1;
}

/* A live record with pool blocks. */
static int64_t live_rec(void)
{
	uint32_t r, i;
	return owned_block(0, &r, &i) < 0 ? -1 : (int64_t)r;
}

/* The word of a record the damage names. */
static uint64_t *rec_word(uint64_t r, const char *name)
{
	uint64_t *w = rec_words(r);
	static const struct {
		const char *name;
		size_t off2, off1;
	} words[] = {
		{ "state", offsetof(struct pf_pool_record, state_w), offsetof(struct pf_pool_record_v1, state) },
		{ "ino", offsetof(struct pf_pool_record, ino), offsetof(struct pf_pool_record_v1, ino) },
		{ "btime", offsetof(struct pf_pool_record, btime_nsec), offsetof(struct pf_pool_record_v1, btime_nsec) },
		{ "seq", offsetof(struct pf_pool_record, seq), offsetof(struct pf_pool_record_v1, seq) },
		{ "ident", offsetof(struct pf_pool_record, ident_sum), 0 },
		{ "lo", offsetof(struct pf_pool_record, lo_w), offsetof(struct pf_pool_record_v1, lo) },
		{ "hi", offsetof(struct pf_pool_record, hi_w), offsetof(struct pf_pool_record_v1, hi) },
		{ "flags", offsetof(struct pf_pool_record, flags_w), offsetof(struct pf_pool_record_v1, flags) },
		{ "size", offsetof(struct pf_pool_record, size_w), 0 },
	};
	for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
		if (!strcmp(name, words[k].name)) {
			size_t off = fmt2 || rec_words(r)[0] & PF_W_SET ? words[k].off2 : words[k].off1;
			return off || !strcmp(name, "state") ? &w[off / 8] : NULL;
		}
	return NULL;
}

static uint64_t *header_field(const char *name)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{ "pool_size", offsetof(struct pf_pool_header, pool_size) },
		{ "block_size", offsetof(struct pf_pool_header, block_size) },
		{ "nblocks", offsetof(struct pf_pool_header, nblocks) },
		{ "nrecords", offsetof(struct pf_pool_header, nrecords) },
		{ "rec_off", offsetof(struct pf_pool_header, rec_off) },
		{ "blk_off", offsetof(struct pf_pool_header, blk_off) },
		{ "data_off", offsetof(struct pf_pool_header, data_off) },
		{ "format", offsetof(struct pf_pool_header, format) },
		{ "upgrade", offsetof(struct pf_pool_header, upgrade) },
	};
	for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
		if (!strcmp(name, f[k].name))
			return (uint64_t *)((char *)h + f[k].off);
	return NULL;
}

static void fix_checksum(void)
{
	h->checksum = pf_fnv1a(h, offsetof(struct pf_pool_header, checksum));
}

static int fail(const char *what)
{
	fprintf(stderr, "cli_craft: %s\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return fail("usage: cli_craft POOLFILE OP [ARGS] (see the top of cli_craft.c)");
	int fd = open(argv[1], O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail("cannot open the pool");
	if (st.st_size < PF_HEADER_SIZE)
		return fail("not a pool");
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
	if (!strcmp(op, "header-set") && argc > 4) {
		if (!strcmp(argv[3], "version")) {
			h->version = (uint32_t)strtoul(argv[4], NULL, 0);
		} else {
			uint64_t *f = header_field(argv[3]);
			if (!f)
				return fail("unknown header field");
			*f = strtoull(argv[4], NULL, 0);
		}
		fix_checksum();
		printf("%s=%s\n", argv[3], argv[4]);
		return msync(base, PF_HEADER_SIZE, MS_SYNC) == 0 ? 0 : fail("msync");
	}
	if (!strcmp(op, "header-wrap-records")) {
		h->nrecords = 1ULL << 56; /* 2^56 records of 256 bytes: the table's size wraps to 0 */
		h->blk_off = h->rec_off;
		fix_checksum();
		printf("nrecords=%llu blk_off=%llu\n", (unsigned long long)h->nrecords, (unsigned long long)h->blk_off);
		return msync(base, PF_HEADER_SIZE, MS_SYNC) == 0 ? 0 : fail("msync");
	}
	if (!strcmp(op, "header-wrap-data")) {
		h->data_off -= h->nblocks * h->block_size; /* data_off + nblocks * block_size wraps back to fit */
		fix_checksum();
		printf("data_off=%llu\n", (unsigned long long)h->data_off);
		return msync(base, PF_HEADER_SIZE, MS_SYNC) == 0 ? 0 : fail("msync");
	}
	if (h->rec_off >= (uint64_t)st.st_size || h->blk_off >= (uint64_t)st.st_size ||
	    h->nrecords > PF_MAX_RECORDS || h->nblocks > ((uint64_t)st.st_size - h->blk_off) / 8)
		return fail("the header's geometry does not fit the file: damage the tables of a sound pool");
	salt = pf_pool_salt(h->uuid);
	fmt2 = pf_header_format(h) == 2;
	recbase = base + h->rec_off;
	blocks = (uint64_t *)(base + h->blk_off);
	if (!strcmp(op, "list")) {
		for (uint64_t r = 0; r < h->nrecords; r++) {
			if (rec_words(r)[0] == 0)
				continue;
			struct pf_rec_view v;
			int d = rec_view(r, &v);
			uint64_t n = 0;
			for (uint64_t b = 0; b < h->nblocks; b++) {
				uint32_t er, ei;
				n += entry(b, &er, &ei) == PF_ENT_OWNED && er == r;
			}
			uint64_t w[PF_RECORD_SIZE / 8];
			memcpy(w, rec_words(r), sizeof w);
			char path[PF_PATH_MAX_REC + 1];
			if (pf_rec_path_words(w, v.format, path) < 0)
				snprintf(path, sizeof path, "?");
			printf("rec=%llu state=%llu ino=%llu lo=%llu hi=%lld blocks=%llu bad=%d path=%s\n", (unsigned long long)r,
			       (unsigned long long)v.state, (unsigned long long)v.ino, (unsigned long long)v.lo, (long long)v.hi,
			       (unsigned long long)n, d, path);
		}
		return 0;
	}
	int64_t freeb = find_block(PF_BLOCK_FREE, -1);
	uint32_t rec, idx;
	if (!strcmp(op, "free-owner")) {
		int64_t r = find_rec(PF_REC_FREE);
		if (r < 0 || freeb < 0)
			return fail("no free record or block");
		blocks[freeb] = make_entry((uint64_t)freeb, (uint32_t)r, 0);
		printf("block=%lld rec=%lld\n", (long long)freeb, (long long)r);
	} else if (!strcmp(op, "dup")) {
		int64_t b = owned_block(0, &rec, &idx);
		if (b < 0 || freeb < 0)
			return fail("no owned or free block");
		blocks[freeb] = make_entry((uint64_t)freeb, rec, idx);
		printf("block=%lld copy_of=%lld rec=%u idx=%u\n", (long long)freeb, (long long)b, rec, idx);
	} else if (!strcmp(op, "reserve")) {
		if (freeb < 0)
			return fail("no free block");
		blocks[freeb] = PF_BLOCK_RESERVED;
		printf("block=%lld\n", (long long)freeb);
	} else if (!strcmp(op, "past-eof")) {
		if (owned_block(0, &rec, &idx) < 0 || freeb < 0)
			return fail("no owned or free block");
		blocks[freeb] = make_entry((uint64_t)freeb, rec, 4000);
		printf("block=%lld rec=%u idx=4000\n", (long long)freeb, rec);
	} else if (!strcmp(op, "dying")) {
		int64_t r = find_rec(PF_REC_FREE);
		if (r < 0 || freeb < 0)
			return fail("no free record or block");
		if (fmt2) { /* a whole, valid DYING record: identity and state with their checks */
			struct pf_pool_record *x = (struct pf_pool_record *)rec_words((uint64_t)r);
			x->seq = 1000000 + (uint64_t)r;
			x->ident_sum = pf_rec_ident(salt, (uint32_t)r, x->ino, x->btime_sec, x->btime_nsec, x->seq,
						    x->handle_type, x->handle_bytes, x->handle);
			x->lo_w = pf_rec_word32(salt, (uint32_t)r, x->seq, PF_CK_LO, 0);
			x->hi_w = pf_rec_word32(salt, (uint32_t)r, x->seq, PF_CK_HI, (uint32_t)PF_WORD32_NONE);
			x->flags_w = pf_rec_word32(salt, (uint32_t)r, x->seq, PF_CK_FLAGS, 0);
			x->state_w = pf_rec_word32(salt, (uint32_t)r, x->seq, PF_CK_STATE, PF_REC_DYING);
		} else {
			rec_words((uint64_t)r)[0] = PF_REC_DYING;
		}
		blocks[freeb] = make_entry((uint64_t)freeb, (uint32_t)r, 0);
		printf("block=%lld rec=%lld\n", (long long)freeb, (long long)r);
	} else if (!strcmp(op, "path-len")) {
		int64_t r = live_rec();
		if (r < 0)
			return fail("no live record with blocks");
		size_t off = fmt2 ? offsetof(struct pf_pool_record, path_len) : offsetof(struct pf_pool_record_v1, path_len);
		uint32_t len = 0xffffffffu;
		memcpy((char *)rec_words((uint64_t)r) + off, &len, 4);
		printf("rec=%lld path_len=%u\n", (long long)r, len);
	} else if (!strcmp(op, "move-lo")) {
		int64_t r = live_rec();
		if (r < 0)
			return fail("no live record with blocks");
		uint64_t *w = rec_word((uint64_t)r, "lo");
		*w += 1; /* the value moves, its check stays */
		printf("rec=%lld lo_word=%#llx\n", (long long)r, (unsigned long long)*w);
	} else if (!strcmp(op, "swap")) {
		uint32_t r2, i2;
		int64_t a = owned_block(0, &rec, &idx), b = owned_block(1, &r2, &i2);
		if (a < 0 || b < 0)
			return fail("fewer than two owned blocks");
		uint64_t t = blocks[a];
		blocks[a] = blocks[b];
		blocks[b] = t;
		printf("blocks=%lld,%lld rec=%u,%u idx=%u,%u\n", (long long)a, (long long)b, rec, r2, idx, i2);
	} else if (!strcmp(op, "index-high")) {
		int64_t b = owned_block(0, &rec, &idx);
		if (b < 0)
			return fail("no owned block");
		blocks[b] = PF_ENTRY1(rec, 0xfffffff0u);
		printf("block=%lld rec=%u idx=%u\n", (long long)b, rec, 0xfffffff0u);
	} else if (!strcmp(op, "index-max")) {
		int64_t b = owned_block(0, &rec, &idx);
		if (b < 0)
			return fail("no owned block");
		blocks[b] |= PF_MAX_FILE_BLOCKS - 1;
		printf("block=%lld rec=%u idx=%llu\n", (long long)b, rec, (unsigned long long)(PF_MAX_FILE_BLOCKS - 1));
	} else if (!strcmp(op, "flip-entry") && argc > 3) {
		int64_t b = owned_block(0, &rec, &idx);
		int bit = atoi(argv[3]);
		if (b < 0 || bit < 0 || bit > 63)
			return fail("no owned block, or a bad bit");
		blocks[b] ^= 1ULL << bit;
		printf("block=%lld entry=%#llx\n", (long long)b, (unsigned long long)blocks[b]);
	} else if (!strcmp(op, "flip-rec") && argc > 4) {
		int64_t r = live_rec();
		int bit = atoi(argv[4]);
		uint64_t *w = r < 0 ? NULL : rec_word((uint64_t)r, argv[3]);
		if (!w || bit < 0 || bit > 63)
			return fail("no live record with blocks, an unknown word, or a bad bit");
		*w ^= 1ULL << bit;
		printf("rec=%lld %s=%#llx\n", (long long)r, argv[3], (unsigned long long)*w);
	} else {
		return fail("unknown operation");
	}
	return msync(base, (size_t)h->data_off, MS_SYNC) == 0 ? 0 : fail("msync");
}
