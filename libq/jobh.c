/*
 * jobh.c: job handles and the job cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"

const char *const q__shard_dir_names[Q_SHARD_KINDS] = {
	"ready", "claim", "done", "todo", "out",
};
const char *const q__dir_names[Q_DIR_KINDS] = {
	"wait", "passed", "watch", "todo",
};

int q_jobh_open(struct q_spool *sp, uint64_t id, struct q_jobh **h_out,
		struct q_error *err)
{
	struct q_jobh *h = q__calloc(1, sizeof(*h));
	int ret;

	h->sp = sp;
	h->dirfd = -1;
	for (int k = 0; k < Q_DIR_KINDS; k++)
		h->dirs[k] = -1;
	*h_out = NULL;
	if ((ret = q_job_load(sp, id, &h->job, err)) < 0)
		goto fail;
	h->dirfd = q__job_open_dir(sp, id);
	if (h->dirfd < 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, -h->dirfd,
				  "cannot open job %llu",
				  (unsigned long long)id);
		goto fail;
	}
	for (int k = 0; k < Q_SHARD_KINDS; k++) {
		h->shards[k] = q__malloc(h->job->nshards * sizeof(int));
		for (unsigned s = 0; s < h->job->nshards; s++)
			h->shards[k][s] = -1;
	}
	h->chunk_health = q__calloc(h->job->nchunks, 1);
	*h_out = h;
	return 0;
fail:
	q_jobh_close(h);
	return ret;
}

void q_jobh_close(struct q_jobh *h)
{
	if (!h)
		return;
	for (int k = 0; k < Q_SHARD_KINDS; k++) {
		if (!h->shards[k])
			continue;
		for (unsigned s = 0; s < h->job->nshards; s++)
			if (h->shards[k][s] >= 0)
				close(h->shards[k][s]);
		free(h->shards[k]);
	}
	for (int k = 0; k < Q_DIR_KINDS; k++)
		if (h->dirs[k] >= 0)
			close(h->dirs[k]);
	if (h->dirfd >= 0)
		close(h->dirfd);
	free(h->chunk_health);
	free(h->waiting_groups);
	q_job_release(h->job);
	free(h);
}

const struct q_job *q_jobh_job(const struct q_jobh *h)
{
	return h->job;
}

struct q_spool *q_jobh_spool(const struct q_jobh *h)
{
	return h->sp;
}

/*
 * Handles are opened lazily and may be shared by a worker's threads: the
 * first thread to publish its descriptor wins, a loser closes its own.
 */
static int publish_fd(int *slot, int fd)
{
	int expected = -1;
	if (__atomic_compare_exchange_n(slot, &expected, fd, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return fd;
	close(fd);
	return expected;
}

int q__jobh_shard_fd(struct q_jobh *h, enum q_shard_kind kind, unsigned s)
{
	if (s >= h->job->nshards)
		return -EINVAL;
	int cur = __atomic_load_n(&h->shards[kind][s], __ATOMIC_ACQUIRE);
	if (cur >= 0)
		return cur;
	char rel[64];
	snprintf(rel, sizeof(rel), "%s/%u", q__shard_dir_names[kind], s);
	int fd = q__open_dir_beneath(h->dirfd, rel);
	if (fd < 0)
		return -errno;
	return publish_fd(&h->shards[kind][s], fd);
}

int q__jobh_dir_fd(struct q_jobh *h, enum q_dir_kind kind)
{
	int cur = __atomic_load_n(&h->dirs[kind], __ATOMIC_ACQUIRE);
	if (cur >= 0)
		return cur;
	int fd = q__open_dir_beneath(h->dirfd, q__dir_names[kind]);
	if (fd < 0)
		return -errno;
	return publish_fd(&h->dirs[kind], fd);
}

void q__jobh_where(const struct q_jobh *h, const char *rel, char *out,
		   size_t size)
{
	snprintf(out, size, "%s/jobs/%llu/%s", h->sp->path,
		 (unsigned long long)h->job->id, rel);
}

bool q_jobh_finished(struct q_jobh *h)
{
	if (__atomic_load_n(&h->finished, __ATOMIC_ACQUIRE))
		return true;
	struct stat st;
	if (fstatat(h->dirfd, "todo", &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		__atomic_store_n(&h->finished, true, __ATOMIC_RELEASE);
	return __atomic_load_n(&h->finished, __ATOMIC_ACQUIRE);
}

void q__ready_name(char *out, size_t size, uint64_t chunk, unsigned attempt)
{
	snprintf(out, size, "%llu.a%u", (unsigned long long)chunk, attempt);
}

static bool parse_chunk_attempt(const char *name, const char **end,
				uint64_t *chunk, unsigned *attempt)
{
	const char *p;
	uint64_t a;
	if (!q__parse_u64(name, &p, chunk) || p[0] != '.' || p[1] != 'a')
		return false;
	if (!q__parse_u64(p + 2, &p, &a) || a == 0 || a > 1000000)
		return false;
	*attempt = (unsigned)a;
	*end = p;
	return true;
}

/*
 * The locality hint of a chunk made ready by a rank of an MPI world:
 * .h<16 hex digits of the world>-<rank> (q__ready_name_promoted). The
 * same world's workers prefer the chunks hinted to them (claim.c note 5).
 */
static bool parse_hint(const char **p, struct q__ready_hint *hint)
{
	const char *s = *p + 2;
	uint64_t rank;
	if (strspn(s, "0123456789abcdef") < 16 || s[16] != '-' ||
	    !q__parse_u64(s + 17, p, &rank) || rank > 1u << 24)
		return false;
	if (hint) {
		hint->world[0] = 'w';
		memcpy(hint->world + 1, s, 16);
		hint->world[17] = '\0';
		hint->rank = (unsigned)rank;
	}
	return true;
}

bool q__parse_ready_hinted(const char *name, uint64_t *chunk,
			   unsigned *attempt, int64_t *not_before,
			   struct q__ready_hint *hint)
{
	const char *end;
	uint64_t t = 0;
	if (hint)
		memset(hint, 0, sizeof(*hint));
	if (!parse_chunk_attempt(name, &end, chunk, attempt))
		return false;
	/* A retry waiting out its back-off: <chunk>.a<N>.n<unix seconds>. */
	if (end[0] == '.' && end[1] == 'n') {
		if (!q__parse_u64(end + 2, &end, &t) || t > INT64_MAX / 2)
			return false;
	}
	if (end[0] == '.' && end[1] == 'h' && !parse_hint(&end, hint))
		return false;
	if (*end != '\0')
		return false;
	if (not_before)
		*not_before = (int64_t)t;
	return true;
}

bool q__parse_ready_full(const char *name, uint64_t *chunk,
			 unsigned *attempt, int64_t *not_before)
{
	return q__parse_ready_hinted(name, chunk, attempt, not_before, NULL);
}

bool q__parse_ready_name(const char *name, uint64_t *chunk,
			 unsigned *attempt)
{
	return q__parse_ready_full(name, chunk, attempt, NULL);
}

void q__ready_name_promoted(const struct q_jobh *h, char *out, size_t size,
			    uint64_t chunk)
{
	int n = snprintf(out, size, "%llu.a1", (unsigned long long)chunk);
	/* Not for each_worker markers: each.c looks them up by name. */
	if (h->sp->world[0] && !q_chunk_each_worker(h->job, chunk) && n > 0 &&
	    (size_t)n < size)
		snprintf(out + n, size - (size_t)n, ".h%s-%u",
			 h->sp->world + 1, h->sp->world_rank);
}

bool q__parse_claim_name(const char *name, uint64_t *chunk,
			 unsigned *attempt, const char **worker)
{
	const char *end;
	if (!parse_chunk_attempt(name, &end, chunk, attempt) || *end != '@' ||
	    !q__safe_component(end + 1))
		return false;
	*worker = end + 1;
	return true;
}

int q__chunk_has_record(struct q_jobh *h, uint64_t chunk)
{
	int fd = q__jobh_shard_fd(h, Q_SHARD_DONE, q_job_shard_of(h->job,
								  chunk));
	if (fd < 0)
		return fd;
	char name[32];
	struct stat st;
	snprintf(name, sizeof(name), "%llu", (unsigned long long)chunk);
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/*
 * The cache is shared by a worker's threads: lookups and inserts hold a
 * mutex; a handle stays valid until q_jobcache_drop, which the owner calls
 * only when no thread uses that job any more.
 */
struct q_jobcache {
	struct q_spool *sp;
	pthread_mutex_t lock;
	struct q_jobh **handles;
	size_t n, cap;
};

struct q_jobcache *q_jobcache_new(struct q_spool *sp)
{
	struct q_jobcache *c = q__calloc(1, sizeof(*c));
	c->sp = sp;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void q_jobcache_release(struct q_jobcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		q_jobh_close(c->handles[i]);
	free(c->handles);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct q_jobh *q_jobcache_get(struct q_jobcache *c, uint64_t id,
			      struct q_error *err)
{
	struct q_jobh *h = NULL;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (c->handles[i]->job->id == id) {
			h = c->handles[i];
			goto out;
		}
	if (q_jobh_open(c->sp, id, &h, err) < 0) {
		h = NULL;
		goto out;
	}
	q__grow(&c->handles, &c->cap, c->n + 1, sizeof(*c->handles));
	c->handles[c->n++] = h;
out:
	pthread_mutex_unlock(&c->lock);
	return h;
}

void q_jobcache_drop(struct q_jobcache *c, uint64_t id)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (c->handles[i]->job->id == id) {
			q_jobh_close(c->handles[i]);
			c->handles[i] = c->handles[--c->n];
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

void q_worker_id_make(char *out, size_t size)
{
	unsigned r = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			r = 0;
		close(fd);
	}
	if (r == 0)
		r = (unsigned)q__now_ns() ^ (unsigned)getpid();
	snprintf(out, size, "%s.%ld.%06x", q__hostname(), (long)getpid(),
		 r & 0xffffff);
}
