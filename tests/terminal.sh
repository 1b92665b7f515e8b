#!/bin/bash
# See LICENSE file for copyright and license details.
#
# terminal.sh - spawn and listener mode by hand (issue 12): when standard
# error is a terminal every log line goes there as well as to syslog, so
# that an admin who runs "spfpolicy CONFIG" in a shell sees why it stops;
# when it is not (under Postfix's spawn(8) it is the policy socket),
# nothing is ever written to it.
#
#	tests/terminal.sh			# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/terminal.sh
#
# Needs root (private network, mount, UTS and PID namespaces: lo is up,
# tests/dnsd.py serves tests/verbose.yml on 127.0.0.1, /dev is a private
# tmpfs whose /dev/log is read into a file; setpriv(1) to run as nobody),
# script(1) from util-linux for the terminal (it runs a command on a
# pseudo-terminal and copies what it types and shows), and python3 with
# dnslib and yaml; without them it prints a "# skipped:" line and exits 0.
#
# Output: "ok terminal/NAME" and "FAIL terminal/NAME: reason" lines
# (details indented below a FAIL) and "N passed, N failed"; exit 0 when
# everything passed (or the test was skipped), 1 when a check failed, 2
# when the harness could not run.

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
PY=/usr/bin/python3
TNAME=terminal
. tests/lib.sh
. tests/ns.sh

# ---- outside the namespace: prerequisites, then re-run inside one
if [ "${TERMINAL_NS:-}" != 1 ]; then
	ns_need "private namespaces, setpriv" unshare ip mount setpriv script timeout "$PY"
	"$PY" -c 'import dnslib, yaml' 2>/dev/null ||
		skipped "python3 modules dnslib and yaml (apt-get install python3-dnslib python3-yaml)"
	getent passwd nobody >/dev/null || skipped "no user nobody"
	[ -e /dev/ptmx ] || skipped "no /dev/ptmx: no pseudo-terminals"
	ns_rerun TERMINAL_NS "$self" "$@"
fi

# ---- inside the namespace
BIN=$SPFPOLICY
T=
dnsd=
logd=

cleanup() {
	trap - EXIT INT TERM
	[ -n "$dnsd" ] && kill "$dnsd" 2>/dev/null
	[ -n "$logd" ] && kill "$logd" 2>/dev/null
	wait 2>/dev/null
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/terminal.XXXXXX) || die "mktemp failed"
chmod 755 "$T"	# nobody reads the config files
# nobody runs the binary from here: the tree may be where nobody cannot
# enter (a clone in /root, mode 0700)
mkdir -m 755 "$T/bin" && cp "$BIN" "$T/bin/spfpolicy" && chmod 755 "$T/bin/spfpolicy" ||
	die "cannot copy $BIN to $T/bin"
BIN=$T/bin/spfpolicy
ip link set lo up || die "cannot bring lo up"
ns_dev "$T" terminal
# script(1) opens /dev/ptmx: the pts instance bound by ns_dev has one
ln -s pts/ptmx /dev/ptmx || die "cannot link /dev/ptmx"
ns_syslog "$T"
$PY tests/dnsd.py -a 127.0.0.1 -p 53 --ready "$T/dnsd.ready" tests/verbose.yml \
	2> "$T/dnsd.err" &
dnsd=$!
ns_ready 10 "$T/logd.ready" || die "the /dev/log reader did not start" "$T/logd.err"
ns_ready 10 "$T/dnsd.ready" || die "tests/dnsd.py did not start" "$T/dnsd.err"

NOBODY="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
REFUSAL="refusing to serve as root: Postfix's spawn(8) runs it as the user= of its master.cf entry; on a terminal root's run serves as Listen_User (nobody), or give -R"
DROPPED="root on a terminal: config read, now serving as nobody (Listen_User, -u); type a request, an empty line ends it"
# a config with an error that is logged and survived
BADKEY='ERROR: Lookup_Time = "abc" in file "'$T/bad.conf'": not an integer in 0..3600, keeping 20'
printf '%s\n' 'debugLevel = 3' 'Nameservers = 127.0.0.1' > "$T/good.conf"
printf '%s\n' 'debugLevel = 3' 'Nameservers = 127.0.0.1' 'Lookup_Time = abc' > "$T/bad.conf"
chmod 644 "$T"/*.conf
# what Postfix would send, and what an admin may type
printf '%s\n' request=smtpd_access_policy client_address=198.51.100.7 \
	helo_name=mail.example.net sender=user@inc.verbose.test \
	recipient=postmaster@example.org '' > "$T/request"
ACTION='action=prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=198.51.100.7; helo=mail.example.net; envelope-from=user@inc.verbose.test; receiver=example.org '

# tty NAME CMD: run the shell command CMD on a pseudo-terminal, the
# request typed on it; T/NAME.tty gets what the terminal showed (CR
# removed), T/NAME.rc the exit status
tty() {
	script -qec "$2" /dev/null < "$T/request" > "$T/$1.raw" 2>&1
	echo $? > "$T/$1.rc"
	tr -d '\r' < "$T/$1.raw" > "$T/$1.tty"
}

# shown NAME FILE TEXT: FILE has a line that is TEXT
shown() {
	if grep -qxF -- "$3" "$2"; then
		ok "$1"
	else
		fail "$1" "no line '$3' in $(basename "$2")" "$2"
	fi
}

# logged NAME TEXT: syslog got a line ending in ": TEXT" since mark
mark=0
logmark() {
	sleep 0.2	# the datagrams of the last run are read
	mark=$(wc -l < "$T/syslog" 2>/dev/null || echo 0)
}
logged() {
	sleep 0.2
	if tail -n +"$((mark + 1))" "$T/syslog" 2>/dev/null | grep -qF -- "]: $2"; then
		ok "$1"
	else
		tail -n +"$((mark + 1))" "$T/syslog" > "$T/log.part" 2>/dev/null
		fail "$1" "syslog has no line '$2'" "$T/log.part"
	fi
}

# silent NAME FILE: FILE (a standard error that was not a terminal) is empty
silent() {
	if [ -s "$2" ]; then
		fail "$1" "wrote on a standard error that is not a terminal" "$2"
	else
		ok "$1"
	fi
}

# status NAME FILE RC: FILE holds the exit status RC
status() {
	if [ "$(cat "$2")" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "exit $(cat "$2"), expected $3"
	fi
}

# ---- root, on a terminal (pypolicyd-spf's how-to, issue 21): the config
# is read as root, the typed request answered as nobody, which it says
cp "$T/good.conf" "$T/root.conf" && chmod 600 "$T/root.conf"	# root's alone
logmark
tty root "$BIN $T/root.conf"
status root-terminal/exit "$T/root.rc" 0
shown root-terminal/says "$T/root.tty" "$DROPPED"
shown root-terminal/answer "$T/root.tty" "$ACTION"
logged root-terminal/syslog "$DROPPED"
tty root-user "$BIN -u daemon $T/root.conf"
status root-terminal-u/exit "$T/root-user.rc" 0
shown root-terminal-u/says "$T/root-user.tty" "${DROPPED/nobody/daemon}"
shown root-terminal-u/answer "$T/root-user.tty" "$ACTION"
tty root-nouser "$BIN -u no-such-user $T/root.conf"
status root-terminal-nouser/exit "$T/root-nouser.rc" 111
shown root-terminal-nouser/says "$T/root-nouser.tty" 'Listen_User "no-such-user": no such user in /etc/passwd'
printf '%s\n' 'Listen_User = root' > "$T/rootuser.conf"
tty root-root "$BIN $T/rootuser.conf"
status root-terminal-listen-root/exit "$T/root-root.rc" 111

# ---- root, stdin a terminal but stderr a file: no one is told, refused
tty root-err "$BIN $T/good.conf 2> $T/root-err.err"
status root-stderr-file/exit "$T/root-err.rc" 111
silent root-stderr-file/stderr "$T/root-err.err"

# ---- root, stderr not a terminal (spawn(8) would give the socket): syslog only
logmark
"$BIN" "$T/good.conf" < /dev/null > "$T/root.out" 2> "$T/root.err"
echo $? > "$T/root.rc"
status root-pipe/exit "$T/root.rc" 111
silent root-pipe/stderr "$T/root.err"
silent root-pipe/stdout "$T/root.out"
logged root-pipe/syslog "$REFUSAL"

# ---- nobody, on a terminal: the config error is shown, the typed
# request is answered, the log lines are on the terminal and in syslog
logmark
tty nobody "$NOBODY $BIN $T/bad.conf"
status nobody-terminal/exit "$T/nobody.rc" 0
shown nobody-terminal/config-error "$T/nobody.tty" "$BADKEY"
shown nobody-terminal/answer "$T/nobody.tty" "$ACTION"
shown nobody-terminal/log "$T/nobody.tty" "${ACTION#action=}"
logged nobody-terminal/syslog-config-error "$BADKEY"
logged nobody-terminal/syslog-log "${ACTION#action=}"

# ---- as the user= of the master.cf line: su -s /bin/sh nobody -c '...'
if su -s /bin/sh nobody -c true < /dev/null > "$T/su.err" 2>&1; then
	tty su "su -s /bin/sh nobody -c '$BIN $T/good.conf'"
	status su-terminal/exit "$T/su.rc" 0
	shown su-terminal/answer "$T/su.tty" "$ACTION"
	shown su-terminal/log "$T/su.tty" "${ACTION#action=}"
else
	echo "# su as nobody does not work here: the hint not tried ($(head -n 1 "$T/su.err"))"
fi

# ---- nobody, stderr a file: the answer on stdout, nothing on stderr
logmark
$NOBODY "$BIN" "$T/bad.conf" < "$T/request" > "$T/spawn.out" 2> "$T/spawn.err"
echo $? > "$T/spawn.rc"
status spawn/exit "$T/spawn.rc" 0
shown spawn/answer "$T/spawn.out" "$ACTION"
silent spawn/stderr "$T/spawn.err"
logged spawn/syslog-config-error "$BADKEY"
logged spawn/syslog-log "${ACTION#action=}"

# ---- stdin and stdout a terminal, stderr not: still nothing on stderr
# (it is standard error that tells)
tty tty-out "$NOBODY $BIN $T/bad.conf 2> $T/tty-out.err"
status tty-stdout/exit "$T/tty-out.rc" 0
shown tty-stdout/answer "$T/tty-out.tty" "$ACTION"
silent tty-stdout/stderr "$T/tty-out.err"

# ---- listener mode on a terminal: the config error is shown; not on a
# stderr that is not a terminal (without -d)
# (a listener's lines on stderr say whose they are: spfpolicy[PID]:)
tty listener "timeout -s TERM 1 $BIN -l inet:127.0.0.1:10040 $T/bad.conf"
if grep -q -x -E "spfpolicy\[[0-9]+\]: $(printf '%s' "$BADKEY" | sed 's/[][\.*^$(){}+?|/]/\\&/g')" \
	"$T/listener.tty"; then
	ok listener-terminal/config-error
else
	fail listener-terminal/config-error "no line 'spfpolicy[PID]: $BADKEY'" "$T/listener.tty"
fi
logmark
timeout -s TERM 1 "$BIN" -l inet:127.0.0.1:10040 "$T/bad.conf" \
	< /dev/null > /dev/null 2> "$T/listener.err"
silent listener-pipe/stderr "$T/listener.err"
logged listener-pipe/syslog "$BADKEY"

# ---- -h and --help: the usage on stdout, exit 0
for h in -h --help; do
	"$BIN" $h > "$T/help.out" 2> "$T/help.err"
	echo $? > "$T/help.rc"
	status "help$h/exit" "$T/help.rc" 0
	if grep -q '^usage: spfpolicy ' "$T/help.out"; then
		ok "help$h/stdout"
	else
		fail "help$h/stdout" "no usage on stdout" "$T/help.out"
	fi
	silent "help$h/stderr" "$T/help.err"
done

# ---- no config argument: the first of upstream's and Debian's paths
# that exists, said by -t and at start-up; /etc is a copy, in this
# namespace, without either
UP=/etc/python-policyd-spf/policyd-spf.conf
DEB=/etc/postfix-policyd-spf-python/policyd-spf.conf
WHICH="no config argument: of $UP and $DEB,"
mkdir "$T/etc" && cp -a /etc/. "$T/etc/" && rm -rf "$T/etc/${UP#/etc/}" "$T/etc/${DEB#/etc/}" &&
	mount --bind "$T/etc" /etc || die "cannot put a copy of /etc in place"
"$BIN" -t > "$T/none.out" 2>&1
shown default-config/neither "$T/none.out" "$UP: $WHICH neither exists: the defaults"
mkdir -p "${DEB%/*}" && printf '%s\n' 'debugLevel = 3' 'Nameservers = 127.0.0.1' > "$DEB" &&
	chmod 644 "$DEB" || die "cannot write $DEB"
"$BIN" -t > "$T/deb.out" 2>&1
shown default-config/debian "$T/deb.out" "$DEB: $WHICH the first that exists"
logmark
$NOBODY "$BIN" < "$T/request" > "$T/deb.spawn" 2>&1
shown default-config/debian-answer "$T/deb.spawn" "$ACTION"
logged default-config/debian-logged "$WHICH the first that exists: $DEB"
mkdir -p "${UP%/*}" && cp "$DEB" "$UP" || die "cannot write $UP"
"$BIN" -t > "$T/up.out" 2>&1
shown default-config/upstream-first "$T/up.out" "$UP: $WHICH the first that exists"

t_end
