/*
 * qemu-cmmd: the status document, as text for people and for Prometheus
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
#include "qobject/qbool.h"
#include "qobject/qstring.h"
#include "status.h"

/* Host figures exported, with their help text. */
static const struct {
    const char *key, *metric, *help;
} host_metrics[] = {
    { "budget", "cmmd_budget_bytes", "Host budget for the managed guests" },
    { "usage", "cmmd_usage_bytes", "What the managed guests cost now" },
    { "low", "cmmd_low_watermark_bytes", "Low watermark" },
    { "high", "cmmd_high_watermark_bytes", "High watermark" },
    { "squeezing", "cmmd_squeezing", "1 while over the high watermark "
      "and not yet back under the low one" },
    { "all-at-floor", "cmmd_all_at_floor", "1 when every guest is at its "
      "floor and the host is still over budget" },
};

/* Guest figures exported (numbers and booleans of a guest's object). */
static const struct {
    const char *key, *metric, *help;
} guest_metrics[] = {
    { "ram", "cmmd_guest_ram_bytes", "Guest RAM" },
    { "actual", "cmmd_guest_logical_bytes", "Logical size (RAM less the "
      "balloon)" },
    { "footprint", "cmmd_guest_footprint_bytes", "Guest RAM resident on "
      "the host" },
    { "rss", "cmmd_guest_rss_bytes", "RSS of the QEMU process" },
    { "target", "cmmd_guest_target_bytes", "Footprint target in force" },
    { "unused-resident", "cmmd_guest_unused_resident_bytes", "Marked "
      "unused, still resident" },
    { "discarded", "cmmd_guest_discarded_bytes", "Released to the host" },
    { "ballooned", "cmmd_guest_ballooned_bytes", "In the balloon" },
    { "tmem-bytes", "cmmd_guest_tmem_bytes", "Held in tmem pools" },
    { "weight", "cmmd_guest_weight", "Weight (0-255)" },
    { "floor", "cmmd_guest_floor_bytes", "Floor" },
    { "demand", "cmmd_guest_demand_bytes", "Estimated need" },
    { "fair-share", "cmmd_guest_fair_share_bytes", "Fair share computed" },
    { "pressure-events", "cmmd_guest_pressure_events_total",
      "Ticks with pressure seen" },
    { "responsive", "cmmd_guest_responsive", "1 if QMP answered" },
    { "routed-around", "cmmd_guest_routed_around", "1 if its balloon "
      "does not respond and others take its share" },
};

static void escape_label(GString *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, *s);
        } else if (*s == '\n') {
            g_string_append(out, "\\n");
        } else {
            g_string_append_c(out, *s);
        }
    }
}

static bool number_of(QObject *o, double *v)
{
    QNum *n = qobject_to(QNum, o);
    QBool *b = qobject_to(QBool, o);

    if (n) {
        *v = qnum_get_double(n);
        return true;
    }
    if (b) {
        *v = qbool_get_bool(b);
        return true;
    }
    return false;
}

GString *cmmd_status_prometheus(QDict *status)
{
    GString *out = g_string_new(NULL);
    QList *guests = qdict_get_qlist(status, "guests");
    QListEntry *e;
    double v;

    for (size_t i = 0; i < G_N_ELEMENTS(host_metrics); i++) {
        if (!number_of(qdict_get(status, host_metrics[i].key), &v)) {
            continue;
        }
        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.0f\n",
                               host_metrics[i].metric, host_metrics[i].help,
                               host_metrics[i].metric, host_metrics[i].metric,
                               v);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(guest_metrics); i++) {
        bool head = false;

        if (!guests) {
            break;
        }
        QLIST_FOREACH_ENTRY(guests, e) {
            QDict *g = qobject_to(QDict, qlist_entry_obj(e));
            const char *name = g ? qdict_get_try_str(g, "name") : NULL;

            if (!name || !number_of(qdict_get(g, guest_metrics[i].key), &v)) {
                continue;
            }
            if (!head) {
                g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
                                       guest_metrics[i].metric,
                                       guest_metrics[i].help,
                                       guest_metrics[i].metric,
                                       g_str_has_suffix(guest_metrics[i].metric,
                                                        "_total") ?
                                       "counter" : "gauge");
                head = true;
            }
            g_string_append_printf(out, "%s{guest=\"", guest_metrics[i].metric);
            escape_label(out, name);
            g_string_append_printf(out, "\"} %.0f\n", v);
        }
    }
    return out;
}

static char *mib(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));
    uint64_t v;

    if (!n || !qnum_get_try_uint(n, &v)) {
        return g_strdup("-");
    }
    return g_strdup_printf("%" PRIu64, v >> 20);
}

static const char *str(QDict *d, const char *key)
{
    const char *s = qdict_get_try_str(d, key);

    return s && *s ? s : "-";
}

GString *cmmd_status_table(QDict *status)
{
    GString *out = g_string_new(NULL);
    QList *guests = qdict_get_qlist(status, "guests");
    g_autofree char *budget = mib(status, "budget");
    g_autofree char *usage = mib(status, "usage");
    g_autofree char *low = mib(status, "low");
    g_autofree char *high = mib(status, "high");
    QListEntry *e;

    g_string_append_printf(out, "policy %s%s, budget %s MiB (%s), usage %s "
                           "MiB, low %s, high %s%s%s\n",
                           str(status, "mode"),
                           qdict_get_try_bool(status, "dry-run", false) ?
                           " (dry run)" : "", budget,
                           str(status, "budget-source"), usage, low, high,
                           qdict_get_try_bool(status, "squeezing", false) ?
                           ", squeezing" : "",
                           qdict_get_try_bool(status, "all-at-floor", false) ?
                           ", ALL GUESTS AT THEIR FLOORS" : "");
    g_string_append_printf(out, "%-14s %6s %6s %6s %6s %-8s %6s %6s %6s %5s "
                           "%3s %5s %5s %s\n", "GUEST", "RAM", "LOGIC",
                           "FOOTPR", "TARGET", "STATUS", "UNUSED", "DISCRD",
                           "BALLN", "TMEM", "WT", "FLOOR", "PRESS",
                           "LAST DECISION / WHY");
    if (!guests) {
        return out;
    }
    QLIST_FOREACH_ENTRY(guests, e) {
        QDict *g = qobject_to(QDict, qlist_entry_obj(e));
        g_autofree char *ram = NULL, *act = NULL, *fp = NULL, *tg = NULL;
        g_autofree char *un = NULL, *dis = NULL, *bal = NULL, *tm = NULL;
        g_autofree char *fl = NULL;
        const char *st;

        if (!g) {
            continue;
        }
        ram = mib(g, "ram");
        act = mib(g, "actual");
        fp = mib(g, "footprint");
        tg = mib(g, "target");
        un = mib(g, "unused-resident");
        dis = mib(g, "discarded");
        bal = mib(g, "ballooned");
        tm = mib(g, "tmem-bytes");
        fl = mib(g, "floor");
        st = !qdict_get_try_bool(g, "responsive", false) ? "no-qmp" :
             qdict_get_try_bool(g, "routed-around", false) ? "routed" :
             str(g, "target-status");
        g_string_append_printf(out, "%-14.14s %6s %6s %6s %6s %-8.8s %6s %6s "
                               "%6s %5s %3" PRId64 " %5s %5" PRId64 " %s: "
                               "%s\n", str(g, "name"), ram, act, fp, tg, st,
                               un, dis, bal, tm,
                               qdict_get_try_int(g, "weight", 0), fl,
                               qdict_get_try_int(g, "pressure-events", 0),
                               str(g, "last-action"), str(g, "why"));
    }
    return out;
}

bool cmmd_status_write_file(const char *path, const char *text, Error **errp)
{
    g_autoptr(GError) gerr = NULL;

    if (!g_file_set_contents(path, text, -1, &gerr)) {
        error_setg(errp, "%s", gerr->message);
        return false;
    }
    return true;
}
