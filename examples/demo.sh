#!/bin/sh
# cls-redirect demo: a GUE load balancer in four network namespaces, and a TCP
# connection that survives a change of the director's mind ("second chance").
#
#   sudo make demo          (installs what is missing, builds, runs this)
#   sudo sh examples/demo.sh  (after make)
#
# Nothing outside the namespaces it creates is touched: the network is
# private, the BPF pins live in private bpffs mounts, and everything is
# removed when the demo ends, however it ends (Ctrl-C included).
set -u
if [ "$(id -u)" != 0 ]; then
	echo "demo: must run as root (sudo make demo): it creates network namespaces and loads BPF programs" >&2
	exit 1
fi
. "$(dirname "$0")/../selftests/lib/common.sh"
private_bpffs "$@"
. "$REPO/selftests/lib/topology.sh"

missing=$(topo_missing)
if [ -n "$missing" ]; then
	echo "demo: missing: $missing (run 'make' and 'make deps' first)" >&2
	exit 1
fi

if [ -t 1 ]; then
	say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
	say() { printf '\n%s\n' "$*"; }
fi
step() { printf '  %s\n' "$@"; }
die() { echo "demo: $*" >&2; exit 1; }
# greeting: the client's first line, "ok server NAME port PORT".
greeting() {
	set -- $REPLY
	step "client# connect to $TOPO_VIP4:$TOPO_APP_PORT   -> answered by $3 (client port $5)"
}

# counters a|b: the server's non-zero counters, from cls-redirect-stat.
counters() {
	echo "  server $(echo "$1" | tr ab AB)# cls-redirect-stat      (counters that are not zero)"
	TC_BPF_MNT=$(srv_mnt "$1") "$STAT_TOOL" | awk '$NF != "0" { print "    " $0 }'
}

say "1. The network"
cat <<EOF
  Four network namespaces joined by veth pairs:

    client ($TOPO_CLI4) --- director/router --+-- server A ($TOPO_A4)
                                              +-- server B ($TOPO_B4)

  Both servers carry the service address (VIP) $TOPO_VIP4 on their loopback
  and run a TCP echo server on port $TOPO_APP_PORT.  The client talks to the VIP.
  The director (a small tc BPF program, selftests/progs/encap.bpf.c) wraps each of
  the client's packets in GUE: outer IPv4 + UDP port $TOPO_PORT + a list of
  servers, "first choice, then the alternatives".  The servers answer the
  client directly (direct server return), not through the director.
EOF
topo_up || die "could not build the namespaces"

say "2. The classifier on each server"
step "Each server is told its GUE address and its fleet: who may send it GUE" \
	"(the director and both servers) and where it may forward (the servers);" \
	"anything else it drops.  Then tc attaches obj/cls_redirect.o to the" \
	"ingress of its interface:"
TOPO_VERBOSE=1 topo_attach "$REPO/obj/cls_redirect.o" || die "attaching the classifier failed"

say "3. The director sends the VIP's traffic to B only"
topo_director b
client_start 1 tcp 4 || die "the client could not connect: $REPLY"
greeting
client_do 1 "x 65536" || die "$REPLY"
step "client# send 64 KiB, read the echo     -> ok, answered by ${REPLY##* }"
settle
for s in a b; do counters $s; done
step "B accepted the connection: the SYN, then the rest as \"last hop\" (no" \
	"alternative was left, so no socket lookup was needed).  A saw nothing."

say "4. The director changes its mind: \"A first, then B\""
cat <<EOF
  This is what happens when a server is added in front of B in the
  director's table, or when directors disagree for a moment.  A has never
  heard of this connection.  Without second chance, A would answer it with a
  reset.  With cls_redirect, A looks for a socket of its own, finds none, and
  forwards the packet, still encapsulated, to the next server in its list: B.
EOF
for s in a b; do TC_BPF_MNT=$(srv_mnt $s) "$STAT_TOOL" --zero; done
step "(counters zeroed on both servers: cls-redirect-stat --zero)"
topo_director a b
client_do 1 "x 1048576" || die "the connection broke: $REPLY"
step "client# send 1 MiB more on the same connection, read the echo" \
	"                                       -> ok, still answered by ${REPLY##* }"
settle
for s in a b; do counters $s; done
step "Every packet went to A first (processed), A forwarded it (forwarded_gue)," \
	"and B accepted it.  The client never noticed."

say "5. A new connection goes to A"
client_start 2 tcp 4 || die "the client could not connect: $REPLY"
greeting
client_do 2 "x 65536" || die "$REPLY"
client_end 2
settle
counters a
step "A accepted the SYN itself (accepted_syn), and from then on found its own" \
	"socket for the connection (accepted_established)."

client_end 1
say "6. Cleaning up"
step "The namespaces, links, programs and pins are removed now."
step "Run 'sudo make check' to see the same topology tested case by case (test_e2e)."
