#!/bin/bash
# See LICENSE file for copyright and license details.
#
# resolvconf.sh - the resolver's timeout and tries come from resolv.conf
# (issue 12): without DNS_Timeout_ms and DNS_Tries in the config, a name
# server that never answers costs what "options timeout:N attempts:N" in
# /etc/resolv.conf (or RES_OPTIONS in the environment) says, as for the C
# library and pyspf; the keys, when given, override both.
#
#	tests/resolvconf.sh			# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/resolvconf.sh
#
# Needs root: it runs in private network and mount namespaces (ns.sh)
# where lo is up, a server that reads every query and answers none listens
# on 127.0.0.1:53 (UDP and TCP), and /etc/resolv.conf is a bind-mounted
# file of this script's that names it; the config has no Nameservers key.
# Without root or unshare it prints a "# skipped:" line and exits 0.
#
# Each case runs spfpolicy -q against a sender domain whose TXT query is
# never answered: temperror, within the time the case allows.  Lookup_Time
# is 6 s, so that a resolver still at its own defaults (3 tries, 2 + 4 + 8
# s) ends at 6 s instead of 14.
#
# Output: "ok resolvconf/NAME" and "FAIL resolvconf/NAME: reason" lines,
# and "N passed, N failed"; exit 0 when everything passed (or the test was
# skipped), 1 when a case failed, 2 when the harness could not run.

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
PY=/usr/bin/python3
TNAME=resolvconf
. tests/lib.sh
. tests/ns.sh

# ---- outside the namespace: prerequisites, then re-run inside one
if [ "${RESOLVCONF_NS:-}" != 1 ]; then
	ns_need "private network and mount namespaces" unshare ip mount "$PY"
	[ -e /etc/resolv.conf ] || skipped "no /etc/resolv.conf to bind over"
	ns_rerun RESOLVCONF_NS "$self" "$@"
fi

# ---- inside the namespace
BIN=$SPFPOLICY
T=
sink=

cleanup() {
	trap - EXIT INT TERM
	[ -n "$sink" ] && kill "$sink" 2>/dev/null && wait "$sink" 2>/dev/null
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/resolvconf.XXXXXX) || die "mktemp failed"
ip link set lo up || die "cannot bring lo up"

# The silent name server: it takes every query and never answers, so
# that a try ends by its timeout (nothing listening would give an ICMP
# port unreachable, a fast error).
setsid $PY -c '
import socket, sys, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 53))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", 53))
t.listen(16)
held = []
def tcp():
    while True:
        held.append(t.accept()[0])
threading.Thread(target=tcp, daemon=True).start()
open(sys.argv[1], "w").write("ready\n")
while True:
    u.recv(4096)
' "$T/sink.ready" 2> "$T/sink.err" &
sink=$!
ns_ready 10 "$T/sink.ready" || die "the silent name server did not start" "$T/sink.err"

: > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf || die "cannot bind /etc/resolv.conf"

# resolv LINE...: /etc/resolv.conf's text (written in place: the bind
# mount holds the inode)
resolv() {
	printf '%s\n' "$@" > "$T/resolv.conf"
}

# conf LINE...: the config of the next case
conf() {
	printf '%s\n' 'Lookup_Time = 6' "$@" > "$T/conf"
}

# check NAME MIN MAX [VAR=VALUE...]: spfpolicy -q with the environment
# VAR=VALUE (RES_OPTIONS and LOCALDOMAIN removed otherwise) must answer
# temperror after at least MIN and less than MAX seconds.
n=0
check() {
	local name=$1 min=$2 max=$3 s secs got
	shift 3
	n=$((n + 1))
	s=$(date +%s.%N)
	env -u RES_OPTIONS -u LOCALDOMAIN "$@" "$BIN" -q -c "$T/conf" \
		192.0.2.1 "u$n@silent.resolvconf.test" helo \
		> "$T/out" 2> "$T/err" < /dev/null
	secs=$(t_since "$s")
	got=$(head -n 1 "$T/out")
	if [ "$got" != temperror ]; then
		cat "$T/err" >> "$T/out"
		fail "$name" "expected temperror, got '${got:-nothing}' after ${secs}s" "$T/out"
	elif awk -v s="$secs" -v a="$min" -v b="$max" 'BEGIN { exit !(s < a || s >= b) }'; then
		fail "$name" "temperror after ${secs}s, expected ${min}s to ${max}s"
	else
		ok "$name (${secs}s)"
	fi
}

# resolv.conf's options, no keys: one try of 1 s (today's defaults: 6 s,
# Lookup_Time)
resolv 'nameserver 127.0.0.1' 'options timeout:1 attempts:1'
conf
check resolv.conf-options 0 1.5

# the keys override resolv.conf: one try of 2.5 s, not 1 s
conf 'DNS_Timeout_ms = 2500' 'DNS_Tries = 1'
check keys-override-resolv.conf 2 4

# RES_OPTIONS, resolv.conf without options (c-ares and the C library read
# it too)
resolv 'nameserver 127.0.0.1'
conf
check RES_OPTIONS 0 1.5 RES_OPTIONS='timeout:1 attempts:1'

# RES_OPTIONS amends resolv.conf's options (resolv.conf(5)): it wins
resolv 'nameserver 127.0.0.1' 'options timeout:5 attempts:2'
check RES_OPTIONS-over-resolv.conf 0 1.5 RES_OPTIONS='timeout:1 attempts:1'

# the keys override RES_OPTIONS too
conf 'DNS_Timeout_ms = 2500' 'DNS_Tries = 1'
check keys-override-RES_OPTIONS 2 4 RES_OPTIONS='timeout:1 attempts:1'

t_end
