/*
 * qstatus: show jobs, tasks and workers; or wait for jobs to finish, or
 * watch them (follow.c, with live progress drawn by progress.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spoolq/spoolq.h>

#include "cli.h"
#include "follow.h"
#include "json.h"
#include "report.h"
#include "status_events.h"

static const char usage[] =
	"usage: qstatus [--spool DIR] [JOB...] [--tasks] [--json]\n"
	"               [--wait[=SECONDS]]\n"
	"       qstatus [--spool DIR] [JOB...] --watch\n"
	"       qstatus [--spool DIR] JOB --dot | --events | --report FILE.html\n"
	"\n"
	"Show the tasks of each job by state, and the workers.\n"
	"\n"
	"examples:\n"
	"  qstatus                           # every job and worker\n"
	"  qstatus --watch sweep             # live progress until sweep ends\n"
	"  qstatus 12 --tasks                # every task of job 12\n"
	"  qstatus --wait $job && echo ok    # wait; 0 when all succeeded\n"
	"  qstatus 12 --report job12.html    # a picture of what ran where\n"
	"  qstatus 12 --events | jq -r '[.host, .start, .end] | @tsv'\n"
	"  qstatus 12 --dot | dot -Tsvg > job12.svg\n"
	"\n"
	"  --spool DIR         the spool (default: $QSPOOL, else ./qspool)\n"
	"  --tasks             every task: state, attempts, host, exit, times\n"
	"  --json              one JSON document (docs/json.md)\n"
	"  --wait[=SECONDS]    until the jobs finish (exit 0 all succeeded, 1\n"
	"                      not, 4 out of time); a bar on a terminal\n"
	"  --watch             follow the jobs live, redrawn in place (a line\n"
	"                      every 10 s when not a terminal) until they end\n"
	"  --dot               the task graph of JOB as Graphviz DOT\n"
	"  --events            every attempt of JOB's tasks as JSON lines\n"
	"  --report FILE.html  one self-contained HTML page on JOB\n"
	"  --repair            finish what crashed processes left half-done\n"
	"\n"
	"JOB: a job id, a job name, or the start of exactly one job name.\n"
	"NO_COLOR turns colour off. More: man qstatus.\n";

enum { OPT_SPOOL = 256, OPT_TASKS, OPT_JSON, OPT_WAIT, OPT_REPAIR, OPT_DOT,
       OPT_EVENTS, OPT_REPORT, OPT_WATCH };

struct status_opts {
	bool tasks, json, wait, repair, dot, events, watch;
	const char *report;    /* --report FILE */
	double wait_seconds;   /* --wait=SECONDS; < 0: no limit */
};

static const char *job_state(const struct q_counts *c)
{
	if (c->waiting + c->ready + c->running == 0)
		return c->failed + c->cancelled ? "finished-with-failures"
						 : "finished";
	if (c->running)
		return "running";
	if (c->ready)
		return "ready";
	return "waiting";
}

struct task_print {
	FILE *out;
	bool json;
	bool first;
	uint64_t job;
};

static int print_task(void *ctx, const struct q_task_info *t)
{
	struct task_print *tp = ctx;
	FILE *out = tp->out;
	if (tp->json) {
		fputs(tp->first ? "\n" : ",\n", out);
		tp->first = false;
		fprintf(out, "      {\"task\": ");
		q_json_cstr(out, t->label);
		fprintf(out, ", \"item\": %llu, \"index\": %lld, \"state\": ",
			(unsigned long long)t->item, (long long)t->index);
		q_json_cstr(out, q_state_name(t->state));
		fprintf(out, ", \"attempts\": %u, \"host\": ", t->attempt);
		q_json_cstr(out, t->host[0] ? t->host : NULL);
		fprintf(out, ", \"worker\": ");
		q_json_cstr(out, t->worker[0] ? t->worker : NULL);
		fprintf(out, ", \"exit\": ");
		q_json_exit(out, t->exit_code);
		fprintf(out, ", \"claimed\": ");
		q_json_time(out, t->claimed_ns);
		fprintf(out, ", \"start\": ");
		q_json_time(out, t->start_ns);
		fprintf(out, ", \"end\": ");
		q_json_time(out, t->end_ns);
		fprintf(out, ", \"reason\": ");
		q_json_cstr(out, t->reason[0] ? t->reason : NULL);
		if (q_state_final(t->state) && t->worker[0])
			fprintf(out, ", \"slot\": %u", t->slot);
		else
			fprintf(out, ", \"slot\": null");
		fprintf(out, ", \"reused\": %s}", t->reused ? "true" : "false");
		return 0;
	}
	char start[32], exitbuf[16], elapsed[32];
	q_cli_local_time(t->start_ns, start, sizeof(start));
	if (t->exit_code == Q_EXIT_NONE)
		snprintf(exitbuf, sizeof(exitbuf), "-");
	else
		snprintf(exitbuf, sizeof(exitbuf), "%d", t->exit_code);
	if (t->start_ns && t->end_ns)
		snprintf(elapsed, sizeof(elapsed), "%.3fs",
			 (double)(t->end_ns - t->start_ns) / 1e9);
	else
		snprintf(elapsed, sizeof(elapsed), "-");
	fprintf(out, "%-24s %-9s %8u  %-12s %4s  %-19s %9s  %s\n", t->label,
		q_state_name(t->state), t->attempt, t->host[0] ? t->host : "-",
		exitbuf, start, elapsed, t->reason);
	return 0;
}

/* "  slurm job 42.0 task 3 on n1": where a worker runs under Slurm (job
 * and step, task, node), or "" outside Slurm. */
static void describe_slurm(const struct q_worker_info *w, char *out,
			   size_t size)
{
	out[0] = '\0';
	if (!w->slurm_job[0])
		return;
	snprintf(out, size, "  slurm job %s%s%s task %s%s%s", w->slurm_job,
		 w->slurm_step[0] ? "." : "", w->slurm_step,
		 w->slurm_procid[0] ? w->slurm_procid : "0",
		 w->slurm_node[0] ? " on " : "", w->slurm_node);
}

/* {"job": "42", "step": "0", "task": "3", "node": "n1"} (strings, as
 * Slurm gives them; an unknown step or node is null), or null outside
 * Slurm. */
static void json_slurm(const struct q_worker_info *w)
{
	if (!w->slurm_job[0]) {
		fputs("null", stdout);
		return;
	}
	fputs("{\"job\": ", stdout);
	q_json_cstr(stdout, w->slurm_job);
	fputs(", \"step\": ", stdout);
	q_json_cstr(stdout, w->slurm_step[0] ? w->slurm_step : NULL);
	fputs(", \"task\": ", stdout);
	q_json_cstr(stdout, w->slurm_procid[0] ? w->slurm_procid : "0");
	fputs(", \"node\": ", stdout);
	q_json_cstr(stdout, w->slurm_node[0] ? w->slurm_node : NULL);
	fputc('}', stdout);
}

static int show_workers(struct q_spool *sp, const struct status_opts *o,
			struct q_error *err)
{
	struct q_worker_info *w;
	size_t n;
	int ret = q_workers_list(sp, &w, &n, err);
	if (ret < 0)
		return ret;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (o->json) {
		fputs("  \"workers\": [", stdout);
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ",\n    " : "\n    ", stdout);
			fputs("{\"id\": ", stdout);
			q_json_cstr(stdout, w[i].id);
			fputs(", \"host\": ", stdout);
			q_json_cstr(stdout, w[i].host);
			printf(", \"pid\": %ld, \"cpus\": %u, \"lease\": %u, "
			       "\"started\": ", w[i].pid, w[i].cpus,
			       w[i].lease_s);
			q_json_time(stdout, w[i].started_ns);
			fputs(", \"heartbeat\": ", stdout);
			q_json_time(stdout, w[i].heartbeat_ns);
			fputs(", \"slurm_job\": ", stdout);
			q_json_cstr(stdout, w[i].slurm_job[0] ? w[i].slurm_job
							      : NULL);
			fputs(", \"slurm\": ", stdout);
			json_slurm(&w[i]);
			printf(", \"alive\": %s}", w[i].alive ? "true"
							      : "false");
		}
		fputs(n ? "\n  ]\n" : "]\n", stdout);
	} else if (n == 0) {
		printf("no workers\n");
	} else {
		printf("%-32s %-12s %8s %5s %10s  %s\n", "WORKER", "HOST", "PID",
		       "CPUS", "HEARTBEAT", "STATE");
		for (size_t i = 0; i < n; i++) {
			char hb[32];
			snprintf(hb, sizeof(hb), "%.0fs ago",
				 (double)(now - w[i].heartbeat_ns) / 1e9 < 0
					 ? 0.0
					 : (double)(now - w[i].heartbeat_ns) /
						   1e9);
			char slurm[160];
			describe_slurm(&w[i], slurm, sizeof(slurm));
			printf("%-32s %-12s %8ld %5u %10s  %s%s\n", w[i].id,
			       w[i].host, w[i].pid, w[i].cpus, hb,
			       w[i].alive ? "alive" : "lost", slurm);
		}
	}
	free(w);
	return 0;
}

/* One "N what" part of the repair report, when N is not zero. */
/* "1.5 GiB": a size for people. */
static void fmt_bytes(uint64_t b, char *out, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* The MPI fast path's counters, for the jobs that have any. */
static void print_moved(const uint64_t *ids, const struct q_moved *moved,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char mpi[32], file[32];
		if (!moved[i].workers)
			continue;
		fmt_bytes(moved[i].mpi_bytes, mpi, sizeof(mpi));
		fmt_bytes(moved[i].file_bytes, file, sizeof(file));
		printf("job %llu: big results moved %s over MPI, %s through "
		       "files\n", (unsigned long long)ids[i], mpi, file);
	}
}

static void report_part(const char **sep, uint64_t n, const char *what)
{
	if (!n)
		return;
	fprintf(stderr, "%s%llu %s", *sep, (unsigned long long)n, what);
	*sep = ", ";
}

/* Run the repair sweep on each job, then on the spool's tmp/; report on
 * stderr what it did (nothing when there was nothing to do). */
static int repair_jobs(struct q_spool *sp, struct q_jobcache *cache,
		       const uint64_t *ids, size_t n, struct q_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct q_jobh *h = q_jobcache_get(cache, ids[i], err);
		struct q_repair_report r = { 0 };
		if (!h || q_repair(h, cache, &r, err) < 0)
			return -EIO;
		if (!(r.released + r.promoted + r.claims_removed +
		      r.counted_off + r.todo_closed + r.reclaimed))
			continue;
		const char *sep = "";
		fprintf(stderr, "qstatus: repaired job %llu: ",
			(unsigned long long)ids[i]);
		report_part(&sep, r.reclaimed, "claims of dead workers "
			    "requeued or failed");
		report_part(&sep, r.released, "wait entries released");
		report_part(&sep, r.promoted, "waiting chunks promoted");
		report_part(&sep, r.claims_removed, "finished claims removed");
		report_part(&sep, r.counted_off, "finished chunks counted off");
		report_part(&sep, r.todo_closed, "emptied todo directories "
			    "removed");
		fputc('\n', stderr);
	}
	struct q_repair_report r = { 0 };
	if (q_repair_spool(sp, &r, err) < 0)
		return -EIO;
	if (r.stages_removed + r.tmp_removed) {
		const char *sep = "";
		fprintf(stderr, "qstatus: repaired the spool's tmp/: ");
		report_part(&sep, r.stages_removed, "unpublished submissions "
			    "removed");
		report_part(&sep, r.tmp_removed, "stale temporary files "
			    "removed");
		fputc('\n', stderr);
	}
	if (r.workers_forgotten)
		fprintf(stderr, "qstatus: forgot %llu worker%s dead for over "
			"an hour\n", (unsigned long long)r.workers_forgotten,
			r.workers_forgotten == 1 ? "" : "s");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "tasks", no_argument, NULL, OPT_TASKS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "wait", optional_argument, NULL, OPT_WAIT },
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "dot", no_argument, NULL, OPT_DOT },
		{ "events", no_argument, NULL, OPT_EVENTS },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "watch", no_argument, NULL, OPT_WATCH },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct q_cli cli = Q_CLI_INIT("qstatus", usage, options);
	cli.permute = true;
	struct status_opts o = { .wait_seconds = -1 };
	const char *spool_opt = NULL;
	int c;

	while ((c = q_cli_next(&cli, argc, argv)) != -1) {
		switch (c) {
		case OPT_SPOOL: spool_opt = optarg; break;
		case OPT_TASKS: o.tasks = true; break;
		case OPT_JSON: o.json = true; break;
		case OPT_WAIT:
			o.wait = true;
			if (optarg && q_cli_seconds(&cli, "--wait", optarg,
						    &o.wait_seconds) < 0)
				return Q_EXIT_USAGE;
			break;
		case OPT_REPAIR: o.repair = true; break;
		case OPT_DOT: o.dot = true; break;
		case OPT_EVENTS: o.events = true; break;
		case OPT_REPORT: o.report = optarg; break;
		case OPT_WATCH: o.watch = true; break;
		default: return q_cli_default(&cli, c);
		}
	}
	/* --dot, --events and --report each show one job, alone. */
	const char *single = o.dot ? "--dot" : o.events ? "--events"
				   : o.report ? "--report" : NULL;
	if (single && (o.dot + o.events + !!o.report) > 1)
		return q_cli_usage_error(&cli, "--dot, --events and --report "
					 "go one at a time");
	if (single && argc - optind != 1)
		return q_cli_usage_error(&cli, "%s shows one job: give exactly "
					 "one JOB (qstatus JOB %s)", single,
					 single);
	/* --events is JSON already: --json may say so. */
	if (single && (o.tasks || (o.json && !o.events)))
		return q_cli_usage_error(&cli, "%s does not go with %s", single,
					 o.tasks ? "--tasks" : "--json");
	/* --watch draws; it does not go with another output. */
	if (o.watch && (single || o.json || o.tasks))
		return q_cli_usage_error(&cli, "--watch draws progress; it does "
					 "not go with %s", single ? single
					 : o.json ? "--json" : "--tasks");
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = NULL;
	struct q_jobcache *cache = NULL;
	uint64_t *ids = NULL;
	struct q_moved *moved = NULL;   /* per job: the MPI fast path's counters */
	size_t n = 0;
	int status = 0;
	int timed_out = 0;

	if (q_spool_open(&sp, q_spool_default_path(spool_opt),
			 o.repair ? Q_SPOOL_WRITE : 0, &err) < 0)
		goto fail;
	cache = q_jobcache_new(sp);
	if (optind < argc) {
		ids = calloc((size_t)(argc - optind), sizeof(*ids));
		for (int i = optind; i < argc; i++) {
			if (q_job_resolve(sp, argv[i], &ids[n], &err) < 0)
				goto fail;
			n++;
		}
	} else if (q_job_list(sp, &ids, &n, &err) < 0) {
		goto fail;
	}
	if (o.repair && repair_jobs(sp, cache, ids, n, &err) < 0)
		goto fail;
	if (o.watch) {
		status = follow_watch(sp, cache, ids, n, optind < argc,
				    o.wait_seconds, &err);
		if (status < 0)
			goto fail;
		goto out;
	}
	if (o.wait) {
		timed_out = follow_wait(sp, cache, ids, n, o.wait_seconds, &err);
		if (timed_out < 0)
			goto fail;
	}
	if (o.dot) {
		struct q_jobh *h = q_jobcache_get(cache, ids[0], &err);
		if (!h || q_job_write_dot(h, cache, stdout, &err) < 0)
			goto fail;
		goto out;
	}
	if (o.events) {
		struct q_jobh *h = q_jobcache_get(cache, ids[0], &err);
		if (!h || status_print_events(h, stdout, &err) < 0)
			goto fail;
		if (fflush(stdout) != 0)
			status = Q_EXIT_SYSTEM;
		goto out;
	}
	if (o.report) {
		struct q_jobh *h = q_jobcache_get(cache, ids[0], &err);
		if (!h || report_write(cache, h, o.report, &err) < 0)
			goto fail;
		goto out;
	}

	if (o.json)
		printf("{\n  \"schema\": \"spoolq.status/1\",\n  \"spool\": "),
			q_json_cstr(stdout, q_spool_path(sp)),
			printf(",\n  \"jobs\": [");
	else if (!o.tasks)
		printf("%-6s %-16s %8s %8s %8s %8s %8s %8s %8s  %s\n", "JOB",
		       "NAME", "TASKS", "WAITING", "READY", "RUNNING", "DONE",
		       "FAILED", "CANCEL", "STATE");
	moved = calloc(n + 1, sizeof(*moved));
	if (!moved)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct q_jobh *h = q_jobcache_get(cache, ids[i], &err);
		struct q_counts k;
		if (!h || q_job_counts(h, &k, &err) < 0 ||
		    q_moved_read(h, &moved[i], &err) < 0)
			goto fail;
		const struct q_job *job = q_jobh_job(h);
		if (k.failed + k.cancelled)
			status = o.wait ? 1 : 0;
		if (o.json) {
			printf("%s\n    {\"id\": %llu, \"name\": ", i ? "," : "",
			       (unsigned long long)job->id);
			q_json_cstr(stdout, job->name);
			printf(", \"submitted\": ");
			q_json_time(stdout, job->submitted_ns);
			printf(", \"tasks\": %llu, \"counts\": {\"waiting\": "
			       "%llu, \"ready\": %llu, \"running\": %llu, "
			       "\"done\": %llu, \"failed\": %llu, "
			       "\"cancelled\": %llu, \"cached\": %llu}, "
			       "\"state\": \"%s\"",
			       (unsigned long long)k.total,
			       (unsigned long long)k.waiting,
			       (unsigned long long)k.ready,
			       (unsigned long long)k.running,
			       (unsigned long long)k.done,
			       (unsigned long long)k.failed,
			       (unsigned long long)k.cancelled,
			       (unsigned long long)k.cached, job_state(&k));
			printf(", \"moved\": {\"mpi_bytes\": %llu, "
			       "\"file_bytes\": %llu}",
			       (unsigned long long)moved[i].mpi_bytes,
			       (unsigned long long)moved[i].file_bytes);
			if (o.tasks) {
				struct task_print tp = { stdout, true, true,
							 job->id };
				printf(", \"task_list\": [");
				if (q_job_for_each_task(h, print_task, &tp,
							&err) < 0)
					goto fail;
				printf("\n    ]");
			}
			printf("}");
		} else if (o.tasks) {
			printf("job %llu (%s): %llu tasks\n",
			       (unsigned long long)job->id, job->name,
			       (unsigned long long)k.total);
			printf("%-24s %-9s %8s  %-12s %4s  %-19s %9s  %s\n",
			       "TASK", "STATE", "ATTEMPTS", "HOST", "EXIT",
			       "START", "ELAPSED", "REASON");
			struct task_print tp = { stdout, false, true, job->id };
			if (q_job_for_each_task(h, print_task, &tp, &err) < 0)
				goto fail;
		} else {
			char state[64];
			if (k.cached)
				snprintf(state, sizeof(state), "%s (%llu cached)",
					 job_state(&k),
					 (unsigned long long)k.cached);
			else
				snprintf(state, sizeof(state), "%s",
					 job_state(&k));
			printf("%-6llu %-16s %8llu %8llu %8llu %8llu %8llu "
			       "%8llu %8llu  %s\n",
			       (unsigned long long)job->id, job->name,
			       (unsigned long long)k.total,
			       (unsigned long long)k.waiting,
			       (unsigned long long)k.ready,
			       (unsigned long long)k.running,
			       (unsigned long long)k.done,
			       (unsigned long long)k.failed,
			       (unsigned long long)k.cancelled, state);
		}
	}
	if (o.json) {
		printf(n ? "\n  ],\n" : "],\n");
		if (show_workers(sp, &o, &err) < 0)
			goto fail;
		printf("}\n");
	} else if (!o.tasks) {
		if (n == 0)
			printf("no jobs\n");
		print_moved(ids, moved, n);
		printf("\n");
		if (show_workers(sp, &o, &err) < 0)
			goto fail;
	}
	if (timed_out)
		status = Q_EXIT_NOT_FINISHED;
	if (fflush(stdout) != 0)
		status = Q_EXIT_SYSTEM;
	goto out;
fail:
	fflush(stdout);
	q_error_print(stderr, "qstatus", &err);
	status = q_error_exit_status(&err);
out:
	free(moved);
	free(ids);
	q_jobcache_release(cache);
	q_spool_close(sp);
	return status;
}
