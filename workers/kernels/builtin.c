/*
 * builtin.c: the table of built-in kernels.
 */
#include "kernels.h"

void q_builtin_kernels_register(void)
{
	static const struct q_kernel *const builtins[] = {
		&q_kernel_hello, &q_kernel_sleep, &q_kernel_pi,
		&q_kernel_sum, &q_kernel_blob, &q_kernel_blob_check,
		&q_kernel_bcast_slice,
	};
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (!q_kernel_find(builtins[i]->name))
			(void)q_kernel_register(builtins[i]);
}
