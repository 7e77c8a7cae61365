/*
 * qemu-cmmd: keep many QEMU guests inside a host memory budget
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One GLib main loop thread does everything: it finds QMP sockets by
 * glob, polls every guest each tick, runs the policy (policy.c) on the
 * last complete snapshots, logs each decision with its reason and sends
 * it, and answers cmmstat on its control socket.  See
 * docs/tools/qemu-cmmd.rst.
 */

#include "qemu/osdep.h"
#include <glob.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib-unix.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
#include "qobject/qnum.h"
#include "config.h"
#include "guest.h"
#include "host.h"
#include "status.h"

typedef struct Daemon {
    CmmdConfig *cfg;
    char *config_path;
    bool dry_run;
    bool verbose;
    GMainLoop *loop;
    GPtrArray *guests;          /* CmmdGuest */
    CmmdPolicyState ps;
    CmmdDecisions d;
    CmmdHostSnap host;
    char *cgroup_dir;           /* resolved budget cgroup */
    char *budget_error;         /* why the budget could not be read */
    int ctl_fd;
    guint ctl_watch, tick_timer;
    bool was_all_at_floor;
    unsigned ticks;
} Daemon;

static bool journal;

void cmmd_log(int prio, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (journal) {
        /* systemd reads the priority from the <N> prefix */
        fprintf(stderr, "<%d>%s\n", prio, msg);
    } else {
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        g_autofree char *ts = g_date_time_format(now, "%F %T");

        fprintf(stderr, "%s.%03d qemu-cmmd: %s\n", ts,
                g_date_time_get_microsecond(now) / 1000, msg);
    }
}

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* ---- guests ------------------------------------------------------------- */

static CmmdGuest *find_guest(Daemon *dm, const char *socket)
{
    for (guint i = 0; i < dm->guests->len; i++) {
        CmmdGuest *g = g_ptr_array_index(dm->guests, i);

        if (!strcmp(g->socket, socket)) {
            return g;
        }
    }
    return NULL;
}

static void discover(Daemon *dm)
{
    for (char **pat = dm->cfg->sockets; pat && *pat; pat++) {
        glob_t gl;

        if (glob(*pat, 0, NULL, &gl) != 0) {
            continue;
        }
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            const char *p = gl.gl_pathv[i];
            CmmdGuest *g = find_guest(dm, p);

            if (!g_file_test(p, G_FILE_TEST_EXISTS) ||
                (dm->cfg->control && !strcmp(p, dm->cfg->control))) {
                continue;
            }
            if (g && g->gone) {
                /* a new QEMU on the socket of one that went away */
                g->gone = false;
                g->retry_ms = 0;
                g->failures = 0;
            }
            if (!g) {
                g = cmmd_guest_new(p, dm->cfg->qmp_timeout_ms,
                                   dm->cfg->stats_interval);
                g_ptr_array_add(dm->guests, g);
                cmmd_log(LOG_INFO, "guest %s: found %s", g->name, p);
            }
        }
        globfree(&gl);
    }
    for (guint i = 0; i < dm->guests->len;) {
        CmmdGuest *g = g_ptr_array_index(dm->guests, i);

        if (g->gone && !g_file_test(g->socket, G_FILE_TEST_EXISTS)) {
            cmmd_log(LOG_INFO, "guest %s: gone (%s removed)", g->name,
                     g->socket);
            g_ptr_array_remove_index(dm->guests, i);
            continue;
        }
        i++;
    }
}

/* ---- host --------------------------------------------------------------- */

static void set_budget_error(Daemon *dm, const char *why)
{
    if (!dm->budget_error || strcmp(dm->budget_error, why)) {
        cmmd_log(LOG_ERR, "budget: %s", why);
        g_free(dm->budget_error);
        dm->budget_error = g_strdup(why);
    }
}

/* The host snapshot; false when the budget cannot be known this tick. */
static bool read_host(Daemon *dm)
{
    CmmdHostSnap *h = &dm->host;
    Error *err = NULL;

    h->mem_available = cmmd_mem_available("/proc/meminfo");
    h->psi_some_avg10 = cmmd_psi_some_avg10("/proc/pressure/memory");
    if (dm->cfg->budget_source == CMMD_BUDGET_BYTES) {
        int64_t now = now_ms();

        h->budget = dm->cfg->policy.budget;
        h->usage = 0;
        for (guint i = 0; i < dm->guests->len; i++) {
            CmmdGuest *g = g_ptr_array_index(dm->guests, i);

            /*
             * Every QEMU we talk to costs.  A fresh snapshot's RSS was read
             * with its footprint: the policy subtracts one from the other.
             */
            if (cmmd_guest_usable(g, now, dm->cfg->policy.tick_ms) &&
                g->snap.rss) {
                h->usage += g->snap.rss;
            } else if (g->up && g->pid) {
                h->usage += cmmd_pid_rss("/proc", g->pid);
            }
        }
        g_clear_pointer(&dm->budget_error, g_free);
        return true;
    }
    if (!dm->cgroup_dir) {
        if (dm->cfg->cgroup) {
            dm->cgroup_dir = g_strdup(dm->cfg->cgroup);
        } else {
            for (guint i = 0; i < dm->guests->len && !dm->cgroup_dir; i++) {
                CmmdGuest *g = g_ptr_array_index(dm->guests, i);

                if (g->up && g->pid) {
                    dm->cgroup_dir = cmmd_cgroup_of_pid("/proc",
                                                        "/sys/fs/cgroup",
                                                        g->pid, &err);
                    if (!dm->cgroup_dir) {
                        set_budget_error(dm, error_get_pretty(err));
                        error_free(err);
                        return false;
                    }
                    cmmd_log(LOG_INFO, "budget: the memory cgroup %s of "
                             "guest %s", dm->cgroup_dir, g->name);
                }
            }
            if (!dm->cgroup_dir) {
                set_budget_error(dm, "no QEMU found yet to take the "
                                 "memory cgroup from");
                return false;
            }
        }
    }
    {
        CmmdCgroup cg;

        if (!cmmd_cgroup_read(dm->cgroup_dir, &cg, &err)) {
            set_budget_error(dm, error_get_pretty(err));
            error_free(err);
            return false;
        }
        h->budget = cg.limit;
        h->usage = cg.usage;
        if (cg.psi_some_avg10 >= 0) {
            h->psi_some_avg10 = cg.psi_some_avg10;
        }
    }
    g_clear_pointer(&dm->budget_error, g_free);
    return true;
}

/* ---- the tick ----------------------------------------------------------- */

static void decide(Daemon *dm)
{
    int64_t now = now_ms();
    g_autofree CmmdGuest **usable = g_new0(CmmdGuest *, dm->guests->len);
    g_autofree CmmdGuestSnap *snaps = NULL;
    g_autofree CmmdGuestState *states = NULL;
    size_t n = 0;

    for (guint i = 0; i < dm->guests->len; i++) {
        CmmdGuest *g = g_ptr_array_index(dm->guests, i);

        /* a guest never seen whole is not managed; a stale one is */
        if (g->poll_ok_ms >= 0 && g->snap.ram) {
            usable[n++] = g;
        }
    }
    if (!read_host(dm)) {
        return;
    }
    snaps = g_new0(CmmdGuestSnap, n);
    states = g_new0(CmmdGuestState, n);
    for (size_t i = 0; i < n; i++) {
        CmmdGuest *g = usable[i];

        snaps[i] = g->snap;
        snaps[i].name = g->name;
        snaps[i].responsive = cmmd_guest_usable(g, now,
                                                dm->cfg->policy.tick_ms) &&
                              g->snap.responsive;
        cmmd_config_limits(dm->cfg, g->name, g->snap.ram, &snaps[i].limits);
        states[i] = g->state;
    }
    dm->cfg->policy.budget = dm->host.budget;
    cmmd_policy_tick(&dm->cfg->policy, &dm->host, snaps, states, n, &dm->ps,
                     now, &dm->d);
    for (size_t i = 0; i < n; i++) {
        usable[i]->state = states[i];
    }
    if (dm->d.actions->len || dm->verbose || dm->ticks % 60 == 0) {
        cmmd_log(LOG_INFO, "tick: %s", dm->d.summary);
    }
    if (dm->d.all_at_floor && !dm->was_all_at_floor) {
        cmmd_log(LOG_CRIT, "every guest is at its floor and the host is "
                 "still over its high watermark (usage %" PRIu64 "M, budget "
                 "%" PRIu64 "M): nothing more is taken; add memory, lower "
                 "floors or move guests", dm->host.usage >> 20,
                 dm->host.budget >> 20);
    } else if (!dm->d.all_at_floor && dm->was_all_at_floor) {
        cmmd_log(LOG_NOTICE, "guests are no longer all at their floors");
    }
    dm->was_all_at_floor = dm->d.all_at_floor;
    for (guint k = 0; k < dm->d.actions->len; k++) {
        CmmdAction *a = &g_array_index(dm->d.actions, CmmdAction, k);
        CmmdGuest *g = usable[a->guest];
        g_autofree char *rate = a->rate ?
            g_strdup_printf(" rate=%" PRIu64 "M/s", a->rate >> 20) : NULL;

        cmmd_log(LOG_INFO, "decision%s: guest=%s action=%s value=%" PRIu64
                 "M%s: %s", dm->dry_run ? " (dry run)" : "", g->name,
                 cmmd_action_name(a->kind), a->value >> 20, rate ?: "",
                 a->why);
        if (!dm->dry_run) {
            cmmd_guest_apply(g, a);
        } else {
            snprintf(g->last_action, sizeof(g->last_action),
                     "(dry run) %s %" PRIu64 "M", cmmd_action_name(a->kind),
                     a->value >> 20);
        }
    }
}

static QDict *status_doc(Daemon *dm);

static void write_textfile(Daemon *dm)
{
    g_autoptr(QDict) st = NULL;
    GString *text;
    Error *err = NULL;

    if (!dm->cfg->textfile) {
        return;
    }
    st = status_doc(dm);
    text = cmmd_status_prometheus(st);
    if (!cmmd_status_write_file(dm->cfg->textfile, text->str, &err)) {
        if (dm->ticks % 60 == 1) {
            cmmd_log(LOG_WARNING, "textfile: %s", error_get_pretty(err));
        }
        error_free(err);
    }
    g_string_free(text, true);
}

static gboolean tick(gpointer p)
{
    Daemon *dm = p;
    int64_t now = now_ms();

    dm->ticks++;
    discover(dm);
    decide(dm);
    write_textfile(dm);
    for (guint i = 0; i < dm->guests->len; i++) {
        CmmdGuest *g = g_ptr_array_index(dm->guests, i);

        cmmd_guest_maybe_connect(g, now);
        cmmd_guest_poll(g, now);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- status for cmmstat ------------------------------------------------- */

static void put_u64(QDict *d, const char *key, uint64_t v)
{
    qdict_put(d, key, qnum_from_uint(v));
}

static QDict *guest_doc(Daemon *dm, CmmdGuest *g)
{
    QDict *d = qdict_new();
    const CmmdGuestSnap *s = &g->snap;
    CmmdGuestLimits lim;

    cmmd_config_limits(dm->cfg, g->name, s->ram, &lim);
    qdict_put_str(d, "name", g->name);
    qdict_put_str(d, "socket", g->socket);
    qdict_put_int(d, "pid", g->pid);
    qdict_put_bool(d, "connected", g->up);
    qdict_put_bool(d, "responsive",
                   cmmd_guest_usable(g, now_ms(), dm->cfg->policy.tick_ms) &&
                   s->responsive);
    qdict_put_bool(d, "routed-around", g->state.routed_around);
    qdict_put_bool(d, "balloon", s->has_balloon);
    qdict_put_bool(d, "cmma", s->has_cmma);
    put_u64(d, "ram", s->ram);
    put_u64(d, "actual", s->actual);
    put_u64(d, "footprint", s->footprint);
    put_u64(d, "rss", g->pid ? cmmd_pid_rss("/proc", g->pid) : 0);
    if (s->target_status != CMMD_TARGET_NONE) {
        put_u64(d, "target", s->target);
        qdict_put_str(d, "target-kind", s->target_is_footprint ?
                      "footprint" : "logical");
    }
    qdict_put_str(d, "target-status", cmmd_target_status_name(s->target_status));
    qdict_put_str(d, "stall-reason", cmmd_stall_reason_name(s->stall_reason));
    put_u64(d, "unused-resident", s->unused_resident);
    put_u64(d, "discarded", s->discarded);
    put_u64(d, "ballooned", s->ballooned);
    put_u64(d, "tmem-bytes", s->tmem_bytes);
    put_u64(d, "tmem-ephemeral", s->tmem_ephemeral);
    put_u64(d, "tmem-cap", s->tmem_cap);
    qdict_put_int(d, "weight", lim.weight);
    put_u64(d, "floor", lim.floor);
    put_u64(d, "ceiling", lim.ceiling);
    put_u64(d, "demand", g->state.demand);
    put_u64(d, "fair-share", g->state.alloc);
    qdict_put_int(d, "pressure-events", g->state.pressure_events);
    if (s->stats_valid) {
        qdict_put_int(d, "available", s->stats.available);
        qdict_put_int(d, "swap-in", s->stats.swap_in);
        qdict_put_int(d, "major-faults", s->stats.major_faults);
        qdict_put_int(d, "alloc-stalls", s->stats.alloc_stalls);
        qdict_put_int(d, "direct-reclaims", s->stats.direct_reclaims);
        qdict_put_int(d, "oom-kills", s->stats.oom_kills);
    }
    qdict_put_str(d, "last-action", g->last_action);
    qdict_put_str(d, "why", g->state.why);
    if (!g->up && g->down_why) {
        qdict_put_str(d, "error", g->down_why);
    } else if (g->poll_error) {
        qdict_put_str(d, "error", g->poll_error);
    }
    return d;
}

static QDict *status_doc(Daemon *dm)
{
    QDict *d = qdict_new();
    QList *gl = qlist_new();
    const CmmdPolicyConfig *pc = &dm->cfg->policy;

    qdict_put_int(d, "version", 1);
    qdict_put_str(d, "mode", cmmd_mode_name(pc->mode));
    qdict_put_bool(d, "dry-run", dm->dry_run);
    qdict_put_str(d, "budget-source",
                  dm->cfg->budget_source == CMMD_BUDGET_BYTES ? "bytes" :
                  dm->cgroup_dir ? dm->cgroup_dir : "cgroup");
    put_u64(d, "budget", dm->host.budget);
    put_u64(d, "usage", dm->host.usage);
    put_u64(d, "low", (uint64_t)(dm->host.budget * pc->low));
    put_u64(d, "high", (uint64_t)(dm->host.budget * pc->high));
    put_u64(d, "mem-available", dm->host.mem_available);
    if (dm->host.psi_some_avg10 >= 0) {
        qdict_put(d, "psi-some-avg10",
                  qnum_from_double(dm->host.psi_some_avg10));
    }
    qdict_put_bool(d, "squeezing", dm->ps.squeezing);
    qdict_put_bool(d, "all-at-floor", dm->ps.all_at_floor);
    qdict_put_str(d, "summary", dm->d.summary);
    if (dm->budget_error) {
        qdict_put_str(d, "error", dm->budget_error);
    }
    qdict_put_int(d, "ticks", dm->ticks);
    for (guint i = 0; i < dm->guests->len; i++) {
        qlist_append(gl, guest_doc(dm, g_ptr_array_index(dm->guests, i)));
    }
    qdict_put(d, "guests", gl);
    return d;
}

static gboolean ctl_accept(int fd, GIOCondition cond, gpointer p)
{
    Daemon *dm = p;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    g_autoptr(QDict) st = NULL;
    GString *json;
    size_t off = 0;

    if (c < 0) {
        return G_SOURCE_CONTINUE;
    }
    st = status_doc(dm);
    json = qobject_to_json_pretty(QOBJECT(st), true);
    g_string_append_c(json, '\n');
    /* a reader that does not read in 1 s loses its answer, not the daemon */
    {
        struct timeval tv = { .tv_sec = 1 };

        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    while (off < json->len) {
        ssize_t w = send(c, json->str + off, json->len - off, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        off += w;
    }
    g_string_free(json, true);
    close(c);
    return G_SOURCE_CONTINUE;
}

static bool ctl_listen(Daemon *dm, Error **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char *path = dm->cfg->control;
    g_autofree char *dir = g_path_get_dirname(path);
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        error_setg(errp, "control socket %s: path too long", path);
        return false;
    }
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        error_setg_errno(errp, errno, "control socket directory %s", dir);
        return false;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "socket");
        return false;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(fd, 16) < 0) {
        error_setg_errno(errp, errno, "control socket %s", path);
        close(fd);
        return false;
    }
    dm->ctl_fd = fd;
    dm->ctl_watch = g_unix_fd_add(fd, G_IO_IN, ctl_accept, dm);
    return true;
}

/* ---- signals, options, main --------------------------------------------- */

static gboolean on_quit(gpointer p)
{
    Daemon *dm = p;

    cmmd_log(LOG_INFO, "stopping; footprint targets stay in force");
    g_main_loop_quit(dm->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_reload(gpointer p)
{
    Daemon *dm = p;
    Error *err = NULL;
    CmmdConfig *cfg = cmmd_config_load(dm->config_path, &err);

    if (!cfg) {
        cmmd_log(LOG_ERR, "reload refused, keeping the old configuration: "
                 "%s", error_get_pretty(err));
        error_free(err);
        return G_SOURCE_CONTINUE;
    }
    if (g_strcmp0(cfg->control, dm->cfg->control) ||
        cfg->policy.tick_ms != dm->cfg->policy.tick_ms) {
        cmmd_log(LOG_WARNING, "reload: control and tick take effect at the "
                 "next start");
        g_free(cfg->control);
        cfg->control = g_strdup(dm->cfg->control);
        cfg->policy.tick_ms = dm->cfg->policy.tick_ms;
    }
    cmmd_config_free(dm->cfg);
    dm->cfg = cfg;
    g_clear_pointer(&dm->cgroup_dir, g_free);
    cmmd_log(LOG_INFO, "reloaded %s", dm->config_path);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean check = false, dry_run = false, verbose = false, version = false;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
          "configuration file (default " CMMD_DEFAULT_CONFIG ")", "FILE" },
        { "check-config", 0, 0, G_OPTION_ARG_NONE, &check,
          "check the configuration file and exit", NULL },
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
          "decide and log, but send nothing to the guests", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
          "log a summary line every tick", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version,
          "print the version and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_autoptr(GError) gerr = NULL;
    Error *err = NULL;
    Daemon dm = { .ctl_fd = -1 };

    error_init(argv[0]);
    journal = getenv("JOURNAL_STREAM") != NULL;
    g_option_context_set_summary(ctx, "Keep QEMU guests inside a host memory "
                                 "budget: cheapest reclaim first, with "
                                 "weights, floors and rate caps.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "qemu-cmmd: %s\n", gerr->message);
        return 2;
    }
    if (version) {
        printf("qemu-cmmd (qemu-cmm) %s\n", QEMU_VERSION);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "qemu-cmmd: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    dm.config_path = config_path ? config_path : g_strdup(CMMD_DEFAULT_CONFIG);
    config_path = NULL;
    dm.cfg = cmmd_config_load(dm.config_path, &err);
    if (!dm.cfg) {
        fprintf(stderr, "qemu-cmmd: %s\n", error_get_pretty(err));
        error_free(err);
        return 1;
    }
    if (check) {
        printf("%s: OK (policy %s, %u guest rules)\n", dm.config_path,
               cmmd_mode_name(dm.cfg->policy.mode), dm.cfg->rules->len);
        return 0;
    }
    dm.dry_run = dry_run;
    dm.verbose = verbose;
    dm.guests = g_ptr_array_new_with_free_func(
        (GDestroyNotify)cmmd_guest_free);
    dm.ps.last_ms = -1;
    cmmd_decisions_init(&dm.d);
    if (!ctl_listen(&dm, &err)) {
        fprintf(stderr, "qemu-cmmd: %s\n", error_get_pretty(err));
        error_free(err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    dm.loop = g_main_loop_new(NULL, false);
    g_unix_signal_add(SIGTERM, on_quit, &dm);
    g_unix_signal_add(SIGINT, on_quit, &dm);
    g_unix_signal_add(SIGHUP, on_reload, &dm);
    cmmd_log(LOG_INFO, "started: %s, policy %s%s, tick %" PRIu64 " ms, "
             "control %s", dm.config_path, cmmd_mode_name(dm.cfg->policy.mode),
             dm.dry_run ? " (dry run: nothing is sent)" : "",
             dm.cfg->policy.tick_ms, dm.cfg->control);
    tick(&dm);
    dm.tick_timer = g_timeout_add(dm.cfg->policy.tick_ms, tick, &dm);
    g_main_loop_run(dm.loop);

    g_source_remove(dm.tick_timer);
    g_source_remove(dm.ctl_watch);
    close(dm.ctl_fd);
    unlink(dm.cfg->control);
    g_ptr_array_free(dm.guests, true);
    g_array_free(dm.d.actions, true);
    g_main_loop_unref(dm.loop);
    cmmd_config_free(dm.cfg);
    g_free(dm.config_path);
    g_free(dm.cgroup_dir);
    g_free(dm.budget_error);
    return 0;
}
