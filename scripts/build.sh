#!/usr/bin/env bash
# Configure and build one QEMU tree the way qemu-cmm does; used for our tree and
# for the unpatched baseline the benchmarks compare against.
# Usage: build.sh configure|build SRC BUILDDIR [ninja targets...]
set -euo pipefail
cmd=$1 src=$(realpath "$2") out=$3
shift 3
say() { printf 'build: %s\n' "$*" >&2; }

QEMU_OPTS="--target-list=s390x-softmmu --disable-docs --disable-install-blobs
  --python=/usr/bin/python3 --enable-werror --disable-download"
# The sanitizer build (make check-sanitize) adds its options; without
# -Werror, as the sanitizers make GCC warn about upstream code.
if [ -n "${CMM_QEMU_EXTRA_OPTS:-}" ]; then
    QEMU_OPTS="${QEMU_OPTS/--enable-werror/--disable-werror} $CMM_QEMU_EXTRA_OPTS"
fi

configure() {
    local stamp="$out/.cmm-configure"
    if [ -f "$out/build.ninja" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$src $QEMU_OPTS" ]; then
        return 0
    fi
    rm -rf "$out"
    mkdir -p "$out"
    say "configuring $out from $src"
    (cd "$out" && "$src/configure" $QEMU_OPTS > configure.log 2>&1) || {
        tail -n 30 "$out/configure.log" >&2
        say "QEMU's configure failed; full log in $out/configure.log"
        exit 1
    }
    echo "$src $QEMU_OPTS" > "$stamp"
}

# The machine always loads s390-ccw.img, so build it from source and put it in the
# build tree's data directory where the binary looks without -L.
firmware() {
    make -s -C "$out/pc-bios/s390-ccw" >/dev/null
    local datadir
    datadir="$out/qemu-bundle/usr/local/share/qemu"
    mkdir -p "$datadir"
    cmp -s "$out/pc-bios/s390-ccw/s390-ccw.img" "$datadir/s390-ccw.img" ||
        cp "$out/pc-bios/s390-ccw/s390-ccw.img" "$datadir/s390-ccw.img"
}

case "$cmd" in
configure) configure ;;
build)
    configure
    ninja -C "$out" ${*:-qemu-system-s390x}
    firmware
    ;;
*) say "unknown command $cmd"; exit 2 ;;
esac
