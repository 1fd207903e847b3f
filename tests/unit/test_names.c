/*
 * test_names.c: libq/names.c: user names, job ids, spool components,
 * decimal parsing and unique temporary names.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "names_internal.h"

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* Check `name` as a task name; it must be refused, as bad input, with a
 * message quoting `what_says` (and naming the check's subject). */
static void expect_refused(const char *name, const char *what_says)
{
	struct q_error err = Q_ERROR_INIT;

	cr_assert_eq(q_name_check("task name", name, &err), -EINVAL,
		     "'%s' was accepted", name);
	cr_assert_eq(err.kind, Q_ERR_INPUT, "'%s'", name);
	cr_assert_eq(err.errnum, 0);
	cr_assert(contains(err.message, "task name"), "%s", err.message);
	cr_assert(contains(err.message, what_says),
		  "'%s': expected '%s' in: %s", name, what_says, err.message);
}

/* ---- q_name_check ---- */

Test(names, check_accepts_valid_names)
{
	static const char *const ok[] = {
		"a", "Z", "_", "0a", "9lives", "1_", "job-1", "a.b", "a_b+c",
		"sweep.v2", "a-", "a+", "a.", "_.x", "x1.2.3", "ABC_def-9+z",
	};
	char longest[Q_NAME_MAX + 1];

	for (size_t i = 0; i < Q_ARRAY_SIZE(ok); i++) {
		struct q_error err = Q_ERROR_INIT;
		cr_assert_eq(q_name_check("job name", ok[i], &err), 0,
			     "'%s': %s", ok[i], err.message);
		cr_assert_not(q_error_is_set(&err));
	}
	memset(longest, 'n', Q_NAME_MAX);
	longest[Q_NAME_MAX] = '\0';
	cr_assert_eq(q_name_check("job name", longest, NULL), 0);
}

Test(names, check_refuses_slash_and_space)
{
	expect_refused("a/b", "'/' is not allowed");
	expect_refused("/", "'/' is not allowed");
	expect_refused("a b", "a space is not allowed");
	expect_refused("trailing ", "a space is not allowed");
}

Test(names, check_refuses_dot_dot)
{
	expect_refused("a..b", "'..' is not allowed");
	expect_refused("x..", "'..' is not allowed");
	/* '..' alone is caught by the leading '.' rule. */
	expect_refused("..", "must not start with '.'");
	expect_refused("../etc", "'/' is not allowed");
}

Test(names, check_names_every_control_character)
{
	char name[4] = "a?b";
	char want[40];

	for (int c = 1; c < 0x20; c++) {
		name[1] = (char)c;
		snprintf(want, sizeof(want), "control character 0x%02x", c);
		expect_refused(name, want);
	}
	name[1] = 0x7f;
	expect_refused(name, "control character 0x7f");
}

Test(names, check_names_other_bad_characters)
{
	static const char bad[] = ":*?\"'<>|\\!@#$%^&()[]{},;=~`";
	char name[4] = "a?b";
	char want[8];

	for (const char *p = bad; *p; p++) {
		name[1] = *p;
		snprintf(want, sizeof(want), "'%c'", *p);
		expect_refused(name, want);
	}
}

Test(names, check_refuses_leading_dot_dash_plus)
{
	expect_refused(".hidden", "must not start with '.'");
	expect_refused("-rf", "must not start with '-'");
	expect_refused("+x", "must not start with '+'");
}

Test(names, check_refuses_all_digit_names)
{
	expect_refused("0", "digits only");
	expect_refused("123", "digits only");
	expect_refused("0007", "digits only");
	/* One letter is enough. */
	cr_assert_eq(q_name_check("task name", "123a", NULL), 0);
}

Test(names, check_refuses_empty_and_too_long)
{
	char name[Q_NAME_MAX + 2];

	expect_refused("", "empty task name");
	memset(name, 'x', Q_NAME_MAX + 1);
	name[Q_NAME_MAX + 1] = '\0';
	expect_refused(name, "too long");
	expect_refused(name, "65 characters");
}

Test(names, check_message_names_the_subject)
{
	struct q_error err = Q_ERROR_INIT;

	cr_assert_lt(q_name_check("job name", "my job", &err), 0);
	cr_assert(contains(err.message, "invalid job name 'my job'"), "%s",
		  err.message);
}

/* ---- q_job_id_parse ---- */

Test(names, job_id_parse_accepts_1_to_int64_max)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "1", 1 },
		{ "42", 42 },
		{ "1000000", 1000000 },
		{ "9223372036854775799", 9223372036854775799ull },
		{ "9223372036854775807", (uint64_t)INT64_MAX },
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(ok); i++) {
		uint64_t v = 0;
		cr_assert(q_job_id_parse(ok[i].s, &v), "'%s'", ok[i].s);
		cr_assert_eq(v, ok[i].v, "'%s'", ok[i].s);
	}
}

Test(names, job_id_parse_refuses_the_rest)
{
	static const char *const bad[] = {
		"", "0", "00", "01", "-1", "+1", " 1", "1 ", "1a", "a1", "1.0",
		"0x10", "9223372036854775808", "18446744073709551615",
		"18446744073709551616", "99999999999999999999999",
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++) {
		uint64_t v = 777;
		cr_assert_not(q_job_id_parse(bad[i], &v), "'%s' accepted",
			      bad[i]);
		cr_assert_eq(v, 777, "'%s' changed the output", bad[i]);
	}
	cr_assert_not(q_job_id_parse(NULL, NULL));
}

/* ---- q__safe_component ---- */

Test(names, safe_component)
{
	static const char *const ok[] = {
		"a", "12", "job.1", "h.123.456.7.out", "...", ".a", "-", "a b",
		"\xc3\xa9t\xc3\xa9",
	};
	static const char *const bad[] = {
		"", ".", "..", "a/b", "/", "a/", "a\nb", "\x01", "a\x7f", "\t",
	};
	char name[Q_COMPONENT_MAX + 2];

	for (size_t i = 0; i < Q_ARRAY_SIZE(ok); i++)
		cr_assert(q__safe_component(ok[i]), "'%s' refused", ok[i]);
	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		cr_assert_not(q__safe_component(bad[i]), "bad[%zu] accepted",
			      i);
	memset(name, 'c', Q_COMPONENT_MAX);
	name[Q_COMPONENT_MAX] = '\0';
	cr_assert(q__safe_component(name));
	name[Q_COMPONENT_MAX] = 'c';
	name[Q_COMPONENT_MAX + 1] = '\0';
	cr_assert_not(q__safe_component(name));
}

/* ---- q__parse_u64 ---- */

Test(names, parse_u64_whole_string)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 },
		{ "7", 7 },
		{ "10", 10 },
		{ "4294967296", 4294967296ull },
		{ "18446744073709551609", UINT64_MAX - 6 },
		{ "18446744073709551615", UINT64_MAX },
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(ok); i++) {
		uint64_t v = 1;
		cr_assert(q__parse_u64(ok[i].s, NULL, &v), "'%s'", ok[i].s);
		cr_assert_eq(v, ok[i].v, "'%s'", ok[i].s);
	}
}

Test(names, parse_u64_refuses_overflow)
{
	static const char *const bad[] = {
		"18446744073709551616", "18446744073709551620",
		"20000000000000000000", "184467440737095516150",
		"99999999999999999999999999",
	};
	uint64_t v;

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		cr_assert_not(q__parse_u64(bad[i], NULL, &v), "'%s'", bad[i]);
}

Test(names, parse_u64_refuses_leading_zeros_signs_and_junk)
{
	static const char *const bad[] = {
		"", "00", "01", "007", "-1", "+1", "-0", " 1", "1 ", "1a",
		"0x1", "1.5", "1e3",
	};
	uint64_t v;

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		cr_assert_not(q__parse_u64(bad[i], NULL, &v), "'%s'", bad[i]);
	/* The leading-zero rule holds with end_out too. */
	const char *end = NULL;
	cr_assert_not(q__parse_u64("012", &end, &v));
}

Test(names, parse_u64_with_end_out)
{
	const char *end = NULL;
	uint64_t v = 0;
	const char *s = "123.a4";

	cr_assert(q__parse_u64(s, &end, &v));
	cr_assert_eq(v, 123);
	cr_assert_eq(end, s + 3);
	cr_assert(q__parse_u64("0-9", &end, &v));
	cr_assert_eq(v, 0);
	cr_assert_str_eq(end, "-9");
	cr_assert(q__parse_u64("18446744073709551615+", &end, &v));
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_str_eq(end, "+");
	cr_assert_not(q__parse_u64("x1", &end, &v));
}

/* ---- q__hostname and q__unique_name ---- */

Test(names, hostname_is_a_short_safe_name)
{
	const char *h = q__hostname();

	cr_assert_gt(strlen(h), 0);
	cr_assert_leq(strlen(h), Q_NAME_MAX);
	cr_assert_null(strchr(h, '.'), "%s", h);
	for (const char *p = h; *p; p++)
		cr_assert(strchr("abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-",
				 *p), "%s", h);
	cr_assert_eq(q__hostname(), h, "not cached");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort `names` and fail on the first duplicate. */
static void expect_distinct(char **names, size_t n)
{
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 1; i < n; i++)
		cr_assert_str_neq(names[i - 1], names[i], "duplicate at %zu",
				  i);
}

Test(names, unique_name_shape)
{
	char name[256], prefix[128];

	q__unique_name(name, sizeof(name), "spec");
	snprintf(prefix, sizeof(prefix), "%s.%ld.", q__hostname(),
		 (long)getpid());
	cr_assert_eq(strncmp(name, prefix, strlen(prefix)), 0, "%s", name);
	cr_assert_str_eq(name + strlen(name) - 5, ".spec");
	cr_assert(q__safe_component(name), "%s", name);
}

Test(names, unique_name_distinct_over_many_calls)
{
	enum { N = 20000 };
	char **names = calloc(N, sizeof(*names));

	cr_assert_not_null(names);
	for (size_t i = 0; i < N; i++) {
		char buf[256];
		q__unique_name(buf, sizeof(buf), "x");
		names[i] = strdup(buf);
	}
	expect_distinct(names, N);
	for (size_t i = 0; i < N; i++)
		free(names[i]);
	free(names);
}

enum { THREADS = 4, PER_THREAD = 2000 };

static void *make_names(void *arg)
{
	char **out = arg;
	for (size_t i = 0; i < PER_THREAD; i++) {
		char buf[256];
		q__unique_name(buf, sizeof(buf), "t");
		out[i] = strdup(buf);
	}
	return NULL;
}

Test(names, unique_name_distinct_across_threads)
{
	char **names = calloc(THREADS * PER_THREAD, sizeof(*names));
	pthread_t th[THREADS];

	cr_assert_not_null(names);
	for (size_t t = 0; t < THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, make_names,
					    names + t * PER_THREAD), 0);
	for (size_t t = 0; t < THREADS; t++)
		cr_assert_eq(pthread_join(th[t], NULL), 0);
	expect_distinct(names, THREADS * PER_THREAD);
	for (size_t i = 0; i < THREADS * PER_THREAD; i++)
		free(names[i]);
	free(names);
}
