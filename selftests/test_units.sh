#!/bin/sh
# test_units: the systemd units in examples/ (man page: DEPLOYMENT).
#
# * systemd-analyze security --offline=true rates each service 4.0 or lower
#   (a timer starts no process and has no exposure of its own);
# * systemd-analyze verify finds nothing to say about any of them, installed
#   as make install would (paths rewritten);
# * what each service runs works with exactly the capabilities its unit
#   allows: the textfile service with none at all (uid 0, empty bounding
#   set, no new privileges, securebits noroot), deploy.sh and undeploy.sh
#   with the bounding set of cls-redirect@.service, on a real interface in a
#   throwaway namespace.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

SRV=192.0.2.1 CLI=192.0.2.2 PORT=19523 DEV=srv0
UNITS="cls-redirect@.service cls-redirect-textfile.service cls-redirect-textfile.timer"
require_present test_units obj/cls_redirect_btf.o tools/cls-redirect-stat tools/cls-redirect-config \
	examples/deploy.sh examples/undeploy.sh -- systemd-analyze setpriv
for u in $UNITS; do require_present test_units "examples/$u"; done
tmpdir T

# ---- exposure ----
for u in $UNITS; do
	case $u in *.timer) continue ;; esac
	out=$(cd "$REPO/examples" && systemd-analyze security --offline=true "./$u" 2>&1)
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
	if [ -z "$score" ]; then
		fail "$u: exposure" "no score: $(printf '%s' "$out" | tail -3 | tr '\n' ' ')"
	elif awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }'; then
		pass "$u: systemd-analyze security exposure $score <= 4.0"
	else
		fail "$u: exposure" "$score > 4.0: $(printf '%s\n' "$out" | grep '✗' | head -5 | tr '\n' ' ')"
	fi
done
# The timer triggers the rated service (same name, no Unit= elsewhere).
check "the timer starts cls-redirect-textfile.service" sh -c \
	"! grep -q '^Unit=' '$REPO/examples/cls-redirect-textfile.timer' && grep -q '^OnUnitActiveSec=' '$REPO/examples/cls-redirect-textfile.timer'"

# ---- verify, installed as make install would ----
mkdir -p "$T/units" "$T/prefix/sbin"
cp "$REPO/tools/cls-redirect-stat" "$REPO/tools/cls-redirect-config" "$T/prefix/sbin/"
cp "$REPO/examples/deploy.sh" "$T/prefix/sbin/cls-redirect-deploy"
cp "$REPO/examples/undeploy.sh" "$T/prefix/sbin/cls-redirect-undeploy"
for u in $UNITS; do sed "s|/usr/local/|$T/prefix/|g" "$REPO/examples/$u" >"$T/units/$u"; done
cp "$T/units/cls-redirect@.service" "$T/units/cls-redirect@eth0.service"
out=$(cd "$T/units" && systemd-analyze verify --man=no ./cls-redirect@eth0.service \
	./cls-redirect-textfile.service ./cls-redirect-textfile.timer 2>&1 |
	grep -v 'sys-subsystem-net-devices-eth0.device')
expect_eq "systemd-analyze verify: nothing to say" "" "$out"

# The capability bounding set a unit allows, as setpriv takes it.
bounding() {
	_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$REPO/examples/$1" | tr 'A-Z' 'a-z' | sed 's/cap_//g')
	printf -- '-all'
	for _c in $_caps; do printf ',+%s' "$_c"; done
}
DEPLOY_CAPS=$(bounding cls-redirect@.service)

# ---- deploy.sh and undeploy.sh with cls-redirect@.service's capabilities ----
srv_cli_pair "$DEV" "$SRV" "$CLI"
in_ns srv ip addr add "$SRV/32" dev lo 2>/dev/null
_out=$(in_ns srv setpriv --bounding-set="$DEPLOY_CAPS" --inh-caps=-all --no-new-privs \
	sh "$REPO/examples/deploy.sh" --source "$CLI" "$DEV" "$SRV" "$PORT" "$REPO/obj/cls_redirect_btf.o" 2>&1)
expect_eq "deploy.sh with the unit's capabilities: exit 0" 0 "$?" "exit status ($_out)"
expect_eq "deploy.sh with the unit's capabilities: status finds it attached" "$DEV" \
	"$(in_ns srv "$REPO/tools/cls-redirect-config" status -j | jq -r '.attached[0].device')"

# ---- the textfile service: no capability at all ----
mkdir "$T/textfile"
_stat=$(sed -n 's|^ExecStart=/usr/local/sbin/\(cls-redirect-stat .*\) --output .*|\1|p' "$REPO/examples/cls-redirect-textfile.service")
expect_eq "textfile service runs cls-redirect-stat --prometheus" "cls-redirect-stat --prometheus" "$_stat"
# securebits noroot: uid 0 gains no capability at exec, as with an empty
# bounding set under systemd.
in_ns srv setpriv --bounding-set=-all --inh-caps=-all --no-new-privs \
	--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked \
	"$REPO/tools/cls-redirect-stat" --prometheus --output "$T/textfile/cls_redirect.prom" 2>"$T/err"
expect_eq "textfile with no capability: exit 0, no error" "0 " "$? $(cat "$T/err")"
check "textfile with no capability: attached and configured" sh -c \
	"grep -qx 'cls_redirect_attached{device=\"$DEV\"} 1' '$T/textfile/cls_redirect.prom' && grep -qx 'cls_redirect_configured 1' '$T/textfile/cls_redirect.prom'"
in_ns srv setpriv --bounding-set=-all --inh-caps=-all --no-new-privs \
	--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked \
	grep CapEff /proc/self/status >"$T/caps"
check "textfile with no capability: CapEff really 0" grep -q '^CapEff:[[:space:]]*0000000000000000$' "$T/caps"

_out=$(in_ns srv setpriv --bounding-set="$DEPLOY_CAPS" --inh-caps=-all --no-new-privs \
	sh "$REPO/examples/undeploy.sh" "$DEV" --keep-maps 2>&1)
expect_eq "undeploy.sh with the unit's capabilities: exit 0" 0 "$?" "exit status ($_out)"

test_done
