/*
 * lease.c: attempts, retries and the leases of workers.
 *
 * State table (chunk D, shard s, attempt N of M = retries + 1):
 *
 *   from                         to                          by
 *   claim/<s>/D.aN@W (failed,    ready/<s>/D.a(N+1).n<T>     q_claim_retry: one
 *   N < M)                       (not before unix time T)    rename
 *   claim/<s>/D.aN@W (W's lease  claim/<s>/D.aN@R            q_reclaim_expired,
 *   expired)                                                 reclaimer R: one
 *                                                            rename, one winner
 *   claim/<s>/D.aN@R, N < M      ready/<s>/D.a(N+1)          then a rename
 *   claim/<s>/D.aN@R, N = M      done/<s>/D (failed)         then a commit
 *
 * Design notes
 * 1. A worker is alive while its heartbeat file's mtime is younger than
 *    the lease it recorded, both times taken from the file server's clock
 *    (workers.c), so clock skew between nodes never expires a live worker.
 *    A claim whose worker has no heartbeat file at all (it was removed, or
 *    the claimant was qcancel) is judged by the claim's own age.
 * 2. The attempt number lives in the entry's name and only grows, so a
 *    task that kills its worker every time is failed after exactly M
 *    claims, counting the ones that died before any heartbeat.
 * 3. A worker presumed dead may still be alive (paused, partitioned). Its
 *    late result cannot replace the winner's: records are linked first
 *    wins (commit.c).
 * 4. The back-off before a retry is a hint in the entry's name, judged by
 *    each worker's own clock: skew only moves when a retry runs, never
 *    whether it does.
 * 5. A worker's death is not its task's fault: a claim lost that way is
 *    requeued while the attempts are below max(retries + 1, 3), so a task
 *    with no retries survives two lost workers, and a task that kills
 *    every worker that runs it is still failed after a bounded number of
 *    claims. Tasks that shared a worker with it die with it and use up
 *    their attempts as well: keep such a task alone (one core per worker,
 *    or threads: all of them).
 * 6. Fast reclaim on the same node: a worker's heartbeat file also names
 *    its process (boot id, pid namespace, start time; workers.c). A
 *    reclaimer on the same boot and in the same pid namespace that finds
 *    that pid gone, a zombie, or reused by a later process knows the
 *    worker is dead and reclaims its claims at once, without waiting for
 *    the lease (proc.c says why that proof is never wrong). Everywhere
 *    else (another node, another namespace, a heartbeat without those
 *    fields) note 1 applies unchanged. The reason recorded when such a
 *    task runs out of attempts says which rule judged it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "sysio.h"

/* Lease assumed for a claim whose claimant has no heartbeat file. */
#define Q_ORPHAN_LEASE_NS (60LL * 1000000000)
/* Attempts a task gets when its workers die (design note 5). */
#define Q_LOST_WORKER_ATTEMPTS 3

unsigned q_chunk_max_attempts(const struct q_job *job, uint64_t chunk)
{
	const struct q_group *g = q__job_group_of_chunk(job, chunk);
	return g ? g->retries + 1 : 1;
}

int q_claim_retry(struct q_jobh *h, const struct q_claim *claim,
		  double delay_s, struct q_error *err)
{
	char ready[64];
	int n = snprintf(ready, sizeof(ready), "%llu.a%u",
			 (unsigned long long)claim->chunk, claim->attempt + 1);
	if (delay_s > 0)
		snprintf(ready + n, sizeof(ready) - (size_t)n, ".n%lld",
			 (long long)(time(NULL) + (time_t)(delay_s + 0.5)));
	return q__claim_requeue(h, claim, ready, err);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Is the claim by `worker` (entry `name` in claimfd) expired? *gone_out
 * says whether its process was proven gone (design note 6). */
static bool expired(struct q_spool *sp, const struct q_worker_info *w,
		    size_t nw, const char *worker, int claimfd,
		    const char *name, int64_t now, bool *gone_out)
{
	*gone_out = false;
	for (size_t i = 0; i < nw; i++)
		if (strcmp(w[i].id, worker) == 0) {
			*gone_out = w[i].gone;
			return !w[i].alive;
		}
	/* No heartbeat file (design note 1): the claim's age decides. */
	struct stat st;
	(void)sp;
	if (fstatat(claimfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	return now - mtime_ns(&st) > Q_ORPHAN_LEASE_NS;
}

/* Log the lost attempt (spoolq/events.h); only a warning if that fails:
 * the queue never depends on the event log. */
static void log_lost(struct q_jobh *h, const char *reclaimer_id,
		     const struct q_claim *claim, int64_t claimed_ns,
		     const char *dead)
{
	struct q_claim lost = *claim;
	struct q_error err = Q_ERROR_INIT;
	lost.claimed_ns = claimed_ns;
	if (q_events_log(h, reclaimer_id, &lost, Q_END_LOST, dead, NULL, 0,
			 &err) < 0)
		fprintf(stderr, "spoolq: warning: %s\n", err.message);
}

int q_reclaim_expired(struct q_jobh *h, struct q_jobcache *cache,
		      const char *reclaimer_id, uint64_t *reclaimed_out,
		      struct q_error *err)
{
	const struct q_job *job = h->job;
	struct q_worker_info *w = NULL;
	size_t nw = 0;
	uint64_t reclaimed = 0;
	int ret;

	if (reclaimed_out)
		*reclaimed_out = 0;
	if (q_jobh_finished(h))
		return 0;
	if ((ret = q_workers_list(h->sp, &w, &nw, err)) < 0)
		return ret;
	int64_t now = q__server_now(h->sp);
	for (unsigned s = 0; s < job->nshards && ret == 0; s++) {
		int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, s);
		if (claimfd < 0)
			continue;
		DIR *d = q__opendir_at(claimfd, NULL);
		if (!d)
			continue;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, cap = 0;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			q__grow(&names, &cap, n + 1, sizeof(*names));
			names[n++] = q__strdup(de->d_name);
		}
		closedir(d);
		for (size_t i = 0; i < n; i++) {
			uint64_t chunk;
			unsigned attempt;
			const char *worker;
			bool gone;
			if (ret == 0 &&
			    q__parse_claim_name(names[i], &chunk, &attempt,
						&worker) &&
			    chunk < job->nchunks &&
			    strcmp(worker, reclaimer_id) != 0 &&
			    expired(h->sp, w, nw, worker, claimfd, names[i],
				    now, &gone) &&
			    q__chunk_has_record(h, chunk) != 1) {
				char dead[Q_WORKER_ID_MAX];
				snprintf(dead, sizeof(dead), "%s", worker);
				struct q_claim claim = { .chunk = chunk,
							 .attempt = attempt,
							 .shard = s };
				snprintf(claim.name, sizeof(claim.name),
					 "%llu.a%u@%.*s",
					 (unsigned long long)chunk, attempt, 200,
					 reclaimer_id);
				/* When the lost attempt was claimed: its
				 * claim's rename set the entry's ctime (the
				 * mtime is when it became ready); read it
				 * before our rename sets it again. */
				struct stat st;
				int64_t lost_claimed =
					fstatat(claimfd, names[i], &st,
						AT_SYMLINK_NOFOLLOW) == 0
						? (int64_t)st.st_ctim.tv_sec *
							  1000000000 +
						  st.st_ctim.tv_nsec
						: 0;
				/* Take it over: one reclaimer wins. */
				if (q__renameat(claimfd, names[i], claimfd,
						claim.name) == 0) {
					log_lost(h, reclaimer_id, &claim,
						 lost_claimed, dead);
					claim.claimed_ns = q__now_ns();
					unsigned max =
						q_chunk_max_attempts(job, chunk);
					if (max < Q_LOST_WORKER_ATTEMPTS)
						max = Q_LOST_WORKER_ATTEMPTS;
					if (attempt < max) {
						ret = q_claim_retry(h, &claim, 0,
								    err);
					} else {
						char why[Q_WORKER_ID_MAX + 96];
						snprintf(why, sizeof(why),
							 "its worker %s stopped "
							 "(%s) on attempt %u "
							 "of %u", dead,
							 gone ? "process gone"
							      : "lease expired",
							 attempt, max);
						int r = q__finish_chunk_as(
							h, cache, &claim,
							reclaimer_id,
							Q_STATE_FAILED, why,
							err);
						ret = r < 0 ? r : 0;
					}
					if (ret == 0)
						reclaimed++;
				}
			}
			free(names[i]);
		}
		free(names);
	}
	free(w);
	if (reclaimed_out)
		*reclaimed_out = reclaimed;
	return ret;
}
