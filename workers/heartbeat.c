/*
 * heartbeat.c: a worker's heartbeat, beaten by its own thread.
 *
 * Design notes
 * 1. Its own thread, so that a slow turn of the main loop (a repair sweep
 *    of a big job, a slow file-system call, a long commit) never lets the
 *    heartbeat get older than the lease: a live worker that looks dead
 *    has its running tasks requeued and run twice. The chaos test found
 *    that with the beat in the main loop.
 * 2. But only while the main loop lives: the loop reports each turn, and
 *    the thread stops beating once the loop has not turned for a while
 *    (the worker says how long: at least a lease). A wedged worker is
 *    then presumed dead like a killed one and its claims go to others; if
 *    it ever wakes up, its late results lose (records are linked
 *    first-wins).
 * 3. A beat every lease/4, counted in nanoseconds (a 1 s lease beats
 *    every 250 ms), so a beat is never more than lease/4 plus one
 *    utimensat old while the worker lives.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spoolq/status.h>

#include "heartbeat.h"

struct q_heartbeat {
	struct q_spool *sp;
	char id[Q_WORKER_ID_MAX];
	const char *prog;
	int64_t period_ns;
	int64_t wedged_ns;
	atomic_llong last_turn_ns;     /* monotonic */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;           /* on CLOCK_MONOTONIC */
	bool stop;                     /* under lock */
	bool failing;                  /* the last beat failed (thread) */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void beat(struct q_heartbeat *hb, bool *warned)
{
	int64_t quiet = mono_ns() - atomic_load(&hb->last_turn_ns);

	if (quiet >= hb->wedged_ns) {
		/* Design note 2. */
		if (!*warned)
			fprintf(stderr, "%s: warning: the worker loop has not "
				"turned for %.1f s; no heartbeat until it "
				"does\n", hb->prog, (double)quiet / 1e9);
		*warned = true;
		return;
	}
	*warned = false;
	/* One line when beats start failing (a full disk, a heartbeat file
	 * the repair sweep removed after a long pause), not one per beat. */
	int ret = q_worker_heartbeat(hb->sp, hb->id);
	if (ret < 0 && !hb->failing)
		fprintf(stderr, "%s: warning: cannot refresh the heartbeat: "
			"%s\n", hb->prog, strerror(-ret));
	hb->failing = ret < 0;
}

static void *beat_thread(void *arg)
{
	struct q_heartbeat *hb = arg;
	bool warned = false;

	pthread_mutex_lock(&hb->lock);
	while (!hb->stop) {
		pthread_mutex_unlock(&hb->lock);
		beat(hb, &warned);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		int64_t ns = until.tv_nsec + hb->period_ns % 1000000000;
		until.tv_sec += hb->period_ns / 1000000000 + ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		pthread_mutex_lock(&hb->lock);
		while (!hb->stop &&
		       pthread_cond_timedwait(&hb->wake, &hb->lock, &until) !=
			       ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&hb->lock);
	return NULL;
}

int q_heartbeat_start(struct q_heartbeat **out, struct q_spool *sp,
		      const char *id, unsigned lease_seconds,
		      unsigned wedged_seconds, const char *prog)
{
	struct q_heartbeat *hb = calloc(1, sizeof(*hb));
	pthread_condattr_t attr;
	int ret;

	*out = NULL;
	if (!hb)
		return -ENOMEM;
	hb->sp = sp;
	snprintf(hb->id, sizeof(hb->id), "%s", id);
	hb->prog = prog;
	hb->period_ns = (int64_t)lease_seconds * 250000000;
	hb->wedged_ns = (int64_t)wedged_seconds * 1000000000;
	atomic_store(&hb->last_turn_ns, mono_ns());
	pthread_mutex_init(&hb->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&hb->wake, &attr);
	pthread_condattr_destroy(&attr);
	ret = pthread_create(&hb->thread, NULL, beat_thread, hb);
	if (ret != 0) {
		pthread_cond_destroy(&hb->wake);
		pthread_mutex_destroy(&hb->lock);
		free(hb);
		return -ret;
	}
	*out = hb;
	return 0;
}

void q_heartbeat_loop_turned(struct q_heartbeat *hb)
{
	atomic_store_explicit(&hb->last_turn_ns, mono_ns(),
			      memory_order_relaxed);
}

void q_heartbeat_stop(struct q_heartbeat *hb)
{
	if (!hb)
		return;
	pthread_mutex_lock(&hb->lock);
	hb->stop = true;
	pthread_cond_signal(&hb->wake);
	pthread_mutex_unlock(&hb->lock);
	pthread_join(hb->thread, NULL);
	pthread_cond_destroy(&hb->wake);
	pthread_mutex_destroy(&hb->lock);
	free(hb);
}
