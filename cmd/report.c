/*
 * report.c: qstatus JOB --report FILE.html (report.h, docs/report.md):
 * gather the job's facts, lay out the page, write it atomically.
 *
 * Design notes
 * 1. One self-contained file: inline style, inline SVG, no script, no
 *    URL to fetch (report_html.c, note 3). It opens from a laptop's disk
 *    after scp, from a mail, offline.
 * 2. The parts: report_data.c gathers (one pass over every attempt),
 *    report_svg.c draws the task stream and progress, report_graph.c the
 *    task graph, report_tables.c the tables, report_html.c escapes.
 * 3. Written like every spoolq file that others read: a temporary file
 *    next to the target (O_EXCL), flushed and fsynced, renamed over it;
 *    a failure leaves the old report, or none, and no temporary. The
 *    report is not in the spool, so no spool directory is touched.
 * 4. A part that cannot be read (the worker registry, one record's
 *    stderr) is said so on the page; only the job itself failing to
 *    read fails the report.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>
#include <spoolq/version.h>

#include "report.h"
#include "report_data.h"
#include "report_graph.h"
#include "report_html.h"
#include "report_svg.h"
#include "report_tables.h"

struct report_parts {
	struct report_data d;
	struct q_counts total;
	struct q_counts *groups;
	struct report_graph graph;
	char workers_error[Q_ERROR_MSG_MAX];
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int gather(struct report_parts *p, struct q_jobh *h,
		  struct q_error *err)
{
	const struct q_job *job = q_jobh_job(h);
	report_data_init(&p->d, job);
	p->groups = calloc(job->ngroups ? job->ngroups : 1, sizeof(*p->groups));
	if (!p->groups)
		abort();
	int ret;
	if ((ret = q_job_counts(h, &p->total, err)) < 0 ||
	    (ret = q_job_group_counts(h, p->groups, err)) < 0 ||
	    (ret = q_job_for_each_attempt(h, report_data_add, &p->d, err)) < 0)
		return ret;
	struct q_worker_info *info = NULL;
	size_t ninfo = 0;
	struct q_error werr = Q_ERROR_INIT;
	if (q_workers_list(q_jobh_spool(h), &info, &ninfo, &werr) < 0)
		snprintf(p->workers_error, sizeof(p->workers_error), "%s",
			 werr.message);   /* design note 4 */
	else
		report_data_set_workers(&p->d, info, ninfo);
	free(info);
	report_data_finish(&p->d, now_ns());
	report_graph_build(&p->graph, job);
	return 0;
}

static void stream_section(FILE *out, const struct report_parts *p)
{
	const struct report_data *d = &p->d;
	char n[32];
	fputs("<h2 id=\"stream\">Task stream</h2>\n<p class=\"note\">", out);
	if (d->per_worker_rows)
		fputs("One row per worker (too many core slots for a row "
		      "each); ", out);
	else
		fputs("One row per worker and core slot; ", out);
	report_fmt_count(n, sizeof(n), d->ndrawn);
	if (d->aggregate)
		fprintf(out, "<b>aggregated</b>: the %s attempts are too dense "
			"for a bar each, so each row is cut into %.0f-pixel time "
			"bins, shaded by how busy the row was and coloured by "
			"the group that ran most in it. A red tick marks bins "
			"with a failure, a grey one bins with a retried, "
			"handed-back or lost attempt. qstatus JOB --events "
			"lists every attempt.", n,
			(double)REPORT_PLOT_W /
				(double)report_svg_nbins(d->nrows));
	else
		fprintf(out, "a bar per attempt (%s), coloured by group. Red "
			"outline: failed; dashed red: failed and retried; "
			"dashed grey: handed back; hatched: lost with its "
			"worker; orange: still running. Hover for details.", n);
	fputs("</p>\n", out);
	if (p->workers_error[0]) {
		fputs("<p class=\"warn\">The worker registry could not be "
		      "read, so every worker's rows are the slots it was seen "
		      "to use: ", out);
		report_html_text(out, p->workers_error);
		fputs("</p>\n", out);
	}
	if (!d->ndrawn)
		fputs("<p class=\"note\">No task has run yet.</p>\n", out);
	fputs("<div class=\"scroll\">\n", out);
	report_svg_gantt(out, d);
	fputs("</div>\n", out);
}

static void write_page(FILE *out, struct q_jobh *h,
		       const struct report_parts *p)
{
	const struct q_job *job = p->d.job;
	char title[64 + Q_NAME_MAX];
	snprintf(title, sizeof(title), "spoolq job %llu: %s",
		 (unsigned long long)job->id, job->name);
	report_html_begin(out, title);
	report_tables_summary(out, &p->d, &p->total, p->groups);
	stream_section(out, p);
	fputs("<h2 id=\"progress-h\">Progress</h2>\n", out);
	report_svg_progress(out, &p->d);
	report_tables_slowest(out, &p->d);
	report_tables_failed(out, h, &p->d);
	report_tables_other(out, &p->d);
	report_tables_workers(out, &p->d);
	fputs("<h2 id=\"graph-h\">Task graph</h2>\n<p class=\"note\">A node "
	      "per task definition (an array is one node), coloured by "
	      "state: green done, red failed, orange running, blue ready, "
	      "white waiting, grey cancelled.</p>\n<div class=\"scroll\">\n",
	      out);
	report_graph_svg(out, &p->graph, job, p->groups);
	fputs("</div>\n<p class=\"note\">Written by qstatus --report, spoolq "
	      Q_VERSION ".</p>\n", out);
	report_html_end(out);
}

/* Design note 3. */
static int write_atomically(const char *path, struct q_jobh *h,
			    const struct report_parts *p, struct q_error *err)
{
	char *copy = strdup(path), *base_copy = strdup(path);
	if (!copy || !base_copy)
		abort();
	const char *dir = dirname(copy), *base = basename(base_copy);
	size_t len = strlen(dir) + strlen(base) + 16;
	char *tmp = malloc(len);
	if (!tmp)
		abort();
	snprintf(tmp, len, "%s/.%s.XXXXXX", dir, base);
	int ret = 0;
	FILE *out = NULL;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno, "cannot write the "
				  "report '%s' (a temporary file in '%s')",
				  path, dir);
		goto free_names;
	}
	mode_t mask = umask(0);
	umask(mask);
	out = fdopen(fd, "w");
	if (!out || fchmod(fd, 0666 & ~mask) != 0) {
		ret = -errno;
		goto fail;
	}
	write_page(out, h, p);
	if (fflush(out) != 0 || ferror(out)) {
		ret = errno ? -errno : -EIO;
		goto fail;
	}
	if (fsync(fd) != 0) {
		ret = -errno;
		goto fail;
	}
	int closed = fclose(out);
	out = NULL;
	fd = -1;
	if (closed != 0) {
		ret = -errno;
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		ret = -errno;
		goto fail;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		/* The rename is done; a directory that cannot be synced
		 * (some file systems refuse) does not unmake the report. */
		(void)fsync(dfd);
		close(dfd);
	}
	goto free_names;
fail:
	if (ret == 0)
		ret = -EIO;   /* a failure that left errno unset */
	if (out)
		fclose(out);
	else if (fd >= 0)
		close(fd);
	unlink(tmp);
	q_error_set(err, Q_ERR_SYSTEM, -ret, "cannot write the report '%s'",
		    path);
free_names:
	free(tmp);
	free(base_copy);
	free(copy);
	return ret;
}

int report_write(struct q_jobcache *cache, struct q_jobh *h, const char *path,
		 struct q_error *err)
{
	/* The graph names an earlier job by id (report_graph.c, note 1),
	 * so the cache of other jobs is not needed. */
	(void)cache;
	struct report_parts p;
	memset(&p, 0, sizeof(p));
	int ret = gather(&p, h, err);
	if (ret == 0)
		ret = write_atomically(path, h, &p, err);
	report_graph_release(&p.graph);
	report_data_release(&p.d);
	free(p.groups);
	return ret;
}
