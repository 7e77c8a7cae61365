#!/bin/sh
# Guest for the balloon tests, the demo and the benchmarks: a busybox shell that
# takes commands from the console (see serve in /lib.sh).  The host loads
# virtio_balloon itself, so it can check that step.
# modules: virtio_balloon
. /lib.sh
setup
echo "kernel: $(uname -r), $(grep MemTotal /proc/meminfo)"
serve
