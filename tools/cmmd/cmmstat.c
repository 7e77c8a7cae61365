/*
 * cmmstat: what qemu-cmmd is doing, one row per guest
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Asks the running daemon on its control socket (it answers with one JSON
 * object and closes) and prints it as a table, as JSON, or in
 * node_exporter's textfile format.
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "config.h"
#include "status.h"

/* The daemon's answer is a few KiB a guest; more is not a daemon. */
#define MAX_ANSWER      (16 * 1024 * 1024)

static char *ask(const char *path, Error **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 5 };
    GString *buf;
    char chunk[8192];
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        error_setg(errp, "%s: path too long", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "socket");
        return NULL;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        error_setg_errno(errp, errno, "%s: is qemu-cmmd running? connect",
                         path);
        close(fd);
        return NULL;
    }
    buf = g_string_new(NULL);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error_setg_errno(errp, errno, "%s: read", path);
            break;
        }
        if (n == 0) {
            break;
        }
        if (buf->len + n > MAX_ANSWER) {
            error_setg(errp, "%s: answer larger than %d bytes", path,
                       MAX_ANSWER);
            break;
        }
        g_string_append_len(buf, chunk, n);
    }
    close(fd);
    if (errp && *errp) {
        g_string_free(buf, true);
        return NULL;
    }
    return g_string_free(buf, false);
}

int main(int argc, char **argv)
{
    g_autofree char *socket_path = NULL, *textfile = NULL;
    gboolean json = false, prom = false;
    gint interval = 0, count = 0;
    GOptionEntry entries[] = {
        { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
          "the daemon's control socket (default " CMMD_DEFAULT_CONTROL ")",
          "PATH" },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
          "print the daemon's status document as JSON", NULL },
        { "prometheus", 'p', 0, G_OPTION_ARG_NONE, &prom,
          "print node_exporter's textfile format", NULL },
        { "textfile", 't', 0, G_OPTION_ARG_FILENAME, &textfile,
          "write node_exporter's textfile format to FILE (atomically)",
          "FILE" },
        { "interval", 'i', 0, G_OPTION_ARG_INT, &interval,
          "repeat every N seconds", "N" },
        { "count", 'n', 0, G_OPTION_ARG_INT, &count,
          "with --interval: stop after N reports", "N" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_autoptr(GError) gerr = NULL;

    error_init(argv[0]);
    g_option_context_set_summary(ctx, "Show what qemu-cmmd does: one row per "
                                 "guest with its size, footprint, target, "
                                 "page states, weight, floor, pressure and "
                                 "the last decision with its reason.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "cmmstat: %s\n", gerr->message);
        return 2;
    }
    if (argc > 1 || interval < 0 || count < 0 || (json && prom)) {
        fprintf(stderr, "cmmstat: %s\n", argc > 1 ? "unexpected argument" :
                json && prom ? "--json and --prometheus exclude each other" :
                "--interval and --count take a number of 0 or more");
        return 2;
    }
    for (int n = 0;; n++) {
        Error *err = NULL;
        g_autofree char *text = ask(socket_path ?: CMMD_DEFAULT_CONTROL, &err);
        g_autoptr(QDict) st = NULL;

        if (!text) {
            error_report_err(err);
            return 1;
        }
        st = qobject_to(QDict, qobject_from_json(text, &err));
        if (!st) {
            if (err) {
                error_report_err(err);
            } else {
                error_report("the daemon's answer is not a JSON object");
            }
            return 1;
        }
        if (textfile) {
            GString *p = cmmd_status_prometheus(st);
            bool ok = cmmd_status_write_file(textfile, p->str, &err);

            g_string_free(p, true);
            if (!ok) {
                error_report_err(err);
                return 1;
            }
        } else if (json) {
            fputs(text, stdout);
        } else {
            GString *out = prom ? cmmd_status_prometheus(st) :
                                  cmmd_status_table(st);

            fputs(out->str, stdout);
            g_string_free(out, true);
        }
        fflush(stdout);
        if (!interval || (count && n + 1 >= count)) {
            return 0;
        }
        if (!textfile && !json && !prom) {
            putchar('\n');
        }
        g_usleep(interval * G_USEC_PER_SEC);
    }
}
