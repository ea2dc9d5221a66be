# The end-to-end topology: a client, a director and two backend servers in
# throwaway network namespaces.  Source it after lib/common.sh and
# private_bpffs (used by selftests/test_e2e.sh and examples/demo.sh):
#
#	. "$REPO/selftests/lib/topology.sh"
#	topo_up                          # namespaces, links, servers, director
#	topo_attach "$REPO/obj/cls_redirect_btf.o"   # classifier on A and B
#	topo_director B                  # "B only"
#	topo_director A B                # "A first, then B"
#
#   cli                dir (director/router)              srva, srvb
#   cli0 10.0.1.2  --  dir0 10.0.1.1
#   fd00:1::2          fd00:1::1
#                      dira 10.0.2.1   ------------  eth0 10.0.2.2 (A)
#                      fd00:2::1                     fd00:2::2, MTU 1600
#                      dirb 10.0.3.1   ------------  eth0 10.0.3.2 (B)
#                      fd00:3::1                     fd00:3::2, MTU 1600
#                      lo 10.0.0.1 (GUE source)      lo: VIP 10.99.0.1,
#                                                        fd00:99::1
#
# The director runs selftests/progs/encap.bpf.o on dir0's ingress: packets for the
# VIP leave encapsulated in GUE toward the first choice, with the others as
# hops.  Everything else is plain routing, including what a server forwards
# (it comes back on dira or dirb with another server as outer destination)
# and the servers' answers, which go straight to the client (direct server
# return).  Each server has the classifier on eth0's ingress, its own bpffs
# (its pins are its own), and echo servers on the VIP: TCP and UDP, IPv4 and
# IPv6, port 8080.
#
# Quiet links: static neighbours everywhere (no ARP, no neighbour discovery),
# no link-local addresses, no DAD, and a pause before the classifiers are
# attached for the multicast listener reports of the director's new
# addresses.  So the only packets a server's classifier sees are the ones a
# test sends, and its counters can be checked exactly.
#
# The client's interface has checksum and segmentation offload off: every
# packet it sends is a finished, MTU-sized frame, as on a real wire.

TOPO_VIP4=10.99.0.1
TOPO_VIP6=fd00:99::1
TOPO_CLI4=10.0.1.2
TOPO_CLI6=fd00:1::2
TOPO_A4=10.0.2.2
TOPO_B4=10.0.3.2
TOPO_DIR4=10.0.0.1
TOPO_PORT=19523
TOPO_APP_PORT=8080
TOPO_SERVER_MTU=1600
TOPO_GONE4=10.0.4.2 # an alternative, C, that does not exist: never reached

# A client that died must not take the test (and its cleanup) with it.
trap "" PIPE

PEER=$REPO/selftests/bin/e2e-peer
ENCAPCTL=$REPO/selftests/bin/encapctl
CONFIG_TOOL=$REPO/tools/cls-redirect-config
STAT_TOOL=$REPO/tools/cls-redirect-stat

# Every file the topology needs; topo_missing prints those not built.
topo_missing() {
	_m=
	for _f in obj/cls_redirect_btf.o obj/cls_redirect_legacy.o selftests/progs/encap.bpf.o \
		selftests/bin/encapctl selftests/bin/e2e-peer selftests/bin/sendraw tools/cls-redirect-config tools/cls-redirect-stat; do
		[ -e "$REPO/$_f" ] || _m="$_m $_f"
	done
	for _c in ethtool jq; do
		command -v "$_c" >/dev/null || _m="$_m $_c"
	done
	echo "${_m# }"
}

# topo_require NAME: fails test NAME and exits when a file or command the
# topology needs is missing.
topo_require() {
	_m=$(topo_missing)
	[ -z "$_m" ] || { fail "$1" "missing: $_m (run 'make' and 'make deps')"; exit 1; }
}

# topo_start NAME OBJ: the start of every topology test (test_NAME): what
# the topology needs is built, the namespaces are up, OBJ is attached on A
# and B (topo_attach).  On any failure: FAIL (NAME: topology, NAME: attach)
# and exit.
topo_start() {
	topo_require "test_$1"
	topo_up || { fail "$1: topology" "could not build the namespaces (see above)"; exit 1; }
	topo_attach "$2" || {
		fail "$1: attach" "cls-redirect-config, tc filter add or ip link set xdp failed on a server (see above)"
		exit 1
	}
}

# Server name (a, b) -> namespace, address, bpffs.
srv_addr() { case $1 in a) echo $TOPO_A4 ;; b) echo $TOPO_B4 ;; esac; }
srv_mnt() { echo "$TOPO_TMP/bpf-$1"; }

_topo_ns() { # NAME: a namespace with IPv6 on, but quiet
	netns_add "$1"
	in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.default.addr_gen_mode=1 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

_topo_v6() { # NS IF ADDR PEER_NS PEER_IF PEER_ADDR
	in_ns "$1" ip -6 addr add "$3/64" dev "$2" nodad
	in_ns "$4" ip -6 addr add "$6/64" dev "$5" nodad
	in_ns "$1" ip -6 neigh replace "$6" lladdr "$(mac_of "$4" "$5")" dev "$2" nud permanent
	in_ns "$4" ip -6 neigh replace "$3" lladdr "$(mac_of "$1" "$2")" dev "$5" nud permanent
}

# topo_serve NS NAME: the VIP on NS's lo, and e2e-peer echo servers that
# greet as "server NAME" on it: TCP and UDP, IPv4 and IPv6, port 8080.
# Their pids are in TOPO_PIDS.
topo_serve() {
	in_ns "$1" ip addr add "$TOPO_VIP4/32" dev lo
	in_ns "$1" ip -6 addr add "$TOPO_VIP6/128" dev lo nodad
	TOPO_PIDS=
	for _p in tcp udp; do
		for _v in 4 6; do
			_pid=$(in_ns "$1" "$PEER" "$_p-server" "$2" "$_v" $TOPO_APP_PORT) || return 1
			cleanup_add "kill $_pid"
			TOPO_PIDS="$TOPO_PIDS $_pid"
		done
	done
}

# topo_bpffs a|b|...: the server's own bpffs, mounted at srv_mnt.
topo_bpffs() {
	_mnt=$(srv_mnt "$1")
	mkdir -p "$_mnt"
	mount -t bpf bpf "$_mnt" || return 1
	cleanup_add "umount '$_mnt'"
}

_topo_server() { # a|b NET(2|3)
	_s=srv$1
	_topo_ns "$_s"
	veth_pair dir "dir$1" "10.0.$2.1" "$_s" eth0 "10.0.$2.2"
	_topo_v6 dir "dir$1" "fd00:$2::1" "$_s" eth0 "fd00:$2::2"
	in_ns dir ip link set "dir$1" mtu $TOPO_SERVER_MTU
	# A frame a server's XDP program sends back (XDP_TX) reaches a veth
	# peer only if that peer has an XDP program too (tc-cls-redirect.8, XDP).
	if [ "${TOPO_FLAVOUR:-tc}" = xdp ]; then
		in_ns dir ip link set dev "dir$1" xdp obj "$REPO/selftests/progs/xdp_pass.bpf.o" sec xdp || return 1
	fi
	in_ns "$_s" ip link set eth0 mtu $TOPO_SERVER_MTU
	in_ns "$_s" ip route add default via "10.0.$2.1"
	in_ns "$_s" ip -6 route add default via "fd00:$2::1"
	in_ns "$_s" tc qdisc add dev eth0 clsact
	topo_bpffs "$1" || return 1
	topo_serve "$_s" "$(echo "$1" | tr ab AB)"
}

# topo_up: builds the whole topology with the director passing everything
# (no classifier attached yet).
topo_up() {
	tmpdir TOPO_TMP
	for _n in cli dir; do _topo_ns $_n; done
	in_ns dir sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	veth_pair cli cli0 $TOPO_CLI4 dir dir0 10.0.1.1
	_topo_v6 cli cli0 $TOPO_CLI6 dir dir0 fd00:1::1
	in_ns cli ip route add default via 10.0.1.1
	in_ns cli ip -6 route add default via fd00:1::1
	in_ns cli ethtool -K cli0 tx off sg off tso off gso off >/dev/null || return 1
	in_ns dir ip addr add $TOPO_DIR4/32 dev lo
	_topo_server a 2 || return 1
	_topo_server b 3 || return 1
	in_ns dir tc qdisc add dev dir0 clsact
	in_ns dir env TC_BPF_MNT="$TC_BPF_MNT" tc filter add dev dir0 ingress pref 1 \
		bpf da obj "$REPO/selftests/progs/encap.bpf.o" sec classifier || return 1
	# Let the multicast listener reports of the new addresses pass before
	# any classifier can count them.
	sleep 2
}

# topo_attach OBJ [TC]: (re)attaches the classifier OBJ on both servers with
# TC (default: the system tc).  Each server starts from an empty bpffs, is
# configured first, trust lists included (cls-redirect-config creates the
# maps, tc reuses them,
# tc-cls-redirect.8, MAPS), then gets the filter with no sec (the default section).
# With TOPO_FLAVOUR=xdp, OBJ is the XDP flavour and goes on eth0 as native
# XDP with ip link (TC then names the ip to use; tc-cls-redirect.8, XDP).
# With TOPO_VERBOSE set, prints each command as an operator would type it.
topo_attach() {
	_tc=${2:-tc}
	for _s in a b; do
		in_ns "srv$_s" tc filter del dev eth0 ingress 2>/dev/null
		in_ns "srv$_s" ip link set dev eth0 xdp off 2>/dev/null
		rm -rf "$(srv_mnt $_s)/tc"
		_topo_say "$_s" "cls-redirect-config set addr $(srv_addr $_s) port $TOPO_PORT"
		TC_BPF_MNT=$(srv_mnt $_s) "$CONFIG_TOOL" set addr "$(srv_addr $_s)" port $TOPO_PORT \
			>/dev/null 2>&1 || return 1
		# The fleet: the director and both servers may send GUE, the
		# servers may be forwarded to (tc-cls-redirect.8, SECURITY).
		_topo_say "$_s" "cls-redirect-config sources add $TOPO_DIR4 $TOPO_A4 $TOPO_B4"
		TC_BPF_MNT=$(srv_mnt $_s) "$CONFIG_TOOL" sources add $TOPO_DIR4 $TOPO_A4 $TOPO_B4 ||
			return 1
		_topo_say "$_s" "cls-redirect-config hops add $TOPO_A4 $TOPO_B4"
		TC_BPF_MNT=$(srv_mnt $_s) "$CONFIG_TOOL" hops add $TOPO_A4 $TOPO_B4 || return 1
		if [ "${TOPO_FLAVOUR:-tc}" = xdp ]; then
			_topo_say "$_s" "ip link set dev eth0 xdp obj ${1#"$REPO/"} sec xdp"
			in_ns "srv$_s" env TC_BPF_MNT="$(srv_mnt $_s)" "${2:-ip}" link set dev eth0 \
				xdp obj "$1" sec xdp || return 1
			continue
		fi
		_topo_say "$_s" "tc filter add dev eth0 ingress pref 10 handle 1 bpf da obj ${1#"$REPO/"}"
		in_ns "srv$_s" env TC_BPF_MNT="$(srv_mnt $_s)" "$_tc" filter add dev eth0 ingress \
			pref 10 handle 1 bpf da obj "$1" || return 1
	done
}
_topo_say() { [ -z "${TOPO_VERBOSE:-}" ] || echo "  server $(echo "$1" | tr ab AB)# $2"; }

# topo_director SERVER [ALTERNATIVE...] [-- encapctl options]: the director's
# forwarding-table row for the VIP: first choice, then the hop list.  Servers
# are a, b, or an IPv4 address.
topo_director() {
	_first=$(_topo_hop "$1")
	shift
	_hops=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		_hops="$_hops $(_topo_hop "$1")"
		shift
	done
	[ "${1:-}" = -- ] && shift
	"$ENCAPCTL" "$TC_BPF_MNT/tc/globals" set vip4 $TOPO_VIP4 vip6 $TOPO_VIP6 saddr $TOPO_DIR4 \
		port $TOPO_PORT first "$_first" ${_hops:+hops $_hops} "$@"
}
_topo_hop() { case $1 in a | b) srv_addr "$1" ;; *) echo "$1" ;; esac; }

# director_sent: packets the director has encapsulated so far, IPv4 + IPv6
# inner (and fails if it had to drop any).
director_sent() {
	set -- $("$ENCAPCTL" "$TC_BPF_MNT/tc/globals" stats)
	[ "$6" = 0 ] || echo "director dropped $6 packets for the VIP" >&2
	echo $(($2 + $4))
}

# srv_stat a|b: the server's counters, one JSON object.
srv_stat() { TC_BPF_MNT=$(srv_mnt "$1") "$STAT_TOOL" -j; }

# settle [STATE]: waits until no packet is in flight (delayed ACKs, FINs):
# what the command STATE prints (default: the director's count and both
# servers' counters) stays the same for 200 ms.
topo_state() { echo "$(director_sent) $(srv_stat a) $(srv_stat b)"; }
settle() {
	_prev= _i=0
	while [ $_i -lt 50 ]; do
		_now=$("${1:-topo_state}")
		[ "$_now" = "$_prev" ] && return 0
		_prev=$_now
		_i=$((_i + 1))
		sleep 0.2
	done
}

# snap NAME: remembers the director's count and both servers' counters.
snap() {
	director_sent >"$TOPO_TMP/$1.dir"
	srv_stat a >"$TOPO_TMP/$1.a"
	srv_stat b >"$TOPO_TMP/$1.b"
}

# sent_between FROM TO: packets the director encapsulated between two snaps.
sent_between() { echo $(($(cat "$TOPO_TMP/$2.dir") - $(cat "$TOPO_TMP/$1.dir"))); }

# delta FROM TO a|b: the counters that changed between two snaps, as sorted
# "name=increase" words.
delta() {
	jq -nr --slurpfile x "$TOPO_TMP/$1.$3" --slurpfile y "$TOPO_TMP/$2.$3" \
		'[$y[0] | to_entries[] | select(.value != $x[0][.key]) |
		  "\(.key)=\(.value - ($x[0][.key] // 0))"] | sort | join(" ")'
}

# counts WORD...: the same words, sorted, for comparing with delta.
counts() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

# expect_delta CASE FROM TO a|b WORD...: PASS if exactly these counters
# changed, by exactly these amounts.
expect_delta() {
	_c=$1 _f=$2 _t=$3 _s=$4
	shift 4
	expect_eq "$_c" "$(counts "$@")" "$(delta "$_f" "$_t" "$_s")" "counter increases on $_s"
}

vip() { [ "$1" = 6 ] && echo $TOPO_VIP6 || echo $TOPO_VIP4; }
l3() { [ "$1" = 6 ] && echo l3_protocol_packets_total_ipv6 || echo l3_protocol_packets_total_ipv4; }

# seen PROTO FAMILY N: the counters every server bumps for N inner packets.
seen() { echo "processed_packets_total=$3 $(l3 "$2")=$3 l4_protocol_packets_total_$1=$3"; }

# expect_chain FROM TO N PROTO FAMILY FWD ACC REASON FWD_CASE ACC_CASE:
# between the snaps FROM and TO, server FWD forwarded N packets in GUE
# (FWD_CASE) and server ACC accepted N as accepted_packets_total_REASON
# (ACC_CASE), nothing else counted.  N "-" means all the director sent
# between the snaps.  The case names are printf formats: %s is N.
expect_chain() {
	_n=$3
	[ "$_n" = - ] && _n=$(sent_between "$1" "$2")
	expect_delta "$(printf "$9" "$_n")" "$1" "$2" "$6" $(seen "$4" "$5" "$_n") \
		forwarded_packets_total_gue="$_n"
	expect_delta "$(printf "${10}" "$_n")" "$1" "$2" "$7" $(seen "$4" "$5" "$_n") \
		accepted_packets_total_$8="$_n"
}

# expect_echo FAMILY N REPLY_CASE COUNT_CASE: N echo requests from the client
# to the VIP are all answered (REPLY_CASE) and all accepted by A as echo
# requests, nothing else counted (COUNT_CASE).
expect_echo() {
	settle
	snap ec0
	_r=$(in_ns cli "$PEER" ping "$1" "$(vip "$1")" "$2")
	expect_eq "$3" "ok $2 replies" "$_r" "ping"
	settle
	snap ec1
	expect_delta "$4" ec0 ec1 a $(seen icmp "$1" "$2") accepted_packets_total_icmp_echo_request="$2"
}

# ---- clients with a conversation: commands in, one reply line out ----

# client_start ID tcp|udp 4|6: starts an e2e-peer client in the client
# namespace, talking to the VIP; its first line (greeting) is in $REPLY.
client_start() {
	_d=$TOPO_TMP/client-$1
	mkfifo "$_d.in" "$_d.out"
	_addr=$TOPO_VIP4
	[ "$3" = 6 ] && _addr=$TOPO_VIP6
	in_ns cli "$PEER" "$2-client" "$3" "$_addr" $TOPO_APP_PORT <"$_d.in" >"$_d.out" 2>&1 &
	echo $! >"$_d.pid"
	cleanup_add "kill $! 2>/dev/null"
	# Opening the fifos in this order cannot block forever: the client
	# opens .in first, then .out.
	eval "exec $(_client_fd "$1" in)>\"\$_d.in\" $(_client_fd "$1" out)<\"\$_d.out\""
	client_read "$1"
}
_client_fd() { # client ID -> fd: 3/4 for the first, 5/6 for the second, ...
	case $1 in 1) _b=3 ;; 2) _b=5 ;; 3) _b=7 ;; *) echo "client id must be 1..3" >&2; exit 2 ;; esac
	[ "$2" = in ] && echo $_b || echo $((_b + 1))
}

# expect_reply CASE WANT: PASS if the last client reply is WANT.
expect_reply() { expect_eq "$1" "$2" "$REPLY" "client"; }

# flow_open CASE ID PROTO FAMILY SERVER COMMAND: with the director sending to
# SERVER (a, b) only, client ID opens a flow and sends COMMAND.  True if
# SERVER answers; else FAIL CASE, and the client is ended.
flow_open() {
	topo_director "$5"
	client_start "$2" "$3" "$4" && client_do "$2" "$6" &&
		[ "$REPLY" = "ok server $(echo "$5" | tr ab AB)" ] && return 0
	fail "$1" "$REPLY"
	client_end "$2"
	return 1
}

# flow_send CASE ID ROW COMMAND SERVER: the director's row becomes ROW (the
# words of topo_director), client ID sends COMMAND and SERVER (A, B) must
# answer (CASE).  The counters before and after are the snaps fs0 and fs1.
flow_send() {
	settle
	snap fs0
	topo_director $3
	client_do "$2" "$4"
	expect_reply "$1" "ok server $5"
	settle
	snap fs1
}

# flow_close LABEL ID ROW: the director's row becomes ROW, client ID closes
# its flow (FAIL "LABEL: flow closes cleanly" if it cannot), traffic settles.
flow_close() {
	topo_director $3
	client_end "$2" || fail "$1: flow closes cleanly" "$REPLY"
	settle
}

# client_read ID: the next reply line in $REPLY; false if it is not "ok ..."
client_read() {
	REPLY=
	eval "IFS= read -r REPLY <&$(_client_fd "$1" out)" || REPLY="err client $1 exited"
	case $REPLY in ok*) return 0 ;; esac
	return 1
}

# client_do ID COMMAND: sends a command and reads the reply ($REPLY).
client_do() {
	eval "printf '%s\n' \"\$2\" >&$(_client_fd "$1" in)" 2>/dev/null
	client_read "$1"
}

# client_end ID: closes the conversation and waits for the client.
client_end() {
	client_do "$1" quit
	_r=$?
	eval "exec $(_client_fd "$1" in)>&- $(_client_fd "$1" out)<&-"
	wait "$(cat "$TOPO_TMP/client-$1.pid")" 2>/dev/null
	rm -f "$TOPO_TMP/client-$1".*
	return $_r
}
