/*
 * qrun: run a workflow here and now — submit it to a local spool, start
 * local workers, show progress, wait, print the results.
 *
 * Design notes
 * 1. The same file runs unchanged on a cluster (qsubmit + srun qworker):
 *    qrun only adds the orchestration a laptop needs. It uses the normal
 *    spool, so qstatus and qcollect work on the run afterwards.
 * 2. Workers are child processes running the worker library (no search
 *    for a qworker binary). They are stopped with SIGTERM once the job is
 *    finished, and on Ctrl-C, so they never outlive qrun.
 * 3. Results printed by default are those of the final tasks (the ones
 *    no other task waits for): the answers, not the intermediate data.
 *    --all prints every task's result; --output DIR writes one file per
 *    task.
 * 4. The workers start first and the job is submitted once they are all
 *    registered, so a task that runs once on every worker (each_worker)
 *    meets all of them.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "cli.h"
#include "kernels.h"
#include "worker.h"

static const char usage[] =
	"usage: qrun WORKFLOW.yaml [--workers N] [--spool DIR] [--all]\n"
	"            [--output DIR | --json] [--plugin PATH] [--no-cache]\n"
	"            [--quiet]\n"
	"\n"
	"Run a workflow on this machine: submit it to a local spool, start N\n"
	"workers, show progress, wait, and print the results of its final\n"
	"tasks. Exit status 0 only if every task succeeded.\n"
	"\n"
	"  --workers N    local workers (default: the CPUs this process may use;\n"
	"                 the CPUs are shared out among them)\n"
	"  --spool DIR    the spool (default: $QSPOOL, else ./qspool)\n"
	"  --all          print every task's result, in submission order\n"
	"  --output DIR   write one file per task to DIR instead\n"
	"  --json         one JSON object per task shown, and per task that\n"
	"                 did not succeed\n"
	"                 (spoolq.collect/1, as qcollect --json; docs/json.md)\n"
	"  --plugin PATH  load user kernels (repeatable)\n"
	"  --no-cache     run pure tasks even when results exist\n"
	"  --quiet        no progress line\n"
	"\n"
	"examples:\n"
	"  qrun examples/pi.yaml\n"
	"  qrun sweep.yaml --workers 4 --output results/\n"
	"  qrun sweep.yaml --json | jq -r .result\n";

enum { OPT_WORKERS = 256, OPT_SPOOL, OPT_ALL, OPT_OUTPUT, OPT_PLUGIN,
       OPT_NOCACHE, OPT_QUIET, OPT_JSON };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static unsigned usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static pid_t start_worker(const char *spool_path, unsigned cpus)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	signal(SIGINT, SIG_IGN);   /* qrun forwards a clean SIGTERM */
	signal(SIGTERM, SIG_DFL);
	struct q_spool *sp;
	struct q_error err = Q_ERROR_INIT;
	if (q_spool_open(&sp, spool_path, Q_SPOOL_WRITE, &err) < 0) {
		q_error_print(stderr, "qrun: worker", &err);
		_exit(3);
	}
	struct q_worker_options opt = Q_WORKER_OPTIONS_INIT;
	opt.cpus = cpus;
	opt.prog = "qrun: worker";
	opt.grace_seconds = 2;
	_exit(q_worker_main(sp, &opt));
}

/* Wait (10 s at most) until every started worker is in the registry. */
static int wait_registered(struct q_spool *sp, const pid_t *pids, unsigned n)
{
	int delay = 2;
	for (int64_t waited = 0; waited < 10000; waited += delay) {
		struct q_worker_info *w;
		size_t nw;
		unsigned found = 0;
		struct q_error err = Q_ERROR_INIT;
		if (q_workers_list(sp, &w, &nw, &err) == 0) {
			for (unsigned i = 0; i < n; i++)
				for (size_t k = 0; k < nw; k++)
					if (w[k].pid == (long)pids[i]) {
						found++;
						break;
					}
			free(w);
		}
		if (found == n)
			return 0;
		poll(NULL, 0, delay);
		if (delay < 50)
			delay *= 2;
	}
	return -1;
}

/* One line, redrawn in place: "[#####-----] 12/18 done, 2 running". */
static void draw_progress(const struct q_counts *c, double seconds, bool tty)
{
	if (!tty)
		return;
	uint64_t finished = c->done + c->failed + c->cancelled;
	int width = 30, filled = c->total ? (int)(finished * width / c->total)
					  : width;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '-';
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %llu/%llu done, %llu running", bar,
		(unsigned long long)finished, (unsigned long long)c->total,
		(unsigned long long)c->running);
	if (c->failed + c->cancelled)
		fprintf(stderr, ", %llu failed, %llu cancelled",
			(unsigned long long)c->failed,
			(unsigned long long)c->cancelled);
	fprintf(stderr, "  %.1fs\033[K", seconds);
	fflush(stderr);
}

/* Is any item of group gi waited for by another group of the job? */
static bool is_final(const struct q_job *job, size_t gi)
{
	const struct q_group *g = &job->groups[gi];
	for (size_t k = 0; k < job->ngroups; k++)
		for (size_t a = 0; a < job->groups[k].nafter; a++) {
			const struct q_after *d = &job->groups[k].after[a];
			if (d->job == 0 && d->first < g->first + g->count &&
			    d->first + d->count > g->first)
				return false;
		}
	return true;
}

static int print_results(struct q_jobh *h, bool all, bool json,
			 const char *outdir, struct q_error *err)
{
	const struct q_job *job = q_jobh_job(h);
	for (uint64_t c = 0; c < job->nchunks; c++) {
		struct q_record rec;
		int ret = q_record_read(h, c, &rec, err);
		if (ret < 0)
			return ret;
		if (q_chunk_each_worker(job, c) && !outdir &&
		    rec.items[0].state == Q_STATE_DONE) {
			/* One result per worker. */
			struct q_record *runs;
			size_t n;
			const struct q_group *g = q_job_group_of(job, rec.first);
			bool show = all || is_final(job, (size_t)(g - job->groups));
			ret = q_each_records(h, c, &runs, &n, err);
			for (size_t k = 0; k < n; k++) {
				if (ret == 0 && show && json)
					ret = q_cli_collect_json(h, &runs[k], 0,
								 false, stdout,
								 err);
				else if (ret == 0 && show)
					ret = q_record_output(h, &runs[k], 0,
							      false, stdout,
							      err);
				q_record_release(&runs[k]);
			}
			free(runs);
			q_record_release(&rec);
			if (ret < 0)
				return ret;
			continue;
		}
		for (size_t i = 0; i < rec.count && ret == 0; i++) {
			const struct q_item_record *r = &rec.items[i];
			const struct q_group *g = q_job_group_of(job, r->item);
			char label[Q_NAME_MAX + 32];
			q_job_item_label(job, r->item, label, sizeof(label));
			bool shown = all || is_final(job, (size_t)(g - job->groups));
			/* --json: a failure is a line too, never silent. */
			if (json) {
				if (shown || r->state != Q_STATE_DONE)
					ret = q_cli_collect_json(h, &rec, i,
								 false, stdout,
								 err);
				continue;
			}
			if (r->state != Q_STATE_DONE) {
				fprintf(stderr, "qrun: %s %s%s%s\n", label,
					q_state_name(r->state),
					r->reason ? ": " : "",
					r->reason ? r->reason : "");
				continue;
			}
			if (outdir) {
				ret = q_cli_write_output(h, &rec, i, outdir,
							 err);
				continue;
			}
			if (!shown)
				continue;
			ret = q_record_output(h, &rec, i, false, stdout, err);
		}
		q_record_release(&rec);
		if (ret < 0)
			return ret;
	}
	return fflush(stdout) == 0 ? 0
				   : q_error_set(err, Q_ERR_SYSTEM, errno,
						 "cannot write the results");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "plugin", required_argument, NULL, OPT_PLUGIN },
		{ "no-cache", no_argument, NULL, OPT_NOCACHE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct q_cli cli = Q_CLI_INIT("qrun", usage, options);
	const char *spool_opt = NULL, *outdir = NULL;
	bool all = false, quiet = false, no_cache = false, json = false;
	uint64_t nworkers = 0;
	const char *plugins[64];
	size_t nplugins = 0;
	int c;

	cli.permute = true;
	while ((c = q_cli_next(&cli, argc, argv)) != -1) {
		switch (c) {
		case OPT_WORKERS:
			if (q_cli_u64(&cli, "--workers", optarg, 1, 1024,
				      &nworkers) < 0)
				return Q_EXIT_USAGE;
			break;
		case OPT_SPOOL: spool_opt = optarg; break;
		case OPT_ALL: all = true; break;
		case OPT_OUTPUT: outdir = optarg; break;
		case OPT_PLUGIN:
			if (nplugins == 64)
				return q_cli_usage_error(&cli, "too many "
							 "--plugin options");
			plugins[nplugins++] = optarg;
			break;
		case OPT_NOCACHE: no_cache = true; break;
		case OPT_QUIET: quiet = true; break;
		case OPT_JSON: json = true; break;
		default: return q_cli_default(&cli, c);
		}
	}
	if (optind != argc - 1)
		return q_cli_usage_error(&cli, optind >= argc
						       ? "which workflow? (qrun "
							 "WORKFLOW.yaml)"
						       : "one workflow at a time");
	if (json && outdir)
		return q_cli_usage_error(&cli, "--json writes the results to "
					 "stdout; --output DIR to files: "
					 "choose one");
	const char *file = argv[optind];
	const char *path = q_spool_default_path(spool_opt);
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = NULL;
	struct q_job *job = NULL;
	struct q_jobcache *cache = NULL;
	pid_t *pids = NULL;
	unsigned started = 0;
	int status = 0;

	q_builtin_kernels_register();
	for (size_t i = 0; i < nplugins; i++)
		if (q_plugin_load(plugins[i], &err) < 0)
			goto fail;
	/* Everything is checked before the spool is created. */
	if (q_workflow_load(file, NULL, &job, NULL, &err) < 0)
		goto fail;
	for (size_t i = 0; i < nplugins; i++) {
		char *real = realpath(plugins[i], NULL);
		q_job_add_plugin(job, real ? real : plugins[i]);
		free(real);
	}
	job->no_cache = no_cache;
	if (outdir && mkdir(outdir, 0777) != 0 && errno != EEXIST) {
		q_error_set(&err, Q_ERR_INPUT, errno,
			    "cannot create output directory '%s'", outdir);
		goto fail;
	}
	if (q_spool_open(&sp, path, Q_SPOOL_CREATE | Q_SPOOL_WRITE, &err) < 0)
		goto fail;
	uint64_t id = 0;
	unsigned cpus = usable_cpus();
	if (!nworkers)
		nworkers = cpus;
	unsigned per = cpus / nworkers ? cpus / (unsigned)nworkers : 1;
	bool tty = !quiet && isatty(2);

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pids = calloc(nworkers, sizeof(*pids));
	for (; started < nworkers; started++) {
		pids[started] = start_worker(path, per);
		if (pids[started] < 0) {
			q_error_set(&err, Q_ERR_SYSTEM, errno,
				    "cannot start a worker");
			goto stop;
		}
	}

	/* Submit once the workers are registered: a task for every worker
	 * (each_worker) then runs on all of them, not on the first one
	 * alone (design note 4). */
	if (wait_registered(sp, pids, started) < 0)
		fprintf(stderr, "qrun: warning: not every worker registered "
			"within 10 s\n");
	if (q_submit(sp, job, &err) < 0)
		goto stop;
	id = job->id;
	if (!quiet)
		fprintf(stderr, "qrun: job %llu (%s): %llu tasks, %llu "
			"worker%s in spool '%s'\n", (unsigned long long)id,
			job->name, (unsigned long long)job->nitems,
			(unsigned long long)nworkers, nworkers == 1 ? "" : "s",
			path);
	cache = q_jobcache_new(sp);
	struct q_jobh *h = q_jobcache_get(cache, id, &err);
	if (!h)
		goto stop;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int delay = 10;
	for (;;) {
		bool finished = q_jobh_finished(h);
		if (tty || finished) {
			struct q_counts counts;
			if (q_job_counts(h, &counts, &err) < 0)
				goto stop;
			clock_gettime(CLOCK_MONOTONIC, &now);
			draw_progress(&counts, (double)(now.tv_sec - t0.tv_sec) +
					       (double)(now.tv_nsec - t0.tv_nsec) /
						       1e9, tty);
			if (finished) {
				if (tty)
					fputc('\n', stderr);
				if (counts.failed + counts.cancelled)
					status = Q_EXIT_TASKS_FAILED;
				if (!quiet)
					fprintf(stderr, "qrun: job %llu: %llu "
						"done, %llu failed, %llu "
						"cancelled in %.2f s\n",
						(unsigned long long)id,
						(unsigned long long)counts.done,
						(unsigned long long)counts.failed,
						(unsigned long long)counts.cancelled,
						(double)(now.tv_sec - t0.tv_sec) +
							(double)(now.tv_nsec -
								 t0.tv_nsec) / 1e9);
				break;
			}
		}
		if (interrupted) {
			if (tty)
				fputc('\n', stderr);
			fprintf(stderr, "qrun: interrupted; stopping the "
				"workers (the job stays in the spool: qstatus "
				"%llu)\n", (unsigned long long)id);
			status = 130;
			goto stop;
		}
		/* Workers that all died leave nothing to wait for. */
		bool any = false;
		for (unsigned i = 0; i < started; i++)
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == 0)
				any = true;
			else
				pids[i] = -1;
		if (!any) {
			q_error_set(&err, Q_ERR_SYSTEM, 0,
				    "every worker exited before job %llu "
				    "finished", (unsigned long long)id);
			goto stop;
		}
		poll(NULL, 0, delay);
		if (delay < 100)
			delay = delay * 3 / 2 + 1;
	}
	if (print_results(h, all, json, outdir, &err) < 0)
		goto stop;
stop:
	for (unsigned i = 0; i < started; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (unsigned i = 0; i < started; i++)
		if (pids[i] > 0)
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
	if (q_error_is_set(&err))
		goto fail;
	goto out;
fail:
	q_error_print(stderr, "qrun", &err);
	status = q_error_exit_status(&err);
out:
	free(pids);
	q_jobcache_release(cache);
	q_job_release(job);
	q_spool_close(sp);
	return status;
}
