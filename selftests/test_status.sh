#!/bin/sh
# test_status: cls-redirect-config status (man page: CLS-REDIRECT-CONFIG)
# against real tc attachments in throwaway namespaces: the healthy case
# (exit 0) and every reason that needs attention (exit 3, one "attention:"
# line each, the same codes in -j): not attached, unconfigured, an empty
# trust list, a foreign program in deploy.sh's slot, the address not local,
# rp_filter strict on the interface or on "all".
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

SRV=192.0.2.1 CLI=192.0.2.2 PORT=19523 DEV=srv0
C=$REPO/tools/cls-redirect-config
OBJ=$REPO/obj/cls_redirect_btf.o
PIN=$TC_BPF_MNT/tc/globals
FLOOR=$(find "$REPO/selftests" -name floor.bpf.o | head -1)

require_present test_status obj/cls_redirect_btf.o tools/cls-redirect-config -- bpftool jq tc
[ -n "$FLOOR" ] || { fail test_status "selftests/progs/floor.bpf.o missing (make tests)"; exit 1; }
if ! tc -V | grep -q libbpf; then
	skip test_status "the system tc ($(tc -V)) has no libbpf: it cannot load $OBJ"
	exit 0
fi

tmpdir T
srv_cli_pair "$DEV" "$SRV" "$CLI"
in_ns srv sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	"net.ipv4.conf.$DEV.rp_filter=0"
in_ns srv tc qdisc add dev "$DEV" clsact
export CLS_REDIRECT_OBJ=$OBJ

# status_is NAME STATUS "CODE..." : status exits STATUS, -j lists exactly
# these reason codes (in order), and the text output has one attention line
# per reason and ends with the verdict.
status_is() {
	_sn=$1 _want=$2 _codes=$3
	in_ns srv "$C" status >"$T/out" 2>"$T/err"
	_rc=$?
	in_ns srv "$C" status -j >"$T/json" 2>>"$T/err"
	_rcj=$?
	_got=$(jq -r '[.attention[].reason] | join(" ")' "$T/json" 2>&1)
	_lines=$(grep -c '^attention: ' "$T/out")
	_verdict=healthy
	[ -z "$_codes" ] || _verdict="needs attention"
	if [ "$_rc $_rcj" != "$_want $_want" ]; then
		fail "$_sn" "exit status $_rc (text) $_rcj (-j), expected $_want; $(cat "$T/err" "$T/out" | tr '\n' ' ' | head -c 600)"
	elif [ "$_got" != "$_codes" ]; then
		fail "$_sn" "reasons '$_got', expected '$_codes': $(tr '\n' ' ' <"$T/out" | head -c 600)"
	elif [ "$_lines" != "$(echo $_codes | wc -w)" ]; then
		fail "$_sn" "$_lines attention lines for '$_codes': $(tr '\n' ' ' <"$T/out")"
	elif [ "$(tail -1 "$T/out")" != "status: $_verdict" ] || [ -s "$T/err" ]; then
		fail "$_sn" "last line '$(tail -1 "$T/out")', stderr '$(cat "$T/err")'"
	elif [ "$(jq .healthy "$T/json")" != "$([ -z "$_codes" ] && echo true || echo false)" ]; then
		fail "$_sn" "healthy is $(jq .healthy "$T/json")"
	else
		pass "$_sn"
	fi
}
# attach [PREF HANDLE]: the classifier on srv0 ingress, with our pins.
attach() { in_ns srv tc filter add dev "$DEV" ingress pref "${1:-1000}" handle "${2:-0xc15d}" bpf da obj "$OBJ"; }
detach() { in_ns srv tc filter del dev "$DEV" ingress pref "${1:-1000}"; }
# open_lists: both trust lists allow everyone (an empty or absent list
# allows nothing, and status says so).
open_lists() {
	in_ns srv "$C" sources add 0.0.0.0/0 && in_ns srv "$C" hops add 0.0.0.0/0
}

# ---- nothing pinned yet ----
in_ns srv "$C" status >"$T/out" 2>"$T/err"
expect_eq "no pins: exit 2, one line naming the directory" "2 1" "$? $(wc -l <"$T/err")" "status and stderr lines"

# ---- configured but not attached ----
in_ns srv "$C" set addr "$SRV" port "$PORT" >/dev/null 2>&1
status_is "configured, not attached, no trust lists: needs attention" 3 \
	"not_attached trust_list_empty trust_list_empty"
open_lists
status_is "configured, not attached: needs attention" 3 "not_attached"
check "not attached: the line says what to do" grep -q "^attention: not attached: no tc filter in this network namespace uses the maps in $PIN (examples/deploy.sh" "$T/out"
check "not attached: attached: nowhere" grep -qx "attached: nowhere" "$T/out"

# ---- healthy ----
attach
status_is "healthy: attached, configured, address local, rp_filter 0" 0 ""
read -r _pref _handle _id _tag <<EOF2
$(in_ns srv tc -j filter show dev "$DEV" ingress | jq -r '.[] | select(.options.prog.id) | "\(.pref) \(.options.handle) \(.options.prog.id) \(.options.prog.tag)"')
EOF2
expect_eq "healthy: -j attached entry" \
	"$DEV ingress 1000 49501 $_id $_tag true true" \
	"$(jq -r '.attached[] | "\(.device) \(.direction) \(.pref) \(.handle) \(.prog_id) \(.tag) \(.direct_action) \(.tag_matches_object)"' "$T/json")"
expect_eq "healthy: text attached line" \
	"attached: $DEV ingress pref 1000 handle 0xc15d prog id $_id tag $_tag direct-action cls_redirect_btf.o:[classifier], tag of $OBJ" \
	"$(grep '^attached:' "$T/out")"
expect_eq "healthy: pins by map id" \
	"$(bpftool -j map show pinned "$PIN/cls_redirect_config" | jq .id) $(bpftool -j map show pinned "$PIN/cls_redirect_metrics" | jq .id)" \
	"$(jq -r '"\(.pins.cls_redirect_config) \(.pins.cls_redirect_metrics)"' "$T/json")"
expect_eq "healthy: config and host checks" \
	"true $SRV $PORT true $DEV 0 0" \
	"$(jq -r '"\(.config.configured) \(.config.addr) \(.config.port) \(.host.addr_local) \(.host.addr_device) \(.host.rp_filter.all) \(.host.rp_filter.'"$DEV"')"' "$T/json")"
# Another object than the one attached: its tag differs.
_out=$(CLS_REDIRECT_OBJ=$FLOOR in_ns srv "$C" status -j | jq -r '.attached[0].tag_matches_object')
expect_eq "tag compared with another object: false" false "$_out"
# The legacy flavour cannot be loaded by libbpf: not compared (null), not an error.
_out=$(CLS_REDIRECT_OBJ=$REPO/obj/cls_redirect_legacy.o in_ns srv "$C" status -j | jq -r '"\(.attached[0].tag_matches_object) \(.healthy)"')
expect_eq "tag not comparable with the legacy object: null, still healthy" "null true" "$_out"

# ---- the XDP flavour attached too (ip link, generic mode) ----
if in_ns srv ip link set dev "$DEV" xdpgeneric obj "$REPO/obj/cls_redirect_xdp.o" sec xdp; then
	_xid=$(in_ns srv ip -j -d link show dev "$DEV" | jq -r '.[0].xdp.prog.id // .[0].xdp.prog_id // empty')
	status_is "tc and XDP attached: healthy" 0 ""
	expect_eq "XDP attachment listed: device, mode, program id, not compared with the tc object" \
		"$DEV xdpgeneric $_xid null" \
		"$(jq -r '.attached[] | select(.direction != "ingress") | "\(.device) \(.direction) \(.prog_id) \(.tag_matches_object)"' "$T/json")"
	check "XDP attachment in the text" grep -q "^attached: $DEV xdpgeneric prog id $_xid tag [0-9a-f]\{16\}$" "$T/out"
	expect_eq "tc and XDP on one device: one cls_redirect_attached series" "cls_redirect_attached{device=\"$DEV\"} 1" \
		"$(in_ns srv "$REPO/tools/cls-redirect-stat" --prometheus | grep '^cls_redirect_attached{')"
	in_ns srv ip link set dev "$DEV" xdpgeneric off
else
	fail "XDP attachment" "ip link set dev $DEV xdpgeneric obj cls_redirect_xdp.o sec xdp failed"
fi

# ---- unconfigured ----
in_ns srv "$C" clear
status_is "unconfigured: needs attention" 3 "unconfigured"
in_ns srv "$C" set addr "$SRV" port "$PORT" >/dev/null

# ---- address not local ----
in_ns srv "$C" set addr 198.51.100.9 >/dev/null
status_is "address not local: needs attention" 3 "address_not_local"
check "address not local: says how to fix it" grep -q "198.51.100.9 is not assigned to any interface of this network namespace.*ip addr add 198.51.100.9/32 dev lo" "$T/out"
in_ns srv ip addr add 198.51.100.9/32 dev lo
status_is "address on lo: healthy" 0 ""
in_ns srv ip addr del 198.51.100.9/32 dev lo
in_ns srv "$C" set addr "$SRV" >/dev/null

# ---- rp_filter ----
in_ns srv sysctl -qw "net.ipv4.conf.$DEV.rp_filter=1"
status_is "rp_filter 1 on the device: needs attention" 3 "rp_filter_strict"
check "rp_filter: names the device and the values" grep -q "^attention: rp_filter strict on $DEV (all 0, $DEV 1" "$T/out"
in_ns srv sysctl -qw "net.ipv4.conf.$DEV.rp_filter=0" net.ipv4.conf.all.rp_filter=1
status_is "rp_filter 1 on all: needs attention" 3 "rp_filter_strict"
in_ns srv sysctl -qw "net.ipv4.conf.$DEV.rp_filter=2"
status_is "rp_filter all 1, device 2 (loose wins): healthy" 0 ""
in_ns srv sysctl -qw "net.ipv4.conf.$DEV.rp_filter=0" net.ipv4.conf.all.rp_filter=0

# ---- route mode needs forwarding on lo (tc-cls-redirect.8, ROUTE MODE) ----
in_ns srv sysctl -qw net.ipv4.conf.lo.forwarding=0
in_ns srv "$C" set route >/dev/null
status_is "route, lo forwarding 0: needs attention" 3 "route_lo_forwarding_off"
check "route: the config line and the host line show it" \
	sh -c "grep -q '^config: addr $SRV port $PORT route\$' '$T/out' && grep -q '^host: net.ipv4.conf.lo.forwarding 0 (route needs 1)' '$T/out'"
in_ns srv "$C" set no-forward >/dev/null
status_is "route with no-forward (nothing forwarded): healthy" 0 ""
in_ns srv "$C" set forward >/dev/null
in_ns srv sysctl -qw net.ipv4.conf.lo.forwarding=1
status_is "route, lo forwarding 1: healthy" 0 ""
expect_eq "route: -j has config.route and host.lo_forwarding" "true 1" \
	"$(in_ns srv "$C" status -j | jq -r '"\(.config.route) \(.host.lo_forwarding)"')"
in_ns srv "$C" set no-route >/dev/null

# ---- a foreign program in deploy.sh's slot ----
detach
attach 2000 0x1
in_ns srv tc filter add dev "$DEV" ingress pref 1000 handle 0xc15d bpf da obj "$FLOOR"
_fid=$(in_ns srv tc -j filter show dev "$DEV" ingress | jq -r '.[] | select(.pref == 1000 and .options.prog.id) | .options.prog.id')
status_is "foreign program at ingress pref 1000 handle 0xc15d: needs attention" 3 "foreign_program"
check "foreign program: names it" grep -q "^attention: foreign program: $DEV ingress pref 1000 handle 0xc15d (deploy.sh's slot) runs program id $_fid" "$T/out"
detach 1000
detach 2000
# Nothing of ours, a foreign program there: both reasons.
in_ns srv tc filter add dev "$DEV" ingress pref 1000 handle 0xc15d bpf da obj "$FLOOR"
status_is "foreign program, ours nowhere: two reasons" 3 "not_attached foreign_program"
detach 1000

# ---- trust lists: empty allows nothing ----
attach
in_ns srv "$C" sources del 0.0.0.0/0
status_is "sources list empty: needs attention" 3 "trust_list_empty"
check "sources list empty: says it allows nothing" grep -qx "sources: empty" "$T/out"
in_ns srv "$C" sources add 192.0.2.0/24 10.0.0.0/8
status_is "sources list with two prefixes: healthy" 0 ""
expect_eq "sources listed in -j" "10.0.0.0/8 192.0.2.0/24" "$(jq -r '.sources | sort | join(" ")' "$T/json")"
in_ns srv "$C" hops del 0.0.0.0/0
status_is "hops list empty: needs attention" 3 "trust_list_empty"
open_lists

# ---- a monitoring user without privileges (set --group) ----
MON=clsrst$$
if useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$MON"; then
	cleanup_add "userdel '$MON'; groupdel '$MON'"
	in_ns srv "$C" set --group "$MON" >/dev/null
	# It cannot read programs by id (CAP_SYS_ADMIN) nor load the object:
	# ours is told by tc's filter name, the tag is not compared.
	in_ns srv setpriv --reuid="$MON" --regid="$MON" --init-groups "$C" status -j >"$T/json" 2>"$T/err"
	expect_eq "as $MON (no capability, group $MON): status healthy" \
		"0 true $DEV null" "$? $(jq -r '"\(.healthy) \(.attached[0].device) \(.attached[0].tag_matches_object)"' "$T/json")$(cat "$T/err")"
	_out=$(in_ns srv setpriv --reuid="$MON" --regid="$MON" --init-groups "$REPO/tools/cls-redirect-stat" --prometheus | grep '^cls_redirect_attached{')
	expect_eq "as $MON: cls_redirect_attached" "cls_redirect_attached{device=\"$DEV\"} 1" "$_out"
else
	fail "monitoring user" "useradd $MON failed"
fi

# ---- another network namespace sees none of this ----
in_ns cli env TC_BPF_MNT="$TC_BPF_MNT" "$C" status -j >"$T/json" 2>/dev/null
expect_eq "from another network namespace: not attached there, address not local there" "3 not_attached address_not_local" \
	"$? $(jq -r '[.attention[].reason] | join(" ")' "$T/json")"

# ---- output errors ----
in_ns srv "$C" status >/dev/full 2>"$T/err"
expect_eq "status > /dev/full: exit 2" "2 cls-redirect-config: cannot write to standard output: No space left on device" "$? $(cat "$T/err")"

test_done
