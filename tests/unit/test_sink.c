/*
 * test_sink.c: output streams kept in memory while small (libq/sink.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "sysio.h"

static char *read_tmp(struct tspool *t, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tmp/%s", t->path, name);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	struct stat st;
	cr_assert_eq(fstat(fileno(f), &st), 0);
	char *data = malloc((size_t)st.st_size + 1);
	*len = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	return data;
}

Test(sink, small_output_stays_in_memory)
{
	struct tspool t;
	tspool_init(&t);
	size_t budget = Q_SINK_RUN_BUDGET;
	struct q_sink s;
	q_sink_init(&s, t.sp, "out", &budget);
	cr_assert_eq(q_sink_write(&s, "hello ", 6), 0);
	cr_assert_eq(q_sink_printf(&s, "%s %d\n", "world", 42), 0);
	struct q_output out;
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_eq(out.len, 15);
	cr_assert_eq(memcmp(out.data, "hello world 42\n", 15), 0);
	cr_assert_str_empty(out.tmp);
	cr_assert_eq(ttmp_entries(&t), 0, "no file for a small output");
	cr_assert_lt(budget, Q_SINK_RUN_BUDGET, "the bytes are accounted");
	q_output_discard(t.sp, &out);
	cr_assert_null(out.data);
	tspool_fini(&t);
}

Test(sink, empty_output_is_nothing)
{
	struct tspool t;
	tspool_init(&t);
	struct q_sink s;
	q_sink_init(&s, t.sp, "err", NULL);
	struct q_output out;
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_null(out.data);
	cr_assert_eq(out.len, 0);
	cr_assert_str_empty(out.tmp);
	tspool_fini(&t);
}

/* Past Q_SINK_MEMORY_MAX everything so far, and all that follows, goes
 * to one temporary, in order. */
Test(sink, big_output_spills_to_a_temporary)
{
	struct tspool t;
	tspool_init(&t);
	size_t budget = Q_SINK_RUN_BUDGET;
	struct q_sink s;
	q_sink_init(&s, t.sp, "out", &budget);
	char line[1000];
	size_t total = 0;
	for (int i = 0; total < 3 * Q_SINK_MEMORY_MAX; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		cr_assert_eq(q_sink_write(&s, line, (size_t)n), 0);
		total += (size_t)n;
	}
	cr_assert_eq(budget, Q_SINK_RUN_BUDGET, "spilled memory is given back");
	struct q_output out;
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_null(out.data);
	cr_assert_str_not_empty(out.tmp);
	size_t len;
	char *data = read_tmp(&t, out.tmp, &len);
	cr_assert_eq(len, total);
	cr_assert_eq(strncmp(data, "line 0\nline 1\n", 14), 0);
	free(data);
	q_output_discard(t.sp, &out);
	cr_assert_eq(ttmp_entries(&t), 0, "discarding removes the temporary");
	tspool_fini(&t);
}

/* A run's budget bounds the memory of all its sinks together: once it is
 * spent, even a small output gets a file. */
Test(sink, spent_budget_spills_small_outputs)
{
	struct tspool t;
	tspool_init(&t);
	size_t budget = 100;
	struct q_sink s;
	q_sink_init(&s, t.sp, "out", &budget);
	char text[300];
	memset(text, 'x', sizeof(text));
	cr_assert_eq(q_sink_write(&s, text, sizeof(text)), 0);
	struct q_output out;
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_null(out.data);
	cr_assert_str_not_empty(out.tmp);
	q_output_discard(t.sp, &out);
	tspool_fini(&t);
}

Test(sink, discard_leaves_nothing)
{
	struct tspool t;
	tspool_init(&t);
	size_t budget = Q_SINK_RUN_BUDGET;
	struct q_sink s;
	q_sink_init(&s, t.sp, "out", &budget);
	char *big = calloc(1, 2 * Q_SINK_MEMORY_MAX);
	cr_assert_eq(q_sink_write(&s, big, 2 * Q_SINK_MEMORY_MAX), 0);
	free(big);
	cr_assert_eq(ttmp_entries(&t), 1);
	q_sink_discard(&s);
	cr_assert_eq(ttmp_entries(&t), 0);
	cr_assert_eq(budget, Q_SINK_RUN_BUDGET);
	tspool_fini(&t);
}

/* A write that fails for lack of space (injected: every spool-changing
 * call fails with ENOSPC) is sticky and reported by q_sink_finish. */
Test(sink, failed_spill_is_sticky)
{
	struct tspool t;
	tspool_init(&t);
	struct q_sink s;
	q_sink_init(&s, t.sp, "out", NULL);
	cr_assert_eq(q_sink_write(&s, "kept in memory\n", 15), 0);
	setenv("SPOOLQ_FAULT", "fail:1+:ENOSPC", 1);
	q__sysio_fault_reset();
	char *big = calloc(1, 2 * Q_SINK_MEMORY_MAX);
	int ret = q_sink_write(&s, big, 2 * Q_SINK_MEMORY_MAX);
	unsetenv("SPOOLQ_FAULT");
	q__sysio_fault_reset();
	free(big);
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_eq(q_sink_write(&s, "more", 4), -ENOSPC, "sticky");
	struct q_output out;
	cr_assert_eq(q_sink_finish(&s, &out), -ENOSPC);
	q_output_discard(t.sp, &out);
	q_sink_discard(&s);
	cr_assert_eq(ttmp_entries(&t), 0);
	tspool_fini(&t);
}
