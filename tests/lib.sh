# See LICENSE file for copyright and license details.
#
# lib.sh - the ok/FAIL lines and the tally of the test scripts, sourced
# (POSIX sh) once TNAME is set: the prefix of their test names ("" for
# none: test.sh).
#
# Lines are printed with printf, never echo: dash's echo expands the "\n"
# of an escaped text (a traceback shown on one line) into line breaks.
#
#	ok NAME			"ok TNAME/NAME"
#	fail NAME REASON [FILE]	"FAIL TNAME/NAME: REASON", then FILE's first
#				40 lines indented
#	skip REASON...		"skipped: TNAME: REASON" (no TNAME: for
#				test.sh), counted as skipped
#	t_end [RC]		"N passed, N failed, N skipped"; exit RC, by
#				default 0 when nothing failed, else 1
#	die REASON [FILE [RC]]	the harness cannot go on: fail setup, then
#				t_end RC (default 2)
#	skipped REASON...	nothing can be tested here: skip REASON, then
#				t_end 0
#	relay NAME		a runner's output on stdin passed on, its
#				ok/FAIL/skipped lines under TNAME/NAME and
#				counted, its own tally left out
#	t_since START [END]	seconds from START to END (default: now),
#				both "date +%s.%N", to a tenth
#	t_binary		BIN: $SPFPOLICY (default ./spfpolicy; a bare
#				name not in the work tree is looked up in
#				$PATH) as an absolute path; die unless it is
#				an executable file
#	dnsd_start ZONE [PORT]	tests/dnsd.py serving ZONE on 127.0.0.1, a
#				port of its own (or PORT): sets dnsd (its
#				PID, for dnsd_stop) and NS (ADDR:PORT, for
#				-n); T is the scratch directory (T/port,
#				T/dnsd.err); die when it does not start
#				within 10 s
#	dnsd_stop		stop it (the caller's cleanup calls this)
#	dnsd_scratch NAME	the start of a test on tests/dnsd.py, outside
#				namespaces: skipped without python3's dnslib
#				and yaml, t_binary, T a scratch directory
#				(spfpolicy-NAME.*) removed at exit with dnsd
#				stopped; INT and TERM exit 1

npass=0
nfail=0
nskip=0

ok() {
	npass=$((npass + 1))
	printf 'ok %s\n' "${TNAME:+$TNAME/}$1"
}

fail() {
	nfail=$((nfail + 1))
	printf 'FAIL %s: %s\n' "${TNAME:+$TNAME/}$1" "$2"
	if [ -n "${3:-}" ] && [ -s "$3" ]; then
		sed -n '1,40s/^/    /p' "$3"
	fi
}

skip() {
	nskip=$((nskip + 1))
	printf 'skipped: %s\n' "${TNAME:+$TNAME: }$*"
}

t_end() {
	echo "$npass passed, $nfail failed, $nskip skipped"
	[ -n "${1:-}" ] && exit "$1"
	[ "$nfail" = 0 ] && exit 0
	exit 1
}

die() {
	fail setup "$1" "${2:-}"
	t_end "${3:-2}"
}

skipped() {
	skip "$@"
	t_end 0
}

relay() {
	while IFS= read -r line; do
		case $line in
		"ok "*)		npass=$((npass + 1))
				printf 'ok %s\n' "$TNAME/$1/${line#ok }" ;;
		"FAIL "*)	nfail=$((nfail + 1))
				printf 'FAIL %s\n' "$TNAME/$1/${line#FAIL }" ;;
		"skipped: "*|"# skipped: "*)
				nskip=$((nskip + 1))
				printf 'skipped: %s\n' "$TNAME/$1: ${line#*skipped: }" ;;
		[0-9]*" passed, "[0-9]*" failed"*) ;;
		*)		printf '%s\n' "$line" ;;
		esac
	done
}

t_binary() {
	BIN=${SPFPOLICY:-spfpolicy}
	case $BIN in
	/*)	;;
	*/*)	BIN=$(pwd)/$BIN ;;
	*)	if [ -e "$BIN" ]; then
			BIN=$(pwd)/$BIN
		else
			BIN=$(command -v "$BIN" 2>/dev/null || echo "$(pwd)/$BIN")
		fi ;;
	esac
	[ -f "$BIN" ] && [ -x "$BIN" ] ||
		die "SPFPOLICY=$BIN is not an executable file" "" 1
}

t_since() {
	awk -v a="$1" -v b="${2:-$(date +%s.%N)}" 'BEGIN { printf "%.1f", b - a }'
}

dnsd_start() {
	"$PY" tests/dnsd.py -a 127.0.0.1 -p "${2:-0}" --ready "$T/port" "$1" \
		2> "$T/dnsd.err" &
	dnsd=$!
	i=0
	while [ ! -s "$T/port" ] && [ "$i" -lt 100 ]; do
		kill -0 "$dnsd" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$T/port" ] || die "tests/dnsd.py did not start" "$T/dnsd.err"
	NS=127.0.0.1:$(cat "$T/port")
}

dnsd_stop() {
	[ -n "${dnsd:-}" ] && kill "$dnsd" 2>/dev/null && wait "$dnsd" 2>/dev/null
}

dnsd_scratch() {
	"$PY" -c 'import dnslib, yaml' 2>/dev/null ||
		skipped "python3 modules dnslib and yaml (apt-get install python3-dnslib python3-yaml)"
	t_binary
	T=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-$1.XXXXXX") || exit 2
	dnsd=
	trap 'dnsd_stop; rm -rf "$T"' EXIT
	trap 'exit 1' INT TERM
}
