#!/bin/sh
# See LICENSE file for copyright and license details.
#
# idn.sh - spfpolicy's conversion of internationalized domain names to
# A-labels (RFC 8616 4: idn_ascii() in spfpolicy.c) against idn2(1), the
# command of libidn2, name by name over the names of tests/idn/gen.py.
#
# The harness tests/idn/idn.c is built the way the binary is (config.mk:
# musl-gcc, static, the same c-ares), so what ships is tested.
# idn2 runs with its defaults (UTS #46 non-transitional processing), once
# a name: it stops at the first invalid name of its input.  ASCII names
# are compared ignoring case: spfpolicy passes them on as they are, idn2
# folds them.
#
# It says which idn2 it compares with and whose tables idna.h holds
# (libidn2 2.3.8's, Unicode 15.1: Debian 13's idn2).  With another idn2
# (Debian 12's 2.3.3, Unicode 14), a name converted otherwise is excused
# only when it holds a character tests/idn/known.txt lists for that
# version, each shown with why.
#
# One FAIL line a name that the two convert differently, then a tally.
# To show the comparison can fail, the names with a UTS #46 deviation
# (ß, ς, ZWJ, ZWNJ) are also converted with idn2 --tr46t, the transitional
# processing: that must differ from spfpolicy on some, straße.de among them.
#
# Environment:
#	IDN_COUNT	how many names gen.py makes (default 1500)
#	IDN_KEEP=DIR	keep the names and both conversions in DIR
#	IDN2=CMD	the idn2 to compare with (default idn2)

cd "$(dirname "$0")/.." || exit 1
TNAME=idn
. tests/lib.sh

PY=/usr/bin/python3
IDN2=${IDN2:-idn2}
export LC_ALL=C.UTF-8	# idn2 reads its arguments in the locale's charset

command -v "$IDN2" >/dev/null 2>&1 ||
	skipped "no idn2 command (Debian: idn2, installed by make deps)"

ver=$("$IDN2" --version 2>/dev/null | sed -n '1s/.*) *//p')
tables=$(sed -n 's/^#define IDN_TABLES_LIBIDN2\t"\(.*\)"/\1/p' idna.h)
echo "# idn: against idn2 ${ver:-(no version)}; idna.h holds libidn2 $tables's tables"

out=${IDN_KEEP:-$(mktemp -d)} || exit 1
mkdir -p "$out/inc" || exit 1
[ -n "${IDN_KEEP:-}" ] || trap 'rm -rf "$out"' EXIT
trap 'exit 1' INT TERM

# config.h as "make" would make it, without writing into the tree
[ -f config.h ] || cp config.def.h "$out/inc/config.h" || exit 1

# build with config.mk's variables, and whatever the calling make was told
# (MAKEFLAGS): make runs the command, so the quoting of CPPFLAGS holds
make -s -f config.mk -f - OUT="$out" > "$out/build.log" 2>&1 <<'EOF' ||
$(OUT)/idn: tests/idn/idn.c spfpolicy.c spfpolicy.h idna.h
	$(CC) $(CPPFLAGS) -I$(OUT)/inc $(CFLAGS) -o $@ tests/idn/idn.c $(LDFLAGS) $(LDLIBS)
EOF
	die "build of tests/idn/idn.c" "$out/build.log" 1

"$PY" tests/idn/gen.py ${IDN_COUNT:-} > "$out/names" ||
	die "tests/idn/gen.py failed" "" 1
"$out/idn" < "$out/names" > "$out/ours" 2> "$out/ours.err" ||
	die "the harness failed" "$out/ours.err" 1

# ref [IDN2 OPTION...] < NAMES: "NAME<TAB>A-LABELS" or "NAME<TAB>!invalid"
ref() {
	while IFS= read -r n; do
		if a=$("$IDN2" "$@" -- "$n" 2>/dev/null); then
			printf '%s\t%s\n' "$n" "$a"
		else
			printf '%s\t!invalid\n' "$n"
		fi
	done
}

# differ OURS REF: "NAME<TAB>OURS<TAB>REF" for each name they convert
# differently, ASCII names ignoring ASCII case; and a name missing from
# either side
differ() {
	LC_ALL=C awk -F '\t' '
	NR == FNR { ours[FNR] = $0; n = FNR; next }
	{
		split(ours[FNR], o, "\t")
		if (o[1] != $1) {
			print $1 "\t(out of step: " o[1] ")\t" $2
			exit
		}
		a = o[2]; b = $2
		if ($1 !~ /[\200-\377]/) {
			a = tolower(a); b = tolower(b)
		}
		if (a != b)
			print $1 "\t" o[2] "\t" $2
	}
	END {
		if (FNR != n)
			print "(count)\t" n " names\t" FNR " names"
	}' "$1" "$2"
}

ref < "$out/names" > "$out/ref"
differ "$out/ours" "$out/ref" > "$out/diff"
# known NAME: the reason tests/idn/known.txt gives this idn2 for a
# character of NAME; false when none
known() {
	[ "$ver" != "$tables" ] || return 1
	while IFS="$(printf '\t')" read -r v c why; do
		case $v in \#*|"") continue ;; esac
		case $1 in
		*"$c"*)	[ "$v" = "$ver" ] && echo "$why" && return 0 ;;
		esac
	done < tests/idn/known.txt
	return 1
}
bad=0
nknown=0
while IFS="$(printf '\t')" read -r n a b; do
	if why=$(known "$n"); then
		echo "# idn: $n: spfpolicy $a, idn2 $ver $b: $why"
		nknown=$((nknown + 1))
	else
		fail "$n" "spfpolicy: $a, idn2 $ver: $b"
		bad=$((bad + 1))
	fi
done < "$out/diff"
total=$(wc -l < "$out/names")
invalid=$(grep -c '	!invalid$' "$out/ref")
if [ "$bad" = 0 ]; then
	ok "$((total - nknown)) of $total names as idn2 $ver converts them ($((total - invalid)) valid, $invalid invalid; $nknown known to differ)"
else
	fail "agreement" "$bad of $total names converted otherwise than by idn2 $ver"
fi

# the same comparison against the transitional conversion must fail
grep -e ß -e ς -e "$(printf '\342\200\214')" -e "$(printf '\342\200\215')" \
	"$out/names" > "$out/dev"
ref --tr46t < "$out/dev" > "$out/ref-t"
awk -F '\t' 'NR == FNR { d[$1] = 1; next } ($1 in d)' "$out/dev" "$out/ours" \
	> "$out/ours-dev"
differ "$out/ours-dev" "$out/ref-t" > "$out/diff-t"
ndev=$(wc -l < "$out/dev")
nt=$(grep -c . "$out/diff-t")
if [ "$nt" -gt 0 ] && grep -q '^straße\.de	' "$out/diff-t"; then
	ok "a transitional conversion would differ on $nt of $ndev names with ß, ς, ZWJ or ZWNJ"
else
	fail transitional "idn2 --tr46t differs on $nt of $ndev names, straße.de not among them" "$out/diff-t"
fi

t_end
