/*
 * job_internal.h: job layout constants and the job file formats.
 */
#ifndef LIBQ_JOB_INTERNAL_H
#define LIBQ_JOB_INTERNAL_H

#include <stdio.h>

#include "internal.h"
#include "spool_internal.h"

#define Q_MAX_ITEMS ((uint64_t)1 << 40)
#define Q_CHUNKS_PER_GROUP 16384
#define Q_CHUNKS_PER_SHARD 512
#define Q_MAX_SHARDS 256
/* Chunks per job: at most 4096 entries per shard directory, and one byte
 * per chunk in every reader's job handle. */
#define Q_MAX_CHUNKS ((uint64_t)Q_MAX_SHARDS * 4096)
#define Q_MAX_THREADS 4096
/* Entries per wait bucket (wait/<unit>/<bucket>/). */
#define Q_WAIT_BUCKET 1024

/* Bounds on files read back from the spool. */
#define Q_JOB_FILE_MAX (64 * 1024)
#define Q_SPEC_FILE_MAX ((size_t)512 << 20)
#define Q_LINES_FILE_MAX ((size_t)1 << 30)

int q__job_layout(struct q_job *job, struct q_error *err);
const struct q_group *q__job_group_of_chunk(const struct q_job *job,
					    uint64_t chunk);
const char *q__job_line(const struct q_job *job, uint64_t n, size_t *len_out);

/* Serialise the job file and the spec (jobfile.c). */
void q__job_format_meta(const struct q_job *job, const char *stage,
			struct q_buf *out);
void q__job_format_spec(const struct q_job *job, struct q_buf *out);
int q__job_parse_meta(struct q_job *job, char *text, size_t len,
		      char *stage_out, size_t stage_size, const char *where,
		      struct q_error *err);
int q__job_parse_spec(struct q_job *job, char *text, size_t len,
		      const char *where, struct q_error *err);

/* The name in a job's job file, or NULL (malloc'ed). */
char *q__job_name(struct q_spool *sp, uint64_t id);

/* q_job_resolve without name prefixes: a job id or an exact job name
 * (dependencies, jobload.c note 4). */
int q__job_resolve_exact(struct q_spool *sp, const char *ref,
			 uint64_t *id_out, struct q_error *err);

/* Remove a directory tree libq built (bounded depth), best effort. */
void q__remove_tree(int dirfd, const char *name);

/* Open jobs/<id> (no symlinks); fd or -errno. */
int q__job_open_dir(struct q_spool *sp, uint64_t id);

#endif
