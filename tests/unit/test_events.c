/*
 * test_events.c: event logs and every attempt of a job (libq/events.c).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "helpers.h"

#define MAXA 16

struct seen {
	int n;
	uint64_t item[MAXA];
	unsigned attempt[MAXA];
	enum q_attempt_end end[MAXA];
	enum q_state state[MAXA];
	int exit_code[MAXA];
	unsigned slot[MAXA];
	char worker[MAXA][Q_WORKER_ID_MAX];
	char reason[MAXA][64];
	int64_t claimed[MAXA], start[MAXA], end_ns[MAXA];
};

static int see(void *ctx, const struct q_attempt *a)
{
	struct seen *s = ctx;
	if (s->n < MAXA) {
		int i = s->n;
		s->item[i] = a->item;
		s->attempt[i] = a->attempt;
		s->end[i] = a->end;
		s->state[i] = a->state;
		s->exit_code[i] = a->exit_code;
		s->slot[i] = a->slot;
		snprintf(s->worker[i], sizeof(s->worker[i]), "%s", a->worker);
		snprintf(s->reason[i], sizeof(s->reason[i]), "%s", a->reason);
		s->claimed[i] = a->claimed_ns;
		s->start[i] = a->start_ns;
		s->end_ns[i] = a->end_ns;
	}
	s->n++;
	return 0;
}

static void outcome(struct q_outcome *o, uint64_t item, enum q_state state,
		    int exit_code, int64_t start, int64_t end, unsigned slot,
		    const char *reason)
{
	memset(o, 0, sizeof(*o));
	o->item = item;
	o->state = state;
	o->exit_code = exit_code;
	o->start_ns = start;
	o->end_ns = end;
	o->slot = slot;
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

static void log_path(struct tspool *t, uint64_t id, const char *writer,
		     char *out, size_t size)
{
	snprintf(out, size, "%s/jobs/%llu/events/%s", t->path,
		 (unsigned long long)id, writer);
}

Test(events, names_of_the_ends)
{
	cr_assert_str_eq(q_attempt_end_name(Q_END_FINAL), "final");
	cr_assert_str_eq(q_attempt_end_name(Q_END_RUNNING), "running");
	cr_assert_str_eq(q_attempt_end_name(Q_END_RETRY), "retry");
	cr_assert_str_eq(q_attempt_end_name(Q_END_HANDBACK), "handback");
	cr_assert_str_eq(q_attempt_end_name(Q_END_LOST), "lost");
	cr_assert_str_eq(q_attempt_end_name((enum q_attempt_end)42), "unknown");
}

/* A retry logged, then the final attempt committed: both, in order, the
 * logged one with everything it was given (a reason with spaces and a
 * newline survives the escaping). */
Test(events, a_logged_retry_then_the_record)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("r", 2));
	struct q_claim c;
	struct q_jobh *h = tclaim(&t, id, &c);
	c.claimed_ns = 100;
	struct q_outcome o;
	outcome(&o, 0, Q_STATE_FAILED, 3, 110, 120, 5, "exit status 3\nbad");
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_events_log(h, "w1.1.aaaaaa", &c, Q_END_RETRY,
				  "w1.1.aaaaaa", &o, 1, &err),
		     0, "%s", err.message);
	tfinish(&t, h, &c, Q_STATE_DONE);   /* stands for attempt 2 */

	struct seen s = { 0 };
	cr_assert_eq(q_job_for_each_attempt(h, see, &s, &err), 0, "%s",
		     err.message);
	cr_assert_eq(s.n, 2, "item 1 was never claimed: no attempt");
	cr_assert_eq(s.end[0], Q_END_RETRY);
	cr_assert_eq(s.state[0], Q_STATE_FAILED);
	cr_assert_eq(s.exit_code[0], 3);
	cr_assert_eq(s.slot[0], 5);
	cr_assert_eq(s.claimed[0], 100);
	cr_assert_eq(s.start[0], 110);
	cr_assert_eq(s.end_ns[0], 120);
	cr_assert_str_eq(s.worker[0], "w1.1.aaaaaa");
	cr_assert_str_eq(s.reason[0], "exit status 3\nbad");
	cr_assert_eq(s.end[1], Q_END_FINAL);
	cr_assert_eq(s.state[1], Q_STATE_DONE);
	cr_assert_str_eq(s.worker[1], "tester.1.000001");
	tspool_fini(&t);
}

/* A lost attempt: one line per item of the chunk, state running, the dead
 * worker named, its host taken from the id, logged by the reclaimer. */
Test(events, lost_names_the_dead_worker)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("l", 4);
	job->groups[0].chunk_size = 2;
	uint64_t id = tsubmit(&t, job);
	struct q_claim c;
	struct q_jobh *h = tclaim(&t, id, &c);
	c.claimed_ns = 77;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_events_log(h, "reclaimer.2.bbbbbb", &c, Q_END_LOST,
				  "deadhost.9.cccccc", NULL, 0, &err),
		     0, "%s", err.message);
	struct seen s = { 0 };
	cr_assert_eq(q_job_for_each_attempt(h, see, &s, &err), 0);
	/* Two lost lines, then the chunk's current claim (running). */
	cr_assert_eq(s.n, 4);
	cr_assert_eq(s.end[0], Q_END_LOST);
	cr_assert_eq(s.item[0], 0);
	cr_assert_eq(s.end[1], Q_END_RUNNING);
	cr_assert_eq(s.item[1], 0);
	cr_assert_eq(s.end[2], Q_END_LOST);
	cr_assert_eq(s.item[2], 1);
	cr_assert_eq(s.state[0], Q_STATE_RUNNING);
	cr_assert_str_eq(s.worker[0], "deadhost.9.cccccc");
	cr_assert_eq(s.claimed[0], 77);
	cr_assert_gt(s.end_ns[0], 77, "when the loss was found");
	char path[512];
	log_path(&t, id, "reclaimer.2.bbbbbb", path, sizeof(path));
	cr_assert_eq(access(path, F_OK), 0, "the reclaimer's own log");
	tspool_fini(&t);
}

/* Final and running attempts are never logged: the log takes only the
 * three ends that leave no record. */
Test(events, only_record_less_ends_are_logged)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("o", 1));
	struct q_claim c;
	struct q_jobh *h = tclaim(&t, id, &c);
	struct q_outcome o;
	outcome(&o, 0, Q_STATE_DONE, 0, 1, 2, 0, "");
	struct q_error err = Q_ERROR_INIT;
	cr_assert_lt(q_events_log(h, "w.1.aaaaaa", &c, Q_END_FINAL,
				  "w.1.aaaaaa", &o, 1, &err),
		     0);
	cr_assert(!texists(&t, "jobs/1/events/w.1.aaaaaa"));
	tspool_fini(&t);
}

/* q_spool_set_events(false): nothing is written, and it is no error. */
Test(events, off_writes_nothing)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("off", 1));
	struct q_claim c;
	struct q_jobh *h = tclaim(&t, id, &c);
	struct q_outcome o;
	outcome(&o, 0, Q_STATE_FAILED, 1, 1, 2, 0, "x");
	struct q_error err = Q_ERROR_INIT;
	q_spool_set_events(t.sp, false);
	cr_assert_eq(q_events_log(h, "w.1.aaaaaa", &c, Q_END_RETRY,
				  "w.1.aaaaaa", &o, 1, &err),
		     0);
	cr_assert(!texists(&t, "jobs/1/events"));
	tspool_fini(&t);
}

/* One process, many jobs: more jobs than logs kept open still append to
 * the right files (the oldest open log is closed to make room). */
Test(events, more_jobs_than_open_logs)
{
	struct tspool t;
	tspool_init(&t);
	enum { JOBS = 12 };
	struct q_error err = Q_ERROR_INIT;
	for (int round = 0; round < 2; round++)
		for (uint64_t id = 1; id <= JOBS; id++) {
			if (round == 0)
				cr_assert_eq(tsubmit(&t, tjob_simple("m", 1)),
					     id);
			struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
			struct q_claim c = { .chunk = 0,
					     .attempt = 1 + (unsigned)round };
			struct q_outcome o;
			outcome(&o, 0, Q_STATE_FAILED, 1, 1, 2, 0, "");
			cr_assert_eq(q_events_log(h, "w.1.aaaaaa", &c,
						  Q_END_RETRY, "w.1.aaaaaa",
						  &o, 1, &err),
				     0, "%s", err.message);
		}
	for (uint64_t id = 1; id <= JOBS; id++) {
		struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
		struct seen s = { 0 };
		cr_assert_eq(q_job_for_each_attempt(h, see, &s, &err), 0);
		cr_assert_eq(s.n, 2, "job %llu", (unsigned long long)id);
		cr_assert_eq(s.attempt[0], 1);
		cr_assert_eq(s.attempt[1], 2);
	}
	tspool_fini(&t);
}

/* Hostile logs: a line naming an item outside its chunk, a bad escape,
 * a symlink in place of a log; none crashes the reader, the good lines
 * before a bad one still count, and a symlink is not followed. */
Test(events, hostile_logs_are_skipped)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("h", 4);
	job->groups[0].chunk_size = 2;
	uint64_t id = tsubmit(&t, job);
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/jobs/%llu/events", t.path,
		 (unsigned long long)id);
	cr_assert_eq(mkdir(dir, 0700), 0);
	static const char *const bodies[] = {
		/* item 3 is in chunk 1, not 0 */
		"spoolq-events 1\na 0 1 retry 0 failed 1 0 1 2 3 w h -\n"
		"a 0 1 retry 3 failed 1 0 1 2 3 w h -\n",
		"spoolq-events 1\na 1 1 retry 2 failed 1 0 1 2 3 w%zz h -\n",
		"spoolq-events 2\na 1 1 retry 2 failed 1 0 1 2 3 w h -\n",
		"spoolq-events 1\na 1 0 retry 2 failed 1 0 1 2 3 w h -\n",
		"spoolq-events 1\na 1 1 final 2 done 0 0 1 2 3 w h -\n",
		"",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		snprintf(path, sizeof(path), "%s/log%zu", dir, i);
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fputs(bodies[i], f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/link", dir);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct seen s = { 0 };
	cr_assert_eq(q_job_for_each_attempt(h, see, &s, &err), 0, "%s",
		     err.message);
	cr_assert_eq(s.n, 1, "only the first good line of log0");
	cr_assert_eq(s.item[0], 0);
	tspool_fini(&t);
}
