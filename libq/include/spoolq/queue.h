/*
 * spoolq/queue.h: the spool protocol a worker (and qcancel) speaks.
 *
 * A job handle (struct q_jobh) is a loaded job plus directory handles into
 * jobs/<id>/. The life of a chunk, each arrow one atomic directory
 * operation (docs/spool-format.md has the full state table):
 *
 *   wait/c<D>/  --rename when empty-->  ready/<s>/<D>.a<N>/
 *   ready/<s>/<D>.a<N>  --rename (claim)-->  claim/<s>/<D>.a<N>@<worker>
 *   claim/...  --link record (commit, first wins)-->  done/<s>/<D>
 *   claim/...  --rename (hand back)-->  ready/<s>/<D>.a<N>
 *
 * Calling sequence for a worker:
 *   q_jobh_open(spool, id, &h, &err);
 *   while (q_claim_next(h, worker_id, &claim, &err) == 1) {
 *       ... run the chunk's items (q_dep_check, q_cancel_check) ...
 *       q_commit(h, cache, &claim, worker_id, outcomes, n, &err);
 *   }
 *   q_jobh_close(h);
 *
 * Handles are not shared between threads without the caller's locking;
 * q_commit and q_claim_next on different handles of the same job in
 * different threads or processes are safe: that is the point.
 */
#ifndef SPOOLQ_QUEUE_H
#define SPOOLQ_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>
#include <spoolq/record.h>

struct q_spool;
struct q_job;
struct q_jobh;
struct q_jobcache;

Q_EXPORT int q_jobh_open(struct q_spool *spool, uint64_t id,
			 struct q_jobh **h_out, struct q_error *err);
Q_EXPORT void q_jobh_close(struct q_jobh *h);
Q_EXPORT const struct q_job *q_jobh_job(const struct q_jobh *h);
Q_EXPORT struct q_spool *q_jobh_spool(const struct q_jobh *h);
/* True once every chunk of the job has a record (todo/ is gone). */
Q_EXPORT bool q_jobh_finished(struct q_jobh *h);

/*
 * A cache of open job handles by id, for code that touches several jobs
 * (a worker; a commit releasing dependents in later jobs). Handles
 * returned by q_jobcache_get belong to the cache.
 */
Q_EXPORT struct q_jobcache *q_jobcache_new(struct q_spool *spool);
Q_EXPORT void q_jobcache_release(struct q_jobcache *cache);
Q_EXPORT struct q_jobh *q_jobcache_get(struct q_jobcache *cache, uint64_t id,
				       struct q_error *err);
/* Close and forget a job's handle (a finished job a worker drops). */
Q_EXPORT void q_jobcache_drop(struct q_jobcache *cache, uint64_t id);

#define Q_WORKER_ID_MAX 160
#define Q_CLAIM_NAME_MAX 256

struct q_claim {
	uint64_t chunk;
	unsigned attempt;
	unsigned shard;
	int64_t claimed_ns;
	char name[Q_CLAIM_NAME_MAX];   /* claim/<shard>/<name> */
};

/* A worker id: host.pid.random, valid as a file name component. */
Q_EXPORT void q_worker_id_make(char *out, size_t size);

/*
 * Claim one ready chunk of the job that fits in `free_cores` (a chunk
 * needs its task's threads, capped at `total_cores`, the most this worker
 * can ever give). Returns 1 with *claim filled, 0 when nothing fitting is
 * ready, or -errno with err set. `start_shard` spreads workers over the
 * shards (any value; it is taken modulo the shard count).
 */
Q_EXPORT int q_claim_next(struct q_jobh *h, const char *worker_id,
			  unsigned start_shard, unsigned free_cores,
			  unsigned total_cores, struct q_claim *claim,
			  struct q_error *err);
/*
 * The chunk of `job` that this thread last made ready by finishing its
 * dependencies (in a commit), if any since it last asked: true and
 * *chunk. A hint for running it next (q_claim_chunk), nothing more.
 */
Q_EXPORT bool q_take_promoted(uint64_t job, uint64_t *chunk);
/* Claim the ready chunk `chunk` (first attempt) if it is still there and
 * fits: 1 claimed, 0 not (someone else was first, or it does not fit),
 * or -errno with err set. */
Q_EXPORT int q_claim_chunk(struct q_jobh *h, const char *worker_id,
			   uint64_t chunk, unsigned cores,
			   struct q_claim *claim, struct q_error *err);

/*
 * Claim up to `max` ready chunks of one shard at once (a bundle), into
 * claims[0..]: one rename each, all with the same thread count, never
 * more than a quarter of what the shard holds ready. Returns how many
 * (0: nothing fits), or -errno with err set.
 */
Q_EXPORT int q_claim_bundle(struct q_jobh *h, const char *worker_id,
			    unsigned start_shard, unsigned free_cores,
			    unsigned total_cores, size_t max,
			    struct q_claim *claims, struct q_error *err);

/*
 * Whether any chunk of the job is ready or claimed (running, or held by a
 * worker that may have died): 1, 0, or -errno. An unfinished job with
 * neither, after a repair sweep, can only move when a job it waits for
 * does: a worker told to exit when idle need not wait for it.
 */
Q_EXPORT int q_job_in_motion(struct q_jobh *h);

/* Cores a chunk of this job needs on a worker with `total_cores`. */
Q_EXPORT unsigned q_chunk_threads(const struct q_job *job, uint64_t chunk,
				  unsigned total_cores);

/*
 * Attempts (libq/lease.c). A chunk may be claimed q_chunk_max_attempts
 * times (its task's retries + 1). q_claim_retry requeues a claimed chunk
 * after a failure as attempt N+1, claimable after `delay_s` seconds.
 * q_reclaim_expired requeues (or, past the last attempt, fails) the
 * claims of workers whose lease expired, judged by the file server's
 * clock; *reclaimed_out counts them. A late result from the presumed-dead
 * worker never replaces the one that counts (records are first-wins).
 */
Q_EXPORT unsigned q_chunk_max_attempts(const struct q_job *job,
				       uint64_t chunk);
Q_EXPORT int q_claim_retry(struct q_jobh *h, const struct q_claim *claim,
			   double delay_s, struct q_error *err);
Q_EXPORT int q_reclaim_expired(struct q_jobh *h, struct q_jobcache *cache,
			       const char *reclaimer_id,
			       uint64_t *reclaimed_out, struct q_error *err);

/* Give a claimed chunk back, unstarted or interrupted (the worker stops,
 * or the spool is full or over quota): it becomes ready again with the
 * same attempt number. A chunk that already has a record is left alone
 * (the record dominates; the repair sweep removes the claim). */
Q_EXPORT int q_claim_handback(struct q_jobh *h, const struct q_claim *claim,
			      struct q_error *err);

/*
 * An item's output stream (stdout or stderr, a kernel's result or log)
 * as a worker hands it to q_commit: in memory (small ones, the usual
 * case: no file at all), in a temporary in tmp/, or nothing (spoolq/sink.h
 * makes these).
 */
struct q_output {
	char *data;                    /* malloc'ed bytes, or NULL */
	size_t len;
	char tmp[Q_CLAIM_NAME_MAX];    /* tmp/ file holding it, or "" */
	/* XXH3-64 of the bytes, for big outputs (the sink computes it). */
	bool summed;
	uint64_t sum;
	/* Kept by the worker's MPI store: data is NULL, len the size; the
	 * record says Q_STREAM_HELD at the spool's world and rank
	 * (q_spool_set_world). */
	bool held;
};

/* One item's outcome, as a worker hands it to q_commit. */
struct q_outcome {
	uint64_t item;
	enum q_state state;       /* DONE, FAILED or CANCELLED */
	int exit_code;            /* or Q_EXIT_NONE */
	int64_t start_ns, end_ns;
	unsigned slot;
	struct q_output out;      /* stdout, or a kernel's result */
	struct q_output err;      /* stderr, or a kernel's log */
	char reason[256];         /* why it failed or was cancelled, or "" */
	char key[Q_KEY_HEX];      /* a pure task's key (q_item_key), or "" */
};

/*
 * Commit a claimed chunk: publish its record (durably: file and directory
 * fsynced before it is visible), drop the claim, count the chunk off the
 * job, and release the chunks waiting for it, in this job and in later
 * jobs (through `cache`). Returns 1 when our record is the one that
 * counts, 0 when another attempt's record was there first (ours is
 * discarded), -errno on failure with err set: then no record of ours was
 * published and the claim is untouched, so the chunk can be handed back
 * (ENOSPC and EDQUOT are no task's fault). A failure after the record is
 * published is only a warning: the repair sweep finishes the rest. The
 * outputs in the outcomes (memory and temporaries) are consumed in every
 * case.
 */
Q_EXPORT int q_commit(struct q_jobh *h, struct q_jobcache *cache,
		      const struct q_claim *claim, const char *worker_id,
		      struct q_outcome *outcomes, size_t n,
		      struct q_error *err);

/*
 * Commit a bundle: chunks claims[0..n) of one job, chunk i with
 * counts[i] outcomes in outcomes[i]. Their records go into one file
 * (a segment), fsynced once and linked once per chunk, each link still
 * that chunk's own first-wins commit; then as q_commit. results[i] gets
 * 1 (ours counts), 0 (another attempt's does) or -1 (not published: hand
 * that chunk back). Returns 0, or -errno with err set when none was
 * published. The outputs are consumed in every case.
 */
Q_EXPORT int q_commit_bundle(struct q_jobh *h, struct q_jobcache *cache,
			     const struct q_claim *claims,
			     struct q_outcome **outcomes, const size_t *counts,
			     size_t n, const char *worker_id, int *results,
			     struct q_error *err);

/*
 * Before running `item`: has one of its dependencies failed or been
 * cancelled? Returns 1 with a reason ("dependency 'x' failed"), 0 if not,
 * -errno on failure.
 */
Q_EXPORT int q_dep_check(struct q_jobh *h, struct q_jobcache *cache,
			 uint64_t item, char *reason, size_t size,
			 struct q_error *err);

/* Has `item` (or its task, or its job) been cancelled? A job with no
 * cancel set is looked at again at most every 20 ms (cancel.c). */
Q_EXPORT bool q_cancel_check(struct q_jobh *h, uint64_t item);

/*
 * Cancel a job, or some of its tasks (`tasks`: task names, "name[i]" or
 * "name[a-b]"; NULL for the whole job). Waiting and ready chunks are
 * finished as cancelled right away; running ones are stopped by their
 * workers, which check between items and while commands run.
 * *cancelled_out counts the tasks this call cancelled.
 */
Q_EXPORT int q_cancel(struct q_jobh *h, struct q_jobcache *cache,
		      const char *const *tasks, size_t ntasks,
		      uint64_t *cancelled_out, struct q_error *err);

/* The inputs of an item: the results of its dependencies in `after`
 * order. Each entry is (job, item). *inputs_out is malloc'ed. */
struct q_input_ref {
	uint64_t job;
	uint64_t item;
};
Q_EXPORT int q_item_inputs(struct q_jobh *h, uint64_t item,
			   struct q_input_ref **inputs_out, size_t *n_out,
			   struct q_error *err);

/*
 * The repair sweep for one job: finish every transition a crashed process
 * left half-done (a finished chunk whose dependents were not released, an
 * emptied wait directory not yet promoted, a claim or todo entry left
 * behind a record). Idempotent and safe to run at any time, from several
 * processes at once; it never makes a task run twice.
 */
struct q_repair_report {
	uint64_t released;        /* wait units released */
	uint64_t promoted;        /* empty wait directories promoted */
	uint64_t claims_removed;  /* claims left behind a record */
	uint64_t counted_off;     /* todo entries left behind a record */
	uint64_t todo_closed;     /* emptied todo/ directories removed */
	uint64_t reclaimed;       /* claims of workers whose lease expired
				     or whose process is gone */
	uint64_t stages_removed;  /* tmp/: staged, never published jobs */
	uint64_t tmp_removed;     /* tmp/: other files of dead writers */
	uint64_t workers_forgotten; /* heartbeat files of workers dead for an
				       hour (and ten leases) removed */
};
Q_EXPORT int q_repair(struct q_jobh *h, struct q_jobcache *cache,
		      struct q_repair_report *report, struct q_error *err);
/* The spool-wide part of the sweep: removes what dead writers left in
 * tmp/ (a submission staged but never published, temporaries never
 * renamed into place) and forgets long-dead workers; the rules are in
 * libq/repair.c. Adds to *report. */
Q_EXPORT int q_repair_spool(struct q_spool *spool,
			    struct q_repair_report *report,
			    struct q_error *err);

/*
 * Pure tasks and result reuse (libq/key.c). q_item_key gives a pure
 * item's key (1), or 0 when the item is not pure or an input is not
 * done. A worker that has keys for every item of a claimed chunk asks
 * q_cache_reuse (with the keys in the outcomes): 1 means an earlier
 * record with the same chunk key was found and committed as this chunk's
 * result, marked cached, without running anything; 0 means run it (and
 * q_commit, seeing the keys, records them and publishes the cache
 * entry).
 */
Q_EXPORT int q_item_key(struct q_jobh *h, struct q_jobcache *cache,
			uint64_t item, char key_out[Q_KEY_HEX]);
Q_EXPORT int q_cache_reuse(struct q_jobh *h, struct q_jobcache *cache,
			   const struct q_claim *claim, const char *worker_id,
			   struct q_outcome *outcomes, size_t n,
			   struct q_error *err);

/*
 * Tasks that run once on every worker (each_worker, libq/each.c).
 * q_claim_next never returns their chunks. A worker asks q_each_pending
 * for one it has not run yet (1 with *chunk_out, or 0), runs it, and
 * hands the outcome to q_each_commit, which records this worker's run
 * and, once every live worker has run it, finishes the task (which
 * releases its dependents). q_each_try_finish repeats that check (a
 * worker that died no longer counts). q_each_records reads every
 * worker's run (*out malloc'ed; release each record).
 */
Q_EXPORT bool q_chunk_each_worker(const struct q_job *job, uint64_t chunk);
Q_EXPORT int q_each_pending(struct q_jobh *h, const char *worker_id,
			    uint64_t *chunk_out);
Q_EXPORT int q_each_commit(struct q_jobh *h, struct q_jobcache *cache,
			   uint64_t chunk, int64_t started_ns,
			   const char *worker_id, struct q_outcome *outcome,
			   struct q_error *err);
Q_EXPORT int q_each_try_finish(struct q_jobh *h, struct q_jobcache *cache,
			       uint64_t chunk, const char *worker_id,
			       struct q_error *err);
Q_EXPORT int q_each_records(struct q_jobh *h, uint64_t chunk,
			    struct q_record **out, size_t *n_out,
			    struct q_error *err);

/*
 * The MPI fast path's files (libq/held.c). q_output_spill writes a held
 * output to the spool, durably, as the file its record names (item,
 * the record's attempt and worker id): 0, also when that file is there
 * already (first wins), or -errno with err set. Each worker of an MPI
 * world counts the bytes of each job's big results its tasks got over
 * MPI and from files; q_moved_write publishes its counters for a job,
 * q_moved_read adds up every worker's.
 */
Q_EXPORT int q_output_spill(struct q_jobh *h, uint64_t item, unsigned attempt,
			    const char *worker_id, const void *data,
			    size_t len, struct q_error *err);
/* Read the job's broadcast input from its file, checked against the
 * size and checksum recorded at submission: 0 with *data_out (from
 * q_big_alloc, NUL-terminated), or -errno with err set. */
Q_EXPORT int q_broadcast_read(struct q_jobh *h, char **data_out,
			      size_t *len_out, struct q_error *err);
/* The spool's MPI threshold (SPOOL/config, docs/mpi.md): 1 with *out,
 * 0 when it sets none, or -errno with err set naming the line. */
Q_EXPORT int q_spool_mpi_threshold(struct q_spool *spool, uint64_t *out,
				   struct q_error *err);
struct q_moved {
	uint64_t mpi_bytes;
	uint64_t file_bytes;
	unsigned workers;     /* q_moved_read: the files added up */
};
Q_EXPORT int q_moved_write(struct q_jobh *h, const char *worker_id,
			   const struct q_moved *moved, struct q_error *err);
Q_EXPORT int q_moved_read(struct q_jobh *h, struct q_moved *sum,
			  struct q_error *err);

/* The output (stdout or kernel result) of one finished item, at most
 * `max` bytes, read into memory (malloc'ed, NUL-terminated). */
Q_EXPORT int q_item_output(struct q_jobcache *cache, uint64_t job,
			   uint64_t item, size_t max, char **data_out,
			   size_t *len_out, struct q_error *err);

#endif
