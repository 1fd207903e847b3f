/*
 * fuzz_workflow.c: libFuzzer target for the YAML workflow loader.
 *
 * The input is a workflow file. q_workflow_parse reads it from memory the
 * way qsubmit reads a file (ydoc.c under its limits, then workflow.c), so
 * every byte is untrusted input exactly as a user's file is.
 *
 * Design notes
 * 1. The file's path is in a directory that does not exist, so a relative
 *    `plugins:` entry or `cwd:` never names a real file; the loader only
 *    dlopens regular ELF files, which a fuzzer does not invent.
 * 2. Beyond "no crash": a workflow the loader accepts must survive the
 *    spool's own formats. Its job and spec files are written and read back
 *    (jobfile.c), laid out again, and must give the same totals and the
 *    same spec bytes; a mismatch aborts, so libFuzzer reports it like a
 *    crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spoolq/spoolq.h>

#include "job_internal.h"
#include "kernels.h"

#define FUZZ_PATH "/nonexistent-spoolq-fuzz/flow.yaml"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_workflow: %s\n", what);
	abort();
}

/* Format `job`'s job and spec files, parse them back into a new job, lay
 * it out, and check it is the same job (design note 2). */
static void check_round_trip(const struct q_job *job)
{
	struct q_buf meta = Q_BUF_INIT, spec = Q_BUF_INIT, again = Q_BUF_INIT;
	struct q_error err = Q_ERROR_INIT;
	struct q_job *back = q__calloc(1, sizeof(*back));
	struct q_job info = { 0 };

	q__job_format_meta(job, "published", &meta);
	q__job_format_spec(job, &spec);
	if (q__job_parse_meta(&info, meta.data, meta.len, NULL, 0, "job",
			      &err) < 0 ||
	    q__job_parse_spec(back, spec.data, spec.len, "spec", &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		fail("a job the loader accepted does not read back");
	}
	if (q__job_layout(back, &err) < 0)
		fail("a job the loader accepted does not lay out again");
	if (back->nitems != info.nitems || back->nchunks != info.nchunks ||
	    back->nshards != info.nshards ||
	    back->nbarriers != info.nbarriers ||
	    back->ngroups != job->ngroups || back->nitems != job->nitems)
		fail("the spec read back has other totals than the job file");
	/* The spec was split in place by the parser: format both again. */
	q__buf_release(&spec);
	q__job_format_spec(job, &spec);
	q__job_format_spec(back, &again);
	if (spec.len != again.len || memcmp(spec.data, again.data, spec.len))
		fail("the spec read back formats differently");
	free(info.name);
	free(info.submit_host);
	q_job_release(back);
	q__buf_release(&meta);
	q__buf_release(&spec);
	q__buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	struct q_error err = Q_ERROR_INIT;
	struct q_workflow_info info;
	struct q_job *job = NULL;

	if (!registered) {
		q_builtin_kernels_register();
		registered = 1;
	}
	if (q_workflow_parse(FUZZ_PATH, (const char *)data, size, NULL, &job,
			     &info, &err) < 0) {
		if (job || err.kind != Q_ERR_INPUT || !err.message[0])
			fail("a refused workflow must give an input error "
			     "with a message, and no job");
		return 0;
	}
	if (!job || info.tasks != job->nitems)
		fail("an accepted workflow must give its job");
	check_round_trip(job);
	q_job_release(job);
	return 0;
}
