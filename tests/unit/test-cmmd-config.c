/*
 * Unit tests for qemu-cmmd's configuration file
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "../../tools/cmmd/config.h"

#define MiB     (1024 * 1024ULL)
#define GiB     (1024 * MiB)

/* ---- helpers ------------------------------------------------------------ */

static CmmdConfig *parse_ok(const char *text)
{
    Error *err = NULL;
    CmmdConfig *cfg = cmmd_config_parse(text, "cmmd.conf", &err);

    if (!cfg) {
        g_test_message("unexpected error: %s", error_get_pretty(err));
    }
    g_assert_null(err);
    g_assert_nonnull(cfg);
    return cfg;
}

/* The message of the error @text must give; the caller frees it. */
static char *parse_err(const char *text)
{
    Error *err = NULL;
    CmmdConfig *cfg = cmmd_config_parse(text, "cmmd.conf", &err);
    char *msg;

    g_assert_null(cfg);
    g_assert_nonnull(err);
    msg = g_strdup(error_get_pretty(err));
    error_free(err);
    return msg;
}

static void check_err(const char *text, const char *expected)
{
    g_autofree char *msg = parse_err(text);

    g_assert_cmpstr(msg, ==, expected);
}

/* A config whose only group besides [host] is "[guest a]" with @line. */
static char *with_guest_key(const char *line)
{
    return g_strdup_printf("[host]\nbudget = 4G\n[guest a]\n%s\n", line);
}

static void check_guest_err(const char *line, const char *expected)
{
    g_autofree char *text = with_guest_key(line);

    check_err(text, expected);
}

/* "[host]\nbudget = 4G\n" then @line on line 3. */
static char *with_host_key(const char *line)
{
    return g_strdup_printf("[host]\nbudget = 4G\n%s\n", line);
}

static void check_host_err(const char *line, const char *expected)
{
    g_autofree char *text = with_host_key(line);

    check_err(text, expected);
}

static CmmdConfig *parse_host_key(const char *line)
{
    g_autofree char *text = with_host_key(line);

    return parse_ok(text);
}

/* Everything but the budget is as documented. */
static void check_defaults(const CmmdConfig *cfg)
{
    g_assert_cmpint(cfg->policy.mode, ==, CMMD_MODE_CMM);
    g_assert_cmpfloat(cfg->policy.low, ==, 0.90);
    g_assert_cmpfloat(cfg->policy.high, ==, 0.95);
    g_assert_cmpfloat(cfg->policy.psi_threshold, ==, 10);
    g_assert_cmpuint(cfg->policy.tick_ms, ==, 1000);
    g_assert_cmpuint(cfg->policy.rate, ==, 256 * MiB);
    g_assert_cmpuint(cfg->policy.deadband, ==, 16 * MiB);
    g_assert_cmpuint(cfg->policy.stall_holdoff, ==, 10);
    g_assert_cmpuint(cfg->policy.reserve, ==, 64 * MiB);
    g_assert_nonnull(cfg->sockets);
    g_assert_cmpstr(cfg->sockets[0], ==, CMMD_DEFAULT_SOCKETS);
    g_assert_null(cfg->sockets[1]);
    g_assert_cmpstr(cfg->control, ==, CMMD_DEFAULT_CONTROL);
    g_assert_null(cfg->textfile);
    g_assert_cmpuint(cfg->qmp_timeout_ms, ==, 2000);
    g_assert_cmpuint(cfg->stats_interval, ==, 2);
    g_assert_cmpuint(cfg->guest_rate, ==, 128 * MiB);
    g_assert_nonnull(cfg->rules);
    g_assert_cmpuint(cfg->rules->len, ==, 0);
}

static CmmdGuestRule *rule(const CmmdConfig *cfg, unsigned i)
{
    g_assert_cmpuint(i, <, cfg->rules->len);
    return g_ptr_array_index(cfg->rules, i);
}

/* ---- good values -------------------------------------------------------- */

static void test_defaults(void)
{
    g_autoptr(CmmdConfig) def = cmmd_config_new_default();
    g_autoptr(CmmdConfig) cfg = parse_ok("[host]\nbudget = 3G\n");

    check_defaults(def);
    g_assert_cmpuint(def->policy.budget, ==, 0);
    g_assert_cmpint(def->budget_source, ==, CMMD_BUDGET_BYTES);
    g_assert_null(def->cgroup);

    check_defaults(cfg);
    g_assert_cmpstr(cfg->path, ==, "cmmd.conf");
    g_assert_cmpuint(cfg->policy.budget, ==, 3 * GiB);
    g_assert_cmpint(cfg->budget_source, ==, CMMD_BUDGET_BYTES);
    g_assert_null(cfg->cgroup);

    cmmd_config_free(NULL);
}

static void test_host_keys(void)
{
    g_autoptr(CmmdConfig) cfg = parse_ok(
        "# every [host] key\n"
        "[host]\n"
        "budget = 1.5G\n"
        "low-watermark = 0.8\n"
        "high-watermark = 97.5%\n"
        "psi-threshold = 2.5\n"
        "tick = 500ms\n"
        "rate = 100M/s\n"
        "guest-rate = 32M\n"
        "deadband = 1048577\n"
        "stall-holdoff = 100000\n"
        "reserve = 0\n"
        "policy = mom\n");

    g_assert_cmpuint(cfg->policy.budget, ==, 1536 * MiB);
    g_assert_cmpfloat(cfg->policy.low, ==, 0.8);
    g_assert_cmpfloat(cfg->policy.high, ==, 0.975);
    g_assert_cmpfloat(cfg->policy.psi_threshold, ==, 2.5);
    g_assert_cmpuint(cfg->policy.tick_ms, ==, 500);
    g_assert_cmpuint(cfg->policy.rate, ==, 100 * MiB);
    g_assert_cmpuint(cfg->guest_rate, ==, 32 * MiB);
    g_assert_cmpuint(cfg->policy.deadband, ==, 1048577);
    g_assert_cmpuint(cfg->policy.stall_holdoff, ==, 100000);
    g_assert_cmpuint(cfg->policy.reserve, ==, 0);
    g_assert_cmpint(cfg->policy.mode, ==, CMMD_MODE_MOM);
}

static void test_host_values(void)
{
    static const struct {
        const char *line;
        uint64_t tick_ms;
    } ticks[] = {
        { "tick = 2", 2000 },
        { "tick = 2s", 2000 },
        { "tick = 1.5s", 1500 },
        { "tick = 100ms", 100 },
        { "tick = 60s", 60000 },
        { "tick = 60000ms", 60000 },
        { "tick = 0.1", 100 },
    };
    static const struct {
        const char *line;
        double value;
    } psis[] = {
        { "psi-threshold = 0", 0 },
        { "psi-threshold = 100", 100 },
        { "psi-threshold = 10%", 10 },
    };
    static const struct {
        const char *line;
        CmmdMode mode;
    } modes[] = {
        { "policy = cmm", CMMD_MODE_CMM },
        { "policy = mom", CMMD_MODE_MOM },
        { "policy = none", CMMD_MODE_NONE },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(ticks); i++) {
        g_autoptr(CmmdConfig) cfg = parse_host_key(ticks[i].line);

        g_assert_cmpuint(cfg->policy.tick_ms, ==, ticks[i].tick_ms);
    }
    for (unsigned i = 0; i < ARRAY_SIZE(psis); i++) {
        g_autoptr(CmmdConfig) cfg = parse_host_key(psis[i].line);

        g_assert_cmpfloat(cfg->policy.psi_threshold, ==, psis[i].value);
    }
    for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
        g_autoptr(CmmdConfig) cfg = parse_host_key(modes[i].line);

        g_assert_cmpint(cfg->policy.mode, ==, modes[i].mode);
    }

    {
        g_autoptr(CmmdConfig) cfg = parse_host_key("rate = 0\n"
                                                   "guest-rate = 0/s");

        g_assert_cmpuint(cfg->policy.rate, ==, 0);
        g_assert_cmpuint(cfg->guest_rate, ==, 0);
    }
    {
        g_autoptr(CmmdConfig) cfg = parse_host_key("low-watermark = 1%\n"
                                                   "high-watermark = 100%");

        g_assert_cmpfloat(cfg->policy.low, ==, 0.01);
        g_assert_cmpfloat(cfg->policy.high, ==, 1.0);
    }
    {
        g_autoptr(CmmdConfig) cfg = parse_host_key("low-watermark = 50%\n"
                                                   "high-watermark = 1");

        g_assert_cmpfloat(cfg->policy.low, ==, 0.5);
        g_assert_cmpfloat(cfg->policy.high, ==, 1.0);
    }
    {
        /* Trailing blanks are dropped; GKeyFile would keep them. */
        g_autoptr(CmmdConfig) cfg = parse_ok("[host]\nbudget = 2G \t\n"
                                             "tick = 3s\t\n");

        g_assert_cmpuint(cfg->policy.budget, ==, 2 * GiB);
        g_assert_cmpuint(cfg->policy.tick_ms, ==, 3000);
    }
}

static void test_daemon_keys(void)
{
    g_autoptr(CmmdConfig) cfg = parse_ok(
        "[host]\n"
        "budget = 1G\n"
        "[daemon]\n"
        "sockets = /run/a/vm-*.qmp;/srv/vm-*/qmp.sock\n"
        "control = /run/cmmd.sock\n"
        "textfile = /var/lib/node_exporter/textfile/cmmd.prom\n"
        "qmp-timeout = 250ms\n"
        "stats-interval = 3600\n");
    g_autoptr(CmmdConfig) empty = parse_ok("[host]\nbudget = 1G\n[daemon]\n");

    check_defaults(empty);
    g_assert_cmpuint(g_strv_length(cfg->sockets), ==, 2);
    g_assert_cmpstr(cfg->sockets[0], ==, "/run/a/vm-*.qmp");
    g_assert_cmpstr(cfg->sockets[1], ==, "/srv/vm-*/qmp.sock");
    g_assert_cmpstr(cfg->control, ==, "/run/cmmd.sock");
    g_assert_cmpstr(cfg->textfile, ==,
                    "/var/lib/node_exporter/textfile/cmmd.prom");
    g_assert_cmpuint(cfg->qmp_timeout_ms, ==, 250);
    g_assert_cmpuint(cfg->stats_interval, ==, 3600);
}

static void test_daemon_values(void)
{
    g_autoptr(CmmdConfig) one = parse_ok(
        "[host]\nbudget = 1G\n[daemon]\nsockets = /x/vm*.qmp\n"
        "qmp-timeout = 60\nstats-interval = 1\n");
    g_autoptr(CmmdConfig) spaced = parse_ok(
        "[host]\nbudget = 1G\n[daemon]\nsockets = /a ; /b;\n");

    g_assert_cmpuint(g_strv_length(one->sockets), ==, 1);
    g_assert_cmpstr(one->sockets[0], ==, "/x/vm*.qmp");
    g_assert_cmpuint(one->qmp_timeout_ms, ==, 60000);
    g_assert_cmpuint(one->stats_interval, ==, 1);

    g_assert_cmpuint(g_strv_length(spaced->sockets), ==, 2);
    g_assert_cmpstr(spaced->sockets[0], ==, "/a");
    g_assert_cmpstr(spaced->sockets[1], ==, "/b");
}

static void test_guest_rules(void)
{
    g_autoptr(CmmdConfig) cfg = parse_ok(
        "[host]\n"                  /* 1 */
        "budget = 4G\n"
        "\n"
        "[guest lnx*]\n"            /* 4 */
        "weight = 200\n"
        "floor = 256M\n"
        "ceiling = 1G\n"
        "rate = 64M/s\n"
        "# no keys at all\n"
        "[guest *db*]\n"            /* 10 */
        "[guest web01]\n"           /* 11 */
        "weight = 0\n"
        "rate = 0\n"
        "[guest   spaced* ]\n"      /* 14 */
        "floor = 1G\n"
        "ceiling = 1G\n");

    g_assert_cmpuint(cfg->rules->len, ==, 4);

    g_assert_cmpstr(rule(cfg, 0)->pattern, ==, "lnx*");
    g_assert_cmpint(rule(cfg, 0)->weight, ==, 200);
    g_assert_cmpint(rule(cfg, 0)->floor, ==, 256 * MiB);
    g_assert_cmpint(rule(cfg, 0)->ceiling, ==, GiB);
    g_assert_cmpint(rule(cfg, 0)->rate, ==, 64 * MiB);
    g_assert_cmpuint(rule(cfg, 0)->line, ==, 4);

    g_assert_cmpstr(rule(cfg, 1)->pattern, ==, "*db*");
    g_assert_cmpint(rule(cfg, 1)->weight, ==, -1);
    g_assert_cmpint(rule(cfg, 1)->floor, ==, -1);
    g_assert_cmpint(rule(cfg, 1)->ceiling, ==, -1);
    g_assert_cmpint(rule(cfg, 1)->rate, ==, -1);
    g_assert_cmpuint(rule(cfg, 1)->line, ==, 10);

    g_assert_cmpstr(rule(cfg, 2)->pattern, ==, "web01");
    g_assert_cmpint(rule(cfg, 2)->weight, ==, 0);
    g_assert_cmpint(rule(cfg, 2)->floor, ==, -1);
    g_assert_cmpint(rule(cfg, 2)->ceiling, ==, -1);
    g_assert_cmpint(rule(cfg, 2)->rate, ==, 0);
    g_assert_cmpuint(rule(cfg, 2)->line, ==, 11);

    g_assert_cmpstr(rule(cfg, 3)->pattern, ==, "spaced*");
    g_assert_cmpint(rule(cfg, 3)->floor, ==, GiB);
    g_assert_cmpint(rule(cfg, 3)->ceiling, ==, GiB);
    g_assert_cmpuint(rule(cfg, 3)->line, ==, 14);
}

static void test_sizes(void)
{
    static const struct {
        const char *value;
        int64_t bytes;
    } sizes[] = {
        { "512", 512 },
        { "0", 0 },
        { "1G", 1073741824 },
        { "512M", 512 * MiB },
        { "1.5G", 1536 * MiB },
        { "64K", 65536 },
        { "2T", 2048 * GiB },
        { "0x1000", 4096 },
        { "7E", 7 * (1LL << 60) },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        g_autofree char *line = g_strdup_printf("floor = %s", sizes[i].value);
        g_autofree char *text = with_guest_key(line);
        g_autoptr(CmmdConfig) cfg = parse_ok(text);

        g_assert_cmpint(rule(cfg, 0)->floor, ==, sizes[i].bytes);
    }

    check_guest_err("floor = 1 Gigs",
        "cmmd.conf:4: [guest a] floor = '1 Gigs': "
        "not a size (e.g. 512M, 1.5G)");
    check_guest_err("floor = 12q",
        "cmmd.conf:4: [guest a] floor = '12q': not a size (e.g. 512M, 1.5G)");
    check_guest_err("floor =",
        "cmmd.conf:4: [guest a] floor = '': not a size (e.g. 512M, 1.5G)");
    check_guest_err("ceiling = 1.5",
        "cmmd.conf:4: [guest a] ceiling = '1.5': not a size (e.g. 512M, 1.5G)");
    check_guest_err("ceiling = -3",
        "cmmd.conf:4: [guest a] ceiling = '-3': must not be negative");
    check_guest_err("ceiling = -1G",
        "cmmd.conf:4: [guest a] ceiling = '-1G': must not be negative");
    check_guest_err("floor = 8E",
        "cmmd.conf:4: [guest a] floor = '8E': too large");
    check_guest_err("floor = 16E",
        "cmmd.conf:4: [guest a] floor = '16E': too large");
    check_guest_err("rate = 64M/min",
        "cmmd.conf:4: [guest a] rate = '64M/min': "
        "not a rate (e.g. 64M or 64M/s)");
    check_guest_err("rate = /s",
        "cmmd.conf:4: [guest a] rate = '/s': not a rate (e.g. 64M or 64M/s)");
    check_guest_err("rate = -1/s",
        "cmmd.conf:4: [guest a] rate = '-1/s': must not be negative");
    check_host_err("deadband = 1 M",
        "cmmd.conf:3: [host] deadband = '1 M': not a size (e.g. 512M, 1.5G)");
    check_host_err("reserve = x",
        "cmmd.conf:3: [host] reserve = 'x': not a size (e.g. 512M, 1.5G)");
    check_host_err("rate = 1G/h",
        "cmmd.conf:3: [host] rate = '1G/h': not a rate (e.g. 64M or 64M/s)");
    check_host_err("guest-rate = -5M",
        "cmmd.conf:3: [host] guest-rate = '-5M': must not be negative");
}

static void test_budget(void)
{
    g_autoptr(CmmdConfig) first = parse_ok("[host]\nbudget = cgroup\n");
    g_autoptr(CmmdConfig) path = parse_ok(
        "[host]\nbudget = cgroup:/sys/fs/cgroup/machine.slice\n");
    g_autoptr(CmmdConfig) least = parse_ok("[host]\nbudget = 64M\n");

    g_assert_cmpint(first->budget_source, ==, CMMD_BUDGET_CGROUP);
    g_assert_null(first->cgroup);
    g_assert_cmpuint(first->policy.budget, ==, 0);

    g_assert_cmpint(path->budget_source, ==, CMMD_BUDGET_CGROUP);
    g_assert_cmpstr(path->cgroup, ==, "/sys/fs/cgroup/machine.slice");
    g_assert_cmpuint(path->policy.budget, ==, 0);

    g_assert_cmpint(least->budget_source, ==, CMMD_BUDGET_BYTES);
    g_assert_cmpuint(least->policy.budget, ==, 64 * MiB);

    check_err("[host]\nbudget = cgroup:relative\n",
              "cmmd.conf:2: [host] budget = 'cgroup:relative': the cgroup "
              "path must be absolute "
              "(e.g. cgroup:/sys/fs/cgroup/machine.slice)");
    check_err("[host]\nbudget = cgroup:\n",
              "cmmd.conf:2: [host] budget = 'cgroup:': the cgroup "
              "path must be absolute "
              "(e.g. cgroup:/sys/fs/cgroup/machine.slice)");
    check_err("[host]\nbudget = Cgroup\n",
              "cmmd.conf:2: [host] budget = 'Cgroup': not a size (e.g. 3G), "
              "'cgroup' or 'cgroup:/PATH'");
    check_err("[host]\nbudget = 63M\n",
              "cmmd.conf:2: [host] budget = '63M': must be at least 64M");
    check_err("[host]\nbudget = 0\n",
              "cmmd.conf:2: [host] budget = '0': must be at least 64M");
    check_err("[host]\nbudget = -4G\n",
              "cmmd.conf:2: [host] budget = '-4G': must not be negative");
    check_err("[host]\nbudget =\n",
              "cmmd.conf:2: [host] budget = '': not a size (e.g. 3G), "
              "'cgroup' or 'cgroup:/PATH'");
}

/* ---- bad values --------------------------------------------------------- */

static void test_durations(void)
{
    check_host_err("tick = 5x",
        "cmmd.conf:3: [host] tick = '5x': not a duration (e.g. 500ms, 2s)");
    check_host_err("tick =",
        "cmmd.conf:3: [host] tick = '': not a duration (e.g. 500ms, 2s)");
    check_host_err("tick = -1s",
        "cmmd.conf:3: [host] tick = '-1s': not a duration (e.g. 500ms, 2s)");
    check_host_err("tick = 1 s",
        "cmmd.conf:3: [host] tick = '1 s': not a duration (e.g. 500ms, 2s)");
    check_host_err("tick = 1e3ms",
        "cmmd.conf:3: [host] tick = '1e3ms': not a duration (e.g. 500ms, 2s)");
    check_host_err("tick = 99ms",
        "cmmd.conf:3: [host] tick = '99ms': out of range (100ms to 60s)");
    check_host_err("tick = 0",
        "cmmd.conf:3: [host] tick = '0': out of range (100ms to 60s)");
    check_host_err("tick = 61s",
        "cmmd.conf:3: [host] tick = '61s': out of range (100ms to 60s)");
    check_err("[host]\nbudget = 1G\n[daemon]\nqmp-timeout = 1m\n",
              "cmmd.conf:4: [daemon] qmp-timeout = '1m': "
              "not a duration (e.g. 500ms, 2s)");
    check_err("[host]\nbudget = 1G\n[daemon]\nqmp-timeout = 50ms\n",
              "cmmd.conf:4: [daemon] qmp-timeout = '50ms': "
              "out of range (100ms to 60s)");
}

static void test_watermarks(void)
{
    check_err("[host]\nlow-watermark = 97%\nbudget = 1G\n",
              "cmmd.conf:2: [host] low-watermark = '97%': "
              "must be below high-watermark (95%)");
    check_host_err("low-watermark = 0.95\nhigh-watermark = 0.95",
                   "cmmd.conf:3: [host] low-watermark = '0.95': "
                   "must be below high-watermark (0.95)");
    check_host_err("high-watermark = 80%",
                   "cmmd.conf:3: [host] high-watermark = '80%': "
                   "must be above low-watermark (90%)");
    check_host_err("high-watermark = 101%",
                   "cmmd.conf:3: [host] high-watermark = '101%': not a "
                   "percentage or fraction above 0 and up to 100% "
                   "(e.g. 90% or 0.9)");
    check_host_err("high-watermark = 1.01",
                   "cmmd.conf:3: [host] high-watermark = '1.01': not a "
                   "percentage or fraction above 0 and up to 100% "
                   "(e.g. 90% or 0.9)");
    check_host_err("low-watermark = 0%",
                   "cmmd.conf:3: [host] low-watermark = '0%': not a "
                   "percentage or fraction above 0 and up to 100% "
                   "(e.g. 90% or 0.9)");
    check_host_err("low-watermark = 90",
                   "cmmd.conf:3: [host] low-watermark = '90': not a "
                   "percentage or fraction above 0 and up to 100% "
                   "(e.g. 90% or 0.9)");
    check_host_err("low-watermark = ",
                   "cmmd.conf:3: [host] low-watermark = '': not a "
                   "percentage or fraction above 0 and up to 100% "
                   "(e.g. 90% or 0.9)");
    check_host_err("low-watermark = -0.5",
                   "cmmd.conf:3: [host] low-watermark = '-0.5': not a "
                   "percentage or fraction above 0 and up to 100% "
                   "(e.g. 90% or 0.9)");
    check_host_err("psi-threshold = 101",
                   "cmmd.conf:3: [host] psi-threshold = '101': "
                   "not a percentage from 0 to 100");
    check_host_err("psi-threshold = -1",
                   "cmmd.conf:3: [host] psi-threshold = '-1': "
                   "not a percentage from 0 to 100");
    check_host_err("psi-threshold = high",
                   "cmmd.conf:3: [host] psi-threshold = 'high': "
                   "not a percentage from 0 to 100");
}

static void test_integers(void)
{
    check_err("[host]\nbudget = 1G\n\n# web servers\n\n[guest web*]\n"
              "weight = -3\n",
              "cmmd.conf:7: [guest web*] weight = '-3': "
              "not an integer from 0 to 255");
    check_guest_err("weight = 256",
                    "cmmd.conf:4: [guest a] weight = '256': "
                    "not an integer from 0 to 255");
    check_guest_err("weight =",
                    "cmmd.conf:4: [guest a] weight = '': "
                    "not an integer from 0 to 255");
    check_guest_err("weight = 12q",
                    "cmmd.conf:4: [guest a] weight = '12q': "
                    "not an integer from 0 to 255");
    check_guest_err("weight = 1.5",
                    "cmmd.conf:4: [guest a] weight = '1.5': "
                    "not an integer from 0 to 255");
    check_host_err("stall-holdoff = 100001",
                   "cmmd.conf:3: [host] stall-holdoff = '100001': "
                   "not an integer from 0 to 100000");
    check_host_err("stall-holdoff = ten",
                   "cmmd.conf:3: [host] stall-holdoff = 'ten': "
                   "not an integer from 0 to 100000");
    check_err("[host]\nbudget = 1G\n[daemon]\nstats-interval = 0\n",
              "cmmd.conf:4: [daemon] stats-interval = '0': "
              "not an integer from 1 to 3600");
    check_err("[host]\nbudget = 1G\n[daemon]\nstats-interval = 3601\n",
              "cmmd.conf:4: [daemon] stats-interval = '3601': "
              "not an integer from 1 to 3600");
    check_host_err("policy = balloon",
                   "cmmd.conf:3: [host] policy = 'balloon': "
                   "not one of cmm, mom, none");
    check_host_err("policy = CMM",
                   "cmmd.conf:3: [host] policy = 'CMM': "
                   "not one of cmm, mom, none");
}

static void test_floor_ceiling(void)
{
    g_autoptr(CmmdConfig) equal = parse_ok(
        "[host]\nbudget = 4G\n[guest a]\nfloor = 1G\nceiling = 1024M\n");

    g_assert_cmpint(rule(equal, 0)->floor, ==, GiB);
    g_assert_cmpint(rule(equal, 0)->ceiling, ==, GiB);

    check_err("[host]\nbudget = 4G\n[guest big]\nfloor = 2G\nceiling = 1G\n",
              "cmmd.conf:5: [guest big] ceiling = '1G': "
              "must not be below floor (2G)");
    /* Only within a group: across groups limits() sorts it out. */
    cmmd_config_free(parse_ok("[host]\nbudget = 4G\n[guest a*]\nfloor = 2G\n"
                              "[guest ab]\nceiling = 1G\n"));
}

static void test_paths(void)
{
    check_err("[host]\nbudget = 1G\n[daemon]\n"
              "sockets = /run/a/vm-*.qmp;run/vm-*.qmp\n",
              "cmmd.conf:4: [daemon] sockets = '/run/a/vm-*.qmp;run/vm-*.qmp': "
              "'run/vm-*.qmp' is not an absolute path");
    check_err("[host]\nbudget = 1G\n[daemon]\nsockets =\n",
              "cmmd.conf:4: [daemon] sockets = '': no socket pattern");
    check_err("[host]\nbudget = 1G\n[daemon]\ncontrol = cmmd.sock\n",
              "cmmd.conf:4: [daemon] control = 'cmmd.sock': "
              "not an absolute path");
    check_err("[host]\nbudget = 1G\n[daemon]\ntextfile =\n",
              "cmmd.conf:4: [daemon] textfile = '': not an absolute path");
}

/* ---- the layout of the file --------------------------------------------- */

static void test_unknown(void)
{
    check_err("[host]\n"
              "budget = 1G\n"
              "\n"
              "# where?\n"
              "[hots]\n"
              "tick = 1s\n",
              "cmmd.conf:5: unknown group [hots] (known: [host], [daemon], "
              "[guest PATTERN])");
    check_err("[host]\nbudget = 1G\n[guests web*]\n",
              "cmmd.conf:3: unknown group [guests web*] (known: [host], "
              "[daemon], [guest PATTERN])");
    check_err("# a budget\n"
              "[host]\n"
              "tick = 1s\n"
              "budjet = 1G\n",
              "cmmd.conf:4: [host] unknown key 'budjet'");
    check_err("[host]\nbudget = 1G\n[daemon]\nweight = 1\n",
              "cmmd.conf:4: [daemon] unknown key 'weight'");
    check_err("[host]\nbudget = 1G\n[guest a]\nweight = 1\ntick = 1s\n",
              "cmmd.conf:5: [guest a] unknown key 'tick'");
    /* GKeyFile calls this a translation; here it is just unknown. */
    check_err("[host]\nbudget = 1G\n[guest a]\nweight[de] = 1\n",
              "cmmd.conf:4: [guest a] unknown key 'weight[de]'");
    check_err("[host]\nbudget = 1G\ntick[en_US] = 1s\n",
              "cmmd.conf:3: [host] unknown key 'tick[en_US]'");
}

static void test_required(void)
{
    check_err("[host]\ntick = 1s\n", "cmmd.conf: [host] budget is required");
    check_err("", "cmmd.conf: [host] budget is required");
    check_err("# nothing\n[daemon]\ncontrol = /run/c.sock\n",
              "cmmd.conf: [host] budget is required");
}

static void test_empty_pattern(void)
{
    check_err("[host]\nbudget = 1G\n[guest ]\nweight = 1\n",
              "cmmd.conf:3: [guest ] has no guest name pattern "
              "(e.g. [guest web*])");
    check_err("[host]\nbudget = 1G\n\n[guest]\n",
              "cmmd.conf:4: [guest] has no guest name pattern "
              "(e.g. [guest web*])");
}

static void test_repeated(void)
{
    g_autoptr(CmmdConfig) cfg = parse_ok(
        "[guest a]\n"
        "weight = 1\n"
        "[host]\n"
        "tick = 5x\n"
        "budget = 1G\n"
        "tick = 2s\n"
        "[guest a]\n"
        "weight = 2\n");

    /* The last value counts; a group seen twice is one rule. */
    g_assert_cmpuint(cfg->policy.tick_ms, ==, 2000);
    g_assert_cmpuint(cfg->rules->len, ==, 1);
    g_assert_cmpint(rule(cfg, 0)->weight, ==, 2);
    g_assert_cmpuint(rule(cfg, 0)->line, ==, 1);

    check_err("[host]\nbudget = 1G\ntick = 2s\ntick = 5x\n",
              "cmmd.conf:4: [host] tick = '5x': "
              "not a duration (e.g. 500ms, 2s)");
    check_err("[guest a]\nweight = 1\n[host]\nbudget = 1G\n"
              "[guest a]\nweight = 300\n",
              "cmmd.conf:6: [guest a] weight = '300': "
              "not an integer from 0 to 255");
}

/* GLib words its own messages; check where they point and what they quote. */
static void check_syntax(const char *text, const char *at, const char *quote)
{
    g_autofree char *msg = parse_err(text);

    g_test_message("%s", msg);
    g_assert_true(g_str_has_prefix(msg, at));
    g_assert_nonnull(strstr(msg + strlen(at), quote));
}

static void test_syntax(void)
{
    check_syntax("[host]\n"
                 "budget = 1G\n"
                 "\n"
                 "   # indented comment\n"
                 "this is not a pair\n"
                 "also not\n",
                 "cmmd.conf:5: ", "this is not a pair");
    check_syntax("# comment\n\n[host\nbudget = 1G\n",
                 "cmmd.conf:3: ", "[host");
    check_syntax("budget = 1G\n[host]\n", "cmmd.conf:1: ", "group");
    check_syntax("[host]\nbudget = 1G\n = 4\n", "cmmd.conf:3: ", "= 4");
    check_syntax("[host]\nbudget = 1G\n[a[b]\n", "cmmd.conf:3: ", "a[b");
    check_syntax("[host]\nbudget = 1G\nbud[get = 1\n", "cmmd.conf:3: ",
                 "bud[get");
    check_syntax("[host]\nbudget = 1G\nweight[d e] = 1\nnonsense\n",
                 "cmmd.conf:3: ", "weight[d e]");
    check_syntax("[host]\r\nbudget = 1G\r\nnonsense\r\n", "cmmd.conf:3: ",
                 "nonsense");
}

static void test_load(void)
{
    const char *missing = "/nonexistent-cmmd-test/cmmd.conf";
    g_autofree char *path = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(GError) gerr = NULL;
    Error *err = NULL;
    CmmdConfig *cfg;
    int fd;

    cfg = cmmd_config_load(missing, &err);
    g_assert_null(cfg);
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(error_get_pretty(err), missing));
    g_assert_nonnull(strstr(error_get_pretty(err), g_strerror(ENOENT)));
    error_free(err);
    err = NULL;

    fd = g_file_open_tmp("cmmd-XXXXXX.conf", &path, &gerr);
    g_assert_no_error(gerr);
    close(fd);

    g_assert_true(g_file_set_contents(path, "[host]\nbudget = 2G\n", -1,
                                      &gerr));
    cfg = cmmd_config_load(path, &error_abort);
    g_assert_cmpstr(cfg->path, ==, path);
    g_assert_cmpuint(cfg->policy.budget, ==, 2 * GiB);
    cmmd_config_free(cfg);

    g_assert_true(g_file_set_contents(path, "[host]\nbudget = 2X\n", -1,
                                      &gerr));
    cfg = cmmd_config_load(path, &err);
    g_assert_null(cfg);
    expected = g_strdup_printf("%s:2: [host] budget = '2X': not a size "
                               "(e.g. 3G), 'cgroup' or 'cgroup:/PATH'", path);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free(err);

    unlink(path);
}

/* ---- names and limits --------------------------------------------------- */

static void test_pattern(void)
{
    static const struct {
        const char *pattern;
        const char *name;
        bool match;
    } cases[] = {
        { "lnx*", "lnx01", true },
        { "lnx*", "lnx", true },
        { "lnx*", "ln", false },
        { "lnx*", "xlnx01", false },
        { "lnx*", "LNX01", false },
        { "*db*", "db", true },
        { "*db*", "proddb01", true },
        { "*db*", "d-b", false },
        { "a*b*c", "aXbYc", true },
        { "a*b*c", "abc", true },
        { "a*b*c", "aXbY", false },
        { "a*b*c", "aXbYcZ", false },
        { "a*c", "abcbc", true },
        { "", "", true },
        { "", "a", false },
        { "*", "", true },
        { "*", "anything at all", true },
        { "**", "x", true },
        { "web01", "web01", true },
        { "web01", "web011", false },
        { "web01", "web0", false },
        { "?", "x", false },
        { "?", "?", true },
        { "a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
        { "a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true },
    };
    g_autoptr(GString) pattern = g_string_new(NULL);
    g_autofree char *name = g_strnfill(10000, 'a');
    g_autoptr(GTimer) timer = g_timer_new();

    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        g_test_message("'%s' vs '%s'", cases[i].pattern, cases[i].name);
        g_assert_cmpint(cmmd_pattern_match(cases[i].pattern, cases[i].name),
                        ==, cases[i].match);
    }

    /* Backtracking over every star would take longer than the universe. */
    for (unsigned i = 0; i < 30; i++) {
        g_string_append(pattern, "a*");
    }
    g_string_append_c(pattern, 'b');
    g_timer_start(timer);
    g_assert_false(cmmd_pattern_match(pattern->str, name));
    g_assert_cmpfloat(g_timer_elapsed(timer, NULL), <, 1.0);
}

static void check_limits(const CmmdConfig *cfg, const char *name,
                         uint64_t ram, unsigned weight, uint64_t floor,
                         uint64_t ceiling, uint64_t rate)
{
    CmmdGuestLimits l;

    memset(&l, 0xa5, sizeof(l));
    cmmd_config_limits(cfg, name, ram, &l);
    g_test_message("%s, %" PRIu64 " bytes of RAM", name, ram);
    g_assert_cmpuint(l.weight, ==, weight);
    g_assert_cmpuint(l.floor, ==, floor);
    g_assert_cmpuint(l.ceiling, ==, ceiling);
    g_assert_cmpuint(l.rate, ==, rate);
}

static void test_limits(void)
{
    g_autoptr(CmmdConfig) def = cmmd_config_new_default();
    g_autoptr(CmmdConfig) cfg = parse_ok(
        "[host]\n"
        "budget = 8G\n"
        "guest-rate = 32M\n"
        "[guest lnx*]\n"
        "weight = 200\n"
        "floor = 512M\n"
        "rate = 16M\n"
        "[guest lnx0*]\n"
        "weight = 50\n"
        "ceiling = 2G\n"
        "[guest other]\n"
        "weight = 1\n"
        "[guest x*]\n"
        "ceiling = 1G\n"
        "[guest xy]\n"
        "floor = 3G\n"
        "rate = 0\n");

    check_limits(def, "anything", 4 * GiB, 128,
                 MIN(CMMD_DEFAULT_FLOOR(4 * GiB), 4 * GiB), 4 * GiB, 128 * MiB);
    check_limits(cfg, "web", 4 * GiB, 128,
                 MIN(CMMD_DEFAULT_FLOOR(4 * GiB), 4 * GiB), 4 * GiB, 32 * MiB);
    /* Both lnx rules match: the later one overrides what it sets. */
    check_limits(cfg, "lnx01", 4 * GiB, 50, 512 * MiB, 2 * GiB, 16 * MiB);
    check_limits(cfg, "lnx1", 4 * GiB, 200, 512 * MiB, 4 * GiB, 16 * MiB);
    check_limits(cfg, "other", 4 * GiB, 1,
                 MIN(CMMD_DEFAULT_FLOOR(4 * GiB), 4 * GiB), 4 * GiB, 32 * MiB);
    /* Clamped to the RAM. */
    check_limits(cfg, "lnx01", GiB, 50, 512 * MiB, GiB, 16 * MiB);
    check_limits(cfg, "lnx01", 256 * MiB, 50, 256 * MiB, 256 * MiB,
                 16 * MiB);
    check_limits(cfg, "web", 0, 128,
                 MIN(CMMD_DEFAULT_FLOOR(0), 0), 0, 32 * MiB);
    /* Floor from one rule above the ceiling of another: the floor wins. */
    check_limits(cfg, "xy", 4 * GiB, 128, 3 * GiB, 3 * GiB, 0);
    check_limits(cfg, "xy", 2 * GiB, 128, 2 * GiB, 2 * GiB, 0);
    check_limits(cfg, "xz", 4 * GiB, 128,
                 MIN(CMMD_DEFAULT_FLOOR(4 * GiB), 4 * GiB), GiB, 32 * MiB);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/cmmd/config/defaults", test_defaults);
    g_test_add_func("/cmmd/config/host-keys", test_host_keys);
    g_test_add_func("/cmmd/config/host-values", test_host_values);
    g_test_add_func("/cmmd/config/daemon-keys", test_daemon_keys);
    g_test_add_func("/cmmd/config/daemon-values", test_daemon_values);
    g_test_add_func("/cmmd/config/guest-rules", test_guest_rules);
    g_test_add_func("/cmmd/config/sizes", test_sizes);
    g_test_add_func("/cmmd/config/budget", test_budget);
    g_test_add_func("/cmmd/config/durations", test_durations);
    g_test_add_func("/cmmd/config/watermarks", test_watermarks);
    g_test_add_func("/cmmd/config/integers", test_integers);
    g_test_add_func("/cmmd/config/floor-ceiling", test_floor_ceiling);
    g_test_add_func("/cmmd/config/paths", test_paths);
    g_test_add_func("/cmmd/config/unknown", test_unknown);
    g_test_add_func("/cmmd/config/required", test_required);
    g_test_add_func("/cmmd/config/empty-pattern", test_empty_pattern);
    g_test_add_func("/cmmd/config/repeated", test_repeated);
    g_test_add_func("/cmmd/config/syntax", test_syntax);
    g_test_add_func("/cmmd/config/load", test_load);
    g_test_add_func("/cmmd/config/pattern", test_pattern);
    g_test_add_func("/cmmd/config/limits", test_limits);

    return g_test_run();
}
