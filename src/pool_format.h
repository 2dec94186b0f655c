/*
 * pool_format.h - the persistent layout of a libpafka pool file (<storage.tiers.first.paths>/pafka.pool).
 *
 *   [ header: 4 KiB ][ record table: nrecords * 256 B ][ block table: nblocks * 8 B ][ pad ][ data blocks ]
 *
 * A *record* describes one managed file whose bytes are (partly) pool-resident. The file in the log dir
 * stays the file's identity; the record finds it again by inode number + birth time (statx btime), which
 * survive renames of the file and of its directory. A *block* is block_size bytes of data; its 8-byte
 * block-table entry is 0 when free, else ((record index + 1) << 32) | (block index within the file).
 *
 * Placement of block i of a file with a LIVE record r:
 *   i <  r.lo or i >= r.hi : the bytes live in the real file (slow tier);
 *   otherwise              : in the pool block whose entry is (r, i), or, if none, a hole reading zeros
 *                            (the real file is guaranteed to be a hole there too).
 * Entries (r, i) with i outside [lo, hi) are stale (a finished demotion, or an unfinished promotion) and
 * are freed at recovery. Every field that publishes state is 8 bytes, naturally aligned, and is the last
 * store of its step (the commit point); the data it publishes is persisted first.
 * The logical size of a file is always the size of the real file (kept sparse and exact), so every stat
 * variant from any process is right by construction.
 *
 * Owns: the on-disk layout. May call: nothing (shared by the shim, the CLI and the tests).
 */
#ifndef PAFKA_POOL_FORMAT_H
#define PAFKA_POOL_FORMAT_H

#include <stdint.h>

#define PF_POOL_FILE "pafka.pool"
#define PF_POOL_MAGIC 0x314c4f4f504b4650ULL /* "PFKPOOL1" little endian */
#define PF_POOL_VERSION 1
#define PF_HEADER_SIZE 4096
#define PF_RECORD_SIZE 256
#define PF_PATH_MAX_REC 160
#define PF_BLOCK_FREE 0ULL
#define PF_BLOCK_RESERVED UINT64_MAX /* taken, data being prepared, not yet owned: free at recovery */
#define PF_ENTRY(rec, idx) ((((uint64_t)(rec) + 1) << 32) | (uint64_t)(uint32_t)(idx))
#define PF_ENTRY_REC(e) ((uint32_t)(((e) >> 32) - 1))
#define PF_ENTRY_IDX(e) ((uint32_t)(e))
#define PF_HI_NONE UINT64_MAX

enum pf_rec_state { PF_REC_FREE = 0, PF_REC_LIVE = 1, PF_REC_DYING = 2 };

struct pf_pool_header {
	uint64_t magic;        /* written and persisted last at creation */
	uint32_t version;
	uint32_t header_size;
	uint8_t uuid[16];
	uint64_t pool_size;    /* bytes of the whole file */
	uint64_t block_size;
	uint64_t nblocks;
	uint64_t nrecords;
	uint64_t rec_off;      /* offsets from the start of the file */
	uint64_t blk_off;
	uint64_t data_off;
	uint64_t created_ns;
	uint64_t checksum;     /* FNV-1a 64 of all fields above (magic .. created_ns) */
	/* mutable fields, not covered by the checksum */
	uint64_t next_seq;     /* creation sequence for age order; bumped per new record */
	struct pf_pool_live {  /* written by the pool's writer process, read by tools (pafka status) */
		uint64_t writer_pid;     /* pid of the process holding the pool, 0 when it closed cleanly */
		uint64_t heartbeat_ms;   /* CLOCK_REALTIME ms, refreshed about once a second while active */
		uint64_t state;          /* PF_LIVE_* bits */
		uint64_t demotions, promotions, migration_failures, migration_aborts;
		uint64_t bytes_demoted, bytes_promoted;
		uint64_t migration_ns;   /* time spent moving */
		uint64_t spills;         /* writes sent to the slow tier because the pool was full */
		uint64_t bytes_written[2], bytes_read[2], bytes_sent[2]; /* [0] pool, [1] slow tier */
		uint64_t backlog_bytes;  /* bytes the policy wants to move now */
		uint64_t errors;
		uint64_t demote_boundary_ns; /* birth time of the newest file ever demoted: no promotion of
						older ones (policy state, kept across restarts) */
		uint64_t head_demotions;     /* cold heads of active segments moved to the slow tier */
		uint64_t readmissions;       /* spilled files given a new window at their end */
		uint64_t reserved[10];
	} live;
};

#define PF_LIVE_MIGRATING 1ULL  /* migration threads running */
#define PF_LIVE_PAUSED 2ULL     /* migration paused (<pool dir>/pafka.pause exists) */
#define PF_LIVE_DRAINING 4ULL   /* draining (<pool dir>/pafka.drain exists): no new pool data */

/* Control files in a pool's directory, created and removed by tools, polled by the writer:
 *   pafka.pause  migration paused while it exists;
 *   pafka.drain  the writer admits no new bytes to the pool and moves every pool byte to the slow tier,
 *                so the broker can later run without the shim. */
#define PF_PAUSE_FILE "pafka.pause"
#define PF_DRAIN_FILE "pafka.drain"

_Static_assert(sizeof(struct pf_pool_live) == 32 * 8, "live stats keep the header layout");

struct pf_pool_record {
	uint64_t state;        /* enum pf_rec_state; the commit point of create and free */
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
	uint64_t lo;           /* blocks [lo, hi) may be pool-resident */
	uint64_t hi;
	uint64_t seq;          /* creation sequence: age order that survives restart */
	uint64_t size_hint;    /* last logical size seen (fsck/ls only; the real file's size is the truth) */
	uint64_t flags;        /* PF_RECF_* */
	uint64_t path_sum;     /* FNV-1a 64 of path[0..path_len); a mismatch means "path unknown" */
	uint32_t path_len;
	uint32_t pad;
	char path[PF_PATH_MAX_REC]; /* last known absolute path (a hint for tools; never trusted for data) */
	uint64_t reserved[1];
};

#define PF_RECF_REAL_VALID 1ULL /* the real file holds a valid copy of every pool-resident block */
#define PF_RECF_UNLINKED 2ULL   /* the shim saw the file's last name go: once no descriptor is left, nothing
				   can reach its bytes (recovery frees them) */

_Static_assert(sizeof(struct pf_pool_record) == PF_RECORD_SIZE, "record size");
_Static_assert(sizeof(struct pf_pool_header) <= PF_HEADER_SIZE, "header size");

static inline uint64_t pf_fnv1a(const void *p, uint64_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;
	for (uint64_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#endif
