/*
 * test_checksum.c: the checksum of big outputs (libq/checksum.c) and the
 * sink computing it as the bytes come (libq/sink.c).
 */
#include <string.h>

#include "helpers.h"

Test(checksum, is_xxh3_and_sees_every_byte)
{
	/* XXH3-64 of nothing, the reference value. */
	cr_assert_eq(q_checksum("", 0), 0x2d06800538d394c2ULL);
	cr_assert_neq(q_checksum("a", 1), q_checksum("b", 1));
	cr_assert_neq(q_checksum("ab", 2), q_checksum("ba", 2));
}

/* A spilled sink's sum, computed while writing, equals the sum of all
 * its bytes; a held one keeps everything in memory. */
Test(checksum, sinks_sum_what_they_spill_or_hold)
{
	struct tspool t;
	tspool_init(&t);
	size_t n = 3 * Q_SINK_MEMORY_MAX + 17;
	char *bytes = malloc(n);
	for (size_t i = 0; i < n; i++)
		bytes[i] = (char)(i * 7 + 3);
	size_t budget = Q_SINK_RUN_BUDGET;
	struct q_sink s;
	struct q_output out;
	q_sink_init(&s, t.sp, "out", &budget);
	for (size_t off = 0; off < n; off += 1000)
		cr_assert_eq(q_sink_write(&s, bytes + off,
					  n - off < 1000 ? n - off : 1000), 0);
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_str_not_empty(out.tmp, "spilled");
	cr_assert(out.summed);
	cr_assert_eq(out.sum, q_checksum(bytes, n));
	q_output_discard(t.sp, &out);

	q_sink_init(&s, t.sp, "out", &budget);
	q_sink_hold(&s, n);
	cr_assert_eq(q_sink_write(&s, bytes, n), 0);
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_str_empty(out.tmp, "held in memory");
	cr_assert_eq(out.len, n);
	cr_assert(out.summed);
	cr_assert_eq(out.sum, q_checksum(bytes, n));
	cr_assert_eq(budget, Q_SINK_RUN_BUDGET, "not the run's memory");
	q_output_discard(t.sp, &out);
	/* Beyond its hold limit it spills after all. */
	q_sink_init(&s, t.sp, "out", &budget);
	q_sink_hold(&s, n - 1);
	cr_assert_eq(q_sink_write(&s, bytes, n), 0);
	cr_assert_eq(q_sink_finish(&s, &out), 0);
	cr_assert_str_not_empty(out.tmp);
	cr_assert_eq(out.sum, q_checksum(bytes, n));
	q_output_discard(t.sp, &out);
	free(bytes);
	tspool_fini(&t);
}
