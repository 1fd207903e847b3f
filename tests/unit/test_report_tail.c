/*
 * test_report_tail.c: the last bytes of a stream (cmd/report_tail.c),
 * for the failed tasks' stderr in the report.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_tail.h"

static char out[REPORT_TAIL_MAX];

Test(report_tail, short_stream_is_kept_whole)
{
	struct report_tail t = REPORT_TAIL_INIT;
	report_tail_add(&t, "hello ", 6);
	report_tail_add(&t, "world", 5);
	size_t n = report_tail_get(&t, out);
	cr_assert_eq(n, 11);
	cr_assert_eq(memcmp(out, "hello world", 11), 0);
	cr_assert_eq(t.total, 11);
}

/* The expected byte at stream position i. */
static char byte_at(size_t i)
{
	return (char)('a' + (i * 7 + i / 26) % 26);
}

static void check_last(const struct report_tail *t, size_t total)
{
	size_t n = report_tail_get(t, out);
	cr_assert_eq(n, REPORT_TAIL_MAX);
	cr_assert_eq(t->total, total);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(out[i], byte_at(total - REPORT_TAIL_MAX + i),
			     "byte %zu", i);
}

Test(report_tail, wrapping_in_small_writes_keeps_the_last_bytes)
{
	struct report_tail t = REPORT_TAIL_INIT;
	char buf[7];
	size_t total = 0;
	while (total < 3 * REPORT_TAIL_MAX + 5) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = byte_at(total + i);
		report_tail_add(&t, buf, sizeof(buf));
		total += sizeof(buf);
	}
	check_last(&t, total);
}

Test(report_tail, one_write_longer_than_the_tail)
{
	struct report_tail t = REPORT_TAIL_INIT;
	size_t total = 3 * REPORT_TAIL_MAX + 11;
	char *big = malloc(total);
	for (size_t i = 0; i < total; i++)
		big[i] = byte_at(i);
	report_tail_add(&t, big, 5);
	report_tail_add(&t, big + 5, total - 5);
	check_last(&t, total);
	free(big);
}

Test(report_tail, a_cut_tail_does_not_start_inside_a_character)
{
	struct report_tail t = REPORT_TAIL_INIT;
	/* "é" is 2 bytes; one more byte than fits puts the oldest kept byte
	 * in the middle of the first kept "é". */
	for (size_t i = 0; i < REPORT_TAIL_MAX / 2; i++)
		report_tail_add(&t, "\xc3\xa9", 2);
	report_tail_add(&t, "!", 1);
	size_t n = report_tail_get(&t, out);
	cr_assert_eq(n, REPORT_TAIL_MAX - 1);
	cr_assert_eq(memcmp(out, "\xc3\xa9", 2), 0);
	cr_assert_eq(out[n - 1], '!');
}

Test(report_tail, as_a_stream)
{
	struct report_tail t = REPORT_TAIL_INIT;
	FILE *f = report_tail_open(&t);
	cr_assert_not_null(f);
	for (int i = 0; i < 10000; i++)
		fprintf(f, "line %d\n", i);
	cr_assert_eq(fclose(f), 0);
	size_t n = report_tail_get(&t, out);
	cr_assert_eq(n, REPORT_TAIL_MAX);
	const char *end = "line 9999\n";
	cr_assert_eq(memcmp(out + n - strlen(end), end, strlen(end)), 0);
	cr_assert_gt(t.total, 60000);
}
