#!/bin/bash
# See LICENSE file for copyright and license details.
#
# asan.sh - "make check-asan": build spfpolicy with AddressSanitizer and
# UndefinedBehaviorSanitizer (glibc, Debian's libc-ares-dev) and run under
# it the RFC 7208 suite and tests/cases/*.yml (tests/spfsuite.py),
# tests/faults.sh and tests/abuse.sh, plus a few inputs aimed at the
# fixed-size buffers.  Passes when no sanitizer report was written.
#
#	tests/asan.sh
#
# Every run of the binary goes through a wrapper that execs it with
# stderr copied into one log (tee through a pipe: spfpolicy sets
# RLIMIT_FSIZE to 0, so a sanitizer could not write a log file of its
# own).  The log is searched for "runtime error", "ERROR:
# AddressSanitizer" and "LeakSanitizer".
#
# Prints "ok NAME" / "FAIL NAME: why" lines and "N passed, N failed";
# exits 1 when anything failed.
#
# Environment:
#	SPF_SUITE	the RFC 7208 suite (default
#			../shared/spf-suite/rfc7208-tests.yml)
#	CC		compiler (default gcc)
#	ASAN_KEEP	a directory to keep the binary and the log in
#	FAULTS_SLACK	seconds added to the time limits of faults.sh and
#			tests/cases (default 1: a slower start-up)
#	ABUSE_REQUESTS	passed on to abuse.sh (default here 100000)

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
PY=/usr/bin/python3
SPF_SUITE=${SPF_SUITE:-$ROOT/../shared/spf-suite/rfc7208-tests.yml}
CC=${CC:-gcc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-asan.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
ulimit -c 0

TNAME=asan
. tests/lib.sh

# the build
BIN=$tmp/spfpolicy-asan
LOG=$tmp/sanitizer.log
: > "$LOG"
if [ ! -f config.h ]; then
	cp config.def.h "$tmp/config.h"
fi
if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-DVERSION='"asan"' -iquote "$tmp" -g -O1 \
	-fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -o "$BIN" spfpolicy.c -lcares \
	> "$tmp/build.log" 2>&1; then
	fail build "$(head -n 5 "$tmp/build.log") (needs libc-ares-dev)"
	t_end 1
fi
ok build

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=${LSAN_OPTIONS:-}
export SPF_ASAN_BIN="$BIN" SPF_ASAN_LOG="$LOG"
cat > "$tmp/spfpolicy" <<'EOF'
#!/bin/bash
# exec the sanitized binary (same PID), its stderr copied into the log
exec "$SPF_ASAN_BIN" "$@" 2> >(tee -a "$SPF_ASAN_LOG" >&2)
EOF
chmod +x "$tmp/spfpolicy"
W=$tmp/spfpolicy

out=$("$W" -V 2>&1)
case $out in
*c-ares*)	ok version ;;
*)		fail version "-V said: $out" ;;
esac

# 1. the RFC 7208 suite and the own cases
if [ -f "$SPF_SUITE" ]; then
	relay rfc7208 < <("$PY" tests/spfsuite.py --bin "$W" "$SPF_SUITE" < /dev/null 2>&1)
else
	echo "# skipped: RFC 7208 suite not found at $SPF_SUITE (set SPF_SUITE)"
fi
relay cases < <("$PY" tests/spfsuite.py --bin "$W" --slack "${FAULTS_SLACK:-1}" tests/cases/*.yml < /dev/null 2>&1)

# 2. the DNS fault matrix
relay faults < <(SPFPOLICY=$W FAULTS_SLACK=${FAULTS_SLACK:-1} \
	FAULTS_OUT=$tmp/faults.out sh tests/faults.sh < /dev/null 2>/dev/null)

# 3. protocol abuse (RSS is not checked: shadow memory)
relay abuse < <(SPFPOLICY=$W ABUSE_RSS_KB=0 sh tests/abuse.sh < /dev/null 2>&1)

# 4. inputs aimed at the fixed-size buffers (query mode takes its
#    arguments without the 4096-octet line limit of the policy protocol)
cat > "$tmp/zone.yml" <<'EOF'
h.asan.example.org:
  - TXT: v=spf1 exists:%{h}.%{l}.%{s}.x.asan.example.org -all exp=e.asan.example.org
l.asan.example.org:
  - TXT: v=spf1 exists:%{lr-.+,/_=}.%{h1r}.%{s2}.%{o}.%{d}.%{i}.%{v}.x.asan.example.org -all
e.asan.example.org:
  - TXT: "%{h}%{h}%{r}%{c}%{t}%{s}%{l}%{L}%{H}%{S}%{p} %_%-%%"
EOF
"$PY" tests/dnsd.py --ready "$tmp/port" "$tmp/zone.yml" &
dnsd=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port" 2>/dev/null)
printf 'Lookup_Time = 5\nDNS_Timeout_ms = 500\nReceiver_Domain = %s\n' \
	"$(head -c 8000 /dev/zero | tr '\0' '.')" > "$tmp/q.conf"
dots=$(head -c 8000 /dev/zero | tr '\0' '.')
pct=$(head -c 4000 /dev/zero | tr '\0' '%')
i=0
for args in \
	"192.0.2.1|u@h.asan.example.org|$dots" \
	"192.0.2.1|$dots@h.asan.example.org|a.$dots" \
	"2001:db8::1|$pct@l.asan.example.org|$pct" \
	"192.0.2.1|u@l.asan.example.org|$(head -c 300 /dev/zero | tr '\0' 'a').example" \
	"192.0.2.1|$(head -c 100000 /dev/zero | tr '\0' 'x')@h.asan.example.org|h" \
	"::ffff:192.0.2.1|@h.asan.example.org|$dots" ; do
	i=$((i + 1))
	IFS='|' read -r ip sender helo <<-EOF
	$args
	EOF
	"$W" -q -c "$tmp/q.conf" -n "127.0.0.1:$port" "$ip" "$sender" "$helo" \
		> "$tmp/q.out" 2>&1 < /dev/null
	rc=$?
	if [ "$rc" -gt 6 ]; then
		fail "long-arguments-$i" "exit status $rc: $(head -c 300 "$tmp/q.out")"
	else
		ok "long-arguments-$i"
	fi
done
kill "$dnsd" 2>/dev/null
wait "$dnsd" 2>/dev/null

# the tee processes finish when their binary has exited
sleep 0.5
if grep -qE 'runtime error|ERROR: AddressSanitizer|LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$LOG"; then
	n=$(grep -cE 'runtime error|ERROR: (AddressSanitizer|LeakSanitizer)' "$LOG")
	fail sanitizer-reports "$n report(s); frames in spfpolicy.c, by count:"
	grep -oE ' in [A-Za-z_0-9]+ [^ ]*spfpolicy\.c:[0-9]+|spfpolicy\.c:[0-9]+:[0-9]+: runtime error' "$LOG" |
		sed 's/^ in //; s|[^ ]*/||' | sort | uniq -c | sort -rn | head -n 15 |
		sed 's/^/    /'
	echo "    the first report:"
	grep -m1 -A 25 -E 'runtime error|ERROR: (AddressSanitizer|LeakSanitizer)' "$LOG" |
		sed 's/^/    /'
else
	ok sanitizer-reports
fi
if [ -n "${ASAN_KEEP:-}" ]; then
	mkdir -p "$ASAN_KEEP" && cp "$BIN" "$LOG" "$tmp/faults.out" "$ASAN_KEEP"/ 2>/dev/null
	echo "# kept in $ASAN_KEEP"
fi
t_end
