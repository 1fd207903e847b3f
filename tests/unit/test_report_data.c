/*
 * test_report_data.c: what the report gathers from a job's attempts
 * (cmd/report_data.c): interning, rows per worker and slot, the time
 * origin, which attempts have a bar, the tables' lists, when the task
 * stream is aggregated, and utilisation.
 */
#include "report_helpers.h"
#include "report_tables.h"

Test(report_data, strings_are_interned_once)
{
	struct report_strings s;
	report_strings_init(&s);
	cr_assert_eq(report_strings_find(&s, ""), 0);
	cr_assert_eq(report_strings_find(&s, "a"), REPORT_NONE);
	uint32_t a = report_strings_intern(&s, "a");
	cr_assert_eq(report_strings_intern(&s, "a"), a);
	char name[32];
	for (int i = 0; i < 5000; i++) {   /* past several rehashes */
		snprintf(name, sizeof(name), "w%d", i);
		cr_assert_eq(report_strings_intern(&s, name), (uint32_t)i + 2);
	}
	for (int i = 0; i < 5000; i += 37) {
		snprintf(name, sizeof(name), "w%d", i);
		cr_assert_eq(report_strings_find(&s, name), (uint32_t)i + 2);
		cr_assert_str_eq(s.v[i + 2], name);
	}
	cr_assert_eq(report_strings_find(&s, "a"), a);
	report_strings_release(&s);
}

static struct q_job *two_groups(void)
{
	struct q_job *job = q_job_new("rep");
	rgroup(job, "one", 4, 1);       /* items 0..3 */
	rgroup(job, "wide", 2, 2);      /* items 4..5, 2 threads */
	rfinalize(job);
	return job;
}

Test(report_data, rows_origin_and_worker_order)
{
	struct q_job *job = two_groups();
	struct report_data d;
	report_data_init(&d, job);
	/* "zz.1" registered with 4 cpus; "aa.2" gone, seen using slots 0..3
	 * (a 2-thread task on slot 2); "aa.1" gone, slot 0 only. */
	radd(&d, rattempt(0, "zz.1", 0, 5, 6));
	struct q_attempt a = rattempt(4, "aa.2", 2, 2, 4);
	a.host = "aa";
	radd(&d, a);
	a = rattempt(1, "aa.1", 0, 1, 3);
	a.host = "aa";
	radd(&d, a);
	struct q_worker_info info[2] = { 0 };
	snprintf(info[0].id, sizeof(info[0].id), "zz.1");
	info[0].cpus = 4;
	snprintf(info[1].id, sizeof(info[1].id), "not-in-this-job");
	info[1].cpus = 64;
	report_data_set_workers(&d, info, 2);
	report_data_finish(&d, T0 + 100 * SEC);

	cr_assert_eq(d.origin_ns, T0 + 1 * SEC, "the first claim is time 0");
	cr_assert_eq(d.end_ns, T0 + 6 * SEC);
	cr_assert_eq(d.nw, 3, "only workers of this job");
	/* By host, then id: aa.1 (1 row), aa.2 (4), zz.1 (4; host "h"). */
	const char *order[3] = { "aa.1", "aa.2", "zz.1" };
	size_t rows[3] = { 0, 1, 5 };
	unsigned slots[3] = { 1, 4, 4 };
	for (size_t k = 0; k < 3; k++) {
		const struct report_worker *w = &d.w[d.order[k]];
		cr_assert_str_eq(d.worker_ids.v[w->id], order[k]);
		cr_assert_eq(w->row, rows[k], "%s", order[k]);
		cr_assert_eq(w->slots, slots[k], "%s", order[k]);
	}
	cr_assert_eq(d.nrows, 9);
	cr_assert_not(d.per_worker_rows);
	cr_assert_not(d.aggregate);
	/* The 2-thread attempt covers slots 2 and 3 of aa.2. */
	size_t row, n;
	report_attempt_rows(&d, &d.a[1], &row, &n);
	cr_assert_eq(row, 3);
	cr_assert_eq(n, 2);
	report_data_release(&d);
	q_job_release(job);
}

Test(report_data, which_attempts_have_a_bar)
{
	struct q_job *job = two_groups();
	struct report_data d;
	report_data_init(&d, job);
	radd(&d, rattempt(0, "w", 0, 0, 1));             /* ran */
	struct q_attempt a = rattempt(1, "w", 0, 1, 2);
	a.reused = true;                                  /* not run */
	radd(&d, a);
	a = rattempt(2, "w", 0, 2, 5);
	a.end = Q_END_LOST;                               /* claim to loss */
	a.state = Q_STATE_RUNNING;
	a.start_ns = 0;
	radd(&d, a);
	a = rattempt(3, "w", 0, 6, 0);
	a.end = Q_END_RUNNING;                            /* claim to now */
	a.state = Q_STATE_RUNNING;
	a.start_ns = a.end_ns = 0;
	radd(&d, a);
	a = rattempt(4, "", 0, 0, 0);                     /* never ran */
	a.state = Q_STATE_CANCELLED;
	a.claimed_ns = a.start_ns = a.end_ns = 0;
	radd(&d, a);
	report_data_finish(&d, T0 + 9 * SEC);

	int64_t s, e;
	cr_assert(report_attempt_span(&d, &d.a[0], &s, &e));
	cr_assert_eq(s, T0);
	cr_assert_eq(e, T0 + SEC);
	cr_assert_not(report_attempt_span(&d, &d.a[1], &s, &e));
	cr_assert(report_attempt_span(&d, &d.a[2], &s, &e));
	cr_assert_eq(s, T0 + 2 * SEC);
	cr_assert_eq(e, T0 + 5 * SEC);
	cr_assert(report_attempt_span(&d, &d.a[3], &s, &e));
	cr_assert_eq(s, T0 + 6 * SEC);
	cr_assert_eq(e, T0 + 9 * SEC);
	cr_assert_not(report_attempt_span(&d, &d.a[4], &s, &e));
	cr_assert_eq(d.ndrawn, 3);
	cr_assert_eq(d.end_ns, T0 + 9 * SEC, "running tasks reach now");
	cr_assert_eq(d.nreused, 1);
	cr_assert_eq(d.nlost, 1);
	cr_assert_eq(d.nrunning, 1);
	cr_assert_eq(d.nother_listed, 1);
	report_data_release(&d);
	q_job_release(job);
}

Test(report_data, slowest_failed_and_other_lists)
{
	struct q_job *job = q_job_new("many");
	rgroup(job, "t", 300, 1);
	rfinalize(job);
	struct report_data d;
	report_data_init(&d, job);
	for (uint64_t i = 0; i < 300; i++) {
		/* Run times 0.01 * (i % 50): ties broken by item order. */
		struct q_attempt a = rattempt(i, "w", 0, 0, 0.01 * (i % 50));
		if (i % 2) {
			a.state = Q_STATE_FAILED;
			a.exit_code = 1;
			a.reason = "exit status 1";
		}
		if (i % 3 == 0) {
			struct q_attempt r = a;
			r.end = Q_END_RETRY;
			r.state = Q_STATE_FAILED;
			radd(&d, r);
			a.attempt = 2;
		}
		radd(&d, a);
	}
	report_data_finish(&d, T0 + 10 * SEC);
	cr_assert_eq(d.nslowest, REPORT_SLOWEST);
	for (size_t k = 0; k < d.nslowest; k++) {
		const struct report_attempt *a = &d.a[d.slowest[k]];
		cr_assert_eq(a->end, Q_END_FINAL);
		cr_assert_eq(a->item % 50, 49 - k / 6, "rank %zu", k);
		if (k > 0)
			cr_assert_geq(d.a[d.slowest[k - 1]].end_ns, a->end_ns);
	}
	cr_assert_eq(d.nfinal_failed, 150);
	cr_assert_eq(d.nfailed_listed, REPORT_FAILED_MAX);
	for (size_t k = 0; k < d.nfailed_listed; k++)
		cr_assert_eq(d.a[d.failed[k]].item, 2 * k + 1, "item order");
	cr_assert_eq(d.nretry, 100);
	cr_assert_eq(d.nother_listed, REPORT_OTHER_MAX);
	cr_assert_str_eq(d.names.v[d.a[d.failed[0]].reason], "exit status 1");
	report_data_release(&d);
	q_job_release(job);
}

Test(report_data, dense_jobs_are_aggregated)
{
	struct q_job *job = q_job_new("dense");
	rgroup(job, "t", REPORT_DETAIL_MAX + 1, 1);
	rfinalize(job);
	struct report_data d;
	report_data_init(&d, job);
	/* Spread over enough rows that no row is dense: the total decides. */
	char w[16];
	for (uint64_t i = 0; i <= REPORT_DETAIL_MAX; i++) {
		snprintf(w, sizeof(w), "w%llu", (unsigned long long)(i % 100));
		radd(&d, rattempt(i, w, 0, (double)i, (double)i + 0.5));
	}
	report_data_finish(&d, T0);
	cr_assert_eq(d.ndrawn, REPORT_DETAIL_MAX + 1);
	cr_assert(d.aggregate);
	report_data_release(&d);

	/* One dense row is enough on its own. */
	report_data_init(&d, job);
	for (uint64_t i = 0; i <= REPORT_ROW_DETAIL_MAX; i++)
		radd(&d, rattempt(i, "solo", 0, (double)i, (double)i + 0.5));
	report_data_finish(&d, T0);
	cr_assert_eq(d.max_row, REPORT_ROW_DETAIL_MAX + 1);
	cr_assert(d.aggregate);
	report_data_release(&d);

	/* Below both: a bar each. */
	report_data_init(&d, job);
	for (uint64_t i = 0; i < REPORT_ROW_DETAIL_MAX; i++)
		radd(&d, rattempt(i, "solo", 0, (double)i, (double)i + 0.5));
	report_data_finish(&d, T0);
	cr_assert_not(d.aggregate);
	report_data_release(&d);
	q_job_release(job);
}

Test(report_data, too_many_slots_make_one_row_per_worker)
{
	struct q_job *job = two_groups();
	struct report_data d;
	report_data_init(&d, job);
	char w[16];
	for (int k = 0; k < 20; k++) {
		snprintf(w, sizeof(w), "w%02d", k);
		/* Slot 99: 100 rows each, 2000 in all. */
		radd(&d, rattempt(0, w, 99, 0, 1));
	}
	report_data_finish(&d, T0 + SEC);
	cr_assert(d.per_worker_rows);
	cr_assert(d.aggregate);
	cr_assert_eq(d.nrows, 20);
	size_t row, n;
	report_attempt_rows(&d, &d.a[3], &row, &n);
	cr_assert_eq(row, 3);
	cr_assert_eq(n, 1);
	report_data_release(&d);
	q_job_release(job);
}

Test(report_data, utilisation)
{
	struct q_job *job = two_groups();
	struct report_data d;
	report_data_init(&d, job);
	/* 2 slots: 1 s + 1 s of one thread, and 1 s of a 2-thread task,
	 * over a 2 s span: 4 core-s of 4. */
	radd(&d, rattempt(0, "w", 0, 0, 1));
	radd(&d, rattempt(1, "w", 1, 0, 1));
	radd(&d, rattempt(4, "w", 0, 1, 2));
	/* Another worker, 1 cpu, busy 1 s of 4. */
	radd(&d, rattempt(2, "v", 0, 0, 1));
	radd(&d, rattempt(3, "v", 0, 3.5, 4));
	report_data_finish(&d, T0 + 10 * SEC);
	uint32_t w = report_strings_find(&d.worker_ids, "w") - 1;
	uint32_t v = report_strings_find(&d.worker_ids, "v") - 1;
	cr_assert_float_eq(d.w[w].busy_core_s, 4.0, 1e-6);
	cr_assert_float_eq(report_worker_utilisation(&d.w[w]), 1.0, 1e-6);
	cr_assert_float_eq(d.w[v].busy_core_s, 1.5, 1e-6);
	cr_assert_float_eq(report_worker_utilisation(&d.w[v]), 1.5 / 4, 1e-6);
	cr_assert_eq(d.w[w].runs, 3);
	report_data_release(&d);
	q_job_release(job);
}
