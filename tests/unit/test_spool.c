/*
 * test_spool.c: libq/spool.c (opening and creating a spool) and
 * libq/fsutil.c (confined path resolution, the atomic-write recipe,
 * bounded reads).
 *
 * Every test works in its own mkdtemp directory (Criterion runs tests in
 * parallel processes). A refused open must leave the directory exactly as
 * it was: the tests compare a listing (names, types, modes, sizes, mtimes,
 * link targets and small file contents) taken before and after. The
 * directory is made by each suite's .init and removed by its .fini, which
 * Criterion runs even when an assertion fails.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "spool_internal.h"
#include "text.h"

/* ---- helpers ---- */

/* The test's directory: one per test process. */
static struct {
	char dir[64];      /* the mkdtemp directory */
	char spool[96];    /* <dir>/spool, which tests may create */
} t;

static void tdir_init(void)
{
	umask(022);
	snprintf(t.dir, sizeof(t.dir), "/tmp/spoolq-test-spool.XXXXXX");
	cr_assert_not_null(mkdtemp(t.dir), "mkdtemp: %s", strerror(errno));
	snprintf(t.spool, sizeof(t.spool), "%s/spool", t.dir);
}

static int remove_cb(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tdir_fini(void)
{
	/* Best effort: whatever a test planted, links are not followed. */
	if (t.dir[0])
		nftw(t.dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(spool, .init = tdir_init, .fini = tdir_fini);
TestSuite(fsutil, .init = tdir_init, .fini = tdir_fini);

/* "<t.dir>/<rel>" in a static buffer (one at a time). */
static const char *at(const char *rel)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", t.dir, rel);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

/* Whole contents of a small file, malloc'ed. */
static char *read_all(const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	return st.st_mode;
}

/* nftw has no user pointer: the listing being built. */
static struct {
	size_t root_len;
	char **lines;
	size_t n, cap;
} listing_state;

static int listing_cb(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	struct q_buf b = Q_BUF_INIT;
	/* The root itself is ".", the rest relative to it. */
	const char *rel = strlen(path) < listing_state.root_len
				  ? "."
				  : path + listing_state.root_len;
	(void)flag;
	(void)ftw;

	q__buf_printf(&b, "%s %06o %lld %lld.%09ld", rel,
		      (unsigned)st->st_mode, (long long)st->st_size,
		      (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (S_ISLNK(st->st_mode)) {
		char target[256];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		q__buf_printf(&b, " -> %s", target);
	} else if (S_ISREG(st->st_mode) && st->st_size <= 256) {
		char *text = read_all(path);
		q__buf_addch(&b, ' ');
		if (*text)
			q__esc_append(&b, text);
		free(text);
	}
	q__grow(&listing_state.lines, &listing_state.cap, listing_state.n + 1,
		sizeof(char *));
	listing_state.lines[listing_state.n++] = q__buf_detach(&b);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything below `dir`, one sorted line per entry (malloc'ed). */
static char *listing(const char *dir)
{
	struct q_buf out = Q_BUF_INIT;

	memset(&listing_state, 0, sizeof(listing_state));
	listing_state.root_len = strlen(dir) + 1;
	cr_assert_eq(nftw(dir, listing_cb, 16, FTW_PHYS), 0);
	qsort(listing_state.lines, listing_state.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < listing_state.n; i++) {
		q__buf_addstr(&out, listing_state.lines[i]);
		q__buf_addch(&out, '\n');
		free(listing_state.lines[i]);
	}
	free(listing_state.lines);
	return q__buf_detach(&out);
}

/*
 * Open `path` with `flags`: it must be refused as bad input with `want` in
 * the message, hand out no spool, and leave t.dir as it was.
 */
static void expect_refused(const char *path, unsigned flags,
			   const char *want)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = (struct q_spool *)1;
	char *before = listing(t.dir);

	int ret = q_spool_open(&sp, path, flags, &err);
	char *after = listing(t.dir);
	cr_assert_lt(ret, 0, "'%s' opened (flags %u)", path, flags);
	cr_assert_null(sp);
	cr_assert_eq(err.kind, Q_ERR_INPUT, "%s", err.message);
	cr_assert(strstr(err.message, want), "expected '%s' in: %s", want,
		  err.message);
	cr_assert_str_eq(after, before, "the directory changed:\n%s---\n%s",
			 before, after);
	free(before);
	free(after);
}

static struct q_spool *open_ok(const char *path, unsigned flags)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = NULL;
	cr_assert_eq(q_spool_open(&sp, path, flags, &err), 0, "%s",
		     err.message);
	cr_assert_not_null(sp);
	return sp;
}

/* Create a spool at `path` and close it. */
static void make_spool(const char *path)
{
	q_spool_close(open_ok(path, Q_SPOOL_CREATE));
}

/* Entries in a directory, without "." and "..". */
static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- creating ---- */

Test(spool, create_makes_the_skeleton)
{
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE | Q_SPOOL_WRITE);

	cr_assert_str_eq(q_spool_path(sp), t.spool);
	cr_assert_not(q_spool_is_group(sp));
	mode_t m = mode_of(t.spool);
	cr_assert(S_ISDIR(m));
	cr_assert_eq(m & 07777, 0700, "mode %o", m & 07777);
	char *format = read_all(at("spool/format"));
	cr_assert_str_eq(format, "spoolq-spool 1\n");
	free(format);
	m = mode_of(at("spool/format"));
	cr_assert(S_ISREG(m));
	cr_assert_eq(m & 07777, 0600, "mode %o", m & 07777);
	static const char *const subs[] = { "spool/tmp", "spool/jobs",
					    "spool/workers" };
	for (size_t i = 0; i < Q_ARRAY_SIZE(subs); i++) {
		m = mode_of(at(subs[i]));
		cr_assert(S_ISDIR(m), "%s", subs[i]);
		cr_assert_eq(m & 07777, 0700, "%s: mode %o", subs[i],
			     m & 07777);
		cr_assert_eq(count_entries(at(subs[i])), 0, "%s",
			     subs[i]);
	}
	/* Exactly the skeleton, and nothing left beside the spool. */
	cr_assert_eq(count_entries(t.spool), 4);
	cr_assert_eq(count_entries(t.dir), 1);
	q_spool_close(sp);

	/* Opening an existing spool changes nothing. */
	char *before = listing(t.dir);
	q_spool_close(open_ok(t.spool, Q_SPOOL_WRITE));
	q_spool_close(open_ok(t.spool, Q_SPOOL_CREATE));
	char *after = listing(t.dir);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
	q_spool_close(NULL);
}

Test(spool, create_group_spool)
{
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE | Q_SPOOL_GROUP);

	cr_assert(q_spool_is_group(sp));
	cr_assert_eq(mode_of(t.spool) & 07777, 02770, "mode %o",
		     mode_of(t.spool) & 07777);
	static const char *const subs[] = { "spool/tmp", "spool/jobs",
					    "spool/workers" };
	for (size_t i = 0; i < Q_ARRAY_SIZE(subs); i++)
		cr_assert_eq(mode_of(at(subs[i])) & 07777, 02770,
			     "%s: mode %o", subs[i],
			     mode_of(at(subs[i])) & 07777);
	cr_assert_eq(mode_of(at("spool/format")) & 0002, 0);
	q_spool_close(sp);

	/* The spool stays group-shared without the flag. */
	sp = open_ok(t.spool, 0);
	cr_assert(q_spool_is_group(sp));
	q_spool_close(sp);
}

/* Directories made later in a group spool (cache/, a job's cancel/ ...)
 * keep group write and setgid under a umask of 022. */
Test(spool, group_spool_mkdir_ignores_the_umask)
{
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE | Q_SPOOL_GROUP);
	mode_t old = umask(022);

	cr_assert_eq(q__spool_mkdirat(sp, sp->dirfd, "later"), 0);
	umask(old);
	cr_assert_eq(mode_of(at("spool/later")) & 07777, 02770, "mode %o",
		     mode_of(at("spool/later")) & 07777);
	errno = 0;
	cr_assert_eq(q__spool_mkdirat(sp, sp->dirfd, "later"), -1);
	cr_assert_eq(errno, EEXIST);
	q_spool_close(sp);
}

Test(spool, empty_directory_is_initialised_in_place)
{
	struct stat before, after;

	cr_assert_eq(mkdir(t.spool, 0750), 0);
	cr_assert_eq(stat(t.spool, &before), 0);
	/* Without CREATE an empty directory is not a spool yet. */
	expect_refused(t.spool, Q_SPOOL_WRITE, "empty directory");

	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE);
	cr_assert_eq(stat(t.spool, &after), 0);
	cr_assert_eq(after.st_ino, before.st_ino, "the directory was replaced");
	cr_assert_eq(after.st_mode & 07777, 0750, "its mode was changed");
	char *format = read_all(at("spool/format"));
	cr_assert_str_eq(format, "spoolq-spool 1\n");
	free(format);
	cr_assert(S_ISDIR(mode_of(at("spool/tmp"))));
	cr_assert(S_ISDIR(mode_of(at("spool/jobs"))));
	cr_assert(S_ISDIR(mode_of(at("spool/workers"))));
	cr_assert_eq(count_entries(at("spool/tmp")), 0);
	q_spool_close(sp);
}

/* ---- refusing ---- */

Test(spool, missing_path_without_create)
{
	expect_refused(t.spool, 0, "no spool at '");
	expect_refused(t.spool, Q_SPOOL_WRITE, "no spool at '");
	/* With CREATE, a missing parent is the user's to make. */
	expect_refused(at("no/such/spool"), Q_SPOOL_CREATE,
		       "does not exist");
}

Test(spool, regular_file_is_not_a_directory)
{
	write_file(t.spool, "spoolq-spool 1\n");
	expect_refused(t.spool, 0, "not a directory");
	expect_refused(t.spool, Q_SPOOL_CREATE | Q_SPOOL_WRITE,
		       "not a directory");
}

Test(spool, non_empty_directory_without_format_file)
{
	cr_assert_eq(mkdir(t.spool, 0700), 0);
	write_file(at("spool/notes.txt"), "precious\n");
	cr_assert_eq(mkdir(at("spool/jobs"), 0700), 0);
	expect_refused(t.spool, Q_SPOOL_CREATE | Q_SPOOL_WRITE,
		       "no format file");
	expect_refused(t.spool, 0, "no format file");
}

Test(spool, unknown_format_version)
{
	make_spool(t.spool);
	write_file(at("spool/format"), "spoolq-spool 7\n");
	expect_refused(t.spool, Q_SPOOL_CREATE | Q_SPOOL_WRITE,
		       "format version 7");
	write_file(at("spool/format"), "something else 1\n");
	expect_refused(t.spool, Q_SPOOL_CREATE, "not recognised");
	write_file(at("spool/format"), "");
	expect_refused(t.spool, 0, "not recognised");
}

Test(spool, format_file_that_is_a_symlink_is_refused)
{
	make_spool(t.spool);
	write_file(at("elsewhere"), "spoolq-spool 1\n");
	char target[256];
	snprintf(target, sizeof(target), "%s", at("elsewhere"));
	cr_assert_eq(unlink(at("spool/format")), 0);
	cr_assert_eq(symlink(target, at("spool/format")), 0);
	expect_refused(t.spool, 0, "format file is not a small regular file");
}

Test(spool, world_writable_spool_is_refused)
{
	make_spool(t.spool);
	cr_assert_eq(chmod(t.spool, 0777), 0);
	expect_refused(t.spool, Q_SPOOL_CREATE | Q_SPOOL_WRITE,
		       "writable by everyone (mode 0777)");
	expect_refused(t.spool, 0, "writable by everyone");
	cr_assert_eq(chmod(t.spool, 01777), 0);
	expect_refused(t.spool, 0, "writable by everyone");
}

Test(spool, world_writable_subdirectory_is_refused)
{
	static const char *const subs[] = { "tmp", "jobs", "workers", "cache" };
	char path[160], want[200];

	make_spool(t.spool);
	snprintf(path, sizeof(path), "%s/cache", t.spool);
	cr_assert_eq(mkdir(path, 0700), 0);
	for (size_t i = 0; i < Q_ARRAY_SIZE(subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", t.spool, subs[i]);
		cr_assert_eq(chmod(path, 0703), 0);
		snprintf(want, sizeof(want),
			 "'%s/' is writable by everyone (mode 0703)", path);
		expect_refused(t.spool, 0, want);
		snprintf(want, sizeof(want), "(fix: chmod o-w '%s')", path);
		expect_refused(t.spool, Q_SPOOL_WRITE, want);
		cr_assert_eq(chmod(path, 0720), 0);
		expect_refused(t.spool, 0, "but the spool is not group-shared");
		cr_assert_eq(chmod(path, 0700), 0);
	}
	q_spool_close(open_ok(t.spool, Q_SPOOL_WRITE));
}

Test(spool, foreign_owner_is_refused_even_for_root)
{
	char path[160], want[200];

	make_spool(t.spool);
	/* As root, chown makes "another user"; as a user it is not
	 * allowed, and the test has nothing to check. */
	if (chown(t.spool, 12345, (gid_t)-1) != 0)
		cr_skip_test("cannot chown (not root)");
	expect_refused(t.spool, 0, "belongs to uid 12345, not to you");
	expect_refused(t.spool, Q_SPOOL_CREATE, "fix: run as uid 12345");
	cr_assert_eq(chown(t.spool, geteuid(), (gid_t)-1), 0);
	snprintf(path, sizeof(path), "%s/jobs", t.spool);
	cr_assert_eq(chown(path, 12345, (gid_t)-1), 0);
	snprintf(want, sizeof(want), "'%s/' belongs to uid 12345", path);
	expect_refused(t.spool, 0, want);
	cr_assert_eq(chown(path, geteuid(), (gid_t)-1), 0);
	q_spool_close(open_ok(t.spool, 0));
}

Test(spool, group_spool_checks_the_group)
{
	char path[160];
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE | Q_SPOOL_GROUP);
	q_spool_close(sp);
	if (geteuid() != 0)
		cr_skip_test("needs root to change groups");
	/* Another group on a subdirectory. */
	snprintf(path, sizeof(path), "%s/workers", t.spool);
	cr_assert_eq(chown(path, (uid_t)-1, 65534), 0);
	expect_refused(t.spool, 0, "not the spool's group");
	cr_assert_eq(chown(path, (uid_t)-1, getegid()), 0);
	/* An owner outside the group (uid 12345 has no passwd entry). */
	cr_assert_eq(chown(path, 12345, (gid_t)-1), 0);
	expect_refused(t.spool, 0, "who is not a member of the spool's group");
	cr_assert_eq(chown(path, 0, (gid_t)-1), 0);
	/* A spool of a group the caller is not in. */
	cr_assert_eq(setgroups(0, NULL), 0);
	cr_assert_eq(chown(t.spool, (uid_t)-1, 65534), 0);
	cr_assert_eq(chmod(t.spool, 02770), 0);
	expect_refused(t.spool, 0, "are not a member");
}

Test(spool, symlink_planted_for_a_subdirectory)
{
	static const char *const subs[] = { "tmp", "jobs", "workers" };
	char spool[128], path[160], want[64];

	cr_assert_eq(mkdir(at("elsewhere"), 0700), 0);
	for (size_t i = 0; i < Q_ARRAY_SIZE(subs); i++) {
		/* One spool per subdirectory, the link replacing it. */
		snprintf(spool, sizeof(spool), "%s/spool-%s", t.dir, subs[i]);
		make_spool(spool);
		snprintf(path, sizeof(path), "%s/%s", spool, subs[i]);
		cr_assert_eq(rmdir(path), 0);
		cr_assert_eq(symlink("../elsewhere", path), 0);
		snprintf(want, sizeof(want), "'%s' is not a plain directory",
			 subs[i]);
		expect_refused(spool, Q_SPOOL_WRITE, want);
		expect_refused(spool, Q_SPOOL_CREATE, want);
	}
}

Test(spool, missing_subdirectory_is_damage)
{
	make_spool(t.spool);
	cr_assert_eq(rmdir(at("spool/workers")), 0);
	expect_refused(t.spool, Q_SPOOL_CREATE, "'workers/' is missing");
}

Test(spool, default_path)
{
	cr_assert_eq(unsetenv("QSPOOL"), 0);
	cr_assert_str_eq(q_spool_default_path(NULL), "qspool");
	cr_assert_str_eq(q_spool_default_path(""), "qspool");
	cr_assert_eq(setenv("QSPOOL", "/env/spool", 1), 0);
	cr_assert_str_eq(q_spool_default_path(NULL), "/env/spool");
	cr_assert_str_eq(q_spool_default_path("/opt/s"), "/opt/s");
}

/* ---- confined resolution (fsutil.c) ---- */

/* a/b/c, l -> a, a/m -> b, a/f (a file), a/p (a FIFO), a/s -> f; returns
 * an fd on t.dir. */
static int make_tree(void)
{
	cr_assert_eq(mkdir(at("a"), 0700), 0);
	cr_assert_eq(mkdir(at("a/b"), 0700), 0);
	cr_assert_eq(mkdir(at("a/b/c"), 0700), 0);
	cr_assert_eq(symlink("a", at("l")), 0);
	cr_assert_eq(symlink("b", at("a/m")), 0);
	write_file(at("a/f"), "file text");
	cr_assert_eq(mkfifo(at("a/p"), 0600), 0);
	cr_assert_eq(symlink("f", at("a/s")), 0);
	int fd = open(t.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

static void expect_same_file(int fd, const char *path)
{
	struct stat a, b;
	cr_assert_eq(fstat(fd, &a), 0);
	cr_assert_eq(stat(path, &b), 0, "%s", path);
	cr_assert_eq(a.st_ino, b.st_ino, "%s", path);
	cr_assert_eq(a.st_dev, b.st_dev, "%s", path);
}

Test(fsutil, open_dir_beneath_follows_plain_paths)
{
	static const char *const ok[] = { "a", "a/b", "a/b/c" };
	int dirfd = make_tree();

	for (size_t i = 0; i < Q_ARRAY_SIZE(ok); i++) {
		int fd = q__open_dir_beneath(dirfd, ok[i]);
		cr_assert_geq(fd, 0, "%s: %s", ok[i], strerror(errno));
		expect_same_file(fd, at(ok[i]));
		close(fd);
	}
	close(dirfd);
}

Test(fsutil, open_dir_beneath_refuses_symlinks)
{
	static const char *const bad[] = {
		"l", "l/b", "a/m", "a/m/c", "l/m/c",
	};
	int dirfd = make_tree();

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++) {
		errno = 0;
		cr_assert_eq(q__open_dir_beneath(dirfd, bad[i]), -1, "%s",
			     bad[i]);
		/* ELOOP in the middle; a final link is "not a directory". */
		cr_assert(errno == ELOOP || errno == ENOTDIR, "%s: %s", bad[i],
			  strerror(errno));
	}
	close(dirfd);
}

Test(fsutil, open_dir_beneath_refuses_dot_dot_and_odd_paths)
{
	static const char *const bad[] = {
		"..", "../x", "a/..", "a/../a", "a/b/../../a", ".", "a/./b",
		"a//b", "a/", "/tmp", "/", "", "a/\x01",
	};
	int dirfd = make_tree();

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++) {
		errno = 0;
		cr_assert_eq(q__open_dir_beneath(dirfd, bad[i]), -1, "'%s'",
			     bad[i]);
		cr_assert_eq(errno, EINVAL, "'%s': %s", bad[i],
			     strerror(errno));
	}
	close(dirfd);
}

Test(fsutil, open_file_beneath_wants_a_regular_file)
{
	char buf[32];
	int dirfd = make_tree();

	int fd = q__open_file_beneath(dirfd, "a/f");
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	cr_assert_eq(n, 9);
	buf[n] = '\0';
	cr_assert_str_eq(buf, "file text");
	close(fd);

	/* A FIFO is refused without blocking; so are directories. */
	errno = 0;
	cr_assert_eq(q__open_file_beneath(dirfd, "a/p"), -1);
	cr_assert_eq(errno, EINVAL, "%s", strerror(errno));
	errno = 0;
	cr_assert_eq(q__open_file_beneath(dirfd, "a/b"), -1);
	cr_assert_eq(errno, EINVAL, "%s", strerror(errno));
	/* Links to the file, or through a linked directory, are refused. */
	errno = 0;
	cr_assert_eq(q__open_file_beneath(dirfd, "a/s"), -1);
	cr_assert_eq(errno, ELOOP, "%s", strerror(errno));
	errno = 0;
	cr_assert_eq(q__open_file_beneath(dirfd, "l/f"), -1);
	cr_assert_eq(errno, ELOOP, "%s", strerror(errno));
	errno = 0;
	cr_assert_eq(q__open_file_beneath(dirfd, "a/../a/f"), -1);
	cr_assert_eq(errno, EINVAL, "%s", strerror(errno));
	close(dirfd);
}

/* Refused with a message holding `want`; the fd count does not grow. */
static void expect_sized_refused(int dirfd, const char *rel, uint64_t size,
				 const char *want)
{
	struct q_error err = Q_ERROR_INIT;
	int ret = q__open_file_sized(dirfd, rel, size, rel, &err);
	cr_assert_lt(ret, 0, "'%s' opened", rel);
	cr_assert(strstr(err.message, want), "expected '%s' in: %s", want,
		  err.message);
	cr_assert(strstr(err.message, rel), "the message names '%s': %s",
		  rel, err.message);
}

Test(fsutil, open_file_sized_checks_type_and_size)
{
	struct q_error err = Q_ERROR_INIT;
	int dirfd = make_tree();

	int fd = q__open_file_sized(dirfd, "a/f", 9, "a/f", &err);
	cr_assert_geq(fd, 0, "%s", err.message);
	close(fd);
	fd = q__open_file_sized(dirfd, "a/f", Q_SIZE_ANY, "a/f", &err);
	cr_assert_geq(fd, 0, "%s", err.message);
	close(fd);
	/* A FIFO must not block the open (no writer exists). */
	expect_sized_refused(dirfd, "a/p", 9, "it is a FIFO, not a regular file");
	expect_sized_refused(dirfd, "a/b", 9, "it is a directory");
	expect_sized_refused(dirfd, "a/s", 9, "it is a symbolic link");
	expect_sized_refused(dirfd, "l/f", 9, "it is a symbolic link");
	expect_sized_refused(dirfd, "a/f", 8, "it holds 9 bytes but its record says 8");
	/* A 10 GB sparse file is refused by its size, before any read. */
	int big = open(at("a/big"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(big, 0);
	cr_assert_eq(ftruncate(big, (off_t)10 << 30), 0);
	close(big);
	expect_sized_refused(dirfd, "a/big", 100000,
			     "it holds 10737418240 bytes but its record says 100000");
	cr_assert_eq(q__open_file_sized(dirfd, "a/nosuch", 1, "a/nosuch",
					&err), -ENOENT);
	cr_assert_eq(err.kind, Q_ERR_SYSTEM);
	close(dirfd);
}

/* ---- atomic writes ---- */

Test(fsutil, tmp_write_and_publish_first)
{
	char name1[256], name2[256], path[512];
	struct q_error err = Q_ERROR_INIT;
	struct stat st;
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE);

	cr_assert_eq(q__tmp_write(sp, "rec", "first", 5, name1, sizeof(name1),
				  &err), 0, "%s", err.message);
	cr_assert_str_eq(name1 + strlen(name1) - 4, ".rec");
	snprintf(path, sizeof(path), "%s/tmp/%s", t.spool, name1);
	cr_assert_eq(mode_of(path) & 07777, 0600);
	char *text = read_all(path);
	cr_assert_str_eq(text, "first");
	free(text);

	cr_assert_eq(q__publish_first(sp, name1, sp->jobsfd, "x"), 0);
	text = read_all(at("spool/jobs/x"));
	cr_assert_str_eq(text, "first");
	free(text);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_nlink, 2, "published by a link");

	/* The second publisher loses and learns it; the winner stays. */
	cr_assert_eq(q__tmp_write(sp, "rec", "second", 6, name2, sizeof(name2),
				  &err), 0, "%s", err.message);
	cr_assert_str_neq(name2, name1);
	cr_assert_eq(q__publish_first(sp, name2, sp->jobsfd, "x"), -EEXIST);
	text = read_all(at("spool/jobs/x"));
	cr_assert_str_eq(text, "first");
	free(text);
	/* The loser's temporary is left for the caller to remove. */
	snprintf(path, sizeof(path), "%s/tmp/%s", t.spool, name2);
	cr_assert_eq(stat(path, &st), 0);
	q__tmp_remove(sp, name2);
	q__tmp_remove(sp, name1);
	q__tmp_remove(sp, name1);          /* ENOENT is ignored */
	cr_assert_eq(count_entries(at("spool/tmp")), 0);
	cr_assert_eq(stat(at("spool/jobs/x"), &st), 0);
	cr_assert_eq(st.st_nlink, 1);
	q_spool_close(sp);
}

Test(fsutil, publish_replace_replaces)
{
	char name[256];
	struct q_error err = Q_ERROR_INIT;
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE);

	for (int i = 0; i < 2; i++) {
		const char *data = i ? "new" : "old";
		cr_assert_eq(q__tmp_write(sp, "w", data, 3, name, sizeof(name),
					  &err), 0, "%s", err.message);
		cr_assert_eq(q__publish_replace(sp, name, sp->workersfd, "w1"),
			     0);
		char *text = read_all(at("spool/workers/w1"));
		cr_assert_str_eq(text, data);
		free(text);
		cr_assert_eq(count_entries(at("spool/tmp")), 0);
	}
	q_spool_close(sp);
}

Test(fsutil, spool_tmp_create_and_remove)
{
	char name[256], path[512];
	struct q_spool *sp = open_ok(t.spool, Q_SPOOL_CREATE);

	int fd = q_spool_tmp_create(sp, "out", name, sizeof(name));
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cr_assert_eq(write(fd, "abc", 3), 3);
	cr_assert_eq(close(fd), 0);
	snprintf(path, sizeof(path), "%s/tmp/%s", t.spool, name);
	char *text = read_all(path);
	cr_assert_str_eq(text, "abc");
	free(text);
	q_spool_tmp_remove(sp, name);
	cr_assert_eq(count_entries(at("spool/tmp")), 0);
	q_spool_close(sp);
}

/* ---- bounded reads ---- */

Test(fsutil, read_file_respects_max)
{
	char big[101];
	char *data = NULL;
	size_t len = 0;
	int dirfd = make_tree();

	memset(big, 'q', 100);
	big[100] = '\0';
	write_file(at("a/big"), big);
	write_file(at("a/empty"), "");

	cr_assert_eq(q__read_file(dirfd, "a/big", 100, &data, &len), 0);
	cr_assert_eq(len, 100);
	cr_assert_eq(data[100], '\0');
	cr_assert_str_eq(data, big);
	free(data);

	data = NULL;
	cr_assert_eq(q__read_file(dirfd, "a/big", 99, &data, &len), -EFBIG);
	cr_assert_null(data);
	cr_assert_eq(q__read_file(dirfd, "a/big", 0, &data, &len), -EFBIG);
	cr_assert_null(data);

	cr_assert_eq(q__read_file(dirfd, "a/empty", 0, &data, NULL), 0);
	cr_assert_str_eq(data, "");
	free(data);
	data = NULL;

	cr_assert_eq(q__read_file(dirfd, "a/none", 100, &data, &len),
		     -ENOENT);
	cr_assert_eq(q__read_file(dirfd, "a/s", 100, &data, &len), -ELOOP);
	cr_assert_eq(q__read_file(dirfd, "a/p", 100, &data, &len), -EINVAL);
	cr_assert_eq(q__read_file(dirfd, "a/b", 100, &data, &len), -EINVAL);
	cr_assert_eq(q__read_file(dirfd, "../x", 100, &data, &len), -EINVAL);
	cr_assert_null(data);
	close(dirfd);
}

/* A relative spool path is kept absolute (not resolved): tasks that run
 * in another directory get it as Q_SPOOL and in their input paths. */
Test(spool, a_relative_path_is_made_absolute)
{
	char *old = getcwd(NULL, 0);
	cr_assert_not_null(old);
	cr_assert_eq(chdir(t.dir), 0);
	static const char *const given[] = { "spool", "./spool" };
	for (size_t i = 0; i < Q_ARRAY_SIZE(given); i++) {
		struct q_spool *sp = open_ok(given[i], Q_SPOOL_CREATE);
		cr_assert_str_eq(q_spool_path(sp), t.spool, "%s", given[i]);
		q_spool_close(sp);
	}
	struct q_spool *sp = open_ok(t.spool, 0);
	cr_assert_str_eq(q_spool_path(sp), t.spool);
	q_spool_close(sp);
	cr_assert_eq(chdir(old), 0);
	free(old);
}
