/*
 * qworker: claim and run tasks from a spool until stopped or idle.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpipath.h"
#include "worker.h"

static const char usage[] =
	"usage: qworker [--spool DIR] [--cpus N] [--exit-when-idle[=SECONDS]]\n"
	"               [--no-exit-when-idle] [--max-tasks N] [--grace SECONDS]\n"
	"               [--lease SECONDS] [--plugin PATH]... [--no-fsync]\n"
	"               [--no-events] [--mpi [--mpi-threshold SIZE]\n"
	"               [--mpi-mem SIZE] [--mpi-prefault SIZE]] [--verbose]\n"
	"\n"
	"Claim and run tasks from the spool until stopped (SIGTERM, SIGINT) or,\n"
	"with --exit-when-idle (the default in a Slurm job), until no work is left.\n"
	"\n"
	"examples:\n"
	"  qworker --exit-when-idle                  # run everything, then exit\n"
	"  srun qworker                              # one worker per Slurm task\n"
	"  qworker --cpus 4 &                        # a background worker\n"
	"  qworker --plugin ./libmykernels.so        # with user kernels\n"
	"  mpirun -n 8 qworker --mpi --exit-when-idle  # results over MPI\n"
	"\n"
	"  --spool DIR          the spool (default: $QSPOOL, else ./qspool)\n"
	"  --cpus N             cores (default: from Slurm, else the affinity\n"
	"                       mask; never the node's total)\n"
	"  --exit-when-idle     exit when no job has work left (=SECONDS: or\n"
	"                       after SECONDS without work)\n"
	"  --no-exit-when-idle  keep waiting, also under Slurm\n"
	"  --max-tasks N        stop claiming after N tasks\n"
	"  --grace SECONDS      on SIGTERM, time for running tasks (default 10)\n"
	"  --lease SECONDS      others requeue our tasks when our heartbeat is\n"
	"                       older than this (default 60)\n"
	"  --plugin PATH        load user kernels from a .so (repeatable)\n"
	"  --no-fsync           atomic but not durable (scratch spools)\n"
	"  --no-events          no event logs of retries, hand-backs, losses\n"
	"  --mpi                one rank of an MPI world: big results move\n"
	"                       over MPI (docs/mpi.md); SIGUSR1 spills them\n"
	"  --mpi-threshold SIZE results this big or bigger stay (default 1M)\n"
	"  --mpi-mem SIZE       memory for held results (default: a quarter\n"
	"                       of the node's, shared by its ranks)\n"
	"  --mpi-prefault SIZE  fault in SIZE for receiving results at start\n"
	"                       (default 0: on first use)\n"
	"  --verbose            a line per task on stderr\n"
	"\n"
	"More: man qworker.\n";

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "spool", required_argument, NULL, 's' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "exit-when-idle", optional_argument, NULL, 'e' },
		{ "no-exit-when-idle", no_argument, NULL, 'N' },
		{ "max-tasks", required_argument, NULL, 'm' },
		{ "grace", required_argument, NULL, 'g' },
		{ "lease", required_argument, NULL, 'l' },
		{ "plugin", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-fsync", no_argument, NULL, 'F' },
		{ "no-events", no_argument, NULL, 'E' },
		{ "mpi", no_argument, NULL, 'M' },
		{ "mpi-threshold", required_argument, NULL, 'T' },
		{ "mpi-mem", required_argument, NULL, 'B' },
		{ "mpi-prefault", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct q_worker_options opt = Q_WORKER_OPTIONS_INIT;
	const char *spool_opt = NULL;
	struct q_cli cli = Q_CLI_INIT("qworker", usage, options);
	struct q_error err = Q_ERROR_INIT;
	int c;
	uint64_t v;
	bool idle_chosen = false;
	bool no_events = false;

	while ((c = q_cli_next(&cli, argc, argv)) != -1) {
		switch (c) {
		case 's':
			spool_opt = optarg;
			break;
		case 'c':
			if (q_cli_u64(&cli, "--cpus", optarg, 1, 65536, &v) < 0)
				return 2;
			opt.cpus = (unsigned)v;
			break;
		case 'N':
			opt.exit_when_idle = false;
			opt.idle_seconds = -1.0;
			idle_chosen = true;
			break;
		case 'e':
			opt.exit_when_idle = true;
			idle_chosen = true;
			if (optarg && q_cli_seconds(&cli, "--exit-when-idle",
						    optarg, &opt.idle_seconds) < 0)
				return 2;
			break;
		case 'm':
			if (q_cli_u64(&cli, "--max-tasks", optarg, 1,
				      UINT64_MAX / 2, &opt.max_tasks) < 0)
				return 2;
			break;
		case 'g':
			if (q_cli_seconds(&cli, "--grace", optarg,
					  &opt.grace_seconds) < 0)
				return 2;
			break;
		case 'l': {
			double lease;
			if (q_cli_seconds(&cli, "--lease", optarg, &lease) < 0)
				return 2;
			if (lease < 1) {
				q_cli_usage_error(&cli, "--lease needs at least "
						  "1 second, got '%s'", optarg);
				return 2;
			}
			opt.lease_seconds = (unsigned)(lease + 0.5);
			break;
		}
		case 'v':
			opt.verbose = true;
			break;
		case 'F':
			q_fsync_enable(false);
			break;
		case 'E':
			no_events = true;
			break;
		case 'M':
			opt.mpi = true;
			break;
		case 'T':
			/* Smaller results go inline into records anyway. */
			if (q_cli_bytes(&cli, "--mpi-threshold", optarg,
					Q_SINK_MEMORY_MAX + 1, SIZE_MAX / 4,
					&v) < 0)
				return 2;
			opt.mpi_threshold = (size_t)v;
			break;
		case 'B':
			if (q_cli_bytes(&cli, "--mpi-mem", optarg, 1 << 20,
					SIZE_MAX / 4, &v) < 0)
				return 2;
			opt.mpi_mem = (size_t)v;
			break;
		case 'P':
			if (q_cli_bytes(&cli, "--mpi-prefault", optarg, 0,
					SIZE_MAX / 4, &v) < 0)
				return 2;
			opt.mpi_prefault = (size_t)v;
			break;
		case 'p':
			/* Built-ins first, so a plugin kernel named like
			 * one is refused instead of hiding it. */
			q_builtin_kernels_register();
			if (q_plugin_load(optarg, &err) < 0) {
				q_error_print(stderr, "qworker", &err);
				return q_error_exit_status(&err);
			}
			break;
		default:
			return q_cli_default(&cli, c);
		}
	}
	if (optind < argc)
		return q_cli_usage_error(&cli, "unexpected argument '%s'",
					 argv[optind]);
	if (opt.mpi && !q_mpi_available())
		return q_cli_usage_error(&cli, "--mpi: this qworker was built "
					 "without MPI (install libopenmpi-dev "
					 "and rebuild with meson -Dmpi=enabled, "
					 "or run without --mpi: results then go "
					 "through the spool's files)");
	if ((opt.mpi_threshold || opt.mpi_mem || opt.mpi_prefault) &&
	    !opt.mpi)
		return q_cli_usage_error(&cli, "--mpi-threshold, --mpi-mem and "
					 "--mpi-prefault go with --mpi");
	/* In a Slurm job a worker that waits for work holds its cores until
	 * the time limit. A batch script that submits more work while its
	 * workers run says --no-exit-when-idle and stops them itself. */
	const char *slurm_job = getenv("SLURM_JOB_ID");
	if (!idle_chosen && slurm_job && *slurm_job) {
		opt.exit_when_idle = true;
		if (opt.verbose)
			fprintf(stderr, "qworker: inside Slurm job %s: exiting "
				"when no work is left (--no-exit-when-idle "
				"to keep waiting)\n", slurm_job);
	}
	struct q_spool *sp;
	if (q_spool_open(&sp, q_spool_default_path(spool_opt), Q_SPOOL_WRITE,
			 &err) < 0) {
		q_error_print(stderr, "qworker", &err);
		return q_error_exit_status(&err);
	}
	q_spool_set_events(sp, !no_events);
	int status = q_worker_main(sp, &opt);
	q_spool_close(sp);
	return status;
}
