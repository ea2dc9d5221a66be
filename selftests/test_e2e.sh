#!/bin/sh
# test_e2e: the whole load balancer path with real sockets (tc-cls-redirect.8,
# DESCRIPTION, DECISION TABLE and EXAMPLES): a client, a director that encapsulates in GUE with a hop list,
# and two backend servers A and B with the classifier attached by tc and
# configured by cls-redirect-config.  The topology is in lib/topology.sh.
#
# Every case checks what the client sees (the data comes back intact, the
# right server answers, the reset or the reply arrives) and exactly which
# counters moved on each server, by how much: the director counts every
# packet it encapsulates, so "all N packets reached A and were forwarded to
# B, and B accepted all N" is a comparison of whole numbers.
#
# E2E_FLAVOUR=xdp runs every case with the XDP flavour instead, attached as
# native XDP with ip link (tc-cls-redirect.8, XDP); test_e2e_xdp.sh does.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"
. "$REPO/selftests/lib/topology.sh"

topo_require test_e2e

C=10.0.4.2 # a third alternative that does not exist: never reached

TOPO_FLAVOUR=${E2E_FLAVOUR:-tc}
if [ "$TOPO_FLAVOUR" = xdp ]; then
	OBJ=obj/cls_redirect_xdp_btf.o LEGACY_OBJ=obj/cls_redirect_xdp_legacy.o HOW="XDP flavour, ip link, native"
else
	OBJ=obj/cls_redirect_btf.o LEGACY_OBJ=obj/cls_redirect_legacy.o HOW="btf, system tc"
fi
topo_up || { fail "e2e: topology" "could not build the namespaces (see above)"; exit 1; }
if ! topo_attach "$REPO/$OBJ"; then
	fail "e2e: attach" "cls-redirect-config, tc filter add or ip link set xdp failed on a server (see above)"
	exit 1
fi
pass "e2e: topology up, classifier ($HOW) attached on A and B"

vip() { [ "$1" = 6 ] && echo $TOPO_VIP6 || echo $TOPO_VIP4; }
l3() { [ "$1" = 6 ] && echo l3_protocol_packets_total_ipv6 || echo l3_protocol_packets_total_ipv4; }

# expect_reply CASE WANT: PASS if the last client reply is WANT.
expect_reply() { expect_eq "$1" "$2" "$REPLY" "client"; }

# seen PROTO FAMILY N: the counters every server bumps for N inner packets.
seen() { echo "processed_packets_total=$3 $(l3 "$2")=$3 l4_protocol_packets_total_$1=$3"; }

# ---- second chance: a flow that lives on B keeps living when A comes first --

# second_chance LABEL PROTO FAMILY BYTES: PROTO tcp|udp, BYTES each way (TCP)
# or datagrams (UDP).
second_chance() {
	_l=$1 _p=$2 _v=$3 _n=$4
	topo_director b
	if ! client_start 1 "$_p" "$_v" || ! client_do 1 "x $([ "$_p" = tcp ] && echo 65536 || echo 3)" ||
		[ "$REPLY" != "ok server B" ]; then
		fail "$_l: flow opened on B while the director sends to B only" "$REPLY"
		client_end 1
		return
	fi
	pass "$_l: flow opened on B while the director sends to B only"

	settle
	snap sc0
	topo_director a b
	client_do 1 "x $_n"
	expect_reply "$_l: flow survives 'A first, then B' ($_n $([ "$_p" = tcp ] && echo bytes both ways || echo datagrams))" \
		"ok server B"
	_alive=0
	[ "$REPLY" = "ok server B" ] || _alive=1
	settle
	snap sc1
	_d=$(sent_between sc0 sc1)
	expect_delta "$_l: A forwarded all $_d packets to B" sc0 sc1 a \
		$(seen "$_p" "$_v" "$_d") forwarded_packets_total_gue="$_d"
	expect_delta "$_l: B accepted all $_d packets as last hop" sc0 sc1 b \
		$(seen "$_p" "$_v" "$_d") accepted_packets_total_last_hop="$_d"
	if [ $_alive != 0 ]; then
		client_end 1
		return
	fi

	# With an alternative left after B, B must recognise its own flow by
	# a socket lookup (a TCP connection or a connected UDP socket).
	topo_director a b $C
	client_do 1 "x $([ "$_p" = tcp ] && echo 262144 || echo 20)"
	expect_reply "$_l: flow survives 'A, then B, then C'" "ok server B"
	settle
	snap sc2
	_d=$(sent_between sc1 sc2)
	expect_delta "$_l: A forwarded all $_d packets to B (A, B, C)" sc1 sc2 a \
		$(seen "$_p" "$_v" "$_d") forwarded_packets_total_gue="$_d"
	expect_delta "$_l: B found its socket for all $_d packets (A, B, C)" sc1 sc2 b \
		$(seen "$_p" "$_v" "$_d") accepted_packets_total_established="$_d"

	topo_director a b
	client_end 1 || fail "$_l: flow closes cleanly" "$REPLY"
	settle
}

# new_flows LABEL PROTO FAMILY: new flows while the director sends to A, then B.
new_flows() {
	_l=$1 _p=$2 _v=$3
	topo_director a b
	settle
	snap nf0
	if [ "$_p" = tcp ]; then
		# The SYN is accepted on A, and so is the rest of the connection.
		client_start 2 tcp "$_v" && client_do 2 "x 65536"
		expect_reply "$_l: new connection is served by A" "ok server A"
		client_end 2
		settle
		snap nf1
		_d=$(sent_between nf0 nf1)
		expect_delta "$_l: A accepted the SYN and the $((_d - 1)) packets after it" nf0 nf1 a \
			$(seen tcp "$_v" "$_d") accepted_packets_total_syn=1 \
			accepted_packets_total_established=$((_d - 1))
		expect_delta "$_l: B saw nothing of A's new connection" nf0 nf1 b

		# A segment of no connection: A has a listener but no socket and no
		# SYN cookie for it, so it walks on to B, which is the last hop and
		# answers with a reset, straight to the client.
		_r=$(in_ns cli "$PEER" tcp-rst "$_v" "$(vip "$_v")" $TOPO_APP_PORT)
		case $_r in ok*) pass "$_l: unknown mid-flow segment gets a reset from the last hop" ;;
		*) fail "$_l: unknown mid-flow segment gets a reset from the last hop" "$_r" ;; esac
		settle
		snap nf2
		expect_delta "$_l: A forwarded the unknown segment" nf1 nf2 a \
			$(seen tcp "$_v" 1) forwarded_packets_total_gue=1
		expect_delta "$_l: B accepted the unknown segment as last hop" nf1 nf2 b \
			$(seen tcp "$_v" 1) accepted_packets_total_last_hop=1
	else
		# A new UDP flow is unknown everywhere (A only has an unconnected
		# socket): it walks the chain and the last hop answers it.
		client_start 2 udp "$_v" && client_do 2 "x 5"
		expect_reply "$_l: new flow walks the chain and is answered by B (last hop)" "ok server B"
		client_end 2
		settle
		snap nf1
		_d=$(sent_between nf0 nf1)
		expect_delta "$_l: A forwarded the $_d datagrams of the new flow" nf0 nf1 a \
			$(seen udp "$_v" "$_d") forwarded_packets_total_gue="$_d"
		expect_delta "$_l: B accepted them as last hop" nf0 nf1 b \
			$(seen udp "$_v" "$_d") accepted_packets_total_last_hop="$_d"
	fi
}

# ---- PMTU: an ICMP error about B's connection, delivered to A first ----

# ptb LABEL FAMILY
ptb() {
	_l=$1 _v=$2
	topo_director b
	if ! client_start 3 tcp "$_v" || ! _port=${REPLY##* } || ! client_do 3 "x 65536"; then
		fail "$_l: connection on B" "$REPLY"
		client_end 3
		return
	fi
	_cli=$TOPO_CLI4 _route="ip route get $TOPO_CLI4 from $TOPO_VIP4"
	[ "$_v" = 6 ] && _cli=$TOPO_CLI6 _route="ip -6 route get $TOPO_CLI6 from $TOPO_VIP6"
	_before=$(in_ns srvb $_route | grep -o 'mtu [0-9]*')
	expect_eq "$_l: B's path MTU to the client starts unlowered" "" "$_before" "route"

	topo_director a b $C
	settle
	snap pt0
	client_do 3 "ptb 1400" || fail "$_l: sending the ICMP error" "$REPLY"
	settle
	snap pt1
	expect_delta "$_l: A forwarded the ICMP error (no socket for the quoted flow)" pt0 pt1 a \
		$(seen icmp "$_v" 1) forwarded_packets_total_gue=1
	expect_delta "$_l: B accepted it for its connection" pt0 pt1 b \
		$(seen icmp "$_v" 1) accepted_packets_total_established=1
	_after=$(in_ns srvb $_route | grep -o 'mtu [0-9]*')
	expect_eq "$_l: B's path MTU to the client is now 1400" "mtu 1400" "$_after" "route"
	_pmtu=$(in_ns srvb ss -tinH state established "( sport = :$TOPO_APP_PORT and dport = :$_port )" |
		grep -o 'pmtu:[0-9]*')
	expect_eq "$_l: B's connection uses path MTU 1400" "pmtu:1400" "$_pmtu" "ss -ti on B"
	topo_director a b
	client_do 3 "x 262144"
	expect_reply "$_l: connection keeps working with the smaller MTU" "ok server B"
	client_end 3
	in_ns srvb ip route flush cache >/dev/null 2>&1
	[ "$_v" = 6 ] && in_ns srvb ip -6 route flush cache >/dev/null 2>&1
	settle
}

# ---- the cases ----

for v in 4 6; do
	second_chance "tcp$v" tcp $v 1048576
	new_flows "tcp$v" tcp $v
	second_chance "udp$v" udp $v 200
	new_flows "udp$v" udp $v
done

ptb "icmp frag-needed" 4
ptb "icmpv6 packet-too-big" 6

# Health checks: echo requests with no alternative (N = 0), answered by A.
topo_director a
for v in 4 6; do
	snap ec0
	_r=$(in_ns cli "$PEER" ping "$v" "$(vip $v)" 3)
	expect_eq "echo$v: the VIP answers 3 echo requests (no alternatives)" "ok 3 replies" "$_r" "ping"
	settle
	snap ec1
	expect_delta "echo$v: A accepted 3 echo requests" ec0 ec1 a $(seen icmp $v 3) \
		accepted_packets_total_icmp_echo_request=3
done

# Traffic that is not for the classifier reaches A as it was sent.
settle
snap un0
_r=$(in_ns dir "$PEER" ping 4 $TOPO_A4 2)
expect_eq "untouched: plain IPv4 (echo to A's address)" "ok 2 replies" "$_r" "ping"
_r=$(in_ns dir "$PEER" ping 6 fd00:2::2 2)
expect_eq "untouched: plain IPv6 (echo to A's address)" "ok 2 replies" "$_r" "ping"
settle
snap un1
expect_delta "untouched: A passed the 4 packets, nothing else" un0 un1 a \
	processed_packets_total=4 passed_packets_total=4

# ARP: the director forgets A's MAC address and asks for it again.
in_ns dir ip neigh del $TOPO_A4 dev dira
_r=$(in_ns dir "$PEER" ping 4 $TOPO_A4 1)
expect_eq "untouched: ARP resolves A's address" "ok 1 replies" "$_r" "ping"
_mac=$(in_ns dir ip neigh show $TOPO_A4 dev dira | grep -o 'lladdr [0-9a-f:]*')
expect_eq "untouched: ARP answer has A's MAC address" "lladdr $(mac_of srva eth0)" "$_mac" "neighbour"
in_ns dir ip neigh replace $TOPO_A4 lladdr "$(mac_of srva eth0)" dev dira nud permanent
settle
snap un2
expect_delta "untouched: A passed the ARP request and the echo request" un1 un2 a \
	processed_packets_total=2 passed_packets_total=2

# A GUE packet (B first, an inner TCP SYN) to the wrong port, and to the right
# port of another address of A: both reach a UDP socket byte for byte.
inner="45000028 00010000 4006 0000 $(ip4hex $TOPO_CLI4) $(ip4hex $TOPO_VIP4)"
inner="45000028 00010000 4006 $(csum16 "$inner") $(ip4hex $TOPO_CLI4) $(ip4hex $TOPO_VIP4)"
gue="02040000 00000001 $(ip4hex $TOPO_B4) $inner 9c401f90 00000001 00000000 50020400 00000000"
in_ns srva ip addr add 10.0.2.3/24 dev eth0
in_ns dir ip neigh replace 10.0.2.3 lladdr "$(mac_of srva eth0)" dev dira nud permanent
for dst in "$TOPO_A4 $((TOPO_PORT + 1))" "10.0.2.3 $TOPO_PORT"; do
	set -- $dst
	in_ns srva "$PEER" udp-recv 4 "$2" "$gue" >"$TOPO_TMP/recv" 2>&1 &
	rpid=$!
	i=0
	while ! grep -q ready "$TOPO_TMP/recv" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	snap ug0
	in_ns dir "$PEER" udp-send 4 "$1" "$2" "$gue"
	wait $rpid
	expect_eq "untouched: GUE to $1:$2 arrives unchanged" "ready ok" "$(tr '\n' ' ' <"$TOPO_TMP/recv" | sed 's/ $//')" "receiver"
	settle
	snap ug1
	expect_delta "untouched: A passed the GUE packet to $1:$2" ug0 ug1 a \
		processed_packets_total=1 passed_packets_total=1
done

# ---- tc filter replace while a transfer is running ----

prog_id() {
	if [ "$TOPO_FLAVOUR" = xdp ]; then
		in_ns "srv$1" ip -j link show dev eth0 | jq -r '.[0].xdp.prog.id // empty'
	else
		in_ns "srv$1" tc filter show dev eth0 ingress | grep -o ' id [0-9]*' | head -n 1
	fi
}
# replace S: a new program in place of the old one on server S, atomically.
replace() {
	if [ "$TOPO_FLAVOUR" = xdp ]; then
		in_ns "srv$1" env TC_BPF_MNT="$(srv_mnt $1)" ip -force link set dev eth0 xdp \
			obj "$REPO/$OBJ" sec xdp
	else
		in_ns "srv$1" env TC_BPF_MNT="$(srv_mnt $1)" tc filter replace dev eth0 ingress pref 10 \
			handle 1 bpf da obj "$REPO/$OBJ"
	fi
}
topo_director b
if client_start 1 tcp 4 && client_do 1 "x 65536"; then
	topo_director a b
	settle
	snap rp0
	ida=$(prog_id a) idb=$(prog_id b)
	# 12 MiB in 64 KiB steps 25 ms apart: about five seconds of traffic,
	# well past the four replaces.
	eval "printf 'x 12582912 65536 25\n' >&$(_client_fd 1 in)"
	ok=
	for s in a b a b; do
		sleep 0.3
		replace $s || ok="replacing the program on $s failed"
	done
	mid=$(director_sent)
	client_read 1
	expect_reply "replace: transfer through A and B survives 4 filter replaces" "ok server B"
	[ -z "$ok" ] || fail "replace: program replaced in place" "$ok"
	settle
	snap rp1
	end=$(cat "$TOPO_TMP/rp1.dir")
	if [ "$mid" -lt "$end" ] && [ "$(prog_id a)" != "$ida" ] && [ "$(prog_id b)" != "$idb" ]; then
		pass "replace: new programs on A and B, replaced while packets were flowing"
	else
		fail "replace: new programs on A and B, replaced while packets were flowing" \
			"program ids A '$ida' -> '$(prog_id a)', B '$idb' -> '$(prog_id b)'; director count $mid after the replaces, $end at the end"
	fi
	d=$(sent_between rp0 rp1)
	expect_delta "replace: A's counters survive and count all $d packets" rp0 rp1 a \
		$(seen tcp 4 "$d") forwarded_packets_total_gue="$d"
	expect_delta "replace: B's counters survive and count all $d packets" rp0 rp1 b \
		$(seen tcp 4 "$d") accepted_packets_total_last_hop="$d"
	client_end 1
else
	fail "replace: connection on B" "$REPLY"
	client_end 1
fi

# ---- the legacy object with the tc built without libbpf ----

if [ "$TOPO_FLAVOUR" = xdp ]; then
	: # the legacy XDP object is loaded by test_xdp.sh, with an ip built without libbpf
elif LEGACY_TC=$(sh "$REPO/selftests/lib/legacy-tc.sh" 2>"$TOPO_TMP/legacy.log"); then
	if topo_attach "$REPO/$LEGACY_OBJ" "$LEGACY_TC"; then
		pass "legacy: classifier (legacy maps, tc without libbpf) attached on A and B"
		second_chance "legacy tcp4" tcp 4 1048576
		new_flows "legacy tcp4" tcp 4
	else
		fail "legacy: attach" "$LEGACY_TC filter add failed on a server (see above)"
	fi
else
	skip "legacy: second chance" "no tc without libbpf: $(tail -n 1 "$TOPO_TMP/legacy.log")"
fi

# The director itself never had to drop a packet for the VIP (no route, no
# neighbour, GSO): every count above is of packets it really sent.
set -- $("$ENCAPCTL" "$TC_BPF_MNT/tc/globals" stats)
expect_eq "e2e: the director encapsulated every packet for the VIP ($2 IPv4, $4 IPv6)" 0 "$6" "director drops"

test_done
