/*
 * rate.c - the token bucket of the migration rate limit (see rate.h).
 *
 * Owns: the bucket and rate_lock. May call: sys.h.
 */
#define _GNU_SOURCE
#include "rate.h"

#include <pthread.h>
#include <time.h>

#include "sys.h"

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t rate;
static double tokens;
static int64_t tokens_at_ns;

void pf_rate_init(int64_t bytes_per_sec)
{
	pthread_mutex_lock(&rate_lock);
	rate = bytes_per_sec;
	tokens = 0;
	tokens_at_ns = pf_mono_ns();
	pthread_mutex_unlock(&rate_lock);
}

void pf_rate_take(uint64_t bytes)
{
	for (;;) {
		pthread_mutex_lock(&rate_lock);
		if (rate <= 0) {
			pthread_mutex_unlock(&rate_lock);
			return;
		}
		int64_t now = pf_mono_ns();
		tokens += (double)(now - tokens_at_ns) * (double)rate / 1e9;
		if (tokens > (double)rate)
			tokens = (double)rate; /* at most one second of burst */
		tokens_at_ns = now;
		double need = (double)bytes - tokens;
		if (need <= 0) {
			tokens -= (double)bytes;
			pthread_mutex_unlock(&rate_lock);
			return;
		}
		int64_t wait_ns = (int64_t)(need * 1e9 / (double)rate);
		pthread_mutex_unlock(&rate_lock);
		struct timespec ts = { wait_ns / 1000000000LL, wait_ns % 1000000000LL };
		nanosleep(&ts, NULL);
	}
}
