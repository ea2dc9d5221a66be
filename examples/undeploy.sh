#!/bin/sh
# undeploy.sh: detach cls-redirect from one interface, the reverse of
# deploy.sh.  Run it as it is; see --help.  Idempotent: a device without the
# filter is left as it is.
set -eu

PREF=1000
HANDLE=0xc15d
PROG=$(basename "$0")
MAPS="cls_redirect_config cls_redirect_metrics cls_redirect_sources cls_redirect_hops cls_redirect_services"

usage() {
	cat <<EOF
Usage: $PROG [OPTIONS] DEV

Detach the cls-redirect classifier that deploy.sh attached to the ingress of
DEV (the filter at pref $PREF handle $HANDLE), delete the clsact qdisc if no
other filter is left on it (ingress or egress), and remove the pinned maps
(configuration and counters) unless --keep-maps is given or a tc filter in
this network namespace still runs cls_redirect with them: deploy.sh's on
another device, or one attached by hand (tc filter add without a pref) on
any device, DEV included.  Such a filter is named, and the maps are kept:
removing their pins would leave it running with maps no tool can reach.
A DEV that does not exist (any more) has nothing left on it.

Options:
  --keep-maps   keep the pinned configuration and counters, so that a later
                deploy.sh (or tc filter add) starts from them
  -h, --help    print this help and exit

Environment: TC (tc binary, default tc), TC_BPF_MNT (bpffs mount point; the
maps are pinned in \${TC_BPF_MNT:-/sys/fs/bpf}/tc/globals).
Exit status: 0 deploy.sh's filter is not on DEV (any more), or DEV does not
exist; the maps are removed, or kept as said above; 1 usage error (nothing
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
[ "$(id -u)" = 0 ] || die "must run as root (uid 0; this is uid $(id -u)): tc needs CAP_NET_ADMIN, and removing the pins write access to the bpffs"

BPFFS=${TC_BPF_MNT:-/sys/fs/bpf}
PIN=$BPFFS/tc/globals

# ours DEV: the line of our filter on DEV's ingress, empty if none.
ours() {
	"$TC" filter show dev "$1" ingress 2>/dev/null |
		grep "^filter .* pref $PREF bpf .* handle $HANDLE " || true
}

if ! ip link show dev "$DEV" >/dev/null 2>&1; then
	# systemd stops the unit when the device goes away (BindsTo): a device
	# that is gone took its qdisc and filters with it.
	echo "$PROG: $DEV: no such device (gone?): no filter or qdisc left on it"
else
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
fi

# ---- who still runs cls_redirect ----

# The ids of the pinned maps, as ",ID,ID,", when bpftool can tell.
pinned_ids=,
if command -v bpftool >/dev/null 2>&1; then
	for m in $MAPS; do
		[ -e "$PIN/$m" ] || continue
		mid=$(bpftool -j map show pinned "$PIN/$m" 2>/dev/null | sed -n 's/^{"id":\([0-9][0-9]*\),.*/\1/p')
		[ -z "$mid" ] || pinned_ids="$pinned_ids$mid,"
	done
fi
# uses_maps PROG_ID: the program uses one of the pinned maps.
uses_maps() {
	[ "$pinned_ids" != , ] || return 1
	_used=$(bpftool -j prog show id "$1" 2>/dev/null | sed -n 's/.*"map_ids":\[\([0-9,]*\)\].*/,\1,/p')
	for _m in $(echo "$pinned_ids" | tr , ' '); do
		case $_used in *",$_m,"*) return 0 ;; esac
	done
	return 1
}
# users: "DEV DIR PREF HANDLE" for every bpf filter of this namespace, on
# any device, ingress or egress, whose program uses the pinned maps or is
# cls_redirect by name (libbpf's loader) or by object (tc's legacy loader,
# which names no program).
users() {
	# ip prints "Peer netns reference is invalid" for a veth whose peer's
	# namespace is being deleted meanwhile: not an error here.
	ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \([^:@ ]*\).*/\1/p' | while read -r _d; do
		for _dir in ingress egress; do
			"$TC" filter show dev "$_d" "$_dir" 2>/dev/null | grep '^filter .* bpf .* handle ' |
				while IFS= read -r _l; do
					_id=$(printf '%s\n' "$_l" | sed -n 's/.* id \([0-9][0-9]*\).*/\1/p')
					case $_l in
					*" name cls_redirect "* | *" cls_redirect"*".o:["*) ;;
					*) { [ -n "$_id" ] && uses_maps "$_id"; } || continue ;;
					esac
					echo "$_d $_dir $(printf '%s\n' "$_l" | sed -n 's/.* pref \([0-9]*\) .* handle \([0-9a-fx]*\) .*/\1 \2/p')"
				done
		done
	done
}
still=$(users)

# A filter attached by hand on DEV itself is not deploy.sh's to remove, but
# the operator who undeploys DEV has to know it still runs.
printf '%s\n' "$still" | while read -r d dir pref handle; do
	[ "$d" = "$DEV" ] || continue
	say "$DEV: cls_redirect still runs at $dir pref $pref handle $handle, not deploy.sh's filter: remove it with tc filter del dev $DEV $dir pref $pref"
done

[ -z "$KEEP" ] || exit 0

# The maps are shared by every filter that runs the classifier: while one
# does, its configuration and counters stay pinned.
if [ -n "$still" ]; then
	echo "$PROG: kept the maps in $PIN: still used by $(printf '%s\n' "$still" |
		while read -r d dir pref handle; do
			if [ "$dir $pref $handle" = "ingress $PREF $HANDLE" ]; then
				printf '%s ' "$d (deploy.sh's filter),"
			else
				printf '%s ' "$d $dir pref $pref handle $handle (attached by hand: tc filter del dev $d $dir pref $pref),"
			fi
		done | sed 's/, $//')"
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
