/*
 * qemu-cmmd: one managed guest, seen and driven over QMP
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include "qobject/qbool.h"
#include "guest.h"
#include "host.h"
#include <syslog.h>

#define RETRY_MAX_MS        30000
#define BALLOON_LOOKUP_EVERY 10

const char *cmmd_target_status_name(CmmdTargetStatus s)
{
    static const char *const names[] = {
        [CMMD_TARGET_NONE] = "none", [CMMD_TARGET_ACTIVE] = "active",
        [CMMD_TARGET_REACHED] = "reached", [CMMD_TARGET_STALLED] = "stalled",
    };

    return s < G_N_ELEMENTS(names) ? names[s] : "?";
}

const char *cmmd_stall_reason_name(CmmdStallReason r)
{
    static const char *const names[] = {
        [CMMD_STALL_NONE] = "",
        [CMMD_STALL_DRIVER_NOT_READY] = "driver-not-ready",
        [CMMD_STALL_GUEST_NOT_RESPONDING] = "guest-not-responding",
        [CMMD_STALL_FLOOR] = "floor",
        [CMMD_STALL_DISCARD_DISABLED] = "discard-disabled",
    };

    return r < G_N_ELEMENTS(names) ? names[r] : "?";
}

static CmmdStallReason stall_reason_of(const char *s)
{
    for (CmmdStallReason r = CMMD_STALL_DRIVER_NOT_READY;
         r <= CMMD_STALL_DISCARD_DISABLED; r++) {
        if (s && !strcmp(s, cmmd_stall_reason_name(r))) {
            return r;
        }
    }
    return CMMD_STALL_NONE;
}

static void tmem_client_free(gpointer p)
{
    CmmdTmemClient *c = p;

    g_free(c->device);
    g_free(c);
}

static uint64_t get_u64(QDict *d, const char *key)
{
    QNum *n = d ? qobject_to(QNum, qdict_get(d, key)) : NULL;
    uint64_t v;
    int64_t i;

    if (!n) {
        return 0;
    }
    if (qnum_get_try_uint(n, &v)) {
        return v;
    }
    return qnum_get_try_int(n, &i) && i > 0 ? i : 0;
}

static int64_t get_stat(QDict *d, const char *key)
{
    QNum *n = d ? qobject_to(QNum, qdict_get(d, key)) : NULL;
    int64_t i;
    uint64_t u;

    if (!n) {
        return -1;
    }
    if (qnum_get_try_int(n, &i)) {
        return i;
    }
    /* a guest reporting 2^64-1 ("not supported" in the device) */
    return qnum_get_try_uint(n, &u) && u <= INT64_MAX ? (int64_t)u : -1;
}

/* ---- connection --------------------------------------------------------- */

static void on_event(CmmdQmp *q, const char *name, QDict *data, void *opaque)
{
    CmmdGuest *g = opaque;

    if (!strcmp(name, "BALLOON_TARGET_STALLED")) {
        g->stall_reason = stall_reason_of(qdict_get_try_str(data, "reason"));
        cmmd_log(LOG_NOTICE, "guest %s: balloon target %" PRIu64 "M stalled "
                 "(%s), %" PRIu64 "M short", g->name,
                 get_u64(data, "target") >> 20,
                 cmmd_stall_reason_name(g->stall_reason),
                 get_u64(data, "deficit") >> 20);
    } else if (!strcmp(name, "BALLOON_TARGET_REACHED")) {
        g->stall_reason = CMMD_STALL_NONE;
    } else if (!strcmp(name, "SHUTDOWN")) {
        cmmd_log(LOG_INFO, "guest %s: QEMU shuts down", g->name);
    }
}

static void got_name(CmmdQmp *q, QObject *ret, const char *err, void *opaque)
{
    CmmdGuest *g = opaque;
    QDict *d = qobject_to(QDict, ret);
    const char *name = d ? qdict_get_try_str(d, "name") : NULL;

    if (name && *name && strcmp(name, g->name)) {
        cmmd_log(LOG_INFO, "guest %s: named %s by its -name", g->name, name);
        g_free(g->name);
        g->name = g_strdup(name);
    }
}

static void on_state(CmmdQmp *q, bool up, const char *why, void *opaque)
{
    CmmdGuest *g = opaque;

    g->up = up;
    if (up) {
        pid_t pid = cmmd_qmp_peer_pid(q);

        if (pid != g->pid) {
            /* another QEMU on this socket: nothing carries over */
            cmmd_guest_state_init(&g->state);
            g_clear_pointer(&g->balloon_path, g_free);
            g->balloon_lookups = 0;
            g->stats_interval_set = false;
            g->no_tmem = false;
            memset(&g->snap, 0, sizeof(g->snap));
            g->poll_ok_ms = -1;
        }
        g->pid = pid;
        g->failures = 0;
        g_clear_pointer(&g->down_why, g_free);
        cmmd_log(LOG_INFO, "guest %s: connected to %s (pid %d)", g->name,
                 g->socket, (int)pid);
        cmmd_qmp_exec(q, "query-name", NULL, got_name, g);
        return;
    }
    if (!g_file_test(g->socket, G_FILE_TEST_EXISTS)) {
        g->gone = true;
    }
    if (!g->down_why || strcmp(g->down_why, why)) {
        cmmd_log(g->gone ? LOG_INFO : LOG_WARNING, "guest %s: %s%s", g->name,
                 why, g->gone ? "; its socket is gone" : "");
        g_free(g->down_why);
        g->down_why = g_strdup(why);
    }
}

CmmdGuest *cmmd_guest_new(const char *socket, uint64_t timeout_ms,
                          unsigned stats_interval)
{
    CmmdGuest *g = g_new0(CmmdGuest, 1);
    g_autofree char *base = g_path_get_basename(socket);
    char *dot = strrchr(base, '.');

    if (dot && dot != base) {
        *dot = 0;
    }
    g->socket = g_strdup(socket);
    g->name = g_strdup(base);
    g->timeout_ms = timeout_ms;
    g->stats_interval = stats_interval;
    g->tmem = g_ptr_array_new_with_free_func(tmem_client_free);
    g->qmp = cmmd_qmp_new(socket, timeout_ms, on_state, on_event, g);
    g->poll_ok_ms = -1;
    cmmd_guest_state_init(&g->state);
    return g;
}

void cmmd_guest_free(CmmdGuest *g)
{
    if (!g) {
        return;
    }
    cmmd_qmp_free(g->qmp);
    g_ptr_array_free(g->tmem, true);
    g_free(g->socket);
    g_free(g->name);
    g_free(g->down_why);
    g_free(g->balloon_path);
    g_free(g->poll_error);
    g_free(g);
}

void cmmd_guest_maybe_connect(CmmdGuest *g, int64_t now_ms)
{
    Error *err = NULL;

    /* a connection still negotiating ends by itself, on its timeouts */
    if (g->up || g->gone || now_ms < g->retry_ms || cmmd_qmp_is_open(g->qmp)) {
        return;
    }
    cmmd_qmp_close(g->qmp, NULL);
    if (!g_file_test(g->socket, G_FILE_TEST_EXISTS)) {
        g->gone = true;
        return;
    }
    g->failures++;
    g->retry_ms = now_ms + MIN(RETRY_MAX_MS,
                               1000LL << MIN(g->failures - 1, 5u));
    if (!cmmd_qmp_connect(g->qmp, &err)) {
        const char *why = error_get_pretty(err);

        if (!g->down_why || strcmp(g->down_why, why)) {
            cmmd_log(LOG_WARNING, "guest %s: %s", g->name, why);
            g_free(g->down_why);
            g->down_why = g_strdup(why);
        }
        error_free(err);
    }
}

/* ---- polling ------------------------------------------------------------ */

static void poll_done(CmmdGuest *g, const char *what, const char *err)
{
    if (err) {
        g->poll_failed = true;
        g_free(g->poll_error);
        g->poll_error = g_strdup_printf("%s: %s", what, err);
    }
    if (g->outstanding && --g->outstanding == 0 && !g->poll_failed) {
        g->next.name = g->name;
        g->next.responsive = true;
        g->next.stall_reason = g->next.target_status == CMMD_TARGET_STALLED ?
                               g->stall_reason : CMMD_STALL_NONE;
        g->snap = g->next;
        g->poll_ok_ms = g_get_monotonic_time() / 1000;
        g_clear_pointer(&g->poll_error, g_free);
    }
}

static bool is_class(const char *err, const char *cls)
{
    return err && g_str_has_prefix(err, cls);
}

static void got_balloon(CmmdQmp *q, QObject *ret, const char *err,
                        void *opaque)
{
    CmmdGuest *g = opaque;
    QDict *d = qobject_to(QDict, ret);
    QDict *ps, *t;

    if (is_class(err, "DeviceNotActive")) {
        g->next.has_balloon = false;
        poll_done(g, "query-balloon", NULL);
        return;
    }
    if (!d) {
        poll_done(g, "query-balloon", err ? err : "no answer");
        return;
    }
    g->next.has_balloon = true;
    /* RSS read with the footprint, so the two are one moment's figures */
    g->next.rss = g->pid ? cmmd_pid_rss("/proc", g->pid) : 0;
    g->next.actual = get_u64(d, "actual");
    g->next.has_cmma = qdict_haskey(d, "footprint");
    g->next.footprint = get_u64(d, "footprint");
    ps = qdict_get_qdict(d, "page-states");
    g->next.unused_resident = get_u64(ps, "unused-resident");
    g->next.discarded = get_u64(ps, "discarded") + get_u64(ps, "reported");
    g->next.ballooned = get_u64(ps, "ballooned");
    t = qdict_get_qdict(d, "target");
    g->next.target_status = CMMD_TARGET_NONE;
    if (t) {
        const char *st = qdict_get_try_str(t, "status");
        const char *kind = qdict_get_try_str(t, "kind");

        g->next.target = get_u64(t, "target");
        g->next.target_is_footprint = kind && !strcmp(kind, "footprint");
        g->next.target_status = !st ? CMMD_TARGET_ACTIVE :
            !strcmp(st, "reached") ? CMMD_TARGET_REACHED :
            !strcmp(st, "stalled") ? CMMD_TARGET_STALLED : CMMD_TARGET_ACTIVE;
    }
    if (!g->next.has_cmma) {
        /* without page states the logical size is the best we know */
        g->next.footprint = g->next.actual;
    }
    poll_done(g, "query-balloon", NULL);
}

static void got_memory(CmmdQmp *q, QObject *ret, const char *err,
                       void *opaque)
{
    CmmdGuest *g = opaque;
    QDict *d = qobject_to(QDict, ret);

    g->next.ram = get_u64(d, "base-memory");
    poll_done(g, "query-memory-size-summary", d ? NULL : err);
}

static void got_stats(CmmdQmp *q, QObject *ret, const char *err,
                      void *opaque)
{
    CmmdGuest *g = opaque;
    QDict *d = qobject_to(QDict, ret);
    QDict *s = d ? qdict_get_qdict(d, "stats") : NULL;
    int64_t updated = d ? get_stat(d, "last-update") : -1;
    int64_t age = updated > 0 ? time(NULL) - updated : -1;

    /* stats the guest stopped sending are no signal at all */
    g->next.stats_valid = s && updated > 0 && age >= 0 &&
                          age <= 3 * (int64_t)g->stats_interval + 2;
    if (s) {
        g->next.stats = (CmmdGuestStats) {
            .available = get_stat(s, "stat-available-memory"),
            .free = get_stat(s, "stat-free-memory"),
            .major_faults = get_stat(s, "stat-major-faults"),
            .swap_in = get_stat(s, "stat-swap-in"),
            .alloc_stalls = get_stat(s, "stat-alloc-stalls"),
            .direct_reclaims = get_stat(s, "stat-direct-reclaims"),
            .oom_kills = get_stat(s, "stat-oom-kills"),
        };
    }
    /* an error here is not fatal: stats are hints */
    poll_done(g, "guest-stats", NULL);
}

static void set_interval_done(CmmdQmp *q, QObject *ret, const char *err,
                              void *opaque)
{
    CmmdGuest *g = opaque;

    if (err) {
        cmmd_log(LOG_WARNING, "guest %s: cannot enable balloon statistics: "
                 "%s", g->name, err);
    }
}

static void got_interval(CmmdQmp *q, QObject *ret, const char *err,
                         void *opaque)
{
    CmmdGuest *g = opaque;
    QNum *n = qobject_to(QNum, ret);
    int64_t v;

    if (n && qnum_get_try_int(n, &v) && v == 0 && g->balloon_path) {
        QDict *args = qdict_new();

        qdict_put_str(args, "path", g->balloon_path);
        qdict_put_str(args, "property", "guest-stats-polling-interval");
        qdict_put_int(args, "value", g->stats_interval);
        cmmd_qmp_exec(q, "qom-set", args, set_interval_done, g);
        cmmd_log(LOG_INFO, "guest %s: balloon statistics every %u s",
                 g->name, g->stats_interval);
    }
}

/* qom-list of one container; the reply names it through @opaque's path */
typedef struct Lookup {
    CmmdGuest *g;
    char *dir;
} Lookup;

static void got_list(CmmdQmp *q, QObject *ret, const char *err, void *opaque)
{
    Lookup *lk = opaque;
    CmmdGuest *g = lk->g;
    QList *l = qobject_to(QList, ret);
    QListEntry *e;

    if (l && !g->balloon_path) {
        QLIST_FOREACH_ENTRY(l, e) {
            QDict *p = qobject_to(QDict, qlist_entry_obj(e));
            const char *type = p ? qdict_get_try_str(p, "type") : NULL;
            const char *name = p ? qdict_get_try_str(p, "name") : NULL;

            if (!type || !name || !g_str_has_prefix(type,
                                                    "child<virtio-balloon")) {
                continue;
            }
            /* the proxies keep the device itself as virtio-backend */
            g->balloon_path = !strcmp(type, "child<virtio-balloon-device>") ?
                g_strdup_printf("%s/%s", lk->dir, name) :
                g_strdup_printf("%s/%s/virtio-backend", lk->dir, name);
            cmmd_log(LOG_INFO, "guest %s: balloon at %s", g->name,
                     g->balloon_path);
            break;
        }
    }
    g_free(lk->dir);
    g_free(lk);
}

static void lookup_balloon(CmmdGuest *g)
{
    static const char *const dirs[] = {
        "/machine/peripheral", "/machine/peripheral-anon",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        Lookup *lk = g_new0(Lookup, 1);
        QDict *args = qdict_new();

        lk->g = g;
        lk->dir = g_strdup(dirs[i]);
        qdict_put_str(args, "path", dirs[i]);
        cmmd_qmp_exec(g->qmp, "qom-list", args, got_list, lk);
    }
}

static void got_tmem(CmmdQmp *q, QObject *ret, const char *err, void *opaque)
{
    CmmdGuest *g = opaque;
    QList *pools = qobject_to(QList, ret);
    QListEntry *pe, *ce;

    if (is_class(err, "CommandNotFound")) {
        g->no_tmem = true;
    }
    g_ptr_array_set_size(g->tmem, 0);
    g->next.tmem_ephemeral = g->next.tmem_bytes = g->next.tmem_cap = 0;
    if (pools) {
        QLIST_FOREACH_ENTRY(pools, pe) {
            QDict *pool = qobject_to(QDict, qlist_entry_obj(pe));
            QList *clients = pool ? qdict_get_qlist(pool, "clients") : NULL;
            uint64_t size = get_u64(pool, "size");

            if (!clients) {
                continue;
            }
            QLIST_FOREACH_ENTRY(clients, ce) {
                QDict *c = qobject_to(QDict, qlist_entry_obj(ce));
                CmmdTmemClient *tc;

                if (!c || !qdict_get_try_str(c, "device")) {
                    continue;
                }
                tc = g_new0(CmmdTmemClient, 1);
                tc->device = g_strdup(qdict_get_try_str(c, "device"));
                tc->bytes = get_u64(c, "bytes");
                tc->cap = get_u64(c, "cap") ?: size;
                g_ptr_array_add(g->tmem, tc);
                g->next.tmem_ephemeral += get_u64(c, "ephemeral-pages") * 4096;
                g->next.tmem_bytes += tc->bytes;
                g->next.tmem_cap += tc->cap;
            }
        }
    }
    /* tmem is optional: an error here leaves the guest usable */
    poll_done(g, "query-tmem", NULL);
}

void cmmd_guest_poll(CmmdGuest *g, int64_t now_ms)
{
    if (!g->up) {
        g->snap.responsive = false;
        return;
    }
    if (g->outstanding) {
        /*
         * The last poll has not finished: QEMU hangs, or is very slow.
         * Its answers or timeouts still come; a new poll now would have
         * them counted as its own, so none starts until they are in.
         */
        g->snap.responsive = false;
        if (!g->poll_error) {
            g->poll_error = g_strdup("the last poll did not finish");
        }
        return;
    }
    g->next = g->snap;
    g->poll_failed = false;
    g->outstanding = 3;
    cmmd_qmp_exec(g->qmp, "query-memory-size-summary", NULL, got_memory, g);
    cmmd_qmp_exec(g->qmp, "query-balloon", NULL, got_balloon, g);
    if (g->no_tmem) {
        g->outstanding--;
    } else {
        cmmd_qmp_exec(g->qmp, "query-tmem", NULL, got_tmem, g);
    }
    if (g->balloon_path) {
        QDict *args = qdict_new();

        qdict_put_str(args, "path", g->balloon_path);
        qdict_put_str(args, "property", "guest-stats");
        g->outstanding++;
        cmmd_qmp_exec(g->qmp, "qom-get", args, got_stats, g);
        if (!g->stats_interval_set) {
            args = qdict_new();
            qdict_put_str(args, "path", g->balloon_path);
            qdict_put_str(args, "property", "guest-stats-polling-interval");
            cmmd_qmp_exec(g->qmp, "qom-get", args, got_interval, g);
            g->stats_interval_set = true;
        }
    } else if (g->balloon_lookups++ % BALLOON_LOOKUP_EVERY == 0) {
        lookup_balloon(g);
    }
}

bool cmmd_guest_usable(CmmdGuest *g, int64_t now_ms, int64_t tick_ms)
{
    return g->up && g->poll_ok_ms >= 0 && g->snap.ram &&
           now_ms - g->poll_ok_ms <= 2 * tick_ms + (int64_t)g->timeout_ms;
}

/* ---- actions ------------------------------------------------------------ */

typedef struct Sent {
    CmmdGuest *g;
    char *what;
} Sent;

static void action_done(CmmdQmp *q, QObject *ret, const char *err,
                        void *opaque)
{
    Sent *s = opaque;

    if (err) {
        s->g->actions_failed++;
        cmmd_log(LOG_WARNING, "guest %s: %s failed: %s", s->g->name, s->what,
                 err);
    }
    g_free(s->what);
    g_free(s);
}

static void send_action(CmmdGuest *g, const char *cmd, QDict *args,
                        const char *what)
{
    Sent *s = g_new0(Sent, 1);

    s->g = g;
    s->what = g_strdup(what);
    cmmd_qmp_exec(g->qmp, cmd, args, action_done, s);
}

void cmmd_guest_apply(CmmdGuest *g, const CmmdAction *a)
{
    QDict *args;

    switch (a->kind) {
    case CMMD_ACT_FLUSH:
        send_action(g, "cmma-flush", NULL, "cmma-flush");
        break;
    case CMMD_ACT_TARGET:
        args = qdict_new();
        qdict_put_str(args, "kind", "footprint");
        qdict_put_int(args, "target", MAX(a->value, CMMD_MIN_TARGET));
        if (a->rate) {
            qdict_put_int(args, "rate", MIN(a->rate, (uint64_t)INT64_MAX));
        }
        if (a->floor) {
            qdict_put_int(args, "floor", a->floor);
        }
        send_action(g, "balloon-set-target", args, "balloon-set-target");
        break;
    case CMMD_ACT_BALLOON:
        args = qdict_new();
        qdict_put_int(args, "value", a->value);
        send_action(g, "balloon", args, "balloon");
        break;
    case CMMD_ACT_TMEM_CAP: {
        uint64_t total = 0;

        for (guint i = 0; i < g->tmem->len; i++) {
            total += ((CmmdTmemClient *)g_ptr_array_index(g->tmem, i))->bytes;
        }
        for (guint i = 0; i < g->tmem->len; i++) {
            CmmdTmemClient *c = g_ptr_array_index(g->tmem, i);
            /* the guest's cap, split over its devices by what they hold */
            uint64_t cap = total ? (uint64_t)((double)a->value * c->bytes /
                                              total) :
                           a->value / g->tmem->len;

            args = qdict_new();
            qdict_put_str(args, "device", c->device);
            qdict_put_int(args, "cap", MAX(cap, CMMD_MIN_TMEM_CAP));
            send_action(g, "tmem-set-client", args, "tmem-set-client");
        }
        break;
    }
    }
    snprintf(g->last_action, sizeof(g->last_action), "%s %" PRIu64 "M",
             cmmd_action_name(a->kind), a->value >> 20);
    g->last_action_ms = g_get_monotonic_time() / 1000;
}
