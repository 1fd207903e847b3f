/*
 * report.h: qstatus JOB --report FILE.html, one self-contained HTML page
 * on one job (docs/report.md).
 */
#ifndef SPOOLQ_REPORT_H
#define SPOOLQ_REPORT_H

struct q_jobcache;
struct q_jobh;
struct q_error;

/* Write the report of job h to `path` (atomically: a temporary next to
 * it, renamed). 0, or -errno with err set. */
int report_write(struct q_jobcache *cache, struct q_jobh *h, const char *path,
		 struct q_error *err);

#endif
