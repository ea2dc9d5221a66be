#!/bin/sh
# test_e2e_xdp: every case of test_e2e.sh with the XDP flavour on the
# servers (native XDP on their veth, attached and replaced with ip link;
# tc-cls-redirect.8, XDP).  Case names are prefixed with "xdp ".
set -u
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
E2E_FLAVOUR=xdp sh "$(dirname "$0")/test_e2e.sh" >"$out" 2>&1
rc=$?
sed 's/^\(PASS\|FAIL\|SKIP\) /\1 xdp /' "$out"
exit $rc
