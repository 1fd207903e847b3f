/*
 * qcollect: write a job's results, in submission order (like gather) or
 * as they complete (--follow, like as_completed).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "cli.h"
#include "json.h"
#include "progress.h"

static const char usage[] =
	"usage: qcollect [--spool DIR] JOB [--follow] [--json] [--output DIR]\n"
	"                [--no-wait] [--stderr]\n"
	"\n"
	"Write the results (stdout of commands, results of kernels) of a job's\n"
	"tasks to stdout, in submission order (array index order), waiting\n"
	"for tasks that have not finished yet.\n"
	"\n"
	"  --spool DIR   the spool (default: $QSPOOL, else ./qspool)\n"
	"  --follow      write each result as soon as its task finishes; on a\n"
	"                terminal, a progress bar on stderr meanwhile (tasks\n"
	"                finished, tasks/s, time left; NO_COLOR: no colour)\n"
	"  --json        one JSON object per task per line (docs/json.md)\n"
	"  --output DIR  one file per task: DIR/NAME.out or DIR/NAME.INDEX.out\n"
	"                (and .err when the task wrote to stderr)\n"
	"  --no-wait     only what has finished now; do not wait\n"
	"  --stderr      write the tasks' stderr instead of their results\n"
	"\n"
	"Exit status: 0 when every task succeeded, 1 when some failed or were\n"
	"cancelled (their results are skipped, a line on stderr says why).\n"
	"\n"
	"JOB is a job id, a job name (its latest job), or the start of\n"
	"exactly one job name.\n"
	"\n"
	"examples:\n"
	"  qcollect 12 > results.txt\n"
	"  qcollect sweep --follow --json | jq .result\n";

enum { OPT_SPOOL = 256, OPT_FOLLOW, OPT_JSON, OPT_OUTPUT, OPT_NOWAIT,
       OPT_STDERR };

struct collect {
	struct q_jobh *h;
	bool follow, json, nowait, want_err;
	const char *outdir;
	int status;
	struct q_error err;
	/* --follow on a terminal: a bar on stderr (progress.c) of the
	 * tasks whose records were read. */
	struct q_term term;
	struct q_progress_job bar_job;
	struct q_progress_view bar;
	bool out_tty;          /* stdout is a terminal too */
	bool bar_erased;       /* for output: to be drawn again at once */
	double bar_next;       /* when to redraw */
};

#define BAR_EVERY_S 0.5   /* also the delay before the first bar */

static double mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Count a chunk's tasks for the bar; erase the bar first if what
 * follows goes to the terminal (results on a terminal, the line on
 * stderr about a task that failed), so it is not written over. */
static int bar_before(struct collect *c, const struct q_record *rec)
{
	bool to_terminal = c->out_tty;
	struct q_counts *k = &c->bar_job.sum;
	for (size_t i = 0; i < rec->count; i++) {
		switch (rec->items[i].state) {
		case Q_STATE_DONE: k->done++; break;
		case Q_STATE_CANCELLED: k->cancelled++; break;
		default: k->failed++; break;
		}
		to_terminal = to_terminal ||
			      (!c->json && rec->items[i].state != Q_STATE_DONE);
	}
	if (!c->term.shown || !to_terminal)
		return 0;
	int ret = q_term_erase(&c->term);
	c->bar_erased = true;
	return ret < 0 ? q_error_set(&c->err, Q_ERR_SYSTEM, -ret, "cannot "
				     "write the progress") : 0;
}

/* Redraw the bar, at most every BAR_EVERY_S, but at once where it was
 * erased for output. */
static int bar_draw(struct collect *c)
{
	double now = mono_seconds();
	if (!c->term.live || (!c->bar_erased && now < c->bar_next))
		return 0;
	if (fflush(stdout) != 0)
		return q_error_set(&c->err, Q_ERR_SYSTEM, errno, "cannot "
				   "write to standard output");
	c->bar_next = now + BAR_EVERY_S;
	c->bar_erased = false;
	c->bar.all = c->bar_job.sum;
	q_rate_add(&c->bar.rate, now, q_progress_finished(&c->bar.all));
	char line[Q_LINE_MAX];
	q_progress_summary(&c->bar, c->term.cols, c->term.color, line);
	q_term_changed(&c->term);
	int ret = q_term_draw(&c->term, line, strlen(line));
	return ret < 0 ? q_error_set(&c->err, Q_ERR_SYSTEM, -ret, "cannot "
				     "write the progress") : 0;
}

static int emit_item(struct collect *c, const struct q_record *rec, size_t i)
{
	const struct q_job *job = q_jobh_job(c->h);
	const struct q_item_record *r = &rec->items[i];
	char label[Q_NAME_MAX + 32];
	q_job_item_label(job, r->item, label, sizeof(label));

	if (r->state != Q_STATE_DONE) {
		c->status = Q_EXIT_TASKS_FAILED;
		if (!c->json)
			fprintf(stderr, "qcollect: job %llu task %s %s%s%s\n",
				(unsigned long long)job->id, label,
				q_state_name(r->state), r->reason ? ": " : "",
				r->reason ? r->reason : "");
	}
	if (c->json)
		return q_cli_collect_json(c->h, rec, i, c->want_err, stdout,
					  &c->err);
	if (c->outdir)
		return q_cli_write_output(c->h, rec, i, c->outdir, &c->err);
	if (r->state != Q_STATE_DONE && !c->want_err)
		return 0;
	return q_record_output(c->h, rec, i, c->want_err, stdout, &c->err);
}

static int emit_chunk(struct collect *c, uint64_t chunk)
{
	struct q_record rec;
	int ret = q_record_read(c->h, chunk, &rec, &c->err);
	if (ret < 0)
		return ret;
	if (c->follow && (ret = bar_before(c, &rec)) < 0) {
		q_record_release(&rec);
		return ret;
	}
	if (q_chunk_each_worker(q_jobh_job(c->h), chunk) &&
	    rec.items[0].state != Q_STATE_CANCELLED) {
		/* One result per worker that ran it, by worker id. */
		struct q_record *runs;
		size_t n;
		ret = q_each_records(c->h, chunk, &runs, &n, &c->err);
		for (size_t k = 0; k < n; k++) {
			if (ret == 0)
				ret = emit_item(c, &runs[k], 0);
			q_record_release(&runs[k]);
		}
		free(runs);
		q_record_release(&rec);
		return ret;
	}
	for (size_t i = 0; i < rec.count && ret == 0; i++)
		ret = emit_item(c, &rec, i);
	q_record_release(&rec);
	if (ret == 0 && ferror(stdout))
		ret = q_error_set(&c->err, Q_ERR_SYSTEM, errno,
				  "cannot write to standard output");
	return ret;
}

static void backoff(int *delay_ms)
{
	fflush(stdout);
	poll(NULL, 0, *delay_ms);
	if (*delay_ms < 250)
		*delay_ms = *delay_ms * 3 / 2 + 1;
}

/* In submission order; wait for each chunk's record unless --no-wait. */
static int collect_in_order(struct collect *c)
{
	const struct q_job *job = q_jobh_job(c->h);
	for (uint64_t chunk = 0; chunk < job->nchunks; chunk++) {
		int delay = 2;
		for (;;) {
			int ret = emit_chunk(c, chunk);
			if (ret == 0)
				break;
			if (ret != -ENOENT)
				return ret;
			if (c->nowait) {
				c->status = Q_EXIT_TASKS_FAILED;
				break;
			}
			backoff(&delay);
		}
	}
	return 0;
}

/* As they complete: emit each record the first time we see it. */
static int collect_follow(struct collect *c)
{
	const struct q_job *job = q_jobh_job(c->h);
	unsigned char *seen = calloc(job->nchunks, 1);
	uint64_t left = job->nchunks;
	int delay = 2, ret = 0;
	if (!seen)
		abort();
	q_term_init(&c->term, STDERR_FILENO);
	c->out_tty = isatty(STDOUT_FILENO);
	c->bar_job = (struct q_progress_job){ .id = job->id, .job = job };
	c->bar_job.sum.total = job->nitems;
	c->bar = (struct q_progress_view){ .jobs = &c->bar_job, .n = 1 };
	c->bar_next = mono_seconds() + BAR_EVERY_S;   /* none if quick */
	while (left > 0) {
		bool finished = q_jobh_finished(c->h);
		bool progress = false;
		for (uint64_t chunk = 0; chunk < job->nchunks && ret == 0;
		     chunk++) {
			if (seen[chunk])
				continue;
			ret = emit_chunk(c, chunk);
			if (ret == -ENOENT) {
				ret = 0;
				continue;
			}
			if (ret == 0) {
				seen[chunk] = 1;
				left--;
				progress = true;
			}
		}
		if (ret < 0 || left == 0)
			break;
		if (finished || c->nowait) {
			/* Finished but something is missing: cancelled
			 * before it had a record cannot happen; damaged
			 * records can. */
			c->status = Q_EXIT_TASKS_FAILED;
			break;
		}
		fflush(stdout);
		if ((ret = bar_draw(c)) < 0)
			break;
		if (progress)
			delay = 2;
		else
			backoff(&delay);
	}
	free(seen);
	int r = q_term_end(&c->term, false);
	if (r < 0 && ret == 0)
		ret = q_error_set(&c->err, Q_ERR_SYSTEM, -r, "cannot write the "
				  "progress");
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "no-wait", no_argument, NULL, OPT_NOWAIT },
		{ "stderr", no_argument, NULL, OPT_STDERR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct q_cli cli = Q_CLI_INIT("qcollect", usage, options);
	struct collect c = { .err = Q_ERROR_INIT };
	const char *spool_opt = NULL;
	int opt;

	cli.permute = true;
	while ((opt = q_cli_next(&cli, argc, argv)) != -1) {
		switch (opt) {
		case OPT_SPOOL: spool_opt = optarg; break;
		case OPT_FOLLOW: c.follow = true; break;
		case OPT_JSON: c.json = true; break;
		case OPT_OUTPUT: c.outdir = optarg; break;
		case OPT_NOWAIT: c.nowait = true; break;
		case OPT_STDERR: c.want_err = true; break;
		default: return q_cli_default(&cli, opt);
		}
	}
	if (optind >= argc)
		return q_cli_usage_error(&cli, "which job? (qcollect JOB)");
	if (optind + 1 < argc)
		return q_cli_usage_error(&cli, "one job at a time, got '%s' "
					 "and '%s'", argv[optind],
					 argv[optind + 1]);
	if (c.outdir && c.json)
		return q_cli_usage_error(&cli, "--output and --json do not go "
					 "together");
	struct q_spool *sp = NULL;
	uint64_t id;
	int ret;
	if (q_spool_open(&sp, q_spool_default_path(spool_opt), 0, &c.err) < 0 ||
	    q_job_resolve(sp, argv[optind], &id, &c.err) < 0 ||
	    q_jobh_open(sp, id, &c.h, &c.err) < 0)
		goto fail;
	if (c.outdir && mkdir(c.outdir, 0777) != 0 && errno != EEXIST) {
		q_error_set(&c.err, Q_ERR_INPUT, errno,
			    "cannot create output directory '%s'", c.outdir);
		goto fail;
	}
	/* A kernel's inputs and a follower's reads go through one cache. */
	ret = c.follow ? collect_follow(&c) : collect_in_order(&c);
	if (ret < 0)
		goto fail;
	if (fflush(stdout) != 0) {
		q_error_set(&c.err, Q_ERR_SYSTEM, errno,
			    "cannot write to standard output");
		goto fail;
	}
	q_jobh_close(c.h);
	q_spool_close(sp);
	return c.status;
fail:
	fflush(stdout);
	q_error_print(stderr, "qcollect", &c.err);
	q_jobh_close(c.h);
	q_spool_close(sp);
	return q_error_exit_status(&c.err);
}
