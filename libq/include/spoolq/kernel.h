/*
 * spoolq/kernel.h: C kernels, run inside a worker with an OpenMP team.
 *
 * A kernel is a function that takes a context and returns 0 for success
 * or a non-zero status for failure. Through the context it reads its
 * arguments (qsubmit --arg KEY=VALUE; "{i}" already replaced by the array
 * index), the results of its dependencies (its inputs, in `after` order),
 * the number of threads it may use, and whether it has been cancelled; it
 * writes its result with q_ctx_write/q_ctx_printf and its log with
 * q_ctx_log. The worker has set the calling thread's CPU affinity to the
 * task's cores and omp_set_num_threads(q_ctx_threads(ctx)), so a plain
 * `#pragma omp parallel` uses exactly the task's cores.
 *
 * ABI: struct q_kernel starts with `abi`, set to Q_KERNEL_ABI. A worker
 * refuses kernels of another ABI version. Version 1 is this header.
 *
 *   static int run(struct q_ctx *ctx) {
 *       long n;
 *       if (q_ctx_arg_long(ctx, "n", 10, &n) < 0) return 2;
 *       q_ctx_printf(ctx, "%ld\n", n * n);
 *       return 0;
 *   }
 *   const struct q_kernel square = { Q_KERNEL_ABI, "square",
 *                                    "n squared", "n=INT", run };
 *   Q_PLUGIN(&square);
 *
 * User kernels live in a plugin: a shared object with one Q_PLUGIN line,
 * compiled with `pkg-config --cflags spoolq` and NOT linked with
 * -lspoolq: the q_ctx_ functions it calls are resolved, when it is
 * loaded, against the program that loads it (docs/kernels.md).
 */
#ifndef SPOOLQ_KERNEL_H
#define SPOOLQ_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>

#define Q_KERNEL_ABI 1

struct q_ctx;

struct q_kernel {
	unsigned abi;             /* Q_KERNEL_ABI */
	const char *name;
	const char *summary;      /* one line, for qsubmit --list-kernels */
	const char *args_help;    /* e.g. "samples=N seed=S" */
	int (*run)(struct q_ctx *ctx);
};

/* ---- the registry ---- */

/* Add a kernel (built-ins at start-up; plugins when loaded). -EEXIST for
 * a name already taken, -EINVAL for a wrong ABI version. */
Q_EXPORT int q_kernel_register(const struct q_kernel *kernel);
Q_EXPORT const struct q_kernel *q_kernel_find(const char *name);
/* The registered kernels, in registration order. */
Q_EXPORT size_t q_kernel_count(void);
Q_EXPORT const struct q_kernel *q_kernel_at(size_t i);

/* ---- plugins ---- */

/*
 * A plugin's entry point: the object Q_PLUGIN defines under the name
 * Q_PLUGIN_SYMBOL. `abi` comes first in every ABI version, so a loader
 * can always read a plugin's version and refuse another one clearly;
 * nothing after it may be read before `abi` has been checked.
 */
struct q_plugin {
	unsigned abi;                           /* Q_KERNEL_ABI */
	unsigned count;                         /* number of kernels */
	const struct q_kernel *const *kernels;  /* count, then NULL */
};

#define Q_PLUGIN_SYMBOL "q_plugin_entry"

/*
 * Register a plugin's kernels: Q_PLUGIN(&kernel_a, &kernel_b); once, at
 * file scope, in one file of the plugin (at least one kernel). It defines
 * the exported entry point, with the ABI version of the <spoolq/kernel.h>
 * the plugin is compiled against; it stays exported under
 * -fvisibility=hidden. (From C++, include this header in extern "C".)
 */
#define Q_PLUGIN(...)                                                      \
	static const struct q_kernel *const q__plugin_kernels[] = {       \
		__VA_ARGS__, NULL                                          \
	};                                                                 \
	extern __attribute__((visibility("default"))) const struct q_plugin \
		q_plugin_entry;                                            \
	__attribute__((used)) const struct q_plugin q_plugin_entry = {     \
		Q_KERNEL_ABI,                                              \
		(unsigned)(sizeof(q__plugin_kernels) /                     \
			   sizeof(q__plugin_kernels[0]) - 1),              \
		q__plugin_kernels                                          \
	}

/*
 * Load a plugin: a shared object made with Q_PLUGIN (docs/kernels.md),
 * and register its kernels, all or none. A missing file, a file that is
 * not a shared object, one without the entry point, a plugin of another
 * ABI version, a kernel with a wrong `abi` field or a bad name, and a
 * kernel name already taken are each a Q_ERR_INPUT error naming the path
 * and how to fix it. Loading the same path twice is a no-op. A path
 * without '/' names a file in the current directory (not a library
 * searched in the system's directories, as for dlopen). Not thread-safe:
 * load plugins before starting threads, like the built-ins. A loaded
 * plugin is never unloaded.
 */
Q_EXPORT int q_plugin_load(const char *path, struct q_error *err);

/* Where a registered kernel came from: NULL for a built-in, else the
 * plugin's path as given to q_plugin_load (for messages and for the
 * identity of pure tasks). */
Q_EXPORT const char *q_kernel_origin(const struct q_kernel *kernel);

/* ---- the context, for kernels ---- */

/* The raw value of argument `key`, or NULL when it was not given. */
Q_EXPORT const char *q_ctx_arg(struct q_ctx *ctx, const char *key);
/* Typed arguments: the default when absent; -EINVAL (and a message in the
 * task's log) when present but not a number. */
Q_EXPORT int q_ctx_arg_long(struct q_ctx *ctx, const char *key, long def,
			    long *out);
Q_EXPORT int q_ctx_arg_double(struct q_ctx *ctx, const char *key, double def,
			      double *out);

Q_EXPORT unsigned q_ctx_threads(struct q_ctx *ctx);
Q_EXPORT int64_t q_ctx_index(struct q_ctx *ctx);
Q_EXPORT uint64_t q_ctx_job(struct q_ctx *ctx);
Q_EXPORT const char *q_ctx_task(struct q_ctx *ctx);   /* name or name[i] */

Q_EXPORT size_t q_ctx_input_count(struct q_ctx *ctx);
/* Input i's bytes (NUL-terminated; valid until the kernel returns). */
Q_EXPORT int q_ctx_input(struct q_ctx *ctx, size_t i, const char **data,
			 size_t *len);

/*
 * The job's broadcast input (qsubmit --broadcast FILE, or broadcast: in
 * a workflow), the same bytes for every task: read once per worker (in
 * an MPI world, once per world and shared with MPI_Bcast), valid until
 * the worker exits; only read them. 0, -ENOENT when the job has none,
 * or another -errno (the reason in the task's log).
 */
Q_EXPORT int q_ctx_broadcast(struct q_ctx *ctx, const char **data,
			     size_t *len);

Q_EXPORT int q_ctx_write(struct q_ctx *ctx, const void *data, size_t len);
Q_EXPORT int q_ctx_printf(struct q_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
Q_EXPORT int q_ctx_log(struct q_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* True once the task has been cancelled or timed out: a long kernel
 * should check it now and then and return early. */
Q_EXPORT bool q_ctx_cancelled(struct q_ctx *ctx);

/* ---- for workers: making a context ---- */

struct q_jobh;
struct q_jobcache;

/*
 * A context for running `item` of the job behind `h`. Output goes to
 * `out_fd`, the log to `err_fd` (both stay owned by the caller);
 * `cancel` is polled by q_ctx_cancelled. Inputs are read through `cache`.
 */
Q_EXPORT struct q_ctx *q_ctx_new(struct q_jobh *h, struct q_jobcache *cache,
				 uint64_t item, unsigned threads, int out_fd,
				 int err_fd, const volatile int *cancel);
/* The same, with output and log going to sinks (spoolq/sink.h) that
 * must outlive the context: what a worker uses. */
struct q_sink;
Q_EXPORT struct q_ctx *q_ctx_new_sinks(struct q_jobh *h,
				       struct q_jobcache *cache, uint64_t item,
				       unsigned threads, struct q_sink *out,
				       struct q_sink *err,
				       const volatile int *cancel);
/* Flush the output and log; 0 or -errno of the first write that failed
 * (the result is incomplete: ENOSPC or EDQUOT make the worker give the
 * task back for later, anything else fails it). */
Q_EXPORT int q_ctx_finish(struct q_ctx *ctx);
Q_EXPORT void q_ctx_release(struct q_ctx *ctx);

#endif
