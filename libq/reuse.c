/*
 * reuse.c: committing an earlier result instead of running (pure tasks).
 *
 * Design notes
 * 1. The earlier record must match completely: its chunk key (and so
 *    every item's key) equals ours, every item is done, the item count is
 *    the same. Anything else (a purged job, a damaged record, a key
 *    collision that did not collide everywhere) is a miss: the chunk runs.
 * 2. The outputs are handed to the normal commit: small (inline) ones
 *    copied in memory, big ones as temporaries hard-linked to the earlier
 *    files (no copy of their bytes; the spool is one file system). The record says which job and chunk it
 *    was reused from, which qstatus counts as cached.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "sysio.h"

/* Hand item i's stream of `rec` to `out` (design note 2). */
static int stream_to_output(struct q_jobh *src, const struct q_record *rec,
			    size_t i, bool want_err, struct q_output *out)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	struct q_spool *sp = src->sp;
	memset(out, 0, sizeof(*out));
	if (st->where == Q_STREAM_NONE || st->length == 0)
		return 0;
	if (!want_err && rec->items[i].out_summed) {
		out->summed = true;
		out->sum = rec->items[i].out_sum;
	}
	/* A held output is reused once spilled; before, the link fails
	 * and the task runs again. */
	if (st->where == Q_STREAM_FILE || st->where == Q_STREAM_HELD) {
		char name[Q_CLAIM_NAME_MAX];
		int outfd = q__jobh_shard_fd(src, Q_SHARD_OUT,
					     q_job_shard_of(src->job, rec->chunk));
		if (outfd < 0)
			return outfd;
		q__record_stream_name(name, sizeof(name), rec, i, want_err);
		q__unique_name(out->tmp, sizeof(out->tmp), "reuse");
		if (q__linkat(outfd, name, sp->tmpfd, out->tmp) != 0) {
			out->tmp[0] = '\0';
			return -errno;
		}
		return 0;
	}
	out->data = q__malloc(st->length);
	memcpy(out->data, rec->data + st->offset, st->length);
	out->len = st->length;
	return 0;
}

int q_cache_reuse(struct q_jobh *h, struct q_jobcache *cache,
		  const struct q_claim *claim, const char *worker_id,
		  struct q_outcome *o, size_t n, struct q_error *err)
{
	char ck[Q_KEY_HEX];
	uint64_t job, chunk;

	for (size_t i = 0; i < n; i++)
		if (!o[i].key[0])
			return 0;
	char (*keys)[Q_KEY_HEX] = q__calloc(n + 1, Q_KEY_HEX);
	for (size_t i = 0; i < n; i++)
		memcpy(keys[i], o[i].key, Q_KEY_HEX);
	q__chunk_key(keys, n, ck);
	free(keys);
	if (!q__cache_lookup(h->sp, ck, &job, &chunk))
		return 0;
	struct q_error serr = Q_ERROR_INIT;
	struct q_jobh *src = q_jobcache_get(cache, job, &serr);
	if (!src || chunk >= src->job->nchunks)
		return 0;
	struct q_record rec;
	if (q_record_read(src, chunk, &rec, &serr) < 0)
		return 0;
	bool match = rec.count == n && strcmp(rec.chunk_key, ck) == 0;
	for (size_t i = 0; match && i < n; i++)
		match = rec.items[i].state == Q_STATE_DONE &&
			strcmp(rec.items[i].key, o[i].key) == 0;
	int ret = 0;
	for (size_t i = 0; match && i < n && ret == 0; i++) {
		int64_t now = q__now_ns();
		o[i].state = Q_STATE_DONE;
		o[i].exit_code = rec.items[i].exit_code;
		o[i].start_ns = o[i].end_ns = now;
		o[i].reason[0] = '\0';
		ret = stream_to_output(src, &rec, i, false, &o[i].out);
		if (ret == 0)
			ret = stream_to_output(src, &rec, i, true, &o[i].err);
	}
	q_record_release(&rec);
	if (!match || ret < 0) {
		for (size_t i = 0; i < n; i++) {
			q_output_discard(h->sp, &o[i].out);
			q_output_discard(h->sp, &o[i].err);
		}
		return 0;   /* run it instead */
	}
	ret = q__commit_cached(h, cache, claim, worker_id, o, n, job, chunk,
			       err);
	return ret < 0 ? ret : 1;
}
