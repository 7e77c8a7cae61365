/*
 * qemu-cmm qtests: what the tmem qtests share
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "tmem-qtest-util.h"
#include "tmem-mailbox.h"

QDict *tmem_pool_info(QTestState *qts, const char *id, const char *dev,
                      QDict **client)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-tmem' }");
    QListEntry *e, *c;
    QDict *found = NULL;

    g_assert(qdict_haskey(rsp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(p, "id"), id)) {
            found = p;
        }
    }
    g_assert(found);
    qobject_ref(found);
    qobject_unref(rsp);
    if (client) {
        *client = NULL;
        QLIST_FOREACH_ENTRY(qdict_get_qlist(found, "clients"), c) {
            QDict *ci = qobject_to(QDict, qlist_entry_obj(c));

            if (!strcmp(qdict_get_str(ci, "device"), dev)) {
                *client = ci;
            }
        }
        g_assert(*client);
    }
    return found;
}

char *tmem_guest_elf(const char *name)
{
    const char *dir = g_getenv("CMM_BAREMETAL_DIR");
    g_autofree char *file = g_strdup_printf("%s.elf", name);
    char *elf;

    if (!dir) {
        return NULL;
    }
    elf = g_build_filename(dir, file, NULL);
    if (!g_file_test(elf, G_FILE_TEST_EXISTS)) {
        g_free(elf);
        return NULL;
    }
    return elf;
}

uint64_t tmem_mb_read(QTestState *qts, unsigned off)
{
    return qtest_readq(qts, TMEM_MB_BASE + off);
}

void tmem_mb_write(QTestState *qts, unsigned off, uint64_t v)
{
    qtest_writeq(qts, TMEM_MB_BASE + off, v);
}

void tmem_mb_wait(QTestState *qts, unsigned off, uint64_t want)
{
    int i;

    for (i = 0; i < 3000 && tmem_mb_read(qts, off) != want; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_cmphex(tmem_mb_read(qts, off), ==, want);
}

void tmem_mig_sock_init(TmemMigSock *m)
{
    m->dir = g_dir_make_tmp("tmem-mig-XXXXXX", NULL);
    m->path = g_strdup_printf("%s/mig.sock", m->dir);
    m->uri = g_strdup_printf("unix:%s", m->path);
}

void tmem_mig_sock_cleanup(TmemMigSock *m)
{
    unlink(m->path);
    rmdir(m->dir);
    g_free(m->dir);
    g_free(m->path);
    g_free(m->uri);
}

QDict *tmem_mig_wait_end(QTestState *src)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    for (;;) {
        QDict *rsp = qtest_qmp_assert_success_ref(src,
                                        "{ 'execute': 'query-migrate' }");
        const char *status = qdict_get_try_str(rsp, "status");

        if (status && (!strcmp(status, "completed") ||
                       !strcmp(status, "failed") ||
                       !strcmp(status, "cancelled"))) {
            return rsp;
        }
        qobject_unref(rsp);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}
