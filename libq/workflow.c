/*
 * workflow.c: YAML workflow files into jobs.
 *
 * Design notes
 * 1. Two passes over the task mapping: the first makes a group per task
 *    (kind, array, settings) so every task's items are laid out; the
 *    second resolves `after` references, which may name tasks defined
 *    later in the file and need their item numbers.
 * 2. Every error names the file, line and column of the offending node,
 *    what was expected, and a fix where one is known (did-you-mean for
 *    keys and kernels). The first error stops the load; nothing is
 *    written anywhere.
 * 3. A dependency index may use {i} (the dependent item's index) in an
 *    integer expression: "sample[{i}]" (element-wise; the arrays must be
 *    equally long), "blocks[{i}*10..{i}*10+9]" (a window). The window
 *    must move linearly with {i}: it is evaluated at every index and
 *    stored as first, stride and width (docs/spool-format.md, `map`).
 * 4. The task graph must be acyclic: a depth-first search reports the
 *    first cycle as a path, "a -> b -> c -> a".
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spoolq/workflow.h>

#include "expr.h"
#include "job_internal.h"
#include "ydoc.h"

/* Task definitions per workflow (arrays count once). */
#define Q_WF_MAX_DEFINITIONS 1000000

/* The settings a task takes from `defaults:` and may override. */
struct settings {
	unsigned threads, retries;
	double timeout_s;
	int priority;
	int pure;               /* -1: by kind */
	uint64_t chunk;
	uint64_t mpi_threshold; /* 0: the worker's */
};

struct defaults {
	struct settings set;
	const struct q_ynode *env;
	const struct q_ynode *cwd;
};

struct wf {
	const char *path;
	char *dir;              /* the file's directory, absolute */
	struct q_spool *spool;
	struct q_error *err;
	struct q_job *job;
	const struct q_ynode **task_keys;   /* per group: its name node */
	const struct q_ynode **task_after;  /* per group: its after node */
	size_t *by_name;        /* group indexes sorted by name */
};

static int fail(struct wf *w, const struct q_ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct wf *w, const struct q_ynode *n, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!n)
		return q_error_set(w->err, Q_ERR_INPUT, 0, "cannot read '%s': %s",
				   w->path, what);
	return q_error_set(w->err, Q_ERR_INPUT, 0,
			   "cannot read '%s': line %u, column %u: %s", w->path,
			   n->line, n->col, what);
}

static const char *kind_word(const struct q_ynode *n)
{
	return n->kind == Q_YMAP ? "a mapping"
	       : n->kind == Q_YSEQ ? "a list" : "a single value";
}

/* ---- typed values ---- */

static int want_scalar(struct wf *w, const struct q_ynode *n, const char *what)
{
	if (n->kind != Q_YSCALAR)
		return fail(w, n, "%s must be a single value, not %s", what,
			    kind_word(n));
	return 0;
}

static int want_map(struct wf *w, const struct q_ynode *n, const char *what)
{
	if (n->kind != Q_YMAP)
		return fail(w, n, "%s must be a mapping (key: value), not %s",
			    what, kind_word(n));
	return 0;
}

static int get_int(struct wf *w, const struct q_ynode *n, const char *what,
		   long long min, long long max, long long *out)
{
	if (want_scalar(w, n, what) < 0)
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(n->value, &end, 10);
	if (!n->plain || end == n->value || *end || errno ||
	    isspace((unsigned char)n->value[0]))
		return fail(w, n, "%s must be a whole number, got '%s'", what,
			    n->value);
	if (v < min || v > max)
		return fail(w, n, "%s must be from %lld to %lld, got %lld",
			    what, min, max, v);
	*out = v;
	return 0;
}

static int get_bool(struct wf *w, const struct q_ynode *n, const char *what,
		    bool *out)
{
	if (want_scalar(w, n, what) < 0)
		return -EINVAL;
	if (n->plain && strcmp(n->value, "true") == 0)
		*out = true;
	else if (n->plain && strcmp(n->value, "false") == 0)
		*out = false;
	else
		return fail(w, n, "%s must be true or false, got '%s'", what,
			    n->value);
	return 0;
}

/* The MPI fast path's threshold: a size (4M), or "never". */
static int get_mpi_threshold(struct wf *w, const struct q_ynode *n,
			     uint64_t *out)
{
	if (want_scalar(w, n, "mpi_threshold") < 0)
		return -EINVAL;
	if (strcmp(n->value, "never") == 0) {
		*out = Q_MPI_NEVER;
		return 0;
	}
	if (!q_parse_size(n->value, out) || *out < Q_MPI_THRESHOLD_MIN)
		return fail(w, n, "mpi_threshold must be a size of more than "
			    "64 KiB such as 4M (smaller results go into the "
			    "spool's records anyway), or never, got '%s'",
			    n->value);
	return 0;
}

/* A duration: seconds, or a number with s, m, h or d. */
static int get_duration(struct wf *w, const struct q_ynode *n,
			const char *what, double *out)
{
	if (want_scalar(w, n, what) < 0)
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(n->value, &end), mult = 1;
	if (end != n->value && end[0] && !end[1]) {
		switch (end[0]) {
		case 's': mult = 1; end++; break;
		case 'm': mult = 60; end++; break;
		case 'h': mult = 3600; end++; break;
		case 'd': mult = 86400; end++; break;
		}
	}
	if (end == n->value || *end || errno || !isfinite(v * mult) || v < 0 ||
	    v * mult > 366.0 * 86400)
		return fail(w, n, "%s must be a duration up to a year such as "
			    "90, 30s, 5m or 2h, got '%s'", what, n->value);
	*out = v * mult;
	return 0;
}

/* Unknown keys, with a suggestion from the allowed ones. */
static int check_keys(struct wf *w, const struct q_ynode *map,
		      const char *const *allowed, const char *where)
{
	for (size_t i = 0; i < map->n; i += 2) {
		const struct q_ynode *k = map->items[i];
		bool ok = false;
		for (size_t a = 0; allowed[a]; a++)
			if (strcmp(k->value, allowed[a]) == 0)
				ok = true;
		if (ok)
			continue;
		const char *s = q_suggest(k->value, allowed);
		if (s)
			return fail(w, k, "unknown key '%s' %s (did you mean "
				    "'%s'?)", k->value, where, s);
		char list[512] = "";
		for (size_t a = 0; allowed[a]; a++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s%s", a ? ", " : "", allowed[a]);
		return fail(w, k, "unknown key '%s' %s (known keys: %s)",
			    k->value, where, list);
	}
	return 0;
}

static const struct q_ynode *lookup(const struct q_ynode *map, const char *key)
{
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->items[i]->value, key) == 0)
			return map->items[i + 1];
	return NULL;
}

/* A path from the file, made absolute against the file's directory. */
static char *resolve_path(struct wf *w, const char *p)
{
	if (p[0] == '/')
		return q__strdup(p);
	return q__asprintf("%s/%s", w->dir, p);
}

/* ---- defaults, env, array ---- */

static int parse_env(struct wf *w, const struct q_ynode *env,
		     struct q_group *g)
{
	if (want_map(w, env, "env") < 0)
		return -EINVAL;
	for (size_t i = 0; i < env->n; i += 2) {
		const struct q_ynode *k = env->items[i], *v = env->items[i + 1];
		const char *p = k->value;
		bool ok = *p && (isalpha((unsigned char)*p) || *p == '_');
		for (; *p && ok; p++)
			ok = isalnum((unsigned char)*p) || *p == '_';
		if (!ok)
			return fail(w, k, "environment variable name '%s' may "
				    "only hold letters, digits and '_' (not "
				    "starting with a digit)", k->value);
		if (want_scalar(w, v, "an environment value") < 0)
			return -EINVAL;
		char *kv = q__asprintf("%s=%s", k->value, v->value);
		q_group_add_env(g, kv);
		free(kv);
	}
	return 0;
}

/* One of the settings keys: 1 when `key` is one (and was read), 0 when
 * it is not, <0 on a bad value. */
static int parse_setting(struct wf *w, const char *key,
			 const struct q_ynode *n, struct settings *set)
{
	long long v;
	int ret;
	bool b;

	if (strcmp(key, "threads") == 0) {
		if ((ret = get_int(w, n, "threads", 1, Q_MAX_THREADS, &v)) < 0)
			return ret;
		set->threads = (unsigned)v;
	} else if (strcmp(key, "retries") == 0) {
		if ((ret = get_int(w, n, "retries", 0, 1000, &v)) < 0)
			return ret;
		set->retries = (unsigned)v;
	} else if (strcmp(key, "timeout") == 0) {
		if ((ret = get_duration(w, n, "timeout", &set->timeout_s)) < 0)
			return ret;
	} else if (strcmp(key, "priority") == 0) {
		if ((ret = get_int(w, n, "priority", -1000000, 1000000,
				   &v)) < 0)
			return ret;
		set->priority = (int)v;
	} else if (strcmp(key, "pure") == 0) {
		if ((ret = get_bool(w, n, "pure", &b)) < 0)
			return ret;
		set->pure = b;
	} else if (strcmp(key, "chunk") == 0) {
		if ((ret = get_int(w, n, "chunk", 1, 65536, &v)) < 0)
			return ret;
		set->chunk = (uint64_t)v;
	} else if (strcmp(key, "mpi_threshold") == 0) {
		if ((ret = get_mpi_threshold(w, n, &set->mpi_threshold)) < 0)
			return ret;
	} else {
		return 0;
	}
	return 1;
}

static const char *const common_keys[] = {
	"threads", "retries", "timeout", "priority", "env", "cwd", "pure",
	"chunk", "mpi_threshold",
};

static int parse_defaults(struct wf *w, const struct q_ynode *m,
			  struct defaults *d)
{
	const char *allowed[Q_ARRAY_SIZE(common_keys) + 1];
	int ret;

	for (size_t i = 0; i < Q_ARRAY_SIZE(common_keys); i++)
		allowed[i] = common_keys[i];
	allowed[Q_ARRAY_SIZE(common_keys)] = NULL;
	if ((ret = want_map(w, m, "defaults")) < 0 ||
	    (ret = check_keys(w, m, allowed, "in defaults")) < 0)
		return ret;
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->items[i]->value;
		const struct q_ynode *n = m->items[i + 1];
		if ((ret = parse_setting(w, k, n, &d->set)) < 0)
			return ret;
		if (ret == 1)
			continue;
		if (strcmp(k, "env") == 0) {
			if ((ret = want_map(w, n, "env")) < 0)
				return ret;
			d->env = n;
		} else if (strcmp(k, "cwd") == 0) {
			if ((ret = want_scalar(w, n, "cwd")) < 0)
				return ret;
			d->cwd = n;
		}
	}
	return 0;
}

/* "A..B" (inclusive) or a count N (0..N-1). */
static int parse_array(struct wf *w, const struct q_ynode *n,
		       struct q_group *g)
{
	if (want_scalar(w, n, "array") < 0)
		return -EINVAL;
	const char *dots = strstr(n->value, "..");
	long long a, b;
	char *end;
	errno = 0;
	if (!dots) {
		a = 0;
		b = strtoll(n->value, &end, 10) - 1;
		if (end == n->value || *end || errno || b < 0)
			return fail(w, n, "array must be A..B (for example "
				    "0..99) or a count, got '%s'", n->value);
	} else {
		a = strtoll(n->value, &end, 10);
		if (end == n->value || end != dots || errno)
			goto bad;
		const char *t = dots + 2;
		b = strtoll(t, &end, 10);
		if (end == t || *end || errno)
			goto bad;
	}
	if (b < a)
		return fail(w, n, "array %s is empty: the end comes before "
			    "the start (write A..B with A <= B)", n->value);
	if ((unsigned long long)b - (unsigned long long)a >= Q_MAX_ITEMS)
		return fail(w, n, "array %s has too many items", n->value);
	g->array = true;
	g->index_base = a;
	g->count = (uint64_t)b - (uint64_t)a + 1;
	return 0;
bad:
	return fail(w, n, "array must be A..B with whole numbers (for example "
		    "0..99), got '%s'", n->value);
}

/* ---- one task (pass 1) ---- */

static const char *const task_keys[] = {
	"kernel", "cmd", "args", "array", "after", "threads", "retries",
	"timeout", "priority", "env", "cwd", "pure", "each_worker", "chunk",
	"mpi_threshold", NULL,
};

static int parse_task(struct wf *w, const struct q_ynode *key,
		      const struct q_ynode *m, const struct defaults *d)
{
	char where[Q_NAME_MAX + 32];
	int ret;
	struct q_error nerr = Q_ERROR_INIT;

	if (q_name_check("task name", key->value, &nerr) < 0)
		return fail(w, key, "%s", nerr.message);
	snprintf(where, sizeof(where), "in task '%s'", key->value);
	if (m->kind != Q_YMAP)
		return fail(w, m, "task '%s' must be a mapping with kernel: "
			    "or cmd:, not %s", key->value, kind_word(m));
	if ((ret = check_keys(w, m, task_keys, where)) < 0)
		return ret;
	const struct q_ynode *kernel = lookup(m, "kernel");
	const struct q_ynode *cmd = lookup(m, "cmd");
	if (kernel && cmd)
		return fail(w, cmd, "task '%s' has both kernel: and cmd: "
			    "(keep one)", key->value);
	if (!kernel && !cmd)
		return fail(w, key, "task '%s' needs kernel: NAME or cmd: "
			    "COMMAND", key->value);

	struct q_group *g = q_job_add_group(w->job, key->value,
					    kernel ? Q_TASK_KERNEL
						   : Q_TASK_COMMAND);
	size_t gi = w->job->ngroups - 1;
	w->task_keys = q__reallocarray(w->task_keys, gi + 1,
				       sizeof(*w->task_keys));
	w->task_after = q__reallocarray(w->task_after, gi + 1,
					sizeof(*w->task_after));
	w->task_keys[gi] = key;
	w->task_after[gi] = lookup(m, "after");
	struct settings set = d->set;

	if (kernel) {
		if ((ret = want_scalar(w, kernel, "kernel")) < 0)
			return ret;
		if (!q_kernel_find(kernel->value)) {
			const char *names[Q_ARRAY_SIZE(task_keys) + 256];
			size_t n = 0;
			for (; n < q_kernel_count() && n < 255; n++)
				names[n] = q_kernel_at(n)->name;
			names[n] = NULL;
			const char *s = q_suggest(kernel->value, names);
			char hint[96] = "";
			if (s)
				snprintf(hint, sizeof(hint), "did you mean '%s'? ",
					 s);
			return fail(w, kernel, "unknown kernel '%s' (%sbuilt-in "
				    "ones: qsubmit --list-kernels; others come "
				    "from plugins:)", kernel->value, hint);
		}
		g->kernel = q__strdup(kernel->value);
	} else if (cmd->kind == Q_YSCALAR) {
		if (!cmd->value[0])
			return fail(w, cmd, "cmd is empty");
		q_group_add_argv(g, "/bin/sh");
		q_group_add_argv(g, "-c");
		q_group_add_argv(g, cmd->value);
	} else if (cmd->kind == Q_YSEQ) {
		if (cmd->n == 0)
			return fail(w, cmd, "cmd is an empty list");
		for (size_t i = 0; i < cmd->n; i++) {
			if ((ret = want_scalar(w, cmd->items[i],
					       "each item of cmd")) < 0)
				return ret;
			q_group_add_argv(g, cmd->items[i]->value);
		}
	} else {
		return fail(w, cmd, "cmd must be a command line or a list of "
			    "words, not a mapping");
	}

	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->items[i]->value;
		const struct q_ynode *n = m->items[i + 1];
		if (strcmp(k, "args") == 0) {
			if (!kernel)
				return fail(w, m->items[i], "args are for "
					    "kernels; put a command's arguments "
					    "in cmd");
			if ((ret = want_map(w, n, "args")) < 0)
				return ret;
			for (size_t a = 0; a < n->n; a += 2) {
				if ((ret = want_scalar(w, n->items[a + 1],
						       "an argument")) < 0)
					return ret;
				char *kv = q__asprintf("%s=%s",
						       n->items[a]->value,
						       n->items[a + 1]->value);
				q_group_add_arg(g, kv);
				free(kv);
			}
		} else if (strcmp(k, "array") == 0) {
			if ((ret = parse_array(w, n, g)) < 0)
				return ret;
		} else if ((ret = parse_setting(w, k, n, &set)) != 0) {
			if (ret < 0)
				return ret;
		} else if (strcmp(k, "each_worker") == 0) {
			if ((ret = get_bool(w, n, "each_worker",
					    &g->each_worker)) < 0)
				return ret;
		} else if (strcmp(k, "env") == 0) {
			if (d->env && (ret = parse_env(w, d->env, g)) < 0)
				return ret;
			if ((ret = parse_env(w, n, g)) < 0)
				return ret;
		} else if (strcmp(k, "cwd") == 0) {
			if ((ret = want_scalar(w, n, "cwd")) < 0)
				return ret;
			free(g->cwd);
			g->cwd = resolve_path(w, n->value);
		} else if (strcmp(k, "after") == 0) {
			if (n->kind == Q_YMAP)
				return fail(w, n, "after must be a task name or "
					    "a list of them, not a mapping");
		}
	}
	g->threads = set.threads;
	g->retries = set.retries;
	g->timeout_s = set.timeout_s;
	g->priority = set.priority;
	g->chunk_size = set.chunk;
	g->mpi_threshold = set.mpi_threshold;
	if (set.pure >= 0)
		g->pure = set.pure;
	if (!lookup(m, "env") && d->env && (ret = parse_env(w, d->env, g)) < 0)
		return ret;
	if (!g->cwd && d->cwd)
		g->cwd = resolve_path(w, d->cwd->value);
	if (g->each_worker && g->array)
		return fail(w, lookup(m, "each_worker"), "task '%s': "
			    "each_worker runs once on every worker; it cannot "
			    "also be an array", key->value);
	return 0;
}

/* ---- dependencies (pass 2) ---- */

static const struct q_job *sort_job;

static int cmp_group_name(const void *a, const void *b)
{
	return strcmp(sort_job->groups[*(const size_t *)a].name,
		      sort_job->groups[*(const size_t *)b].name);
}

/* Sort the groups by name once, so each reference is a binary search
 * (a workflow may define a million tasks). */
static void index_names(struct wf *w)
{
	w->by_name = q__calloc(w->job->ngroups + 1, sizeof(size_t));
	for (size_t i = 0; i < w->job->ngroups; i++)
		w->by_name[i] = i;
	sort_job = w->job;
	qsort(w->by_name, w->job->ngroups, sizeof(size_t), cmp_group_name);
	sort_job = NULL;
}

static const struct q_group *find_group(struct wf *w, const char *name,
					size_t len)
{
	if (len > Q_NAME_MAX)
		return NULL;
	char key[Q_NAME_MAX + 1];
	memcpy(key, name, len);
	key[len] = '\0';
	size_t lo = 0, hi = w->job->ngroups;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(w->job->groups[w->by_name[mid]].name, key);
		if (c == 0)
			return &w->job->groups[w->by_name[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Evaluate `expr` (which may hold {i}) at index i. */
static int eval_at(const char *expr, int64_t i, int64_t *out)
{
	char *s = q_subst_index(expr, i);
	int ret = q__expr_eval(s, out);
	free(s);
	return ret;
}

/*
 * One reference: "name", "name[E]", "name[E..F]", or "JOB:..." for a task
 * of an earlier job. E and F may use {i}, the dependent item's index.
 */
static int resolve_ref(struct wf *w, struct q_group *g, const struct q_ynode *n)
{
	const char *ref = n->value;
	struct q_after a = { .barrier = -1, .label = (char *)ref };
	int ret;

	if (strchr(ref, ':')) {
		struct q_error rerr = Q_ERROR_INIT;
		if (!w->spool)
			return fail(w, n, "'%s' names a task of another job, "
				    "but there is no spool to look in", ref);
		if (q_after_resolve(w->spool, ref, &a, &rerr) < 0)
			return fail(w, n, "%s", rerr.message);
		q_group_add_after(g, &a);
		free(a.label);
		return 0;
	}
	const char *br = strchr(ref, '[');
	size_t nlen = br ? (size_t)(br - ref) : strlen(ref);
	const struct q_group *dep = find_group(w, ref, nlen);
	if (!dep) {
		const char *names[64];
		size_t k = 0;
		for (; k < w->job->ngroups && k < 63; k++)
			names[k] = w->job->groups[k].name;
		names[k] = NULL;
		char want[Q_NAME_MAX + 1];
		snprintf(want, sizeof(want), "%.*s", (int)(nlen < Q_NAME_MAX
							    ? nlen : Q_NAME_MAX),
			 ref);
		const char *s = q_suggest(want, names);
		return fail(w, n, "task '%s' depends on '%s', which is not a "
			    "task of this workflow%s%s%s", g->name, want,
			    s ? " (did you mean '" : "", s ? s : "",
			    s ? "'?)" : "");
	}
	if (dep == g)
		return fail(w, n, "task '%s' depends on itself", g->name);
	int64_t lo_base = dep->index_base;
	int64_t hi_base = dep->index_base + (int64_t)dep->count - 1;
	if (!br) {
		a.first = dep->first;
		a.count = dep->count;
		a.mode = Q_AFTER_ALL;
		q_group_add_after(g, &a);
		return 0;
	}
	size_t blen = strlen(br);
	if (blen < 3 || br[blen - 1] != ']')
		return fail(w, n, "cannot read '%s': write NAME, NAME[I], "
			    "NAME[A..B] or NAME[{i}]", ref);
	char *inner = q__strndup(br + 1, blen - 2);
	char *dots = strstr(inner, "..");
	char *lo_expr = inner, *hi_expr = inner;
	if (dots) {
		*dots = '\0';
		hi_expr = dots + 2;
	}
	bool uses_i = strstr(lo_expr, "{i}") || strstr(hi_expr, "{i}");
	int64_t lo0, hi0;
	if (eval_at(lo_expr, g->index_base, &lo0) < 0 ||
	    eval_at(hi_expr, g->index_base, &hi0) < 0) {
		ret = fail(w, n, "cannot read the index in '%s': use whole "
			   "numbers, {i}, + - * / %% and parentheses", ref);
		goto out;
	}
	if (hi0 < lo0) {
		ret = fail(w, n, "'%s' is an empty range", ref);
		goto out;
	}
	uint64_t width = (uint64_t)(hi0 - lo0) + 1;
	int64_t stride = 0;
	if (uses_i && g->count > 1) {
		int64_t lo1;
		if (eval_at(lo_expr, g->index_base + 1, &lo1) < 0) {
			ret = fail(w, n, "cannot evaluate '%s'", ref);
			goto out;
		}
		stride = lo1 - lo0;
		if (stride < 0) {
			ret = fail(w, n, "'%s' moves backwards as {i} grows; "
				   "windows must move forward", ref);
			goto out;
		}
	}
	/* The range first: a window past the end of the dependency is
	 * refused before the check of every index below, which a huge
	 * array would make slow (found by tests/fuzz/fuzz_workflow). */
	bool linear_by_form = strcmp(inner, "{i}") == 0 && !dots;
	int64_t last_hi = hi0 + stride * (int64_t)(g->count - 1);
	if (lo0 < lo_base || last_hi > hi_base) {
		int64_t bad_i = lo0 < lo_base ? g->index_base
					      : g->index_base +
							(int64_t)g->count - 1;
		ret = fail(w, n, "%s[%lld] would wait for '%.*s' indexes "
			   "%lld..%lld, but '%s' has indexes %lld..%lld",
			   g->name, (long long)bad_i, (int)nlen, ref,
			   (long long)(lo0 < lo_base ? lo0 : last_hi - (int64_t)width + 1),
			   (long long)(lo0 < lo_base ? hi0 : last_hi), dep->name,
			   (long long)lo_base, (long long)hi_base);
		goto out;
	}
	if (uses_i && g->count > 1 && !linear_by_form) {
		/* Linear in {i}: check every index (design note 3); a bare
		 * {i} is linear by its form. */
		for (uint64_t k = 1; k < g->count; k++) {
			int64_t i = g->index_base + (int64_t)k, lo, hi;
			if (eval_at(lo_expr, i, &lo) < 0 ||
			    eval_at(hi_expr, i, &hi) < 0 ||
			    lo != lo0 + (int64_t)k * stride ||
			    hi - lo != hi0 - lo0) {
				ret = fail(w, n, "'%s' is not a window of fixed "
					   "size moving evenly with {i} (at "
					   "{i}=%lld)", ref, (long long)i);
				goto out;
			}
		}
	}
	a.first = dep->first + (uint64_t)(lo0 - lo_base);
	if (!uses_i || g->count == 1) {
		a.mode = Q_AFTER_ALL;
		a.count = width;
	} else {
		bool plain_each = strcmp(inner, "{i}") == 0 && !dots;
		if (plain_each && dep->count != g->count) {
			ret = fail(w, n, "'%s' is element-wise, but '%s' has "
				   "%llu items and '%s' %llu: element-wise "
				   "dependencies need arrays of the same "
				   "length (or write a window such as "
				   "NAME[{i}*2..{i}*2+1])", ref, g->name,
				   (unsigned long long)g->count, dep->name,
				   (unsigned long long)dep->count);
			goto out;
		}
		a.count = (uint64_t)stride * (g->count - 1) + width;
		if (stride == 1 && width == 1) {
			a.mode = Q_AFTER_EACH;
		} else {
			a.mode = Q_AFTER_MAP;
			a.stride = (uint64_t)stride;
			a.width = width;
		}
	}
	q_group_add_after(g, &a);
	ret = 0;
out:
	free(inner);
	return ret;
}

static int resolve_afters(struct wf *w)
{
	int ret;
	for (size_t gi = 0; gi < w->job->ngroups; gi++) {
		const struct q_ynode *after = w->task_after[gi];
		struct q_group *g = &w->job->groups[gi];
		if (!after)
			continue;
		if (after->kind == Q_YSCALAR) {
			if ((ret = resolve_ref(w, g, after)) < 0)
				return ret;
			continue;
		}
		for (size_t i = 0; i < after->n; i++) {
			if ((ret = want_scalar(w, after->items[i],
					       "each dependency")) < 0 ||
			    (ret = resolve_ref(w, g, after->items[i])) < 0)
				return ret;
		}
	}
	return 0;
}

/* ---- the graph: cycles and depth ---- */

struct graph {
	size_t n;
	size_t **deps;          /* deps[g]: groups g waits for */
	size_t *ndeps;
	int *state;             /* 0 new, 1 on the stack, 2 done */
	unsigned *depth;
	size_t *stack;
	size_t top;
};

static size_t group_index_of(const struct q_job *job, uint64_t item)
{
	const struct q_group *g = q_job_group_of(job, item);
	return (size_t)(g - job->groups);
}

/* Iterative depth-first search from `root`; a cycle fails with its path. */
static int visit(struct wf *w, struct graph *gr, size_t root)
{
	size_t *next = q__calloc(gr->n, sizeof(size_t));
	int ret = 0;
	gr->top = 0;
	gr->stack[gr->top++] = root;
	gr->state[root] = 1;
	while (gr->top > 0 && ret == 0) {
		size_t v = gr->stack[gr->top - 1];
		if (next[v] < gr->ndeps[v]) {
			size_t u = gr->deps[v][next[v]++];
			if (gr->state[u] == 0) {
				gr->state[u] = 1;
				gr->stack[gr->top++] = u;
			} else if (gr->state[u] == 1) {
				/* The cycle: u ... v -> u, from the stack. */
				struct q_buf path = Q_BUF_INIT;
				size_t from = gr->top;
				while (from > 0 && gr->stack[from - 1] != u)
					from--;
				for (size_t i = from - 1; i < gr->top; i++)
					q__buf_printf(&path, "%s -> ",
						      w->job->groups[gr->stack[i]].name);
				q__buf_addstr(&path, w->job->groups[u].name);
				ret = fail(w, w->task_keys[v], "the tasks depend "
					   "on each other in a cycle: %s (one "
					   "of these dependencies must go)",
					   path.data);
				q__buf_release(&path);
			}
			continue;
		}
		/* All of v's dependencies are done: its depth is known. */
		unsigned d = 0;
		for (size_t i = 0; i < gr->ndeps[v]; i++)
			if (gr->depth[gr->deps[v][i]] > d)
				d = gr->depth[gr->deps[v][i]];
		gr->depth[v] = d + 1;
		gr->state[v] = 2;
		gr->top--;
	}
	free(next);
	return ret;
}

static int check_graph(struct wf *w, unsigned *depth_out)
{
	struct q_job *job = w->job;
	struct graph gr = { .n = job->ngroups };
	int ret = 0;

	gr.deps = q__calloc(gr.n, sizeof(*gr.deps));
	gr.ndeps = q__calloc(gr.n, sizeof(*gr.ndeps));
	gr.state = q__calloc(gr.n, sizeof(*gr.state));
	gr.depth = q__calloc(gr.n, sizeof(*gr.depth));
	gr.stack = q__calloc(gr.n, sizeof(*gr.stack));
	for (size_t gi = 0; gi < gr.n; gi++) {
		const struct q_group *g = &job->groups[gi];
		for (size_t k = 0; k < g->nafter; k++) {
			if (g->after[k].job != 0)
				continue;
			/* The groups an item range spans. */
			size_t a = group_index_of(job, g->after[k].first);
			size_t b = group_index_of(job, g->after[k].first +
							       g->after[k].count - 1);
			for (size_t d = a; d <= b; d++) {
				gr.deps[gi] = q__reallocarray(
					gr.deps[gi], gr.ndeps[gi] + 1,
					sizeof(size_t));
				gr.deps[gi][gr.ndeps[gi]++] = d;
			}
		}
	}
	unsigned depth = 0;
	for (size_t gi = 0; gi < gr.n && ret == 0; gi++) {
		if (gr.state[gi] == 0)
			ret = visit(w, &gr, gi);
		if (gr.depth[gi] > depth)
			depth = gr.depth[gi];
	}
	for (size_t gi = 0; gi < gr.n; gi++)
		free(gr.deps[gi]);
	free(gr.deps);
	free(gr.ndeps);
	free(gr.state);
	free(gr.depth);
	free(gr.stack);
	*depth_out = depth;
	return ret;
}

/* ---- the document ---- */

static const char *const top_keys[] = { "name", "defaults", "plugins",
					"broadcast", "tasks", NULL };

/* The job name from the file name: its base name without extension,
 * made a valid name. */
static char *name_from_path(const char *path)
{
	char *copy = q__strdup(path);
	const char *base = basename(copy);
	char name[Q_NAME_MAX + 1];
	size_t n = 0;
	for (const char *p = base; *p && *p != '.' && n < Q_NAME_MAX; p++)
		name[n++] = isalnum((unsigned char)*p) || *p == '-' ||
					    *p == '+'
				    ? *p
				    : '_';
	name[n] = '\0';
	free(copy);
	struct q_error err = Q_ERROR_INIT;
	if (!n || q_name_check("name", name, &err) < 0)
		return q__strdup("workflow");
	return q__strdup(name);
}

static int load_plugins(struct wf *w, const struct q_ynode *p)
{
	size_t n = p->kind == Q_YSEQ ? p->n : 1;
	if (p->kind == Q_YMAP)
		return fail(w, p, "plugins must be a path or a list of paths");
	for (size_t i = 0; i < n; i++) {
		const struct q_ynode *item = p->kind == Q_YSEQ ? p->items[i] : p;
		if (want_scalar(w, item, "a plugin") < 0)
			return -EINVAL;
		char *path = resolve_path(w, item->value);
		struct q_error perr = Q_ERROR_INIT;
		int ret = q_plugin_load(path, &perr);
		if (ret < 0) {
			ret = fail(w, item, "%s", perr.message);
			free(path);
			return ret;
		}
		q_job_add_plugin(w->job, path);
		free(path);
	}
	return 0;
}

/* broadcast: a file every task may read (a path relative to the
 * workflow's directory). */
static int load_broadcast(struct wf *w, const struct q_ynode *b)
{
	if (want_scalar(w, b, "broadcast (a file)") < 0)
		return -EINVAL;
	char *path = resolve_path(w, b->value);
	struct q_error berr = Q_ERROR_INIT;
	int ret = q_job_set_broadcast(w->job, path, &berr);
	free(path);
	if (ret < 0)
		return fail(w, b, "%s", berr.message);
	return 0;
}

static int load_doc(struct wf *w, const struct q_ydoc *doc,
		    struct q_workflow_info *info)
{
	const struct q_ynode *root = doc->root;
	struct defaults d = { .set = { .threads = 1, .pure = -1 } };
	int ret;

	if (!root)
		return fail(w, NULL, "the file is empty (a workflow needs a "
			    "'tasks' mapping; see docs/workflow-yaml.md)");
	if (root->kind != Q_YMAP)
		return fail(w, root, "the top level must be a mapping with "
			    "'tasks' (and optionally name, defaults, plugins), "
			    "not %s", kind_word(root));
	if ((ret = check_keys(w, root, top_keys, "at the top level")) < 0)
		return ret;
	const struct q_ynode *name = lookup(root, "name");
	const struct q_ynode *defaults = lookup(root, "defaults");
	const struct q_ynode *plugins = lookup(root, "plugins");
	const struct q_ynode *broadcast = lookup(root, "broadcast");
	const struct q_ynode *tasks = lookup(root, "tasks");
	if (name) {
		struct q_error nerr = Q_ERROR_INIT;
		if ((ret = want_scalar(w, name, "name")) < 0)
			return ret;
		if (q_name_check("job name", name->value, &nerr) < 0)
			return fail(w, name, "%s", nerr.message);
	}
	char *job_name = name ? q__strdup(name->value)
			      : name_from_path(w->path);
	w->job = q_job_new(job_name);
	free(job_name);
	if (plugins && (ret = load_plugins(w, plugins)) < 0)
		return ret;
	if (broadcast && (ret = load_broadcast(w, broadcast)) < 0)
		return ret;
	if (defaults && (ret = parse_defaults(w, defaults, &d)) < 0)
		return ret;
	if (!tasks)
		return fail(w, root, "no 'tasks' mapping: a workflow needs at "
			    "least one task");
	if ((ret = want_map(w, tasks, "tasks")) < 0)
		return ret;
	if (tasks->n == 0)
		return fail(w, tasks, "'tasks' is empty");
	if (tasks->n / 2 > Q_WF_MAX_DEFINITIONS)
		return fail(w, tasks, "more than %d task definitions (use "
			    "arrays)", Q_WF_MAX_DEFINITIONS);
	for (size_t i = 0; i < tasks->n; i += 2)
		if ((ret = parse_task(w, tasks->items[i], tasks->items[i + 1],
				      &d)) < 0)
			return ret;
	struct q_error lerr = Q_ERROR_INIT;
	if (q__job_layout(w->job, &lerr) < 0)
		return fail(w, tasks, "%s", lerr.message);
	index_names(w);
	if ((ret = resolve_afters(w)) < 0)
		return ret;
	unsigned depth = 0;
	if ((ret = check_graph(w, &depth)) < 0)
		return ret;
	struct q_error ferr = Q_ERROR_INIT;
	if (q_job_finalize(w->job, &ferr) < 0)
		return fail(w, NULL, "%s", ferr.message);
	if (info) {
		info->tasks = w->job->nitems;
		info->definitions = w->job->ngroups;
		info->depth = depth;
	}
	return 0;
}

static char *absolute_dir(const char *path)
{
	char *copy = q__strdup(path);
	char *dir = dirname(copy);
	char real[PATH_MAX];
	char *out = realpath(dir, real) ? q__strdup(real) : q__strdup(dir);
	free(copy);
	return out;
}

static int finish(struct wf *w, int ret, struct q_job **job_out)
{
	free(w->dir);
	free(w->task_keys);
	free(w->task_after);
	free(w->by_name);
	if (ret < 0) {
		q_job_release(w->job);
		return ret;
	}
	*job_out = w->job;
	return 0;
}

int q_workflow_parse(const char *path, const char *data, size_t len,
		     struct q_spool *spool, struct q_job **job_out,
		     struct q_workflow_info *info, struct q_error *err)
{
	struct wf w = { .path = path, .spool = spool, .err = err };
	struct q_ydoc doc;
	int ret = q__ydoc_parse(&doc, path, data, len, err);

	*job_out = NULL;
	if (ret < 0)
		return ret;
	w.dir = absolute_dir(path);
	ret = load_doc(&w, &doc, info);
	q__ydoc_release(&doc);
	return finish(&w, ret, job_out);
}

int q_workflow_load(const char *path, struct q_spool *spool,
		    struct q_job **job_out, struct q_workflow_info *info,
		    struct q_error *err)
{
	struct wf w = { .path = path, .spool = spool, .err = err };
	struct q_ydoc doc;
	int ret = q__ydoc_load(&doc, path, err);

	*job_out = NULL;
	if (ret < 0)
		return ret;
	w.dir = absolute_dir(path);
	ret = load_doc(&w, &doc, info);
	q__ydoc_release(&doc);
	return finish(&w, ret, job_out);
}
