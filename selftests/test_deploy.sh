#!/bin/sh
# test_deploy: examples/deploy.sh and examples/undeploy.sh, run as an
# operator runs them, on a veth device in a throwaway network namespace,
# with the maps in a private bpffs (TC_BPF_MNT).
#
#   srv: srv0 192.0.2.1 (the device deployed on), srv1 (a second device)
#   cli: cli0 192.0.2.2 (sends UDP frames with selftests/bin/sendraw through
#        srv0's ingress: IPv6 is off and neighbours are static, so these are
#        the only packets the classifier sees and its counters are exact)
#   pod1, pod2: two pods, behind the veths vpod1 and vpod2 of srv, for
#        --service (tc-cls-redirect.8, CONTAINERS)
#
# Asserts, after each step, the exact state: the qdisc, the one filter at
# ingress pref 1000 handle 0xc15d with direct-action, its program id, the
# pins, the configuration (cls-redirect-config show -j) and the counters
# (cls-redirect-stat -j).
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

PIN=$TC_BPF_MNT/tc/globals
DEPLOY=$REPO/examples/deploy.sh
UNDEPLOY=$REPO/examples/undeploy.sh
CONFIG_TOOL=$REPO/tools/cls-redirect-config
STAT_TOOL=$REPO/tools/cls-redirect-stat
OBJ=$REPO/obj/cls_redirect.o
PREF=1000 HANDLE=0xc15d
DEV=srv0 SRV=192.0.2.1 CLI=192.0.2.2

require_present test_deploy obj/cls_redirect.o tools/cls-redirect-config tools/cls-redirect-stat \
	examples/deploy.sh examples/undeploy.sh selftests/bin/sendraw -- jq bpftool

tmpdir T
srv_cli_pair "$DEV" "$SRV" "$CLI"
in_ns srv ip link add srv1 type veth peer name srv2
in_ns srv ip link set srv1 up
in_ns srv ip link set srv2 up
netns_add pod1
netns_add pod2
in_ns srv ip link add vpod1 type veth peer name eth0 netns "$(ns pod1)"
in_ns srv ip link add vpod2 type veth peer name eth0 netns "$(ns pod2)"

# ---- helpers: everything runs inside srv ----

S() { in_ns srv "$@"; }
# run_deploy/run_undeploy ARGS...: output in $T/out, exit status in $rc.
# The fleet of these tests: the client sends the GUE.
FLEET="--source $CLI --hop 203.0.113.0/24"
# shellcheck disable=SC2086 # FLEET is a list of options
run_deploy() { rc=0; S sh "$DEPLOY" $FLEET "$@" >"$T/out" 2>&1 || rc=$?; }
run_undeploy() { rc=0; S sh "$UNDEPLOY" "$@" >"$T/out" 2>&1 || rc=$?; }
out() { tr '\n' ' ' <"$T/out"; }

# filters DEV DIR: the filter lines with a handle (one per filter).
filters() { S tc filter show dev "$1" "$2" | grep ' handle ' || true; }
# ours DEV: the line of the deployed filter.
ours() { filters "$1" ingress | grep "^filter protocol all pref $PREF bpf chain 0 handle $HANDLE " || true; }
prog_id() { ours "$DEV" | sed -n 's/.* id \([0-9]*\) .*/\1/p'; }
qdiscs() { S tc qdisc show dev "$1" | grep -c '^qdisc clsact ' || true; }
# config_json: the configuration as show -j prints it, without the trust
# lists (lists: those alone).
config_json() { S "$CONFIG_TOOL" show -j 2>&1 | sed 's/,"sources":.*}$/}/'; }
lists() { S "$CONFIG_TOOL" show -j 2>&1 | jq -c '{sources, hops}'; }
counter() { S "$STAT_TOOL" -j | jq -r ".$1"; }
pins() { ls "$PIN" 2>/dev/null | tr '\n' ' '; }
# state: everything a run may change, to compare before and after.
state() {
	for d in "$DEV" srv1; do
		S tc qdisc show dev "$d"
		S tc filter show dev "$d" ingress
		S tc filter show dev "$d" egress
	done
	pins
	[ -e "$PIN/cls_redirect_config" ] && S "$CONFIG_TOOL" show
}
# send N: N plain UDP packets (port 9, not GUE) from cli to srv0, which the
# classifier counts as processed and passed.
send() {
	_ip=$(ipv4_udp "$CLI" "$SRV")
	in_ns cli "$REPO/selftests/bin/sendraw" cli0 "$SRV_MAC $CLI_MAC 0800 $_ip" "$1"
}
ipv4_udp() {
	_h="4500 0020 0001 0000 4011"
	_a="$(ip4hex "$1") $(ip4hex "$2")"
	echo "$_h $(csum16 "$_h 0000 $_a") $_a 3039 0009 000c 0000 74657374"
}
# json ADDR PORT [NO_FORWARD [MTU [ROUTE]]]: show -j of that configuration.
json() { printf '{"configured":true,"addr":"%s","port":%s,"no_forward":%s,"route":%s,"mtu":%s}' "$1" "$2" "${3:-false}" "${5:-false}" "${4:-0}"; }

# expect_deploy NAME: the deployed state on DEV, all of it.
expect_deployed() {
	_case=$1 _want=$2
	_l=$(ours "$DEV")
	_why=
	[ "$rc" = 0 ] || _why="exit status $rc: $(out)"
	[ -n "$_why" ] || [ -n "$_l" ] || _why="no filter at ingress pref $PREF handle $HANDLE: $(filters "$DEV" ingress)"
	[ -n "$_why" ] || case $_l in *" direct-action "*" id "*) ;; *) _why="filter not direct-action with a program: $_l" ;; esac
	[ -n "$_why" ] || [ "$(filters "$DEV" ingress | wc -l)" = 1 ] || _why="more than one ingress filter: $(filters "$DEV" ingress)"
	[ -n "$_why" ] || [ "$(qdiscs "$DEV")" = 1 ] || _why="no clsact qdisc: $(S tc qdisc show dev "$DEV")"
	[ -n "$_why" ] || [ "$(pins)" = "cls_redirect_config cls_redirect_hops cls_redirect_metrics cls_redirect_services cls_redirect_sources " ] || _why="pins in $PIN: '$(pins)'"
	[ -n "$_why" ] || [ "$(config_json)" = "$_want" ] || _why="config: expected $_want, got $(config_json)"
	[ -n "$_why" ] || [ "$(lists)" = "{\"sources\":[\"$CLI/32\"],\"hops\":[\"203.0.113.0/24\"]}" ] ||
		_why="trust lists: expected the FLEET's, got $(lists)"
	if [ -z "$_why" ]; then
		# The program uses the pinned maps, not copies of its own.
		_used=$(bpftool prog show id "$(prog_id)" | sed -n 's/.*map_ids \([0-9,]*\).*/,\1,/p')
		for _m in cls_redirect_config cls_redirect_metrics cls_redirect_sources cls_redirect_hops; do
			_id=$(bpftool map show pinned "$PIN/$_m" | sed -n '1s/^\([0-9]*\):.*/\1/p')
			case $_used in *",$_id,"*) ;; *) _why="program $(prog_id) uses maps $_used, not the pinned $_m (id $_id)" ;; esac
		done
	fi
	if [ -z "$_why" ]; then pass "$_case"; else fail "$_case" "$_why"; fi
}

# expect_unchanged NAME WANT_RC ARGS...: deploy.sh ARGS exits WANT_RC and
# changes nothing.
expect_refused() {
	_case=$1 _want=$2
	shift 2
	_before=$(state)
	run_deploy "$@"
	_after=$(state)
	if [ "$rc" != "$_want" ]; then
		fail "$_case" "deploy.sh $* exited $rc, not $_want: $(out)"
	elif [ "$_before" != "$_after" ]; then
		fail "$_case" "state changed: before: $(echo "$_before" | tr '\n' ' ') after: $(echo "$_after" | tr '\n' ' ')"
	elif ! grep -q . "$T/out"; then
		fail "$_case" "no error message"
	else
		pass "$_case"
	fi
}

# ---- usage ----

rc=0
sh "$DEPLOY" --help >"$T/out" 2>&1 || rc=$?
check "deploy --help" sh -c "[ $rc = 0 ] && grep -q '^Usage: deploy.sh .*DEV ADDR PORT \[OBJ\]' '$T/out'"
rc=0
sh "$UNDEPLOY" --help >"$T/out" 2>&1 || rc=$?
check "undeploy --help" sh -c "[ $rc = 0 ] && grep -q '^Usage: undeploy.sh .*DEV' '$T/out' && grep -q -- --keep-maps '$T/out'"

# ---- bad arguments on a fresh device: exit 1, nothing created ----

expect_refused "deploy no arguments" 1
expect_refused "deploy missing PORT" 1 "$DEV" "$SRV"
expect_refused "deploy too many arguments" 1 "$DEV" "$SRV" 19523 "$OBJ" extra
expect_refused "deploy unknown option" 1 --frobnicate "$DEV" "$SRV" 19523
expect_refused "deploy bad DEV" 1 nosuch0 "$SRV" 19523
expect_refused "deploy bad ADDR 192.0.2.256" 1 "$DEV" 192.0.2.256 19523
expect_refused "deploy bad ADDR 192.0.2" 1 "$DEV" 192.0.2 19523
expect_refused "deploy bad ADDR 01.2.3.4" 1 "$DEV" 01.2.3.4 19523
expect_refused "deploy bad ADDR name" 1 "$DEV" server.example 19523
expect_refused "deploy bad ADDR loopback" 1 "$DEV" 127.0.0.1 19523
expect_refused "deploy bad PORT 0" 1 "$DEV" "$SRV" 0
expect_refused "deploy bad PORT 65536" 1 "$DEV" "$SRV" 65536
expect_refused "deploy bad PORT text" 1 "$DEV" "$SRV" gue
expect_refused "deploy bad --mtu" 1 --mtu 70000 "$DEV" "$SRV" 19523
expect_refused "deploy --mtu below 68" 1 --mtu 67 "$DEV" "$SRV" 19523
expect_refused "deploy --mtu 067 below 68" 1 --mtu 067 "$DEV" "$SRV" 19523
expect_refused "deploy --mtu 0x400" 1 --mtu 0x400 "$DEV" "$SRV" 19523
expect_refused "deploy bad PORT 00" 1 "$DEV" "$SRV" 00
expect_refused "deploy bad PORT 065536" 1 "$DEV" "$SRV" 065536
expect_refused "deploy missing OBJ" 1 "$DEV" "$SRV" 19523 "$T/nosuch.o"
expect_refused "deploy --source host bits set" 1 --source 192.0.2.1/24 "$DEV" "$SRV" 19523
expect_refused "deploy --source /33" 1 --source 192.0.2.0/33 "$DEV" "$SRV" 19523
expect_refused "deploy --hop not a prefix" 1 --hop 198.51.100 "$DEV" "$SRV" 19523
expect_refused "deploy --hop without a value" 1 "$DEV" "$SRV" 19523 --hop
# Closed unless the fleet is named: both lists empty is refused.
fleet=$FLEET FLEET=
expect_refused "deploy with both trust lists empty" 1 "$DEV" "$SRV" 19523
check "deploy with both trust lists empty: says how to open" grep -q -- '--allow-any' "$T/out"
FLEET=$fleet
# Lists named before any configuration: deploy takes them as the fleet.
S "$CONFIG_TOOL" sources add "$CLI" >/dev/null
FLEET=
run_deploy "$DEV" "$SRV" 19523
check "deploy with lists added before set: deployed" [ "$rc" = 0 ]
expect_eq "deploy with lists added before set: the list kept" '["'"$CLI"'/32"]' \
	"$(S "$CONFIG_TOOL" show -j | jq -c .sources)"
run_undeploy "$DEV"
FLEET=$fleet
check "fresh device untouched" sh -c "[ -z '$(pins)' ] && [ '$(qdiscs "$DEV")' = 0 ]"

# Not root: refused before anything changes, saying what tc needs.
rc=0
S setpriv --reuid=65534 --regid=65534 --clear-groups sh "$DEPLOY" "$DEV" "$SRV" 19523 >"$T/out" 2>&1 || rc=$?
expect_eq "deploy as nobody" "2 deploy.sh: must run as root (uid 0; this is uid 65534): tc needs CAP_NET_ADMIN, and CAP_BPF or CAP_SYS_ADMIN, to load and attach the classifier" \
	"$rc $(out | sed 's/ $//')" "exit status and message"

# ---- rollback on a fresh device ----

printf 'not an ELF object\n' >"$T/bad.o"
expect_refused "rollback fresh: unloadable OBJ, no pins before" 2 "$DEV" "$SRV" 19523 "$T/bad.o"

S "$CONFIG_TOOL" set addr 203.0.113.9 port 5555 mtu 1300 >/dev/null
expect_refused "rollback fresh: unloadable OBJ, config before" 2 "$DEV" "$SRV" 19523 "$T/bad.o"
expect_eq "rollback fresh: config restored" "$(json 203.0.113.9 5555 false 1300)" "$(config_json)"
S "$CONFIG_TOOL" clear
expect_refused "rollback fresh: unloadable OBJ, unconfigured before" 2 "$DEV" "$SRV" 19523 "$T/bad.o"
rm -f "$PIN/cls_redirect_config"
rmdir "$PIN" "$TC_BPF_MNT/tc"

# A clsact qdisc that was there before stays.
S tc qdisc add dev "$DEV" clsact
expect_refused "rollback fresh: unloadable OBJ, qdisc before" 2 "$DEV" "$SRV" 19523 "$T/bad.o"
S tc qdisc del dev "$DEV" clsact

# cls_redirect attached by hand at another slot: refused, it would run twice.
S tc qdisc add dev "$DEV" clsact
S tc filter add dev "$DEV" ingress bpf da obj "$OBJ"
expect_refused "deploy refused: cls_redirect attached by hand at pref 49152" 2 "$DEV" "$SRV" 19523
S tc qdisc del dev "$DEV" clsact
rm -rf "${PIN:?}" "$TC_BPF_MNT/tc"

# ---- deploy on a fresh device ----

run_deploy "$DEV" "$SRV" 19523
expect_deployed "deploy fresh" "$(json "$SRV" 19523)"
id1=$(prog_id)
send 3
expect_eq "deploy fresh: classifier counts packets" 3 "$(counter processed_packets_total)" processed_packets_total
expect_eq "deploy fresh: and passes them" 3 "$(counter passed_packets_total)" passed_packets_total
seen=3

# Bad arguments against a deployed device change nothing either.
expect_refused "deployed: bad ADDR changes nothing" 1 "$DEV" 10.0.0.256 19523
expect_refused "deployed: bad PORT changes nothing" 1 "$DEV" "$SRV" 99999
expect_refused "deployed: bad DEV changes nothing" 1 nosuch0 "$SRV" 19523
expect_refused "deployed: --group of no group changes nothing" 1 --group no-such-group-clsr "$DEV" "$SRV" 19523

# ---- deploy again: idempotent, program replaced, counters kept ----

run_deploy "$DEV" "$SRV" 19523
expect_deployed "redeploy same" "$(json "$SRV" 19523)"
id2=$(prog_id)
check "redeploy same: new program id" sh -c "[ -n '$id2' ] && [ '$id2' != '$id1' ]"
expect_eq "redeploy same: counters survive" "$seen" "$(counter processed_packets_total)" processed_packets_total
send 2
expect_eq "redeploy same: new program counts into the pinned map" "$((seen + 2))" "$(counter processed_packets_total)" processed_packets_total
seen=$(counter processed_packets_total)

# --group GROUP: the pins readable by a monitoring group.
MONG=clsrdg$$
if groupadd --system "$MONG"; then
	cleanup_add "groupdel '$MONG'"
	run_deploy --group "$MONG" "$DEV" "$SRV" 19523
	expect_deployed "redeploy --group" "$(json "$SRV" 19523)"
	expect_eq "redeploy --group: directory and pins readable by the group" "750 $MONG 640 $MONG 640 $MONG " \
		"$(stat -c '%a %G' "$PIN" "$PIN/cls_redirect_config" "$PIN/cls_redirect_metrics" | tr '\n' ' ')"
	seen=$(counter processed_packets_total)
else
	fail "redeploy --group" "groupadd $MONG failed"
fi

# ---- values in another spelling: normalised before anything changes ----

# --mtu 0 (no limit) and leading zeros: written, and read back, as show
# prints them, so the verification passes and the program is swapped once.
run_deploy --mtu 0 "$DEV" "$SRV" 19523
expect_deployed "redeploy --mtu 0" "$(json "$SRV" 19523)"
id_n=$(prog_id)
check "redeploy --mtu 0: new program id, no rollback" sh -c "[ -n '$id_n' ] && [ '$id_n' != '$id2' ] && ! grep -q 'rolling back' '$T/out'"
run_deploy --mtu 01400 "$DEV" "$SRV" 01000
expect_deployed "redeploy --mtu 01400 PORT 01000" "$(json "$SRV" 1000 false 1400)"
check "redeploy --mtu 01400 PORT 01000: says the normalised config" grep -q "; addr $SRV port 1000 mtu 1400\$" "$T/out"
run_deploy --mtu=000 --no-forward "$DEV" "$SRV" 0000019523
expect_deployed "redeploy --mtu=000 PORT 0000019523" "$(json "$SRV" 19523 true)"
run_deploy "$DEV" "$SRV" 19523
expect_deployed "redeploy plain again" "$(json "$SRV" 19523)"

# ---- --route: the sysctls route mode needs (tc-cls-redirect.8, ROUTE MODE) ----

S sysctl -qw net.ipv4.conf.lo.forwarding=0 net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$DEV.rp_filter=1"
expect_refused "deploy --route, lo forwarding off: refused" 1 --route "$DEV" "$SRV" 19523
check "deploy --route, lo forwarding off: says why and what to set" sh -c \
	"grep -q 'needs net.ipv4.conf.lo.forwarding=1, and it is 0: ' '$T/out' && grep -q 'sysctl -w net.ipv4.conf.lo.forwarding=1' '$T/out'"
run_deploy --route --no-forward "$DEV" "$SRV" 19523
expect_deployed "deploy --route --no-forward, lo forwarding off: deployed" "$(json "$SRV" 19523 true 0 true)"
check "deploy --route --no-forward, lo forwarding off: warns" grep -q 'warning: net.ipv4.conf.lo.forwarding is 0' "$T/out"
S sysctl -qw net.ipv4.conf.lo.forwarding=1
run_deploy --route "$DEV" "$SRV" 19523
expect_deployed "redeploy --route" "$(json "$SRV" 19523 false 0 true)"
check "redeploy --route, strict rp_filter on $DEV: warns, naming loose mode" \
	grep -q "rp_filter=2 net.ipv4.conf.$DEV.rp_filter=2\$" "$T/out"
S sysctl -qw "net.ipv4.conf.$DEV.rp_filter=2"
run_deploy --route "$DEV" "$SRV" 19523
expect_deployed "redeploy --route, loose rp_filter" "$(json "$SRV" 19523 false 0 true)"
check "redeploy --route, loose rp_filter: no warning" sh -c "! grep -q warning '$T/out'"
S sysctl -qw net.ipv4.conf.all.rp_filter=1 "net.ipv4.conf.$DEV.rp_filter=0"
run_deploy --route "$DEV" "$SRV" 19523
check "redeploy --route, rp_filter strict in conf.all only: warns (the larger applies)" \
	grep -q "net.ipv4.conf.all.rp_filter=1, net.ipv4.conf.$DEV.rp_filter=0" "$T/out"
S sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$DEV.rp_filter=0"
# A failed run puts the flag back as it was, either way.
expect_refused "rollback redeploy --route to plain: unloadable OBJ" 2 "$DEV" "$SRV" 19523 "$T/bad.o"
expect_eq "rollback redeploy --route to plain: route restored" "$(json "$SRV" 19523 false 0 true)" "$(config_json)"
run_deploy "$DEV" "$SRV" 19523
expect_deployed "redeploy without --route: route off" "$(json "$SRV" 19523)"
expect_refused "rollback redeploy plain to --route: unloadable OBJ" 2 --route "$DEV" "$SRV" 19523 "$T/bad.o"
expect_eq "rollback redeploy plain to --route: route off again" "$(json "$SRV" 19523)" "$(config_json)"
S sysctl -qw net.ipv4.conf.lo.forwarding=0
id2=$(prog_id)

# ---- deploy with a new address: config changes, filter replaced in place ----

# tc monitor sees every filter event; an atomic replace is one "replaced
# filter" event and never a "deleted filter".
S tc monitor >"$T/monitor" 2>&1 &
mon=$!
cleanup_add "kill $mon"
sleep 0.3
run_deploy --no-forward --mtu 1400 "$DEV" 198.51.100.7 6080
sleep 0.3
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
expect_deployed "redeploy new address" "$(json 198.51.100.7 6080 true 1400)"
id3=$(prog_id)
check "redeploy new address: new program id" sh -c "[ -n '$id3' ] && [ '$id3' != '$id2' ]"
check "redeploy new address: replaced, never deleted" sh -c \
	"grep -q '^replaced filter dev $DEV ingress .*pref $PREF .*handle $HANDLE .* id $id3 ' '$T/monitor' && ! grep -q '^deleted filter' '$T/monitor'"
expect_eq "redeploy new address: counters survive" "$seen" "$(counter processed_packets_total)" processed_packets_total

# ---- a failed redeploy leaves the running program and config ----

expect_refused "rollback redeploy: unloadable OBJ" 2 "$DEV" "$SRV" 19523 "$T/bad.o"
expect_eq "rollback redeploy: same program" "$id3" "$(prog_id)"
expect_eq "rollback redeploy: config restored" "$(json 198.51.100.7 6080 true 1400)" "$(config_json)"

# ---- services (--service ADDR PORT tcp|udp dev IFNAME) ----

# services: the services listed, "ADDR PORT PROTO DEV" each, sorted.
services() { S "$CONFIG_TOOL" show -j | jq -r '.services[] | "\(.addr) \(.port) \(.proto) \(.dev)"' | sort | tr '\n' ' '; }
CUR="--no-forward --mtu 1400 $DEV 198.51.100.7 6080"
# shellcheck disable=SC2086 # CUR: the deployed device's arguments
{
	expect_refused "--service on no interface" 1 --service 10.99.0.1 8080 tcp dev nosuch0 $CUR
	expect_refused "--service sctp" 1 --service 10.99.0.1 8080 sctp dev vpod1 $CUR
	expect_refused "--service port 65536" 1 --service 10.99.0.1 65536 tcp dev vpod1 $CUR
	expect_refused "--service without dev" 1 --service 10.99.0.1 8080 tcp vpod1 $CUR
	expect_refused "--service missing words" 1 $CUR --service 10.99.0.1 8080 tcp dev
	# Refused by services add itself, after the configuration was written:
	# rolled back, exit 1.
	expect_refused "--service malformed address" 1 --service 10.99.0.1.5 8080 tcp dev vpod1 $CUR
	expect_refused "--service on a veth whose peer is here" 1 --service 10.99.0.1 8080 tcp dev srv1 $CUR
	expect_refused "--service: the second refused, the first taken back" 1 \
		--service 10.99.0.1 8080 tcp dev vpod1 --service 10.99.0.2 8080 tcp dev srv1 $CUR
	check "--service refused by services add: says so and rolls back" sh -c \
		"grep -q 'services add 10.99.0.2 8080 tcp dev srv1 failed' '$T/out' && grep -q 'rolling back' '$T/out'"

	run_deploy --service 10.99.0.1 08080 tcp dev vpod1 --service 2001:DB8:99::1 0 udp dev vpod2 $CUR
	expect_deployed "deploy --service twice" "$(json 198.51.100.7 6080 true 1400)"
	expect_eq "deploy --service twice: both listed, on their veths" \
		"10.99.0.1 8080 tcp vpod1 2001:db8:99::1 0 udp vpod2 " "$(services)"
	check "deploy --service twice: says what it added" sh -c \
		"grep -q '^service 10.99.0.1 8080 tcp: dev vpod1 .*(added)' '$T/out' && grep -q '^service 2001:db8:99::1 0 udp: dev vpod2 .*(added)' '$T/out'"
	expect_eq "deploy --service: the netnsid of each pod" "$(S ip -j link show dev vpod1 | jq '.[0].link_netnsid') $(S ip -j link show dev vpod2 | jq '.[0].link_netnsid')" \
		"$(S "$CONFIG_TOOL" show -j | jq -r '[.services[] | .netnsid] | sort | map(tostring) | join(" ")')"
	run_deploy --service 10.99.0.1 8080 tcp dev vpod1 $CUR
	expect_deployed "redeploy the same --service" "$(json 198.51.100.7 6080 true 1400)"
	expect_eq "redeploy the same --service: services unchanged" \
		"10.99.0.1 8080 tcp vpod1 2001:db8:99::1 0 udp vpod2 " "$(services)"
	id3=$(prog_id)

	# A failed deploy puts a service it moved back on its veth and deletes
	# one it added (state() compares show, ifindex and netnsid included).
	expect_refused "rollback: --service moved and added are undone" 2 --service 10.99.0.1 8080 tcp dev vpod2 \
		--service 10.99.0.2 80 tcp dev vpod1 $CUR "$T/bad.o"
	# One that pointed at a veth that is gone cannot be put back: said.
	S ip link add vgone type veth peer name eth1 netns "$(ns pod1)"
	S "$CONFIG_TOOL" services add 10.99.0.3 80 tcp dev vgone >/dev/null
	S ip link del vgone
	run_deploy --service 10.99.0.3 80 tcp dev vpod1 $CUR "$T/bad.o"
	check "rollback: a service whose veth was gone stays on this run's, and says so" sh -c \
		"[ $rc = 2 ] && grep -q 'service 10.99.0.3 80 tcp pointed at a veth that is gone' '$T/out' &&
		 [ '$(services)' = '10.99.0.1 8080 tcp vpod1 10.99.0.3 80 tcp vpod1 2001:db8:99::1 0 udp vpod2 ' ]"
	expect_eq "rollback with --service: same program" "$id3" "$(prog_id)"
}
S "$CONFIG_TOOL" services del 10.99.0.1 8080 tcp >/dev/null
S "$CONFIG_TOOL" services del 10.99.0.3 80 tcp >/dev/null
S "$CONFIG_TOOL" services del 2001:db8:99::1 0 udp >/dev/null

# ---- a configuration that does not read back as asked: nothing swapped ----

# A cls-redirect-config that writes "mtu 1300" as no limit (mtu 0): deploy.sh finds
# the tools next to itself, so a copy of it runs with this one.
mkdir "$T/lying"
cp "$DEPLOY" "$T/lying/deploy.sh"
ln -s "$STAT_TOOL" "$T/lying/cls-redirect-stat"
cat >"$T/lying/cls-redirect-config" <<EOF
#!/bin/sh
[ "\$1" = set ] || exec "$CONFIG_TOOL" "\$@"
shift
args=
while [ \$# -gt 0 ]; do
	if [ "\$1 \${2:-}" = "mtu 1300" ]; then args="\$args mtu 0"; shift; else args="\$args \$1"; fi
	shift
done
exec "$CONFIG_TOOL" set \$args
EOF
chmod +x "$T/lying/cls-redirect-config"
DEPLOY_REAL=$DEPLOY DEPLOY=$T/lying/deploy.sh
expect_refused "config not written as asked: nothing swapped" 2 --mtu 1300 "$DEV" "$SRV" 19523 "$OBJ"
DEPLOY=$DEPLOY_REAL
check "config not written as asked: says which field" grep -q "reads back as mtu '0' (not '1300')" "$T/out"
check "config not written as asked: before the replace" sh -c "! grep -q 'cannot be restored' '$T/out'"
expect_eq "config not written as asked: same program" "$id3" "$(prog_id)"

# ---- a foreign filter at our pref is never replaced ----

S tc qdisc add dev srv1 clsact
S tc filter add dev srv1 ingress protocol all pref "$PREF" bpf bytecode '1,6 0 0 0,'
expect_refused "foreign filter at pref $PREF" 2 srv1 "$SRV" 19523
S tc qdisc del dev srv1 clsact 2>/dev/null || true

# ---- undeploy --keep-maps ----

run_undeploy "$DEV" --keep-maps
check "undeploy --keep-maps" sh -c "[ $rc = 0 ] && [ -z '$(ours "$DEV")' ] && [ '$(qdiscs "$DEV")' = 0 ]"
expect_eq "undeploy --keep-maps: pins kept" "cls_redirect_config cls_redirect_hops cls_redirect_metrics cls_redirect_services cls_redirect_sources " "$(pins)"
expect_eq "undeploy --keep-maps: config kept" "$(json 198.51.100.7 6080 true 1400)" "$(config_json)"
expect_eq "undeploy --keep-maps: counters kept" "$seen" "$(counter processed_packets_total)"

run_undeploy "$DEV" --keep-maps
check "undeploy again: nothing to do" sh -c "[ $rc = 0 ] && grep -q 'no cls-redirect filter' '$T/out'"

# A later deploy starts from the kept counters.
run_deploy "$DEV" "$SRV" 19523
expect_deployed "deploy after undeploy --keep-maps" "$(json "$SRV" 19523)"
expect_eq "deploy after undeploy --keep-maps: counters kept" "$seen" "$(counter processed_packets_total)"

# The lists only grow on a redeploy; --allow-any adds 0.0.0.0/0 to both.
run_deploy --source 192.0.2.128/25 --allow-any "$DEV" "$SRV" 19523
expect_eq "redeploy --allow-any --source: lists grow" \
	'0 {"sources":["0.0.0.0/0","'"$CLI"'/32","192.0.2.128/25"],"hops":["0.0.0.0/0","203.0.113.0/24"]}' \
	"$rc $(lists)"
S "$CONFIG_TOOL" sources del 0.0.0.0/0 192.0.2.128/25
S "$CONFIG_TOOL" hops del 0.0.0.0/0

# ---- undeploy with other filters and other devices ----

# Another filter on the qdisc: the qdisc stays.
S tc filter add dev "$DEV" egress protocol all pref 7 bpf bytecode '1,6 0 0 0,'
run_deploy "$DEV" "$SRV" 19523 "$OBJ"
run_deploy srv1 "$SRV" 19523
expect_eq "deploy second device" 0 "$rc" "exit status ($(out))"
run_undeploy "$DEV"
check "undeploy: other filter keeps the qdisc" sh -c \
	"[ $rc = 0 ] && [ -z '$(ours "$DEV")' ] && [ '$(qdiscs "$DEV")' = 1 ] && [ \$(echo '$(filters "$DEV" egress)' | grep -c 'pref 7 ') = 1 ]"
expect_eq "undeploy: maps kept while another device has the classifier" \
	"cls_redirect_config cls_redirect_hops cls_redirect_metrics cls_redirect_services cls_redirect_sources " "$(pins)"
check "undeploy: other device untouched" [ -n "$(ours srv1)" ]
S tc filter del dev "$DEV" egress pref 7
S tc qdisc del dev "$DEV" clsact

# ---- undeploy, maps removed ----

run_undeploy srv1
check "undeploy" sh -c "[ $rc = 0 ] && [ -z '$(ours srv1)' ] && [ '$(qdiscs srv1)' = 0 ]"
expect_eq "undeploy: pins removed" "" "$(pins)"
rc=0
S "$STAT_TOOL" -j >/dev/null 2>&1 || rc=$?
expect_eq "undeploy: stat finds no maps" 2 "$rc" "cls-redirect-stat exit status"

# ---- the legacy flavour with a tc built without libbpf (TC=...) ----

if LEGACY_TC=$(sh "$REPO/selftests/lib/legacy-tc.sh" 2>"$T/legacy.err"); then
	LOBJ=$REPO/obj/cls_redirect_legacy.o
	rc=0
	# shellcheck disable=SC2086 # FLEET is a list of options
	S env TC="$LEGACY_TC" sh "$DEPLOY" $FLEET "$DEV" "$SRV" 19523 "$LOBJ" >"$T/out" 2>&1 || rc=$?
	expect_deployed "legacy tc: deploy" "$(json "$SRV" 19523)"
	lid1=$(prog_id)
	send 4
	rc=0
	# shellcheck disable=SC2086 # FLEET is a list of options
	S env TC="$LEGACY_TC" sh "$DEPLOY" $FLEET "$DEV" "$SRV" 19523 "$LOBJ" >"$T/out" 2>&1 || rc=$?
	expect_deployed "legacy tc: redeploy" "$(json "$SRV" 19523)"
	lid2=$(prog_id)
	check "legacy tc: redeploy: new program id" sh -c "[ -n '$lid2' ] && [ '$lid2' != '$lid1' ]"
	expect_eq "legacy tc: redeploy: counters survive" 4 "$(counter processed_packets_total)" processed_packets_total
	# Pins removed under it (tc's legacy loader names neither the program
	# nor its maps): set makes no map the program would never read, it
	# names the program and prints the commands that pin its maps back
	# (the trust lists stay pinned).
	rm -f "$PIN/cls_redirect_config" "$PIN/cls_redirect_metrics"
	rc=0
	S "$CONFIG_TOOL" set addr "$SRV" port 19523 >"$T/out" 2>&1 || rc=$?
	check "legacy tc: set with the pins removed refuses, naming the program" sh -c \
		"[ $rc = 2 ] && [ '$(pins)' = 'cls_redirect_hops cls_redirect_services cls_redirect_sources ' ] && grep -q 'cls_redirect_config not found, but cls_redirect program id $lid2 attached on $DEV uses maps' '$T/out'"
	sed -n 's/.*re-pin them with: \(.*\) (or tc filter.*/\1/p' "$T/out" | tr ';' '\n' | while read -r c; do $c; done
	rc=0
	expect_deployed "legacy tc: re-pinned as told" "$(json "$SRV" 19523)"
	expect_eq "legacy tc: re-pinned: counters kept" 4 "$(counter processed_packets_total)" processed_packets_total
	rc=0
	S env TC="$LEGACY_TC" sh "$UNDEPLOY" "$DEV" >"$T/out" 2>&1 || rc=$?
	check "legacy tc: undeploy" sh -c "[ $rc = 0 ] && [ -z '$(ours "$DEV")' ] && [ '$(qdiscs "$DEV")' = 0 ] && [ -z '$(pins)' ]"
else
	skip "legacy tc" "no tc without libbpf: $(tr '\n' ' ' <"$T/legacy.err")"
fi

# ---- undeploy keeps the maps while cls_redirect attached by hand runs ----

# By hand on another device's egress: the maps stay, the filter is named.
run_deploy "$DEV" "$SRV" 19523
S tc qdisc add dev srv1 clsact
S tc filter add dev srv1 egress bpf da obj "$OBJ"
run_undeploy "$DEV"
check "undeploy: hand-attached filter elsewhere keeps the maps" sh -c "[ $rc = 0 ] && [ -z '$(ours "$DEV")' ] &&
	grep -q 'kept the maps in $PIN: still used by srv1 egress pref 49152 handle 0x1 (attached by hand: tc filter del dev srv1 egress pref 49152)\$' '$T/out'"
expect_eq "undeploy: hand-attached filter elsewhere: pins kept" "cls_redirect_config cls_redirect_hops cls_redirect_metrics cls_redirect_services cls_redirect_sources " "$(pins)"
S tc qdisc del dev srv1 clsact

# By hand on DEV itself (tc filter add without a pref: 49152), no deploy.sh.
S tc qdisc add dev "$DEV" clsact
S tc filter add dev "$DEV" ingress bpf da obj "$OBJ"
run_undeploy "$DEV"
check "undeploy: hand-attached filter on DEV keeps the maps and says so" sh -c "[ $rc = 0 ] &&
	grep -q '$DEV: cls_redirect still runs at ingress pref 49152 handle 0x1, not deploy.sh.s filter: remove it with tc filter del dev $DEV ingress pref 49152' '$T/out' &&
	grep -q 'still used by $DEV ingress pref 49152 handle 0x1 (attached by hand' '$T/out'"
expect_eq "undeploy: hand-attached filter on DEV: pins kept" "cls_redirect_config cls_redirect_hops cls_redirect_metrics cls_redirect_services cls_redirect_sources " "$(pins)"
expect_eq "undeploy: hand-attached filter on DEV: untouched" 1 "$(filters "$DEV" ingress | grep -c ' pref 49152 ')"
S tc qdisc del dev "$DEV" clsact
run_undeploy "$DEV"
check "undeploy: no filter left: maps removed" sh -c "[ $rc = 0 ] && [ -z '$(pins)' ]"

# ---- undeploy of a device that is gone (systemd ExecStop after BindsTo) ----

run_deploy srv1 "$SRV" 19523
expect_eq "deploy srv1 before it goes" 0 "$rc" "exit status ($(out))"
S ip link del srv1
run_undeploy srv1 --keep-maps
expect_eq "undeploy gone device --keep-maps" "0 undeploy.sh: srv1: no such device (gone?): no filter or qdisc left on it" \
	"$rc $(out | sed 's/ $//')" "exit status and output"
expect_eq "undeploy gone device --keep-maps: pins kept" "cls_redirect_config cls_redirect_hops cls_redirect_metrics cls_redirect_services cls_redirect_sources " "$(pins)"
run_undeploy srv1
check "undeploy gone device: exit 0, maps removed" sh -c "[ $rc = 0 ] && [ -z '$(pins)' ] &&
	grep -q 'srv1: no such device' '$T/out' && grep -q 'removed the pinned maps' '$T/out'"
run_undeploy nosuch0
expect_eq "undeploy no such device" 0 "$rc" "exit status ($(out))"
run_undeploy 'bad/name'
expect_eq "undeploy bad DEV" 1 "$rc" "exit status ($(out))"
run_undeploy
expect_eq "undeploy no arguments" 1 "$rc" "exit status ($(out))"
run_undeploy "$DEV" --bogus
expect_eq "undeploy unknown option" 1 "$rc" "exit status ($(out))"

test_done
