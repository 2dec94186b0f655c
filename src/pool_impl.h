/*
 * pool_impl.h - private to the pool's files (pool.c, pool_upgrade.c, pool_load.c): the word accessors of the
 * mapped tables that pool.c owns, shared so that the format-1 upgrade and recovery live in files of their
 * own. Nothing else includes it; the rest of the shim uses pool.h.
 */
#ifndef PAFKA_POOL_IMPL_H
#define PAFKA_POOL_IMPL_H

#include <stdint.h>

#include "pool.h"
#include "pool_format.h"

#define NWORDS (PF_RECORD_SIZE / 8) /* the 8-byte words of a record */

/* A committed store (persisted on PMem, flushed later elsewhere) of a word of the tables; nothing in a
 * read-only attach. */
void pool_store64(const struct pf_pool *p, uint64_t *field, uint64_t v);
/* A plain (uncommitted) store of a word other processes may be reading, and its load. */
void pool_put64(uint64_t *field, uint64_t v);
uint64_t pool_ld64(const uint64_t *field);
/* The NWORDS words of a record, each loaded as above. */
void pool_load_words(const uint64_t *src, uint64_t *w);
/* A record's state, cheaply: the state word alone in format 2 (its check covers the record's seq). */
uint64_t pool_state_of(const struct pf_pool *p, uint32_t r);

#endif
