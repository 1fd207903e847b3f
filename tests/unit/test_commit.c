/*
 * test_commit.c: finishing chunks (libq/commit.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"
#include "jobh_internal.h"
#include "sysio.h"

/* Write `text` into a new tmp file and put its name in `name`. */
static void tmp_with(struct tspool *t, const char *text, size_t len,
		     char *name, size_t size)
{
	int fd = q_spool_tmp_create(t->sp, "out", name, size);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...)
{
	char path[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	struct stat st;
	return stat(path, &st) == 0;
}

Test(commit, record_holds_outputs_and_the_job_finishes)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("out", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE,
			       .exit_code = 0, .start_ns = 5, .end_ns = 7 };
	tmp_with(&t, "hello\n", 6, o.out.tmp, sizeof(o.out.tmp));
	tmp_with(&t, "log line\n", 9, o.err.tmp, sizeof(o.err.tmp));
	char tmpdir[512];
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp/%s", t.path, o.out.tmp);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_commit(h, t.cache, &claim, "w.1.000001", &o, 1, &err),
		     1, "%s", err.message);
	cr_assert(q_jobh_finished(h));
	cr_assert_not(exists("%s/jobs/%llu/todo", t.path,
			     (unsigned long long)id));
	cr_assert_not(exists("%s/jobs/%llu/claim/0/%s", t.path,
			     (unsigned long long)id, claim.name));

	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0, "%s", err.message);
	cr_assert_eq(rec.items[0].state, Q_STATE_DONE);
	cr_assert_eq(rec.items[0].start_ns, 5);
	cr_assert_str_eq(rec.worker, "w.1.000001");
	char *data;
	size_t len;
	cr_assert_eq(q_record_output_mem(h, &rec, 0, false, 100, &data, &len,
					 &err), 0);
	cr_assert_str_eq(data, "hello\n");
	q_big_free(data);
	cr_assert_eq(q_record_output_mem(h, &rec, 0, true, 100, &data, &len,
					 &err), 0);
	cr_assert_str_eq(data, "log line\n");
	q_big_free(data);
	q_record_release(&rec);
	/* The temporaries were consumed. */
	cr_assert_not(exists("%s", tmpdir));
	cr_assert_str_empty(o.out.tmp);
	tspool_fini(&t);
}

Test(commit, big_output_gets_its_own_file)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("big", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	size_t big = 300 * 1024;
	char *text = malloc(big);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 26);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE };
	tmp_with(&t, text, big, o.out.tmp, sizeof(o.out.tmp));
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_commit(h, t.cache, &claim, "w.1.000001", &o, 1, &err),
		     1, "%s", err.message);
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0);
	cr_assert_eq(rec.items[0].out.where, Q_STREAM_FILE);
	cr_assert_eq(rec.items[0].out.length, big);
	char *path = q_record_output_path(h, &rec, 0, false);
	cr_assert_not_null(path);
	cr_assert(exists("%s", path));
	free(path);
	char *data;
	size_t len;
	cr_assert_eq(q_record_output_mem(h, &rec, 0, false, big, &data, &len,
					 &err), 0);
	cr_assert_eq(len, big);
	cr_assert_eq(memcmp(data, text, big), 0);
	q_big_free(data);
	free(text);
	q_record_release(&rec);
	tspool_fini(&t);
}

/* Outputs in memory (a worker's sinks): small ones go inline; one that
 * no longer fits the record's inline budget becomes a file of its own. */
Test(commit, memory_outputs_inline_or_as_files)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("mem", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	size_t big = 200 * 1024;    /* over the inline maximum */
	char *text = malloc(big);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 26);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE };
	o.out.data = text;
	o.out.len = big;
	o.err.data = strdup("small log\n");
	o.err.len = 10;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_commit(h, t.cache, &claim, "w.1.000001", &o, 1, &err),
		     1, "%s", err.message);
	cr_assert_null(o.out.data, "the commit consumes memory outputs");
	cr_assert_null(o.err.data);
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0);
	cr_assert_eq(rec.items[0].out.where, Q_STREAM_FILE);
	cr_assert_eq(rec.items[0].err.where, Q_STREAM_INLINE);
	char *data;
	size_t len;
	cr_assert_eq(q_record_output_mem(h, &rec, 0, false, big, &data, &len,
					 &err), 0);
	cr_assert_eq(len, big);
	for (size_t i = 0; i < big; i++)
		cr_assert_eq(data[i], (char)('a' + i % 26));
	q_big_free(data);
	cr_assert_eq(q_record_output_mem(h, &rec, 0, true, 100, &data, &len,
					 &err), 0);
	cr_assert_str_eq(data, "small log\n");
	q_big_free(data);
	q_record_release(&rec);
	tspool_fini(&t);
}

/* A late result from another attempt never replaces the first one. */
Test(commit, first_record_wins)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("twice", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	struct q_error err = Q_ERROR_INIT;
	struct q_outcome first = { .item = 0, .state = Q_STATE_DONE };
	tmp_with(&t, "first\n", 6, first.out.tmp, sizeof(first.out.tmp));
	cr_assert_eq(q_commit(h, t.cache, &claim, "a.1.000001", &first, 1,
			      &err), 1);
	/* The same chunk committed again (a presumed-dead worker). */
	struct q_claim late = claim;
	snprintf(late.name, sizeof(late.name), "0.a1@b.2.000002");
	struct q_outcome second = { .item = 0, .state = Q_STATE_FAILED };
	tmp_with(&t, "second\n", 7, second.out.tmp, sizeof(second.out.tmp));
	cr_assert_eq(q_commit(h, t.cache, &late, "b.2.000002", &second, 1,
			      &err), 0, "%s", err.message);
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0);
	cr_assert_str_eq(rec.worker, "a.1.000001");
	cr_assert_eq(rec.items[0].state, Q_STATE_DONE);
	q_record_release(&rec);
	tspool_fini(&t);
}

Test(commit, wrong_outcome_count_is_refused)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("n", 4);
	job->groups[0].chunk_size = 2;
	uint64_t id = tsubmit(&t, job);
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE };
	struct q_error err = Q_ERROR_INIT;
	cr_assert_lt(q_commit(h, t.cache, &claim, "w.1.000001", &o, 1, &err),
		     0);
	tspool_fini(&t);
}

/* An I/O error while publishing the record leaves the chunk claimed and
 * unfinished, never half-visible. */
Test(commit, failing_disk_leaves_no_record)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("full", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE };
	tmp_with(&t, "x\n", 2, o.out.tmp, sizeof(o.out.tmp));
	struct q_error err = Q_ERROR_INIT;
	/* Every spool-changing call fails with ENOSPC, in a child so the
	 * fault cannot leak into other tests. */
	pid_t pid = fork();
	if (pid == 0) {
		setenv("SPOOLQ_FAULT", "fail:1+:ENOSPC", 1);
		q__sysio_fault_reset();
		struct q_spool *sp;
		struct q_jobh *ch;
		struct q_jobcache *cache;
		if (q_spool_open(&sp, t.path, Q_SPOOL_WRITE, &err) < 0 ||
		    q_jobh_open(sp, id, &ch, &err) < 0) {
			fprintf(stderr, "child: %s\n", err.message);
			_exit(3);
		}
		cache = q_jobcache_new(sp);
		int ret = q_commit(ch, cache, &claim, "tester.1.000001", &o, 1,
				   &err);
		if (!(ret < 0 && err.errnum == ENOSPC))
			fprintf(stderr, "child: ret %d errnum %d: %s\n", ret,
				err.errnum, err.message);
		_exit(ret < 0 && err.errnum == ENOSPC ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %d", status);
	cr_assert_not(exists("%s/jobs/%llu/done/0/0", t.path,
			     (unsigned long long)id));
	cr_assert(exists("%s/jobs/%llu/claim/0/%s", t.path,
			 (unsigned long long)id, claim.name));
	cr_assert_not(q_jobh_finished(h));
	tspool_fini(&t);
}

/*
 * A full disk at any one write of a commit: the k-th call that can need
 * space (a create, write, fsync, close, rename, link or mkdir; unlink and
 * rmdir never do) fails with ENOSPC, for every k. Either the commit fails
 * and the spool is as before it (no record, nothing in out/ or tmp/, the
 * claim in place, so the chunk can be handed back with the same attempt),
 * or the record is published complete and the repair sweep finishes what
 * the failure left.
 */
static unsigned space_calls, space_fail_at;

static bool space_fails(void)
{
	if (++space_calls != space_fail_at)
		return false;
	errno = ENOSPC;
	return true;
}

static int full_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if ((flags & O_CREAT) && space_fails())
		return -1;
	return q__sysio_libc.openat(dirfd, path, flags, mode);
}

static ssize_t full_write(int fd, const void *buf, size_t len)
{
	return space_fails() ? -1 : q__sysio_libc.write(fd, buf, len);
}

static int full_fsync(int fd)
{
	return space_fails() ? -1 : q__sysio_libc.fsync(fd);
}

/* Like NFS reporting a failed write-back at close: the descriptor is
 * gone either way. */
static int full_close(int fd)
{
	int ret = q__sysio_libc.close(fd);
	return space_fails() ? -1 : ret;
}

static int full_renameat(int a, const char *from, int b, const char *to)
{
	return space_fails() ? -1 : q__sysio_libc.renameat(a, from, b, to);
}

static int full_linkat(int a, const char *from, int b, const char *to,
		       int flags)
{
	return space_fails() ? -1
			     : q__sysio_libc.linkat(a, from, b, to, flags);
}

static int full_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return space_fails() ? -1 : q__sysio_libc.mkdirat(dirfd, path, mode);
}

static int entries(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int entries(const char *fmt, ...)
{
	char path[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return tdir_entries(path);
}

Test(commit, disk_full_at_every_write, .timeout = 120)
{
	const size_t big = 100 * 1024;   /* over the inline limit: a file */
	char *text = malloc(big);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 26);
	int failed = 0, published = 0;
	bool completed = false;
	for (unsigned k = 1; k < 200 && !completed; k++) {
		struct tspool t;
		tspool_init(&t);
		/* Two items in one chunk (a big and a small output), and a
		 * task that waits for them. */
		struct q_job *job = q_job_new("full");
		struct q_group *a = q_job_add_group(job, "make",
						    Q_TASK_COMMAND);
		q_group_add_argv(a, "true");
		a->count = 2;
		a->array = true;
		a->chunk_size = 2;
		struct q_group *b = q_job_add_group(job, "use",
						    Q_TASK_COMMAND);
		q_group_add_argv(b, "true");
		struct q_after dep = { .job = 0, .first = 0, .count = 2,
				       .mode = Q_AFTER_ALL, .label = "make" };
		q_group_add_after(b, &dep);
		uint64_t id = tsubmit(&t, job);
		struct q_claim claim;
		struct q_jobh *h = tclaim(&t, id, &claim);
		cr_assert_eq(claim.chunk, 0);
		struct q_outcome o[2] = {
			{ .item = 0, .state = Q_STATE_DONE },
			{ .item = 1, .state = Q_STATE_DONE },
		};
		tmp_with(&t, text, big, o[0].out.tmp, sizeof(o[0].out.tmp));
		tmp_with(&t, "small\n", 6, o[1].out.tmp, sizeof(o[1].out.tmp));

		struct q_error err = Q_ERROR_INIT;
		space_calls = 0;
		space_fail_at = k;
		q__sysio.openat = full_openat;
		q__sysio.write = full_write;
		q__sysio.fsync = full_fsync;
		q__sysio.close = full_close;
		q__sysio.renameat = full_renameat;
		q__sysio.linkat = full_linkat;
		q__sysio.mkdirat = full_mkdirat;
		int ret = q_commit(h, t.cache, &claim, "tester.1.000001", o, 2,
				   &err);
		q__sysio = q__sysio_libc;
		completed = space_calls < k;

		/* The open segment file keeps its tmp/ name until the spool
		 * is closed (segment.c note 3); nothing else may be left. */
		q__segment_close(t.sp);
		cr_assert_eq(entries("%s/tmp", t.path), 0,
			     "k=%u: temporaries left in tmp/", k);
		bool has_record = exists("%s/jobs/%llu/done/0/0", t.path,
					 (unsigned long long)id);
		if (ret < 0) {
			failed++;
			cr_assert_eq(err.errnum, ENOSPC, "k=%u: %s", k,
				     err.message);
			cr_assert_not(has_record, "k=%u", k);
			cr_assert_eq(entries("%s/jobs/%llu/out/0", t.path,
					     (unsigned long long)id), 0,
				     "k=%u: outputs left in out/", k);
			cr_assert(exists("%s/jobs/%llu/claim/0/%s", t.path,
					 (unsigned long long)id, claim.name),
				  "k=%u: the claim is gone", k);
			/* Back with the same attempt, and runnable. */
			cr_assert_eq(q_claim_handback(h, &claim, &err), 0,
				     "k=%u: %s", k, err.message);
			cr_assert(exists("%s/jobs/%llu/ready/0/0.a1", t.path,
					 (unsigned long long)id), "k=%u", k);
			struct q_claim again;
			cr_assert_eq(q_claim_next(h, "tester.1.000001", 0, 64,
						  64, &again, &err), 1);
			cr_assert_eq(again.attempt, 1, "k=%u", k);
		} else {
			published++;
			cr_assert_eq(ret, 1, "k=%u", k);
			cr_assert(has_record, "k=%u", k);
			struct q_repair_report rep;
			cr_assert_eq(q_repair(h, t.cache, &rep, &err), 0,
				     "k=%u: %s", k, err.message);
			struct q_record rec;
			cr_assert_eq(q_record_read(h, 0, &rec, &err), 0,
				     "k=%u: %s", k, err.message);
			char *data;
			size_t len;
			cr_assert_eq(q_record_output_mem(h, &rec, 0, false, big,
							 &data, &len, &err),
				     0, "k=%u: %s", k, err.message);
			cr_assert(len == big && memcmp(data, text, big) == 0,
				  "k=%u: the big output is damaged", k);
			q_big_free(data);
			cr_assert_eq(q_record_output_mem(h, &rec, 1, false, 64,
							 &data, &len, &err),
				     0, "k=%u: %s", k, err.message);
			cr_assert(len == 6 && memcmp(data, "small\n", 6) == 0,
				  "k=%u: the small output is damaged", k);
			q_big_free(data);
			q_record_release(&rec);
			struct q_counts c;
			cr_assert_eq(q_job_counts(h, &c, &err), 0);
			cr_assert_eq(c.running, 0, "k=%u: claim left", k);
			cr_assert_eq(c.ready, 1, "k=%u: 'use' not ready", k);
		}
		tspool_fini(&t);
	}
	free(text);
	cr_assert(completed, "the commit never completed");
	cr_assert_gt(failed, 5, "only %d failing writes", failed);
	cr_assert_gt(published, 0);
}

/* A bundle commits in one segment: one file linked as each chunk's
 * record (and as the cache entry of keyed chunks); a chunk that already
 * has a record loses alone; every claim and todo entry goes. */
Test(commit, bundle_shares_one_segment)
{
	struct tspool t;
	tspool_init(&t);
	/* 13 chunks: after the first, a bundle may take a quarter of the
	 * 12 left (claim.c note 3). */
	uint64_t id = tsubmit(&t, tjob_simple("bundle", 13));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct q_claim claims[4];
	cr_assert_eq(q_claim_bundle(h, "w.1.000001", 0, 1, 1, 1, claims, &err),
		     1);
	cr_assert_eq(tfinish(&t, h, &claims[0], Q_STATE_DONE), 1);
	int n = q_claim_bundle(h, "w.1.000001", 0, 1, 1, 4, claims, &err);
	cr_assert_eq(n, 3, "%d", n);
	/* Chunk 1 gets a record of another attempt first. */
	struct q_claim other = claims[0];
	struct q_outcome o1 = { .item = 1, .state = Q_STATE_FAILED };
	cr_assert_eq(q__commit_to(h, t.cache, &other, "w.2.000002", &o1, 1,
				  -1, NULL, &err), 1, "%s", err.message);

	struct q_outcome o[3] = { 0 };
	struct q_outcome *outs[3];
	size_t counts[3];
	for (int i = 0; i < 3; i++) {
		o[i].item = claims[i].chunk;
		o[i].state = Q_STATE_DONE;
		o[i].out.data = strdup("out\n");
		o[i].out.len = 4;
		snprintf(o[i].key, sizeof(o[i].key), "%064x", i + 1);
		outs[i] = &o[i];
		counts[i] = 1;
	}
	int results[3];
	cr_assert_eq(q_commit_bundle(h, t.cache, claims, outs, counts, 3,
				     "w.1.000001", results, &err), 0,
		     "%s", err.message);
	cr_assert_eq(results[0], 0, "chunk 1 had a record already");
	cr_assert_eq(results[1], 1);
	cr_assert_eq(results[2], 1);
	for (int i = 0; i < 3; i++) {
		char rel[400];
		snprintf(rel, sizeof(rel), "jobs/%llu/todo/0/%llu",
			 (unsigned long long)id,
			 (unsigned long long)claims[i].chunk);
		cr_assert_not(texists(&t, rel), "%s counted off", rel);
		snprintf(rel, sizeof(rel), "jobs/%llu/claim/%u/%s",
			 (unsigned long long)id, claims[i].shard,
			 claims[i].name);
		cr_assert_not(texists(&t, rel), "%s", rel);
	}
	/* Chunks 2 and 3 share one file; chunk 1 kept the other record. */
	char a[400], b[400], c[400];
	struct stat sa, sb, sc;
	snprintf(a, sizeof(a), "%s/jobs/%llu/done/0/1", t.path,
		 (unsigned long long)id);
	snprintf(b, sizeof(b), "%s/jobs/%llu/done/0/2", t.path,
		 (unsigned long long)id);
	snprintf(c, sizeof(c), "%s/jobs/%llu/done/0/3", t.path,
		 (unsigned long long)id);
	cr_assert_eq(stat(a, &sa), 0);
	cr_assert_eq(stat(b, &sb), 0);
	cr_assert_eq(stat(c, &sc), 0);
	cr_assert_eq(sb.st_ino, sc.st_ino, "one segment");
	cr_assert_neq(sa.st_ino, sb.st_ino);
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 1, &rec, &err), 0, "%s", err.message);
	cr_assert_eq(rec.items[0].state, Q_STATE_FAILED);
	q_record_release(&rec);
	for (uint64_t ch = 2; ch <= 3; ch++) {
		cr_assert_eq(q_record_read(h, ch, &rec, &err), 0, "%s",
			     err.message);
		cr_assert_eq(rec.chunk, ch);
		cr_assert_eq(rec.items[0].state, Q_STATE_DONE);
		char *data;
		size_t len;
		cr_assert_eq(q_record_output_mem(h, &rec, 0, false, 100, &data,
						 &len, &err), 0);
		cr_assert_str_eq(data, "out\n");
		q_big_free(data);
		/* Its chunk key finds it in the cache. */
		uint64_t job, chunk;
		cr_assert(q__cache_lookup(t.sp, rec.chunk_key, &job, &chunk));
		cr_assert_eq(job, id);
		cr_assert_eq(chunk, ch);
		q_record_release(&rec);
	}
	tspool_fini(&t);
}

/* Commits of one process append to one open segment file (segment.c
 * note 3): two commits, one file, each record found by its name; a chunk
 * the file already holds (another attempt) starts a new file. */
Test(commit, commits_append_to_one_file)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("append", 2));
	struct q_claim a, b;
	struct q_jobh *h = tclaim(&t, id, &a);
	tclaim(&t, id, &b);
	cr_assert_eq(tfinish(&t, h, &a, Q_STATE_DONE), 1);
	cr_assert_eq(tfinish(&t, h, &b, Q_STATE_FAILED), 1);
	struct stat sa, sb;
	char pa[400], pb[400];
	snprintf(pa, sizeof(pa), "%s/jobs/%llu/done/0/%llu", t.path,
		 (unsigned long long)id, (unsigned long long)a.chunk);
	snprintf(pb, sizeof(pb), "%s/jobs/%llu/done/0/%llu", t.path,
		 (unsigned long long)id, (unsigned long long)b.chunk);
	cr_assert_eq(stat(pa, &sa), 0);
	cr_assert_eq(stat(pb, &sb), 0);
	cr_assert_eq(sa.st_ino, sb.st_ino, "one file, two regions");
	struct q_error err = Q_ERROR_INIT;
	struct q_record rec;
	cr_assert_eq(q_record_read(h, a.chunk, &rec, &err), 0, "%s",
		     err.message);
	cr_assert_eq(rec.items[0].state, Q_STATE_DONE);
	q_record_release(&rec);
	cr_assert_eq(q_record_read(h, b.chunk, &rec, &err), 0, "%s",
		     err.message);
	cr_assert_eq(rec.items[0].state, Q_STATE_FAILED);
	q_record_release(&rec);
	/* A late attempt of chunk a: a new file, and it loses. */
	struct q_outcome late = { .item = a.chunk, .state = Q_STATE_FAILED };
	cr_assert_eq(q_commit(h, t.cache, &a, "late.2.000002", &late, 1, &err),
		     0, "%s", err.message);
	cr_assert_eq(q_record_read(h, a.chunk, &rec, &err), 0);
	cr_assert_eq(rec.items[0].state, Q_STATE_DONE, "the first one counts");
	q_record_release(&rec);
	tspool_fini(&t);
}
