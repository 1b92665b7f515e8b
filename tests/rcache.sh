#!/bin/sh
# See LICENSE file for copyright and license details.
#
# rcache.sh - the parsed SPF records kept by one long-lived spawn-mode
# process (rcache: RCACHE_SIZE records in RCACHE_POOL bytes, linked from
# the DNS cache entries) give the answers a fresh process gives, also
# when the 32 slots or the 64 KiB pool fill up in the middle of a
# request.  Before e74b1bc a full cache was emptied at once, mid-request,
# and the terms of an outer record, waiting on an include, were
# overwritten by the next record's.
#
#	tests/rcache.sh				# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/rcache.sh
#
# tests/rcache.py makes a zone of include chains (48 small records, 24 of
# about 1100 bytes; results that depend on the terms after an include)
# and a stream of some 430 requests; tests/dnsd.py serves the zone.  One
# process (spawn mode, the config Debian's policyd-spf.conf's keys and
# Nameservers) answers the stream twice in a row, on one connection; a
# fresh process answers each request alone.  For each part of the stream
# (directed, slots, pool, mixed):
#	fresh/PART	the fresh replies have the results computed from the
#			zone (the harness is sound)
#	run1/PART	the long-lived process's first replies are the fresh
#			ones, byte for byte
#	run2/PART	so are its replies to the stream again (its caches
#			warm)
# and the process answered every request and exited 0.  Nothing depends
# on timing: the answers' TTL (300 s) outlasts the run, and an early
# expiry would only make the caches hold less.
#
# Needs python3 with dnslib and yaml; without them it prints a
# "# skipped:" line and exits 0.
#
# Output: "ok rcache/NAME" and "FAIL rcache/NAME: reason" lines (the first
# differing requests indented below a FAIL) and "N passed, N failed";
# exit 0 when everything passed, 1 when a case failed, 2 when the harness
# could not run.

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
TNAME=rcache
. tests/lib.sh
dnsd_scratch rcache

"$PY" tests/rcache.py "$T" 2> "$T/gen.err" || die "tests/rcache.py failed" "$T/gen.err"
dnsd_start "$T/zone.yml"

# Debian's /etc/postfix-policyd-spf-python/policyd-spf.conf, and our name
# server
cat > "$T/conf" <<EOF
debugLevel = 1
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
Nameservers = $NS
EOF
R=
[ "$(id -u)" != 0 ] || R=-R	# spawn mode refuses root unless told

# replies FILE: one line a reply (a reply ends with an empty line)
replies() {
	awk 'BEGIN { RS = "" } { print }' "$1"
}

# the long-lived process: the stream twice, on one standard input
cat "$T/requests" "$T/requests" | "$BIN" $R "$T/conf" > "$T/long.out" 2> "$T/long.err"
rc=$?
replies "$T/long.out" > "$T/long"
n=$(wc -l < "$T/expect")
got=$(wc -l < "$T/long")
if [ "$rc" != 0 ] || [ "$got" != $((2 * n)) ]; then
	fail long-lived "exit $rc, $got replies to $((2 * n)) requests" "$T/long.err"
else
	ok "long-lived ($got replies, exit 0)"
fi

# a fresh process a request
mkdir "$T/one" || die "mkdir failed"
awk -v d="$T/one" 'BEGIN { RS = "" }
	{ f = sprintf("%s/%04d", d, NR); print $0 "\n" > f; close(f) }' "$T/requests"
for f in "$T"/one/*; do
	"$BIN" $R "$T/conf" < "$f" 2>> "$T/fresh.err" || echo "exit $? for $f" >> "$T/fresh.err"
done > "$T/fresh.out"
replies "$T/fresh.out" > "$T/fresh"
[ "$(wc -l < "$T/fresh")" = "$n" ] || die "fresh processes: $(wc -l < "$T/fresh") replies to $n requests" "$T/fresh.err"

# The checks, each "NAME BAD TOTAL" in T/checks, the first differing
# requests in T/NAME.diff (NAME without its slash).
awk -v n="$n" -v dir="$T" '
function result(r) {
	if (match(r, /Received-SPF: [A-Za-z]+/))
		return substr(r, RSTART + 14, RLENGTH - 14)
	return r ~ /SPF fail/ ? "Fail" : r
}
function check(name, i, good, why,  f) {
	total[name]++
	order[name] = order[name] ? order[name] : ++nnames
	if (good)
		return
	if (++bad[name] > 5)
		return
	f = name
	sub("/", "-", f)
	f = dir "/" f ".diff"
	print "request " i " (" part[i] ", " ip[i] ", " from[i] "): " why > f
}
FILENAME == ARGV[1] { part[FNR] = $1; want[FNR] = $2; ip[FNR] = $3; from[FNR] = $4; next }
FILENAME == ARGV[2] { fresh[FNR] = $0; next }
{ long[FNR] = $0 }
END {
	for (i = 1; i <= n; i++)
		check("fresh/" part[i], i, result(fresh[i]) == want[i],
		      "expected " want[i] ", a fresh process said: " substr(fresh[i], 1, 160))
	for (j = 1; j <= 2 * n; j++) {
		i = (j - 1) % n + 1
		r = j in long ? substr(long[j], 1, 160) : "(no reply)"
		check((j > n ? "run2/" : "run1/") part[i], i, long[j] == fresh[i],
		      "a fresh process: " substr(fresh[i], 1, 160) "\n    this one:       " r)
	}
	for (name in total)
		print order[name], name, bad[name] + 0, total[name]
}' "$T/expect" "$T/fresh" "$T/long" > "$T/checks.raw" || die "the comparison failed"
sort -n "$T/checks.raw" > "$T/checks"
[ "$(wc -l < "$T/checks")" = 15 ] || die "not the 15 checks" "$T/checks"

while read -r _ name bad total; do
	if [ "$bad" = 0 ]; then
		ok "$name ($total requests)"
	else
		fail "$name" "$bad of $total replies differ" "$T/$(echo "$name" | tr / -).diff"
	fi
done < "$T/checks"

# A parsed record stays with the answer it came from.  The sender domain
# is an alias whose cached answer holds only a CNAME; its target's answers
# are not cached (TTL 0) and change from -all to +all between two
# requests of one process: fail, then pass, as a fresh process says.
# Before b43b633 the target's parsed record was kept with the alias's
# cache entry, and the second request still said fail.
"$PY" tests/rcache_stale.py "$T/stale.port" &
stale=$!
i=0
while [ ! -s "$T/stale.port" ] && [ "$i" -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
sed "s/^Nameservers = .*/Nameservers = 127.0.0.1:$(cat "$T/stale.port")/" "$T/conf" > "$T/stale.conf"
for n in 1 2; do
	printf '%s\n' request=smtpd_access_policy protocol_state=RCPT \
		client_address=192.0.2.1 helo_name=helo sender=u@alias.stale.test \
		recipient=r@example.org "instance=stale$n" ''
done | "$BIN" $R "$T/stale.conf" > "$T/stale.out" 2> "$T/stale.err"
kill "$stale" 2> /dev/null
replies "$T/stale.out" > "$T/stale"
if [ "$(sed -n 1p "$T/stale" | grep -Ec 'Received-SPF: Fail|SPF fail')" = 1 ] &&
	[ "$(sed -n 2p "$T/stale" | grep -c 'Received-SPF: Pass')" = 1 ]; then
	ok "stale-target-record (fail, then pass)"
else
	fail stale-target-record "expected Fail, then Pass" "$T/stale.out"
fi

t_end
