#!/usr/bin/env bash
# Host-side cost of the tmem page store (bench/tmem-store-bench.c) against a
# plain 4 KiB memcpy, compiled against the assembled tree with QEMU's flags.
# Usage: bench/tmem-store.sh OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$1 src=$here/build/src qb=$here/build/qemu
mkdir -p "$out"
cc -O2 -g -std=gnu11 -D_GNU_SOURCE $(pkg-config --cflags glib-2.0) \
    -I "$qb" -I "$src/include" -I "$src" -I "$src/host/include/x86_64" \
    -I "$src/host/include/generic" -include "$qb/config-host.h" \
    "$here/bench/tmem-store-bench.c" "$here/backends/tmem-store.c" \
    -o "$out/tmem-store-bench" $(pkg-config --libs glib-2.0)
"$out/tmem-store-bench" | tee "$out/tmem-store.txt"
