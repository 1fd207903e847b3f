/*
 * test_status.c: counting and listing (libq/status.c, libq/workers.c).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"

struct listing {
	int n;
	enum q_state states[16];
	char labels[16][Q_NAME_MAX + 32];
	unsigned attempts[16];
};

static int collect(void *ctx, const struct q_task_info *t)
{
	struct listing *l = ctx;
	if (l->n < 16) {
		l->states[l->n] = t->state;
		snprintf(l->labels[l->n], sizeof(l->labels[0]), "%s", t->label);
		l->attempts[l->n] = t->attempt;
	}
	l->n++;
	return 0;
}

Test(status, counts_sum_to_the_tasks_at_every_step)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("steps", 6);
	job->groups[0].chunk_size = 2;
	uint64_t id = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.total, 6);
	cr_assert_eq(c.ready, 6);
	struct q_claim a, b;
	tclaim(&t, id, &a);
	tclaim(&t, id, &b);
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.running, 4);
	cr_assert_eq(c.ready, 2);
	tfinish(&t, h, &a, Q_STATE_DONE);
	tfinish(&t, h, &b, Q_STATE_FAILED);
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.done, 2);
	cr_assert_eq(c.failed, 2);
	cr_assert_eq(c.ready, 2);
	cr_assert_eq(c.waiting + c.ready + c.running + c.done + c.failed +
			     c.cancelled,
		     c.total);
	tspool_fini(&t);
}

Test(status, task_listing_in_item_order)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("list", 3);
	job->groups[0].index_base = 7;
	uint64_t id = tsubmit(&t, job);
	struct q_claim c;
	struct q_jobh *h = tclaim(&t, id, &c);
	tfinish(&t, h, &c, Q_STATE_DONE);
	tclaim(&t, id, &c);
	struct listing l = { 0 };
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_for_each_task(h, collect, &l, &err), 0);
	cr_assert_eq(l.n, 3);
	cr_assert_str_eq(l.labels[0], "list[7]");
	cr_assert_str_eq(l.labels[2], "list[9]");
	cr_assert_eq(l.states[0], Q_STATE_DONE);
	cr_assert_eq(l.states[1], Q_STATE_RUNNING);
	cr_assert_eq(l.states[2], Q_STATE_READY);
	cr_assert_eq(l.attempts[0], 1);
	cr_assert_eq(l.attempts[2], 0);
	tspool_fini(&t);
}

Test(status, workers_register_beat_and_leave)
{
	struct tspool t;
	tspool_init(&t);
	struct q_worker_info w = { .pid = 42, .cpus = 3, .lease_s = 60 };
	snprintf(w.id, sizeof(w.id), "node7.42.abcdef");
	snprintf(w.host, sizeof(w.host), "node7");
	snprintf(w.slurm_job, sizeof(w.slurm_job), "1234");
	snprintf(w.slurm_step, sizeof(w.slurm_step), "2");
	snprintf(w.slurm_procid, sizeof(w.slurm_procid), "5");
	snprintf(w.slurm_node, sizeof(w.slurm_node), "cn017");
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_worker_register(t.sp, &w, &err), 0, "%s", err.message);
	cr_assert_eq(q_worker_heartbeat(t.sp, w.id), 0);
	struct q_worker_info *list;
	size_t n;
	cr_assert_eq(q_workers_list(t.sp, &list, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(list[0].id, "node7.42.abcdef");
	cr_assert_str_eq(list[0].host, "node7");
	cr_assert_str_eq(list[0].slurm_job, "1234");
	cr_assert_str_eq(list[0].slurm_step, "2");
	cr_assert_str_eq(list[0].slurm_procid, "5");
	cr_assert_str_eq(list[0].slurm_node, "cn017");
	cr_assert_eq(list[0].cpus, 3);
	cr_assert(list[0].alive);
	free(list);
	cr_assert_eq(q_worker_unregister(t.sp, w.id), 0);
	cr_assert_eq(q_workers_list(t.sp, &list, &n, &err), 0);
	cr_assert_eq(n, 0);
	free(list);
	tspool_fini(&t);
}

/* A worker whose heartbeat is older than its lease is shown as lost. */
Test(status, stale_heartbeat_is_lost)
{
	struct tspool t;
	tspool_init(&t);
	struct q_error err = Q_ERROR_INIT;
	tworker(&t, "old.1.000000", "old", 5, 3600);
	struct q_worker_info *list;
	size_t n;
	cr_assert_eq(q_workers_list(t.sp, &list, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_not(list[0].alive);
	free(list);
	tspool_fini(&t);
}

struct claims_seen {
	int n;
	uint64_t chunk[8];
	unsigned attempt[8];
	char worker[8][Q_WORKER_ID_MAX];
	int64_t claimed[8];
};

static int see_claim_info(void *ctx, const struct q_claim_info *c)
{
	struct claims_seen *s = ctx;
	if (s->n < 8) {
		s->chunk[s->n] = c->chunk;
		s->attempt[s->n] = c->attempt;
		snprintf(s->worker[s->n], sizeof(s->worker[0]), "%s",
			 c->worker);
		s->claimed[s->n] = c->claimed_ns;
	}
	s->n++;
	return 0;
}

/* The claims alone: running chunks only, with their claimant and a claim
 * time no earlier than the claim itself (the rename's ctime, not the
 * ready entry's older mtime); foreign names in claim/ are skipped. */
Test(status, claims_listed_with_claimant_and_time)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("cl", 3));
	/* The ready entries are an hour old, as if queued long ago. */
	for (int c = 0; c < 3; c++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "jobs/%llu/ready/0/%d.a1",
			 (unsigned long long)id, c);
		tage(&t, rel, 3600);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t before = (int64_t)ts.tv_sec * 1000000000 - 1000000000;
	struct q_claim a, b;
	struct q_jobh *h = tclaim(&t, id, &a);
	tclaim(&t, id, &b);
	tfinish(&t, h, &b, Q_STATE_DONE);
	char junk[600];
	snprintf(junk, sizeof(junk), "%s/jobs/%llu/claim/0/not-a-claim",
		 t.path, (unsigned long long)id);
	cr_assert_eq(mkdir(junk, 0700), 0);
	struct claims_seen s = { 0 };
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_job_for_each_claim(h, see_claim_info, &s, &err), 0,
		     "%s", err.message);
	cr_assert_eq(s.n, 1, "one chunk running, one finished, one ready");
	cr_assert_eq(s.chunk[0], a.chunk);
	cr_assert_eq(s.attempt[0], 1);
	cr_assert_str_eq(s.worker[0], "tester.1.000001");
	cr_assert_geq(s.claimed[0], before, "the claim's time, not the "
		      "hour-old ready entry's");
	tspool_fini(&t);
}
