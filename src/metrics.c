/*
 * metrics.c - the /metrics endpoint (see metrics.h). A deliberately small HTTP/1.0 responder: one
 * connection at a time, a bounded request read with a timeout, then the exposition and close. Never on a
 * data path: its thread only reads the pools' live statistics and the file table's per-tier totals.
 *
 * Owns: the listening socket and its thread. May call: file.h, tier.h, prom.h, log.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "prom.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

static int listen_fd = -1;

static char *render(size_t *len)
{
	struct pf_prom_pool pools[PF_MAX_PATHS];
	struct pf_prom_sample m;
	struct pf_pool_live live;
	memset(&m, 0, sizeof m);
	memset(&live, 0, sizeof live);
	int npools = pf_tier_npools();
	for (int i = 0; i < npools; i++) {
		struct pf_pool *p = pf_tier_pool(i);
		uint64_t used = p->nblocks - pf_pool_free_blocks(p);
		pools[i].path = p->path;
		pools[i].capacity_bytes = p->nblocks * p->bsize;
		pools[i].used_bytes = used * p->bsize;
		pools[i].free_bytes = (p->nblocks - used) * p->bsize;
		pools[i].in_use = 1;
		pools[i].heartbeat_ms = __atomic_load_n(&p->hdr->live.heartbeat_ms, __ATOMIC_RELAXED);
		pools[i].damaged_records = pf_files_damaged_records(p);
		pools[i].damaged_entries = 0; /* a writer refuses to start on a damaged entry (pool_load.c) */
		pf_prom_sum_live(&live, &p->hdr->live);
		uint64_t st = __atomic_load_n(&p->hdr->live.state, __ATOMIC_RELAXED);
		m.paused |= !!(st & PF_LIVE_PAUSED);
		m.draining |= !!(st & PF_LIVE_DRAINING);
	}
	m.pools = pools;
	m.npools = npools;
	pf_files_tier_totals(m.tier_files, m.tier_bytes);
	pf_prom_from_live(&m, &live);
	size_t need = pf_prom_format(NULL, 0, &m);
	char *buf = malloc(need + 1);
	if (buf)
		*len = pf_prom_format(buf, need + 1, &m);
	return buf;
}

static void serve(int c)
{
	char req[2048];
	size_t got = 0;
	struct pollfd pfd = { c, POLLIN, 0 };
	while (got < sizeof req - 1 && !memmem(req, got, "\r\n\r\n", 4) && !memmem(req, got, "\n\n", 2)) {
		if (poll(&pfd, 1, 2000) <= 0)
			return;
		ssize_t r = REAL(read)(c, req + got, sizeof req - 1 - got);
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	req[got] = '\0';
	const char *hdr;
	char head[256];
	if (strncmp(req, "GET /metrics", 12) != 0 || (req[12] != ' ' && req[12] != '?')) {
		static const char body404[] = "only /metrics is served\n";
		int n = snprintf(head, sizeof head,
				 "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n",
				 sizeof body404 - 1);
		pf_write_all(c, head, (size_t)n);
		pf_write_all(c, body404, sizeof body404 - 1);
		return;
	}
	size_t len = 0;
	char *body = render(&len);
	if (!body) {
		hdr = "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
		pf_write_all(c, hdr, strlen(hdr));
		return;
	}
	int n = snprintf(head, sizeof head,
			 "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 len);
	pf_write_all(c, head, (size_t)n);
	pf_write_all(c, body, len);
	free(body);
}

static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			pf_log(PF_LOG_ERROR, "metrics endpoint: accept failed: %s; endpoint stopped", strerror(errno));
			return NULL;
		}
		serve(c);
		REAL(close)(c);
	}
	return NULL;
}

int pf_metrics_start(const struct pf_config *cfg)
{
	if (cfg->metrics_port <= 0 || pf_tier_npools() == 0)
		return 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->metrics_port) };
	const char *addr = cfg->metrics_address ? cfg->metrics_address : "127.0.0.1";
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
		int e = errno;
		REAL(close)(fd);
		errno = e;
		return -1;
	}
	listen_fd = pf_fd_hide(fd);
	if (pf_start_thread(server, "pafka-metrics") < 0)
		return -1;
	pf_log(PF_LOG_INFO, "metrics on http://%s:%d/metrics", addr, cfg->metrics_port);
	return 0;
}
