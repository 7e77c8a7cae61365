/*
 * qemu-cmmd: the configuration file
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * GKeyFile does the parsing.  It does not remember where a key came from,
 * so the text is scanned once more, line by line, only to put line numbers
 * into the messages.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "config.h"

#define CMMD_MIN_BUDGET         (64 * CMMD_MIB)
#define CMMD_MIN_DURATION_MS    100
#define CMMD_MAX_DURATION_MS    60000

static const char *const host_keys[] = {
    "budget", "low-watermark", "high-watermark", "psi-threshold", "tick",
    "rate", "guest-rate", "deadband", "stall-holdoff", "reserve", "policy",
    NULL
};

static const char *const daemon_keys[] = {
    "sockets", "control", "textfile", "qmp-timeout", "stats-interval", NULL
};

static const char *const guest_keys[] = {
    "weight", "floor", "ceiling", "rate", NULL
};

typedef struct Parser {
    const char *name;           /* the file, in messages */
    GKeyFile *kf;
    GHashTable *key_lines;      /* "GROUP\nKEY" -> line of its last value */
    GHashTable *group_lines;    /* GROUP -> line of its first header */
} Parser;

static void parser_clear(Parser *p)
{
    g_clear_pointer(&p->kf, g_key_file_unref);
    g_clear_pointer(&p->key_lines, g_hash_table_unref);
    g_clear_pointer(&p->group_lines, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Parser, parser_clear)

static void guest_rule_free(gpointer data)
{
    CmmdGuestRule *rule = data;

    g_free(rule->pattern);
    g_free(rule);
}

CmmdConfig *cmmd_config_new_default(void)
{
    CmmdConfig *cfg = g_new0(CmmdConfig, 1);

    cfg->policy.mode = CMMD_MODE_CMM;
    cfg->policy.budget = 0;
    cfg->policy.low = 0.90;
    cfg->policy.high = 0.95;
    cfg->policy.psi_threshold = 10;
    cfg->policy.tick_ms = 1000;
    cfg->policy.rate = 256 * CMMD_MIB;
    cfg->policy.deadband = 16 * CMMD_MIB;
    cfg->policy.stall_holdoff = 10;
    cfg->policy.reserve = 64 * CMMD_MIB;
    cfg->budget_source = CMMD_BUDGET_BYTES;
    cfg->sockets = g_new0(char *, 2);
    cfg->sockets[0] = g_strdup(CMMD_DEFAULT_SOCKETS);
    cfg->control = g_strdup(CMMD_DEFAULT_CONTROL);
    cfg->guest_rate = 128 * CMMD_MIB;
    cfg->qmp_timeout_ms = 2000;
    cfg->stats_interval = 2;
    cfg->rules = g_ptr_array_new_with_free_func(guest_rule_free);
    return cfg;
}

void cmmd_config_free(CmmdConfig *cfg)
{
    if (!cfg) {
        return;
    }
    g_free(cfg->path);
    g_free(cfg->cgroup);
    g_strfreev(cfg->sockets);
    g_free(cfg->control);
    g_free(cfg->textfile);
    if (cfg->rules) {
        g_ptr_array_unref(cfg->rules);
    }
    g_free(cfg);
}

/* ---- where things are in the text --------------------------------------- */

/* The name of a "[NAME]" header line as GKeyFile reads it, or NULL. */
static char *header_name(const char *line)
{
    const char *end;

    if (line[0] != '[') {
        return NULL;
    }
    end = strchr(line, ']');
    if (!end || end[1 + strspn(end + 1, " \t")] != '\0') {
        return NULL;
    }
    return g_strndup(line + 1, end - line - 1);
}

/*
 * The key of a "KEY = VALUE" line, trimmed as GKeyFile trims it, or NULL.
 * @line has no leading blanks.
 */
static char *key_name(const char *line)
{
    const char *eq = strchr(line, '=');

    if (!eq) {
        return NULL;
    }
    return g_strchomp(g_strndup(line, eq - line));
}

/* GKeyFile's own rules for names, so a line it rejected can be found. */
static bool bad_group_name(const char *name)
{
    if (!*name || strpbrk(name, "[]")) {
        return true;
    }
    for (const char *c = name; *c; c++) {
        if (g_ascii_iscntrl(*c)) {
            return true;
        }
    }
    return false;
}

static bool bad_key_name(const char *key)
{
    const char *open = strchr(key, '[');

    if (!*key) {
        return true;
    }
    if (!open) {
        return strchr(key, ']') != NULL;
    }
    /* Only a trailing "[locale]" may hold brackets. */
    if (open == key || !g_str_has_suffix(key, "]") ||
        strchr(open, ']') != key + strlen(key) - 1) {
        return true;
    }
    for (const char *c = open + 1; *c != ']'; c++) {
        if (!g_ascii_isalnum(*c) && !strchr("-_.@", *c) && !(*c & 0x80)) {
            return true;
        }
    }
    return false;
}

/*
 * The first line GKeyFile cannot have accepted, 0 if none is found: not
 * blank, not a comment, not a header, and no '=' (or a key before any
 * group, or a name GKeyFile does not allow).
 */
static unsigned first_bad_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    bool in_group = false;

    for (unsigned i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        g_autofree char *group = NULL;
        g_autofree char *key = NULL;

        if (!*line || *line == '#') {
            continue;
        }
        group = header_name(line);
        if (group) {
            if (bad_group_name(group)) {
                return i + 1;
            }
            in_group = true;
            continue;
        }
        key = key_name(line);
        if (!key || !in_group || bad_key_name(key)) {
            return i + 1;
        }
    }
    return 0;
}

static char *line_key(const char *group, const char *key)
{
    return g_strdup_printf("%s\n%s", group, key);
}

/* Note where every group starts and where each key was last set. */
static void index_lines(Parser *p, const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *group = NULL;

    p->key_lines = g_hash_table_new_full(g_str_hash, g_str_equal,
                                         g_free, NULL);
    p->group_lines = g_hash_table_new_full(g_str_hash, g_str_equal,
                                           g_free, NULL);
    for (unsigned i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        char *name;
        g_autofree char *key = NULL;

        if (!*line || *line == '#') {
            continue;
        }
        name = header_name(line);
        if (name) {
            g_free(group);
            group = name;
            if (!g_hash_table_contains(p->group_lines, group)) {
                g_hash_table_insert(p->group_lines, g_strdup(group),
                                    GUINT_TO_POINTER(i + 1));
            }
            continue;
        }
        key = key_name(line);
        if (key && group) {
            /* A repeated key replaces the value, as in GKeyFile. */
            g_hash_table_insert(p->key_lines, line_key(group, key),
                                GUINT_TO_POINTER(i + 1));
        }
    }
}

static unsigned group_line(Parser *p, const char *group)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(p->group_lines, group));
}

static unsigned key_line(Parser *p, const char *group, const char *key)
{
    g_autofree char *k = line_key(group, key);

    return GPOINTER_TO_UINT(g_hash_table_lookup(p->key_lines, k));
}

/* "FILE:LINE", or "FILE" if the line is not known. */
static char *where(Parser *p, unsigned line)
{
    return line ? g_strdup_printf("%s:%u", p->name, line) : g_strdup(p->name);
}

/* ---- messages and values ------------------------------------------------ */

/* Fail with "FILE:LINE: [GROUP] KEY = 'VALUE': WHY". */
static void G_GNUC_PRINTF(6, 7)
bad_value(Parser *p, const char *group, const char *key, const char *value,
          Error **errp, const char *fmt, ...)
{
    g_autofree char *at = where(p, key_line(p, group, key));
    g_autofree char *why = NULL;
    va_list ap;

    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "%s: [%s] %s = '%s': %s", at, group, key, value, why);
}

/*
 * The value of @key as written, or NULL if it is not set.  GKeyFile keeps
 * trailing blanks, which nobody means and nobody sees, so they go.
 */
static char *raw_value(Parser *p, const char *group, const char *key)
{
    char *value = g_key_file_get_value(p->kf, group, key, NULL);

    return value ? g_strchomp(value) : NULL;
}

/* A decimal number without sign or exponent, then a unit, as in "1.5s". */
static bool plain_number(const char *s, double *out, const char **unit)
{
    size_t n = strspn(s, "0123456789.");
    g_autofree char *num = g_strndup(s, n);

    *unit = s + n;
    return n > 0 && qemu_strtod_finite(num, NULL, out) == 0;
}

/*
 * Why @s is not a size in bytes that fits an int64_t (@invalid if it is no
 * size at all), or NULL if it is one.  The cap keeps the policy's sums
 * clear of overflow.
 */
static const char *size_error(const char *s, const char *invalid,
                              uint64_t *out)
{
    int ret = qemu_strtosz(s, NULL, out);

    /* qemu_strtosz() calls "-1G" garbage; say what is wrong with it. */
    if (s[0] == '-' && qemu_strtosz(s + 1, NULL, out) != -EINVAL) {
        *out = 0;
        return "must not be negative";
    }
    if (ret == -ERANGE || (ret == 0 && *out > INT64_MAX)) {
        return "too large";
    }
    return ret < 0 ? invalid : NULL;
}

static bool parse_size(Parser *p, const char *group, const char *key,
                       const char *value, uint64_t *out, Error **errp)
{
    const char *why = size_error(value, "not a size (e.g. 512M, 1.5G)", out);

    if (why) {
        bad_value(p, group, key, value, errp, "%s", why);
        return false;
    }
    return true;
}

/* A size in bytes per second, "/s" optional. */
static bool parse_rate(Parser *p, const char *group, const char *key,
                       const char *value, uint64_t *out, Error **errp)
{
    g_autofree char *size = g_str_has_suffix(value, "/s") ?
        g_strndup(value, strlen(value) - 2) : g_strdup(value);
    const char *why = size_error(size, "not a rate (e.g. 64M or 64M/s)", out);

    if (why) {
        bad_value(p, group, key, value, errp, "%s", why);
        return false;
    }
    return true;
}

/* "500ms", "2s", or a bare number of seconds; kept within 100ms..60s. */
static bool parse_duration(Parser *p, const char *group, const char *key,
                           const char *value, uint64_t *ms, Error **errp)
{
    const char *unit;
    double d;

    if (!plain_number(value, &d, &unit) ||
        (*unit && strcmp(unit, "s") && strcmp(unit, "ms"))) {
        bad_value(p, group, key, value, errp,
                  "not a duration (e.g. 500ms, 2s)");
        return false;
    }
    if (strcmp(unit, "ms")) {
        d *= 1000;
    }
    if (d < CMMD_MIN_DURATION_MS || d > CMMD_MAX_DURATION_MS) {
        bad_value(p, group, key, value, errp, "out of range (100ms to 60s)");
        return false;
    }
    *ms = (uint64_t)(d + 0.5);
    return true;
}

static bool parse_int(Parser *p, const char *group, const char *key,
                      const char *value, int64_t min, int64_t max,
                      int64_t *out, Error **errp)
{
    if (qemu_strtoi64(value, NULL, 10, out) < 0 ||
        *out < min || *out > max) {
        bad_value(p, group, key, value, errp,
                  "not an integer from %" PRId64 " to %" PRId64, min, max);
        return false;
    }
    return true;
}

/* "90%" or "0.9": above 0, at most 100%. */
static bool parse_watermark(Parser *p, const char *key, const char *value,
                            double *out, Error **errp)
{
    const char *unit;
    double d;

    if (plain_number(value, &d, &unit) && (!*unit || !strcmp(unit, "%"))) {
        if (*unit) {
            d /= 100;
        }
        if (d > 0 && d <= 1) {
            *out = d;
            return true;
        }
    }
    bad_value(p, "host", key, value, errp,
              "not a percentage or fraction above 0 and up to 100%% "
              "(e.g. 90%% or 0.9)");
    return false;
}

/* An absolute path, GKeyFile's escapes undone. */
static bool parse_path(Parser *p, const char *group, const char *key,
                       char **out, Error **errp)
{
    g_autofree char *value = raw_value(p, group, key);
    g_autoptr(GError) gerr = NULL;
    char *path;

    if (!value) {
        return true;
    }
    path = g_key_file_get_string(p->kf, group, key, &gerr);
    if (!path) {
        bad_value(p, group, key, value, errp, "%s", gerr->message);
        return false;
    }
    g_strchomp(path);
    if (!g_path_is_absolute(path)) {
        bad_value(p, group, key, value, errp, "not an absolute path");
        g_free(path);
        return false;
    }
    g_free(*out);
    *out = path;
    return true;
}

/* ---- the groups --------------------------------------------------------- */

/* The pattern of a [guest PATTERN] group, NULL if @group is not one. */
static char *guest_pattern(const char *group)
{
    if (!strcmp(group, "guest")) {
        return g_strdup("");
    }
    if (g_str_has_prefix(group, "guest ")) {
        return g_strstrip(g_strdup(group + strlen("guest ")));
    }
    return NULL;
}

/* Every group and every key is one we know, before any value is read. */
static bool check_names(Parser *p, Error **errp)
{
    g_auto(GStrv) groups = g_key_file_get_groups(p->kf, NULL);

    for (unsigned i = 0; groups[i]; i++) {
        const char *group = groups[i];
        g_autofree char *pattern = guest_pattern(group);
        g_auto(GStrv) keys = NULL;
        const char *const *known;

        if (!strcmp(group, "host")) {
            known = host_keys;
        } else if (!strcmp(group, "daemon")) {
            known = daemon_keys;
        } else if (pattern) {
            known = guest_keys;
        } else {
            g_autofree char *at = where(p, group_line(p, group));

            error_setg(errp, "%s: unknown group [%s] (known: [host], "
                       "[daemon], [guest PATTERN])", at, group);
            return false;
        }
        if (pattern && !*pattern) {
            g_autofree char *at = where(p, group_line(p, group));

            error_setg(errp, "%s: [%s] has no guest name pattern "
                       "(e.g. [guest web*])", at, group);
            return false;
        }

        keys = g_key_file_get_keys(p->kf, group, NULL, NULL);
        for (unsigned j = 0; keys && keys[j]; j++) {
            /* "key[xx]" is a translation to GKeyFile, unknown to us. */
            if (!g_strv_contains(known, keys[j])) {
                g_autofree char *at = where(p, key_line(p, group, keys[j]));

                error_setg(errp, "%s: [%s] unknown key '%s'",
                           at, group, keys[j]);
                return false;
            }
        }
    }
    return true;
}

static bool parse_budget(Parser *p, CmmdConfig *cfg, Error **errp)
{
    g_autofree char *value = raw_value(p, "host", "budget");
    const char *why;

    if (!value) {
        error_setg(errp, "%s: [host] budget is required", p->name);
        return false;
    }
    if (!strcmp(value, "cgroup")) {
        cfg->budget_source = CMMD_BUDGET_CGROUP;
        return true;
    }
    if (g_str_has_prefix(value, "cgroup:")) {
        const char *path = value + strlen("cgroup:");

        if (!g_path_is_absolute(path)) {
            bad_value(p, "host", "budget", value, errp,
                      "the cgroup path must be absolute "
                      "(e.g. cgroup:/sys/fs/cgroup/machine.slice)");
            return false;
        }
        cfg->budget_source = CMMD_BUDGET_CGROUP;
        cfg->cgroup = g_strdup(path);
        return true;
    }
    why = size_error(value, "not a size (e.g. 3G), 'cgroup' or "
                     "'cgroup:/PATH'", &cfg->policy.budget);
    if (why) {
        bad_value(p, "host", "budget", value, errp, "%s", why);
        return false;
    }
    if (cfg->policy.budget < CMMD_MIN_BUDGET) {
        bad_value(p, "host", "budget", value, errp, "must be at least 64M");
        return false;
    }
    return true;
}

static bool parse_host(Parser *p, CmmdConfig *cfg, Error **errp)
{
    CmmdPolicyConfig *pc = &cfg->policy;
    g_autofree char *low = raw_value(p, "host", "low-watermark");
    g_autofree char *high = raw_value(p, "host", "high-watermark");
    g_autofree char *psi = raw_value(p, "host", "psi-threshold");
    g_autofree char *tick = raw_value(p, "host", "tick");
    g_autofree char *rate = raw_value(p, "host", "rate");
    g_autofree char *guest_rate = raw_value(p, "host", "guest-rate");
    g_autofree char *deadband = raw_value(p, "host", "deadband");
    g_autofree char *holdoff = raw_value(p, "host", "stall-holdoff");
    g_autofree char *reserve = raw_value(p, "host", "reserve");
    g_autofree char *policy = raw_value(p, "host", "policy");

    if (!parse_budget(p, cfg, errp)) {
        return false;
    }
    if ((low && !parse_watermark(p, "low-watermark", low, &pc->low, errp)) ||
        (high &&
         !parse_watermark(p, "high-watermark", high, &pc->high, errp))) {
        return false;
    }
    if (pc->low >= pc->high) {
        /* Blame the one that was written; low if both were. */
        if (low) {
            g_autofree char *other = high ? g_strdup(high) :
                g_strdup_printf("%g%%", pc->high * 100);

            bad_value(p, "host", "low-watermark", low, errp,
                      "must be below high-watermark (%s)", other);
        } else {
            bad_value(p, "host", "high-watermark", high, errp,
                      "must be above low-watermark (%g%%)", pc->low * 100);
        }
        return false;
    }
    if (psi) {
        const char *unit;
        double d;

        if (!plain_number(psi, &d, &unit) || (*unit && strcmp(unit, "%")) ||
            d > 100) {
            bad_value(p, "host", "psi-threshold", psi, errp,
                      "not a percentage from 0 to 100");
            return false;
        }
        pc->psi_threshold = d;
    }
    if (tick && !parse_duration(p, "host", "tick", tick, &pc->tick_ms, errp)) {
        return false;
    }
    if ((rate && !parse_rate(p, "host", "rate", rate, &pc->rate, errp)) ||
        (guest_rate && !parse_rate(p, "host", "guest-rate", guest_rate,
                                   &cfg->guest_rate, errp)) ||
        (deadband && !parse_size(p, "host", "deadband", deadband,
                                 &pc->deadband, errp))) {
        return false;
    }
    if (holdoff) {
        int64_t v;

        if (!parse_int(p, "host", "stall-holdoff", holdoff, 0, 100000,
                       &v, errp)) {
            return false;
        }
        pc->stall_holdoff = v;
    }
    if (reserve && !parse_size(p, "host", "reserve", reserve, &pc->reserve,
                               errp)) {
        return false;
    }
    if (policy) {
        if (!strcmp(policy, "cmm")) {
            pc->mode = CMMD_MODE_CMM;
        } else if (!strcmp(policy, "mom")) {
            pc->mode = CMMD_MODE_MOM;
        } else if (!strcmp(policy, "none")) {
            pc->mode = CMMD_MODE_NONE;
        } else {
            bad_value(p, "host", "policy", policy, errp,
                      "not one of cmm, mom, none");
            return false;
        }
    }
    return true;
}

static bool parse_daemon(Parser *p, CmmdConfig *cfg, Error **errp)
{
    g_autofree char *sockets = raw_value(p, "daemon", "sockets");
    g_autofree char *timeout = raw_value(p, "daemon", "qmp-timeout");
    g_autofree char *interval = raw_value(p, "daemon", "stats-interval");

    if (sockets) {
        g_autoptr(GError) gerr = NULL;
        g_auto(GStrv) list = g_key_file_get_string_list(p->kf, "daemon",
                                                        "sockets", NULL,
                                                        &gerr);

        if (!list) {
            bad_value(p, "daemon", "sockets", sockets, errp, "%s",
                      gerr->message);
            return false;
        }
        if (!list[0]) {
            bad_value(p, "daemon", "sockets", sockets, errp,
                      "no socket pattern");
            return false;
        }
        for (unsigned i = 0; list[i]; i++) {
            g_strstrip(list[i]);
            if (!g_path_is_absolute(list[i])) {
                bad_value(p, "daemon", "sockets", sockets, errp,
                          "'%s' is not an absolute path", list[i]);
                return false;
            }
        }
        g_strfreev(cfg->sockets);
        cfg->sockets = g_steal_pointer(&list);
    }
    if (!parse_path(p, "daemon", "control", &cfg->control, errp) ||
        !parse_path(p, "daemon", "textfile", &cfg->textfile, errp)) {
        return false;
    }
    if (timeout && !parse_duration(p, "daemon", "qmp-timeout", timeout,
                                   &cfg->qmp_timeout_ms, errp)) {
        return false;
    }
    if (interval) {
        int64_t v;

        if (!parse_int(p, "daemon", "stats-interval", interval, 1, 3600,
                       &v, errp)) {
            return false;
        }
        cfg->stats_interval = v;
    }
    return true;
}

static bool parse_guest(Parser *p, const char *group, char *pattern,
                        CmmdConfig *cfg, Error **errp)
{
    g_autofree char *weight = raw_value(p, group, "weight");
    g_autofree char *floor = raw_value(p, group, "floor");
    g_autofree char *ceiling = raw_value(p, group, "ceiling");
    g_autofree char *rate = raw_value(p, group, "rate");
    CmmdGuestRule *rule = g_new0(CmmdGuestRule, 1);
    uint64_t v;

    rule->pattern = pattern;
    rule->weight = -1;
    rule->floor = -1;
    rule->ceiling = -1;
    rule->rate = -1;
    rule->line = group_line(p, group);
    /* cfg owns it from here on, even if a value below is bad. */
    g_ptr_array_add(cfg->rules, rule);

    if (weight) {
        int64_t w;

        if (!parse_int(p, group, "weight", weight, 0, CMMD_WEIGHT_MAX,
                       &w, errp)) {
            return false;
        }
        rule->weight = w;
    }
    if (floor) {
        if (!parse_size(p, group, "floor", floor, &v, errp)) {
            return false;
        }
        rule->floor = v;
    }
    if (ceiling) {
        if (!parse_size(p, group, "ceiling", ceiling, &v, errp)) {
            return false;
        }
        rule->ceiling = v;
    }
    if (floor && ceiling && rule->floor > rule->ceiling) {
        bad_value(p, group, "ceiling", ceiling, errp,
                  "must not be below floor (%s)", floor);
        return false;
    }
    if (rate) {
        if (!parse_rate(p, group, "rate", rate, &v, errp)) {
            return false;
        }
        rule->rate = v;
    }
    return true;
}

/* ---- entry points ------------------------------------------------------- */

CmmdConfig *cmmd_config_parse(const char *text, const char *path,
                              Error **errp)
{
    g_auto(Parser) p = {
        .name = path ? path : "<config>",
        .kf = g_key_file_new(),
    };
    g_autoptr(CmmdConfig) cfg = NULL;
    g_autoptr(GError) gerr = NULL;
    g_auto(GStrv) groups = NULL;

    /* Keep translations, or GKeyFile drops "key[xx]" without a word. */
    if (!g_key_file_load_from_data(p.kf, text, -1,
                                   G_KEY_FILE_KEEP_TRANSLATIONS, &gerr)) {
        g_autofree char *at = where(&p, first_bad_line(text));

        error_setg(errp, "%s: %s", at, gerr->message);
        return NULL;
    }
    index_lines(&p, text);
    if (!check_names(&p, errp)) {
        return NULL;
    }

    cfg = cmmd_config_new_default();
    cfg->path = g_strdup(path);
    if (!parse_host(&p, cfg, errp) || !parse_daemon(&p, cfg, errp)) {
        return NULL;
    }
    groups = g_key_file_get_groups(p.kf, NULL);
    for (unsigned i = 0; groups[i]; i++) {
        char *pattern = guest_pattern(groups[i]);

        if (pattern && !parse_guest(&p, groups[i], pattern, cfg, errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&cfg);
}

CmmdConfig *cmmd_config_load(const char *path, Error **errp)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) gerr = NULL;

    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        error_setg(errp, "%s: %s", path, gerr->message);
        return NULL;
    }
    return cmmd_config_parse(text, path, errp);
}

bool cmmd_pattern_match(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name;
    const char *star = NULL, *retry = NULL;

    /*
     * On a mismatch only the last '*' seen takes one more character: an
     * earlier '*' could not do better, so this stays O(len * len).
     */
    while (*n) {
        if (*p == '*') {
            star = p++;
            retry = n;
        } else if (*p == *n) {
            p++;
            n++;
        } else if (star) {
            p = star + 1;
            n = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*') {
        p++;
    }
    return *p == '\0';
}

void cmmd_config_limits(const CmmdConfig *cfg, const char *name,
                        uint64_t ram, CmmdGuestLimits *out)
{
    out->weight = CMMD_WEIGHT_DEFAULT;
    /* enough for a kernel and its working set: no guest is squeezed dry */
    out->floor = CMMD_DEFAULT_FLOOR(ram);
    out->ceiling = ram;
    out->rate = cfg->guest_rate;

    for (unsigned i = 0; i < cfg->rules->len; i++) {
        const CmmdGuestRule *rule = g_ptr_array_index(cfg->rules, i);

        if (!cmmd_pattern_match(rule->pattern, name)) {
            continue;
        }
        if (rule->weight >= 0) {
            out->weight = rule->weight;
        }
        if (rule->floor >= 0) {
            out->floor = rule->floor;
        }
        if (rule->ceiling >= 0) {
            out->ceiling = rule->ceiling;
        }
        if (rule->rate >= 0) {
            out->rate = rule->rate;
        }
    }
    out->floor = MIN(out->floor, ram);
    out->ceiling = MIN(out->ceiling, ram);
    /* Rules from different groups may cross; the floor wins. */
    if (out->floor > out->ceiling) {
        out->ceiling = out->floor;
    }
}
