/*
 * test_job.c: libq/job.c: laying out items, chunks and shards, the lookups
 * built on the layout, barriers, validation, and {i} substitution; and
 * job references (q_job_resolve in libq/jobload.c: ids, names, prefixes).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "job_internal.h"

/* A command group of `count` items ("true"); chunk_size 0 = default. */
static struct q_group *add_cmd(struct q_job *job, const char *name,
			       uint64_t count, uint64_t chunk_size)
{
	struct q_group *g = q_job_add_group(job, name, Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	g->count = count;
	g->array = count > 1;
	g->chunk_size = chunk_size;
	return g;
}

static void add_after(struct q_group *g, uint64_t job, uint64_t first,
		      uint64_t count, enum q_after_mode mode,
		      const char *label)
{
	struct q_after a = { .job = job, .first = first, .count = count,
			     .mode = mode, .label = (char *)label };
	q_group_add_after(g, &a);
}

static void finalize_ok(struct q_job *job)
{
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_finalize(job, &err), 0, "%s", err.message);
	cr_assert_not(q_error_is_set(&err));
}

/* Finalize must fail as bad input with `want` in the message. */
static void finalize_refused(struct q_job *job, const char *want)
{
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_finalize(job, &err), -EINVAL, "accepted (%s)",
		     want);
	cr_assert_eq(err.kind, Q_ERR_INPUT);
	cr_assert(strstr(err.message, want), "expected '%s' in: %s", want,
		  err.message);
	q_job_release(job);
}

/* ---- layout ---- */

Test(job, small_group_layout)
{
	struct q_job *job = q_job_new("small");
	struct q_group *g = add_cmd(job, "run", 5, 0);

	finalize_ok(job);
	g = &job->groups[0];
	cr_assert_eq(job->nitems, 5);
	cr_assert_eq(g->first, 0);
	cr_assert_eq(g->chunk_size, 1);
	cr_assert_eq(g->first_chunk, 0);
	cr_assert_eq(g->nchunks, 5);
	cr_assert_eq(job->nchunks, 5);
	cr_assert_eq(job->nshards, 1);
	cr_assert_eq(job->nbarriers, 0);
	q_job_release(job);
}

Test(job, default_chunk_size_is_ceil_count_over_16384)
{
	static const struct { uint64_t count, chunk, nchunks; } cases[] = {
		{ 1, 1, 1 },
		{ 16383, 1, 16383 },
		{ 16384, 1, 16384 },
		{ 16385, 2, 8193 },
		{ 32768, 2, 16384 },
		{ 32769, 3, 10923 },
		{ 1000000, 62, 16130 },
		{ (uint64_t)1 << 40, (uint64_t)1 << 26, 16384 },
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(cases); i++) {
		struct q_job *job = q_job_new("big");
		add_cmd(job, "run", cases[i].count, 0);
		finalize_ok(job);
		const struct q_group *g = &job->groups[0];
		uint64_t want = (cases[i].count + Q_CHUNKS_PER_GROUP - 1) /
				Q_CHUNKS_PER_GROUP;
		cr_assert_eq(g->chunk_size, want, "count %llu",
			     (unsigned long long)cases[i].count);
		cr_assert_eq(g->chunk_size, cases[i].chunk);
		cr_assert_eq(g->nchunks, cases[i].nchunks);
		cr_assert_leq(g->nchunks, Q_CHUNKS_PER_GROUP);
		cr_assert_eq(job->nitems, cases[i].count);
		/* The last chunk holds the remainder. */
		uint64_t first, count;
		q_job_chunk_items(job, g->nchunks - 1, &first, &count);
		cr_assert_eq(first + count, cases[i].count);
		cr_assert_geq(count, 1);
		cr_assert_leq(count, g->chunk_size);
		q_job_release(job);
	}
}

Test(job, explicit_chunk_size)
{
	static const uint64_t want[][2] = { { 0, 3 }, { 3, 3 }, { 6, 3 },
					    { 9, 1 } };
	struct q_job *job = q_job_new("chunky");

	add_cmd(job, "run", 10, 3);
	finalize_ok(job);
	cr_assert_eq(job->groups[0].chunk_size, 3);
	cr_assert_eq(job->nchunks, 4);
	for (uint64_t c = 0; c < 4; c++) {
		uint64_t first, count;
		q_job_chunk_items(job, c, &first, &count);
		cr_assert_eq(first, want[c][0], "chunk %llu",
			     (unsigned long long)c);
		cr_assert_eq(count, want[c][1], "chunk %llu",
			     (unsigned long long)c);
	}
	/* A chunk size larger than the group is one chunk. */
	struct q_job *one = q_job_new("one");
	add_cmd(one, "run", 10, 100);
	finalize_ok(one);
	cr_assert_eq(one->nchunks, 1);
	q_job_release(one);
	q_job_release(job);
}

Test(job, shards_follow_chunks_and_are_capped)
{
	static const struct { uint64_t chunks; unsigned shards; } cases[] = {
		{ 1, 1 }, { 512, 1 }, { 513, 2 }, { 1024, 2 }, { 1025, 3 },
		{ 131072, 256 }, { 200000, 256 },
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(cases); i++) {
		struct q_job *job = q_job_new("sharded");
		add_cmd(job, "run", cases[i].chunks, 1);
		finalize_ok(job);
		cr_assert_eq(job->nshards, cases[i].shards, "%llu chunks",
			     (unsigned long long)cases[i].chunks);
		cr_assert_eq(q_job_shard_of(job, 0), 0);
		cr_assert_eq(q_job_shard_of(job, job->nchunks - 1),
			     (job->nchunks - 1) % job->nshards);
		q_job_release(job);
	}
}

Test(job, lookups_agree_on_every_item_of_a_multi_group_job)
{
	struct q_job *job = q_job_new("multi");
	struct q_group *g;
	char label[128];

	add_cmd(job, "prep", 1, 0);
	add_cmd(job, "odd", 7, 3);
	add_cmd(job, "wide", 20000, 0);               /* chunk size 2 */
	g = add_cmd(job, "neg", 5, 2);
	g->index_base = -2;
	g = q_job_add_group(job, "kern", Q_TASK_KERNEL);
	g->kernel = strdup("sum");
	g->count = 4;
	g->array = true;
	g->index_base = 100;
	add_cmd(job, "last", 1, 0);
	finalize_ok(job);

	cr_assert_eq(job->nitems, 1 + 7 + 20000 + 5 + 4 + 1);
	cr_assert_eq(job->nchunks, 1 + 3 + 10000 + 3 + 4 + 1);
	cr_assert_eq(job->nshards, (job->nchunks + 511) / 512);

	/* Groups tile the items and the chunks in order. */
	uint64_t item = 0, chunk = 0;
	for (size_t i = 0; i < job->ngroups; i++) {
		cr_assert_eq(job->groups[i].first, item);
		cr_assert_eq(job->groups[i].first_chunk, chunk);
		item += job->groups[i].count;
		chunk += job->groups[i].nchunks;
	}

	/* Chunks tile the items, never span a group, and are sized by their
	 * group. */
	uint64_t next = 0;
	for (uint64_t c = 0; c < job->nchunks; c++) {
		uint64_t first, count;
		q_job_chunk_items(job, c, &first, &count);
		const struct q_group *cg = q__job_group_of_chunk(job, c);
		cr_assert_eq(first, next, "chunk %llu",
			     (unsigned long long)c);
		cr_assert_geq(count, 1);
		cr_assert_leq(count, cg->chunk_size);
		cr_assert_eq(q_job_group_of(job, first), cg);
		cr_assert_eq(q_job_group_of(job, first + count - 1), cg);
		cr_assert_lt(q_job_shard_of(job, c), job->nshards);
		next = first + count;
	}
	cr_assert_eq(next, job->nitems);

	/* Every item: its group holds it, its chunk holds it, its index and
	 * label follow from the group. */
	for (uint64_t it = 0; it < job->nitems; it++) {
		const struct q_group *ig = q_job_group_of(job, it);
		cr_assert_not_null(ig);
		cr_assert_geq(it, ig->first);
		cr_assert_lt(it, ig->first + ig->count);
		uint64_t c = q_job_chunk_of(job, it), first, count;
		cr_assert_geq(c, ig->first_chunk);
		cr_assert_lt(c, ig->first_chunk + ig->nchunks);
		q_job_chunk_items(job, c, &first, &count);
		cr_assert(it >= first && it < first + count, "item %llu",
			  (unsigned long long)it);
		int64_t index = q_job_index_of(job, it);
		cr_assert_eq(index, ig->index_base + (int64_t)(it - ig->first));
		q_job_item_label(job, it, label, sizeof(label));
		char want[128];
		if (ig->array)
			snprintf(want, sizeof(want), "%s[%lld]", ig->name,
				 (long long)index);
		else
			snprintf(want, sizeof(want), "%s", ig->name);
		cr_assert_str_eq(label, want);
	}

	/* A few exact answers. */
	q_job_item_label(job, 0, label, sizeof(label));
	cr_assert_str_eq(label, "prep");
	q_job_item_label(job, 8, label, sizeof(label));
	cr_assert_str_eq(label, "wide[0]");
	q_job_item_label(job, 20008, label, sizeof(label));
	cr_assert_str_eq(label, "neg[-2]");
	q_job_item_label(job, 20013, label, sizeof(label));
	cr_assert_str_eq(label, "kern[100]");
	cr_assert_eq(q_job_chunk_of(job, 7), 3);        /* odd[6] */
	cr_assert_eq(q_job_chunk_of(job, 8), 4);        /* wide[0] */
	cr_assert_eq(q_job_chunk_of(job, 9), 4);        /* wide[1] */
	cr_assert_eq(q_job_chunk_of(job, 10), 5);       /* wide[2] */

	/* Outside the job. */
	cr_assert_null(q_job_group_of(job, job->nitems));
	cr_assert_null(q__job_group_of_chunk(job, job->nchunks));
	q_job_item_label(job, job->nitems, label, sizeof(label));
	cr_assert_str_eq(label, "#20018");
	q_job_release(job);
}

Test(job, lines_group_takes_its_count_from_the_lines)
{
	struct q_job *job = q_job_new("tasks");
	const char *text = "echo a\n\necho bb\necho c";
	char label[64];
	size_t len;

	q_job_add_group(job, "line", Q_TASK_LINES);
	/* The blank line is no item; the last line needs no newline. */
	q_job_set_lines(job, strdup(text), strlen(text));
	cr_assert_eq(job->nlines, 3);
	finalize_ok(job);
	cr_assert_eq(job->groups[0].count, 3);
	cr_assert_eq(job->nitems, 3);
	const char *l = q__job_line(job, 1, &len);
	cr_assert_eq(len, 7);
	cr_assert_eq(strncmp(l, "echo bb", len), 0);
	l = q__job_line(job, 2, &len);
	cr_assert_eq(len, 6);
	cr_assert_eq(strncmp(l, "echo c", len), 0);
	cr_assert_null(q__job_line(job, 3, &len));
	q_job_item_label(job, 2, label, sizeof(label));
	cr_assert_str_eq(label, "line[2]");
	q_job_release(job);
}

/* ---- barriers ---- */

Test(job, barrier_only_for_all_on_many_chunks_and_many_items)
{
	struct q_job *job = q_job_new("deps");
	struct q_group *g;

	add_cmd(job, "a", 10, 1);                          /* items 0..9 */
	g = add_cmd(job, "many", 10, 1);                   /* 10 chunks */
	add_after(g, 0, 0, 10, Q_AFTER_ALL, "a");          /* barrier 0 */
	add_after(g, 0, 3, 1, Q_AFTER_ALL, "a[3]");        /* one item */
	add_after(g, 0, 0, 10, Q_AFTER_EACH, "a each");    /* element-wise */
	add_after(g, 5, 100, 50, Q_AFTER_ALL, "5:x");      /* barrier 1 */
	g = add_cmd(job, "single", 1, 0);                  /* one chunk */
	add_after(g, 0, 0, 10, Q_AFTER_ALL, "a");
	g = add_cmd(job, "onechunk", 10, 10);              /* one chunk */
	add_after(g, 0, 0, 10, Q_AFTER_ALL, "a");
	g = add_cmd(job, "two", 2, 1);                     /* two chunks */
	add_after(g, 0, 10, 2, Q_AFTER_ALL, "many[0-1]");  /* barrier 2 */
	finalize_ok(job);

	cr_assert_eq(job->nbarriers, 3);
	cr_assert_eq(job->groups[1].after[0].barrier, 0);
	cr_assert_eq(job->groups[1].after[1].barrier, -1);
	cr_assert_eq(job->groups[1].after[2].barrier, -1);
	cr_assert_eq(job->groups[1].after[3].barrier, 1);
	cr_assert_eq(job->groups[2].after[0].barrier, -1);
	cr_assert_eq(job->groups[3].after[0].barrier, -1);
	cr_assert_eq(job->groups[4].after[0].barrier, 2);
	cr_assert_eq(job->barriers[0].job, 0);
	cr_assert_eq(job->barriers[0].first, 0);
	cr_assert_eq(job->barriers[0].count, 10);
	cr_assert_eq(job->barriers[1].job, 5);
	cr_assert_eq(job->barriers[1].first, 100);
	cr_assert_eq(job->barriers[1].count, 50);
	cr_assert_eq(job->barriers[2].first, 10);
	cr_assert_eq(job->barriers[2].count, 2);
	/* Labels are copies. */
	cr_assert_str_eq(job->groups[1].after[3].label, "5:x");

	/* Finalizing again gives the same barriers, not twice as many. */
	finalize_ok(job);
	cr_assert_eq(job->nbarriers, 3);
	cr_assert_eq(job->groups[4].after[0].barrier, 2);
	q_job_release(job);
}

/* ---- validation ---- */

Test(job, refuses_a_bad_job_name)
{
	struct q_job *job = q_job_new("bad name");
	add_cmd(job, "run", 1, 0);
	finalize_refused(job, "invalid job name 'bad name'");
}

Test(job, refuses_a_bad_task_name)
{
	struct q_job *job = q_job_new("ok");
	add_cmd(job, "run", 1, 0);
	add_cmd(job, "../x", 1, 0);
	finalize_refused(job, "task name");
}

Test(job, refuses_a_job_without_tasks)
{
	finalize_refused(q_job_new("empty"), "job 'empty' has no tasks");
}

Test(job, refuses_duplicate_task_names)
{
	struct q_job *job = q_job_new("dup");
	add_cmd(job, "run", 1, 0);
	add_cmd(job, "other", 1, 0);
	add_cmd(job, "run", 3, 0);
	finalize_refused(job, "task name 'run' is used twice in job 'dup'");
}

Test(job, refuses_a_command_without_argv)
{
	struct q_job *job = q_job_new("j");
	q_job_add_group(job, "noargs", Q_TASK_COMMAND);
	finalize_refused(job, "task 'noargs' has no command");
}

Test(job, refuses_a_kernel_without_a_name)
{
	struct q_job *job = q_job_new("j");
	q_job_add_group(job, "k", Q_TASK_KERNEL);
	finalize_refused(job, "task 'k' has no kernel");

	job = q_job_new("j");
	q_job_add_group(job, "k", Q_TASK_KERNEL)->kernel = strdup("");
	finalize_refused(job, "task 'k' has no kernel");
}

Test(job, refuses_bad_thread_counts)
{
	struct q_job *job = q_job_new("j");
	add_cmd(job, "t", 1, 0)->threads = 0;
	finalize_refused(job, "threads must be 1..4096");

	job = q_job_new("j");
	add_cmd(job, "t", 1, 0)->threads = Q_MAX_THREADS + 1;
	finalize_refused(job, "threads must be 1..4096");
}

Test(job, refuses_lines_without_lines)
{
	struct q_job *job = q_job_new("j");
	q_job_add_group(job, "l", Q_TASK_LINES);
	finalize_refused(job, "task 'l' has no lines");
}

Test(job, refuses_empty_and_too_large_groups)
{
	struct q_job *job = q_job_new("j");
	add_cmd(job, "none", 0, 0);
	finalize_refused(job, "task 'none' has no items");

	job = q_job_new("j");
	add_cmd(job, "a", Q_MAX_ITEMS, 0);
	add_cmd(job, "b", 1, 0);
	finalize_refused(job, "too many tasks");
}

/* Every reader keeps a byte per chunk, and a shard holds at most 4096
 * entries: a job with more chunks is refused (a damaged or crafted spec
 * claiming 2^40 chunks once made readers abort). */
Test(job, refuses_too_many_chunks)
{
	struct q_job *job = q_job_new("j");
	add_cmd(job, "fits", Q_MAX_CHUNKS, 1);
	finalize_ok(job);
	q_job_release(job);

	job = q_job_new("j");
	add_cmd(job, "many", Q_MAX_CHUNKS, 1);
	add_cmd(job, "more", 1, 1);
	finalize_refused(job, "has 1048577 chunks, at most 1048576");

	job = q_job_new("j");
	add_cmd(job, "huge", (uint64_t)1 << 40, 1);
	finalize_refused(job, "chunks, at most");
}

Test(job, refuses_each_with_a_length_mismatch)
{
	struct q_job *job = q_job_new("j");
	add_cmd(job, "a", 10, 0);
	struct q_group *g = add_cmd(job, "b", 9, 0);
	add_after(g, 0, 0, 10, Q_AFTER_EACH, "a");
	finalize_refused(job, "task 'b' (9 items) depends element-wise on "
			      "'a' (10 items): the lengths must match");
}

Test(job, refuses_an_internal_range_outside_the_job)
{
	static const uint64_t ranges[][2] = {
		{ 11, 1 },                 /* starts past the end */
		{ 10, 2 },                 /* starts at the last, too long */
		{ 0, 12 },                 /* longer than the job */
		{ 1, UINT64_MAX },         /* would wrap around */
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(ranges); i++) {
		struct q_job *job = q_job_new("j");
		add_cmd(job, "a", 10, 0);
		struct q_group *g = add_cmd(job, "b", 1, 0);
		add_after(g, 0, ranges[i][0], ranges[i][1], Q_AFTER_ALL,
			  "a[x]");
		finalize_refused(job, "dependency 'a[x]' is outside the job");
	}
	/* The same range in another job is checked at submit, not here. */
	struct q_job *job = q_job_new("j");
	struct q_group *g = add_cmd(job, "b", 1, 0);
	add_after(g, 3, 100, 5, Q_AFTER_ALL, "3:x");
	finalize_ok(job);
	q_job_release(job);
}

Test(job, refuses_a_task_that_depends_on_itself)
{
	struct q_job *job = q_job_new("j");
	add_cmd(job, "a", 10, 0);
	struct q_group *g = add_cmd(job, "b", 4, 0);
	/* a[9] and b[0]: the range reaches into b itself. */
	add_after(g, 0, 9, 2, Q_AFTER_ALL, "a[9]+b[0]");
	finalize_refused(job, "task 'b' depends on itself through "
			      "'a[9]+b[0]'");
}

Test(job, refuses_a_dependency_on_nothing)
{
	struct q_job *job = q_job_new("j");
	add_cmd(job, "a", 3, 0);
	struct q_group *g = add_cmd(job, "b", 1, 0);
	add_after(g, 0, 0, 0, Q_AFTER_ALL, "a[]");
	finalize_refused(job, "dependency 'a[]' names no tasks");
}

/* ---- q_subst_index ---- */

Test(job, subst_index)
{
	static const struct { const char *in; int64_t index;
			      const char *out; } cases[] = {
		{ "x{i}y{i}", 5, "x5y5" },
		{ "{i}", -3, "-3" },
		{ "in.{i}.dat", 0, "in.0.dat" },
		{ "plain", 9, "plain" },
		{ "", 9, "" },
		{ "{i", 9, "{i" },
		{ "{{i}}", 7, "{7}" },
		{ "{I}{ i}", 1, "{I}{ i}" },
		{ "{i}{i}{i}", 12, "121212" },
		{ "{i}", INT64_MIN, "-9223372036854775808" },
		{ "{i}", INT64_MAX, "9223372036854775807" },
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(cases); i++) {
		char *s = q_subst_index(cases[i].in, cases[i].index);
		cr_assert_str_eq(s, cases[i].out, "'%s'", cases[i].in);
		free(s);
	}
}

/* Workers order jobs by their highest task priority. */
Test(job, max_priority_is_the_highest_task_priority)
{
	struct q_job *job = q_job_new("prio");
	add_cmd(job, "a", 1, 0)->priority = -3;
	add_cmd(job, "b", 1, 0)->priority = 7;
	add_cmd(job, "c", 1, 0)->priority = 2;
	finalize_ok(job);
	cr_assert_eq(job->max_priority, 7);
	q_job_release(job);

	job = q_job_new("neg");
	add_cmd(job, "a", 1, 0)->priority = -3;
	finalize_ok(job);
	cr_assert_eq(job->max_priority, -3);
	q_job_release(job);
}

/* ---- job references (q_job_resolve) ---- */

/* Submit one single-task job per name, in order (ids 1, 2, ...). */
static void submit_names(struct tspool *t, const char *const *names,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(tsubmit(t, tjob_simple(names[i], 1)), i + 1);
}

static uint64_t resolve_ok(struct tspool *t, const char *ref)
{
	struct q_error err = Q_ERROR_INIT;
	uint64_t id = 0;
	cr_assert_eq(q_job_resolve(t->sp, ref, &id, &err), 0, "'%s': %s", ref,
		     err.message);
	cr_assert_not(q_error_is_set(&err));
	return id;
}

/* Refused as bad input, with every string of `want` in the message. */
static void resolve_refused(struct tspool *t, const char *ref,
			    const char *const *want)
{
	struct q_error err = Q_ERROR_INIT;
	uint64_t id = 12345;
	cr_assert_lt(q_job_resolve(t->sp, ref, &id, &err), 0,
		     "'%s' resolved to job %llu", ref, (unsigned long long)id);
	cr_assert_eq(id, 12345, "'%s': id_out written on failure", ref);
	cr_assert_eq(err.kind, Q_ERR_INPUT, "'%s': %s", ref, err.message);
	for (; *want; want++)
		cr_assert(strstr(err.message, *want), "'%s': expected '%s' in: "
			  "%s", ref, *want, err.message);
}

Test(resolve, exact_id_and_exact_name)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = { "sweep", "sweep2", "total" };
	submit_names(&t, names, 3);
	cr_assert_eq(resolve_ok(&t, "2"), 2);
	/* An exact name wins although it also starts "sweep2". */
	cr_assert_eq(resolve_ok(&t, "sweep"), 1);
	cr_assert_eq(resolve_ok(&t, "sweep2"), 2);
	tspool_fini(&t);
}

/* A unique prefix of a name resolves to the newest job of that name;
 * several jobs of one name are one name, not an ambiguity. */
Test(resolve, unique_name_prefix_is_the_newest_job_of_that_name)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = { "simulate", "total", "simulate",
					     "2d-fft" };
	submit_names(&t, names, 4);
	cr_assert_eq(resolve_ok(&t, "sim"), 3);
	cr_assert_eq(resolve_ok(&t, "s"), 3);
	cr_assert_eq(resolve_ok(&t, "tot"), 2);
	cr_assert_eq(resolve_ok(&t, "2d"), 4);
	tspool_fini(&t);
}

Test(resolve, ambiguous_name_prefix_lists_the_names_and_how_to_choose)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = { "sweep-a", "sweep-b", "sweep-a",
					     "other" };
	submit_names(&t, names, 4);
	resolve_refused(&t, "sw", (const char *const[]){
		"job 'sw' is ambiguous", "'sweep-a' (job 3)",
		"'sweep-b' (job 2)", "give more of the name, or the job id",
		NULL });
	struct q_error err = Q_ERROR_INIT;
	uint64_t id;
	q_job_resolve(t.sp, "sw", &id, &err);
	cr_assert_null(strstr(err.message, "(job 1)"),
		       "an older job of a listed name is listed: %s",
		       err.message);
	cr_assert_null(strstr(err.message, " more;"), "%s", err.message);
	tspool_fini(&t);
}

/* Beyond five names the list is cut, saying how many more there are. */
Test(resolve, ambiguous_prefix_shows_five_names_and_counts_the_rest)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = { "run1", "run2", "run3", "run4",
					     "run5", "run6", "run7" };
	submit_names(&t, names, 7);
	resolve_refused(&t, "run", (const char *const[]){
		"'run7' (job 7)", "'run3' (job 3)", "and 2 more;", NULL });
	struct q_error err = Q_ERROR_INIT;
	uint64_t id;
	q_job_resolve(t.sp, "run", &id, &err);
	cr_assert_null(strstr(err.message, "'run2'"), "%s", err.message);
	tspool_fini(&t);
}

/* Digits are an id only: never a prefix of a longer id, never a prefix
 * of a name starting with digits. A missing id is an error even when a
 * single id starts with it (a job removed by hand is not job 10). */
Test(resolve, digits_are_exact_ids_never_prefixes)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = {
		"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "12x" };
	submit_names(&t, names, 12);
	cr_assert_eq(resolve_ok(&t, "1"), 1);
	cr_assert_eq(resolve_ok(&t, "11"), 11);
	char path[512];
	snprintf(path, sizeof(path), "rm -rf '%s/jobs/1' '%s/jobs/11' "
		 "'%s/jobs/12'", t.path, t.path, t.path);
	cr_assert_eq(system(path), 0);
	/* Only job 10 starts with "1" now. */
	resolve_refused(&t, "1", (const char *const[]){
		"no job 1 in spool", "qstatus lists the jobs", NULL });
	resolve_refused(&t, "12", (const char *const[]){ "no job 12", NULL });
	resolve_refused(&t, "123", (const char *const[]){ "no job 123",
							   NULL });
	tspool_fini(&t);
}

Test(resolve, no_such_name_and_not_a_reference)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = { "sweep" };
	submit_names(&t, names, 1);
	resolve_refused(&t, "sweeps", (const char *const[]){
		"no job named 'sweeps' in spool", "and no name starts so",
		NULL });
	resolve_refused(&t, "x", (const char *const[]){ "no job named 'x'",
							 NULL });
	resolve_refused(&t, "", (const char *const[]){
		"neither a job id nor a job name", NULL });
	resolve_refused(&t, "../x", (const char *const[]){
		"neither a job id nor a job name", NULL });
	resolve_refused(&t, "012", (const char *const[]){
		"neither a job id nor a job name", NULL });
	tspool_fini(&t);
}

/* A job whose job file cannot be read is no candidate, and hides no
 * other: the prefix still resolves to the one readable name. */
Test(resolve, a_damaged_job_is_skipped)
{
	struct tspool t;
	tspool_init(&t);
	static const char *const names[] = { "sweep", "swap" };
	submit_names(&t, names, 2);
	char path[256];
	snprintf(path, sizeof(path), "%s/jobs/2/job", t.path);
	cr_assert_eq(truncate(path, 3), 0);
	cr_assert_eq(resolve_ok(&t, "sw"), 1);
	tspool_fini(&t);
}
