/*
 * key.c: keys of pure tasks and the result cache.
 *
 * Design notes
 * 1. A pure item's key is the SHA-256 of a canonical text: its index, what
 *    it runs (a kernel's name and the content hash of the plugin that
 *    defines it, or a command's words, environment and directory, all
 *    after {i} is replaced), and the keys of its inputs in `after` order.
 *    An input that has no key (its task is not pure) contributes the hash
 *    of its result's bytes instead, so a changed input always changes the
 *    key. The index is in the key because a kernel may read it.
 * 2. Reuse is per chunk: the chunk's key hashes its items' keys. A
 *    resubmitted workflow has the same chunks, so every unchanged chunk is
 *    found; a chunk with one changed item runs again as a whole.
 * 3. The cache is cache/<first two hex digits>/<chunk key>: a hard link
 *    to the segment that holds the chunk's record (segment.c), whose
 *    index names the job and chunk with that key; linked first-wins by
 *    the commit, before it removes its temporary. (Spools indexed before
 *    segments have a small file "job chunk" there; still read.) It is an
 *    index, not the results: an entry whose record is gone or does not
 *    match is ignored. It is not fsynced: losing an entry in a crash only
 *    means computing again.
 * 4. Indexing costs one link per chunk, and the cache/<hh> directories
 *    are opened once per spool handle: a pure short task used to pay a
 *    create, a write, a link and an unlink in tmp/ and two opens.
 */
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "sysio.h"
#include "text.h"

static void to_hex(const uint8_t *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void hash_text(const char *text, size_t len, char out[Q_KEY_HEX])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	sha256_update(&c, len, (const uint8_t *)text);
	sha256_digest(&c, sizeof(d), d);
	to_hex(d, sizeof(d), out);
}

/* Add the rest of fd's bytes to the hash; 0 or -EIO. */
static int hash_fd(struct sha256_ctx *c, int fd)
{
	uint8_t buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(c, (size_t)n, buf);
	return n < 0 ? -EIO : 0;
}

/* SHA-256 of a file's content. Plugins are hashed once per path per
 * process; runner threads ask concurrently, so the memo has a lock (a race
 * here once lost a slot's path, found by LeakSanitizer in CI). */
static int hash_file(const char *path, char out[Q_KEY_HEX])
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { char *path; char hex[Q_KEY_HEX]; } seen[64];
	static size_t nseen;
	int ret = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nseen; i++)
		if (strcmp(seen[i].path, path) == 0) {
			memcpy(out, seen[i].hex, Q_KEY_HEX);
			goto out;
		}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	ret = hash_fd(&c, fd);
	close(fd);
	if (ret < 0)
		goto out;
	sha256_digest(&c, sizeof(d), d);
	to_hex(d, sizeof(d), out);
	if (nseen < Q_ARRAY_SIZE(seen)) {
		seen[nseen].path = q__strdup(path);
		memcpy(seen[nseen].hex, out, Q_KEY_HEX);
		nseen++;
	}
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

/* The hash of a finished item's output bytes. */
static int hash_output(struct q_jobh *h, const struct q_record *rec, size_t i,
		       char out[Q_KEY_HEX])
{
	const struct q_stream *st = &rec->items[i].out;
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	if (st->where == Q_STREAM_INLINE) {
		sha256_update(&c, st->length,
			      (const uint8_t *)rec->data + st->offset);
	} else if (st->where == Q_STREAM_HELD) {
		/* Held by an MPI rank (a pure task's output always has a key,
		 * so this is rare): its bytes, wherever they are. */
		char *bytes;
		size_t len;
		struct q_error err = Q_ERROR_INIT;
		int ret = q_record_output_mem(h, rec, i, false, SIZE_MAX,
					      &bytes, &len, &err);
		if (ret < 0)
			return ret;
		sha256_update(&c, len, (const uint8_t *)bytes);
		q_big_free(bytes);
	} else if (st->where == Q_STREAM_FILE) {
		int fd = q__record_stream_file(h, rec, i, false);
		if (fd < 0)
			return fd;
		int ret = hash_fd(&c, fd);
		close(fd);
		if (ret < 0)
			return ret;
	}
	sha256_digest(&c, sizeof(d), d);
	to_hex(d, sizeof(d), out);
	return 0;
}

/* The key an input contributes: its own, or its content's. 0 or -errno
 * (-EAGAIN: the input is not done, so nothing can be reused). */
static int input_key(struct q_jobcache *cache, uint64_t job, uint64_t item,
		     struct q_buf *text)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *dh = q_jobcache_get(cache, job, &err);
	if (!dh || item >= dh->job->nitems)
		return -ENOENT;
	struct q_record rec;
	int ret = q_record_read(dh, q_job_chunk_of(dh->job, item), &rec, &err);
	if (ret < 0)
		return ret;
	size_t i = (size_t)(item - rec.first);
	char hex[Q_KEY_HEX];
	if (rec.items[i].state != Q_STATE_DONE) {
		ret = -EAGAIN;
	} else if (rec.items[i].key[0]) {
		q__buf_printf(text, "input key %s\n", rec.items[i].key);
	} else if ((ret = hash_output(dh, &rec, i, hex)) == 0) {
		q__buf_printf(text, "input content %s\n", hex);
	}
	q_record_release(&rec);
	return ret;
}

int q_item_key(struct q_jobh *h, struct q_jobcache *cache, uint64_t item,
	       char key_out[Q_KEY_HEX])
{
	const struct q_job *job = h->job;
	const struct q_group *g = q_job_group_of(job, item);
	int64_t index = q_job_index_of(job, item);
	struct q_buf t = Q_BUF_INIT;
	int ret = 0;

	key_out[0] = '\0';
	if (!g || !g->pure || g->each_worker)
		return 0;
	q__buf_printf(&t, "spoolq-key 1\nindex %lld\n", (long long)index);
	if (g->kind == Q_TASK_KERNEL) {
		const struct q_kernel *k = q_kernel_find(g->kernel);
		const char *origin = k ? q_kernel_origin(k) : NULL;
		char hex[Q_KEY_HEX] = "builtin";
		if (origin && hash_file(origin, hex) < 0) {
			ret = 0;   /* an unreadable plugin: no reuse */
			goto out;
		}
		q__buf_addstr(&t, "kernel ");
		q__esc_append(&t, g->kernel);
		q__buf_printf(&t, " %s\n", hex);
		for (size_t i = 0; i < g->nargs; i++) {
			char *a = q_subst_index(g->args[i], index);
			q__buf_addstr(&t, "arg ");
			q__esc_append(&t, a);
			q__buf_addch(&t, '\n');
			free(a);
		}
	} else {
		if (g->kind == Q_TASK_LINES) {
			size_t len;
			const char *line = q__job_line(job, item - g->first,
						       &len);
			char *l = q__strndup(line ? line : "", line ? len : 0);
			char *s = q_subst_index(l, index);
			q__buf_addstr(&t, "line ");
			q__esc_append(&t, s);
			q__buf_addch(&t, '\n');
			free(s);
			free(l);
		}
		for (size_t i = 0; i < g->argc; i++) {
			char *a = q_subst_index(g->argv[i], index);
			q__buf_addstr(&t, "argv ");
			q__esc_append(&t, a);
			q__buf_addch(&t, '\n');
			free(a);
		}
		if (g->cwd) {
			q__buf_addstr(&t, "cwd ");
			q__esc_append(&t, g->cwd);
			q__buf_addch(&t, '\n');
		}
	}
	/* The broadcast input is an input too: its content, not its path
	 * (a checksum for damage, which SHA-256 keys then cover). */
	if (job->broadcast)
		q__buf_printf(&t, "broadcast %llu %016llx\n",
			      (unsigned long long)job->broadcast_size,
			      (unsigned long long)job->broadcast_sum);
	for (size_t i = 0; i < g->nenv; i++) {
		char *e = q_subst_index(g->env[i], index);
		q__buf_addstr(&t, "env ");
		q__esc_append(&t, e);
		q__buf_addch(&t, '\n');
		free(e);
	}
	struct q_input_ref *in = NULL;
	size_t n = 0;
	if (q_item_inputs(h, item, &in, &n, NULL) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (input_key(cache, in[i].job, in[i].item, &t) < 0) {
			free(in);
			goto out;   /* an input not done: no key */
		}
	free(in);
	hash_text(t.data, t.len, key_out);
	ret = 1;
out:
	q__buf_release(&t);
	if (ret != 1)
		key_out[0] = '\0';
	return ret;
}

void q__chunk_key(char (*item_keys)[Q_KEY_HEX], size_t n,
		  char out[Q_KEY_HEX])
{
	struct q_buf t = Q_BUF_INIT;
	q__buf_addstr(&t, "spoolq-chunk-key 1\n");
	for (size_t i = 0; i < n; i++)
		q__buf_printf(&t, "%s\n", item_keys[i]);
	hash_text(t.data, t.len, out);
	q__buf_release(&t);
}

static bool valid_key(const char *k)
{
	if (strlen(k) != Q_KEY_HEX - 1)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* The slot of cache/<hh> for a valid key. */
static unsigned cache_slot(const char *key)
{
	unsigned hi = (unsigned)(key[0] <= '9' ? key[0] - '0' : key[0] - 'a' + 10);
	unsigned lo = (unsigned)(key[1] <= '9' ? key[1] - '0' : key[1] - 'a' + 10);
	return hi * 16 + lo;
}

/* cache/<hh>: an fd owned by the spool (opened once, design note 4),
 * created when `create`; -errno. */
static int cache_dir(struct q_spool *sp, const char *key, bool create)
{
	char rel[16];
	unsigned slot = cache_slot(key);
	int fd = __atomic_load_n(&sp->cachefd[slot], __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	snprintf(rel, sizeof(rel), "cache/%.2s", key);
	fd = q__open_dir_beneath(sp->dirfd, rel);
	if (fd < 0 && create && errno == ENOENT) {
		if ((q__spool_mkdirat(sp, sp->dirfd, "cache") != 0 &&
		     errno != EEXIST))
			return -errno;
		int cfd = q__open_dir_beneath(sp->dirfd, "cache");
		if (cfd < 0)
			return -errno;
		char sub[4];
		snprintf(sub, sizeof(sub), "%.2s", key);
		if (q__spool_mkdirat(sp, cfd, sub) != 0 && errno != EEXIST) {
			int e = errno;
			close(cfd);
			return -e;
		}
		close(cfd);
		fd = q__open_dir_beneath(sp->dirfd, rel);
	}
	if (fd < 0)
		return -errno;
	int none = -1;
	if (!__atomic_compare_exchange_n(&sp->cachefd[slot], &none, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);      /* another thread was first */
		return none;
	}
	return fd;
}

int q__cache_lookup(struct q_spool *sp, const char *key, uint64_t *job_out,
		    uint64_t *chunk_out)
{
	if (!valid_key(key))
		return 0;
	int fd = cache_dir(sp, key, false);
	if (fd < 0)
		return 0;
	/* Design note 4: the entry is the segment holding the result. */
	uint64_t j, c;
	int ret = q__segment_find_key(fd, key, key, &j, &c);
	if (ret == 0 && j > 0) {
		*job_out = j;
		*chunk_out = c;
		return 1;
	}
	if (ret != -EBADMSG)
		return 0;
	/* A spool indexed before segments: "<job> <chunk>\n". */
	char *text = NULL;
	size_t len;
	if (q__read_file(fd, key, 128, &text, &len) < 0)
		return 0;
	unsigned long long jj, cc;
	char extra;
	ret = sscanf(text, "%llu %llu%c", &jj, &cc, &extra) >= 2 && jj > 0;
	free(text);
	if (ret) {
		*job_out = jj;
		*chunk_out = cc;
	}
	return ret;
}

void q__cache_link(struct q_spool *sp, const char *key, const char *tmpname)
{
	if (!valid_key(key))
		return;
	int fd = cache_dir(sp, key, true);
	if (fd < 0)
		return;   /* an index, not results: a miss next time */
	/* EEXIST: an earlier result with the same key is indexed already,
	 * and serves as well. */
	(void)q__linkat(sp->tmpfd, tmpname, fd, key);
}
