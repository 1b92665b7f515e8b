#!/bin/sh
# See LICENSE file for copyright and license details.
#
# verbose.sh - spfpolicy -q -v (issue 12): the evaluation as a tree on
# standard error, while standard output keeps its three lines.
#
#	tests/verbose.sh			# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/verbose.sh
#
# tests/dnsd.py serves tests/verbose.yml on 127.0.0.1 (a port of its
# own); spfpolicy is given it with -n and a config with a short DNS
# timeout and one try, for the name that is never answered.  Each case
# runs -q -v, compares its standard error with the expected tree (the
# milliseconds replaced by N), and checks that standard output and the
# exit status are those of -q alone, and that -q alone writes nothing on
# standard error.  Then -v without -q: exit 64, nothing on a standard
# error that is not a terminal (in spawn mode it is the Postfix socket),
# the usage on one that is (with script(1), when installed).
#
# Needs python3 with dnslib and yaml; without them it prints a
# "# skipped:" line and exits 0.
#
# Output: "ok verbose/NAME" and "FAIL verbose/NAME: reason" lines (the
# difference indented below a FAIL) and "N passed, N failed"; exit 0 when
# everything passed, 1 when a case failed, 2 when the harness could not
# run.

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
TNAME=verbose
. tests/lib.sh
dnsd_scratch verbose

dnsd_start tests/verbose.yml

# one try of 300 ms for silent.verbose.test: temperror at once
printf '%s\n' 'DNS_Timeout_ms = 300' 'DNS_Tries = 1' > "$T/conf"

# run NAME IP SENDER HELO: -q -v into T/NAME.{out,err,rc}, -q alone into
# T/NAME.{qout,qerr,qrc}; T/NAME.tree is the stderr with N for the
# milliseconds.  Checks that -v changes neither stdout nor the exit status
# and that -q alone is silent.
run() {
	name=$1
	shift
	"$BIN" -q -v -c "$T/conf" -n "$NS" "$@" > "$T/$name.out" 2> "$T/$name.err" < /dev/null
	echo $? > "$T/$name.rc"
	"$BIN" -q -c "$T/conf" -n "$NS" "$@" > "$T/$name.qout" 2> "$T/$name.qerr" < /dev/null
	echo $? > "$T/$name.qrc"
	sed -E 's/\([0-9]+ ms/(N ms/; s/ in [0-9]+ ms, / in N ms, /' "$T/$name.err" > "$T/$name.tree"
	if ! cmp -s "$T/$name.out" "$T/$name.qout"; then
		diff "$T/$name.qout" "$T/$name.out" > "$T/diff" 2>&1
		fail "$name/stdout" "-v changed standard output (-q, -q -v)" "$T/diff"
	elif ! cmp -s "$T/$name.rc" "$T/$name.qrc"; then
		fail "$name/stdout" "exit $(cat "$T/$name.rc") with -v, $(cat "$T/$name.qrc") without"
	elif [ "$(wc -l < "$T/$name.out")" != 3 ]; then
		fail "$name/stdout" "not three lines" "$T/$name.out"
	else
		ok "$name/stdout"
	fi
	if [ -s "$T/$name.qerr" ]; then
		fail "$name/quiet" "-q without -v wrote on stderr" "$T/$name.qerr"
	else
		ok "$name/quiet"
	fi
}

# tree NAME: T/NAME.tree must be the text on stdin
tree() {
	cat > "$T/$1.want"
	if diff "$T/$1.want" "$T/$1.tree" > "$T/diff" 2>&1; then
		ok "$1/tree"
	else
		fail "$1/tree" "the tree differs (expected, got)" "$T/diff"
	fi
}

# has NAME LABEL ERE: a line of T/NAME.tree matches ERE (whole line)
has() {
	if grep -Eqx -- "$3" "$T/$1.tree"; then
		ok "$1/$2"
	else
		fail "$1/$2" "no line /$3/ in" "$T/$1.err"
	fi
}

# The README's example: a void lookup counted, an include (nested one
# level deeper) that does not match, the MX names and their counter.
run example 192.0.2.2 user@example.verbose.test mail.example.net
tree example <<'EOF'
check_host example.verbose.test
  dns example.verbose.test TXT: "v=spf1 a:old.verbose.test include:_spf.verbose.test mx -all" (N ms)
  record "v=spf1 a:old.verbose.test include:_spf.verbose.test mx -all"
  a:old.verbose.test
    dns old.verbose.test A: NXDOMAIN (N ms)
    no match  [DNS terms 1/10, void lookups 1/2]
  include:_spf.verbose.test
    check_host _spf.verbose.test
      dns _spf.verbose.test TXT: "v=spf1 ip4:198.51.100.0/24 ~all" (N ms)
      record "v=spf1 ip4:198.51.100.0/24 ~all"
      ip4:198.51.100.0/24
        no match  [DNS terms 2/10, void lookups 1/2]
      ~all
        match  [DNS terms 2/10, void lookups 1/2]
    = softfail
    no match  [DNS terms 2/10, void lookups 1/2]
  mx
    dns example.verbose.test MX: mx1.verbose.test mx2.verbose.test (N ms)
    MX names 2/10
    dns mx1.verbose.test A: 192.0.2.1 (N ms)
    dns mx2.verbose.test A: 192.0.2.2 (N ms)
    match  [DNS terms 3/10, void lookups 1/2]
= pass
pass in N ms, 6 DNS queries sent
EOF

# pass through include
run include 198.51.100.7 user@inc.verbose.test mail.example.net
tree include <<'EOF'
check_host inc.verbose.test
  dns inc.verbose.test TXT: "v=spf1 include:_spf.verbose.test -all" (N ms)
  record "v=spf1 include:_spf.verbose.test -all"
  include:_spf.verbose.test
    check_host _spf.verbose.test
      dns _spf.verbose.test TXT: "v=spf1 ip4:198.51.100.0/24 ~all" (N ms)
      record "v=spf1 ip4:198.51.100.0/24 ~all"
      ip4:198.51.100.0/24
        match  [DNS terms 1/10, void lookups 0/2]
    = pass
    match  [DNS terms 1/10, void lookups 0/2]
= pass
pass in N ms, 2 DNS queries sent
EOF

# the HELO identity (empty sender): the same tree for the HELO name
run helo 198.51.100.7 '' inc.verbose.test
has helo check_host 'check_host inc.verbose.test'
has helo result '= pass'

# ptr: the PTR names and how many were validated; the address lookup of
# the name that is not validated is slow and not waited for, once the
# other matched
run ptr 198.51.100.7 user@ptr.verbose.test mail.example.net
tree ptr <<'EOF'
check_host ptr.verbose.test
  dns ptr.verbose.test TXT: "v=spf1 ptr -all" (N ms)
  record "v=spf1 ptr -all"
  ptr
    dns 7.100.51.198.in-addr.arpa PTR: host.ptr.verbose.test gone.ptr.verbose.test (N ms)
    dns host.ptr.verbose.test A: 198.51.100.7 (N ms)
    dns gone.ptr.verbose.test A: error: not waited for: another answer matched (N ms)
    PTR names 2 (10 validated at most), 1 validated
    match  [DNS terms 1/10, void lookups 0/2]
= pass
pass in N ms, 4 DNS queries sent
EOF

# redirect= and the exp= fetched for the fail
run redirect 198.51.100.7 user@redir.verbose.test mail.example.net
has redirect term '  redirect=_r\.verbose\.test'
has redirect target '    check_host _r\.verbose\.test'
has redirect exp '      dns _e\.verbose\.test TXT: "%\{i\} is not one of %\{d\}'"'"'s hosts" \(N ms\)'
has redirect result '= fail'
has redirect total 'fail in N ms, 3 DNS queries sent'

# no record: "no records" and none
run none 198.51.100.7 user@norec.verbose.test mail.example.net
tree none <<'EOF'
check_host norec.verbose.test
  dns norec.verbose.test TXT: no records (N ms)
= none
none in N ms, 1 DNS query sent
EOF

# temperror: the A query of silent.verbose.test is never answered; its
# milliseconds are the timeout's (300), and the reason ends the check_host
run temperror 198.51.100.7 user@slow.verbose.test mail.example.net
has temperror dns-error '    dns silent\.verbose\.test A: error: .+ \(N ms\)'
has temperror term '    temperror  \[DNS terms 1/10, void lookups 0/2\]'
has temperror result '= temperror: .*silent\.verbose\.test.*'
has temperror total 'temperror in N ms, 2 DNS queries sent'
ms=$(sed -En 's/^    dns silent\.verbose\.test A: error: .* \(([0-9]+) ms\)$/\1/p' "$T/temperror.err")
if [ -n "$ms" ] && [ "$ms" -ge 250 ] && [ "$ms" -lt 10000 ]; then
	ok "temperror/ms ($ms ms)"
else
	fail temperror/ms "the timed-out query took '$ms' ms, expected about 300" "$T/temperror.err"
fi

# a record larger than a UDP answer: the whole of it on the dns line,
# over TCP (c-ares 1.29 and later tell, with the UDP try before it)
run long 198.51.100.1 user@long.verbose.test mail.example.net
rec="v=spf1$(i=1; while [ $i -le 80 ]; do printf ' ip4:198.51.100.%d' $i; i=$((i + 1)); done) -all"
case $("$BIN" -V) in
*"c-ares 1.1"[0-9].*|*"c-ares 1.2"[0-8].*)	via='' ;;
*)	via=', 2 tries, tcp' ;;
esac
has long whole "  dns long\.verbose\.test TXT: \"$rec\" \(N ms$via\)"
has long result "= pass.*"

# permerror: the eleventh DNS-querying term (the answer comes from the
# cache after the first)
run lookups 198.51.100.7 user@many.verbose.test mail.example.net
{
	echo 'check_host many.verbose.test'
	echo '  dns many.verbose.test TXT: "v=spf1 a a a a a a a a a a a -all" (N ms)'
	echo '  record "v=spf1 a a a a a a a a a a a -all"'
	for n in 1 2 3 4 5 6 7 8 9 10; do
		c=
		[ "$n" = 1 ] || c=', cached'
		echo '  a'
		echo "    dns many.verbose.test A: 192.0.2.99 (N ms$c)"
		echo "    no match  [DNS terms $n/10, void lookups 0/2]"
	done
	echo '  a'
	echo '    permerror  [DNS terms 11/10, void lookups 0/2]'
	echo '= permerror: Too many DNS lookups'
	echo 'permerror in N ms, 2 DNS queries sent'
} | tree lookups

# permerror: the third void lookup
run voids 198.51.100.7 user@voids.verbose.test mail.example.net
tree voids <<'EOF'
check_host voids.verbose.test
  dns voids.verbose.test TXT: "v=spf1 a:n1.verbose.test a:n2.verbose.test a:n3.verbose.test -all" (N ms)
  record "v=spf1 a:n1.verbose.test a:n2.verbose.test a:n3.verbose.test -all"
  a:n1.verbose.test
    dns n1.verbose.test A: NXDOMAIN (N ms)
    no match  [DNS terms 1/10, void lookups 1/2]
  a:n2.verbose.test
    dns n2.verbose.test A: NXDOMAIN (N ms)
    no match  [DNS terms 2/10, void lookups 2/2]
  a:n3.verbose.test
    dns n3.verbose.test A: NXDOMAIN (N ms)
    permerror  [DNS terms 3/10, void lookups 3/2]
= permerror: Void lookup limit of 2 exceeded
permerror in N ms, 4 DNS queries sent
EOF

# an escape sequence in a TXT record does not reach the terminal
run esc 198.51.100.7 user@esc.verbose.test mail.example.net
has esc record '  dns esc\.verbose\.test TXT: "v=spf1 a:x\?\[31mred\.verbose\.test -all" \(N ms\)'
if grep -q "$(printf '\033')" "$T/esc.err"; then
	fail esc/no-escape "an ESC byte on stderr" "$T/esc.err"
else
	ok esc/no-escape
fi

# -v without -q: a usage error, and in spawn mode stderr is the Postfix
# socket: nothing may be written there (syslog only)
for args in '-v' '-v /nonexistent.conf' '-R -v'; do
	# shellcheck disable=SC2086 # args is words
	"$BIN" $args > "$T/v.out" 2> "$T/v.err" < /dev/null
	rc=$?
	if [ "$rc" != 64 ]; then
		fail "without-q/$args" "exit $rc, expected 64" "$T/v.err"
	elif [ -s "$T/v.err" ] || [ -s "$T/v.out" ]; then
		cat "$T/v.out" >> "$T/v.err"
		fail "without-q/$args" "wrote on stdout or stderr, not a terminal" "$T/v.err"
	else
		ok "without-q/$args"
	fi
done
if ! command -v script > /dev/null; then
	echo "# no script(1): -v without -q on a terminal not tried"
else	# a pty: the usage is shown
	script -qec "$BIN -v" /dev/null > "$T/v.out" 2>&1 < /dev/null
	rc=$?
	if [ "$rc" = 64 ] && grep -q '^usage: ' "$T/v.out" &&
		grep -q -- '-q \[-v\]' "$T/v.out"; then
		ok without-q/terminal
	else
		fail without-q/terminal "exit $rc, expected 64 and the usage" "$T/v.out"
	fi
fi

t_end
