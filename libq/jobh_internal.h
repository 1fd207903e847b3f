/*
 * jobh_internal.h: the job handle: a loaded job and directory handles into
 * jobs/<id>/, opened lazily and never through symbolic links.
 */
#ifndef LIBQ_JOBH_INTERNAL_H
#define LIBQ_JOBH_INTERNAL_H

#include "job_internal.h"

enum q_shard_kind {
	Q_SHARD_READY,
	Q_SHARD_CLAIM,
	Q_SHARD_DONE,
	Q_SHARD_TODO,
	Q_SHARD_OUT,
	Q_SHARD_KINDS
};

enum q_dir_kind { Q_DIR_WAIT, Q_DIR_PASSED, Q_DIR_WATCH, Q_DIR_TODO,
		  Q_DIR_KINDS };

extern const char *const q__shard_dir_names[Q_SHARD_KINDS];
extern const char *const q__dir_names[Q_DIR_KINDS];

/* What a handle has learnt about a chunk's record (records never
 * change, so it stays true): read by q_job_counts and q_dep_check. */
enum q_chunk_health {
	Q_HEALTH_UNKNOWN = 0,      /* not read yet, or no record */
	Q_HEALTH_ALL_DONE = 1,     /* every item done */
	Q_HEALTH_NOT_ALL_DONE = 2, /* some item failed or was cancelled */
	Q_HEALTH_CACHED = 3,       /* every item done, reused (key.c) */
};

struct q_jobh {
	struct q_spool *sp;
	struct q_job *job;
	int dirfd;
	int dirs[Q_DIR_KINDS];
	int *shards[Q_SHARD_KINDS];     /* [nshards], -1 until opened */
	uint8_t *chunk_health;          /* per chunk: enum q_chunk_health */
	bool finished;
	/* q_cancel_check found no cancel/ before this (monotonic ns); read
	 * and written atomically by any thread (cancel.c note). */
	int64_t no_cancel_until;
	/* The groups that wait for anything: [0] is their count, then their
	 * indices (deps.c note 4); built on first use, set once. */
	size_t *waiting_groups;
};

/* A directory handle of the job: fd (owned by the handle) or -errno. */
int q__jobh_shard_fd(struct q_jobh *h, enum q_shard_kind kind, unsigned s);
int q__jobh_dir_fd(struct q_jobh *h, enum q_dir_kind kind);

/* "where" strings for messages: <spool>/jobs/<id>/<rel>. */
/* The host part of a worker id (host.pid.random), status.c. */
void q__host_of_worker(const char *worker, char *host, size_t size);

void q__jobh_where(const struct q_jobh *h, const char *rel, char *out,
		   size_t size);

/* Name helpers for the state entries of a chunk. */
void q__ready_name(char *out, size_t size, uint64_t chunk, unsigned attempt);
bool q__parse_ready_name(const char *name, uint64_t *chunk,
			 unsigned *attempt);
/* The same, with the not-before time of a retry (0 when none). */
/* A ready entry's locality hint (jobh.c): world "" when none. */
struct q__ready_hint {
	char world[Q_WORLD_MAX];
	unsigned rank;
};
bool q__parse_ready_hinted(const char *name, uint64_t *chunk,
			   unsigned *attempt, int64_t *not_before,
			   struct q__ready_hint *hint);
/* The name a promotion gives chunk's first attempt: hinted with this
 * process's MPI world and rank when it is one. */
void q__ready_name_promoted(const struct q_jobh *h, char *out, size_t size,
			    uint64_t chunk);
bool q__parse_ready_full(const char *name, uint64_t *chunk,
			 unsigned *attempt, int64_t *not_before);
/* <chunk>.a<attempt>@<worker> */
bool q__parse_claim_name(const char *name, uint64_t *chunk,
			 unsigned *attempt, const char **worker);

/* claim.c: rename a claim back into ready/ as `ready` (hand-back or the
 * next attempt), resolving an ambiguous rename by looking. */
int q__claim_requeue(struct q_jobh *h, const struct q_claim *claim,
		     const char *ready, struct q_error *err);

/* Does the chunk have a record? 1 yes, 0 no, -errno. */
int q__chunk_has_record(struct q_jobh *h, uint64_t chunk);

/* promote.c: a unit a waiter waited on is satisfied. `waiter` is c<D> or
 * x<B>; `unit` is c<C>, x<B> or j<job>.c<C>. */
int q__release(struct q_jobh *h, struct q_jobcache *cache, const char *waiter,
	       const char *unit);
/* Promote `waiter` if its wait directory is empty. */
int q__try_promote(struct q_jobh *h, struct q_jobcache *cache,
		   const char *waiter);
/* Wait-bucket name for a unit name. */
void q__unit_bucket(const char *unit, char *out, size_t size);

/* deps.c: everyone waiting in `h` for chunk `chunk` of job `dep_job`
 * (dep_job == h's own id for internal dependencies): calls
 * release(waiter, unit) for each. */
int q__release_dependents_in(struct q_jobh *h, struct q_jobcache *cache,
			     uint64_t dep_job, uint64_t chunk);
/* Everyone waiting for barrier B of h. */
int q__release_barrier_dependents(struct q_jobh *h, struct q_jobcache *cache,
				  uint64_t barrier);
/* After a chunk of h is finished: release its dependents here and in the
 * jobs watching h. */
int q__release_dependents(struct q_jobh *h, struct q_jobcache *cache,
			  uint64_t chunk);
/* The same for several chunks of h (a bundle): watch/ is read once. */
int q__release_dependents_many(struct q_jobh *h, struct q_jobcache *cache,
			       const uint64_t *chunks, size_t nchunks);

/* Count the chunk off todo/: unlink todo/<s>/<c>, then rmdir upwards. */
int q__todo_countdown(struct q_jobh *h, uint64_t chunk);

/* Write a record for a chunk whose items all end in `state` with `reason`,
 * claimed under `claim_dir`/`claim_name` by `who`; used by qcancel. */
struct q_claim;
int q__finish_chunk_as(struct q_jobh *h, struct q_jobcache *cache,
		       const struct q_claim *claim, const char *who,
		       enum q_state state, const char *reason,
		       struct q_error *err);

/* commit.c: publish a record as dest in destfd, without finishing the
 * chunk (no claim removal, countdown or release). */
int q__commit_to(struct q_jobh *h, struct q_jobcache *cache,
		 const struct q_claim *claim, const char *worker_id,
		 struct q_outcome *outcomes, size_t n, int destfd,
		 const char *dest, struct q_error *err);

/* key.c */
void q__chunk_key(char (*item_keys)[Q_KEY_HEX], size_t n,
		  char out[Q_KEY_HEX]);
int q__cache_lookup(struct q_spool *sp, const char *key, uint64_t *job_out,
		    uint64_t *chunk_out);
/* Index the result of the chunk with key `key`: link the segment
 * tmp/<tmpname> holding its record as its cache entry (key.c note 3). */
void q__cache_link(struct q_spool *sp, const char *key, const char *tmpname);
/* commit.c, for q_cache_reuse: commit marked as reused from job/chunk. */
int q__commit_cached(struct q_jobh *h, struct q_jobcache *cache,
		     const struct q_claim *claim, const char *worker_id,
		     struct q_outcome *outcomes, size_t n, uint64_t from_job,
		     uint64_t from_chunk, struct q_error *err);

/* record.c */
/* A worker's run of each_worker chunk `chunk`: each/<chunk>/<name>. */
int q__each_record_read(struct q_jobh *h, int dirfd, uint64_t chunk,
			const char *name, struct q_record *rec,
			struct q_error *err);
int q__record_stream_file(struct q_jobh *h, const struct q_record *rec,
			  size_t i, bool want_err);
void q__record_stream_name(char *out, size_t size, const struct q_record *rec,
			   size_t i, bool want_err);
void q__record_format(const struct q_record *rec, struct q_buf *out);
/* An MPI world id as records hold it: "w" and 16 hex digits. */
bool q__world_valid(const char *world);
/* Item i's result bytes against the record's checksum (if it has one):
 * 0, or -EBADMSG with err set naming the result. */
int q__record_sum_check(struct q_jobh *h, const struct q_record *rec,
			size_t i, const void *data, size_t len,
			struct q_error *err);
int q__record_parse(struct q_record *rec, char *text, size_t len,
		    const char *where, struct q_error *err);

/* segment.c: several chunks' records in one file. */
void q__segment_format(const struct q_record *recs, size_t n,
		       struct q_buf *out);
/* The text of the record of `chunk` of `job` in the file `name` (a
 * plain record or a segment; at most `max` bytes, NUL-terminated, malloc'ed): 0, -ENOENT,
 * -EBADMSG (a segment without that chunk, or a damaged index), -EFBIG,
 * or another -errno. */
int q__record_text_read(int dirfd, const char *name, uint64_t job,
			uint64_t chunk, size_t max, char **text_out,
			size_t *len_out);
/*
 * Append a region (`data`, a formatted segment holding `chunks` of
 * `job`) to this process's open segment file, creating one when needed
 * (and when the open one already holds one of those chunks), and fsync
 * it; its tmp/ name
 * goes to tmp_out, the region's offset in the file to base_out. 0, or
 * -errno with err set. On success the writer
 * stays locked until q__segment_release (the caller links the file
 * meanwhile); `failed` drops the file (a link that failed strangely).
 */
int q__segment_append(struct q_spool *sp, const void *data, size_t len,
		      uint64_t job, const uint64_t *chunks, size_t nchunks,
		      char *tmp_out, size_t tmp_size, uint64_t *base_out,
		      struct q_error *err);
/* Where the file `name` holds `chunk`'s first record: 0 and *off_out,
 * or -errno (-EBADMSG: not there). */
int q__segment_record_at(int dirfd, const char *name, uint64_t job,
			 uint64_t chunk, uint64_t *off_out);
void q__segment_release(struct q_spool *sp, bool failed);
/* At q_spool_close: the open file's tmp/ name goes. */
void q__segment_close(struct q_spool *sp);
/* In the segment `name`: the job and chunk whose chunk key is `key`.
 * 0, -EBADMSG (not a segment, or no such key), or -errno. */
int q__segment_find_key(int dirfd, const char *name, const char *key,
			uint64_t *job_out, uint64_t *chunk_out);

#endif
