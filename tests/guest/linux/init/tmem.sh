#!/bin/sh
# Guest for the tmem swap tests, demo and benchmark (test_tmem_*.py,
# demo_tmem_swap.py, bench/tmem_swap.py): the console shell of /lib.sh, memhog in
# /bin, and the modules those load themselves: virtio_blk for a swap disk, zram
# with its lz4 compressor (on 6.1 the kernel asks for lz4 through /sbin/modprobe
# when zram is set to it), and our virtio_tmem, which tests insmod with options.
# modules: virtio_balloon virtio_blk zram lz4 virtio_tmem
. /lib.sh
setup
echo "kernel: $(uname -r), $(grep MemTotal /proc/meminfo)"
serve
