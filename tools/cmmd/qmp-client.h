/*
 * qemu-cmmd: an asynchronous QMP client on a unix socket
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Messages are parsed with QEMU's own JSON message parser.  Every command
 * has a timeout; a peer that sends no greeting in time, or anything that
 * is not QMP, is dropped.  Nothing here blocks: a QEMU that hangs only
 * makes its own commands time out.  Everything runs in the GLib main
 * loop thread, callbacks included.
 */

#ifndef CMMD_QMP_CLIENT_H
#define CMMD_QMP_CLIENT_H

#include "qobject/qdict.h"

typedef struct CmmdQmp CmmdQmp;

/*
 * The answer to one command: @ret is its "return" value (borrowed; take a
 * reference to keep it) or NULL with @err set to the error class and
 * description, "timeout after N ms" or "connection closed".
 */
typedef void CmmdQmpReplyFn(CmmdQmp *q, QObject *ret, const char *err,
                            void *opaque);
/* An event: @data may be NULL; borrowed. */
typedef void CmmdQmpEventFn(CmmdQmp *q, const char *name, QDict *data,
                            void *opaque);
/* Up after capabilities negotiation, or down with the reason. */
typedef void CmmdQmpStateFn(CmmdQmp *q, bool up, const char *why,
                            void *opaque);

CmmdQmp *cmmd_qmp_new(const char *path, uint64_t timeout_ms,
                      CmmdQmpStateFn *state_fn, CmmdQmpEventFn *event_fn,
                      void *opaque);

/* Connect; false (with @errp set) when the socket refuses at once. */
bool cmmd_qmp_connect(CmmdQmp *q, Error **errp);

/* Send a command; @args (may be NULL) is taken.  Never calls @cb inline. */
void cmmd_qmp_exec(CmmdQmp *q, const char *cmd, QDict *args,
                   CmmdQmpReplyFn *cb, void *opaque);

/* Drop the connection; pending commands fail with "connection closed". */
void cmmd_qmp_close(CmmdQmp *q, const char *why);

bool cmmd_qmp_is_up(CmmdQmp *q);
/* Connected, perhaps still waiting for the greeting or capabilities. */
bool cmmd_qmp_is_open(CmmdQmp *q);
/* The peer's pid, from SO_PEERCRED; 0 if unknown. */
pid_t cmmd_qmp_peer_pid(CmmdQmp *q);
unsigned cmmd_qmp_pending(CmmdQmp *q);

void cmmd_qmp_free(CmmdQmp *q);

#endif
