#!/usr/bin/env bash
# Build our out-of-tree guest kernel modules for one Debian s390x guest kernel.
# Usage: scripts/guest-module.sh OUTDIR KREL KVER     (called by scripts/guest-image.sh)
#
# KREL is the kernel release (6.1.0-50-s390x), KVER the Debian version of its
# package (6.1.176-1).  Every contrib/linux/DIR with a Kbuild file ("obj-m += NAME.o")
# is built into OUTDIR/modules/NAME.ko, with OUTDIR/modules/NAME.hash: the hash of
# its sources, the kernel and the compiler.  A module is rebuilt only when that
# hash changes.  The sources are copied to OUTDIR/module-src/DIR and built there:
# nothing is written into contrib/.
#
# The headers come from apt like the kernel: linux-headers-KREL:s390x=KVER and the
# -common and linux-kbuild packages its Depends name, unpacked together into
# OUTDIR/pkg/headers; the headers' top Makefile is pointed at the unpacked tree.
# On a host older than the kernel's Debian release:
# - kbuild's programs (modpost, ...) run on the host.  If those of the kbuild
#   package do not (trixie's need glibc 2.38), the same upstream version built for
#   another Debian release is used (linux-kbuild-6.12.107+deb12 for +deb13).
# - The compiler is the kernel's own (CONFIG_CC_VERSION_TEXT, e.g.
#   s390x-linux-gnu-gcc-14) if it is installed, else the newest installed gcc for
#   the same target, through scripts/kcc-compat.
# Module BTF is left out (CONFIG_DEBUG_INFO_BTF_MODULES=): it needs pahole, and
# the kernel loads modules without it.
set -euo pipefail

prog=guest-module
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/guest-lib.sh"

[ $# -eq 3 ] || { echo "usage: $0 OUTDIR KREL KVER" >&2; exit 2; }
out=$(realpath -m "$1")
krel=$2
kver=$3
hdr="$out/pkg/headers"
kdir="$hdr/usr/src/linux-headers-$krel"
dl="$out/pkg/dl"

shopt -s nullglob
srcs=()
for k in "$here"/contrib/linux/*/Kbuild; do
    srcs+=("$(dirname "$k")")
done
mkdir -p "$out/modules"
if [ ${#srcs[@]} -eq 0 ]; then
    say "no module sources in contrib/linux (no DIR/Kbuild): no modules to build"
    rm -f "$out"/modules/*.ko "$out"/modules/*.hash
    exit 0
fi

# runs_here DIR: every program under DIR starts on this host (no loader error such
# as a missing GLIBC version or library).  Each one is run with --help.
runs_here() {
    local f err
    while IFS= read -r f; do
        [ "$(head -c4 "$f" | tail -c3)" = ELF ] || continue
        err=$(timeout 10 "$f" --help </dev/null 2>&1 >/dev/null | head -c 400) || true
        case $err in
            *"error while loading shared libraries"* | *"not found (required by"*)
                err=${err%%$'\n'*}
                say "${err//"$hdr"\//}"
                return 1 ;;
        esac
    done < <(find "$1" -type f -perm -u+x)
}

# relink_kbuild OLD NEW: point the headers' links into kbuild OLD (scripts, tools) at
# kbuild NEW, which is unpacked beside it.
relink_kbuild() {
    local l t
    while IFS= read -r l; do
        t=$(readlink "$l")
        case $t in
            *"/linux-kbuild-$1/"* | *"/linux-kbuild-$1") ln -sfn "${t/linux-kbuild-$1/linux-kbuild-$2}" "$l" ;;
        esac
    done < <(find "$hdr/usr/src" -maxdepth 2 -type l)
}

# another_kbuild NAME: find, download and unpack a kbuild package of NAME's upstream
# version built for another Debian release, whose programs run here; print its name.
another_kbuild() {
    local base=${1%+deb*} cand
    [ "$base" != "$1" ] || return 1
    for cand in $(apt-cache search --names-only "^${base//./\\.}\\+deb[0-9]+\$" |
                  awk '{ print $1 }' | sort -V -r); do
        [ "$cand" = "$1" ] && continue
        say "trying $cand"
        download "$dl" "$cand" || continue
        rm -rf "$hdr.try"
        dpkg -x "$dl"/*.deb "$hdr.try"
        if runs_here "$hdr.try/usr/lib/linux-kbuild-${cand#linux-kbuild-}"; then
            rm -rf "$hdr.try"
            dpkg -x "$dl"/*.deb "$hdr"
            echo "$cand"
            return 0
        fi
        rm -rf "$hdr.try"
    done
    return 1
}

fetch_headers() {
    local want="linux-headers-$krel:s390x $kver" deb deps kb alt
    stamp_is "$hdr" "$want" && return 0
    say "downloading the headers for $krel ($kver)"
    rm -rf "$hdr"
    download "$dl" "linux-headers-$krel:s390x=$kver" ||
        die "cannot download linux-headers-$krel:s390x=$kver: $(download_error "$dl")"
    deb=$(ls "$dl"/*.deb)
    # the -common and linux-kbuild packages it depends on, "=VERSION" when pinned
    deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
           sed -nE 's/^ *(linux-headers-[^ ]*-common|linux-kbuild-[^ |]*)( \(= ([^)]*)\))?.*/\1=\3/p' |
           sed 's/=$//')
    [ "$(echo "$deps" | wc -w)" -eq 2 ] ||
        die "linux-headers-$krel does not depend on one -common and one linux-kbuild package: $deps"
    mkdir -p "$hdr"
    dpkg -x "$deb" "$hdr"
    # shellcheck disable=SC2086
    download "$dl" $deps || die "cannot download $deps: $(download_error "$dl")"
    for deb in "$dl"/*.deb; do dpkg -x "$deb" "$hdr"; done
    rm -rf "$dl"

    kb=$(echo "$deps" | sed -n 's/^linux-kbuild-\([^=]*\).*/\1/p')
    [ -d "$hdr/usr/lib/linux-kbuild-$kb" ] || die "no usr/lib/linux-kbuild-$kb in linux-kbuild-$kb"
    if ! runs_here "$hdr/usr/lib/linux-kbuild-$kb"; then
        say "the programs of linux-kbuild-$kb do not run on this host; looking for a build for another Debian release"
        alt=$(another_kbuild "linux-kbuild-$kb") ||
            die "no kbuild package of the same upstream version as linux-kbuild-$kb runs here"
        rm -rf "$dl"
        relink_kbuild "$kb" "${alt#linux-kbuild-}"
        say "using $alt"
    fi
    [ -e "$kdir/scripts/mod/modpost" ] || die "$kdir/scripts does not lead to kbuild's programs"
    echo "$want" > "$hdr/.stamp"
}

fetch_headers
# The top Makefile includes the -common tree by its installed path (or, after this,
# by where OUTDIR was when the headers were unpacked): point it at the tree here.
inc=$(sed -n 's/^include //p' "$kdir/Makefile")
if [ ! -f "$inc" ]; then
    sed -i -E "s|^include .*(/usr/src/linux-headers-[^/]*/Makefile)\$|include $hdr\\1|" "$kdir/Makefile"
    inc=$(sed -n 's/^include //p' "$kdir/Makefile")
    [ -f "$inc" ] || die "$kdir/Makefile does not include the unpacked -common tree: $inc"
fi

# ---- the compiler -----------------------------------------------------------------
# The kernel's gcc (gcc-12 when built on s390x, s390x-linux-gnu-gcc-14 when cross
# built), for s390x here.
cross=s390x-linux-gnu-
kcc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\).*/\1/p' "$kdir/.config")
case $kcc in gcc*|"$cross"gcc*) ;; *) die "the kernel was not built with gcc: '$kcc'" ;; esac
kcc=$cross${kcc#"$cross"}
cc=$kcc
real=$kcc
if ! command -v "$kcc" >/dev/null; then
    real=$(compgen -c "${cross}gcc-" | grep -E -- '-gcc-[0-9]+$' | sort -uV | tail -n 1) || true
    [ -n "$real" ] || die "$kcc (the kernel's compiler) and no other ${cross}gcc-N installed (scripts/deps.sh guest)"
    cc="$here/scripts/kcc-compat"
    export KCC_REAL=$real
fi
ccid="$kcc $real $("$real" --version | head -n 1)"

# ---- build --------------------------------------------------------------------------
built=()
for src in "${srcs[@]}"; do
    dir=$(basename "$src")
    name=$(sed -nE 's/^obj-m *[+:]?= *([A-Za-z0-9_-]+)\.o.*/\1/p' "$src/Kbuild" | head -n 1)
    [ -n "$name" ] || die "no obj-m line in $src/Kbuild"
    built+=("$name")
    hash=$( { echo "$krel $kver $ccid"; tree_hash "$src";
              cat "$0" "$here/scripts/kcc-compat" "$here/scripts/guest-lib.sh"; } |
            sha256sum | cut -d' ' -f1)
    if [ -f "$out/modules/$name.ko" ] && [ "$(cat "$out/modules/$name.hash" 2>/dev/null)" = "$hash" ]; then
        continue
    fi
    [ "$cc" = "$kcc" ] ||
        say "$krel was built with $kcc, which is not installed: using $real through scripts/kcc-compat"
    b="$out/module-src/$dir"
    log="$out/module-src/$dir.log"
    rm -rf "$b"
    mkdir -p "$b"
    (cd "$src" && find . -type f \( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) -print0 |
        cpio -p0dm --quiet "$b")
    if ! make -C "$kdir" M="$b" ARCH=s390 CROSS_COMPILE="$cross" CC="$cc" \
            CONFIG_DEBUG_INFO_BTF_MODULES= -j"$(nproc)" modules >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        die "building $name ($src) for $krel failed; full log: $log"
    fi
    [ -f "$b/$name.ko" ] || die "building $name for $krel made no $name.ko; log: $log"
    vermagic=$(tr '\0' '\n' < "$b/$name.ko" | sed -n 's/^vermagic=//p')
    [ "${vermagic%% *}" = "$krel" ] || die "$name.ko has vermagic '$vermagic', not $krel"
    # the debug info stays in module-src (for addr2line), not in the initramfs
    "${cross}strip" --strip-debug -o "$out/modules/$name.ko.tmp" "$b/$name.ko"
    mv "$out/modules/$name.ko.tmp" "$out/modules/$name.ko"
    echo "$hash" > "$out/modules/$name.hash"
    say "built $name.ko for $krel"
done

# modules whose sources are gone
for ko in "$out"/modules/*.ko; do
    name=$(basename "$ko" .ko)
    case " ${built[*]} " in *" $name "*) ;; *) rm -f "$ko" "$out/modules/$name.hash" ;; esac
done
