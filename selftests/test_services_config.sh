#!/bin/sh
# test_services_config: cls-redirect-config services add|del and the services
# in show (cls-redirect-config.8, services; tc-cls-redirect.8, MAPS and
# CONTAINERS).  Runs in a namespace of its own ("host") with a pod namespace
# behind a veth: the entry written is checked byte for byte against the
# ifindex and the netnsid the kernel reports, every bad input is refused with
# exit 1, one line on stderr and the map unchanged.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"
cd "$REPO" || exit 2
require_present build tools/cls-redirect-config -- bpftool jq
C=$REPO/tools/cls-redirect-config
G=$TC_BPF_MNT/tc/globals
tmpdir tmp

netns_add host
netns_add pod
netns_add pod2
hc() { in_ns host env TC_BPF_MNT="$TC_BPF_MNT" "$C" "$@"; }

# The veth whose peer is in the pod; a veth with both ends on the host; lo.
in_ns host ip link add vpod type veth peer name eth0 netns "$(ns pod)" || exit 2
in_ns host ip link add vself type veth peer name vself1 || exit 2

# No netnsid for the pod yet is possible only before the veth reaches it:
# the kernel gives the pod one when it reports the link, as the tool asks.
IFX=$(in_ns host cat /sys/class/net/vpod/ifindex)

snapshot() { bpftool map dump pinned "$G/cls_redirect_services" 2>&1; }

# nsid_of DEV: the netnsid of DEV's peer namespace, as ip reports it.
nsid_of() { in_ns host ip -j link show dev "$1" 2>/dev/null | jq -r '.[0].link_netnsid // empty'; }
out=$(hc services add 10.99.0.1 8080 tcp dev vpod)
expect_eq "services add before anything is pinned: exit 0" 0 $?
NSID=$(nsid_of vpod)
expect_eq "services add: says added" "service 10.99.0.1 8080 tcp: dev vpod ifindex $IFX netnsid ${NSID:-?} (added)" \
	"$out"
le32() { [ -n "$1" ] || set -- 0;  printf '%02x %02x %02x %02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
want_key="04 06 1f 90 0a 63 00 01 00 00 00 00 00 00 00 00 00 00 00 00"
want_val="$(le32 "$NSID") $(le32 "$IFX")"
got=$(bpftool -j map dump pinned "$G/cls_redirect_services" |
	jq -r '.[0] | (.key | map(ltrimstr("0x")) | join(" ")) + "|" + (.value | map(ltrimstr("0x")) | join(" "))')
expect_eq "services add: key and value bytes" "$want_key|$want_val" "$got"
expect_eq "services map: hash, 20-byte key, 8-byte value, 4096 entries" "hash 20 8 4096" \
	"$(bpftool -j map show pinned "$G/cls_redirect_services" | jq -r '"\(.type) \(.bytes_key) \(.bytes_value) \(.max_entries)"')"

check "services add: IPv6, port 0, udp" hc services add fd00:99::1 0 udp dev vpod

# Adding an existing key replaces it, and says so (a pod restarted).
in_ns host ip link del vpod
in_ns host ip link add vpod2 type veth peer name eth0 netns "$(ns pod2)" || exit 2
IFX2=$(in_ns host cat /sys/class/net/vpod2/ifindex)
NSID2=$(nsid_of vpod2)
out=$(hc services add 10.99.0.1 8080 tcp dev vpod2)
expect_eq "services add of a listed key replaces it and says so" \
	"service 10.99.0.1 8080 tcp: dev vpod2 ifindex $IFX2 netnsid $NSID2 (replaced dev (gone) ifindex $IFX netnsid $NSID)" "$out"

# show and show -j.
expect_eq "show lists the services" "service 10.99.0.1 8080 tcp dev vpod2 ifindex $IFX2 netnsid $NSID2
service fd00:99::1 0 udp dev (gone) ifindex $IFX netnsid $NSID" \
	"$(hc set addr 192.0.2.10 port 19523 >/dev/null && hc show | grep '^service' | sort)"
expect_eq "show -j: array services" \
	"[{\"addr\":\"10.99.0.1\",\"port\":8080,\"proto\":\"tcp\",\"dev\":\"vpod2\",\"ifindex\":$IFX2,\"netnsid\":$NSID2},{\"addr\":\"fd00:99::1\",\"port\":0,\"proto\":\"udp\",\"dev\":null,\"ifindex\":$IFX,\"netnsid\":$NSID}]" \
	"$(hc -j show | jq -c '.services | sort_by(.addr)')"

# Every bad input: exit 1, one line on stderr naming it, nothing on
# stdout, the map unchanged.
bad() {
	_name=$1 _needle=$2
	shift 2
	_before=$(snapshot)
	in_ns host env TC_BPF_MNT="$TC_BPF_MNT" "$C" "$@" >"$tmp/o" 2>"$tmp/e"
	_rc=$?
	_after=$(snapshot)
	if [ $_rc != 1 ]; then
		fail "$_name" "exit $_rc, expected 1 ($(cat "$tmp/e"))"
	elif [ -s "$tmp/o" ] || [ "$(wc -l <"$tmp/e")" != 1 ] || ! grep -q -- "$_needle" "$tmp/e"; then
		fail "$_name" "stdout '$(cat "$tmp/o")', stderr '$(cat "$tmp/e")', expected one line with '$_needle'"
	elif [ "$_before" != "$_after" ]; then
		fail "$_name" "the map changed"
	else
		pass "$_name"
	fi
}
bad "refused: not a veth (lo)" "is not a veth" services add 10.99.0.1 80 tcp dev lo
bad "refused: peer in the same namespace" "in this network namespace" services add 10.99.0.1 80 tcp dev vself
bad "refused: unknown interface" "no interface 'nope0'" services add 10.99.0.1 80 tcp dev nope0
bad "refused: malformed IPv4 address" "10.99.0.300" services add 10.99.0.300 80 tcp dev vpod2
bad "refused: malformed IPv6 address" "fd00::99::1" services add fd00::99::1 80 tcp dev vpod2
bad "refused: port out of range" "65536" services add 10.99.0.1 65536 tcp dev vpod2
bad "refused: negative port" "port" services add 10.99.0.1 -1 tcp dev vpod2
bad "refused: unknown protocol" "sctp" services add 10.99.0.1 80 sctp dev vpod2
bad "refused: dev keyword missing" "dev IFNAME" services add 10.99.0.1 80 tcp vpod2
bad "refused: nothing after services" "add or del" services
bad "refused: unknown services command" "add or del" services list
bad "refused: absent on delete" "not listed" services del 10.99.0.1 81 tcp
bad "refused: absent on delete (other protocol)" "not listed" services del 10.99.0.1 8080 udp
bad "refused: extra word on delete" "then nothing" services del 10.99.0.1 8080 tcp dev

# The configuration's services flags (bit 2: a service with a port, bit 3:
# one with port 0; byte 10) follow the map.
cfg_flags() { bpftool -j map dump pinned "$G/cls_redirect_config" | jq -r '.[0].value[10]'; }
expect_eq "set: services flags on for a port and for port 0" 0x0c "$(cfg_flags)"
out=$(hc services del 10.99.0.1 8080 tcp)
expect_eq "services del" "service 10.99.0.1 8080 tcp: deleted" "$out"
expect_eq "services del: the entry is gone" "fd00:99::1" "$(hc -j show | jq -r '.services[].addr')"
bad "refused: deleting it twice" "not listed" services del 10.99.0.1 8080 tcp
expect_eq "services del: only the port-0 flag left" 0x08 "$(cfg_flags)"
hc services del fd00:99::1 0 udp >/dev/null
expect_eq "services del of the last one: flags off" 0x00 "$(cfg_flags)"
hc services add fd00:99::1 443 udp dev vpod2 >/dev/null
expect_eq "services add with a port: that flag on" 0x04 "$(cfg_flags)"
hc set mtu 1400 >/dev/null
expect_eq "set keeps the flags" 0x04 "$(cfg_flags)"
expect_eq "show does not print the flag" "addr 192.0.2.10 port 19523 mtu 1400" "$(hc show | head -n 1)"
test_done
