/*
 * deps_internal.h: enumerating wait units (deps.c).
 */
#ifndef LIBQ_DEPS_INTERNAL_H
#define LIBQ_DEPS_INTERNAL_H

#include "jobh_internal.h"

enum q_waiter_kind { Q_WAITER_CHUNK, Q_WAITER_BARRIER };

/* The job with id `id` (an earlier job), or NULL. */
typedef const struct q_job *(*q__dep_job_fn)(void *ctx, uint64_t id);

/*
 * Called for each (waiter, unit): waiter is chunk `waiter` or barrier
 * `waiter`; the unit is barrier `what` (unit_is_barrier) or chunk `what`
 * of job `dep_job` (0 = this job). Pairs may repeat.
 */
typedef int (*q__wait_fn)(void *ctx, enum q_waiter_kind kind,
			  uint64_t waiter, uint64_t dep_job, uint64_t what,
			  bool unit_is_barrier);

int q__for_each_wait(const struct q_job *job, q__dep_job_fn dep_of,
		     void *dep_ctx, q__wait_fn fn, void *ctx);

void q__unit_name(char *out, size_t size, uint64_t self_id, uint64_t job,
		  uint64_t chunk);

#endif
