/*
 * spool_internal.h: the spool handle and the file helpers every spool
 * module uses. All of them work relative to directory handles and never
 * follow symbolic links inside the spool.
 */
#ifndef LIBQ_SPOOL_INTERNAL_H
#define LIBQ_SPOOL_INTERNAL_H

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <spoolq/spoolq.h>

#include "internal.h"

#define Q_FORMAT_FILE "format"
#define Q_FORMAT_MAGIC "spoolq-spool"

/* Event logs a process keeps open at once (events.c). */
#define Q_EVENTS_OPEN 8

struct q_spool {
	int dirfd;       /* the spool root */
	int tmpfd;       /* tmp/: staging for every atomic write */
	int jobsfd;      /* jobs/ */
	int workersfd;   /* workers/ */
	char *path;
	bool group;
	mode_t file_mode;   /* 0600, or 0660 in a group spool */
	mode_t dir_mode;    /* 0700, or 02770 in a group spool */
	/* cache/<hh>/ opened on first use (key.c), -1 before; shared by
	 * threads, set once with a compare-and-swap. */
	int cachefd[256];
	/* The segment file commits append to (segment.c), or NULL. */
	struct q_segw *segw;
	/* The MPI world this process is a rank of (q_spool_set_world). */
	char world[Q_WORLD_MAX];
	unsigned world_rank;
	struct q_world_hooks hooks;
	/* Broadcast inputs read by this process (broadcast.c note 2). */
	pthread_mutex_t bcast_lock;
	struct q_bcast_entry *bcast;
	/* Event logs this process appends to (events.c note 3). */
	bool events_off;
	pthread_mutex_t events_lock;
	struct q_events_fd {
		uint64_t job;
		int fd;      /* -1: free */
	} events_fds[Q_EVENTS_OPEN];
	size_t events_next;
};

/* Close the event logs this process kept open (events.c). */
void q__events_close(struct q_spool *sp);

/* The job's broadcast input, read once per process (broadcast.c). */
int q__broadcast_get(struct q_jobh *h, const char **data, size_t *len,
		     struct q_error *err);
void q__broadcast_release(struct q_spool *sp);

/*
 * Open a directory below `dirfd` by a relative path of one or more
 * components, refusing symbolic links and '..' anywhere on the way
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component-by-component
 * O_NOFOLLOW walk where openat2 is missing). Returns an fd or -1/errno.
 */
int q__open_dir_beneath(int dirfd, const char *rel);
/* Same for a regular file opened read-only. */
int q__open_file_beneath(int dirfd, const char *rel);

/*
 * Open a file spoolq wrote, read back from the spool: below dirfd with no
 * symbolic links, a regular file (FIFOs are opened without blocking and
 * refused, as are devices and sockets), and exactly `size` bytes long
 * unless size is Q_SIZE_ANY (a file replaced by a 10 GB sparse file is
 * refused, not read). Returns the fd, or -errno with err set to a message
 * that names the file as `shown`.
 */
#define Q_SIZE_ANY UINT64_MAX
int q__open_file_sized(int dirfd, const char *rel, uint64_t size,
		       const char *shown, struct q_error *err);

/*
 * Open a directory for reading its entries: `rel` below dirfd (no
 * symlinks), or dirfd itself when rel is NULL (a duplicate, rewound, so
 * the caller's handle stays untouched). NULL with errno set on failure;
 * the caller closes it with closedir.
 */
DIR *q__opendir_at(int dirfd, const char *rel);

/* fsync a directory by fd; 0 or -1/errno. */
int q__fsync_dir(int dirfd);

/*
 * The atomic-write recipe, first half: create tmp/<unique>.<purpose>
 * (O_CREAT|O_EXCL|O_NOFOLLOW), write `len` bytes, fsync, close. The
 * temporary's name is written to name_out. On failure the temporary is
 * removed and an error is set.
 */
int q__tmp_write(struct q_spool *sp, const char *purpose, const void *data,
		 size_t len, char *name_out, size_t name_size,
		 struct q_error *err);

/* Create an empty temporary file and return its open fd (for streaming
 * writers such as a command's stdout); its name goes to name_out. */
int q__tmp_create(struct q_spool *sp, const char *purpose, char *name_out,
		  size_t name_size);

/*
 * Second half: publish tmp/<name> as `dest` in `destfd`.
 * q__publish_replace renames (an existing dest is replaced);
 * q__publish_first links (an existing dest wins: returns -EEXIST, and the
 * temporary is left for the caller to remove). Both fsync `destfd` after
 * success. An ambiguous failure (NFS retransmits) is resolved by checking
 * the result, as postfix's sane_rename does.
 */
int q__publish_replace(struct q_spool *sp, const char *tmpname, int destfd,
		       const char *dest);
int q__publish_first(struct q_spool *sp, const char *tmpname, int destfd,
		     const char *dest);

/* Remove tmp/<name>, ignoring ENOENT. */
void q__tmp_remove(struct q_spool *sp, const char *name);

/* A checksum computed as bytes come (checksum.c): q_checksum of all the
 * bytes added so far. */
struct q_sum;
struct q_sum *q__sum_new(void);
void q__sum_add(struct q_sum *s, const void *data, size_t len);
uint64_t q__sum_value(const struct q_sum *s);
void q__sum_free(struct q_sum *s);

/*
 * Read a whole regular file below dirfd (no symlinks, at most `max` bytes,
 * NUL-terminated). Returns 0, -ENOENT, -EFBIG when larger than max, or
 * another -errno. *data_out is malloc'ed.
 */
int q__read_file(int dirfd, const char *rel, size_t max, char **data_out,
		 size_t *len_out);

/*
 * mkdir below dirfd with the spool's directory mode, made exact: in a
 * group spool the umask would strip the group write and setgid bits that
 * other members need (renaming a directory needs write on it). 0, or -1
 * with errno (EEXIST when it exists).
 */
int q__spool_mkdirat(const struct q_spool *sp, int dirfd, const char *name);

/* rmdir below dirfd: 0, or -errno (ENOTEMPTY, ENOENT, ...). */
int q__rmdir(int dirfd, const char *name);

/* True when directory `dirfd`/`rel` has no entries (skipping . and ..).
 * -errno on failure (ENOENT when it does not exist). */
int q__dir_is_empty(int dirfd, const char *rel);

/* "Now" by the file server's clock (mtime of a just-created probe in
 * tmp/), or the local clock when the spool is not writable. */
int64_t q__server_now(struct q_spool *sp);

#endif
