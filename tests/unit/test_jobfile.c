/*
 * test_jobfile.c: libq/jobfile.c: the job file (jobs/<id>/job) and the
 * spec (jobs/<id>/spec): formatting, reading back, and refusing damage.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "text.h"

#define WHERE "/spool/jobs/12/job"
#define LINES "echo 1\necho 'two words'\n"

/*
 * A job with two groups of each kind, arguments, environment, working
 * directories and dependencies holding spaces, newlines, '%', non-ASCII
 * and empty strings, laid out by q_job_finalize (which adds barriers).
 */
static struct q_job *rich_job(void)
{
	struct q_job *job = q_job_new("sweep.v2");
	struct q_group *g;
	struct q_after a = { 0 };

	job->uid = 4242;
	job->submitted_ns = 1700000000123456789;
	free(job->submit_host);
	job->submit_host = strdup("node 7\n%x");

	g = q_job_add_group(job, "prep", Q_TASK_COMMAND);
	q_group_add_argv(g, "sh");
	q_group_add_argv(g, "-c");
	q_group_add_argv(g, "echo 'a b' > out{i}.txt\n\t100% done");
	q_group_add_argv(g, "");
	q_group_add_env(g, "PATH=/bin:/usr/bin");
	q_group_add_env(g, "WEIRD=%20 \x01\x7f\xc3\xa9");
	g->cwd = strdup("/tmp/dir with space/\xc3\xbc");

	g = q_job_add_group(job, "run", Q_TASK_COMMAND);
	q_group_add_argv(g, "run");
	q_group_add_argv(g, "--x={i}");
	q_group_add_argv(g, "%-");
	g->count = 100;
	g->array = true;
	g->index_base = -5;
	g->threads = 4;
	g->chunk_size = 7;
	a = (struct q_after){ .job = 0, .first = 0, .count = 1,
			      .mode = Q_AFTER_ALL, .label = "prep" };
	q_group_add_after(g, &a);
	a = (struct q_after){ .job = 3, .first = 10, .count = 100,
			      .mode = Q_AFTER_EACH, .label = "3:run[10-109]" };
	q_group_add_after(g, &a);
	a = (struct q_after){ .job = 9, .first = 0, .count = 50,
			      .mode = Q_AFTER_ALL, .label = "old job\nwith %" };
	q_group_add_after(g, &a);
	/* Item k waits for items 10k..10k+11 of job 4. */
	a = (struct q_after){ .job = 4, .first = 0, .count = 1002,
			      .mode = Q_AFTER_MAP, .stride = 10, .width = 12,
			      .label = "4:blocks[{i}*10..{i}*10+11]" };
	q_group_add_after(g, &a);

	g = q_job_add_group(job, "k1", Q_TASK_KERNEL);
	g->kernel = strdup("matmul");
	q_group_add_arg(g, "n=100");
	q_group_add_arg(g, "path=/a b/c%d");
	q_group_add_arg(g, "empty=");
	g->count = 3;
	g->array = true;
	a = (struct q_after){ .job = 0, .first = 1, .count = 100,
			      .mode = Q_AFTER_ALL, .label = "run" };
	q_group_add_after(g, &a);

	g = q_job_add_group(job, "k2", Q_TASK_KERNEL);
	g->kernel = strdup("sum");
	q_group_add_env(g, "OMP_NUM_THREADS=2");
	g->threads = 2;

	g = q_job_add_group(job, "l1", Q_TASK_LINES);
	g->cwd = strdup("/work");
	g = q_job_add_group(job, "l2", Q_TASK_LINES);
	g->chunk_size = 1;
	a = (struct q_after){ .job = 0, .first = 104, .count = 2,
			      .mode = Q_AFTER_EACH, .label = "l1" };
	q_group_add_after(g, &a);

	q_job_set_lines(job, strdup(LINES), strlen(LINES));
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_finalize(job, &err), 0, "%s", err.message);
	cr_assert_eq(job->nbarriers, 2, "the example needs barriers");
	return job;
}

static char *format_meta(const struct q_job *job, const char *stage,
			 size_t *len)
{
	struct q_buf b = Q_BUF_INIT;
	q__job_format_meta(job, stage, &b);
	*len = b.len;
	return q__buf_detach(&b);
}

static char *format_spec(const struct q_job *job, size_t *len)
{
	struct q_buf b = Q_BUF_INIT;
	q__job_format_spec(job, &b);
	*len = b.len;
	return q__buf_detach(&b);
}

/* Parse a private copy of text[0..len) (the parsers split it in place). */
static int parse_meta(struct q_job *job, const char *text, size_t len,
		      char *stage, size_t stage_size, struct q_error *err)
{
	char *copy = malloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	int ret = q__job_parse_meta(job, copy, len, stage, stage_size, WHERE,
				    err);
	free(copy);
	return ret;
}

static int parse_spec(struct q_job *job, const char *text, size_t len,
		      struct q_error *err)
{
	char *copy = malloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	int ret = q__job_parse_spec(job, copy, len, WHERE, err);
	free(copy);
	return ret;
}

static struct q_job *empty_job(void)
{
	struct q_job *job = calloc(1, sizeof(*job));
	cr_assert_not_null(job);
	return job;
}

/* Parsing must fail as a damaged file with WHERE, "line <line>" and
 * `what` in the message. */
static void expect_damaged(int ret, const struct q_error *err,
			   unsigned line, const char *what)
{
	char want[32];

	cr_assert_lt(ret, 0, "damage accepted (%s)", what);
	cr_assert_eq(err->kind, Q_ERR_SYSTEM);
	cr_assert(strstr(err->message, "'" WHERE "' is damaged"), "%s",
		  err->message);
	snprintf(want, sizeof(want), "line %u: ", line);
	cr_assert(strstr(err->message, want), "expected '%s' in: %s", want,
		  err->message);
	cr_assert(strstr(err->message, what), "expected '%s' in: %s", what,
		  err->message);
}

static void meta_damaged(const char *text, unsigned line, const char *what)
{
	struct q_job *job = empty_job();
	struct q_error err = Q_ERROR_INIT;
	int ret = parse_meta(job, text, strlen(text), NULL, 0, &err);
	expect_damaged(ret, &err, line, what);
	q_job_release(job);
}

static void spec_damaged(const char *text, unsigned line, const char *what)
{
	struct q_job *job = empty_job();
	struct q_error err = Q_ERROR_INIT;
	int ret = parse_spec(job, text, strlen(text), &err);
	expect_damaged(ret, &err, line, what);
	q_job_release(job);
}

static void expect_strv_eq(char **a, size_t na, char **b, size_t nb)
{
	cr_assert_eq(na, nb);
	for (size_t i = 0; i < na; i++)
		cr_assert_str_eq(a[i], b[i]);
}

static void expect_opt_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		cr_assert_eq(a, b);
	else
		cr_assert_str_eq(a, b);
}

/* ---- round trips ---- */

Test(jobfile, meta_round_trip)
{
	struct q_job *job = rich_job();
	struct q_job *back = empty_job();
	struct q_error err = Q_ERROR_INIT;
	char stage[64] = "";
	size_t len;
	char *text = format_meta(job, "stage token\t1", &len);

	cr_assert_eq(parse_meta(back, text, len, stage, sizeof(stage), &err),
		     0, "%s", err.message);
	cr_assert_str_eq(back->name, "sweep.v2");
	cr_assert_str_eq(back->submit_host, "node 7\n%x");
	cr_assert_eq(back->uid, 4242);
	cr_assert_eq(back->submitted_ns, 1700000000123456789);
	cr_assert_eq(back->nitems, job->nitems);
	cr_assert_eq(back->nchunks, job->nchunks);
	cr_assert_eq(back->nshards, job->nshards);
	cr_assert_str_eq(stage, "stage token\t1");
	/* No spec data comes from the job file. */
	cr_assert_eq(back->ngroups, 0);
	free(text);
	q_job_release(back);
	q_job_release(job);
}

Test(jobfile, meta_round_trip_extremes)
{
	struct q_job *job = rich_job();
	struct q_job *back = empty_job();
	struct q_error err = Q_ERROR_INIT;
	size_t len;

	job->uid = UINT32_MAX;
	job->submitted_ns = INT64_MIN;
	char *text = format_meta(job, "", &len);
	cr_assert_eq(parse_meta(back, text, len, NULL, 0, &err), 0, "%s",
		     err.message);
	cr_assert_eq(back->uid, UINT32_MAX);
	cr_assert_eq(back->submitted_ns, INT64_MIN);
	free(text);
	q_job_release(back);
	q_job_release(job);
}

Test(jobfile, spec_round_trip)
{
	struct q_job *job = rich_job();
	struct q_job *back = empty_job();
	struct q_error err = Q_ERROR_INIT;
	size_t len, len2;
	char *text = format_spec(job, &len);

	cr_assert_eq(parse_spec(back, text, len, &err), 0, "%s", err.message);
	cr_assert_eq(back->ngroups, job->ngroups);
	for (size_t i = 0; i < job->ngroups; i++) {
		const struct q_group *a = &job->groups[i];
		const struct q_group *b = &back->groups[i];
		cr_assert_str_eq(b->name, a->name);
		cr_assert_eq(b->kind, a->kind, "group %zu", i);
		cr_assert_eq(b->count, a->count, "group %zu", i);
		cr_assert_eq(b->index_base, a->index_base);
		cr_assert_eq(b->array, a->array);
		cr_assert_eq(b->threads, a->threads);
		cr_assert_eq(b->chunk_size, a->chunk_size);
		expect_strv_eq(b->argv, b->argc, a->argv, a->argc);
		expect_strv_eq(b->args, b->nargs, a->args, a->nargs);
		expect_strv_eq(b->env, b->nenv, a->env, a->nenv);
		expect_opt_str_eq(b->kernel, a->kernel);
		expect_opt_str_eq(b->cwd, a->cwd);
		cr_assert_eq(b->nafter, a->nafter);
		for (size_t k = 0; k < a->nafter; k++) {
			cr_assert_eq(b->after[k].job, a->after[k].job);
			cr_assert_eq(b->after[k].first, a->after[k].first);
			cr_assert_eq(b->after[k].count, a->after[k].count);
			cr_assert_eq(b->after[k].mode, a->after[k].mode);
			cr_assert_eq(b->after[k].stride, a->after[k].stride);
			cr_assert_eq(b->after[k].width, a->after[k].width);
			cr_assert_eq(b->after[k].barrier, a->after[k].barrier);
			cr_assert_str_eq(b->after[k].label, a->after[k].label);
		}
	}
	cr_assert_eq(back->nbarriers, job->nbarriers);
	for (size_t i = 0; i < job->nbarriers; i++) {
		cr_assert_eq(back->barriers[i].job, job->barriers[i].job);
		cr_assert_eq(back->barriers[i].first, job->barriers[i].first);
		cr_assert_eq(back->barriers[i].count, job->barriers[i].count);
	}
	/* A few values spelled out, in case both sides are wrong alike. */
	cr_assert_str_eq(back->groups[0].argv[2],
			 "echo 'a b' > out{i}.txt\n\t100% done");
	cr_assert_str_eq(back->groups[0].argv[3], "");
	cr_assert_str_eq(back->groups[1].argv[2], "%-");
	cr_assert_str_eq(back->groups[1].after[2].label, "old job\nwith %");
	cr_assert_eq(back->groups[1].after[1].mode, Q_AFTER_EACH);
	cr_assert_eq(back->groups[1].index_base, -5);

	/* The reader lays the job out the same way. */
	q_job_set_lines(back, strdup(LINES), strlen(LINES));
	cr_assert_eq(q__job_layout(back, &err), 0, "%s", err.message);
	cr_assert_eq(back->nitems, job->nitems);
	cr_assert_eq(back->nchunks, job->nchunks);
	cr_assert_eq(back->nshards, job->nshards);

	/* Formatting what was read gives the same bytes. */
	char *again = format_spec(back, &len2);
	cr_assert_eq(len2, len);
	cr_assert_str_eq(again, text);
	free(again);
	free(text);
	q_job_release(back);
	q_job_release(job);
}

/* ---- damage ---- */

Test(jobfile, truncated_meta_is_damaged)
{
	struct q_job *job = rich_job();
	size_t len;
	char *text = format_meta(job, "st", &len);

	/* Every cut before "end" (the final newline alone may go). */
	for (size_t cut = 0; cut + 1 < len; cut++) {
		struct q_job *back = empty_job();
		struct q_error err = Q_ERROR_INIT;
		int ret = parse_meta(back, text, cut, NULL, 0, &err);
		cr_assert_lt(ret, 0, "cut at %zu accepted", cut);
		cr_assert_eq(err.kind, Q_ERR_SYSTEM);
		cr_assert(strstr(err.message, WHERE), "%s", err.message);
		cr_assert(strstr(err.message, "line "), "%s", err.message);
		q_job_release(back);
	}
	free(text);
	q_job_release(job);
}

Test(jobfile, truncated_spec_is_damaged)
{
	struct q_job *job = rich_job();
	size_t len;
	char *text = format_spec(job, &len);

	for (size_t cut = 0; cut + 1 < len; cut++) {
		struct q_job *back = empty_job();
		struct q_error err = Q_ERROR_INIT;
		int ret = parse_spec(back, text, cut, &err);
		cr_assert_lt(ret, 0, "cut at %zu accepted", cut);
		cr_assert_eq(err.kind, Q_ERR_SYSTEM);
		cr_assert(strstr(err.message, WHERE), "%s", err.message);
		cr_assert(strstr(err.message, "line "), "%s", err.message);
		q_job_release(back);
	}
	free(text);
	q_job_release(job);
}

Test(jobfile, truncation_messages)
{
	meta_damaged("", 0, "not a format-1 job file");
	meta_damaged("spoolq-job 1\nname a\ngroups 1\nshards 1\n", 4,
		     "incomplete job file");
	spec_damaged("spoolq-spec 1\ngroup a cmd 1 0 0 1 1\nargv x\n", 3,
		     "truncated spec");
}

Test(jobfile, wrong_magic)
{
	meta_damaged("spoolq-job 2\nend\n", 1, "not a format-1 job file");
	meta_damaged("spoolq-jbo 1\nend\n", 1, "not a format-1 job file");
	meta_damaged("spoolq-spec 1\nend\n", 1, "not a format-1 job file");
	meta_damaged("spoolq-job 1 x\nend\n", 1, "not a format-1 job file");
	spec_damaged("spoolq-job 1\nend\n", 1, "not a format-1 spec");
	spec_damaged("spoolq-spec 01\nend\n", 1, "not a format-1 spec");
}

/* A job file whose line 4 is `line`. */
static void meta_line4_damaged(const char *line, const char *what)
{
	char text[256];
	snprintf(text, sizeof(text),
		 "spoolq-job 1\nname a\nhost h\n%s\ngroups 1\nshards 1\n"
		 "end\n", line);
	meta_damaged(text, 4, what);
}

Test(jobfile, bad_numbers_in_the_job_file)
{
	static const char *const bad[] = {
		"items 12x", "items -1", "items 01", "items ",
		"chunks 18446744073709551616", "uid 4294967296", "uid -1",
		"shards 0", "shards 257", "groups x", "barriers 1.5",
		"submitted 1e9", "submitted --5",
		"submitted 9223372036854775808",
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		meta_line4_damaged(bad[i], strcmp(bad[i], "items ") == 0
						   ? "malformed line"
						   : "bad number");
	meta_line4_damaged("name a%zz", "bad escape");
	meta_line4_damaged("host %00", "bad escape");
	meta_line4_damaged("items 1 2", "malformed line");
}

/* A spec whose line 3 is `line`. */
static void spec_line3_damaged(const char *line, const char *what)
{
	char text[256];
	snprintf(text, sizeof(text),
		 "spoolq-spec 1\ngroup a cmd 1 0 0 1 1\n%s\nend\n", line);
	spec_damaged(text, 3, what);
}

Test(jobfile, bad_groups_in_the_spec)
{
	static const char *const bad[] = {
		"group b cmd 0 0 0 1 1",               /* no items */
		"group b cmd 1099511627777 0 0 1 1",   /* too many items */
		"group b cmd 1 0 2 1 1",               /* array not 0/1 */
		"group b cmd 1 0 0 0 1",               /* no threads */
		"group b cmd 1 0 0 4097 1",            /* too many threads */
		"group b cmd 1 0 0 1 0",               /* chunk size 0 */
		"group b shell 1 0 0 1 1",             /* unknown kind */
		"group b cmd 1 x 0 1 1",               /* bad index base */
		"group b cmd 1 0 0 1",                 /* a token short */
		"group b cmd 1 0 0 1 1 9",             /* a token long */
		"group b cmd -1 0 0 1 1",
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		spec_line3_damaged(bad[i], "malformed group");
	spec_line3_damaged("group b%zz cmd 1 0 0 1 1", "bad escape");
}

/* Found by tests/fuzz/fuzz_record: a group whose last index does not fit
 * an int64 was accepted, and q_job_index_of overflowed on it. A lines
 * group (a --tasks job) is indexed from 0 by definition. */
Test(jobfile, group_indexes_must_fit)
{
	spec_line3_damaged("group b cmd 2 9223372036854775807 1 1 1",
			   "group indexes out of range");
	spec_line3_damaged("group b cmd 1099511627776 9223372036854775000 1 1 1",
			   "group indexes out of range");
	spec_line3_damaged("group b lines 3 5 1 1 1",
			   "group indexes out of range");

	/* The largest base that fits still reads, and so do negative ones. */
	struct q_error err = Q_ERROR_INIT;
	static const char *const good[] = {
		"spoolq-spec 1\ngroup a cmd 2 9223372036854775806 1 1 1\nend\n",
		"spoolq-spec 1\ngroup a cmd 3 -9223372036854775808 1 1 1\nend\n",
	};
	for (size_t i = 0; i < Q_ARRAY_SIZE(good); i++) {
		struct q_job *job = empty_job();
		cr_assert_eq(parse_spec(job, good[i], strlen(good[i]), &err), 0,
			     "%s", err.message);
		cr_assert_eq(q__job_layout(job, &err), 0, "%s", err.message);
		cr_assert_eq(q_job_index_of(job, job->groups[0].count - 1),
			     job->groups[0].index_base +
				     ((int64_t)job->groups[0].count - 1));
		q_job_release(job);
	}
}

Test(jobfile, bad_details_in_the_spec)
{
	static const char *const bad_after[] = {
		"after 0 0 1 some -1 x",       /* mode */
		"after 0 0 1 map:1:0 -1 x",    /* map of width 0 */
		"after 0 0 1 map:1 -1 x",      /* map without width */
		"after 0 0 1 map:x:1 -1 x",
		"after 0 0 1 all -2 x",        /* barrier below -1 */
		"after 0 0 1 all x x",
		"after x 0 1 all -1 x",
		"after 0 0 1 all -1",          /* no label */
		"after 0 0 1 all -1 x y",
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad_after); i++)
		spec_line3_damaged(bad_after[i], "malformed after");
	spec_line3_damaged("after 0 0 1 all -1 %0", "bad escape");
	spec_line3_damaged("barrier 0 0", "malformed barrier");
	spec_line3_damaged("barrier 0 0 x", "malformed barrier");
	spec_line3_damaged("argv a%00", "bad escape");
	spec_line3_damaged("env %", "bad escape");
	spec_line3_damaged("argv a b", "malformed line");
	spec_line3_damaged("argv", "malformed line");
	spec_line3_damaged("argv  a", "malformed line");
	spec_damaged("spoolq-spec 1\nargv x\nend\n", 2,
		     "task detail before any group");
}

Test(jobfile, after_referencing_a_missing_barrier)
{
	struct q_job *job = empty_job();
	struct q_error err = Q_ERROR_INIT;
	static const char ok[] = "spoolq-spec 1\ngroup a cmd 4 0 1 1 1\n"
				 "group b cmd 4 0 1 1 1\n"
				 "after 0 0 4 all 0 a\nbarrier 0 0 4\nend\n";

	/* With the barrier it reads... */
	cr_assert_eq(parse_spec(job, ok, strlen(ok), &err), 0, "%s",
		     err.message);
	cr_assert_eq(job->groups[1].after[0].barrier, 0);
	cr_assert_eq(job->nbarriers, 1);
	q_job_release(job);
	/* ...without it, or pointing past it, it is damaged. */
	spec_damaged("spoolq-spec 1\ngroup a cmd 4 0 1 1 1\n"
		     "group b cmd 4 0 1 1 1\nafter 0 0 4 all 0 a\nend\n", 5,
		     "dependency on a missing barrier");
	spec_damaged("spoolq-spec 1\ngroup a cmd 4 0 1 1 1\n"
		     "group b cmd 4 0 1 1 1\nafter 0 0 4 all 1 a\n"
		     "barrier 0 0 4\nend\n", 6,
		     "dependency on a missing barrier");
}

Test(jobfile, unknown_keys_are_ignored)
{
	struct q_job *job = empty_job();
	struct q_error err = Q_ERROR_INIT;
	char stage[16] = "";
	static const char meta[] =
		"spoolq-job 1\nname a\nfuture-key some%20value\nuid 7\n"
		"priority 3\nitems 4\nchunks 4\nshards 1\ngroups 1\n"
		"barriers 0\nstage s1\nend\n";
	static const char spec[] =
		"spoolq-spec 1\ngroup a cmd 4 0 1 1 1\ncolor blue\n"
		"argv true\nend\n";

	cr_assert_eq(parse_meta(job, meta, strlen(meta), stage, sizeof(stage),
				&err), 0, "%s", err.message);
	cr_assert_str_eq(job->name, "a");
	cr_assert_eq(job->uid, 7);
	cr_assert_eq(job->nitems, 4);
	cr_assert_eq(job->nshards, 1);
	cr_assert_str_eq(stage, "s1");
	q_job_release(job);

	job = empty_job();
	cr_assert_eq(parse_spec(job, spec, strlen(spec), &err), 0, "%s",
		     err.message);
	cr_assert_eq(job->ngroups, 1);
	cr_assert_eq(job->groups[0].argc, 1);
	cr_assert_str_eq(job->groups[0].argv[0], "true");
	q_job_release(job);
}

Test(jobfile, lines_after_end_are_not_read)
{
	struct q_job *job = empty_job();
	struct q_error err = Q_ERROR_INIT;
	static const char spec[] =
		"spoolq-spec 1\ngroup a cmd 1 0 0 1 1\nargv x\nend\n"
		"argv y\n";

	cr_assert_eq(parse_spec(job, spec, strlen(spec), &err), 0, "%s",
		     err.message);
	cr_assert_eq(job->groups[0].argc, 1);
	q_job_release(job);
}
