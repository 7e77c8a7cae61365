#!/usr/bin/env bash
# Put a pristine upstream QEMU 10.0.x tree in $1 (build/upstream).
# Usage: fetch-upstream.sh DEST [DIR|TARBALL]
# Without a source argument, Debian's qemu source package (trixie carries 10.0.x)
# is downloaded through apt; only its upstream tarball is used, none of Debian's patches.
set -euo pipefail
dest=$1
src=${2:-}
say() { printf 'fetch-upstream: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

check_version() {
    local v
    [ -f "$1/VERSION" ] || die "$1 has no VERSION file: not a QEMU source tree"
    v=$(cat "$1/VERSION")
    case "$v" in
    10.0.*) echo "$v" ;;
    *) die "QEMU $v found in $1; qemu-cmm needs 10.0.x (the patches are made for it)" ;;
    esac
}

origin=${src:-debian-source-package}
if [ -f "$dest/.origin" ] && [ "$(cat "$dest/.origin")" = "$origin" ] &&
   [ -d "$dest/qemu" ]; then
    exit 0
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"

if [ -z "$src" ]; then
    ver=$(apt-cache showsrc qemu 2>/dev/null | awk '/^Version: /{print $2}' |
          grep -E '^(1:)?10\.0\.' | sort -V | tail -n 1 || true)
    [ -n "$ver" ] || die "no qemu 10.0.x source package in apt (run scripts/deps.sh build as root)"
    say "downloading Debian source package qemu=$ver"
    (cd "$dest.tmp" && apt-get source --download-only -qq "qemu=$ver" >/dev/null 2>&1) ||
        die "apt-get source qemu=$ver failed"
    tarball=$(ls "$dest.tmp"/qemu_*.orig.tar.* 2>/dev/null | head -n 1)
    [ -n "$tarball" ] || die "the source package has no orig tarball"
    src=$tarball
fi

if [ -d "$src" ]; then
    check_version "$src" >/dev/null
    say "copying $src"
    cp -a "$src" "$dest.tmp/qemu"
elif [ -f "$src" ]; then
    say "unpacking $(basename "$src")"
    mkdir "$dest.tmp/unpack"
    tar -xf "$src" -C "$dest.tmp/unpack"
    top=$(find "$dest.tmp/unpack" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    [ -n "$top" ] || die "$src holds no directory"
    mv "$top" "$dest.tmp/qemu"
    rm -rf "$dest.tmp/unpack"
else
    die "--with-qemu-source: '$src' is neither a directory nor a tarball"
fi
ver=$(check_version "$dest.tmp/qemu")
rm -f "$dest.tmp"/qemu_* 2>/dev/null || true
echo "$origin" > "$dest.tmp/.origin"
chmod -R a-w "$dest.tmp/qemu"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
say "upstream QEMU $ver in $dest/qemu"
