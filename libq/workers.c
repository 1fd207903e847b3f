/*
 * workers.c: the worker registry, workers/<id>.
 *
 * Each live worker has one file, written once (tmp + rename) and then
 * touched as its heartbeat: its mtime, set by the file server, is the time
 * of the last beat. Liveness is judged by comparing that mtime with the
 * mtime of a probe file the reader just touched, so both times come from
 * the same (server) clock and clock skew between nodes does not matter.
 *
 * Design notes
 * 1. The file also says who the worker process is on its node: boot id,
 *    pid namespace and start time (proc.c). A reader on the same boot and
 *    in the same pid namespace that finds that process gone marks the
 *    worker gone and not alive at once, whatever its heartbeat says: its
 *    claims are reclaimed without waiting for the lease. The fields are
 *    optional: a file without them (an older worker, or a node without
 *    /proc) is judged by its lease alone, and so is every worker on
 *    another node or in another pid namespace.
 * 2. A worker proven alive is still judged by its lease too: a stopped
 *    (SIGSTOP, swapped out) worker that no longer heartbeats loses its
 *    claims like any other; its late result cannot win (commit.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names_internal.h"
#include "proc_internal.h"
#include "spool_internal.h"
#include "sysio.h"
#include "text.h"

#define Q_WORKER_FILE_MAX 4096

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int q_worker_register(struct q_spool *sp, const struct q_worker_info *w,
		      struct q_error *err)
{
	struct q_buf b = Q_BUF_INIT;
	char tmpname[256];
	int ret;

	if (!q__safe_component(w->id))
		return q_error_set(err, Q_ERR_INPUT, 0, "bad worker id '%s'",
				   w->id);
	q__buf_addstr(&b, "spoolq-worker 1\nhost ");
	q__esc_append(&b, w->host);
	q__buf_printf(&b, "\npid %ld\ncpus %u\nlease %u\nstarted %lld\n",
		      w->pid, w->cpus, w->lease_s, (long long)w->started_ns);
	if (w->slurm_job[0]) {
		q__buf_addstr(&b, "slurm_job ");
		q__esc_append(&b, w->slurm_job);
		q__buf_addstr(&b, "\nslurm_procid ");
		q__esc_append(&b, w->slurm_procid[0] ? w->slurm_procid : "0");
		q__buf_addch(&b, '\n');
		/* The batch script itself has no step id; a worker started
		 * there has none to record. */
		if (w->slurm_step[0]) {
			q__buf_addstr(&b, "slurm_step ");
			q__esc_append(&b, w->slurm_step);
			q__buf_addch(&b, '\n');
		}
		if (w->slurm_node[0]) {
			q__buf_addstr(&b, "slurm_node ");
			q__esc_append(&b, w->slurm_node);
			q__buf_addch(&b, '\n');
		}
	}
	if (w->boot_id[0] && q__safe_component(w->boot_id) && w->pid_ns &&
	    w->start_ticks) {
		q__buf_addstr(&b, "boot_id ");
		q__esc_append(&b, w->boot_id);
		q__buf_printf(&b, "\npid_ns %llu\nstart_ticks %llu\n",
			      (unsigned long long)w->pid_ns,
			      (unsigned long long)w->start_ticks);
	}
	q__buf_addstr(&b, "end\n");
	ret = q__tmp_write(sp, "worker", b.data, b.len, tmpname,
			   sizeof(tmpname), err);
	q__buf_release(&b);
	if (ret < 0)
		return ret;
	ret = q__publish_replace(sp, tmpname, sp->workersfd, w->id);
	if (ret < 0) {
		q__tmp_remove(sp, tmpname);
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot register in '%s/workers'", sp->path);
	}
	return 0;
}

void q_worker_identify(struct q_worker_info *info)
{
	struct q__proc_id self;

	info->pid = (long)getpid();
	info->boot_id[0] = '\0';
	info->pid_ns = info->start_ticks = 0;
	if (q__proc_self(&self) < 0)
		return;
	snprintf(info->boot_id, sizeof(info->boot_id), "%s", self.boot_id);
	info->pid_ns = self.pid_ns;
	info->start_ticks = self.start;
}

int q_worker_heartbeat(struct q_spool *sp, const char *id)
{
	if (q__touchat(sp->workersfd, id) != 0)
		return -errno;
	return 0;
}

int q_worker_unregister(struct q_spool *sp, const char *id)
{
	if (q__unlinkat(sp->workersfd, id, 0) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* "Now" by the file server's clock, or the local clock if we cannot
 * write (a read-only reader). */
int64_t q__server_now(struct q_spool *sp)
{
	char name[256];
	int fd = q__tmp_create(sp, "clock", name, sizeof(name));
	if (fd < 0)
		return q__now_ns();
	struct stat st;
	int64_t now = fstat(fd, &st) == 0 ? mtime_ns(&st) : q__now_ns();
	(void)q__close(fd);
	q__tmp_remove(sp, name);
	return now;
}

static void parse_worker(struct q_worker_info *w, char *text, size_t len)
{
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int n;

	q__lines_init(&it, text, len);
	while ((n = q__lines_next(&it, tok)) > 0) {
		if (n != 2)
			continue;
		uint64_t v;
		int64_t t;
		char *s = NULL;
		if (strcmp(tok[0], "host") == 0 && (s = q__unesc(tok[1])))
			snprintf(w->host, sizeof(w->host), "%s", s);
		else if (strcmp(tok[0], "slurm_job") == 0 &&
			 (s = q__unesc(tok[1])))
			snprintf(w->slurm_job, sizeof(w->slurm_job), "%s", s);
		else if (strcmp(tok[0], "slurm_procid") == 0 &&
			 (s = q__unesc(tok[1])))
			snprintf(w->slurm_procid, sizeof(w->slurm_procid), "%s",
				 s);
		else if (strcmp(tok[0], "slurm_step") == 0 &&
			 (s = q__unesc(tok[1])))
			snprintf(w->slurm_step, sizeof(w->slurm_step), "%s", s);
		else if (strcmp(tok[0], "slurm_node") == 0 &&
			 (s = q__unesc(tok[1])))
			snprintf(w->slurm_node, sizeof(w->slurm_node), "%s", s);
		else if (strcmp(tok[0], "pid") == 0 && q__tok_u64(tok[1], &v))
			w->pid = (long)v;
		else if (strcmp(tok[0], "cpus") == 0 && q__tok_u64(tok[1], &v))
			w->cpus = (unsigned)v;
		else if (strcmp(tok[0], "lease") == 0 && q__tok_u64(tok[1], &v))
			w->lease_s = (unsigned)v;
		else if (strcmp(tok[0], "boot_id") == 0 &&
			 (s = q__unesc(tok[1])))
			snprintf(w->boot_id, sizeof(w->boot_id), "%s", s);
		else if (strcmp(tok[0], "pid_ns") == 0 &&
			 q__tok_u64(tok[1], &v))
			w->pid_ns = v;
		else if (strcmp(tok[0], "start_ticks") == 0 &&
			 q__tok_u64(tok[1], &v))
			w->start_ticks = v;
		else if (strcmp(tok[0], "started") == 0 &&
			 q__tok_i64(tok[1], &t))
			w->started_ns = t;
		free(s);
	}
}

int q_workers_list(struct q_spool *sp, struct q_worker_info **out,
		   size_t *n_out, struct q_error *err)
{
	DIR *d = q__opendir_at(sp->workersfd, NULL);
	if (!d)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot read '%s/workers'", sp->path);
	int64_t now = q__server_now(sp);
	struct q_worker_info *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !q__safe_component(de->d_name) ||
		    strlen(de->d_name) >= Q_WORKER_ID_MAX)
			continue;
		struct stat st;
		char *text;
		size_t len;
		if (fstatat(sp->workersfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (q__read_file(sp->workersfd, de->d_name, Q_WORKER_FILE_MAX,
				 &text, &len) != 0)
			continue;
		q__grow(&v, &cap, n + 1, sizeof(*v));
		struct q_worker_info *w = &v[n++];
		memset(w, 0, sizeof(*w));
		snprintf(w->id, sizeof(w->id), "%s", de->d_name);
		parse_worker(w, text, len);
		free(text);
		w->heartbeat_ns = mtime_ns(&st);
		int64_t lease = (int64_t)(w->lease_s ? w->lease_s : 60) *
				1000000000;
		struct q__proc_id p = { .pid = w->pid, .pid_ns = w->pid_ns,
					.start = w->start_ticks };
		snprintf(p.boot_id, sizeof(p.boot_id), "%s", w->boot_id);
		w->gone = q__proc_fate(&p) == Q_PROC_GONE;
		w->alive = !w->gone && now - w->heartbeat_ns < lease;
	}
	closedir(d);
	*out = v;
	*n_out = n;
	return 0;
}
