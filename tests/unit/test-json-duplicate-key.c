/*
 * The JSON parser refuses a duplicated key without leaking its value
 * (patches/json-parser-duplicate-key-leak.patch)
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qobject/qjson.h"
#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* a value that costs a few allocations: a dict holding a list */
#define DUP "{ \"a\": 1, \"a\": { \"b\": [ 1, 2, 3, \"xyzzy\" ] } }"

static void test_refused(void)
{
    Error *err = NULL;
    QObject *obj = qobject_from_json(DUP, &err);

    g_assert_null(obj);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "duplicate key"));
    error_free(err);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks;
}

/*
 * Without the fix each parse leaks the dict, its list and four scalars:
 * a hundred thousand parses would hold tens of MiB.
 */
static void test_no_leak(void)
{
    size_t before, after;
    unsigned i;

#ifdef UNDER_ASAN
    g_test_skip("LeakSanitizer checks this under ASan");
    return;
#endif
    for (i = 0; i < 1000; i++) {        /* warm the allocator's caches */
        Error *err = NULL;

        g_assert_null(qobject_from_json(DUP, &err));
        error_free(err);
    }
    before = heap_in_use();
    for (i = 0; i < 100000; i++) {
        Error *err = NULL;

        g_assert_null(qobject_from_json(DUP, &err));
        error_free(err);
    }
    after = heap_in_use();
    g_test_message("heap in use: %zu bytes before, %zu after", before, after);
    g_assert_cmpuint(after, <, before + 1024 * 1024);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/duplicate-key/refused", test_refused);
    g_test_add_func("/json/duplicate-key/no-leak", test_no_leak);
    return g_test_run();
}
