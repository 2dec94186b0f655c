/*
 * poslock.c - the offset locks (file_impl.h, LOCKING 3): the operations of a file that use the kernel file
 * offset take its lock, one of a set shared by the files whose identities hash alike.
 *
 * Owns: the lock set and each thread's record of the ones it holds. May call: nothing of the shim's.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <pthread.h>
#include <stdint.h>

/* Operations that use the kernel file offset (LOCKING 3): POS_LOCKS mutexes, each serving the files whose
 * identities hash to it (a mutex in each file cost 40 bytes a file). A thread holds at most two: a
 * sendfile between two managed files takes both ends' at once, in address order (pos_lock_pair), and the
 * write it makes into the other end finds its lock already held by this thread and goes on. */
#define POS_LOCKS 256
static pthread_mutex_t pos_locks[POS_LOCKS] = { [0 ... POS_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER };
static __thread pthread_mutex_t *pos_held[2];

static pthread_mutex_t *pos_of(const struct pf_file *f)
{
	uint64_t h = (f->key.ino ^ (uint64_t)f->key.btime_sec) * 0xC2B2AE3D27D4EB4FULL;
	return &pos_locks[h >> 56];
}

static int pos_take(pthread_mutex_t *m)
{
	if (pos_held[0] == m || pos_held[1] == m)
		return 0; /* this thread holds it (the other end of its sendfile) */
	pthread_mutex_lock(m);
	pos_held[pos_held[0] ? 1 : 0] = m;
	return 1;
}

static void pos_give(pthread_mutex_t *m)
{
	pos_held[pos_held[0] == m ? 0 : 1] = NULL;
	pthread_mutex_unlock(m);
}

int pos_lock(struct pf_file *f)
{
	return pos_take(pos_of(f));
}

void pos_unlock(struct pf_file *f, int took)
{
	if (took)
		pos_give(pos_of(f));
}

int pos_lock_pair(struct pf_file *f, struct pf_file *g)
{
	pthread_mutex_t *a = pos_of(f), *b = pos_of(g);
	if (a == b)
		return pos_take(a);
	if ((uintptr_t)a > (uintptr_t)b) {
		pthread_mutex_t *t = a;
		a = b;
		b = t;
	}
	int took = pos_take(a); /* (first a, then b: the order is the point) */
	return took | pos_take(b) << 1;
}

void pos_unlock_pair(struct pf_file *f, struct pf_file *g, int took)
{
	pthread_mutex_t *a = pos_of(f), *b = pos_of(g);
	if (a == b) {
		if (took)
			pos_give(a);
		return;
	}
	if ((uintptr_t)a > (uintptr_t)b) {
		pthread_mutex_t *t = a;
		a = b;
		b = t;
	}
	if (took & 2)
		pos_give(b);
	if (took & 1)
		pos_give(a);
}

void pos_atfork_child(void)
{
	for (int i = 0; i < POS_LOCKS; i++)
		pthread_mutex_init(&pos_locks[i], NULL);
	pos_held[0] = pos_held[1] = NULL;
}
