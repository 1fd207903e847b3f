/*
 * jobfile.c: the job file (jobs/<id>/job) and the spec (jobs/<id>/spec).
 *
 * Both are written once by qsubmit and never changed. The parsers treat
 * them as untrusted: every number is range-checked, every string decoded
 * strictly, and layout totals must match the job file (docs/spool-format.md
 * has the grammar).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "names_internal.h"
#include "text.h"

static const char *kind_name(enum q_task_kind k)
{
	switch (k) {
	case Q_TASK_COMMAND: return "cmd";
	case Q_TASK_KERNEL: return "kernel";
	case Q_TASK_LINES: return "lines";
	}
	return "?";
}

void q__job_format_meta(const struct q_job *job, const char *stage,
			struct q_buf *b)
{
	q__buf_addstr(b, "spoolq-job 1\nname ");
	q__esc_append(b, job->name);
	q__buf_printf(b, "\nuid %u\nsubmitted %lld\nhost ", job->uid,
		      (long long)job->submitted_ns);
	q__esc_append(b, job->submit_host);
	q__buf_printf(b, "\nitems %llu\nchunks %llu\nshards %u\ngroups %zu\n"
		      "barriers %zu\nstage ",
		      (unsigned long long)job->nitems,
		      (unsigned long long)job->nchunks, job->nshards,
		      job->ngroups, job->nbarriers);
	q__esc_append(b, stage);
	q__buf_addstr(b, "\nend\n");
}

static void add_str_line(struct q_buf *b, const char *key, const char *v)
{
	q__buf_addstr(b, key);
	q__buf_addch(b, ' ');
	q__esc_append(b, v);
	q__buf_addch(b, '\n');
}

void q__job_format_spec(const struct q_job *job, struct q_buf *b)
{
	q__buf_addstr(b, "spoolq-spec 1\n");
	for (size_t i = 0; i < job->nplugins; i++)
		add_str_line(b, "plugin", job->plugins[i]);
	if (job->no_cache)
		q__buf_addstr(b, "nocache 1\n");
	if (job->broadcast) {
		q__buf_addstr(b, "broadcast ");
		q__esc_append(b, job->broadcast);
		q__buf_printf(b, " %llu %016llx\n",
			      (unsigned long long)job->broadcast_size,
			      (unsigned long long)job->broadcast_sum);
	}
	for (size_t i = 0; i < job->ngroups; i++) {
		const struct q_group *g = &job->groups[i];
		q__buf_addstr(b, "group ");
		q__esc_append(b, g->name);
		q__buf_printf(b, " %s %llu %lld %d %u %llu\n",
			      kind_name(g->kind),
			      (unsigned long long)g->count,
			      (long long)g->index_base, g->array ? 1 : 0,
			      g->threads, (unsigned long long)g->chunk_size);
		for (size_t k = 0; k < g->argc; k++)
			add_str_line(b, "argv", g->argv[k]);
		if (g->kernel)
			add_str_line(b, "kernel", g->kernel);
		for (size_t k = 0; k < g->nargs; k++)
			add_str_line(b, "arg", g->args[k]);
		for (size_t k = 0; k < g->nenv; k++)
			add_str_line(b, "env", g->env[k]);
		if (g->cwd)
			add_str_line(b, "cwd", g->cwd);
		if (g->retries)
			q__buf_printf(b, "retries %u\n", g->retries);
		if (g->timeout_s > 0)
			q__buf_printf(b, "timeout_ms %llu\n",
				      (unsigned long long)(g->timeout_s * 1000 +
							   0.5));
		if (g->priority)
			q__buf_printf(b, "priority %d\n", g->priority);
		q__buf_printf(b, "pure %d\n", g->pure ? 1 : 0);
		if (g->each_worker)
			q__buf_addstr(b, "each_worker 1\n");
		if (g->mpi_threshold)
			q__buf_printf(b, "mpi_threshold %llu\n",
				      (unsigned long long)g->mpi_threshold);
		for (size_t k = 0; k < g->nafter; k++) {
			const struct q_after *a = &g->after[k];
			q__buf_printf(b, "after %llu %llu %llu ",
				      (unsigned long long)a->job,
				      (unsigned long long)a->first,
				      (unsigned long long)a->count);
			if (a->mode == Q_AFTER_MAP)
				q__buf_printf(b, "map:%llu:%llu",
					      (unsigned long long)a->stride,
					      (unsigned long long)a->width);
			else
				q__buf_addstr(b, a->mode == Q_AFTER_EACH
							 ? "each" : "all");
			q__buf_printf(b, " %lld ", (long long)a->barrier);
			q__esc_append(b, a->label);
			q__buf_addch(b, '\n');
		}
	}
	for (size_t i = 0; i < job->nbarriers; i++)
		q__buf_printf(b, "barrier %llu %llu %llu\n",
			      (unsigned long long)job->barriers[i].job,
			      (unsigned long long)job->barriers[i].first,
			      (unsigned long long)job->barriers[i].count);
	q__buf_addstr(b, "end\n");
}

static int bad(struct q_error *err, const char *where, unsigned line,
	       const char *what)
{
	return q_error_set(err, Q_ERR_SYSTEM, 0,
			   "'%s' is damaged: line %u: %s (the job cannot be "
			   "read; remove it or restore the spool)",
			   where, line, what);
}

int q__job_parse_meta(struct q_job *job, char *text, size_t len,
		      char *stage_out, size_t stage_size, const char *where,
		      struct q_error *err)
{
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int n;
	uint64_t v, groups = 0, barriers = 0;
	bool ended = false;

	q__lines_init(&it, text, len);
	n = q__lines_next(&it, tok);
	if (n != 2 || strcmp(tok[0], "spoolq-job") || strcmp(tok[1], "1"))
		return bad(err, where, it.lineno, "not a format-1 job file");
	while ((n = q__lines_next(&it, tok)) > 0) {
		char *s;
		if (n == 1 && strcmp(tok[0], "end") == 0) {
			ended = true;
			break;
		}
		if (n != 2)
			return bad(err, where, it.lineno, "malformed line");
		if (strcmp(tok[0], "name") == 0 || strcmp(tok[0], "host") == 0 ||
		    strcmp(tok[0], "stage") == 0) {
			if (!(s = q__unesc(tok[1])))
				return bad(err, where, it.lineno,
					   "bad escape");
			if (tok[0][0] == 'n') {
				free(job->name);
				job->name = s;
			} else if (tok[0][0] == 'h') {
				free(job->submit_host);
				job->submit_host = s;
			} else {
				if (stage_out)
					snprintf(stage_out, stage_size, "%s",
						 s);
				free(s);
			}
			continue;
		}
		static const char *const numeric[] = {
			"uid", "items", "chunks", "shards", "groups",
			"barriers",
		};
		bool is_numeric = false;
		for (size_t k = 0; k < Q_ARRAY_SIZE(numeric); k++)
			if (strcmp(tok[0], numeric[k]) == 0)
				is_numeric = true;
		/* Out-of-range values are damage too, not keys to skip. */
		if (is_numeric &&
		    (!q__tok_u64(tok[1], &v) ||
		     (strcmp(tok[0], "uid") == 0 && v > UINT32_MAX) ||
		     (strcmp(tok[0], "shards") == 0 &&
		      (v < 1 || v > Q_MAX_SHARDS))))
			return bad(err, where, it.lineno, "bad number");
		if (strcmp(tok[0], "uid") == 0)
			job->uid = (uint32_t)v;
		else if (strcmp(tok[0], "submitted") == 0) {
			int64_t t;
			if (!q__tok_i64(tok[1], &t))
				return bad(err, where, it.lineno,
					   "bad number");
			job->submitted_ns = t;
		} else if (strcmp(tok[0], "items") == 0)
			job->nitems = v;
		else if (strcmp(tok[0], "chunks") == 0)
			job->nchunks = v;
		else if (strcmp(tok[0], "shards") == 0)
			job->nshards = (unsigned)v;
		else if (strcmp(tok[0], "groups") == 0)
			groups = v;
		else if (strcmp(tok[0], "barriers") == 0)
			barriers = v;
		/* Unknown keys are ignored: later format-1 writers may add
		 * information readers do not need. */
	}
	if (n < 0)
		return bad(err, where, it.lineno, "malformed line");
	if (!ended || job->nshards == 0 || groups == 0)
		return bad(err, where, it.lineno, "incomplete job file");
	job->nbarriers = (size_t)barriers;
	return 0;
}

static int parse_kind(const char *s, enum q_task_kind *k)
{
	if (strcmp(s, "cmd") == 0)
		*k = Q_TASK_COMMAND;
	else if (strcmp(s, "kernel") == 0)
		*k = Q_TASK_KERNEL;
	else if (strcmp(s, "lines") == 0)
		*k = Q_TASK_LINES;
	else
		return -1;
	return 0;
}

/* "all", "each" or "map:<stride>:<width>". */
static int parse_after_mode(const char *tok, struct q_after *a)
{
	const char *p;
	if (strcmp(tok, "all") == 0) {
		a->mode = Q_AFTER_ALL;
		return 0;
	}
	if (strcmp(tok, "each") == 0) {
		a->mode = Q_AFTER_EACH;
		return 0;
	}
	if (strncmp(tok, "map:", 4) == 0 &&
	    q__parse_u64(tok + 4, &p, &a->stride) && *p == ':' &&
	    q__parse_u64(p + 1, NULL, &a->width) && a->width > 0) {
		a->mode = Q_AFTER_MAP;
		return 0;
	}
	return -1;
}

int q__job_parse_spec(struct q_job *job, char *text, size_t len,
		      const char *where, struct q_error *err)
{
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int n;
	struct q_group *g = NULL;
	bool ended = false;

	q__lines_init(&it, text, len);
	n = q__lines_next(&it, tok);
	if (n != 2 || strcmp(tok[0], "spoolq-spec") || strcmp(tok[1], "1"))
		return bad(err, where, it.lineno, "not a format-1 spec");
	while ((n = q__lines_next(&it, tok)) > 0) {
		const char *key = tok[0];
		if (n == 1 && strcmp(key, "end") == 0) {
			ended = true;
			break;
		}
		if (strcmp(key, "group") == 0) {
			enum q_task_kind kind;
			uint64_t count, threads, array, chunk;
			int64_t base;
			char *name;
			if (n != 8 || parse_kind(tok[2], &kind) ||
			    !q__tok_u64(tok[3], &count) ||
			    !q__tok_i64(tok[4], &base) ||
			    !q__tok_u64(tok[5], &array) || array > 1 ||
			    !q__tok_u64(tok[6], &threads) || threads < 1 ||
			    threads > Q_MAX_THREADS ||
			    !q__tok_u64(tok[7], &chunk) || chunk < 1 ||
			    count < 1 || count > Q_MAX_ITEMS)
				return bad(err, where, it.lineno,
					   "malformed group");
			/* The indexes base .. base+count-1 must be int64s:
			 * readers compute them ({i}, labels, references).
			 * A lines group counts its lines from 0. Found by
			 * tests/fuzz/fuzz_record (signed overflow). */
			if (base > INT64_MAX - (int64_t)(count - 1) ||
			    (kind == Q_TASK_LINES && base != 0))
				return bad(err, where, it.lineno,
					   "group indexes out of range");
			if (!(name = q__unesc(tok[1])))
				return bad(err, where, it.lineno,
					   "bad escape");
			g = q_job_add_group(job, name, kind);
			free(name);
			g->count = count;
			g->index_base = base;
			g->array = array;
			g->threads = (unsigned)threads;
			g->chunk_size = chunk;
			continue;
		}
		if (strcmp(key, "barrier") == 0) {
			struct q_barrier b;
			if (n != 4 || !q__tok_u64(tok[1], &b.job) ||
			    !q__tok_u64(tok[2], &b.first) ||
			    !q__tok_u64(tok[3], &b.count))
				return bad(err, where, it.lineno,
					   "malformed barrier");
			q__grow(&job->barriers, &job->cap_barriers,
				job->nbarriers + 1, sizeof(*job->barriers));
			job->barriers[job->nbarriers++] = b;
			continue;
		}
		if (strcmp(key, "nocache") == 0 && n == 2) {
			job->no_cache = strcmp(tok[1], "1") == 0;
			continue;
		}
		if (strcmp(key, "broadcast") == 0 && n == 4) {
			char *s = q__unesc(tok[1]);
			char *end;
			if (!s || s[0] != '/' || job->broadcast ||
			    !q__tok_u64(tok[2], &job->broadcast_size) ||
			    job->broadcast_size > Q_BROADCAST_MAX ||
			    strlen(tok[3]) != 16) {
				free(s);
				return bad(err, where, it.lineno,
					   "malformed broadcast");
			}
			job->broadcast = s;
			job->broadcast_sum = strtoull(tok[3], &end, 16);
			if (*end)
				return bad(err, where, it.lineno,
					   "malformed broadcast");
			continue;
		}
		if (strcmp(key, "plugin") == 0 && n == 2) {
			char *s = q__unesc(tok[1]);
			if (!s)
				return bad(err, where, it.lineno, "bad escape");
			q_job_add_plugin(job, s);
			free(s);
			continue;
		}
		if (!g)
			return bad(err, where, it.lineno,
				   "task detail before any group");
		if (n == 2 && (strcmp(key, "retries") == 0 ||
			       strcmp(key, "timeout_ms") == 0 ||
			       strcmp(key, "priority") == 0 ||
			       strcmp(key, "pure") == 0 ||
			       strcmp(key, "each_worker") == 0)) {
			int64_t v;
			if (!q__tok_i64(tok[1], &v))
				return bad(err, where, it.lineno, "bad number");
			if (key[0] == 'r' && v >= 0 && v <= 1000000)
				g->retries = (unsigned)v;
			else if (key[0] == 't' && v >= 0 &&
				 v <= (int64_t)366 * 86400 * 1000)
				g->timeout_s = (double)v / 1000;
			else if (key[0] == 'p' && key[1] == 'r' &&
				 v >= -1000000 && v <= 1000000)
				g->priority = (int)v;
			else if (key[0] == 'p' && key[1] == 'u' &&
				 (v == 0 || v == 1))
				g->pure = v == 1;
			else if (key[0] == 'e' && (v == 0 || v == 1))
				g->each_worker = v == 1;
			else
				return bad(err, where, it.lineno,
					   "value out of range");
			continue;
		}
		if (strcmp(key, "mpi_threshold") == 0 && n == 2) {
			if (!q__tok_u64(tok[1], &g->mpi_threshold) ||
			    g->mpi_threshold < Q_MPI_THRESHOLD_MIN)
				return bad(err, where, it.lineno,
					   "bad mpi_threshold");
			continue;
		}
		if (strcmp(key, "after") == 0) {
			struct q_after a = { 0 };
			int64_t barrier;
			if (n != 7 || !q__tok_u64(tok[1], &a.job) ||
			    !q__tok_u64(tok[2], &a.first) ||
			    !q__tok_u64(tok[3], &a.count) ||
			    !q__tok_i64(tok[5], &barrier) || barrier < -1 ||
			    parse_after_mode(tok[4], &a) < 0)
				return bad(err, where, it.lineno,
					   "malformed after");
			if (!(a.label = q__unesc(tok[6])))
				return bad(err, where, it.lineno,
					   "bad escape");
			q_group_add_after(g, &a);
			g->after[g->nafter - 1].barrier = barrier;
			free(a.label);
			continue;
		}
		if (n != 2)
			return bad(err, where, it.lineno, "malformed line");
		char *s = q__unesc(tok[1]);
		if (!s)
			return bad(err, where, it.lineno, "bad escape");
		if (strcmp(key, "argv") == 0)
			q_group_add_argv(g, s);
		else if (strcmp(key, "arg") == 0)
			q_group_add_arg(g, s);
		else if (strcmp(key, "env") == 0)
			q_group_add_env(g, s);
		else if (strcmp(key, "kernel") == 0) {
			free(g->kernel);
			g->kernel = q__strdup(s);
		} else if (strcmp(key, "cwd") == 0) {
			free(g->cwd);
			g->cwd = q__strdup(s);
		}
		free(s);
	}
	if (n < 0)
		return bad(err, where, it.lineno, "malformed line");
	if (!ended)
		return bad(err, where, it.lineno, "truncated spec");
	/* Barrier references must point at barriers that exist. */
	for (size_t i = 0; i < job->ngroups; i++)
		for (size_t k = 0; k < job->groups[i].nafter; k++)
			if (job->groups[i].after[k].barrier >=
			    (int64_t)job->nbarriers)
				return bad(err, where, it.lineno,
					   "dependency on a missing barrier");
	return 0;
}
