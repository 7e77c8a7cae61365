/*
 * qemu-cmmd: what the host says of its memory
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "host.h"

/*
 * cgroup v1 shows "no limit" as PAGE_COUNTER_MAX pages in bytes, just under
 * 2^63; no real limit comes near 2^62.
 */
#define V1_UNLIMITED    (1ULL << 62)

static char *read_trimmed(const char *path, Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    char *text;

    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        error_setg(errp, "%s", gerr->message);
        return NULL;
    }
    return g_strstrip(text);
}

static bool read_u64(const char *path, uint64_t *out, bool max_ok,
                     Error **errp)
{
    g_autofree char *text = read_trimmed(path, errp);

    if (!text) {
        return false;
    }
    if (max_ok && !strcmp(text, "max")) {
        *out = UINT64_MAX;
        return true;
    }
    /* qemu_strtou64 would take "-1" as 2^64-1 */
    if (text[0] == '-' || qemu_strtou64(text, NULL, 10, out) < 0) {
        error_setg(errp, "%s: '%s' is not a byte count", path, text);
        return false;
    }
    return true;
}

bool cmmd_cgroup_read(const char *dir, CmmdCgroup *cg, Error **errp)
{
    g_autofree char *v2max = g_build_filename(dir, "memory.max", NULL);
    g_autofree char *v1max = g_build_filename(dir, "memory.limit_in_bytes",
                                              NULL);
    g_autofree char *cur = NULL, *lim = NULL;

    memset(cg, 0, sizeof(*cg));
    cg->psi_some_avg10 = -1;
    if (g_file_test(v2max, G_FILE_TEST_EXISTS)) {
        g_autofree char *psi = g_build_filename(dir, "memory.pressure", NULL);

        cg->version = 2;
        lim = g_steal_pointer(&v2max);
        cur = g_build_filename(dir, "memory.current", NULL);
        cg->psi_some_avg10 = cmmd_psi_some_avg10(psi);
    } else if (g_file_test(v1max, G_FILE_TEST_EXISTS)) {
        cg->version = 1;
        lim = g_steal_pointer(&v1max);
        cur = g_build_filename(dir, "memory.usage_in_bytes", NULL);
    } else {
        error_setg(errp, "%s: not a memory cgroup (neither memory.max nor "
                   "memory.limit_in_bytes)", dir);
        return false;
    }
    if (!read_u64(lim, &cg->limit, cg->version == 2, errp) ||
        !read_u64(cur, &cg->usage, false, errp)) {
        return false;
    }
    if (cg->limit == UINT64_MAX || cg->limit >= V1_UNLIMITED) {
        error_setg(errp, "%s: the cgroup has no memory limit; set one "
                   "or give the budget in bytes", lim);
        return false;
    }
    return true;
}

char *cmmd_cgroup_of_pid(const char *proc, const char *cgroot, pid_t pid,
                         Error **errp)
{
    g_autofree char *path = g_strdup_printf("%s/%d/cgroup", proc, (int)pid);
    g_autofree char *text = read_trimmed(path, errp);
    g_auto(GStrv) lines = NULL;
    char *v2 = NULL;

    if (!text) {
        return NULL;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, ":", 3);

        if (g_strv_length(f) != 3) {
            continue;
        }
        if (!strcmp(f[0], "0") && !f[1][0] && !v2) {
            v2 = g_build_filename(cgroot, f[2], NULL);
        } else {
            g_auto(GStrv) ctl = g_strsplit(f[1], ",", -1);

            if (g_strv_contains((const char * const *)ctl, "memory")) {
                g_free(v2);
                return g_build_filename(cgroot, "memory", f[2], NULL);
            }
        }
    }
    if (!v2) {
        error_setg(errp, "%s: no memory cgroup", path);
    }
    return v2;
}

double cmmd_psi_some_avg10(const char *path)
{
    g_autofree char *text = NULL;
    const char *p;
    double v;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return -1;
    }
    p = strstr(text, "some avg10=");
    /* written so that NaN fails too */
    if (!p || sscanf(p, "some avg10=%lf", &v) != 1 || !(v >= 0 && v <= 100)) {
        return -1;
    }
    return v;
}

static uint64_t kib_field(const char *path, const char *field)
{
    g_autofree char *text = NULL;
    g_autofree char *key = g_strdup_printf("\n%s:", field);
    const char *p;
    uint64_t kib;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return 0;
    }
    /* the field on the first line has no newline before it */
    if (g_str_has_prefix(text, key + 1)) {
        p = text + strlen(key + 1);
    } else {
        p = strstr(text, key);
        p = p ? p + strlen(key) : NULL;
    }
    if (!p || sscanf(p, "%" SCNu64, &kib) != 1 || kib > UINT64_MAX / 1024) {
        return 0;
    }
    return kib * 1024;
}

uint64_t cmmd_mem_available(const char *meminfo)
{
    return kib_field(meminfo, "MemAvailable");
}

uint64_t cmmd_pid_rss(const char *proc, pid_t pid)
{
    g_autofree char *path = g_strdup_printf("%s/%d/status", proc, (int)pid);

    return kib_field(path, "VmRSS");
}
