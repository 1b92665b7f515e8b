# See LICENSE file for copyright and license details.
#
# ns.sh - sourced by the tests that run in private namespaces
# (listener.sh, postfix-e2e.sh, sidebyside/run.sh).  Bash; the caller
# defines die MESSAGE [DETAIL-FILE] (tests/lib.sh has one) and PY.
#
#	ns_need WHY CMD...	outside the namespace: skipped unless root
#				(WHY: what for) and every CMD is found
#	ns_rerun VAR SELF ARGS...	t_binary, then re-run SELF inside the
#				namespaces (ns_enter) with VAR=1 and SPFPOLICY
#				exported; skipped when none can be made here,
#				else fail and exit
#	ns_enter SELF ARGS...	re-run SELF in new network, mount and UTS
#				namespaces, and a PID namespace where the
#				kernel allows one (then nothing the test
#				starts outlives it); returns only on failure,
#				with ns_why set when no such namespaces can be
#				made here (the test is then skipped, not
#				failed: a chroot, a container without
#				CAP_SYS_ADMIN)
#	ns_dev DIR NAME		a private /dev: a small tmpfs with the usual
#				nodes bound from the host's, moved over /dev,
#				so that /dev/log can be the test's own
#	ns_syslog DIR		read /dev/log's datagrams into DIR/syslog, a
#				line each; DIR/logd.ready gets a line once it
#				listens, DIR/logd.err its errors; sets logd to
#				its PID (in a session of its own: a ^C is for
#				the script, which then stops it)
#	ns_ready SECONDS FILE...	wait until every FILE is non-empty;
#				1 when one is still empty

ns_need() {
	local why=$1 c
	shift
	[ "$(id -u)" = 0 ] || skipped "needs root ($why)"
	for c; do
		command -v "$c" >/dev/null || skipped "command $c not found"
	done
}

ns_rerun() {
	local var=$1
	shift
	t_binary
	export "$var=1" SPFPOLICY="$BIN"
	ns_enter "$@"
	[ -z "$ns_why" ] || skipped "$ns_why"
	die "unshare failed"
}

ns_enter() {
	local self=$1 err
	shift
	# what the exec below needs, tried first: where it cannot work the
	# reason is said instead of a bare unshare message.  In a chroot whose
	# / is not a mount point the mount namespace cannot be made private.
	ns_why=
	if ! err=$(unshare --net --mount --uts --propagation private true 2>&1); then
		# mountinfo lists the mounts under our root, "/" among them
		# only when / is a mount point (mountpoint(1) says yes in any
		# chroot: / and /.. are one inode)
		if [ -r /proc/self/mountinfo ] &&
			! awk '$5 == "/" { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			ns_why="no private namespaces: / is not a mount point (a chroot?), so unshare cannot make mounts private ($err)"
		else
			ns_why="no private namespaces here: ${err:-unshare failed}"
		fi
		return 1
	fi
	if unshare --pid --fork --mount-proc true 2>/dev/null; then
		exec unshare --net --mount --uts --pid --fork --kill-child=TERM --mount-proc \
			--propagation private bash "$self" "$@"
	fi
	exec unshare --net --mount --uts --propagation private bash "$self" "$@"
}

ns_dev() {
	local d=$1/dev n
	mkdir -p "$d" &&
		mount -t tmpfs -o mode=755,size=1m "$2-dev" "$d" || die "cannot mount a tmpfs"
	for n in null zero full random urandom tty; do
		: > "$d/$n" && mount --bind "/dev/$n" "$d/$n" || die "cannot bind /dev/$n"
	done
	ln -s /proc/self/fd "$d/fd"
	ln -s /proc/self/fd/0 "$d/stdin"
	ln -s /proc/self/fd/1 "$d/stdout"
	ln -s /proc/self/fd/2 "$d/stderr"
	mkdir "$d/shm" "$d/pts"
	mount --bind /dev/shm "$d/shm" 2>/dev/null
	mount --bind /dev/pts "$d/pts" 2>/dev/null
	mount --move "$d" /dev || die "cannot mount the private /dev"
}

ns_syslog() {
	setsid $PY -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "a", encoding="utf-8", errors="replace")
open(sys.argv[2], "w").write("ready\n")
while True:
    d = s.recv(65536).decode("utf-8", "replace").rstrip("\0\n")
    out.write(d + "\n")
    out.flush()
' "$1/syslog" "$1/logd.ready" 2> "$1/logd.err" &
	logd=$!
}

ns_ready() {
	local n=$(($1 * 10)) f i
	shift
	for i in $(seq "$n"); do
		for f; do
			[ -s "$f" ] || break
		done
		[ -s "$f" ] && return 0
		sleep 0.1
	done
	return 1
}
