/*
 * kernel.c: the kernel registry and the context kernels run with.
 *
 * Design notes
 * 1. The registry only grows. Registration (built-ins at start-up,
 *    plugins when a worker meets a job that lists them, possibly while
 *    other threads run kernels) holds a mutex; lookups take no lock: a
 *    slot is written before the count that covers it is published with
 *    release order, and readers load the count with acquire order.
 * 2. A context belongs to the one task it was made for. Output and log go
 *    through stdio streams on the worker's sinks (memory while small,
 *    spoolq/sink.h); stdio locks them, so a kernel may write from inside
 *    an OpenMP region.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"

#define Q_MAX_KERNELS 256
/* Inputs bigger than this are cut (a kernel wanting more reads files). */
#define Q_INPUT_MAX ((size_t)256 << 20)

static const struct q_kernel *registry[Q_MAX_KERNELS];
static size_t nregistry;      /* atomic: see design note 1 */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t registered(void)
{
	return __atomic_load_n(&nregistry, __ATOMIC_ACQUIRE);
}

int q_kernel_register(const struct q_kernel *k)
{
	int ret = 0;

	if (!k || k->abi != Q_KERNEL_ABI || !k->name || !k->run)
		return -EINVAL;
	pthread_mutex_lock(&registry_lock);
	if (q_kernel_find(k->name)) {
		ret = -EEXIST;
	} else if (nregistry == Q_MAX_KERNELS) {
		ret = -ENOSPC;
	} else {
		registry[nregistry] = k;
		__atomic_store_n(&nregistry, nregistry + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

const struct q_kernel *q_kernel_find(const char *name)
{
	size_t n = registered();
	for (size_t i = 0; i < n; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

size_t q_kernel_count(void)
{
	return registered();
}

const struct q_kernel *q_kernel_at(size_t i)
{
	return i < registered() ? registry[i] : NULL;
}

char *q_subst_index(const char *s, int64_t index)
{
	struct q_buf b = Q_BUF_INIT;
	const char *p = s;
	const char *hit;
	while ((hit = strstr(p, "{i}")) != NULL) {
		q__buf_add(&b, p, (size_t)(hit - p));
		q__buf_printf(&b, "%lld", (long long)index);
		p = hit + 3;
	}
	q__buf_addstr(&b, p);
	return q__buf_detach(&b);
}

struct q_input {
	struct q_input_ref ref;
	char *data;     /* loaded on first use */
	size_t len;
};

struct q_ctx {
	struct q_jobh *h;
	struct q_jobcache *cache;
	uint64_t item;
	int64_t index;
	unsigned threads;
	char label[Q_NAME_MAX + 32];
	char **keys, **values;
	size_t nargs;
	struct q_input *inputs;
	size_t ninputs;
	FILE *out, *err;
	int write_errno;          /* the first failed write's errno, or 0 */
	const volatile int *cancel;
};

/* Everything but the output streams. */
static struct q_ctx *ctx_new(struct q_jobh *h, struct q_jobcache *cache,
			     uint64_t item, unsigned threads,
			     const volatile int *cancel)
{
	struct q_ctx *ctx = q__calloc(1, sizeof(*ctx));
	const struct q_group *g = q_job_group_of(h->job, item);

	ctx->h = h;
	ctx->cache = cache;
	ctx->item = item;
	ctx->index = q_job_index_of(h->job, item);
	ctx->threads = threads;
	ctx->cancel = cancel;
	q_job_item_label(h->job, item, ctx->label, sizeof(ctx->label));
	ctx->keys = q__calloc(g->nargs + 1, sizeof(char *));
	ctx->values = q__calloc(g->nargs + 1, sizeof(char *));
	for (size_t i = 0; i < g->nargs; i++) {
		const char *eq = strchr(g->args[i], '=');
		if (!eq)
			continue;
		ctx->keys[ctx->nargs] = q__strndup(g->args[i],
						   (size_t)(eq - g->args[i]));
		ctx->values[ctx->nargs] = q_subst_index(eq + 1, ctx->index);
		ctx->nargs++;
	}
	struct q_input_ref *refs = NULL;
	size_t n = 0;
	if (q_item_inputs(h, item, &refs, &n, NULL) == 0) {
		ctx->inputs = q__calloc(n + 1, sizeof(*ctx->inputs));
		for (size_t i = 0; i < n; i++)
			ctx->inputs[i].ref = refs[i];
		ctx->ninputs = n;
		free(refs);
	}
	return ctx;
}

struct q_ctx *q_ctx_new(struct q_jobh *h, struct q_jobcache *cache,
			uint64_t item, unsigned threads, int out_fd, int err_fd,
			const volatile int *cancel)
{
	struct q_ctx *ctx = ctx_new(h, cache, item, threads, cancel);
	int ofd = dup(out_fd), efd = dup(err_fd);
	ctx->out = ofd >= 0 ? fdopen(ofd, "w") : NULL;
	ctx->err = efd >= 0 ? fdopen(efd, "w") : NULL;
	if (!ctx->out && ofd >= 0)
		close(ofd);
	if (!ctx->err && efd >= 0)
		close(efd);
	return ctx;
}

/* A stdio stream over a sink (fopencookie): the kernel's printf-style
 * writes buffer in stdio, then land in the sink's memory. */
static ssize_t sink_cookie_write(void *cookie, const char *buf, size_t len)
{
	int ret = q_sink_write(cookie, buf, len);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return (ssize_t)len;
}

static FILE *sink_stream(struct q_sink *s)
{
	cookie_io_functions_t io = { .write = sink_cookie_write };
	return fopencookie(s, "w", io);
}

struct q_ctx *q_ctx_new_sinks(struct q_jobh *h, struct q_jobcache *cache,
			      uint64_t item, unsigned threads,
			      struct q_sink *out, struct q_sink *err,
			      const volatile int *cancel)
{
	struct q_ctx *ctx = ctx_new(h, cache, item, threads, cancel);
	ctx->out = sink_stream(out);
	ctx->err = sink_stream(err);
	return ctx;
}

/*
 * Remember why the first write failed, when errno still says it: a full
 * disk or an exceeded quota is the worker's to handle (it gives the task
 * back), anything else fails the task.
 */
static void note_write_error(struct q_ctx *ctx)
{
	int none = 0, e = errno ? errno : EIO;
	__atomic_compare_exchange_n(&ctx->write_errno, &none, e, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

int q_ctx_finish(struct q_ctx *ctx)
{
	errno = 0;
	if (!ctx->out || fflush(ctx->out) != 0 || ferror(ctx->out))
		note_write_error(ctx);
	errno = 0;
	if (ctx->err && (fflush(ctx->err) != 0 || ferror(ctx->err)))
		note_write_error(ctx);
	int e = __atomic_load_n(&ctx->write_errno, __ATOMIC_RELAXED);
	return e ? -e : 0;
}

void q_ctx_release(struct q_ctx *ctx)
{
	if (!ctx)
		return;
	for (size_t i = 0; i < ctx->nargs; i++) {
		free(ctx->keys[i]);
		free(ctx->values[i]);
	}
	free(ctx->keys);
	free(ctx->values);
	for (size_t i = 0; i < ctx->ninputs; i++)
		q_big_free(ctx->inputs[i].data);
	free(ctx->inputs);
	if (ctx->out)
		fclose(ctx->out);
	if (ctx->err)
		fclose(ctx->err);
	free(ctx);
}

const char *q_ctx_arg(struct q_ctx *ctx, const char *key)
{
	for (size_t i = 0; i < ctx->nargs; i++)
		if (strcmp(ctx->keys[i], key) == 0)
			return ctx->values[i];
	return NULL;
}

int q_ctx_arg_long(struct q_ctx *ctx, const char *key, long def, long *out)
{
	const char *v = q_ctx_arg(ctx, key);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	/* Accept 2e8 as well as 200000000, but only whole numbers. */
	if (end == v || *end || errno || d != floor(d) || fabs(d) > 9e18) {
		q_ctx_log(ctx, "argument %s=%s is not a whole number\n", key, v);
		return -EINVAL;
	}
	*out = (long)d;
	return 0;
}

int q_ctx_arg_double(struct q_ctx *ctx, const char *key, double def,
		     double *out)
{
	const char *v = q_ctx_arg(ctx, key);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno || !isfinite(d)) {
		q_ctx_log(ctx, "argument %s=%s is not a number\n", key, v);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

unsigned q_ctx_threads(struct q_ctx *ctx)
{
	return ctx->threads;
}

int64_t q_ctx_index(struct q_ctx *ctx)
{
	return ctx->index;
}

uint64_t q_ctx_job(struct q_ctx *ctx)
{
	return ctx->h->job->id;
}

const char *q_ctx_task(struct q_ctx *ctx)
{
	return ctx->label;
}

size_t q_ctx_input_count(struct q_ctx *ctx)
{
	return ctx->ninputs;
}

int q_ctx_input(struct q_ctx *ctx, size_t i, const char **data, size_t *len)
{
	if (i >= ctx->ninputs)
		return -EINVAL;
	struct q_input *in = &ctx->inputs[i];
	if (!in->data) {
		struct q_error err = Q_ERROR_INIT;
		int ret = q_item_output(ctx->cache, in->ref.job, in->ref.item,
					Q_INPUT_MAX, &in->data, &in->len, &err);
		if (ret < 0) {
			q_ctx_log(ctx, "cannot read input %zu: %s\n", i,
				  err.message);
			return ret;
		}
	}
	*data = in->data;
	*len = in->len;
	return 0;
}

int q_ctx_broadcast(struct q_ctx *ctx, const char **data, size_t *len)
{
	if (!ctx->h->job->broadcast)
		return -ENOENT;
	struct q_error err = Q_ERROR_INIT;
	int ret = q__broadcast_get(ctx->h, data, len, &err);
	if (ret < 0)
		q_ctx_log(ctx, "cannot read the broadcast input: %s\n",
			  err.message);
	return ret;
}

int q_ctx_write(struct q_ctx *ctx, const void *data, size_t len)
{
	if (!ctx->out)
		return -EIO;
	if (fwrite(data, 1, len, ctx->out) != len) {
		note_write_error(ctx);
		return -EIO;
	}
	return 0;
}

int q_ctx_printf(struct q_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->out)
		return -EIO;
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(ctx->out, fmt, ap);
	va_end(ap);
	if (n < 0)
		note_write_error(ctx);
	return n < 0 ? -EIO : 0;
}

int q_ctx_log(struct q_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->err)
		return -EIO;
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	if (n < 0)
		note_write_error(ctx);
	return n < 0 ? -EIO : 0;
}

bool q_ctx_cancelled(struct q_ctx *ctx)
{
	return ctx->cancel && __atomic_load_n(ctx->cancel, __ATOMIC_RELAXED);
}
