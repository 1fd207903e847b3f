/*
 * inputfiles.c: a command task's inputs, as files it can read.
 *
 * Design notes
 * 1. An input is a dependency's result (stdout), in q_item_inputs order.
 *    A result stored as a file of its own (out/<s>/...) is passed by that
 *    file's path: records and their outputs are immutable, so the command
 *    reads the spool's copy and nothing is copied. An inline result is
 *    copied into a temporary file in the spool's tmp/ (same file system,
 *    the spool's modes), which q_input_files_release removes once the
 *    command has finished, whatever happened. An empty result is
 *    /dev/null: no file to create, so a fan-in over many side-effect
 *    tasks (no output) costs nothing.
 * 2. Paths are absolute (the spool's path is, spool.c), so a task with
 *    its own cwd can open them.
 * 3. A record is read once per chunk, not once per input: inputs come in
 *    `after` order, so the items of one chunk are consecutive.
 * 4. Bounds. A new process's arguments and environment share ARG_MAX
 *    (2 MiB by default on Linux, a quarter of the stack limit) and one
 *    string may hold at most 128 KiB (MAX_ARG_STRLEN). Up to
 *    Q_INPUTS_DIRECT_MAX inputs whose quoted paths take at most
 *    Q_INPUTS_DIRECT_BYTES (so that `{inputs}` inside one argument or
 *    shell line stays under 128 KiB, and Q_INPUT_<k> plus {inputs} under
 *    a quarter of ARG_MAX), the command gets them one by one. Beyond,
 *    it gets Q_INPUTS and Q_INPUTS_FILE only, and a command using
 *    {inputs} fails with a reason naming Q_INPUTS_FILE: a clear message
 *    instead of E2BIG from the exec.
 * 5. Q_INPUTS_FILE lists one path per line; a spool path containing a
 *    newline cannot be listed and is refused.
 *
 * NEEDSWORK: N inline inputs are N temporary files (created, written,
 * removed) for every item that has them: a task after a million small
 * results makes a million files in tmp/. Writing each chunk's inline
 * results once into a per-task directory, or letting a task say it does
 * not read its inputs, is the performance issue's work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inputfiles.h"

#define TOKEN "{inputs}"
#define TOKEN_LEN (sizeof(TOKEN) - 1)

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

/* ---- a growing string ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *sb_detach(struct sbuf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	*b = (struct sbuf){ NULL, 0, 0 };
	return s;
}

static void sb_quote(struct sbuf *b, const char *s)
{
	sb_add(b, "'", 1);
	while (*s) {
		size_t n = strcspn(s, "'");
		sb_add(b, s, n);
		s += n;
		if (*s == '\'') {
			sb_add(b, "'\\''", 4);
			s++;
		}
	}
	sb_add(b, "'", 1);
}

char *q_shell_quote(const char *s)
{
	struct sbuf b = { NULL, 0, 0 };
	sb_quote(&b, s);
	return sb_detach(&b);
}

/* ---- making the files ---- */

static void remember_tmp(struct q_input_files *in, const char *name)
{
	if (in->ntmps == in->cap_tmps) {
		in->cap_tmps = in->cap_tmps ? in->cap_tmps * 2 : 16;
		in->tmps = xrealloc(in->tmps, in->cap_tmps * sizeof(char *));
	}
	in->tmps[in->ntmps++] = xstrdup(name);
}

/* The spool's path is absolute (spool.c), so these paths are too. */
static char *tmp_path(const struct q_input_files *in, const char *name)
{
	struct sbuf b = { NULL, 0, 0 };
	sb_str(&b, q_spool_path(in->sp));
	sb_str(&b, "/tmp/");
	sb_str(&b, name);
	return sb_detach(&b);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A new file in tmp/ holding `len` bytes; removed on release. */
static int copy_to_tmp(struct q_input_files *in,
		       const char *data, size_t len, char **path_out,
		       struct q_error *err)
{
	char name[Q_CLAIM_NAME_MAX];
	int fd = q_spool_tmp_create(in->sp, "in", name, sizeof(name));
	if (fd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -fd,
				   "cannot create a file in '%s/tmp'",
				   q_spool_path(in->sp));
	remember_tmp(in, name);
	int ret = write_all(fd, data, len);
	if (close(fd) != 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot write '%s/tmp/%s'",
				   q_spool_path(in->sp), name);
	*path_out = tmp_path(in, name);
	return 0;
}

/* The record holding the input being looked at (design note 3). */
struct reader {
	struct q_jobcache *cache;
	struct q_jobh *h;
	struct q_record rec;
	bool have;
	uint64_t job;
};

static int input_path(struct q_input_files *in, struct reader *rd,
		      const struct q_input_ref *ref,
		      char **path_out, struct q_error *err)
{
	if (!rd->have || rd->job != ref->job || ref->item < rd->rec.first ||
	    ref->item - rd->rec.first >= rd->rec.count) {
		if (rd->have)
			q_record_release(&rd->rec);
		rd->have = false;
		struct q_jobh *dh = q_jobcache_get(rd->cache, ref->job, err);
		if (!dh)
			return -EIO;
		const struct q_job *dj = q_jobh_job(dh);
		if (ref->item >= dj->nitems)
			return q_error_set(err, Q_ERR_SYSTEM, EINVAL,
					   "job %llu has no item %llu",
					   (unsigned long long)ref->job,
					   (unsigned long long)ref->item);
		int ret = q_record_read(dh, q_job_chunk_of(dj, ref->item),
					&rd->rec, err);
		if (ret == -ENOENT)
			return q_error_set(err, Q_ERR_SYSTEM, ENOENT,
					   "job %llu item %llu has no result "
					   "yet", (unsigned long long)ref->job,
					   (unsigned long long)ref->item);
		if (ret < 0)
			return ret;
		rd->have = true;
		rd->h = dh;
		rd->job = ref->job;
	}
	size_t i = (size_t)(ref->item - rd->rec.first);
	const struct q_stream *st = &rd->rec.items[i].out;
	if (st->where == Q_STREAM_HELD) {
		/* Its file once spilled; before, its bytes from the MPI rank
		 * holding it (or recomputed), copied into tmp/ like an
		 * inline one. */
		char *p = q_record_output_path(rd->h, &rd->rec, i, false);
		if (!p)
			abort();
		if (access(p, F_OK) == 0 &&
		    q_record_output_check(rd->h, &rd->rec, i, false, err) == 0) {
			*path_out = p;
			return 0;
		}
		free(p);
		char *data;
		size_t len;
		int ret = q_record_output_mem(rd->h, &rd->rec, i, false,
					      SIZE_MAX, &data, &len, err);
		if (ret < 0)
			return ret;
		ret = copy_to_tmp(in, data, len, path_out, err);
		q_big_free(data);
		return ret;
	}
	if (st->where == Q_STREAM_FILE) {
		/* A FIFO or a huge file put in its place would hang or
		 * flood the command: refuse it here, naming it. */
		int ret = q_record_output_check(rd->h, &rd->rec, i, false, err);
		if (ret < 0)
			return ret;
		char *p = q_record_output_path(rd->h, &rd->rec, i, false);
		if (!p)
			abort();
		*path_out = p;
		return 0;
	}
	if (st->where == Q_STREAM_NONE || st->length == 0) {
		*path_out = xstrdup("/dev/null");
		return 0;
	}
	return copy_to_tmp(in, rd->rec.data + st->offset,
			   (size_t)st->length, path_out, err);
}

/* Q_INPUTS_FILE: a new file in tmp/, written through *list_out. */
static int list_open(struct q_input_files *in,
		     FILE **list_out, struct q_error *err)
{
	char name[Q_CLAIM_NAME_MAX];
	int fd = q_spool_tmp_create(in->sp, "inputs", name, sizeof(name));
	if (fd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -fd,
				   "cannot create a file in '%s/tmp'",
				   q_spool_path(in->sp));
	remember_tmp(in, name);
	*list_out = fdopen(fd, "w");
	if (!*list_out) {
		int e = errno;
		close(fd);
		return q_error_set(err, Q_ERR_SYSTEM, e, "cannot write '%s'",
				   name);
	}
	in->list_path = tmp_path(in, name);
	in->listed = true;
	return 0;
}

static int list_add(struct q_input_files *in, FILE *list, const char *path,
		    struct q_error *err)
{
	if (strchr(path, '\n'))
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "cannot list the input '%s' in "
				   "Q_INPUTS_FILE: its path has a newline "
				   "(use a spool path without one)", path);
	if (fputs(path, list) == EOF || putc('\n', list) == EOF)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot write '%s'", in->list_path);
	return 0;
}

static int list_close(struct q_input_files *in, FILE *list,
		      struct q_error *err)
{
	if (fclose(list) != 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot write '%s'", in->list_path);
	return 0;
}

int q_input_files_prepare(struct q_input_files *in, struct q_jobh *h,
			  struct q_jobcache *cache, uint64_t item,
			  struct q_error *err)
{
	struct q_input_ref *refs = NULL;
	struct reader rd = { cache, NULL, { 0 }, false, 0 };
	FILE *list = NULL;
	size_t n = 0, bytes = 0;
	int ret;

	in->sp = q_jobh_spool(h);
	if ((ret = q_item_inputs(h, item, &refs, &n, err)) < 0)
		return ret;
	in->n = n;
	if (n == 0)
		goto out;
	if (n > Q_INPUTS_DIRECT_MAX) {
		if ((ret = list_open(in, &list, err)) < 0)
			goto out;
	} else {
		in->paths = xrealloc(NULL, n * sizeof(char *));
		memset(in->paths, 0, n * sizeof(char *));
	}
	for (size_t k = 0; k < n; k++) {
		char *path = NULL;
		if ((ret = input_path(in, &rd, &refs[k], &path, err)) < 0)
			goto out;
		if (list) {
			ret = list_add(in, list, path, err);
			free(path);
			if (ret < 0)
				goto out;
		} else {
			bytes += strlen(path) + 3;   /* quotes, space */
			in->paths[k] = path;
		}
	}
	if (!list && bytes > Q_INPUTS_DIRECT_BYTES) {
		if ((ret = list_open(in, &list, err)) < 0)
			goto out;
		for (size_t k = 0; k < n && ret == 0; k++)
			ret = list_add(in, list, in->paths[k], err);
		for (size_t k = 0; k < n; k++)
			free(in->paths[k]);
		free(in->paths);
		in->paths = NULL;
		if (ret < 0)
			goto out;
	}
out:
	if (list) {
		int cret = list_close(in, list, err);
		if (ret == 0)
			ret = cret;
	}
	if (rd.have)
		q_record_release(&rd.rec);
	free(refs);
	return ret;
}

void q_input_files_release(struct q_input_files *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->ntmps; i++) {
		q_spool_tmp_remove(in->sp, in->tmps[i]);
		free(in->tmps[i]);
	}
	free(in->tmps);
	if (in->paths)
		for (size_t k = 0; k < in->n; k++)
			free(in->paths[k]);
	free(in->paths);
	free(in->list_path);
	*in = (struct q_input_files)Q_INPUT_FILES_INIT;
}

/* ---- passing them ---- */

static char *kv(const char *key, const char *value)
{
	struct sbuf b = { NULL, 0, 0 };
	sb_str(&b, key);
	sb_add(&b, "=", 1);
	sb_str(&b, value);
	return sb_detach(&b);
}

char **q_input_files_env(const struct q_input_files *in)
{
	size_t n = in->listed ? 2 : 1 + in->n;
	char **v = xrealloc(NULL, (n + 1) * sizeof(char *));
	char num[32];

	snprintf(num, sizeof(num), "%zu", in->n);
	v[0] = kv("Q_INPUTS", num);
	if (in->listed) {
		v[1] = kv("Q_INPUTS_FILE", in->list_path);
	} else {
		for (size_t k = 0; k < in->n; k++) {
			char key[48];
			snprintf(key, sizeof(key), "Q_INPUT_%zu", k);
			v[1 + k] = kv(key, in->paths[k]);
		}
	}
	v[n] = NULL;
	return v;
}

static int too_many(const struct q_input_files *in, struct q_error *err)
{
	q_error_set(err, Q_ERR_INPUT, 0,
		    "the task has %zu inputs, too many for {inputs} (at most "
		    "%d, or %d KiB of paths): read their paths from the file "
		    "$Q_INPUTS_FILE instead", in->n, Q_INPUTS_DIRECT_MAX,
		    Q_INPUTS_DIRECT_BYTES / 1024);
	return -E2BIG;
}

/* The paths joined by spaces, quoted for /bin/sh when `quote`. */
static char *joined(const struct q_input_files *in, bool quote)
{
	struct sbuf b = { NULL, 0, 0 };
	for (size_t k = 0; k < in->n; k++) {
		if (k)
			sb_add(&b, " ", 1);
		if (quote)
			sb_quote(&b, in->paths[k]);
		else
			sb_str(&b, in->paths[k]);
	}
	return sb_detach(&b);
}

/* `s` with every {inputs} replaced by `with`. */
static char *subst(const char *s, const char *with)
{
	struct sbuf b = { NULL, 0, 0 };
	const char *hit;
	while ((hit = strstr(s, TOKEN)) != NULL) {
		sb_add(&b, s, (size_t)(hit - s));
		sb_str(&b, with);
		s = hit + TOKEN_LEN;
	}
	sb_str(&b, s);
	return sb_detach(&b);
}

int q_input_files_argv(const struct q_input_files *in, char *const *argv,
		       size_t argc, char ***argv_out, size_t *argc_out,
		       struct q_error *err)
{
	size_t whole = 0, inside = 0;
	for (size_t i = 0; i < argc; i++) {
		if (strcmp(argv[i], TOKEN) == 0)
			whole++;
		else if (strstr(argv[i], TOKEN))
			inside++;
	}
	if ((whole || inside) && in->listed)
		return too_many(in, err);
	size_t n = argc - whole + whole * in->n, k = 0;
	char **v = xrealloc(NULL, (n + 1) * sizeof(char *));
	char *join = inside ? joined(in, false) : NULL;
	for (size_t i = 0; i < argc; i++) {
		if (strcmp(argv[i], TOKEN) == 0)
			for (size_t j = 0; j < in->n; j++)
				v[k++] = xstrdup(in->paths[j]);
		else if (join && strstr(argv[i], TOKEN))
			v[k++] = subst(argv[i], join);
		else
			v[k++] = xstrdup(argv[i]);
	}
	v[k] = NULL;
	free(join);
	*argv_out = v;
	*argc_out = k;
	return 0;
}

int q_input_files_line(const struct q_input_files *in, const char *line,
		       char **line_out, struct q_error *err)
{
	if (!strstr(line, TOKEN)) {
		*line_out = xstrdup(line);
		return 0;
	}
	if (in->listed)
		return too_many(in, err);
	char *join = joined(in, true);
	*line_out = subst(line, join);
	free(join);
	return 0;
}
