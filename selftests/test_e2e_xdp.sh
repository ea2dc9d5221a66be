#!/bin/sh
# test_e2e_xdp: every case of test_e2e.sh with the XDP flavour on the
# servers (native XDP on their veth, attached and replaced with ip link;
# tc-cls-redirect.8, XDP).  Case names are prefixed with "xdp ".
set -u
. "$(dirname "$0")/lib/common.sh"
tmpdir T
out=$T/out
E2E_FLAVOUR=xdp sh "$REPO/selftests/test_e2e.sh" >"$out" 2>&1
rc=$?
sed 's/^\(PASS\|FAIL\|SKIP\) /\1 xdp /' "$out"
exit $rc
