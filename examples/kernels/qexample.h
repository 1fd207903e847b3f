/*
 * qexample.h: the kernels of the example plugin (one file each), for
 * plugin.c's Q_PLUGIN line.
 */
#ifndef QEXAMPLE_H
#define QEXAMPLE_H

#include <spoolq/kernel.h>

extern const struct q_kernel qexample_square;
extern const struct q_kernel qexample_sincos_block;

#endif
