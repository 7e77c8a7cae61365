/*
 * qemu-cmmd: one managed guest, seen and driven over QMP
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each tick the daemon takes the guest's last complete view (snap) for the
 * policy and starts a new poll: query-balloon, the balloon's guest-stats,
 * query-tmem.  A poll that has not finished by the next tick, a timeout or
 * an error makes the guest unresponsive for the policy.  A closed socket
 * is reconnected with a growing delay; a socket file that is gone ends the
 * guest.  Main loop thread only.
 */

#ifndef CMMD_GUEST_H
#define CMMD_GUEST_H

#include "policy.h"
#include "qmp-client.h"

typedef struct CmmdTmemClient {
    char *device;
    uint64_t bytes;
    uint64_t cap;               /* 0 resolved to the pool's size */
} CmmdTmemClient;

typedef struct CmmdGuest {
    char *socket;
    char *name;                 /* query-name, else the socket's base name */
    CmmdQmp *qmp;
    pid_t pid;
    bool up;
    bool gone;                  /* the socket file vanished: drop it */
    char *down_why;             /* why it is not connected */
    unsigned failures;          /* connection attempts failed in a row */
    int64_t retry_ms;           /* next connection attempt */
    uint64_t timeout_ms;
    unsigned stats_interval;

    char *balloon_path;         /* QOM path of the virtio-balloon device */
    unsigned balloon_lookups;
    bool stats_interval_set;
    bool no_tmem;               /* query-tmem is not there */
    GPtrArray *tmem;            /* CmmdTmemClient, from the last poll */

    unsigned outstanding;       /* replies of this poll still to come */
    bool poll_failed;
    char *poll_error;
    int64_t poll_ok_ms;         /* when a poll last completed, -1 never */
    CmmdGuestSnap snap;         /* the last complete view */
    CmmdGuestSnap next;         /* being filled by the running poll */
    CmmdStallReason stall_reason;   /* from BALLOON_TARGET_STALLED */
    CmmdGuestState state;       /* the policy's memory of it */

    char last_action[200];
    int64_t last_action_ms;
    unsigned actions_failed;
} CmmdGuest;

CmmdGuest *cmmd_guest_new(const char *socket, uint64_t timeout_ms,
                          unsigned stats_interval);
void cmmd_guest_free(CmmdGuest *g);

/* Connect if not connected and it is time; @now_ms is monotonic. */
void cmmd_guest_maybe_connect(CmmdGuest *g, int64_t now_ms);

/* Start this tick's poll (the previous one is abandoned if still open). */
void cmmd_guest_poll(CmmdGuest *g, int64_t now_ms);

/* Is the snapshot fresh enough for the policy? */
bool cmmd_guest_usable(CmmdGuest *g, int64_t now_ms, int64_t tick_ms);

/* Send one decision of the policy. */
void cmmd_guest_apply(CmmdGuest *g, const CmmdAction *a);

const char *cmmd_target_status_name(CmmdTargetStatus s);
const char *cmmd_stall_reason_name(CmmdStallReason r);

/* The daemon's log, shared with guest.c: one line, journald-friendly. */
void cmmd_log(int prio, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#endif
