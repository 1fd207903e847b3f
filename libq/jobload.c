/*
 * jobload.c: finding and loading published jobs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_internal.h"
#include "names_internal.h"

int q__job_open_dir(struct q_spool *sp, uint64_t id)
{
	char name[32];
	snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
	int fd = q__open_dir_beneath(sp->jobsfd, name);
	return fd < 0 ? -errno : fd;
}

static int load_file(int dirfd, const char *name, size_t max, char **data,
		     size_t *len, const char *where, struct q_error *err)
{
	int ret = q__read_file(dirfd, name, max, data, len);
	if (ret == -EFBIG)
		return q_error_set(err, Q_ERR_SYSTEM, 0,
				   "'%s' is larger than %zu bytes; refusing "
				   "to read it", where, max);
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot read '%s'", where);
	return 0;
}

int q_job_load(struct q_spool *sp, uint64_t id, struct q_job **job_out,
	       struct q_error *err)
{
	char where[512];
	char *text = NULL;
	size_t len = 0;
	struct q_job *job = q__calloc(1, sizeof(*job));
	int ret;

	job->id = id;
	*job_out = NULL;
	int dirfd = q__job_open_dir(sp, id);
	if (dirfd < 0) {
		if (dirfd == -ENOENT)
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "no job %llu in spool '%s'",
					  (unsigned long long)id, sp->path);
		else
			ret = q_error_set(err, Q_ERR_SYSTEM, -dirfd,
					  "cannot open job %llu in '%s'",
					  (unsigned long long)id, sp->path);
		goto fail;
	}

	snprintf(where, sizeof(where), "%s/jobs/%llu/job", sp->path,
		 (unsigned long long)id);
	if ((ret = load_file(dirfd, "job", Q_JOB_FILE_MAX, &text, &len, where,
			     err)) < 0)
		goto fail_fd;
	struct q_job meta = { 0 };
	meta.name = NULL;
	ret = q__job_parse_meta(&meta, text, len, NULL, 0, where, err);
	free(text);
	text = NULL;
	if (ret < 0) {
		free(meta.name);
		free(meta.submit_host);
		goto fail_fd;
	}
	job->name = meta.name ? meta.name : q__strdup("job");
	job->submit_host = meta.submit_host ? meta.submit_host
					    : q__strdup("?");
	job->uid = meta.uid;
	job->submitted_ns = meta.submitted_ns;

	snprintf(where, sizeof(where), "%s/jobs/%llu/spec", sp->path,
		 (unsigned long long)id);
	if ((ret = load_file(dirfd, "spec", Q_SPEC_FILE_MAX, &text, &len,
			     where, err)) < 0)
		goto fail_fd;
	ret = q__job_parse_spec(job, text, len, where, err);
	free(text);
	text = NULL;
	if (ret < 0)
		goto fail_fd;

	bool has_lines = false;
	for (size_t i = 0; i < job->ngroups; i++)
		if (job->groups[i].kind == Q_TASK_LINES)
			has_lines = true;
	if (has_lines) {
		snprintf(where, sizeof(where), "%s/jobs/%llu/lines", sp->path,
			 (unsigned long long)id);
		if ((ret = load_file(dirfd, "lines", Q_LINES_FILE_MAX, &text,
				     &len, where, err)) < 0)
			goto fail_fd;
		q_job_set_lines(job, text, len);
		text = NULL;
	}

	/* Lay out chunks exactly as qsubmit did and check the totals. A
	 * LINES group's count comes from the lines file. */
	struct q_error lerr = Q_ERROR_INIT;
	if (q__job_layout(job, &lerr) < 0 || job->nitems != meta.nitems ||
	    job->nchunks != meta.nchunks || job->nshards != meta.nshards ||
	    job->nbarriers != meta.nbarriers) {
		snprintf(where, sizeof(where), "%s/jobs/%llu", sp->path,
			 (unsigned long long)id);
		ret = q_error_set(err, Q_ERR_SYSTEM, 0,
				  "job '%s' is damaged: its spec does not match "
				  "its job file (remove it or restore the "
				  "spool)", where);
		goto fail_fd;
	}
	close(dirfd);
	*job_out = job;
	return 0;
fail_fd:
	close(dirfd);
fail:
	free(text);
	q_job_release(job);
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int q_job_list(struct q_spool *sp, uint64_t **ids_out, size_t *n_out,
	       struct q_error *err)
{
	DIR *d = q__opendir_at(sp->jobsfd, NULL);
	if (!d)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot read '%s/jobs'", sp->path);
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		uint64_t id;
		/* Anything that is not a job id (dot-files, NFS silly-renames)
		 * is not a job. */
		if (!q_job_id_parse(de->d_name, &id))
			continue;
		q__grow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = id;
	}
	int saved = errno;
	closedir(d);
	if (saved) {
		free(ids);
		return q_error_set(err, Q_ERR_SYSTEM, saved,
				   "cannot read '%s/jobs'", sp->path);
	}
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_u64);
	*ids_out = ids;
	*n_out = n;
	return 0;
}

/* The name in a job's job file, or NULL (malloc'ed). */
char *q__job_name(struct q_spool *sp, uint64_t id)
{
	int dirfd = q__job_open_dir(sp, id);
	if (dirfd < 0)
		return NULL;
	char *text = NULL;
	size_t len;
	char *name = NULL;
	if (q__read_file(dirfd, "job", Q_JOB_FILE_MAX, &text, &len) == 0) {
		struct q_job meta = { 0 };
		struct q_error err = Q_ERROR_INIT;
		if (q__job_parse_meta(&meta, text, len, NULL, 0, "job",
				      &err) == 0)
			name = meta.name, meta.name = NULL;
		free(meta.name);
		free(meta.submit_host);
	}
	free(text);
	close(dirfd);
	return name;
}

/*
 * Job references (q_job_resolve, the contract is in spoolq/job.h):
 *
 * 1. Digits are a job id and nothing else: exact, never a prefix. Ids are
 *    dense (each job gets the number after the largest), so every shorter
 *    number is a job of its own; a prefix could only ever stand in for a
 *    job that is not there (mistyped, or removed by hand), and `qcancel
 *    105` must not cancel job 1050.
 * 2. Anything else is a name. The newest job of exactly that name wins,
 *    even when the name also starts longer names.
 * 3. Otherwise the distinct names that start with it: exactly one, and
 *    the newest job of that name is meant; several, and the error lists
 *    them (a few, with their newest job) and how to choose.
 * 4. Dependencies take no prefixes (q__job_resolve_exact): a reference
 *    written into a script is a contract. `--after prep`, submitted
 *    before any job `prep` exists, must be an error, not a wait for the
 *    only job named `prep2`.
 */

/* Names that start with a reference, each with its newest job. */
#define AMBIGUOUS_SHOWN 5

struct prefix_match {
	char *name;
	uint64_t id;       /* the newest job of that name */
};

struct prefix_matches {
	struct prefix_match *v;
	size_t n, cap;
};

static void prefix_matches_release(struct prefix_matches *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].name);
	free(m->v);
}

/* Add `name` (taken over) unless a newer job of that name is in. Called
 * newest job first, so the first job seen of a name is its newest. */
static void prefix_matches_add(struct prefix_matches *m, char *name,
			       uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0) {
			free(name);
			return;
		}
	q__grow(&m->v, &m->cap, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = (struct prefix_match){ name, id };
}

static int ambiguous_prefix(struct q_spool *sp, const char *ref,
			    const struct prefix_matches *m, struct q_error *err)
{
	char list[AMBIGUOUS_SHOWN * (Q_NAME_MAX + 32)] = "";
	size_t len = 0;
	for (size_t i = 0; i < m->n && i < AMBIGUOUS_SHOWN; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
					"%s'%s' (job %llu)", i ? ", " : "",
					m->v[i].name,
					(unsigned long long)m->v[i].id);
	if (m->n > AMBIGUOUS_SHOWN)
		snprintf(list + len, sizeof(list) - len, " and %zu more",
			 m->n - AMBIGUOUS_SHOWN);
	return q_error_set(err, Q_ERR_INPUT, 0,
			   "job '%s' is ambiguous in spool '%s': no job is "
			   "named so, and it starts the names %s; give more "
			   "of the name, or the job id (qstatus lists the "
			   "jobs)", ref, sp->path, list);
}

static int resolve(struct q_spool *sp, const char *ref, bool prefixes,
		   uint64_t *id_out, struct q_error *err)
{
	uint64_t id;

	if (q_job_id_parse(ref, &id)) {
		int fd = q__job_open_dir(sp, id);
		if (fd < 0)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "no job %s in spool '%s' (qstatus "
					   "lists the jobs)", ref, sp->path);
		close(fd);
		*id_out = id;
		return 0;
	}
	struct q_error nerr = Q_ERROR_INIT;
	if (q_name_check("job name", ref, &nerr) < 0)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "'%s' is neither a job id nor a job name "
				   "(qstatus lists the jobs)", ref);
	uint64_t *ids;
	size_t n;
	int ret = q_job_list(sp, &ids, &n, err);
	if (ret < 0)
		return ret;
	/* Newest first: the most recent job of a name wins (note 2). */
	struct prefix_matches m = { 0 };
	size_t reflen = strlen(ref);
	for (size_t i = n; i-- > 0;) {
		char *name = q__job_name(sp, ids[i]);
		if (!name)
			continue;
		if (strcmp(name, ref) == 0) {
			free(name);
			*id_out = ids[i];
			goto out;
		}
		if (prefixes && strncmp(name, ref, reflen) == 0)
			prefix_matches_add(&m, name, ids[i]);
		else
			free(name);
	}
	if (m.n == 1)
		*id_out = m.v[0].id;
	else if (m.n > 1)
		ret = ambiguous_prefix(sp, ref, &m, err);
	else if (!prefixes)
		ret = q_error_set(err, Q_ERR_INPUT, 0,
				  "no job named '%s' in spool '%s' (a "
				  "dependency names its job exactly; qstatus "
				  "lists the jobs)", ref, sp->path);
	else
		ret = q_error_set(err, Q_ERR_INPUT, 0,
				  "no job named '%s' in spool '%s', and no "
				  "name starts so (qstatus lists the jobs)",
				  ref, sp->path);
out:
	prefix_matches_release(&m);
	free(ids);
	return ret;
}

int q_job_resolve(struct q_spool *sp, const char *ref, uint64_t *id_out,
		  struct q_error *err)
{
	return resolve(sp, ref, true, id_out, err);
}

int q__job_resolve_exact(struct q_spool *sp, const char *ref,
			 uint64_t *id_out, struct q_error *err)
{
	return resolve(sp, ref, false, id_out, err);
}
