/*
 * mpiworld.h: what the files of the MPI fast path share (mpipath.c,
 * mpibcast.c): the messages, the store's entries, one rank's state.
 * Internal to qworker; mpipath.h is the interface.
 */
#ifndef QWORKER_MPIWORLD_H
#define QWORKER_MPIWORLD_H

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

#include "mpipath.h"

#define TAG_REQUEST 1
#define TAG_FIRST_REPLY 16
#define MESSAGE_MAX ((size_t)64 << 20)
#define LIVENESS_EVERY_NS 200000000LL
#define NAP_MIN_NS 10000L
#define NAP_MAX_NS 500000L
#define SPINS_BEFORE_NAP 2000
#define PULL_TRIES 3
#define RECOMPUTE_DEPTH_MAX 32
#define MOVED_FLUSH_NS 1000000000LL
#define BCAST_MESSAGE_MAX ((size_t)1 << 30)
#define BCAST_FAILED_LEN UINT64_MAX

enum { REQ_FETCH = 1, REQ_BCAST_NEED = 2, REQ_BCAST_START = 3 };
enum { REPLY_HELD = 0, REPLY_NOT_HELD = 1 };

struct request {
	uint32_t kind;
	uint32_t reply_tag;
	uint64_t job;
	uint64_t item;
	uint32_t attempt;
	uint32_t pad;
	uint64_t len, sum;   /* BCAST_START */
};

/* One job's broadcast input on this rank (design note 7). */
enum bcast_state { BCAST_WAITING, BCAST_READY, BCAST_FAILED };
struct bcast {
	struct bcast *next;
	uint64_t job;
	enum bcast_state state;
	bool started;            /* rank 0: BCAST_START sent */
	char *data;              /* the broadcast's bytes */
	size_t len;
	uint64_t sum;
	char *file_data;         /* read from the file instead */
	size_t file_len;
};

struct reply {
	int32_t status;
	uint32_t pad;
	uint64_t len;
	uint64_t sum;
};

/* One held result. */
struct held {
	struct held *next;
	struct q_mpi *m;   /* for a lending's release (copy_own) */
	uint64_t job, item;
	unsigned attempt;
	char *data;
	size_t len;
	uint64_t sum;
	bool published;    /* its record counts: others may ask for it */
	bool spilling;     /* being written to the spool */
	unsigned refs;     /* senders and the spiller using data */
	bool dropped;      /* out of the list: free at refs == 0 */
};

struct moved_job {
	uint64_t job;
	struct q_moved moved;
	bool dirty;
};

struct q_mpi {
	struct q_spool *sp;
	struct q_jobcache *cache;
	struct q_mpi_options opt;
	char worker_id[Q_WORKER_ID_MAX];
	char world[Q_WORLD_MAX];
	int rank, size;
	int tag_span;
	char (*peer_ids)[Q_WORKER_ID_MAX];
	MPI_Comm comm;        /* requests and replies */
	MPI_Comm exit_comm;   /* the exit barrier */
	pthread_t server;
	bool server_started;
	atomic_int stop;
	atomic_uint next_tag;
	pthread_mutex_t lock;  /* held, held_bytes */
	struct held *held;     /* newest first */
	size_t held_bytes;
	pthread_mutex_t moved_lock;
	struct moved_job *moved;
	size_t nmoved, cap_moved;
	int64_t moved_flushed;
	pthread_mutex_t peers_lock;
	int64_t peers_checked;
	bool *peer_gone;
	MPI_Comm bcast_comm;      /* the broadcasts' collectives */
	pthread_mutex_t bcast_lock;
	pthread_cond_t bcast_cond;
	struct bcast *bcasts;
	uint64_t bcasts_started;  /* rank 0: broadcasts begun */
	uint64_t bcasts_done;     /* broadcasts this rank finished */
};

/* Shared helpers (mpipath.c). */
int64_t mpi_mono_ns(void);
/* Sleep a little longer each time (10 us doubling to 500 us). */
void mpi_nap(long *ns);
/* Is any other rank's worker gone (its heartbeat file)? Which one. */
bool mpi_any_peer_gone(struct q_mpi *m, int *which);
/* Count bytes of job's big results moved over MPI and from files. */
void mpi_count_moved(struct q_mpi *m, uint64_t job, uint64_t mpi_bytes,
		     uint64_t file_bytes);

/* Broadcast inputs (mpibcast.c). The server thread of rank 0 begins a
 * broadcast when a rank asks; the others join when rank 0 says so. */
void mpi_bcast_begin(struct q_mpi *m, uint64_t job);
void mpi_bcast_join(struct q_mpi *m, const struct request *q);
/* The broadcast hook (spoolq/spool.h struct q_world_hooks). */
int mpi_bcast_get(void *arg, struct q_jobh *h, const char **data,
		  size_t *len, struct q_error *err);
void mpi_bcasts_free(struct q_mpi *m);

#endif
