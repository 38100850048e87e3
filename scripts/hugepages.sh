#!/bin/sh
# Reserve 2 MiB hugepages for DPDK and mount hugetlbfs on /dev/hugepages. Idempotent: it only
# raises the reservation and mounts once. Needs root. When it cannot, it warns and exits 0:
# run DPDK with `--no-huge -m <MB> --no-shconf` instead (slower, fine for virtual devices).
#
# Usage: scripts/hugepages.sh [PAGES]      (default 512 pages = 1 GiB)
set -u

PAGES="${1:-512}"
NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
MOUNT=/dev/hugepages

warn() {
    echo "hugepages.sh: warning: $*" >&2
    echo "hugepages.sh: run DPDK with '--no-huge -m 512 --no-shconf' instead of hugepages" >&2
    exit 0
}

case "$PAGES" in
    ''|*[!0-9]*) echo "hugepages.sh: PAGES must be a number, got '$PAGES'" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || warn "not root: cannot reserve hugepages"
[ -w "$NR" ] || warn "$NR is missing or read-only (no 2 MiB hugepage support, or a container)"

current=$(cat "$NR")
if [ "$current" -ge "$PAGES" ]; then
    echo "hugepages.sh: $current 2 MiB hugepages already reserved (wanted $PAGES)"
else
    if ! echo "$PAGES" > "$NR" 2>/dev/null; then
        warn "could not write $PAGES to $NR"
    fi
    got=$(cat "$NR")
    echo "hugepages.sh: reserved $got 2 MiB hugepages (was $current, wanted $PAGES)"
    [ "$got" -ge "$PAGES" ] || echo "hugepages.sh: warning: only $got of $PAGES pages (memory fragmented?)" >&2
fi
echo "hugepages.sh: $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages) free"

if grep -qs " $MOUNT hugetlbfs " /proc/mounts; then
    echo "hugepages.sh: hugetlbfs already mounted on $MOUNT"
else
    mkdir -p "$MOUNT" || warn "cannot create $MOUNT"
    if mount -t hugetlbfs -o pagesize=2M nodev "$MOUNT" 2>/dev/null; then
        echo "hugepages.sh: mounted hugetlbfs on $MOUNT"
    else
        warn "cannot mount hugetlbfs on $MOUNT"
    fi
fi
exit 0
