/*
 * test_lease.c: attempts, retries and leases (libq/lease.c).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"

static void add_worker(struct tspool *t, const char *id, unsigned lease,
		       time_t age)
{
	struct q_worker_info w = { .pid = 1, .cpus = 1, .lease_s = lease };
	struct q_error err = Q_ERROR_INIT;
	snprintf(w.id, sizeof(w.id), "%s", id);
	snprintf(w.host, sizeof(w.host), "h");
	cr_assert_eq(q_worker_register(t->sp, &w, &err), 0);
	if (age) {
		char path[512];
		snprintf(path, sizeof(path), "%s/workers/%s", t->path, id);
		struct timespec old[2] = { { time(NULL) - age, 0 },
					   { time(NULL) - age, 0 } };
		cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	}
}

static struct q_jobh *claim_as(struct tspool *t, uint64_t id, const char *w,
			       struct q_claim *c)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_eq(q_claim_next(h, w, 0, 8, 8, c, &err), 1);
	return h;
}

static uint64_t reclaim(struct tspool *t, struct q_jobh *h)
{
	uint64_t n;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_reclaim_expired(h, t->cache, "r.9.000009", &n, &err), 0,
		     "%s", err.message);
	return n;
}

Test(lease, a_live_worker_keeps_its_claim_a_dead_one_loses_it)
{
	struct tspool t;
	tspool_init(&t);
	add_worker(&t, "live.1.000001", 2, 0);
	add_worker(&t, "dead.2.000002", 2, 3600);
	uint64_t id = tsubmit(&t, tjob_simple("l", 2));
	struct q_claim a, b;
	struct q_jobh *h = claim_as(&t, id, "live.1.000001", &a);
	claim_as(&t, id, "dead.2.000002", &b);
	cr_assert_eq(reclaim(&t, h), 1);
	cr_assert_eq(reclaim(&t, h), 0, "reclaimed twice");
	/* The dead worker's chunk is ready again as attempt 2. */
	struct q_claim c;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_claim_next(h, "live.1.000001", 0, 8, 8, &c, &err), 1);
	cr_assert_eq(c.chunk, b.chunk);
	cr_assert_eq(c.attempt, 2);
	tspool_fini(&t);
}

/* The lease is judged by mtimes the file server sets, not by a node's
 * clock: a heartbeat stamped "in the future" by a skewed node is simply
 * young. */
Test(lease, future_heartbeat_is_alive)
{
	struct tspool t;
	tspool_init(&t);
	add_worker(&t, "ahead.1.000001", 2, -3600);
	uint64_t id = tsubmit(&t, tjob_simple("l", 1));
	struct q_claim a;
	struct q_jobh *h = claim_as(&t, id, "ahead.1.000001", &a);
	cr_assert_eq(reclaim(&t, h), 0);
	tspool_fini(&t);
}

Test(lease, a_claim_without_a_worker_file_is_judged_by_its_age)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("l", 1));
	struct q_claim a;
	struct q_jobh *h = claim_as(&t, id, "gone.1.000001", &a);
	cr_assert_eq(reclaim(&t, h), 0, "a fresh claim was taken");
	char path[512];
	snprintf(path, sizeof(path), "%s/jobs/%llu/claim/0/%s", t.path,
		 (unsigned long long)id, a.name);
	struct timespec old[2] = { { time(NULL) - 3600, 0 },
				   { time(NULL) - 3600, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	cr_assert_eq(reclaim(&t, h), 1);
	tspool_fini(&t);
}

Test(lease, past_the_attempts_the_task_fails_with_the_reason)
{
	struct tspool t;
	tspool_init(&t);
	add_worker(&t, "dead.2.000002", 2, 3600);
	uint64_t id = tsubmit(&t, tjob_simple("l", 1));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	for (unsigned attempt = 1; attempt <= 3; attempt++) {
		struct q_claim c;
		cr_assert_eq(q_claim_next(h, "dead.2.000002", 0, 8, 8, &c,
					  &err), 1, "attempt %u", attempt);
		cr_assert_eq(c.attempt, attempt);
		cr_assert_eq(reclaim(&t, h), 1);
	}
	struct q_counts k;
	cr_assert_eq(q_job_counts(h, &k, &err), 0);
	cr_assert_eq(k.failed, 1);
	char reason[256];
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0);
	snprintf(reason, sizeof(reason), "%s", rec.items[0].reason);
	q_record_release(&rec);
	cr_assert_str_eq(reason, "its worker dead.2.000002 stopped (lease "
				 "expired) on attempt 3 of 3");
	tspool_fini(&t);
}

Test(lease, a_retry_waits_out_its_back_off)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("l", 1));
	struct q_claim c;
	struct q_jobh *h = claim_as(&t, id, "w.1.000001", &c);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_claim_retry(h, &c, 3600, &err), 0);
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 8, 8, &c, &err), 0,
		     "claimed before its back-off");
	struct q_counts k;
	cr_assert_eq(q_job_counts(h, &k, &err), 0);
	cr_assert_eq(k.ready, 1);
	/* Without a back-off it is ready at once, as attempt 2. */
	uint64_t id2 = tsubmit(&t, tjob_simple("m", 1));
	h = claim_as(&t, id2, "w.1.000001", &c);
	cr_assert_eq(q_claim_retry(h, &c, 0, &err), 0);
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 8, 8, &c, &err), 1);
	cr_assert_eq(c.attempt, 2);
	tspool_fini(&t);
}
