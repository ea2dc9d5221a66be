#!/bin/sh
# test_services: backends in containers end to end (tc-cls-redirect.8,
# CONTAINERS; cls-redirect-config.8, services).  The topology of test_e2e
# (lib/topology.sh), except that server A runs the VIP's TCP and UDP
# services in a pod: a network namespace of its own behind a veth, listed
# with cls-redirect-config services add.  A's own namespace has no socket
# and no address for the VIP.  B serves in its own namespace, as in
# test_e2e.
#
# Second chance both ways (a flow of A's pod arriving at B first, then at A
# with an alternative left; a flow of B arriving at A first), 1 MiB each way,
# connected UDP, IPv6 inside, frag-needed / packet-too-big reaching the pod's
# socket, health checks answered by the pod; then the pod is deleted (what
# would be delivered to it is dropped and counted, flows of B still pass A),
# recreated with a new veth and re-added, and traffic resumes.  Throughout,
# A's own namespace receives no TCP, UDP or ICMP packet (/proc/net/snmp).
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"
. "$REPO/selftests/lib/topology.sh"

POD4=10.0.9.2 POD6=fd00:9::2

topo_start services "$REPO/obj/cls_redirect_btf.o"

# A keeps no socket and no address for the VIP: its servers go (they are
# the only processes in its namespace), and so do the VIP's addresses.
for pid in $(ip netns pids "$(ns srva)"); do kill "$pid"; done
in_ns srva ip addr del "$TOPO_VIP4/32" dev lo
in_ns srva ip -6 addr del "$TOPO_VIP6/128" dev lo
# A routes its pod's answers to the client (direct server return).
in_ns srva sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

acfg() { in_ns srva env TC_BPF_MNT="$(srv_mnt a)" "$CONFIG_TOOL" "$@"; }

# pod_up NS VETH: the pod namespace NS behind VETH on A, with the VIP and
# e2e-peer servers named A, listed as services (port 0 of TCP, both
# families, for the health checks; UDP by its port).
pod_up() {
	_topo_ns "$1"
	veth_pair srva "$2" 10.0.9.1 "$1" eth0 $POD4
	_topo_v6 srva "$2" fd00:9::1 "$1" eth0 $POD6
	in_ns "$1" ip route add default via 10.0.9.1
	in_ns "$1" ip -6 route add default via fd00:9::1
	topo_serve "$1" A || return 1
	POD_PIDS=$TOPO_PIDS
	for _a in $TOPO_VIP4 $TOPO_VIP6; do
		acfg services add "$_a" 0 tcp dev "$2" >"$TOPO_TMP/add.out" || return 1
		acfg services add "$_a" $TOPO_APP_PORT udp dev "$2" >>"$TOPO_TMP/add.out" || return 1
	done
}

# What A's own namespace received: TCP segments, UDP datagrams (delivered
# or not), ICMP messages, both families.
host_rx() {
	in_ns srva awk '/^Tcp: [0-9]/ { t = $11 } /^Udp: [0-9]/ { u = $2 + $3 } /^Icmp: [0-9]/ { i = $2 }
		END { printf "tcp %s udp %s icmp %s", t, u, i }' /proc/net/snmp
	in_ns srva awk '/^Udp6InDatagrams|^Udp6NoPorts|^Icmp6InMsgs/ { s += $2 } END { printf " v6 %s\n", s }' \
		/proc/net/snmp6
}

big() { [ "$1" = tcp ] && echo 1048576 || echo 200; }

if ! pod_up pod1 vpod1; then
	fail "services: pod" "could not build the pod or list its services (see above)"
	exit 1
fi
pass "services: pod namespace behind vpod1 on A, VIP served there, 4 services listed"
HOST0=$(host_rx)

# ---- a flow of A's pod: B first, then A with an alternative left ----

pod_flow() {
	_l=$1 _p=$2 _v=$3 _n=$(big "$2")
	settle
	flow_open "$_l: flow opened in A's pod" 1 "$_p" "$_v" a "x 1000" || return
	pass "$_l: flow opened in A's pod"
	flow_send "$_l: flow survives 'B, then A, then C' ($_n $([ "$_p" = tcp ] && echo bytes each way || echo datagrams))" \
		1 "b a $TOPO_GONE4" "x $_n" A
	expect_chain fs0 fs1 - "$_p" "$_v" b a established "$_l: B forwarded all %s packets to A" \
		"$_l: A found the pod's socket for all %s packets"
	flow_close "$_l" 1 a
}

# ---- a flow of B: A first (looked up in the pod, not there), then B ----

b_flow() {
	_l=$1 _p=$2 _v=$3
	flow_open "$_l: flow opened on B" 2 "$_p" "$_v" b "x 1000" || return
	flow_send "$_l: B's flow survives 'A, then B'" 2 "a b" "x $(big "$_p")" B
	expect_chain fs0 fs1 - "$_p" "$_v" a b last_hop "$_l: A forwarded all %s packets to B" \
		"$_l: B accepted all %s as last hop"
	flow_close "$_l" 2 b
}

# ---- frag-needed / packet-too-big for the pod's connection, B first ----

pod_ptb() {
	_l=$1 _v=$2
	flow_open "$_l: connection in A's pod" 3 tcp "$_v" a "x 65536" || return
	_route="ip route get $TOPO_CLI4 from $TOPO_VIP4"
	[ "$_v" = 6 ] && _route="ip -6 route get $TOPO_CLI6 from $TOPO_VIP6"
	topo_director b a $TOPO_GONE4
	settle
	snap pt0
	client_do 3 "ptb 1400" || fail "$_l: sending the ICMP error" "$REPLY"
	settle
	snap pt1
	expect_chain pt0 pt1 1 icmp "$_v" b a established "$_l: B forwarded the ICMP error" \
		"$_l: A accepted it for the pod's connection"
	expect_eq "$_l: the pod's path MTU to the client is now 1400" "mtu 1400" \
		"$(in_ns pod1 $_route | grep -o 'mtu [0-9]*')" "route in the pod"
	topo_director a
	client_do 3 "x 262144"
	expect_reply "$_l: connection keeps working with the smaller MTU" "ok server A"
	client_end 3
	settle
}

for v in 4 6; do
	pod_flow "tcp$v" tcp $v
	b_flow "tcp$v" tcp $v
	pod_flow "udp$v" udp $v
	b_flow "udp$v" udp $v
done
pod_ptb "icmp frag-needed" 4
pod_ptb "icmpv6 packet-too-big" 6

# Health checks, answered from the pod (A has no VIP address of its own).
topo_director a
for v in 4 6; do
	expect_echo $v 3 "echo$v: the pod answers 3 echo requests" "echo$v: A delivered 3 echo requests into the pod"
done
expect_eq "nothing reached A's own namespace while the pod served" "$HOST0" "$(host_rx)" "A's /proc/net/snmp"

# ---- the pod is deleted ----

for pid in $POD_PIDS; do kill "$pid"; done
ip netns del "$(ns pod1)"
i=0
while in_ns srva ip link show vpod1 >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "pod deleted: its veth is gone" sh -c "! ip netns exec '$(ns srva)' ip link show vpod1 2>/dev/null"

topo_director a
settle
snap gone0
_r=$(in_ns cli "$PEER" ping 4 $TOPO_VIP4 1)
settle
snap gone1
expect_eq "pod gone: no answer to an echo request" "" "$(echo "$_r" | grep '^ok')" "ping"
expect_delta "pod gone: the echo request is dropped and counted" gone0 gone1 a $(seen icmp 4 1) \
	errors_total_service_gone=1
b_flow "pod gone: tcp4" tcp 4
b_flow "pod gone: udp6" udp 6
expect_eq "pod gone: nothing reached A's own namespace" "$HOST0" "$(host_rx)" "A's /proc/net/snmp"

# ---- recreated with a new veth, the services added again ----

if pod_up pod1 vpod2 && grep -q 'replaced dev (gone)' "$TOPO_TMP/add.out"; then
	pass "pod recreated behind vpod2: services add replaces the entries of the gone veth"
else
	fail "pod recreated" "$(cat "$TOPO_TMP/add.out")"
fi
pod_flow "after recreation: tcp4" tcp 4
pod_flow "after recreation: udp6" udp 6
topo_director a
_r=$(in_ns cli "$PEER" ping 6 $TOPO_VIP6 2)
expect_eq "after recreation: the pod answers echo requests" "ok 2 replies" "$_r" "ping"
expect_eq "after recreation: nothing reached A's own namespace" "$HOST0" "$(host_rx)" "A's /proc/net/snmp"
test_done
