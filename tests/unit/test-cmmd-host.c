/*
 * Unit tests for qemu-cmmd's host readers and status formatting
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The host readers run on fake cgroup, /proc and meminfo trees built in
 * a temporary directory; the status formatters run on a status document
 * shaped like the one the daemon serves on its control socket.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include "../../tools/cmmd/host.h"
#include "../../tools/cmmd/status.h"

#define KiB         1024ULL
#define MiB         (1024 * KiB)
#define GiB         (1024 * MiB)

/* What cgroup v1 shows in memory.limit_in_bytes for "no limit" (4K pages) */
#define V1_NO_LIMIT "9223372036854771712"

#define FAKE_PID    4242
#define CGROOT      "/sys/fs/cgroup"

/* ---- helpers ------------------------------------------------------------ */

static char *tmp_new(void)
{
    g_autoptr(GError) gerr = NULL;
    char *dir = g_dir_make_tmp("test-cmmd-host-XXXXXX", &gerr);

    g_assert_no_error(gerr);
    g_assert_nonnull(dir);
    return dir;
}

/* Remove @path and everything under it. */
static void rm_rf(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) &&
        !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;

        g_assert_nonnull(dir);
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *sub = g_build_filename(path, name, NULL);

            rm_rf(sub);
        }
        g_assert_cmpint(rmdir(path), ==, 0);
    } else {
        g_assert_cmpint(unlink(path), ==, 0);
    }
}

/* Write @text to @dir/@rel, creating the directories on the way. */
static char *put(const char *dir, const char *rel, const char *text)
{
    g_autoptr(GError) gerr = NULL;
    char *path = g_build_filename(dir, rel, NULL);
    g_autofree char *parent = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, -1, &gerr));
    g_assert_no_error(gerr);
    return path;
}

static void put_file(const char *dir, const char *rel, const char *text)
{
    g_free(put(dir, rel, text));
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle)) {
        g_test_message("'%s' not found in:\n%s", needle, hay ? hay : "(null)");
        g_test_fail();
    }
}

static void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle)) {
        g_test_message("'%s' unexpected in:\n%s", needle, hay);
        g_test_fail();
    }
}

/* Check that *@errp is set and names @what and @what2 (if given); clear it. */
static void assert_error(Error **errp, const char *what, const char *what2)
{
    g_assert_nonnull(*errp);
    if (!*errp) {
        return;
    }
    assert_contains(error_get_pretty(*errp), what);
    if (what2) {
        assert_contains(error_get_pretty(*errp), what2);
    }
    error_free(*errp);
    *errp = NULL;
}

/* How often @needle occurs in @hay. */
static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;

    for (const char *p = strstr(hay, needle); p;
         p = strstr(p + strlen(needle), needle)) {
        n++;
    }
    return n;
}

/* True if @text has @line as one whole line. */
static bool has_line(const char *text, const char *line)
{
    g_autofree char *t = g_strconcat("\n", text, NULL);
    g_autofree char *l = g_strconcat("\n", line, "\n", NULL);

    return strstr(t, l) != NULL;
}

static void assert_line(const char *text, const char *line)
{
    if (!has_line(text, line)) {
        g_test_message("line '%s' not found in:\n%s", line, text);
        g_test_fail();
    }
}

/* ---- cmmd_cgroup_read --------------------------------------------------- */

static const char pressure[] =
    "some avg10=1.50 avg60=0.20 avg300=0.00 total=123\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=45\n";

static void test_cgroup_v2(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *dir = g_build_filename(tmp, "machine.slice", NULL);
    g_autofree char *psi = NULL;
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(dir, "memory.max", "1073741824\n");
    put_file(dir, "memory.current", "536870912\n");
    psi = put(dir, "memory.pressure", pressure);
    g_assert_true(cmmd_cgroup_read(dir, &cg, &err));
    g_assert_null(err);
    g_assert_cmpint(cg.version, ==, 2);
    g_assert_cmpuint(cg.limit, ==, 1 * GiB);
    g_assert_cmpuint(cg.usage, ==, 512 * MiB);
    g_assert_cmpfloat(cg.psi_some_avg10, ==, 1.5);

    /* no memory.pressure (kernel without PSI): still read, psi -1 */
    put_file(dir, "memory.max", "2147483648");
    g_assert_cmpint(unlink(psi), ==, 0);
    g_assert_true(cmmd_cgroup_read(dir, &cg, &error_abort));
    g_assert_cmpint(cg.version, ==, 2);
    g_assert_cmpuint(cg.limit, ==, 2 * GiB);
    g_assert_cmpuint(cg.usage, ==, 512 * MiB);
    g_assert_cmpfloat(cg.psi_some_avg10, ==, -1);

    rm_rf(tmp);
}

static void test_cgroup_v2_unlimited(void)
{
    g_autofree char *tmp = tmp_new();
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(tmp, "memory.max", "max\n");
    put_file(tmp, "memory.current", "536870912\n");
    put_file(tmp, "memory.pressure", pressure);
    g_assert_false(cmmd_cgroup_read(tmp, &cg, &err));
    assert_error(&err, "no memory limit", "memory.max");
    rm_rf(tmp);
}

static void test_cgroup_v1(void)
{
    g_autofree char *tmp = tmp_new();
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(tmp, "memory.limit_in_bytes", "4294967296\n");
    put_file(tmp, "memory.usage_in_bytes", "1073741824\n");
    /* not looked at in v1 */
    put_file(tmp, "memory.pressure", pressure);
    g_assert_true(cmmd_cgroup_read(tmp, &cg, &err));
    g_assert_null(err);
    g_assert_cmpint(cg.version, ==, 1);
    g_assert_cmpuint(cg.limit, ==, 4 * GiB);
    g_assert_cmpuint(cg.usage, ==, 1 * GiB);
    g_assert_cmpfloat(cg.psi_some_avg10, ==, -1);
    rm_rf(tmp);
}

static void test_cgroup_v1_unlimited(void)
{
    g_autofree char *tmp = tmp_new();
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(tmp, "memory.limit_in_bytes", V1_NO_LIMIT "\n");
    put_file(tmp, "memory.usage_in_bytes", "1073741824\n");
    g_assert_false(cmmd_cgroup_read(tmp, &cg, &err));
    assert_error(&err, "no memory limit", "memory.limit_in_bytes");

    /* "max" is v2 only: in v1 it is not a number */
    put_file(tmp, "memory.limit_in_bytes", "max\n");
    g_assert_false(cmmd_cgroup_read(tmp, &cg, &err));
    assert_error(&err, "memory.limit_in_bytes", "'max'");
    rm_rf(tmp);
}

static void test_cgroup_not_memory(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *dir = g_build_filename(tmp, "cpu-only", NULL);
    g_autofree char *gone = g_build_filename(tmp, "nonexistent", NULL);
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(dir, "cpu.max", "max 100000\n");
    put_file(dir, "memory.current", "536870912\n");
    g_assert_false(cmmd_cgroup_read(dir, &cg, &err));
    assert_error(&err, dir, "not a memory cgroup");

    g_assert_false(cmmd_cgroup_read(gone, &cg, &err));
    assert_error(&err, gone, NULL);
    rm_rf(tmp);
}

static void test_cgroup_garbage(void)
{
    static const char *const bad[] = {
        "12abc", "", "lots", "0x100", "1 2", "-1", "-4096",
    };
    g_autofree char *tmp = tmp_new();
    g_autofree char *cur = g_build_filename(tmp, "memory.current", NULL);
    g_autofree char *max = g_build_filename(tmp, "memory.max", NULL);
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(tmp, "memory.max", "1073741824\n");
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *quoted = g_strdup_printf("'%s'", bad[i]);
        g_autofree char *text = g_strdup_printf("%s\n", bad[i]);

        put_file(tmp, "memory.current", text);
        g_assert_false(cmmd_cgroup_read(tmp, &cg, &err));
        assert_error(&err, cur, quoted);
    }

    /* the limit's file too */
    put_file(tmp, "memory.current", "536870912\n");
    put_file(tmp, "memory.max", "1G\n");
    g_assert_false(cmmd_cgroup_read(tmp, &cg, &err));
    assert_error(&err, max, "'1G'");
    rm_rf(tmp);
}

static void test_cgroup_missing_usage(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *v2 = g_build_filename(tmp, "v2", NULL);
    g_autofree char *v1 = g_build_filename(tmp, "v1", NULL);
    CmmdCgroup cg;
    Error *err = NULL;

    put_file(v2, "memory.max", "1073741824\n");
    put_file(v2, "memory.pressure", pressure);
    g_assert_false(cmmd_cgroup_read(v2, &cg, &err));
    assert_error(&err, "memory.current", NULL);

    put_file(v1, "memory.limit_in_bytes", "1073741824\n");
    g_assert_false(cmmd_cgroup_read(v1, &cg, &err));
    assert_error(&err, "memory.usage_in_bytes", NULL);
    rm_rf(tmp);
}

/* ---- cmmd_cgroup_of_pid ------------------------------------------------- */

/*
 * Write @text as proc/FAKE_PID/cgroup under @tmp and return what
 * cmmd_cgroup_of_pid makes of it (NULL with @errp set on error).
 */
static char *cgroup_of(const char *tmp, const char *text, Error **errp)
{
    g_autofree char *proc = g_build_filename(tmp, "proc", NULL);
    g_autofree char *rel = g_strdup_printf("proc/%d/cgroup", FAKE_PID);

    put_file(tmp, rel, text);
    return cmmd_cgroup_of_pid(proc, CGROOT, FAKE_PID, errp);
}

static void test_cgroup_of_pid_v1(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *a = NULL, *b = NULL, *c = NULL;

    a = cgroup_of(tmp,
                  "12:pids:/machine/qemu1\n"
                  "4:memory:/machine/qemu1\n"
                  "1:name=systemd:/machine/qemu1\n"
                  "0::/\n", &error_abort);
    g_assert_cmpstr(a, ==, CGROOT "/memory/machine/qemu1");

    /* the v1 memory line wins over a v2 line that comes first */
    b = cgroup_of(tmp,
                  "0::/user.slice/session-1.scope\n"
                  "7:devices:/user.slice\n"
                  "4:memory:/machine/qemu1\n", &error_abort);
    g_assert_cmpstr(b, ==, CGROOT "/memory/machine/qemu1");

    /* no trailing newline */
    c = cgroup_of(tmp, "4:memory:/machine/qemu2", &error_abort);
    g_assert_cmpstr(c, ==, CGROOT "/memory/machine/qemu2");
    rm_rf(tmp);
}

static void test_cgroup_of_pid_v2(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *a = NULL, *b = NULL;

    a = cgroup_of(tmp, "0::/system.slice/qemu.service\n", &error_abort);
    g_assert_cmpstr(a, ==, CGROOT "/system.slice/qemu.service");

    /* a controller whose name merely contains "memory" is not memory */
    b = cgroup_of(tmp,
                  "3:nomemory:/elsewhere\n"
                  "1:name=systemd:/elsewhere\n"
                  "0::/machine.slice/qemu2.scope\n", &error_abort);
    g_assert_cmpstr(b, ==, CGROOT "/machine.slice/qemu2.scope");
    rm_rf(tmp);
}

static void test_cgroup_of_pid_comma(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *a = NULL, *b = NULL;

    a = cgroup_of(tmp, "4:cpu,memory:/x\n0::/\n", &error_abort);
    g_assert_cmpstr(a, ==, CGROOT "/memory/x");
    b = cgroup_of(tmp, "9:memory,hugetlb:/y/z\n", &error_abort);
    g_assert_cmpstr(b, ==, CGROOT "/memory/y/z");
    rm_rf(tmp);
}

static void test_cgroup_of_pid_none(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *proc = g_build_filename(tmp, "proc", NULL);
    g_autofree char *want = g_strdup_printf("%d/cgroup", FAKE_PID);
    g_autofree char *gone = g_strdup_printf("%d/cgroup", FAKE_PID + 1);
    char *r;
    Error *err = NULL;

    r = cgroup_of(tmp, "3:cpu:/a\n2:pids:/a\n1:name=systemd:/a\n", &err);
    g_assert_null(r);
    assert_error(&err, want, "no memory cgroup");

    r = cgroup_of(tmp, "", &err);
    g_assert_null(r);
    assert_error(&err, want, NULL);

    /* the process is gone */
    r = cmmd_cgroup_of_pid(proc, CGROOT, FAKE_PID + 1, &err);
    g_assert_null(r);
    assert_error(&err, gone, NULL);
    rm_rf(tmp);
}

/* ---- cmmd_psi_some_avg10 ------------------------------------------------ */

static void test_psi(void)
{
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        { "some avg10=1.50 avg60=0.20 avg300=0.00 total=123\n"
          "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 1.5 },
        { "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0 },
        { "some avg10=100.00 avg60=90.00 avg300=80.00 total=1\n", 100 },
        { "some avg10=100.01 avg60=0.00 avg300=0.00 total=1\n", -1 },
        { "some avg10=250.00 avg60=0.00 avg300=0.00 total=1\n", -1 },
        { "some avg10=-0.50 avg60=0.00 avg300=0.00 total=1\n", -1 },
        { "some avg10=abc avg60=0.00 avg300=0.00 total=1\n", -1 },
        { "some avg10=nan avg60=0.00 avg300=0.00 total=1\n", -1 },
        { "full avg10=5.00 avg60=0.00 avg300=0.00 total=1\n", -1 },
        { "garbage\n", -1 },
        { "", -1 },
    };
    g_autofree char *tmp = tmp_new();
    g_autofree char *gone = g_build_filename(tmp, "nonexistent", NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = put(tmp, "memory.pressure", cases[i].text);
        double v = cmmd_psi_some_avg10(path);

        if (v != cases[i].want) {
            g_test_message("psi file: '%s'", cases[i].text);
        }
        g_assert_cmpfloat(v, ==, cases[i].want);
    }
    g_assert_cmpfloat(cmmd_psi_some_avg10(gone), ==, -1);
    rm_rf(tmp);
}

/* ---- cmmd_mem_available ------------------------------------------------- */

static void test_mem_available(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *good = put(tmp, "meminfo",
                                "MemTotal:       16384000 kB\n"
                                "MemFree:         1024000 kB\n"
                                "MemAvailable:    8192000 kB\n"
                                "Buffers:          102400 kB\n"
                                "Cached:          4096000 kB\n");
    g_autofree char *nofield = put(tmp, "meminfo-old",
                                   "MemTotal:       16384000 kB\n"
                                   "MemFree:         1024000 kB\n"
                                   "Buffers:          102400 kB\n");
    g_autofree char *bad = put(tmp, "meminfo-bad",
                               "MemTotal:       16384000 kB\n"
                               "MemAvailable:   lots kB\n");
    g_autofree char *first = put(tmp, "meminfo-first",
                                 "MemAvailable:    4096 kB\n"
                                 "MemTotal:       16384000 kB\n");
    g_autofree char *gone = g_build_filename(tmp, "nonexistent", NULL);

    g_assert_cmpuint(cmmd_mem_available(good), ==, 8192000 * KiB);
    g_assert_cmpuint(cmmd_mem_available(first), ==, 4096 * KiB);
    g_assert_cmpuint(cmmd_mem_available(nofield), ==, 0);
    g_assert_cmpuint(cmmd_mem_available(bad), ==, 0);
    g_assert_cmpuint(cmmd_mem_available(gone), ==, 0);
    /* the real one, when there is one */
    if (g_file_test("/proc/meminfo", G_FILE_TEST_EXISTS)) {
        g_assert_cmpuint(cmmd_mem_available("/proc/meminfo"), >, 0);
    }
    rm_rf(tmp);
}

/* ---- cmmd_pid_rss ------------------------------------------------------- */

static void test_pid_rss(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *proc = g_build_filename(tmp, "proc", NULL);

    put_file(proc, "77/status",
             "Name:\tqemu-system-s39\n"
             "Umask:\t0022\n"
             "State:\tS (sleeping)\n"
             "Pid:\t77\n"
             "VmPeak:\t 4000000 kB\n"
             "VmSize:\t 3900000 kB\n"
             "VmHWM:\t  200000 kB\n"
             "VmRSS:\t  123456 kB\n"
             "RssAnon:\t  100000 kB\n"
             "Threads:\t8\n");
    /* a kernel thread has no Vm lines */
    put_file(proc, "2/status",
             "Name:\tkthreadd\n"
             "State:\tS (sleeping)\n"
             "Pid:\t2\n"
             "Threads:\t1\n");

    g_assert_cmpuint(cmmd_pid_rss(proc, 77), ==, 123456 * KiB);
    g_assert_cmpuint(cmmd_pid_rss(proc, 2), ==, 0);
    g_assert_cmpuint(cmmd_pid_rss(proc, 78), ==, 0);
    /* and ourselves, for real */
    g_assert_cmpuint(cmmd_pid_rss("/proc", getpid()), >, 0);
    rm_rf(tmp);
}

/* ---- the status document ------------------------------------------------ */

typedef struct FakeGuest {
    const char *name;           /* NULL: no "name" key */
    uint64_t ram, actual, footprint;
    uint64_t target;            /* 0: no "target" key */
    const char *target_status;
    uint64_t unused, discarded, ballooned, tmem;
    int64_t weight;
    uint64_t floor, demand, fair_share;
    int64_t pressure_events;
    bool responsive, routed_around;
    const char *last_action, *why;
} FakeGuest;

static const FakeGuest web1 = {
    .name = "web1", .ram = 1 * GiB, .actual = 768 * MiB,
    .footprint = 512 * MiB, .target = 512 * MiB, .target_status = "reached",
    .unused = 64 * MiB, .discarded = 256 * MiB, .ballooned = 256 * MiB,
    .tmem = 32 * MiB, .weight = 100, .floor = 256 * MiB,
    .demand = 600 * MiB, .fair_share = 512 * MiB, .pressure_events = 3,
    .responsive = true, .routed_around = false,
    .last_action = "shrink", .why = "over-high",
};

static const FakeGuest db2 = {
    .name = "db2", .ram = 4 * GiB, .actual = 4 * GiB,
    .footprint = 3 * GiB, .target = 0, .target_status = "none",
    .unused = 0, .discarded = 1 * GiB, .ballooned = 0,
    .tmem = 0, .weight = 200, .floor = 2 * GiB,
    .demand = 3 * GiB, .fair_share = 3 * GiB, .pressure_events = 0,
    .responsive = false, .routed_around = false,
    .last_action = "", .why = "",
};

static const FakeGuest cache3 = {
    .name = "cache3", .ram = 2 * GiB, .actual = 2 * GiB,
    .footprint = 1536 * MiB, .target = 1 * GiB, .target_status = "stalled",
    .unused = 0, .discarded = 512 * MiB, .ballooned = 0,
    .tmem = 128 * MiB, .weight = 50, .floor = 512 * MiB,
    .demand = 1 * GiB, .fair_share = 1 * GiB, .pressure_events = 17,
    .responsive = true, .routed_around = true,
    .last_action = "hold", .why = "balloon-stalled",
};

static QDict *guest_doc(const FakeGuest *f)
{
    QDict *g = qdict_new();

    if (f->name) {
        qdict_put_str(g, "name", f->name);
    }
    qdict_put(g, "ram", qnum_from_uint(f->ram));
    qdict_put(g, "actual", qnum_from_uint(f->actual));
    qdict_put(g, "footprint", qnum_from_uint(f->footprint));
    if (f->target) {
        qdict_put(g, "target", qnum_from_uint(f->target));
    }
    qdict_put_str(g, "target-status", f->target_status);
    qdict_put(g, "unused-resident", qnum_from_uint(f->unused));
    qdict_put(g, "discarded", qnum_from_uint(f->discarded));
    qdict_put(g, "ballooned", qnum_from_uint(f->ballooned));
    qdict_put(g, "tmem-bytes", qnum_from_uint(f->tmem));
    qdict_put_int(g, "weight", f->weight);
    qdict_put(g, "floor", qnum_from_uint(f->floor));
    qdict_put(g, "demand", qnum_from_uint(f->demand));
    qdict_put(g, "fair-share", qnum_from_uint(f->fair_share));
    qdict_put_int(g, "pressure-events", f->pressure_events);
    qdict_put_bool(g, "responsive", f->responsive);
    qdict_put_bool(g, "routed-around", f->routed_around);
    qdict_put_str(g, "last-action", f->last_action);
    qdict_put_str(g, "why", f->why);
    return g;
}

/*
 * A status document as the daemon makes it: a 2 GiB budget in bytes,
 * 1.5 GiB used, watermarks at 80 % and 90 %, and @n guests (no "guests"
 * key at all if @guests is NULL).
 */
static QDict *status_doc(bool squeezing, bool all_at_floor,
                         const FakeGuest *const *guests, size_t n)
{
    QDict *d = qdict_new();

    qdict_put_int(d, "version", 1);
    qdict_put_str(d, "mode", "cmm");
    qdict_put_bool(d, "dry-run", false);
    qdict_put_str(d, "budget-source", "bytes");
    qdict_put(d, "budget", qnum_from_uint(2 * GiB));
    qdict_put(d, "usage", qnum_from_uint(1536 * MiB));
    qdict_put(d, "low", qnum_from_uint(2 * GiB * 8 / 10));
    qdict_put(d, "high", qnum_from_uint(2 * GiB * 9 / 10));
    qdict_put(d, "mem-available", qnum_from_uint(6 * GiB));
    qdict_put(d, "psi-some-avg10", qnum_from_double(1.5));
    qdict_put_bool(d, "squeezing", squeezing);
    qdict_put_bool(d, "all-at-floor", all_at_floor);
    qdict_put_str(d, "summary", "3 guests");
    qdict_put_int(d, "ticks", 42);
    if (guests) {
        QList *gl = qlist_new();

        for (size_t i = 0; i < n; i++) {
            qlist_append(gl, guest_doc(guests[i]));
        }
        qdict_put(d, "guests", gl);
    }
    return d;
}

/* ---- cmmd_status_prometheus --------------------------------------------- */

/*
 * Check @text against the textfile exposition format: every metric has
 * one HELP and then one TYPE line, its samples follow them in one group,
 * and every sample's value is a number.  Returns the number of samples.
 */
static unsigned check_exposition(const char *text)
{
    g_autoptr(GHashTable) help = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal,
                                                       g_free, NULL);
    g_autoptr(GHashTable) type = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal,
                                                       g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *family = NULL;
    unsigned samples = 0;

    g_assert_true(g_str_has_suffix(text, "\n"));
    for (char **l = lines; *l; l++) {
        if (!**l) {
            /* only the end of the text may be empty */
            g_assert_null(l[1]);
            continue;
        }
        if (g_str_has_prefix(*l, "# HELP ")) {
            g_auto(GStrv) f = g_strsplit(*l + 7, " ", 2);

            g_assert_cmpuint(g_strv_length(f), ==, 2);
            g_assert_false(g_hash_table_contains(help, f[0]));
            g_hash_table_add(help, g_strdup(f[0]));
        } else if (g_str_has_prefix(*l, "# TYPE ")) {
            g_auto(GStrv) f = g_strsplit(*l + 7, " ", -1);

            g_assert_cmpuint(g_strv_length(f), ==, 2);
            g_assert_true(g_hash_table_contains(help, f[0]));
            g_assert_false(g_hash_table_contains(type, f[0]));
            g_assert_true(!strcmp(f[1], "gauge") || !strcmp(f[1], "counter"));
            g_hash_table_add(type, g_strdup(f[0]));
            g_free(family);
            family = g_strdup(f[0]);
        } else {
            size_t len = strcspn(*l, "{ ");
            g_autofree char *metric = g_strndup(*l, len);
            const char *value = strrchr(*l, ' ');
            char *end;

            g_assert_false(**l == '#');
            g_assert_cmpstr(metric, ==, family);
            g_assert_nonnull(value);
            if (value) {
                g_ascii_strtod(value + 1, &end);
                g_assert_true(end != value + 1 && !*end);
            }
            samples++;
        }
    }
    return samples;
}

static void test_prometheus_host(void)
{
    static const char *const host[] = {
        "cmmd_budget_bytes", "cmmd_usage_bytes", "cmmd_low_watermark_bytes",
        "cmmd_high_watermark_bytes", "cmmd_squeezing", "cmmd_all_at_floor",
    };
    const FakeGuest *const guests[] = { &web1 };
    g_autoptr(QDict) st = status_doc(true, false, guests, 1);
    g_autoptr(GString) out = cmmd_status_prometheus(st);

    check_exposition(out->str);
    for (size_t i = 0; i < G_N_ELEMENTS(host); i++) {
        g_autofree char *h = g_strdup_printf("# HELP %s ", host[i]);
        g_autofree char *t = g_strdup_printf("# TYPE %s gauge\n", host[i]);

        g_assert_cmpuint(count(out->str, h), ==, 1);
        g_assert_cmpuint(count(out->str, t), ==, 1);
    }
    assert_line(out->str, "cmmd_budget_bytes 2147483648");
    assert_line(out->str, "cmmd_usage_bytes 1610612736");
    assert_line(out->str, "cmmd_low_watermark_bytes 1717986918");
    assert_line(out->str, "cmmd_high_watermark_bytes 1932735283");
    /* booleans as 0 and 1 */
    assert_line(out->str, "cmmd_squeezing 1");
    assert_line(out->str, "cmmd_all_at_floor 0");
    /* strings are not metrics */
    assert_lacks(out->str, "bytes\n");
    assert_lacks(out->str, "over-high");

    {
        g_autoptr(QDict) st2 = status_doc(false, true, guests, 1);
        g_autoptr(GString) out2 = cmmd_status_prometheus(st2);

        assert_line(out2->str, "cmmd_squeezing 0");
        assert_line(out2->str, "cmmd_all_at_floor 1");
    }
}

static void test_prometheus_guests(void)
{
    static const char *const guest_metrics[] = {
        "cmmd_guest_ram_bytes", "cmmd_guest_logical_bytes",
        "cmmd_guest_footprint_bytes", "cmmd_guest_target_bytes",
        "cmmd_guest_unused_resident_bytes", "cmmd_guest_discarded_bytes",
        "cmmd_guest_ballooned_bytes", "cmmd_guest_tmem_bytes",
        "cmmd_guest_weight", "cmmd_guest_floor_bytes",
        "cmmd_guest_demand_bytes", "cmmd_guest_fair_share_bytes",
        "cmmd_guest_pressure_events_total", "cmmd_guest_responsive",
        "cmmd_guest_routed_around",
    };
    FakeGuest odd = web1;
    const FakeGuest *guests[] = { &web1, &db2, &cache3, &odd };
    g_autoptr(QDict) st = NULL;
    g_autoptr(GString) out = NULL;
    unsigned samples;

    odd.name = "a\"b\\c";
    odd.footprint = 100 * MiB;
    st = status_doc(false, false, guests, G_N_ELEMENTS(guests));
    out = cmmd_status_prometheus(st);

    samples = check_exposition(out->str);
    /* 6 host ones, 15 per guest but db2 has no target */
    g_assert_cmpuint(samples, ==, 6 + 15 * 4 - 1);
    for (size_t i = 0; i < G_N_ELEMENTS(guest_metrics); i++) {
        g_autofree char *h = g_strdup_printf("# HELP %s ", guest_metrics[i]);
        g_autofree char *t = g_strdup_printf("# TYPE %s ", guest_metrics[i]);

        g_assert_cmpuint(count(out->str, h), ==, 1);
        g_assert_cmpuint(count(out->str, t), ==, 1);
    }
    assert_line(out->str, "# TYPE cmmd_guest_pressure_events_total counter");
    assert_line(out->str, "# TYPE cmmd_guest_footprint_bytes gauge");
    assert_line(out->str, "# TYPE cmmd_guest_weight gauge");

    assert_line(out->str, "cmmd_guest_footprint_bytes{guest=\"web1\"} "
                "536870912");
    assert_line(out->str, "cmmd_guest_footprint_bytes{guest=\"db2\"} "
                "3221225472");
    assert_line(out->str, "cmmd_guest_ram_bytes{guest=\"db2\"} 4294967296");
    assert_line(out->str, "cmmd_guest_logical_bytes{guest=\"web1\"} "
                "805306368");
    assert_line(out->str, "cmmd_guest_target_bytes{guest=\"web1\"} "
                "536870912");
    assert_lacks(out->str, "cmmd_guest_target_bytes{guest=\"db2\"}");
    assert_line(out->str, "cmmd_guest_unused_resident_bytes{guest=\"web1\"} "
                "67108864");
    assert_line(out->str, "cmmd_guest_tmem_bytes{guest=\"cache3\"} "
                "134217728");
    assert_line(out->str, "cmmd_guest_weight{guest=\"db2\"} 200");
    assert_line(out->str, "cmmd_guest_fair_share_bytes{guest=\"cache3\"} "
                "1073741824");
    assert_line(out->str, "cmmd_guest_pressure_events_total"
                "{guest=\"cache3\"} 17");
    /* booleans as 0 and 1 */
    assert_line(out->str, "cmmd_guest_responsive{guest=\"web1\"} 1");
    assert_line(out->str, "cmmd_guest_responsive{guest=\"db2\"} 0");
    assert_line(out->str, "cmmd_guest_routed_around{guest=\"web1\"} 0");
    assert_line(out->str, "cmmd_guest_routed_around{guest=\"cache3\"} 1");
    /* label values escaped */
    assert_line(out->str, "cmmd_guest_footprint_bytes{guest=\"a\\\"b\\\\c\"} "
                "104857600");
    assert_lacks(out->str, "a\"b\\c");
}

static void test_prometheus_newline_label(void)
{
    FakeGuest nl = web1;
    const FakeGuest *guests[] = { &nl };
    g_autoptr(QDict) st = NULL;
    g_autoptr(GString) out = NULL;

    nl.name = "two\nlines";
    st = status_doc(false, false, guests, 1);
    out = cmmd_status_prometheus(st);
    check_exposition(out->str);
    assert_line(out->str, "cmmd_guest_ram_bytes{guest=\"two\\nlines\"} "
                "1073741824");
}

static void test_prometheus_skip_unnamed(void)
{
    FakeGuest anon = cache3;
    const FakeGuest *guests[] = { &anon, &web1 };
    g_autoptr(QDict) st = NULL;
    g_autoptr(GString) out = NULL;
    QList *gl;

    anon.name = NULL;
    anon.footprint = 777 * MiB;
    st = status_doc(false, false, guests, G_N_ELEMENTS(guests));
    /* and an entry that is not a guest object at all */
    gl = qdict_get_qlist(st, "guests");
    g_assert_nonnull(gl);
    qlist_append_str(gl, "junk");
    qlist_append_int(gl, 5);
    out = cmmd_status_prometheus(st);

    /* 6 host ones and web1's 15 */
    g_assert_cmpuint(check_exposition(out->str), ==, 6 + 15);
    assert_line(out->str, "cmmd_guest_footprint_bytes{guest=\"web1\"} "
                "536870912");
    g_assert_cmpuint(count(out->str, "cmmd_guest_footprint_bytes{"), ==, 1);
    assert_lacks(out->str, "814743552");
    assert_lacks(out->str, "guest=\"\"");
    assert_lacks(out->str, "junk");
}

static void test_prometheus_no_guests(void)
{
    const FakeGuest *none[] = { NULL };
    g_autoptr(QDict) st = status_doc(true, true, NULL, 0);
    g_autoptr(QDict) empty = status_doc(true, true, none, 0);
    g_autoptr(GString) out = cmmd_status_prometheus(st);
    g_autoptr(GString) out2 = cmmd_status_prometheus(empty);

    g_assert_cmpuint(check_exposition(out->str), ==, 6);
    assert_line(out->str, "cmmd_budget_bytes 2147483648");
    assert_line(out->str, "cmmd_all_at_floor 1");
    assert_lacks(out->str, "cmmd_guest_");
    /* an empty list is the same */
    g_assert_cmpstr(out2->str, ==, out->str);
}

/* ---- cmmd_status_table -------------------------------------------------- */

/* The row of guest @name, split into its blank-separated fields. */
static char **table_row(const char *table, const char *name)
{
    g_auto(GStrv) lines = g_strsplit(table, "\n", -1);

    for (char **l = lines; *l; l++) {
        char **f = g_strsplit_set(*l, " ", -1);
        char **w = f, **r = f;

        /* drop the empty fields the padding makes */
        for (; *r; r++) {
            if (**r) {
                *w++ = *r;
            } else {
                g_free(*r);
            }
        }
        *w = NULL;
        if (f[0] && !strcmp(f[0], name)) {
            return f;
        }
        g_strfreev(f);
    }
    g_test_message("no row for '%s' in:\n%s", name, table);
    g_test_fail();
    return NULL;
}

/* Field @i of a row: name, RAM, LOGIC, FOOTPR, TARGET, STATUS, ... */
enum {
    COL_NAME, COL_RAM, COL_LOGIC, COL_FOOTPR, COL_TARGET, COL_STATUS,
    COL_UNUSED, COL_DISCRD, COL_BALLN, COL_TMEM, COL_WT, COL_FLOOR,
    COL_PRESS, COL_LAST,
};

static void assert_row(const char *table, const char *name,
                       const char *const *want)
{
    g_auto(GStrv) f = table_row(table, name);

    if (!f) {
        return;
    }
    g_assert_cmpuint(g_strv_length(f), >, COL_LAST);
    for (int i = 0; want[i] && i <= COL_LAST && f[i]; i++) {
        g_assert_cmpstr(f[i], ==, want[i]);
    }
}

static void test_table_header(void)
{
    const FakeGuest *guests[] = { &web1 };
    g_autoptr(QDict) quiet = status_doc(false, false, guests, 1);
    g_autoptr(QDict) squeeze = status_doc(true, false, guests, 1);
    g_autoptr(QDict) floors = status_doc(true, true, guests, 1);
    g_autoptr(GString) t1 = cmmd_status_table(quiet);
    g_autoptr(GString) t2 = cmmd_status_table(squeeze);
    g_autoptr(GString) t3 = cmmd_status_table(floors);
    g_auto(GStrv) l1 = g_strsplit(t1->str, "\n", -1);
    g_auto(GStrv) l2 = g_strsplit(t2->str, "\n", -1);
    g_auto(GStrv) l3 = g_strsplit(t3->str, "\n", -1);

    g_assert_cmpuint(g_strv_length(l1), >=, 2);
    g_assert_cmpuint(g_strv_length(l2), >=, 2);
    g_assert_cmpuint(g_strv_length(l3), >=, 2);
    g_assert_cmpstr(l1[0], ==, "policy cmm, budget 2048 MiB (bytes), "
                    "usage 1536 MiB, low 1638, high 1843");
    assert_contains(l1[0], "2048 MiB");
    assert_lacks(l1[0], "squeezing");
    assert_lacks(l1[0], "FLOORS");
    assert_contains(l2[0], "budget 2048 MiB");
    assert_contains(l2[0], "squeezing");
    assert_lacks(l2[0], "FLOORS");
    assert_contains(l3[0], "squeezing");
    assert_contains(l3[0], "ALL GUESTS AT THEIR FLOORS");
    /* the column line */
    assert_contains(l1[1], "GUEST");
    assert_contains(l1[1], "FOOTPR");
    /* header, columns, one row, end */
    g_assert_cmpuint(g_strv_length(l1), ==, 4);
    g_assert_cmpstr(l1[3], ==, "");

    {
        g_autoptr(QDict) dry = status_doc(false, false, guests, 1);
        g_autoptr(GString) t4 = NULL;

        qdict_put_bool(dry, "dry-run", true);
        t4 = cmmd_status_table(dry);
        assert_contains(t4->str, "dry run");
    }
}

static void test_table_rows(void)
{
    const FakeGuest *guests[] = { &web1, &db2, &cache3 };
    g_autoptr(QDict) st = status_doc(false, false, guests, 3);
    g_autoptr(GString) t = cmmd_status_table(st);
    static const char *const w1[] = {
        "web1", "1024", "768", "512", "512", "reached", "64", "256", "256",
        "32", "100", "256", "3", "shrink:", NULL
    };
    static const char *const d2[] = {
        "db2", "4096", "4096", "3072", "-", "no-qmp", "0", "1024", "0",
        "0", "200", "2048", "0", "-:", NULL
    };
    static const char *const c3[] = {
        "cache3", "2048", "2048", "1536", "1024", "routed", "0", "512", "0",
        "128", "50", "512", "17", "hold:", NULL
    };

    /* header, columns, three rows, end */
    g_assert_cmpuint(count(t->str, "\n"), ==, 5);
    assert_row(t->str, "web1", w1);
    assert_row(t->str, "db2", d2);
    assert_row(t->str, "cache3", c3);
    assert_contains(t->str, "shrink: over-high\n");
    assert_contains(t->str, "hold: balloon-stalled\n");
    /* db2 has neither an action nor a reason */
    assert_contains(t->str, "-: -\n");
}

static void test_table_missing(void)
{
    FakeGuest bare = web1;
    const FakeGuest *guests[] = { &bare };
    g_autoptr(QDict) st = NULL;
    g_autoptr(GString) t = NULL;
    QDict *g;
    static const char *const want[] = {
        "web1", "-", "768", "-", "-", "routed", "64", "-", "256", "32",
        "100", "256", "3", NULL
    };

    bare.target = 0;
    bare.routed_around = true;
    st = status_doc(false, false, guests, 1);
    g = qobject_to(QDict, qlist_peek(qdict_get_qlist(st, "guests")));
    g_assert_nonnull(g);
    if (!g) {
        return;
    }
    qdict_del(g, "ram");
    qdict_del(g, "discarded");
    /* a number that is not a byte count is as good as missing */
    qdict_put_str(g, "footprint", "lots");
    qdict_del(st, "usage");
    t = cmmd_status_table(st);
    assert_contains(t->str, "usage - MiB");
    assert_row(t->str, "web1", want);
}

static void test_table_no_guests(void)
{
    g_autoptr(QDict) st = status_doc(false, false, NULL, 0);
    g_autoptr(GString) t = cmmd_status_table(st);

    /* header and columns only */
    g_assert_cmpuint(count(t->str, "\n"), ==, 2);
    assert_contains(t->str, "budget 2048 MiB");
    assert_contains(t->str, "GUEST");
}

/* ---- cmmd_status_write_file --------------------------------------------- */

static void test_write_file(void)
{
    g_autofree char *tmp = tmp_new();
    g_autofree char *path = g_build_filename(tmp, "cmmd.prom", NULL);
    g_autofree char *bad = g_build_filename(tmp, "nonexistent", "cmmd.prom",
                                            NULL);
    const FakeGuest *guests[] = { &web1, &db2 };
    g_autoptr(QDict) st = status_doc(true, false, guests, 2);
    g_autoptr(GString) prom = cmmd_status_prometheus(st);
    g_autofree char *back = NULL;
    g_autofree char *back2 = NULL;
    g_autoptr(GDir) dir = NULL;
    Error *err = NULL;
    unsigned files = 0;

    g_assert_true(cmmd_status_write_file(path, prom->str, &err));
    g_assert_null(err);
    g_assert_true(g_file_get_contents(path, &back, NULL, NULL));
    g_assert_cmpstr(back, ==, prom->str);

    /* replacing it leaves the new text only, and no temporary file */
    g_assert_true(cmmd_status_write_file(path, "short\n", &error_abort));
    g_assert_true(g_file_get_contents(path, &back2, NULL, NULL));
    g_assert_cmpstr(back2, ==, "short\n");
    dir = g_dir_open(tmp, 0, NULL);
    g_assert_nonnull(dir);
    while (dir && g_dir_read_name(dir)) {
        files++;
    }
    g_assert_cmpuint(files, ==, 1);

    g_assert_false(cmmd_status_write_file(bad, "x\n", &err));
    assert_error(&err, "nonexistent", NULL);
    g_assert_false(g_file_test(bad, G_FILE_TEST_EXISTS));
    rm_rf(tmp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* report every broken semantic in one run, not just the first */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/cmmd/host/cgroup/v2", test_cgroup_v2);
    g_test_add_func("/cmmd/host/cgroup/v2-unlimited",
                    test_cgroup_v2_unlimited);
    g_test_add_func("/cmmd/host/cgroup/v1", test_cgroup_v1);
    g_test_add_func("/cmmd/host/cgroup/v1-unlimited",
                    test_cgroup_v1_unlimited);
    g_test_add_func("/cmmd/host/cgroup/not-memory", test_cgroup_not_memory);
    g_test_add_func("/cmmd/host/cgroup/garbage", test_cgroup_garbage);
    g_test_add_func("/cmmd/host/cgroup/missing-usage",
                    test_cgroup_missing_usage);
    g_test_add_func("/cmmd/host/cgroup-of-pid/v1", test_cgroup_of_pid_v1);
    g_test_add_func("/cmmd/host/cgroup-of-pid/v2", test_cgroup_of_pid_v2);
    g_test_add_func("/cmmd/host/cgroup-of-pid/comma",
                    test_cgroup_of_pid_comma);
    g_test_add_func("/cmmd/host/cgroup-of-pid/none", test_cgroup_of_pid_none);
    g_test_add_func("/cmmd/host/psi", test_psi);
    g_test_add_func("/cmmd/host/mem-available", test_mem_available);
    g_test_add_func("/cmmd/host/pid-rss", test_pid_rss);
    g_test_add_func("/cmmd/status/prometheus/host", test_prometheus_host);
    g_test_add_func("/cmmd/status/prometheus/guests", test_prometheus_guests);
    g_test_add_func("/cmmd/status/prometheus/newline-label",
                    test_prometheus_newline_label);
    g_test_add_func("/cmmd/status/prometheus/skip-unnamed",
                    test_prometheus_skip_unnamed);
    g_test_add_func("/cmmd/status/prometheus/no-guests",
                    test_prometheus_no_guests);
    g_test_add_func("/cmmd/status/table/header", test_table_header);
    g_test_add_func("/cmmd/status/table/rows", test_table_rows);
    g_test_add_func("/cmmd/status/table/missing", test_table_missing);
    g_test_add_func("/cmmd/status/table/no-guests", test_table_no_guests);
    g_test_add_func("/cmmd/status/write-file", test_write_file);
    return g_test_run();
}
