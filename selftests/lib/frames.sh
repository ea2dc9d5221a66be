# The frames, pins and counter snapshots of the tests that drive a loaded
# classifier on a veth pair between srv and cli (test_tc.sh, test_xdp.sh);
# source it after lib/common.sh and private_bpffs.  Sets the names below;
# uses SRV_MAC and CLI_MAC (srv_cli_pair) and T (a temporary directory).

PIN=$TC_BPF_MNT/tc/globals
CONFIG=cls_redirect_config
METRICS=cls_redirect_metrics
SRV=192.0.2.1 CLI=192.0.2.2 PORT=19523 DEV=srv0
SENDRAW=$REPO/selftests/bin/sendraw
CONFIG_TOOL=$REPO/tools/cls-redirect-config
STAT_TOOL=$REPO/tools/cls-redirect-stat

# ---- packets ----

# An ICMP echo request from cli to srv, GUE-encapsulated for srv with an
# empty hop list (N = 0, next_hop 0: the last hop).  The classifier must
# count it (processed, l3 ipv4, l4 icmp, accepted echo request), strip the
# 36 bytes of outer headers and deliver it: the srv stack answers the echo.
gue_echo_frame() {
	_icmp_data="1234 0001 636c737265646972" # id, seq, "clsredir"
	_icmp="0800 $(csum16 "0800 0000 $_icmp_data") $_icmp_data"
	_inner="$(ipv4_header 36 1 1 "$CLI" "$SRV") $_icmp"
	# UDP: sport 12345, dport, length 8 + 8 + 36, checksum 0 (none).
	# GUE: variant 0, hlen 1 (= 1 + N), proto 4, flags 0.
	# Private: version 0, reserved 0, next_hop 0, hop_count 0.
	echo "$SRV_MAC $CLI_MAC 0800 $(ipv4_header 72 17 2 "$CLI" "$SRV")" \
		"3039 $(printf %04x "$PORT") 0034 0000 01040000 00000000 $_inner"
}

# The same with an ICMPv6 echo request inside (fd00::1 -> fd00::2): its
# decapsulated packet goes round the ingress hook a second time.
gue_echo6_frame() {
	_src=fd000000000000000000000000000001 _dst=fd000000000000000000000000000002
	_icmp_data="1234 0001 636c737265646972"
	_icmp="8000 $(csum16 "$_src $_dst 00000010 0000003a 8000 0000 $_icmp_data") $_icmp_data"
	_inner="6000 0000 0010 3a40 $_src $_dst $_icmp"
	echo "$SRV_MAC $CLI_MAC 0800 $(ipv4_header 92 17 4 "$CLI" "$SRV")" \
		"3039 $(printf %04x "$PORT") 0048 0000 01290000 00000000 $_inner"
}

# A plain UDP datagram to srv's discard port: not for the classifier.
plain_udp_frame() {
	echo "$SRV_MAC $CLI_MAC 0800 $(ipv4_header 36 17 3 "$CLI" "$SRV")" \
		"3039 0009 0010 0000 6e6f742067756521"
}

send() { in_ns cli "$SENDRAW" cli0 "$1"; }

# icmp_in_echos: echo requests srv's stack has received.
icmp_in_echos() {
	in_ns srv awk '$1 == "Icmp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i; n = 1 }
		else print $c }' /proc/net/snmp
}

# ---- pins, config, counters ----

# map_info NAME: "type key value entries id" of a pinned map, empty if none.
map_info() {
	bpftool -j map show pinned "$PIN/$1" 2>/dev/null |
		jq -r '"\(.type) \(.bytes_key) \(.bytes_value) \(.max_entries) \(.id)"'
}
map_id() { map_info "$1" | cut -d' ' -f5; }
# both_ids: "config_id metrics_id".
both_ids() { echo "$(map_id $CONFIG) $(map_id $METRICS)"; }

# Open trust lists: these tests are about loading and pinning.
configure() {
	"$CONFIG_TOOL" set addr "$SRV" port "$PORT" >/dev/null 2>&1 &&
		"$CONFIG_TOOL" sources add 0.0.0.0/0 && "$CONFIG_TOOL" hops add 0.0.0.0/0
}
config_shown() { "$CONFIG_TOOL" show -j | jq -r '"\(.addr) \(.port)"'; }

# snap FILE: every counter, as cls-redirect-stat -j prints them.
snap() { "$STAT_TOOL" -j >"$1"; }
# deltas A B: the counters that changed from snapshot A to B, "name=+delta",
# sorted by name; empty if none did.
deltas() {
	jq -n -r --slurpfile a "$1" --slurpfile b "$2" '$b[0] | to_entries | sort_by(.key) |
		map(select(.value != $a[0][.key]) | "\(.key)=+\(.value - $a[0][.key])") | join(" ")'
}

# send_and_wait FRAME: sends it and waits until processed_packets_total has
# moved (the frame is handled in softirq, after sendto returns), then a
# little longer for a re-injected decapsulated packet to come round.
send_and_wait() {
	snap "$T/wait"
	send "$1" || return 1
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		snap "$T/now"
		[ -n "$(deltas "$T/wait" "$T/now")" ] && break
		sleep 0.1
	done
	sleep 0.1
}

GUE_DELTAS="accepted_packets_total_icmp_echo_request=+1 l3_protocol_packets_total_ipv4=+1 l4_protocol_packets_total_icmp=+1 processed_packets_total=+1"
GUE6_DELTAS="accepted_packets_total_icmp_echo_request=+1 l3_protocol_packets_total_ipv6=+1 l4_protocol_packets_total_icmp=+1 processed_packets_total=+1"
PASS_DELTAS="passed_packets_total=+1 processed_packets_total=+1"

# expect_gue F CASE: sends the GUE echo, asserts the exact counter deltas and
# that the srv stack received the inner echo request.
expect_gue() {
	snap "$T/before"
	_echos=$(icmp_in_echos)
	send_and_wait "$(gue_echo_frame)"
	snap "$T/after"
	expect_eq "$1: $2: GUE echo request counted as accepted" "$GUE_DELTAS" "$(deltas "$T/before" "$T/after")" "counter deltas"
	expect_eq "$1: $2: decapsulated echo request reached the srv stack" $((_echos + 1)) "$(icmp_in_echos)" "Icmp InEchos"
}

# gue_echo_frame with the GUE C bit set: dropped
# (errors_total_malformed_encapsulation).
gue_bad_frame() { gue_echo_frame | sed 's/ 01040000 / 21040000 /'; }

# gue_frame DSTMAC SRCMAC SRC DST PORT K "HOP..." INNER: an Ethernet frame
# with INNER (an IPv4 packet, hex) GUE-encapsulated from SRC to DST:PORT with
# the hop list HOP... (dotted quads) and next_hop K (tc-cls-redirect.8, WIRE
# FORMAT).  UDP checksum 0.
gue_frame() {
	_n=0 _hops=
	for _x in $7; do _hops="$_hops $(ip4hex "$_x")" _n=$((_n + 1)); done
	_il=$(($(printf '%s' "$8" | tr -d ' ' | wc -c) / 2))
	_tot=$((20 + 8 + 8 + 4 * _n + _il))
	echo "$1 $2 0800 $(ipv4_header $_tot 17 2 "$3" "$4")" \
		"3039 $(printf %04x "$5") $(printf %04x $((_tot - 20))) 0000" \
		"$(printf '%02x' $((1 + _n)))040000 0000$(printf '%02x%02x' "$6" $_n)$_hops $8"
}
