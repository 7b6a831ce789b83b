/* ble-agent's figures for Prometheus: the spool's frames and bytes and its limits, written in
 * node-exporter's textfile format to the file its textfile collector reads (--metrics-file). */
#ifndef SPOOL_METRICS_H
#define SPOOL_METRICS_H

#include <stddef.h>

#include "spool.h"

/* Writes the figures to path whole (a file beside it, then renamed over it, so a collector never
 * reads half of one): 0, or a negative errno. */
int spool_metrics_write(const char *path, size_t frames, size_t bytes, const struct spool_limits *limits);

#endif
