/*
 * follow.h: qstatus --wait and --watch (follow.c).
 */
#ifndef SPOOLQ_FOLLOW_H
#define SPOOLQ_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct q_spool;
struct q_jobcache;
struct q_error;

/* --wait: until every job in ids is finished (at most `seconds` when not
 * negative), with a bar on stderr when it is a terminal; 0 when all are
 * finished, 1 when the time ran out, or -errno with err set. */
int follow_wait(struct q_spool *sp, struct q_jobcache *cache,
		const uint64_t *ids, size_t n, double seconds,
		struct q_error *err);

/* --watch: the jobs given (`given`), else those of ids not finished yet
 * (all when every one is), redrawn on a terminal or a line now and then
 * into a log. Returns the exit status (as --wait), or -errno with err
 * set. */
int follow_watch(struct q_spool *sp, struct q_jobcache *cache,
		 const uint64_t *ids, size_t n, bool given, double seconds,
		 struct q_error *err);

#endif
