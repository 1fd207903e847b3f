/*
 * claimcost: microseconds per claim (q_claim_next) on a job of a spool, the
 * figure behind the design's invariant 5 (claim cost does not grow with
 * queue length). bench/wl_scale.sh submits a small and a huge array and
 * compares the two.
 *
 * Usage: claimcost SPOOL JOB CLAIMS
 * Claims up to CLAIMS chunks as one worker with one core, looking at the
 * shards from one start shard (its pid) as a worker does, and never
 * commits them: the spool is throw-away. Prints "claims %u", "items %llu" (tasks in the claimed
 * chunks) and "us_per_claim %.3f".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

static double seconds_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) +
	       (double)(b.tv_nsec - a->tv_nsec) * 1e-9;
}

int main(int argc, char **argv)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *spool = NULL;
	struct q_jobh *h = NULL;
	char id[Q_WORKER_ID_MAX];
	char *end;
	unsigned long job, max;
	unsigned n = 0;
	unsigned long long items = 0;
	int status = 3;

	if (argc != 4) {
		fprintf(stderr, "usage: claimcost SPOOL JOB CLAIMS\n");
		return 2;
	}
	errno = 0;
	job = strtoul(argv[2], &end, 10);
	if (*end || errno || job == 0) {
		fprintf(stderr, "claimcost: bad job id '%s'\n", argv[2]);
		return 2;
	}
	errno = 0;
	max = strtoul(argv[3], &end, 10);
	if (*end || errno || max == 0 || max > 1000000) {
		fprintf(stderr, "claimcost: CLAIMS '%s' must be 1 to 1000000\n",
			argv[3]);
		return 2;
	}
	if (q_spool_open(&spool, argv[1], Q_SPOOL_WRITE, &err) < 0 ||
	    q_jobh_open(spool, job, &h, &err) < 0)
		goto fail;
	q_worker_id_make(id, sizeof(id));

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n < max) {
		struct q_claim claim;
		int ret = q_claim_next(h, id, (unsigned)getpid(), 1, 1,
				       &claim, &err);
		if (ret < 0)
			goto fail;
		if (ret == 0)
			break;
		uint64_t first, count;
		q_job_chunk_items(q_jobh_job(h), claim.chunk, &first, &count);
		items += count;
		n++;
	}
	double s = seconds_since(&t0);
	if (n == 0) {
		fprintf(stderr, "claimcost: job %lu has nothing ready to "
			"claim\n", job);
		goto out;
	}
	printf("claims %u\nitems %llu\nus_per_claim %.3f\n", n, items,
	       s / n * 1e6);
	status = fflush(stdout) == 0 ? 0 : 3;
	goto out;
fail:
	q_error_print(stderr, "claimcost", &err);
out:
	q_jobh_close(h);
	q_spool_close(spool);
	return status;
}
