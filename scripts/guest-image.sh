#!/usr/bin/env bash
# Build the Linux guest used by tests, demo and benchmarks.
# Usage: scripts/guest-image.sh OUTDIR          (normally build/guest)
#
# OUTDIR/vmlinuz            the current Debian s390x kernel (via linux-image-s390x)
# OUTDIR/kernel-release     its release string, e.g. 6.1.0-50-s390x
# OUTDIR/initrd-NAME.gz     one initramfs per tests/guest/linux/init/NAME.sh
#
# Packages come from apt (s390x foreign architecture) and are only downloaded again
# when the metapackage resolves to another kernel or busybox changes version.  An
# initramfs is rebuilt only when the hash of its inputs changes.  An init script can
# ask for kernel modules with a line "# modules: mod1 mod2"; virtio_balloon is always
# included.  Modules are loaded in the guest with load_module from /lib.sh, which
# reads /lib/modules/NAME.load (the module and its dependencies, in load order).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "$1")
initdir="$here/tests/guest/linux/init"
say() { printf 'guest-image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

"$here/scripts/deps.sh" guest

mkdir -p "$out/pkg"

# ---- resolve and fetch packages -------------------------------------------------
kpkg=$(apt-cache depends linux-image-s390x:s390x 2>/dev/null |
       awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { sub(/:s390x$/, "", $2); print $2; exit }')
[ -n "$kpkg" ] || die "cannot resolve linux-image-s390x:s390x to a kernel package"
# one apt-cache call for both (each call re-reads all package lists)
read -r kver bver < <(apt-cache policy "$kpkg:s390x" busybox-static:s390x |
    awk '/^[^ ]/ { p = $1 } $1 == "Candidate:" { v[p] = $2 }
         END { print v["'"$kpkg"':s390x:"], v["busybox-static:s390x:"] }')
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "no candidate for $kpkg:s390x"
[ -n "$bver" ] && [ "$bver" != "(none)" ] || die "no candidate for busybox-static:s390x"

# fetch NAME VERSION DIR: download and unpack NAME:s390x=VERSION into DIR, unless the
# stamp in DIR says it is already there.
fetch() {
    local name=$1 ver=$2 dir=$3 want="$1 $2" deb
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$want" ]; then
        return 0
    fi
    say "downloading $name:s390x $ver"
    rm -rf "$dir" "$out/pkg/dl"
    mkdir -p "$out/pkg/dl" "$dir"
    (cd "$out/pkg/dl" &&
     apt-get download -qq -o APT::Sandbox::User=root "$name:s390x=$ver" >/dev/null) ||
        die "apt-get download $name:s390x=$ver failed"
    deb=$(ls "$out/pkg/dl"/*.deb)
    dpkg -x "$deb" "$dir"
    rm -rf "$out/pkg/dl"
    echo "$want" > "$dir/.stamp"
}

fetch "$kpkg" "$kver" "$out/pkg/kernel"
fetch busybox-static "$bver" "$out/pkg/busybox"

kroot="$out/pkg/kernel"
krel=$(ls "$kroot/lib/modules" | head -n 1)
[ -n "$krel" ] && [ -f "$kroot/boot/vmlinuz-$krel" ] || die "no vmlinuz in $kpkg"
moddir="$kroot/lib/modules/$krel"
bbox="$out/pkg/busybox/bin/busybox"
[ -x "$bbox" ] || die "no busybox in busybox-static"

cmp -s "$kroot/boot/vmlinuz-$krel" "$out/vmlinuz" 2>/dev/null ||
    cp "$kroot/boot/vmlinuz-$krel" "$out/vmlinuz"
[ "$(cat "$out/kernel-release" 2>/dev/null)" = "$krel" ] || echo "$krel" > "$out/kernel-release"

# ---- modules --------------------------------------------------------------------
# The .deb ships no modules.dep (depmod writes it at install time), so dependencies
# are read from each module's .modinfo "depends=" entry.
# put_modules ROOT MOD...: install MOD and its dependencies uncompressed under
# ROOT/lib/modules/KREL/ and write ROOT/lib/modules/MOD.load (paths in load order).
put_modules() {
    /usr/bin/python3 - "$moddir" "$krel" "$@" <<'PY'
import gzip, lzma, os, subprocess, sys

moddir, krel, root, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")

def canon(name):
    return name.replace("-", "_")

paths = {}                      # module name -> path relative to moddir
for top, _dirs, files in os.walk(os.path.join(moddir, "kernel")):
    for f in files:
        for suf in SUFFIXES:
            if f.endswith(suf):
                rel = os.path.relpath(os.path.join(top, f), moddir)
                paths[canon(f[: -len(suf)])] = rel

def data(rel):
    full = os.path.join(moddir, rel)
    if rel.endswith(".xz"):
        return lzma.open(full).read()
    if rel.endswith(".gz"):
        return gzip.open(full).read()
    if rel.endswith(".zst"):
        return subprocess.run(["zstd", "-qdc", full], check=True,
                              stdout=subprocess.PIPE).stdout
    with open(full, "rb") as f:
        return f.read()

def depends(blob):
    i = blob.find(b"\0depends=")
    if i < 0:
        return []
    j = blob.index(b"\0", i + 1)
    val = blob[i + 9 : j].decode()
    return [canon(d) for d in val.split(",") if d]

def order(name, seen, out):
    if name in seen:
        return
    seen.add(name)
    if name not in paths:
        sys.exit("guest-image: module %s not found in %s" % (name, krel))
    blob = data(paths[name])
    for d in depends(blob):
        order(d, seen, out)
    out.append((name, blob))

for want in wanted:
    want = canon(want)
    seq = []
    order(want, set(), seq)
    lines = []
    for name, blob in seq:
        rel = paths[name]
        rel = rel[: rel.index(".ko") + 3]
        dst = os.path.join(root, "lib/modules", krel, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(blob)
        lines.append("/lib/modules/%s/%s\n" % (krel, rel))
    with open(os.path.join(root, "lib/modules", want + ".load"), "w") as f:
        f.writelines(lines)
PY
}

# ---- initramfs images -----------------------------------------------------------
shopt -s nullglob
scripts=("$initdir"/*.sh)
[ ${#scripts[@]} -gt 0 ] || die "no init scripts in $initdir"
for script in "${scripts[@]}"; do
    name=$(basename "$script" .sh)
    [ "$name" = lib ] && continue
    mods=$(echo virtio_balloon $(sed -n 's/^# *modules: *//p' "$script") |
           tr ' ' '\n' | awk 'NF && !seen[$1]++' | tr '\n' ' ')
    # every input that shapes the image
    hash=$( { echo "$kpkg $kver $bver $mods"; cat "$script" "$initdir/lib.sh" "$0"; } |
            sha256sum | cut -d' ' -f1)
    img="$out/initrd-$name.gz"
    stamp="$out/initrd-$name.stamp"
    if [ -f "$img" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
        continue
    fi
    root="$out/pkg/root-$name"
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,mnt,etc,lib/modules/"$krel"}
    cp "$bbox" "$root/bin/busybox"
    # enough to run /init; /init calls "busybox --install -s" for the rest
    for a in sh mount; do ln -s busybox "$root/bin/$a"; done
    install -m 0755 "$script" "$root/init"
    install -m 0644 "$initdir/lib.sh" "$root/lib.sh"
    put_modules "$root" $mods || die "cannot install modules: $mods"
    tmp="$img.tmp"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet | gzip -9n) > "$tmp"
    mv "$tmp" "$img"
    echo "$hash" > "$stamp"
    rm -rf "$root"
    say "built $(basename "$img") ($krel, modules: $mods)"
done
