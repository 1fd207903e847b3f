/*
 * mpibcast.c: broadcast inputs in an MPI world (mpipath.h, docs/mpi.md).
 *
 * Design notes
 * 1. The first task of a rank that needs a job's broadcast input
 *    (spoolq/kernel.h q_ctx_broadcast) asks rank 0. Rank 0 reads the
 *    file once (checked against the submission's size and checksum),
 *    tells every rank (BCAST_START, in order, on the request tag) and
 *    runs MPI_Bcast on a communicator of its own; each server thread
 *    joins it when told, in the same order, so the collectives match.
 *    Every rank gets a copy, needed or not: that is what a broadcast is,
 *    and the next task that needs it finds it there.
 * 2. Blocking MPI_Bcast in the server thread, not MPI_Ibcast: Open MPI's
 *    non-blocking broadcast moves data only while it is polled and ran
 *    at 0.2-0.3 GB/s here, the blocking one at 0.8-1.0 GB/s to 4 ranks
 *    on 2 cores; it lasts one transfer, while fetch requests to this
 *    rank wait (the exception to mpipath.c note 2).
 * 3. A rank that dies never joins, and the others' MPI_Bcast never
 *    returns: a task waiting for the input checks the peers every
 *    200 ms and reads the file itself; the exit then leaves the stuck
 *    server thread behind (mpipath.c note 6).
 * 4. Every rank first gets its memory for the input, then all wait in
 *    a napping MPI_Ibarrier before the MPI_Bcast: ranks waiting inside
 *    MPI_Bcast spin, and took the cores that the others needed to fault
 *    256 MiB in (4 ranks on 2 cores). The transfer itself then ran at
 *    1.3-3.3 GB/s here, at or above a plain MPI_Bcast's 1.4-1.7 GB/s;
 *    getting the memory took 0.3-0.8 s per rank.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spoolq/spoolq.h>

#include "mpiworld.h"

static struct bcast *bcast_find_locked(struct q_mpi *m, uint64_t job,
				       bool create)
{
	struct bcast *b = m->bcasts;
	while (b && b->job != job)
		b = b->next;
	if (!b && create) {
		b = calloc(1, sizeof(*b));
		if (!b)
			abort();
		b->job = job;
		b->next = m->bcasts;
		m->bcasts = b;
	}
	return b;
}

/*
 * Run the broadcast of b (root: rank 0), in the server thread. Blocking
 * MPI_Bcast, not MPI_Ibcast: Open MPI's tuned blocking broadcast ran
 * 4-7x faster here than its non-blocking one (which moves data only when
 * polled), and it lasts the time of one transfer. While it runs, fetch
 * requests to this rank wait. If a rank dies it never returns: the
 * waiting tasks read the file instead (bcast_get) and the exit leaves
 * this thread behind (design note 6). 0, or -EIO.
 */
static int bcast_run(struct q_mpi *m, char *data, size_t len)
{
	int ret = 0;
	for (size_t off = 0; off < len && ret == 0; off += BCAST_MESSAGE_MAX) {
		size_t n = len - off < BCAST_MESSAGE_MAX ? len - off
							 : BCAST_MESSAGE_MAX;
		if (MPI_Bcast(data + off, (int)n, MPI_BYTE, 0,
			      m->bcast_comm) != MPI_SUCCESS)
			ret = -EIO;
	}
	return ret;
}

/*
 * Design note 4: wait, napping, until every rank has its memory for the
 * broadcast. 0, or -EIO.
 */
static int bcast_ready(struct q_mpi *m)
{
	MPI_Request ready;
	long nap_ns = 0;
	int done = 0;
	if (MPI_Ibarrier(m->bcast_comm, &ready) != MPI_SUCCESS)
		return -EIO;
	while (!done) {
		if (MPI_Test(&ready, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
			return -EIO;
		if (!done)
			mpi_nap(&nap_ns);
	}
	return 0;
}

/* Rank 0's server: a rank asks for job's broadcast input. */
void mpi_bcast_begin(struct q_mpi *m, uint64_t job)
{
	pthread_mutex_lock(&m->bcast_lock);
	struct bcast *b = bcast_find_locked(m, job, true);
	bool already = b->started;
	b->started = true;
	pthread_mutex_unlock(&m->bcast_lock);
	if (already)
		return;
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(m->cache, job, &err);
	char *data = NULL;
	size_t len = 0;
	int ret = h ? q_broadcast_read(h, &data, &len, &err) : -EIO;
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", m->opt.prog, err.message);
	else
		mpi_count_moved(m, job, 0, len);
	struct request q = { .kind = REQ_BCAST_START, .job = job,
			     .len = ret < 0 ? BCAST_FAILED_LEN : len,
			     .sum = ret < 0 ? 0 : q_checksum(data, len) };
	for (int r = 1; r < m->size; r++)
		if (MPI_Send(&q, sizeof(q), MPI_BYTE, r, TAG_REQUEST,
			     m->comm) != MPI_SUCCESS) {
			/* A rank that is not told never joins, and every
			 * later broadcast would pair with the wrong one. */
			fprintf(stderr, "%s: cannot tell MPI rank %d of the "
				"broadcast input of job %llu; stopping the MPI "
				"job\n", m->opt.prog, r,
				(unsigned long long)job);
			MPI_Abort(MPI_COMM_WORLD, 3);
		}
	pthread_mutex_lock(&m->bcast_lock);
	m->bcasts_started++;
	if (ret == 0) {
		/* The root's copy is complete: its tasks need not wait. */
		b->data = data;
		b->len = len;
		b->sum = q.sum;
		b->state = BCAST_READY;
	} else {
		b->state = BCAST_FAILED;
	}
	pthread_cond_broadcast(&m->bcast_cond);
	pthread_mutex_unlock(&m->bcast_lock);
	if (ret == 0 && bcast_ready(m) == 0)
		(void)bcast_run(m, data, len);
	pthread_mutex_lock(&m->bcast_lock);
	m->bcasts_done++;
	pthread_mutex_unlock(&m->bcast_lock);
}

/* Another rank's server: rank 0 starts a broadcast. */
void mpi_bcast_join(struct q_mpi *m, const struct request *q)
{
	char *data = NULL;
	bool good = false;
	int64_t t0 = mpi_mono_ns(), t1 = t0, t2 = t0;
	if (q->len != BCAST_FAILED_LEN && q->len <= SIZE_MAX - 1) {
		data = q_big_alloc((size_t)q->len + 1);
		if (!data) {
			/* Cannot join: the collective would never match. */
			fprintf(stderr, "%s: no memory for a broadcast of "
				"%llu bytes\n", m->opt.prog,
				(unsigned long long)q->len);
			MPI_Abort(MPI_COMM_WORLD, 3);
		}
		good = bcast_ready(m) == 0;
		t1 = mpi_mono_ns();
		good = good && bcast_run(m, data, (size_t)q->len) == 0;
		t2 = mpi_mono_ns();
		good = good && q_checksum(data, (size_t)q->len) == q->sum;
		if (!good)
			fprintf(stderr, "%s: the broadcast input of job %llu "
				"did not arrive whole (checksum); reading the "
				"file instead\n", m->opt.prog,
				(unsigned long long)q->job);
	}
	if (good) {
		mpi_count_moved(m, q->job, q->len, 0);
		/* bench/wl_mpi.sh reads this line: the transfer's own time
		 * and rate, then the memory's and the checksum's. */
		if (m->opt.verbose)
			fprintf(stderr, "%s: job %llu: broadcast input of %llu "
				"bytes received from rank 0 in %.3f ms "
				"(%.2f GB/s), memory %.3f ms, checked in "
				"%.3f ms\n", m->opt.prog,
				(unsigned long long)q->job,
				(unsigned long long)q->len,
				(double)(t2 - t1) / 1e6,
				(double)q->len / (double)(t2 - t1),
				(double)(t1 - t0) / 1e6,
				(double)(mpi_mono_ns() - t2) / 1e6);
	}
	pthread_mutex_lock(&m->bcast_lock);
	struct bcast *b = bcast_find_locked(m, q->job, true);
	if (good && b->state != BCAST_FAILED) {
		b->data = data;
		b->len = (size_t)q->len;
		b->sum = q->sum;
		b->state = BCAST_READY;
	} else {
		q_big_free(data);
		b->state = BCAST_FAILED;
	}
	m->bcasts_done++;
	pthread_cond_broadcast(&m->bcast_cond);
	pthread_mutex_unlock(&m->bcast_lock);
}

/* The broadcast hook (spoolq/spool.h): the job's input, once per rank. */
int mpi_bcast_get(void *arg, struct q_jobh *h, const char **data,
		     size_t *len, struct q_error *err)
{
	struct q_mpi *m = arg;
	uint64_t job = q_jobh_job(h)->id;
	pthread_mutex_lock(&m->bcast_lock);
	struct bcast *b = bcast_find_locked(m, job, false);
	bool ask = !b;
	if (!b)
		b = bcast_find_locked(m, job, true);
	pthread_mutex_unlock(&m->bcast_lock);
	struct request q = { .kind = REQ_BCAST_NEED, .job = job };
	if (ask && MPI_Send(&q, sizeof(q), MPI_BYTE, 0, TAG_REQUEST,
			    m->comm) != MPI_SUCCESS)
		ask = false;   /* then wait for another's, or read it */
	pthread_mutex_lock(&m->bcast_lock);
	while (b->state == BCAST_WAITING) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LIVENESS_EVERY_NS;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&m->bcast_cond, &m->bcast_lock,
					   &until) != ETIMEDOUT)
			continue;
		int gone;
		pthread_mutex_unlock(&m->bcast_lock);
		bool broken = mpi_any_peer_gone(m, &gone);
		pthread_mutex_lock(&m->bcast_lock);
		if (broken && b->state == BCAST_WAITING)
			b->state = BCAST_FAILED;
	}
	int ret = 0;
	if (b->state == BCAST_READY) {
		*data = b->data;
		*len = b->len;
	} else if (b->file_data) {
		*data = b->file_data;
		*len = b->file_len;
	} else {
		/* Under the lock: this rank reads the file once. */
		ret = q_broadcast_read(h, &b->file_data, &b->file_len, err);
		if (ret == 0) {
			mpi_count_moved(m, job, 0, b->file_len);
			*data = b->file_data;
			*len = b->file_len;
		}
	}
	pthread_mutex_unlock(&m->bcast_lock);
	return ret;
}

void mpi_bcasts_free(struct q_mpi *m)
{
	while (m->bcasts) {
		struct bcast *b = m->bcasts;
		m->bcasts = b->next;
		q_big_free(b->data);
		q_big_free(b->file_data);
		free(b);
	}
}
