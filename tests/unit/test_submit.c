/*
 * test_submit.c: publishing jobs (libq/submit.c).
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"
#include "internal.h"
#include "sysio.h"

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

/* Threads that build the staging directory (submit.c, design note 5);
 * 0 lets q_submit decide. */
extern int q__submit_threads;

/*
 * A job with every kind of entry: `n` independent chunks, `n` chunks each
 * waiting for one of them (element-wise), 4 chunks waiting for all of
 * them through a barrier, and one chunk waiting for the first ten.
 */
static struct q_job *tjob_mixed(uint64_t n)
{
	struct q_job *job = q_job_new("mixed");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	a->count = n;
	a->array = true;
	a->chunk_size = 1;
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	b->count = n;
	b->array = true;
	b->chunk_size = 1;
	q_group_add_after(b, &(struct q_after){ .first = 0, .count = n,
						.mode = Q_AFTER_EACH,
						.label = "a[{i}]" });
	struct q_group *c = q_job_add_group(job, "c", Q_TASK_COMMAND);
	q_group_add_argv(c, "true");
	c->count = 4;
	c->array = true;
	c->chunk_size = 1;
	q_group_add_after(c, &(struct q_after){ .first = 0, .count = n,
						.mode = Q_AFTER_ALL,
						.label = "a" });
	struct q_group *d = q_job_add_group(job, "d", Q_TASK_COMMAND);
	q_group_add_argv(d, "true");
	q_group_add_after(d, &(struct q_after){ .first = 0, .count = 10,
						.mode = Q_AFTER_ALL,
						.label = "a[0-9]" });
	return job;
}

/* How the files of a tree share inodes. */
struct links {
	int linked;     /* files with more than one link */
	nlink_t most;   /* the most links of any file */
};

/* Every path below `dir` (relative, sorted, one per line). */
static void list_tree(const char *dir, const char *rel, struct q_buf *out,
		      struct links *links)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	cr_assert_geq(n, 0, "%s", path);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (strcmp(name, ".") && strcmp(name, "..")) {
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s%s%s", rel,
				 *rel ? "/" : "", name);
			q__buf_printf(out, "%s\n", sub);
			char full[1100];
			snprintf(full, sizeof(full), "%s/%s", dir, sub);
			struct stat st;
			cr_assert_eq(lstat(full, &st), 0, "%s", full);
			if (S_ISDIR(st.st_mode)) {
				list_tree(dir, sub, out, links);
			} else {
				links->linked += st.st_nlink > 1;
				if (st.st_nlink > links->most)
					links->most = st.st_nlink;
			}
		}
		free(names[i]);
	}
	free(names);
}

static char *job_tree(struct tspool *t, uint64_t id, struct links *links)
{
	char dir[256];
	struct q_buf b = Q_BUF_INIT;
	snprintf(dir, sizeof(dir), "%s/jobs/%llu", t->path,
		 (unsigned long long)id);
	*links = (struct links){ 0 };
	list_tree(dir, "", &b, links);
	return q__buf_detach(&b);
}

/* The same job staged by one thread and by four makes the same tree, the
 * markers are shared links, and no template is left anywhere. */
Test(submit, threads_build_the_same_tree_as_one)
{
	struct tspool t;
	tspool_init(&t);
	q__submit_threads = 1;
	uint64_t one = tsubmit(&t, tjob_mixed(600));
	q__submit_threads = 4;
	uint64_t four = tsubmit(&t, tjob_mixed(600));
	q__submit_threads = 0;
	struct links l1, l4;
	char *t1 = job_tree(&t, one, &l1);
	char *t4 = job_tree(&t, four, &l4);
	cr_assert_str_eq(t1, t4);
	cr_assert(strstr(t1, "marker") == NULL, "a template was left");
	cr_assert(strstr(t1, "wait/c600/b0/c0\n") != NULL);
	cr_assert(strstr(t1, "wait/c1200/xb0/x0\n") != NULL);
	cr_assert(strstr(t1, "wait/x0/b0/c599\n") != NULL);
	cr_assert(strstr(t1, "wait/c1204/b0/c9\n") != NULL);
	cr_assert(strstr(t1, "ready/0/0.a1\n") != NULL);
	/* One thread: todo entries for 1205 chunks and 600 + 600 + 10 + 4
	 * units are links of a few files, 512 links each at most. Four
	 * threads: the same, except that a thread's last template may have
	 * got a single link. */
	cr_assert_eq(l1.linked, 1205 + 1214);
	cr_assert_eq(l1.most, 512);
	cr_assert_geq(l4.linked + 4, l1.linked);
	cr_assert_leq(l4.most, 512);
	struct q_jobh *h;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_jobh_open(t.sp, four, &h, &err), 0, "%s", err.message);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.ready, 600);
	q_jobh_close(h);
	char path[256];
	snprintf(path, sizeof(path), "%s/tmp", t.path);
	cr_assert_eq(count_entries(path), 0, "staging left behind");
	free(t1);
	free(t4);
	tspool_fini(&t);
}

static int no_links(int a, const char *from, int b, const char *to, int flags)
{
	(void)a, (void)from, (void)b, (void)to, (void)flags;
	errno = EPERM;
	return -1;
}

/* Allows 7 links per file, as a file system with a low limit would. */
static int few_links(int a, const char *from, int b, const char *to,
		     int flags)
{
	struct stat st;
	if (fstatat(a, from, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_nlink >= 8) {
		errno = EMLINK;
		return -1;
	}
	return q__sysio_libc.linkat(a, from, b, to, flags);
}

/* Without hard links, or with few, markers are made all the same. */
Test(submit, markers_without_hard_links_or_with_few)
{
	struct tspool t;
	tspool_init(&t);
	q__submit_threads = 2;
	uint64_t plain = tsubmit(&t, tjob_mixed(200));
	q__sysio.linkat = no_links;
	uint64_t unlinked = tsubmit(&t, tjob_mixed(200));
	q__sysio.linkat = few_links;
	uint64_t few = tsubmit(&t, tjob_mixed(200));
	q__sysio = q__sysio_libc;
	q__submit_threads = 0;
	struct links lp, lu, lf;
	char *tp = job_tree(&t, plain, &lp);
	char *tu = job_tree(&t, unlinked, &lu);
	char *tf = job_tree(&t, few, &lf);
	cr_assert_str_eq(tp, tu);
	cr_assert_str_eq(tp, tf);
	cr_assert_gt(lp.most, 7);
	cr_assert_eq(lu.linked, 0);
	cr_assert_eq(lf.most, 7, "%u links", (unsigned)lf.most);
	free(tp);
	free(tu);
	free(tf);
	tspool_fini(&t);
}

/*
 * With four threads staging, a failure at any point (here every 37th
 * spool-changing call, so the test stays short) leaves the spool as it
 * was: the threads stop, the staging directory goes.
 */
Test(submit, threaded_failure_leaves_the_spool_unchanged, .timeout = 120)
{
	struct tspool t;
	tspool_init(&t);
	bool completed = false;
	for (unsigned k = 1; k < 4000 && !completed; k += 37) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			char spec[32];
			snprintf(spec, sizeof(spec), "fail:%u+:ENOSPC", k);
			setenv("SPOOLQ_FAULT", spec, 1);
			q__sysio_fault_reset();
			q__submit_threads = 4;
			struct q_error err = Q_ERROR_INIT;
			if (q_submit(t.sp, tjob_mixed(150), &err) == 0)
				_exit(0);
			_exit(strstr(err.message, "spool") ? 4 : 5);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status));
		int code = WEXITSTATUS(status);
		cr_assert(code == 0 || code == 4, "k=%u: exit %d", k, code);
		/* No job, or the whole job (a failure after the publishing
		 * rename is reported, but the job exists). */
		char path[256];
		snprintf(path, sizeof(path), "%s/tmp", t.path);
		cr_assert_eq(count_entries(path), 0, "k=%u: staging left", k);
		snprintf(path, sizeof(path), "%s/jobs", t.path);
		int n = count_entries(path);
		cr_assert(n == 0 || n == 1, "k=%u: %d jobs", k, n);
		cr_assert(code == 4 || n == 1, "k=%u: exit 0, no job", k);
		if (n == 1) {
			struct q_jobh *h;
			struct q_error err = Q_ERROR_INIT;
			cr_assert_eq(q_jobh_open(t.sp, 1, &h, &err), 0,
				     "k=%u: %s", k, err.message);
			struct q_counts c;
			cr_assert_eq(q_job_counts(h, &c, &err), 0);
			cr_assert_eq(c.ready, 150, "k=%u", k);
			q_jobh_close(h);
			completed = true;
		}
	}
	cr_assert(completed, "the submission never completed");
	tspool_fini(&t);
}
