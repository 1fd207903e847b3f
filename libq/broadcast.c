/*
 * broadcast.c: a job's broadcast input (spoolq/job.h q_job_set_broadcast,
 * spoolq/kernel.h q_ctx_broadcast).
 *
 * Design notes
 * 1. The file stays where the user put it: the spool records its
 *    absolute path, size and checksum at submission, not a copy. A big
 *    read-only input (a reference genome, a mesh, a model) is exactly
 *    what should not be written again into a spool on a parallel file
 *    system. A worker that finds it changed (another size or checksum)
 *    says so instead of giving tasks other data than was submitted.
 * 2. Read once per worker process, not per task: the bytes stay in
 *    memory (the spool's cache, one entry per job) until the worker
 *    exits, shared by every task of the job; its tasks only read them.
 *    In an MPI world, the worker's hook (workers/mpipath.c) gets them
 *    instead: rank 0 reads the file and MPI_Bcast gives everyone a copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "spool_internal.h"

struct q_bcast_entry {
	struct q_bcast_entry *next;
	uint64_t job;
	char *data;
	size_t len;
};

/* Open `path` as a regular file for reading; its size in *size. */
static int open_input(const char *path, uint64_t *size, struct q_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return q_error_set(err, Q_ERR_INPUT, errno,
				   "broadcast input '%s': cannot open it", path);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "broadcast input '%s' is not a regular file "
				   "(give a file every task reads)", path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Read len bytes of fd into buf (summing them if sum): 0 or -errno. */
static int read_all(int fd, char *buf, size_t len, struct q_sum *sum)
{
	size_t got = 0;
	while (got < len) {
		size_t want = len - got < (1u << 30) ? len - got : (1u << 30);
		ssize_t n = read(fd, buf + got, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (sum)
			q__sum_add(sum, buf + got, (size_t)n);
		got += (size_t)n;
	}
	return 0;
}

int q_job_set_broadcast(struct q_job *job, const char *path,
			struct q_error *err)
{
	char *real = realpath(path, NULL);
	if (!real)
		return q_error_set(err, Q_ERR_INPUT, errno,
				   "broadcast input '%s': cannot find it", path);
	uint64_t size;
	int fd = open_input(real, &size, err);
	if (fd < 0) {
		free(real);
		return fd;
	}
	int ret = 0;
	if (size > Q_BROADCAST_MAX) {
		ret = q_error_set(err, Q_ERR_INPUT, 0,
				  "broadcast input '%s' holds %llu bytes, more "
				  "than the %llu a worker keeps in memory (split "
				  "it, or let tasks read their part themselves)",
				  path, (unsigned long long)size,
				  (unsigned long long)Q_BROADCAST_MAX);
	} else {
		struct q_sum *sum = q__sum_new();
		char *buf = q__malloc((size_t)1 << 20);
		for (uint64_t left = size; left > 0 && ret == 0;) {
			size_t n = left < (1u << 20) ? (size_t)left : (1u << 20);
			if (read_all(fd, buf, n, sum) < 0)
				ret = q_error_set(err, Q_ERR_INPUT, errno,
						  "broadcast input '%s': cannot "
						  "read it", path);
			left -= n;
		}
		free(buf);
		if (ret == 0) {
			free(job->broadcast);
			job->broadcast = real;
			real = NULL;
			job->broadcast_size = size;
			job->broadcast_sum = q__sum_value(sum);
		}
		q__sum_free(sum);
	}
	close(fd);
	free(real);
	return ret;
}

int q_broadcast_read(struct q_jobh *h, char **data_out, size_t *len_out,
		     struct q_error *err)
{
	const struct q_job *job = h->job;
	uint64_t size;
	if (!job->broadcast)
		return q_error_set(err, Q_ERR_INPUT, ENOENT,
				   "job %llu has no broadcast input",
				   (unsigned long long)job->id);
	int fd = open_input(job->broadcast, &size, err);
	if (fd < 0)
		return fd;
	int ret = 0;
	char *data = NULL;
	if (size != job->broadcast_size || size > SIZE_MAX - 1) {
		ret = -EINVAL;
	} else if (!(data = q_big_alloc((size_t)size + 1))) {
		ret = q_error_set(err, Q_ERR_SYSTEM, ENOMEM,
				  "no memory for the broadcast input '%s' "
				  "(%llu bytes)", job->broadcast,
				  (unsigned long long)size);
	} else if (read_all(fd, data, (size_t)size, NULL) < 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno ? errno : EIO,
				  "cannot read the broadcast input '%s'",
				  job->broadcast);
	} else if (q_checksum(data, (size_t)size) != job->broadcast_sum) {
		ret = -EINVAL;
	}
	close(fd);
	if (ret == -EINVAL)
		ret = q_error_set(err, Q_ERR_INPUT, 0,
				  "the broadcast input '%s' of job %llu changed "
				  "after it was submitted (%llu bytes then, "
				  "%llu now%s): put the submitted file back, or "
				  "submit the job again", job->broadcast,
				  (unsigned long long)job->id,
				  (unsigned long long)job->broadcast_size,
				  (unsigned long long)size,
				  size == job->broadcast_size
					  ? ", other bytes" : "");
	if (ret < 0) {
		q_big_free(data);
		return ret;
	}
	data[size] = '\0';
	*data_out = data;
	*len_out = (size_t)size;
	return 0;
}

/* Design note 2: the spool's copy, read on first use. */
int q__broadcast_get(struct q_jobh *h, const char **data, size_t *len,
		     struct q_error *err)
{
	struct q_spool *sp = h->sp;
	if (sp->hooks.broadcast)
		return sp->hooks.broadcast(sp->hooks.arg, h, data, len, err);
	pthread_mutex_lock(&sp->bcast_lock);
	struct q_bcast_entry *e = sp->bcast;
	while (e && e->job != h->job->id)
		e = e->next;
	int ret = 0;
	if (!e) {
		/* Under the lock: two tasks of one worker read it once. */
		char *bytes;
		size_t n;
		ret = q_broadcast_read(h, &bytes, &n, err);
		if (ret == 0) {
			e = q__calloc(1, sizeof(*e));
			e->job = h->job->id;
			e->data = bytes;
			e->len = n;
			e->next = sp->bcast;
			sp->bcast = e;
			if (sp->hooks.file_read)
				sp->hooks.file_read(sp->hooks.arg, e->job, n);
		}
	}
	if (e) {
		*data = e->data;
		*len = e->len;
	}
	pthread_mutex_unlock(&sp->bcast_lock);
	return ret;
}

void q__broadcast_release(struct q_spool *sp)
{
	while (sp->bcast) {
		struct q_bcast_entry *e = sp->bcast;
		sp->bcast = e->next;
		q_big_free(e->data);
		free(e);
	}
}
