/*
 * spoolq/job.h: a job, the unit qsubmit publishes.
 *
 * A job is a flat array of items (tasks) numbered 0..nitems-1 in submission
 * order. Items come in groups: a group is one task definition (a command, a
 * kernel, or the lines of a --tasks file) with a name, and for an array one
 * item per index. Items are claimed in chunks (consecutive runs of items
 * of one group) so that a million-item array is a few thousand spool
 * entries, not a million. Dependencies are per group: "after" a range of
 * items of this or an earlier job, either all of them (ALL) or element-wise
 * (EACH: item k of the group waits for item first+k).
 *
 * Building and submitting:
 *   struct q_job *job = q_job_new("sweep");
 *   struct q_group *g = q_job_add_group(job, "run", Q_TASK_COMMAND);
 *   q_group_add_argv(g, "echo"); ... g->count = 100; g->array = true;
 *   if (q_submit(spool, job, &err) < 0) ...   // sets job->id
 *   q_job_release(job);
 *
 * Loading a published job (workers, qstatus, qcollect):
 *   q_job_load(spool, id, &job, &err); ... q_job_release(job);
 *
 * A struct q_job owns every string and array it points to.
 */
#ifndef SPOOLQ_JOB_H
#define SPOOLQ_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>

struct q_spool;

enum q_task_kind {
	Q_TASK_COMMAND,   /* argv run as a child process */
	Q_TASK_KERNEL,    /* a C kernel run inside the worker */
	Q_TASK_LINES,     /* one shell line per item (qsubmit --tasks) */
};

enum q_after_mode {
	Q_AFTER_ALL,      /* every item of the group waits for the range */
	Q_AFTER_EACH,     /* item k waits for item first+k of the range */
	Q_AFTER_MAP,      /* item k waits for items first+k*stride, ...,
			   * first+k*stride+width-1 */
};

struct q_after {
	uint64_t job;      /* the job holding the range; 0 means this job */
	uint64_t first;    /* first item of the range */
	uint64_t count;    /* items in the range */
	enum q_after_mode mode;
	uint64_t stride;   /* Q_AFTER_MAP only */
	uint64_t width;    /* Q_AFTER_MAP only, >= 1 */
	char *label;       /* as the user wrote it, for messages */
	int64_t barrier;   /* set by q_job_finalize: barrier index, or -1
			    * when the group's chunks wait on the range's
			    * chunks directly */
};

struct q_group {
	char *name;
	enum q_task_kind kind;
	uint64_t first;        /* first item (set by q_job_finalize) */
	uint64_t count;        /* number of items (array length, or 1) */
	int64_t index_base;    /* array index of the first item */
	bool array;            /* items are an array: {i} and Q_INDEX vary */
	unsigned threads;      /* cores per item, >= 1 */
	uint64_t chunk_size;   /* items per chunk; 0: chosen by spoolq */
	char **argv;           /* Q_TASK_COMMAND: program and arguments */
	size_t argc;
	char *kernel;          /* Q_TASK_KERNEL: kernel name */
	char **args;           /* Q_TASK_KERNEL: "KEY=VALUE" */
	size_t nargs;
	char **env;            /* extra environment "KEY=VALUE" */
	size_t nenv;
	char *cwd;             /* working directory, or NULL */
	struct q_after *after;
	size_t nafter;
	unsigned retries;      /* extra attempts after a failure */
	double timeout_s;      /* wall-clock limit per attempt; 0: none */
	int priority;          /* higher runs first among ready tasks */
	bool pure;             /* result reusable by content (kernels) */
	bool each_worker;      /* run once on every worker */
	/* qworker --mpi holds results of at least this many bytes
	 * (docs/mpi.md); 0: the worker's threshold; Q_MPI_NEVER: never. */
	uint64_t mpi_threshold;
	uint64_t first_chunk;  /* set by q_job_finalize */
	uint64_t nchunks;      /* set by q_job_finalize */
};

/* A barrier collects an ALL dependency on many chunks into one unit. */
struct q_barrier {
	uint64_t job;          /* 0 = this job */
	uint64_t first, count; /* the item range it waits for */
};

struct q_job {
	uint64_t id;           /* 0 until submitted */
	char *name;
	uint32_t uid;
	int64_t submitted_ns;
	char *submit_host;
	uint64_t nitems;
	uint64_t nchunks;
	unsigned nshards;
	struct q_group *groups;
	size_t ngroups;
	struct q_barrier *barriers;
	size_t nbarriers;
	char *lines;           /* Q_TASK_LINES: all lines, '\n'-separated */
	size_t lines_len;
	uint64_t *line_off;    /* start of each line (nitems of the group) */
	size_t nlines;
	char **plugins;        /* plugin paths the job's kernels need */
	size_t nplugins;
	bool no_cache;         /* run pure tasks even when results exist */
	/* A big read-only input every task may use (q_job_set_broadcast):
	 * its absolute path, size and checksum at submission; or NULL. */
	char *broadcast;
	uint64_t broadcast_size;
	uint64_t broadcast_sum;
	size_t neach_worker;   /* each_worker groups (set by the layout) */
	int max_priority;      /* the highest task priority (the layout) */
	size_t cap_groups, cap_barriers;
};

#define Q_MPI_NEVER UINT64_MAX
/* The smallest threshold: smaller results go inline into records. */
#define Q_MPI_THRESHOLD_MIN ((uint64_t)64 * 1024 + 1)

/*
 * A size in bytes: a whole number, optionally with K, M, G or T (KiB,
 * MiB, GiB, TiB; "MiB" is accepted too). False for anything else or a
 * value beyond 2^64.
 */
Q_EXPORT bool q_parse_size(const char *text, uint64_t *out);

Q_EXPORT struct q_job *q_job_new(const char *name);
Q_EXPORT void q_job_release(struct q_job *job);

/* Append a group; the pointer stays valid until the next add. */
Q_EXPORT struct q_group *q_job_add_group(struct q_job *job, const char *name,
					 enum q_task_kind kind);
Q_EXPORT void q_group_add_argv(struct q_group *g, const char *arg);
Q_EXPORT void q_group_add_arg(struct q_group *g, const char *key_value);
Q_EXPORT void q_group_add_env(struct q_group *g, const char *key_value);
Q_EXPORT void q_group_add_after(struct q_group *g, const struct q_after *a);
Q_EXPORT void q_job_add_plugin(struct q_job *job, const char *path);
/*
 * The job's broadcast input (qsubmit --broadcast FILE, broadcast: in a
 * workflow): a read-only file every task may read, which each worker
 * reads once (an MPI world: rank 0 reads it and MPI_Bcast shares it).
 * Checks that `path` is a regular file we can read, at most
 * Q_BROADCAST_MAX bytes, and records its absolute path, size and
 * checksum (reading it once). 0, or a Q_ERR_INPUT error naming the file
 * and what to do.
 */
#define Q_BROADCAST_MAX ((uint64_t)64 << 30)
Q_EXPORT int q_job_set_broadcast(struct q_job *job, const char *path,
				 struct q_error *err);
/* Take the --tasks lines (one item per non-empty line). */
Q_EXPORT void q_job_set_lines(struct q_job *job, char *lines, size_t len);

/* Lay out items and chunks, validate; done by q_submit. */
Q_EXPORT int q_job_finalize(struct q_job *job, struct q_error *err);

/*
 * Validate, stage and publish the job in the spool, atomically; sets
 * job->id. Q_ERR_INPUT for a job that cannot be submitted as it is (the
 * spool is then unchanged), Q_ERR_SYSTEM for I/O failures.
 */
Q_EXPORT int q_submit(struct q_spool *spool, struct q_job *job,
		      struct q_error *err);

Q_EXPORT int q_job_load(struct q_spool *spool, uint64_t id,
			struct q_job **job_out, struct q_error *err);

/*
 * Resolve a job reference, as every command takes one (qstatus JOB,
 * qcollect, qcancel, --after JOB, JOB:TASK in workflows):
 *
 *   digits       a job id, exactly ("12" is job 12 and never job 123: ids
 *                are dense, so a shorter number is a job of its own, and
 *                a missing id is an error, not another job);
 *   a name       the most recent job with exactly that name, even if
 *                longer names start with it;
 *   a prefix     otherwise, of exactly one distinct job name: the most
 *                recent job of that name ("swe" for "sweep"). Several
 *                names starting with it is an error that lists them.
 *
 * Q_ERR_INPUT when there is no such job or the prefix is ambiguous;
 * Q_ERR_SYSTEM when the spool cannot be read.
 */
Q_EXPORT int q_job_resolve(struct q_spool *spool, const char *ref,
			   uint64_t *id_out, struct q_error *err);

/*
 * Resolve a dependency as users write it ("12", "sweep", "12:run",
 * "12:run[3]", "12:run[0-9]", "12[3]") into an item range of an existing
 * job. The job is an id or an exact name: unlike q_job_resolve, never a
 * name prefix (a dependency in a script must not bind to another job
 * that happens to start so). Q_ERR_INPUT when the job, task or index
 * does not exist. out->label
 * is malloc'ed.
 */
Q_EXPORT int q_after_resolve(struct q_spool *spool, const char *ref,
			     struct q_after *out, struct q_error *err);

/*
 * Read a --tasks file ("-" for standard input): one command per line;
 * blank lines and lines starting with '#' are dropped. *text_out holds
 * the kept lines, each ending in '\n' (malloc'ed).
 */
Q_EXPORT int q_tasks_file_read(const char *path, char **text_out,
			       size_t *len_out, size_t *lines_out,
			       struct q_error *err);

/* Every published job id, ascending. *ids_out is malloc'ed. */
Q_EXPORT int q_job_list(struct q_spool *spool, uint64_t **ids_out,
			size_t *n_out, struct q_error *err);

/* Lookups on a laid-out job. */
Q_EXPORT const struct q_group *q_job_group_of(const struct q_job *job,
					      uint64_t item);
Q_EXPORT uint64_t q_job_chunk_of(const struct q_job *job, uint64_t item);
Q_EXPORT void q_job_chunk_items(const struct q_job *job, uint64_t chunk,
				uint64_t *first_out, uint64_t *count_out);
Q_EXPORT unsigned q_job_shard_of(const struct q_job *job, uint64_t chunk);
/* The array index of an item ({i}, Q_INDEX). */
Q_EXPORT int64_t q_job_index_of(const struct q_job *job, uint64_t item);
/* The items item k of a group (k counted from the group's first item)
 * waits for under dependency `a`: [*first_out, *first_out + *count_out). */
Q_EXPORT void q_after_items(const struct q_after *a, uint64_t k,
			    uint64_t *first_out, uint64_t *count_out);

/* `s` with every "{i}" replaced by `index` (malloc'ed). */
Q_EXPORT char *q_subst_index(const char *s, int64_t index);

/* "name" or "name[index]", for people. */
Q_EXPORT void q_job_item_label(const struct q_job *job, uint64_t item,
			       char *out, size_t size);

#endif
