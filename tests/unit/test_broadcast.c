/*
 * test_broadcast.c: a job's broadcast input (libq/broadcast.c): what
 * submission records and refuses, reading it back once, and a file that
 * changed since.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"

static void write_file(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(text, 1, n, f), n);
	fclose(f);
}

Test(broadcast, submission_records_path_size_and_sum)
{
	struct tspool t;
	tspool_init(&t);
	char path[256];
	snprintf(path, sizeof(path), "%s/../bcast-%d.bin", t.path, getpid());
	write_file(path, "0123456789", 10);
	struct q_job *job = tjob_simple("b", 1);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_set_broadcast(job, path, &err), 0, "%s",
		     err.message);
	cr_assert_eq(job->broadcast[0], '/', "absolute");
	cr_assert_eq(job->broadcast_size, 10);
	cr_assert_eq(job->broadcast_sum, q_checksum("0123456789", 10));
	uint64_t id = tsubmit(&t, job);
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	cr_assert_not_null(h);
	cr_assert_eq(q_jobh_job(h)->broadcast_size, 10, "the spec keeps it");
	char *data;
	size_t len;
	cr_assert_eq(q_broadcast_read(h, &data, &len, &err), 0, "%s",
		     err.message);
	cr_assert_eq(len, 10);
	cr_assert_str_eq(data, "0123456789");
	q_big_free(data);
	/* Other bytes, same size: refused, saying why. */
	write_file(path, "0123456788", 10);
	cr_assert_lt(q_broadcast_read(h, &data, &len, &err), 0);
	cr_assert(strstr(err.message, "changed after it was submitted"), "%s",
		  err.message);
	unlink(path);
	tspool_fini(&t);
}

Test(broadcast, bad_files_are_refused_clearly)
{
	struct q_job *job = tjob_simple("b", 1);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_lt(q_job_set_broadcast(job, "/nonexistent/x", &err), 0);
	cr_assert_eq(err.kind, Q_ERR_INPUT);
	cr_assert(strstr(err.message, "cannot find it"), "%s", err.message);
	q_error_clear(&err);
	cr_assert_lt(q_job_set_broadcast(job, "/tmp", &err), 0);
	cr_assert(strstr(err.message, "not a regular file"), "%s", err.message);
	cr_assert_null(job->broadcast, "nothing recorded");
	q_job_release(job);
}

Test(broadcast, a_job_without_one_says_so)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("n", 1));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	char *data;
	size_t len;
	cr_assert_eq(q_broadcast_read(h, &data, &len, &err), -ENOENT);
	cr_assert(strstr(err.message, "no broadcast input"), "%s",
		  err.message);
	tspool_fini(&t);
}
