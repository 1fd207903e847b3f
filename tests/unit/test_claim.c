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

/* Child: wait for the start signal, try to claim, exit 10 (won) or 20. */
static void racer(const char *path, uint64_t id, int start_fd, int n)
{
	struct q_spool *sp;
	struct q_jobh *h;
	struct q_error err = Q_ERROR_INIT;
	char wid[64], c;
	if (q_spool_open(&sp, path, 0, &err) < 0 ||
	    q_jobh_open(sp, id, &h, &err) < 0)
		_exit(3);
	snprintf(wid, sizeof(wid), "racer%d.%ld.000000", n, (long)getpid());
	if (read(start_fd, &c, 1) != 1)
		_exit(4);
	struct q_claim claim;
	int ret = q_claim_next(h, wid, (unsigned)n, 1, 1, &claim, &err);
	_exit(ret == 1 ? 10 : ret == 0 ? 20 : 5);
}

Test(claim, eight_processes_one_task_exactly_one_winner, .timeout = 240)
{
	struct tspool t;
	tspool_init(&t);
	unsigned winners_total = 0;
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t id = tsubmit(&t, tjob_simple("race", 1));
		int pipefd[2];
		cr_assert_eq(pipe(pipefd), 0);
		pid_t pids[RACERS];
		for (int i = 0; i < RACERS; i++) {
			pids[i] = fork();
			cr_assert_geq(pids[i], 0);
			if (pids[i] == 0) {
				close(pipefd[1]);
				racer(t.path, id, pipefd[0], i);
			}
		}
		close(pipefd[0]);
		/* Release all racers at once. */
		char go[RACERS] = { 0 };
		cr_assert_eq(write(pipefd[1], go, RACERS), RACERS);
		close(pipefd[1]);
		int winners = 0, losers = 0;
		for (int i = 0; i < RACERS; i++) {
			int status;
			cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
			cr_assert(WIFEXITED(status));
			if (WEXITSTATUS(status) == 10)
				winners++;
			else if (WEXITSTATUS(status) == 20)
				losers++;
		}
		cr_assert_eq(winners, 1, "round %d: %d winners", round,
			     winners);
		cr_assert_eq(losers, RACERS - 1, "round %d: %d losers", round,
			     losers);
		winners_total += (unsigned)winners;
		/* The spool agrees: one running task, none ready. */
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
		struct q_counts c;
		cr_assert_eq(q_job_counts(h, &c, &err), 0);
		cr_assert_eq(c.running, 1);
		cr_assert_eq(c.ready, 0);
		q_jobcache_drop(t.cache, id);
	}
	cr_assert_eq(winners_total, ROUNDS);
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
