#!/bin/sh
# test_manpage: the man pages against the code.  tc-cls-redirect.8 (the
# classifier), cls-redirect-config.8 and cls-redirect-stat.8 (the tools),
# cls-redirect-deploy.8 (the deploy scripts and the unit)
# format without a warning (groff, mandoc); the METRICS section of
# tc-cls-redirect.8 lists exactly the counters of include/cls_redirect.h in
# layout order, with their help texts; every option of each tool's --help is
# documented in that tool's page (both deploy scripts' in
# cls-redirect-deploy.8)
# and every long option a page names exists; every command and keyword of
# cls-redirect-config --help is in its page; the pages point at each other;
# their version is the Makefile's.
#
# TC_MAN, CONFIG_MAN, STAT_MAN, DEPLOY_MAN name other files to check (a page being
# written).
set -u
. "$(dirname "$0")/lib/common.sh"
cd "$REPO" || exit 2

TC_MAN=${TC_MAN:-tc-cls-redirect.8}
CONFIG_MAN=${CONFIG_MAN:-cls-redirect-config.8}
STAT_MAN=${STAT_MAN:-cls-redirect-stat.8}
DEPLOY_MAN=${DEPLOY_MAN:-cls-redirect-deploy.8}
PAGES="$TC_MAN $CONFIG_MAN $STAT_MAN $DEPLOY_MAN"
C=tools/cls-redirect-config
S=tools/cls-redirect-stat
tmpdir tmp

require_present build "$C" "$S" examples/deploy.sh examples/undeploy.sh \
	"$TC_MAN" "$CONFIG_MAN" "$STAT_MAN" "$DEPLOY_MAN"

# The formatters must have nothing to say.
for m in $PAGES; do
	if command -v groff >/dev/null; then
		check "$m: groff -man -ww -z" sh -c 'out=$(groff -man -ww -z "$1" 2>&1) && [ -z "$out" ] || { echo "$out"; exit 1; }' sh "$m"
	else
		fail "$m: groff -man -ww -z" "groff not installed (make deps)"
	fi
	if command -v mandoc >/dev/null; then
		check "$m: mandoc -T lint" sh -c 'out=$(mandoc -T lint "$1" 2>&1) && [ -z "$out" ] || { echo "$out"; exit 1; }' sh "$m"
	else
		fail "$m: mandoc -T lint" "mandoc not installed (make deps)"
	fi
	# The man page source with "\-" as "-", to search for options.
	sed 's/\\-/-/g' "$m" >"$tmp/plain.${m##*/}"
done

# The counters of include/cls_redirect.h, in layout order, with their help
# texts: the X-macro itself, through the preprocessor, as the tools see it.
if ! cc -Iinclude -o "$tmp/helps" -x c - <<'C'
#include <stdio.h>
#include "cls_redirect.h"
int main(void)
{
#define HELP(id, name, help) printf("%s\t%s.\n", #name, help);
	CLS_REDIRECT_METRICS(HELP)
	return 0;
}
C
then
	fail "METRICS lists the counters of cls_redirect.h" "cannot compile the help-text printer"
	: >"$tmp/helps.h"
else
	"$tmp/helps" >"$tmp/helps.h"
fi
cut -f1 "$tmp/helps.h" >"$tmp/header"

# METRICS: a ".TP" / ".B name" pair per counter, nothing else in bold-tagged
# paragraphs, same order as the X-macro.
awk '/^\.SH / { in_sec = ($2 == "METRICS") }
	in_sec && prev == ".TP" && /^\.B / { print $2 }
	{ prev = $0 }' "$TC_MAN" >"$tmp/man"
if [ ! -s "$tmp/header" ]; then
	fail "METRICS lists the counters of cls_redirect.h" "no counters found in include/cls_redirect.h"
elif cmp -s "$tmp/header" "$tmp/man"; then
	pass "METRICS lists the $(wc -l <"$tmp/header") counters of cls_redirect.h, in order"
else
	fail "METRICS lists the counters of cls_redirect.h" \
		"differences (< header, > man page): $(diff "$tmp/header" "$tmp/man" | grep '^[<>]' | tr '\n' ' ')"
fi

# METRICS: each counter's text is its help text in the header (which is
# also Prometheus' # HELP), plus a full stop.
if [ -s "$tmp/helps.h" ]; then
	awk '/^\.SH / { m = ($2 == "METRICS") }
		m && prev == ".TP" && /^\.B / { if (name) print name "\t" txt; name = $2; txt = ""; prev = $0; next }
		m && name && !/^\./ { txt = (txt ? txt " " : "") $0 }
		{ prev = $0 }
		END { if (name) print name "\t" txt }' "$TC_MAN" | sed 's/\\-/-/g' >"$tmp/helps.man"
	if cmp -s "$tmp/helps.h" "$tmp/helps.man"; then
		pass "METRICS texts are the header's help texts"
	else
		fail "METRICS texts are the header's help texts" \
			"differences (< header, > man page): $(diff "$tmp/helps.h" "$tmp/helps.man" | grep '^[<>]' | tr '\n' ' ')"
	fi
fi

options() { # the options a --help text names, one per line
	grep -o -- '\(^\|[ ,[]\)--*[a-zA-Z][a-z-]*' | sed 's/^[ ,[]//' | sort -u
}
# found_all NAME LIST MISSING WHY_EMPTY: FAIL NAME with WHY_EMPTY when the
# file LIST (what was looked for) is empty, PASS naming LIST's words when
# nothing is MISSING, else FAIL naming what is.
found_all() {
	if [ ! -s "$2" ]; then
		fail "$1" "$4"
	elif [ -z "$3" ]; then
		pass "$1 ($(tr '\n' ' ' <"$2"))"
	else
		fail "$1" "missing:$3"
	fi
}

# documents PAGE PROGRAM: every option of PROGRAM --help is in PAGE.
documents() {
	_n=${2##*/}
	"$2" --help | options >"$tmp/opts"
	_missing=
	while read -r _o; do
		grep -q -- "$_o\([^a-z-]\|$\)" "$tmp/plain.${1##*/}" || _missing="$_missing $_o"
	done <"$tmp/opts"
	found_all "$1 documents every option of $_n" "$tmp/opts" "$_missing" "no options found in $_n --help"
}
documents "$CONFIG_MAN" "$C"
documents "$STAT_MAN" "$S"
documents "$DEPLOY_MAN" examples/deploy.sh
documents "$DEPLOY_MAN" examples/undeploy.sh

# The other way round: every long option of a page exists.  --now belongs
# to systemctl, --offline to systemd-analyze security, in cls-redirect-deploy.8.
{ "$C" --help; "$S" --help; examples/deploy.sh --help; examples/undeploy.sh --help; echo " --now"; echo " --offline"; } | options >"$tmp/all"
for m in $PAGES; do
	extra=
	for o in $(grep -o -- '--[a-z][a-z-]*' "$tmp/plain.${m##*/}" | sort -u); do
		grep -qx -- "$o" "$tmp/all" || extra="$extra $o"
	done
	if [ -z "$extra" ]; then
		pass "$m: every long option exists"
	else
		fail "$m: every long option exists" "not in any --help:$extra"
	fi
done

# The commands and keywords cls-redirect-config --help lists (two spaces of
# indent for a command, four for a keyword, in "Commands:"), each the tag
# of a paragraph of its page.
"$C" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { on = 0 }
	on && /^  (  )?[a-z][a-z-]*( |$)/ { print $1 }' | sort -u >"$tmp/words"
missing=
for k in $(cat "$tmp/words") show set clear addr port forward no-forward route no-route mtu; do
	grep -q -- "^\.B[IR]* \"*$k\([ \"]\|$\)" "$tmp/plain.${CONFIG_MAN##*/}" || missing="$missing $k"
done
found_all "$CONFIG_MAN documents every command and keyword" "$tmp/words" "$missing" \
	"no Commands: section in $C --help"

# sections PAGE SECTION...: the sections an operator looks for.
sections() {
	_m=$1
	shift
	_missing=
	for _s; do
		grep -qx "\.SH $_s" "$_m" || _missing="$_missing '$_s'"
	done
	if [ -z "$_missing" ]; then pass "$_m: sections"; else fail "$_m: sections" "missing:$_missing"; fi
}
sections "$TC_MAN" NAME SYNOPSIS DESCRIPTION "WIRE FORMAT" "DECISION TABLE" MAPS METRICS \
	CONFIGURATION TOOLS EXAMPLES DEPLOYMENT UPGRADING "LEGACY TC" LIMITATIONS "SEE ALSO"
sections "$CONFIG_MAN" NAME SYNOPSIS DESCRIPTION COMMANDS KEYWORDS OPTIONS "EXIT STATUS" \
	ENVIRONMENT EXAMPLES "SEE ALSO"
sections "$STAT_MAN" NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO"
sections "$DEPLOY_MAN" NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO"

# cls-redirect-config's status adds 3 (needs attention).
for m in "$CONFIG_MAN:0 1 2 3" "$STAT_MAN:0 1 2" "$DEPLOY_MAN:0 1 2"; do
	_want=$(for _c in ${m#*:}; do printf '.B %s ' "$_c"; done)
	if awk '/^\.SH / { in_sec = ($0 == ".SH EXIT STATUS") } in_sec && prev == ".TP" { print } { prev = $0 }' \
		"${m%%:*}" | tr '\n' ' ' | grep -qxF "$_want"; then
		pass "${m%%:*}: EXIT STATUS documents ${m#*:}"
	else
		fail "${m%%:*}: EXIT STATUS documents ${m#*:}" "no .TP entries $_want"
	fi
done

# refers PAGE NAME...: PAGE's SEE ALSO names each NAME(8); the tools' NAME
# line starts with the tool, as whatis(1) shows it.
refers() {
	_m=$1
	shift
	_missing=
	for _r; do
		awk '/^\.SH / { s = ($0 == ".SH SEE ALSO") } s' "$_m" | sed 's/\\-/-/g' |
			grep -q "^\.BR $_r (8)" || _missing="$_missing $_r(8)"
	done
	if [ -z "$_missing" ]; then pass "$_m: SEE ALSO names$(printf " %s(8)" "$@")"; else fail "$_m: SEE ALSO" "missing:$_missing"; fi
}
refers "$TC_MAN" cls-redirect-config cls-redirect-stat cls-redirect-deploy
refers "$CONFIG_MAN" tc-cls-redirect cls-redirect-stat
refers "$STAT_MAN" tc-cls-redirect cls-redirect-config
refers "$DEPLOY_MAN" tc-cls-redirect cls-redirect-config cls-redirect-stat
for p in "$CONFIG_MAN:cls-redirect-config" "$STAT_MAN:cls-redirect-stat" "$DEPLOY_MAN:cls-redirect-deploy,"; do
	expect_eq "${p%%:*}: NAME names ${p#*:}" "${p#*:}" \
		"$(sed -n '/^\.SH NAME/{n;s/ .*//p;}' "${p%%:*}")" "first word of NAME"
done
# tc-cls-redirect.8 points at the tools' pages where their reference was.
check "$TC_MAN: TOOLS points at both tools' pages" sh -c \
	'awk "/^\.SH /{s=(\$0==\".SH TOOLS\")} s" "$1" | sed "s/\\\\-/-/g" | grep -c "^\.BR cls-redirect-\(config\|stat\) (8)" | grep -qx 2' sh "$TC_MAN"

version=$(sed -n 's/^VERSION := //p' Makefile)
for m in $PAGES; do
	if grep -q "^\.TH .*\"cls-redirect $version\"" "$m"; then
		pass "$m: version is $version"
	else
		fail "$m: version is $version" "$(grep '^\.TH' "$m")"
	fi
done
test_done
