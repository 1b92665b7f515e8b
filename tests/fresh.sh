#!/bin/sh
# See LICENSE file for copyright and license details.
#
# fresh.sh - the README's set-up and test commands, exactly as written,
# on a minimal Debian 13 or 12: debootstrap --variant=minbase from the
# mirror the host's apt uses (apt's own reading of /etc/apt/sources.list*;
# for a release the host has no entry for, the mirror of its own), a
# clean clone of this repository in root's home directory (/root, mode
# 0700, as a new user clones) and ../shared copied beside it, the two
# commands of the README's Installation block run in a chroot as root
# with a clean environment (env -i: HOME, TERM, LANG, PATH), then
# everything unmounted and removed.  Root; CI runs it for both.
#
#	sh tests/fresh.sh [trixie|bookworm]	(default bookworm)
#
# Debian 13 (trixie): where the mirror serves no Debian 13 source
# packages, "apt-get source c-ares" of "make deps" cannot work; that step
# alone is replaced: make deps runs with CARES_SRC=../shared/vendor's
# c-ares 1.34.5 tarball, built as make deps builds Debian 13's 1.34 source
# (tests/deps.sh, cares_cmake), and the output says so.  Give
# FRESH_DEBIAN_SOURCE=1 where the mirror has the source packages.
#
# Checks (ok/FAIL lines, tests/lib.sh): debootstrap; each README command
# exits 0; nothing the commands installed is enabled at boot (postfix:
# systemctl is-enabled where systemd is, else the unit and rc.d links);
# no apt source entry was added; nothing is left in /tmp; no process is
# left running.  Prints the time of each step, the inner test.sh's
# skipped and FAIL lines and its summary.  The chroot's / is not a mount
# point, so the sections that need private namespaces are skipped there
# (the point of the test is the set-up; the host's "make test" runs them).
#
# Environment:
#	FRESH_DIR	where the temporary directory is made (default
#			$TMPDIR or /var/tmp: the tree is ~1.5 GB)
#	FRESH_MOUNTPOINT=1	bind the chroot's root onto itself: / is then
#			a mount point and the namespaced sections run too
#	FRESH_LOG	also copy the inner commands' whole output here
#	FRESH_KEEP=1	keep the tree (unmounted) and say where
#	FRESH_DEBIAN_SOURCE=1	trixie: apt-get source c-ares, as written

self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
ROOT=$(pwd)
SHARED=$ROOT/../shared
SUITE=${1:-bookworm}
case $SUITE in
bookworm|trixie)	;;
*)	echo "usage: fresh.sh [trixie|bookworm]" >&2; exit 2 ;;
esac
TNAME=fresh
. tests/lib.sh

started=$(date +%s.%N)
[ "$(id -u)" = 0 ] || skipped "needs root (debootstrap, chroot, mount)"
[ -f /etc/debian_version ] || skipped "not a Debian host (debootstrap from its apt mirror)"
command -v git >/dev/null || skipped "git not installed (a clean clone of the work tree)"

# mounts made here vanish with this process, whatever ends it: a private
# mount namespace where the kernel gives one; the trap below unmounts
# them anyway
if [ "${FRESH_NS:-}" != 1 ] && command -v unshare >/dev/null &&
	unshare --mount --propagation private true 2>/dev/null; then
	FRESH_NS=1 exec unshare --mount --propagation private sh "$self" "$@"
fi

W=
R=
cleanup() {
	trap - EXIT
	[ -n "$W" ] || return
	# whatever still runs in the chroot was started here: end it
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] &&
			kill -KILL "${p#/proc/}" 2>/dev/null
	done
	for m in $(awk -v r="$R" '$2 == r || index($2, r "/") == 1 { print $2 }' \
		/proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	if awk -v r="$R" '$2 == r || index($2, r "/") == 1 { f = 1 } END { exit !f }' \
		/proc/self/mounts; then
		echo "# fresh: still mounted under $R: not removing $W" >&2
	elif [ "${FRESH_KEEP:-}" = 1 ]; then
		echo "# fresh: kept $W"
	else
		rm -rf --one-file-system "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# the mirror of the release's own suite in the host's apt sources; for a
# release the host has no entry for (trixie on a Debian 12 host), the
# mirror of the host's own release: Debian's archive holds both
host=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
mirror=$(apt-get indextargets --no-release-info \
	--format '$(RELEASE) $(REPO_URI)' 'Created-By: Packages' 2>/dev/null |
	awk -v s="$SUITE" -v h="$host" '$1 == s { m = $2; exit }
		$1 == h && h2 == "" { h2 = $2 } END { print m != "" ? m : h2 }')
[ -n "$mirror" ] || die "no deb entry for $SUITE or $host in the host's apt sources" "" 1

if ! command -v debootstrap >/dev/null; then
	echo "# fresh: installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
		install -y --no-install-recommends debootstrap >/dev/null 2>&1 ||
		die "apt-get install debootstrap failed" "" 1
fi

W=$(mktemp -d "${FRESH_DIR:-${TMPDIR:-/var/tmp}}/spfpolicy-fresh.XXXXXX") ||
	die "mktemp failed" "" 1
R=$W/root
log=$W/log

# step: run NAME CMD...: CMD's output to $log, its seconds in $secs
step() {
	s=$(date +%s.%N)
	printf '\n=== %s\n' "$1" >> "$log"
	shift
	"$@" < /dev/null >> "$W/out" 2>&1
	rc=$?
	cat "$W/out" >> "$log"
	secs=$(t_since "$s")
	return $rc
}

# the start links at boot: systemd's wants/requires links and the rc.d
# S links, one name a line
enabled() {
	for l in "$R"/etc/systemd/system/*.wants/* "$R"/etc/systemd/system/*.requires/* \
		"$R"/etc/rc[2-5].d/S*; do
		[ -L "$l" ] && echo "${l#"$R"}"
	done | sort
}

# the apt source entries
sources() {
	for f in "$R"/etc/apt/sources.list "$R"/etc/apt/sources.list.d/*; do
		[ -e "$f" ] && cksum "$f"
	done | sed "s|$R||"
}

: > "$W/out"
if step debootstrap debootstrap --variant=minbase "$SUITE" "$R" "$mirror"; then
	ok "debootstrap minbase $SUITE ($secs s)"
else
	tail -n 20 "$W/out" > "$W/tail"
	die "debootstrap --variant=minbase $SUITE from $mirror failed" "$W/tail" 1
fi
echo "# fresh: debootstrap: $secs s"

# the source: a clean clone of HEAD in root's home (0700: the tests that
# run as nobody must not need to reach into it), and ../shared beside it
[ "$(stat -c %a "$R/root")" = 700 ] || die "debootstrap left /root not mode 0700" "" 1
git clone -q "$ROOT" "$R/root/spfpolicy" || die "git clone failed" "" 1
if [ -d "$SHARED" ]; then
	cp -RL "$SHARED" "$R/root/shared" || die "cannot copy $SHARED" "" 1
else
	echo "# fresh: no $SHARED: the inner RFC 7208 suite is skipped"
fi
cp -L /etc/resolv.conf "$R/etc/resolv.conf" || die "cannot copy resolv.conf" "" 1

# first the root onto itself (asked for), or it would hide the others
if [ "${FRESH_MOUNTPOINT:-}" = 1 ]; then
	mount --bind "$R" "$R" || die "cannot bind $R onto itself" "" 1
fi
mount -t proc proc "$R/proc" &&
	mount -t sysfs sysfs "$R/sys" &&
	mount --rbind /dev "$R/dev" &&
	mount --make-rslave "$R/dev" || die "cannot mount /proc, /sys, /dev in $R" "" 1

# the README's Installation block: its first indented lines
readme=$(awk '/^Installation$/ { f = 1; next }
	f && /^    [^ ]/ { sub(/^    /, ""); print; b = 1; next }
	b { exit }' README)
n=$(printf '%s\n' "$readme" | grep -c .)
[ "$n" = 2 ] || die "README: expected 2 commands in the Installation block, found $n" "" 1
cmd1=$(printf '%s\n' "$readme" | sed -n 1p)
cmd2=$(printf '%s\n' "$readme" | sed -n 2p)

before_enabled=$(enabled)
before_sources=$(sources)

# the one step a mirror without Debian 13's source packages cannot run
csrc=
if [ "$SUITE" = trixie ] && [ "${FRESH_DEBIAN_SOURCE:-}" != 1 ]; then
	set -- "$R"/root/shared/vendor/c-ares-1.34.*.tar.gz
	[ -f "$1" ] || die "trixie: no ../shared/vendor/c-ares-1.34.*.tar.gz to stand in for apt-get source c-ares" "" 1
	csrc=CARES_SRC=${1#"$R"}
	echo "# fresh: trixie: make deps builds $csrc (as it builds Debian 13's c-ares 1.34 source) instead of apt-get source c-ares: this mirror serves no Debian 13 source packages (FRESH_DEBIAN_SOURCE=1 where it does)"
fi

# a root shell of the new system, in the source tree, with a clean
# environment (env -i); $csrc only in the set-up's
inside() {
	chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		${2:+"$2"} sh -c "cd /root/spfpolicy && $1"
}

: > "$W/out"
if step "$cmd1" inside "$cmd1" "$csrc"; then
	ok "set-up: $cmd1${csrc:+ ($csrc)} ($secs s)"
else
	tail -n 30 "$W/out" > "$W/tail"
	fail "set-up" "'$cmd1' exited $rc after $secs s" "$W/tail"
	[ -z "${FRESH_LOG:-}" ] || cp "$log" "$FRESH_LOG"
	t_end 1
fi
echo "# fresh: deps and build: $secs s"
echo "# fresh: $SUITE: $(inside './spfpolicy -V' 2>&1), $(wc -c < "$R/root/spfpolicy/spfpolicy") bytes"

: > "$W/out"
if step "$cmd2" inside "$cmd2"; then
	ok "test: $cmd2 ($secs s)"
else
	grep -E '^(FAIL |skipped: |[0-9]+ passed, )' "$W/out" | tail -n 40 > "$W/tail"
	[ -s "$W/tail" ] || tail -n 30 "$W/out" > "$W/tail"
	fail "test" "'$cmd2' exited $rc" "$W/tail"
fi
echo "# fresh: test: $secs s"
grep -E '^skipped: ' "$W/out" | sed 's/^/# fresh: inner /'
grep -E '^FAIL ' "$W/out" | sed 's/^/# fresh: inner /'
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$W/out" | tail -n 1)
echo "# fresh: inner summary: ${summary:-none}"

# nothing enabled at boot, postfix first
if [ -x "$R/bin/systemctl" ]; then
	st=$(inside "systemctl is-enabled postfix 2>&1")
else
	st=$(enabled | grep postfix | tr '\n' ' ')
	[ -n "$st" ] && st="enabled: $st" || st="not enabled (no unit or rc.d start links)"
fi
case $st in
enabled*|alias*|static*|indirect*|generated*)
	fail postfix-not-enabled "postfix at boot: $st" ;;
*)	ok "postfix-not-enabled ($st)" ;;
esac
printf '%s\n' "$before_enabled" > "$W/before"
enabled | comm -13 "$W/before" - > "$W/new"
if [ -s "$W/new" ]; then
	fail nothing-enabled "enabled at boot by the README's commands:" "$W/new"
else
	ok nothing-enabled
fi

if [ "$(sources)" = "$before_sources" ]; then
	ok no-apt-sources-added
else
	sources > "$W/sources"
	fail no-apt-sources-added "the apt sources changed; now:" "$W/sources"
fi

ls -A "$R/tmp" > "$W/tmp"
if [ -s "$W/tmp" ]; then
	fail tmp-clean "left in /tmp:" "$W/tmp"
else
	ok tmp-clean
fi

for p in /proc/[0-9]*; do
	[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] &&
		echo "${p#/proc/} $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)"
done > "$W/procs"
if [ -s "$W/procs" ]; then
	fail no-processes "still running in the chroot:" "$W/procs"
else
	ok no-processes
fi

[ -z "${FRESH_LOG:-}" ] || cp "$log" "$FRESH_LOG"
echo "# fresh: $(t_since "$started") s in all"
t_end
