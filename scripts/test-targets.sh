#!/usr/bin/env bash
# Print the ninja targets `make check` needs: the emulator and the executables of
# the qtest-s390x and unit suites (ours among them), as meson introspection lists them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "$1" && pwd)
export CMM_UNIT_TESTS=$(cd "$top/tests/unit" && ls *.c | sed 's/\.c$//' | tr '\n' ' ')
cd "$out"
# --ours: only our unit tests and qtests (the sanitizer build)
if [ "${2:-}" = --ours ]; then
    (cd "$top/tests/unit" && ls *.c | sed 's#^#tests/unit/#; s/\.c$//')
    (cd "$top/tests/qtest" && ls *-test.c | sed 's#^#tests/qtest/#; s/\.c$//')
    exit 0
fi
echo qemu-system-s390x tools/cmmd/qemu-cmmd tools/cmmd/cmmstat
meson introspect --tests . | /usr/bin/python3 -c '
import json, os, sys
out = os.getcwd()
seen = set()
for t in json.load(sys.stdin):
    suites = {s.split(":")[-1] for s in t.get("suite", [])}
    if not ({"qtest-s390x", "unit"} & suites):
        continue
    if "qtest-s390x" not in suites and t["name"].split("/")[-1] not in os.environ["CMM_UNIT_TESTS"].split():
        continue
    exes = [t["cmd"][0]]
    # the helper programs the qtests run, e.g. ./qemu-img
    exes += [v for k, v in t.get("env", {}).items()
             if k.startswith("QTEST_QEMU_") and k != "QTEST_QEMU_BINARY"]
    for exe in exes:
        exe = os.path.relpath(os.path.join(out, exe), out)
        if not exe.startswith("..") and exe not in seen:
            seen.add(exe)
            print(exe)
'
