/*
 * test_held.c: outputs held by an MPI rank, as libq records and reads
 * them (libq/held.c, record.c, commit.c): the record's place and sum,
 * readers without the fast path, the spill (first wins), the fetch hook,
 * checksums on the file path, and the bytes-moved counters.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "helpers.h"

#define BIG (3 << 20)
#define WORLD "w0123456789abcdef"

/* Commit job id's only chunk with a held result of BIG bytes ('h').
 * Returns the bytes' checksum. */
static uint64_t commit_held(struct tspool *t, uint64_t id,
			    struct q_jobh **h_out)
{
	struct q_claim c;
	struct q_jobh *h = tclaim(t, id, &c);
	struct q_error err = Q_ERROR_INIT;
	char *bytes = malloc(BIG);
	memset(bytes, 'h', BIG);
	uint64_t sum = q_checksum(bytes, BIG);
	free(bytes);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE, .exit_code = 0,
			       .start_ns = 1, .end_ns = 2 };
	o.out.len = BIG;
	o.out.summed = true;
	o.out.sum = sum;
	o.out.held = true;
	q_spool_set_world(t->sp, WORLD, 5, NULL);
	cr_assert_eq(q_commit(h, t->cache, &c, "rank5.1.000001", &o, 1, &err),
		     1, "%s", err.message);
	q_spool_set_world(t->sp, "", 0, NULL);
	*h_out = h;
	return sum;
}

Test(held, the_record_says_where_and_what)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t sum = commit_held(&t, tsubmit(&t, tjob_simple("h", 1)), &h);
	struct q_error err = Q_ERROR_INIT;
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0, "%s", err.message);
	cr_assert_eq(rec.items[0].out.where, Q_STREAM_HELD);
	cr_assert_eq(rec.items[0].out.length, BIG);
	cr_assert(rec.items[0].out_summed);
	cr_assert_eq(rec.items[0].out_sum, sum);
	cr_assert_str_eq(rec.items[0].held_world, WORLD);
	cr_assert_eq(rec.items[0].held_rank, 5);
	char *path = q_record_output_path(h, &rec, 0, false);
	cr_assert(access(path, F_OK) != 0, "no file for a held output");
	free(path);
	q_record_release(&rec);
	tspool_fini(&t);
}

Test(held, a_reader_without_mpi_says_where_it_is)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t id = tsubmit(&t, tjob_simple("h", 1));
	commit_held(&t, id, &h);
	struct q_error err = Q_ERROR_INIT;
	char *data;
	size_t len;
	cr_assert_eq(q_item_output(t.cache, id, 0, SIZE_MAX, &data, &len,
				   &err), -EAGAIN);
	cr_assert(strstr(err.message, "held in the memory of worker "
			 "'rank5.1.000001' (MPI rank 5 of world " WORLD ")"),
		  "%s", err.message);
	cr_assert(strstr(err.message, "SIGUSR1"), "%s", err.message);
	tspool_fini(&t);
}

Test(held, a_spill_is_read_by_everyone_and_the_first_wins)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t id = tsubmit(&t, tjob_simple("h", 1));
	commit_held(&t, id, &h);
	struct q_error err = Q_ERROR_INIT;
	char *bytes = malloc(BIG), *other = malloc(BIG);
	memset(bytes, 'h', BIG);
	memset(other, 'x', BIG);
	cr_assert_eq(q_output_spill(h, 0, 1, "rank5.1.000001", bytes, BIG,
				    &err), 0, "%s", err.message);
	/* A second writer (a recompute racing the holder) loses quietly. */
	cr_assert_eq(q_output_spill(h, 0, 1, "rank5.1.000001", other, BIG,
				    &err), 0, "%s", err.message);
	char *data;
	size_t len;
	cr_assert_eq(q_item_output(t.cache, id, 0, SIZE_MAX, &data, &len,
				   &err), 0, "%s", err.message);
	cr_assert_eq(len, BIG);
	cr_assert_eq(memcmp(data, bytes, BIG), 0, "the first file stays");
	q_big_free(data);
	free(bytes);
	free(other);
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s/tmp", t.path);
	DIR *d = opendir(tmp);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		cr_assert_null(strstr(e->d_name, "spill"), "left %s",
			       e->d_name);
	closedir(d);
	tspool_fini(&t);
}

static int fetch_calls;

static int fake_fetch(void *arg, struct q_jobh *h, const struct q_record *rec,
		      size_t i, char **data_out, size_t *len_out,
		      struct q_error *err)
{
	fetch_calls++;
	*len_out = rec->items[i].out.length;
	*data_out = malloc(*len_out + 1);
	/* arg: the byte to fill with; a wrong one fails the checksum. */
	memset(*data_out, *(const char *)arg, *len_out);
	return 0;
}

Test(held, the_fetch_hook_gets_it_and_the_checksum_guards_it)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t id = tsubmit(&t, tjob_simple("h", 1));
	commit_held(&t, id, &h);
	struct q_error err = Q_ERROR_INIT;
	char *data;
	size_t len;
	static const char right = 'h', wrong = 'w';
	struct q_world_hooks hooks = { fake_fetch, NULL, NULL,
				       (void *)&right };
	q_spool_set_world(t.sp, WORLD, 1, &hooks);
	cr_assert_eq(q_item_output(t.cache, id, 0, 100, &data, &len, &err), 0,
		     "%s", err.message);
	cr_assert_eq(len, 100, "cut at max");
	cr_assert_eq(data[99], 'h');
	q_big_free(data);
	hooks.arg = (void *)&wrong;
	q_spool_set_world(t.sp, WORLD, 1, &hooks);
	cr_assert_eq(q_item_output(t.cache, id, 0, SIZE_MAX, &data, &len,
				   &err), -EBADMSG);
	cr_assert(strstr(err.message, "does not match its checksum"), "%s",
		  err.message);
	cr_assert_eq(fetch_calls, 2);
	q_spool_set_world(t.sp, "", 0, NULL);
	tspool_fini(&t);
}

/* A big output stored as a file carries its checksum; a file damaged in
 * place (same size) is refused by name, never read as the result. */
Test(held, a_damaged_file_is_refused)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("f", 1));
	struct q_claim c;
	struct q_jobh *h = tclaim(&t, id, &c);
	struct q_error err = Q_ERROR_INIT;
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE, .exit_code = 0,
			       .start_ns = 1, .end_ns = 2 };
	o.out.len = 200000;
	o.out.data = malloc(o.out.len);
	memset(o.out.data, 'f', o.out.len);
	cr_assert_eq(q_commit(h, t.cache, &c, "w.1.000001", &o, 1, &err), 1,
		     "%s", err.message);
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0);
	cr_assert_eq(rec.items[0].out.where, Q_STREAM_FILE);
	cr_assert(rec.items[0].out_summed, "a file has its checksum");
	char *path = q_record_output_path(h, &rec, 0, false);
	q_record_release(&rec);
	char *data;
	size_t len;
	cr_assert_eq(q_item_output(t.cache, id, 0, SIZE_MAX, &data, &len,
				   &err), 0, "%s", err.message);
	q_big_free(data);
	FILE *f = fopen(path, "r+");
	cr_assert_not_null(f);
	fseek(f, 1234, SEEK_SET);
	fputc('X', f);
	fclose(f);
	cr_assert_eq(q_item_output(t.cache, id, 0, SIZE_MAX, &data, &len,
				   &err), -EBADMSG);
	cr_assert(strstr(err.message, path), "%s", err.message);
	free(path);
	tspool_fini(&t);
}

Test(held, moved_counters_add_up_per_job)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("m", 1));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct q_moved sum;
	cr_assert_eq(q_moved_read(h, &sum, &err), 0);
	cr_assert_eq(sum.workers, 0, "none before any worker wrote");
	struct q_moved a = { 100, 7, 0 }, b = { 1 << 20, 0, 0 };
	cr_assert_eq(q_moved_write(h, "a.1.000001", &a, &err), 0, "%s",
		     err.message);
	cr_assert_eq(q_moved_write(h, "b.1.000001", &b, &err), 0);
	a.mpi_bytes = 300;   /* a worker replaces its own file */
	cr_assert_eq(q_moved_write(h, "a.1.000001", &a, &err), 0);
	cr_assert_eq(q_moved_read(h, &sum, &err), 0);
	cr_assert_eq(sum.workers, 2);
	cr_assert_eq(sum.mpi_bytes, 300 + (1 << 20));
	cr_assert_eq(sum.file_bytes, 7);
	tspool_fini(&t);
}

/* The MPI store lends a result it holds to its own rank's consumers
 * (workers/mpipath.c lend_own): a reader gets the very memory, and one
 * that cuts it gets a copy, never a NUL written into the holder's
 * bytes. */
static char *lent_bytes;
static int lent_releases;

static void lent_back(void *arg)
{
	lent_releases++;
}

static int lending_fetch(void *arg, struct q_jobh *h,
			 const struct q_record *rec, size_t i, char **data_out,
			 size_t *len_out, struct q_error *err)
{
	q_big_lend(lent_bytes, lent_back, NULL);
	*data_out = lent_bytes;
	*len_out = rec->items[i].out.length;
	return 1;   /* checked by the holder */
}

Test(held, lent_memory_is_shared_and_never_cut_in_place)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t id = tsubmit(&t, tjob_simple("h", 1));
	commit_held(&t, id, &h);
	lent_bytes = malloc(BIG + 1);
	memset(lent_bytes, 'h', BIG);
	lent_bytes[BIG] = '\0';
	struct q_world_hooks hooks = { lending_fetch, NULL, NULL, NULL };
	q_spool_set_world(t.sp, WORLD, 5, &hooks);
	struct q_error err = Q_ERROR_INIT;
	char *data;
	size_t len;
	cr_assert_eq(q_item_output(t.cache, id, 0, SIZE_MAX, &data, &len,
				   &err), 0, "%s", err.message);
	cr_assert_eq(data, lent_bytes, "the holder's memory, not a copy");
	cr_assert_eq(len, BIG);
	cr_assert_eq(lent_releases, 0);
	q_big_free(data);
	cr_assert_eq(lent_releases, 1, "released back to the holder");

	cr_assert_eq(q_item_output(t.cache, id, 0, 100, &data, &len, &err), 0,
		     "%s", err.message);
	cr_assert_neq(data, lent_bytes, "a cut input is a copy");
	cr_assert_eq(len, 100);
	cr_assert_eq(data[100], '\0');
	cr_assert_eq(lent_bytes[100], 'h', "the holder's bytes are untouched");
	cr_assert_eq(lent_releases, 2, "the lending ended with the copy");
	q_big_free(data);
	q_spool_set_world(t.sp, "", 0, NULL);
	free(lent_bytes);
	tspool_fini(&t);
}
