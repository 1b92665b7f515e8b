#!/bin/sh
# See LICENSE file for copyright and license details.
#
# bench.sh - performance of spfpolicy next to pypolicyd-spf and two floors
# ("make bench", as root; run by hand, it asserts nothing).
#
# usage: tests/bench.sh [SPFPOLICY]	(default ./spfpolicy)
#
# Everything runs in a private network and mount namespace (unshare): lo
# up, /etc/resolv.conf bind-mounted to "nameserver 127.0.0.1", nsd serving
# a generated zone of 1000 sender domains on 127.0.0.1:53 (tests/bench/
# gen.py: ip4 lists, provider include chains, a mx, exists with macros,
# redirect=, ptr), clients from the documentation ranges.  Four programs
# answer the same Postfix requests, interleaved run by run (A B C D A B
# C D ...) so that machine noise hits all alike:
#
#	spfpolicy	SPFPOLICY -R CONF (-R: spawn mode as root)
#	pypolicyd-spf	/usr/bin/python3 /usr/bin/policyd-spf CONF
#	c-ares floor	tests/bench/cares_floor.c: the same DNS round trips
#			as spfpolicy (replayed from its own, captured with
#			strace), concurrent where spfpolicy's were; no SPF
#	dunno floor	tests/bench/dunno.c: "action=DUNNO", no DNS
#
# and spfpolicy -l (listener mode) at 50 concurrent connections.  CONF is
# Debian's shipped /etc/postfix-policyd-spf-python/policyd-spf.conf, for
# both programs.  Syslog goes nowhere (no /dev/log in the namespace).
# The floors and tests/bench/drive.c (the timing driver: spawns the way
# spawn(8) does, CLOCK_MONOTONIC, VmHWM) are built here, static, with
# config.mk's compiler and flags against its c-ares.  Missing packages
# (nsd, postfix-policyd-spf-python, strace, valgrind, musl-tools) are
# installed with apt-get; nsd is never started outside the namespace.
#
# Output: a table of medians and ratios, then the issue's targets with
# "met" / "NOT met", and the load average seen at the start and the end.
# About 2 minutes on 2 cores.  On a machine busy with other work, run it
# with a higher priority ("nice -n -10 make bench"): all four programs and
# nsd inherit it alike.
#
# Environment:
#	BENCH_SPAWNS=N		spawn + first answer runs (default 100)
#	BENCH_ROUNDS=N		rounds of the stream and concurrency runs (7)
#	BENCH_CALLGRIND=0	skip the instruction counts
#	BENCH_KEEP=1		keep the work directory (zone, plans, logs)
#	CARES_PREFIX=DIR	c-ares to build the floors with (config.mk's)

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
ROOT=$(pwd)
PY=/usr/bin/python3

die() {
	echo "bench.sh: $*" >&2
	exit 2
}

# ---- inside the namespace: bench.py does the rest
if [ "${BENCH_NS:-}" = 1 ]; then
	W=$1
	BIN=$2
	ip link set lo up || die "cannot bring lo up"
	printf 'nameserver 127.0.0.1\n' > "$W/resolv.conf"
	chmod 644 "$W/resolv.conf"
	mount --bind "$W/resolv.conf" /etc/resolv.conf ||
		die "cannot bind /etc/resolv.conf"
	if [ -e /dev/log ]; then	# keep the host's syslog out of it
		mount --bind /dev/null /dev/log || die "cannot hide /dev/log"
	fi
	exec "$PY" tests/bench/bench.py "$W" "$BIN"
fi

# ---- set-up
[ "$(id -u)" = 0 ] || die "must run as root (unshare --net --mount, apt-get)"
BIN=$(readlink -f "${1:-./spfpolicy}") || die "no ${1:-./spfpolicy}"
[ -x "$BIN" ] || die "no $BIN: run make"

need=
command -v nsd >/dev/null || need="$need nsd"
[ -x /usr/bin/policyd-spf ] || need="$need postfix-policyd-spf-python"
command -v strace >/dev/null || need="$need strace"
command -v valgrind >/dev/null || [ "${BENCH_CALLGRIND:-1}" = 0 ] || need="$need valgrind"
command -v musl-gcc >/dev/null || need="$need musl-tools"
command -v ip >/dev/null || need="$need iproute2"
command -v unshare >/dev/null || need="$need util-linux"
[ -x "$PY" ] || need="$need python3"
if [ -n "$need" ]; then
	echo "# bench: installing$need" >&2
	rcd=
	if [ ! -e /usr/sbin/policy-rc.d ]; then	# no service starts now
		rcd=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$rcd" && chmod 755 "$rcd"
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q $need >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q $need >/dev/null; }
	rc=$?
	[ -z "$rcd" ] || rm -f "$rcd"
	[ "$rc" = 0 ] || die "apt-get install$need failed"
	case $need in	# nor at boot: the bench starts its own
	*nsd*)	command -v systemctl >/dev/null &&
			systemctl disable nsd >/dev/null 2>&1 ;;
	esac
fi

# config.mk's compiler, flags and c-ares
mkvar() {
	printf 'include config.mk\nv:\n\t@echo $(%s)\n' "$1" |
		make -s --no-print-directory -f - v ${CARES_PREFIX:+CARES_PREFIX="$CARES_PREFIX"}
}
CC=$(mkvar CC)
CPPFLAGS=$(mkvar CPPFLAGS)
CFLAGS=$(mkvar CFLAGS)
LDFLAGS=$(mkvar LDFLAGS)
LDLIBS=$(mkvar LDLIBS)
CARES=$(mkvar CARES_PREFIX)
[ -f "$CARES/lib/libcares.a" ] || die "no $CARES/lib/libcares.a: run 'make deps'"

W=$(mktemp -d /tmp/spfbench.XXXXXX) || exit 2
chmod 755 "$W"	# the listener's children run as nobody
if [ "${BENCH_KEEP:-}" = 1 ]; then
	echo "# bench: work directory $W" >&2
else
	trap 'rm -rf "$W"' EXIT
fi
trap 'exit 1' INT TERM

mkdir "$W/bin" || exit 2
for p in drive dunno cares_floor; do
	$CC $CPPFLAGS $CFLAGS -o "$W/bin/$p" "tests/bench/$p.c" $LDFLAGS $LDLIBS ||
		die "cannot build tests/bench/$p.c"
done
cp /etc/postfix-policyd-spf-python/policyd-spf.conf "$W/policyd-spf.conf" ||
	die "no Debian policyd-spf.conf"
chmod 644 "$W/policyd-spf.conf"
"$PY" tests/bench/gen.py "$W" 1000 "${BENCH_SPAWNS:-100}" ||
	die "cannot generate the zone and requests"

unshare --net --mount --propagation private \
	env BENCH_NS=1 sh "$self" "$W" "$BIN"
