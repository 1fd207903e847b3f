/*
 * mpipath.c: the MPI fast path of a worker (mpipath.h, docs/mpi.md).
 *
 * Design notes
 * 1. Thread level: MPI_THREAD_MULTIPLE, which Open MPI 4.1 gives here
 *    (../shared/notes: provided = 3 under mpirun, singleton and srun).
 *    Every runner thread pulls its own inputs, and one server thread
 *    answers the other ranks, so a rank serves its held results while
 *    its tasks run. A dedicated progress thread that does every MPI call
 *    for the others (MPI_THREAD_SERIALIZED) would add a hand-off per
 *    message and a queue, for nothing Open MPI does not already do.
 * 2. Nobody blocks inside MPI: Open MPI's blocking calls spin a core
 *    while they wait, which a 2-core node running kernels cannot spare.
 *    Every wait is MPI_Test in a loop that naps (10 us doubling to
 *    500 us) when nothing happens; while bytes flow it spins, because
 *    MPI only moves data while it is called. Every wait also checks,
 *    every 200 ms, that the peer's worker is alive (its heartbeat file),
 *    so a rank that died never hangs another: the request is cancelled
 *    and the caller falls back to the file, or recomputes. (One
 *    exception, the broadcast: mpibcast.c note 2.)
 * 3. The protocol, on a duplicate of MPI_COMM_WORLD: a consumer posts
 *    the receive for the reply on a tag of its own, then sends a request
 *    (job, item, attempt) on TAG_REQUEST to the holder's server thread,
 *    which replies with (status, length, checksum) and then the bytes in
 *    messages of at most 64 MiB (an int count, and a pipeline). The
 *    consumer checks the checksum; a mismatch is asked again (twice),
 *    then the file or a recompute: never a silently wrong input.
 * 4. Held results are only ever the outputs of pure kernel tasks
 *    (runner.c): a result that lives in one process's memory must be
 *    recomputable when that process dies, and only a pure task promises
 *    the same bytes again. The recompute runs in the consumer's thread
 *    (the graph says how: the task's kernel, arguments and inputs, which
 *    may be recomputed in turn), must match the recorded checksum, and
 *    is then written to the spool where the holder would have spilled
 *    it, so the next consumer reads a file.
 * 5. Spilling (exit, SIGUSR1, budget) writes the file before the memory
 *    is dropped, and a server thread still sending the bytes holds a
 *    reference, so a request is answered from memory or "not held":
 *    then the consumer reads the file, which exists by then.
 * 6. Exit: every rank spills, then waits in MPI_Ibarrier while its
 *    server keeps answering, because MPI_Finalize is collective and a
 *    rank that leaves early still has peers that may ask it. A rank that
 *    sees a peer gone (killed: mpirun --enable-recovery keeps the others
 *    running) stops waiting and leaves without MPI_Finalize. Then rank 0
 *    says how many broadcasts it started, and everyone finishes that
 *    many before a last barrier: no collective is left half-done. The
 *    wait tells the heartbeat the worker is alive (mpipath.h `alive`),
 *    or a rank waiting long would look dead to the others.
 * 7. Broadcast inputs: mpibcast.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "mpipath.h"
#include "mpiworld.h"

static _Thread_local unsigned recompute_depth;

bool q_mpi_available(void)
{
	return true;
}

int64_t mpi_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mpi_nap(long *ns)
{
	*ns = *ns ? *ns * 2 : NAP_MIN_NS;
	if (*ns > NAP_MAX_NS)
		*ns = NAP_MAX_NS;
	struct timespec ts = { 0, *ns };
	nanosleep(&ts, NULL);
}

/* ---- peers ---- */

/* Re-read the workers' heartbeat files (at most every 200 ms). */
static void check_peers(struct q_mpi *m)
{
	pthread_mutex_lock(&m->peers_lock);
	int64_t now = mpi_mono_ns();
	if (now - m->peers_checked < LIVENESS_EVERY_NS) {
		pthread_mutex_unlock(&m->peers_lock);
		return;
	}
	m->peers_checked = now;
	struct q_worker_info *list = NULL;
	size_t n = 0;
	struct q_error err = Q_ERROR_INIT;
	if (q_workers_list(m->sp, &list, &n, &err) == 0) {
		for (int r = 0; r < m->size; r++) {
			bool found = false, alive = false;
			for (size_t i = 0; i < n; i++)
				if (strcmp(list[i].id, m->peer_ids[r]) == 0) {
					found = true;
					alive = list[i].alive && !list[i].gone;
				}
			/* Gone for good: a dead worker never comes back. */
			if (!found || !alive)
				m->peer_gone[r] = true;
		}
	}
	free(list);
	pthread_mutex_unlock(&m->peers_lock);
}

static bool peer_gone(struct q_mpi *m, int rank)
{
	check_peers(m);
	pthread_mutex_lock(&m->peers_lock);
	bool gone = m->peer_gone[rank];
	pthread_mutex_unlock(&m->peers_lock);
	return gone;
}

bool mpi_any_peer_gone(struct q_mpi *m, int *which)
{
	for (int r = 0; r < m->size; r++)
		if (r != m->rank && peer_gone(m, r)) {
			*which = r;
			return true;
		}
	return false;
}

/*
 * Design note 2: wait for `req`, napping unless `busy`; -EHOSTDOWN (the
 * request cancelled) when `peer` is gone, -EIO when MPI fails.
 */
static int wait_request(struct q_mpi *m, MPI_Request *req, int peer,
			bool busy)
{
	int64_t next_check = mpi_mono_ns() + LIVENESS_EVERY_NS;
	long nap_ns = 0;
	unsigned spins = 0;
	for (;;) {
		int done = 0;
		if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
			return -EIO;
		if (done)
			return 0;
		if (peer >= 0 && mpi_mono_ns() >= next_check) {
			if (peer_gone(m, peer)) {
				MPI_Cancel(req);
				MPI_Request_free(req);
				return -EHOSTDOWN;
			}
			next_check = mpi_mono_ns() + LIVENESS_EVERY_NS;
		}
		if (busy || ++spins < SPINS_BEFORE_NAP)
			continue;
		mpi_nap(&nap_ns);
	}
}

/* ---- the store ---- */

/*
 * Buffers kept for reuse (spoolq/bigbuf.h: pulled inputs and broadcasts
 * released by their tasks, the --mpi-prefault reserve) get what held
 * results leave of the budget: a new held result pushes them out first,
 * before any result is spilled. Lock held.
 */
static void budget_changed_locked(struct q_mpi *m)
{
	q_big_keep_limit(m->held_bytes < m->opt.mem
				 ? m->opt.mem - m->held_bytes : 0);
}

/* Take e out of the list (lock held); freed by whoever holds the last
 * reference, or here when nobody does. */
static void held_detach_locked(struct q_mpi *m, struct held *e)
{
	for (struct held **p = &m->held; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	m->held_bytes -= e->len;
	e->dropped = true;
	budget_changed_locked(m);
}

static void held_free_if_unused(struct held *e)
{
	if (e->refs == 0 && e->dropped) {
		free(e->data);
		free(e);
	}
}

static void held_unref_locked(struct held *e)
{
	e->refs--;
	held_free_if_unused(e);
}

static void held_drop_locked(struct q_mpi *m, struct held *e)
{
	held_detach_locked(m, e);
	held_free_if_unused(e);
}

static struct held *held_find_locked(struct q_mpi *m, uint64_t job,
				     uint64_t item, unsigned attempt)
{
	for (struct held *e = m->held; e; e = e->next)
		if (e->job == job && e->item == item && e->attempt == attempt)
			return e;
	return NULL;
}

/* Write e to the spool, then drop it (design note 5). 0 or -errno. */
static int spill(struct q_mpi *m, struct held *e)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(m->cache, e->job, &err);
	int ret = h ? q_output_spill(h, e->item, e->attempt, m->worker_id,
				     e->data, e->len, &err)
		    : -EIO;
	pthread_mutex_lock(&m->lock);
	e->spilling = false;
	if (ret == 0 && !e->dropped)
		held_detach_locked(m, e);
	held_unref_locked(e);
	pthread_mutex_unlock(&m->lock);
	if (ret < 0)
		fprintf(stderr, "%s: cannot write a held result to the spool "
			"(it stays in memory): %s\n", m->opt.prog,
			err.message[0] ? err.message : strerror(-ret));
	return ret;
}

/* The oldest published result not being spilled, referenced; or NULL. */
static struct held *oldest_spillable_locked(struct q_mpi *m)
{
	struct held *pick = NULL;
	for (struct held *e = m->held; e; e = e->next)
		if (e->published && !e->spilling)
			pick = e;
	if (pick) {
		pick->spilling = true;
		pick->refs++;
	}
	return pick;
}

/* Spill the oldest results until `need` more bytes fit the budget:
 * true when they do. */
static bool make_room(struct q_mpi *m, size_t need)
{
	for (;;) {
		pthread_mutex_lock(&m->lock);
		if (m->held_bytes + need <= m->opt.mem) {
			pthread_mutex_unlock(&m->lock);
			return true;
		}
		struct held *e = oldest_spillable_locked(m);
		pthread_mutex_unlock(&m->lock);
		if (!e || spill(m, e) < 0)
			return false;
	}
}

size_t q_mpi_hold_limit(const struct q_mpi *m)
{
	return m ? m->opt.mem : 0;
}

bool q_mpi_keep(struct q_mpi *m, uint64_t job, uint64_t item,
		unsigned attempt, uint64_t task_threshold, struct q_output *out)
{
	uint64_t threshold = task_threshold ? task_threshold
					    : m ? m->opt.threshold : 0;
	if (!m || !out->data || out->len < threshold)
		return false;
	if (out->len > m->opt.mem || !make_room(m, out->len))
		return false;   /* commit writes it as a file */
	/* A NUL after the bytes, as every reader's buffer has: this one
	 * is lent to this rank's own consumers (lend_own). glibc grows a
	 * block this big in place (mremap), without copying it. */
	char *data = realloc(out->data, out->len + 1);
	if (!data)
		return false;
	data[out->len] = '\0';
	out->data = data;
	struct held *e = calloc(1, sizeof(*e));
	if (!e)
		return false;
	e->m = m;
	e->job = job;
	e->item = item;
	e->attempt = attempt;
	e->data = out->data;
	e->len = out->len;
	e->sum = out->summed ? out->sum : q_checksum(out->data, out->len);
	pthread_mutex_lock(&m->lock);
	e->next = m->held;
	m->held = e;
	m->held_bytes += e->len;
	budget_changed_locked(m);
	pthread_mutex_unlock(&m->lock);
	out->data = NULL;
	out->summed = true;
	out->sum = e->sum;
	out->held = true;
	return true;
}

void q_mpi_settle(struct q_mpi *m, uint64_t job, uint64_t item,
		  unsigned attempt, bool published)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	struct held *e = held_find_locked(m, job, item, attempt);
	if (e && published)
		e->published = true;
	else if (e)
		held_drop_locked(m, e);
	pthread_mutex_unlock(&m->lock);
}

void q_mpi_spill_all(struct q_mpi *m)
{
	if (!m)
		return;
	size_t n = 0;
	for (;;) {
		pthread_mutex_lock(&m->lock);
		struct held *e = oldest_spillable_locked(m);
		pthread_mutex_unlock(&m->lock);
		if (!e || spill(m, e) < 0)
			break;
		n++;
	}
	if (m->opt.verbose && n)
		fprintf(stderr, "%s: wrote %zu held result%s to the spool\n",
			m->opt.prog, n, n == 1 ? "" : "s");
}

/* ---- counters (qstatus) ---- */

static void flush_moved_locked(struct q_mpi *m)
{
	for (size_t i = 0; i < m->nmoved; i++) {
		struct moved_job *mj = &m->moved[i];
		struct q_error err = Q_ERROR_INIT;
		if (!mj->dirty)
			continue;
		struct q_jobh *h = q_jobcache_get(m->cache, mj->job, &err);
		if (h && q_moved_write(h, m->worker_id, &mj->moved, &err) == 0)
			mj->dirty = false;
	}
	m->moved_flushed = mpi_mono_ns();
}

void mpi_count_moved(struct q_mpi *m, uint64_t job, uint64_t mpi_bytes,
			uint64_t file_bytes)
{
	pthread_mutex_lock(&m->moved_lock);
	struct moved_job *mj = NULL;
	for (size_t i = 0; i < m->nmoved && !mj; i++)
		if (m->moved[i].job == job)
			mj = &m->moved[i];
	if (!mj) {
		if (m->nmoved == m->cap_moved) {
			m->cap_moved = m->cap_moved ? 2 * m->cap_moved : 8;
			m->moved = realloc(m->moved,
					   m->cap_moved * sizeof(*m->moved));
			if (!m->moved)
				abort();
		}
		mj = &m->moved[m->nmoved++];
		memset(mj, 0, sizeof(*mj));
		mj->job = job;
	}
	mj->moved.mpi_bytes += mpi_bytes;
	mj->moved.file_bytes += file_bytes;
	mj->dirty = true;
	if (mpi_mono_ns() - m->moved_flushed >= MOVED_FLUSH_NS)
		flush_moved_locked(m);
	pthread_mutex_unlock(&m->moved_lock);
}

static void on_file_read(void *arg, uint64_t job, uint64_t bytes)
{
	mpi_count_moved(arg, job, 0, bytes);
}

/* ---- serving (the server thread) ---- */

/*
 * Fault injection for the tests: SPOOLQ_MPI_CORRUPT=K makes this rank's
 * K-th reply carry one flipped byte, as a damaged transfer would
 * (tests/mpi/mpi_checksum.sh). Returns a damaged copy of the first
 * message to send instead, or NULL.
 */
static char *corrupt_copy(struct q_mpi *m, const struct held *e, size_t n)
{
	static atomic_uint replies;
	const char *k = getenv("SPOOLQ_MPI_CORRUPT");
	if (!k || atomic_fetch_add(&replies, 1) + 1 != strtoul(k, NULL, 10))
		return NULL;
	char *copy = malloc(n);
	if (!copy)
		return NULL;
	memcpy(copy, e->data, n);
	copy[n / 2] ^= 0x5a;
	fprintf(stderr, "%s: SPOOLQ_MPI_CORRUPT: damaging a reply\n",
		m->opt.prog);
	return copy;
}

/* Send e's bytes to `peer` on `tag`, as design note 3 says. */
static void send_bytes(struct q_mpi *m, const struct held *e, int peer,
		       int tag)
{
	char *damaged = corrupt_copy(m, e, e->len < MESSAGE_MAX ? e->len
								 : MESSAGE_MAX);
	for (size_t off = 0; off < e->len; off += MESSAGE_MAX) {
		size_t n = e->len - off < MESSAGE_MAX ? e->len - off
						      : MESSAGE_MAX;
		const char *bytes = off == 0 && damaged ? damaged
							: e->data + off;
		MPI_Request req;
		if (MPI_Isend(bytes, (int)n, MPI_BYTE, peer, tag, m->comm,
			      &req) != MPI_SUCCESS ||
		    wait_request(m, &req, peer, true) < 0)
			break;   /* the consumer went away: it gives up */
	}
	free(damaged);
}

static void serve_request(struct q_mpi *m, const struct request *q, int peer)
{
	struct reply rp = { .status = REPLY_NOT_HELD };
	pthread_mutex_lock(&m->lock);
	struct held *e = held_find_locked(m, q->job, q->item, q->attempt);
	if (e && e->published) {
		e->refs++;
		rp.status = REPLY_HELD;
		rp.len = e->len;
		rp.sum = e->sum;
	} else {
		e = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	MPI_Request req;
	if (MPI_Isend(&rp, sizeof(rp), MPI_BYTE, peer, (int)q->reply_tag,
		      m->comm, &req) == MPI_SUCCESS &&
	    wait_request(m, &req, peer, false) == 0 && e)
		send_bytes(m, e, peer, (int)q->reply_tag);
	if (e) {
		pthread_mutex_lock(&m->lock);
		held_unref_locked(e);
		pthread_mutex_unlock(&m->lock);
	}
}

static void *serve(void *arg)
{
	struct q_mpi *m = arg;
	struct request q;
	MPI_Request req;
	MPI_Status st;
	long nap_ns = 0;

	if (MPI_Irecv(&q, sizeof(q), MPI_BYTE, MPI_ANY_SOURCE, TAG_REQUEST,
		      m->comm, &req) != MPI_SUCCESS)
		return NULL;
	while (!atomic_load(&m->stop)) {
		int done = 0;
		if (MPI_Test(&req, &done, &st) != MPI_SUCCESS)
			break;
		if (!done) {
			mpi_nap(&nap_ns);
			continue;
		}
		nap_ns = 0;
		if (q.kind == REQ_FETCH && q.reply_tag >= TAG_FIRST_REPLY)
			serve_request(m, &q, st.MPI_SOURCE);
		else if (q.kind == REQ_BCAST_NEED && m->rank == 0)
			mpi_bcast_begin(m, q.job);
		else if (q.kind == REQ_BCAST_START && st.MPI_SOURCE == 0)
			mpi_bcast_join(m, &q);
		if (MPI_Irecv(&q, sizeof(q), MPI_BYTE, MPI_ANY_SOURCE,
			      TAG_REQUEST, m->comm, &req) != MPI_SUCCESS)
			return NULL;
	}
	MPI_Cancel(&req);
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	return NULL;
}

/* ---- consuming ---- */

/*
 * Ask rank `peer` for a held result (design note 3): 0 with the bytes,
 * -ENOENT when it no longer holds it (spilled: read the file), or
 * -EHOSTDOWN/-EIO. *mem_ns: how long getting the receive memory took.
 */
static int pull(struct q_mpi *m, int peer, uint64_t job, uint64_t item,
		unsigned attempt, char **data_out, size_t *len_out,
		int64_t *mem_ns)
{
	int tag = TAG_FIRST_REPLY +
		  (int)(atomic_fetch_add(&m->next_tag, 1) %
			(unsigned)m->tag_span);
	struct request q = { .kind = REQ_FETCH, .reply_tag = (uint32_t)tag,
			     .job = job, .item = item, .attempt = attempt };
	struct reply rp;
	MPI_Request req;
	if (MPI_Irecv(&rp, sizeof(rp), MPI_BYTE, peer, tag, m->comm, &req) !=
	    MPI_SUCCESS)
		return -EIO;
	if (MPI_Send(&q, sizeof(q), MPI_BYTE, peer, TAG_REQUEST, m->comm) !=
	    MPI_SUCCESS) {
		MPI_Cancel(&req);
		MPI_Request_free(&req);
		return -EIO;
	}
	int ret = wait_request(m, &req, peer, false);
	if (ret < 0)
		return ret;
	if (rp.status != REPLY_HELD)
		return -ENOENT;
	int64_t t0 = mpi_mono_ns();
	char *data = q_big_alloc(rp.len + 1);
	*mem_ns = mpi_mono_ns() - t0;
	if (!data)
		return -ENOMEM;
	for (size_t off = 0; off < rp.len && ret == 0; off += MESSAGE_MAX) {
		size_t n = rp.len - off < MESSAGE_MAX ? rp.len - off
						      : MESSAGE_MAX;
		if (MPI_Irecv(data + off, (int)n, MPI_BYTE, peer, tag, m->comm,
			      &req) != MPI_SUCCESS)
			ret = -EIO;
		else
			ret = wait_request(m, &req, peer, true);
	}
	if (ret < 0) {
		q_big_free(data);
		return ret;
	}
	data[rp.len] = '\0';
	*data_out = data;
	*len_out = rp.len;
	return 0;
}

/* A lending of a held result comes back (spoolq/bigbuf.h). */
static void lent_back(void *arg)
{
	struct held *e = arg;
	struct q_mpi *m = e->m;
	pthread_mutex_lock(&m->lock);
	held_unref_locked(e);
	pthread_mutex_unlock(&m->lock);
}

/* A result this rank holds itself, lent rather than copied: a copy of
 * 256 MiB into fresh memory was 280-420 ms of a hand-over here
 * (bench/wl_mpi.sh). The reference keeps the bytes alive through a
 * spill until the consumer's q_big_free. */
static bool lend_own(struct q_mpi *m, const struct q_record *rec, size_t i,
		     char **data_out, size_t *len_out)
{
	pthread_mutex_lock(&m->lock);
	struct held *e = held_find_locked(m, rec->job, rec->items[i].item,
					  rec->attempt);
	if (!e || !e->published) {
		pthread_mutex_unlock(&m->lock);
		return false;
	}
	e->refs++;
	pthread_mutex_unlock(&m->lock);
	q_big_lend(e->data, lent_back, e);
	*data_out = e->data;
	*len_out = e->len;
	return true;
}

/*
 * The spilled file, if it is there now: libq reads it as any big output
 * (checked against its sum, counted as read from a file). Spills are
 * never removed, so a file seen here is still there when libq opens
 * it, and libq does not come back to the fetch hook. 0, or -errno.
 */
static int read_spilled(struct q_jobh *h, const struct q_record *rec,
			size_t i, char **data_out, size_t *len_out,
			struct q_error *err)
{
	char *path = q_record_output_path(h, rec, i, false);
	bool there = path && access(path, F_OK) == 0;
	free(path);
	if (!there)
		return -ENOENT;
	return q_record_output_mem(h, rec, i, false, SIZE_MAX, data_out,
				   len_out, err);
}

/* Design note 4: run the producer again, here. */
static int recompute(struct q_mpi *m, struct q_jobh *h,
		     const struct q_record *rec, size_t i, char **data_out,
		     size_t *len_out, struct q_error *err)
{
	const struct q_job *job = q_jobh_job(h);
	const struct q_item_record *it = &rec->items[i];
	const struct q_group *g = q_job_group_of(job, it->item);
	char label[Q_NAME_MAX + 32];
	q_job_item_label(job, it->item, label, sizeof(label));
	const struct q_kernel *k = g && g->kind == Q_TASK_KERNEL
					   ? q_kernel_find(g->kernel) : NULL;
	if (!k)
		return q_error_set(err, Q_ERR_SYSTEM, ENOENT,
				   "the result of job %llu task %s was held "
				   "by MPI rank %u (world %s), which is gone, "
				   "and this worker cannot run its kernel "
				   "again to recompute it",
				   (unsigned long long)job->id, label,
				   it->held_rank, it->held_world);
	if (recompute_depth >= RECOMPUTE_DEPTH_MAX)
		return q_error_set(err, Q_ERR_SYSTEM, ELOOP,
				   "recomputing job %llu task %s needs lost "
				   "results %u deep; giving up",
				   (unsigned long long)job->id, label,
				   recompute_depth);
	if (m->opt.verbose)
		fprintf(stderr, "%s: job %llu %s: its result was held by MPI "
			"rank %u, which is gone: recomputing it\n",
			m->opt.prog, (unsigned long long)job->id, label,
			it->held_rank);
	struct q_sink out, log;
	struct q_output res, logres;
	int cancel = 0;
	q_sink_init(&out, m->sp, "out", NULL);
	q_sink_hold(&out, (size_t)it->out.length + 1);
	q_sink_init(&log, m->sp, "err", NULL);
	unsigned threads = q_chunk_threads(job, rec->chunk, 1024);
	struct q_ctx *ctx = q_ctx_new_sinks(h, m->cache, it->item, threads,
					    &out, &log, &cancel);
	int saved_threads = omp_get_max_threads();
	omp_set_num_threads((int)threads);
	recompute_depth++;
	int rc = k->run(ctx);
	recompute_depth--;
	omp_set_num_threads(saved_threads);
	int fin = q_ctx_finish(ctx);
	q_ctx_release(ctx);
	q_sink_finish(&out, &res);
	q_sink_finish(&log, &logres);
	q_output_discard(m->sp, &logres);
	int ret = 0;
	if (rc != 0 || fin != 0 || res.tmp[0])
		ret = q_error_set(err, Q_ERR_SYSTEM, EIO,
				  "recomputing job %llu task %s (its result "
				  "was lost with MPI rank %u) failed: %s %d",
				  (unsigned long long)job->id, label,
				  it->held_rank,
				  rc ? "the kernel returned" : "error",
				  rc ? rc : fin);
	else if (res.len != it->out.length ||
		 q_checksum(res.data, res.len) != it->out_sum)
		ret = q_error_set(err, Q_ERR_SYSTEM, EBADMSG,
				  "recomputing job %llu task %s (its result "
				  "was lost with MPI rank %u) gave other bytes "
				  "than the first run: the kernel is not "
				  "deterministic; mark the task 'pure: false' "
				  "so its result is always written to the "
				  "spool", (unsigned long long)job->id, label,
				  it->held_rank);
	if (ret < 0) {
		q_output_discard(m->sp, &res);
		return ret;
	}
	/* For the next consumer, and qcollect: where the holder would
	 * have written it. */
	struct q_error serr = Q_ERROR_INIT;
	if (q_output_spill(h, it->item, rec->attempt, rec->worker, res.data,
			   res.len, &serr) < 0)
		fprintf(stderr, "%s: %s\n", m->opt.prog, serr.message);
	char *data = realloc(res.data, res.len + 1);
	if (!data) {
		q_output_discard(m->sp, &res);
		return q_error_set(err, Q_ERR_SYSTEM, ENOMEM, "no memory");
	}
	data[res.len] = '\0';
	*data_out = data;
	*len_out = res.len;
	return 0;
}

/* The fetch hook (spoolq/spool.h): a held result not in the spool.
 * 1: the bytes are checked (pulled and summed here, this rank's own
 * copy, the spilled file read by libq, or recomputed against the sum). */
static int fetch(void *arg, struct q_jobh *h, const struct q_record *rec,
		 size_t i, char **data_out, size_t *len_out,
		 struct q_error *err)
{
	struct q_mpi *m = arg;
	const struct q_item_record *it = &rec->items[i];
	bool ours = strcmp(it->held_world, m->world) == 0 &&
		    it->held_rank < (unsigned)m->size;
	int peer = (int)it->held_rank;

	if (ours && peer == m->rank && lend_own(m, rec, i, data_out, len_out))
		return 1;
	for (int t = 0; ours && peer != m->rank && t < PULL_TRIES; t++) {
		int64_t t0 = mpi_mono_ns(), mem_ns = 0;
		int ret = pull(m, peer, rec->job, it->item, rec->attempt,
			       data_out, len_out, &mem_ns);
		if (ret < 0)
			break;
		int64_t t1 = mpi_mono_ns();
		if (*len_out == it->out.length &&
		    q_checksum(*data_out, *len_out) == it->out_sum) {
			mpi_count_moved(m, rec->job, *len_out, 0);
			/* bench/wl_mpi.sh reads this line. The time
			 * includes getting the memory, also given apart:
			 * fresh memory's page faults, or a kept buffer. */
			if (m->opt.verbose)
				fprintf(stderr, "%s: job %llu item %llu: "
					"pulled %zu bytes from MPI rank %d in "
					"%.3f ms (%.2f GB/s; memory %.3f ms), "
					"checked in %.3f ms\n", m->opt.prog,
					(unsigned long long)rec->job,
					(unsigned long long)it->item,
					*len_out, peer, (double)(t1 - t0) / 1e6,
					(double)*len_out / (double)(t1 - t0),
					(double)mem_ns / 1e6,
					(double)(mpi_mono_ns() - t1) / 1e6);
			return 1;
		}
		fprintf(stderr, "%s: job %llu item %llu from MPI rank %d: "
			"checksum mismatch; asking again\n", m->opt.prog,
			(unsigned long long)rec->job,
			(unsigned long long)it->item, peer);
		q_big_free(*data_out);
	}
	/* Spilled meanwhile, or written by someone who recomputed it. */
	int ret = read_spilled(h, rec, i, data_out, len_out, err);
	if (ret != -ENOENT)
		return ret < 0 ? ret : 1;
	ret = recompute(m, h, rec, i, data_out, len_out, err);
	return ret < 0 ? ret : 1;
}

/* ---- start and stop ---- */

/* Design note: a quarter of the node's memory, shared by its ranks. */
static size_t default_budget(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	size_t total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page
					     : (size_t)1 << 30;
	const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
	long ranks = local ? strtol(local, NULL, 10) : 1;
	if (ranks < 1)
		ranks = 1;
	return total / 4 / (size_t)ranks;
}

static int mpi_fail(struct q_error *err, const char *what, int rc)
{
	char text[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
		snprintf(text, sizeof(text), "error %d", rc);
	return q_error_set(err, Q_ERR_SYSTEM, EIO, "MPI: %s: %s", what, text);
}

/* The world's id: rank 0's random number, for everyone. */
static int agree_on_world(struct q_mpi *m, struct q_error *err)
{
	char id[Q_WORLD_MAX] = { 0 };
	if (m->rank == 0) {
		uint64_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint64_t)mpi_mono_ns() ^ (uint64_t)getpid() << 32;
		snprintf(id, sizeof(id), "w%016llx", (unsigned long long)r);
	}
	int rc = MPI_Bcast(id, sizeof(id), MPI_CHAR, 0, m->comm);
	if (rc != MPI_SUCCESS)
		return mpi_fail(err, "cannot agree on the world's id", rc);
	memcpy(m->world, id, sizeof(m->world));
	m->peer_ids = calloc((size_t)m->size, sizeof(*m->peer_ids));
	m->peer_gone = calloc((size_t)m->size, sizeof(*m->peer_gone));
	if (!m->peer_ids || !m->peer_gone)
		abort();
	rc = MPI_Allgather(m->worker_id, Q_WORKER_ID_MAX, MPI_CHAR,
			   m->peer_ids, Q_WORKER_ID_MAX, MPI_CHAR, m->comm);
	if (rc != MPI_SUCCESS)
		return mpi_fail(err, "cannot exchange the workers' ids", rc);
	return 0;
}

/* --mpi-prefault: receive memory faulted in now, not during the first
 * pulls (libq/bigbuf.c design note 1). The budget was checked before
 * MPI started (q_mpi_start), so every rank refuses it alike. Without it the rank works
 * all the same, so a failure is only said. */
static void prefault(struct q_mpi *m)
{
	int64_t t0 = mpi_mono_ns();
	int ret = q_big_reserve(m->opt.prefault);
	if (ret < 0)
		fprintf(stderr, "%s: --mpi-prefault: cannot fault in %zu MiB "
			"(%s); receive memory is faulted in on first use\n",
			m->opt.prog, m->opt.prefault >> 20, strerror(-ret));
	else if (m->opt.verbose)
		fprintf(stderr, "%s: faulted in %zu MiB for receiving in "
			"%.1f ms\n", m->opt.prog, m->opt.prefault >> 20,
			(double)(mpi_mono_ns() - t0) / 1e6);
}

int q_mpi_start(struct q_spool *sp, const char *worker_id,
		const struct q_mpi_options *opt, struct q_mpi **out,
		struct q_error *err)
{
	int provided = 0, flag = 0, rc;
	size_t mem = opt->mem ? opt->mem : default_budget();
	if (opt->prefault > mem)
		return q_error_set(err, Q_ERR_INPUT, 0, "--mpi-prefault (%zu "
				   "MiB) is more than this rank's budget for "
				   "held results (%zu MiB, --mpi-mem): give a "
				   "smaller --mpi-prefault or a bigger --mpi-mem",
				   opt->prefault >> 20, mem >> 20);
	MPI_Initialized(&flag);
	if (flag)
		return q_error_set(err, Q_ERR_SYSTEM, EBUSY,
				   "MPI is already initialized in this process");
	rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
	if (rc != MPI_SUCCESS)
		return mpi_fail(err, "MPI_Init_thread", rc);
	if (provided < MPI_THREAD_MULTIPLE) {
		MPI_Finalize();
		return q_error_set(err, Q_ERR_SYSTEM, ENOTSUP,
				   "this MPI library gives thread level %d, "
				   "and qworker --mpi needs MPI_THREAD_MULTIPLE "
				   "(Open MPI built with thread support)",
				   provided);
	}
	struct q_mpi *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->sp = sp;
	m->opt = *opt;
	m->opt.mem = mem;
	snprintf(m->worker_id, sizeof(m->worker_id), "%s", worker_id);
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->moved_lock, NULL);
	pthread_mutex_init(&m->peers_lock, NULL);
	pthread_mutex_init(&m->bcast_lock, NULL);
	pthread_cond_init(&m->bcast_cond, NULL);
	/* On MPI_COMM_WORLD errors are fatal (MPI's default handler, which
	 * says what failed); the duplicates then return them to us. */
	MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &m->size);
	MPI_Comm_dup(MPI_COMM_WORLD, &m->comm);
	MPI_Comm_dup(MPI_COMM_WORLD, &m->exit_comm);
	MPI_Comm_dup(MPI_COMM_WORLD, &m->bcast_comm);
	MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
	MPI_Comm_set_errhandler(m->exit_comm, MPI_ERRORS_RETURN);
	MPI_Comm_set_errhandler(m->bcast_comm, MPI_ERRORS_RETURN);
	int *tag_ub = NULL;
	MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tag_ub, &flag);
	m->tag_span = (flag && tag_ub ? *tag_ub : 32767) - TAG_FIRST_REPLY;
	/* Before the world's first collective, so that the ranks start
	 * claiming together, however long each took to fault its memory. */
	q_big_keep_limit(m->opt.mem);
	if (m->opt.prefault)
		prefault(m);
	if (agree_on_world(m, err) < 0) {
		MPI_Abort(MPI_COMM_WORLD, 3);
		return -EIO;
	}
	m->cache = q_jobcache_new(sp);
	struct q_world_hooks hooks = { fetch, on_file_read, mpi_bcast_get, m };
	q_spool_set_world(sp, m->world, (unsigned)m->rank, &hooks);
	if (pthread_create(&m->server, NULL, serve, m) != 0) {
		MPI_Abort(MPI_COMM_WORLD, 3);
		return q_error_set(err, Q_ERR_SYSTEM, EAGAIN,
				   "cannot start the MPI server thread");
	}
	m->server_started = true;
	if (m->opt.verbose)
		fprintf(stderr, "%s: MPI rank %d of %d (world %s): results of "
			"%zu bytes or more stay here, up to %zu MiB\n",
			m->opt.prog, m->rank, m->size, m->world,
			m->opt.threshold, m->opt.mem >> 20);
	*out = m;
	return 0;
}

/* Wait for `req` (or, without one, for this rank to have finished
 * `want` broadcasts), napping; false when a peer is gone. */
static bool exit_wait(struct q_mpi *m, MPI_Request *req, uint64_t want)
{
	int64_t next_check = mpi_mono_ns() + LIVENESS_EVERY_NS;
	long nap_ns = 0;
	for (;;) {
		int done = 0, gone;
		if (req && MPI_Test(req, &done, MPI_STATUS_IGNORE) !=
				   MPI_SUCCESS)
			return false;
		if (!req) {
			pthread_mutex_lock(&m->bcast_lock);
			done = m->bcasts_done >= want;
			pthread_mutex_unlock(&m->bcast_lock);
		}
		if (done)
			return true;
		if (m->opt.alive)
			m->opt.alive(m->opt.alive_arg);
		if (mpi_mono_ns() >= next_check) {
			if (mpi_any_peer_gone(m, &gone)) {
				fprintf(stderr, "%s: MPI rank %d is gone; "
					"leaving without waiting for it\n",
					m->opt.prog, gone);
				return false;
			}
			next_check = mpi_mono_ns() + LIVENESS_EVERY_NS;
		}
		mpi_nap(&nap_ns);
	}
}

/* Design note 6: true when every rank is done, broadcasts included. */
static bool wait_for_all(struct q_mpi *m)
{
	MPI_Request req;
	if (MPI_Ibarrier(m->exit_comm, &req) != MPI_SUCCESS ||
	    !exit_wait(m, &req, 0))
		return false;
	/* No task runs any more: rank 0's count is final. */
	uint64_t started;
	pthread_mutex_lock(&m->bcast_lock);
	started = m->bcasts_started;
	pthread_mutex_unlock(&m->bcast_lock);
	if (MPI_Ibcast(&started, 1, MPI_UINT64_T, 0, m->exit_comm, &req) !=
		    MPI_SUCCESS ||
	    !exit_wait(m, &req, 0) || !exit_wait(m, NULL, started))
		return false;
	return MPI_Ibarrier(m->exit_comm, &req) == MPI_SUCCESS &&
	       exit_wait(m, &req, 0);
}

void q_mpi_stop(struct q_mpi *m)
{
	if (!m)
		return;
	q_mpi_spill_all(m);
	unsigned long given, reused;
	q_big_counts(&given, &reused);
	if (m->opt.verbose && given)
		fprintf(stderr, "%s: %lu of %lu big receive buffers were kept "
			"memory, reused\n", m->opt.prog, reused, given);
	pthread_mutex_lock(&m->moved_lock);
	flush_moved_locked(m);
	pthread_mutex_unlock(&m->moved_lock);
	bool all = wait_for_all(m);
	atomic_store(&m->stop, 1);
	q_spool_set_world(m->sp, "", 0, NULL);
	if (!all) {
		/* A rank is gone (design note 6): the server thread may be
		 * stuck in a broadcast with it for good, so it is not
		 * joined, nor is anything it may touch freed; the process
		 * is about to exit. */
		return;
	}
	if (m->server_started)
		pthread_join(m->server, NULL);
	MPI_Comm comm = m->comm, exit_comm = m->exit_comm;
	MPI_Comm bcast_comm = m->bcast_comm;
	mpi_bcasts_free(m);
	/* Whatever could not be spilled is lost with this process. */
	while (m->held) {
		struct held *e = m->held;
		m->held = e->next;
		free(e->data);
		free(e);
	}
	q_jobcache_release(m->cache);
	free(m->moved);
	free(m->peer_ids);
	free(m->peer_gone);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->moved_lock);
	pthread_mutex_destroy(&m->peers_lock);
	pthread_mutex_destroy(&m->bcast_lock);
	pthread_cond_destroy(&m->bcast_cond);
	free(m);
	MPI_Comm_free(&comm);
	MPI_Comm_free(&exit_comm);
	MPI_Comm_free(&bcast_comm);
	MPI_Finalize();
}
