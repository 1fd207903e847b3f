/*
 * mpipath_none.c: qworker built without MPI (meson -Dmpi=disabled, or no
 * MPI library found): --mpi says so; everything else goes through the
 * spool's files, as it always can.
 */
#include <errno.h>

#include "mpipath.h"

bool q_mpi_available(void)
{
	return false;
}

int q_mpi_start(struct q_spool *spool, const char *worker_id,
		const struct q_mpi_options *opt, struct q_mpi **out,
		struct q_error *err)
{
	*out = NULL;
	return q_error_set(err, Q_ERR_INPUT, 0,
			   "this qworker was built without MPI: install "
			   "libopenmpi-dev and rebuild (meson -Dmpi=enabled), "
			   "or run without --mpi (results then go through the "
			   "spool's files)");
}

size_t q_mpi_hold_limit(const struct q_mpi *m)
{
	return 0;
}

bool q_mpi_keep(struct q_mpi *m, uint64_t job, uint64_t item,
		unsigned attempt, uint64_t task_threshold,
		struct q_output *out)
{
	return false;
}

void q_mpi_settle(struct q_mpi *m, uint64_t job, uint64_t item,
		  unsigned attempt, bool published)
{
}

void q_mpi_spill_all(struct q_mpi *m)
{
}

void q_mpi_stop(struct q_mpi *m)
{
}
