/*
 * qemu-cmm qtests: what the tmem qtests share
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TMEM_QTEST_UTIL_H
#define TMEM_QTEST_UTIL_H

#include "libqtest.h"

#define TMEM_QTEST_COMMON   "-M s390-ccw-virtio -m 64M -nodefaults "
#define TMEM_QTEST_TCG      "-accel tcg -chardev null,id=con " \
                            "-device sclpconsole,chardev=con "

/*
 * query-tmem's entry for pool @id (the caller unrefs it), and in it, if
 * @client is set, the client @dev.
 */
QDict *tmem_pool_info(QTestState *qts, const char *id, const char *dev,
                      QDict **client);

/*
 * A guest program of tests/guest/baremetal found through
 * $CMM_BAREMETAL_DIR (e.g. "m-tmem-migrate"); NULL if it is not built.
 */
char *tmem_guest_elf(const char *name);

/* A word of a guest program's mailbox (tests/qtest/tmem-mailbox.h). */
uint64_t tmem_mb_read(QTestState *qts, unsigned off);
void tmem_mb_write(QTestState *qts, unsigned off, uint64_t v);
/* Wait, at most 30 seconds, until the word at @off is @want. */
void tmem_mb_wait(QTestState *qts, unsigned off, uint64_t want);

/* A unix socket in a fresh directory for one migration. */
typedef struct TmemMigSock {
    char *dir, *path, *uri;
} TmemMigSock;

void tmem_mig_sock_init(TmemMigSock *m);
void tmem_mig_sock_cleanup(TmemMigSock *m);

/*
 * Wait, at most 30 seconds, until the migration @src runs is over, and
 * return its final query-migrate answer (the caller unrefs it).
 */
QDict *tmem_mig_wait_end(QTestState *src);

#endif
