/*
 * broadcast.c: the built-in kernel bcast_slice, which reads a part of the
 * job's broadcast input (qsubmit --broadcast FILE): the tests and the
 * benchmark of the MPI broadcast, and a model for kernels that use one.
 *
 *   args: slice=I (default 0), of=N (default 1)
 *   result: "slice I of N bytes B sum S total T\n": the I-th of N equal
 *   parts of the input (the last one takes the rest), its length and
 *   its XXH3-64 checksum (q_checksum), and the input's whole size.
 */
#include <errno.h>
#include <inttypes.h>

#include <spoolq/kernel.h>
#include <spoolq/spool.h>

#include "kernels.h"

static int run(struct q_ctx *ctx)
{
	long slice, of;
	const char *data;
	size_t len;
	if (q_ctx_arg_long(ctx, "slice", 0, &slice) < 0 ||
	    q_ctx_arg_long(ctx, "of", 1, &of) < 0)
		return 2;
	if (of < 1 || slice < 0 || slice >= of) {
		q_ctx_log(ctx, "bcast_slice: need 0 <= slice < of and of >= 1, "
			  "got slice=%ld of=%ld\n", slice, of);
		return 2;
	}
	int ret = q_ctx_broadcast(ctx, &data, &len);
	if (ret == -ENOENT) {
		q_ctx_log(ctx, "bcast_slice: the job has no broadcast input "
			  "(qsubmit --broadcast FILE, or broadcast: in the "
			  "workflow)\n");
		return 2;
	}
	if (ret < 0)
		return 1;
	size_t part = len / (size_t)of;
	size_t off = part * (size_t)slice;
	size_t n = slice == of - 1 ? len - off : part;
	return q_ctx_printf(ctx, "slice %ld of %ld bytes %zu sum %016" PRIx64
			    " total %zu\n", slice, of, n,
			    q_checksum(data + off, n), len) < 0;
}

const struct q_kernel q_kernel_bcast_slice = {
	Q_KERNEL_ABI, "bcast_slice",
	"checksum of one part of the job's broadcast input",
	"slice=I of=N", run,
};
