#!/usr/bin/env bash
# Build the Linux guest used by tests, demo and benchmarks.
# Usage: scripts/guest-image.sh [--suite SUITE] OUTDIR
#        (normally build/guest for bookworm, build/guest-trixie for trixie)
#
# OUTDIR/vmlinuz            the Debian s390x kernel of SUITE (via linux-image-s390x)
# OUTDIR/kernel-release     its release string, e.g. 6.1.0-50-s390x
# OUTDIR/initrd-NAME.gz     one initramfs per tests/guest/linux/init/NAME.sh
# OUTDIR/modules/NAME.ko    our modules (contrib/linux/*), built for that kernel by
#                           scripts/guest-module.sh
# OUTDIR/prog/NAME          tests/guest/linux/prog/NAME.c, static for s390x; in every
#                           initramfs as /bin/NAME
#
# SUITE is a Debian release with s390x packages in apt's lists (scripts/deps.sh
# guest adds trixie); the default, bookworm, is the host's.  The kernel is what
# linux-image-s390x of SUITE depends on; if the mirror does not have that one yet
# (apt's lists can be ahead of it), the newest older kernel of the same series that
# downloads is used, and that choice is kept for a day before the newer one is tried
# again.  busybox-static is the host release's in every suite, so that only the
# kernel differs.
#
# Packages come from apt (s390x foreign architecture) and are only downloaded again
# when the metapackage resolves to another kernel or busybox changes version.  An
# initramfs is rebuilt only when the hash of its inputs changes.  An init script can
# ask for kernel modules with a line "# modules: mod1 mod2"; virtio_balloon is always
# included.  A module is taken from the kernel package or, if it is not there, from
# OUTDIR/modules; a module built into the kernel is accepted (it has nothing to
# load).  Modules are loaded in the guest with load_module from /lib.sh, which reads
# /lib/modules/NAME.load (the module and its dependencies, in load order).  The
# kernel's own requests for a module by name or alias (e.g. crypto-lz4 when zram is
# set to lz4 on 6.1) go to /sbin/modprobe (tests/guest/linux/init/modprobe), which
# loads what the image has.
set -euo pipefail

prog=guest-image
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/guest-lib.sh"

usage() { echo "usage: $0 [--suite SUITE] OUTDIR" >&2; exit 2; }
host_suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
suite=bookworm
while [ $# -gt 1 ]; do
    case $1 in
        --suite) suite=$2; shift 2 ;;
        *) usage ;;
    esac
done
[ $# -eq 1 ] || usage
case $1 in -*) usage ;; esac
out=$(realpath -m "$1")
initdir="$here/tests/guest/linux/init"
progdir="$here/tests/guest/linux/prog"

"$here/scripts/deps.sh" guest

mkdir -p "$out/pkg"

# ---- resolve and fetch packages -------------------------------------------------
# apt's candidate on the host's own release, else that release's version
sel=""
[ "$suite" = "$host_suite" ] || sel="/$suite"
kpkg=$(apt-cache depends "linux-image-s390x:s390x$sel" 2>/dev/null |
       awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { sub(/:s390x$/, "", $2); print $2; exit }')
[ -n "$kpkg" ] || die "cannot resolve linux-image-s390x:s390x$sel to a kernel package"
# one apt-cache call for both (each call re-reads all package lists)
read -r kver bver < <(apt-cache policy "$kpkg:s390x" busybox-static:s390x |
    awk '/^[^ ]/ { p = $1 } $1 == "Candidate:" { v[p] = $2 }
         END { print v["'"$kpkg"':s390x:"], v["busybox-static:s390x:"] }')
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "no candidate for $kpkg:s390x"
[ -n "$bver" ] && [ "$bver" != "(none)" ] || die "no candidate for busybox-static:s390x"

# fetch DIR SPEC: download SPEC (NAME:s390x[=VERSION]) and unpack it into DIR, whose
# stamp then names the package and version.  DIR is left as it was if the download
# fails (status 1).
fetch() {
    local dir=$1 spec=$2 deb
    say "downloading $spec"
    download "$out/pkg/dl" "$spec" || return 1
    deb=$(ls "$out/pkg/dl"/*.deb)
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg -x "$deb" "$dir"
    echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" > "$dir/.stamp"
    rm -rf "$out/pkg/dl"
}

# older_kernels: the kernel packages of kpkg's series (same major.minor, Debian
# release and flavour) older than kpkg, newest first.
older_kernels() {
    [[ $kpkg =~ ^(linux-image-[0-9]+\.[0-9]+\.)(.*)(-[a-z0-9]+)$ ]] || return 0
    local pre=${BASH_REMATCH[1]} mid=${BASH_REMATCH[2]} flavour=${BASH_REMATCH[3]} deb=""
    [[ $mid =~ (\+deb[0-9]+)$ ]] && deb=${BASH_REMATCH[1]}
    apt-cache search --names-only "^${pre//./\\.}[0-9.-]+${deb/+/\\+}$flavour\$" |
        awk '{ print $1 }' | sort -V -r |
        awk -v k="$kpkg" '$1 == k { older = 1; next } older'
}

kernel="$out/pkg/kernel"
fallback="$out/pkg/kernel.fallback"      # "WANTED\nUSED", when WANTED did not download
want="$kpkg $kver"
if stamp_is "$kernel" "$want"; then
    :
elif [ -n "$(find "$fallback" -mmin -1440 2>/dev/null)" ] &&
     [ "$(sed -n 1p "$fallback")" = "$want" ] && stamp_is "$kernel" "$(sed -n 2p "$fallback")"; then
    say "$want did not download less than a day ago: keeping $(sed -n 2p "$fallback")"
elif fetch "$kernel" "$kpkg:s390x=$kver"; then
    rm -f "$fallback"
else
    say "$kpkg:s390x=$kver does not download ($(download_error "$out/pkg/dl")); trying older kernels"
    got=""
    for cand in $(older_kernels); do
        if fetch "$kernel" "$cand:s390x"; then
            got=$cand
            break
        fi
    done
    rm -rf "$out/pkg/dl"
    [ -n "$got" ] || die "neither $kpkg nor an older kernel of its series downloads"
    printf '%s\n%s\n' "$want" "$(cat "$kernel/.stamp")" > "$fallback"
fi
stamp_is "$out/pkg/busybox" "busybox-static $bver" ||
    fetch "$out/pkg/busybox" "busybox-static:s390x=$bver" ||
    die "cannot download busybox-static:s390x=$bver: $(download_error "$out/pkg/dl")"

read -r kname kver < "$kernel/.stamp"
# bookworm's packages have /lib/modules, trixie's (merged /usr) /usr/lib/modules
krel=""
for d in "$kernel/lib/modules" "$kernel/usr/lib/modules"; do
    [ -d "$d" ] && krel=$(ls "$d" | head -n 1) && moddir="$d/$krel" && break
done
[ -n "$krel" ] && [ -f "$kernel/boot/vmlinuz-$krel" ] || die "no vmlinuz in $kname"
bbox="$out/pkg/busybox/bin/busybox"
[ -x "$bbox" ] || die "no busybox in busybox-static"

cmp -s "$kernel/boot/vmlinuz-$krel" "$out/vmlinuz" 2>/dev/null ||
    cp "$kernel/boot/vmlinuz-$krel" "$out/vmlinuz"
[ "$(cat "$out/kernel-release" 2>/dev/null)" = "$krel" ] || echo "$krel" > "$out/kernel-release"

# ---- our modules and programs -----------------------------------------------------
"$here/scripts/guest-module.sh" "$out" "$krel" "$kver"

shopt -s nullglob
mkdir -p "$out/prog"
progs=()
for c in "$progdir"/*.c; do
    p=$(basename "$c" .c)
    cflags="-O2 -Wall -static"
    h=$( { s390x-linux-gnu-gcc --version | head -n 1; echo "$cflags"; cat "$c"; } |
         sha256sum | cut -d' ' -f1)
    if [ ! -x "$out/prog/$p" ] || [ "$(cat "$out/prog/$p.hash" 2>/dev/null)" != "$h" ]; then
        # shellcheck disable=SC2086
        s390x-linux-gnu-gcc $cflags -o "$out/prog/$p.tmp" "$c" || die "cannot build $c"
        mv "$out/prog/$p.tmp" "$out/prog/$p"
        echo "$h" > "$out/prog/$p.hash"
        say "built $p"
    fi
    progs+=("$p")
done

# ---- modules --------------------------------------------------------------------
# The .deb ships no modules.dep (depmod writes it at install time), so dependencies
# are read from each module's .modinfo "depends=" entry.
# put_modules ROOT MOD...: install MOD and its dependencies uncompressed under
# ROOT/lib/modules/KREL/ (ours under extra/), write ROOT/lib/modules/NAME.load
# (paths in load order) for each installed or built-in module asked for, and
# ROOT/lib/modules/modules.alias ("alias PATTERN NAME") for /sbin/modprobe.
put_modules() {
    /usr/bin/python3 - "$moddir" "$krel" "$out/modules" "$@" <<'PY'
import gzip, lzma, os, subprocess, sys

moddir, krel, ours, root, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")

def canon(name):
    return name.replace("-", "_")

paths = {}                      # module name -> (file, path under lib/modules/KREL)
for top, _dirs, files in os.walk(os.path.join(moddir, "kernel")):
    for f in files:
        for suf in SUFFIXES:
            if f.endswith(suf):
                full = os.path.join(top, f)
                rel = os.path.relpath(full, moddir)
                paths[canon(f[: -len(suf)])] = (full, rel[: rel.index(".ko") + 3])
for f in sorted(os.listdir(ours)) if os.path.isdir(ours) else []:
    if f.endswith(".ko") and canon(f[:-3]) not in paths:
        paths[canon(f[:-3])] = (os.path.join(ours, f), "extra/" + f)
builtin = set()
with open(os.path.join(moddir, "modules.builtin")) as f:
    for line in f:
        builtin.add(canon(os.path.basename(line.strip())[:-3]))

def data(full):
    if full.endswith(".xz"):
        return lzma.open(full).read()
    if full.endswith(".gz"):
        return gzip.open(full).read()
    if full.endswith(".zst"):
        return subprocess.run(["zstd", "-qdc", full], check=True,
                              stdout=subprocess.PIPE).stdout
    with open(full, "rb") as f:
        return f.read()

def modinfo(blob, key):
    out, i = [], 0
    tag = b"\0" + key.encode() + b"="
    while True:
        i = blob.find(tag, i)
        if i < 0:
            return out
        j = blob.index(b"\0", i + 1)
        out.append(blob[i + len(tag) : j].decode())
        i = j

def blob(name, cache={}):
    if name not in paths:
        sys.exit("guest-image: module %s not found in %s nor in %s" % (name, krel, ours))
    if name not in cache:
        cache[name] = data(paths[name][0])
    return cache[name]

def closure(name, seen, out):
    """Append name's dependencies, then name, to out (load order)."""
    if name in seen:
        return
    seen.add(name)
    for d in ",".join(modinfo(blob(name), "depends")).split(","):
        if d and canon(d) not in builtin:
            closure(canon(d), seen, out)
    out.append(name)

loads = {}                      # module name -> modules to load, in order
for want in map(canon, wanted):
    if want not in paths and want in builtin:
        print("guest-image: %s is built into %s" % (want, krel), file=sys.stderr)
        loads[want] = []
        continue
    seq = []
    closure(want, set(), seq)
    for name in seq:
        if name not in loads:
            loads[name] = []
            closure(name, set(), loads[name])
aliases = []
for name, seq in loads.items():
    with open(os.path.join(root, "lib/modules", name + ".load"), "w") as f:
        f.writelines("/lib/modules/%s/%s\n" % (krel, paths[n][1]) for n in seq)
    if not seq:
        continue
    dst = os.path.join(root, "lib/modules", krel, paths[name][1])
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(blob(name))
    aliases += ["alias %s %s\n" % (a, name) for a in modinfo(blob(name), "alias")]
with open(os.path.join(root, "lib/modules/modules.alias"), "w") as f:
    f.writelines(aliases)
PY
}

# ---- initramfs images -----------------------------------------------------------
scripts=("$initdir"/*.sh)
[ ${#scripts[@]} -gt 0 ] || die "no init scripts in $initdir"
for script in "${scripts[@]}"; do
    name=$(basename "$script" .sh)
    [ "$name" = lib ] && continue
    mods=$(echo virtio_balloon $(sed -n 's/^# *modules: *//p' "$script") |
           tr ' ' '\n' | awk 'NF && !seen[$1]++' | tr '\n' ' ')
    # every input that shapes the image (ours: the hash of each module asked for)
    hash=$( { echo "$kname $kver $bver $mods"
              for m in $mods; do cat "$out/modules/$m.hash" 2>/dev/null || true; done
              cat "$out"/prog/*.hash "$script" "$initdir/lib.sh" "$initdir/modprobe" \
                  "$0" "$here/scripts/guest-lib.sh"; } | sha256sum | cut -d' ' -f1)
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
    for p in "${progs[@]}"; do install -m 0755 "$out/prog/$p" "$root/bin/$p"; done
    install -m 0755 "$script" "$root/init"
    install -m 0644 "$initdir/lib.sh" "$root/lib.sh"
    install -m 0755 "$initdir/modprobe" "$root/sbin/modprobe"
    # shellcheck disable=SC2086
    put_modules "$root" $mods || die "cannot install modules: $mods"
    tmp="$img.tmp"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet | gzip -9n) > "$tmp"
    mv "$tmp" "$img"
    echo "$hash" > "$stamp"
    rm -rf "$root"
    say "built $(basename "$img") ($krel, modules: $mods)"
done
