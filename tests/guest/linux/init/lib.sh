# Shared by the guest init scripts (installed as /lib.sh in every initramfs).
# Markers printed on the console, each on a line of its own:
#   CMM-BOOT        /init has started
#   CMM-READY       setup done; the guest now reads shell commands from the console
#   CMM-FAIL text   something in setup went wrong

mark() { echo "$*"; }

setup() {
    /bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt
    /bin/busybox mount -t proc proc /proc
    /bin/busybox mount -t sysfs sysfs /sys
    /bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
    /bin/busybox --install -s /bin
    export PATH=/bin:/sbin
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mark CMM-BOOT
}

# load_module NAME: insmod NAME and its dependencies, skipping those already loaded.
load_module() {
    local list="/lib/modules/$1.load" p m
    [ -f "$list" ] || { echo "load_module: no $list" >&2; return 1; }
    while read -r p; do
        m=$(basename "$p" .ko | tr - _)
        [ -d "/sys/module/$m" ] && continue
        insmod "$p" || return 1
    done < "$list"
}

# fill_tmpfs DIR MIB: mount a tmpfs on DIR and write MIB MiB of zeros into it.
fill_tmpfs() {
    mkdir -p "$1"
    grep -q " $1 " /proc/mounts || mount -t tmpfs -o size=$(( $2 + 64 ))m tmpfs "$1" || return 1
    dd if=/dev/zero of="$1/fill" bs=1M count="$2" 2>/dev/null
}

# drop_tmpfs DIR: delete what fill_tmpfs wrote and unmount it.
drop_tmpfs() {
    rm -f "$1/fill" && umount "$1"
}

# serve: read shell commands from the console, one per line, and run them.  The host
# appends its own completion marker to each line it sends.
serve() {
    stty -echo 2>/dev/null
    mark CMM-READY
    while IFS= read -r line; do
        eval "$line"
    done
    mark CMM-EOF
    poweroff -f
}
