/*
 * The s390-ccw-virtio machine and virtio-balloon-ccw over QMP, as upstream
 * behaves: a guard that qemu-cmm's patches change none of it
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

#define MACHINE "-M s390-ccw-virtio -m 256M "

static QTestState *start(const char *extra)
{
    return qtest_initf(MACHINE "%s", extra);
}


static int64_t balloon_actual(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-balloon' }");
    int64_t actual;

    g_assert(qdict_haskey(rsp, "return"));
    actual = qdict_get_int(qdict_get_qdict(rsp, "return"), "actual");
    qobject_unref(rsp);
    return actual;
}

static void test_machine_starts(void)
{
    QTestState *qts = start("");
    QDict *rsp, *ret;
    QList *cpus;

    rsp = qtest_qmp(qts, "{ 'execute': 'query-target' }");
    ret = qdict_get_qdict(rsp, "return");
    g_assert_cmpstr(qdict_get_str(ret, "arch"), ==, "s390x");
    qobject_unref(rsp);

    rsp = qtest_qmp(qts, "{ 'execute': 'query-cpus-fast' }");
    cpus = qdict_get_qlist(rsp, "return");
    g_assert_cmpint(qlist_size(cpus), ==, 1);
    ret = qobject_to(QDict, qlist_peek(cpus));
    g_assert_cmpstr(qdict_get_str(ret, "target"), ==, "s390x");
    qobject_unref(rsp);

    qtest_quit(qts);
}

static void test_no_balloon(void)
{
    QTestState *qts = start("");

    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'query-balloon' }"),
                 "DeviceNotActive", NULL);
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'balloon',"
                           " 'arguments': { 'value': 134217728 } }"),
                 "DeviceNotActive", NULL);
    qtest_quit(qts);
}

static void test_balloon_cmdline(void)
{
    QTestState *qts = start("-device virtio-balloon-ccw,id=b0");

    /* no guest driver: nothing is ballooned, all of RAM is "actual" */
    g_assert_cmpint(balloon_actual(qts), ==, 256 * MiB);
    qtest_qmp_assert_success(qts, "{ 'execute': 'balloon',"
                             " 'arguments': { 'value': 134217728 } }");
    g_assert_cmpint(balloon_actual(qts), ==, 256 * MiB);
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'balloon',"
                           " 'arguments': { 'value': 0 } }"),
                 "GenericError", "value");
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'balloon',"
                           " 'arguments': { 'value': -4096 } }"),
                 "GenericError", "value");
    qtest_quit(qts);
}

static void test_balloon_hotplug(void)
{
    QTestState *qts = start("");

    qtest_qmp_device_add(qts, "virtio-balloon-ccw", "b0", "{}");
    g_assert_cmpint(balloon_actual(qts), ==, 256 * MiB);

    /* only one balloon per machine */
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-balloon-ccw', 'id': 'b1' } }"),
                 "GenericError", "balloon");

    qtest_qmp_device_del_send(qts, "b0");
    qtest_qmp_eventwait(qts, "DEVICE_DELETED");
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'query-balloon' }"),
                 "DeviceNotActive", NULL);

    /* and it can come back */
    qtest_qmp_device_add(qts, "virtio-balloon-ccw", "b2", "{}");
    g_assert_cmpint(balloon_actual(qts), ==, 256 * MiB);
    qtest_quit(qts);
}

static void test_bad_property(void)
{
    QTestState *qts = start("");

    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-balloon-ccw', 'id': 'b0',"
                           "   'devno': 'fe.0.zzzz' } }"),
                 "GenericError", "devno");
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments':"
                           " { 'driver': 'virtio-balloon-ccw', 'id': 'b0',"
                           "   'deflate-on-oom': 'maybe' } }"),
                 "GenericError", "deflate-on-oom");
    /* a failed device_add leaves no balloon behind */
    cmm_assert_error(qtest_qmp(qts, "{ 'execute': 'query-balloon' }"),
                 "DeviceNotActive", NULL);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/ccw-balloon-upstream/machine-starts", test_machine_starts);
    qtest_add_func("/ccw-balloon-upstream/absent", test_no_balloon);
    qtest_add_func("/ccw-balloon-upstream/cmdline", test_balloon_cmdline);
    qtest_add_func("/ccw-balloon-upstream/hotplug", test_balloon_hotplug);
    qtest_add_func("/ccw-balloon-upstream/bad-property", test_bad_property);
    return g_test_run();
}
