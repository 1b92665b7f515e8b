#!/bin/sh
# See LICENSE file for copyright and license details.
#
# syscalls.sh - the binary makes no system call newer than Linux 3.10
# (CentOS 7, where users copy the static binary): every mode runs under
# strace -f, and a call numbered above 313 (finit_module, the last call
# of 3.10 on x86_64; the numbers only grow) is a failure, named with the
# kernel that added it.  Then every scenario runs again with all those
# calls made to fail with ENOSYS, as on 3.10, and must give the same
# answers: that tells whether a newer call musl or c-ares tries has a
# working fallback.
#
#	tests/syscalls.sh			# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/syscalls.sh
#
# Scenarios: -V; -t CONFIG; -q pass, fail with exp=, temperror on a name
# never answered, an answer over TCP (a TXT record over 512 octets), a
# TCP connection never answered; -q -v; spawn mode on stdin (-R as root,
# and as nobody through strace -u); listener mode (-l inet:127.0.0.1, -d;
# as root it becomes Listen_User nobody): a client, SIGHUP, a client,
# SIGTERM.  tests/dnsd.py serves the zone on 127.0.0.1 (-n).
#
# Needs strace (5.2 or later: -n, inject) and python3 with dnslib and
# yaml; x86_64 only (the numbering is x86_64's).  Without them it prints
# "skipped: REASON" and exits 0.
#
# Output: "ok syscalls/NAME" and "FAIL syscalls/NAME: reason" lines, a
# "# seen:" line with every call the binary made, and "N passed, N
# failed, N skipped".
#
# Environment:
#	SPFPOLICY	the binary (default ./spfpolicy)
#	SYSCALLS_KEEP=1	keep the temporary directory (path printed)

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
TNAME=syscalls
. tests/lib.sh

# The x86_64 calls after 3.10: number, name, the release that added it
# (arch/x86/entry/syscalls/syscall_64.tbl; 335..423 are unused on
# x86_64).  Any number above 313 counts, listed here or not: the names
# are for the report.
NEWER='314 sched_setattr 3.14
315 sched_getattr 3.14
316 renameat2 3.15
317 seccomp 3.17
318 getrandom 3.17
319 memfd_create 3.17
320 kexec_file_load 3.17
321 bpf 3.18
322 execveat 3.19
323 userfaultfd 4.3
324 membarrier 4.3
325 mlock2 4.4
326 copy_file_range 4.5
327 preadv2 4.6
328 pwritev2 4.6
329 pkey_mprotect 4.9
330 pkey_alloc 4.9
331 pkey_free 4.9
332 statx 4.11
333 io_pgetevents 4.18
334 rseq 4.18
335 uretprobe 6.11
424 pidfd_send_signal 5.1
425 io_uring_setup 5.1
426 io_uring_enter 5.1
427 io_uring_register 5.1
428 open_tree 5.2
429 move_mount 5.2
430 fsopen 5.2
431 fsconfig 5.2
432 fsmount 5.2
433 fspick 5.2
434 pidfd_open 5.3
435 clone3 5.3
436 close_range 5.9
437 openat2 5.6
438 pidfd_getfd 5.6
439 faccessat2 5.8
440 process_madvise 5.10
441 epoll_pwait2 5.11
442 mount_setattr 5.12
443 quotactl_fd 5.14
444 landlock_create_ruleset 5.13
445 landlock_add_rule 5.13
446 landlock_restrict_self 5.13
447 memfd_secret 5.14
448 process_mrelease 5.15
449 futex_waitv 5.16
450 set_mempolicy_home_node 5.17
451 cachestat 6.5
452 fchmodat2 6.6
453 map_shadow_stack 6.6
454 futex_wake 6.7
455 futex_wait 6.7
456 futex_requeue 6.7
457 statmount 6.8
458 listmount 6.8
459 lsm_get_self_attr 6.8
460 lsm_set_self_attr 6.8
461 lsm_list_modules 6.8
462 mseal 6.10
463 setxattrat 6.13
464 getxattrat 6.13
465 listxattrat 6.13
466 removexattrat 6.13
467 open_tree_attr 6.15
468 file_getattr 6.17
469 file_setattr 6.17'
LAST310=313

command -v strace >/dev/null || skipped "no strace"
[ "$(uname -m)" = x86_64 ] ||
	skipped "the syscall numbers here are x86_64's, this is $(uname -m)"
strace -n -qq -o /dev/null -e 'inject=?1:error=ENOSYS:when=1000' true 2>/dev/null ||
	skipped "strace without -n or inject (5.2 or later needed)"
"$PY" -c 'import dnslib, yaml' 2>/dev/null ||
	skipped "python3 modules dnslib and yaml (apt-get install python3-dnslib python3-yaml)"
t_binary

T=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-syscalls.XXXXXX") || exit 2
chmod 755 "$T"		# nobody reads the config files
dnsd=
tracer=
cleanup() {
	[ -n "$tracer" ] && kill -KILL "$tracer" 2>/dev/null
	dnsd_stop
	if [ "${SYSCALLS_KEEP:-}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# every newer call made to fail: "?" lets strace pass over the numbers it
# does not know (an strace older than the call)
inject=$(echo "$NEWER" | awk '{ printf "%s?%s", (NR > 1 ? "," : ""), $1 }')
inject="inject=$inject:error=ENOSYS"
strace -qq -o /dev/null -e "$inject" true ||
	die "strace does not take -e $inject"

# ---- DNS
big=$(awk 'BEGIN { for (i = 1; i <= 60; i++) printf "ip4:198.51.100.%d ", i }')
cat > "$T/zone.yml" <<EOF
pass.sys.test:
  - TXT: "v=spf1 ip4:192.0.2.1 -all"
fail.sys.test:
  - TXT: "v=spf1 ip4:192.0.2.1 -all exp=exp.sys.test"
exp.sys.test:
  - TXT: "%{i} is not a mail server of %{d}"
slow.sys.test:
  - TXT: "v=spf1 a:silent.sys.test -all"
silent.sys.test:
  - TIMEOUT
big.sys.test:
  - TXT: "v=spf1 ${big}ip4:192.0.2.1 -all"
stall.sys.test:
  - TCPSTALL
  - TXT: "v=spf1 ${big}ip4:192.0.2.1 -all"
EOF
dnsd_start "$T/zone.yml"

# a short DNS timeout, one try: the silent name is a temperror at once;
# the listener started as root serves as nobody (ignored by the others)
printf '%s\n' 'DNS_Timeout_ms = 300' 'DNS_Tries = 1' 'Lookup_Time = 3' \
	'debugLevel = 1' 'Listen_User = nobody' > "$T/conf"
chmod 644 "$T/conf"

# req IP HELO SENDER INSTANCE: one policy request as smtpd sends it
req() {
	printf '%s\n' request=smtpd_access_policy protocol_state=RCPT \
		protocol_name=ESMTP "client_address=$1" client_name=unknown \
		"helo_name=$2" "sender=$3" recipient=a@rcpt.test \
		"instance=$4" ''
}
{
	req 192.0.2.1 mail.example.org u@pass.sys.test 1
	req 203.0.113.5 mail.example.org u@fail.sys.test 2
	req 192.0.2.1 mail.example.org u@slow.sys.test 3
	req 192.0.2.1 mail.example.org u@big.sys.test 4
} > "$T/req"
req 203.0.113.5 mail.example.org u@fail.sys.test 5 > "$T/req1"

# nobody runs the binary: a copy where nobody can reach it
UBIN=$BIN
if [ "$(id -u)" = 0 ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	test -x "$BIN" 2>/dev/null; then
	mkdir -m 755 "$T/bin" && cp "$BIN" "$T/bin/spfpolicy" && chmod 755 "$T/bin/spfpolicy"
	UBIN=$T/bin/spfpolicy
fi

# client PORT FILE: FILE's requests at once to the listener, the replies
# on stdout (tests/listener.py's client, as listener.sh uses it)
client() {
	"$PY" tests/listener.py ask "inet:127.0.0.1:$1" "$2" burst
}

freeport() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run KIND NAME CMD...: CMD under strace -f into T/KIND/NAME.{st,out,err,rc};
# KIND "plain" or "enosys" (the newer calls fail with ENOSYS)
run() {
	kind=$1 name=$2
	shift 2
	if [ "$kind" = plain ]; then
		strace -f -qq -n -o "$T/$kind/$name.st" "$@"
	else
		strace -f -qq -n -e "$inject" -o "$T/$kind/$name.st" "$@"
	fi > "$T/$kind/$name.out" 2> "$T/$kind/$name.err"
	echo $? > "$T/$kind/$name.rc"
}

# waitfor FILE ERE: until FILE has a line matching ERE (10 s)
waitfor() {
	i=0
	while ! grep -q -E "$2" "$1" 2>/dev/null; do
		[ "$i" -lt 200 ] || return 1
		sleep 0.05
		i=$((i + 1))
	done
}

# listener KIND: -l on a free port, one client, SIGHUP, one client,
# SIGTERM; the replies in T/KIND/listener.out, the exit status in .rc
listener() {
	d=$T/$1
	port=$(freeport)
	if [ "$1" = plain ]; then
		set --
	else
		set -- -e "$inject"
	fi
	set -- strace -f -qq -n -o "$d/listener.st" "$@"
	"$@" "$BIN" -l "inet:127.0.0.1:$port" -d -n "$NS" "$T/conf" \
		> /dev/null 2> "$d/listener.err" &
	tracer=$!
	: > "$d/listener.out"
	if waitfor "$d/listener.err" ']: listening on '; then
		# the listener: the tracer's child (the first pid in the trace)
		lpid=$(awk '{ print $1; exit }' "$d/listener.st")
		client "$port" "$T/req" >> "$d/listener.out" 2>&1
		kill -HUP "$lpid"
		waitfor "$d/listener.err" 'configuration reloaded' ||
			echo "no reload" >> "$d/listener.out"
		client "$port" "$T/req1" >> "$d/listener.out" 2>&1
		kill -TERM "$lpid"
	else
		echo "did not start" >> "$d/listener.out"
		kill -KILL "$tracer"
	fi
	wait "$tracer"
	echo $? > "$d/listener.rc"
	tracer=
}

# every scenario, once as it is and once with the newer calls failing
root=
[ "$(id -u)" = 0 ] && root=-R
for kind in plain enosys; do
	mkdir "$T/$kind"
	run $kind version "$BIN" -V
	run $kind check "$BIN" -t "$T/conf"
	run $kind q-pass "$BIN" -q -c "$T/conf" -n "$NS" 192.0.2.1 u@pass.sys.test h
	run $kind q-fail-exp "$BIN" -q -c "$T/conf" -n "$NS" 203.0.113.5 u@fail.sys.test h
	run $kind q-temperror "$BIN" -q -c "$T/conf" -n "$NS" 192.0.2.1 u@slow.sys.test h
	run $kind q-tcp "$BIN" -q -c "$T/conf" -n "$NS" 192.0.2.1 u@big.sys.test h
	run $kind q-tcpstall "$BIN" -q -c "$T/conf" -n "$NS" 192.0.2.1 u@stall.sys.test h
	run $kind q-verbose "$BIN" -q -v -c "$T/conf" -n "$NS" 203.0.113.5 u@fail.sys.test h
	run $kind spawn "$BIN" $root -n "$NS" "$T/conf" < "$T/req"
	if [ -n "$root" ] && getent passwd nobody >/dev/null; then
		run $kind spawn-nobody -u nobody "$UBIN" -n "$NS" "$T/conf" < "$T/req"
	fi
	listener "$kind"
done

# the answers each scenario must give (checked on the plain runs)
# want NAME RC ERE: exit status RC, standard output matching ERE (one
# line: the output's lines joined with "|")
want() {
	f=$T/plain/$1
	[ -f "$f.rc" ] || return
	got=$(tr '\n' '|' < "$f.out")
	rc=$(cat "$f.rc")
	if [ "$rc" = "$2" ] && printf '%s\n' "$got" | grep -q -E "$3"; then
		ok "$1"
	else
		{ echo "exit $rc, want $2"; cat "$f.out" "$f.err"; } > "$T/why"
		fail "$1" "output not matching $3" "$T/why"
	fi
}
PASS='Received-SPF: Pass'
TEMP='Received-SPF: Temperror'
want version 0 '^spfpolicy .*c-ares'
want check 0 ': 0 problems'
want q-pass 0 "^pass\|\|$PASS"
want q-fail-exp 1 '^fail\|203\.0\.113\.5 is not a mail server of fail\.sys\.test\|'
want q-temperror 6 '^temperror\|'
want q-tcp 0 "^pass\|\|$PASS"
want q-tcpstall 6 '^temperror\|'
want q-verbose 1 '^fail\|203\.0\.113\.5 is not a mail server'
SPAWN="^action=prepend $PASS.*\|\|action=550 .*\|\|action=prepend $TEMP.*\|\|action=prepend $PASS.*"
want spawn 0 "$SPAWN\|\|$"
want spawn-nobody 0 "$SPAWN\|\|$"
want listener 0 "$SPAWN\|\|action=550 .*\|\|$"
if [ -f "$T/plain/q-verbose.err" ] && grep -q 'exp.sys.test' "$T/plain/q-verbose.err"; then
	ok q-verbose-tree
else
	fail q-verbose-tree "no exp= lookup in the -v tree" "$T/plain/q-verbose.err"
fi
if [ -f "$T/plain/spawn-nobody.rc" ]; then
	:
elif [ -n "$root" ]; then
	skip "spawn-nobody: no user nobody"
else
	skip "spawn-nobody: not root"
fi
if grep -q -E ']: stopping: ' "$T/plain/listener.err" &&
	[ "$(grep -c ']: listening on ' "$T/plain/listener.err")" = 1 ]; then
	ok listener-log
else
	fail listener-log "no single start and a stop in the listener's log" "$T/plain/listener.err"
fi

# calls KIND: "NUMBER NAME" of every call in KIND's traces, once each
calls() {
	cat "$T/$1"/*.st 2>/dev/null | awk '
	match($0, /^[0-9]+ +\[ *[0-9]+\] /) {
		s = substr($0, RSTART, RLENGTH)
		sub(/^[0-9]+ +\[ */, "", s)
		sub(/\] $/, "", s)
		n = substr($0, RSTART + RLENGTH)
		sub(/^<\.\.\. /, "", n)
		sub(/[( ].*/, "", n)
		print s + 0, n
	}' | sort -u -n
}
calls plain > "$T/seen"
calls enosys > "$T/seen.enosys"
echo "# $("$BIN" -V 2>&1)"
echo "# seen: $(awk '{ print $2 }' "$T/seen" | sort -u | tr '\n' ' ')"

# the newer calls seen, with their release, and the scenarios that made them
awk -v last=$LAST310 '$1 > last' "$T/seen" "$T/seen.enosys" | sort -u -n > "$T/newer"
if [ -s "$T/newer" ]; then
	while read -r n name; do
		rel=$(echo "$NEWER" | awk -v n="$n" '$1 == n { print $3 }')
		where=$(grep -l -E "^[0-9]+ +\[ *$n\] " "$T/plain"/*.st "$T/enosys"/*.st |
			sed 's,.*/,,; s,\.st$,,' | sort -u | tr '\n' ' ')
		# made to fail in the second runs? (the strace may not know it)
		if grep -h -E "^[0-9]+ +\[ *$n\] " "$T/enosys"/*.st |
			grep -v -E 'INJECTED|unfinished|resumed' | grep -q .; then
			inj="not made to fail with ENOSYS (strace $(strace -V | awk '{ print $4; exit }') does not know it?)"
		else
			inj="failed with ENOSYS in the second runs: see the enosys-* lines for the fallback"
		fi
		printf '%s (%s, Linux %s) in: %s; %s\n' "$name" "$n" "${rel:-?}" "$where" "$inj"
	done < "$T/newer" > "$T/newer.txt"
	fail newer-than-3.10 "calls Linux 3.10 does not have" "$T/newer.txt"
else
	ok "newer-than-3.10 (none of $(wc -l < "$T/seen") calls)"
fi

# with the newer calls failing, the same answers: the fallbacks work
for f in "$T"/plain/*.rc; do
	name=${f##*/}
	name=${name%.rc}
	e=$T/enosys/$name
	if [ ! -f "$e.rc" ]; then
		fail "enosys-$name" "no run with ENOSYS injected"
	elif ! cmp -s "$f" "$e.rc" || ! cmp -s "$T/plain/$name.out" "$e.out"; then
		{ echo "exit $(cat "$f") -> $(cat "$e.rc")"
		  diff "$T/plain/$name.out" "$e.out"; cat "$e.err"; } > "$T/why"
		fail "enosys-$name" "not the same answers with the newer calls failing" "$T/why"
	else
		injected=$(grep -c 'INJECTED' "$e.st")
		if [ "$injected" = 0 ]; then
			ok "enosys-$name"
		else
			ok "enosys-$name ($injected calls failed with ENOSYS, same answers)"
		fi
	fi
done

t_end
