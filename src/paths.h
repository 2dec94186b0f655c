/*
 * paths.h - which paths are managed: a regular file whose base name matches the segment pattern and
 * whose parent directory sits directly inside a managed directory (a Kafka log dir), i.e.
 * <logdir>/<topic>-<partition>/<20 digits>.log. Pure string work: no system call on the common path.
 *
 * Owns: the pattern and the list of managed directories. May call: config.h, log.h, real.h.
 */
#ifndef PAFKA_PATHS_H
#define PAFKA_PATHS_H

#include <stddef.h>

#include "log.h"

struct pf_config;

/* Set up the pattern and the managed directories from cfg. Returns 0, or -1 with a message in err. */
int pf_paths_init(const struct pf_config *cfg, struct pf_err *err);
void pf_paths_fini(void);

/* Does this base name (no '/') match the segment pattern? */
int pf_name_matches(const char *name);
/* Does the last component of path match the segment pattern? For the default pattern this looks only at
 * the end of the string (one strlen), which keeps every unmanaged path operation cheap. */
int pf_path_name_matches(const char *path);
/* The base name of path (after the last '/'), without copying. */
const char *pf_basename(const char *path);
/* Make path absolute (relative to dirfd, or the cwd for AT_FDCWD) and lexically normalised ("//", ".",
 * ".." removed) into out. Returns 0, or -1 (too long, or dirfd unknown). */
int pf_path_absolute(int dirfd, const char *path, char *out, size_t outlen);
/* Is the absolute, normalised path inside a managed log dir at partition depth
 * (<managed dir>/<one component>/<name>)? Does not look at the base name. */
int pf_path_in_managed_dir(const char *abspath);
/* Is abs strictly inside a managed directory (a partition directory, or deeper)? */
int pf_path_under_managed_dir(const char *abspath);
/* Base name matches and the path is in a managed dir. */
int pf_path_managed(const char *abspath);
/* The managed directory containing abspath at partition depth, or NULL. */
const char *pf_path_logdir(const char *abspath);
/* Number and list of managed directories (for markers and tools): the configured ones and, where they
 * differ, their resolved names. */
int pf_paths_ndirs(void);
const char *pf_paths_dir(int i);
/* A log dir's SLOT is its position in the configured list (storage.tiers.second.paths, else log.dirs),
 * shared by its resolved name: it pairs log dirs with pools (tier.h). How many are configured, the slot of
 * entry i of pf_paths_dir, and the slot of the log dir holding abspath at partition depth (-1: none). */
int pf_paths_nslots(void);
int pf_paths_dir_slot(int i);
int pf_path_logdir_slot(const char *abspath);

#endif
