/*
 * report.c: qstatus JOB --report FILE.html (being written: for now the
 * job's name and counts only).
 */
#include <errno.h>
#include <stdio.h>

#include <spoolq/spoolq.h>

#include "report.h"

int report_write(struct q_jobcache *cache, struct q_jobh *h, const char *path,
		 struct q_error *err)
{
	(void)cache;
	struct q_counts k;
	if (q_job_counts(h, &k, err) < 0)
		return -EIO;
	FILE *f = fopen(path, "w");
	if (!f)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot write the report '%s'", path);
	fprintf(f, "<!DOCTYPE html><title>spoolq job %llu</title>"
		"<p>%llu tasks, %llu done</p>\n",
		(unsigned long long)q_jobh_job(h)->id,
		(unsigned long long)k.total, (unsigned long long)k.done);
	if (fclose(f) != 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot write the report '%s'", path);
	return 0;
}
