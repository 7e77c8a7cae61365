#!/usr/bin/env bash
# Repository rules, as TAP: no file of ours shadows an upstream file, every patch
# has a DEP-3 header and applies to the pristine tree without fuzz, and no package
# registry host is named anywhere.
# Usage: check-repo.sh REPO UPSTREAM
set -uo pipefail
repo=$(cd "$1" && pwd)
up=$(cd "$2" && pwd)
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $*"; }

cd "$repo"
files=$(git ls-files --cached --others --exclude-standard 2>/dev/null || find . -path ./build -prune -o -type f -print | sed 's#^\./##')
NOT_OVERLAID='^(configure|Makefile|README\.md|\.gitignore|\.ci/.*|scripts/.*|patches/.*|bench/.*|tests/guest/.*)$'

shadow=$(printf '%s\n' $files | grep -v -E "$NOT_OVERLAID" | while read -r f; do
             [ -n "$f" ] && [ -e "$up/$f" ] && echo "$f"; done)
if [ -z "$shadow" ]; then ok "no file of ours shadows an upstream file"
else notok "files shadowing upstream (patch them instead): $(echo $shadow)"; fi

series=patches/series
listed=$(grep -v -E '^[[:space:]]*(#|$)' "$series" 2>/dev/null | awk '{print $1}')
for p in patches/*.patch; do
    [ -e "$p" ] || continue
    b=$(basename "$p")
    if printf '%s\n' $listed | grep -qx "$b"; then ok "$b is in patches/series"
    else notok "$b is not in patches/series"; fi
    hdr=$(sed -n '1,/^---$/p' "$p")
    if grep -q '^Description: .' <<<"$hdr" && grep -q '^Forwarded: .' <<<"$hdr"; then
        ok "$b has a DEP-3 header"
    else
        notok "$b lacks a DEP-3 header (Description:, Forwarded:)"
    fi
done

# Apply the whole series, in order, to a scratch copy of the files it touches.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for p in $listed; do
    if [ ! -f "patches/$p" ]; then notok "patches/series names $p, which does not exist"; continue; fi
    for f in $(grep -E '^\+\+\+ ' "patches/$p" | awk '{print $2}' | sed 's#^[^/]*/##'); do
        if [ -e "$up/$f" ] && [ ! -e "$scratch/$f" ]; then
            mkdir -p "$(dirname "$scratch/$f")"; cp "$up/$f" "$scratch/$f"; chmod u+w "$scratch/$f"
        fi
    done
    if out=$(patch -d "$scratch" -p1 --fuzz=0 --no-backup-if-mismatch < "patches/$p" 2>&1) &&
       ! grep -qiE 'fuzz|offset|hunk' <<<"$out"; then
        ok "$p applies to upstream $(cat "$up/VERSION") without fuzz or offset"
    else
        notok "$p does not apply cleanly: $(echo $out | tail -c 300)"
    fi
done

# Package registry hosts come from the system's apt configuration, never from here.
hosts=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -Eo 'https?://[^/ ]+' | sed 's#.*://##' | sort -u)
named=""
for h in $hosts; do
    printf '%s\n' $files | while read -r f; do [ -f "$f" ] && echo "$f"; done |
        xargs -r grep -lIF "$h" 2>/dev/null | grep -q . && named="$named $h"
done
if [ -z "$named" ]; then ok "no package registry host is named in the repo"
else notok "the repo names package registry hosts:$named"; fi

echo "1..$n"
[ $bad = 0 ]
