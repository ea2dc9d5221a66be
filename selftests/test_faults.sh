#!/bin/sh
# test_faults: the classifier and the tools under faults, with the
# real tc on a veth pair between throwaway namespaces and a private bpffs:
#
#   srv (server under test)                       cli (the "director")
#   srv0 192.0.2.1, clsact, cls_redirect  <-veth->  cli0 192.0.2.2, sendraw
#
#   pins-deleted     the pins are removed while the filter is attached
#   config-race      two cls-redirect-config processes write at once, from
#                    an empty bpffs (both create the map) and on a pinned map,
#                    with a third process reading
#   zero-flood       cls-redirect-stat --zero in a loop during a flood
#   replace-flood    tc filter replace in a loop during a flood
#   incompatible     a foreign map pinned under a map's name before an upgrade
#
# After each: the classifier still works (a GUE echo request is decapsulated
# and reaches the srv stack) and processed = passed + accepted + forwarded +
# errors.  Floods are bounded (sendraw COUNT); every case is bounded in time.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

PIN=$TC_BPF_MNT/tc/globals
SRV=192.0.2.1 CLI=192.0.2.2 PORT=19523 DEV=srv0
SENDRAW=$REPO/selftests/bin/sendraw
CONFIG_TOOL=$REPO/tools/cls-redirect-config
STAT_TOOL=$REPO/tools/cls-redirect-stat
OBJ=$REPO/obj/cls_redirect_btf.o
FLOOD=${FAULTS_FLOOD:-300000}

require_present test_faults obj/cls_redirect_btf.o selftests/bin/sendraw tools/cls-redirect-config \
	tools/cls-redirect-stat -- bpftool jq timeout
if ! tc -V | grep -q libbpf; then
	skip test_faults "the system tc ($(tc -V)) has no libbpf: it cannot load $OBJ"
	exit 0
fi

tmpdir T
srv_cli_pair "$DEV" "$SRV" "$CLI"

# ---- frames ----

. "$REPO/selftests/lib/frames.sh"
ECHO=$(gue_echo_frame | tr -d ' ')
BAD=$(gue_bad_frame | tr -d ' ')
PLAIN=$(plain_udp_frame | tr -d ' ')

# ---- helpers ----

attach() { in_ns srv tc qdisc replace dev "$DEV" clsact && in_ns srv tc filter add dev "$DEV" ingress bpf da obj "$OBJ"; }
detach() { in_ns srv tc qdisc del dev "$DEV" clsact 2>/dev/null || :; }
fresh() { detach; bpffs_reset; }
# "pref handle prog_id" of the bpf filter.
bpf_filter() {
	in_ns srv tc -j filter show dev "$DEV" ingress |
		jq -r '.[] | select(.kind == "bpf" and .options.prog.id) | "\(.pref) \(.options.handle) \(.options.prog.id)"'
}
map_id() { bpftool -j map show pinned "$PIN/$1" 2>/dev/null | jq -r .id; }
# prog_map_id PROG NAME: id of the map NAME the program uses.
prog_map_id() {
	for _id in $(bpftool -j prog show id "$1" | jq -r '.map_ids[]?'); do
		[ "$(bpftool -j map show id "$_id" | jq -r .name)" = "$2" ] && echo "$_id"
	done
}
counter() { "$STAT_TOOL" -j | jq -r ".$1"; }
# invariant: "ok" or the numbers that break processed = sum of outcomes.
invariant() {
	"$STAT_TOOL" -j | jq -r '. as $m | ([to_entries[] | select(.key | test("^(passed|accepted|forwarded|errors)_")) | .value] | add) as $o |
		if $m.processed_packets_total == $o then "ok" else "processed \($m.processed_packets_total) != outcomes \($o)" end'
}
icmp_in_echos() {
	in_ns srv awk '$1 == "Icmp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i; n = 1 } else print $c }' /proc/net/snmp
}
# wait_processed N: until processed_packets_total >= N (at most 5 s).
wait_processed() {
	_i=0
	while [ "$(counter processed_packets_total 2>/dev/null || echo 0)" -lt "$1" ] && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}
# works CASE: a GUE echo request is accepted (counted) and reaches the stack;
# the invariant holds.
works() {
	_acc=$(counter accepted_packets_total_icmp_echo_request)
	_proc=$(counter processed_packets_total)
	_echos=$(icmp_in_echos)
	in_ns cli "$SENDRAW" cli0 "$ECHO"
	wait_processed $((_proc + 1))
	sleep 0.1
	_got="$(counter accepted_packets_total_icmp_echo_request) $(icmp_in_echos)"
	expect_eq "$1: classifier still works" "$((_acc + 1)) $((_echos + 1))" "$_got" \
		"accepted echo requests and srv InEchos"
	expect_eq "$1: counters satisfy the invariant" ok "$(invariant)" "invariant"
}
# flood: the three kinds of frames, FLOOD in all, in the background; sets
# FLOOD_PIDS.
flood() {
	_q=$((FLOOD / 4))
	in_ns cli timeout 60 "$SENDRAW" cli0 "$ECHO" $((2 * _q)) &
	_p1=$!
	in_ns cli timeout 60 "$SENDRAW" cli0 "$BAD" "$_q" &
	_p2=$!
	in_ns cli timeout 60 "$SENDRAW" cli0 "$PLAIN" "$_q" &
	FLOOD_PIDS="$_p1 $! $_p2"
	FLOOD_SENT=$((4 * _q))
}
flood_running() {
	for _p in $FLOOD_PIDS; do kill -0 "$_p" 2>/dev/null && return 0; done
	return 1
}
flood_wait() { for _p in $FLOOD_PIDS; do wait "$_p"; done; }
cleanup_add 'for _p in ${FLOOD_PIDS:-}; do kill $_p; done'

# ---- maps deleted while the filter is attached ----

case_pins_deleted() {
	fresh
	configure && attach || { fail pins-deleted "attach failed"; return; }
	set -- $(bpf_filter)
	prog=$3
	cfg_id=$(map_id cls_redirect_config) met_id=$(map_id cls_redirect_metrics)
	works pins-deleted-before
	rm -f "$PIN/cls_redirect_config" "$PIN/cls_redirect_metrics" "$PIN/cls_redirect_services"
	# The program holds its maps: it goes on deciding and counting.
	_echos=$(icmp_in_echos)
	in_ns cli "$SENDRAW" cli0 "$ECHO" 5
	sleep 0.3
	expect_eq "pins-deleted: the attached classifier still decapsulates" $((_echos + 5)) "$(icmp_in_echos)" "srv InEchos"
	expect_eq "pins-deleted: the program still uses its maps" "$cfg_id $met_id" \
		"$(prog_map_id "$prog" cls_redirect_co) $(prog_map_id "$prog" cls_redirect_me)" "map ids"
	# The tools say what is wrong: which program still runs with which maps,
	# and the commands that pin them back.
	_why="cls_redirect program id $prog attached on $DEV uses maps $cfg_id (config) and $met_id (metrics), pinned nowhere: its pins were removed; re-pin them with: bpftool map pin id $cfg_id $PIN/cls_redirect_config; bpftool map pin id $met_id $PIN/cls_redirect_metrics"
	for _t in "$STAT_TOOL" "$STAT_TOOL --zero" "$CONFIG_TOOL show" "$CONFIG_TOOL clear" \
		"$CONFIG_TOOL set addr $SRV port $PORT"; do
		_tool=${_t%% *}
		_tool=${_tool##*/}
		_path=$PIN/cls_redirect_config
		[ "$_tool" = cls-redirect-config ] || _path=$PIN/cls_redirect_metrics
		_want="$_tool: $_path not found, but $_why (or tc filter replace its filter to start over with new, unconfigured maps)"
		_out=$(in_ns srv $_t 2>&1)
		_rc=$?
		expect_eq "pins-deleted: ${_t##*/} names the program and its maps" "2 $_want" "$_rc $_out" "exit status and stderr"
	done
	# set must not make a config map the classifier never reads.
	expect_eq "pins-deleted: set creates no map" "cls_redirect_hops cls_redirect_sources" "$(ls "$PIN" | tr '\n' ' ' | sed 's/ $//')" "pins (the trust lists stay)"
	# A second, independent deployment (its own network namespace and bpffs)
	# is not blocked by this one's lost pins: the diagnosis is only for a
	# classifier attached where the tool runs.
	mkdir "$T/bpffs2" && mount -t bpf bpf "$T/bpffs2" && cleanup_add "umount '$T/bpffs2'"
	# (stderr: the warnings that its trust lists are empty)
	_out=$(in_ns cli env TC_BPF_MNT="$T/bpffs2" "$CONFIG_TOOL" set addr "$CLI" port "$PORT" 2>/dev/null)
	expect_eq "pins-deleted: another deployment (netns cli, own bpffs) configures" \
		"0 addr: unconfigured -> $CLI port: unconfigured -> $PORT" "$? $(echo $_out)" "exit status and output"
	in_ns cli tc qdisc replace dev cli0 clsact &&
		in_ns cli env TC_BPF_MNT="$T/bpffs2" tc filter add dev cli0 ingress bpf da obj "$OBJ"
	_out=$(in_ns cli env TC_BPF_MNT="$T/bpffs2" "$STAT_TOOL" -j 2>&1 | jq -r .processed_packets_total)
	expect_eq "pins-deleted: the other deployment attaches and counts" 0 "$_out" processed_packets_total
	# And this one's tools, from the other namespace, see only the other.
	_out=$(in_ns cli env TC_BPF_MNT="$T/bpffs2" "$CONFIG_TOOL" show 2>&1)
	expect_eq "pins-deleted: the other deployment's show" "addr $CLI port $PORT
sources none
hops none" "$_out" "show"
	in_ns cli tc qdisc del dev cli0 clsact
	umount "$T/bpffs2"
	# Recovery 1: pin the maps back by id; nothing was lost.
	bpftool map pin id "$cfg_id" "$PIN/cls_redirect_config" &&
		bpftool map pin id "$met_id" "$PIN/cls_redirect_metrics" ||
		fail "pins-deleted: re-pin by id" "bpftool map pin failed"
	expect_eq "pins-deleted: counts made while unpinned are there" ok "$(invariant)" "invariant"
	works pins-deleted-repinned
	# With its maps pinned again, the classifier is no reason to refuse a
	# set into another pin directory (another deployment's).
	mkdir "$TC_BPF_MNT/other"
	check "pins-deleted: re-pinned: set into another pin directory" \
		"$CONFIG_TOOL" -d "$TC_BPF_MNT/other" set addr "$SRV" port "$PORT"
	rm -rf "${TC_BPF_MNT:?}/other"
	# Recovery 2: delete again, then tc filter replace makes fresh maps;
	# the new program is unconfigured (passes) until the config is set.
	rm -f "$PIN/cls_redirect_config" "$PIN/cls_redirect_metrics"
	set -- $(bpf_filter)
	check "pins-deleted: tc filter replace with no pins" \
		in_ns srv tc filter replace dev "$DEV" ingress pref "$1" handle "$2" bpf da obj "$OBJ"
	in_ns cli "$SENDRAW" cli0 "$ECHO"
	wait_processed 1
	expect_eq "pins-deleted: fresh maps, unconfigured: passed" "1 1" \
		"$(counter processed_packets_total) $(counter passed_packets_total)" "processed passed"
	check "pins-deleted: cls-redirect-config set on the fresh map" configure
	works pins-deleted-replaced
}

# ---- two writers, one reader ----

# writer N A MTU: N times set addr A port P mtu MTU; prints the failures.
writer() {
	_i=0
	while [ $_i -lt "$1" ]; do
		# Every error but the warnings that the trust lists are empty.
		{ "$CONFIG_TOOL" set addr "$2" port "$PORT" mtu "$3" 2>&1 >/dev/null || echo "set $2 failed"; } |
			grep -v '^cls-redirect-config: warning: .* is empty' >>"$T/writer.err"
		_i=$((_i + 1))
	done
}

case_config_race() {
	fresh
	: >"$T/writer.err"
	# From an empty bpffs, both create and pin the map at once.
	_i=0 bad=
	while [ $_i -lt 20 ]; do
		bpffs_reset
		writer 1 "$SRV" 1400 &
		_w1=$!
		writer 1 192.0.2.99 1300 &
		wait $_w1 $!
		_s=$("$CONFIG_TOOL" show 2>&1 | sed -n 1p)
		case $_s in
		"addr $SRV port $PORT mtu 1400" | "addr 192.0.2.99 port $PORT mtu 1300") ;;
		*) bad="round $_i: '$_s'" ;;
		esac
		_i=$((_i + 1))
	done
	expect_eq "config-race: concurrent first set, no failure" "" "$(cat "$T/writer.err")" "errors"
	expect_eq "config-race: concurrent first set, one whole config wins" "" "$bad" "bad results"
	# On a pinned map, with the filter attached and a reader.
	attach || { fail config-race "attach failed"; return; }
	: >"$T/writer.err"
	: >"$T/reads"
	writer 40 "$SRV" 1400 &
	_w1=$!
	writer 40 192.0.2.99 1300 &
	_w2=$!
	while kill -0 $_w1 2>/dev/null || kill -0 $_w2 2>/dev/null; do
		"$CONFIG_TOOL" show >>"$T/reads" 2>&1
	done
	wait $_w1 $_w2
	expect_eq "config-race: concurrent set, no failure" "" "$(cat "$T/writer.err")" "errors"
	_torn=$(grep -v -e "^addr $SRV port $PORT mtu 1400\$" -e "^addr 192.0.2.99 port $PORT mtu 1300\$" \
		-e '^sources ' -e '^hops ' "$T/reads" | sort | uniq -c | head -3 | tr '\n' ' ')
	expect_eq "config-race: a reader never sees a mix of two configs ($(wc -l <"$T/reads") reads)" "" "$_torn" "torn reads"
	expect_eq "config-race: one map, the one tc uses" "1" "$(ls "$PIN" | grep -c cls_redirect_config)" "config pins"
	configure
	works config-race
}

# ---- --zero in a loop during a flood ----

case_zero_flood() {
	fresh
	configure && attach || { fail zero-flood "attach failed"; return; }
	flood
	_cnt=0 _err=0
	while flood_running; do
		"$STAT_TOOL" --zero >/dev/null 2>>"$T/zero.err" || _err=$((_err + 1))
		_cnt=$((_cnt + 1))
	done
	flood_wait
	sleep 0.2
	expect_eq "zero-flood: $_cnt zeroings during a flood of $FLOOD_SENT frames, none failed" 0 "$_err" "failed zeroings"
	expect_eq "zero-flood: counters satisfy the invariant after the flood" ok "$(invariant)" "invariant"
	"$STAT_TOOL" --zero
	works zero-flood
}

# ---- filter replaced in a loop during a flood ----

case_replace_flood() {
	fresh
	configure && attach || { fail replace-flood "attach failed"; return; }
	set -- $(bpf_filter)
	pref=$1 handle=$2
	ids="$(map_id cls_redirect_config) $(map_id cls_redirect_metrics)"
	"$STAT_TOOL" --zero
	flood
	_cnt=0 _err=0
	while flood_running && [ $_cnt -lt 50 ]; do
		in_ns srv tc filter replace dev "$DEV" ingress pref "$pref" handle "$handle" bpf da obj "$OBJ" 2>>"$T/replace.err" ||
			_err=$((_err + 1))
		_cnt=$((_cnt + 1))
	done
	flood_wait
	sleep 0.3
	expect_eq "replace-flood: $_cnt replaces during a flood, none failed" 0 "$_err" "failed replaces ($(head -c 300 "$T/replace.err"))"
	set -- $(bpf_filter)
	expect_eq "replace-flood: one filter, same pref and handle" "$pref $handle" "$1 $2" "filter"
	expect_eq "replace-flood: same maps" "$ids" "$(map_id cls_redirect_config) $(map_id cls_redirect_metrics)" "map ids"
	expect_eq "replace-flood: counters satisfy the invariant" ok "$(invariant)" "invariant"
	# Every frame that reached the hook was counted once.  (A frame the
	# backlog dropped before the hook shows in rx_dropped.)
	_drop=$(in_ns srv ip -j -s link show dev "$DEV" | jq -r '.[0].stats64.rx.dropped')
	expect_eq "replace-flood: every frame counted once" "$FLOOD_SENT" "$(($(counter processed_packets_total) + _drop))" \
		"processed + rx_dropped ($_drop)"
	works replace-flood
}

# ---- an incompatible map pinned under the same name ----

case_incompatible() {
	for what in cls_redirect_config cls_redirect_metrics; do
		fresh
		configure && attach || { fail "incompatible $what" "attach failed"; return; }
		set -- $(bpf_filter)
		filt="$1 $2 $3"
		old_id=$(map_id "$what")
		# Someone removes the pin and pins a map of another layout.
		rm -f "$PIN/$what"
		if [ $what = cls_redirect_config ]; then
			spec="type array key 4 value 16 entries 1"
			tool="$CONFIG_TOOL show"
		else
			spec="type percpu_array key 4 value 8 entries 1"
			tool="$STAT_TOOL"
		fi
		bpftool map create "$PIN/$what" $spec name "$what" || { fail "incompatible $what" "bpftool map create failed"; continue; }
		foreign=$(map_id "$what")
		if _out=$(in_ns srv tc filter replace dev "$DEV" ingress pref "$1" handle "$2" bpf da obj "$OBJ" 2>&1); then
			fail "incompatible $what: tc refuses the upgrade" "tc filter replace succeeded"
		else
			pass "incompatible $what: tc refuses the upgrade"
		fi
		expect_eq "incompatible $what: the old filter stays" "$filt" "$(bpf_filter | paste -sd' ')" "filter"
		expect_eq "incompatible $what: the foreign map is untouched" "$foreign" "$(map_id "$what")" "map id"
		_out=$($tool 2>&1)
		_rc=$?
		if [ $_rc = 2 ] && printf '%s' "$_out" | grep -q "refusing this map: .* expects .* found"; then
			pass "incompatible $what: the tool says why"
		else
			fail "incompatible $what: the tool says why" "exit $_rc: $_out"
		fi
		# The old filter still decides with its own maps: pin them back.
		rm -f "$PIN/$what"
		bpftool map pin id "$old_id" "$PIN/$what" || fail "incompatible $what" "re-pin failed"
		works "incompatible $what"
	done
}

case_pins_deleted
case_config_race
case_zero_flood
case_replace_flood
case_incompatible
fresh
test_done
