#!/bin/sh
# test_route: forwarding along the host's routing table, the config flag
# route (tc-cls-redirect.8, ROUTE MODE), end to end with real sockets.
#
# The topology of lib/topology.sh (client, director/router, servers A and B),
# grown where swapping MAC addresses cannot reach the next server:
#
#   dir: br0 10.0.2.1 (the bridge of A's segment; dira and dirc are ports)
#     |-- dira ---- eth0 A 10.0.2.2, 10.0.7.2/24 (a subnet the router does
#     |                  not know)
#     |-- dirc ---- eth0 C 10.0.7.3 (same segment as A, not behind the
#     |                  router: the router has no route to 10.0.7.0/24)
#   A eth1 10.0.5.1 ---- eth0 D 10.0.5.2 (behind A's second interface;
#                        D answers clients over eth1 10.0.8.2 -- dird 10.0.8.1)
#   A eth2 10.0.9.2 ---- dirp 10.0.9.1 (A's second uplink, for policy routing:
#                        an `ip rule from`, and an `ip rule fwmark` for packets
#                        a filter before the classifier marks)
#
# No static neighbour between A and C or A and D: the first packet A forwards
# there has to wait for ARP.  C and D run the classifier and the echo servers
# like A and B; C, and B without the flag, also a GRE endpoint
# (selftests/bin/gre-endpoint) for GRE last hops.  A forwards; what its
# counters, the client's replies and the next servers' counters show is
# compared as whole numbers.
#
# Sysctls, each shown to matter or not by a case below: on A
# net.ipv4.conf.lo.forwarding (needed: off, every forward is no_route), IPv4
# forwarding elsewhere off, rp_filter strict (A's own filter never sees what it
# forwards); on D rp_filter strict (decapsulated packets arrive on eth0 while
# D's route to the client leaves through eth1: dropped) and loose (delivered).
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"
. "$REPO/selftests/lib/topology.sh"

C4=10.0.7.3 D4=10.0.5.2 X4=10.0.4.2 # X: an alternative that never answers

# ---- topology ----

# _route_server NAME LABEL ADDR: the namespace srvNAME (made already, eth0
# in it) gets the VIP, echo servers greeting with LABEL, a bpffs, clsact and
# the classifier configured for ADDR.
_route_server() {
	_s=srv$1 _d=$(srv_mnt "$1")
	in_ns "$_s" tc qdisc add dev eth0 clsact
	topo_bpffs "$1" || return 1
	topo_serve "$_s" "$2" || return 1
	TC_BPF_MNT=$_d "$CONFIG_TOOL" set addr "$3" port $TOPO_PORT >/dev/null 2>&1 || return 1
	# Open trust lists: this test is about routes (test_trust is about lists).
	TC_BPF_MNT=$_d "$CONFIG_TOOL" sources add 0.0.0.0/0 || return 1
	TC_BPF_MNT=$_d "$CONFIG_TOOL" hops add 0.0.0.0/0 || return 1
	in_ns "$_s" env TC_BPF_MNT="$_d" tc filter add dev eth0 ingress pref 10 handle 1 \
		bpf da obj "$REPO/obj/cls_redirect_btf.o"
}

route_topology() {
	# A's segment becomes a bridge in dir, with dir's address on it.
	_dmac=$(mac_of dir dira) _amac=$(mac_of srva eth0)
	in_ns dir ip addr flush dev dira
	in_ns dir ip link add br0 type bridge || return 1
	in_ns dir ip link set br0 address "$_dmac" mtu $TOPO_SERVER_MTU
	in_ns dir ip link set dira master br0
	in_ns dir ip addr add 10.0.2.1/24 dev br0
	in_ns dir ip -6 addr add fd00:2::1/64 dev br0 nodad
	in_ns dir ip link set br0 up
	in_ns dir ip neigh replace $TOPO_A4 lladdr "$_amac" dev br0 nud permanent
	in_ns dir ip -6 neigh replace fd00:2::2 lladdr "$_amac" dev br0 nud permanent

	# C, on that segment, in a subnet only A knows.
	_topo_ns srvc
	ip link add dirc netns "$(ns dir)" type veth peer name eth0 netns "$(ns srvc)" || return 1
	in_ns dir ip link set dirc mtu $TOPO_SERVER_MTU master br0 up
	in_ns srvc ip link set eth0 mtu $TOPO_SERVER_MTU up
	in_ns srvc ip addr add $C4/24 dev eth0
	in_ns srva ip addr add 10.0.7.2/24 dev eth0
	# C answers clients through the router (direct server return).
	in_ns srvc ip neigh replace 10.0.2.1 lladdr "$_dmac" dev eth0 nud permanent
	in_ns srvc ip route add default via 10.0.2.1 dev eth0 onlink
	in_ns srvc ip -6 addr add fd00:7::3/64 dev eth0 nodad
	in_ns srvc ip -6 neigh replace fd00:2::1 lladdr "$_dmac" dev eth0 nud permanent
	in_ns srvc ip -6 route add default via fd00:2::1 dev eth0 onlink
	_route_server c C $C4 || return 1

	# D, behind A's second interface; it answers clients over its own link
	# to the router, which has no route to 10.0.5.0/24.
	_topo_ns srvd
	ip link add eth1 netns "$(ns srva)" type veth peer name eth0 netns "$(ns srvd)" || return 1
	in_ns srva ip addr add 10.0.5.1/24 dev eth1
	in_ns srvd ip addr add $D4/24 dev eth0
	in_ns srva ip link set eth1 mtu $TOPO_SERVER_MTU
	in_ns srvd ip link set eth0 mtu $TOPO_SERVER_MTU
	in_ns srva ip link set eth1 up
	in_ns srvd ip link set eth0 up
	veth_pair dir dird 10.0.8.1 srvd eth1 10.0.8.2
	_topo_v6 dir dird fd00:8::1 srvd eth1 fd00:8::2
	in_ns srvd ip route add default via 10.0.8.1
	in_ns srvd ip -6 route add default via fd00:8::1
	_route_server d D $D4 || return 1

	# A's second uplink, for the policy routing case.
	veth_pair dir dirp 10.0.9.1 srva eth2 10.0.9.2
	in_ns dir ip link set dirp mtu $TOPO_SERVER_MTU
	in_ns srva ip link set eth2 mtu $TOPO_SERVER_MTU

	# A: IPv4 forwarding off everywhere, strict reverse path filter.
	in_ns srva sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=1 \
		net.ipv4.conf.eth0.rp_filter=1 net.ipv4.conf.eth1.rp_filter=1
	# Let the multicast listener reports of the new addresses pass.
	sleep 2
}

topo_start route "$REPO/obj/cls_redirect_btf.o"
route_topology || { fail "route: topology" "could not add C, D and A's second uplink (see above)"; exit 1; }
# A may forward anywhere: this test is about routes (test_trust is about lists).
TC_BPF_MNT=$(srv_mnt a) "$CONFIG_TOOL" hops add 0.0.0.0/0 ||
	{ fail "route: hops add 0.0.0.0/0 on A" "failed"; exit 1; }
pass "route: topology up: C on A's segment, D behind A's eth1, A's second uplink"

# ---- counters ----

# stat NAME COUNTER: one counter of server NAME.
stat() { srv_stat "$1" | jq -r ".$2"; }
# everything: the director's count and the counters of all four servers.
everything() { echo "$(director_sent) $(srv_stat a) $(srv_stat b) $(srv_stat c) $(srv_stat d)"; }
# quiet: waits until no packet is in flight (everything stays the same 200 ms).
quiet() { settle everything; }
# mark NAME: remembers the director's count and every server's counters.
mark() {
	director_sent >"$TOPO_TMP/$1.dir"
	for _s in a b c d; do srv_stat $_s >"$TOPO_TMP/$1.$_s"; done
}
# moved FROM TO SERVER COUNTER: how much the counter grew.
moved() {
	jq -nr --slurpfile x "$TOPO_TMP/$1.$3" --slurpfile y "$TOPO_TMP/$2.$3" "\$y[0].$4 - \$x[0].$4"
}
# accepted FROM TO SERVER: everything the server accepted.
accepted() {
	jq -nr --slurpfile x "$TOPO_TMP/$1.$3" --slurpfile y "$TOPO_TMP/$2.$3" \
		'[$y[0] | to_entries[] | select(.key | startswith("accepted_")) | .value - $x[0][.key]] | add'
}
# errors FROM TO SERVER: the error counters that moved, "name=increase ...".
errors() {
	jq -nr --slurpfile x "$TOPO_TMP/$1.$3" --slurpfile y "$TOPO_TMP/$2.$3" \
		'[$y[0] | to_entries[] | select(.key | startswith("errors_")) | select(.value != $x[0][.key]) |
		  "\(.key)=\(.value - $x[0][.key])"] | join(" ")'
}
a_config() { TC_BPF_MNT=$(srv_mnt a) "$CONFIG_TOOL" set addr $TOPO_A4 port $TOPO_PORT "$@" >/dev/null; }
tx_packets() { in_ns "$1" cat "/sys/class/net/$2/statistics/tx_packets"; }

# ---- one flow, A first, the next server after it ----

# flow LABEL PROTO FAMILY NEXT NAME [encapctl options]: a new flow with A
# first and NEXT (c, d, b) after it; TCP opens on NEXT (forward-syn, NEXT is
# the last hop) and sends 1 MiB each way, UDP sends 50 datagrams (a new flow
# is unknown everywhere and walks to the last hop).  Then, for TCP, one more
# unreachable alternative after NEXT: NEXT must find its socket.  PASS if the
# client's replies come from NAME and the counters add up.
flow() {
	_l=$1 _p=$2 _v=$3 _n=$4 _name=$5
	shift 5
	_next=$(_route_hop "$_n")
	topo_director a "$_next" -- forward-syn "$@"
	quiet
	mark f0
	if [ "$_p" = tcp ]; then _size=1048576; else _size=50; fi
	if client_start 1 "$_p" "$_v" && client_do 1 "x $_size"; then :; fi
	expect_eq "$_l: $_p$_v flow through A reaches $_name ($_size $([ "$_p" = tcp ] && echo bytes each way || echo datagrams))" \
		"ok server $_name" "$REPLY" "client"
	_ok=$REPLY
	if [ "$_p" = tcp ] && [ "$_ok" = "ok server $_name" ]; then
		topo_director a "$_next" $X4
		client_do 1 "x 262144"
		expect_eq "$_l: $_p$_v flow keeps going with an alternative after $_name (socket found there)" \
			"ok server $_name" "$REPLY" "client"
		topo_director a "$_next" -- forward-syn "$@"
	fi
	client_end 1 >/dev/null 2>&1
	quiet
	mark f1
	_d=$(($(cat "$TOPO_TMP/f1.dir") - $(cat "$TOPO_TMP/f0.dir")))
	_fw=$(($(moved f0 f1 a forwarded_packets_total_gue) + $(moved f0 f1 a forwarded_packets_total_gre)))
	expect_eq "$_l: A forwarded all $_d packets the director sent" "$_d" "$_fw" "A forwarded"
	expect_eq "$_l: $_name accepted all $_d packets" "$_d" "$(accepted f0 f1 "$_n")" "$_name accepted"
	expect_eq "$_l: no error on A or $_name" "" "$(errors f0 f1 a)$(errors f0 f1 "$_n")" "errors"
}
_route_hop() { case $1 in a | b) srv_addr "$1" ;; c) echo $C4 ;; d) echo $D4 ;; esac; }

# lost LABEL NEXT NAME: a new UDP flow through A to NEXT gets no answer; what
# A did with its packets is in the counters the caller checks.
lost() {
	topo_director a "$(_route_hop "$2")"
	quiet
	mark l0
	client_start 1 udp 4
	client_do 1 "x 1"
	case $REPLY in
	"ok server $3") fail "$1: a UDP datagram through A to $3 gets no answer" "it was answered: $REPLY" ;;
	*) pass "$1: a UDP datagram through A to $3 gets no answer" ;;
	esac
	client_end 1 >/dev/null 2>&1
	quiet
	mark l1
}

# ---- forwarding on lo alone makes A route nothing from the network ----

# C and D can reach each other only through A (eth0 and eth1).
in_ns srvc ip route add 10.0.5.0/24 via 10.0.7.2
in_ns srvd ip route add 10.0.7.0/24 via 10.0.5.1
in_ns srva sysctl -qw net.ipv4.conf.lo.forwarding=1
r=$(in_ns srvc "$PEER" ping 4 $D4 1 2>&1)
case $r in
ok*) fail "lo forwarding alone: A does not route C's echo request to D" "it did: $r" ;;
*) pass "lo forwarding alone: A does not route C's echo request to D" ;;
esac
in_ns srva sysctl -qw net.ipv4.ip_forward=1
r=$(in_ns srvc "$PEER" ping 4 $D4 1 2>&1)
expect_eq "with ip_forward=1 it does (the path is right)" "ok 1 replies" "$r" "ping from C to D"
in_ns srva sysctl -qw net.ipv4.ip_forward=0
expect_eq "writing ip_forward=0 turns lo's forwarding off too (set lo's afterwards)" 0 \
	"$(in_ns srva sysctl -n net.ipv4.conf.lo.forwarding)" "net.ipv4.conf.lo.forwarding"
in_ns srvc ip route del 10.0.5.0/24 via 10.0.7.2
in_ns srvd ip route del 10.0.7.0/24 via 10.0.5.1

# ---- without the flag: MAC swapping cannot reach C or D ----

in_ns srva sysctl -qw net.ipv4.conf.lo.forwarding=1
lost "mac swap" c C
expect_eq "mac swap: A forwarded the datagram to C ... back to the router" 1 \
	"$(moved l0 l1 a forwarded_packets_total_gue)" "A forwarded"
expect_eq "mac swap: ... which has no route to C: C got nothing" 0 "$(accepted l0 l1 c)" "C accepted"
lost "mac swap" d D
expect_eq "mac swap: D behind A's eth1 got nothing either" 0 "$(accepted l0 l1 d)" "D accepted"

# ---- the flag without net.ipv4.conf.lo.forwarding: no route ----

a_config route || fail "route: cls-redirect-config set ... route" "exit status $?"
expect_eq "route: show prints the flag" "addr $TOPO_A4 port $TOPO_PORT route" \
	"$(TC_BPF_MNT=$(srv_mnt a) "$CONFIG_TOOL" show | sed -n 1p)" "show"
in_ns srva sysctl -qw net.ipv4.conf.lo.forwarding=0
lost "route, lo forwarding off" c C
expect_eq "route, lo forwarding off: A dropped the datagram as no_route (bpf_fib_lookup: forwarding disabled)" \
	"errors_total_no_route=1" "$(errors l0 l1 a)" "A errors"
in_ns srva sysctl -qw net.ipv4.conf.lo.forwarding=1

# ---- with the flag: the first packet to a neighbour not yet known ----

in_ns srva ip neigh del $C4 dev eth0 2>/dev/null
in_ns srva ip neigh del $D4 dev eth1 2>/dev/null
for n in c d; do
	N=$(echo $n | tr cd CD)
	topo_director a "$(_route_hop $n)"
	quiet
	mark n0
	client_start 1 udp 4
	client_do 1 "x 1"
	expect_eq "route: the first datagram to $N (no neighbour entry on A yet) is answered" "ok server $N" "$REPLY" "client"
	client_end 1 >/dev/null 2>&1
	quiet
	mark n1
	expect_eq "route: ... A forwarded it, $N accepted it" "1 1" \
		"$(moved n0 n1 a forwarded_packets_total_gue) $(accepted n0 n1 $n)" "A forwarded, $N accepted"
done
_mac=$(in_ns srva ip neigh show $C4 dev eth0 | grep -o 'lladdr [0-9a-f:]*')
expect_eq "route: A resolved C's MAC address (ARP, by the kernel)" "lladdr $(mac_of srvc eth0)" "$_mac" "A's neighbour"
_mac=$(in_ns srva ip neigh show $D4 dev eth1 | grep -o 'lladdr [0-9a-f:]*')
expect_eq "route: A resolved D's MAC address on eth1" "lladdr $(mac_of srvd eth0)" "$_mac" "A's neighbour"

# ---- with the flag: second chance over both ----

for v in 4 6; do
	flow "route to C" tcp $v c C
	flow "route to C" udp $v c C
done
# D's route to the client leaves through eth1, the decapsulated packets come
# in on eth0: a strict reverse path filter drops them after the classifier
# accepted them.
in_ns srvd sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
lost "route, D's rp_filter strict" d D
expect_eq "route, D's rp_filter strict: A forwarded it, D's classifier accepted it, D's stack dropped it" \
	"1 1" "$(moved l0 l1 a forwarded_packets_total_gue) $(accepted l0 l1 d)" "A forwarded, D accepted"
in_ns srvd sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.eth0.rp_filter=2
for v in 4 6; do
	flow "route to D (rp_filter loose)" tcp $v d D
	flow "route to D (rp_filter loose)" udp $v d D
done

# ---- with the flag: GRE for the last hop, to a real GRE endpoint on C ----

# Not a kernel GRE device: kernels built without ip_gre (this test's VM) have
# none.  selftests/bin/gre-endpoint, in user space, gets every GRE packet the
# server's stack receives (a raw socket), checks its bytes (outer IPv4 from A
# to the server, a 4-byte GRE header without flags, protocol 0x0800 or
# 0x86DD, one whole inner packet of that version) and hands the inner packet
# to the stack through the tun device grec, as a GRE device would.  The
# server's classifier sees only GRE, which it passes: the client's answers
# and the endpoint's counts are the proof.

# gre_endpoint NAME ADDR: starts the GRE endpoint of server NAME (c, b) at
# its address ADDR, for packets from A.
gre_endpoint() {
	_gpid=$(in_ns "srv$1" "$REPO/selftests/bin/gre-endpoint" grec "$2" $TOPO_A4 "$TOPO_TMP/gre-$1.stats")
	case $_gpid in
	'' | *[!0-9]*) fail "GRE endpoint on srv$1: selftests/bin/gre-endpoint" "${_gpid:-no output}"; return 1 ;;
	esac
	cleanup_add "kill $_gpid"
	in_ns "srv$1" ip link set grec mtu $TOPO_SERVER_MTU up
	# The inner packets arrive on grec, which has no IPv4 address: the
	# kernel's reverse path filter, strict or loose, drops whatever arrives
	# on such an interface from a source routed elsewhere
	# (TcpExtIPReversePathFilter).  Off there.
	in_ns "srv$1" sysctl -qw net.ipv4.conf.grec.rp_filter=0
}
# gre_flow LABEL NAME PROTO FAMILY: a new flow with A first and server NAME,
# over GRE, the last hop; TCP sends 1 MiB each way, UDP 50 datagrams.
gre_flow() {
	_l=$1 _n=$2 _N=$(echo "$2" | tr bc BC)
	shift 2
	topo_director a "$(_route_hop "$_n")" -- forward-syn last-hop-gre
	settle gre_state
	mark g0
	set -- "$1" "$2" $(gre_stats)
	_g0=$(($4 + $6)) _b0=$8
	if [ "$1" = tcp ]; then _size=1048576; else _size=50; fi
	if client_start 1 "$1" "$2" && client_do 1 "x $_size"; then :; fi
	expect_eq "$_l: $1$2 flow through A reaches $_N's GRE endpoint, $_N answers ($_size $([ "$1" = tcp ] && echo bytes each way || echo datagrams))" \
		"ok server $_N" "$REPLY" "client"
	client_end 1 >/dev/null 2>&1
	settle gre_state
	mark g1
	set -- "$1" "$2" $(gre_stats)
	_d=$(($(cat "$TOPO_TMP/g1.dir") - $(cat "$TOPO_TMP/g0.dir")))
	expect_eq "$_l: $1$2: A sent all $_d packets as GRE, $_N's endpoint found each well formed and decapsulated it" \
		"$_d $_d 0" "$(moved g0 g1 a forwarded_packets_total_gre) $(($4 + $6 - _g0)) $(($8 - _b0))" \
		"A's forwarded_packets_total_gre, decapsulated, bad (the endpoint: $(gre_stats))"
	expect_eq "$_l: $1$2: no error on A or $_N" "" "$(errors g0 g1 a)$(errors g0 g1 "$_n")" "errors"
}
gre_stats() { cat "$TOPO_TMP/gre-$_n.stats"; }
gre_state() { echo "$(everything) $(gre_stats)"; }
if gre_endpoint c $C4; then
	for v in 4 6; do
		gre_flow "route, GRE last hop" c tcp $v
		gre_flow "route, GRE last hop" c udp $v
	done
fi

# ---- policy routing: hops in 10.0.3.0/24 leave through A's second uplink ----

# steered LABEL: a TCP flow (IPv4 inside) and a UDP flow (IPv6 inside)
# through A to B; then fw is what A forwarded, out what left through eth2.
# Nothing but forwarded packets leaves through eth2 (static neighbours, no
# IPv6 address on it).
steered() {
	mark s0
	_t0=$(tx_packets srva eth2)
	flow "$1" tcp 4 b B
	flow "$1" udp 6 b B
	out=$(($(tx_packets srva eth2) - _t0))
	mark s1
	fw=$(moved s0 s1 a forwarded_packets_total_gue)
}
# unsteered LABEL: a UDP flow through A to B, none of it through eth2.
unsteered() {
	_t0=$(tx_packets srva eth2)
	flow "$1" udp 4 b B
	expect_eq "$1: nothing more left through eth2" "$_t0" "$(tx_packets srva eth2)" "eth2 tx"
}

in_ns srva ip route add default via 10.0.9.1 dev eth2 table 200
in_ns srva ip rule add from $TOPO_A4 to 10.0.3.0/24 lookup 200 pref 100
steered "route, policy"
expect_eq "route, policy: all A forwarded to B left through its second uplink eth2 (ip rule from A to 10.0.3.0/24)" \
	"$fw" "$out" "eth2 tx packets"
in_ns srva ip rule del pref 100
unsteered "route, policy rule removed"

# ---- fwmark: a mark set before the classifier steers hops to eth2 ----

# skb->mark is part of the lookup where bpf_fib_lookup() takes
# BPF_FIB_LOOKUP_MARK (Linux 6.10); before, the classifier looks up without
# it and the rule cannot match (tc-cls-redirect.8, ROUTE MODE).
kernel_at_least() {
	_r=$(uname -r)
	_maj=${_r%%.*} _min=${_r#*.}
	_min=${_min%%[!0-9]*}
	[ "$_maj" -gt "$1" ] || { [ "$_maj" -eq "$1" ] && [ "$_min" -ge "$2" ]; }
}
in_ns srva ip rule add fwmark 0x2a lookup 200 pref 100
in_ns srva tc filter add dev eth0 ingress pref 5 handle 1 bpf da obj "$REPO/selftests/progs/set_mark.bpf.o" ||
	fail "route, fwmark: attaching selftests/progs/set_mark.bpf.o before the classifier on A" "tc filter add failed"
steered "route, fwmark"
if kernel_at_least 6 10; then
	expect_eq "route, fwmark: all A forwarded to B with mark 0x2a left through eth2 (ip rule fwmark 0x2a)" \
		"$fw" "$out" "eth2 tx packets"
else
	expect_eq "route, fwmark: kernel $(uname -r) before 6.10: the mark is not part of the lookup, nothing left through eth2" \
		0 "$out" "eth2 tx packets"
	skip "route, fwmark: all A forwarded with mark 0x2a left through eth2" \
		"kernel $(uname -r): bpf_fib_lookup() has no BPF_FIB_LOOKUP_MARK before Linux 6.10"
fi
in_ns srva tc filter del dev eth0 ingress pref 5
unsteered "route, fwmark, packets unmarked"
in_ns srva ip rule del pref 100

# ---- and the flag off again: MAC swapping, as before ----

a_config no-route
flow "mac swap again" udp 4 b B
lost "mac swap again" c C
expect_eq "mac swap again: C got nothing" 0 "$(accepted l0 l1 c)" "C accepted"
# The GRE last hop without the flag: back to the router, which routes it to B.
if gre_endpoint b "$(srv_addr b)"; then
	gre_flow "mac swap, GRE last hop" b tcp 4
	gre_flow "mac swap, GRE last hop" b udp 6
fi

set -- $("$ENCAPCTL" "$TC_BPF_MNT/tc/globals" stats)
expect_eq "route: the director encapsulated every packet for the VIP ($2 IPv4, $4 IPv6)" 0 "$6" "director drops"

test_done
