#!/bin/sh
# test_metrics: what a Prometheus server sees (man page: CLS-REDIRECT-STAT).
# A classifier attached with the real tc in namespace srv counts frames sent
# from cli; cls-redirect-stat --prometheus --output writes the textfile;
# Debian's prometheus-node-exporter (textfile collector only) serves it on
# 127.0.0.1:<random high port> inside srv, and curl scrapes it: every
# cls_redirect series must be there with its exact value, before and after
# the classifier is unconfigured and detached.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

SRV=192.0.2.1 CLI=192.0.2.2 PORT=19523 DEV=srv0
SENDRAW=$REPO/selftests/bin/sendraw
CONFIG_TOOL=$REPO/tools/cls-redirect-config
STAT_TOOL=$REPO/tools/cls-redirect-stat
OBJ=$REPO/obj/cls_redirect_btf.o
EXPORTER=prometheus-node-exporter
VERSION=$(sed -n 's/^VERSION := //p' "$REPO/Makefile")

require_present test_metrics obj/cls_redirect_btf.o selftests/bin/sendraw tools/cls-redirect-config \
	tools/cls-redirect-stat -- "$EXPORTER" curl jq promtool
if ! tc -V | grep -q libbpf; then
	skip test_metrics "the system tc ($(tc -V)) has no libbpf: it cannot load $OBJ"
	exit 0
fi

tmpdir T
srv_cli_pair "$DEV" "$SRV" "$CLI"
. "$REPO/selftests/lib/frames.sh"
mkdir "$T/textfile"
PROM=$T/textfile/cls_redirect.prom

in_ns srv tc qdisc add dev "$DEV" clsact
in_ns srv "$CONFIG_TOOL" set addr "$SRV" port "$PORT" >/dev/null 2>&1
in_ns srv "$CONFIG_TOOL" sources add "$CLI" # the client sends the GUE
in_ns srv tc filter add dev "$DEV" ingress pref 1000 handle 0xc15d bpf da obj "$OBJ" ||
	{ fail test_metrics "tc filter add failed"; exit 1; }

# 5 echo requests (accepted), 3 bad GUE headers (dropped), 2 plain UDP (passed).
in_ns cli "$SENDRAW" cli0 "$(gue_echo_frame | tr -d ' ')" 5
in_ns cli "$SENDRAW" cli0 "$(gue_bad_frame | tr -d ' ')" 3
in_ns cli "$SENDRAW" cli0 "$(plain_udp_frame | tr -d ' ')" 2
_i=0
while [ "$(in_ns srv "$STAT_TOOL" -j | jq .processed_packets_total)" -lt 10 ] && [ $_i -lt 50 ]; do
	sleep 0.1
	_i=$((_i + 1))
done

# The node exporter, in srv (loopback only), reading our textfile directory.
P=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
in_ns srv "$EXPORTER" --web.listen-address="127.0.0.1:$P" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$T/textfile" >"$T/exporter.log" 2>&1 &
cleanup_add "kill $!"
scrape() { in_ns srv curl -sf --max-time 5 "http://127.0.0.1:$P/metrics"; }
_i=0
until scrape >/dev/null 2>&1 || [ $_i -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
scrape >/dev/null 2>&1 || { fail test_metrics "$EXPORTER did not answer on 127.0.0.1:$P: $(tail -3 "$T/exporter.log")"; exit 1; }

# expected: the series cls-redirect-stat -j implies (the values the tool
# reads are checked against the map byte for byte in test_tools.sh), plus
# build info, configured and attached.
expected() { # CONFIGURED ATTACHED-DEVICE-OR-EMPTY
	in_ns srv "$STAT_TOOL" -j | jq -r 'to_entries[] | "\(.key) \(.value)"' | sed \
		-e 's/^processed_packets_total /cls_redirect_processed_packets_total /' \
		-e 's/^passed_packets_total /cls_redirect_packets_total{outcome="passed",reason=""} /' \
		-e 's/^accepted_packets_total_\([a-z0-9_]*\) /cls_redirect_packets_total{outcome="accepted",reason="\1"} /' \
		-e 's/^forwarded_packets_total_\([a-z0-9_]*\) /cls_redirect_packets_total{outcome="forwarded",reason="\1"} /' \
		-e 's/^errors_total_\([a-z0-9_]*\) /cls_redirect_packets_total{outcome="error",reason="\1"} /' \
		-e 's/^\(l[34]_protocol_packets_total\)_\([a-z0-9]*\) /cls_redirect_\1{protocol="\2"} /'
	echo "cls_redirect_build_info{version=\"$VERSION\"} 1"
	echo "cls_redirect_configured $1"
	[ -z "$2" ] || echo "cls_redirect_attached{device=\"$2\"} 1"
}
# The node exporter drops an empty label ("reason" of passed): compare
# without it.
scraped() { scrape | grep '^cls_redirect_' | sed 's/,reason=""//' | sort; }

check "textfile: cls-redirect-stat --prometheus --output" in_ns srv "$STAT_TOOL" --prometheus --output "$PROM"
check "textfile: promtool check metrics" promtool check metrics <"$PROM"
expect_eq "scrape: every series, exact values (attached, configured)" \
	"$(expected 1 "$DEV" | sed 's/,reason=""//' | sort)" "$(scraped)" "series"
expect_eq "scrape: the exporter read the textfile without error" "node_textfile_scrape_error 0" \
	"$(scrape | grep '^node_textfile_scrape_error')"
# The counts the frames above must have made, by name.
_s=$(scraped)
for want in 'cls_redirect_processed_packets_total 10' \
	'cls_redirect_packets_total{outcome="accepted",reason="icmp_echo_request"} 5' \
	'cls_redirect_packets_total{outcome="error",reason="malformed_encapsulation"} 3' \
	'cls_redirect_packets_total{outcome="passed"} 2'; do
	case "$_s" in *"$want"*) pass "scrape: $want" ;; *) fail "scrape: $want" "not in the scrape: $(echo "$_s" | head -c 300)" ;; esac
done

# Unconfigured and detached: configured 0, no attached series, counters kept.
in_ns srv "$CONFIG_TOOL" clear
in_ns srv tc filter del dev "$DEV" ingress pref 1000
check "textfile after clear and detach" in_ns srv "$STAT_TOOL" --prometheus --output "$PROM"
expect_eq "scrape after clear and detach: configured 0, no attached series" \
	"$(expected 0 "" | sed 's/,reason=""//' | sort)" "$(scraped)" "series"
check "promtool accepts a family without samples" promtool check metrics <"$PROM"

test_done
