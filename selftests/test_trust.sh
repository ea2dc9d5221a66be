#!/bin/sh
# test_trust: the trust lists end to end (tc-cls-redirect.8, SECURITY).
#
# 1. The load-balancer topology of test_e2e (lib/topology.sh): client,
#    director, servers A and B, whose lists name the director and both
#    servers.  An attacker namespace behind the director, in no list, sends
#    GUE straight to A: a health check, a hop list pointing outside the
#    fleet, a loop A -> B -> A ...; nothing is delivered, forwarded or
#    answered, and each packet is counted once as untrusted_source.  The
#    trusted director with a hop outside the fleet: dropped as forbidden_hop
#    on A, never sent there.
# 2. Edits under traffic: while a listed and an unlisted source send GUE echo
#    requests, other prefixes are added and deleted in a loop (some of them
#    covering the listed source too); every packet from the listed source is
#    accepted, none from the unlisted one.
# 3. A delete takes effect at once: a source accepted (and so remembered by
#    the classifier) is refused from the first packet after its delete.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"
. "$REPO/selftests/lib/topology.sh"
. "$REPO/selftests/lib/frames.sh"

SENDRAW=$REPO/selftests/bin/sendraw
ATK=10.0.5.2
OUTSIDE=203.0.113.7

topo_start trust "$REPO/obj/cls_redirect_btf.o"
netns_add atk
veth_pair atk atk0 $ATK dir diratk 10.0.5.1
in_ns atk ip route add default via 10.0.5.1
DIR_MAC=$(mac_of dir diratk | tr -d :)
ATK_MAC=$(mac_of atk atk0 | tr -d :)
CLI_DIR_MAC=$(mac_of dir dir0 | tr -d :)
CLI_MAC=$(mac_of cli cli0 | tr -d :)

# counters SERVER NAME...: "name=value ..." of the server's counters.
counters() {
	_s=$1
	shift
	_j=$(srv_stat "$_s")
	for _c in "$@"; do printf '%s=%s ' "$_c" "$(printf '%s' "$_j" | jq -r ".$_c")"; done
}
# snmp NS GROUP FIELD: a counter of /proc/net/snmp in namespace NS.
snmp() {
	in_ns "$1" awk -v g="$2:" -v f="$3" '$1 == g { if (!n) { for (i = 2; i <= NF; i++) if ($i == f) c = i; n = 1 } else print $c }' /proc/net/snmp
}
in_echos() { snmp "srv$1" Icmp InEchos; }
out_of_dir() { snmp dir Ip ForwDatagrams; }

# Inner packets, from the attacker's (or the client's) point of view.
echo_req() { # SRC DST: an ICMP echo request
	_d="1234 0001 636c737265646972"
	echo "$(ipv4_header 36 1 1 "$1" "$2") 0800 $(csum16 "0800 0000 $_d") $_d"
}
tcp_ack() { # SRC DST: a TCP ACK to port 80 of an unknown flow
	_t="3039 0050 00000001 00000001 5010 ffff 0000 0000"
	_ph="$(ip4hex "$1") $(ip4hex "$2") 0006 0014"
	_c=$(csum16 "$_ph $_t")
	echo "$(ipv4_header 40 6 1 "$1" "$2") 3039 0050 00000001 00000001 5010 ffff $_c 0000"
}
# atk_send N HOPS K INNER: N GUE frames from the attacker to A.
atk_send() {
	in_ns atk "$SENDRAW" atk0 "$(gue_frame "$DIR_MAC" "$ATK_MAC" $ATK $TOPO_A4 $TOPO_PORT "$3" "$2" "$4" |
		tr -d ' ')" "$1"
}

# ---- 1. an attacker outside the lists ------------------------------------

watched="processed_packets_total passed_packets_total errors_total_untrusted_source accepted_packets_total_icmp_echo_request forwarded_packets_total_gue forwarded_packets_total_gre"
attack() { # LABEL N HOPS K INNER
	settle
	_a0=$(counters a $watched) _b0=$(counters b $watched) _e0=$(in_echos a) _f0=$(out_of_dir)
	atk_send "$2" "$3" "$4" "$5"
	settle
	expect_eq "trust: attacker $1: A drops each packet once as untrusted" \
		"processed_packets_total=$(($(echo "$_a0" | sed 's/.*processed_packets_total=\([0-9]*\).*/\1/') + $2))" \
		"$(counters a processed_packets_total | sed 's/ $//')" "A processed"
	_want=$(echo "$_a0" | sed 's/.*errors_total_untrusted_source=\([0-9]*\).*/\1/')
	expect_eq "trust: attacker $1: untrusted_source +$2" "$((_want + $2))" \
		"$(srv_stat a | jq -r .errors_total_untrusted_source)" "A errors_total_untrusted_source"
	expect_eq "trust: attacker $1: nothing accepted or forwarded by A" \
		"$(echo "$_a0" | sed 's/processed_packets_total=[0-9]* //; s/errors_total_untrusted_source=[0-9]* //')" \
		"$(counters a $watched | sed 's/processed_packets_total=[0-9]* //; s/errors_total_untrusted_source=[0-9]* //')" "A counters"
	expect_eq "trust: attacker $1: B sees nothing" "$_b0" "$(counters b $watched)" "B counters"
	expect_eq "trust: attacker $1: A's stack answers nothing" "$_e0" "$(in_echos a)" "A IcmpInEchos"
	# Only the attacker's own packets crossed the router: no reply, no
	# forward (the director's encapsulator has nothing to do with them).
	expect_eq "trust: attacker $1: the router forwarded only the attack" "$((_f0 + $2))" "$(out_of_dir)" \
		"dir IpForwDatagrams"
}
attack "health check" 5 "" 0 "$(echo_req $ATK $TOPO_VIP4)"
attack "hop list outside the fleet" 5 "$OUTSIDE" 0 "$(tcp_ack $ATK $TOPO_VIP4)"
loop=
i=0
while [ $i -lt 15 ]; do loop="$loop $TOPO_B4 $TOPO_A4"; i=$((i + 1)); done
attack "a loop A -> B -> A ... (30 hops)" 5 "$loop" 0 "$(tcp_ack $ATK $TOPO_VIP4)"

# The trusted director, with a forwarding-table row naming a server outside
# the fleet: A forwards nothing there.
topo_director a $OUTSIDE
settle
_a0=$(srv_stat a | jq -r '.errors_total_forbidden_hop, .forwarded_packets_total_gue' | tr '\n' ' ')
# Plain UDP to a port nobody listens on, through the director: no socket on
# A, so it would be forwarded.
udp="3039 2710 0010 0000 74657374 74657374"
in_ns cli "$SENDRAW" cli0 "$(echo "$CLI_DIR_MAC $CLI_MAC 0800 $(ipv4_header 36 17 7 $TOPO_CLI4 $TOPO_VIP4) $udp" |
	tr -d ' ')" 4
settle
set -- $_a0
expect_eq "trust: director's hop outside the fleet: A drops it as forbidden_hop" "$(($1 + 4)) $2" \
	"$(srv_stat a | jq -r '.errors_total_forbidden_hop, .forwarded_packets_total_gue' | tr '\n' ' ' | sed 's/ $//')" \
	"forbidden_hop forwarded_gue"
topo_director a b
settle
_b0=$(srv_stat b | jq -r .accepted_packets_total_last_hop)
in_ns cli "$SENDRAW" cli0 "$(echo "$CLI_DIR_MAC $CLI_MAC 0800 $(ipv4_header 36 17 8 $TOPO_CLI4 $TOPO_VIP4) $udp" |
	tr -d ' ')" 4
settle
expect_eq "trust: the same to a hop in the fleet: B accepts it" "$((_b0 + 4))" \
	"$(srv_stat b | jq -r .accepted_packets_total_last_hop)" "B accepted_packets_total_last_hop"

# ---- 2. edits under traffic --------------------------------------------------

# Server A's sources: the fleet and LISTED; the attacker's address ATK is
# never listed.  A background loop adds and deletes prefixes around both
# (some covering LISTED, none covering ATK) while both send echo requests
# straight to A.
LISTED=10.0.5.5
in_ns atk ip addr add $LISTED/24 dev atk0
TC_BPF_MNT=$(srv_mnt a) "$CONFIG_TOOL" sources add $LISTED ||
	fail "trust: edits: sources add $LISTED" "failed"
settle
s0=$(srv_stat a | jq -r '.errors_total_untrusted_source, .accepted_packets_total_icmp_echo_request' | tr '\n' ' ')
e0=$(in_echos a)
edit() { TC_BPF_MNT=$(srv_mnt a) "$CONFIG_TOOL" sources "$@" || echo "sources $* failed" >>"$TOPO_TMP/edit.err"; }
: >"$TOPO_TMP/edit.err"
(
	i=0
	while [ $i -lt 60 ]; do
		for p in 10.0.5.4/31 10.0.5.4/30 10.0.5.3/32 10.0.5.0/31 10.0.4.0/24 10.0.5.6/31; do
			edit add $p
			edit del $p
		done
		edit add 10.0.5.4/30 10.0.5.3 10.0.6.0/24
		edit del 10.0.5.4/30 10.0.5.3 10.0.6.0/24
		i=$((i + 1))
	done
) &
editor=$!
n=0
while kill -0 $editor 2>/dev/null && [ $n -lt 40 ]; do
	in_ns atk "$SENDRAW" atk0 "$(gue_frame "$DIR_MAC" "$ATK_MAC" $LISTED $TOPO_A4 $TOPO_PORT 0 "" \
		"$(echo_req $LISTED $TOPO_VIP4)" | tr -d ' ')" 50
	in_ns atk "$SENDRAW" atk0 "$(gue_frame "$DIR_MAC" "$ATK_MAC" $ATK $TOPO_A4 $TOPO_PORT 0 "" \
		"$(echo_req $ATK $TOPO_VIP4)" | tr -d ' ')" 50
	n=$((n + 1))
done
wait $editor
settle
set -- $s0
expect_eq "trust: edits under traffic ($n rounds): the unlisted source never accepted, the listed never refused" \
	"untrusted=$(($1 + 50 * n)) accepted_echo=$(($2 + 50 * n)) in_echos=$((e0 + 50 * n))" \
	"untrusted=$(srv_stat a | jq -r .errors_total_untrusted_source) accepted_echo=$(srv_stat a | jq -r .accepted_packets_total_icmp_echo_request) in_echos=$(in_echos a)" \
	"A counters"
expect_eq "trust: edits under traffic: every edit succeeded" "" "$(cat "$TOPO_TMP/edit.err")" "failed edits"
expect_eq "trust: edits under traffic: the list is as before" \
	'["10.0.0.1/32","10.0.2.2/32","10.0.3.2/32","10.0.5.5/32"]' \
	"$(TC_BPF_MNT=$(srv_mnt a) "$CONFIG_TOOL" show -j | jq -c .sources)" "sources"

# ---- 3. a delete takes effect at once ---------------------------------------

# A remembers the sources it found listed (tc-cls-redirect.8, SECURITY); a
# delete through cls-redirect-config makes it forget them.  TOGGLED sends,
# is deleted, sends again, ten times: accepted while listed, refused from
# the first packet after each delete returned.
TOGGLED=10.0.5.9
a_state() { srv_stat a; }
toggle_send() {
	in_ns atk "$SENDRAW" atk0 "$(gue_frame "$DIR_MAC" "$ATK_MAC" $TOGGLED $TOPO_A4 $TOPO_PORT 0 "" \
		"$(echo_req $TOGGLED $TOPO_VIP4)" | tr -d ' ')" 20
	settle a_state
}
s0=$(srv_stat a | jq -r '.errors_total_untrusted_source, .accepted_packets_total_icmp_echo_request' | tr '\n' ' ')
: >"$TOPO_TMP/edit.err"
n=0
while [ $n -lt 10 ]; do
	edit add $TOGGLED
	toggle_send
	edit del $TOGGLED
	toggle_send
	n=$((n + 1))
done
set -- $s0
expect_eq "trust: a source deleted $n times after it was accepted: refused at once each time" \
	"untrusted=$(($1 + 20 * n)) accepted_echo=$(($2 + 20 * n))" \
	"untrusted=$(srv_stat a | jq -r .errors_total_untrusted_source) accepted_echo=$(srv_stat a | jq -r .accepted_packets_total_icmp_echo_request)" \
	"A counters"
expect_eq "trust: delete at once: every edit succeeded" "" "$(cat "$TOPO_TMP/edit.err")" "failed edits"

test_done
