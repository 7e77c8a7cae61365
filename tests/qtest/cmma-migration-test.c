/*
 * qemu-cmm: CMMA page states migrate with the guest
 *
 * A tiny s390x program, run under TCG, gives pages every usage state with
 * ESSA; the states must arrive intact on the destination.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "cmm-qtest-util.h"
#include "qobject/qdict.h"
#include "qobject/qnum.h"

#define LOAD_ADDR   0x20000
#define MARK_ADDR   0x30000     /* 0xc0ffee once the states are set */
#define BEAT_ADDR   0x30008     /* counts up while the program runs */
#define PAGE        4096

/*
 * Assembled with s390x-linux-gnu-as from:
 *
 *     llilf   %r3, 0x100000          256 pages from 1 MiB: unused
 *     lghi    %r4, 256
 * 1:  essa    %r5, %r3, 2
 *     aghi    %r3, 4096
 *     brctg   %r4, 1b
 *     lghi    %r4, 16                16 pages from 2 MiB: stable, no-DAT
 * 2:  essa    %r5, %r3, 7
 *     aghi    %r3, 4096
 *     brctg   %r4, 2b
 *     lghi    %r4, 8                 8 pages: volatile
 * 3:  essa    %r5, %r3, 3
 *     aghi    %r3, 4096
 *     brctg   %r4, 3b
 *     essa    %r5, %r3, 4            1 page: potentially volatile
 *     llilf   %r6, 0x30000
 *     llilf   %r7, 0xc0ffee
 *     stg     %r7, 0(%r6)            done marker
 *     llilf   %r8, 0x300000
 * 4:  essa    %r5, %r8, 1            one page keeps changing
 *     essa    %r5, %r8, 2
 *     lg      %r9, 8(%r6)
 *     aghi    %r9, 1
 *     stg     %r9, 8(%r6)            heartbeat
 *     j       4b
 */
static const uint8_t guest_code[] = {
    0xc0, 0x3f, 0x00, 0x10, 0x00, 0x00, 0xa7, 0x49, 0x01, 0x00, 0xb9, 0xab,
    0x20, 0x53, 0xa7, 0x3b, 0x10, 0x00, 0xa7, 0x47, 0xff, 0xfc, 0xa7, 0x49,
    0x00, 0x10, 0xb9, 0xab, 0x70, 0x53, 0xa7, 0x3b, 0x10, 0x00, 0xa7, 0x47,
    0xff, 0xfc, 0xa7, 0x49, 0x00, 0x08, 0xb9, 0xab, 0x30, 0x53, 0xa7, 0x3b,
    0x10, 0x00, 0xa7, 0x47, 0xff, 0xfc, 0xb9, 0xab, 0x40, 0x53, 0xc0, 0x6f,
    0x00, 0x03, 0x00, 0x00, 0xc0, 0x7f, 0x00, 0xc0, 0xff, 0xee, 0xe3, 0x70,
    0x60, 0x00, 0x00, 0x24, 0xc0, 0x8f, 0x00, 0x30, 0x00, 0x00, 0xb9, 0xab,
    0x10, 0x58, 0xb9, 0xab, 0x20, 0x58, 0xe3, 0x90, 0x60, 0x08, 0x00, 0x04,
    0xa7, 0x9b, 0x00, 0x01, 0xe3, 0x90, 0x60, 0x08, 0x00, 0x24, 0xa7, 0xf4,
    0xff, 0xf4, 0x07, 0x07
};

/* Write the program as a one-segment big-endian ELF64 for -kernel. */
static char *write_guest_elf(void)
{
    enum { CODE_OFF = 0x1000 };
    g_autofree uint8_t *img = g_malloc0(CODE_OFF + sizeof(guest_code));
    char *path = NULL;
    GError *err = NULL;
    int fd;

    memcpy(img, "\x7f" "ELF", 4);
    img[4] = 2;                                 /* 64-bit */
    img[5] = 2;                                 /* big endian */
    img[6] = 1;                                 /* version */
    stw_be_p(img + 16, 2);                      /* ET_EXEC */
    stw_be_p(img + 18, 22);                     /* EM_S390 */
    stl_be_p(img + 20, 1);
    stq_be_p(img + 24, LOAD_ADDR);              /* entry */
    stq_be_p(img + 32, 64);                     /* phoff */
    stw_be_p(img + 52, 64);                     /* ehsize */
    stw_be_p(img + 54, 56);                     /* phentsize */
    stw_be_p(img + 56, 1);                      /* phnum */
    stl_be_p(img + 64, 1);                      /* PT_LOAD */
    stl_be_p(img + 68, 5);                      /* R+X */
    stq_be_p(img + 72, CODE_OFF);               /* offset */
    stq_be_p(img + 80, LOAD_ADDR);              /* vaddr */
    stq_be_p(img + 88, LOAD_ADDR);              /* paddr */
    stq_be_p(img + 96, sizeof(guest_code));     /* filesz */
    stq_be_p(img + 104, sizeof(guest_code));    /* memsz */
    stq_be_p(img + 112, PAGE);                  /* align */
    memcpy(img + CODE_OFF, guest_code, sizeof(guest_code));

    fd = g_file_open_tmp("cmma-guest-XXXXXX.elf", &path, &err);
    g_assert_no_error(err);
    g_assert_cmpint(write(fd, img, CODE_OFF + sizeof(guest_code)), ==,
                    CODE_OFF + sizeof(guest_code));
    close(fd);
    return path;
}


static QDict *cmma_info(QTestState *qts)
{
    return qtest_qmp_assert_success_ref(qts, "{ 'execute': 'query-cmma' }");
}

/* Wait until @qts's guest has set its states and is running. */
static void wait_guest(QTestState *qts)
{
    uint64_t beat;
    int i;

    for (i = 0; i < 1000 && qtest_readq(qts, MARK_ADDR) != 0xc0ffee; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_cmphex(qtest_readq(qts, MARK_ADDR), ==, 0xc0ffee);
    beat = qtest_readq(qts, BEAT_ADDR);
    for (i = 0; i < 1000 && qtest_readq(qts, BEAT_ADDR) == beat; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_cmpuint(qtest_readq(qts, BEAT_ADDR), !=, beat);
}


static void assert_hmp_bytes(QTestState *qts, uint64_t addr, int n,
                             const char *bytes)
{
    g_autofree char *out = qtest_hmp(qts, "info cmma 0x%" PRIx64 " %d",
                                     addr, n);

    if (!strstr(out, bytes)) {
        g_error("info cmma 0x%" PRIx64 " %d: expected '%s' in '%s'",
                addr, n, bytes, out);
    }
}

/* Check the states the program sets, on whichever side @qts is. */
static void assert_guest_states(QTestState *qts)
{
    QDict *info = cmma_info(qts);

    /* the flipping page may be unused too */
    g_assert_cmpuint(cmm_get_u64(info, "unused"), >=, 256 * PAGE);
    g_assert_cmpuint(cmm_get_u64(info, "unused"), <=, 257 * PAGE);
    g_assert_cmpuint(cmm_get_u64(info, "no-dat"), ==, 16 * PAGE);
    g_assert_cmpuint(cmm_get_u64(info, "volatile"), ==, 8 * PAGE);
    g_assert_cmpuint(cmm_get_u64(info, "potentially-volatile"), ==, PAGE);
    qobject_unref(info);

    assert_hmp_bytes(qts, 0x100000, 4, "01010101");
    assert_hmp_bytes(qts, 0x1ff000, 2, "0140");
    assert_hmp_bytes(qts, 0x20f000, 2, "4003");
    assert_hmp_bytes(qts, 0x217000, 3, "030200");
}

static void test_states_migrate(void)
{
    g_autofree char *elf = write_guest_elf();
    g_autofree char *tmpdir = g_dir_make_tmp("cmma-mig-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/mig.sock", tmpdir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    const char *common = "-M s390-ccw-virtio -accel tcg -m 64M -nodefaults";
    QTestState *src, *dst;

    src = qtest_initf("%s -kernel %s", common, elf);
    wait_guest(src);
    assert_guest_states(src);

    dst = qtest_initf("%s -kernel %s -incoming %s", common, elf, uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    cmm_wait_migration(src);

    /* the destination runs on with the states the source had */
    wait_guest(dst);
    assert_guest_states(dst);

    qtest_quit(src);
    qtest_quit(dst);
    unlink(sock);
    unlink(elf);
    rmdir(tmpdir);
}

/*
 * A machine type without cmm: no guest can set states, the section still
 * goes through, and the destination's table is sane.
 */
static void test_old_machine_type(void)
{
    g_autofree char *tmpdir = g_dir_make_tmp("cmma-mig-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/mig.sock", tmpdir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    const char *common = "-M s390-ccw-virtio-9.2 -m 64M -nodefaults";
    QTestState *src, *dst;
    QDict *info;

    src = qtest_initf("%s", common);
    dst = qtest_initf("%s -incoming %s", common, uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    cmm_wait_migration(src);
    info = cmma_info(dst);
    g_assert_cmpuint(cmm_get_u64(info, "stable"), ==, 64 * MiB);
    qobject_unref(info);
    qtest_quit(src);
    qtest_quit(dst);
    unlink(sock);
    rmdir(tmpdir);
}

/* system_reset from the monitor sets every page stable, no-DAT off. */
static void test_system_reset(void)
{
    g_autofree char *elf = write_guest_elf();
    QTestState *qts;
    QDict *info = NULL;
    int i;

    qts = qtest_initf("-M s390-ccw-virtio -accel tcg -m 64M -nodefaults "
                      "-kernel %s", elf);
    wait_guest(qts);
    assert_guest_states(qts);
    /* stopped, so the program cannot run again and set states anew */
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'system_reset' }");
    for (i = 0; i < 500; i++) {
        qobject_unref(info);
        info = cmma_info(qts);
        if (cmm_get_u64(info, "stable") == 64 * MiB) {
            break;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpuint(cmm_get_u64(info, "stable"), ==, 64 * MiB);
    g_assert_cmpuint(cmm_get_u64(info, "no-dat"), ==, 0);
    g_assert_cmpuint(cmm_get_u64(info, "discarded"), ==, 0);
    qobject_unref(info);
    assert_hmp_bytes(qts, 0x1ff000, 2, "0000");
    qtest_quit(qts);
    unlink(elf);
}

/*
 * Upstream QEMU 10.0 sends the section without data and ignores data it
 * receives: streams of s390-ccw-virtio-10.0, which keeps upstream's guest
 * ABI (default CPU model without CMM), go through both ways.  Needs an
 * unpatched binary, named by CMM_QEMU_UPSTREAM (make check builds one).
 */
#define UPSTREAM_MACHINE "-M s390-ccw-virtio-10.0 -m 64M -nodefaults"

static void migrate_between(const char *src_var, const char *dst_var)
{
    g_autofree char *tmpdir = g_dir_make_tmp("cmma-mig-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/mig.sock", tmpdir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *dst_args = NULL;
    QTestState *src, *dst;
    QDict *rsp;

    dst_args = g_strdup_printf("%s -incoming %s", UPSTREAM_MACHINE, uri);
    src = qtest_init_with_env(src_var, UPSTREAM_MACHINE, true);
    dst = qtest_init_with_env(dst_var, dst_args, true);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    cmm_wait_migration(src);
    rsp = qtest_qmp_assert_success_ref(dst, "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "running");
    qobject_unref(rsp);
    qtest_quit(src);
    qtest_quit(dst);
    unlink(sock);
    rmdir(tmpdir);
}

static void test_upstream_compat(void)
{
    if (!g_getenv("CMM_QEMU_UPSTREAM")) {
        g_test_skip("CMM_QEMU_UPSTREAM names no unpatched QEMU 10.0");
        return;
    }
    migrate_between("QTEST_QEMU_BINARY", "CMM_QEMU_UPSTREAM");
    migrate_between("CMM_QEMU_UPSTREAM", "QTEST_QEMU_BINARY");
}

static QDict *qemu_model(const char *var)
{
    QTestState *qts = qtest_init_with_env(var, UPSTREAM_MACHINE, true);
    QDict *rsp, *model;

    rsp = qtest_qmp_assert_success_ref(qts,
        "{ 'execute': 'query-cpu-model-expansion', 'arguments':"
        "  { 'type': 'full', 'model': { 'name': 'qemu' } } }");
    model = qdict_get_qdict(rsp, "model");
    qobject_ref(model);
    qobject_unref(rsp);
    qtest_quit(qts);
    return model;
}

/*
 * The fork's s390-ccw-virtio-10.0 has upstream's qemu CPU model, without
 * CMM: feature for feature the model upstream's binary expands.
 */
static void test_machine_10_0_is_upstream(void)
{
    QDict *ours = qemu_model("QTEST_QEMU_BINARY"), *theirs;
    QDict *props = qdict_get_qdict(ours, "props");

    g_assert_false(qdict_get_bool(props, "cmm"));
    g_assert_false(qdict_get_bool(props, "cmmnt"));
    if (g_getenv("CMM_QEMU_UPSTREAM")) {
        theirs = qemu_model("CMM_QEMU_UPSTREAM");
        g_assert_true(qobject_is_equal(QOBJECT(ours), QOBJECT(theirs)));
        qobject_unref(theirs);
    }
    qobject_unref(ours);
}

#define CAPS "{ 'execute': 'migrate-set-capabilities',"               \
    " 'arguments': { 'capabilities': ["                                 \
    "   { 'capability': 'return-path', 'state': true },"               \
    "   { 'capability': 'switchover-ack', 'state': true } ] } }"

/*
 * A guest of the cmm machine cannot go to upstream QEMU, which lacks the
 * machine: the destination refuses the stream at its first section, and
 * with a return path and switchover-ack (what a manager should set when it
 * migrates between QEMU builds) the source learns of it before it would
 * stop the guest, which runs on.
 */
static void test_cmm_machine_to_upstream(void)
{
    g_autofree char *tmpdir = g_dir_make_tmp("cmma-mig-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/mig.sock", tmpdir);
    g_autofree char *err = g_strdup_printf("%s/dst.err", tmpdir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *src_args = NULL, *dst_args = NULL, *log = NULL;
    QTestState *src, *dst;
    QDict *rsp = NULL;
    const char *status = "none";
    int i;

    if (!g_getenv("CMM_QEMU_UPSTREAM")) {
        g_test_skip("CMM_QEMU_UPSTREAM names no unpatched QEMU 10.0");
        return;
    }
    src_args = g_strdup("-M s390-ccw-virtio -m 64M -nodefaults");
    /* the destination's complaint goes to a file this test reads */
    dst_args = g_strdup_printf("%s -incoming defer 2>%s", UPSTREAM_MACHINE,
                               err);
    src = qtest_init_with_env("QTEST_QEMU_BINARY", src_args, true);
    dst = qtest_init_with_env("CMM_QEMU_UPSTREAM", dst_args, true);
    qtest_set_expected_status(dst, EXIT_FAILURE);
    qtest_qmp_assert_success(src, CAPS);
    qtest_qmp_assert_success(dst, CAPS);
    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming',"
                             "  'arguments': { 'uri': %s } }", uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    for (i = 0; i < 3000; i++) {
        qobject_unref(rsp);
        rsp = qtest_qmp_assert_success_ref(src,
                                           "{ 'execute': 'query-migrate' }");
        status = qdict_haskey(rsp, "status") ? qdict_get_str(rsp, "status")
                                             : "none";
        if (!strcmp(status, "failed") || !strcmp(status, "completed")) {
            break;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpstr(status, ==, "failed");
    g_test_message("source: %s", qdict_haskey(rsp, "error-desc") ?
                   qdict_get_str(rsp, "error-desc") : "(no error-desc)");
    qobject_unref(rsp);

    /* the guest never stopped on the source */
    g_assert_null(qtest_qmp_event_ref(src, "STOP"));
    rsp = qtest_qmp_assert_success_ref(src, "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "running");
    qobject_unref(rsp);

    qtest_quit(dst);
    g_assert_true(g_file_get_contents(err, &log, NULL, NULL));
    if (!strstr(log, "Machine type received is 's390-ccw-virtio-cmm-10.0'")) {
        g_error("the destination did not name the machine type: %s", log);
    }
    qtest_quit(src);
    unlink(err);
    unlink(sock);
    rmdir(tmpdir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/cmma/migration/states", test_states_migrate);
    qtest_add_func("/cmma/migration/old-machine-type", test_old_machine_type);
    qtest_add_func("/cmma/migration/upstream-both-ways", test_upstream_compat);
    qtest_add_func("/cmma/migration/machine-10.0-is-upstream",
                   test_machine_10_0_is_upstream);
    qtest_add_func("/cmma/migration/cmm-machine-to-upstream",
                   test_cmm_machine_to_upstream);
    qtest_add_func("/cmma/system-reset", test_system_reset);
    return g_test_run();
}
