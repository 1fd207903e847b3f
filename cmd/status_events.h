/*
 * status_events.h: qstatus JOB --events, every attempt of every task as
 * JSON lines (schema spoolq.events/1, docs/json.md).
 */
#ifndef SPOOLQ_STATUS_EVENTS_H
#define SPOOLQ_STATUS_EVENTS_H

#include <stdio.h>

struct q_jobh;
struct q_error;

/* One line per attempt, in item order. 0, or -errno with err set. */
int status_print_events(struct q_jobh *h, FILE *out, struct q_error *err);

#endif
