/*
 * qemu-cmm: tmem-pool objects and virtio-tmem-ccw devices over QMP/HMP,
 * and migration of their content
 *
 * The migration case boots m-tmem-migrate.elf (tests/guest/baremetal),
 * found through $CMM_BAREMETAL_DIR: it stores pages in an ephemeral and a
 * persistent pool, waits to be migrated, then reads them back; frozen on
 * the destination, its puts are refused.  Migration while the guest
 * works, and its failures, are in tmem-migration-test.c.
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
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "hw/virtio/tmem-abi.h"

#define COMMON  TMEM_QTEST_COMMON
#define TCG     TMEM_QTEST_TCG

#include "tmem-mailbox.h"

#define tmem_error(rsp, needle) cmm_assert_error(rsp, NULL, needle)
#define pool_info tmem_pool_info
#define mb_read tmem_mb_read
#define mb_write tmem_mb_write

#define GUEST_PAGES     64


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

/*
 * Persistent pages arrive exactly, ephemeral ones do not arrive at all
 * (the guest misses them), and the guest sees a new epoch.
 */
static void test_migration(void)
{
    g_autofree char *elf = tmem_guest_elf("m-tmem-migrate");
    g_autofree char *args = NULL;
    TmemMigSock m;
    QTestState *src, *dst;
    QDict *c, *p;

    if (!elf) {
        g_test_skip("m-tmem-migrate.elf not built (set CMM_BAREMETAL_DIR)");
        return;
    }
    tmem_mig_sock_init(&m);
    args = g_strdup_printf(COMMON TCG "-object tmem-pool,id=tp0,size=16M "
                           "-device virtio-tmem-ccw,pool=tp0,id=t0,"
                           "devno=fe.0.0005 -kernel %s", elf);

    src = qtest_initf("%s", args);
    tmem_mb_wait(src, MB_STATE, ST_READY);
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
    tmem_mb_wait(dst, MB_STATE, ST_DONE);
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
    tmem_mig_sock_cleanup(&m);
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
    return g_test_run();
}
