/*
 * test_claim.c: claiming (libq/claim.c).
 *
 * The race: 8 processes try to claim the single task of a fresh job at
 * the same instant, 1000 times; each round exactly one wins, and the
 * winner's claim entry exists under its own name.
 */
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"

#define RACERS 8
#define ROUNDS 1000

/*
 * A racer is one long-lived process. Each round it reads a job id from
 * its command pipe, opens the job and reports "ready"; then it waits on
 * the shared start pipe (all 8 are released by one write of 8 bytes) and
 * tries to claim, reporting 'W' (won), 'L' (nothing to claim) or 'E'.
 */
static void racer(const char *path, int cmd_fd, int start_fd, int report_fd,
		  int n)
{
	struct q_spool *sp;
	struct q_error err = Q_ERROR_INIT;
	char wid[64];
	uint64_t id;

	if (q_spool_open(&sp, path, 0, &err) < 0)
		_exit(3);
	snprintf(wid, sizeof(wid), "racer%d.%ld.000000", n, (long)getpid());
	while (read(cmd_fd, &id, sizeof(id)) == (ssize_t)sizeof(id) && id) {
		struct q_jobh *h;
		char c = 'E', go;
		if (q_jobh_open(sp, id, &h, &err) < 0)
			_exit(4);
		if (write(report_fd, "r", 1) != 1 ||
		    read(start_fd, &go, 1) != 1)
			_exit(5);
		struct q_claim claim;
		int ret = q_claim_next(h, wid, (unsigned)n, 1, 1, &claim, &err);
		c = ret == 1 ? 'W' : ret == 0 ? 'L' : 'E';
		q_jobh_close(h);
		if (write(report_fd, &c, 1) != 1)
			_exit(6);
	}
	q_spool_close(sp);
	_exit(0);
}

static void read_exactly(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		cr_assert_gt(r, 0, "a racer died");
		got += (size_t)r;
	}
}

Test(claim, eight_processes_one_task_exactly_one_winner, .timeout = 240)
{
	struct tspool t;
	tspool_init(&t);
	int cmd[RACERS][2], start[2], report[2];
	pid_t pids[RACERS];

	cr_assert_eq(pipe(start), 0);
	cr_assert_eq(pipe(report), 0);
	for (int i = 0; i < RACERS; i++) {
		cr_assert_eq(pipe(cmd[i]), 0);
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0)
			racer(t.path, cmd[i][0], start[0], report[1], i);
		close(cmd[i][0]);
	}
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t id = tsubmit(&t, tjob_simple("race", 1));
		char buf[RACERS];
		for (int i = 0; i < RACERS; i++)
			cr_assert_eq(write(cmd[i][1], &id, sizeof(id)),
				     (ssize_t)sizeof(id));
		read_exactly(report[0], buf, RACERS);   /* all ready */
		char go[RACERS] = { 0 };
		cr_assert_eq(write(start[1], go, RACERS), RACERS);
		read_exactly(report[0], buf, RACERS);
		int winners = 0, losers = 0;
		for (int i = 0; i < RACERS; i++) {
			winners += buf[i] == 'W';
			losers += buf[i] == 'L';
		}
		cr_assert_eq(winners, 1, "round %d: %d winners", round,
			     winners);
		cr_assert_eq(losers, RACERS - 1, "round %d: %d losers", round,
			     losers);
		/* The spool agrees: one running task, none ready. */
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
		struct q_counts c;
		cr_assert_eq(q_job_counts(h, &c, &err), 0);
		cr_assert_eq(c.running, 1);
		cr_assert_eq(c.ready, 0);
		q_jobcache_drop(t.cache, id);
	}
	uint64_t stop = 0;
	for (int i = 0; i < RACERS; i++) {
		cr_assert_eq(write(cmd[i][1], &stop, sizeof(stop)),
			     (ssize_t)sizeof(stop));
		int status;
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	tspool_fini(&t);
}

Test(claim, claims_every_chunk_once_then_nothing)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("many", 100));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	unsigned char seen[100] = { 0 };
	struct q_claim claim;
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(q_claim_next(h, "w.1.000001", (unsigned)i * 7, 1,
					  1, &claim, &err), 1);
		cr_assert_lt(claim.chunk, 100);
		cr_assert_eq(seen[claim.chunk], 0, "chunk %llu twice",
			     (unsigned long long)claim.chunk);
		seen[claim.chunk] = 1;
		cr_assert_eq(claim.attempt, 1);
	}
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 1, 1, &claim, &err), 0);
	tspool_fini(&t);
}

Test(claim, lowest_chunk_first_within_a_shard)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("order", 10));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	cr_assert_eq(q_jobh_job(h)->nshards, 1);
	cr_assert_eq(claim.chunk, 0);
	tclaim(&t, id, &claim);
	cr_assert_eq(claim.chunk, 1);
	tspool_fini(&t);
}

Test(claim, only_chunks_that_fit_the_free_cores)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("wide", 1);
	job->groups[0].threads = 4;
	uint64_t id = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct q_claim claim;
	/* 2 free of 8: does not fit. */
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 2, 8, &claim, &err), 0);
	/* A worker with only 2 cores in total runs it on those 2. */
	cr_assert_eq(q_chunk_threads(q_jobh_job(h), 0, 2), 2);
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 2, 2, &claim, &err), 1);
	tspool_fini(&t);
}

Test(claim, handback_makes_it_ready_again_with_the_same_attempt)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("back", 1));
	struct q_claim claim, again;
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = tclaim(&t, id, &claim);
	cr_assert_eq(q_claim_handback(h, &claim, &err), 0, "%s", err.message);
	cr_assert_eq(tready(&t, id), 1);
	h = tclaim(&t, id, &again);
	cr_assert_eq(again.chunk, claim.chunk);
	cr_assert_eq(again.attempt, claim.attempt);
	tspool_fini(&t);
}

Test(claim, junk_in_ready_is_never_claimed)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("junk", 1));
	char path[256];
	/* Names that are not ready entries, or name chunks outside the job. */
	const char *junk[] = { "x", ".hidden", "5.a1", "0.a0", "00.a1",
			       "0.a1x" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(path, sizeof(path), "%s/jobs/%llu/ready/0/%s", t.path,
			 (unsigned long long)id, junk[i]);
		cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
	}
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	cr_assert_eq(claim.chunk, 0);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 1, 1, &claim, &err), 0);
	tspool_fini(&t);
}

/* A symbolic link named like a ready entry is never claimed (claiming it
 * would move the link and run the chunk a second time). */
Test(claim, symlink_in_ready_is_never_claimed)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("link", 1));
	char path[256];
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	cr_assert_eq(claim.chunk, 0);
	snprintf(path, sizeof(path), "%s/jobs/%llu/ready/0/0.a2", t.path,
		 (unsigned long long)id);
	cr_assert_eq(symlink("/tmp", path), 0, "%s", path);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 1, 1, &claim, &err), 0);
	struct stat st;
	cr_assert_eq(lstat(path, &st), 0, "the link stays where it was");
	cr_assert(S_ISLNK(st.st_mode));
	tspool_fini(&t);
}

Test(claim, higher_priority_first)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("prio");
	const int prio[] = { 0, 5, -3, 5 };
	for (int i = 0; i < 4; i++) {
		char name[8];
		snprintf(name, sizeof(name), "t%d", i);
		struct q_group *g = q_job_add_group(job, name, Q_TASK_COMMAND);
		q_group_add_argv(g, "true");
		g->priority = prio[i];
	}
	uint64_t id = tsubmit(&t, job);
	const uint64_t order[] = { 1, 3, 0, 2 };
	for (int i = 0; i < 4; i++) {
		struct q_claim c;
		tclaim(&t, id, &c);
		cr_assert_eq(c.chunk, order[i], "claim %d got chunk %llu", i,
			     (unsigned long long)c.chunk);
	}
	tspool_fini(&t);
}

/* In motion: something ready or claimed. A job whose chunks only wait is
 * not (nor is a finished one); a planted link is not a claim. */
Test(claim, in_motion_while_ready_or_claimed)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t first = tsubmit(&t, tjob_simple("first", 1));
	struct q_job *job = tjob_simple("second", 1);
	struct q_after a = { .job = first, .first = 0, .count = 1,
			     .mode = Q_AFTER_ALL, .label = (char *)"first" };
	q_group_add_after(&job->groups[0], &a);
	uint64_t second = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h1 = q_jobcache_get(t.cache, first, &err);
	struct q_jobh *h2 = q_jobcache_get(t.cache, second, &err);
	cr_assert_not_null(h2, "%s", err.message);

	cr_assert_eq(q_job_in_motion(h1), 1, "ready");
	cr_assert_eq(q_job_in_motion(h2), 0, "only waiting");
	struct q_claim claim;
	tclaim(&t, first, &claim);
	cr_assert_eq(q_job_in_motion(h1), 1, "claimed");
	char path[256];
	snprintf(path, sizeof(path), "%s/jobs/%llu/claim/0/0.a1@x.1.000009",
		 t.path, (unsigned long long)second);
	cr_assert_eq(symlink("/tmp", path), 0, "%s", path);
	cr_assert_eq(q_job_in_motion(h2), 0, "a link is not a claim");
	tfinish(&t, h1, &claim, Q_STATE_DONE);
	cr_assert_eq(q_job_in_motion(h1), 0, "finished");
	cr_assert_eq(q_job_in_motion(h2), 1, "released: ready");
	tspool_fini(&t);
}

/* A bundle: several chunks of one shard, one rename each, never more
 * than a quarter of what the shard holds ready; every chunk still
 * claimed once. */
Test(claim, bundle_takes_a_share_of_one_shard)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("many", 40));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	cr_assert_not_null(h);
	struct q_claim claims[64];
	int n = q_claim_bundle(h, "w.1.000001", 0, 1, 1, 64, claims, &err);
	cr_assert_eq(n, 10, "a quarter of the 40 ready, got %d", n);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(claims[i].shard, claims[0].shard);
		cr_assert_eq(claims[i].chunk, (uint64_t)i, "in claim order");
		char rel[400];
		snprintf(rel, sizeof(rel), "jobs/%llu/claim/%u/%s",
			 (unsigned long long)id, claims[i].shard,
			 claims[i].name);
		cr_assert(texists(&t, rel), "%s", rel);
	}
	int total = n;
	bool seen[40] = { false };
	for (int i = 0; i < n; i++)
		seen[claims[i].chunk] = true;
	while ((n = q_claim_bundle(h, "w.1.000001", 0, 1, 1, 3, claims,
				   &err)) > 0) {
		cr_assert_leq(n, 3, "never more than asked");
		for (int i = 0; i < n; i++) {
			cr_assert_not(seen[claims[i].chunk], "claimed twice");
			seen[claims[i].chunk] = true;
		}
		total += n;
	}
	cr_assert_eq(n, 0, "%s", err.message);
	cr_assert_eq(total, 40);
	tspool_fini(&t);
}

/* Rename ready/<s>/<chunk>.a1 of job `id` to carry a locality hint. */
static void hint(struct tspool *t, uint64_t id, unsigned shard,
		 uint64_t chunk, const char *suffix)
{
	char from[256], to[300];
	snprintf(from, sizeof(from), "%s/jobs/%llu/ready/%u/%llu.a1", t->path,
		 (unsigned long long)id, shard, (unsigned long long)chunk);
	snprintf(to, sizeof(to), "%s%s", from, suffix);
	cr_assert_eq(rename(from, to), 0, "%s: %s", from, strerror(errno));
}

/*
 * claim.c note 5: a rank of an MPI world takes the chunks hinted to it
 * first, unhinted ones next, other ranks' last; and still takes those.
 */
Test(claim, locality_hints_order_but_do_not_reserve)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("l", 4));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	cr_assert_not_null(h);
	cr_assert_eq(q_jobh_job(h)->nshards, 1);
	hint(&t, id, 0, 0, ".h0123456789abcdef-0");   /* rank 0's */
	hint(&t, id, 0, 3, ".h0123456789abcdef-1");   /* ours */
	hint(&t, id, 0, 2, ".hfedcba9876543210-1");   /* another world's */
	q_spool_set_world(t.sp, "w0123456789abcdef", 1, NULL);
	static const uint64_t order[] = { 3, 1, 2, 0 };
	for (size_t i = 0; i < 4; i++) {
		struct q_claim c;
		cr_assert_eq(q_claim_next(h, "w.1.000001", 0, 8, 8, &c, &err),
			     1, "claim %zu: %s", i, err.message);
		cr_assert_eq(c.chunk, order[i], "claim %zu took chunk %llu", i,
			     (unsigned long long)c.chunk);
		char want[64];
		snprintf(want, sizeof(want), "%llu.a1@w.1.000001",
			 (unsigned long long)order[i]);
		cr_assert_str_eq(c.name, want);
	}
	q_spool_set_world(t.sp, "", 0, NULL);
	tspool_fini(&t);
}
