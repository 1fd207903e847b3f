/*
 * qcancel: cancel a job, or some of its tasks.
 */
#include <stdio.h>
#include <stdlib.h>

#include <spoolq/spoolq.h>

#include "cli.h"

static const char usage[] =
	"usage: qcancel [--spool DIR] JOB [TASK...]\n"
	"\n"
	"Cancel a job's waiting and ready tasks and stop its running ones.\n"
	"With TASK arguments only those: NAME, NAME[I] or NAME[A-B].\n"
	"Tasks that wait for a cancelled task are cancelled in turn.\n"
	"\n"
	"  --spool DIR   the spool (default: $QSPOOL, else ./qspool)\n"
	"\n"
	"JOB is a job id, a job name (its latest job), or the start of\n"
	"exactly one job name.\n"
	"\n"
	"examples:\n"
	"  qcancel 12\n"
	"  qcancel sweep 'run[10-19]'\n";

enum { OPT_SPOOL = 256 };

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct q_cli cli = Q_CLI_INIT("qcancel", usage, options);
	const char *spool_opt = NULL;
	int c;

	cli.permute = true;
	while ((c = q_cli_next(&cli, argc, argv)) != -1) {
		if (c == OPT_SPOOL)
			spool_opt = optarg;
		else
			return q_cli_default(&cli, c);
	}
	if (optind >= argc)
		return q_cli_usage_error(&cli, "which job? (qcancel JOB "
					 "[TASK...])");
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = NULL;
	struct q_jobcache *cache = NULL;
	uint64_t id, n = 0;
	if (q_spool_open(&sp, q_spool_default_path(spool_opt), Q_SPOOL_WRITE,
			 &err) < 0 ||
	    q_job_resolve(sp, argv[optind], &id, &err) < 0)
		goto fail;
	cache = q_jobcache_new(sp);
	struct q_jobh *h = q_jobcache_get(cache, id, &err);
	if (!h || q_cancel(h, cache, (const char *const *)argv + optind + 1,
			   (size_t)(argc - optind - 1), &n, &err) < 0)
		goto fail;
	fprintf(stderr, "qcancel: cancelled %llu task%s of job %llu\n",
		(unsigned long long)n, n == 1 ? "" : "s",
		(unsigned long long)id);
	q_jobcache_release(cache);
	q_spool_close(sp);
	return 0;
fail:
	q_error_print(stderr, "qcancel", &err);
	q_jobcache_release(cache);
	q_spool_close(sp);
	return q_error_exit_status(&err);
}
