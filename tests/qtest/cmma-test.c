/*
 * qemu-cmm: CMMA page-state table over QMP, and the cmm CPU features
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

#define TABLE "/machine/s390-storage_attributes"


static QDict *cmma_info(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-cmma' }");
    QDict *ret;

    g_assert(qdict_haskey(rsp, "return"));
    ret = qdict_get_qdict(rsp, "return");
    qobject_ref(ret);
    qobject_unref(rsp);
    return ret;
}

static void test_query_fresh(void)
{
    QTestState *qts = qtest_init("-M s390-ccw-virtio -m 512M");
    QDict *info = cmma_info(qts);
    QList *essa;
    QListEntry *e;

    /* power-on: everything stable, nothing released, no ESSA yet */
    g_assert_cmpuint(cmm_get_u64(info, "total"), ==, 512 * MiB);
    g_assert_cmpuint(cmm_get_u64(info, "stable"), ==, 512 * MiB);
    g_assert_cmpuint(cmm_get_u64(info, "unused"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "potentially-volatile"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "volatile"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "no-dat"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "discarded"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "pending-discard"), ==, 0);
    g_assert_cmpstr(qdict_get_str(info, "discard-policy"), ==, "adaptive");
    essa = qdict_get_qlist(info, "essa");
    g_assert_cmpint(qlist_size(essa), ==, 8);
    QLIST_FOREACH_ENTRY(essa, e) {
        g_assert_cmpint(qnum_get_uint(qobject_to(QNum, e->value)), ==, 0);
    }
    qobject_unref(info);

    /* nothing to release */
    info = qtest_qmp_assert_success_ref(qts, "{ 'execute': 'cmma-flush' }");
    g_assert_cmpuint(cmm_get_u64(info, "released"), ==, 0);
    qobject_unref(info);
    qtest_quit(qts);
}

/* No page-state table (no s390x machine): both commands say so. */
static void test_no_table(void)
{
    QTestState *qts = qtest_init("-M none");
    const char *cmds[] = { "query-cmma", "cmma-flush" };
    int i;

    for (i = 0; i < ARRAY_SIZE(cmds); i++) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': %s }", cmds[i]);
        QDict *err = qdict_get_qdict(rsp, "error");

        g_assert_nonnull(err);
        g_assert_cmpstr(qdict_get_str(err, "class"), ==, "GenericError");
        g_assert_nonnull(strstr(qdict_get_str(err, "desc"), "CMMA"));
        qobject_unref(rsp);
    }
    qtest_quit(qts);
}

static void test_policy(void)
{
    QTestState *qts = qtest_init("-M s390-ccw-virtio -m 256M "
                                 "-global s390-storage_attributes-tcg."
                                 "discard=lazy");
    QDict *info = cmma_info(qts), *rsp;

    g_assert_cmpstr(qdict_get_str(info, "discard-policy"), ==, "lazy");
    qobject_unref(info);

    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': '" TABLE "', 'property': 'discard',"
                             "   'value': 'off' } }");
    info = cmma_info(qts);
    g_assert_cmpstr(qdict_get_str(info, "discard-policy"), ==, "off");
    qobject_unref(info);

    rsp = qtest_qmp(qts, "{ 'execute': 'qom-set', 'arguments':"
                    " { 'path': '" TABLE "', 'property': 'discard',"
                    "   'value': 'sometimes' } }");
    g_assert(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "sometimes"));
    qobject_unref(rsp);
    qtest_quit(qts);
}

static void test_hmp(void)
{
    QTestState *qts = qtest_init("-M s390-ccw-virtio -m 256M");
    g_autofree char *stats = qtest_hmp(qts, "info cmma-stats");
    g_autofree char *flush = qtest_hmp(qts, "cmma_flush");
    g_autofree char *raw = qtest_hmp(qts, "info cmma 0x10000 4");

    g_assert_nonnull(strstr(stats, "total:"));
    g_assert_nonnull(strstr(stats, "256 MiB"));
    g_assert_nonnull(strstr(stats, "discard policy:        adaptive"));
    g_assert_nonnull(strstr(flush, "released 0 MiB"));
    /* four stable pages, where upstream's stub printed none */
    g_assert_nonnull(strstr(raw, "pages 16+4"));
    g_assert_nonnull(strstr(raw, "\n00000000"));
    qtest_quit(qts);
}

/* The features of the "qemu" CPU model on a machine type, as expanded. */
static bool model_has(const char *machine, const char *feature)
{
    QTestState *qts = qtest_initf("-M %s -accel tcg -S", machine);
    QDict *rsp, *props;
    bool has;

    rsp = qtest_qmp(qts, "{ 'execute': 'query-cpu-model-expansion',"
                    " 'arguments': { 'type': 'full',"
                    "                'model': { 'name': 'qemu' } } }");
    g_assert(qdict_haskey(rsp, "return"));
    props = qdict_get_qdict(qdict_get_qdict(qdict_get_qdict(rsp, "return"),
                                            "model"), "props");
    has = qdict_get_bool(props, feature);
    qobject_unref(rsp);
    qtest_quit(qts);
    return has;
}

static void test_cpu_model(void)
{
    g_assert_true(model_has("s390-ccw-virtio", "cmm"));
    g_assert_true(model_has("s390-ccw-virtio", "cmmnt"));
    g_assert_true(model_has("s390-ccw-virtio-cmm-10.0", "cmm"));
    g_assert_true(model_has("s390-ccw-virtio-cmm-10.0", "cmmnt"));
    /* the versioned upstream machine keeps upstream's model */
    g_assert_false(model_has("s390-ccw-virtio-10.0", "cmm"));
    /* older machine types keep what they had: no CMMA */
    g_assert_false(model_has("s390-ccw-virtio-9.2", "cmm"));
    g_assert_false(model_has("s390-ccw-virtio-9.2", "cmmnt"));
    g_assert_false(model_has("s390-ccw-virtio-7.1", "cmm"));
}

/* Start QEMU with @cpu and expect it to refuse with a message naming both. */
static void test_cmmnt_needs_cmm(void)
{
    const char *argv[] = {
        g_getenv("QTEST_QEMU_BINARY"), "-M", "s390-ccw-virtio", "-accel", "tcg",
        "-cpu", "qemu,cmm=off,cmmnt=on", "-S", "-display", "none",
        "-nodefaults", NULL
    };
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, &err, &status, &gerr));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    g_assert_nonnull(strstr(err, "'cmmnt' requires 'cmm'"));
}

/* The adaptive policy reports its state, and only while it is the policy. */
static void test_adaptive(void)
{
    QTestState *qts = qtest_init("-M s390-ccw-virtio -m 256M "
                                 "-global s390-storage_attributes-tcg."
                                 "discard=adaptive");
    QDict *info = cmma_info(qts), *ad;
    g_autofree char *stats = NULL;

    g_assert_cmpstr(qdict_get_str(info, "discard-policy"), ==, "adaptive");
    g_assert_cmpuint(cmm_get_u64(info, "reused"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "refaulted"), ==, 0);
    ad = qdict_get_qdict(info, "adaptive");
    g_assert_nonnull(ad);
    /* a fresh guest: no demand, nothing kept, the initial horizon */
    g_assert_cmpuint(cmm_get_u64(ad, "demand"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(ad, "reserve"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(ad, "horizon-ms"), ==, 1000);
    g_assert_cmpfloat(qdict_get_double(ad, "refault-ratio"), ==, 0);
    qobject_unref(info);

    stats = qtest_hmp(qts, "info cmma-stats");
    g_assert_nonnull(strstr(stats, "discard policy:        adaptive"));
    g_assert_nonnull(strstr(stats, "adaptive horizon:      1000 ms"));

    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': '" TABLE "', 'property': 'discard',"
                             "   'value': 'eager' } }");
    info = cmma_info(qts);
    g_assert_false(qdict_haskey(info, "adaptive"));
    qobject_unref(info);
    qtest_quit(qts);
}

/* A hold outside 1 s .. 1 h is refused at start-up, naming the value. */
static void test_hold_range(void)
{
    static const char *const bad[] = { "999", "3600001" };

    for (int i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *arg = g_strdup_printf(
            "s390-storage_attributes-tcg.discard-hold-max-ms=%s", bad[i]);
        const char *argv[] = {
            g_getenv("QTEST_QEMU_BINARY"), "-M", "s390-ccw-virtio",
            "-accel", "tcg", "-global", arg, "-S", "-display", "none",
            "-nodefaults", NULL
        };
        g_autofree char *out = NULL, *err = NULL;
        g_autofree char *want = g_strdup_printf("not %s", bad[i]);
        g_autoptr(GError) gerr = NULL;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                                   &status, &gerr));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        g_assert_nonnull(strstr(err, "discard-hold-max-ms must be"));
        g_assert_nonnull(strstr(err, want));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/cmma/query/fresh", test_query_fresh);
    qtest_add_func("/cmma/no-table", test_no_table);
    qtest_add_func("/cmma/policy", test_policy);
    qtest_add_func("/cmma/adaptive", test_adaptive);
    qtest_add_func("/cmma/hold-range", test_hold_range);
    qtest_add_func("/cmma/hmp", test_hmp);
    qtest_add_func("/cmma/cpu-model/machine-types", test_cpu_model);
    qtest_add_func("/cmma/cpu-model/cmmnt-needs-cmm", test_cmmnt_needs_cmm);
    return g_test_run();
}
