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

# burst_start MIB: hold MIB MiB of a pattern in /mnt/b and remember its md5.
burst_start() {
    mkdir -p /mnt/b
    grep -q " /mnt/b " /proc/mounts || mount -t tmpfs -o size=$(( $1 + 16 ))m tmpfs /mnt/b
    [ -f /mnt/pat ] || dd if=/dev/urandom of=/mnt/pat bs=1M count=1 2>/dev/null
    local i=0 args=""
    while [ $i -lt "$1" ]; do args="$args /mnt/pat"; i=$((i + 1)); done
    cat $args > /mnt/b/x || return 1
    md5sum /mnt/b/x > /mnt/b.md5
}

# burst_end: check the burst's content, then free it.  Fails on a mismatch.
burst_end() {
    md5sum -c -s /mnt/b.md5 || { echo "BAD burst content"; return 1; }
    rm -f /mnt/b/x /mnt/b.md5 && umount /mnt/b
}

# oom_kills: how many processes the guest's OOM killer killed so far.
oom_kills() {
    grep '^oom_kill ' /proc/vmstat | { read -r _ n; echo "${n:-0}"; }
}

setup
echo "kernel: $(uname -r), $(grep MemTotal /proc/meminfo)"
serve
