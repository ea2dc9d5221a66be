#!/bin/sh
# undeploy.sh: detach cls-redirect from one interface, the reverse of
# deploy.sh.  Run it as it is; see --help.  Idempotent: a device without the
# filter is left as it is.
set -eu

PREF=1000
HANDLE=0xc15d
PROG=$(basename "$0")
MAPS="cls_redirect_config cls_redirect_metrics"

usage() {
	cat <<EOF
Usage: $PROG [OPTIONS] DEV

Detach the cls-redirect classifier that deploy.sh attached to the ingress of
DEV (the filter at pref $PREF handle $HANDLE), delete the clsact qdisc if no
other filter is left on it (ingress or egress), and remove the pinned maps
(configuration and counters) unless --keep-maps is given or the classifier is
still attached to another device of this network namespace.

Options:
  --keep-maps   keep the pinned configuration and counters, so that a later
                deploy.sh (or tc filter add) starts from them
  -h, --help    print this help and exit

Environment: TC (tc binary, default tc), TC_BPF_MNT (bpffs mount point; the
maps are pinned in \${TC_BPF_MNT:-/sys/fs/bpf}/tc/globals).
Exit status: 0 nothing of cls-redirect left on DEV; 1 usage error (nothing
changed); 2 system error.
EOF
}

say() { echo "$PROG: $*" >&2; }
die_usage() { say "$*"; say "see '$PROG --help'"; exit 1; }
die() { say "$*"; exit 2; }

KEEP='' DEV='' n=0
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--keep-maps) KEEP=1 ;;
	-?*) die_usage "unknown option '$1'" ;;
	*)
		n=$((n + 1))
		[ "$n" = 1 ] || die_usage "too many arguments ('$1'): expected DEV"
		DEV=$1
		;;
	esac
	shift
done
[ "$n" = 1 ] || die_usage "expected DEV"

TC=${TC:-tc}
command -v "$TC" >/dev/null 2>&1 || die "tc ('$TC') not found: install iproute2, or set TC to the tc binary"
command -v ip >/dev/null 2>&1 || die "ip not found: install iproute2"
case $DEV in
*[!A-Za-z0-9_.:@-]*) die_usage "DEV '$DEV': not a device name" ;;
esac
ip link show dev "$DEV" >/dev/null 2>&1 ||
	die_usage "device '$DEV' not found (ip link show shows the devices of this network namespace); a device that is gone has no filter left"
[ "$(id -u)" = 0 ] || die "must run as root: tc needs CAP_NET_ADMIN"

BPFFS=${TC_BPF_MNT:-/sys/fs/bpf}
PIN=$BPFFS/tc/globals

# ours DEV: the line of our filter on DEV's ingress, empty if none.
ours() {
	"$TC" filter show dev "$1" ingress 2>/dev/null |
		grep "^filter .* pref $PREF bpf .* handle $HANDLE " || true
}

line=$(ours "$DEV")
if [ -n "$line" ]; then
	"$TC" filter del dev "$DEV" ingress pref "$PREF" handle "$HANDLE" bpf ||
		die "cannot delete the filter: tc filter del dev $DEV ingress pref $PREF handle $HANDLE bpf (see above)"
	[ -z "$(ours "$DEV")" ] || die "the filter at $DEV ingress pref $PREF handle $HANDLE is still there after tc filter del"
	echo "$PROG: $DEV: detached cls-redirect (ingress pref $PREF handle $HANDLE)"
else
	echo "$PROG: $DEV: no cls-redirect filter at ingress pref $PREF handle $HANDLE"
fi

if "$TC" qdisc show dev "$DEV" | grep -q '^qdisc clsact '; then
	if [ -z "$("$TC" filter show dev "$DEV" ingress)" ] && [ -z "$("$TC" filter show dev "$DEV" egress)" ]; then
		"$TC" qdisc del dev "$DEV" clsact || die "cannot delete the clsact qdisc of $DEV (tc qdisc del dev $DEV clsact, see above)"
		echo "$PROG: $DEV: deleted the clsact qdisc (no filter left on it)"
	else
		echo "$PROG: $DEV: kept the clsact qdisc: other filters are on it (tc filter show dev $DEV ingress; ... egress)"
	fi
fi

[ -z "$KEEP" ] || exit 0

# The maps are shared by every device the classifier is attached to: while
# one still has it, its configuration and counters stay pinned.
others=$(ip -o link show | sed -n 's/^[0-9]*: \([^:@ ]*\).*/\1/p' | while read -r d; do
	[ "$d" = "$DEV" ] || [ -z "$(ours "$d")" ] || printf ' %s' "$d"
done)
if [ -n "$others" ]; then
	echo "$PROG: kept the maps in $PIN: cls-redirect is still attached to$others"
	exit 0
fi
removed=
for m in $MAPS; do
	if [ -e "$PIN/$m" ]; then
		rm -f "$PIN/$m" || die "cannot remove $PIN/$m"
		removed="$removed $m"
	fi
done
rmdir "$PIN" "$BPFFS/tc" 2>/dev/null || true
if [ -n "$removed" ]; then
	echo "$PROG: removed the pinned maps in $PIN:$removed"
fi
