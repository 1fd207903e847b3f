/*
 * spoolq/export.h: symbol visibility. libq is built with
 * -fvisibility=hidden; only declarations marked Q_EXPORT are part of the
 * shared library's interface.
 */
#ifndef SPOOLQ_EXPORT_H
#define SPOOLQ_EXPORT_H

#if defined(Q_BUILDING_LIBQ) && defined(__GNUC__)
#define Q_EXPORT __attribute__((visibility("default")))
#else
#define Q_EXPORT
#endif

#endif
