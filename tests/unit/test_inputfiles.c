/*
 * test_inputfiles.c: a command task's inputs as files (workers/
 * inputfiles.c): which path each kind of result gets, the environment,
 * {inputs} in argv and shell lines, the limits, and that the temporary
 * files are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "helpers.h"
#include "jobh_internal.h"
#include "inputfiles.h"

/* Finish job `id` (one chunk) with item k's result `results[k]` (of
 * lengths[k] bytes; NULL for no output). */
static void finish_with(struct tspool *t, uint64_t id, const char **results,
			const size_t *lengths, uint64_t n)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_claim claim;
	struct q_jobh *h = tclaim(t, id, &claim);
	struct q_outcome *o = calloc(n, sizeof(*o));
	for (uint64_t k = 0; k < n; k++) {
		o[k].item = k;
		o[k].state = Q_STATE_DONE;
		o[k].start_ns = o[k].end_ns = 1;
		if (!results || !results[k])
			continue;
		int fd = q_spool_tmp_create(t->sp, "out", o[k].out.tmp,
					    sizeof(o[k].out.tmp));
		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, results[k], lengths[k]),
			     (ssize_t)lengths[k]);
		cr_assert_eq(close(fd), 0);
	}
	cr_assert_eq(q_commit(h, t->cache, &claim, "tester.1.000001", o, n,
			      &err), 1, "%s", err.message);
	free(o);
}

/* A job of one group of `n` items in one chunk. */
static uint64_t one_chunk_job(struct tspool *t, const char *name, uint64_t n)
{
	struct q_job *job = tjob_simple(name, n);
	job->groups[0].chunk_size = n;
	return tsubmit(t, job);
}

/* A job with one item after all of job `dep`'s `n` items. */
static uint64_t after_job(struct tspool *t, uint64_t dep, uint64_t n)
{
	struct q_job *job = tjob_simple("use", 1);
	struct q_after a = { .job = dep, .first = 0, .count = n,
			     .mode = Q_AFTER_ALL, .label = (char *)"dep",
			     .barrier = -1 };
	q_group_add_after(&job->groups[0], &a);
	return tsubmit(t, job);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	char *buf = malloc((1 << 20) + 1);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void prepare(struct tspool *t, uint64_t id, struct q_input_files *in)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_not_null(h, "%s", err.message);
	cr_assert_eq(q_input_files_prepare(in, h, t->cache, 0, &err), 0, "%s",
		     err.message);
}

Test(inputfiles, each_kind_of_result_gets_a_readable_path)
{
	struct tspool t;
	tspool_init(&t);
	size_t big = 100000;
	char *bigtext = malloc(big);
	memset(bigtext, 'x', big);
	const char *results[3] = { "a0\n", NULL, bigtext };
	const size_t lengths[3] = { 3, 0, big };
	uint64_t gen = one_chunk_job(&t, "gen", 3);
	finish_with(&t, gen, results, lengths, 3);
	uint64_t use = after_job(&t, gen, 3);
	int before = ttmp_entries(&t);

	struct q_input_files in = Q_INPUT_FILES_INIT;
	prepare(&t, use, &in);
	cr_assert_eq(in.n, 3);
	cr_assert(!in.listed);
	char prefix[160];
	size_t len;
	/* Inline: a temporary copy in tmp/. */
	snprintf(prefix, sizeof(prefix), "%s/tmp/", t.path);
	cr_assert(strncmp(in.paths[0], prefix, strlen(prefix)) == 0, "%s",
		  in.paths[0]);
	char *text = slurp(in.paths[0], &len);
	cr_assert_str_eq(text, "a0\n");
	free(text);
	/* Empty: /dev/null, nothing created. */
	cr_assert_str_eq(in.paths[1], "/dev/null");
	/* Big: the spool's own file. */
	snprintf(prefix, sizeof(prefix), "%s/jobs/%llu/out/", t.path,
		 (unsigned long long)gen);
	cr_assert(strncmp(in.paths[2], prefix, strlen(prefix)) == 0, "%s",
		  in.paths[2]);
	text = slurp(in.paths[2], &len);
	cr_assert_eq(len, big);
	cr_assert_eq(memcmp(text, bigtext, big), 0);
	free(text);
	cr_assert_eq(ttmp_entries(&t), before + 1);

	char **env = q_input_files_env(&in);
	cr_assert_str_eq(env[0], "Q_INPUTS=3");
	char want[512];
	snprintf(want, sizeof(want), "Q_INPUT_2=%s", in.paths[2]);
	cr_assert_str_eq(env[3], want);
	cr_assert_null(env[4]);
	for (int i = 0; env[i]; i++)
		free(env[i]);
	free(env);

	char *copy = strdup(in.paths[0]);
	q_input_files_release(&in);
	struct stat st;
	cr_assert_eq(stat(copy, &st), -1, "%s was not removed", copy);
	cr_assert_eq(ttmp_entries(&t), before);
	cr_assert(stat(prefix, &st) == 0, "the spool's own output stays");
	free(copy);
	free(bigtext);
	tspool_fini(&t);
}

Test(inputfiles, inputs_expand_in_argv_and_shell_lines)
{
	struct q_error err = Q_ERROR_INIT;
	char *paths[2] = { (char *)"/s/a", (char *)"/s/it's b" };
	struct q_input_files in = Q_INPUT_FILES_INIT;
	in.n = 2;
	in.paths = paths;

	char *argv[] = { (char *)"cat", (char *)"{inputs}", (char *)"-",
			 (char *)"x={inputs};", NULL };
	char **out;
	size_t n;
	cr_assert_eq(q_input_files_argv(&in, argv, 4, &out, &n, &err), 0);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(out[0], "cat");
	cr_assert_str_eq(out[1], "/s/a");
	cr_assert_str_eq(out[2], "/s/it's b");
	cr_assert_str_eq(out[3], "-");
	cr_assert_str_eq(out[4], "x=/s/a /s/it's b;");
	cr_assert_null(out[5]);
	for (size_t i = 0; i < n; i++)
		free(out[i]);
	free(out);

	char *line;
	cr_assert_eq(q_input_files_line(&in, "wc {inputs} | sort", &line,
					&err), 0);
	cr_assert_str_eq(line, "wc '/s/a' '/s/it'\\''s b' | sort");
	free(line);

	/* No inputs: a whole {inputs} argument disappears. */
	in.n = 0;
	cr_assert_eq(q_input_files_argv(&in, argv, 2, &out, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(out[0], "cat");
	free(out[0]);
	free(out);

	char *q = q_shell_quote("'");
	cr_assert_str_eq(q, "''\\'''");
	free(q);
}

Test(inputfiles, listed_inputs_refuse_the_placeholder)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_input_files in = Q_INPUT_FILES_INIT;
	in.n = 20000;
	in.listed = true;
	in.list_path = (char *)"/s/tmp/list";
	char *argv[] = { (char *)"cat", (char *)"{inputs}", NULL };
	char **out;
	size_t n;
	cr_assert_eq(q_input_files_argv(&in, argv, 2, &out, &n, &err), -E2BIG);
	cr_assert(strstr(err.message, "20000 inputs, too many for {inputs}"),
		  "%s", err.message);
	cr_assert(strstr(err.message, "$Q_INPUTS_FILE"), "%s", err.message);
	char *line;
	q_error_clear(&err);
	cr_assert_eq(q_input_files_line(&in, "cat {inputs}", &line, &err),
		     -E2BIG);
	/* Without the placeholder the command runs as it is. */
	cr_assert_eq(q_input_files_argv(&in, argv, 1, &out, &n, &err), 0);
	cr_assert_eq(n, 1);
	free(out[0]);
	free(out);
	char **env = q_input_files_env(&in);
	cr_assert_str_eq(env[0], "Q_INPUTS=20000");
	cr_assert_str_eq(env[1], "Q_INPUTS_FILE=/s/tmp/list");
	cr_assert_null(env[2]);
	free(env[0]);
	free(env[1]);
	free(env);
}

/* n empty results (/dev/null each): listed or not, by count and bytes. */
static void limit_case(uint64_t n, bool listed)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t gen = one_chunk_job(&t, "gen", n);
	finish_with(&t, gen, NULL, NULL, n);
	/* The commit's open segment file keeps a tmp/ name until closed. */
	q__segment_close(t.sp);
	uint64_t use = after_job(&t, gen, n);
	struct q_input_files in = Q_INPUT_FILES_INIT;
	prepare(&t, use, &in);
	cr_assert_eq(in.n, n);
	cr_assert_eq(in.listed, listed, "%llu inputs",
		     (unsigned long long)n);
	if (listed) {
		cr_assert_null(in.paths);
		size_t len;
		char *text = slurp(in.list_path, &len);
		cr_assert_eq(len, n * strlen("/dev/null\n"));
		cr_assert(strncmp(text, "/dev/null\n/dev/null\n", 20) == 0);
		free(text);
		cr_assert_eq(ttmp_entries(&t), 1);
	} else {
		cr_assert_str_eq(in.paths[n - 1], "/dev/null");
		cr_assert_eq(ttmp_entries(&t), 0);
	}
	q_input_files_release(&in);
	cr_assert_eq(ttmp_entries(&t), 0);
	tspool_fini(&t);
}

/* 9000 x "'/dev/null' " is 108,000 bytes: under 112 KiB. */
Test(inputfiles, under_both_limits_one_by_one) { limit_case(9000, false); }
/* 10,000 is the count limit, but 120,000 bytes are over 112 KiB. */
Test(inputfiles, over_the_byte_limit_listed) { limit_case(10000, true); }
Test(inputfiles, over_the_count_limit_listed) { limit_case(10001, true); }

Test(inputfiles, a_missing_record_is_an_error)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t gen = one_chunk_job(&t, "gen", 2);
	uint64_t use = after_job(&t, gen, 2);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, use, &err);
	struct q_input_files in = Q_INPUT_FILES_INIT;
	cr_assert_eq(q_input_files_prepare(&in, h, t.cache, 0, &err), -ENOENT);
	cr_assert(strstr(err.message, "has no result yet"), "%s", err.message);
	q_input_files_release(&in);
	cr_assert_eq(ttmp_entries(&t), 0);
	tspool_fini(&t);
}
