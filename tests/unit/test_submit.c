/*
 * test_submit.c: publishing jobs (libq/submit.c).
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

Test(submit, ids_count_up_and_the_job_loads_back)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("sweep");
	struct q_group *g = q_job_add_group(job, "run", Q_TASK_COMMAND);
	q_group_add_argv(g, "echo");
	q_group_add_argv(g, "{i} with spaces");
	q_group_add_env(g, "A=1");
	g->count = 5;
	g->array = true;
	g->index_base = 10;
	g->threads = 2;
	uint64_t id1 = tsubmit(&t, job);
	uint64_t id2 = tsubmit(&t, tjob_simple("second", 1));
	cr_assert_eq(id1, 1);
	cr_assert_eq(id2, 2);

	struct q_job *back;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_load(t.sp, id1, &back, &err), 0, "%s", err.message);
	cr_assert_str_eq(back->name, "sweep");
	cr_assert_eq(back->ngroups, 1);
	cr_assert_str_eq(back->groups[0].name, "run");
	cr_assert_eq(back->groups[0].count, 5);
	cr_assert_eq(back->groups[0].index_base, 10);
	cr_assert_eq(back->groups[0].threads, 2);
	cr_assert_str_eq(back->groups[0].argv[1], "{i} with spaces");
	cr_assert_str_eq(back->groups[0].env[0], "A=1");
	cr_assert_eq(q_job_index_of(back, 4), 14);
	q_job_release(back);

	uint64_t found;
	cr_assert_eq(q_job_resolve(t.sp, "sweep", &found, &err), 0);
	cr_assert_eq(found, id1);
	cr_assert_eq(q_job_resolve(t.sp, "2", &found, &err), 0);
	cr_assert_eq(found, 2);
	tspool_fini(&t);
}

Test(submit, latest_job_of_a_name_wins)
{
	struct tspool t;
	tspool_init(&t);
	tsubmit(&t, tjob_simple("same", 1));
	uint64_t second = tsubmit(&t, tjob_simple("same", 1));
	uint64_t found;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_resolve(t.sp, "same", &found, &err), 0);
	cr_assert_eq(found, second);
	tspool_fini(&t);
}

Test(submit, published_job_has_every_entry_and_tmp_is_clean)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("layout", 3));
	char path[256];
	snprintf(path, sizeof(path), "%s/jobs/%llu/ready/0", t.path,
		 (unsigned long long)id);
	cr_assert_eq(count_entries(path), 3);
	snprintf(path, sizeof(path), "%s/jobs/%llu/todo/0", t.path,
		 (unsigned long long)id);
	cr_assert_eq(count_entries(path), 3);
	snprintf(path, sizeof(path), "%s/tmp", t.path);
	cr_assert_eq(count_entries(path), 0, "staging left behind");
	tspool_fini(&t);
}

Test(submit, invalid_job_leaves_the_spool_unchanged)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("bad/name");
	struct q_group *g = q_job_add_group(job, "x", Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	struct q_error err = Q_ERROR_INIT;
	cr_assert_lt(q_submit(t.sp, job, &err), 0);
	cr_assert_eq(err.kind, Q_ERR_INPUT);
	cr_assert(strstr(err.message, "'/'") != NULL, "%s", err.message);
	q_job_release(job);

	job = q_job_new("deps");
	g = q_job_add_group(job, "x", Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	struct q_after a = { .job = 42, .first = 0, .count = 1,
			     .mode = Q_AFTER_ALL, .label = "42" };
	q_group_add_after(g, &a);
	q_error_clear(&err);
	cr_assert_lt(q_submit(t.sp, job, &err), 0);
	cr_assert_eq(err.kind, Q_ERR_INPUT);
	cr_assert(strstr(err.message, "42") != NULL, "%s", err.message);
	q_job_release(job);

	char path[256];
	snprintf(path, sizeof(path), "%s/jobs", t.path);
	cr_assert_eq(count_entries(path), 0);
	snprintf(path, sizeof(path), "%s/tmp", t.path);
	cr_assert_eq(count_entries(path), 0);
	tspool_fini(&t);
}

/*
 * A crash at any spool-changing call of a submission leaves either no
 * job or the whole job: run the submission in a child with
 * SPOOLQ_FAULT=crash:K for every K until one completes.
 */
Test(submit, crash_at_every_step_is_all_or_nothing, .timeout = 120)
{
	struct tspool t;
	tspool_init(&t);
	int completed = 0;
	for (unsigned k = 1; k < 500 && !completed; k++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			char spec[32];
			snprintf(spec, sizeof(spec), "crash:%u", k);
			setenv("SPOOLQ_FAULT", spec, 1);
			struct q_spool *sp;
			struct q_error err = Q_ERROR_INIT;
			if (q_spool_open(&sp, t.path, Q_SPOOL_WRITE, &err) < 0)
				_exit(3);
			struct q_job *job = tjob_simple("crashy", 20);
			_exit(q_submit(sp, job, &err) == 0 ? 0 : 4);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status));
		int code = WEXITSTATUS(status);
		cr_assert(code == 0 || code == 99, "k=%u: exit %d", k, code);
		/* Either no job was published, or a complete one. */
		uint64_t *ids;
		size_t n;
		struct q_error err = Q_ERROR_INIT;
		cr_assert_eq(q_job_list(t.sp, &ids, &n, &err), 0);
		cr_assert_leq(n, 1, "k=%u: %zu jobs", k, n);
		if (n == 1) {
			struct q_jobh *h;
			cr_assert_eq(q_jobh_open(t.sp, ids[0], &h, &err), 0,
				     "k=%u: published job unreadable: %s", k,
				     err.message);
			struct q_counts c;
			cr_assert_eq(q_job_counts(h, &c, &err), 0);
			cr_assert_eq(c.ready, 20, "k=%u: %llu ready", k,
				     (unsigned long long)c.ready);
			q_jobh_close(h);
			completed = code == 0 || n == 1;
		}
		free(ids);
	}
	cr_assert(completed, "the submission never completed");
	tspool_fini(&t);
}

Test(submit, concurrent_submitters_get_distinct_ids)
{
	struct tspool t;
	tspool_init(&t);
	enum { PROCS = 6, EACH = 20 };
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		cr_assert_geq(pids[p], 0);
		if (pids[p] == 0) {
			struct q_spool *sp;
			struct q_error err = Q_ERROR_INIT;
			if (q_spool_open(&sp, t.path, Q_SPOOL_WRITE, &err) < 0)
				_exit(3);
			for (int i = 0; i < EACH; i++) {
				struct q_job *job = tjob_simple("conc", 2);
				if (q_submit(sp, job, &err) < 0)
					_exit(4);
				q_job_release(job);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	uint64_t *ids;
	size_t n;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_list(t.sp, &ids, &n, &err), 0);
	cr_assert_eq(n, PROCS * EACH);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ids[i], i + 1);
	free(ids);
	tspool_fini(&t);
}

Test(submit, lines_job_keeps_each_command)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("lines");
	q_job_add_group(job, "lines", Q_TASK_LINES);
	q_job_set_lines(job, strdup("echo a\necho 'b c'\n"), 17);
	uint64_t id = tsubmit(&t, job);
	struct q_job *back;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_load(t.sp, id, &back, &err), 0, "%s", err.message);
	cr_assert_eq(back->nitems, 2);
	cr_assert_eq(back->nlines, 2);
	cr_assert_eq(strncmp(back->lines + back->line_off[1], "echo 'b c'",
			     10), 0);
	q_job_release(back);
	tspool_fini(&t);
}
