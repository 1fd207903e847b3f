/*
 * spool.c: opening and creating a spool.
 *
 * Design notes
 * 1. Creation is atomic: the skeleton (tmp/, jobs/, workers/, format) is
 *    built in a hidden sibling directory and renamed into place. Two
 *    qsubmits racing to create the same spool both succeed: the loser's
 *    rename fails (the winner's directory is not empty) and it opens the
 *    winner's spool. An existing empty directory (made by the user, perhaps
 *    with special striping on Lustre) is initialised in place, format file
 *    last, so a half-initialised directory never reads as a spool.
 * 2. The format file is read and checked on every open: an unknown version
 *    is refused before anything is touched.
 * 3. Who may use a spool is decided by its root directory, checked on
 *    every open together with the fixed top-level directories (tmp/,
 *    jobs/, workers/, and cache/ when present; not every job: that would
 *    make opening cost grow with the spool). A private spool (root not
 *    group-writable) is used only by its owner: every one of them must
 *    belong to the caller and not be group-writable. A group spool (root
 *    group-writable, 2770) is used by the members of the root's group:
 *    the caller must be one, each directory must have that group and an
 *    owner in it. Anything writable by everyone is refused: anyone could
 *    plant tasks the workers would run as their owner. root is not
 *    special: a root worker on a user's spool would run the user's tasks
 *    as root (docs/security.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names_internal.h"
#include "jobh_internal.h"
#include "spool_internal.h"
#include "sysio.h"

static const char *const subdirs[] = { "tmp", "jobs", "workers" };

const char *q_spool_default_path(const char *option)
{
	if (option && *option)
		return option;
	const char *env = getenv("QSPOOL");
	if (env && *env)
		return env;
	return "qspool";
}

/*
 * The spool's path as tools show it and tasks get it (Q_SPOOL, input
 * files): absolute, because a task may run in another directory. Not
 * resolved (a symbolic link the user chose stays in the name). As given
 * when the current directory cannot be read.
 */
static char *absolute_path(const char *path)
{
	char *cwd = path[0] == '/' ? NULL : getcwd(NULL, 0);
	if (!cwd)
		return q__strdup(path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	char *abs = strcmp(path, ".") == 0 ? q__strdup(cwd)
					    : q__asprintf("%s/%s", cwd, path);
	free(cwd);
	return abs;
}

const char *q_spool_path(const struct q_spool *spool)
{
	return spool->path;
}

bool q_spool_is_group(const struct q_spool *spool)
{
	return spool->group;
}

void q_spool_set_world(struct q_spool *spool, const char *world,
		       unsigned rank, const struct q_world_hooks *hooks)
{
	snprintf(spool->world, sizeof(spool->world), "%s", world ? world : "");
	spool->world_rank = rank;
	memset(&spool->hooks, 0, sizeof(spool->hooks));
	if (hooks)
		spool->hooks = *hooks;
}

static void set_modes(struct q_spool *sp, bool group)
{
	sp->group = group;
	sp->file_mode = group ? 0660 : 0600;
	sp->dir_mode = group ? 02770 : 0700;
}

/* Write the skeleton into the (empty) directory dirfd. */
static int init_skeleton(int dirfd, bool group, struct q_error *err,
			 const char *path)
{
	mode_t dmode = group ? 02770 : 0700;
	char text[64];

	for (size_t i = 0; i < Q_ARRAY_SIZE(subdirs); i++) {
		if (q__mkdirat(dirfd, subdirs[i], dmode) != 0 &&
		    errno != EEXIST)
			return q_error_set(err, Q_ERR_SYSTEM, errno,
					   "cannot create '%s/%s'", path,
					   subdirs[i]);
	}
	if (group) {
		/* The setgid bit and group write do not survive a umask of
		 * 022 at mkdir time; set them explicitly. */
		for (size_t i = 0; i < Q_ARRAY_SIZE(subdirs); i++)
			(void)fchmodat(dirfd, subdirs[i], dmode, 0);
	}
	int n = snprintf(text, sizeof(text), "%s %d\n", Q_FORMAT_MAGIC,
			 Q_SPOOL_FORMAT);
	/* Written through tmp/ like every other file. */
	char tmpname[256];
	q__unique_name(tmpname, sizeof(tmpname), "format");
	int tmpfd = openat(dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
	if (tmpfd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/tmp'", path);
	int fd = q__openat(tmpfd, tmpname,
			   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			   group ? 0660 : 0600);
	int ret = 0;
	if (fd < 0 || q__write_all(fd, text, (size_t)n) != 0 ||
	    q__fsync(fd) != 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot write '%s/format'", path);
		if (fd >= 0)
			(void)q__close(fd);
		goto out;
	}
	if (q__close(fd) != 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot write '%s/format'", path);
		goto out;
	}
	if (q__renameat(tmpfd, tmpname, dirfd, Q_FORMAT_FILE) != 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot write '%s/format'", path);
		goto out;
	}
	if (q__fsync_dir(dirfd) != 0)
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot sync '%s'", path);
out:
	if (ret < 0)
		(void)q__unlinkat(tmpfd, tmpname, 0);
	close(tmpfd);
	return ret;
}

static int fsync_parent(const char *path)
{
	char *copy = q__strdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	int ret = q__fsync_dir(fd);
	close(fd);
	return ret;
}

/* Build the spool at `path` (which does not exist) atomically. */
static int create_spool(const char *path, bool group, struct q_error *err)
{
	char *copy = q__strdup(path);
	char *parent = dirname(copy);
	char base[256];
	q__unique_name(base, sizeof(base), "new-spool");
	char *tmp = q__asprintf("%s/.%s", parent, base);
	int ret = 0;

	if (q__mkdirat(AT_FDCWD, tmp, group ? 02770 : 0700) != 0) {
		int e = errno;
		if (e == ENOENT)
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "cannot create spool '%s': its parent "
					  "directory '%s' does not exist (create "
					  "it first)", path, parent);
		else if (e == EACCES || e == EPERM || e == EROFS)
			ret = q_error_set(err, Q_ERR_INPUT, e,
					  "cannot create spool '%s' (choose a "
					  "writable place with --spool or "
					  "QSPOOL)", path);
		else
			ret = q_error_set(err, Q_ERR_SYSTEM, e,
					  "cannot create spool '%s'", path);
		goto out;
	}
	if (group)
		(void)chmod(tmp, 02770);
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot open '%s'", tmp);
		goto out_rmtmp;
	}
	ret = init_skeleton(fd, group, err, path);
	close(fd);
	if (ret < 0)
		goto out_rmtmp;
	if (q__renameat(AT_FDCWD, tmp, AT_FDCWD, path) != 0) {
		/* Lost a race with another creator: use theirs. */
		if (errno == ENOTEMPTY || errno == EEXIST) {
			ret = 0;
			goto out_rmtmp;
		}
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot create spool '%s'", path);
		goto out_rmtmp;
	}
	if (fsync_parent(path) != 0)
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot sync the directory holding '%s'",
				  path);
	goto out;
out_rmtmp:
	/* Remove the skeleton we built (a few known entries). */
	{
		char *p;
		p = q__asprintf("%s/format", tmp);
		unlink(p);
		free(p);
		for (size_t i = 0; i < Q_ARRAY_SIZE(subdirs); i++) {
			p = q__asprintf("%s/%s", tmp, subdirs[i]);
			rmdir(p);
			free(p);
		}
		rmdir(tmp);
	}
out:
	free(tmp);
	free(copy);
	return ret;
}

static int check_format(int dirfd, const char *path, struct q_error *err)
{
	char *text = NULL;
	int ret = q__read_file(dirfd, Q_FORMAT_FILE, 4096, &text, NULL);
	if (ret == -ENOENT)
		return -ENOENT;
	if (ret == -ELOOP || ret == -EINVAL || ret == -EXDEV || ret == -EFBIG)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "refusing spool '%s': its format file is "
				   "not a small regular file (a symbolic "
				   "link?)", path);
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot read '%s/format'", path);
	int version = -1;
	size_t mlen = strlen(Q_FORMAT_MAGIC);
	if (strncmp(text, Q_FORMAT_MAGIC, mlen) == 0 && text[mlen] == ' ')
		version = atoi(text + mlen + 1);
	free(text);
	if (version < 0)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "'%s' is not a spoolq spool: its format "
				   "file is not recognised (use another "
				   "directory with --spool)", path);
	if (version != Q_SPOOL_FORMAT)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "spool '%s' has format version %d, but this "
				   "spoolq (%s) reads version %d (use the "
				   "spoolq that made it, or a new spool)",
				   path, version, PACKAGE_VERSION,
				   Q_SPOOL_FORMAT);
	return 0;
}

/* ---- who may use a spool (design note 3) ---- */

/* What the spool root says about who may use it. */
struct owners {
	const char *path;  /* the spool, for messages */
	uid_t me;          /* the caller's effective uid */
	bool group;        /* the root is group-writable: a group spool */
	gid_t gid;         /* the root's group */
};

/* "alice (uid 1000)", or "uid 12345" when the name is unknown. */
static void user_text(uid_t uid, char *out, size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, size, "%s (uid %u)", res->pw_name,
			 (unsigned)uid);
	else
		snprintf(out, size, "uid %u", (unsigned)uid);
}

/* The group's name, or its number. */
static void group_text(gid_t gid, char *out, size_t size)
{
	struct group gr, *res = NULL;
	char buf[4096];
	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, size, "%s", res->gr_name);
	else
		snprintf(out, size, "%u", (unsigned)gid);
}

/* Is the caller a member of `gid` (effective or supplementary)? */
static bool caller_in_group(gid_t gid)
{
	if (getegid() == gid)
		return true;
	int n = getgroups(0, NULL);
	if (n <= 0)
		return false;
	gid_t *groups = q__calloc((size_t)n, sizeof(gid_t));
	bool found = false;
	n = getgroups(n, groups);
	for (int i = 0; i < n && !found; i++)
		found = groups[i] == gid;
	free(groups);
	return found;
}

/* Is user `uid` a member of `gid`? A uid without a passwd entry is not. */
static bool user_in_group(uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return false;
	if (res->pw_gid == gid)
		return true;
	int n = 64;
	for (int tries = 0; tries < 2; tries++) {
		gid_t *groups = q__calloc((size_t)n, sizeof(gid_t));
		int want = n;
		int got = getgrouplist(res->pw_name, res->pw_gid, groups,
				       &want);
		bool found = false;
		for (int i = 0; got >= 0 && i < want && !found; i++)
			found = groups[i] == gid;
		free(groups);
		if (got >= 0 || found)
			return found;
		n = want;  /* too small: getgrouplist said how many */
	}
	return false;
}

/*
 * Check one directory of the spool: the root (name NULL) or one of its
 * fixed subdirectories. Refused: writable by everyone; in a private spool,
 * owned by anyone but the caller (root included: a root worker on a
 * user's spool would run that user's tasks as root) or group-writable; in
 * a group spool, a caller outside the group, an owner outside the group,
 * or a subdirectory of another group.
 */
static int check_dir(const struct owners *o, int fd, const char *name,
		     struct q_error *err)
{
	struct stat st;
	char shown[PATH_MAX + 64], who[300], me[300], grp[256], grp2[256];
	unsigned mode;

	if (name)
		snprintf(shown, sizeof(shown), "'%s/%s/'", o->path, name);
	else
		snprintf(shown, sizeof(shown), "'%s'", o->path);
	if (fstat(fd, &st) != 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot inspect %s", shown);
	mode = (unsigned)(st.st_mode & 07777);
	if (st.st_mode & S_IWOTH) {
		if (!name)
			return q_error_set(
				err, Q_ERR_INPUT, 0,
				"refusing spool '%s': it is writable by "
				"everyone (mode %04o), so anyone could make "
				"your workers run their commands (fix: chmod "
				"o-w '%s')", o->path, mode, o->path);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "refusing spool '%s': %s is writable by "
				   "everyone (mode %04o), so anyone could make "
				   "your workers run their commands (fix: chmod "
				   "o-w '%s/%s')", o->path, shown, mode,
				   o->path, name);
	}
	if (!o->group) {
		if (st.st_uid != o->me && name) {
			user_text(st.st_uid, who, sizeof(who));
			user_text(o->me, me, sizeof(me));
			return q_error_set(
				err, Q_ERR_INPUT, 0,
				"refusing spool '%s': %s belongs to %s, not to "
				"you, %s, the spool's owner (fix: look at what "
				"is in it, then chown -R %u '%s/%s')", o->path,
				shown, who, me, (unsigned)o->me, o->path, name);
		}
		if (st.st_uid != o->me) {
			user_text(st.st_uid, who, sizeof(who));
			user_text(o->me, me, sizeof(me));
			return q_error_set(
				err, Q_ERR_INPUT, 0,
				"refusing spool '%s': %s belongs to %s, not to "
				"you, %s, and the spool is not group-shared "
				"(fix: run as %s, or have %s share it with a "
				"group: chgrp -R GROUP '%s' && chmod -R "
				"g+rwX,g+s '%s')", o->path, shown, who, me,
				who, who, o->path, o->path);
		}
		if (name && (st.st_mode & S_IWGRP)) {
			group_text(st.st_gid, grp, sizeof(grp));
			return q_error_set(
				err, Q_ERR_INPUT, 0,
				"refusing spool '%s': %s is writable by group "
				"%s (mode %04o) but the spool is not "
				"group-shared (fix: chmod g-w '%s/%s')",
				o->path, shown, grp, mode, o->path, name);
		}
		return 0;
	}
	group_text(o->gid, grp, sizeof(grp));
	if (!name && !caller_in_group(o->gid)) {
		user_text(o->me, me, sizeof(me));
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "refusing spool '%s': it is shared with "
				   "group %s (mode %04o) and you, %s, are not a "
				   "member (fix: ask to be added to %s, or use "
				   "a spool of your own)", o->path, grp, mode,
				   me, grp);
	}
	if (name && st.st_gid != o->gid) {
		group_text(st.st_gid, grp2, sizeof(grp2));
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "refusing spool '%s': %s has group %s, not "
				   "the spool's group %s (fix: chgrp %s "
				   "'%s/%s')", o->path, shown, grp2, grp, grp,
				   o->path, name);
	}
	if (st.st_uid != o->me && !user_in_group(st.st_uid, o->gid)) {
		user_text(st.st_uid, who, sizeof(who));
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "refusing spool '%s': %s belongs to %s, who "
				   "is not a member of the spool's group %s "
				   "(fix: chown it to a member of %s)", o->path,
				   shown, who, grp, grp);
	}
	return 0;
}

static int check_root(int dirfd, const char *path, struct owners *o,
		      struct q_error *err)
{
	struct stat st;
	if (fstat(dirfd, &st) != 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot inspect spool '%s'", path);
	o->path = path;
	o->me = geteuid();
	o->group = (st.st_mode & S_IWGRP) != 0;
	o->gid = st.st_gid;
	return check_dir(o, dirfd, NULL, err);
}

/* The optional top-level directories: checked when they exist. */
static const char *const optional_subdirs[] = { "cache" };

static int check_subdirs(struct q_spool *sp, struct q_error *err)
{
	struct owners o;
	int ret = check_root(sp->dirfd, sp->path, &o, err);
	if (ret < 0)
		return ret;
	if ((ret = check_dir(&o, sp->tmpfd, "tmp", err)) < 0 ||
	    (ret = check_dir(&o, sp->jobsfd, "jobs", err)) < 0 ||
	    (ret = check_dir(&o, sp->workersfd, "workers", err)) < 0)
		return ret;
	for (size_t i = 0; i < Q_ARRAY_SIZE(optional_subdirs); i++) {
		int fd = q__open_dir_beneath(sp->dirfd, optional_subdirs[i]);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "refusing spool '%s': '%s' is not "
					   "a plain directory (a symbolic "
					   "link?)", sp->path,
					   optional_subdirs[i]);
		ret = check_dir(&o, fd, optional_subdirs[i], err);
		close(fd);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int dir_is_empty_fd(int dirfd)
{
	DIR *d = q__opendir_at(dirfd, NULL);
	if (!d)
		return -errno;
	int empty = 1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static int open_sub(struct q_spool *sp, const char *name, int *fd_out,
		    struct q_error *err)
{
	int fd = q__open_dir_beneath(sp->dirfd, name);
	if (fd < 0) {
		if (errno == ENOENT)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "spool '%s' is damaged: '%s/' is "
					   "missing", sp->path, name);
		if (errno == ELOOP || errno == EXDEV || errno == ENOTDIR)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "refusing spool '%s': '%s' is not a "
					   "plain directory (a symbolic link?)",
					   sp->path, name);
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/%s'", sp->path, name);
	}
	*fd_out = fd;
	return 0;
}

int q_spool_open(struct q_spool **spool_out, const char *path,
		 unsigned flags, struct q_error *err)
{
	struct q_spool *sp = q__calloc(1, sizeof(*sp));
	int ret;

	sp->dirfd = sp->tmpfd = sp->jobsfd = sp->workersfd = -1;
	pthread_mutex_init(&sp->bcast_lock, NULL);
	pthread_mutex_init(&sp->events_lock, NULL);
	for (size_t i = 0; i < Q_ARRAY_SIZE(sp->events_fds); i++)
		sp->events_fds[i].fd = -1;
	for (size_t i = 0; i < Q_ARRAY_SIZE(sp->cachefd); i++)
		sp->cachefd[i] = -1;
	sp->path = absolute_path(path);
	*spool_out = NULL;

	/* The spool path itself may be a symbolic link the user made;
	 * nothing below it may be. */
	sp->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0 && errno == ENOENT && (flags & Q_SPOOL_CREATE)) {
		ret = create_spool(path, flags & Q_SPOOL_GROUP, err);
		if (ret < 0)
			goto fail;
		sp->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (sp->dirfd < 0) {
		int e = errno;
		if (e == ENOENT)
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "no spool at '%s' (submit a job to "
					  "create it, or give --spool DIR or "
					  "QSPOOL)", path);
		else if (e == ENOTDIR)
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "spool path '%s' is not a directory "
					  "(give another path with --spool)",
					  path);
		else if (e == EACCES)
			ret = q_error_set(err, Q_ERR_INPUT, e,
					  "cannot open spool '%s'", path);
		else
			ret = q_error_set(err, Q_ERR_SYSTEM, e,
					  "cannot open spool '%s'", path);
		goto fail;
	}

	struct owners owners;
	ret = check_root(sp->dirfd, path, &owners, err);
	if (ret < 0)
		goto fail;
	set_modes(sp, owners.group);

	ret = check_format(sp->dirfd, path, err);
	if (ret == -ENOENT) {
		int empty = dir_is_empty_fd(sp->dirfd);
		if (empty == 1 && (flags & Q_SPOOL_CREATE)) {
			if (flags & Q_SPOOL_GROUP) {
				(void)fchmod(sp->dirfd, 02770);
				set_modes(sp, true);
			}
			ret = init_skeleton(sp->dirfd, sp->group, err, path);
		} else if (empty == 1) {
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "'%s' is an empty directory, not yet "
					  "a spool (submit a job to create it)",
					  path);
		} else {
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "'%s' is not a spoolq spool: it has "
					  "no format file (give an empty or new "
					  "directory with --spool)", path);
		}
	}
	if (ret < 0)
		goto fail;

	if ((ret = open_sub(sp, "tmp", &sp->tmpfd, err)) < 0 ||
	    (ret = open_sub(sp, "jobs", &sp->jobsfd, err)) < 0 ||
	    (ret = open_sub(sp, "workers", &sp->workersfd, err)) < 0 ||
	    (ret = check_subdirs(sp, err)) < 0)
		goto fail;

	if (flags & Q_SPOOL_WRITE) {
		if (faccessat(sp->dirfd, "tmp", W_OK, AT_EACCESS) != 0 ||
		    faccessat(sp->dirfd, "jobs", W_OK, AT_EACCESS) != 0) {
			ret = q_error_set(err, Q_ERR_INPUT, errno,
					  "cannot write to spool '%s' (use a "
					  "spool you can write with --spool)",
					  path);
			goto fail;
		}
	}
	*spool_out = sp;
	return 0;
fail:
	q_spool_close(sp);
	return ret;
}

void q_spool_close(struct q_spool *sp)
{
	if (!sp)
		return;
	q__segment_close(sp);
	int fds[] = { sp->tmpfd, sp->jobsfd, sp->workersfd, sp->dirfd };
	for (size_t i = 0; i < Q_ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (size_t i = 0; i < Q_ARRAY_SIZE(sp->cachefd); i++)
		if (sp->cachefd[i] >= 0)
			close(sp->cachefd[i]);
	q__broadcast_release(sp);
	pthread_mutex_destroy(&sp->bcast_lock);
	q__events_close(sp);
	pthread_mutex_destroy(&sp->events_lock);
	free(sp->path);
	free(sp);
}
