#!/usr/bin/env bash
# Turn edits made to upstream files in build/src into a DEP-3 patch.
# Usage: scripts/mkpatch.sh NAME.patch "One-line description" [more text] -- FILE...
# Edit the files in build/src first; the patch is written to patches/NAME.patch
# (replacing it) and appended to patches/series if it is new.  Each file must
# belong to this patch alone, unless MKPATCH_BASE names a copy of the files as
# the earlier patches left them (the new patch then stacks on those).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
name=$1 desc=$2
shift 2
long=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do long+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "mkpatch: name the files" >&2; exit 2; }
up=${MKPATCH_BASE:-$top/build/upstream/qemu} src=$top/build/src
out=$top/patches/$name
{
    echo "Description: $desc"
    for l in "${long[@]}"; do echo " $l"; done
    echo "Author: qemu-cmm contributors"
    echo "Forwarded: not-needed"
    echo "Last-Update: $(date +%Y-%m-%d)"
    echo "---"
    for f in "$@"; do
        diff -u --label "a/$f" --label "b/$f" "$up/$f" "$src/$f" || [ $? = 1 ]
    done
} > "$out.tmp"
mv "$out.tmp" "$out"
grep -qx "$name" "$top/patches/series" || echo "$name" >> "$top/patches/series"
echo "mkpatch: wrote patches/$name"
