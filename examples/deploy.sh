#!/bin/sh
# deploy.sh: attach cls-redirect to the ingress of one interface, or replace
# the program already attached there, atomically.  Run it as it is; see
# --help.  Idempotent: running it again with the same arguments loads the
# object again into the same filter slot, keeping the pinned counters and
# configuration.
#
# Steps, in order; nothing is changed before every argument has been checked:
#   0. with --route, check the sysctls route mode needs (tc-cls-redirect.8,
#      ROUTE MODE): refuse while net.ipv4.conf.lo.forwarding is not 1, warn
#      when DEV's reverse path filter is strict;
#   1. write the configuration (cls-redirect-config set), add the trust
#      list prefixes given (cls-redirect-config sources|hops add) and the
#      services (cls-redirect-config services add), so the classifier never
#      runs unconfigured: tc reuses the pinned maps;
#   2. add the clsact qdisc if the device has none;
#   3. tc filter replace at the fixed slot pref 1000 handle 0xc15d: this adds
#      the filter, or swaps the program of an existing one in one step, with
#      no moment where packets miss the classifier;
#   4. verify: the filter is there with direct-action and a program id, both
#      maps are pinned, the tools can read them, the config reads back.
# PORT and --mtu are normalised first (no leading zeros, --mtu 0 = none), the
# form cls-redirect-config show prints, and the config is read back field by
# field right after step 1 as well, so a config that cannot be written as
# asked never gets a program swapped in.
# If a step fails, what this run changed is undone: the previous
# configuration is written back (or the config map removed if there was
# none), a filter this run added is deleted, a qdisc this run added is
# deleted, pins this run created are removed, services this run added are
# deleted and those it replaced are put back on their veth (one that is
# gone cannot be: that case says so).  A program that replaced an
# older one cannot be swapped back (the old one is gone); that case says so.
set -eu

PREF=1000
HANDLE=0xc15d
PROG=$(basename "$0")
MAPS="cls_redirect_config cls_redirect_metrics cls_redirect_sources cls_redirect_hops cls_redirect_services"

usage() {
	cat <<EOF
Usage: $PROG [OPTIONS] DEV ADDR PORT [OBJ]

Attach the cls-redirect classifier to the ingress of DEV, configured for GUE
packets sent to ADDR, UDP port PORT; if it is attached already, replace the
program atomically (counters and configuration survive).  Safe to run again.

  DEV    the network device the load balancer's packets arrive on
  ADDR   this server's GUE endpoint address, an IPv4 dotted quad
  PORT   UDP destination port of the GUE packets, 1..65535 (GLB: 19523)
  OBJ    the classifier object; default: the first that exists of
$(obj_candidates | sed 's/^/         /')

Options:
  --no-forward   never forward: handle every packet as at its last hop
  --route        forward along this host's routing table, the kernel
                 resolving the next hop (tc-cls-redirect(8), ROUTE MODE);
                 refused while net.ipv4.conf.lo.forwarding is not 1, and
                 warns when DEV's rp_filter is strict (1)
  --mtu MTU      largest packet that may be forwarded, 68..65535 (0 = no limit)
  --group GROUP  let GROUP read the pins once deployed (cls-redirect-config
                 set --group): its members can run cls-redirect-stat and
                 cls-redirect-config show/status without privileges
  --source PREFIX
                 may send GUE to this server (a director or a peer server):
                 added to cls_redirect_sources; A.B.C.D/LEN or A.B.C.D;
                 repeat for more
  --hop PREFIX   may be forwarded to (a peer server): added to
                 cls_redirect_hops; repeat for more
  --allow-any    add 0.0.0.0/0 to both lists: accept GUE from anyone and
                 forward anywhere.  Without it, $PROG refuses to deploy
                 while both lists would be empty (a closed server)
  --service ADDR PORT tcp|udp dev IFNAME
                 a service in a container's network namespace: packets for
                 ADDR (IPv4 or IPv6), PORT (0 = every port) are looked up
                 and delivered there, through the veth IFNAME (its host
                 side); cls-redirect-config services add; repeat for more
  -h, --help     print this help and exit

The trust lists and the services only grow here: remove a prefix with
cls-redirect-config sources|hops del PREFIX, a service with
cls-redirect-config services del ADDR PORT tcp|udp.

The filter is always put at ingress pref $PREF handle $HANDLE, which
undeploy.sh and a later deploy.sh use to find it; a different filter already
at that pref is never touched.  The maps are pinned by tc and read by the
tools under \${TC_BPF_MNT:-/sys/fs/bpf}/tc/globals: one configuration per
host, shared by every device the classifier is attached to.

Environment: TC (tc binary, default tc), TC_BPF_MNT (bpffs mount point).
Exit status: 0 deployed and verified; 1 usage or input error, nothing
changed; 2 system error (what this run changed has been undone).
EOF
}

say() { echo "$PROG: $*" >&2; }
die_usage() { say "$*"; say "see '$PROG --help'"; exit 1; }
die() { say "$*"; exit 2; }

# Where this script lives tells where the rest is: installed, it is
# $PREFIX/sbin/cls-redirect-deploy, the tools beside it and the objects in
# $PREFIX/$BPF_SUBDIR (make install writes the next line: lib/bpf, or
# lib/<triplet>/bpf on Debian); in the source tree, examples/deploy.sh
# (tools/, obj/).
BPF_SUBDIR=lib/bpf
HERE=$(cd "$(dirname "$0")" && pwd -P)
case $HERE in
*/sbin)
	TOOL_DIRS=$HERE
	case $BPF_SUBDIR in
	/*) OBJ_DIRS=$BPF_SUBDIR ;;
	*) OBJ_DIRS=${HERE%/sbin}/$BPF_SUBDIR ;;
	esac
	;;
*) TOOL_DIRS="$HERE $(dirname "$HERE")/tools" OBJ_DIRS="$(dirname "$HERE")/obj" ;;
esac

obj_candidates() {
	for _d in $OBJ_DIRS /usr/local/lib/bpf /usr/lib/bpf; do echo "$_d/cls_redirect.o"; done
}

# find_tool NAME: next to this script, in the installed sbin or the source
# tree's tools/, in PATH, in the usual sbin directories.
find_tool() {
	for _d in $TOOL_DIRS; do
		[ -f "$_d/$1" ] && [ -x "$_d/$1" ] && { echo "$_d/$1"; return 0; }
	done
	command -v "$1" 2>/dev/null && return 0
	for _d in /usr/local/sbin /usr/sbin /sbin; do
		[ -x "$_d/$1" ] && { echo "$_d/$1"; return 0; }
	done
	return 1
}

# ---- arguments ----

NOFWD='' ROUTE='' MTU='' GROUP='' DEV='' ADDR='' PORT='' OBJ=''
n=0
# Options may come anywhere (the systemd unit passes $OPTIONS first).
positional() {
	n=$((n + 1))
	case $n in
	1) DEV=$1 ;;
	2) ADDR=$1 ;;
	3) PORT=$1 ;;
	4) OBJ=$1 ;;
	*) die_usage "too many arguments ('$1'): expected DEV ADDR PORT [OBJ]" ;;
	esac
}
SOURCES= HOPS= ANY= SERVICES=
# is_prefix P: A.B.C.D or A.B.C.D/LEN with LEN 0..32 and no host bits set
# (checked here, before anything changes, as cls-redirect-config would).
is_prefix() {
	_a=${1%/*} _len=32
	if [ "$_a" != "$1" ]; then
		_len=${1#*/}
		case $_len in '' | *[!0-9]* | 0?* | ???*) return 1 ;; esac
		[ "$_len" -le 32 ] || return 1
	fi
	case $_a in *.*.*.*.* | *[!0-9.]* | *..* | .* | *.) return 1 ;; *.*.*.*) ;; *) return 1 ;; esac
	_v=0
	for _o in $(echo "$_a" | tr . ' '); do
		case $_o in 0?*) return 1 ;; esac
		[ "$_o" -le 255 ] || return 1
		_v=$((_v * 256 + _o))
	done
	[ $((_v % (1 << (32 - _len)))) = 0 ]
}
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--no-forward) NOFWD=1 ;;
	--route) ROUTE=1 ;;
	--mtu)
		[ $# -ge 2 ] || die_usage "--mtu needs a value (bytes, 68..65535, or 0)"
		MTU=$2
		shift
		;;
	--mtu=*) MTU=${1#--mtu=} ;;
	--group)
		[ $# -ge 2 ] || die_usage "--group needs a value (a group name)"
		GROUP=$2
		shift
		;;
	--group=*) GROUP=${1#--group=} ;;
	--source | --hop)
		[ $# -ge 2 ] || die_usage "$1 needs a prefix (A.B.C.D/LEN or A.B.C.D)"
		is_prefix "$2" || die_usage "$1 '$2': not an IPv4 prefix without host bits (A.B.C.D/LEN, LEN 0..32, as 192.0.2.0/24, or A.B.C.D)"
		if [ "$1" = --source ]; then SOURCES="$SOURCES $2"; else HOPS="$HOPS $2"; fi
		shift
		;;
	--allow-any) ANY=1 ;;
	--service)
		# ADDR PORT tcp|udp dev IFNAME, as cls-redirect-config services add
		# takes them; the tool checks the address and the veth (step 1).
		[ $# -ge 6 ] && [ "$5" = dev ] ||
			die_usage "--service needs ADDR PORT tcp|udp dev IFNAME (as 10.99.0.1 8080 tcp dev veth-pod1)"
		case "$2$3$4$6" in '' | *[!0-9A-Za-z.:_@-]*) die_usage "--service '$2 $3 $4 dev $6': not ADDR PORT tcp|udp dev IFNAME" ;; esac
		SERVICES="$SERVICES$2 $3 $4 dev $6
"
		shift 5
		;;
	--)
		shift
		for a in "$@"; do positional "$a"; done
		break
		;;
	-?*) die_usage "unknown option '$1'" ;;
	*) positional "$1" ;;
	esac
	shift
done
[ "$n" -ge 3 ] || die_usage "expected DEV ADDR PORT [OBJ], got $n argument(s)"
[ -z "$GROUP" ] || getent group "$GROUP" >/dev/null ||
	die_usage "--group '$GROUP': no such group (getent group $GROUP)"

TC=${TC:-tc}
command -v "$TC" >/dev/null 2>&1 || die "tc ('$TC') not found: install iproute2, or set TC to the tc binary"
command -v ip >/dev/null 2>&1 || die "ip not found: install iproute2"

case $DEV in
'' | *[!A-Za-z0-9_.:@-]*) die_usage "DEV '$DEV': not a device name" ;;
esac
ip link show dev "$DEV" >/dev/null 2>&1 ||
	die_usage "device '$DEV' not found (ip link show shows the devices of this network namespace)"

is_byte() {
	case $1 in '' | *[!0-9]* | 0?*) return 1 ;; esac
	[ "${#1}" -le 3 ] && [ "$1" -le 255 ]
}
valid_addr() {
	case $1 in *.*.*.*.* | *[!0-9.]*) return 1 ;; esac
	_rest=$1
	for _i in 1 2 3; do
		_b=${_rest%%.*}
		[ "$_b" != "$_rest" ] || return 1
		is_byte "$_b" || return 1
		_rest=${_rest#*.}
	done
	is_byte "$_rest"
}
valid_addr "$ADDR" || die_usage "ADDR '$ADDR': not an IPv4 address (a dotted quad, as 192.0.2.10)"

# decimal N: N without leading zeros ("01400" -> 1400, "000" -> 0), the form
# cls-redirect-config show prints it in; fails unless N is decimal digits.
decimal() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	_v=$1
	while :; do case $_v in 0?*) _v=${_v#0} ;; *) break ;; esac; done
	echo "$_v"
}
in_range() {
	[ "${#1}" -le 5 ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
# The configuration is written, and read back, in the normalised form.
PORT_IN=$PORT
{ PORT=$(decimal "$PORT") && in_range "$PORT" 1 65535; } ||
	die_usage "PORT '$PORT_IN': not a UDP port (1..65535; GLB's default is 19523)"
if [ -n "$MTU" ]; then
	MTU_IN=$MTU
	{ MTU=$(decimal "$MTU") && { [ "$MTU" = 0 ] || in_range "$MTU" 68 65535; }; } ||
		die_usage "--mtu '$MTU_IN': not a packet size (68..65535 bytes; 0 = no limit)"
	# 0 is "no limit", which show prints as no mtu at all.
	[ "$MTU" != 0 ] || MTU=
fi

# Each --service: the port normalised, the protocol and the interface
# checked here; the address and the veth by services add itself (step 1).
services=
while read -r _a _p _proto _dev _if; do
	[ -n "$_a" ] || continue
	{ _port=$(decimal "$_p") && in_range "$_port" 0 65535; } ||
		die_usage "--service $_a '$_p': not a port (0..65535; 0 = every port of the address)"
	case $_proto in tcp | udp) ;; *) die_usage "--service $_a $_p '$_proto': the protocol is tcp or udp" ;; esac
	ip link show dev "$_if" >/dev/null 2>&1 ||
		die_usage "--service $_a $_p $_proto dev '$_if': no such interface (ip link show shows those of this network namespace)"
	services="$services$_a $_port $_proto $_dev $_if
"
done <<EOF
$SERVICES
EOF
SERVICES=$services

if [ -z "$OBJ" ]; then
	OBJ=$(obj_candidates | while read -r _o; do [ -f "$_o" ] && { echo "$_o"; break; }; done)
	[ -n "$OBJ" ] || die_usage "no cls_redirect.o found in: $(obj_candidates | tr '\n' ' ')(run 'make', or give OBJ)"
fi
{ [ -f "$OBJ" ] && [ -r "$OBJ" ]; } || die_usage "OBJ '$OBJ': no such readable file (run 'make' for obj/cls_redirect.o, or give its path)"

CONFIG_TOOL=$(find_tool cls-redirect-config) ||
	die "cls-redirect-config not found in $TOOL_DIRS, PATH, /usr/local/sbin, /usr/sbin: run 'make' (or 'make install')"
STAT_TOOL=$(find_tool cls-redirect-stat) ||
	die "cls-redirect-stat not found in $TOOL_DIRS, PATH, /usr/local/sbin, /usr/sbin: run 'make' (or 'make install')"

[ "$(id -u)" = 0 ] || die "must run as root (uid 0; this is uid $(id -u)): tc needs CAP_NET_ADMIN, and CAP_BPF or CAP_SYS_ADMIN, to load and attach the classifier"

BPFFS=${TC_BPF_MNT:-/sys/fs/bpf}
PIN=$BPFFS/tc/globals
[ -d "$BPFFS" ] || die "bpffs mount point $BPFFS not found: mount -t bpf bpf $BPFFS (or set TC_BPF_MNT)"

CONFIG_ARGS="addr $ADDR port $PORT${NOFWD:+ no-forward}${ROUTE:+ route}${MTU:+ mtu $MTU}"
# "set" changes only the fields it names: name every one, so that this run's
# configuration replaces whatever an earlier one (or an operator) set.
every_field() { # SET-KEYWORDS: the same with forward, no-route and mtu 0 made explicit
	_k=$1
	case " $_k " in *" no-forward "*) ;; *) _k="$_k forward" ;; esac
	case " $_k " in *" route "*) ;; *) _k="$_k no-route" ;; esac
	case " $_k " in *" mtu "*) ;; *) _k="$_k mtu 0" ;; esac
	echo "$_k"
}

# ---- 0. the sysctls of route mode ----

# In this network namespace, as tc and the tools.
conf() { cat "/proc/sys/net/ipv4/conf/$1/$2" 2>/dev/null || echo unreadable; }
if [ -n "$ROUTE" ]; then
	lofwd=$(conf lo forwarding)
	if [ "$lofwd" = 1 ]; then
		:
	elif [ -n "$NOFWD" ]; then
		say "warning: net.ipv4.conf.lo.forwarding is $lofwd: harmless while --no-forward, but route mode forwards nothing without it (set it to 1 before deploying without --no-forward)"
	else
		say "--route needs net.ipv4.conf.lo.forwarding=1, and it is $lofwd: bpf_fib_lookup() refuses every lookup on lo without it, so every forward would be dropped as errors_total_no_route (tc-cls-redirect(8), ROUTE MODE)."
		say "Set it with 'sysctl -w net.ipv4.conf.lo.forwarding=1' after any write of net.ipv4.ip_forward or net.ipv4.conf.all.forwarding (they overwrite it), keep it in /etc/sysctl.d/, and run $PROG again; nothing changed"
		exit 1
	fi
	# The kernel uses the larger of conf.all and the device's value.
	rp_all=$(conf all rp_filter) rp_dev=$(conf "$DEV" rp_filter)
	rp=$rp_all
	case $rp_dev in [0-9]) [ "$rp" = unreadable ] || [ "$rp_dev" -gt "$rp" ] && rp=$rp_dev ;; esac
	if [ "$rp" = 1 ]; then
		say "warning: strict reverse path filter on $DEV (net.ipv4.conf.all.rp_filter=$rp_all, net.ipv4.conf.$DEV.rp_filter=$rp_dev; the larger applies): a packet a peer forwards along its route arrives on $DEV, and if this server's route back to the client leaves through another interface, the stack drops it after the classifier accepted it (tc-cls-redirect(8), ROUTE MODE)."
		say "If peers reach this server on $DEV while clients are answered elsewhere, use loose mode: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.$DEV.rp_filter=2"
	fi
fi

# ---- state before ----

# our_filter_lines: the lines tc prints for the filter at our pref.
our_filter_lines() {
	"$TC" filter show dev "$DEV" ingress 2>/dev/null | grep "^filter .* pref $PREF " || true
}
# prog_id: the program id of the filter at our slot, empty if none.
prog_id() {
	our_filter_lines | grep " handle $HANDLE " | sed -n 's/.* id \([0-9][0-9]*\).*/\1/p' | head -n 1
}
has_clsact() { "$TC" qdisc show dev "$DEV" | grep -q '^qdisc clsact '; }

existing=$(our_filter_lines | grep ' handle ' || true)
if [ -n "$existing" ]; then
	case $existing in
	*" bpf "*" handle $HANDLE "*) ;;
	*) die "ingress of $DEV has a filter at pref $PREF that is not ours (not bpf handle $HANDLE): $existing; remove it (tc filter del dev $DEV ingress pref $PREF) or move it" ;;
	esac
	# The program's name, when the loader set one (tc's legacy loader does
	# not): a bpf filter at our slot running something else is not ours.
	name=$(printf '%s\n' "$existing" | sed -n 's/.* name \([^ ]*\) .*/\1/p')
	case $name in
	'' | cls_redirect) ;;
	*) die "ingress of $DEV pref $PREF handle $HANDLE runs another program ($name): $existing; remove it (tc filter del dev $DEV ingress pref $PREF handle $HANDLE bpf) first" ;;
	esac
fi
old_id=$(prog_id)

# cls_redirect attached by hand at another slot (tc filter add without pref
# gives pref 49152 handle 0x1) would run as well: every packet counted twice,
# decapsulated packets seen again.  Have the operator remove it first.
stray=$("$TC" filter show dev "$DEV" ingress 2>/dev/null | grep ' handle ' |
	grep -v "^filter .* pref $PREF bpf .*handle $HANDLE " |
	grep -e ' name cls_redirect ' -e ' cls_redirect[A-Za-z0-9_]*\.o:\[' || true)
if [ -n "$stray" ]; then
	spref=$(printf '%s\n' "$stray" | sed -n '1s/.* pref \([0-9]*\) .*/\1/p')
	die "ingress of $DEV already runs cls_redirect outside pref $PREF handle $HANDLE: $stray; it would see every packet too: remove it (tc filter del dev $DEV ingress pref $spref) and run $PROG again; nothing changed"
fi

# The trust lists as they are: "show" prints "sources P..." and "hops P..."
# ("none" when empty); absent maps are empty lists.
listed() { # sources|hops
	[ -e "$PIN/cls_redirect_config" ] || return 0
	"$CONFIG_TOOL" show 2>/dev/null | sed -n "s/^$1 //p" | sed 's/^none$//'
}
prev_sources=$(listed sources)
prev_hops=$(listed hops)
# Lists pinned before any configuration (sources add before set): show
# cannot read them, so they are taken as not empty and left alone on
# rollback.
lists_unread=
if [ ! -e "$PIN/cls_redirect_config" ] &&
	{ [ -e "$PIN/cls_redirect_sources" ] || [ -e "$PIN/cls_redirect_hops" ]; }; then
	lists_unread=1
fi
if [ -n "$ANY" ]; then
	SOURCES="$SOURCES 0.0.0.0/0" HOPS="$HOPS 0.0.0.0/0"
fi
if [ -z "$prev_sources$SOURCES$lists_unread" ] && [ -z "$prev_hops$HOPS$lists_unread" ]; then
	die_usage "both trust lists would be empty: this server would accept no GUE and forward nothing. Name the fleet with --source PREFIX (directors, peer servers) and --hop PREFIX (peer servers), or open it explicitly with --allow-any; nothing changed"
fi
# new_prefixes LISTED WANTED: the prefixes of WANTED not in LISTED (as
# cls-redirect-config prints them: a bare address is a /32).
new_prefixes() {
	for _p in $2; do
		case $_p in */*) ;; *) _p=$_p/32 ;; esac
		case " $1 " in *" $_p "*) ;; *) echo "$_p" ;; esac
	done | sort -u | tr '\n' ' '
}
new_sources=$(new_prefixes "$prev_sources" "$SOURCES")
new_hops=$(new_prefixes "$prev_hops" "$HOPS")

prev_config=absent
if [ -e "$PIN/cls_redirect_config" ]; then
	prev_config=$("$CONFIG_TOOL" show) ||
		die "cannot read the configuration pinned at $PIN/cls_redirect_config (see above); nothing changed"
	# Its first line: the trust lists and services follow on lines of their own.
	prev_config=$(printf '%s\n' "$prev_config" | sed -n 1p)
fi
had_pin_dir=; [ -d "$PIN" ] && had_pin_dir=1
had_pins=
for m in $MAPS; do [ -e "$PIN/$m" ] && had_pins="$had_pins $m"; done
had_qdisc=; has_clsact && had_qdisc=1

# ---- rollback ----

added_qdisc=
attached=
added_sources= added_hops=
# What undoes this run's services add, one "ADDR PORT PROTO" (added: del)
# or "ADDR PORT PROTO dev OLD" (replaced: add back) a line.
undo_services=
rollback() {
	say "rolling back"
	if [ -n "$attached" ] && [ -z "$old_id" ]; then
		"$TC" filter del dev "$DEV" ingress pref "$PREF" handle "$HANDLE" bpf 2>/dev/null ||
			"$TC" filter del dev "$DEV" ingress pref "$PREF" 2>/dev/null ||
			say "could not delete the filter this run added: tc filter del dev $DEV ingress pref $PREF"
	elif [ -n "$attached" ]; then
		say "the program that was attached before (id $old_id) has been replaced and cannot be restored; the new one (id $(prog_id)) stays attached: fix the problem and run $PROG again"
	fi
	# Prefixes this run added leave the lists again.
	if [ -n "$added_sources" ]; then
		# shellcheck disable=SC2086 # a list of prefixes
		"$CONFIG_TOOL" sources del $added_sources ||
			say "could not delete the sources this run added: cls-redirect-config sources del $added_sources"
	fi
	if [ -n "$added_hops" ]; then
		# shellcheck disable=SC2086 # a list of prefixes
		"$CONFIG_TOOL" hops del $added_hops ||
			say "could not delete the hops this run added: cls-redirect-config hops del $added_hops"
	fi
	while read -r _a _p _proto _dev _old; do
		[ -n "$_a" ] || continue
		if [ -z "$_old" ]; then
			"$CONFIG_TOOL" services del "$_a" "$_p" "$_proto" >/dev/null ||
				say "could not delete the service this run added: cls-redirect-config services del $_a $_p $_proto"
		elif [ "$_old" = "(gone)" ]; then
			say "service $_a $_p $_proto pointed at a veth that is gone before this run: it cannot be put back and stays on this run's"
		else
			"$CONFIG_TOOL" services add "$_a" "$_p" "$_proto" dev "$_old" >/dev/null ||
				say "could not put service $_a $_p $_proto back on $_old: cls-redirect-config services add $_a $_p $_proto dev $_old"
		fi
	done <<EOF
$undo_services
EOF
	# The configuration goes back to what it was, also under a program that
	# could not be swapped back: that one ran with it.
	case $prev_config in
	absent)
		# Still in use by a program that stays: unconfigure it (it then
		# passes every packet) rather than pull the map from under it.
		if [ -n "$(prog_id)" ]; then
			"$CONFIG_TOOL" clear >/dev/null || say "could not clear the configuration: run cls-redirect-config clear"
		else
			rm -f "$PIN/cls_redirect_config"
		fi
		;;
	unconfigured) "$CONFIG_TOOL" clear >/dev/null || say "could not clear the configuration: run cls-redirect-config clear" ;;
	*)
		# shellcheck disable=SC2086 # "show" prints the words "set" takes
		"$CONFIG_TOOL" set $(every_field "$prev_config") >/dev/null ||
			say "could not restore the configuration: run cls-redirect-config set $prev_config"
		;;
	esac
	if [ -z "$old_id" ] && [ -z "$(prog_id)" ]; then
		# Pins this run created (tc pins the maps even when a later step fails).
		for m in $MAPS; do
			case " $had_pins " in *" $m "*) ;; *) rm -f "$PIN/$m" ;; esac
		done
		[ -n "$had_pin_dir" ] || { rmdir "$PIN" "$BPFFS/tc" 2>/dev/null || true; }
	fi
	if [ -n "$added_qdisc" ] && [ -z "$("$TC" filter show dev "$DEV" ingress)" ] &&
		[ -z "$("$TC" filter show dev "$DEV" egress)" ]; then
		"$TC" qdisc del dev "$DEV" clsact ||
			say "could not delete the clsact qdisc this run added: tc qdisc del dev $DEV clsact"
	fi
	if [ "$prev_config" = absent ]; then
		say "previous state restored: no configuration was pinned, none is"
	else
		say "previous state restored: configuration '$prev_config'"
	fi
}

fail() {
	say "$*"
	rollback
	exit 2
}

# config_mismatch: empty when the pinned configuration is what this run
# writes, field by field as cls-redirect-config show -j prints it; else what
# differs.
json_field() { printf '%s\n' "$2" | sed -n 's/.*"'"$1"'":"\{0,1\}\([^",}]*\).*/\1/p'; }
config_mismatch() {
	_j=$("$CONFIG_TOOL" show -j) || { echo "cls-redirect-config show -j failed (see above)"; return; }
	# The fields of the configuration come first; the services after the
	# lists have an addr and a port of their own.
	_j=${_j%%,\"sources\":*}
	_diff=
	for _f in "configured true" "addr $ADDR" "port $PORT" "no_forward ${NOFWD:+true}" "route ${ROUTE:+true}" \
		"mtu ${MTU:-0}"; do
		_want=${_f#* }
		[ -n "$_want" ] || _want=false
		_got=$(json_field "${_f%% *}" "$_j")
		[ "$_got" = "$_want" ] || _diff="$_diff ${_f%% *} '$_got' (not '$_want')"
	done
	[ -z "$_diff" ] || echo "the configuration reads back as$_diff: $_j"
}

# ---- 1. configuration and trust lists ----

ERR=$(mktemp) || die "mktemp failed"
trap 'rm -f "$ERR"' EXIT

rc=0
# shellcheck disable=SC2086 # CONFIG_ARGS is the keyword list of "set"
"$CONFIG_TOOL" set $(every_field "$CONFIG_ARGS") >/dev/null 2>"$ERR" || rc=$?
if [ "$rc" != 0 ]; then
	cat "$ERR" >&2
	say "cls-redirect-config set $CONFIG_ARGS failed (see above); nothing changed"
	[ "$rc" = 1 ] && exit 1
	exit 2
fi
# (The warnings about empty lists are for a bare set: the lists come next.)
# Each command checks every prefix before it changes anything.
if [ -n "$new_sources" ]; then
	# shellcheck disable=SC2086 # a list of prefixes
	"$CONFIG_TOOL" sources add $new_sources || fail "cls-redirect-config sources add $new_sources failed (see above)"
	[ -n "$lists_unread" ] || added_sources=$new_sources
fi
if [ -n "$new_hops" ]; then
	# shellcheck disable=SC2086 # a list of prefixes
	"$CONFIG_TOOL" hops add $new_hops || fail "cls-redirect-config hops add $new_hops failed (see above)"
	[ -n "$lists_unread" ] || added_hops=$new_hops
fi
# Services: services add says "(added)" or "(replaced dev OLD ...)" after
# the key it prints in its own form, which rollback then uses.
while read -r _a _p _proto _dev _if; do
	[ -n "$_a" ] || continue
	rc=0
	_out=$("$CONFIG_TOOL" services add "$_a" "$_p" "$_proto" dev "$_if" 2>"$ERR") || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$ERR" >&2
		say "cls-redirect-config services add $_a $_p $_proto dev $_if failed (see above)"
		rollback
		[ "$rc" = 1 ] && exit 1
		exit 2
	fi
	printf '%s\n' "$_out"
	_key=${_out#service }
	_key=${_key%%: dev *}
	case $_out in
	*"(added)") undo_services="$undo_services$_key
" ;;
	*"(replaced dev $_if ifindex "*) ;;
	*"(replaced dev "*)
		_old=${_out##*(replaced dev }
		undo_services="$undo_services$_key dev ${_old%% ifindex *}
"
		;;
	esac
done <<EOF
$SERVICES
EOF
# Read it back now, before anything else changes: if the map does not hold
# what was asked, no program is swapped in to run with it.
bad=$(config_mismatch)
[ -z "$bad" ] || fail "$bad; nothing else was changed"

# ---- 2. qdisc ----

if [ -z "$had_qdisc" ]; then
	"$TC" qdisc add dev "$DEV" clsact || fail "cannot add the clsact qdisc to $DEV (tc qdisc add dev $DEV clsact, see above; is the sch_ingress module available?)"
	added_qdisc=1
fi

# ---- 3. filter ----

# "replace" adds the filter when the slot is empty, and otherwise swaps the
# program in one netlink request: packets see the old or the new program,
# never none.
if ! "$TC" filter replace dev "$DEV" ingress protocol all pref "$PREF" handle "$HANDLE" \
	bpf direct-action object-file "$OBJ"; then
	fail "tc could not load $OBJ onto $DEV (see above): is it a cls_redirect object built for this tc (make MAPS=btf|legacy)? Do the pinned maps in $PIN match it?"
fi
attached=1

# ---- 4. verify ----

line=$(our_filter_lines | grep " handle $HANDLE " || true)
case $line in
*" direct-action "*) ;;
*) fail "after tc filter replace, ingress of $DEV pref $PREF handle $HANDLE shows no direct-action bpf filter: '$line'" ;;
esac
new_id=$(prog_id)
[ -n "$new_id" ] || fail "the filter at $DEV ingress pref $PREF shows no program id: '$line'"
for m in $MAPS; do
	[ -e "$PIN/$m" ] || fail "$PIN/$m is not pinned after loading $OBJ: was tc built with a loader other than the one $OBJ was made for (make MAPS=btf|legacy), or does tc use another TC_BPF_MNT?"
done
"$STAT_TOOL" -j >/dev/null || fail "cls-redirect-stat cannot read the pinned metrics (see above)"
bad=$(config_mismatch)
[ -z "$bad" ] || fail "$bad"

# The program must use the maps that are pinned (not private copies), when
# bpftool is there to tell.
if command -v bpftool >/dev/null 2>&1; then
	used=$(bpftool prog show id "$new_id" 2>/dev/null | sed -n 's/.*map_ids \([0-9,]*\).*/,\1,/p')
	for m in $MAPS; do
		mid=$(bpftool map show pinned "$PIN/$m" 2>/dev/null | sed -n '1s/^\([0-9][0-9]*\):.*/\1/p')
		[ -z "$used" ] || [ -z "$mid" ] || case $used in *",$mid,"*) ;; *)
			fail "program $new_id does not use the map pinned at $PIN/$m (id $mid; it uses$used)"
			;;
		esac
	done
fi

# Last, when every pin exists (tc pins the metrics map at attach).
if [ -n "$GROUP" ]; then
	"$CONFIG_TOOL" set --group "$GROUP" >/dev/null ||
		fail "cannot let group $GROUP read the pins (cls-redirect-config set --group $GROUP, see above)"
fi

if [ -n "$old_id" ]; then
	echo "$PROG: $DEV: replaced program $old_id with $new_id ($OBJ) at ingress pref $PREF handle $HANDLE; $CONFIG_ARGS"
else
	echo "$PROG: $DEV: attached program $new_id ($OBJ) at ingress pref $PREF handle $HANDLE; $CONFIG_ARGS"
fi
