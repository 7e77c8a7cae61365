/*
 * qemu-cmm qtests: what every one of them needs
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qdict.h"
#include "qobject/qnum.h"
#include "cmm-qtest-util.h"

uint64_t cmm_get_u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));
    uint64_t v;

    g_assert_nonnull(n);
    g_assert_true(qnum_get_try_uint(n, &v));
    return v;
}

void cmm_assert_error(QDict *rsp, const char *cls, const char *needle)
{
    QDict *err;
    const char *desc;

    g_assert_nonnull(rsp);
    err = qdict_get_qdict(rsp, "error");
    if (!err) {
        g_error("expected an error, got a success");
    }
    desc = qdict_get_str(err, "desc");
    if (cls) {
        g_assert_cmpstr(qdict_get_str(err, "class"), ==, cls);
    }
    if (needle && !strstr(desc, needle)) {
        g_error("expected '%s' in error '%s'", needle, desc);
    }
    qobject_unref(rsp);
}

void cmm_wait_migration(QTestState *src)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    for (;;) {
        QDict *rsp = qtest_qmp_assert_success_ref(src,
                                        "{ 'execute': 'query-migrate' }");
        const char *status = qdict_haskey(rsp, "status") ?
                             qdict_get_str(rsp, "status") : "none";
        bool done = !strcmp(status, "completed");

        if (!strcmp(status, "failed")) {
            g_error("migration failed: %s", qdict_haskey(rsp, "error-desc") ?
                    qdict_get_str(rsp, "error-desc") : "?");
        }
        qobject_unref(rsp);
        if (done) {
            return;
        }
        if (g_get_monotonic_time() > deadline) {
            g_error("migration did not complete within 30 s");
        }
        g_usleep(10 * 1000);
    }
}
