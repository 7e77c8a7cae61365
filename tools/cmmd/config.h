/*
 * qemu-cmmd: the configuration file
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A GLib key file, /etc/qemu-cmm/cmmd.conf by default.  See
 * docs/tools/qemu-cmmd.rst for every key.  Errors name the file, the line,
 * the key and the value as written.  Only the main loop thread uses this.
 */

#ifndef CMMD_CONFIG_H
#define CMMD_CONFIG_H

#include "policy.h"

#define CMMD_DEFAULT_CONFIG     "/etc/qemu-cmm/cmmd.conf"
#define CMMD_DEFAULT_SOCKETS    "/run/qemu-cmm/*.qmp"
#define CMMD_DEFAULT_CONTROL    "/run/qemu-cmm/cmmd.sock"

/* A guest's floor unless a rule sets one: 64 MiB plus 1/8 of its RAM. */
#define CMMD_DEFAULT_FLOOR(ram) ((uint64_t)64 * 1024 * 1024 + (ram) / 8)

/* One [guest PATTERN] group: unset values are -1. */
typedef struct CmmdGuestRule {
    char *pattern;              /* '*' matches any run of characters */
    int weight;
    int64_t floor;
    int64_t ceiling;
    int64_t rate;
    unsigned line;              /* the group's line in the file */
} CmmdGuestRule;

typedef struct CmmdConfig {
    char *path;
    CmmdPolicyConfig policy;
    CmmdBudgetSource budget_source;
    char *cgroup;               /* with CMMD_BUDGET_CGROUP: the cgroup's
                                 * directory (absolute), NULL = the cgroup
                                 * of the first QEMU found */
    char **sockets;             /* glob patterns of QMP sockets */
    char *control;              /* the daemon's own socket, for cmmstat */
    char *textfile;             /* node_exporter textfile, NULL = none */
    uint64_t guest_rate;        /* default per-guest shift cap, bytes/s */
    uint64_t qmp_timeout_ms;    /* for every QMP command */
    unsigned stats_interval;    /* guest-stats-polling-interval, s */
    GPtrArray *rules;           /* CmmdGuestRule, in file order */
} CmmdConfig;

/* The defaults, as documented (path NULL); free with cmmd_config_free(). */
CmmdConfig *cmmd_config_new_default(void);

/*
 * Read @path.  On error return NULL and set @errp to one message of the
 * form "FILE:LINE: [GROUP] KEY = 'VALUE': what is wrong".
 */
CmmdConfig *cmmd_config_load(const char *path, Error **errp);

/* The same from a string; @path only names it in messages. */
CmmdConfig *cmmd_config_parse(const char *text, const char *path,
                              Error **errp);

void cmmd_config_free(CmmdConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CmmdConfig, cmmd_config_free)

/*
 * The limits of the guest @name whose RAM is @ram: the defaults (weight
 * 128, floor CMMD_DEFAULT_FLOOR, ceiling = RAM, the [host] guest-rate), then every
 * [guest PATTERN] group whose pattern matches @name, in file order, each
 * key overriding what came before.  Floor and ceiling are clamped to @ram;
 * a floor above the ceiling raises the ceiling to it.
 */
void cmmd_config_limits(const CmmdConfig *cfg, const char *name,
                        uint64_t ram, CmmdGuestLimits *out);

/* Does @name match @pattern ('*' matches any run, even an empty one)? */
bool cmmd_pattern_match(const char *pattern, const char *name);

#endif
