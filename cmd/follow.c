/*
 * follow.c: qstatus --wait and --watch, following jobs until they finish
 * (progress.c draws what is seen).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "cli.h"
#include "follow.h"
#include "progress.h"

static double mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * --wait and --watch: following jobs until they finish (progress.c
 * draws what is seen).
 *
 * Design notes
 * 1. Whether the jobs finished is cheap to ask (one stat per job) and is
 *    asked every quarter second, so the end is seen at once.
 * 2. A look (the counts of every group of every unfinished job: a
 *    listing of its shards; the worker registry) costs more: it is taken
 *    at most every FOLLOW_MIN_S (FOLLOW_LINE_S into a log), and never
 *    more often than every ten looks' cost, so watching cannot load the
 *    file server. The first look is no measure: it reads the record of
 *    every finished chunk once (later looks know them finished).
 * 3. Idle workers need the claimants of every running chunk: a listing
 *    of the claim/ shards of every job in motion (look_claimants, no
 *    record read). That look has its own pace (ten times its cost),
 *    comes after the first frame, and stops (idle not shown) if it ever
 *    takes over FOLLOW_IDLE_MAX_S (a spool of very many jobs in motion
 *    on a slow file server), so it never freezes the display.
 */
enum follow_mode {
	FOLLOW_QUIET,   /* --wait, stderr not a terminal: only wait */
	FOLLOW_BAR,     /* --wait on a terminal: one bar on stderr */
	FOLLOW_FRAME,   /* --watch on a terminal: a frame on stdout */
	FOLLOW_LINES,   /* --watch into a file or pipe: a line now and then */
};

#define FOLLOW_MIN_S 0.5        /* fastest redraw */
#define FOLLOW_BAR_DELAY_S 0.5  /* --wait: no bar for a wait this short */
#define FOLLOW_LINE_S 10.0      /* a log line while tasks finish ... */
#define FOLLOW_QUIET_LINE_S 60  /* ... and at least this often */
#define FOLLOW_IDLE_MAX_S 2.0   /* the dearest claimants look we repeat */

struct follow {
	enum follow_mode mode;
	struct q_spool *sp;
	struct q_jobcache *cache;
	struct q_progress_view view;
	bool *told;                /* FOLLOW_LINES: per job, "finished" */
	unsigned looks;
	double look_cost;          /* seconds the last look took */
	double next_idle;          /* when to look for idle workers again */
	bool idle_off;             /* too dear to count (design note 3) */
	uint64_t *done_ids;        /* jobs seen finished (idle looks skip) */
	size_t ndone;
	struct q_term term;
};

/* The worker ids holding a claim. */
struct claimants {
	char (*id)[Q_WORKER_ID_MAX];
	size_t n, cap;
};

static int see_claimant(void *ctx, const struct q_claim_info *c)
{
	struct claimants *cl = ctx;
	for (size_t i = cl->n; i-- > 0; )   /* a bundle's chunks: the last */
		if (strcmp(cl->id[i], c->worker) == 0)
			return 0;
	if (cl->n == cl->cap) {
		cl->cap = cl->cap ? 2 * cl->cap : 16;
		cl->id = realloc(cl->id, cl->cap * sizeof(*cl->id));
		if (!cl->id)
			abort();
	}
	snprintf(cl->id[cl->n++], sizeof(*cl->id), "%s", c->worker);
	return 0;
}

static bool in_ids(const uint64_t *ids, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool followed(const struct follow *f, uint64_t id)
{
	for (size_t i = 0; i < f->view.n; i++)
		if (f->view.jobs[i].id == id)
			return true;
	return false;
}

/*
 * Which workers hold a claim, in any unfinished job of the spool (a
 * worker busy with another job is not idle): a listing of the claims of
 * each job in motion, no records read.
 */
static int look_claimants(struct follow *f, struct claimants *cl,
			  struct q_error *err)
{
	uint64_t *ids;
	size_t n;
	int ret = q_job_list(f->sp, &ids, &n, err);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (in_ids(f->done_ids, f->ndone, ids[i]))
			continue;
		struct q_jobh *h = q_jobcache_get(f->cache, ids[i], err);
		if (!h) {
			ret = -EIO;
			break;
		}
		if (q_jobh_finished(h)) {
			f->done_ids = realloc(f->done_ids, (f->ndone + 1) *
					      sizeof(*f->done_ids));
			if (!f->done_ids)
				abort();
			f->done_ids[f->ndone++] = ids[i];
			/* Its directories need not stay open. */
			if (!followed(f, ids[i]))
				q_jobcache_drop(f->cache, ids[i]);
			continue;
		}
		ret = q_job_in_motion(h);
		if (ret > 0)
			ret = q_job_for_each_claim(h, see_claimant, cl, err);
		else if (ret < 0)
			q_error_set(err, Q_ERR_SYSTEM, -ret, "cannot read the "
				    "claims of job %llu",
				    (unsigned long long)ids[i]);
	}
	free(ids);
	return ret < 0 ? ret : 0;
}

/* The workers alive and lost; with `idle`, which of them hold no claim
 * (design note 3). */
static int look_workers(struct follow *f, bool idle, struct q_error *err)
{
	struct q_progress_view *v = &f->view;
	struct q_worker_info *w;
	size_t n;
	int ret = 0;
	if (q_workers_list(f->sp, &w, &n, err) < 0)
		return -EIO;
	v->alive = v->lost = 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i].alive)
			v->alive++;
		else
			v->lost++;
	}
	if (v->idle > v->alive)    /* the idle count is older */
		v->idle = v->alive;
	if (idle) {
		struct claimants cl = { 0 };
		double t0 = mono_seconds();
		ret = look_claimants(f, &cl, err);
		double cost = mono_seconds() - t0;
		f->next_idle = t0 + (10 * cost > FOLLOW_MIN_S ? 10 * cost
							     : FOLLOW_MIN_S);
		f->idle_off = cost > FOLLOW_IDLE_MAX_S;
		v->idle = 0;
		for (size_t i = 0; i < n && ret == 0; i++) {
			bool busy = false;
			for (size_t k = 0; k < cl.n && !busy; k++)
				busy = strcmp(cl.id[k], w[i].id) == 0;
			v->idle += w[i].alive && !busy;
		}
		v->idle_known = ret == 0 && !f->idle_off;
		free(cl.id);
	}
	free(w);
	return ret;
}

/* Count every group of every job not yet seen finished; the workers
 * too for --watch. */
static int look(struct follow *f, struct q_error *err)
{
	struct q_progress_view *v = &f->view;
	double t0 = mono_seconds();
	memset(&v->all, 0, sizeof(v->all));
	for (size_t i = 0; i < v->n; i++) {
		struct q_progress_job *j = &v->jobs[i];
		struct q_jobh *h = q_jobcache_get(f->cache, j->id, err);
		if (!h)
			return -EIO;
		if (!j->finished) {
			/* Finished before the count: the count is final. */
			bool finished = q_jobh_finished(h);
			if (q_job_group_counts(h, j->groups, err) < 0)
				return -EIO;
			memset(&j->sum, 0, sizeof(j->sum));
			for (size_t g = 0; g < j->job->ngroups; g++)
				q_progress_add_counts(&j->sum, &j->groups[g]);
			j->finished = finished;
			q_rate_add(&j->rate, t0, q_progress_finished(&j->sum));
		}
		q_progress_add_counts(&v->all, &j->sum);
	}
	q_rate_add(&v->rate, t0, q_progress_finished(&v->all));
	if ((f->mode == FOLLOW_FRAME || f->mode == FOLLOW_LINES) &&
	    look_workers(f, false, err) < 0)
		return -EIO;
	f->look_cost = mono_seconds() - t0;
	f->looks++;
	return 0;
}

/* Time for a claimants look (design note 3)? */
static bool idle_due(const struct follow *f, double now)
{
	return (f->mode == FOLLOW_FRAME || f->mode == FOLLOW_LINES) &&
	       f->looks > 0 && !f->idle_off && now >= f->next_idle;
}

/* --watch into a log: a line when the counts changed (a look is at most
 * every FOLLOW_LINE_S) or a minute passed, and one per job as it
 * finishes. */
static int write_lines(struct follow *f, double now, double *last_line,
		       struct q_counts *last)
{
	struct q_progress_view *v = &f->view;
	char stamp[32], line[Q_LINE_MAX];
	q_cli_local_time((int64_t)time(NULL) * 1000000000, stamp, sizeof(stamp));
	for (size_t i = 0; i < v->n; i++) {
		if (!v->jobs[i].finished || f->told[i])
			continue;
		f->told[i] = true;
		q_progress_log_finished(&v->jobs[i], stamp, line);
		fputs(line, stdout);
	}
	bool changed = memcmp(last, &v->all, sizeof(*last)) != 0;
	if (!q_progress_all_finished(v) &&
	    (changed || now - *last_line >= FOLLOW_QUIET_LINE_S)) {
		q_progress_log_line(v, stamp, line);
		fputs(line, stdout);
		*last_line = now;
		*last = v->all;
	}
	return fflush(stdout) == 0 ? 0 : -errno;
}

static int follow_show(struct follow *f, double now, double *last_line,
		       struct q_counts *last)
{
	struct q_term *t = &f->term;
	char *text = NULL, line[Q_LINE_MAX];
	size_t len = 0;
	int ret = 0;
	switch (f->mode) {
	case FOLLOW_BAR:
		q_progress_summary(&f->view, t->cols, t->color, line);
		return q_term_draw(t, line, strlen(line));
	case FOLLOW_FRAME:
		ret = q_progress_frame(&f->view, t->cols, t->rows, t->color,
				       &text, &len);
		if (ret == 0)
			ret = q_term_draw(t, text, len);
		free(text);
		return ret;
	case FOLLOW_LINES:
		return write_lines(f, now, last_line, last);
	case FOLLOW_QUIET:
		break;
	}
	return 0;
}

/*
 * Follow the jobs until all are finished (0), or for at most `seconds`
 * when that is not negative (1 when the time ran out); -errno with err
 * set. A frame is left on the screen (--watch), a bar erased (--wait).
 */
static int follow_jobs(struct follow *f, double seconds, struct q_error *err)
{
	double start = mono_seconds();
	double next_look = start, last_line = -1e9;
	struct q_counts last = { 0 };
	int delay_ms = 5, ret = 0;
	if (f->mode == FOLLOW_BAR)
		next_look = start + FOLLOW_BAR_DELAY_S;
	for (;;) {
		bool resized = q_term_changed(&f->term);
		bool all = true;
		for (size_t i = 0; i < f->view.n && all; i++) {
			struct q_jobh *h = q_jobcache_get(f->cache,
							  f->view.jobs[i].id,
							  err);
			if (!h) {
				ret = -EIO;
				goto out;
			}
			all = q_jobh_finished(h);
		}
		double now = mono_seconds();
		bool out_of_time = seconds >= 0 && now - start >= seconds;
		/* The last look at the end, unless a --wait bar never
		 * showed (a short wait stays silent). */
		bool last_look = (all || out_of_time) &&
				 (f->mode != FOLLOW_BAR || f->term.shown);
		bool show = resized && f->term.shown, looked = false;
		if (f->mode != FOLLOW_QUIET && (now >= next_look || last_look)) {
			if (look(f, err) < 0) {
				ret = -EIO;
				goto out;
			}
			double every = f->mode == FOLLOW_LINES ? FOLLOW_LINE_S
							       : FOLLOW_MIN_S;
			if (f->looks > 1 && 10 * f->look_cost > every)
				every = 10 * f->look_cost;
			next_look = now + every;
			show = looked = true;
		}
		/* A frame shows before the idle count, which may take a
		 * while; a log line (at the pace of looks) waits for it. */
		if (show && f->mode == FOLLOW_FRAME) {
			ret = follow_show(f, now, &last_line, &last);
			show = false;
		}
		bool final = all || out_of_time;
		if (ret == 0 && (f->mode == FOLLOW_FRAME || looked) &&
		    (idle_due(f, now) || (final && looked && f->looks > 0 &&
					  !f->idle_off))) {
			if (look_workers(f, true, err) < 0) {
				ret = -EIO;
				goto out;
			}
			show = true;
		}
		if (ret == 0 && show)
			ret = follow_show(f, now, &last_line, &last);
		if (ret < 0) {
			q_error_set(err, Q_ERR_SYSTEM, -ret, "cannot write the "
				    "progress");
			goto out;
		}
		if (final) {
			ret = !all;
			goto out;
		}
		if (f->mode == FOLLOW_QUIET) {
			poll(NULL, 0, delay_ms);
			if (delay_ms < 500)
				delay_ms = delay_ms * 3 / 2 + 1;
			continue;
		}
		/* Wake for the end, a resize (the signal cuts poll short),
		 * the next look, or the deadline. */
		double wake = next_look - now;
		if (wake > 0.25)
			wake = 0.25;
		if (seconds >= 0 && start + seconds - now < wake)
			wake = start + seconds - now;
		poll(NULL, 0, wake > 0 ? (int)(wake * 1000) + 1 : 0);
	}
out:;
	int r = q_term_end(&f->term, f->mode == FOLLOW_FRAME);
	if (r < 0 && ret >= 0)
		ret = q_error_set(err, Q_ERR_SYSTEM, -r, "cannot write the "
				  "progress");
	return ret;
}

static int follow_init(struct follow *f, enum follow_mode mode,
		       struct q_spool *sp, struct q_jobcache *cache,
		       const uint64_t *ids, size_t n, struct q_error *err)
{
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->sp = sp;
	f->cache = cache;
	f->view.rate = (struct q_rate)Q_RATE_INIT;
	q_term_init(&f->term, mode == FOLLOW_FRAME ? STDOUT_FILENO
						   : STDERR_FILENO);
	f->view.jobs = calloc(n + 1, sizeof(*f->view.jobs));
	f->told = calloc(n + 1, sizeof(*f->told));
	if (!f->view.jobs || !f->told)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct q_progress_job *j = &f->view.jobs[i];
		struct q_jobh *h = q_jobcache_get(cache, ids[i], err);
		if (!h)
			return -EIO;
		j->id = ids[i];
		j->job = q_jobh_job(h);
		j->groups = calloc(j->job->ngroups + 1, sizeof(*j->groups));
		if (!j->groups)
			abort();
		f->view.n++;
	}
	return 0;
}

static void follow_release(struct follow *f)
{
	for (size_t i = 0; i < f->view.n; i++)
		free(f->view.jobs[i].groups);
	free(f->view.jobs);
	free(f->told);
	free(f->done_ids);
}

/* --wait: until every job in ids is finished, with a bar on stderr when
 * it is a terminal; 0 when all are finished, 1 when the time ran out,
 * or -errno with err set. */
int follow_wait(struct q_spool *sp, struct q_jobcache *cache,
		     const uint64_t *ids, size_t n, double seconds,
		     struct q_error *err)
{
	struct follow f;
	struct q_term probe;
	q_term_init(&probe, STDERR_FILENO);
	int ret = follow_init(&f, probe.live ? FOLLOW_BAR : FOLLOW_QUIET, sp,
			      cache, ids, n, err);
	if (ret == 0)
		ret = follow_jobs(&f, seconds, err);
	follow_release(&f);
	return ret;
}

/* --watch: the jobs given (`given`), else those of ids not finished yet
 * (all when every one is). Returns the exit status (as --wait), or
 * -errno with err set. */
int follow_watch(struct q_spool *sp, struct q_jobcache *cache,
		      const uint64_t *ids, size_t n, bool given,
		      double seconds, struct q_error *err)
{
	uint64_t *open = calloc(n + 1, sizeof(*open));
	size_t nopen = 0;
	if (!open)
		abort();
	for (size_t i = 0; i < n && !given; i++) {
		struct q_jobh *h = q_jobcache_get(cache, ids[i], err);
		if (!h) {
			free(open);
			return -EIO;
		}
		if (!q_jobh_finished(h))
			open[nopen++] = ids[i];
	}
	if (nopen == 0) {
		memcpy(open, ids, n * sizeof(*ids));
		nopen = n;
	}
	struct follow f;
	struct q_term probe;
	q_term_init(&probe, STDOUT_FILENO);
	int ret = follow_init(&f, probe.live ? FOLLOW_FRAME : FOLLOW_LINES,
			      sp, cache, open, nopen, err);
	free(open);
	if (ret == 0 && nopen == 0) {
		printf("no jobs\n");
		if (fflush(stdout) != 0)
			ret = q_error_set(err, Q_ERR_SYSTEM, errno, "cannot "
					  "write to standard output");
	} else if (ret == 0) {
		ret = follow_jobs(&f, seconds, err);
	}
	if (ret >= 0) {
		bool failed = f.view.all.failed + f.view.all.cancelled > 0;
		ret = ret == 1 ? Q_EXIT_NOT_FINISHED
		      : failed ? Q_EXIT_TASKS_FAILED : Q_EXIT_OK;
	}
	follow_release(&f);
	return ret;
}
