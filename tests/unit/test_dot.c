/*
 * test_dot.c: the task graph as Graphviz DOT (libq/dot.c) and the
 * per-group counts it is coloured by (q_job_group_counts, status.c).
 */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"

/* q_job_write_dot's output for job `id`, through `cache` (may be NULL). */
static char *render(struct tspool *t, uint64_t id, struct q_jobcache *cache)
{
	struct q_error err = Q_ERROR_INIT;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_not_null(h, "%s", err.message);
	cr_assert_eq(q_job_write_dot(h, cache, f, &err), 0, "%s", err.message);
	cr_assert_eq(fclose(f), 0);
	return text;
}

static int occurrences(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)) != NULL;
	     p += strlen(what))
		n++;
	return n;
}

#define assert_has(text, line)                                                \
	cr_assert_eq(occurrences(text, line), 1, "expected once: %s\nin:\n%s", \
		     line, text)

/* Every line is a statement with its quotes balanced (escaped quotes
 * aside), and the graph is one digraph block. */
static void assert_well_formed(const char *text)
{
	cr_assert(strncmp(text, "digraph \"", 9) == 0, "%s", text);
	size_t len = strlen(text);
	cr_assert(len > 3 && strcmp(text + len - 2, "}\n") == 0, "%s", text);
	int quotes = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quotes++;
		if (*p == '\n') {
			cr_assert_eq(quotes % 2, 0, "unbalanced quotes in:\n%s",
				     text);
			quotes = 0;
		}
	}
}

static void add_after(struct q_group *g, uint64_t job, uint64_t first,
		      uint64_t count, enum q_after_mode mode, const char *label)
{
	struct q_after a = { .job = job, .first = first, .count = count,
			     .mode = mode, .label = (char *)label,
			     .barrier = -1 };
	q_group_add_after(g, &a);
}

static struct q_group *add_group(struct q_job *job, const char *name,
				 uint64_t count)
{
	struct q_group *g = q_job_add_group(job, name, Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	g->count = count;
	g->array = count > 1;
	g->chunk_size = 1;
	return g;
}

/*
 * items: prep.data 0; sample+x 1..6; total-sum 7; sq 8..13; part 14.
 */
static uint64_t graph_job(struct tspool *t)
{
	struct q_job *job = q_job_new("graph.v1+x");
	add_group(job, "prep.data", 1);
	struct q_group *g = add_group(job, "sample+x", 6);
	add_after(g, 0, 0, 1, Q_AFTER_ALL, "prep.data");
	g = add_group(job, "total-sum", 1);
	add_after(g, 0, 1, 6, Q_AFTER_ALL, "sample+x");
	g = add_group(job, "sq", 6);
	add_after(g, 0, 1, 6, Q_AFTER_EACH, "sample+x[{i}]");
	g = add_group(job, "part", 1);
	add_after(g, 0, 3, 2, Q_AFTER_ALL, "sample+x[2-3]");
	return tsubmit(t, job);
}

Test(dot, nodes_edges_and_quoting)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = graph_job(&t);
	char *text = render(&t, id, t.cache);
	assert_well_formed(text);
	assert_has(text, "digraph \"job 1: graph.v1+x\" {\n");
	/* One node per group, ids quoted; arrays folded with their count. */
	cr_assert_eq(occurrences(text, "fillcolor="), 5, "%s", text);
	assert_has(text, "  \"prep.data\" [label=\"prep.data\", "
			 "fillcolor=\"lightblue\"];\n");
	assert_has(text, "  \"sample+x\" [label=\"sample+x [6]\", "
			 "fillcolor=\"white\"];\n");
	assert_has(text, "  \"total-sum\" [label=\"total-sum\", "
			 "fillcolor=\"white\"];\n");
	assert_has(text, "  \"sq\" [label=\"sq [6]\", fillcolor=\"white\"];\n");
	/* One edge per dependency, labelled when element-wise or partial. */
	cr_assert_eq(occurrences(text, " -> "), 4, "%s", text);
	assert_has(text, "  \"prep.data\" -> \"sample+x\";\n");
	assert_has(text, "  \"sample+x\" -> \"total-sum\";\n");
	assert_has(text, "  \"sample+x\" -> \"sq\" [label=\"each\"];\n");
	assert_has(text, "  \"sample+x\" -> \"part\" [label=\"[2-3]\"];\n");
	free(text);
	tspool_fini(&t);
}

Test(dot, colours_follow_the_states)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = graph_job(&t);
	struct q_claim c[4];
	char *text;

	/* prep running, then done; sample becomes ready. */
	struct q_jobh *h = tclaim(&t, id, &c[0]);
	text = render(&t, id, t.cache);
	assert_has(text, "\"prep.data\" [label=\"prep.data\", "
			 "fillcolor=\"orange\"]");
	free(text);
	tfinish(&t, h, &c[0], Q_STATE_DONE);
	text = render(&t, id, t.cache);
	assert_has(text, "\"prep.data\" [label=\"prep.data\", "
			 "fillcolor=\"palegreen\"]");
	assert_has(text, "\"sample+x\" [label=\"sample+x [6]\", "
			 "fillcolor=\"lightblue\"]");
	free(text);

	/* Mixed: counts per state in the label, running beats ready. */
	tclaim(&t, id, &c[1]);
	text = render(&t, id, t.cache);
	assert_has(text, "\"sample+x\" [label=\"sample+x [6]\\n5 ready, "
			 "1 running\", fillcolor=\"orange\"]");
	free(text);

	/* failed beats running, ready and done. */
	tclaim(&t, id, &c[2]);
	tclaim(&t, id, &c[3]);
	tfinish(&t, h, &c[1], Q_STATE_DONE);
	tfinish(&t, h, &c[2], Q_STATE_FAILED);
	text = render(&t, id, t.cache);
	assert_has(text, "\"sample+x\" [label=\"sample+x [6]\\n3 ready, "
			 "1 running, 1 done, 1 failed\", fillcolor=\"tomato\"]");
	assert_well_formed(text);
	free(text);
	tspool_fini(&t);
}

Test(dot, cancelled_is_grey_unless_something_is_pending)
{
	struct tspool t;
	tspool_init(&t);
	struct q_error err = Q_ERROR_INIT;
	uint64_t id = tsubmit(&t, tjob_simple("c", 3));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	tfinish(&t, h, &claim, Q_STATE_DONE);
	/* Cancel an item other than the finished one. */
	char other[16];
	snprintf(other, sizeof(other), "c[%llu]",
		 (unsigned long long)(claim.chunk + 1) % 3);
	const char *one[] = { other };
	uint64_t n = 0;
	cr_assert_eq(q_cancel(h, t.cache, one, 1, &n, &err), 0, "%s",
		     err.message);
	char *text = render(&t, id, t.cache);
	assert_has(text, "\"c\" [label=\"c [3]\\n1 ready, 1 done, "
			 "1 cancelled\", fillcolor=\"lightblue\"]");
	free(text);
	cr_assert_eq(q_cancel(h, t.cache, NULL, 0, &n, &err), 0, "%s",
		     err.message);
	text = render(&t, id, t.cache);
	assert_has(text, "\"c\" [label=\"c [3]\\n1 done, 2 cancelled\", "
			 "fillcolor=\"lightgrey\"]");
	free(text);
	tspool_fini(&t);
}

Test(dot, earlier_jobs_are_dashed_nodes_written_once)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t a = tsubmit(&t, tjob_simple("gen", 4));
	struct q_job *job = q_job_new("later");
	struct q_group *g = add_group(job, "use", 1);
	add_after(g, a, 0, 4, Q_AFTER_ALL, "1");
	g = add_group(job, "use2", 1);
	add_after(g, a, 1, 2, Q_AFTER_ALL, "1:gen[1-2]");
	add_after(g, 0, 0, 1, Q_AFTER_ALL, "use");
	uint64_t b = tsubmit(&t, job);

	char *text = render(&t, b, t.cache);
	assert_well_formed(text);
	assert_has(text, "  \"1:gen\" [label=\"gen [4]\\njob 1\", "
			 "fillcolor=\"lightblue\", "
			 "style=\"rounded,filled,dashed\"];\n");
	assert_has(text, "  \"1:gen\" -> \"use\" [style=dashed, "
			 "label=\"job 1\"];\n");
	assert_has(text, "  \"1:gen\" -> \"use2\" [style=dashed, "
			 "label=\"job 1 [1-2]\"];\n");
	assert_has(text, "  \"use\" -> \"use2\";\n");
	free(text);

	/* The earlier job's state colours its node. */
	struct q_claim claim;
	for (int i = 0; i < 4; i++) {
		struct q_jobh *h = tclaim(&t, a, &claim);
		tfinish(&t, h, &claim, Q_STATE_DONE);
	}
	text = render(&t, b, t.cache);
	assert_has(text, "\"1:gen\" [label=\"gen [4]\\njob 1\", "
			 "fillcolor=\"palegreen\"");
	free(text);

	/* Without a cache the earlier job is one node named by its id. */
	text = render(&t, b, NULL);
	assert_well_formed(text);
	assert_has(text, "  \"job 1\" [label=\"job 1\", fillcolor=\"white\", "
			 "style=\"rounded,filled,dashed\"];\n");
	cr_assert_eq(occurrences(text, "\"job 1\" -> "), 2, "%s", text);
	free(text);
	tspool_fini(&t);
}

Test(dot, a_big_array_is_one_node)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("big");
	struct q_group *g = add_group(job, "sample", 20000);
	g->chunk_size = 5000;
	g->index_base = 1;
	g = add_group(job, "sum", 1);
	add_after(g, 0, 0, 20000, Q_AFTER_ALL, "sample");
	uint64_t id = tsubmit(&t, job);
	char *text = render(&t, id, t.cache);
	cr_assert_eq(occurrences(text, "fillcolor="), 2, "%s", text);
	assert_has(text, "\"sample\" [label=\"sample [20000]\", "
			 "fillcolor=\"lightblue\"]");
	assert_has(text, "  \"sample\" -> \"sum\";\n");
	free(text);
	tspool_fini(&t);
}

Test(dot, group_counts_sum_to_each_group)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = graph_job(&t);
	struct q_error err = Q_ERROR_INIT;
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	tfinish(&t, h, &claim, Q_STATE_FAILED);
	struct q_counts k[5];
	cr_assert_eq(q_job_group_counts(h, k, &err), 0, "%s", err.message);
	static const uint64_t totals[5] = { 1, 6, 1, 6, 1 };
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(k[i].total, totals[i]);
		cr_assert_eq(k[i].waiting + k[i].ready + k[i].running +
				     k[i].done + k[i].failed + k[i].cancelled,
			     k[i].total, "group %d", i);
	}
	cr_assert_eq(k[0].failed, 1);
	cr_assert_eq(k[1].ready, 6);
	cr_assert_eq(k[3].waiting, 6);
	tspool_fini(&t);
}

Test(dot, a_write_error_is_reported)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("w", 1));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	cr_assert_lt(q_job_write_dot(h, t.cache, f, &err), 0);
	cr_assert(strstr(err.message, "cannot write the graph of job 1"),
		  "%s", err.message);
	cr_assert_eq(err.errnum, ENOSPC);
	fclose(f);
	tspool_fini(&t);
}

/* Graphviz itself reads the multi-group graph (skipped without it;
 * scripts/deps.sh test installs it). */
Test(dot, graphviz_accepts_it)
{
	if (system("command -v dot > /dev/null 2>&1") != 0)
		cr_skip_test("graphviz (dot) is not installed");
	struct tspool t;
	tspool_init(&t);
	uint64_t id = graph_job(&t);
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	tfinish(&t, h, &claim, Q_STATE_DONE);
	tclaim(&t, id, &claim);
	char *text = render(&t, id, t.cache);
	char path[128], cmd[300];
	snprintf(path, sizeof(path), "%s/graph.dot", t.dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "dot -Tsvg -o %s/graph.svg %s", t.dir, path);
	cr_assert_eq(system(cmd), 0, "dot rejected:\n%s", text);
	free(text);
	tspool_fini(&t);
}
