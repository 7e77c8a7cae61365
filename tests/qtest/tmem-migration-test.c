/*
 * qemu-cmm: migration of virtio-tmem while the guest works
 *
 * The guest is m-tmem-precopy.elf (tests/guest/baremetal, found through
 * $CMM_BAREMETAL_DIR; its commands are described at its top): it stores
 * persistent pages, changes them while the migration runs, and reads
 * them back on the destination.  Settings set by QMP on the source and
 * postcopy need no guest.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "cmm-qtest-util.h"
#include "tmem-qtest-util.h"
#include "qobject/qdict.h"
#include "tmem-mailbox.h"

#define COMMON      TMEM_QTEST_COMMON
#define TCG         TMEM_QTEST_TCG
#define DEV         "-device virtio-tmem-ccw,pool=tp0,id=t0,devno=fe.0.0005"

#define B_PAGES     PC_B_PAGES

typedef struct Guest {
    char *elf;
    TmemMigSock m;
    QTestState *src, *dst;
} Guest;

/* The guest program, or false (the test skipped) if it is not built. */
static bool guest_init(Guest *g)
{
    memset(g, 0, sizeof(*g));
    g->elf = tmem_guest_elf("m-tmem-precopy");
    if (!g->elf) {
        g_test_skip("m-tmem-precopy.elf not built (set CMM_BAREMETAL_DIR)");
        return false;
    }
    tmem_mig_sock_init(&g->m);
    return true;
}

static void guest_cleanup(Guest *g)
{
    tmem_mig_sock_cleanup(&g->m);
    g_free(g->elf);
}

/* Run a guest command and wait until it reports @state. */
static void guest_cmd(QTestState *qts, uint64_t cmd, uint64_t state)
{
    tmem_mb_write(qts, PC_CMD, cmd);
    tmem_mb_wait(qts, PC_STATE, state);
}

/* A source whose guest stored @pages pages in pool A (and B and E). */
static QTestState *start_source(Guest *g, const char *pool_size,
                                uint64_t pages, const char *extra)
{
    QTestState *qts = qtest_initf(COMMON TCG "-object tmem-pool,id=tp0,"
                                  "size=%s " DEV " -kernel %s %s", pool_size,
                                  g->elf, extra);

    tmem_mb_write(qts, PC_PAGES, pages);
    guest_cmd(qts, PC_CMD_START, PC_ST_READY);
    return qts;
}

/* guest_init() and start_source() at once. */
static bool guest_start(Guest *g, const char *pool_size, uint64_t pages,
                        const char *extra)
{
    if (!guest_init(g)) {
        return false;
    }
    g->src = start_source(g, pool_size, pages, extra);
    return true;
}

static QTestState *start_destination(Guest *g, const char *pool_size,
                                     const char *dev_extra)
{
    return qtest_initf(COMMON TCG "-object tmem-pool,id=tp0,size=%s " DEV
                       "%s -kernel %s -incoming %s", pool_size, dev_extra,
                       g->elf, g->m.uri);
}

static uint64_t client_u64(QTestState *qts, const char *key)
{
    QDict *c, *p = tmem_pool_info(qts, "tp0", "t0", &c);
    uint64_t v = cmm_get_u64(c, key);

    qobject_unref(p);
    return v;
}

static void migrate(QTestState *src, const char *uri)
{
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
}

static void set_capability(QTestState *qts, const char *name, bool on)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate-set-capabilities',"
                             "  'arguments': { 'capabilities': [ {"
                             "    'capability': %s, 'state': %i } ] } }",
                             name, on);
}

/*
 * The destination refuses the migration: it exits, and the source, told
 * through the return path (a failure to load may come after the source
 * has sent everything), sees the migration fail.
 */
static void migrate_fails(QTestState *src, QTestState *dst, const char *uri)
{
    QDict *rsp;

    qtest_set_expected_status(dst, EXIT_FAILURE);
    set_capability(src, "return-path", true);
    set_capability(dst, "return-path", true);
    migrate(src, uri);
    rsp = tmem_mig_wait_end(src);
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "failed");
    qobject_unref(rsp);
}

static void set_parameter(QTestState *qts, const char *name, uint64_t v)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate-set-parameters',"
                             "  'arguments': { %s: %" PRIu64 " } }", name, v);
}

/* Read every key back on the destination; all must be as expected. */
static void verify(QTestState *dst, uint64_t keys)
{
    guest_cmd(dst, PC_CMD_VERIFY, PC_ST_DONE);
    g_assert_cmpuint(tmem_mb_read(dst, PC_BAD), ==, 0);
    g_assert_cmpuint(tmem_mb_read(dst, PC_OK), ==, keys);
    g_assert_cmpuint(tmem_mb_read(dst, PC_STATUS), ==, 0);
}

static void guest_quit(Guest *g)
{
    if (g->dst) {
        /* let the program end, so it does not spin while QEMU goes */
        tmem_mb_write(g->dst, PC_CMD, PC_CMD_STOP);
        qtest_quit(g->dst);
    }
    qtest_quit(g->src);
    guest_cleanup(g);
}

/*
 * Pages put again, flushed one by one, flushed as an object, a pool
 * flushed and filled again, and a pool destroyed and made again in the
 * same slot, all after the destination had every page: each arrives as
 * the guest left it.
 */
static void test_changes(void)
{
    const uint64_t pages = 2 * PC_OBJ_PAGES;
    /* A less its changed and flushed pages, B's new ones, C's */
    const uint64_t after = pages - PC_CHANGED - PC_OBJ_PAGES + PC_B_NEW +
                           PC_C_PAGES;
    Guest g;
    QDict *rsp;
    int i;

    if (!guest_start(&g, "16M", pages, "")) {
        return;
    }
    g.dst = start_destination(&g, "16M", "");
    /*
     * Hold the migration in precopy.  The guest dirties 65 pages between
     * two dirty syncs of RAM; at 1 MiB/s they take three rounds of 100 ms
     * to send, after which the next sync finds them dirty again, far more
     * than 1 ms of downtime allows.  (A faster rate sends them within one
     * round, and the sync that follows at once may find nothing dirty.)
     */
    set_parameter(g.src, "downtime-limit", 1);
    set_parameter(g.src, "max-bandwidth", 1 * MiB);
    migrate(g.src, g.m.uri);
    for (i = 0; i < 3000; i++) {
        if (client_u64(g.dst, "persistent-pages") == pages + B_PAGES) {
            break;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpuint(client_u64(g.dst, "persistent-pages"), ==,
                     pages + B_PAGES);
    rsp = qtest_qmp_assert_success_ref(g.src, "{ 'execute': "
                                       "'query-migrate' }");
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "active");
    qobject_unref(rsp);

    guest_cmd(g.src, PC_CMD_CHANGE, PC_ST_CHANGED);
    rsp = qtest_qmp_assert_success_ref(g.src, "{ 'execute': "
                                       "'query-migrate' }");
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "active");
    qobject_unref(rsp);
    set_parameter(g.src, "max-bandwidth", 128 * MiB);
    set_parameter(g.src, "downtime-limit", 2000);
    cmm_wait_migration(g.src);

    g_assert_cmpuint(client_u64(g.dst, "persistent-pages"), ==, after);
    g_assert_cmpuint(client_u64(g.dst, "pools"), ==, 3);
    verify(g.dst, pages + B_PAGES + PC_B_NEW + PC_C_PAGES);
    guest_quit(&g);
}

/* Sum of "pages=" over the lines of @log that name @event. */
static uint64_t trace_pages(const char *log, const char *event,
                            unsigned *lines_with_pages)
{
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
    uint64_t sum = 0;

    for (char **l = lines; *l; l++) {
        const char *ev = strstr(*l, event);
        const char *p = ev ? strstr(ev, " pages=") : NULL;

        if (p) {
            uint64_t n = g_ascii_strtoull(p + 7, NULL, 10);

            sum += n;
            if (n && lines_with_pages) {
                (*lines_with_pages)++;
            }
        }
    }
    return sum;
}

/*
 * 64 MiB of persistent pages under a 32 MiB/s limit: the device's rounds
 * send them while the guest runs, and the stop-and-copy gets only what
 * the rate did not fit.
 */
static void test_iterative(void)
{
    const uint64_t pages = 64 * MiB / (4 * KiB);
    g_autofree char *log = NULL, *trace = NULL, *args = NULL;
    uint64_t sent_live, sent_last;
    unsigned rounds = 0;
    Guest g;
    QDict *rsp;

    log = g_strdup_printf("%s/tmem-iterative-%d.log", g_get_tmp_dir(),
                          getpid());
    args = g_strdup_printf("-D %s -trace virtio_tmem_mig_*", log);
    if (!guest_start(&g, "80M", pages, args)) {
        return;
    }
    g.dst = start_destination(&g, "80M", "");
    set_parameter(g.src, "max-bandwidth", 32 * MiB);
    migrate(g.src, g.m.uri);
    cmm_wait_migration(g.src);
    rsp = qtest_qmp_assert_success_ref(g.src, "{ 'execute': "
                                       "'query-migrate' }");
    g_test_message("64 MiB of persistent pages: downtime %" PRIu64 " ms, "
                   "total %" PRIu64 " ms",
                   cmm_get_u64(rsp, "downtime"),
                   cmm_get_u64(rsp, "total-time"));
    qobject_unref(rsp);

    g_assert_cmpuint(client_u64(g.dst, "persistent-pages"), ==,
                     pages + B_PAGES);
    verify(g.dst, pages + B_PAGES + PC_B_NEW);
    qtest_quit(g.src);
    g.src = NULL;
    g_assert_true(g_file_get_contents(log, &trace, NULL, NULL));
    unlink(log);
    sent_live = trace_pages(trace, "virtio_tmem_mig_iterate ", &rounds);
    sent_last = trace_pages(trace, "virtio_tmem_mig_complete ", NULL);
    g_test_message("pages sent in %u rounds: %" PRIu64 ", at the stop: %"
                   PRIu64, rounds, sent_live, sent_last);
    /* each page once: nothing changed */
    g_assert_cmpuint(sent_live + sent_last, ==, pages + B_PAGES);
    /* one round fits 3.2 MiB at most */
    g_assert_cmpuint(rounds, >=, 2);
    g_assert_cmpuint(sent_last, <, (pages + B_PAGES) / 2);
    tmem_mb_write(g.dst, PC_CMD, PC_CMD_STOP);
    qtest_quit(g.dst);
    guest_cleanup(&g);
}

/* Postcopy is refused while the device holds persistent pages. */
static void test_postcopy_refused(void)
{
    Guest g;
    QDict *rsp;

    if (!guest_start(&g, "16M", 16, "")) {
        return;
    }
    set_capability(g.src, "postcopy-ram", true);
    rsp = qtest_qmp(g.src, "{ 'execute': 'migrate',"
                    "  'arguments': { 'uri': %s } }", g.m.uri);
    cmm_assert_error(rsp, "GenericError", "virtio-tmem 't0' holds 80 "
                     "persistent pages, which cannot migrate in postcopy; "
                     "turn off the postcopy-ram capability");
    /* nothing started; without postcopy the same migration works */
    set_capability(g.src, "postcopy-ram", false);
    g.dst = start_destination(&g, "16M", "");
    migrate(g.src, g.m.uri);
    cmm_wait_migration(g.src);
    verify(g.dst, 16 + B_PAGES + PC_B_NEW);
    guest_quit(&g);
}

/*
 * A destination pool without room for the pages fails the migration;
 * the source carries on, its pages intact.
 */
static void test_no_room(void)
{
    Guest g;
    QDict *rsp;

    if (!guest_start(&g, "16M", 2 * PC_OBJ_PAGES, "")) {
        return;
    }
    g.dst = start_destination(&g, "1M", "");
    migrate_fails(g.src, g.dst, g.m.uri);
    qtest_quit(g.dst);
    g.dst = NULL;

    rsp = qtest_qmp_assert_success_ref(g.src, "{ 'execute': "
                                       "'query-status' }");
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "running");
    qobject_unref(rsp);
    verify(g.src, 2 * PC_OBJ_PAGES + B_PAGES + PC_B_NEW);
    guest_quit(&g);
}

/*
 * A cap is a limit for the guest's puts, not for what migrates: a
 * destination started with a cap below the pages holds them all.
 */
static void test_over_cap(void)
{
    Guest g;

    if (!guest_start(&g, "16M", 256, "")) {
        return;
    }
    g.dst = start_destination(&g, "16M", ",cap=128K");
    migrate(g.src, g.m.uri);
    cmm_wait_migration(g.src);
    g_assert_cmpuint(client_u64(g.dst, "persistent-pages"), ==,
                     256 + B_PAGES);
    g_assert_cmpuint(client_u64(g.dst, "cap"), ==, 128 * KiB);
    g_assert_cmpuint(client_u64(g.dst, "bytes"), >, 128 * KiB);
    verify(g.dst, 256 + B_PAGES + PC_B_NEW);
    guest_quit(&g);
}

static void assert_settings(QTestState *qts, const char *dev,
                            uint64_t weight, uint64_t cap, bool frozen)
{
    QDict *c, *p = tmem_pool_info(qts, "tp0", dev, &c);

    g_assert_cmpuint(cmm_get_u64(c, "weight"), ==, weight);
    g_assert_cmpuint(cmm_get_u64(c, "cap"), ==, cap);
    g_assert_cmpint(qdict_get_bool(c, "frozen"), ==, frozen);
    qobject_unref(p);
}

/*
 * What tmem-set-client and tmem-freeze set on the source holds on the
 * destination; a device whose settings are its properties leaves the
 * destination's own.
 */
static void test_settings(void)
{
    TmemMigSock m;
    QTestState *src, *dst;

    tmem_mig_sock_init(&m);
    src = qtest_initf(COMMON "-S -object tmem-pool,id=tp0,size=16M "
                      "-device virtio-tmem-ccw,pool=tp0,id=t0 "
                      "-device virtio-tmem-ccw,pool=tp0,id=t1,weight=3 "
                      "-device virtio-tmem-ccw,pool=tp0,id=t2");
    dst = qtest_initf(COMMON "-S -object tmem-pool,id=tp0,size=16M "
                      "-device virtio-tmem-ccw,pool=tp0,id=t0 "
                      "-device virtio-tmem-ccw,pool=tp0,id=t1,weight=9 "
                      "-device virtio-tmem-ccw,pool=tp0,id=t2 "
                      "-incoming %s", m.uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't0', 'weight': 7,"
                             "                 'cap': %" PRIu64 " } }",
                             2 * MiB);
    qtest_qmp_assert_success(src, "{ 'execute': 'tmem-freeze',"
                             "  'arguments': { 'device': 't0' } }");
    /* changed and changed back: the properties again */
    qtest_qmp_assert_success(src, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't1', 'weight': 200 }"
                             " }");
    qtest_qmp_assert_success(src, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't1', 'weight': 3 } }");
    /* only a cap */
    qtest_qmp_assert_success(src, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't2', 'cap': %"
                             PRIu64 " } }", 1 * MiB);
    migrate(src, m.uri);
    cmm_wait_migration(src);

    assert_settings(dst, "t0", 7, 2 * MiB, true);
    assert_settings(dst, "t1", 9, 0, false);
    assert_settings(dst, "t2", 100, 1 * MiB, false);
    qtest_quit(src);
    qtest_quit(dst);
    tmem_mig_sock_cleanup(&m);
}

/* A cap the destination's pool cannot grant fails the migration. */
static void test_settings_cap_too_big(void)
{
    TmemMigSock m;
    QTestState *src, *dst;

    tmem_mig_sock_init(&m);
    src = qtest_initf(COMMON "-S -object tmem-pool,id=tp0,size=16M "
                      "-device virtio-tmem-ccw,pool=tp0,id=t0");
    dst = qtest_initf(COMMON "-S -object tmem-pool,id=tp0,size=4M "
                      "-device virtio-tmem-ccw,pool=tp0,id=t0 -incoming %s",
                      m.uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't0', 'cap': %"
                             PRIu64 " } }", 8 * MiB);
    migrate_fails(src, dst, m.uri);
    qtest_quit(dst);
    qtest_quit(src);
    tmem_mig_sock_cleanup(&m);
}

/*
 * savevm, then changes, then loadvm: the pages are those of the snapshot
 * (the pages section also runs in a snapshot, where QEMU holds the BQL).
 * Needs qemu-img, named by QTEST_QEMU_IMG as meson sets it.
 */
static void test_snapshot(void)
{
    const char *img = g_getenv("QTEST_QEMU_IMG");
    g_autofree char *disk = NULL, *drive = NULL, *out = NULL;
    const uint64_t pages = 2 * PC_OBJ_PAGES;
    Guest g;
    int status;

    if (!img) {
        g_test_skip("QTEST_QEMU_IMG names no qemu-img");
        return;
    }
    disk = g_strdup_printf("%s/tmem-snapshot-%d.qcow2", g_get_tmp_dir(),
                           getpid());
    {
        const char *argv[] = { img, "create", "-q", "-f", "qcow2", disk,
                               "1M", NULL };

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL,
                                   NULL, NULL, &status, NULL));
        g_assert_cmpint(status, ==, 0);
    }
    drive = g_strdup_printf("-drive if=none,id=d0,format=qcow2,file=%s",
                            disk);
    if (!guest_start(&g, "16M", pages, drive)) {
        unlink(disk);
        return;
    }
    out = qtest_hmp(g.src, "savevm s1");
    g_assert_cmpstr(out, ==, "");
    g_clear_pointer(&out, g_free);
    guest_cmd(g.src, PC_CMD_CHANGE, PC_ST_CHANGED);
    out = qtest_hmp(g.src, "loadvm s1");
    g_assert_cmpstr(out, ==, "");
    /* the guest is back where it was: READY, its pages unchanged */
    g_assert_cmphex(tmem_mb_read(g.src, PC_STATE), ==, PC_ST_READY);
    g_assert_cmpuint(client_u64(g.src, "persistent-pages"), ==,
                     pages + B_PAGES);
    verify(g.src, pages + B_PAGES + PC_B_NEW);
    guest_quit(&g);
    unlink(disk);
}

/*
 * A stream of an older qemu-cmm, which sends the pages in the device
 * state, still loads.  Needs that binary, named by CMM_QEMU_OLDER.
 */
static void test_from_older(void)
{
    Guest g;

    if (!g_getenv("CMM_QEMU_OLDER")) {
        g_test_skip("CMM_QEMU_OLDER names no older qemu-cmm");
        return;
    }
    if (!guest_init(&g)) {
        return;
    }
    {
        g_autofree char *args = g_strdup_printf(COMMON TCG "-object "
                                        "tmem-pool,id=tp0,size=16M " DEV
                                        " -kernel %s", g.elf);

        g.src = qtest_init_with_env("CMM_QEMU_OLDER", args, true);
    }
    tmem_mb_write(g.src, PC_PAGES, 2 * PC_OBJ_PAGES);
    guest_cmd(g.src, PC_CMD_START, PC_ST_READY);
    g.dst = start_destination(&g, "16M", "");
    migrate(g.src, g.m.uri);
    cmm_wait_migration(g.src);
    g_assert_cmpuint(client_u64(g.dst, "persistent-pages"), ==,
                     2 * PC_OBJ_PAGES + B_PAGES);
    verify(g.dst, 2 * PC_OBJ_PAGES + B_PAGES + PC_B_NEW);
    guest_quit(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/tmem/migration/settings", test_settings);
    qtest_add_func("/tmem/migration/settings-cap-too-big",
                   test_settings_cap_too_big);
    qtest_add_func("/tmem/migration/changes", test_changes);
    qtest_add_func("/tmem/migration/iterative", test_iterative);
    qtest_add_func("/tmem/migration/postcopy-refused",
                   test_postcopy_refused);
    qtest_add_func("/tmem/migration/no-room", test_no_room);
    qtest_add_func("/tmem/migration/over-cap", test_over_cap);
    qtest_add_func("/tmem/migration/snapshot", test_snapshot);
    qtest_add_func("/tmem/migration/from-older", test_from_older);
    return g_test_run();
}
