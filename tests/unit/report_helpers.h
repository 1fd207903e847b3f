/*
 * report_helpers.h: a laid-out job and hand-made attempts for the unit
 * tests of qstatus --report (cmd/report*.c). Header-only.
 */
#ifndef TESTS_REPORT_HELPERS_H
#define TESTS_REPORT_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spoolq/spoolq.h>

#include "report_data.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)   /* the first claim */

static inline struct q_group *rgroup(struct q_job *job, const char *name,
				     uint64_t count, unsigned threads)
{
	struct q_group *g = q_job_add_group(job, name, Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	g->count = count;
	g->array = count > 1;
	g->threads = threads;
	return g;
}

static inline void rafter(struct q_group *g, uint64_t job, uint64_t first,
			  uint64_t count, enum q_after_mode mode)
{
	struct q_after a = { .job = job, .first = first, .count = count,
			     .mode = mode, .stride = 1, .width = 1,
			     .label = (char *)"x", .barrier = -1 };
	q_group_add_after(g, &a);
}

static inline void rfinalize(struct q_job *job)
{
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_finalize(job, &err), 0, "%s", err.message);
}

/* An attempt that ran on `worker` from t0 + s to t0 + e seconds. */
static inline struct q_attempt rattempt(uint64_t item, const char *worker,
					unsigned slot, double s, double e)
{
	struct q_attempt a = { 0 };
	a.item = item;
	a.attempt = 1;
	a.end = Q_END_FINAL;
	a.state = Q_STATE_DONE;
	a.exit_code = 0;
	a.slot = slot;
	a.claimed_ns = T0 + (int64_t)(s * SEC);
	a.start_ns = a.claimed_ns;
	a.end_ns = T0 + (int64_t)(e * SEC);
	a.worker = worker;
	a.host = "h";
	a.reason = "";
	return a;
}

static inline void radd(struct report_data *d, struct q_attempt a)
{
	cr_assert_eq(report_data_add(d, &a), 0);
}

static inline int occurrences(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)) != NULL;
	     p += strlen(what))
		n++;
	return n;
}

#endif
