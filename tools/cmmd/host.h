/*
 * qemu-cmmd: what the host says of its memory
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Reads the memory cgroup (v1 or v2), PSI, MemAvailable and a process's
 * RSS.  Every function takes the directory it reads from, so the unit
 * test runs it on a fake tree.  Main loop thread only.
 */

#ifndef CMMD_HOST_H
#define CMMD_HOST_H

typedef struct CmmdCgroup {
    int version;                /* 1 or 2 */
    uint64_t limit;             /* memory.max / memory.limit_in_bytes */
    uint64_t usage;             /* memory.current / memory.usage_in_bytes */
    double psi_some_avg10;      /* memory.pressure (v2), -1 otherwise */
} CmmdCgroup;

/* Read a memory cgroup directory; errors name the file and its content. */
bool cmmd_cgroup_read(const char *dir, CmmdCgroup *cg, Error **errp);

/*
 * The memory cgroup directory of process @pid, under @cgroot (usually
 * /sys/fs/cgroup), read from @proc/PID/cgroup.
 */
char *cmmd_cgroup_of_pid(const char *proc, const char *cgroot, pid_t pid,
                         Error **errp);

/* "some avg10" of a PSI file, in percent; -1 if unreadable. */
double cmmd_psi_some_avg10(const char *path);

/* MemAvailable of a meminfo file, in bytes; 0 if unreadable. */
uint64_t cmmd_mem_available(const char *meminfo);

/* VmRSS of @proc/PID/status, in bytes; 0 if the process is gone. */
uint64_t cmmd_pid_rss(const char *proc, pid_t pid);

#endif
