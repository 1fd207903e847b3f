/*
 * held.c: the MPI fast path's files in the spool.
 *
 * A big result a worker keeps in memory (Q_STREAM_HELD, workers/mpipath.c)
 * reaches the spool as the very file a Q_STREAM_FILE stream would be:
 * out/<s>/<item>.a<attempt>.<worker>.out, so every reader finds it where
 * it looks for any big output. And per job, each worker of an MPI world
 * keeps a small file of the bytes its tasks moved, for qstatus:
 * moved/<worker-id>.
 *
 * Design notes
 * 1. A spill is published with link (q__publish_first), not rename: the
 *    producer spilling at exit and a consumer that recomputed the lost
 *    bytes may race, and the first file stays. Both hold the same bytes
 *    (the same checksum, which the recompute checked), so either is
 *    right; what must not happen is a reader seeing a file change.
 * 2. The counters are statistics: written with the atomic-write recipe
 *    (a reader never sees half a file) but a crash may lose the last
 *    second of them; nothing depends on them.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "spool_internal.h"
#include "sysio.h"
#include "text.h"

int q_output_spill(struct q_jobh *h, uint64_t item, unsigned attempt,
		   const char *worker_id, const void *data, size_t len,
		   struct q_error *err)
{
	char name[Q_CLAIM_NAME_MAX], tmp[Q_CLAIM_NAME_MAX], where[512];
	uint64_t chunk = q_job_chunk_of(h->job, item);
	int outfd = q__jobh_shard_fd(h, Q_SHARD_OUT,
				     q_job_shard_of(h->job, chunk));
	snprintf(name, sizeof(name), "%llu.a%u.%s.out",
		 (unsigned long long)item, attempt, worker_id);
	q__jobh_where(h, "out", where, sizeof(where));
	if (outfd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -outfd,
				   "cannot open '%s'", where);
	if (q__tmp_write(h->sp, "spill", data, len, tmp, sizeof(tmp), err) < 0)
		return -EIO;
	int ret = q__publish_first(h->sp, tmp, outfd, name);
	if (ret == -EEXIST)
		ret = 0;   /* note 1 */
	q__tmp_remove(h->sp, tmp);
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot write '%s/%u/%s'", where,
				   q_job_shard_of(h->job, chunk), name);
	return 0;
}

/*
 * SPOOL/config: settings for every worker of the spool, "key value"
 * lines, '#' comments. Only mpi_threshold so far; an unknown key is an
 * error (a typo must not be silently ignored).
 */
int q_spool_mpi_threshold(struct q_spool *sp, uint64_t *out,
			  struct q_error *err)
{
	char *text = NULL;
	size_t len;
	int ret = q__read_file(sp->dirfd, "config", 65536, &text, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot read '%s/config'", sp->path);
	int found = 0;
	unsigned lineno = 0;
	for (char *line = text, *next; line && ret == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char key[64], value[64], extra[2];
		int n = sscanf(line, " %63s %63s %1s", key, value, extra);
		if (n <= 0 || key[0] == '#')
			continue;
		if (n != 2 || strcmp(key, "mpi_threshold") != 0) {
			ret = q_error_set(err, Q_ERR_INPUT, 0, "'%s/config' "
					  "line %u: expected 'mpi_threshold "
					  "SIZE' (the only setting), got '%s'",
					  sp->path, lineno, line);
		} else if (strcmp(value, "never") == 0) {
			*out = Q_MPI_NEVER;
			found = 1;
		} else if (!q_parse_size(value, out) ||
			   *out < Q_MPI_THRESHOLD_MIN) {
			ret = q_error_set(err, Q_ERR_INPUT, 0, "'%s/config' "
					  "line %u: mpi_threshold must be a "
					  "size of more than 64 KiB such as 4M, "
					  "or never, got '%s'", sp->path,
					  lineno, value);
		} else {
			found = 1;
		}
	}
	free(text);
	return ret < 0 ? ret : found;
}

int q_moved_write(struct q_jobh *h, const char *worker_id,
		  const struct q_moved *moved, struct q_error *err)
{
	char where[512], tmp[Q_CLAIM_NAME_MAX];
	q__jobh_where(h, "moved", where, sizeof(where));
	if (q__spool_mkdirat(h->sp, h->dirfd, "moved") != 0 && errno != EEXIST)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s'", where);
	int dfd = q__open_dir_beneath(h->dirfd, "moved");
	if (dfd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s'", where);
	char text[128];
	int n = snprintf(text, sizeof(text), "spoolq-moved 1\nmpi %" PRIu64
			 "\nfile %" PRIu64 "\n", moved->mpi_bytes,
			 moved->file_bytes);
	int ret = 0;
	if (q__tmp_write(h->sp, "moved", text, (size_t)n, tmp, sizeof(tmp),
			 err) < 0) {
		ret = -EIO;
	} else if ((ret = q__publish_replace(h->sp, tmp, dfd, worker_id)) < 0) {
		q__tmp_remove(h->sp, tmp);
		ret = q_error_set(err, Q_ERR_SYSTEM, -ret,
				  "cannot write '%s/%s'", where, worker_id);
	}
	close(dfd);
	return ret;
}

/* One worker's counters; a file that does not parse counts nothing. */
static void add_moved_file(int dfd, const char *name, struct q_moved *sum)
{
	char *text = NULL;
	size_t len;
	if (q__read_file(dfd, name, 4096, &text, &len) < 0)
		return;
	unsigned long long mpi, file;
	if (sscanf(text, "spoolq-moved 1\nmpi %llu\nfile %llu\n", &mpi,
		   &file) == 2) {
		sum->mpi_bytes += mpi;
		sum->file_bytes += file;
		sum->workers++;
	}
	free(text);
}

int q_moved_read(struct q_jobh *h, struct q_moved *sum, struct q_error *err)
{
	memset(sum, 0, sizeof(*sum));
	DIR *d = q__opendir_at(h->dirfd, "moved");
	if (!d) {
		if (errno == ENOENT)
			return 0;
		char where[512];
		q__jobh_where(h, "moved", where, sizeof(where));
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot read '%s'", where);
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && q__safe_component(e->d_name))
			add_moved_file(dirfd(d), e->d_name, sum);
	closedir(d);
	return 0;
}
