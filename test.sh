#!/bin/sh
# See LICENSE file for copyright and license details.
#
# test.sh - spfpolicy regression tests, run by "make test".
#
# Sections run in order; each reports through ok/fail/skip (tests/lib.sh).
# Runners written in other languages print "ok NAME", "FAIL NAME: reason"
# and "skipped: reason" lines, which runner() counts into the totals here:
# a section that cannot run in this environment (no root, no private
# namespaces in a chroot) is skipped, not failed.  The last line is
# "N passed, N failed, N skipped"; the exit status is 1 when anything
# failed.
#
# Environment:
#	SPF_SUITE	the RFC 7208 test suite (default:
#			../shared/spf-suite/rfc7208-tests.yml)
#	VERBOSE=1	also print the runners' ok lines
#	SPFPOLICY	the binary (default ./spfpolicy; relative to this
#			directory), passed on to every section
#	TESTS		the runners to run, by name (e.g. "rfc7208 cases
#			faults abuse"); default all
#	SKIP_TESTS	the runners not to run (make test-core: the real
#			Postfix ones)

cd "$(dirname "$0")" || exit 1
ROOT=$(pwd)
BIN=${SPFPOLICY:-spfpolicy}
case $BIN in
/*)	;;
*)	BIN=$ROOT/$BIN ;;
esac
export SPFPOLICY="$BIN"
PY=/usr/bin/python3
SPF_SUITE=${SPF_SUITE:-$ROOT/../shared/spf-suite/rfc7208-tests.yml}
MAXSIZE=262144		# bytes: the static binary stays small (c-ares 1.18)
MAXSIZE_CARES=307200	# with a later c-ares, whose init alone is ~68 KB

TNAME=
. tests/lib.sh
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

section() {
	echo "# $*"
}

# runner NAME CMD...: run CMD, count its ok/FAIL/skipped lines, show the
# failures (with their indented detail lines), skips and notes; a runner
# that exits non-zero without saying FAIL is itself a failure; one not
# named in $TESTS (when set), or named in $SKIP_TESTS, is skipped.  printf, not echo: a runner's
# escaped "\n" stays one line.
runner() {
	name=$1
	shift
	case " ${TESTS:-$name} " in
	*" $name "*)	;;
	*)	skip "$name: not in TESTS"; return ;;
	esac
	case " ${SKIP_TESTS:-} " in
	*" $name "*)	skip "$name: in SKIP_TESTS"; return ;;
	esac
	"$@" < /dev/null > "$tmp/out" 2>&1
	rc=$?
	before=$nfail
	passed=$npass
	skips=$nskip
	show=0
	while IFS= read -r line; do
		case $line in
		"ok "*)
			npass=$((npass + 1))
			show=0
			[ -z "${VERBOSE:-}" ] || printf '%s\n' "$line"
			;;
		"FAIL "*)
			nfail=$((nfail + 1))
			show=1
			printf '%s\n' "$line"
			;;
		"skipped: "*|"# skipped: "*)
			nskip=$((nskip + 1))
			show=0
			printf 'skipped: %s\n' "${line#*skipped: }"
			;;
		"#"*)
			printf '%s\n' "$line"
			;;
		[0-9]*" passed, "[0-9]*" failed"*)
			;;	# the runner's own total: ours is printed last
		*)
			[ "$show" = 0 ] || printf '%s\n' "$line"
			;;
		esac
	done < "$tmp/out"
	if [ "$rc" != 0 ] && [ "$nfail" = "$before" ]; then
		tail -n 20 "$tmp/out"
		fail "$name" "exited $rc"
	fi
	printf '# %s: %d ok, %d FAIL' "$name" $((npass - passed)) $((nfail - before))
	[ "$nskip" = "$skips" ] || printf ', %d skipped' $((nskip - skips))
	echo
}

section "binary"
if [ ! -x "$BIN" ]; then
	fail binary "no $BIN: run make"
else
	case $(file -b "$BIN") in
	*"statically linked"*|*"static-pie linked"*)
		ok static ;;
	*)	fail static "$(file -b "$BIN")" ;;
	esac

	out=$("$BIN" -V 2>&1)
	case $out in
	*"c-ares 1.18."*)	ok "version ($out)" ;;
	*c-ares*)	ok "version ($out)"; MAXSIZE=$MAXSIZE_CARES ;;
	*)		fail version "-V said: $out" ;;
	esac

	if [ "$(id -u)" != 0 ]; then
		skip "chroot: needs root"
	else
		mkdir "$tmp/root" && cp "$BIN" "$tmp/root/spfpolicy"
		out=$(chroot "$tmp/root" /spfpolicy -V 2>&1)
		case $out in
		*c-ares*)	ok chroot ;;
		*)		fail chroot "-V in an empty chroot said: $out" ;;
		esac
	fi

	size=$(wc -c < "$BIN")
	if [ "$size" -lt "$MAXSIZE" ]; then
		ok "size ($size bytes)"
	else
		fail size "$size bytes, limit $MAXSIZE"
	fi
fi

section "man page"
if ! command -v mandoc >/dev/null; then
	skip "man page lint: no mandoc"
elif out=$(mandoc -T lint -W warning spfpolicy.8 2>&1) && [ -z "$out" ]; then
	ok "man page lint"
else
	fail "man page lint" "$out"
fi

section "the map of spfpolicy.c: sections in order, no call up the file, state in its section"
runner map sh tests/map.sh -v

section "RFC 7208 test suite"
if [ ! -f tests/spfsuite.py ]; then
	skip "RFC 7208 suite: no tests/spfsuite.py"
elif [ ! -f "$SPF_SUITE" ]; then
	skip "RFC 7208 suite not found at $SPF_SUITE (set SPF_SUITE)"
else
	runner rfc7208 "$PY" tests/spfsuite.py --bin "$BIN" "$SPF_SUITE"
fi

section "own SPF cases"
set -- tests/cases/*.yml
if [ ! -f tests/spfsuite.py ] || [ ! -f "$1" ]; then
	skip "own cases: no tests/spfsuite.py or tests/cases/*.yml"
else
	runner cases "$PY" tests/spfsuite.py --bin "$BIN" "$@"
fi

section "internationalized names (RFC 8616)"
runner idn sh tests/idn.sh

section "DNS fault matrix"
runner faults env SPFPOLICY="$BIN" sh tests/faults.sh

section "resolver timeouts from resolv.conf"
runner resolvconf env SPFPOLICY="$BIN" tests/resolvconf.sh

section "resolver protections: query IDs, source ports, forged answers, failover, cookies"
runner resolver env SPFPOLICY="$BIN" sh tests/resolver.sh

section "parsed records kept by a long-lived process"
runner rcache env SPFPOLICY="$BIN" sh tests/rcache.sh

section "query mode -v: the evaluation tree"
runner verbose env SPFPOLICY="$BIN" sh tests/verbose.sh

section "protocol abuse"
runner abuse env SPFPOLICY="$BIN" sh tests/abuse.sh

section "listener mode"
runner listener tests/listener.sh

section "spawn and listener mode on a terminal"
runner terminal env SPFPOLICY="$BIN" tests/terminal.sh

section "in a container: no /dev/log, no /etc/passwd, the engine's stop (podman where it runs)"
runner container env SPFPOLICY="$BIN" tests/container.sh

section "system calls: none newer than Linux 3.10"
runner syscalls env SPFPOLICY="$BIN" sh tests/syscalls.sh

section "side by side with pypolicyd-spf"
if [ "$(id -u)" != 0 ]; then	# no namespace: the replies against expected-VERSION/
	runner sidebyside tests/sidebyside/run.sh --user --spfpolicy "$BIN"
else	# -R: as root in the test namespace, spawn mode must be told
	runner sidebyside tests/sidebyside/run.sh --spfpolicy "$BIN -R"
fi

section "real Postfix, end to end"
runner postfix-e2e tests/postfix-e2e.sh
runner postfix-e2e-listener tests/postfix-e2e.sh --listener

t_end
