/*
 * pafka.h - what other programs need to know about libpafka: its version and the names of the files it
 * keeps. libpafka itself has no C API: it is used by preloading libpafka.so (LD_PRELOAD, or the
 * `pafka run` wrapper) into an unmodified Kafka broker, and configured with Pafka's keys.
 */
#ifndef PAFKA_H
#define PAFKA_H

#define PAFKA_VERSION "0.1.0"
/* The pool file inside each storage.tiers.first.paths directory. */
#define PAFKA_POOL_FILE "pafka.pool"
/* The marker in each managed log dir naming the pools its segments' bytes live in. */
#define PAFKA_MARKER_FILE ".pafka-pools"

#endif
