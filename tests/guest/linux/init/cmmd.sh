#!/bin/sh
# Guest for the manager's tests, demo and density benchmark (test_cmmd.py,
# bench/density.py): the console shell of /lib.sh, a disk whose reads fill the
# page cache (idle memory the host may take back), and bursts of memory in use
# (tmpfs, which a guest without swap cannot give up) whose content is checked.
# modules: virtio_blk
. /lib.sh

# cache_fill MIB: read MIB MiB of /dev/vda into the page cache and keep it
# open, so the cache stays until memory pressure takes it.
cache_fill() {
    load_module virtio_blk || return 1
    local i=0
    while [ ! -b /dev/vda ]; do
        i=$((i + 1))
        [ $i -gt 50 ] && { echo "no /dev/vda"; return 1; }
        usleep 100000
    done
    exec 3</dev/vda
    dd if=/dev/vda of=/dev/null bs=1M count="$1" 2>/dev/null
}

# burst_start MIB: hold MIB MiB in /mnt/b: MIB copies of the random MiB
# /mnt/pat, which a guest without swap cannot give up.
burst_start() {
    mkdir -p /mnt/b
    grep -q " /mnt/b " /proc/mounts || mount -t tmpfs -o size=$(( $1 + 16 ))m tmpfs /mnt/b
    [ -f /mnt/pat ] || dd if=/dev/urandom of=/mnt/pat bs=1M count=1 2>/dev/null
    local i=0 args=""
    while [ $i -lt "$1" ]; do args="$args /mnt/pat"; i=$((i + 1)); done
    cat $args > /mnt/b/x && echo "$1" > /mnt/b.size
}

# burst_end [STEP]: compare every STEP-th MiB of the burst (default 16) and its
# last MiB with /mnt/pat, then free it.  Fails on a mismatch: a page the host
# took back must never come back as zeros or as another page.
burst_end() {
    local n k=0 step=${1:-16}
    n=$(cat /mnt/b.size) || return 1
    while [ $k -lt "$n" ]; do
        dd if=/mnt/b/x bs=1M skip=$k count=1 2>/dev/null | cmp -s - /mnt/pat ||
            { echo "BAD burst content at MiB $k"; return 1; }
        k=$((k + step))
        [ $k -ge "$n" ] && [ $((k - step)) -ne $((n - 1)) ] && k=$((n - 1)) && step=$n
    done
    rm -f /mnt/b/x /mnt/b.size && umount /mnt/b
}

# oom_kills: how many processes the guest's OOM killer killed so far.
oom_kills() {
    grep '^oom_kill ' /proc/vmstat | { read -r _ n; echo "${n:-0}"; }
}

setup
echo "kernel: $(uname -r), $(grep MemTotal /proc/meminfo)"
serve
