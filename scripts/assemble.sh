#!/usr/bin/env bash
# Assemble build/src from the pristine upstream tree, our files and patches/series.
# Usage: assemble.sh REPO UPSTREAM SRC
#
# Incremental: our files are symlinks, so editing one rebuilds just that file; the
# patched files are computed in a staging tree and copied into SRC only where their
# content changed, so ninja sees new times only on files that really changed.
set -euo pipefail
repo=$(cd "$1" && pwd)
up=$(cd "$2" && pwd)
src=$3
say() { printf 'assemble: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Everything of ours is laid over QEMU's tree but for the project's own machinery;
# tests/guest runs outside QEMU's build.
NOT_OVERLAID='^(configure|Makefile|README\.md|\.gitignore|\.ci/.*|scripts/.*|patches/.*|bench/.*|tests/guest/.*)$'

if [ ! -f "$src/.cmm-assembled" ]; then
    say "copying upstream into $src"
    rm -rf "$src"
    mkdir -p "$(dirname "$src")"
    cp -a "$up" "$src"
    chmod -R u+w "$src"
    touch "$src/.cmm-assembled"
fi
src=$(cd "$src" && pwd)

our_files() {
    if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$repo" && git ls-files --cached --others --exclude-standard |
            while read -r f; do [ -f "$f" ] && echo "$f"; done)
    else
        (cd "$repo" && find . -path ./build -prune -o -path ./.git -prune -o -type f -print |
            sed 's#^\./##')
    fi | { grep -v -E "$NOT_OVERLAID" || true; } | sort -u
}

# 1. Our files, as symlinks.  A file that exists upstream is refused: patch it instead.
new_list=$(mktemp)
trap 'rm -f "$new_list"; rm -rf "$src/.cmm-stage"' EXIT
our_files > "$new_list"
while read -r f; do
    [ -n "$f" ] || continue
    if [ -e "$up/$f" ]; then
        die "$f exists upstream: change upstream files through patches/, not by shadowing them"
    fi
    if [ "$(readlink "$src/$f" 2>/dev/null)" != "$repo/$f" ]; then
        mkdir -p "$(dirname "$src/$f")"
        ln -sfn "$repo/$f" "$src/$f"
    fi
done < "$new_list"
# Files of ours that were removed from the repo leave the tree too.
if [ -f "$src/.cmm-overlay" ]; then
    comm -23 "$src/.cmm-overlay" "$new_list" | while read -r f; do
        [ -L "$src/$f" ] && rm -f "$src/$f"
    done
fi
cp "$new_list" "$src/.cmm-overlay"

# 2. Patches, applied to a staging copy of just the files they touch.
series="$repo/patches/series"
stage="$src/.cmm-stage"
rm -rf "$stage"
mkdir -p "$stage"
# Patches named by the series, in order.
series_patches() {
    [ -f "$series" ] || return 0
    grep -v -E '^[[:space:]]*(#|$)' "$series" | while read -r p _; do
        [ -f "$repo/patches/$p" ] || die "patches/series names missing patch $p"
        echo "$p"
    done
}
# Files the series touches.
patch_targets() {
    local p
    for p in $(series_patches); do
        grep -E '^\+\+\+ ' "$repo/patches/$p" | awk '{print $2}' | sed 's#^[^/]*/##'
    done
}
if [ -f "$series" ]; then
    for p in $(grep -v -E '^[[:space:]]*(#|$)' "$series" | awk '{print $1}'); do
        [ -f "$repo/patches/$p" ] || die "patches/series names missing patch $p"
    done
fi
now_patched=$(patch_targets | sort -u)
# Files patched before: those no longer patched are restored to upstream's content.
touched=$(printf '%s\n' $now_patched $(cat "$src/.cmm-patched" 2>/dev/null) | sed '/^$/d' | sort -u)
for f in $touched; do
    if [ -e "$up/$f" ]; then
        mkdir -p "$(dirname "$stage/$f")"
        cp -p "$up/$f" "$stage/$f"
        chmod u+w "$stage/$f"
    fi
done
for p in $(series_patches); do
    if ! out=$(patch -d "$stage" -p1 --fuzz=0 --no-backup-if-mismatch -s < "$repo/patches/$p" 2>&1); then
        printf '%s\n' "$out" >&2
        die "patch $p does not apply to upstream $(cat "$up/VERSION") without fuzz"
    fi
    [ -z "$out" ] || { printf '%s\n' "$out" >&2; die "patch $p applied with warnings"; }
done
for f in $touched; do
    want="$stage/$f"
    [ -e "$want" ] || want="$up/$f"
    [ -e "$want" ] || continue
    if ! cmp -s "$want" "$src/$f"; then
        cp "$want" "$src/$f"
        chmod u+w "$src/$f"
    fi
done
printf '%s\n' $now_patched > "$src/.cmm-patched"
say "tree ready: $(grep -c . "$new_list" || true) files of ours, $(printf '%s\n' $now_patched | grep -c . || true) patched upstream files"
