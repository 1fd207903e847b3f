/*
 * test_record.c: libq/record.c: chunk records: formatting, reading back,
 * refusing damage, and the state names.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobh_internal.h"
#include "text.h"

#define WHERE "/spool/jobs/7/done/0/3"

/* Inline data: item 0's out, item 1's out (binary, with a line that looks
 * like a data line), item 3's err. */
static const char out0[] = "hello";
static const char out1[] = "a\0b\nc\r\ndata 3\n\0\xff";
static const char err3[] = "Traceback: 100%\n";

/* A record of chunk 3 (items 30..33), attempt 2, with inline streams,
 * a file stream, no streams, and reasons with spaces and newlines. */
static void sample(struct q_record *rec)
{
	size_t n0 = sizeof(out0) - 1, n1 = sizeof(out1) - 1;
	size_t n3 = sizeof(err3) - 1;

	memset(rec, 0, sizeof(*rec));
	rec->job = 7;
	rec->chunk = 3;
	rec->attempt = 2;
	rec->first = 30;
	rec->count = 4;
	rec->worker = strdup("node1.4242.1700000000000000000.0.worker");
	rec->host = strdup("node 1");
	rec->claimed_ns = 1700000000123456789;
	rec->items = calloc(4, sizeof(*rec->items));
	rec->data_len = n0 + n1 + n3;
	rec->data = malloc(rec->data_len + 1);
	memcpy(rec->data, out0, n0);
	memcpy(rec->data + n0, out1, n1);
	memcpy(rec->data + n0 + n1, err3, n3);
	rec->data[rec->data_len] = '\0';

	struct q_item_record *it = rec->items;
	it[0] = (struct q_item_record){
		.item = 30, .state = Q_STATE_DONE, .exit_code = 0,
		.start_ns = 1700000000200000000, .end_ns = 1700000000300000000,
		.slot = 0, .out = { Q_STREAM_INLINE, 0, n0 },
	};
	it[1] = (struct q_item_record){
		.item = 31, .state = Q_STATE_FAILED, .exit_code = 3,
		.start_ns = 1, .end_ns = 2, .slot = 17,
		.out = { Q_STREAM_INLINE, n0, n1 },
		.err = { Q_STREAM_FILE, 0, 123456789012 },
		.reason = strdup("exit status 3 (see the log)"),
	};
	it[2] = (struct q_item_record){
		.item = 32, .state = Q_STATE_CANCELLED,
		.exit_code = Q_EXIT_NONE,
		.reason = strdup("dependency 'prep' failed\n\t100% sure"),
	};
	it[3] = (struct q_item_record){
		.item = 33, .state = Q_STATE_FAILED, .exit_code = -9,
		.start_ns = -5, .end_ns = INT64_MAX, .slot = 1000000,
		.out = { Q_STREAM_INLINE, rec->data_len, 0 },
		.err = { Q_STREAM_INLINE, n0 + n1, n3 },
		.reason = strdup("-"),
	};
}

static char *format(const struct q_record *rec, size_t *len)
{
	struct q_buf b = Q_BUF_INIT;
	q__record_format(rec, &b);
	*len = b.len;
	return q__buf_detach(&b);
}

/* Parse a private copy of text[0..len). */
static int parse(struct q_record *rec, const char *text, size_t len,
		 struct q_error *err)
{
	char *copy = malloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	int ret = q__record_parse(rec, copy, len, WHERE, err);
	free(copy);
	return ret;
}

/* `text` with the first `old` (in the header) replaced by `new`. */
static char *replace(const char *text, size_t len, const char *old,
		     const char *new, size_t *len_out)
{
	const char *at = memmem(text, len, old, strlen(old));
	cr_assert_not_null(at, "no '%s' in the record", old);
	size_t head = (size_t)(at - text), tail = len - head - strlen(old);
	*len_out = head + strlen(new) + tail;
	char *out = malloc(*len_out + 1);
	memcpy(out, text, head);
	memcpy(out + head, new, strlen(new));
	memcpy(out + head + strlen(new), at + strlen(old), tail);
	out[*len_out] = '\0';
	return out;
}

/* Parsing must fail with a message naming the record, `line` and
 * `what`; the record holds nothing afterwards. */
static void expect_damaged(const char *text, size_t len, unsigned line,
			   const char *what)
{
	struct q_record rec;
	struct q_error err = Q_ERROR_INIT;
	char want[32];

	int ret = parse(&rec, text, len, &err);
	q_record_release(&rec);
	cr_assert_lt(ret, 0, "damage accepted (%s)", what);
	cr_assert_eq(err.kind, Q_ERR_SYSTEM);
	cr_assert(strstr(err.message, "record '" WHERE "' is damaged"), "%s",
		  err.message);
	snprintf(want, sizeof(want), "line %u: ", line);
	cr_assert(strstr(err.message, want), "expected '%s' in: %s", want,
		  err.message);
	cr_assert(strstr(err.message, what), "expected '%s' in: %s", what,
		  err.message);
}

/* The sample with `old` replaced by `new` must be damaged. */
static void sample_damaged(const char *old, const char *new, unsigned line,
			   const char *what)
{
	struct q_record rec;
	size_t len, dlen;

	sample(&rec);
	char *text = format(&rec, &len);
	char *bad = replace(text, len, old, new, &dlen);
	expect_damaged(bad, dlen, line, what);
	free(bad);
	free(text);
	q_record_release(&rec);
}

/* ---- round trip ---- */

Test(record, round_trip)
{
	struct q_record rec, back;
	struct q_error err = Q_ERROR_INIT;
	size_t len, len2;

	sample(&rec);
	char *text = format(&rec, &len);
	cr_assert_eq(parse(&back, text, len, &err), 0, "%s", err.message);

	cr_assert_eq(back.job, 7);
	cr_assert_eq(back.chunk, 3);
	cr_assert_eq(back.attempt, 2);
	cr_assert_eq(back.first, 30);
	cr_assert_eq(back.count, 4);
	cr_assert_str_eq(back.worker, rec.worker);
	cr_assert_str_eq(back.host, "node 1");
	cr_assert_eq(back.claimed_ns, 1700000000123456789);
	cr_assert_eq(back.data_len, rec.data_len);
	cr_assert_eq(memcmp(back.data, rec.data, rec.data_len), 0);
	cr_assert_eq(back.data[back.data_len], '\0');
	for (size_t i = 0; i < 4; i++) {
		const struct q_item_record *a = &rec.items[i];
		const struct q_item_record *b = &back.items[i];
		cr_assert_eq(b->item, a->item, "item %zu", i);
		cr_assert_eq(b->state, a->state, "item %zu", i);
		cr_assert_eq(b->exit_code, a->exit_code, "item %zu", i);
		cr_assert_eq(b->start_ns, a->start_ns, "item %zu", i);
		cr_assert_eq(b->end_ns, a->end_ns, "item %zu", i);
		cr_assert_eq(b->slot, a->slot, "item %zu", i);
		cr_assert_eq(b->out.where, a->out.where, "item %zu", i);
		cr_assert_eq(b->out.offset, a->out.offset, "item %zu", i);
		cr_assert_eq(b->out.length, a->out.length, "item %zu", i);
		cr_assert_eq(b->err.where, a->err.where, "item %zu", i);
		cr_assert_eq(b->err.offset, a->err.offset, "item %zu", i);
		cr_assert_eq(b->err.length, a->err.length, "item %zu", i);
		if (a->reason)
			cr_assert_str_eq(b->reason, a->reason, "item %zu", i);
		else
			cr_assert_null(b->reason, "item %zu", i);
	}
	/* The streams point at the right bytes. */
	const struct q_item_record *b1 = &back.items[1];
	cr_assert_eq(b1->out.length, sizeof(out1) - 1);
	cr_assert_eq(memcmp(back.data + b1->out.offset, out1,
			    sizeof(out1) - 1), 0);
	const struct q_item_record *b3 = &back.items[3];
	cr_assert_eq(memcmp(back.data + b3->err.offset, err3,
			    sizeof(err3) - 1), 0);

	/* Formatting what was read gives the same bytes. */
	char *again = format(&back, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(again, text, len), 0);
	free(again);
	free(text);
	q_record_release(&back);
	q_record_release(&rec);
}

Test(record, empty_reason_reads_as_none)
{
	struct q_record rec, back;
	struct q_error err = Q_ERROR_INIT;
	size_t len;

	sample(&rec);
	free(rec.items[1].reason);
	rec.items[1].reason = strdup("");
	char *text = format(&rec, &len);
	cr_assert_eq(parse(&back, text, len, &err), 0, "%s", err.message);
	cr_assert_null(back.items[1].reason);
	free(text);
	q_record_release(&back);
	q_record_release(&rec);
}

Test(record, no_data_at_all)
{
	struct q_record rec, back;
	struct q_error err = Q_ERROR_INIT;
	size_t len;

	memset(&rec, 0, sizeof(rec));
	rec.job = 1;
	rec.count = 1;
	rec.worker = strdup("w");
	rec.host = strdup("h");
	rec.items = calloc(1, sizeof(*rec.items));
	rec.items[0].state = Q_STATE_DONE;
	char *text = format(&rec, &len);
	cr_assert_eq(len, strlen(text));
	cr_assert(strstr(text, "\ndata 0\n"), "%s", text);
	cr_assert_eq(parse(&back, text, len, &err), 0, "%s", err.message);
	cr_assert_eq(back.data_len, 0);
	cr_assert_not_null(back.data);
	cr_assert_eq(back.items[0].out.where, Q_STREAM_NONE);
	free(text);
	q_record_release(&back);
	q_record_release(&rec);
}

Test(record, release_is_safe_twice)
{
	struct q_record rec;

	sample(&rec);
	q_record_release(&rec);
	cr_assert_null(rec.items);
	cr_assert_null(rec.data);
	q_record_release(&rec);
	q_record_release(NULL);
}

/* ---- damage ---- */

Test(record, missing_data_line)
{
	struct q_record rec;
	size_t len;

	sample(&rec);
	char *text = format(&rec, &len);
	char *data = strstr(text, "\ndata ");
	cr_assert_not_null(data);
	size_t head = (size_t)(data - text) + 1;
	/* Cut at the data line and anywhere in the header before it. */
	for (size_t cut = 0; cut <= head; cut++)
		expect_damaged(text, cut, 0, "no data line");
	/* A data line without its newline is no data line either. */
	expect_damaged(text, head + 6, 0, "no data line");
	free(text);
	q_record_release(&rec);
}

Test(record, wrong_data_length)
{
	struct q_record rec;
	size_t len;

	sample(&rec);
	char *text = format(&rec, &len);
	char *more = malloc(len + 2);
	memcpy(more, text, len);
	more[len] = 'x';
	/* A byte missing, a byte too many. */
	expect_damaged(text, len - 1, 0, "data length does not match");
	expect_damaged(more, len + 1, 0, "data length does not match");
	free(more);
	free(text);
	q_record_release(&rec);
	sample_damaged("data 37\n", "data 037\n", 0,
		       "data length does not match");
	sample_damaged("data 37\n", "data -37\n", 0,
		       "data length does not match");
	sample_damaged("data 37\n", "data 37 \n", 0,
		       "data length does not match");
}

Test(record, inline_stream_outside_the_data)
{
	/* The data is 37 bytes; item lines are lines 7 to 10. */
	sample_damaged(" i0+5 ", " i0+38 ", 7, "malformed line");
	sample_damaged(" i0+5 ", " i38+0 ", 7, "malformed line");
	sample_damaged(" i0+5 ", " i33+5 ", 7, "malformed line");
	sample_damaged(" i0+5 ", " i1+18446744073709551615 ", 7,
		       "malformed line");
	sample_damaged(" i0+5 ", " i18446744073709551615+1 ", 7,
		       "malformed line");
	/* Right at the end is still inside. */
	struct q_record rec, back;
	struct q_error err = Q_ERROR_INIT;
	size_t len, dlen;
	sample(&rec);
	char *text = format(&rec, &len);
	char *edge = replace(text, len, " i0+5 ", " i32+5 ", &dlen);
	cr_assert_eq(parse(&back, edge, dlen, &err), 0, "%s", err.message);
	q_record_release(&back);
	free(edge);
	free(text);
	q_record_release(&rec);
}

Test(record, malformed_streams)
{
	sample_damaged(" i0+5 ", " i0 ", 7, "malformed line");
	sample_damaged(" i0+5 ", " i0-5 ", 7, "malformed line");
	sample_damaged(" i0+5 ", " i+5 ", 7, "malformed line");
	sample_damaged(" i0+5 ", " x5 ", 7, "malformed line");
	sample_damaged(" f123456789012 ", " f ", 8, "malformed line");
	sample_damaged(" f123456789012 ", " f-1 ", 8, "malformed line");
	sample_damaged(" f123456789012 ", " -- ", 8, "malformed line");
}

Test(record, item_count_mismatch)
{
	/* Fewer items than the chunk line says (found after the last
	 * header line, line 10). */
	sample_damaged("chunk 3 2 30 4\n", "chunk 3 2 30 5\n", 10,
		       "incomplete header");
	/* More. */
	sample_damaged("chunk 3 2 30 4\n", "chunk 3 2 30 3\n", 10,
		       "malformed line");
	/* Items out of order or not the chunk's. */
	sample_damaged("chunk 3 2 30 4\n", "chunk 3 2 29 4\n", 7,
		       "malformed line");
	sample_damaged("item 31 ", "item 32 ", 8, "malformed line");
	/* No items at all, or items before the chunk line. */
	sample_damaged("chunk 3 2 30 4\n", "chunk 3 2 30 0\n", 3,
		       "malformed line");
	sample_damaged("chunk 3 2 30 4\n", "", 6, "malformed line");
}

/* A known key with the wrong number of tokens is damage, not an unknown
 * key (which later writers may add) to skip. */
Test(record, known_keys_with_extra_tokens)
{
	sample_damaged("\nhost ", "\nhost a b\nhost ", 5, "malformed line");
	sample_damaged("\njob ", "\njob 7 x\njob ", 2, "malformed line");
}

Test(record, a_second_chunk_line_is_damage)
{
	sample_damaged("\nworker ", "\nchunk 4 1 8 2\nworker ", 4,
		       "malformed line");
}

Test(record, bad_state_names)
{
	static const char *const bad[] = {
		"running", "waiting", "ready", "bogus", "DONE", "done.",
	};
	char new[32];

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++) {
		snprintf(new, sizeof(new), "item 30 %s ", bad[i]);
		sample_damaged("item 30 done ", new, 7, "malformed line");
	}
}

Test(record, bad_numbers_and_header)
{
	sample_damaged("spoolq-record 1\n", "spoolq-record 2\n", 1,
		       "not a format-1 record");
	sample_damaged("job 7\n", "job x\n", 2, "malformed line");
	sample_damaged("chunk 3 2 ", "chunk 3 1000001 ", 3, "malformed line");
	sample_damaged("chunk 3 2 30 4\n", "chunk 3 2 30 16777217\n", 3,
		       "malformed line");
	sample_damaged("claimed 1700000000123456789\n", "claimed 1.5\n", 6,
		       "malformed line");
	sample_damaged("item 31 failed 3 ", "item 31 failed 100001 ", 8,
		       "malformed line");
	sample_damaged(" 17 i5+", " -1 i5+", 8, "malformed line");
	sample_damaged(" 17 i5+", " 1000001 i5+", 8, "malformed line");
	sample_damaged("see%20the%20log", "see%zzthe%20log", 8,
		       "malformed line");
	sample_damaged("host node%201\n", "host node%2\n", 5,
		       "malformed line");
	sample_damaged("item 30 done 0 ", "item  30 done 0 ", 7,
		       "malformed line");
}

Test(record, worker_id_must_be_a_safe_name)
{
	sample_damaged("worker node1.4242.1700000000000000000.0.worker\n",
		       "worker ../x/y\n", 10, "bad worker id");
	sample_damaged("worker node1.4242.1700000000000000000.0.worker\n",
		       "worker ..\n", 10, "bad worker id");
	sample_damaged("worker node1.4242.1700000000000000000.0.worker\n",
		       "worker a%0Ab\n", 10, "bad worker id");
	/* Without a worker line the header is incomplete (one line less). */
	sample_damaged("worker node1.4242.1700000000000000000.0.worker\n",
		       "", 9, "incomplete header");
}

/* Found by tests/fuzz/fuzz_record: a 100-byte record claiming 2^24 items
 * made the parser allocate 2.7 GB for them before reading a single item
 * line (and q_record_release walk them all). A count its header cannot
 * hold (an item line is at least 26 bytes) is damage, found at once. */
Test(record, item_count_bounded_by_the_header)
{
	static const char head[] =
		"spoolq-record 1\njob 1\nchunk 0 1 0 %u\nworker w\nhost h\n"
		"claimed 0\n%sdata 0\n";
	static const char item[] = "item 0 done 0 0 0 0 - - -\n";
	char text[512];

	snprintf(text, sizeof(text), head, 1u << 24, "");
	expect_damaged(text, strlen(text), 3, "malformed line");
	/* 88 header bytes cannot hold 4 item lines; they could hold 3
	 * (incomplete, but only found at the end). */
	snprintf(text, sizeof(text), head, 4u, item);
	expect_damaged(text, strlen(text), 3, "malformed line");
	snprintf(text, sizeof(text), head, 3u, item);
	expect_damaged(text, strlen(text), 7, "incomplete header");
	/* The shortest item line passes the bound: one item, one line. */
	struct q_record rec;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(strlen(item), 26);
	snprintf(text, sizeof(text), head, 1u, item);
	cr_assert_eq(parse(&rec, text, strlen(text), &err), 0, "%s",
		     err.message);
	cr_assert_eq(rec.count, 1);
	q_record_release(&rec);
}

/* Found by tests/fuzz/fuzz_record: a record without a host line was
 * accepted with host NULL, which q__record_format then dereferenced. The
 * format (docs/spool-format.md) always has one. */
Test(record, host_line_is_required)
{
	sample_damaged("host node%201\n", "", 9, "incomplete header");
	sample_damaged("host node%201\n", "hosts node%201\n", 10,
		       "incomplete header");
}

/* ---- states ---- */

Test(record, state_names_and_finality)
{
	static const struct { enum q_state s; const char *name; bool final; }
		states[] = {
		{ Q_STATE_WAITING, "waiting", false },
		{ Q_STATE_READY, "ready", false },
		{ Q_STATE_RUNNING, "running", false },
		{ Q_STATE_DONE, "done", true },
		{ Q_STATE_FAILED, "failed", true },
		{ Q_STATE_CANCELLED, "cancelled", true },
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(states); i++) {
		cr_assert_str_eq(q_state_name(states[i].s), states[i].name);
		cr_assert_eq(q_state_final(states[i].s), states[i].final,
			     "%s", states[i].name);
	}
	cr_assert_str_eq(q_state_name((enum q_state)99), "unknown");
	cr_assert_not(q_state_final((enum q_state)99));
}
