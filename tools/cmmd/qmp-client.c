/*
 * qemu-cmmd: an asynchronous QMP client on a unix socket
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <glib-unix.h>
#include "qapi/error.h"
#include "qobject/json-parser.h"
#include "qobject/qjson.h"
#include "qobject/qstring.h"
#include "qobject/qnum.h"
#include "qemu/sockets.h"
#include "qmp-client.h"

/* More than this unanswered output means the peer does not read: drop it. */
#define MAX_OUTBUF      (1024 * 1024)

typedef struct Pending {
    CmmdQmp *q;
    uint64_t id;
    CmmdQmpReplyFn *cb;
    void *opaque;
    guint timer;
} Pending;

struct CmmdQmp {
    char *path;
    uint64_t timeout_ms;
    CmmdQmpStateFn *state_fn;
    CmmdQmpEventFn *event_fn;
    void *opaque;

    int fd;
    guint in_watch, out_watch, greet_timer;
    GString *out;
    JSONMessageParser parser;
    bool parser_live;
    bool in_feed;               /* inside json_message_parser_feed() */
    bool greeted, up;
    pid_t pid;
    uint64_t next_id;
    GHashTable *pending;        /* id -> Pending */
    GQueue deferred;            /* Pending answered before return */
    guint deferred_idle;
};

static void pending_free(gpointer p)
{
    Pending *pd = p;

    if (pd->timer) {
        g_source_remove(pd->timer);
    }
    g_free(pd);
}

static void finish(Pending *pd, QObject *ret, const char *err)
{
    CmmdQmpReplyFn *cb = pd->cb;
    void *opaque = pd->opaque;
    CmmdQmp *q = pd->q;

    g_hash_table_remove(q->pending, &pd->id);   /* frees pd */
    if (cb) {
        cb(q, ret, err, opaque);
    }
}

static gboolean pending_timeout(gpointer p)
{
    Pending *pd = p;
    g_autofree char *err = g_strdup_printf("timeout after %" PRIu64 " ms",
                                           pd->q->timeout_ms);

    pd->timer = 0;
    finish(pd, NULL, err);
    return G_SOURCE_REMOVE;
}

static void fail_all(CmmdQmp *q, const char *why)
{
    GList *ids = g_hash_table_get_keys(q->pending);

    for (GList *l = ids; l; l = l->next) {
        Pending *pd = g_hash_table_lookup(q->pending, l->data);

        if (pd) {
            finish(pd, NULL, why);
        }
    }
    g_list_free(ids);
}

void cmmd_qmp_close(CmmdQmp *q, const char *why)
{
    bool was_open = q->fd >= 0;

    if (q->in_watch) {
        g_source_remove(q->in_watch);
        q->in_watch = 0;
    }
    if (q->out_watch) {
        g_source_remove(q->out_watch);
        q->out_watch = 0;
    }
    if (q->greet_timer) {
        g_source_remove(q->greet_timer);
        q->greet_timer = 0;
    }
    if (q->fd >= 0) {
        close(q->fd);
        q->fd = -1;
    }
    if (q->parser_live && !q->in_feed) {
        /* from within the parser's callback, in_ready() destroys it */
        json_message_parser_destroy(&q->parser);
        q->parser_live = false;
    }
    g_string_truncate(q->out, 0);
    q->greeted = q->up = false;
    fail_all(q, why ? why : "connection closed");
    if (was_open && q->state_fn) {
        q->state_fn(q, false, why ? why : "connection closed", q->opaque);
    }
}

static gboolean out_ready(int fd, GIOCondition cond, gpointer p);

static void flush_out(CmmdQmp *q)
{
    while (q->out->len) {
        ssize_t n = send(q->fd, q->out->str, q->out->len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (q->out->len > MAX_OUTBUF) {
                cmmd_qmp_close(q, "QEMU reads no commands");
                return;
            }
            if (!q->out_watch) {
                q->out_watch = g_unix_fd_add(q->fd, G_IO_OUT, out_ready, q);
            }
            return;
        }
        if (n < 0) {
            g_autofree char *why = g_strdup_printf("write: %s",
                                                   strerror(errno));
            cmmd_qmp_close(q, why);
            return;
        }
        g_string_erase(q->out, 0, n);
    }
}

static gboolean out_ready(int fd, GIOCondition cond, gpointer p)
{
    CmmdQmp *q = p;

    q->out_watch = 0;
    flush_out(q);
    return G_SOURCE_REMOVE;
}

static void send_msg(CmmdQmp *q, QDict *msg)
{
    GString *json = qobject_to_json(QOBJECT(msg));

    g_string_append(q->out, json->str);
    g_string_append_c(q->out, '\n');
    g_string_free(json, true);
    if (!q->out_watch) {
        flush_out(q);
    }
}

static void caps_done(CmmdQmp *q, QObject *ret, const char *err, void *o)
{
    if (err) {
        g_autofree char *why = g_strdup_printf("qmp_capabilities: %s", err);

        if (q->fd >= 0) {
            cmmd_qmp_close(q, why);
        }
        return;
    }
    q->up = true;
    if (q->state_fn) {
        q->state_fn(q, true, NULL, q->opaque);
    }
}

static void handle_msg(CmmdQmp *q, QObject *obj)
{
    QDict *msg = qobject_to(QDict, obj);
    QObject *id;
    Pending *pd;

    if (!msg) {
        cmmd_qmp_close(q, "not QMP: a message that is not a JSON object");
        return;
    }
    if (!q->greeted) {
        if (!qdict_haskey(msg, "QMP")) {
            cmmd_qmp_close(q, "not QMP: no greeting");
            return;
        }
        q->greeted = true;
        if (q->greet_timer) {
            g_source_remove(q->greet_timer);
            q->greet_timer = 0;
        }
        cmmd_qmp_exec(q, "qmp_capabilities", NULL, caps_done, NULL);
        return;
    }
    if (qdict_haskey(msg, "event")) {
        const char *name = qdict_get_try_str(msg, "event");

        if (name && q->event_fn) {
            q->event_fn(q, name, qdict_get_qdict(msg, "data"), q->opaque);
        }
        return;
    }
    id = qdict_get(msg, "id");
    if (!id || qobject_type(id) != QTYPE_QNUM) {
        return;                 /* not ours; an answer after its timeout */
    }
    {
        uint64_t key;

        if (!qnum_get_try_uint(qobject_to(QNum, id), &key)) {
            return;
        }
        pd = g_hash_table_lookup(q->pending, &key);
    }
    if (!pd) {
        return;
    }
    if (qdict_haskey(msg, "return")) {
        finish(pd, qdict_get(msg, "return"), NULL);
    } else {
        QDict *e = qdict_get_qdict(msg, "error");
        g_autofree char *err = g_strdup_printf(
            "%s: %s", e ? qdict_get_try_str(e, "class") ?: "?" : "?",
            e ? qdict_get_try_str(e, "desc") ?: "" : "malformed answer");

        finish(pd, NULL, err);
    }
}

static void parsed(void *opaque, QObject *obj, Error *err)
{
    CmmdQmp *q = opaque;

    if (q->fd < 0) {
        qobject_unref(obj);
        error_free(err);
        return;
    }
    if (err) {
        g_autofree char *why = g_strdup_printf("not QMP: %s",
                                               error_get_pretty(err));
        error_free(err);
        qobject_unref(obj);
        cmmd_qmp_close(q, why);
        return;
    }
    handle_msg(q, obj);
    qobject_unref(obj);
}

static gboolean in_ready(int fd, GIOCondition cond, gpointer p)
{
    CmmdQmp *q = p;
    char buf[8192];
    ssize_t n;

    n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        g_autofree char *why = n < 0 ?
            g_strdup_printf("read: %s", strerror(errno)) :
            g_strdup("QEMU closed the connection");

        q->in_watch = 0;        /* removed by returning REMOVE */
        cmmd_qmp_close(q, why);
        return G_SOURCE_REMOVE;
    }
    q->in_feed = true;
    json_message_parser_feed(&q->parser, buf, n);
    q->in_feed = false;
    /* a message may have closed us (not QMP), or a callback */
    if (q->fd < 0) {
        if (q->parser_live) {
            json_message_parser_destroy(&q->parser);
            q->parser_live = false;
        }
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean greet_timeout(gpointer p)
{
    CmmdQmp *q = p;
    g_autofree char *why = g_strdup_printf(
        "not QMP: no greeting in %" PRIu64 " ms", q->timeout_ms);

    q->greet_timer = 0;
    cmmd_qmp_close(q, why);
    return G_SOURCE_REMOVE;
}

CmmdQmp *cmmd_qmp_new(const char *path, uint64_t timeout_ms,
                      CmmdQmpStateFn *state_fn, CmmdQmpEventFn *event_fn,
                      void *opaque)
{
    CmmdQmp *q = g_new0(CmmdQmp, 1);

    q->path = g_strdup(path);
    q->timeout_ms = timeout_ms;
    q->state_fn = state_fn;
    q->event_fn = event_fn;
    q->opaque = opaque;
    q->fd = -1;
    q->out = g_string_new(NULL);
    q->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                       pending_free);
    g_queue_init(&q->deferred);
    return q;
}

bool cmmd_qmp_connect(CmmdQmp *q, Error **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int fd;

    if (q->fd >= 0) {
        return true;
    }
    if (strlen(q->path) >= sizeof(addr.sun_path)) {
        error_setg(errp, "%s: socket path too long", q->path);
        return false;
    }
    strcpy(addr.sun_path, q->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "socket");
        return false;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        error_setg_errno(errp, errno, "%s: connect", q->path);
        close(fd);
        return false;
    }
    if (q->parser_live) {
        json_message_parser_destroy(&q->parser);
    }
    q->fd = fd;
    q->pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ?
             cred.pid : 0;
    json_message_parser_init(&q->parser, parsed, q, NULL);
    q->parser_live = true;
    q->in_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                in_ready, q);
    q->greet_timer = g_timeout_add(q->timeout_ms, greet_timeout, q);
    return true;
}

static gboolean run_deferred(gpointer p)
{
    CmmdQmp *q = p;
    Pending *pd;

    q->deferred_idle = 0;
    while ((pd = g_queue_pop_head(&q->deferred))) {
        CmmdQmpReplyFn *cb = pd->cb;
        void *opaque = pd->opaque;

        g_free(pd);
        cb(q, NULL, "not connected", opaque);
    }
    return G_SOURCE_REMOVE;
}

void cmmd_qmp_exec(CmmdQmp *q, const char *cmd, QDict *args,
                   CmmdQmpReplyFn *cb, void *opaque)
{
    Pending *pd = g_new0(Pending, 1);
    QDict *msg;

    pd->q = q;
    pd->cb = cb;
    pd->opaque = opaque;
    if (q->fd < 0 || !q->greeted) {
        qobject_unref(args);
        if (cb) {
            g_queue_push_tail(&q->deferred, pd);
            if (!q->deferred_idle) {
                q->deferred_idle = g_idle_add(run_deferred, q);
            }
        } else {
            g_free(pd);
        }
        return;
    }
    pd->id = ++q->next_id;
    pd->timer = g_timeout_add(q->timeout_ms, pending_timeout, pd);
    g_hash_table_insert(q->pending, &pd->id, pd);
    msg = qdict_new();
    qdict_put_str(msg, "execute", cmd);
    if (args) {
        qdict_put(msg, "arguments", args);
    }
    qdict_put_int(msg, "id", pd->id);
    send_msg(q, msg);
    qobject_unref(msg);
}

bool cmmd_qmp_is_up(CmmdQmp *q)
{
    return q->up;
}

bool cmmd_qmp_is_open(CmmdQmp *q)
{
    return q->fd >= 0;
}

pid_t cmmd_qmp_peer_pid(CmmdQmp *q)
{
    return q->fd >= 0 ? q->pid : 0;
}

unsigned cmmd_qmp_pending(CmmdQmp *q)
{
    return g_hash_table_size(q->pending);
}

void cmmd_qmp_free(CmmdQmp *q)
{
    Pending *pd;

    if (!q) {
        return;
    }
    q->state_fn = NULL;
    cmmd_qmp_close(q, "shutting down");
    while ((pd = g_queue_pop_head(&q->deferred))) {
        g_free(pd);
    }
    if (q->deferred_idle) {
        g_source_remove(q->deferred_idle);
    }
    g_hash_table_destroy(q->pending);
    g_string_free(q->out, true);
    g_free(q->path);
    g_free(q);
}
