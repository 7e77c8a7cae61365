/*
 * qemu-cmm: virtio-balloon-ccw cmma=on, page states and balloon-set-target
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
#include "qobject/qnum.h"

#define RAM     (512 * MiB)
#define COMMON  "-M s390-ccw-virtio -m 512M -nodefaults "
#define BALLOON "-device virtio-balloon-ccw,id=b0,cmma=on,target-stall-ms=200 "


static QDict *balloon_info(QTestState *qts)
{
    return qtest_qmp_assert_success_ref(qts, "{ 'execute': 'query-balloon' }");
}

static void test_query(void)
{
    QTestState *qts = qtest_init(COMMON BALLOON);
    QDict *info = balloon_info(qts), *ps;

    g_assert_cmpint(qdict_get_int(info, "actual"), ==, RAM);
    g_assert_true(qdict_haskey(info, "footprint"));
    g_assert_cmpuint(cmm_get_u64(info, "footprint"), <=, RAM);
    ps = qdict_get_qdict(info, "page-states");
    g_assert_nonnull(ps);
    /* a fresh machine: every page stable, nothing released or ballooned */
    g_assert_cmpuint(cmm_get_u64(ps, "stable"), ==, RAM);
    g_assert_cmpuint(cmm_get_u64(ps, "unused-resident"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(ps, "discarded"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(ps, "reported"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(ps, "ballooned"), ==, 0);
    g_assert_false(qdict_haskey(info, "target"));
    qobject_unref(info);

    g_assert_true(qtest_qom_get_bool(qts, "b0", "cmma"));
    qtest_quit(qts);
}

/* cmma=off: query-balloon answers exactly as upstream's. */
static void test_query_off(void)
{
    QTestState *qts = qtest_init(COMMON "-device virtio-balloon-ccw,id=b0");
    QDict *info = balloon_info(qts);

    g_assert_cmpint(qdict_size(info), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "actual"), ==, RAM);
    g_assert_false(qtest_qom_get_bool(qts, "b0", "cmma"));
    qobject_unref(info);
    qtest_quit(qts);
}

/*
 * Without KVM the balloon's queues are handled in the vCPU (ioeventfd off,
 * patches/virtio-balloon-ccw-tcg-sync.patch), unless the user asks for
 * ioeventfd: an explicit ioeventfd=on is honoured.
 */
static void test_ioeventfd(void)
{
    QTestState *qts = qtest_init(COMMON "-device virtio-balloon-ccw,id=b0");

    g_assert_false(qtest_qom_get_bool(qts, "b0", "ioeventfd"));
    qtest_quit(qts);
    qts = qtest_init(COMMON "-device virtio-balloon-ccw,id=b0,ioeventfd=on");
    g_assert_true(qtest_qom_get_bool(qts, "b0", "ioeventfd"));
    qtest_quit(qts);
    qts = qtest_init(COMMON "-global virtio-balloon-ccw.ioeventfd=on "
                     "-device virtio-balloon-ccw,id=b0");
    g_assert_true(qtest_qom_get_bool(qts, "b0", "ioeventfd"));
    qtest_quit(qts);
}

/* Start QEMU with @args and expect it to refuse with @msg on stderr. */
static void expect_refused(const char *args, const char *msg)
{
    g_autofree char *cmd = g_strdup_printf("%s -M s390-ccw-virtio -accel tcg "
                                           "-S -display none -nodefaults %s",
                                           g_getenv("QTEST_QEMU_BINARY"), args);
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, &gerr));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!strstr(err, msg)) {
        g_test_message("stderr: %s", err);
    }
    g_assert_nonnull(strstr(err, msg));
}

static void test_realize_errors(void)
{
    expect_refused("-cpu qemu,cmm=off,cmmnt=off "
                   "-device virtio-balloon-ccw,cmma=on",
                   "cmma=on needs the CPU feature 'cmm'");
    expect_refused("-device virtio-balloon-ccw,target-stall-ms=10",
                   "target-stall-ms must be 100 to 3600000, not 10");
    expect_refused("-device virtio-balloon-ccw,target-stall-ms=3600001",
                   "target-stall-ms must be 100 to 3600000, not 3600001");
}

static void expect_error(QTestState *qts, const char *cls, const char *msg,
                         const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void expect_error(QTestState *qts, const char *cls, const char *msg,
                         const char *fmt, ...)
{
    va_list ap;
    QDict *rsp;

    va_start(ap, fmt);
    rsp = qtest_vqmp(qts, fmt, ap);
    va_end(ap);
    cmm_assert_error(rsp, cls, msg);
}

#define SET "{ 'execute': 'balloon-set-target', 'arguments': "

static void test_qmp_errors(void)
{
    QTestState *qts = qtest_init(COMMON BALLOON);
    QDict *info;

    expect_error(qts, "GenericError", "'target' must be between 1 MiB", SET
                 "{ 'kind': 'logical', 'target': 0 } }");
    expect_error(qts, "GenericError", "not -4096", SET
                 "{ 'kind': 'footprint', 'target': -4096 } }");
    expect_error(qts, "GenericError", "not 1073741824", SET
                 "{ 'kind': 'logical', 'target': 1073741824 } }");
    expect_error(qts, "GenericError", "'rate' must be at least 4096", SET
                 "{ 'kind': 'logical', 'target': 268435456, 'rate': 0 } }");
    expect_error(qts, "GenericError", "not -1", SET
                 "{ 'kind': 'logical', 'target': 268435456, 'rate': -1 } }");
    expect_error(qts, "GenericError", "is above the logical target", SET
                 "{ 'kind': 'logical', 'target': 268435456,"
                 "  'floor': 268439552 } }");
    expect_error(qts, "GenericError", "'floor' must be between 0", SET
                 "{ 'kind': 'footprint', 'target': 268435456,"
                 "  'floor': 1073741824 } }");
    expect_error(qts, "GenericError", "Parameter 'kind'", SET
                 "{ 'kind': 'resident', 'target': 268435456 } }");
    /* none of that set a target */
    info = balloon_info(qts);
    g_assert_false(qdict_haskey(info, "target"));
    qobject_unref(info);
    /* a footprint target may lie below the floor */
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'footprint',"
                             " 'target': 268435456, 'floor': 402653184 } }");
    /* a floor of 0 is a floor that was set: shown */
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'footprint',"
                             " 'target': 268435456, 'floor': 0 } }");
    info = balloon_info(qts);
    g_assert_true(qdict_haskey(qdict_get_qdict(info, "target"), "floor"));
    g_assert_cmpuint(cmm_get_u64(qdict_get_qdict(info, "target"), "floor"), ==, 0);
    qobject_unref(info);
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'footprint',"
                             " 'target': 268435456 } }");
    info = balloon_info(qts);
    g_assert_false(qdict_haskey(qdict_get_qdict(info, "target"), "floor"));
    qobject_unref(info);
    /* every rate the schema takes is accepted and kept, INT64_MAX too */
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'footprint',"
                             " 'target': 268435456,"
                             " 'rate': 9223372036854775807 } }");
    info = balloon_info(qts);
    g_assert_cmpuint(cmm_get_u64(qdict_get_qdict(info, "target"), "rate"), ==,
                     INT64_MAX);
    qobject_unref(info);
    qtest_quit(qts);

    qts = qtest_init(COMMON "-device virtio-balloon-ccw");
    expect_error(qts, "GenericError", "needs the balloon device's 'cmma'", SET
                 "{ 'kind': 'footprint', 'target': 268435456 } }");
    /* a logical target needs no cmma */
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'logical',"
                             " 'target': 268435456 } }");
    qtest_quit(qts);

    qts = qtest_init(COMMON);
    expect_error(qts, "DeviceNotActive", "No balloon device", SET
                 "{ 'kind': 'logical', 'target': 268435456 } }");
    qtest_quit(qts);
}

static void test_events(void)
{
    QTestState *qts = qtest_init(COMMON BALLOON);
    QDict *ev, *data, *info, *t;

    /* nothing is resident: a footprint target is met at once */
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'footprint',"
                             " 'target': 268435456 } }");
    ev = qtest_qmp_eventwait_ref(qts, "BALLOON_TARGET_REACHED");
    data = qdict_get_qdict(ev, "data");
    g_assert_cmpstr(qdict_get_str(data, "kind"), ==, "footprint");
    g_assert_cmpuint(cmm_get_u64(data, "target"), ==, 256 * MiB);
    g_assert_cmpuint(cmm_get_u64(data, "footprint"), <=, 256 * MiB);
    g_assert_cmpuint(cmm_get_u64(data, "actual"), ==, RAM);
    qobject_unref(ev);
    info = balloon_info(qts);
    t = qdict_get_qdict(info, "target");
    g_assert_cmpstr(qdict_get_str(t, "status"), ==, "reached");
    g_assert_false(qdict_haskey(t, "rate"));
    qobject_unref(info);

    /* no guest driver: a logical target stalls */
    qtest_qmp_assert_success(qts, SET "{ 'kind': 'logical',"
                             " 'target': 268435456, 'rate': 1048576,"
                             " 'floor': 134217728 } }");
    ev = qtest_qmp_eventwait_ref(qts, "BALLOON_TARGET_STALLED");
    data = qdict_get_qdict(ev, "data");
    g_assert_cmpstr(qdict_get_str(data, "kind"), ==, "logical");
    g_assert_cmpstr(qdict_get_str(data, "reason"), ==, "driver-not-ready");
    g_assert_cmpuint(cmm_get_u64(data, "deficit"), ==, 256 * MiB);
    qobject_unref(ev);
    info = balloon_info(qts);
    t = qdict_get_qdict(info, "target");
    g_assert_cmpstr(qdict_get_str(t, "status"), ==, "stalled");
    g_assert_cmpuint(cmm_get_u64(t, "rate"), ==, MiB);
    g_assert_cmpuint(cmm_get_u64(t, "floor"), ==, 128 * MiB);
    qobject_unref(info);

    /* the balloon command ends it */
    qtest_qmp_assert_success(qts, "{ 'execute': 'balloon',"
                             " 'arguments': { 'value': 536870912 } }");
    info = balloon_info(qts);
    g_assert_false(qdict_haskey(info, "target"));
    qobject_unref(info);
    qtest_quit(qts);
}

static void test_hmp(void)
{
    QTestState *qts = qtest_init(COMMON BALLOON);
    g_autofree char *out = NULL, *err = NULL;

    out = qtest_hmp(qts, "balloon_target footprint 256M 64M");
    g_assert_cmpstr(out, ==, "");
    out = (g_free(out), qtest_hmp(qts, "info balloon"));
    g_assert_nonnull(strstr(out, "balloon: actual=512"));
    g_assert_nonnull(strstr(out, "page states (MiB): stable="));
    g_assert_nonnull(strstr(out, "target: footprint 256 MiB"));
    g_assert_nonnull(strstr(out, "rate 65536 KiB/s"));
    err = qtest_hmp(qts, "balloon_set_target sideways 256M");
    g_assert_nonnull(strstr(err, "sideways"));
    /* a bare number is bytes, as the help says */
    out = (g_free(out), qtest_hmp(qts, "balloon_set_target logical 268435456 "
                                  "4096 134217728"));
    g_assert_cmpstr(out, ==, "");
    out = (g_free(out), qtest_hmp(qts, "info balloon"));
    g_assert_nonnull(strstr(out, "target: logical 256 MiB"));
    g_assert_nonnull(strstr(out, "rate 4 KiB/s"));
    g_assert_nonnull(strstr(out, "floor 128 MiB"));
    /* what it cannot read is refused, named as typed */
    err = (g_free(err), qtest_hmp(qts, "balloon_set_target logical 256M+1"));
    g_assert_nonnull(strstr(err, "'target' must be a size in bytes"));
    g_assert_nonnull(strstr(err, "not '256M+1'"));
    err = (g_free(err), qtest_hmp(qts, "balloon_set_target logical 256M -1"));
    g_assert_nonnull(strstr(err, "not '-1'"));
    qtest_quit(qts);
}


static void migrate(QTestState *src, QTestState *dst, const char *uri)
{
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    cmm_wait_migration(src);
    (void)dst;
}

/* The target, its rate and floor arrive; the destination goes on. */
static void test_migration(void)
{
    g_autofree char *tmpdir = g_dir_make_tmp("balloon-cmm-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/mig.sock", tmpdir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestState *src, *dst;
    QDict *info, *t, *ev;

    src = qtest_init(COMMON BALLOON);
    qtest_qmp_assert_success(src, SET "{ 'kind': 'logical',"
                             " 'target': 268435456, 'rate': 2097152,"
                             " 'floor': 201326592 } }");
    dst = qtest_initf(COMMON BALLOON "-incoming %s", uri);
    migrate(src, dst, uri);

    info = balloon_info(dst);
    t = qdict_get_qdict(info, "target");
    g_assert_nonnull(t);
    g_assert_cmpstr(qdict_get_str(t, "kind"), ==, "logical");
    g_assert_cmpuint(cmm_get_u64(t, "target"), ==, 256 * MiB);
    g_assert_cmpuint(cmm_get_u64(t, "rate"), ==, 2 * MiB);
    g_assert_cmpuint(cmm_get_u64(t, "floor"), ==, 192 * MiB);
    qobject_unref(info);
    /* the destination's controller runs: no driver, so it stalls */
    ev = qtest_qmp_eventwait_ref(dst, "BALLOON_TARGET_STALLED");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "reason"), ==,
                    "driver-not-ready");
    qobject_unref(ev);
    qtest_quit(src);
    qtest_quit(dst);
    unlink(sock);
    rmdir(tmpdir);
}

/* cmma=off and no target: the stream is upstream's, both ways. */
static void test_upstream_compat(void)
{
    g_autofree char *tmpdir = NULL, *sock = NULL, *uri = NULL, *dargs = NULL;
    /* pinned: the unversioned alias names qemu-cmm's own machine here */
    const char *args = "-M s390-ccw-virtio-10.0 -m 512M -nodefaults "
                       "-device virtio-balloon-ccw";
    QTestState *src, *dst;
    int i;

    if (!g_getenv("CMM_QEMU_UPSTREAM")) {
        g_test_skip("CMM_QEMU_UPSTREAM names no unpatched QEMU 10.0");
        return;
    }
    tmpdir = g_dir_make_tmp("balloon-cmm-XXXXXX", NULL);
    sock = g_strdup_printf("%s/mig.sock", tmpdir);
    uri = g_strdup_printf("unix:%s", sock);
    dargs = g_strdup_printf("%s -incoming %s", args, uri);
    for (i = 0; i < 2; i++) {
        src = qtest_init_with_env(i ? "CMM_QEMU_UPSTREAM" : "QTEST_QEMU_BINARY",
                                  args, true);
        dst = qtest_init_with_env(i ? "QTEST_QEMU_BINARY" : "CMM_QEMU_UPSTREAM",
                                  dargs, true);
        migrate(src, dst, uri);
        qtest_quit(src);
        qtest_quit(dst);
        unlink(sock);
    }
    rmdir(tmpdir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/balloon-cmm/query", test_query);
    qtest_add_func("/balloon-cmm/query-cmma-off", test_query_off);
    qtest_add_func("/balloon-cmm/ioeventfd", test_ioeventfd);
    qtest_add_func("/balloon-cmm/realize-errors", test_realize_errors);
    qtest_add_func("/balloon-cmm/qmp-errors", test_qmp_errors);
    qtest_add_func("/balloon-cmm/events", test_events);
    qtest_add_func("/balloon-cmm/hmp", test_hmp);
    qtest_add_func("/balloon-cmm/migration", test_migration);
    qtest_add_func("/balloon-cmm/upstream-both-ways", test_upstream_compat);
    return g_test_run();
}
