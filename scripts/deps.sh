#!/usr/bin/env bash
# Install what qemu-cmm needs, idempotently.  Usage: scripts/deps.sh [build|guest|bench|fuzz]...
#
# On bookworm the upstream 10.0 source, meson >= 1.5 and pycotap come from trixie,
# enabled at pin priority 100 so nothing else is upgraded.  The mirror is taken from
# the system's own apt configuration: no host name is written here.
set -euo pipefail

BUILD_PKGS="ninja-build libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev
  python3-venv flex bison gcc-s390x-linux-gnu dpkg-dev xz-utils patch cpio pkg-config
  make gcc"
TRIXIE_PKGS="meson python3-pycotap"
# the guest's modules (scripts/guest-module.sh) and programs are built here; the
# linux-kbuild programs need libelf, libssl and zlib
GUEST_PKGS="cpio gzip xz-utils make gcc-s390x-linux-gnu libelf1 libssl3 zlib1g"
BENCH_PKGS="gnuplot-nox"
# libFuzzer comes with clang's runtime (tests/fuzz)
FUZZ_PKGS="clang libclang-rt-dev"

say() { printf 'deps: %s\n' "$*" >&2; }

codename() { . /etc/os-release; echo "${VERSION_CODENAME:-unknown}"; }

missing_pkgs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            echo "$p"
    done
}

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "missing: $*"
        say "run as root, or install these packages yourself, then re-run"
        exit 1
    fi
}

# The first Debian archive URI the system already uses (not the security archive).
debian_mirror() {
    local f uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk 'BEGIN{RS=""; FS="\n"}
            /Suites:[^\n]*(bookworm|trixie)([ \t\n]|$)/ && !/-security/ {
                for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i);
                    split($i, a, /[ \t]+/); print a[1]; exit } }' "$f")
        [ -n "$uri" ] && break
    done
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
              awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
                   if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
    fi
    [ -n "$uri" ] || { say "cannot find a Debian mirror in the apt configuration"; exit 1; }
    echo "$uri"
}

apt_updated=0
apt_update() {
    [ $apt_updated = 1 ] && return 0
    apt-get update -qq
    apt_updated=1
}

enable_trixie() {
    local src=/etc/apt/sources.list.d/qemu-cmm-trixie.sources
    local pin=/etc/apt/preferences.d/qemu-cmm-trixie
    [ -f "$src" ] && return 0
    need_root "apt sources for trixie (upstream QEMU 10.0 source, meson, pycotap)"
    local mirror types="deb deb-src"
    mirror=$(debian_mirror)
    [ "$(codename)" = trixie ] && types="deb-src"
    say "enabling trixie ($types) from $mirror at pin priority 100"
    printf 'Types: %s\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$types" "$mirror" > "$src"
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > "$pin"
    apt_updated=0
}

enable_s390x() {
    dpkg --print-foreign-architectures | grep -qx s390x && return 0
    need_root "the s390x foreign architecture (guest kernel and busybox)"
    dpkg --add-architecture s390x
    apt_updated=0
}

install_pkgs() {
    local miss
    miss=$(missing_pkgs "$@")
    [ -z "$miss" ] && return 0
    need_root $miss
    apt_update
    say "installing" $miss
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss >/dev/null
}

meson_ok() {
    local v
    v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) || return 1
    dpkg --compare-versions "$v" ge 1.5
}

do_build() {
    enable_trixie
    install_pkgs $BUILD_PKGS
    if ! meson_ok || [ -n "$(missing_pkgs python3-pycotap)" ]; then
        need_root "meson >= 1.5 and python3-pycotap"
        apt_update
        local p args=""
        for p in $TRIXIE_PKGS; do args="$args $p/trixie"; done
        say "installing from trixie:$args"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $args >/dev/null
    fi
}

do_guest() {
    enable_trixie
    enable_s390x
    install_pkgs $GUEST_PKGS
    # the guest's own packages are downloaded, not installed: scripts/guest-image.sh
    if ! apt-cache show linux-image-s390x:s390x >/dev/null 2>&1; then
        need_root "apt lists for s390x"
        apt_updated=0
        apt_update
    fi
}

do_bench() {
    install_pkgs $BENCH_PKGS
}

do_fuzz() {
    install_pkgs $FUZZ_PKGS
}

[ $# -gt 0 ] || set -- build guest
for what in "$@"; do
    case "$what" in
    build) do_build ;;
    guest) do_guest ;;
    bench) do_bench ;;
    fuzz) do_fuzz ;;
    *) say "unknown set '$what' (build, guest, bench, fuzz)"; exit 2 ;;
    esac
done
# apt-get update is needed once after sources change even if nothing was installed
if [ $apt_updated = 0 ] && [ "$(id -u)" = 0 ] && ! apt-cache policy 2>/dev/null | grep -q 'n=trixie'; then
    apt_update
fi
