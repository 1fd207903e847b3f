/*
 * test_plugin.c: loading user kernels (libq/plugin.c) and the example
 * plugin's kernels (examples/kernels/).
 *
 * The plugins are real shared objects built by meson: the example plugin
 * ($QEXAMPLE_PLUGIN) and one module per way of being wrong
 * ($QBAD_PLUGINS/libbad_*.so, tests/plugins/badplugin.c). Kernels run the
 * way a worker runs them: a job submitted to a real spool in a mkdtemp
 * directory, a context over temporary files in the spool's tmp/, the
 * result read back. Criterion runs each test in its own process, so each
 * starts with an empty registry and no plugin loaded.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <link.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "../../examples/kernels/sincos.h"
#include "kenv.h"

/* ---- paths ---- */

static const char *example_path(void)
{
	const char *p = getenv("QEXAMPLE_PLUGIN");
	cr_assert_not_null(p, "QEXAMPLE_PLUGIN is not set: run through meson "
			   "test");
	return p;
}

/* $QBAD_PLUGINS/libbad_<what>.so, in a static buffer. */
static const char *bad_path(const char *what)
{
	static char path[PATH_MAX];
	const char *dir = getenv("QBAD_PLUGINS");
	cr_assert_not_null(dir, "QBAD_PLUGINS is not set: run through meson "
			   "test");
	snprintf(path, sizeof(path), "%s/libbad_%s.so", dir, what);
	return path;
}

static void load_ok(const char *path)
{
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_plugin_load(path, &err), 0, "%s", err.message);
	cr_assert_not(q_error_is_set(&err));
}

/* Load `path`, expect a refusal with -`errnum` and a message containing
 * each of the NULL-terminated `parts`; the registry must not change. */
static void load_refused(const char *path, int errnum,
			 const char *const *parts)
{
	struct q_error err = Q_ERROR_INIT;
	size_t before = q_kernel_count();
	int ret = q_plugin_load(path, &err);
	cr_assert_eq(ret, -errnum, "q_plugin_load('%s') = %d, want %d (%s)",
		     path, ret, -errnum, err.message);
	cr_assert_eq(err.kind, Q_ERR_INPUT, "kind %d: %s", err.kind,
		     err.message);
	cr_assert_eq(q_error_exit_status(&err), 2);
	for (size_t i = 0; parts[i]; i++)
		cr_assert_not_null(strstr(err.message, parts[i]),
				   "message '%s' lacks '%s'", err.message,
				   parts[i]);
	cr_assert_eq(q_kernel_count(), before, "the registry changed");
}

/* ---- a spool to run kernels in (kenv.h), with the example loaded ---- */

static void plugin_env_init(struct kenv *e)
{
	kenv_init(e);
	load_ok(example_path());
}

/* run_item, and the context finished cleanly. */
static void run_ok(struct kenv *e, uint64_t id, uint64_t item,
		   unsigned threads, int cancel, struct krun *r)
{
	run_item(e, id, item, threads, cancel, r);
	cr_assert_eq(r->fin, 0);
}

/* ---- loading the example plugin ---- */

Test(load, example_registers_its_kernels_with_their_origin)
{
	const char *path = example_path();
	q_builtin_kernels_register();
	size_t builtins = q_kernel_count();
	load_ok(path);
	cr_assert_eq(q_kernel_count(), builtins + 2);

	const struct q_kernel *sq = q_kernel_find("square");
	const struct q_kernel *sb = q_kernel_find("sincos_block");
	cr_assert_not_null(sq);
	cr_assert_not_null(sb);
	/* In Q_PLUGIN's order, after the built-ins. */
	cr_assert_eq(q_kernel_at(builtins), sq);
	cr_assert_eq(q_kernel_at(builtins + 1), sb);
	cr_assert_eq(sq->abi, Q_KERNEL_ABI);
	cr_assert_str_eq(sq->args_help, "n=INT (default 10)");
	/* The origin is the path as given, not a copy of something else. */
	cr_assert_str_eq(q_kernel_origin(sq), path);
	cr_assert_str_eq(q_kernel_origin(sb), path);
	cr_assert_null(q_kernel_origin(q_kernel_find("pi")));
	cr_assert_null(q_kernel_origin(q_kernel_find("sum")));
	cr_assert_null(q_kernel_origin(NULL));
}

Test(load, square_runs_through_a_real_context)
{
	struct kenv e;
	struct krun r;
	plugin_env_init(&e);
	const char *const seven[] = { "n=7", NULL };
	run_ok(&e, submit_kernel(&e, "square", seven, 1), 0, 1, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_str_eq(r.out, "49\n");
	cr_assert_str_empty(r.err);
	krun_release(&r);

	/* The default, "{i}" replaced by the array index, and an error. */
	run_ok(&e, submit_kernel(&e, "square", NULL, 1), 0, 1, 0, &r);
	cr_assert_str_eq(r.out, "100\n");
	krun_release(&r);
	const char *const idx[] = { "n={i}", NULL };
	run_ok(&e, submit_kernel(&e, "square", idx, 5), 4, 1, 0, &r);
	cr_assert_str_eq(r.out, "16\n");
	krun_release(&r);
	const char *const bad[] = { "n=seven", NULL };
	run_ok(&e, submit_kernel(&e, "square", bad, 1), 0, 1, 0, &r);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_empty(r.out);
	cr_assert_str_eq(r.err, "argument n=seven is not a whole number\n");
	krun_release(&r);
	kenv_fini(&e);
}

Test(load, same_path_twice_is_a_no_op)
{
	const char *path = example_path();
	load_ok(path);
	size_t n = q_kernel_count();
	const struct q_kernel *sq = q_kernel_find("square");
	load_ok(path);
	load_ok(path);
	cr_assert_eq(q_kernel_count(), n);
	cr_assert_eq(q_kernel_find("square"), sq);
	cr_assert_str_eq(q_kernel_origin(sq), path);
}

Test(load, another_path_to_a_loaded_file_is_a_no_op)
{
	char dir[] = "/tmp/spoolq-plugin.XXXXXX", link[64];
	const char *path = example_path();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/other.so", dir);
	cr_assert_eq(symlink(path, link), 0, "%s", strerror(errno));
	load_ok(path);
	size_t n = q_kernel_count();
	load_ok(link);
	cr_assert_eq(q_kernel_count(), n);
	/* The kernels keep their first origin. */
	cr_assert_str_eq(q_kernel_origin(q_kernel_find("square")), path);
	unlink(link);
	rmdir(dir);
}

Test(load, a_name_without_slash_is_a_file_here)
{
	char dir[PATH_MAX];
	const char *path = example_path();
	const char *slash = strrchr(path, '/');
	cr_assert_not_null(slash);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	cr_assert_eq(chdir(dir), 0, "%s: %s", dir, strerror(errno));
	load_ok(slash + 1);
	cr_assert_str_eq(q_kernel_origin(q_kernel_find("square")), slash + 1);
	/* Not a library name searched in the system's directories: libm
	 * is loaded in this process, but there is no ./libm.so.6. */
	const char *const missing[] = { "cannot load plugin 'libm.so.6'",
					NULL };
	load_refused("libm.so.6", ENOENT, missing);
}

/* The q_ctx_ functions a plugin calls are exported by this program
 * (libq/kernel-api.dynlist); libq's other functions are not. */
Test(load, program_exports_exactly_the_context_api)
{
	static const char *const api[] = {
		"q_ctx_arg", "q_ctx_arg_long", "q_ctx_arg_double",
		"q_ctx_threads", "q_ctx_index", "q_ctx_job", "q_ctx_task",
		"q_ctx_input_count", "q_ctx_input", "q_ctx_write",
		"q_ctx_printf", "q_ctx_log", "q_ctx_cancelled",
	};
	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++)
		cr_assert_not_null(dlsym(RTLD_DEFAULT, api[i]),
				   "%s is not exported", api[i]);
	cr_assert_null(dlsym(RTLD_DEFAULT, "q_spool_open"));
	cr_assert_null(dlsym(RTLD_DEFAULT, "q_kernel_register"));
	cr_assert_null(dlsym(RTLD_DEFAULT, "q__strdup"));
}

static int find_libspoolq(struct dl_phdr_info *info, size_t size,
			  void *data)
{
	if (info->dlpi_name && strstr(info->dlpi_name, "libspoolq"))
		*(const char **)data = info->dlpi_name;
	return 0;
}

Test(load, plugin_brings_no_second_libspoolq)
{
	const char *found = NULL;
	load_ok(example_path());
	dl_iterate_phdr(find_libspoolq, &found);
	cr_assert_null(found, "%s is loaded", found);
}

/* ---- refusals ---- */

Test(refuse, wrong_abi_version)
{
	const char *path = bad_path("wrong_abi");
	const char *const parts[] = {
		"cannot load plugin '", path,
		"': it was built for kernel ABI version 2, this spoolq has "
		"version 1: rebuild it against this spoolq's "
		"<spoolq/kernel.h>", NULL };
	load_refused(path, EINVAL, parts);
	cr_assert_null(q_kernel_find("bad_kernel"));
	/* Refused again, not remembered as loaded. */
	load_refused(path, EINVAL, parts);
}

Test(refuse, text_file_named_so)
{
	char dir[] = "/tmp/spoolq-plugin.XXXXXX", path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notes.so", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("these are not the kernels you are looking for\n", f);
	cr_assert_eq(fclose(f), 0);
	const char *const parts[] = {
		"cannot load plugin '", path, "': not a shared object (no ELF "
		"header); build plugins with cc -shared -fPIC $(pkg-config "
		"--cflags spoolq)", NULL };
	load_refused(path, ENOEXEC, parts);
	/* An empty file too. */
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fclose(f), 0);
	load_refused(path, ENOEXEC, parts);
	unlink(path);
	rmdir(dir);
}

Test(refuse, missing_file_and_directory_and_empty_path)
{
	struct q_error err = Q_ERROR_INIT;
	const char *const missing[] = {
		"cannot load plugin '/nonexistent/libk.so'", NULL };
	load_refused("/nonexistent/libk.so", ENOENT, missing);
	cr_assert_eq(q_plugin_load("/nonexistent/libk.so", &err), -ENOENT);
	cr_assert_eq(err.errnum, ENOENT);
	cr_assert_str_eq(err.message,
			 "cannot load plugin '/nonexistent/libk.so'");

	const char *const dir[] = { "cannot load plugin '/tmp': not a "
				    "regular file", NULL };
	load_refused("/tmp", ENOEXEC, dir);
	const char *const empty[] = { "empty plugin path", NULL };
	load_refused("", EINVAL, empty);
}

Test(refuse, shared_object_without_entry_point)
{
	const char *path = bad_path("no_entry");
	const char *const parts[] = {
		path, "it is a shared object but not a spoolq plugin (no "
		"symbol 'q_plugin_entry'): register its kernels with "
		"Q_PLUGIN(&kernel, ...) from <spoolq/kernel.h>", NULL };
	load_refused(path, EINVAL, parts);
	/* A system library is no plugin either: libm, wherever it is. */
	Dl_info info;
	cr_assert_neq(dladdr(dlsym(RTLD_DEFAULT, "cos"), &info), 0);
	cr_assert(info.dli_fname && strchr(info.dli_fname, '/'));
	const char *const libm[] = { "not a spoolq plugin", NULL };
	load_refused(info.dli_fname, EINVAL, libm);
}

Test(refuse, executable_is_no_plugin)
{
	/* dlopen's own refusal, with the hint. */
	const char *const parts[] = { "cannot load plugin '/bin/sh': ",
				      "(build plugins for this machine with cc "
				      "-shared -fPIC $(pkg-config --cflags "
				      "spoolq)", NULL };
	load_refused("/bin/sh", ENOEXEC, parts);
}

Test(refuse, kernel_with_wrong_abi_field)
{
	const char *path = bad_path("kernel_abi");
	const char *const parts[] = {
		path, "kernel 'bad_kernel' has ABI version 0, this spoolq has "
		"1: set its abi field to Q_KERNEL_ABI and rebuild it against "
		"this spoolq's <spoolq/kernel.h>", NULL };
	load_refused(path, EINVAL, parts);
}

Test(refuse, name_of_a_builtin)
{
	q_builtin_kernels_register();
	const char *path = bad_path("dup_builtin");
	const char *const parts[] = {
		path, "kernel 'sum' is already defined by a kernel built into "
		"this program: rename one of them", NULL };
	load_refused(path, EEXIST, parts);
	cr_assert_null(q_kernel_origin(q_kernel_find("sum")));
}

Test(refuse, name_of_another_plugins_kernel)
{
	load_ok(example_path());
	const struct q_kernel *sq = q_kernel_find("square");
	const char *path = bad_path("dup_square");
	char other[PATH_MAX + 64];
	snprintf(other, sizeof(other),
		 "kernel 'square' is already defined by plugin '%s': rename "
		 "one of them", example_path());
	const char *const parts[] = { path, other, NULL };
	load_refused(path, EEXIST, parts);
	cr_assert_eq(q_kernel_find("square"), sq);
}

Test(refuse, same_name_twice_in_one_plugin)
{
	const char *path = bad_path("twice");
	const char *const parts[] = {
		path, "kernel 'bad_kernel' is in its Q_PLUGIN list twice",
		NULL };
	load_refused(path, EEXIST, parts);
}

Test(refuse, invalid_kernel_name)
{
	const char *path = bad_path("bad_name");
	const char *const parts[] = { path, "invalid kernel name 'two words'",
				      NULL };
	load_refused(path, EINVAL, parts);
}

Test(refuse, symbol_the_program_does_not_provide)
{
	const char *path = bad_path("undefined");
	const char *const parts[] = {
		path, "undefined symbol: q_ctx_no_such_function: this "
		"program does not provide it; a plugin may call only the "
		"q_ctx_ functions: rebuild it against this spoolq's "
		"<spoolq/kernel.h>", NULL };
	load_refused(path, ENOEXEC, parts);
}

/* ---- the chunked-array kernels ---- */

/* Block (bi, bj) of (sin(x) + cos(x.T)) summed directly, one element at a
 * time, from the generator. */
static double direct_block(uint64_t seed, uint64_t n, uint64_t block,
			   uint64_t bi, uint64_t bj)
{
	const uint64_t key = sincos_key(seed);
	double s = 0;
	for (uint64_t i = bi * block; i < (bi + 1) * block && i < n; i++)
		for (uint64_t j = bj * block; j < (bj + 1) * block && j < n;
		     j++)
			s += sin(sincos_x(key, n, i, j)) +
			     cos(sincos_x(key, n, j, i));
	return s;
}

static double parse_result(const char *out)
{
	char *end;
	double v = strtod(out, &end);
	cr_assert(end != out && strcmp(end, "\n") == 0, "result '%s'", out);
	return v;
}

static void assert_close(double got, double want, double rel)
{
	cr_assert_leq(fabs(got - want), rel * fabs(want),
		      "%.17g vs %.17g: %.3g relative", got, want,
		      fabs(got - want) / fabs(want));
}

/* sincos_x converts its 53 bits without a 64-bit integer conversion, so
 * that its loop vectorises; it must give exactly what (double)v does. */
Test(sincos, u53_is_the_exact_conversion)
{
	static const uint64_t edge[] = {
		0, 1, 0xffffffffULL, 0x100000000ULL, 0x100000001ULL,
		(1ULL << 52) - 1, 1ULL << 52, (1ULL << 52) + 1,
		(1ULL << 53) - 1,
	};
	for (size_t k = 0; k < sizeof(edge) / sizeof(edge[0]); k++)
		cr_assert_eq(sincos_u53(edge[k]), (double)edge[k], "v = %llu",
			     (unsigned long long)edge[k]);
	for (uint64_t k = 0; k < 100000; k++) {
		uint64_t v = sincos_mix(k) >> 11;
		cr_assert_eq(sincos_u53(v), (double)v, "v = %llu",
			     (unsigned long long)v);
	}
}

Test(sincos, generator_is_uniform_in_0_1_and_not_symmetric)
{
	const uint64_t key = sincos_key(3);
	double sum = 0;
	for (uint64_t i = 0; i < 200; i++)
		for (uint64_t j = 0; j < 200; j++) {
			double x = sincos_x(key, 200, i, j);
			cr_assert(x >= 0.0 && x < 1.0, "x[%llu][%llu] = %g",
				  (unsigned long long)i,
				  (unsigned long long)j, x);
			sum += x;
		}
	/* 40000 uniforms: mean 0.5, standard deviation of the mean 0.0014. */
	cr_assert_lt(fabs(sum / 40000 - 0.5), 0.01);
	cr_assert_neq(sincos_x(key, 200, 1, 2), sincos_x(key, 200, 2, 1));
	cr_assert_neq(sincos_x(key, 200, 1, 2),
		      sincos_x(sincos_key(4), 200, 1, 2));
}

Test(sincos, block_equals_a_direct_computation)
{
	struct kenv e;
	struct krun r;
	plugin_env_init(&e);
	/* n=40 in 10 x 10 blocks: nb = 4; index = bi * 4 + bj. */
	static const struct { const char *args[6]; int bi, bj; } cases[] = {
		{ { "n=40", "block=10", "seed=5", "index=0", NULL }, 0, 0 },
		{ { "n=40", "block=10", "seed=5", "index=6", NULL }, 1, 2 },
		{ { "n=40", "block=10", "seed=5", "index=15", NULL }, 3, 3 },
		{ { "n=40", "block=10", "seed=5", "bi=2", "bj=1", NULL },
		  2, 1 },
		/* A ragged last block: n=45, nb = 5, block (4, 3) is 5x10. */
		{ { "n=45", "block=10", "seed=5", "bi=4", "bj=3", NULL },
		  4, 3 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t n = c == 4 ? 45 : 40;
		run_ok(&e, submit_kernel(&e, "sincos_block", cases[c].args,
					   1), 0, 2, 0, &r);
		cr_assert_eq(r.rc, 0, "case %zu, log: %s", c, r.err);
		cr_assert_str_empty(r.err);
		assert_close(parse_result(r.out),
			     direct_block(5, n, 10, (uint64_t)cases[c].bi,
					  (uint64_t)cases[c].bj), 1e-13);
		krun_release(&r);
	}
	kenv_fini(&e);
}

/* Run every block of an n x n array as one array job (index = the array
 * index), add the results with the sum kernel's own code, and compare
 * with bench/sincos_plain's loop. */
static void check_total(struct kenv *e, uint64_t n, uint64_t block)
{
	char a_n[32], a_block[32];
	snprintf(a_n, sizeof(a_n), "n=%llu", (unsigned long long)n);
	snprintf(a_block, sizeof(a_block), "block=%llu",
		 (unsigned long long)block);
	const char *const args[] = { a_n, a_block, "seed=42", NULL };
	uint64_t nb = (n + block - 1) / block;
	uint64_t id = submit_kernel(e, "sincos_block", args, nb * nb);
	double sums[1] = { 0 };
	size_t ncols = 0;
	for (uint64_t item = 0; item < nb * nb; item++) {
		struct krun r;
		long bad;
		run_ok(e, id, item, 2, 0, &r);
		cr_assert_eq(r.rc, 0, "block %llu, log: %s",
			     (unsigned long long)item, r.err);
		cr_assert_eq(q_sum_text(r.out, strlen(r.out), sums, &ncols, 1,
					&bad), 0, "'%s'", r.out);
		krun_release(&r);
	}
	cr_assert_eq(ncols, 1);
	assert_close(sums[0], sincos_total(42, n), 1e-9);
}

Test(sincos, sum_of_blocks_equals_the_plain_loop)
{
	struct kenv e;
	plugin_env_init(&e);
	check_total(&e, 40, 10);
	check_total(&e, 45, 10);   /* ragged */
	check_total(&e, 30, 30);   /* one block */
	kenv_fini(&e);
}

Test(sincos, same_bytes_for_any_thread_count)
{
	struct kenv e;
	struct krun a, b;
	plugin_env_init(&e);
	const char *const args[] = { "n=300", "block=100", "index=4", NULL };
	uint64_t id = submit_kernel(&e, "sincos_block", args, 1);
	run_ok(&e, id, 0, 1, 0, &a);
	run_ok(&e, id, 0, 3, 0, &b);
	cr_assert_eq(a.rc, 0, "log: %s", a.err);
	cr_assert_eq(b.rc, 0, "log: %s", b.err);
	cr_assert_str_eq(a.out, b.out);
	krun_release(&a);
	krun_release(&b);
	kenv_fini(&e);
}

Test(sincos, index_defaults_to_the_array_index)
{
	struct kenv e;
	struct krun a, b;
	plugin_env_init(&e);
	const char *const arr[] = { "n=40", "block=10", NULL };
	const char *const one[] = { "n=40", "block=10", "index=9", NULL };
	run_ok(&e, submit_kernel(&e, "sincos_block", arr, 16), 9, 1, 0, &a);
	run_ok(&e, submit_kernel(&e, "sincos_block", one, 1), 0, 1, 0, &b);
	cr_assert_eq(a.rc, 0, "log: %s", a.err);
	cr_assert_str_eq(a.out, b.out);
	/* seed defaults to 0. */
	assert_close(parse_result(a.out), direct_block(0, 40, 10, 2, 1),
		     1e-13);
	krun_release(&a);
	krun_release(&b);
	kenv_fini(&e);
}

Test(sincos, refuses_bad_arguments)
{
	static const struct {
		const char *args[4];
		const char *log;
	} cases[] = {
		{ { "n=40", "block=0", NULL },
		  "sincos_block: block=0 is out of range (1 to 40)\n" },
		{ { "n=40", "block=50", NULL },
		  "sincos_block: block=50 is out of range (1 to 40)\n" },
		{ { "n=0", NULL },
		  "sincos_block: n=0 is out of range (1 to 4294967295)\n" },
		{ { "n=40", "block=10", "index=16" },
		  "sincos_block: index=16 is out of range (0 to 15)\n" },
		{ { "n=40", "block=10", "bi=1" },
		  "sincos_block: give both bi and bj, or index\n" },
		{ { "n=40", "block=10", "seed=x" },
		  "argument seed=x is not a whole number\n" },
	};
	struct kenv e;
	struct krun r;
	plugin_env_init(&e);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		run_ok(&e, submit_kernel(&e, "sincos_block", cases[c].args,
					   1), 0, 1, 0, &r);
		cr_assert_eq(r.rc, 2, "case %zu", c);
		cr_assert_str_empty(r.out);
		cr_assert_str_eq(r.err, cases[c].log);
		krun_release(&r);
	}
	kenv_fini(&e);
}

Test(sincos, cancelled_block_writes_no_result)
{
	struct kenv e;
	struct krun r;
	plugin_env_init(&e);
	const char *const args[] = { "n=2000", "block=1000", NULL };
	run_ok(&e, submit_kernel(&e, "sincos_block", args, 1), 0, 2, 1, &r);
	cr_assert_eq(r.rc, 1);
	cr_assert_str_empty(r.out);
	krun_release(&r);
	kenv_fini(&e);
}
