/*
 * plugin.c: user kernels loaded from shared objects (Q_PLUGIN).
 *
 * Design notes
 * 1. Loading is serialised by one mutex (a worker may load a job's
 *    plugins while other threads run kernels); the registry it fills is
 *    safe for lock-free readers (kernel.c, note 1).
 * 2. All or nothing: every check (the file, the entry point, the ABI of
 *    the plugin and of each kernel, names, duplicates inside the plugin
 *    and against the registry) runs before the first kernel is
 *    registered, and a refused plugin is closed again, leaving the
 *    registry as it was. The one exception is a full registry (256
 *    kernels), which only q_kernel_register knows: the kernels registered
 *    before it stay, and so does the plugin (note 3).
 * 3. A plugin that registered a kernel is never unloaded: the registry
 *    points into its data, and a kernel may be running.
 * 4. Identity: a kernel's origin is its plugin's path as given (messages,
 *    the key of pure tasks). The same path twice is a no-op; another
 *    path to an already loaded file (dlopen hands back the same handle)
 *    is a no-op too, and the kernels keep their first origin.
 * 5. Symbols: RTLD_NOW, so a symbol the program cannot provide is an
 *    error at load time rather than a crash of a worker thread in the
 *    middle of a task; RTLD_LOCAL, so one plugin's symbols neither
 *    satisfy nor clash with another's. The q_ctx_ functions a plugin
 *    calls resolve against the program: kernel-api.dynlist exports them
 *    from every program linked with libq_dep, and libspoolq.so exports
 *    them itself. A plugin must not link -lspoolq (docs/kernels.md).
 * 6. A path without '/' is a file in the current directory: dlopen would
 *    search it as a library name in LD_LIBRARY_PATH and the system's
 *    directories, which is not what `--plugin libk.so` means.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define FIX_REBUILD "rebuild it against this spoolq's <spoolq/kernel.h>"

struct plugin {
	char *path;          /* as given to q_plugin_load */
	void *handle;
	const struct q_plugin *entry;
};

static struct plugin *plugins;
static size_t nplugins, plugins_cap;

static const struct plugin *plugin_by_path(const char *path)
{
	for (size_t i = 0; i < nplugins; i++)
		if (strcmp(plugins[i].path, path) == 0)
			return &plugins[i];
	return NULL;
}

static const struct plugin *plugin_by_handle(const void *handle)
{
	for (size_t i = 0; i < nplugins; i++)
		if (plugins[i].handle == handle)
			return &plugins[i];
	return NULL;
}

const char *q_kernel_origin(const struct q_kernel *kernel)
{
	for (size_t i = 0; kernel && i < nplugins; i++)
		for (unsigned k = 0; k < plugins[i].entry->count; k++)
			if (plugins[i].entry->kernels[k] == kernel)
				return plugins[i].path;
	return NULL;
}

/*
 * Before dlopen: is `path` a regular file we can read that starts like an
 * ELF object? dlopen says "invalid ELF header" or "file too short" for a
 * text file; this says what the user did wrong.
 */
static int check_file(const char *path, struct q_error *err)
{
	static const char elf_magic[4] = { 0x7f, 'E', 'L', 'F' };
	char magic[4];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return q_error_set(err, Q_ERR_INPUT, errno,
				   "cannot load plugin '%s'", path);
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return q_error_set(err, Q_ERR_INPUT, e,
				   "cannot load plugin '%s'", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': not a regular file (give "
			    "the path of the plugin's .so file)", path);
		return -ENOEXEC;
	}
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	close(fd);   /* read-only: nothing a failed close could lose */
	if (n != (ssize_t)sizeof(magic) ||
	    memcmp(magic, elf_magic, sizeof(magic)) != 0) {
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': not a shared object "
			    "(no ELF header); build plugins with cc -shared "
			    "-fPIC $(pkg-config --cflags spoolq) (see "
			    "docs/kernels.md)", path);
		return -ENOEXEC;
	}
	return 0;
}

static int open_error(const char *path, const char *dlpath,
		      const char *why, struct q_error *err)
{
	/* dlerror() starts with the path dlopen was given: say it once. */
	size_t n = strlen(dlpath);
	if (!why)
		why = "unknown dlopen error";
	else if (strncmp(why, dlpath, n) == 0 &&
		 strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	static const char undef[] = "undefined symbol: ";
	const char *sym = strstr(why, undef);
	if (sym && strncmp(sym + sizeof(undef) - 1, "q_", 2) == 0)
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': %s: this program does "
			    "not provide it; a plugin may call only the "
			    "q_ctx_ functions: %s (and a program linking "
			    "libspoolq statically must export them, see "
			    "libq/kernel-api.dynlist)", path, why,
			    FIX_REBUILD);
	else if (sym)
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': %s: link the plugin "
			    "with the library that defines it (but not with "
			    "-lspoolq, see docs/kernels.md)", path, why);
	else
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': %s (build plugins for "
			    "this machine with cc -shared -fPIC $(pkg-config "
			    "--cflags spoolq), see docs/kernels.md)", path,
			    why);
	return -ENOEXEC;
}

/* Which plugin defines `k` already, for the duplicate message. */
static const char *owner(const struct q_kernel *k, char *buf, size_t size)
{
	const char *origin = q_kernel_origin(k);
	if (!origin)
		return "a kernel built into this program";
	snprintf(buf, size, "plugin '%s'", origin);
	return buf;
}

/* Note 2: everything that can refuse the plugin, before registering. */
static int check_kernels(const char *path, const struct q_plugin *entry,
			 struct q_error *err)
{
	for (unsigned i = 0; i < entry->count; i++) {
		const struct q_kernel *k = entry->kernels[i];
		struct q_error nerr = Q_ERROR_INIT;
		char where[Q_ERROR_MSG_MAX / 2];

		if (!k || !k->name) {
			q_error_set(err, Q_ERR_INPUT, 0,
				    "cannot load plugin '%s': kernel %u of "
				    "its Q_PLUGIN list is %s", path, i + 1,
				    k ? "nameless" : "NULL");
			return -EINVAL;
		}
		if (k->abi != Q_KERNEL_ABI) {
			q_error_set(err, Q_ERR_INPUT, 0,
				    "cannot load plugin '%s': kernel '%.64s' "
				    "has ABI version %u, this spoolq has %u: "
				    "set its abi field to Q_KERNEL_ABI and %s",
				    path, k->name, k->abi, Q_KERNEL_ABI,
				    FIX_REBUILD);
			return -EINVAL;
		}
		if (q_name_check("kernel name", k->name, &nerr) < 0) {
			q_error_set(err, Q_ERR_INPUT, 0,
				    "cannot load plugin '%s': %s", path,
				    nerr.message);
			return -EINVAL;
		}
		if (!k->run) {
			q_error_set(err, Q_ERR_INPUT, 0,
				    "cannot load plugin '%s': kernel '%s' has "
				    "no run function", path, k->name);
			return -EINVAL;
		}
		const struct q_kernel *other = q_kernel_find(k->name);
		if (other) {
			q_error_set(err, Q_ERR_INPUT, 0,
				    "cannot load plugin '%s': kernel '%s' is "
				    "already defined by %s: rename one of "
				    "them", path, k->name,
				    owner(other, where, sizeof(where)));
			return -EEXIST;
		}
		for (unsigned j = 0; j < i; j++)
			if (strcmp(entry->kernels[j]->name, k->name) == 0) {
				q_error_set(err, Q_ERR_INPUT, 0,
					    "cannot load plugin '%s': kernel "
					    "'%s' is in its Q_PLUGIN list "
					    "twice: rename one of them", path,
					    k->name);
				return -EEXIST;
			}
	}
	return 0;
}

/* Find and check the entry point; NULL and the error when refused. */
static const struct q_plugin *find_entry(void *handle, const char *path,
					 struct q_error *err)
{
	(void)dlerror();
	const struct q_plugin *entry = dlsym(handle, Q_PLUGIN_SYMBOL);
	if (!entry) {
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': it is a shared object "
			    "but not a spoolq plugin (no symbol '%s'): "
			    "register its kernels with Q_PLUGIN(&kernel, ...) "
			    "from <spoolq/kernel.h>", path, Q_PLUGIN_SYMBOL);
		return NULL;
	}
	/* Only `abi` may be read before it has been checked. */
	if (entry->abi != Q_KERNEL_ABI) {
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': it was built for kernel "
			    "ABI version %u, this spoolq has version %u: %s",
			    path, entry->abi, Q_KERNEL_ABI, FIX_REBUILD);
		return NULL;
	}
	if (entry->count == 0 || !entry->kernels) {
		q_error_set(err, Q_ERR_INPUT, 0,
			    "cannot load plugin '%s': its Q_PLUGIN list is "
			    "empty", path);
		return NULL;
	}
	return entry;
}

static int load_locked(const char *path, struct q_error *err)
{
	char *dlpath = NULL;
	void *handle;
	int ret;

	if (!path || !*path)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "empty plugin path: give the path of a "
				   "plugin's .so file");
	if (plugin_by_path(path))
		return 0;
	if ((ret = check_file(path, err)) < 0)
		return ret;
	/* Note 6. */
	dlpath = strchr(path, '/') ? q__strdup(path)
				   : q__asprintf("./%s", path);
	handle = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		ret = open_error(path, dlpath, dlerror(), err);
	free(dlpath);
	if (!handle)
		return ret;
	if (plugin_by_handle(handle)) {
		/* Note 4: loaded already under another path. */
		dlclose(handle);
		return 0;
	}
	const struct q_plugin *entry = find_entry(handle, path, err);
	if (!entry) {
		ret = -EINVAL;
		goto close_handle;
	}
	if ((ret = check_kernels(path, entry, err)) < 0)
		goto close_handle;

	q__grow(&plugins, &plugins_cap, nplugins + 1, sizeof(*plugins));
	plugins[nplugins].path = q__strdup(path);
	plugins[nplugins].handle = handle;
	plugins[nplugins].entry = entry;
	nplugins++;
	for (unsigned i = 0; i < entry->count; i++) {
		ret = q_kernel_register(entry->kernels[i]);
		if (ret < 0) {
			/* Note 2: only a full registry gets here. */
			q_error_set(err, Q_ERR_INPUT, 0,
				    "cannot load plugin '%s': no room for its "
				    "kernel '%s' (a program holds at most 256 "
				    "kernels)", path, entry->kernels[i]->name);
			return ret;
		}
	}
	return 0;

close_handle:
	/* Nothing of it was registered (note 2), so it can go. */
	dlclose(handle);
	return ret;
}

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

int q_plugin_load(const char *path, struct q_error *err)
{
	pthread_mutex_lock(&load_lock);
	int ret = load_locked(path, err);
	pthread_mutex_unlock(&load_lock);
	return ret;
}
