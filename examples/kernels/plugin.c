/*
 * plugin.c: the example plugin's registration: the one Q_PLUGIN line
 * that makes libqexample.so loadable by qworker --plugin, qsubmit
 * --plugin and a workflow's `plugins:` (docs/kernels.md).
 */
#include <spoolq/kernel.h>

#include "qexample.h"

Q_PLUGIN(&qexample_square, &qexample_sincos_block);
