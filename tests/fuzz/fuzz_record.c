/*
 * fuzz_record.c: libFuzzer target for the parsers of spoolq's own files.
 *
 * Everything read back from a spool is untrusted (DESIGN invariant 6): a
 * damaged disk, a half-written file from an older bug, or a hostile member
 * of a group spool. The first input byte picks the parser family, the
 * rest is the file:
 *
 *   0  a chunk record (done/<s>/<chunk>, record.c)
 *   1  a job: job file, NUL, spec, NUL, lines file (jobfile.c, laid out
 *      and checked as q_job_load does)
 *   2  a worker's heartbeat file (workers/<id>, read by q_workers_list)
 *   3  an entry name in ready/ or claim/, and a job id
 *
 * Design notes
 * 1. One target with a selector byte rather than one per family: the
 *    families share the line tokenizer and the escaping (text.c), so what
 *    the fuzzer learns about one helps the others, and CI pays for one
 *    60-second run instead of four.
 * 2. Beyond "no crash": a record the parser accepts is formatted and
 *    parsed again and must read the same (an asymmetry would make a
 *    worker's record unreadable); a mismatch aborts, which libFuzzer
 *    reports like a crash.
 * 3. The heartbeat parser is internal to workers.c, so family 2 writes
 *    the bytes into a private spool and lists its workers: the real path,
 *    at a few system calls per input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "job_internal.h"
#include "jobh_internal.h"
#include "spool_internal.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_record: %s\n", what);
	abort();
}

/* A writable copy with a NUL after the end (the parsers split in place). */
static char *copy_of(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static bool same_str(const char *a, const char *b)
{
	/* "" and no string are both written as "-" (a reason) */
	if (!a || !*a || !b || !*b)
		return (!a || !*a) && (!b || !*b);
	return strcmp(a, b) == 0;
}

static bool same_stream(const struct q_stream *a, const struct q_stream *b)
{
	return a->where == b->where && a->offset == b->offset &&
	       a->length == b->length;
}

static bool same_record(const struct q_record *a, const struct q_record *b)
{
	if (a->job != b->job || a->chunk != b->chunk ||
	    a->attempt != b->attempt || a->first != b->first ||
	    a->count != b->count || !same_str(a->worker, b->worker) ||
	    !same_str(a->host, b->host) || a->claimed_ns != b->claimed_ns ||
	    a->data_len != b->data_len ||
	    memcmp(a->data, b->data, a->data_len) != 0 ||
	    strcmp(a->chunk_key, b->chunk_key) != 0 ||
	    a->cached_job != b->cached_job ||
	    a->cached_chunk != b->cached_chunk)
		return false;
	for (uint64_t i = 0; i < a->count; i++) {
		const struct q_item_record *x = &a->items[i], *y = &b->items[i];
		if (x->item != y->item || x->state != y->state ||
		    x->exit_code != y->exit_code ||
		    x->start_ns != y->start_ns || x->end_ns != y->end_ns ||
		    x->slot != y->slot || !same_stream(&x->out, &y->out) ||
		    !same_stream(&x->err, &y->err) ||
		    !same_str(x->reason, y->reason) ||
		    strcmp(x->key, y->key) != 0 ||
		    x->out_summed != y->out_summed ||
		    (x->out_summed && x->out_sum != y->out_sum) ||
		    strcmp(x->held_world, y->held_world) != 0 ||
		    x->held_rank != y->held_rank)
			return false;
	}
	return true;
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_record rec, back;
	char *text = copy_of(data, size);

	if (q__record_parse(&rec, text, size, "record", &err) < 0) {
		if (!err.message[0])
			fail("a refused record must give a message");
		q_record_release(&rec);
		free(text);
		return;
	}
	free(text);
	struct q_buf b = Q_BUF_INIT;
	q__record_format(&rec, &b);
	if (q__record_parse(&back, b.data, b.len, "again", &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		fail("an accepted record does not read back");
	}
	if (!same_record(&rec, &back))
		fail("an accepted record reads back different");
	q_record_release(&back);
	q_record_release(&rec);
	q__buf_release(&b);
}

/* Split at the next NUL: the part before it, and *rest after it. */
static char *next_part(const uint8_t **rest, size_t *left, size_t *len_out)
{
	const uint8_t *nul = memchr(*rest, '\0', *left);
	size_t len = nul ? (size_t)(nul - *rest) : *left;
	char *part = copy_of(*rest, len);
	*len_out = len;
	*rest += nul ? len + 1 : len;
	*left -= nul ? len + 1 : len;
	return part;
}

/* The steps of q_job_load (jobload.c) on buffers instead of files. */
static void fuzz_job(const uint8_t *data, size_t size)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_job meta = { 0 };
	struct q_job *job = q__calloc(1, sizeof(*job));
	size_t mlen, slen, llen;
	char *mtext = next_part(&data, &size, &mlen);
	char *stext = next_part(&data, &size, &slen);
	char *ltext = next_part(&data, &size, &llen);

	if (q__job_parse_meta(&meta, mtext, mlen, NULL, 0, "job", &err) < 0 ||
	    q__job_parse_spec(job, stext, slen, "spec", &err) < 0) {
		if (!err.message[0])
			fail("a refused job must give a message");
		goto out;
	}
	bool has_lines = false;
	for (size_t i = 0; i < job->ngroups; i++)
		if (job->groups[i].kind == Q_TASK_LINES)
			has_lines = true;
	if (has_lines) {
		q_job_set_lines(job, ltext, llen);
		ltext = NULL;
	}
	if (q__job_layout(job, &err) < 0 || job->nitems != meta.nitems ||
	    job->nchunks != meta.nchunks || job->nshards != meta.nshards ||
	    job->nbarriers != meta.nbarriers)
		goto out;
	/* A loaded job is used: map a few chunks to their items and groups
	 * and every dependency to the items it waits for. */
	for (uint64_t c = 0; c < job->nchunks && c < 64; c++) {
		uint64_t first, count;
		q_job_chunk_items(job, c, &first, &count);
		if (count == 0 || first + count > job->nitems ||
		    q_job_shard_of(job, c) >= job->nshards ||
		    !q__job_group_of_chunk(job, c))
			fail("a loaded job maps a chunk outside the job");
		/* The {i} of its items, as workers and qstatus show them. */
		char label[256];
		(void)q_job_index_of(job, first);
		q_job_item_label(job, first + count - 1, label, sizeof(label));
	}
	for (size_t i = 0; i < job->ngroups; i++)
		for (size_t k = 0; k < job->groups[i].nafter; k++) {
			uint64_t first, count;
			q_after_items(&job->groups[i].after[k], 0, &first,
				      &count);
		}
out:
	free(meta.name);
	free(meta.submit_host);
	q_job_release(job);
	free(mtext);
	free(stext);
	free(ltext);
}

static struct q_spool *worker_spool;
static char worker_dir[64];

static void remove_worker_spool(void)
{
	char cmd[128];
	q_spool_close(worker_spool);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", worker_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_record: cannot remove %s\n", worker_dir);
}

static void fuzz_worker(const uint8_t *data, size_t size)
{
	struct q_error err = Q_ERROR_INIT;

	if (!worker_spool) {
		char path[96];
		snprintf(worker_dir, sizeof(worker_dir), "/tmp/fuzz-spool.XXXXXX");
		if (!mkdtemp(worker_dir))
			fail("cannot make a temporary directory");
		snprintf(path, sizeof(path), "%s/spool", worker_dir);
		if (q_spool_open(&worker_spool, path, Q_SPOOL_CREATE, &err) < 0) {
			fprintf(stderr, "%s\n", err.message);
			fail("cannot create a spool");
		}
		atexit(remove_worker_spool);
	}
	int fd = openat(worker_spool->workersfd, "fuzz.1.2.3",
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
	    close(fd) != 0)
		fail("cannot write the worker file");
	struct q_worker_info *w = NULL;
	size_t n = 0;
	if (q_workers_list(worker_spool, &w, &n, &err) < 0)
		fail(err.message);
	for (size_t i = 0; i < n; i++)
		if (!memchr(w[i].host, '\0', sizeof(w[i].host)) ||
		    !memchr(w[i].slurm_job, '\0', sizeof(w[i].slurm_job)))
			fail("a worker's fields are not strings");
	free(w);
}

static void fuzz_names(const uint8_t *data, size_t size)
{
	char *name = copy_of(data, size);
	uint64_t chunk, id;
	unsigned attempt;
	int64_t not_before;
	const char *worker;

	if (q__parse_ready_full(name, &chunk, &attempt, &not_before) &&
	    (attempt == 0 || not_before < 0))
		fail("a ready name parsed to a bad attempt or time");
	if (q__parse_claim_name(name, &chunk, &attempt, &worker) &&
	    (attempt == 0 || !*worker || strchr(worker, '/')))
		fail("a claim name parsed to a bad attempt or worker");
	(void)q_job_id_parse(name, &id);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0: fuzz_record(data + 1, size - 1); break;
	case 1: fuzz_job(data + 1, size - 1); break;
	case 2: fuzz_worker(data + 1, size - 1); break;
	case 3: fuzz_names(data + 1, size - 1); break;
	}
	return 0;
}
