/*
 * heartbeat.h: a worker's heartbeat, beaten by its own thread.
 */
#ifndef QWORKER_HEARTBEAT_H
#define QWORKER_HEARTBEAT_H

#include <spoolq/queue.h>

struct q_heartbeat;

/*
 * Start beating workers/<id> every lease/4 (the worker is registered
 * already) while the loop has turned within the last `wedged_seconds`.
 * `prog` prefixes warnings. Returns 0 or -errno; *out is NULL on failure.
 */
int q_heartbeat_start(struct q_heartbeat **out, struct q_spool *sp,
		      const char *id, unsigned lease_seconds,
		      unsigned wedged_seconds, const char *prog);

/* The main loop turned: the worker is alive and well. Cheap (a store). */
void q_heartbeat_loop_turned(struct q_heartbeat *hb);

/* Stop the thread and free. NULL is fine. */
void q_heartbeat_stop(struct q_heartbeat *hb);

#endif
