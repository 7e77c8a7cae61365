/*
 * qemu-cmm: tmem-pool objects and virtio-tmem-ccw devices over QMP/HMP,
 * and migration of their content
 *
 * The migration case boots m-tmem-migrate.elf (tests/guest/baremetal),
 * found through $CMM_BAREMETAL_DIR: it stores pages in an ephemeral and a
 * persistent pool, waits to be migrated, then reads them back; frozen on
 * the destination, its puts are refused.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "cmm-qtest-util.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "hw/virtio/tmem-abi.h"

#define COMMON  "-M s390-ccw-virtio -m 64M -nodefaults "
#define TCG     "-accel tcg -chardev null,id=con " \
                "-device sclpconsole,chardev=con "

#include "tmem-mailbox.h"

#define tmem_error(rsp, needle) cmm_assert_error(rsp, NULL, needle)

static uint64_t mb_read(QTestState *qts, unsigned off)
{
    return qtest_readq(qts, TMEM_MB_BASE + off);
}

static void mb_write(QTestState *qts, unsigned off, uint64_t v)
{
    qtest_writeq(qts, TMEM_MB_BASE + off, v);
}
#define GUEST_PAGES     64


/* query-tmem's entry for pool @id, and in it the client @dev (if set). */
static QDict *pool_info(QTestState *qts, const char *id, const char *dev,
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


static void test_pool_errors(void)
{
    QTestState *qts = qtest_init(COMMON);

    tmem_error(qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                           " { 'qom-type': 'tmem-pool', 'id': 'a',"
                           "   'size': 65536 } }"), "65536 is out of range");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments':"
                           " { 'qom-type': 'tmem-pool', 'id': 'a',"
                           "   'size': %" PRIu64 " } }", 2 * TiB),
                 "out of range");
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments':"
                             " { 'qom-type': 'tmem-pool', 'id': 'tp0',"
                             "   'size': %" PRIu64 " } }", 8 * MiB);

    tmem_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-tmem-ccw' } }"),
                 "needs a 'pool'");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-tmem-ccw',"
                           "   'pool': 'nope' } }"), "nope");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-tmem-ccw', 'pool': 'tp0',"
                           "   'weight': 256 } }"), "weight 256");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-tmem-ccw', 'pool': 'tp0',"
                           "   'cap': 100 } }"), "cap 100 is too small");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-tmem-ccw', 'pool': 'tp0',"
                           "   'cap': %" PRIu64 " } }", 16 * MiB),
                 "larger than tmem-pool 'tp0'");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-tmem-ccw', 'pool': 'tp0',"
                           "   'max-batch': 65 } }"), "max-batch 65");

    /* a pool in use cannot go away */
    qtest_qmp_assert_success(qts, "{ 'execute': 'device_add', 'arguments':"
                             " { 'driver': 'virtio-tmem-ccw', 'pool': 'tp0',"
                             "   'id': 't0' } }");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'object-del',"
                           "  'arguments': { 'id': 'tp0' } }"), "tp0");
    qtest_quit(qts);
}

static void test_query(void)
{
    QTestState *qts = qtest_init(COMMON
        "-object tmem-pool,id=tp0,size=16M "
        "-device virtio-tmem-ccw,pool=tp0,id=t0,cap=4M "
        "-device virtio-tmem-ccw,pool=tp0,weight=7,persistent=off "
        "-object tmem-pool,id=tp1,size=4M "
        "-device virtio-tmem-ccw,pool=tp1,id=t1");
    QDict *c, *p = pool_info(qts, "tp0", "t0", &c);
    QDict *rsp;
    QList *clients;

    g_assert_cmpuint(cmm_get_u64(p, "size"), ==, 16 * MiB);
    g_assert_cmpuint(cmm_get_u64(p, "used"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(p, "pages"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(c, "cap"), ==, 4 * MiB);
    g_assert_cmpuint(cmm_get_u64(c, "weight"), ==, 100);
    g_assert_false(qdict_get_bool(c, "frozen"));
    g_assert_cmpuint(cmm_get_u64(c, "pools"), ==, 0);
    clients = qdict_get_qlist(p, "clients");
    g_assert_cmpuint(qlist_size(clients), ==, 2);
    /* a device without an id is named by its QOM path */
    rsp = qobject_to(QDict, qlist_entry_obj(qlist_next(qlist_first(clients))));
    g_assert(g_str_has_prefix(qdict_get_str(rsp, "device"), "/machine/"));
    g_assert_cmpuint(cmm_get_u64(rsp, "weight"), ==, 7);
    qobject_unref(p);

    p = pool_info(qts, "tp1", "t1", &c);
    g_assert_cmpuint(cmm_get_u64(p, "size"), ==, 4 * MiB);
    qobject_unref(p);
    qtest_quit(qts);
}

static void test_set_client(void)
{
    QTestState *qts = qtest_init(COMMON
        "-object tmem-pool,id=tp0,size=16M "
        "-device virtio-tmem-ccw,pool=tp0,id=t0 "
        "-object tmem-pool,id=tp1,size=4M "
        "-device virtio-tmem-ccw,pool=tp1,id=t1");
    QDict *c, *p;

    qtest_qmp_assert_success(qts, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't0', 'weight': 0,"
                             "                 'cap': %" PRIu64 " } }",
                             2 * MiB);
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "weight"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(c, "cap"), ==, 2 * MiB);
    qobject_unref(p);
    /* by QOM path of the transport too */
    qtest_qmp_assert_success(qts, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device':"
                             "    '/machine/peripheral/t0', 'weight': 255 } }");
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "weight"), ==, 255);
    g_assert_cmpuint(cmm_get_u64(c, "cap"), ==, 2 * MiB);
    qobject_unref(p);

    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-set-client',"
                           "  'arguments': { 'device': 'tx' } }"),
                 "'tx' is not a virtio-tmem device");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-set-client',"
                           "  'arguments': { 'device': 't0',"
                           "                 'weight': 256 } }"),
                 "weight 256 is out of range");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-set-client',"
                           "  'arguments': { 'device': 't0', 'cap': 10 } }"),
                 "cap 10 is out of range");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-set-client',"
                           "  'arguments': { 'device': 't1',"
                           "    'cap': %" PRIu64 " } }", 8 * MiB),
                 "cap 8388608 is out of range");
    /* errors name the value as sent, negative ones too */
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-set-client',"
                           "  'arguments': { 'device': 't0', 'cap': -1 } }"),
                 "cap -1 is out of range");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-set-client',"
                           "  'arguments': { 'device': 't0', 'weight': -1 } }"),
                 "weight -1 is out of range");
    /* a refused change changes nothing */
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "weight"), ==, 255);
    qobject_unref(p);
    /* cap 0: back to the pool's size */
    qtest_qmp_assert_success(qts, "{ 'execute': 'tmem-set-client',"
                             "  'arguments': { 'device': 't0', 'cap': 0 } }");
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "cap"), ==, 0);
    qobject_unref(p);
    qtest_quit(qts);
}

static void test_freeze_drop(void)
{
    QTestState *qts = qtest_init(COMMON
        "-object tmem-pool,id=tp0,size=16M "
        "-device virtio-tmem-ccw,pool=tp0,id=t0 "
        "-object tmem-pool,id=tp1,size=4M "
        "-device virtio-tmem-ccw,pool=tp1,id=t1");
    QDict *c, *p, *rsp;
    uint64_t epoch;

    qtest_qmp_assert_success(qts, "{ 'execute': 'tmem-freeze',"
                             "  'arguments': { 'device': 't0' } }");
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_true(qdict_get_bool(c, "frozen"));
    epoch = cmm_get_u64(c, "epoch");
    qobject_unref(p);
    p = pool_info(qts, "tp1", "t1", &c);
    g_assert_false(qdict_get_bool(c, "frozen"));
    qobject_unref(p);
    qtest_qmp_assert_success(qts, "{ 'execute': 'tmem-thaw',"
                             "  'arguments': { 'device': 't0' } }");
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_false(qdict_get_bool(c, "frozen"));
    qobject_unref(p);
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-freeze',"
                           "  'arguments': { 'device': 'tp0' } }"),
                 "'tp0' is not a virtio-tmem device");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-thaw',"
                           "  'arguments': { 'device': '' } }"),
                 "is not a virtio-tmem device");

    rsp = qtest_qmp_assert_success_ref(qts, "{ 'execute': 'tmem-drop' }");
    g_assert_cmpuint(cmm_get_u64(rsp, "bytes"), ==, 0);
    qobject_unref(rsp);
    /* a drop is visible to the guest as a new epoch */
    p = pool_info(qts, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "epoch"), ==, epoch + 1);
    qobject_unref(p);
    rsp = qtest_qmp_assert_success_ref(qts, "{ 'execute': 'tmem-drop',"
                                       "  'arguments': { 'pool': 'tp1' } }");
    qobject_unref(rsp);
    rsp = qtest_qmp_assert_success_ref(qts, "{ 'execute': 'tmem-drop',"
                                       "  'arguments': { 'device': 't1',"
                                       "                 'pool': 'tp1' } }");
    qobject_unref(rsp);
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-drop',"
                           "  'arguments': { 'pool': 'nope' } }"),
                 "'nope' is not a tmem-pool");
    tmem_error(qtest_qmp(qts, "{ 'execute': 'tmem-drop',"
                           "  'arguments': { 'device': 't1',"
                           "                 'pool': 'tp0' } }"),
                 "'t1' does not use tmem-pool 'tp0'");
    qtest_quit(qts);
}

static void assert_hmp(QTestState *qts, const char *cmd, const char *needle)
{
    g_autofree char *out = qtest_hmp(qts, "%s", cmd);

    if (!strstr(out, needle)) {
        g_error("'%s': expected '%s' in '%s'", cmd, needle, out);
    }
}

static void test_hmp(void)
{
    QTestState *qts = qtest_init(COMMON
        "-object tmem-pool,id=tp0,size=16M "
        "-device virtio-tmem-ccw,pool=tp0,id=t0");

    assert_hmp(qts, "info tmem", "tmem-pool tp0: size 16 MiB");
    assert_hmp(qts, "info tmem", "t0: weight 100");
    assert_hmp(qts, "tmem_set t0 9 1M", "");
    assert_hmp(qts, "info tmem", "t0: weight 9, cap 1024 KiB");
    assert_hmp(qts, "tmem_set t0 300", "from 0 to 255, not '300'");
    /* no expressions: what HMP cannot read is refused as typed */
    assert_hmp(qts, "tmem_set t0 10-1", "from 0 to 255, not '10-1'");
    assert_hmp(qts, "tmem_set t0 10 -1", "'cap' must be a size in bytes");
    assert_hmp(qts, "info tmem", "t0: weight 9, cap 1024 KiB");
    /* a bare cap is bytes */
    assert_hmp(qts, "tmem_set t0 9 2097152", "");
    assert_hmp(qts, "info tmem", "t0: weight 9, cap 2048 KiB");
    assert_hmp(qts, "tmem_freeze t0", "");
    assert_hmp(qts, "info tmem", "frozen");
    assert_hmp(qts, "tmem_thaw t0", "");
    assert_hmp(qts, "tmem_freeze nope", "'nope' is not a virtio-tmem");
    assert_hmp(qts, "tmem_drop", "dropped 0 KiB");
    assert_hmp(qts, "tmem_drop tp0", "dropped 0 KiB");
    assert_hmp(qts, "tmem_drop t0", "dropped 0 KiB");
    assert_hmp(qts, "tmem_drop nope", "'nope' is not a virtio-tmem");
    qtest_quit(qts);
}

static void wait_state(QTestState *qts, uint64_t want)
{
    int i;

    for (i = 0; i < 3000 && mb_read(qts, MB_STATE) != want; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_cmphex(mb_read(qts, MB_STATE), ==, want);
}


static char *guest_elf(void)
{
    const char *dir = g_getenv("CMM_BAREMETAL_DIR");
    char *elf;

    if (!dir) {
        return NULL;
    }
    elf = g_build_filename(dir, "m-tmem-migrate.elf", NULL);
    if (!g_file_test(elf, G_FILE_TEST_EXISTS)) {
        g_free(elf);
        return NULL;
    }
    return elf;
}

/* A unix socket in a fresh directory for one migration. */
typedef struct MigSock {
    char *dir, *path, *uri;
} MigSock;

static void mig_sock_init(MigSock *m)
{
    m->dir = g_dir_make_tmp("tmem-mig-XXXXXX", NULL);
    m->path = g_strdup_printf("%s/mig.sock", m->dir);
    m->uri = g_strdup_printf("unix:%s", m->path);
}

static void mig_sock_cleanup(MigSock *m)
{
    unlink(m->path);
    rmdir(m->dir);
    g_free(m->dir);
    g_free(m->path);
    g_free(m->uri);
}

/*
 * Persistent pages arrive exactly, ephemeral ones do not arrive at all
 * (the guest misses them), and the guest sees a new epoch.
 */
static void test_migration(void)
{
    g_autofree char *elf = guest_elf();
    g_autofree char *args = NULL;
    MigSock m;
    QTestState *src, *dst;
    QDict *c, *p;

    if (!elf) {
        g_test_skip("m-tmem-migrate.elf not built (set CMM_BAREMETAL_DIR)");
        return;
    }
    mig_sock_init(&m);
    args = g_strdup_printf(COMMON TCG "-object tmem-pool,id=tp0,size=16M "
                           "-device virtio-tmem-ccw,pool=tp0,id=t0,"
                           "devno=fe.0.0005 -kernel %s", elf);

    src = qtest_initf("%s", args);
    wait_state(src, ST_READY);
    p = pool_info(src, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "persistent-pages"), ==, GUEST_PAGES);
    g_assert_cmpuint(cmm_get_u64(c, "ephemeral-pages"), ==, GUEST_PAGES);
    g_assert_cmpuint(cmm_get_u64(c, "pools"), ==, 2);
    qobject_unref(p);

    dst = qtest_initf("%s -incoming %s", args, m.uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", m.uri);
    cmm_wait_migration(src);

    p = pool_info(dst, "tp0", "t0", &c);
    g_assert_cmpuint(cmm_get_u64(c, "persistent-pages"), ==, GUEST_PAGES);
    g_assert_cmpuint(cmm_get_u64(c, "ephemeral-pages"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(c, "pools"), ==, 2);
    qobject_unref(p);

    /* frozen: the guest's puts after GO must be refused */
    qtest_qmp_assert_success(dst, "{ 'execute': 'tmem-freeze',"
                             "  'arguments': { 'device': 't0' } }");
    mb_write(dst, MB_GO, 1);
    wait_state(dst, ST_DONE);
    g_assert_cmphex(mb_read(dst, MB_CFG_STATUS), ==, VIRTIO_TMEM_S_FROZEN);
    g_assert_cmpuint(mb_read(dst, MB_FROZEN_PUT), ==, VIRTIO_TMEM_FROZEN);
    g_assert_cmpuint(mb_read(dst, MB_FROZEN_DUP), ==, VIRTIO_TMEM_FROZEN);
    g_assert_cmpuint(mb_read(dst, MB_FROZEN_GET), ==, VIRTIO_TMEM_MISS);
    g_assert_cmpuint(mb_read(dst, MB_PERS_OK), ==, GUEST_PAGES);
    g_assert_cmpuint(mb_read(dst, MB_PERS_BAD), ==, 0);
    g_assert_cmpuint(mb_read(dst, MB_EPH_HITS), ==, 0);
    g_assert_cmpuint(mb_read(dst, MB_BAD_STATUS), ==, 0);
    g_assert_cmpuint(mb_read(dst, MB_EPOCH_AFTER), !=,
                     mb_read(dst, MB_EPOCH_BEFORE));

    /* let the program stop, so it does not spin while we tear down */
    mb_write(dst, MB_GO, 2);
    qtest_quit(src);
    qtest_quit(dst);
    mig_sock_cleanup(&m);
}

/* A destination without room for the persistent pages refuses them. */
static void test_migration_no_room(void)
{
    g_autofree char *elf = guest_elf();
    MigSock m;
    const char *dev = "-device virtio-tmem-ccw,pool=tp0,id=t0,devno=fe.0.0005";
    QTestState *src, *dst;

    if (!elf) {
        g_test_skip("m-tmem-migrate.elf not built (set CMM_BAREMETAL_DIR)");
        return;
    }
    mig_sock_init(&m);

    src = qtest_initf(COMMON TCG "-object tmem-pool,id=tp0,size=16M %s "
                      "-kernel %s", dev, elf);
    wait_state(src, ST_READY);
    dst = qtest_initf(COMMON TCG "-object tmem-pool,id=tp0,size=16M "
                      "%s,cap=128K -kernel %s -incoming %s", dev, elf, m.uri);
    qtest_set_expected_status(dst, EXIT_FAILURE);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", m.uri);
    /* the source carries on when the destination fails */
    for (int i = 0; i < 3000; i++) {
        QDict *rsp = qtest_qmp_assert_success_ref(src,
                                        "{ 'execute': 'query-migrate' }");
        const char *status = qdict_get_try_str(rsp, "status");
        bool over = status && (!strcmp(status, "failed") ||
                               !strcmp(status, "completed"));

        if (over) {
            g_assert_cmpstr(status, ==, "failed");
        }
        qobject_unref(rsp);
        if (over) {
            break;
        }
        g_usleep(10 * 1000);
    }
    qtest_quit(dst);
    qtest_qmp_assert_success(src, "{ 'execute': 'cont' }");
    qtest_quit(src);
    mig_sock_cleanup(&m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/tmem/pool-errors", test_pool_errors);
    qtest_add_func("/tmem/query", test_query);
    qtest_add_func("/tmem/set-client", test_set_client);
    qtest_add_func("/tmem/freeze-drop", test_freeze_drop);
    qtest_add_func("/tmem/hmp", test_hmp);
    qtest_add_func("/tmem/migration", test_migration);
    qtest_add_func("/tmem/migration-no-room", test_migration_no_room);
    return g_test_run();
}
