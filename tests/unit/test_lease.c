/*
 * test_lease.c: attempts, retries and leases (libq/lease.c).
 */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers.h"
#include "proc_internal.h"


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
	tworker(&t, "live.1.000001", "h", 2, 0);
	tworker(&t, "dead.2.000002", "h", 2, 3600);
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
	tworker(&t, "ahead.1.000001", "h", 2, -3600);
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
	char rel[512];
	snprintf(rel, sizeof(rel), "jobs/%llu/claim/0/%s",
		 (unsigned long long)id, a.name);
	tage(&t, rel, 3600);
	cr_assert_eq(reclaim(&t, h), 1);
	tspool_fini(&t);
}

Test(lease, past_the_attempts_the_task_fails_with_the_reason)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "dead.2.000002", "h", 2, 3600);
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

/* ---- fast reclaim of workers known dead on this node (lease.c note 6) */

/*
 * A worker process forked from the test: it registers itself (with its
 * boot id, pid namespace and start time, like qworker) under `id` and
 * then waits for a byte on `gate` (or its end of file) before it exits.
 */
static pid_t spawn_worker(struct tspool *t, const char *id, unsigned lease,
			  int gate_out[2])
{
	int ready[2];
	cr_assert_eq(pipe(gate_out), 0);
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct q_worker_info w = { .cpus = 1, .lease_s = lease };
		struct q_error err = Q_ERROR_INIT;
		char c;
		close(gate_out[1]);
		close(ready[0]);
		snprintf(w.id, sizeof(w.id), "%s", id);
		snprintf(w.host, sizeof(w.host), "h");
		q_worker_identify(&w);
		if (!w.boot_id[0] || q_worker_register(t->sp, &w, &err) < 0)
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		_exit(read(gate_out[0], &c, 1) < 0 ? 5 : 0);
	}
	close(gate_out[0]);
	close(ready[1]);
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1, "the worker did not register");
	close(ready[0]);
	return pid;
}

static void end_worker(pid_t pid, int gate[2], bool reap)
{
	close(gate[1]);
	if (reap) {
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

static struct q_worker_info find_worker(struct tspool *t, const char *id)
{
	struct q_worker_info *w, found = { 0 };
	size_t n;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_workers_list(t->sp, &w, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(w[i].id, id) == 0)
			found = w[i];
	free(w);
	cr_assert_str_eq(found.id, id, "worker %s not listed", id);
	return found;
}

Test(lease, a_dead_local_worker_is_reclaimed_at_once)
{
	struct tspool t;
	tspool_init(&t);
	int gate[2];
	/* A long lease and a fresh heartbeat: only the pid can tell. */
	pid_t pid = spawn_worker(&t, "local.1.000001", 3600, gate);
	uint64_t id = tsubmit(&t, tjob_simple("l", 2));
	struct q_claim a;
	struct q_jobh *h = claim_as(&t, id, "local.1.000001", &a);
	struct q_worker_info w = find_worker(&t, "local.1.000001");
	cr_assert(w.alive && !w.gone, "a running worker judged dead");
	cr_assert_eq(w.pid, (long)pid);
	cr_assert_neq(w.pid_ns, 0);
	cr_assert_neq(w.start_ticks, 0);
	cr_assert_eq(reclaim(&t, h), 0, "a running worker lost its claim");

	/* Exited but not reaped: a zombie runs nothing; gone. */
	end_worker(pid, gate, false);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	w = find_worker(&t, "local.1.000001");
	cr_assert(w.gone && !w.alive, "a zombie worker judged alive");

	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	w = find_worker(&t, "local.1.000001");
	cr_assert(w.gone && !w.alive, "an exited worker judged alive");
	cr_assert_eq(reclaim(&t, h), 1, "not reclaimed at once");
	cr_assert_eq(reclaim(&t, h), 0, "reclaimed twice");
	struct q_claim c;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_claim_next(h, "r.9.000009", 0, 8, 8, &c, &err), 1);
	cr_assert_eq(c.chunk, a.chunk);
	cr_assert_eq(c.attempt, 2);
	tspool_fini(&t);
}

/* Rewrite workers/<id>, keeping or dropping the process fields and
 * replacing one line that starts with `key ` by `key value`. */
static void edit_worker(struct tspool *t, const char *id, const char *key,
			const char *value)
{
	char path[512], line[256], text[4096] = "";
	snprintf(path, sizeof(path), "%s/workers/%s", t->path, id);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			if (!value)
				continue;
			snprintf(line, sizeof(line), "%s %s\n", key, value);
		}
		strncat(text, line, sizeof(text) - strlen(text) - 1);
	}
	fclose(f);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

/* Anywhere the pid cannot be judged, a dead worker keeps its claims
 * until its lease expires: without the fields, on another boot (node),
 * in another pid namespace. */
Test(lease, elsewhere_the_lease_still_decides)
{
	static const struct { const char *key, *value; } cases[] = {
		{ "boot_id", NULL },
		{ "pid_ns", NULL },
		{ "start_ticks", NULL },
		{ "boot_id", "00000000-0000-4000-8000-000000000000" },
		{ "pid_ns", "1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tspool t;
		tspool_init(&t);
		int gate[2];
		pid_t pid = spawn_worker(&t, "other.1.000001", 3600, gate);
		end_worker(pid, gate, true);
		edit_worker(&t, "other.1.000001", cases[i].key,
			    cases[i].value);
		uint64_t id = tsubmit(&t, tjob_simple("l", 1));
		struct q_claim a;
		struct q_jobh *h = claim_as(&t, id, "other.1.000001", &a);
		struct q_worker_info w = find_worker(&t, "other.1.000001");
		cr_assert(w.alive && !w.gone, "case %zu (%s): judged gone", i,
			  cases[i].key);
		cr_assert_eq(reclaim(&t, h), 0, "case %zu: reclaimed", i);
		/* Once its lease has expired, it goes the old way. */
		tage(&t, "workers/other.1.000001", 7200);
		cr_assert_eq(reclaim(&t, h), 1, "case %zu: never reclaimed",
			     i);
		tspool_fini(&t);
	}
}

/* A pid reused by a later process: the start time tells them apart. */
Test(lease, a_reused_pid_is_not_the_worker)
{
	struct tspool t;
	tspool_init(&t);
	int gate[2];
	pid_t pid = spawn_worker(&t, "reused.1.000001", 3600, gate);
	struct q_worker_info w = find_worker(&t, "reused.1.000001");
	cr_assert(w.alive);
	/* Same pid, a different start: as if the pid had been reused. */
	char start[32];
	snprintf(start, sizeof(start), "%llu",
		 (unsigned long long)w.start_ticks + 1);
	edit_worker(&t, "reused.1.000001", "start_ticks", start);
	w = find_worker(&t, "reused.1.000001");
	cr_assert(w.gone && !w.alive, "a reused pid judged the worker");
	/* And this process itself is alive, by the same rule. */
	struct q__proc_id self;
	cr_assert_eq(q__proc_self(&self), 0);
	cr_assert_eq(q__proc_fate(&self), Q_PROC_ALIVE);
	end_worker(pid, gate, true);
	tspool_fini(&t);
}

/* The gone rule in the reason a task gets when out of attempts. */
Test(lease, the_reason_says_the_process_was_gone)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("l", 1));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	int gate[2];
	pid_t pid = spawn_worker(&t, "dies.1.000001", 3600, gate);
	end_worker(pid, gate, true);
	for (unsigned attempt = 1; attempt <= 3; attempt++) {
		struct q_claim c;
		cr_assert_eq(q_claim_next(h, "dies.1.000001", 0, 8, 8, &c,
					  &err), 1, "attempt %u", attempt);
		cr_assert_eq(reclaim(&t, h), 1);
	}
	struct q_record rec;
	cr_assert_eq(q_record_read(h, 0, &rec, &err), 0);
	cr_assert_str_eq(rec.items[0].reason, "its worker dies.1.000001 "
			 "stopped (process gone) on attempt 3 of 3");
	q_record_release(&rec);
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

/*
 * A retry's ready entry carries its back-off (D.aN.nT); its claim must
 * still be named D.aN@W, or reclaim, repair and qstatus (which parse
 * claim names strictly) would never see it: a worker dying in a retry
 * would leave its chunk claimed for good.
 */
Test(lease, a_retried_claim_has_a_plain_name)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("r", 1));
	struct q_claim c;
	struct q_jobh *h = claim_as(&t, id, "w.1.000001", &c);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_claim_retry(h, &c, 1, &err), 0);
	/* The back-off is whole seconds: wait it out, with a deadline. */
	int got = 0;
	for (int i = 0; i < 400 && got == 0; i++) {
		got = q_claim_next(h, "w.1.000001", 0, 8, 8, &c, &err);
		if (got == 0)
			usleep(10000);
	}
	cr_assert_eq(got, 1, "never claimable after its back-off");
	cr_assert_eq(c.attempt, 2);
	cr_assert_str_eq(c.name, "0.a2@w.1.000001");
	struct q_counts k;
	cr_assert_eq(q_job_counts(h, &k, &err), 0);
	cr_assert_eq(k.running, 1, "qstatus does not see the claim");
	tspool_fini(&t);
}

/*
 * /proc mounted with hidepid=2 hides other users' processes (ENOENT): a
 * reclaimer of another user (a group spool) must then say "cannot tell",
 * never "gone", for a live worker. Needs root (a mount namespace and
 * setuid); skipped otherwise.
 */
Test(lease, hidepid_never_makes_a_live_worker_gone)
{
	struct q__proc_id parent;
	cr_assert_eq(q__proc_self(&parent), 0);
	if (geteuid() != 0)
		cr_skip_test("needs root");
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("proc", "/proc", "proc", 0, "hidepid=2") != 0)
			_exit(77);
		if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) != 0)
			_exit(77);
		struct q__proc_id gone = parent;
		gone.pid = 0x3fffffff;       /* beyond pid_max: no such pid */
		_exit(q__proc_fate(&parent) == Q_PROC_UNKNOWN &&
		      q__proc_fate(&gone) == Q_PROC_GONE ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		cr_skip_test("cannot mount /proc with hidepid=2 here");
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "a live process of another user hidden by hidepid was "
		     "judged gone (or a missing pid not gone)");
}
