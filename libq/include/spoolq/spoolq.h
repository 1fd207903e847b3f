/*
 * spoolq/spoolq.h: everything libq offers, in one include.
 *
 * spoolq is a server-less job queue: the queue is a directory (the spool)
 * on a shared file system. See error.h (how failures are reported),
 * spool.h (the spool), job.h (jobs and their tasks), queue.h (claiming and
 * finishing work), record.h (outcomes), status.h (progress and workers)
 * and kernel.h (C kernels run inside workers).
 */
#ifndef SPOOLQ_SPOOLQ_H
#define SPOOLQ_SPOOLQ_H

#include <spoolq/export.h>
#include <spoolq/error.h>
#include <spoolq/names.h>
#include <spoolq/spool.h>
#include <spoolq/job.h>
#include <spoolq/record.h>
#include <spoolq/queue.h>
#include <spoolq/bigbuf.h>
#include <spoolq/sink.h>
#include <spoolq/status.h>
#include <spoolq/events.h>
#include <spoolq/kernel.h>
#include <spoolq/workflow.h>
#include <spoolq/version.h>

#endif
