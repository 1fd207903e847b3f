/*
 * promote.c: releasing wait units and promoting waiters.
 *
 * State table for a waiter (chunk c<D> or barrier x<B>):
 *
 *   state      entries that exist                  moved out by
 *   waiting    wait/<w>/<bucket>/<unit>...         q__release (unlink one
 *                                                  unit, rmdir the bucket
 *                                                  when it is empty)
 *   releasable wait/<w>/ (empty)                   q__try_promote: one
 *                                                  rename, one winner
 *   ready      ready/<s>/<D>.a1/        (chunk)
 *   passed     passed/x<B>/             (barrier)  then its dependents are
 *                                                  released
 *
 * Design notes
 * 1. No lost wakeup: whoever removes the last unit sees the empty
 *    directory and renames it. Several releasers may all see it empty;
 *    exactly one rename succeeds (the others get ENOENT). A releaser that
 *    dies between its rmdir and the rename leaves an empty wait directory,
 *    which any later q__try_promote (the repair sweep) finishes.
 * 2. Entries are only ever removed from a wait directory after it is
 *    published, so "empty" is a stable property: once seen empty, it
 *    stays empty.
 * 3. Every step is idempotent (ENOENT means someone did it already), so
 *    releasing the same unit twice, or from a repair sweep, is harmless.
 * 4. The last chunk a thread promoted is remembered for that thread
 *    (q_take_promoted): a worker that finishes a task and so makes its
 *    dependent ready can claim and run it next itself, without a round
 *    through its claim loop (a chain of tasks then runs at the speed of
 *    commits). Thread-local because the promotion happens deep inside a
 *    commit, which every thread runs on its own; it is only a hint: the
 *    chunk is still claimed by the usual rename, which anyone may win.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "sysio.h"

/* Design note 4. */
static __thread uint64_t promoted_job, promoted_chunk;

bool q_take_promoted(uint64_t job, uint64_t *chunk)
{
	if (!promoted_job || promoted_job != job) {
		promoted_job = 0;
		return false;
	}
	*chunk = promoted_chunk;
	promoted_job = 0;
	return true;
}

int q__try_promote(struct q_jobh *h, struct q_jobcache *cache,
		   const char *waiter)
{
	int waitfd = q__jobh_dir_fd(h, Q_DIR_WAIT);
	if (waitfd < 0)
		return waitfd;
	int empty = q__dir_is_empty(waitfd, waiter);
	if (empty == -ENOENT || empty == 0)
		return 0;
	if (empty < 0)
		return empty;

	uint64_t n = strtoull(waiter + 1, NULL, 10);
	if (waiter[0] == 'c') {
		if (n >= h->job->nchunks)
			return -EINVAL;
		unsigned s = q_job_shard_of(h->job, n);
		int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, s);
		if (readyfd < 0)
			return readyfd;
		char name[64];
		q__ready_name_promoted(h, name, sizeof(name), n);
		if (q__renameat(waitfd, waiter, readyfd, name) != 0)
			return errno == ENOENT ? 0 : -errno;
		promoted_job = h->job->id;
		promoted_chunk = n;
		return 0;
	}
	if (waiter[0] == 'x') {
		if (n >= h->job->nbarriers)
			return -EINVAL;
		int passedfd = q__jobh_dir_fd(h, Q_DIR_PASSED);
		if (passedfd < 0)
			return passedfd;
		if (q__renameat(waitfd, waiter, passedfd, waiter) != 0)
			return errno == ENOENT ? 0 : -errno;
		return q__release_barrier_dependents(h, cache, n);
	}
	return -EINVAL;
}

int q__release(struct q_jobh *h, struct q_jobcache *cache, const char *waiter,
	       const char *unit)
{
	char bucket[64], rel[160];
	int waitfd = q__jobh_dir_fd(h, Q_DIR_WAIT);
	if (waitfd < 0)
		return waitfd;

	q__unit_bucket(unit, bucket, sizeof(bucket));
	snprintf(rel, sizeof(rel), "%s/%s", waiter, bucket);
	int bfd = q__open_dir_beneath(waitfd, rel);
	if (bfd >= 0) {
		int ret = q__unlinkat(bfd, unit, 0);
		int e = errno;
		close(bfd);
		if (ret != 0 && e != ENOENT)
			return -e;
	} else if (errno != ENOENT) {
		return -errno;
	}
	/* The bucket and then the waiter may now be empty. */
	int wfd = q__open_dir_beneath(waitfd, waiter);
	if (wfd < 0)
		return errno == ENOENT ? 0 : -errno;
	int ret = q__rmdir(wfd, bucket);
	close(wfd);
	if (ret == -ENOTEMPTY)
		return 0;
	if (ret < 0 && ret != -ENOENT)
		return ret;
	return q__try_promote(h, cache, waiter);
}
