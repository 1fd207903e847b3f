/*
 * report_tables.h: the report's HTML tables: the job's summary and group
 * legend, the slowest tasks, the failed tasks with their stderr tails,
 * the attempts that did not count, and per-worker utilisation.
 */
#ifndef SPOOLQ_REPORT_TABLES_H
#define SPOOLQ_REPORT_TABLES_H

#include <stdio.h>

#include "report_data.h"

/* Title, summary counts, and the groups' colours. */
void report_tables_summary(FILE *out, const struct report_data *d,
			   const struct q_counts *total,
			   const struct q_counts *per_group);
/* The REPORT_SLOWEST longest runs. */
void report_tables_slowest(FILE *out, const struct report_data *d);
/* Failed tasks, each with the last REPORT_TAIL_MAX bytes of its stderr
 * read from its record (a record that cannot be read is said so in the
 * row: the rest of the report is still worth having). */
void report_tables_failed(FILE *out, struct q_jobh *h,
			  const struct report_data *d);
/* Retried, handed-back and lost attempts. */
void report_tables_other(FILE *out, const struct report_data *d);
/* Per worker: busy core-seconds over cpus x its span in this job. */
void report_tables_workers(FILE *out, const struct report_data *d);

/* A worker's utilisation, 0..1 (0 when its span is empty). */
double report_worker_utilisation(const struct report_worker *w);

#endif
