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

TOPO_FLAVOUR=${E2E_FLAVOUR:-tc}
if [ "$TOPO_FLAVOUR" = xdp ]; then
	OBJ=obj/cls_redirect_xdp_btf.o LEGACY_OBJ=obj/cls_redirect_xdp_legacy.o HOW="XDP flavour, ip link, native"
else
	OBJ=obj/cls_redirect_btf.o LEGACY_OBJ=obj/cls_redirect_legacy.o HOW="btf, system tc"
fi
topo_start e2e "$REPO/$OBJ"
pass "e2e: topology up, classifier ($HOW) attached on A and B"

# ---- second chance: a flow that lives on B keeps living when A comes first --

# second_chance LABEL PROTO FAMILY BYTES: PROTO tcp|udp, BYTES each way (TCP)
# or datagrams (UDP).
second_chance() {
	_l=$1 _p=$2 _v=$3 _n=$4
	flow_open "$_l: flow opened on B while the director sends to B only" 1 "$_p" "$_v" b \
		"x $([ "$_p" = tcp ] && echo 65536 || echo 3)" || return
	pass "$_l: flow opened on B while the director sends to B only"

	flow_send "$_l: flow survives 'A first, then B' ($_n $([ "$_p" = tcp ] && echo bytes both ways || echo datagrams))" \
		1 "a b" "x $_n" B
	expect_chain fs0 fs1 - "$_p" "$_v" a b last_hop "$_l: A forwarded all %s packets to B" \
		"$_l: B accepted all %s packets as last hop"
	if [ "$REPLY" != "ok server B" ]; then
		client_end 1
		return
	fi

	# With an alternative left after B, B must recognise its own flow by
	# a socket lookup (a TCP connection or a connected UDP socket).
	flow_send "$_l: flow survives 'A, then B, then C'" 1 "a b $TOPO_GONE4" \
		"x $([ "$_p" = tcp ] && echo 262144 || echo 20)" B
	expect_chain fs0 fs1 - "$_p" "$_v" a b established "$_l: A forwarded all %s packets to B (A, B, C)" \
		"$_l: B found its socket for all %s packets (A, B, C)"
	flow_close "$_l" 1 "a b"
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
		expect_chain nf1 nf2 1 tcp "$_v" a b last_hop "$_l: A forwarded the unknown segment" \
			"$_l: B accepted the unknown segment as last hop"
	else
		# A new UDP flow is unknown everywhere (A only has an unconnected
		# socket): it walks the chain and the last hop answers it.
		client_start 2 udp "$_v" && client_do 2 "x 5"
		expect_reply "$_l: new flow walks the chain and is answered by B (last hop)" "ok server B"
		client_end 2
		settle
		snap nf1
		expect_chain nf0 nf1 - udp "$_v" a b last_hop "$_l: A forwarded the %s datagrams of the new flow" \
			"$_l: B accepted them as last hop"
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

	topo_director a b $TOPO_GONE4
	settle
	snap pt0
	client_do 3 "ptb 1400" || fail "$_l: sending the ICMP error" "$REPLY"
	settle
	snap pt1
	expect_chain pt0 pt1 1 icmp "$_v" a b established \
		"$_l: A forwarded the ICMP error (no socket for the quoted flow)" "$_l: B accepted it for its connection"
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
	expect_echo $v 3 "echo$v: the VIP answers 3 echo requests (no alternatives)" "echo$v: A accepted 3 echo requests"
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

# ---- the program replaced while a transfer is running ----

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
# xl_replace S: the same with xdp-loader (tc-cls-redirect.8, XDP).  Loaded
# alone (no kernel BTF, or a dispatcher the kernel refuses), xdp-loader
# cannot replace a program, only unload it and load another: the tc flavour,
# added first on the same pins, decides what arrives in between and lets
# through uncounted what the XDP flavour marked, and goes once the new
# program is in.  XL_HOW says how xdp-loader loaded the last one.
xl_replace() {
	_pin=$(srv_mnt $1)/tc/globals
	in_ns "srv$1" env TC_BPF_MNT="$(srv_mnt $1)" tc filter add dev eth0 ingress pref 10 handle 1 \
		bpf da obj "$REPO/obj/cls_redirect_btf.o" || return 1
	in_ns "srv$1" env LIBXDP_BPFFS="$(srv_mnt $1)" xdp-loader unload -a eth0 || return 1
	if in_ns "srv$1" env LIBXDP_BPFFS="$(srv_mnt $1)" xdp-loader load -v -m native -p "$_pin" eth0 \
		"$REPO/$OBJ" >"$TOPO_TMP/xl.log" 2>&1; then
		XL_HOW="through libxdp's dispatcher"
		grep -q 'Falling back to loading single prog' "$TOPO_TMP/xl.log" && XL_HOW="alone (no dispatcher)"
	elif in_ns "srv$1" env LIBXDP_BPFFS=/nonexistent xdp-loader load -m native -p "$_pin" eth0 \
		"$REPO/$OBJ" >"$TOPO_TMP/xl.log" 2>&1; then
		XL_HOW="alone (the kernel refused the dispatcher)"
	else
		cat "$TOPO_TMP/xl.log" >&2
		return 1
	fi
	in_ns "srv$1" tc filter del dev eth0 ingress pref 10 handle 1 bpf
}

# under_load LABEL WHAT REPLACE: REPLACE a, b, a, b while a TCP connection
# of B's, through A (second chance), carries 12 MiB: no reset, new programs,
# and every packet counted once on each server.
under_load() {
	_l=$1 _what=$2 _fn=$3
	topo_director b
	if ! client_start 1 tcp 4 || ! client_do 1 "x 65536"; then
		fail "$_l: connection on B" "$REPLY"
		client_end 1
		return
	fi
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
		$_fn $s || ok="replacing the program on $s failed"
	done
	mid=$(director_sent)
	client_read 1
	expect_reply "$_l: transfer through A and B survives 4 $_what" "ok server B"
	[ -z "$ok" ] || fail "$_l: program replaced in place" "$ok"
	settle
	snap rp1
	end=$(cat "$TOPO_TMP/rp1.dir")
	if [ "$mid" -lt "$end" ] && [ "$(prog_id a)" != "$ida" ] && [ "$(prog_id b)" != "$idb" ]; then
		pass "$_l: new programs on A and B, replaced while packets were flowing"
	else
		fail "$_l: new programs on A and B, replaced while packets were flowing" \
			"program ids A '$ida' -> '$(prog_id a)', B '$idb' -> '$(prog_id b)'; director count $mid after the replaces, $end at the end"
	fi
	expect_chain rp0 rp1 - tcp 4 a b last_hop "$_l: A's counters survive and count all %s packets" \
		"$_l: B's counters survive and count all %s packets"
	client_end 1
}

under_load replace "filter replaces" replace
if [ "$TOPO_FLAVOUR" = xdp ]; then
	if command -v xdp-loader >/dev/null; then
		XL_HOW=
		under_load "xdp-loader replace" "xdp-loader unload + load, bridged by the tc flavour" xl_replace
		[ -z "$XL_HOW" ] || pass "xdp-loader replace: xdp-loader loaded the program $XL_HOW"
	else
		fail "xdp-loader replace" "xdp-loader not installed (make deps installs xdp-tools)"
	fi
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
