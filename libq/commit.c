/*
 * commit.c: finishing a chunk.
 *
 * State table (chunk D, shard s, worker W, attempt N):
 *
 *   step  entries after the step                       operation
 *   0     claim/<s>/D.aN@W, todo/<s>/D, tmp outputs    (running)
 *   1     + out/<s>/<item>.aN.W.{out,err} (big ones)   rename, fsync dir
 *   2     + tmp/<segment> (fsynced)                    write, fsync, close
 *   3     + done/<s>/D        <- visible: D finished   link (first wins),
 *                                                      fsync done/<s>
 *
 *   A bundle (several chunks of one shard) shares steps 2 and 3: one
 *   segment (segment.c) holding all their records, linked once per
 *   chunk, then one fsync of done/<s>; each link is still its chunk's
 *   own first-wins commit point (note 5).
 *   4     - claim/<s>/D.aN@W                           rmdir
 *   5     - todo/<s>/D (and todo/<s>, todo/ when last) unlink, rmdir
 *   6     dependents released                          promote.c
 *
 * Design notes
 * 1. Durable before visible: outputs and the record are fsynced, and so
 *    is every directory that gained an entry, before the record's name
 *    appears in done/.
 * 2. First record wins: link() never replaces, so a late attempt (a
 *    worker presumed dead) cannot overwrite the result that counts; it
 *    removes its own outputs and reports that it lost.
 * 3. A record in done/ dominates: if a crash leaves the claim or the todo
 *    entry behind after step 3, the repair sweep removes them and
 *    releases the dependents; every step after 3 is idempotent.
 * 4. So a commit fails (returns -errno) only when no record of ours was
 *    published: every temporary and every moved output is removed and
 *    the claim is untouched, so the caller can give the chunk back with
 *    the same attempt (a full disk or an exceeded quota is not the
 *    task's fault). A failure after step 3 is only a warning: the chunk
 *    is finished, and the repair sweep completes steps 4 to 6.
 *    For a bundle: a failure before any link fails the commit; a failure
 *    at a later link leaves the chunks linked so far finished and the
 *    rest for the caller to hand back.
 * 5. Why one file for a bundle: a short task's commit was a create, a
 *    write, an fsync and a link for each chunk; now the create and the
 *    fsync are shared. The cache index of pure chunks is one more link
 *    to the same file (key.c note 3).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "sysio.h"

/* Outputs up to this size go into the record; bigger ones get a file. */
#define Q_INLINE_MAX (64 * 1024)
/* A record's inline data stops growing here; later outputs get files. */
#define Q_INLINE_BUDGET ((size_t)8 << 20)

/* Unlink todo/<s>/<chunk>: 0, or -errno. */
static int todo_unlink(struct q_jobh *h, uint64_t chunk)
{
	unsigned s = q_job_shard_of(h->job, chunk);
	char name[32];

	int fd = q__jobh_shard_fd(h, Q_SHARD_TODO, s);
	if (fd == -ENOENT)
		return 0; /* the shard (or the job) is already counted off */
	if (fd < 0)
		return fd;
	snprintf(name, sizeof(name), "%llu", (unsigned long long)chunk);
	if (q__unlinkat(fd, name, 0) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* rmdir todo/<s>, then todo/, when they are empty: the job is finished
 * when todo/ is gone. 0, or -errno. */
static int todo_close_shard(struct q_jobh *h, unsigned s)
{
	char name[32];
	int rootfd = q__jobh_dir_fd(h, Q_DIR_TODO);
	if (rootfd == -ENOENT)
		return 0;
	if (rootfd < 0)
		return rootfd;
	snprintf(name, sizeof(name), "%u", s);
	int ret = q__rmdir(rootfd, name);
	if (ret == -ENOTEMPTY)
		return 0;
	if (ret < 0 && ret != -ENOENT)
		return ret;
	ret = q__rmdir(h->dirfd, "todo");
	if (ret == 0 || ret == -ENOENT) {
		__atomic_store_n(&h->finished, true, __ATOMIC_RELEASE);
		return 0;
	}
	return ret == -ENOTEMPTY ? 0 : ret;
}

int q__todo_countdown(struct q_jobh *h, uint64_t chunk)
{
	int ret = todo_unlink(h, chunk);
	return ret < 0 ? ret : todo_close_shard(h, q_job_shard_of(h->job, chunk));
}

int q__release_dependents_many(struct q_jobh *h, struct q_jobcache *cache,
			       const uint64_t *chunks, size_t nchunks)
{
	int ret = 0;
	for (size_t c = 0; c < nchunks && ret == 0; c++)
		ret = q__release_dependents_in(h, cache, h->job->id, chunks[c]);
	if (ret < 0)
		return ret;

	/* Later jobs that registered an interest in this one: read once
	 * for all the chunks. */
	int wfd = q__jobh_dir_fd(h, Q_DIR_WATCH);
	if (wfd < 0)
		return wfd == -ENOENT ? 0 : wfd;
	DIR *d = q__opendir_at(wfd, NULL);
	if (!d)
		return -errno;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint64_t id;
		if (!q_job_id_parse(de->d_name, &id) || id == h->job->id)
			continue;
		q__grow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = id;
	}
	closedir(d);
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct q_jobh *wh = q_jobcache_get(cache, ids[i], NULL);
		if (!wh)
			continue; /* gone, or damaged: nothing to wake */
		for (size_t c = 0; c < nchunks && ret == 0; c++)
			ret = q__release_dependents_in(wh, cache, h->job->id,
						       chunks[c]);
	}
	free(ids);
	return ret;
}

int q__release_dependents(struct q_jobh *h, struct q_jobcache *cache,
			  uint64_t chunk)
{
	return q__release_dependents_many(h, cache, &chunk, 1);
}

struct moved {
	char name[Q_CLAIM_NAME_MAX];
};

/* A memory output that does not fit the record's inline budget: make
 * it a temporary, fsynced like any other before it is moved. */
static int memory_to_tmp(struct q_spool *sp, struct q_output *out)
{
	struct q_error ignored = Q_ERROR_INIT;
	if (q__tmp_write(sp, "out", out->data, out->len, out->tmp,
			 sizeof(out->tmp), &ignored) < 0) {
		out->tmp[0] = '\0';
		return -(ignored.errnum ? ignored.errnum : EIO);
	}
	free(out->data);
	out->data = NULL;
	out->len = 0;
	return 0;
}

/* Put one output stream in the record (inline) or in out/ (file). */
static int place_stream(struct q_jobh *h, struct q_record *rec, size_t i,
			bool is_err, struct q_output *out, struct q_buf *data,
			struct q_stream *st, struct moved *moved,
			bool *moved_any)
{
	struct q_spool *sp = h->sp;
	struct q_item_record *r = &rec->items[i];
	memset(st, 0, sizeof(*st));
	moved->name[0] = '\0';
	if (out->held && !is_err && sp->world[0] && out->summed) {
		/* Kept by this worker, an MPI rank (workers/mpipath.c). */
		st->where = Q_STREAM_HELD;
		st->length = out->len;
		r->out_summed = true;
		r->out_sum = out->sum;
		memcpy(r->held_world, sp->world, sizeof(r->held_world));
		r->held_rank = sp->world_rank;
		return 0;
	}
	if (out->held)
		return -EINVAL;   /* a worker's bug: nothing holds it */
	if (out->data && out->len <= Q_INLINE_MAX &&
	    data->len + out->len <= Q_INLINE_BUDGET) {
		st->where = Q_STREAM_INLINE;
		st->offset = data->len;
		st->length = out->len;
		q__buf_add(data, out->data, out->len);
		return 0;
	}
	/* A file: its checksum goes into the record (stdout, a result). */
	if (out->data && !out->summed) {
		out->summed = true;
		out->sum = q_checksum(out->data, out->len);
	}
	if (!is_err && out->summed) {
		r->out_summed = true;
		r->out_sum = out->sum;
	}
	if (out->data) {
		int ret = memory_to_tmp(sp, out);
		if (ret < 0)
			return ret;
		/* ...and on as a file (already synced; synced again below,
		 * which costs nothing for clean pages). */
	}
	if (!out->tmp[0])
		return 0;
	int fd = openat(sp->tmpfd, out->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat stt;
	if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
		int e = errno ? errno : EINVAL;
		close(fd);
		return -e;
	}
	size_t size = (size_t)stt.st_size;
	int ret = 0;
	if (size == 0) {
		/* nothing to keep */
	} else if (size <= Q_INLINE_MAX && data->len + size <= Q_INLINE_BUDGET) {
		size_t off = data->len, got = 0;
		char buf[65536];
		while (got < size) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ret = -errno;
				break;
			}
			if (n == 0)
				break;
			q__buf_add(data, buf, (size_t)n);
			got += (size_t)n;
		}
		st->where = Q_STREAM_INLINE;
		st->offset = off;
		st->length = data->len - off;
	} else {
		/* Its own file, durable before the record names it. */
		int outfd = q__jobh_shard_fd(h, Q_SHARD_OUT,
					     q_job_shard_of(h->job, rec->chunk));
		if (outfd < 0) {
			ret = outfd;
		} else if (q__fsync(fd) != 0) {
			ret = -errno;
		} else {
			q__record_stream_name(moved->name, sizeof(moved->name),
					      rec, i, is_err);
			if (q__renameat(sp->tmpfd, out->tmp, outfd,
					moved->name) != 0) {
				ret = -errno;
				moved->name[0] = '\0';
			} else {
				st->where = Q_STREAM_FILE;
				st->length = size;
				*moved_any = true;
			}
		}
	}
	close(fd);
	return ret;
}

static void remove_moved(struct q_jobh *h, uint64_t chunk,
			 struct moved *moved, size_t n)
{
	int outfd = q__jobh_shard_fd(h, Q_SHARD_OUT,
				     q_job_shard_of(h->job, chunk));
	if (outfd < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (moved[i].name[0])
			(void)q__unlinkat(outfd, moved[i].name, 0);
}

/* One chunk on its way into done/ (steps 1 and 2). */
struct staged {
	const struct q_claim *claim;
	struct q_outcome *outcomes;
	size_t n;
	struct q_record rec;
	struct q_buf data;
	struct moved *moved;      /* 2n: its big outputs moved to out/ */
	bool moved_any;
	bool keyed, all_done;     /* for the cache index */
	int won;                  /* 1: our record counts; 0: another's */
};

/* Step 1 and the record of one chunk: 0, or -errno with err set (then
 * nothing of it is left in out/). */
static int stage(struct q_jobh *h, struct staged *st,
		 const char *worker_id, uint64_t from_job, uint64_t from_chunk,
		 struct q_error *err)
{
	const struct q_claim *claim = st->claim;
	struct q_record *rec = &st->rec;
	char where[512];
	uint64_t first, count;
	size_t n = st->n;
	int ret = 0;

	st->moved = q__calloc(2 * n + 1, sizeof(*st->moved));
	q_job_chunk_items(h->job, claim->chunk, &first, &count);
	if (n != count)
		return q_error_set(err, Q_ERR_SYSTEM, EINVAL,
				   "commit of chunk %llu with %zu outcomes, "
				   "expected %llu",
				   (unsigned long long)claim->chunk, n,
				   (unsigned long long)count);
	rec->job = h->job->id;
	rec->chunk = claim->chunk;
	rec->attempt = claim->attempt;
	rec->first = first;
	rec->count = count;
	rec->worker = (char *)worker_id;
	rec->host = (char *)q__hostname();
	rec->claimed_ns = claim->claimed_ns;
	rec->items = q__calloc(count, sizeof(*rec->items));

	for (size_t i = 0; i < n && ret == 0; i++) {
		struct q_outcome *o = &st->outcomes[i];
		struct q_item_record *r = &rec->items[i];
		r->item = first + i;
		r->state = o->state;
		r->exit_code = o->exit_code;
		r->start_ns = o->start_ns;
		r->end_ns = o->end_ns;
		r->slot = o->slot;
		r->reason = o->reason[0] ? o->reason : NULL;
		memcpy(r->key, o->key, Q_KEY_HEX);
		ret = place_stream(h, rec, i, false, &o->out, &st->data,
				   &r->out, &st->moved[2 * i], &st->moved_any);
		if (ret == 0)
			ret = place_stream(h, rec, i, true, &o->err, &st->data,
					   &r->err, &st->moved[2 * i + 1],
					   &st->moved_any);
	}
	if (ret < 0) {
		q__jobh_where(h, "out", where, sizeof(where));
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot store the outputs of chunk %llu in "
				   "'%s'", (unsigned long long)claim->chunk,
				   where);
	}
	if (st->moved_any) {
		int outfd = q__jobh_shard_fd(h, Q_SHARD_OUT, claim->shard);
		if (outfd < 0 || q__fsync_dir(outfd) != 0) {
			q__jobh_where(h, "out", where, sizeof(where));
			return q_error_set(err, Q_ERR_SYSTEM, errno,
					   "cannot sync '%s/%u'", where,
					   claim->shard);
		}
	}
	rec->data = st->data.data;
	rec->data_len = st->data.len;
	rec->cached_job = from_job;
	rec->cached_chunk = from_chunk;
	/* Every item keyed: the chunk's key, for reuse (key.c). */
	st->keyed = n > 0;
	st->all_done = true;
	for (size_t i = 0; i < n; i++) {
		st->keyed = st->keyed && st->outcomes[i].key[0];
		st->all_done = st->all_done &&
			       st->outcomes[i].state == Q_STATE_DONE;
	}
	if (st->keyed) {
		char (*keys)[Q_KEY_HEX] = q__calloc(n, Q_KEY_HEX);
		for (size_t i = 0; i < n; i++)
			memcpy(keys[i], st->outcomes[i].key, Q_KEY_HEX);
		q__chunk_key(keys, n, rec->chunk_key);
		free(keys);
	}
	return 0;
}

/* Free what stage() made; with `remove`, also its files moved to out/
 * (a record that lost, or was never published). The outcomes' outputs
 * are consumed in every case. */
static void unstage(struct q_jobh *h, struct staged *st, bool remove)
{
	if (remove && st->moved)
		remove_moved(h, st->claim->chunk, st->moved, 2 * st->n);
	for (size_t i = 0; i < st->n; i++) {
		q_output_discard(h->sp, &st->outcomes[i].out);
		q_output_discard(h->sp, &st->outcomes[i].err);
	}
	free(st->rec.items);
	q__buf_release(&st->data);
	free(st->moved);
	st->rec.items = NULL;
	st->moved = NULL;
}

/*
 * Link the segment tmp/<tmpname>, whose new region starts at `base`, as
 * `dest` in `destfd`: 0, -EEXIST (another record was there first), or
 * -errno. A failed link is ours after all when the name now holds this
 * file with the chunk first found in our region (an NFS reply lost after
 * the server made the link): the file is appended to, so the same inode
 * there may also be an earlier commit of this process, which won.
 */
static int link_record(struct q_spool *sp, const char *tmpname, uint64_t base,
		       int destfd, const char *dest, uint64_t job,
		       uint64_t chunk)
{
	if (q__linkat(sp->tmpfd, tmpname, destfd, dest) == 0)
		return 0;
	int saved = errno;
	struct stat st, dst;
	uint64_t off;
	if (fstatat(sp->tmpfd, tmpname, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fstatat(destfd, dest, &dst, AT_SYMLINK_NOFOLLOW) != 0 ||
	    dst.st_ino != st.st_ino || dst.st_dev != st.st_dev)
		return -saved;
	if (q__segment_record_at(destfd, dest, job, chunk, &off) == 0 &&
	    off >= base)
		return 0;
	return saved == EEXIST ? -EEXIST : -saved;
}

/*
 * Steps 2 and 3 for chunks [0, n): their records in one temporary (a
 * segment, segment.c; for one chunk too, so that the cache index can
 * link it), fsynced once, linked to each chunk's name (first wins, st->won says who), then
 * every done/ directory that gained a link fsynced once. `dest` in
 * `destfd` names the record instead of done/<s>/<chunk> (one chunk only).
 * 0 when every record is settled (won or lost), -errno with err set when
 * none of ours was published.
 */
static int publish(struct q_jobh *h, struct staged *st, size_t n, int destfd,
		   const char *dest, bool index, struct q_error *err)
{
	struct q_spool *sp = h->sp;
	struct q_buf text = Q_BUF_INIT;
	char tmpname[Q_CLAIM_NAME_MAX], name[32], where[512];
	int ret = 0;
	bool any_linked = false;

	struct q_record *recs = q__calloc(n, sizeof(*recs));
	for (size_t i = 0; i < n; i++)
		recs[i] = st[i].rec;
	q__segment_format(recs, n, &text);
	free(recs);
	/* Appended to this process's open segment file (segment.c note 3);
	 * it stays locked until the links are made. */
	uint64_t base;
	uint64_t *chunks = q__calloc(n, sizeof(*chunks));
	for (size_t i = 0; i < n; i++)
		chunks[i] = st[i].claim->chunk;
	ret = q__segment_append(sp, text.data, text.len, h->job->id, chunks,
				n, tmpname, sizeof(tmpname), &base, err);
	free(chunks);
	q__buf_release(&text);
	if (ret < 0)
		return ret;

	unsigned synced_shard = UINT32_MAX;
	bool link_failed = false;
	for (size_t i = 0; i < n; i++) {
		const struct q_claim *claim = st[i].claim;
		int donefd = destfd >= 0 ? destfd
					 : q__jobh_shard_fd(h, Q_SHARD_DONE,
							    claim->shard);
		snprintf(name, sizeof(name), "%llu",
			 (unsigned long long)claim->chunk);
		ret = donefd < 0 ? donefd
				 : link_record(sp, tmpname, base, donefd,
					       dest ? dest : name, h->job->id,
					       claim->chunk);
		if (ret == -EEXIST) {
			st[i].won = 0;     /* another attempt's record counts */
			ret = 0;
			continue;
		}
		if (ret < 0) {
			link_failed = true;
			/* Records linked before this one are published (and
			 * count); this one and the rest were not: the caller
			 * hands those back. Only a failure of the first is a
			 * failed commit. */
			if (!any_linked) {
				q__jobh_where(h, "done", where, sizeof(where));
				ret = q_error_set(err, Q_ERR_SYSTEM, -ret,
						  "cannot publish the record "
						  "of chunk %llu in '%s/%u'",
						  (unsigned long long)
							  claim->chunk,
						  where, claim->shard);
				break;
			}
			for (size_t k = i; k < n; k++)
				st[k].won = -1;
			ret = 0;
			break;
		}
		st[i].won = 1;
		any_linked = true;
		/* A bundle's chunks come from one shard: one fsync. */
		if (i + 1 < n && st[i + 1].claim->shard == claim->shard &&
		    destfd < 0)
			continue;
		if (q__fsync_dir(donefd) != 0 && synced_shard != claim->shard) {
			/* Linked, but the directory's fsync failed: the
			 * record is visible and others may act on it
			 * already, so it cannot be taken back (design note
			 * 4). */
			fprintf(stderr, "spoolq: warning: the record of chunk "
				"%llu of job %llu is published, but its "
				"directory cannot be synced: %s (a machine "
				"crash now may lose it)\n",
				(unsigned long long)claim->chunk,
				(unsigned long long)h->job->id,
				strerror(errno));
		}
		synced_shard = claim->shard;
	}
	/* A result computed here (not reused) indexes the cache: the same
	 * file, one more link (key.c note 3). */
	for (size_t i = 0; i < n && ret == 0 && index; i++)
		if (st[i].won == 1 && st[i].keyed && st[i].all_done)
			q__cache_link(sp, st[i].rec.chunk_key, tmpname);
	/* After a failed link (not a lost race) the file holds records no
	 * name points to, of chunks that will be committed again: start a
	 * new file (segment.c), as when its tmp/ name is gone. */
	q__segment_release(sp, link_failed);
	return ret;
}

/* Steps 4 and 5 (step 6 is the caller's, for all chunks at once). */
static void clean_up_claim(struct q_jobh *h, const struct q_claim *claim)
{
	char where[512];
	int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, claim->shard);
	if (claimfd >= 0 &&
	    q__unlinkat(claimfd, claim->name, AT_REMOVEDIR) != 0) {
		/* A cancelled waiting chunk's claim still holds its wait
		 * buckets (cancel.c); anything else is worth a warning. */
		if (errno == ENOTEMPTY || errno == EEXIST)
			q__remove_tree(claimfd, claim->name);
		else if (errno != ENOENT)
			fprintf(stderr, "spoolq: warning: cannot remove claim "
				"'%s': %s\n", claim->name, strerror(errno));
	}
	/* Design note 4: the record is published; what fails from here on
	 * is the repair sweep's to finish, not a failed commit. The shard's
	 * rmdir is the caller's, once per shard of a bundle. */
	int ret = todo_unlink(h, claim->chunk);
	if (ret < 0) {
		q__jobh_where(h, "todo", where, sizeof(where));
		fprintf(stderr, "spoolq: warning: cannot count chunk %llu off "
			"'%s': %s (the repair sweep will)\n",
			(unsigned long long)claim->chunk, where,
			strerror(-ret));
	}
}

/*
 * Commit chunks [0, n) of one job together (a bundle; n == 1 for a
 * single chunk). Steps 1-3 publish the records, as `dest` in `destfd`
 * when destfd >= 0 (one chunk); steps 4-6 follow when `finish` (not for
 * a worker's run of an each_worker task, each.c). results[i] gets 1 (our
 * record counts), 0 (another's does) or -1 (not published: hand it
 * back). Returns 0, or -errno with err set when none was published.
 */
static int commit_many(struct q_jobh *h, struct q_jobcache *cache,
		       const struct q_claim *claims, struct q_outcome **outcomes,
		       const size_t *counts, size_t n, const char *worker_id,
		       int destfd, const char *dest, bool finish,
		       uint64_t from_job, uint64_t from_chunk, int *results,
		       struct q_error *err)
{
	struct staged *st = q__calloc(n, sizeof(*st));
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		st[i].claim = &claims[i];
		st[i].outcomes = outcomes[i];
		st[i].n = counts[i];
		st[i].won = -1;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = stage(h, &st[i], worker_id, from_job, from_chunk, err);
	if (ret == 0)
		ret = publish(h, st, n, destfd, dest, finish && !from_job, err);
	for (size_t i = 0; i < n; i++) {
		results[i] = ret < 0 ? -1 : st[i].won;
		unstage(h, &st[i], results[i] != 1);
	}
	free(st);
	if (ret < 0 || !finish)
		return ret;

	/* Steps 4 to 6: idempotent clean-up and wake-ups. */
	uint64_t *released = q__calloc(n + 1, sizeof(*released));
	size_t nreleased = 0;
	for (size_t i = 0; i < n; i++) {
		if (results[i] < 0)
			continue;
		/* Lost or won, the chunk has a record: the claim and the
		 * todo entry go, and its dependents are released. */
		clean_up_claim(h, &claims[i]);
		released[nreleased++] = claims[i].chunk;
	}
	/* A bundle is one shard: its todo/<s> is tried once, not per chunk
	 * (a failing rmdir is still a directory operation). */
	for (size_t i = 0; i < n; i++) {
		if (results[i] < 0 ||
		    (i + 1 < n && claims[i + 1].shard == claims[i].shard &&
		     results[i + 1] >= 0))
			continue;
		int tret = todo_close_shard(h, claims[i].shard);
		if (tret < 0)
			fprintf(stderr, "spoolq: warning: cannot count shard "
				"%u of job %llu off: %s (the repair sweep "
				"will)\n", claims[i].shard,
				(unsigned long long)h->job->id,
				strerror(-tret));
	}
	int rret = q__release_dependents_many(h, cache, released, nreleased);
	if (rret < 0)
		fprintf(stderr, "spoolq: warning: cannot release the tasks "
			"waiting for chunk %llu of job %llu: %s (the repair "
			"sweep will)\n", (unsigned long long)released[0],
			(unsigned long long)h->job->id, strerror(-rret));
	free(released);
	return 0;
}

/* One chunk: 1 won, 0 lost, -errno (err set) when not published. */
static int commit(struct q_jobh *h, struct q_jobcache *cache,
		  const struct q_claim *claim, const char *worker_id,
		  struct q_outcome *outcomes, size_t n, int destfd,
		  const char *dest, bool finish, uint64_t from_job,
		  uint64_t from_chunk, struct q_error *err)
{
	int result;
	int ret = commit_many(h, cache, claim, &outcomes, &n, 1, worker_id,
			      destfd, dest, finish, from_job, from_chunk,
			      &result, err);
	return ret < 0 ? ret : result;
}

int q_commit_bundle(struct q_jobh *h, struct q_jobcache *cache,
		    const struct q_claim *claims, struct q_outcome **outcomes,
		    const size_t *counts, size_t n, const char *worker_id,
		    int *results, struct q_error *err)
{
	return commit_many(h, cache, claims, outcomes, counts, n, worker_id,
			   -1, NULL, true, 0, 0, results, err);
}

int q_commit(struct q_jobh *h, struct q_jobcache *cache,
	     const struct q_claim *claim, const char *worker_id,
	     struct q_outcome *outcomes, size_t n, struct q_error *err)
{
	return commit(h, cache, claim, worker_id, outcomes, n, -1, NULL, true,
		      0, 0, err);
}

int q__commit_cached(struct q_jobh *h, struct q_jobcache *cache,
		     const struct q_claim *claim, const char *worker_id,
		     struct q_outcome *outcomes, size_t n, uint64_t from_job,
		     uint64_t from_chunk, struct q_error *err)
{
	return commit(h, cache, claim, worker_id, outcomes, n, -1, NULL, true,
		      from_job, from_chunk, err);
}

int q__commit_to(struct q_jobh *h, struct q_jobcache *cache,
		 const struct q_claim *claim, const char *worker_id,
		 struct q_outcome *outcomes, size_t n, int destfd,
		 const char *dest, struct q_error *err)
{
	return commit(h, cache, claim, worker_id, outcomes, n, destfd, dest,
		      false, 0, 0, err);
}

int q__finish_chunk_as(struct q_jobh *h, struct q_jobcache *cache,
		       const struct q_claim *claim, const char *who,
		       enum q_state state, const char *reason,
		       struct q_error *err)
{
	uint64_t first, count;
	q_job_chunk_items(h->job, claim->chunk, &first, &count);
	struct q_outcome *o = q__calloc(count, sizeof(*o));
	int64_t now = q__now_ns();
	for (uint64_t i = 0; i < count; i++) {
		o[i].item = first + i;
		o[i].state = state;
		o[i].exit_code = Q_EXIT_NONE;
		o[i].start_ns = o[i].end_ns = now;
		snprintf(o[i].reason, sizeof(o[i].reason), "%s", reason);
	}
	int ret = q_commit(h, cache, claim, who, o, count, err);
	free(o);
	return ret;
}
