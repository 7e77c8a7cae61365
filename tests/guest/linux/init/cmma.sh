#!/bin/sh
# Guest for the CMMA tests (test_cmma*.py): the console shell of /lib.sh plus
# helpers that fill and free tmpfs memory with content that can be checked.
#
# Content: DIR/pat holds one random MiB.  "Content C of N MiB" is a header line
# naming C, the pattern from byte C*97 on, then N-1 whole copies of it, so that
# two contents never hold the same data at the same page offset and a page of
# one content found in another (or zeros) changes its md5sum.
# modules: virtio_blk
. /lib.sh

# tmpfs_at DIR MIB: mount a tmpfs of MIB MiB on DIR (if none is there yet).
tmpfs_at() {
    mkdir -p "$1"
    grep -q " $1 " /proc/mounts || mount -t tmpfs -o size="$2"m tmpfs "$1"
}

# fill_files DIR MIB N: write MIB MiB of zeros into DIR as N files of MIB/N MiB.
fill_files() {
    local i=0 each=$(( $2 / $3 ))
    while [ $i -lt "$3" ]; do
        dd if=/dev/zero of="$1/z$i" bs=1M count=$each 2>/dev/null || return 1
        i=$((i + 1))
    done
}

# pat_make DIR: a new random pattern DIR/pat; forget expected sums made before.
pat_make() {
    rm -f "$1"/expect.*
    dd if=/dev/urandom of="$1/pat" bs=1M count=1 2>/dev/null
}

# pat_stream DIR C MIB: write content C of MIB MiB to stdout.
pat_stream() {
    local args="" i=1
    while [ $i -lt "$3" ]; do args="$args $1/pat"; i=$((i + 1)); done
    echo "content $2"
    tail -c +$(( $2 * 97 + 1 )) "$1/pat"
    [ -z "$args" ] || cat $args
}

# pat_expect DIR NCONT MIB FIRST STEP: md5sums of contents FIRST, FIRST+STEP, ...
# below NCONT into DIR/expect.C, computed from a pipe, never from a stored copy.
pat_expect() {
    local c=$4 sum
    while [ $c -lt "$2" ]; do
        sum=$(pat_stream "$1" $c "$3" | md5sum) || return 1
        echo "${sum%% *}" > "$1/expect.$c"
        c=$((c + $5))
    done
}

# slot_write DIR SLOTS MIB ROUND FIRST STEP: for slots FIRST, FIRST+STEP, ...
# delete the slot's file and write content (SLOT+ROUND)%SLOTS into it at once,
# so that freed pages are taken again while their discard may be under way.
slot_write() {
    local k=$5
    while [ $k -lt "$2" ]; do
        rm -f "$1/f$k"
        pat_stream "$1" $(( (k + $4) % $2 )) "$3" > "$1/f$k" || return 1
        k=$((k + $6))
    done
}

# slot_verify DIR SLOTS ROUND FIRST STEP: md5sum those slots against DIR/expect.*;
# print a BAD line for each mismatch, return the number of mismatches.
slot_verify() {
    local k=$4 c want got bad=0
    while [ $k -lt "$2" ]; do
        c=$(( (k + $3) % $2 ))
        want=$(cat "$1/expect.$c" 2>/dev/null)
        got=$(md5sum "$1/f$k") || got=missing
        got=${got%% *}
        if [ -z "$want" ] || [ "$got" != "$want" ]; then
            echo "BAD slot $k content $c: md5 $got, expected $want"
            bad=$((bad + 1))
        fi
        k=$((k + $5))
    done
    return $bad
}

# par2 CMD ARGS...: run "CMD ARGS... 0 2" and "CMD ARGS... 1 2" at the same time
# (one per vCPU); fail if either fails.
par2() {
    local p1 p2 r1 r2
    "$@" 0 2 & p1=$!
    "$@" 1 2 & p2=$!
    wait $p1; r1=$?
    wait $p2; r2=$?
    [ $r1 -eq 0 ] && [ $r2 -eq 0 ]
}

# slot_drop DIR SLOTS FIRST STEP: delete those slots' files.
slot_drop() {
    local k=$3
    while [ $k -lt "$2" ]; do rm -f "$1/f$k"; k=$((k + $4)); done
}

# churn_start DIR MIB: allocate and free MIB MiB of pattern files in DIR in a
# loop in the background until churn_stop.
churn_start() {
    rm -f "$1/stop" "$1/churn-done"
    (
        n=0
        while [ ! -e "$1/stop" ]; do
            pat_stream "$1" $(( n % 7 )) "$2" > "$1/churn$(( n % 2 ))"
            rm -f "$1/churn$(( (n + 1) % 2 ))"
            n=$((n + 1))
        done
        rm -f "$1/churn0" "$1/churn1"
        echo $n > "$1/churn-done"
    ) > /dev/null 2>&1 &
}

# churn_stop DIR: stop the loop and print how many files it wrote.
churn_stop() {
    local i=0
    touch "$1/stop"
    while [ ! -e "$1/churn-done" ]; do
        i=$((i + 1))
        [ $i -gt 600 ] && { echo "churn did not stop"; return 1; }
        usleep 100000
    done
    echo "churn wrote $(cat "$1/churn-done") files"
}

setup
echo "kernel: $(uname -r), $(grep MemTotal /proc/meminfo)"
serve
