/*
 * test_segment.c: several chunks' records in one file (libq/segment.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "jobh_internal.h"

static struct q_item_record items[3];

static struct q_record make_record(uint64_t chunk, const char *key)
{
	struct q_record r = { .job = 7, .chunk = chunk, .attempt = 1,
			      .first = chunk, .count = 1,
			      .worker = "w.1.000001", .host = "h" };
	items[chunk % 3] = (struct q_item_record){ .item = chunk,
						   .state = Q_STATE_DONE };
	r.items = &items[chunk % 3];
	r.data = "abc";
	r.data_len = 3;
	items[chunk % 3].out = (struct q_stream){ Q_STREAM_INLINE, 0, 3 };
	if (key)
		snprintf(r.chunk_key, sizeof(r.chunk_key), "%s", key);
	return r;
}

/* Write `len` bytes as `name` in a fresh directory; its fd. */
static int dir_with(char *dir, const char *name, const char *data, size_t len)
{
	strcpy(dir, "/tmp/spoolq-seg.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return open(dir, O_RDONLY | O_DIRECTORY);
}

static void dir_done(char *dir, int fd)
{
	char cmd[300];
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static const char *key_a =
	"aaaa000000000000000000000000000000000000000000000000000000000001";
static const char *key_b =
	"bbbb000000000000000000000000000000000000000000000000000000000002";

Test(segment, each_chunk_reads_back_its_own_record)
{
	struct q_record recs[3] = { make_record(3, key_a), make_record(4, NULL),
				    make_record(5, key_b) };
	struct q_buf text = Q_BUF_INIT;
	q__segment_format(recs, 3, &text);
	char dir[64];
	int fd = dir_with(dir, "seg", text.data, text.len);
	for (uint64_t c = 3; c <= 5; c++) {
		char *rt;
		size_t len;
		cr_assert_eq(q__record_text_read(fd, "seg", 7, c, 1 << 20, &rt,
						 &len), 0);
		struct q_record back;
		struct q_error err = Q_ERROR_INIT;
		cr_assert_eq(q__record_parse(&back, rt, len, "seg", &err), 0,
			     "%s", err.message);
		cr_assert_eq(back.chunk, c);
		cr_assert_eq(back.data_len, 3);
		cr_assert_str_eq(back.data, "abc");
		q_record_release(&back);
		free(rt);
	}
	char *rt;
	size_t len;
	cr_assert_eq(q__record_text_read(fd, "seg", 7, 6, 1 << 20, &rt, &len),
		     -EBADMSG, "a chunk the segment does not hold");
	uint64_t job, chunk;
	cr_assert_eq(q__segment_find_key(fd, "seg", key_b, &job, &chunk), 0);
	cr_assert_eq(job, 7);
	cr_assert_eq(chunk, 5);
	cr_assert_eq(q__segment_find_key(fd, "seg", "cafe", &job, &chunk),
		     -EBADMSG);
	dir_done(dir, fd);
	q__buf_release(&text);
}

/* Files from before segments: a plain record reads as it is. */
Test(segment, plain_record_reads_whole)
{
	struct q_record r = make_record(2, NULL);
	struct q_buf text = Q_BUF_INIT;
	q__record_format(&r, &text);
	char dir[64];
	int fd = dir_with(dir, "rec", text.data, text.len);
	char *rt;
	size_t len;
	cr_assert_eq(q__record_text_read(fd, "rec", 7, 2, 1 << 20, &rt, &len), 0);
	cr_assert_eq(len, text.len);
	cr_assert_eq(memcmp(rt, text.data, len), 0);
	free(rt);
	uint64_t job, chunk;
	cr_assert_eq(q__segment_find_key(fd, "rec", key_a, &job, &chunk),
		     -EBADMSG, "not a segment");
	dir_done(dir, fd);
	q__buf_release(&text);
}

/* A damaged index is reported, never followed outside the file. */
Test(segment, damaged_index_is_refused)
{
	static const char *bad[] = {
		"spoolq-segment 1\njob 7\nat 3 0 99999 -\nend\nxyz",
		"spoolq-segment 1\njob 7\nat 3 5\nend\nxyz",
		"spoolq-segment 1\njob 7\nat 3 0 3 -\n",
		"spoolq-segment 1\nat 3 0 3 -\nend\nxyz",
		"spoolq-segment 1\njob 7\nat 3 18446744073709551615 3 -\nend\nx",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char dir[64];
		int fd = dir_with(dir, "seg", bad[i], strlen(bad[i]));
		char *rt;
		size_t len;
		cr_assert_eq(q__record_text_read(fd, "seg", 7, 3, 1 << 20, &rt,
						 &len), -EBADMSG, "case %zu", i);
		dir_done(dir, fd);
	}
}

/* An appended file: regions one after another (each a whole segment),
 * possibly of several jobs, and a torn last region that no name points
 * into. A reader walks to its job's chunk; the torn tail does not stop
 * it from finding what lies before. */
Test(segment, regions_are_walked_and_a_torn_tail_is_harmless)
{
	struct q_record r1[2] = { make_record(3, key_a), make_record(4, NULL) };
	struct q_record r2[1] = { make_record(3, key_b) };
	r2[0].job = 8;      /* chunk 3 again, of another job */
	struct q_buf text = Q_BUF_INIT;
	q__segment_format(r1, 2, &text);
	q__segment_format(r2, 1, &text);
	q__buf_addstr(&text, "spoolq-segment 1\njob 9\nat 1 0 40");  /* torn */
	char dir[64];
	int fd = dir_with(dir, "seg", text.data, text.len);
	char *rt;
	size_t len;
	struct q_record back;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q__record_text_read(fd, "seg", 8, 3, 1 << 20, &rt, &len),
		     0, "job 8's chunk 3 is in the second region");
	cr_assert_eq(q__record_parse(&back, rt, len, "seg", &err), 0, "%s",
		     err.message);
	cr_assert_eq(back.job, 8);
	q_record_release(&back);
	free(rt);
	cr_assert_eq(q__record_text_read(fd, "seg", 7, 4, 1 << 20, &rt, &len),
		     0);
	free(rt);
	uint64_t job, chunk;
	cr_assert_eq(q__segment_find_key(fd, "seg", key_b, &job, &chunk), 0);
	cr_assert_eq(job, 8);
	cr_assert_eq(chunk, 3);
	cr_assert_eq(q__record_text_read(fd, "seg", 9, 1, 1 << 20, &rt, &len),
		     -EBADMSG, "the torn region is never read");
	dir_done(dir, fd);
	q__buf_release(&text);
}
