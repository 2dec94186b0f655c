/*
 * fail.h - errno injection for the tests: PAFKA_FAIL makes chosen calls of the real-function table
 * (real.h) fail as the kernel would, through the table's override slot.
 *
 *   PAFKA_FAIL=<name>:<errno>:<n>[:<count>][@bg][,<name>:<errno>:<n>[:<count>][@bg]...]
 *
 * The n-th call (1-based, counted in this process from activation on) of the real function <name> that
 * libpafka makes, and the count-1 calls after it (count "*" means every one after it), return the
 * function's failure value (-1, MAP_FAILED, NULL) with errno <errno>, given by name (ENOSPC, EIO, EINTR,
 * EDQUOT, ENOMEM, EAGAIN, EBADF, EACCES, EPERM, EROFS, EFBIG, EMFILE, ENFILE) or number, without
 * calling it. The count takes in every call that goes through the table, the application's passed
 * straight through included; with "@bg" only the calls of the shim's own threads count and fail (the
 * migration threads' demotions, promotions and materialisations, the housekeeper's drain, the metrics
 * server), so a test can fail the n-th step of a move without touching the application's calls. Unset,
 * nothing is installed and nothing costs anything.
 *
 * Owns: the injection specs and their counters. May call: real.h, sys.h, log.h.
 */
#ifndef PAFKA_FAIL_H
#define PAFKA_FAIL_H

#include "log.h"

/* Parse PAFKA_FAIL (env value v, may be NULL) and install the injectors. 0, or -1 with one line in *err
 * saying what is wrong (nothing is installed then). Call once, before the application's threads run. */
int pf_fail_init(const char *v, struct pf_err *err);

#endif
