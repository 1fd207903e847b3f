/*
 * ref.c: dependency references as users write them, and --tasks files.
 *
 *   JOB            every task of job JOB (an id, or the latest job named so)
 *   JOB:TASK       every item of task TASK of that job
 *   JOB:TASK[I]    item I of an array task
 *   JOB:TASK[A-B]  items A to B
 *   JOB[I], JOB[A-B]  the same, for a job with a single task
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_internal.h"

static int parse_index_range(const char *s, int64_t *a, int64_t *b)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10), y;
	if (end == s || errno)
		return -1;
	y = x;
	if (*end == '-' && end != s) {
		const char *t = end + 1;
		y = strtoll(t, &end, 10);
		if (end == t || errno)
			return -1;
	}
	if (strcmp(end, "]") != 0 || y < x)
		return -1;
	*a = x;
	*b = y;
	return 0;
}

int q_after_resolve(struct q_spool *sp, const char *ref, struct q_after *out,
		    struct q_error *err)
{
	char jobref[Q_NAME_MAX + 2], task[Q_NAME_MAX + 2];
	const char *colon = strchr(ref, ':');
	const char *br = strchr(ref, '[');
	size_t jlen = colon ? (size_t)(colon - ref)
			    : br ? (size_t)(br - ref) : strlen(ref);
	int ret;

	memset(out, 0, sizeof(*out));
	out->barrier = -1;
	if (jlen == 0 || jlen > Q_NAME_MAX)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "cannot read dependency '%s' (write JOB, "
				   "JOB:TASK or JOB:TASK[I])", ref);
	memcpy(jobref, ref, jlen);
	jobref[jlen] = '\0';
	task[0] = '\0';
	if (colon) {
		const char *t = colon + 1;
		size_t tlen = br && br > colon ? (size_t)(br - t) : strlen(t);
		if (tlen == 0 || tlen > Q_NAME_MAX)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "cannot read dependency '%s' (write "
					   "JOB:TASK or JOB:TASK[I])", ref);
		memcpy(task, t, tlen);
		task[tlen] = '\0';
	}
	uint64_t id;
	struct q_error jerr = Q_ERROR_INIT;
	/* Exact: no name prefixes in dependencies (jobload.c note 4). */
	if (q__job_resolve_exact(sp, jobref, &id, &jerr) < 0)
		return q_error_set(err, jerr.kind, jerr.errnum,
				   "dependency '%s': %s", ref, jerr.message);
	struct q_job *job;
	if ((ret = q_job_load(sp, id, &job, err)) < 0)
		return ret;

	const struct q_group *g = NULL;
	if (task[0]) {
		for (size_t i = 0; i < job->ngroups; i++)
			if (strcmp(job->groups[i].name, task) == 0)
				g = &job->groups[i];
		if (!g) {
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "dependency '%s': job %llu has no "
					  "task '%s' (qstatus %llu --tasks "
					  "lists them)", ref,
					  (unsigned long long)id, task,
					  (unsigned long long)id);
			goto out;
		}
	} else if (br) {
		if (job->ngroups != 1) {
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "dependency '%s': job %llu has %zu "
					  "tasks; name one (JOB:TASK[I])", ref,
					  (unsigned long long)id, job->ngroups);
			goto out;
		}
		g = &job->groups[0];
	}
	out->job = id;
	out->mode = Q_AFTER_ALL;
	if (!g) {
		out->first = 0;
		out->count = job->nitems;
	} else if (!br) {
		out->first = g->first;
		out->count = g->count;
	} else {
		int64_t a, b;
		if (parse_index_range(br + 1, &a, &b) < 0) {
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "dependency '%s': cannot read the "
					  "index (write [I] or [A-B])", ref);
			goto out;
		}
		int64_t lo = g->index_base;
		int64_t hi = g->index_base + (int64_t)g->count - 1;
		if (a < lo || b > hi) {
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "dependency '%s': task '%s' of job "
					  "%llu has indexes %lld..%lld", ref,
					  g->name, (unsigned long long)id,
					  (long long)lo, (long long)hi);
			goto out;
		}
		out->first = g->first + (uint64_t)(a - lo);
		out->count = (uint64_t)(b - a) + 1;
	}
	out->label = q__strdup(ref);
	ret = 0;
out:
	q_job_release(job);
	return ret;
}

int q_tasks_file_read(const char *path, char **text_out, size_t *len_out,
		      size_t *lines_out, struct q_error *err)
{
	const char *shown = strcmp(path, "-") == 0 ? "standard input" : path;
	int fd = strcmp(path, "-") == 0 ? dup(0)
					: open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "tasks file '%s' does not exist "
					   "(give a file with one command per "
					   "line, or - for standard input)",
					   path);
		return q_error_set(err, Q_ERR_INPUT, errno,
				   "cannot open tasks file '%s'", path);
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "tasks file '%s' is a directory (give a "
				   "file with one command per line)", path);
	}
	struct q_buf raw = Q_BUF_INIT;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			q__buf_release(&raw);
			return q_error_set(err, Q_ERR_INPUT, e,
					   "cannot read tasks file '%s'", shown);
		}
		if (n == 0)
			break;
		q__buf_add(&raw, buf, (size_t)n);
		if (raw.len > Q_LINES_FILE_MAX) {
			close(fd);
			q__buf_release(&raw);
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "tasks file '%s' is larger than "
					   "%zu bytes", shown,
					   (size_t)Q_LINES_FILE_MAX);
		}
	}
	close(fd);
	if (raw.len && memchr(raw.data, '\0', raw.len)) {
		size_t line = 1;
		const char *nul = memchr(raw.data, '\0', raw.len);
		for (const char *p = raw.data; p < nul; p++)
			line += *p == '\n';
		q__buf_release(&raw);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "tasks file '%s', line %zu: contains a NUL "
				   "byte (is it a binary file?)", shown, line);
	}
	/* Keep each command line; drop blank lines and # comments. */
	struct q_buf out = Q_BUF_INIT;
	size_t lines = 0;
	const char *p = raw.data ? raw.data : "";
	const char *end = p + raw.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		const char *s = p;
		while (s < stop && isspace((unsigned char)*s))
			s++;
		size_t len = (size_t)(stop - s);
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len && *s != '#') {
			q__buf_add(&out, s, len);
			q__buf_addch(&out, '\n');
			lines++;
		}
		p = nl ? nl + 1 : end;
	}
	q__buf_release(&raw);
	if (lines == 0) {
		q__buf_release(&out);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "tasks file '%s' has no commands (one "
				   "command per line; blank lines and lines "
				   "starting with # are skipped)", shown);
	}
	*len_out = out.len;
	*text_out = q__buf_detach(&out);
	*lines_out = lines;
	return 0;
}
