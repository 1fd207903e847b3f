/*
 * worker.c: the claim/run loop.
 *
 * Design notes
 * 1. One thread (this one) claims and dispatches; each claimed chunk runs
 *    in its own thread (runner.c), which commits its own results, so
 *    slow fsyncs never stall claiming. Runners report back through a pipe.
 * 2. Jobs are taken in order of their highest task priority, then
 *    oldest first (within a job, claim.c orders by each task's priority);
 *    a job with nothing ready is passed over. A claim only takes a chunk whose
 *    threads fit the free cores, so big tasks are not starved by a stream
 *    of small ones only as long as they fit; NEEDSWORK: reserve cores for
 *    a waiting big task (issue on fairness).
 * 3. Idle waiting is adaptive: after work, the loop polls again at once;
 *    each empty look doubles the wait up to POLL_MAX_MS. A runner
 *    finishing or a signal ends the wait immediately.
 * 4. --exit-when-idle without a time exits when no job in the spool has
 *    anything left that could still run: every job finished, or the
 *    unfinished ones stuck (nothing ready or running in them even after a
 *    repair sweep: they wait for jobs that cannot finish, and the worker
 *    names them). With a time it also exits after that long without
 *    finding work. --max-tasks stops claiming after that many tasks.
 * 5. A full disk or an exceeded quota (ENOSPC, EDQUOT) on the spool is
 *    not an error that counts toward stopping: the chunk is back in
 *    ready/ with its attempt unchanged (runner.c note 6), and the worker
 *    claims nothing for BACKOFF_MIN_S seconds, doubling up to
 *    BACKOFF_MAX_S while writes keep failing, back to the minimum after
 *    a commit succeeds. Claiming again at once would run the task only
 *    to fail its writes again: a spin that also floods the log. One line
 *    per back-off says what failed, where, and what to do; the running
 *    tasks go on, and their failures within a back-off add no line.
 * 6. Short chunks are claimed in bundles (claim.c note 3): the worker
 *    measures each job's time per chunk (the runs it reaps, commits not
 *    counted) and claims enough chunks for about BUNDLE_TARGET_NS, at
 *    most BUNDLE_MAX chunks and BUNDLE_MAX_TASKS tasks (their outcomes
 *    wait in memory for the commit); a job not measured yet gets one. A
 *    bundle runs on one slot and commits in one segment (runner.c note
 *    8), so the per-claim and per-commit file-system work (a rename, an
 *    fsync or two) is shared by the bundle's chunks, while a long task
 *    is still claimed alone and the tail of a job still balances.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cpus.h"
#include "heartbeat.h"
#include "mpipath.h"
#include "runner.h"
#include "worker.h"

#define POLL_MIN_MS 1
#define POLL_MAX_MS 200
#define MAX_CONSECUTIVE_ERRORS 20
/* An idle worker runs the repair sweep this often. */
#define REPAIR_EVERY_NS (30LL * 1000000000)
/* A kernel that ignores its cancel flag this long after the stop is
 * abandoned: its chunk is handed back and the worker exits anyway. */
#define ABANDON_AFTER_NS (10LL * 1000000000)
/* Back-off after a full disk or exceeded quota (design note 5). */
#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
/* The loop is wedged after this long without a turn (heartbeat.c). */
#define WEDGED_S 10
/* --exit-when-idle looks for stuck jobs after this long idle. */
#define STUCK_AFTER_NS (1LL * 1000000000)
/* Bundles (design note 6): enough chunks for about this long, at most
 * BUNDLE_MAX (claim.c also keeps each to a share of its shard). */
#define BUNDLE_TARGET_NS 20e6
#define BUNDLE_MAX 128
#define BUNDLE_MAX_TASKS 4096.0

struct pace {
	uint64_t job;
	double chunk_ns;
};

struct worker {
	struct q_spool *sp;
	const struct q_worker_options *opt;
	char id[Q_WORKER_ID_MAX];
	struct q_cpus cpus;
	struct q_jobcache *cache;
	struct q_run **runs;
	size_t nruns, cap_runs;
	int notify[2];
	int sigfd;
	uint64_t *finished;
	size_t nfinished, cap_finished;
	uint64_t *active;
	size_t nactive;
	uint64_t tasks_claimed;
	unsigned start_shard;
	int stop_level;
	int stopping;              /* stop_level > 0, for runner threads
				    * (atomic; runner.c note 11) */
	int64_t stop_deadline;
	struct q_heartbeat *hb;
	int errors;
	unsigned backoff_s;       /* the last back-off; 0 after a commit */
	int64_t backoff_until;    /* claim nothing before (monotonic) */
	bool all_finished;
	int64_t next_repair;
	int64_t next_each_check;
	uint64_t *plugged;        /* jobs whose plugins were loaded */
	size_t nplugged, cap_plugged;
	struct pace *paces;       /* measured time per chunk, per job */
	size_t npaces, cap_paces;
	pthread_mutex_t claim_lock; /* runners claim too (runner.c note 9) */
	struct q_mpi *mpi;        /* --mpi: the MPI fast path, or NULL */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *real_getenv(const char *name)
{
	return getenv(name);
}

static bool is_finished(struct worker *w, uint64_t id)
{
	for (size_t i = 0; i < w->nfinished; i++)
		if (w->finished[i] == id)
			return true;
	return false;
}

static void mark_finished(struct worker *w, uint64_t id)
{
	if (is_finished(w, id))
		return;
	if (w->nfinished == w->cap_finished) {
		w->cap_finished = w->cap_finished ? 2 * w->cap_finished : 64;
		w->finished = realloc(w->finished,
				      w->cap_finished * sizeof(uint64_t));
		if (!w->finished)
			abort();
	}
	w->finished[w->nfinished++] = id;
}

static void report(struct worker *w, const struct q_error *err)
{
	q_error_print(stderr, w->opt->prog, err);
}

static bool backing_off(const struct worker *w)
{
	return mono_ns() < w->backoff_until;
}

/*
 * The spool is full or over quota (design note 5): start a back-off and
 * say so, unless one is already running. `what` is what happened to the
 * task, or "".
 */
static void back_off(struct worker *w, const struct q_error *err,
		     const char *what)
{
	if (backing_off(w))
		return;
	w->backoff_s = w->backoff_s ? 2 * w->backoff_s : BACKOFF_MIN_S;
	if (w->backoff_s > BACKOFF_MAX_S)
		w->backoff_s = BACKOFF_MAX_S;
	w->backoff_until = mono_ns() + (int64_t)w->backoff_s * 1000000000;
	fprintf(stderr, "%s: %s: %s%s; the spool '%s' is full or over quota: "
		"free space or raise the quota; claiming again in %u s\n",
		w->opt->prog, err->message, strerror(err->errnum), what,
		q_spool_path(w->sp), w->backoff_s);
}

/* A runner's failure: a back-off for a full spool, else an error. */
static void run_failed(struct worker *w, struct q_run *r)
{
	char what[160];

	if (!q_disk_full(r->err.errnum)) {
		report(w, &r->err);
		w->errors++;
		return;
	}
	if (r->each)
		snprintf(what, sizeof(what), "; it runs again later");
	else if (r->handed_back)
		snprintf(what, sizeof(what), "; chunk %llu handed back, "
			 "attempt %u kept",
			 (unsigned long long)r->claim.chunk, r->claim.attempt);
	else
		snprintf(what, sizeof(what), "; chunk %llu stays claimed "
			 "until this worker stops",
			 (unsigned long long)r->claim.chunk);
	back_off(w, &r->err, what);
}

/* The jobs that may still have work: every job not known finished. */
/* A job's highest task priority (0 when it cannot be read). */
static int job_priority(struct worker *w, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(w->cache, id, &err);
	if (!h)
		return 0;
	return q_jobh_job(h)->max_priority;
}

/* Design note 2: stable insertion sort of the active jobs (ids ascend,
 * so equal priorities stay oldest first); a few jobs at a time. */
static void order_by_priority(struct worker *w)
{
	int *prio = malloc(w->nactive * sizeof(*prio) + 1);
	if (!prio)
		abort();
	for (size_t i = 0; i < w->nactive; i++)
		prio[i] = job_priority(w, w->active[i]);
	for (size_t i = 1; i < w->nactive; i++) {
		uint64_t id = w->active[i];
		int p = prio[i];
		size_t k = i;
		for (; k > 0 && prio[k - 1] < p; k--) {
			w->active[k] = w->active[k - 1];
			prio[k] = prio[k - 1];
		}
		w->active[k] = id;
		prio[k] = p;
	}
	free(prio);
}

static int refresh_jobs(struct worker *w)
{
	struct q_error err = Q_ERROR_INIT;
	uint64_t *ids;
	size_t n;
	if (q_job_list(w->sp, &ids, &n, &err) < 0) {
		report(w, &err);
		return -EIO;
	}
	free(w->active);
	w->active = ids;
	w->nactive = 0;
	for (size_t i = 0; i < n; i++)
		if (!is_finished(w, ids[i]))
			ids[w->nactive++] = ids[i];
	order_by_priority(w);
	return 0;
}

/* A job's measured time per chunk (design note 6), or 0: unknown. */
static double chunk_pace(struct worker *w, uint64_t job)
{
	for (size_t i = 0; i < w->npaces; i++)
		if (w->paces[i].job == job)
			return w->paces[i].chunk_ns;
	return 0;
}

static void note_pace(struct worker *w, uint64_t job, double chunk_ns)
{
	for (size_t i = 0; i < w->npaces; i++)
		if (w->paces[i].job == job) {
			/* Half the past, half the present: follows a change
			 * within a few bundles, not fooled by one outlier. */
			w->paces[i].chunk_ns = (w->paces[i].chunk_ns + chunk_ns) / 2;
			return;
		}
	if (w->npaces == w->cap_paces) {
		w->cap_paces = w->cap_paces ? 2 * w->cap_paces : 16;
		w->paces = realloc(w->paces, w->cap_paces * sizeof(*w->paces));
		if (!w->paces)
			abort();
	}
	w->paces[w->npaces++] = (struct pace){ job, chunk_ns };
}

/* How many chunks of `job` to claim at once (design note 6). */
static size_t bundle_size(struct worker *w, const struct q_job *job)
{
	double pace = chunk_pace(w, job->id);
	/* --max-tasks counts tasks: claim one chunk at a time there. */
	if (pace <= 0 || w->opt->max_tasks)
		return 1;
	double n = BUNDLE_TARGET_NS / pace;
	/* The bundle's outcomes wait in memory for its commit: bounded in
	 * tasks, so a worker's memory stays flat however big the array. */
	double per_chunk = job->nchunks ? (double)job->nitems /
						  (double)job->nchunks : 1;
	if (n > BUNDLE_MAX_TASKS / per_chunk)
		n = BUNDLE_MAX_TASKS / per_chunk;
	if (n < 1)
		return 1;
	return n > BUNDLE_MAX ? BUNDLE_MAX : (size_t)n;
}

static void run_free(struct q_run *r)
{
	if (r->claims != &r->claim)
		free(r->claims);
	free(r->settled);
	free(r);
}

static int start_run(struct worker *w, struct q_jobh *h,
		     const struct q_claim *claims, size_t n, bool each)
{
	const struct q_job *job = q_jobh_job(h);
	unsigned threads = q_chunk_threads(job, claims[0].chunk, w->cpus.n);
	struct q_run *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->claims = calloc(n, sizeof(*r->claims));
	r->settled = calloc(n, sizeof(*r->settled));
	if (!r->claims || !r->settled)
		abort();
	memcpy(r->claims, claims, n * sizeof(*claims));
	r->nclaims = n;
	r->claim = claims[0];
	if (threads > sizeof(r->slots) / sizeof(r->slots[0]))
		threads = sizeof(r->slots) / sizeof(r->slots[0]);
	if (!q_cpus_take(&w->cpus, threads, &r->cpus, &r->slot, r->slots)) {
		/* Cannot happen: the claim checked the fit. Give it back. */
		struct q_error err = Q_ERROR_INIT;
		for (size_t i = 0; i < n && !each; i++)
			q_claim_handback(h, &claims[i], &err);
		run_free(r);
		return -EAGAIN;
	}
	r->spool = w->sp;
	r->cache = w->cache;
	r->h = h;
	r->worker_id = w->id;
	r->threads = threads;
	r->verbose = w->opt->verbose;
	r->each = each;
	r->chain = !w->opt->max_tasks;
	r->claim_lock = &w->claim_lock;
	r->mpi = w->mpi;
	r->notify_fd = w->notify[1];
	r->stopping = &w->stopping;
	uint64_t tasks = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t first, count;
		q_job_chunk_items(job, claims[i].chunk, &first, &count);
		tasks += count;
	}
	int ret = q_run_start(r);
	if (ret < 0) {
		struct q_error err = Q_ERROR_INIT;
		q_cpus_give(&w->cpus, r->slots, r->threads);
		for (size_t i = 0; i < n && !each; i++)
			q_claim_handback(h, &claims[i], &err);
		run_free(r);
		return ret;
	}
	if (w->nruns == w->cap_runs) {
		w->cap_runs = w->cap_runs ? 2 * w->cap_runs : 16;
		w->runs = realloc(w->runs, w->cap_runs * sizeof(*w->runs));
		if (!w->runs)
			abort();
	}
	w->runs[w->nruns++] = r;
	w->tasks_claimed += tasks;
	return 0;
}

/*
 * Load the plugins a job lists (a workflow's plugins:), once per job. A
 * plugin this node cannot load is reported; the job's tasks that need
 * its kernels then fail with "this worker has no kernel", visibly.
 */
static void ensure_plugins(struct worker *w, struct q_jobh *h)
{
	const struct q_job *job = q_jobh_job(h);
	for (size_t i = 0; i < w->nplugged; i++)
		if (w->plugged[i] == job->id)
			return;
	if (w->nplugged == w->cap_plugged) {
		w->cap_plugged = w->cap_plugged ? 2 * w->cap_plugged : 16;
		w->plugged = realloc(w->plugged,
				     w->cap_plugged * sizeof(*w->plugged));
		if (!w->plugged)
			abort();
	}
	w->plugged[w->nplugged++] = job->id;
	for (size_t i = 0; i < job->nplugins; i++) {
		struct q_error err = Q_ERROR_INIT;
		if (q_plugin_load(job->plugins[i], &err) < 0) {
			fprintf(stderr, "%s: job %llu: ", w->opt->prog,
				(unsigned long long)job->id);
			q_error_print(stderr, "plugin", &err);
		}
	}
}

/*
 * each_worker tasks of this job that this worker has not run yet run
 * first (each.c, note 1): 1 when one started, 0 when none is due, -err.
 * Tasks it ran but that wait for other workers are checked again now and
 * then, so a task whose last worker died still finishes.
 */
static int run_each_worker_tasks(struct worker *w, struct q_jobh *h)
{
	const struct q_job *job = q_jobh_job(h);
	struct q_error err = Q_ERROR_INIT;
	uint64_t chunk;

	/* Counted once by the layout: no scan of the tasks per claim. */
	if (!job->neach_worker)
		return 0;
	if (q_each_pending(h, w->id, &chunk) == 1) {
		for (size_t i = 0; i < w->nruns; i++)
			if (w->runs[i]->each && w->runs[i]->h == h &&
			    w->runs[i]->claim.chunk == chunk)
				return 0;   /* running it already */
		if (q_chunk_threads(job, chunk, w->cpus.n) > w->cpus.nfree)
			return 0;
		struct q_claim claim = { .chunk = chunk, .attempt = 1 };
		claim.shard = q_job_shard_of(job, chunk);
		claim.claimed_ns = (int64_t)time(NULL) * 1000000000;
		int ret = start_run(w, h, &claim, 1, true);
		return ret < 0 ? ret : 1;
	}
	int64_t now = mono_ns();
	if (now < w->next_each_check)
		return 0;
	w->next_each_check = now + 1000000000;
	for (size_t i = 0; i < job->ngroups; i++)
		if (job->groups[i].each_worker &&
		    q_each_try_finish(h, w->cache, job->groups[i].first_chunk,
				      w->id, &err) < 0)
			report(w, &err);
	return 0;
}

/* Claim one fitting chunk from the oldest job that has one: 1, 0, -err. */
static int claim_one(struct worker *w)
{
	bool any_unfinished = false;

	for (size_t i = 0; i < w->nactive; i++) {
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *h = q_jobcache_get(w->cache, w->active[i], &err);
		if (!h) {
			/* A damaged job must not stop the others. */
			report(w, &err);
			mark_finished(w, w->active[i]);
			continue;
		}
		if (q_jobh_finished(h)) {
			mark_finished(w, w->active[i]);
			continue;
		}
		any_unfinished = true;
		ensure_plugins(w, h);
		int each = run_each_worker_tasks(w, h);
		if (each != 0)
			return each;
		size_t max = bundle_size(w, q_jobh_job(h));
		struct q_claim *claims = calloc(max, sizeof(*claims));
		if (!claims)
			abort();
		pthread_mutex_lock(&w->claim_lock);
		int ret = q_claim_bundle(h, w->id, w->start_shard,
					 w->cpus.nfree, w->cpus.n, max, claims,
					 &err);
		pthread_mutex_unlock(&w->claim_lock);
		if (ret > 0)
			ret = start_run(w, h, claims, (size_t)ret, false) < 0
				      ? -EIO : 1;
		free(claims);
		if (ret < 0 && q_disk_full(err.errnum)) {
			/* Nothing was claimed; claim nothing for a while. */
			back_off(w, &err, "");
			return 0;
		}
		if (ret < 0 && q_error_is_set(&err))
			report(w, &err);
		if (ret != 0)
			return ret;
	}
	w->all_finished = !any_unfinished;
	return 0;
}

static void reap_runs(struct worker *w)
{
	char buf[64];
	while (read(w->notify[0], buf, sizeof(buf)) > 0)
		;
	for (size_t i = 0; i < w->nruns;) {
		struct q_run *r = w->runs[i];
		if (__atomic_load_n(&r->phase, __ATOMIC_ACQUIRE) !=
		    Q_RUN_FINISHED) {
			i++;
			continue;
		}
		pthread_join(r->thread, NULL);
		if (!r->each && r->chunks_run > 0)
			note_pace(w, q_jobh_job(r->h)->id,
				  (double)r->run_ns / (double)r->chunks_run);
		if (r->result < 0 && q_error_is_set(&r->err)) {
			run_failed(w, r);
		} else if (r->result >= 0) {
			w->errors = 0;
			if (r->result == 1)
				w->backoff_s = 0;   /* design note 5 */
		}
		q_cpus_give(&w->cpus, r->slots, r->threads);
		run_free(r);
		w->runs[i] = w->runs[--w->nruns];
	}
}

/* Running kernels see a cancel, or their timeout, through their
 * context's flag. */
static void propagate_cancels(struct worker *w)
{
	int64_t now = mono_ns();
	for (size_t i = 0; i < w->nruns; i++) {
		struct q_run *r = w->runs[i];
		int64_t deadline = __atomic_load_n(&r->deadline,
						   __ATOMIC_RELAXED);
		if (deadline && now >= deadline && !r->timed_out) {
			__atomic_store_n(&r->timed_out, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&r->cancel_flag, 1, __ATOMIC_RELAXED);
		}
		uint64_t item = __atomic_load_n(&r->current_item,
						__ATOMIC_RELAXED);
		if (!r->cancel_flag && q_cancel_check(r->h, item))
			__atomic_store_n(&r->cancel_flag, 1, __ATOMIC_RELAXED);
	}
}

/*
 * Finish what crashed processes left half-done in the unfinished jobs
 * (repair.c). A worker that found nothing to claim does it now and then,
 * busy or not, so a lost wakeup is found without anyone running qstatus
 * --repair, and a dead worker's tasks are requeued soon after its lease
 * even while every worker is busy (they used to wait for one to idle).
 */
static void repair_sweep(struct worker *w)
{
	int64_t now = mono_ns();
	if (now < w->next_repair)
		return;
	/* Often enough to notice an expired lease soon after it expires. */
	int64_t every = (int64_t)w->opt->lease_seconds * 1000000000 / 2;
	w->next_repair = now + (every < REPAIR_EVERY_NS ? every : REPAIR_EVERY_NS);
	for (size_t i = 0; i < w->nactive; i++) {
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *h = q_jobcache_get(w->cache, w->active[i], &err);
		if (!h || q_jobh_finished(h))
			continue;
		if (q_repair(h, w->cache, NULL, &err) < 0)
			report(w, &err);
	}
	struct q_error err = Q_ERROR_INIT;
	if (q_repair_spool(w->sp, NULL, &err) < 0)
		report(w, &err);
}

static void stop_all(struct worker *w)
{
	for (size_t i = 0; i < w->nruns; i++) {
		__atomic_store_n(&w->runs[i]->stop, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&w->runs[i]->cancel_flag, 1,
				 __ATOMIC_RELAXED);
	}
}

static void handle_signals(struct worker *w)
{
	struct signalfd_siginfo si;
	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			/* Write held results to the spool (mpipath.h). */
			q_mpi_spill_all(w->mpi);
			continue;
		}
		w->stop_level++;
		__atomic_store_n(&w->stopping, 1, __ATOMIC_RELEASE);
		/* First thing: mpirun passes SIGTERM on and kills its
		 * processes a second later (docs/mpi.md). */
		if (w->stop_level == 1)
			q_mpi_spill_all(w->mpi);
		if (w->stop_level == 1) {
			w->stop_deadline = mono_ns() +
				(int64_t)(w->opt->grace_seconds * 1e9);
			/* An idle worker just leaves. */
			if (w->nruns == 0)
				continue;
			fprintf(stderr,
				"%s: %s: no new tasks; %zu running task%s get "
				"%.0f s to finish (send it again to stop them "
				"now)\n",
				w->opt->prog, strsignal((int)si.ssi_signo),
				w->nruns, w->nruns == 1 ? "" : "s",
				w->opt->grace_seconds);
		} else {
			fprintf(stderr, "%s: stopping running tasks and "
				"handing them back\n", w->opt->prog);
			stop_all(w);
		}
	}
}

/* mpipath.h: the exit waits for the other ranks; keep beating. */
static void still_alive(void *arg)
{
	struct worker *w = arg;
	q_heartbeat_loop_turned(w->hb);
}

/* Copy Slurm's variable NAME into out, or leave out "" outside Slurm. */
static void slurm_var(const char *name, char *out, size_t size)
{
	const char *v = getenv(name);
	if (v)
		snprintf(out, size, "%s", v);
}

/* Which Slurm job, step, task and node this worker runs in, for qstatus
 * (all empty outside Slurm). */
static void slurm_identify(struct q_worker_info *info)
{
	slurm_var("SLURM_JOB_ID", info->slurm_job, sizeof(info->slurm_job));
	if (!info->slurm_job[0])
		return;
	slurm_var("SLURM_STEP_ID", info->slurm_step, sizeof(info->slurm_step));
	slurm_var("SLURM_PROCID", info->slurm_procid,
		  sizeof(info->slurm_procid));
	slurm_var("SLURMD_NODENAME", info->slurm_node,
		  sizeof(info->slurm_node));
}

static int setup(struct worker *w)
{
	struct q_error err = Q_ERROR_INIT;
	int ret = q_cpus_init(&w->cpus, w->opt->cpus, real_getenv);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot read the CPU affinity: %s\n",
			w->opt->prog, strerror(-ret));
		return -1;
	}
	q_worker_id_make(w->id, sizeof(w->id));
	w->start_shard = (unsigned)getpid();
	if (pipe2(w->notify, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	/* Blocked here, before any thread starts, so every runner thread
	 * inherits the mask and the signals reach the signalfd. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	w->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w->sigfd < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	w->cache = q_jobcache_new(w->sp);

	struct q_worker_info info = { 0 };
	snprintf(info.id, sizeof(info.id), "%s", w->id);
	gethostname(info.host, sizeof(info.host) - 1);
	/* pid, boot id, pid namespace and start time: a reclaimer on this
	 * node can then tell at once that this worker died (libq/proc.c). */
	q_worker_identify(&info);
	info.cpus = w->cpus.n;
	info.lease_s = w->opt->lease_seconds;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	info.started_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	slurm_identify(&info);
	if (q_worker_register(w->sp, &info, &err) < 0) {
		if (q_disk_full(err.errnum))
			fprintf(stderr, "%s: %s: %s; the spool '%s' is full or "
				"over quota: free space or raise the quota, "
				"then start the worker again\n", w->opt->prog,
				err.message, strerror(err.errnum),
				q_spool_path(w->sp));
		else
			report(w, &err);
		return -1;
	}
	/* A loop that has not turned for WEDGED_S (or a lease, if longer)
	 * is stuck: stop beating (heartbeat.c note 2). Not just a lease:
	 * with a 1 s lease a slow repair sweep would look like death. */
	unsigned wedged = w->opt->lease_seconds > WEDGED_S
				  ? w->opt->lease_seconds : WEDGED_S;
	ret = q_heartbeat_start(&w->hb, w->sp, w->id, w->opt->lease_seconds,
				wedged, w->opt->prog);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot start the heartbeat thread: %s\n",
			w->opt->prog, strerror(-ret));
		return -1;
	}
	if (w->opt->mpi) {
		struct q_mpi_options mo = {
			.threshold = w->opt->mpi_threshold,
			.mem = w->opt->mpi_mem,
			.prefault = w->opt->mpi_prefault,
			.verbose = w->opt->verbose,
			.prog = w->opt->prog,
			.alive = still_alive,
			.alive_arg = w,
		};
		/* --mpi-threshold, else the spool's, else the default. */
		uint64_t spool_threshold;
		int found = q_spool_mpi_threshold(w->sp, &spool_threshold,
						  &err);
		if (found < 0) {
			report(w, &err);
			return -1;
		}
		if (!mo.threshold)
			mo.threshold = found ? (size_t)spool_threshold
					     : Q_MPI_THRESHOLD_DEFAULT;
		if (q_mpi_start(w->sp, w->id, &mo, &w->mpi, &err) < 0) {
			report(w, &err);
			/* A bad option value is the user's: exit status 2. */
			return q_error_exit_status(&err) == 2 ? -2 : -1;
		}
	}
	w->next_repair = mono_ns() + REPAIR_EVERY_NS / 10;
	if (w->opt->verbose)
		fprintf(stderr, "%s: worker %s with %u cores (%s)\n",
			w->opt->prog, w->id, w->cpus.n, w->cpus.source);
	return 0;
}

static void teardown(struct worker *w)
{
	/* Still beating while it waits for the other ranks (mpipath.c note 6). */
	q_mpi_stop(w->mpi);
	q_heartbeat_stop(w->hb);
	q_worker_unregister(w->sp, w->id);
	q_jobcache_release(w->cache);
	q_cpus_release(&w->cpus);
	free(w->runs);
	free(w->finished);
	free(w->plugged);
	free(w->paces);
	free(w->active);
	if (w->sigfd >= 0)
		close(w->sigfd);
	close(w->notify[0]);
	close(w->notify[1]);
}

/*
 * Last resort: runner threads that would not stop. Their chunks go back
 * to ready (unless already committing, when the record decides), and the
 * process exits without tearing down what those threads still use.
 */
static void abandon(struct worker *w, int status)
{
	for (size_t i = 0; i < w->nruns; i++) {
		struct q_run *r = w->runs[i];
		if (r->each || __atomic_load_n(&r->phase, __ATOMIC_ACQUIRE) !=
				       Q_RUN_RUNNING)
			continue;
		for (size_t c = 0; c < r->nclaims; c++) {
			struct q_error err = Q_ERROR_INIT;
			if (__atomic_load_n(&r->settled[c], __ATOMIC_ACQUIRE))
				continue;
			if (q_claim_handback(r->h, &r->claims[c], &err) < 0)
				report(w, &err);
		}
	}
	fprintf(stderr, "%s: %zu task%s did not stop; handed back\n",
		w->opt->prog, w->nruns, w->nruns == 1 ? "" : "s");
	q_mpi_spill_all(w->mpi);
	q_heartbeat_stop(w->hb);
	q_worker_unregister(w->sp, w->id);
	fflush(NULL);
	_exit(status ? status : 3);
}

/*
 * Every unfinished job is stuck: nothing ready or claimed in it, even
 * after a repair sweep has finished any release a crash (or a live
 * finisher, right now) left half-done. Such jobs wait for jobs that can
 * never finish (a damaged one, say): --exit-when-idle must not wait for
 * them forever. Says which, once.
 */
static bool all_stuck(struct worker *w)
{
	for (size_t i = 0; i < w->nactive; i++) {
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *h = q_jobcache_get(w->cache, w->active[i], &err);
		if (!h || q_jobh_finished(h))
			continue;
		if (q_job_in_motion(h) != 0)
			return false;
		if (q_repair(h, w->cache, NULL, &err) < 0)
			report(w, &err);
		if (q_job_in_motion(h) != 0 || q_jobh_finished(h))
			return false;
	}
	for (size_t i = 0; i < w->nactive; i++) {
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *h = q_jobcache_get(w->cache, w->active[i], &err);
		if (h && !q_jobh_finished(h))
			fprintf(stderr, "%s: job %llu cannot go on: nothing "
				"in it is ready or running (its tasks wait "
				"for tasks that cannot finish; see qstatus "
				"%llu)\n", w->opt->prog,
				(unsigned long long)w->active[i],
				(unsigned long long)w->active[i]);
	}
	return true;
}

/* A worker with nothing running and nothing to claim: time to leave?
 * (design note 4) */
static bool idle_exit(struct worker *w, bool limit, int64_t *idle_since)
{
	const struct q_worker_options *opt = w->opt;
	int64_t now = mono_ns();

	if (limit)
		return true;
	if (!*idle_since)
		*idle_since = now;
	if (opt->exit_when_idle && w->all_finished)
		return true;
	if (opt->exit_when_idle && opt->idle_seconds < 0 &&
	    now - *idle_since >= STUCK_AFTER_NS && all_stuck(w))
		return true;
	return opt->idle_seconds >= 0 &&
	       now - *idle_since >= (int64_t)(opt->idle_seconds * 1e9);
}

int q_worker_main(struct q_spool *sp, const struct q_worker_options *opt)
{
	struct worker w = { .sp = sp, .opt = opt, .sigfd = -1,
			    .notify = { -1, -1 },
			    .claim_lock = PTHREAD_MUTEX_INITIALIZER };
	int status = 0;
	int poll_ms = POLL_MIN_MS;
	int64_t idle_since = 0;

	q_builtin_kernels_register();
	int bad = setup(&w);
	if (bad < 0) {
		teardown(&w);
		return bad == -2 ? 2 : 3;
	}
	for (;;) {
		handle_signals(&w);
		reap_runs(&w);
		q_heartbeat_loop_turned(w.hb);
		if (w.errors >= MAX_CONSECUTIVE_ERRORS) {
			fprintf(stderr, "%s: too many spool errors in a row; "
				"stopping\n", opt->prog);
			status = 3;
			w.stop_level = w.stop_level ? w.stop_level : 1;
			stop_all(&w);
		}
		if (w.stop_level > 0) {
			if (w.nruns == 0)
				break;
			if (mono_ns() >= w.stop_deadline)
				stop_all(&w);
			if (mono_ns() >= w.stop_deadline + ABANDON_AFTER_NS)
				abandon(&w, status);
		} else {
			propagate_cancels(&w);
			bool limit = opt->max_tasks &&
				     w.tasks_claimed >= opt->max_tasks;
			int claimed = 0;
			bool pause = backing_off(&w);
			if (!limit && !pause && w.cpus.nfree > 0 &&
			    refresh_jobs(&w) < 0)
				w.errors++;
			while (!limit && !pause && w.cpus.nfree > 0) {
				int ret = claim_one(&w);
				if (ret < 0)
					w.errors++;
				if (ret <= 0)
					break;
				claimed++;
				limit = opt->max_tasks &&
					w.tasks_claimed >= opt->max_tasks;
			}
			if (claimed) {
				idle_since = 0;
				poll_ms = POLL_MIN_MS;
			} else if (pause || backing_off(&w)) {
				/* Waiting for space is not idleness: no exit,
				 * no repair sweep (design note 5). */
				idle_since = 0;
			} else {
				/* Nothing to claim, busy or not. */
				repair_sweep(&w);
				if (w.nruns == 0 && idle_exit(&w, limit,
							      &idle_since))
					break;
			}
			if (!claimed && poll_ms < POLL_MAX_MS)
				poll_ms *= 2;
			if (claimed)
				continue;
		}
		struct pollfd p[2] = {
			{ .fd = w.notify[0], .events = POLLIN },
			{ .fd = w.sigfd, .events = POLLIN },
		};
		poll(p, 2, poll_ms > POLL_MAX_MS ? POLL_MAX_MS : poll_ms);
	}
	teardown(&w);
	return status;
}
