/*
 * runner.c: one thread per claimed chunk.
 *
 * Design notes
 * 1. A fresh thread per chunk, bound to the chunk's cores before anything
 *    runs: commands inherit the binding, and the OpenMP team a kernel
 *    starts is created by this thread, so its threads inherit it too (a
 *    long-lived thread would keep a stale team bound to old cores).
 * 2. Items of a chunk run one after another. Before each, the runner
 *    checks the job's cancel set and whether a dependency failed; either
 *    turns the item into "cancelled" with the reason, without running it.
 * 3. A stop request (worker shutting down) hands the whole chunk back
 *    unless it is already committing: items finished so far are run again
 *    by whoever claims it next, which is what "at least once" allows.
 * 4. A command's inputs (its dependencies' results) are made files just
 *    before it runs and their temporary copies removed just after,
 *    whatever happened (inputfiles.c); an input that cannot be passed
 *    fails the item with the reason, like a command that cannot start.
 * 5. A chunk of pure tasks whose keys match an earlier result is not
 *    run: the earlier result is committed as this chunk's (key.c,
 *    reuse.c). qsubmit --no-cache turns that off for a job.
 * 6. A write to the spool that fails with ENOSPC or EDQUOT (an output
 *    file, a command's stdout or stderr as it is copied, a kernel's
 *    result or log, an input file, the record) is not the task's fault:
 *    its temporaries are removed and the chunk goes back to ready/ with
 *    the same attempt (q_claim_handback), never recorded as failed. The
 *    worker then backs off (worker.c). Items of the chunk that finished
 *    before run again: at least once, as for a stop.
 *
 * 7. An item's stdout and stderr (a kernel's result and log) are captured
 *    in memory while small (spoolq/sink.h), within a budget per chunk;
 *    big ones spill to temporaries in tmp/. Two temporary files per item
 *    used to be most of a short task's cost.
 * 8. A run is a bundle of chunks (worker.c claims several at once when
 *    they are short): they run one after another, then commit together
 *    (q_commit_bundle: one segment, one fsync). A stop hands back the
 *    chunk it interrupts and those not started, and still commits those
 *    that ran; a full disk hands back them all. A chunk that is reused
 *    or retried is settled on its own and left out of the commit.
 * 9. A chain runs at the speed of commits: when a bundle's commit makes a
 *    dependent chunk ready (promote.c note 4), this thread claims that
 *    chunk itself (the usual rename: anyone may win it) and runs it
 *    next, on the same cores, without a trip through the worker's claim
 *    loop and a new thread. Only a chunk of exactly this run's thread
 *    count, and not under --max-tasks (the worker counts its claims).
 * 10. Under qworker --mpi, a pure kernel task's result of at least the
 *    threshold stays in this worker's memory (mpipath.h): its sink may hold
 *    it, q_mpi_keep takes it before the commit (which then records it
 *    as held, with its checksum), and the commit's outcome says whether
 *    others may now ask for it or it is dropped. Only pure kernels: a
 *    result that lives in one process must be recomputable (mpipath.c
 *    note 4). Commands' outputs always go to the spool.
 * 11. A batch system stops a job by signalling every process in it at
 *    once, whatever its session: Slurm at a time limit or on scancel
 *    sends SIGTERM to the worker and to its commands alike. A command
 *    that dies of SIGTERM, SIGINT or SIGHUP (or exits 128 + one, as
 *    shells do) while its worker is stopping was interrupted, not
 *    failed: it is handed back like a command the worker stops itself
 *    (note 3), to run again elsewhere. The worker may not have read its
 *    own copy of the signal yet, so the runner also looks at the
 *    process's pending signals, and waits briefly for either.
 */
#include <errno.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "inputfiles.h"
#include "mpipath.h"
#include "runner.h"

extern char **environ;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the environment of a command ---- */

struct envv {
	char **v;
	size_t n, cap;
};

static void env_set(struct envv *e, char *kv)
{
	size_t klen = strcspn(kv, "=");
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], kv, klen) == 0 && e->v[i][klen] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return;
		}
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = realloc(e->v, e->cap * sizeof(char *));
		if (!e->v)
			abort();
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return s;
}

/* Append without looking for an existing key: for keys known to be new. */
static void env_add(struct envv *e, char *kv)
{
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = realloc(e->v, e->cap * sizeof(char *));
		if (!e->v)
			abort();
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

static void env_release(struct envv *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* Q_INPUTS, Q_INPUTS_FILE or Q_INPUT_<digits>: set only from the task's
 * own inputs. */
static bool is_input_var(const char *kv)
{
	if (strncmp(kv, "Q_INPUTS=", 9) == 0 ||
	    strncmp(kv, "Q_INPUTS_FILE=", 14) == 0)
		return true;
	if (strncmp(kv, "Q_INPUT_", 8) != 0)
		return false;
	size_t digits = strspn(kv + 8, "0123456789");
	return digits > 0 && kv[8 + digits] == '=';
}

/*
 * Built explicitly: the worker's environment (the user's, with their
 * modules loaded), then the task's env entries, then spoolq's variables,
 * which always win. Input variables inherited (a worker started from a
 * task) or in the task's env are dropped: a task sees only its own
 * inputs, which are appended last (`inputs`, may be NULL).
 */
static void build_env(struct q_run *r, const struct q_group *g, uint64_t item,
		      int64_t index, char **inputs, struct envv *e)
{
	const struct q_job *job = q_jobh_job(r->h);
	char label[Q_NAME_MAX + 32];

	for (char **p = environ; *p; p++)
		if (!is_input_var(*p))
			env_set(e, strdup(*p));
	for (size_t i = 0; i < g->nenv; i++)
		if (!is_input_var(g->env[i]))
			env_set(e, q_subst_index(g->env[i], index));
	q_job_item_label(job, item, label, sizeof(label));
	env_set(e, xasprintf("Q_JOB=%llu", (unsigned long long)job->id));
	env_set(e, xasprintf("Q_JOB_NAME=%s", job->name));
	env_set(e, xasprintf("Q_TASK=%s", g->name));
	env_set(e, xasprintf("Q_TASK_LABEL=%s", label));
	env_set(e, xasprintf("Q_INDEX=%lld", (long long)index));
	env_set(e, xasprintf("Q_THREADS=%u", r->threads));
	env_set(e, xasprintf("OMP_NUM_THREADS=%u", r->threads));
	env_set(e, xasprintf("Q_ATTEMPT=%u", r->claim.attempt));
	env_set(e, xasprintf("Q_WORKER=%s", r->worker_id));
	env_set(e, xasprintf("Q_SPOOL=%s", q_spool_path(r->spool)));
	/* A command reads the job's broadcast input from its file. */
	if (job->broadcast)
		env_set(e, xasprintf("Q_BROADCAST=%s", job->broadcast));
	/* No input variable is in `e` yet: append without searching, which
	 * keeps 10,000 inputs linear. */
	for (size_t i = 0; inputs && inputs[i]; i++)
		env_add(e, inputs[i]);
}

/* ---- stopping a running command ---- */

struct watch {
	struct q_run *r;
	uint64_t item;
	int64_t next_cancel_check;
	bool cancelled;
	int64_t deadline;       /* monotonic; 0: no timeout */
	bool timed_out;
};

static bool should_stop(void *ctx)
{
	struct watch *w = ctx;
	if (__atomic_load_n(&w->r->stop, __ATOMIC_RELAXED))
		return true;
	int64_t now = mono_ns();
	if (w->deadline && now >= w->deadline) {
		w->timed_out = true;
		return true;
	}
	if (now >= w->next_cancel_check) {
		w->next_cancel_check = now + 500000000;
		if (q_cancel_check(w->r->h, w->item)) {
			w->cancelled = true;
			return true;
		}
	}
	return false;
}

static void set_reason(struct q_outcome *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(struct q_outcome *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
}

/* The item cannot start: it fails with `why`, also written to its
 * stderr so qcollect --err shows it next to the reason. */
static void fail_to_start(struct q_outcome *o, struct q_sink *err, const char *why,
			  const struct q_error *e)
{
	if (e && e->errnum)
		set_reason(o, "%s: %s: %s", why, e->message,
			   strerror(e->errnum));
	else if (e)
		set_reason(o, "%s: %s", why, e->message);
	else
		set_reason(o, "%s", why);
	o->state = Q_STATE_FAILED;
	q_sink_printf(err, "qworker: %s\n", o->reason);
}

/* argv (with {i} and {inputs} expanded) into *argv_out: 0, or -errno
 * with err set. */
static int command_argv(const struct q_group *g, const struct q_job *job,
			uint64_t item, int64_t index,
			const struct q_input_files *in, char ***argv_out,
			size_t *argc_out, struct q_error *err)
{
	int ret;

	if (g->kind == Q_TASK_LINES) {
		uint64_t n = item - g->first;
		const char *line = n < job->nlines
					   ? job->lines + job->line_off[n]
					   : "";
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *raw = strndup(line, len);
		char *sub = q_subst_index(raw, index);
		char *full = NULL;
		free(raw);
		ret = q_input_files_line(in, sub, &full, err);
		free(sub);
		if (ret < 0)
			return ret;
		char **argv = calloc(4, sizeof(char *));
		if (!argv)
			abort();
		argv[0] = strdup("/bin/sh");
		argv[1] = strdup("-c");
		argv[2] = full;
		*argv_out = argv;
		*argc_out = 3;
		return 0;
	}
	char **tmpl = calloc(g->argc + 1, sizeof(char *));
	if (!tmpl)
		abort();
	for (size_t i = 0; i < g->argc; i++)
		tmpl[i] = q_subst_index(g->argv[i], index);
	ret = q_input_files_argv(in, tmpl, g->argc, argv_out, argc_out, err);
	for (size_t i = 0; i < g->argc; i++)
		free(tmpl[i]);
	free(tmpl);
	if (ret == 0 && *argc_out == 0) {
		free(*argv_out);
		*argv_out = NULL;
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "the command is empty once {inputs} is "
				   "expanded (the task has no inputs)");
	}
	return ret;
}

/* Design note 6: a write to the spool failed for lack of space. */
static int spool_full(struct q_run *r, uint64_t item, int errnum,
		      const char *what)
{
	char label[Q_NAME_MAX + 32];
	q_job_item_label(q_jobh_job(r->h), item, label, sizeof(label));
	return q_error_set(&r->err, Q_ERR_SYSTEM, errnum,
			   "job %llu %s: cannot store its %s in '%s/tmp'",
			   (unsigned long long)q_jobh_job(r->h)->id, label,
			   what, q_spool_path(r->spool));
}

/* The signal a command's exit status says it died of or was stopped by
 * (-SIG, or 128 + SIG from a shell), if it is one a batch system or a
 * terminal stops jobs with; 0 otherwise. */
static int stop_signal_of(int exit_code)
{
	int sig = exit_code < 0 ? -exit_code
		  : exit_code > 128 ? exit_code - 128 : 0;
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP ? sig : 0;
}

/* Note 11: whether a command that ended with exit_code was interrupted
 * by the signal that is stopping this worker. */
static bool interrupted_by_stop(struct q_run *r, int exit_code)
{
	if (!stop_signal_of(exit_code) || !r->stopping)
		return false;
	/* The worker's main loop takes its signal from a signalfd; until
	 * then it is pending for the process. 50 x 2 ms is plenty for it. */
	for (int i = 0; i < 50; i++) {
		if (__atomic_load_n(r->stopping, __ATOMIC_ACQUIRE))
			return true;
		sigset_t pending;
		if (sigpending(&pending) == 0 &&
		    (sigismember(&pending, SIGTERM) == 1 ||
		     sigismember(&pending, SIGINT) == 1 ||
		     sigismember(&pending, SIGHUP) == 1))
			return true;
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	return false;
}

/* 0 (the outcome says what happened), or -errno when the run is
 * worthless for a reason that is not the task's (r->err says why). */
static int run_command(struct q_run *r, const struct q_group *g,
		       uint64_t item, int64_t index, struct q_sink *out,
		       struct q_sink *err, struct q_outcome *o)
{
	const struct q_job *job = q_jobh_job(r->h);
	struct envv env = { 0 };
	struct q_input_files in = Q_INPUT_FILES_INIT;
	struct q_error ierr = Q_ERROR_INIT;
	char **argv = NULL, **inputs_env = NULL;
	size_t argc = 0;
	int ret = 0;

	if (q_input_files_prepare(&in, r->h, r->cache, item, &ierr) < 0) {
		if (q_disk_full(ierr.errnum)) {
			ret = spool_full(r, item, ierr.errnum, "inputs");
			goto out;
		}
		fail_to_start(o, err, "cannot pass the inputs", &ierr);
		goto out;
	}
	if (command_argv(g, job, item, index, &in, &argv, &argc, &ierr) < 0) {
		fail_to_start(o, err, "cannot build the command", &ierr);
		goto out;
	}
	inputs_env = q_input_files_env(&in);
	build_env(r, g, item, index, inputs_env, &env);
	struct q_command cmd = { argv, env.v, g->cwd, out, err };
	struct watch w = { r, item, 0, false, 0, false };
	if (g->timeout_s > 0)
		w.deadline = mono_ns() + (int64_t)(g->timeout_s * 1e9);
	struct q_command_result res;
	if ((ret = q_command_run(&cmd, should_stop, &w, &res)) < 0) {
		q_error_set(&r->err, Q_ERR_SYSTEM, -ret,
			    "job %llu: cannot make pipes for a command",
			    (unsigned long long)job->id);
		goto out;
	}
	if (res.capture_errno) {
		ret = spool_full(r, item, res.capture_errno, "output");
		goto out;
	}

	o->exit_code = res.exit_code;
	if (!res.stopped && !res.spawn_errno &&
	    interrupted_by_stop(r, res.exit_code))
		res.stopped = true;
	if (res.stopped && w.timed_out) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "timed out after %g s", g->timeout_s);
	} else if (res.stopped && w.cancelled) {
		o->state = Q_STATE_CANCELLED;
		set_reason(o, "cancelled by qcancel while running");
	} else if (res.stopped) {
		o->state = Q_STATE_CANCELLED;
		set_reason(o, "stopped by the worker");
	} else if (res.spawn_errno) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "cannot run '%s': %s", argv[0],
			   strerror(res.spawn_errno));
	} else if (res.exit_code == 0) {
		o->state = Q_STATE_DONE;
	} else if (res.exit_code > 0) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "exit status %d", res.exit_code);
	} else {
		o->state = Q_STATE_FAILED;
		set_reason(o, "killed by signal %d (%s)", -res.exit_code,
			   strsignal(-res.exit_code));
	}
out:
	for (size_t i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	free(inputs_env);   /* its strings now belong to env */
	env_release(&env);
	q_input_files_release(&in);
	return ret;
}

/* Like run_command: 0, or -errno for a result that cannot be stored. */
static int run_kernel(struct q_run *r, const struct q_group *g, uint64_t item,
		      struct q_sink *out, struct q_sink *err,
		      struct q_outcome *o)
{
	const struct q_kernel *k = q_kernel_find(g->kernel);
	if (!k) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "this worker has no kernel '%s'", g->kernel);
		q_sink_printf(err, "qworker: no kernel '%s' on this worker\n",
			      g->kernel);
		return 0;
	}
	struct q_ctx *ctx = q_ctx_new_sinks(r->h, r->cache, item, r->threads,
					    out, err, &r->cancel_flag);
	omp_set_num_threads((int)r->threads);
	/* The worker's main loop raises cancel_flag at the deadline. */
	__atomic_store_n(&r->timed_out, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->deadline, g->timeout_s > 0
				? mono_ns() + (int64_t)(g->timeout_s * 1e9) : 0,
			 __ATOMIC_RELAXED);
	int rc = k->run(ctx);
	__atomic_store_n(&r->deadline, 0, __ATOMIC_RELAXED);
	int fin = q_ctx_finish(ctx);
	q_ctx_release(ctx);
	o->exit_code = rc;
	if (fin < 0 && q_disk_full(-fin)) {
		/* Whatever the kernel returned: it may have failed only
		 * because its writes did (design note 6). */
		__atomic_store_n(&r->cancel_flag, 0, __ATOMIC_RELAXED);
		return spool_full(r, item, -fin, "result");
	}
	if (__atomic_load_n(&r->timed_out, __ATOMIC_RELAXED)) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "timed out after %g s", g->timeout_s);
		/* The next item starts with a clear flag. */
		__atomic_store_n(&r->cancel_flag, 0, __ATOMIC_RELAXED);
	} else if (__atomic_load_n(&r->cancel_flag, __ATOMIC_RELAXED)) {
		o->state = Q_STATE_CANCELLED;
		set_reason(o, __atomic_load_n(&r->stop, __ATOMIC_RELAXED)
				      ? "stopped by the worker"
				      : "cancelled by qcancel while running");
	} else if (rc != 0) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "kernel '%s' returned %d", g->kernel, rc);
	} else if (fin != 0) {
		o->state = Q_STATE_FAILED;
		set_reason(o, "cannot write the result: %s", strerror(-fin));
	} else {
		o->state = Q_STATE_DONE;
	}
	return 0;
}

/* 0, or -errno when the item's output cannot be stored (r->err set). */
static int run_item(struct q_run *r, uint64_t item, struct q_outcome *o)
{
	const struct q_job *job = q_jobh_job(r->h);
	const struct q_group *g = q_job_group_of(job, item);
	int64_t index = q_job_index_of(job, item);
	struct q_sink out, err;
	int ret;

	/* In memory while small (spoolq/sink.h): most items make no file. */
	q_sink_init(&out, r->spool, "out", &r->sink_budget);
	q_sink_init(&err, r->spool, "err", &r->sink_budget);
	/* Design note 10: a pure kernel's big result may stay here. */
	bool holdable = r->mpi && !r->each && g->kind == Q_TASK_KERNEL &&
			o->key[0] && g->mpi_threshold != Q_MPI_NEVER;
	if (holdable)
		q_sink_hold(&out, q_mpi_hold_limit(r->mpi));
	if (g->kind == Q_TASK_KERNEL)
		ret = run_kernel(r, g, item, &out, &err, o);
	else
		ret = run_command(r, g, item, index, &out, &err, o);
	int out_ret = q_sink_finish(&out, &o->out);
	int err_ret = q_sink_finish(&err, &o->err);
	if (holdable && ret == 0 && out_ret == 0 && o->state == Q_STATE_DONE)
		(void)q_mpi_keep(r->mpi, q_jobh_job(r->h)->id, item,
				 r->claim.attempt, g->mpi_threshold, &o->out);
	int lost = out_ret < 0 ? -out_ret : err_ret < 0 ? -err_ret : 0;
	/* A write the task never saw fail, lost for lack of space: not the
	 * task's fault (design note 6). */
	if (ret == 0 && q_disk_full(lost))
		ret = spool_full(r, item, lost, "output");
	return ret;
}

static void drop_outputs(struct q_run *r, struct q_outcome *o, size_t n,
			 unsigned attempt)
{
	for (size_t i = 0; i < n; i++) {
		if (o[i].out.held)
			q_mpi_settle(r->mpi, q_jobh_job(r->h)->id, o[i].item,
				     attempt, false);
		q_output_discard(r->spool, &o[i].out);
		q_output_discard(r->spool, &o[i].err);
	}
}

/*
 * Log an attempt that leaves no record (spoolq/events.h): a retry, or a
 * chunk handed back after some of its items ran. The queue never depends
 * on the log: a failure is a warning, said once per worker.
 */
static void log_attempt(struct q_run *r, const struct q_claim *claim,
			enum q_attempt_end end, const struct q_outcome *o,
			size_t n)
{
	static bool warned;
	struct q_error err = Q_ERROR_INIT;
	if (r->each || n == 0)
		return;
	if (q_events_log(r->h, r->worker_id, claim, end, r->worker_id, o, n,
			 &err) < 0 &&
	    !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED)) {
		fprintf(stderr, "qworker: warning: %s (the queue goes on; "
			"qstatus --events and --report will miss attempts)\n",
			err.message);
	}
}

/* Give the current chunk back; an each_worker run holds no claim:
 * nothing to give back, the task stays runnable for this worker. */
static int hand_back(struct q_run *r, struct q_error *err)
{
	if (r->each)
		return 0;
	int ret = q_claim_handback(r->h, &r->claim, err);
	if (ret == 0)
		r->handed_back = true;
	return ret;
}

/* After a failure already in r->err: give the chunk back, and say so if
 * even that fails (it then stays claimed until this worker stops or its
 * lease ends, and goes back then). */
static void give_back(struct q_run *r)
{
	struct q_error err = Q_ERROR_INIT;
	if (hand_back(r, &err) < 0)
		q_error_print(stderr, "qworker", &err);
}

/* Give back the bundle's chunks [from, nclaims) that are not settled. */
static void give_back_rest(struct q_run *r, size_t from)
{
	for (size_t c = from; c < r->nclaims && !r->each; c++) {
		struct q_error err = Q_ERROR_INIT;
		if (r->settled[c])
			continue;
		if (q_claim_handback(r->h, &r->claims[c], &err) < 0)
			q_error_print(stderr, "qworker", &err);
		r->settled[c] = true;
		r->handed_back = true;
	}
}

/*
 * Pure tasks (design note 5): key every item; when all have keys and the
 * job allows it, an earlier identical result is committed instead of
 * running. The keys stay in the outcomes either way, so a run records
 * them and indexes the cache.
 */
static bool reuse_earlier_result(struct q_run *r, struct q_outcome *o,
				 uint64_t first, uint64_t count)
{
	const struct q_job *job = q_jobh_job(r->h);
	for (uint64_t i = 0; i < count; i++)
		if (q_item_key(r->h, r->cache, first + i, o[i].key) != 1)
			return false;
	if (job->no_cache)
		return false;
	for (uint64_t i = 0; i < count; i++) {
		o[i].item = first + i;
		o[i].slot = r->slot;
	}
	int ret = q_cache_reuse(r->h, r->cache, &r->claim, r->worker_id, o,
				count, &r->err);
	if (ret == 0)
		return false;
	r->result = ret;
	if (ret < 0)
		give_back(r);   /* no record was published (commit.c) */
	if (r->verbose && ret == 1)
		fprintf(stderr, "qworker: job %llu chunk %llu: reused an "
			"earlier result (%llu task%s)\n",
			(unsigned long long)job->id,
			(unsigned long long)r->claim.chunk,
			(unsigned long long)count, count == 1 ? "" : "s");
	return true;
}

/*
 * A failed item with attempts left (its task's retries): the chunk goes
 * back to the queue as the next attempt after a back-off of 1, 2, 4, ...
 * seconds (at most 5 minutes), instead of being recorded as failed.
 */
static bool retry_if_failed(struct q_run *r, struct q_outcome *o,
			    uint64_t count)
{
	const struct q_job *job = q_jobh_job(r->h);
	unsigned max = q_chunk_max_attempts(job, r->claim.chunk);
	const char *why = NULL;
	for (uint64_t i = 0; i < count; i++)
		if (o[i].state == Q_STATE_FAILED && !why)
			why = o[i].reason;
	if (!why || r->claim.attempt >= max)
		return false;
	unsigned shift = r->claim.attempt - 1 < 9 ? r->claim.attempt - 1 : 9;
	double delay = (double)(1u << shift);
	if (delay > 300)
		delay = 300;
	fprintf(stderr, "qworker: job %llu chunk %llu: attempt %u of %u "
		"failed (%s); again in %.0f s\n", (unsigned long long)job->id,
		(unsigned long long)r->claim.chunk, r->claim.attempt, max, why,
		delay);
	log_attempt(r, &r->claim, Q_END_RETRY, o, count);
	drop_outputs(r, o, count, r->claim.attempt);
	if (q_claim_retry(r->h, &r->claim, delay, &r->err) < 0)
		r->result = -EIO;
	return true;
}


/* How running one chunk of the bundle ended. */
enum chunk_end {
	CHUNK_RAN,        /* outcomes to commit */
	CHUNK_SETTLED,    /* committed (reused) or requeued (a retry) */
	CHUNK_ABORTED,    /* stopped, or the spool is full: handed back, and
			   * the rest of the bundle must go back too */
};

/* Run the items of r->claim into o[0..count). */
static enum chunk_end run_chunk(struct q_run *r, struct q_outcome *o,
				uint64_t first, uint64_t count)
{
	const struct q_job *job = q_jobh_job(r->h);
	char label[Q_NAME_MAX + 32];

	if (!r->each && reuse_earlier_result(r, o, first, count))
		return r->result < 0 ? CHUNK_ABORTED : CHUNK_SETTLED;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t item = first + i;
		if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
			log_attempt(r, &r->claim, Q_END_HANDBACK, o, i);
			drop_outputs(r, o, count, r->claim.attempt);
			if (hand_back(r, &r->err) < 0)
				r->result = -EIO;
			return CHUNK_ABORTED;
		}
		__atomic_store_n(&r->current_item, item, __ATOMIC_RELAXED);
		o[i].item = item;
		o[i].slot = r->slot;
		o[i].exit_code = Q_EXIT_NONE;
		o[i].start_ns = now_ns();
		char reason[256];
		struct q_error derr = Q_ERROR_INIT;
		int dep;
		if (q_cancel_check(r->h, item)) {
			o[i].state = Q_STATE_CANCELLED;
			set_reason(&o[i], "cancelled by qcancel");
		} else if ((dep = q_dep_check(r->h, r->cache, item, reason,
					      sizeof(reason), &derr)) != 0) {
			o[i].state = dep > 0 ? Q_STATE_CANCELLED
					     : Q_STATE_FAILED;
			set_reason(&o[i], "%s",
				   dep > 0 ? reason : derr.message);
		} else {
			int ret = run_item(r, item, &o[i]);
			if (ret < 0) {
				/* The spool's tmp/ failed (design note 6):
				 * not the task's fault; give it back. */
				o[i].state = Q_STATE_CANCELLED;
				o[i].end_ns = now_ns();
				set_reason(&o[i], "handed back: cannot write "
					   "to the spool");
				log_attempt(r, &r->claim, Q_END_HANDBACK, o,
					    i + 1);
				drop_outputs(r, o, count, r->claim.attempt);
				give_back(r);
				r->result = ret;
				return CHUNK_ABORTED;
			}
			r->items_run++;
		}
		o[i].end_ns = now_ns();
		/* Stopped mid-item by the worker (design note 3). */
		if (o[i].state == Q_STATE_CANCELLED &&
		    strcmp(o[i].reason, "stopped by the worker") == 0) {
			log_attempt(r, &r->claim, Q_END_HANDBACK, o, i + 1);
			drop_outputs(r, o, count, r->claim.attempt);
			if (hand_back(r, &r->err) < 0)
				r->result = -EIO;
			return CHUNK_ABORTED;
		}
		if (r->verbose) {
			q_job_item_label(job, item, label, sizeof(label));
			fprintf(stderr, "qworker: job %llu %s: %s%s%s (%.3f s)\n",
				(unsigned long long)job->id, label,
				q_state_name(o[i].state),
				o[i].reason[0] ? ": " : "", o[i].reason,
				(double)(o[i].end_ns - o[i].start_ns) / 1e9);
		}
	}
	if (!r->each && retry_if_failed(r, o, count))
		return r->result < 0 ? CHUNK_ABORTED : CHUNK_SETTLED;
	return CHUNK_RAN;
}

/*
 * Design note 8: commit the chunks that ran, all in one segment. A
 * chunk whose record could not be published goes back to ready/.
 */
static void commit_ran(struct q_run *r, struct q_claim *claims,
		       struct q_outcome **outs, size_t *counts, size_t n)
{
	const struct q_job *job = q_jobh_job(r->h);
	int *results = calloc(n + 1, sizeof(*results));
	if (!results)
		abort();
	/* The commit consumes the outcomes: note which results are held. */
	struct kept { size_t chunk; uint64_t item; } *kept = NULL;
	size_t nkept = 0;
	for (size_t i = 0; r->mpi && i < n; i++)
		for (size_t j = 0; j < counts[i]; j++)
			if (outs[i][j].out.held) {
				kept = realloc(kept, (nkept + 1) *
							     sizeof(*kept));
				if (!kept)
					abort();
				kept[nkept++] = (struct kept){ i,
							       outs[i][j].item };
			}
	int ret = q_commit_bundle(r->h, r->cache, claims, outs, counts, n,
				  r->worker_id, results, &r->err);
	for (size_t k = 0; k < nkept; k++)
		q_mpi_settle(r->mpi, job->id, kept[k].item,
			     claims[kept[k].chunk].attempt,
			     results[kept[k].chunk] == 1);
	free(kept);
	r->result = ret < 0 ? ret : 1;
	for (size_t i = 0; i < n; i++) {
		if (results[i] >= 0)
			continue;
		r->claim = claims[i];
		if (ret < 0 && q_disk_full(r->err.errnum) && i == 0) {
			/* Small outputs wait in memory for the record: a
			 * full disk shows here, and is said the way a
			 * failed output file would say it (note 6). */
			int e = r->err.errnum;
			uint64_t first, count;
			q_job_chunk_items(job, claims[i].chunk, &first, &count);
			const struct q_group *g = q_job_group_of(job, first);
			q_error_clear(&r->err);
			spool_full(r, first, e, g->kind == Q_TASK_KERNEL
						     ? "result" : "output");
		}
		log_attempt(r, &claims[i], Q_END_HANDBACK, outs[i], counts[i]);
		give_back(r);   /* no record was published (commit.c) */
	}
	free(results);
}

/* The chunks that ran but cannot be committed (the spool is full): their
 * outputs dropped, the chunks handed back. Returns 0, the chunks left. */
static size_t give_back_ran(struct q_run *r, const struct q_claim *ran,
			    struct q_outcome **outs, const size_t *counts,
			    size_t nran)
{
	for (size_t k = 0; k < nran; k++) {
		struct q_error err = Q_ERROR_INIT;
		log_attempt(r, &ran[k], Q_END_HANDBACK, outs[k], counts[k]);
		drop_outputs(r, outs[k], counts[k], ran[k].attempt);
		free(outs[k]);
		if (q_claim_handback(r->h, &ran[k], &err) < 0)
			q_error_print(stderr, "qworker", &err);
	}
	r->handed_back = true;
	return 0;
}

/* Run and commit the bundle r->claims[0..nclaims). */
static void run_bundle(struct q_run *r)
{
	const struct q_job *job = q_jobh_job(r->h);
	size_t n = r->nclaims, nran = 0;
	struct q_outcome **outs = calloc(n + 1, sizeof(*outs));
	size_t *counts = calloc(n + 1, sizeof(*counts));
	struct q_claim *ran = calloc(n + 1, sizeof(*ran));
	if (!outs || !counts || !ran)
		abort();

	r->result = 0;
	/* One budget for the bundle: the outputs of chunks that ran wait in
	 * memory for the one commit. */
	r->sink_budget = Q_SINK_RUN_BUDGET;
	for (size_t c = 0; c < n; c++) {
		uint64_t first, count;
		r->claim = r->claims[c];
		q_job_chunk_items(job, r->claim.chunk, &first, &count);
		struct q_outcome *o = calloc(count, sizeof(*o));
		if (!o)
			abort();
		int64_t t0 = mono_ns();
		enum chunk_end end = run_chunk(r, o, first, count);
		r->run_ns += mono_ns() - t0;
		r->chunks_run++;
		r->settled[c] = end != CHUNK_RAN;
		if (end != CHUNK_RAN) {
			free(o);
			if (end == CHUNK_ABORTED) {
				/* A stop commits what ran; a full disk
				 * cannot: those go back too. */
				if (r->result < 0)
					nran = give_back_ran(r, ran, outs,
							     counts, nran);
				give_back_rest(r, 0);
				break;
			}
			continue;
		}
		outs[nran] = o;
		counts[nran] = count;
		ran[nran++] = r->claim;
		r->settled[c] = true;
	}
	if (nran > 0) {
		__atomic_store_n(&r->phase, Q_RUN_COMMITTING, __ATOMIC_RELEASE);
		int keep = r->result;
		bool stopped = r->handed_back;
		if (r->each)
			r->result = q_each_commit(r->h, r->cache, ran[0].chunk,
						  ran[0].claimed_ns,
						  r->worker_id, outs[0],
						  &r->err) < 0 ? -EIO : 1;
		else
			commit_ran(r, ran, outs, counts, nran);
		/* A stop's hand-back, or an earlier error, still counts. */
		if (keep < 0 || (stopped && r->result >= 0))
			r->result = keep < 0 ? keep : 0;
	}
	for (size_t k = 0; k < nran; k++)
		free(outs[k]);
	free(outs);
	free(counts);
	free(ran);
}

/*
 * Design note 9: the chunk this bundle's commit made ready, claimed to
 * run next in this thread. True when r->claims[0] is now that chunk.
 */
static bool next_in_chain(struct q_run *r)
{
	uint64_t chunk;
	struct q_claim claim;
	struct q_error err = Q_ERROR_INIT;

	if (!q_take_promoted(q_jobh_job(r->h)->id, &chunk) || !r->chain ||
	    r->each || r->result != 1 || r->handed_back ||
	    __atomic_load_n(&r->stop, __ATOMIC_RELAXED))
		return false;
	/* The claim name is the worker's, the same in every thread: a lost
	 * rename looks won if another thread's claim is there (claim.c
	 * note 1), so a worker claims in one thread at a time. */
	pthread_mutex_lock(r->claim_lock);
	int got = q_claim_chunk(r->h, r->worker_id, chunk, r->threads, &claim,
				&err);
	pthread_mutex_unlock(r->claim_lock);
	if (got != 1)
		return false;
	/* abandon() (worker.c) may read the claims meanwhile: the slot is
	 * marked settled while it changes. */
	__atomic_store_n(&r->settled[0], true, __ATOMIC_RELEASE);
	r->claims[0] = claim;
	r->nclaims = 1;
	r->claim = claim;
	__atomic_store_n(&r->phase, Q_RUN_RUNNING, __ATOMIC_RELEASE);
	__atomic_store_n(&r->settled[0], false, __ATOMIC_RELEASE);
	return true;
}

static void *run_thread(void *arg)
{
	struct q_run *r = arg;

	/* Design note 1: bind first. Failure to bind is not fatal. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(r->cpus), &r->cpus);
	do
		run_bundle(r);
	while (next_in_chain(r));
	__atomic_store_n(&r->phase, Q_RUN_FINISHED, __ATOMIC_RELEASE);
	char byte = 1;
	while (write(r->notify_fd, &byte, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

int q_run_start(struct q_run *r)
{
	r->phase = Q_RUN_RUNNING;
	q_error_clear(&r->err);
	int ret = pthread_create(&r->thread, NULL, run_thread, r);
	return -ret;
}
