#!/bin/sh
# test_completion: the bash completion of cls-redirect-config and
# cls-redirect-stat (completions/cls-redirect), sourced into bash and asked
# for completions the way bash asks (COMP_WORDS, COMP_CWORD, then the
# function `complete -p` names).  Every option of each tool's --help, every
# command and every set keyword of cls-redirect-config --help is offered;
# keywords already given are not offered again; -d completes directories;
# a value (addr, port, mtu, -w SECONDS) gets no keyword.
set -u
. "$(dirname "$0")/lib/common.sh"
cd "$REPO" || exit 2
C=tools/cls-redirect-config
S=tools/cls-redirect-stat
require_present test_completion completions/cls-redirect "$C" "$S" -- bash
tmpdir T
mkdir "$T/pins" "$T/pinsx" "$T/other"

# complete WORD...: what bash offers for the command line WORD... (the last
# word is the one being completed, "" for a new word), sorted, one line.
complete_words() {
	bash -c '. completions/cls-redirect || exit 1
		f=$(complete -p "$1" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
		[ -n "$f" ] || { echo "no completion registered for $1"; exit 1; }
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		"$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
# offers NAME WANT WORD...: the completion of WORD... is exactly WANT.
offers() {
	_name=$1 _want=$2
	shift 2
	expect_eq "$_name" "$_want" "$(complete_words "$@")" "completion of '$*'"
}
sorted() { printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

# What --help lists: options (on the lines that start with one), commands
# (two spaces of indent in "Commands:") and set keywords (four spaces).
options() { awk '/^  -|^      --/ { sub(/^ +/, ""); split($0, a, "  "); print a[1] }' | grep -o -- '--*[a-zA-Z][a-z-]*' |
	LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'; }
help_section() { "$C" --help | awk -v re="$1" '/^Commands:/ { on = 1; next } on && /^$/ { on = 0 }
	on && $0 ~ re { print $1 }' | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'; }
commands=$(help_section '^  [a-z]')
keywords=$(help_section '^    [a-z]')
[ -n "$commands" ] && [ -n "$keywords" ] || fail "--help lists commands and keywords" "none found in $C --help"

offers "config: every option of --help" "$("$C" --help | options)" cls-redirect-config -
offers "stat: every option of --help" "$("$S" --help | options)" cls-redirect-stat -
offers "config: every command of --help ($commands)" "$commands" cls-redirect-config ""
offers "config set: every keyword of --help ($keywords)" "$keywords" cls-redirect-config set ""
offers "config: a prefix" "services set show sources status" cls-redirect-config s
offers "config: commands after options" "services set show sources status" cls-redirect-config -d "$T/pins" -j s
offers "config sources: add or del" "add del" cls-redirect-config sources ""
offers "config hops a: add" "add" cls-redirect-config hops a
offers "config sources add: a prefix, no keyword" "" cls-redirect-config sources add ""
offers "config set: keywords given are not offered again" "mtu port" cls-redirect-config set addr 192.0.2.1 forward route ""
offers "config set: no-forward takes forward away too" "addr mtu no-route port route" cls-redirect-config set no-forward ""
offers "config set: no-route takes route away too" "addr forward mtu no-forward port" cls-redirect-config set no-route ""
offers "config set addr: a value, no keyword" "" cls-redirect-config set addr ""
offers "config set mtu: a value, no keyword" "" cls-redirect-config set mtu ""
offers "config -d: directories" "$T/pins $T/pinsx" cls-redirect-config -d "$T/pin"
offers "config --pin-dir: directories" "$T/other" cls-redirect-config --pin-dir "$T/o"
offers "config show: no more words" "" cls-redirect-config show ""
offers "stat: options not given yet" "$(sorted --json --pretty --prometheus --output --watch --zero --pin-dir --help --version)" \
	cls-redirect-stat -j --
offers "stat -w: a value, no option" "" cls-redirect-stat -w ""
offers "stat --output: file names" "$T/pins $T/pinsx" cls-redirect-stat --output "$T/pin"
offers "config set --group: group names" "root" cls-redirect-config set --group roo
offers "stat -d: directories" "$T/pins $T/pinsx" cls-redirect-stat -d "$T/pin"
test_done
