/*
 * qemu-cmmd: the status document, as text for people and for Prometheus
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The daemon answers every connection on its control socket with one JSON
 * object (see docs/tools/qemu-cmmd.rst) and closes it; cmmstat and the
 * daemon's textfile writer format it with these functions.
 */

#ifndef CMMD_STATUS_H
#define CMMD_STATUS_H

#include "qobject/qdict.h"

/* node_exporter's textfile format: one gauge per number, per guest. */
GString *cmmd_status_prometheus(QDict *status);

/* One row per guest, with a header; the way cmmstat prints it. */
GString *cmmd_status_table(QDict *status);

/* Write @text to @path atomically (a reader never sees half of it). */
bool cmmd_status_write_file(const char *path, const char *text, Error **errp);

#endif
