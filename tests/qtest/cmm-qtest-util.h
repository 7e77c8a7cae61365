/*
 * qemu-cmm qtests: what every one of them needs
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef CMM_QTEST_UTIL_H
#define CMM_QTEST_UTIL_H

#include "libqtest.h"

/* The unsigned integer @key of @d (a 'size' or 'uint64' member). */
uint64_t cmm_get_u64(QDict *d, const char *key);

/*
 * Assert that @rsp (which this frees) is an error of class @cls (NULL:
 * any) whose description contains @needle (NULL: anything).
 */
void cmm_assert_error(QDict *rsp, const char *cls, const char *needle);

/*
 * Wait, at most 30 seconds, until the migration @src runs has completed;
 * fail the test if it fails, naming the error.
 */
void cmm_wait_migration(QTestState *src);

#endif
