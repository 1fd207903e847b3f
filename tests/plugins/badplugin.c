/*
 * badplugin.c: plugins that q_plugin_load must refuse, one shared module
 * per BAD_* macro (tests/plugins/meson.build), each wrong in one way;
 * tests/unit/test_plugin.c checks the message of each.
 */
#include <spoolq/kernel.h>

#ifdef BAD_WRONG_ABI
/* Built against a (future) header of another ABI version. */
#undef Q_KERNEL_ABI
#define Q_KERNEL_ABI 2
#endif

#ifdef BAD_UNDEFINED
/* A function no program provides: dlopen (RTLD_NOW) fails. */
int q_ctx_no_such_function(struct q_ctx *ctx);
#endif

static int run(struct q_ctx *ctx)
{
#ifdef BAD_UNDEFINED
	return q_ctx_no_such_function(ctx);
#else
	q_ctx_printf(ctx, "bad\n");
	return 0;
#endif
}

#if defined(BAD_DUP_BUILTIN)
#define NAME "sum"
#elif defined(BAD_DUP_SQUARE)
#define NAME "square"
#elif defined(BAD_BAD_NAME)
#define NAME "two words"
#else
#define NAME "bad_kernel"
#endif

#ifdef BAD_KERNEL_ABI
/* The plugin's entry point has the right version, this kernel not. */
static const struct q_kernel kernel = { 0, NAME, "", "", run };
#else
static const struct q_kernel kernel = { Q_KERNEL_ABI, NAME, "", "", run };
#endif

#if defined(BAD_TWICE)
Q_PLUGIN(&kernel, &kernel);
#elif !defined(BAD_NO_ENTRY)
Q_PLUGIN(&kernel);
#else
/* A shared object, but no Q_PLUGIN: keep the kernel from being unused. */
const struct q_kernel *bad_plugin_kernel(void);
const struct q_kernel *bad_plugin_kernel(void)
{
	return &kernel;
}
#endif
