# Shared by scripts/guest-image.sh and scripts/guest-module.sh (sourced; set prog
# to the name that prefixes messages first).  Packages come from apt by name, with
# the mirror of the system's own apt configuration.

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "$*"; exit 1; }

# stamp_is DIR TEXT: DIR holds what TEXT names (DIR/.stamp is written last).
stamp_is() {
    [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]
}

# download DIR SPEC...: apt-get download SPECs (NAME[:ARCH][=VERSION]) into DIR, which
# is emptied first.  On failure apt's message is in DIR/.err and the status is 1.
download() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$@" >/dev/null 2>.err)
}

# download_error DIR: apt's message for the last failed download into DIR, one line.
download_error() {
    grep -m1 -E '^(E|Err):' "$1/.err" 2>/dev/null | cut -c1-200 || true
}

# tree_hash DIR: the sha256 of every source file under DIR (C, headers, Kbuild,
# Makefile), with its path.
tree_hash() {
    (cd "$1" && find . -type f \( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) \
         -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}
