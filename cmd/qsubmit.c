/*
 * qsubmit: submit a command, a kernel or a file of commands as one job.
 *
 * Everything is checked before the spool is touched: a bad option, name,
 * dependency or kernel exits with status 2 and leaves the spool as it
 * was. The new job's id is the only thing printed on stdout.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <spoolq/spoolq.h>

#include "cli.h"
#include "json.h"
#include "kernels.h"

static const char usage[] =
	"usage: qsubmit [options] -- CMD [ARGS...]\n"
	"       qsubmit [options] --kernel NAME [--arg KEY=VALUE]...\n"
	"       qsubmit [options] --tasks FILE      (a command per line; - stdin)\n"
	"       qsubmit [options] WORKFLOW.yaml     (docs/workflow-yaml.md)\n"
	"       qsubmit --check WORKFLOW.yaml [--json]   (validate only)\n"
	"       qsubmit --list-kernels [--plugin PATH]... [--json]\n"
	"\n"
	"Submit one job to the spool and print its id.\n"
	"\n"
	"examples:\n"
	"  qsubmit -- ./simulate --seed 1\n"
	"  job=$(qsubmit --array 0..99 -- ./simulate --seed {i})\n"
	"  qsubmit --kernel pi --array 0..63 --threads 2 --arg samples=1e8\n"
	"  qsubmit --kernel sum --after $job\n"
	"  qsubmit --tasks commands.txt\n"
	"  qsubmit sweep.yaml\n"
	"\n"
	"  --spool DIR        the spool (default: $QSPOOL, else ./qspool)\n"
	"  --group            create the spool group-shared (mode 2770)\n"
	"  --name NAME        job and task name (default: command or kernel)\n"
	"  --array A..B       a task per index; {i} in CMD, ARGS, --arg: the index\n"
	"  --threads N        cores per task (OMP_NUM_THREADS for commands)\n"
	"  --after DEP,...    wait for JOB, JOB:TASK, JOB:TASK[I], JOB:TASK[A-B]\n"
	"  --kernel NAME      run a kernel instead of a command\n"
	"  --arg KEY=VALUE    a kernel argument (repeatable)\n"
	"  --env KEY=VALUE    set a variable for the task (repeatable)\n"
	"  --cwd DIR          working directory of command tasks\n"
	"  --chunk N          tasks claimed together (default: spoolq decides)\n"
	"  --retries N        run a failed task again up to N times (back-off)\n"
	"  --timeout TIME     stop a task running longer (30, 30s, 30m, 2h, 1d)\n"
	"  --priority P       higher runs first (default 0)\n"
	"  --plugin PATH      load user kernels from a .so (repeatable)\n"
	"  --list-kernels     list the kernels and exit\n"
	"  --each-worker      run the task once on every worker\n"
	"  --no-cache         run pure tasks even when results exist\n"
	"  --broadcast FILE   a big read-only input, read once per worker\n"
	"  --mpi-threshold SIZE  results this big stay with their producer\n"
	"                     under qworker --mpi (4M; never)\n"
	"  --check FILE       validate a workflow, print its size, exit\n"
	"  --json             JSON for --check and --list-kernels (docs/json.md)\n"
	"\n"
	"More: man qsubmit.\n";

enum {
	OPT_SPOOL = 256, OPT_GROUP, OPT_NAME, OPT_ARRAY, OPT_THREADS,
	OPT_AFTER, OPT_KERNEL, OPT_ARG, OPT_ENV, OPT_CWD, OPT_CHUNK,
	OPT_TASKS, OPT_LIST, OPT_PLUGIN, OPT_CHECK, OPT_NOCACHE, OPT_EACH,
	OPT_RETRIES, OPT_TIMEOUT, OPT_PRIORITY, OPT_BROADCAST, OPT_MPI_THRESHOLD,
	OPT_JSON,
};

struct submit_args {
	const char *spool;
	bool group;
	const char *name;
	bool array;
	int64_t first, last;
	uint64_t threads;
	uint64_t chunk;
	const char *retries_opt;   /* given: clashes with a workflow file */
	uint64_t retries;
	double timeout_s;          /* 0: none */
	const char *priority_opt;
	const char *mpi_threshold_opt;
	uint64_t mpi_threshold;    /* 0: the worker's */
	int priority;
	char **after;
	size_t nafter;
	const char *kernel;
	char **args;
	size_t nargs;
	char **env;
	size_t nenv;
	const char *cwd;
	const char *tasks;
	char **cmd;
	size_t ncmd;
	char **plugins;     /* --plugin paths (argv's strings) */
	size_t nplugins;
	bool list;          /* --list-kernels */
	bool json;          /* --json, with --list-kernels or --check */
	const char *workflow;  /* a workflow file */
	bool check;         /* --check: validate only */
	bool no_cache;      /* --no-cache */
	const char *broadcast;   /* --broadcast FILE */
	bool each_worker;   /* --each-worker */
};

static void submit_args_release(struct submit_args *a)
{
	for (size_t i = 0; i < a->nafter; i++)
		free(a->after[i]);
	free(a->after);
	for (size_t i = 0; i < a->nargs; i++)
		free(a->args[i]);
	free(a->args);
	for (size_t i = 0; i < a->nenv; i++)
		free(a->env[i]);
	free(a->env);
	free(a->cmd);
	free(a->plugins);
}

static int parse_array(struct q_cli *cli, const char *s, int64_t *a,
		       int64_t *b)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || strncmp(end, "..", 2) != 0 || errno)
		goto bad;
	const char *t = end + 2;
	long long y = strtoll(t, &end, 10);
	if (end == t || *end || errno)
		goto bad;
	if (y < x)
		return q_cli_usage_error(cli, "--array %s is empty: the end "
					 "(%lld) is before the start (%lld); "
					 "write A..B with A <= B", s, y, x);
	/* The difference in unsigned arithmetic: y - x may overflow. */
	if ((unsigned long long)y - (unsigned long long)x >= (1ULL << 40))
		return q_cli_usage_error(cli, "--array %s has too many tasks",
					 s);
	*a = x;
	*b = y;
	return 0;
bad:
	return q_cli_usage_error(cli, "--array needs A..B with whole numbers "
				 "(for example 0..99), got '%s'", s);
}

static void push(char ***v, size_t *n, char *s)
{
	*v = realloc(*v, (*n + 1) * sizeof(char *));
	if (!*v)
		abort();
	(*v)[(*n)++] = s;
}

static int check_key_value(struct q_cli *cli, const char *opt, const char *s)
{
	const char *eq = strchr(s, '=');
	if (!eq)
		return q_cli_usage_error(cli, "%s '%s' has no '=': write "
					 "%s KEY=VALUE", opt, s, opt);
	if (eq == s)
		return q_cli_usage_error(cli, "%s '%s' has an empty key", opt,
					 s);
	for (const char *p = s; p < eq; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return q_cli_usage_error(cli, "%s '%s': the key may "
						 "only hold letters, digits "
						 "and '_'", opt, s);
	return 0;
}

/* A default task name from a command or file: its base name, made
 * valid, or "task". */
static char *default_name(const char *from)
{
	char *copy = strdup(from);
	char *base = basename(copy);
	char name[Q_NAME_MAX + 1];
	size_t n = 0;
	for (const char *p = base; *p && n < Q_NAME_MAX; p++) {
		if (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		    *p == '+')
			name[n++] = *p;
		else if (*p == '.' && n && name[n - 1] != '.')
			name[n++] = '.';
		else if (n && name[n - 1] != '_')
			name[n++] = '_';
	}
	while (n && (name[n - 1] == '.' || name[n - 1] == '_'))
		n--;
	name[n] = '\0';
	free(copy);
	struct q_error err = Q_ERROR_INIT;
	if (n == 0 || q_name_check("name", name, &err) < 0)
		return strdup("task");
	return strdup(name);
}

/*
 * q_submit failed. Until the publishing rename nothing is in the spool
 * (libq/submit.c removes the staging directory), which the message says;
 * a full disk or exceeded quota also gets what to do.
 */
static void submit_failed(const struct q_error *err, const struct q_job *job)
{
	const char *hint = "";
	if (err->errnum == ENOSPC || err->errnum == EDQUOT)
		hint = " (free space or raise the quota, then submit again)";
	if (job->id || err->kind != Q_ERR_SYSTEM) {
		q_error_print(stderr, "qsubmit", err);
		return;
	}
	fprintf(stderr, "qsubmit: %s%s%s%s; nothing was submitted\n",
		err->message, err->errnum ? ": " : "",
		err->errnum ? strerror(err->errnum) : "", hint);
}

/* The built-ins, then the --plugin kernels (so a plugin cannot hide a
 * built-in: its kernel of the same name is refused). */
static int load_kernels(const struct submit_args *a, struct q_error *err)
{
	int ret;
	q_builtin_kernels_register();
	for (size_t i = 0; i < a->nplugins; i++)
		if ((ret = q_plugin_load(a->plugins[i], err)) < 0)
			return ret;
	return 0;
}

/* Record the --plugin paths in the job (absolute), so workers started
 * without --plugin load them too. */
static void record_plugins(const struct submit_args *a, struct q_job *job)
{
	for (size_t i = 0; i < a->nplugins; i++) {
		char *real = realpath(a->plugins[i], NULL);
		q_job_add_plugin(job, real ? real : a->plugins[i]);
		free(real);
	}
}

static int list_kernels(const struct submit_args *a)
{
	struct q_error err = Q_ERROR_INIT;
	if (load_kernels(a, &err) < 0) {
		q_error_print(stderr, "qsubmit", &err);
		return q_error_exit_status(&err);
	}
	for (size_t i = 0; i < q_kernel_count(); i++) {
		const struct q_kernel *k = q_kernel_at(i);
		if (a->json) {
			printf("{\"name\": ");
			q_json_cstr(stdout, k->name);
			printf(", \"summary\": ");
			q_json_cstr(stdout, k->summary);
			printf(", \"args\": ");
			q_json_cstr(stdout, k->args_help);
			printf(", \"origin\": ");
			q_json_cstr(stdout, q_kernel_origin(k));
			printf("}\n");
			continue;
		}
		printf("%-8s %s\n         args: %s\n", k->name, k->summary,
		       k->args_help);
		if (q_kernel_origin(k))
			printf("         from: %s\n", q_kernel_origin(k));
	}
	return fflush(stdout) == 0 ? 0 : Q_EXIT_SYSTEM;
}

static bool is_workflow_name(const char *s)
{
	size_t n = strlen(s);
	return (n > 5 && strcmp(s + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(s + n - 4, ".yml") == 0);
}

/* A workflow file carries its own tasks: the options that describe a
 * single task do not go with it. */
static int check_workflow_args(struct q_cli *cli, struct submit_args *a,
			       int operands)
{
	const char *clash = a->array ? "--array"
			    : a->threads ? "--threads"
			    : a->nafter ? "--after"
			    : a->kernel ? "--kernel"
			    : a->nargs ? "--arg"
			    : a->nenv ? "--env"
			    : a->cwd ? "--cwd"
			    : a->chunk ? "--chunk"
			    : a->retries_opt ? "--retries"
			    : a->timeout_s ? "--timeout"
			    : a->priority_opt ? "--priority"
			    : a->mpi_threshold_opt ? "--mpi-threshold"
			    : a->tasks ? "--tasks"
			    : a->each_worker ? "--each-worker" : NULL;
	if (clash)
		return q_cli_usage_error(cli, "%s does not go with a workflow "
					 "file: set it in '%s'", clash,
					 a->workflow);
	if (operands > 0)
		return q_cli_usage_error(cli, "one workflow file at a time");
	return 0;
}

static int parse_args(struct q_cli *cli, int argc, char **argv,
		      struct submit_args *a)
{
	int c;
	char *list;

	while ((c = q_cli_next(cli, argc, argv)) != -1) {
		switch (c) {
		case OPT_SPOOL: a->spool = optarg; break;
		case OPT_GROUP: a->group = true; break;
		case OPT_NAME: a->name = optarg; break;
		case OPT_ARRAY:
			a->array = true;
			if (parse_array(cli, optarg, &a->first, &a->last))
				return Q_EXIT_USAGE;
			break;
		case OPT_THREADS:
			if (q_cli_u64(cli, "--threads", optarg, 1, 4096,
				      &a->threads) < 0)
				return Q_EXIT_USAGE;
			break;
		case OPT_CHUNK:
			if (q_cli_u64(cli, "--chunk", optarg, 1, 65536,
				      &a->chunk) < 0)
				return Q_EXIT_USAGE;
			break;
		case OPT_RETRIES:
			a->retries_opt = optarg;
			if (q_cli_u64(cli, "--retries", optarg, 0, 1000,
				      &a->retries) < 0)
				return Q_EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (q_cli_seconds(cli, "--timeout", optarg,
					  &a->timeout_s) < 0)
				return Q_EXIT_USAGE;
			if (a->timeout_s <= 0)
				return q_cli_usage_error(
					cli, "--timeout '%s': give a time "
					"above 0 (leave it out for none)",
					optarg);
			break;
		case OPT_PRIORITY: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || v < -1000000 ||
			    v > 1000000)
				return q_cli_usage_error(
					cli, "--priority '%s': give a whole "
					"number from -1000000 to 1000000",
					optarg);
			a->priority_opt = optarg;
			a->priority = (int)v;
			break;
		}
		case OPT_MPI_THRESHOLD:
			a->mpi_threshold_opt = optarg;
			if (strcmp(optarg, "never") == 0) {
				a->mpi_threshold = Q_MPI_NEVER;
				break;
			}
			if (q_cli_bytes(cli, "--mpi-threshold", optarg,
					Q_MPI_THRESHOLD_MIN, Q_MPI_NEVER - 1,
					&a->mpi_threshold) < 0)
				return Q_EXIT_USAGE;
			break;
		case OPT_AFTER:
			/* An empty item is an error, not "no dependency":
			 * --after "$job" with $job empty (its qsubmit
			 * failed) must not run the job at once. strsep,
			 * unlike strtok, keeps empty items. */
			list = strdup(optarg);
			for (char *rest = list, *t; (t = strsep(&rest, ","));) {
				if (!*t) {
					free(list);
					return q_cli_usage_error(
						cli, "--after '%s' names an "
						"empty dependency: write "
						"--after DEP[,DEP...] (is a "
						"shell variable empty?)",
						optarg);
				}
				push(&a->after, &a->nafter, strdup(t));
			}
			free(list);
			break;
		case OPT_KERNEL: a->kernel = optarg; break;
		case OPT_ARG:
			if (check_key_value(cli, "--arg", optarg))
				return Q_EXIT_USAGE;
			push(&a->args, &a->nargs, strdup(optarg));
			break;
		case OPT_ENV:
			if (check_key_value(cli, "--env", optarg))
				return Q_EXIT_USAGE;
			push(&a->env, &a->nenv, strdup(optarg));
			break;
		case OPT_CWD: a->cwd = optarg; break;
		case OPT_TASKS: a->tasks = optarg; break;
		case OPT_LIST: a->list = true; break;
		case OPT_JSON: a->json = true; break;
		case OPT_PLUGIN: push(&a->plugins, &a->nplugins, optarg); break;
		case OPT_CHECK:
			a->check = true;
			a->workflow = optarg;
			break;
		case OPT_NOCACHE: a->no_cache = true; break;
		case OPT_BROADCAST: a->broadcast = optarg; break;
		case OPT_EACH: a->each_worker = true; break;
		default: return q_cli_default(cli, c) == 0 ? -1 : Q_EXIT_USAGE;
		}
	}
	if (a->json && !a->list && !a->check)
		return q_cli_usage_error(cli, "--json goes with --list-kernels "
					 "or --check (a submission prints only "
					 "its job id)");
	if (a->list)
		return -2;
	bool dashdash = optind > 0 && optind <= argc &&
			strcmp(argv[optind - 1], "--") == 0;
	if (!a->workflow && !dashdash && optind == argc - 1 &&
	    is_workflow_name(argv[optind]))
		a->workflow = argv[optind++];
	if (a->workflow)
		return check_workflow_args(cli, a, argc - optind);
	if (optind < argc && !dashdash)
		return q_cli_usage_error(cli, "missing '--' before the command "
					 "'%s' (write: qsubmit [options] -- %s "
					 "...)", argv[optind], argv[optind]);
	for (int i = optind; i < argc; i++)
		push(&a->cmd, &a->ncmd, argv[i]);
	int modes = (a->ncmd > 0) + (a->kernel != NULL) + (a->tasks != NULL);
	if (modes == 0) {
		if (dashdash)
			return q_cli_usage_error(cli, "missing command after "
						 "'--'");
		return q_cli_usage_error(cli, "nothing to run: give a command "
					 "after '--', --kernel NAME or --tasks "
					 "FILE");
	}
	if (modes > 1)
		return q_cli_usage_error(cli, "give only one of a command after "
					 "'--', --kernel or --tasks");
	if (a->nargs && !a->kernel)
		return q_cli_usage_error(cli, "--arg is for kernels; a command "
					 "takes its arguments after '--'");
	if (a->tasks && a->array)
		return q_cli_usage_error(cli, "--array does not go with --tasks "
					 "(each line is one task)");
	if (a->each_worker && a->array)
		return q_cli_usage_error(cli, "--each-worker runs one task on "
					 "every worker; it does not go with "
					 "--array");
	return 0;
}

static int build_job(struct submit_args *a,
		     struct q_spool *dep_spool, struct q_job **job_out,
		     struct q_error *err)
{
	char *name;
	if (a->name)
		name = strdup(a->name);
	else if (a->kernel)
		name = default_name(a->kernel);
	else if (a->tasks)
		name = default_name(strcmp(a->tasks, "-") ? a->tasks : "tasks");
	else
		name = default_name(a->cmd[0]);
	int ret = q_name_check(a->name ? "name" : "default name", name, err);
	if (ret < 0) {
		free(name);
		return ret;
	}
	if ((ret = load_kernels(a, err)) < 0) {
		free(name);
		return ret;
	}
	if (a->kernel) {
		if (!q_kernel_find(a->kernel)) {
			const char *names[64];
			size_t n = 0;
			for (; n < q_kernel_count() && n < 63; n++)
				names[n] = q_kernel_at(n)->name;
			names[n] = NULL;
			const char *s = q_cli_suggest(a->kernel, names);
			char hint[128] = "";
			if (s)
				snprintf(hint, sizeof(hint),
					 "did you mean '%s'? ", s);
			free(name);
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "unknown kernel '%s' (%sqsubmit "
					   "--list-kernels shows them); for "
					   "a plugin's kernels give --plugin "
					   "PATH",
					   a->kernel, hint);
		}
	}
	struct q_job *job = q_job_new(name);
	enum q_task_kind kind = a->kernel ? Q_TASK_KERNEL
				: a->tasks ? Q_TASK_LINES
					   : Q_TASK_COMMAND;
	struct q_group *g = q_job_add_group(job, name, kind);
	free(name);
	g->threads = a->threads ? (unsigned)a->threads : 1;
	g->each_worker = a->each_worker;
	g->chunk_size = a->chunk;
	g->retries = (unsigned)a->retries;
	g->timeout_s = a->timeout_s;
	g->priority = a->priority;
	g->mpi_threshold = a->mpi_threshold;
	if (a->array) {
		g->array = true;
		g->index_base = a->first;
		g->count = (uint64_t)a->last - (uint64_t)a->first + 1;
	}
	for (size_t i = 0; i < a->ncmd; i++)
		q_group_add_argv(g, a->cmd[i]);
	if (a->kernel)
		g->kernel = strdup(a->kernel);
	for (size_t i = 0; i < a->nargs; i++)
		q_group_add_arg(g, a->args[i]);
	for (size_t i = 0; i < a->nenv; i++)
		q_group_add_env(g, a->env[i]);
	if (a->cwd) {
		struct stat st;
		if (a->cwd[0] != '/') {
			q_job_release(job);
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "--cwd '%s' must be an absolute path "
					   "(workers may start elsewhere)",
					   a->cwd);
		}
		if (stat(a->cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
			q_job_release(job);
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "--cwd '%s' is not a directory",
					   a->cwd);
		}
		g->cwd = strdup(a->cwd);
	}
	for (size_t i = 0; i < a->nafter; i++) {
		struct q_after dep;
		if (!dep_spool) {
			q_job_release(job);
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "dependency '%s': there is no spool "
					   "at '%s' yet, so no job to wait for "
					   "(submit that job first, or give "
					   "its spool with --spool or QSPOOL)",
					   a->after[i],
					   q_spool_default_path(a->spool));
		}
		if ((ret = q_after_resolve(dep_spool, a->after[i], &dep,
					   err)) < 0) {
			q_job_release(job);
			return ret;
		}
		q_group_add_after(g, &dep);
		free(dep.label);
	}
	if (a->tasks) {
		char *text;
		size_t len, lines;
		if ((ret = q_tasks_file_read(a->tasks, &text, &len, &lines,
					     err)) < 0) {
			q_job_release(job);
			return ret;
		}
		q_job_set_lines(job, text, len);
	}
	*job_out = job;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "group", no_argument, NULL, OPT_GROUP },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "array", required_argument, NULL, OPT_ARRAY },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "arg", required_argument, NULL, OPT_ARG },
		{ "env", required_argument, NULL, OPT_ENV },
		{ "cwd", required_argument, NULL, OPT_CWD },
		{ "chunk", required_argument, NULL, OPT_CHUNK },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "priority", required_argument, NULL, OPT_PRIORITY },
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "list-kernels", no_argument, NULL, OPT_LIST },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "no-cache", no_argument, NULL, OPT_NOCACHE },
		{ "each-worker", no_argument, NULL, OPT_EACH },
		{ "plugin", required_argument, NULL, OPT_PLUGIN },
		{ "broadcast", required_argument, NULL, OPT_BROADCAST },
		{ "mpi-threshold", required_argument, NULL, OPT_MPI_THRESHOLD },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct q_cli cli = Q_CLI_INIT("qsubmit", usage, options);
	struct submit_args a = { 0 };
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = NULL;
	struct q_job *job = NULL;
	int status;

	/* "qsubmit flow.yaml --plugin P": with a workflow file and no
	 * command (no "--"), options may follow the file. */
	bool dashdash = false, yaml = false;
	for (int i = 1; i < argc; i++) {
		dashdash = dashdash || strcmp(argv[i], "--") == 0;
		yaml = yaml || is_workflow_name(argv[i]);
	}
	cli.permute = yaml && !dashdash;
	status = parse_args(&cli, argc, argv, &a);
	if (status == -1 || status == -2 || status) {
		if (status == -2)
			status = list_kernels(&a);
		else if (status == -1)
			status = 0;   /* --help or --version */
		submit_args_release(&a);
		return status;
	}

	const char *path = q_spool_default_path(a.spool);
	/* Dependencies are resolved against an existing spool, before
	 * anything is created. With no spool at all, build_job names the
	 * dependency that cannot be met. */
	struct q_spool *dep_spool = NULL;
	struct stat st;
	bool no_spool = stat(path, &st) != 0 && errno == ENOENT;
	if ((a.nafter || a.workflow) && !no_spool &&
	    q_spool_open(&dep_spool, path, 0, &err) < 0)
		goto fail;
	if (a.workflow) {
		struct q_workflow_info info;
		if (load_kernels(&a, &err) < 0 ||
		    q_workflow_load(a.workflow, dep_spool, &job, &info,
				    &err) < 0)
			goto fail;
		if (a.check && a.json) {
			printf("{\"schema\": \"spoolq.check/1\", \"file\": ");
			q_json_cstr(stdout, a.workflow);
			printf(", \"tasks\": %llu, \"definitions\": %zu, "
			       "\"depth\": %u}\n",
			       (unsigned long long)info.tasks, info.definitions,
			       info.depth);
			status = fflush(stdout) == 0 ? 0 : Q_EXIT_SYSTEM;
			goto out;
		}
		if (a.check) {
			printf("%s: %llu task%s in %zu definition%s, depth "
			       "%u\n", a.workflow,
			       (unsigned long long)info.tasks,
			       info.tasks == 1 ? "" : "s", info.definitions,
			       info.definitions == 1 ? "" : "s", info.depth);
			status = fflush(stdout) == 0 ? 0 : Q_EXIT_SYSTEM;
			goto out;
		}
		if (a.name) {
			if (q_name_check("job name", a.name, &err) < 0)
				goto fail;
			free(job->name);
			job->name = strdup(a.name);
		}
	} else if (build_job(&a, dep_spool, &job, &err) < 0) {
		goto fail;
	}
	q_spool_close(dep_spool);
	dep_spool = NULL;
	record_plugins(&a, job);
	job->no_cache = a.no_cache;
	if (a.broadcast && job->broadcast) {
		q_error_set(&err, Q_ERR_INPUT, 0, "--broadcast '%s': the "
			    "workflow names its own broadcast input ('%s'); "
			    "give one of them", a.broadcast, job->broadcast);
		goto fail;
	}
	if (a.broadcast && q_job_set_broadcast(job, a.broadcast, &err) < 0)
		goto fail;
	/* Validate the whole job before creating anything. */
	if (q_job_finalize(job, &err) < 0)
		goto fail;
	if (q_spool_open(&sp, path, Q_SPOOL_CREATE | Q_SPOOL_WRITE |
					    (a.group ? Q_SPOOL_GROUP : 0),
			 &err) < 0)
		goto fail;
	if (q_submit(sp, job, &err) < 0) {
		submit_failed(&err, job);
		status = q_error_exit_status(&err);
		goto out;
	}
	printf("%llu\n", (unsigned long long)job->id);
	status = fflush(stdout) == 0 ? 0 : Q_EXIT_SYSTEM;
	goto out;
fail:
	q_error_print(stderr, "qsubmit", &err);
	status = q_error_exit_status(&err);
out:
	q_spool_close(dep_spool);
	q_job_release(job);
	q_spool_close(sp);
	submit_args_release(&a);
	return status;
}
