#!/bin/sh
# See LICENSE file for copyright and license details.
#
# deps.sh - install what spfpolicy is built with ("make deps", as root),
# or, given "test", what it is tested with ("make test" runs it first).
#
#	sh tests/deps.sh	build tools, then c-ares
#	sh tests/deps.sh test	test tools: only the missing ones, only as
#				root on Debian (elsewhere the tests that need
#				them say "skipped")
#
# Debian: the packages below from apt, then c-ares built static with
# musl-gcc from Debian's own source package (Debian's patches applied by
# dpkg-source) into $CARES_PREFIX.  When apt has no deb-src entry, one is
# derived from the configured deb entries into a private directory that
# only the "apt-get source" here reads: nothing is added to
# /etc/apt.  Nothing installed is started or enabled at boot: policy-rc.d
# keeps maintainer scripts from starting services, and every unit or
# rc.d link the installation enabled is disabled again (Postfix: its
# postinst enables postfix.service; it is installed with no
# configuration).  A service that was enabled before is left alone.
# libidn2 is a test tool only: idn2(1) is the reference of tests/idn.sh,
# libidn2-dev the oracle of fuzz_idn.
#
# Alpine: apk packages; build with "make CC=cc CARES_PREFIX=/usr".
#
# Environment:
#	CARES_PREFIX=DIR	where c-ares is, or is built (default deps/cares);
#				nothing is built if DIR/lib/libcares.a exists
#	CARES_SRC=FILE.tar.gz	build this c-ares tarball (a release, or a git
#				archive without configure) instead of
#				"apt-get source c-ares"
#	CARES=VERSION		instead, build c-ares VERSION (1.34: what
#				Alpine links) with CMake from the release
#				tarball c-ares-VERSION.*.tar.gz into
#				$CARES_PREFIX (default deps/caresVERSION)
#	CARES_VENDOR=DIR	where that tarball is (default ../shared/vendor)
set -eu

# build tools (dpkg-dev for apt-get source)
BUILD_PKGS="musl-tools make gcc file dpkg-dev"
# test tools, installed by "make test" (tests/deps.sh test): extend here
# (systemd: systemd-socket-activate, tests/listener_abuse.py; strace:
# tests/syscalls.sh).  Unversioned names only, so that the list resolves
# on Debian 12 and 13 alike (libclang-rt-dev: the libFuzzer of the clang
# that "clang" depends on, 14 on Debian 12, 19 on Debian 13)
TEST_PKGS="python3 python3-dnslib python3-yaml iproute2 util-linux valgrind systemd
	postfix-policyd-spf-python python3-spf postfix swaks mandoc
	clang libclang-rt-dev libc-ares-dev strace libidn2-dev idn2"
# Alpine: musl is the libc, c-ares comes static from the distribution
APK_PKGS="build-base c-ares-dev c-ares-static python3 py3-yaml py3-dnslib file"

# what earlier versions of this script left in /etc/apt: removed
OLD_DEBSRC=/etc/apt/sources.list.d/spfpolicy-deb-src.sources

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CARES_PREFIX=${CARES_PREFIX:-deps/cares${CARES:-}}
CARES_VENDOR=${CARES_VENDOR:-$ROOT/../shared/vendor}
# the c-ares $CARES build: CMake options and flags on top of Alpine's
# (MinSizeRel, sections).  spfpolicy has one thread and needs no unwind
# tables: these two cut 24 and 16 KiB from the binary (README, Requirements).
# No getrandom(2): Linux 3.17, and c-ares 1.34 retries it for ever when a
# seccomp filter answers EPERM; /dev/urandom instead (tests/syscalls.sh)
CARES_CMAKE_OPTS=${CARES_CMAKE_OPTS--DCARES_THREADS=OFF -DHAVE_GETRANDOM=OFF}
CARES_CFLAGS=${CARES_CFLAGS--fstack-protector-strong -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables}
case $CARES_PREFIX in
/*)	;;
*)	CARES_PREFIX=$ROOT/$CARES_PREFIX ;;
esac

say() {
	echo "deps: $*"
}

die() {
	echo "deps: $*" >&2
	exit 1
}

needroot() {
	[ "$(id -u)" = 0 ] || die "$* needs root"
}

# apt_missing PKG...: print the packages not installed
apt_missing() {
	for p; do
		s=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null) || s=
		[ "$s" = "install ok installed" ] || echo "$p"
	done
}

# what this script made and removes on exit, however it ends
rcd=
aptdir=
cleanup() {
	[ -z "$rcd" ] || rm -f "$rcd"
	[ -z "$aptdir" ] || rm -rf "$aptdir"
}
trap cleanup EXIT
trap 'exit 1' INT HUP TERM

# the services enabled at boot: systemd's .wants/.requires links, the
# start links of the rc.d runlevels; a line each, "unit NAME" or "rc NAME"
enabled_services() {
	for l in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
		[ -L "$l" ] && echo "unit ${l##*/}"
	done
	for l in /etc/rc[2-5].d/S*; do
		[ -L "$l" ] && echo "rc $(echo "${l##*/}" | sed 's/^S[0-9]*//')"
	done
	return 0
}

# disable_new BEFORE: disable what was enabled since the enabled_services
# list in the file BEFORE: apt installs services enabled at boot (postfix's
# postinst runs deb-systemd-helper enable and update-rc.d defaults), a
# build or test host must not get them.  deb-systemd-helper and update-rc.d
# record the choice, so that an upgrade does not enable them again.
disable_new() {
	enabled_services | sort -u > "$1.after"
	sort -u "$1" | comm -13 - "$1.after" | while read -r kind name; do
		say "disabling $name ($kind): installed for building or testing, not to run"
		case $kind in
		unit)	if command -v deb-systemd-helper >/dev/null; then
				deb-systemd-helper disable "$name" >/dev/null 2>&1 || :
			fi
			rm -f /etc/systemd/system/*.wants/"$name" \
				/etc/systemd/system/*.requires/"$name" ;;
		rc)	update-rc.d "$name" disable >/dev/null 2>&1 ||
				rm -f /etc/rc[2-5].d/S[0-9][0-9]"$name" ;;
		esac
	done
	enabled_services | sort -u > "$1.after"
	left=$(sort -u "$1" | comm -13 - "$1.after")
	[ -z "$left" ] || die "still enabled at boot after disabling: $left"
}

# apt_install PKG...: install the missing ones, nothing started or enabled
apt_install() {
	missing=$(apt_missing "$@")
	if [ -z "$missing" ]; then
		say "all packages installed"
		return
	fi
	needroot apt-get install
	export DEBIAN_FRONTEND=noninteractive
	# postfix: no configuration, so no main.cf and nothing listens
	echo 'postfix postfix/main_mailer_type select No configuration' |
		debconf-set-selections
	# keep maintainer scripts from starting services (see invoke-rc.d(8))
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		rcd=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$rcd"
		chmod 755 "$rcd"
	fi
	aptdir=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-deps.XXXXXX")
	enabled_services > "$aptdir/enabled"
	apt-get update
	apt-get install -y --no-install-recommends $missing
	[ -z "$rcd" ] || rm -f "$rcd"
	rcd=
	disable_new "$aptdir/enabled"
	rm -rf "$aptdir"
	aptdir=
	if command -v postfix >/dev/null && postfix status 2>/dev/null; then
		postfix stop
	fi
}

# Print deb822 deb-src stanzas for the distribution's own deb entries
# (suites CODENAME and CODENAME-*), read from one-line and deb822 lists.
debsrc_stanzas() {
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	lists=
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && lists="$lists $f"
	done
	[ -z "$lists" ] || awk -v cn="$codename" '
	function keep(s) { return s == cn || index(s, cn "-") == 1 }
	$1 == "deb" {
		i = 2; opts = ""
		if ($2 ~ /^\[/) {
			for (; i <= NF; i++) {
				opts = opts " " $i
				if ($i ~ /\]$/)
					break
			}
			i++
		}
		if (!keep($(i + 1)))
			next
		print "Types: deb-src"
		print "URIs: " $i
		print "Suites: " $(i + 1)
		comps = ""
		for (j = i + 2; j <= NF && $j !~ /^#/; j++)
			comps = comps " " $j
		if (comps != "")
			print "Components:" comps
		if (match(opts, /signed-by=[^] ]*/))
			print "Signed-By: " substr(opts, RSTART + 10, RLENGTH - 10)
		if (opts ~ /trusted=yes/)
			print "Trusted: yes"
		print ""
	}' $lists
	lists=
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$OLD_DEBSRC" ] && lists="$lists $f"
	done
	[ -z "$lists" ] || awk -v cn="$codename" '
	function keep(s) { return s == cn || index(s, cn "-") == 1 }
	function flush(  i, n, w, s) {
		if (isdeb && !disabled && nl) {
			n = split(suites, w, " ")
			s = ""
			for (i = 1; i <= n; i++)
				if (keep(w[i]))
					s = s " " w[i]
			if (s != "") {
				print "Types: deb-src"
				print "Suites:" s
				for (i = 1; i <= nl; i++)
					print l[i]
				print ""
			}
		}
		isdeb = disabled = nl = 0
		suites = ""
	}
	FNR == 1 { flush() }
	/^#/ { next }
	/^[ \t]*$/ { flush(); next }
	/^[ \t]/ { if (nl && !skip) l[++nl] = $0; next }	# continuation
	{
		skip = 0
		key = tolower($1)
		if (key == "types:") {
			skip = 1
			for (i = 2; i <= NF; i++)
				if ($i == "deb")
					isdeb = 1
		} else if (key == "suites:") {
			skip = 1
			suites = substr($0, index($0, ":") + 1)
		} else if (key == "enabled:" && tolower($2) == "no") {
			disabled = 1
		}
		if (!skip)
			l[++nl] = $0
	}
	END { flush() }' $lists
}

cares_source() {
	rm -rf deps/src
	mkdir -p deps/src
	if [ -n "${CARES_SRC:-}" ]; then
		[ -f "$CARES_SRC" ] || die "CARES_SRC: no such file: $CARES_SRC"
		say "unpacking $CARES_SRC"
		gzip -dc "$CARES_SRC" | (cd deps/src && tar -xf -)
		return
	fi
	if apt-cache showsrc c-ares 2>/dev/null | grep -q '^Package:'; then
		# root downloads into deps/src: say so instead of being warned
		(cd deps/src && apt-get -o APT::Sandbox::User=root source c-ares)
		return
	fi
	# no deb-src entry: one derived from the deb entries, in a private
	# apt directory (sources, lists, cache) read by this "apt-get source"
	# alone and removed on exit; /etc/apt and the host's lists stay as
	# they are
	aptdir=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-deps.XXXXXX")
	mkdir -p "$aptdir/sources.list.d" "$aptdir/lists/partial" \
		"$aptdir/cache/archives/partial"
	: > "$aptdir/sources.list"
	debsrc_stanzas > "$aptdir/sources.list.d/deb-src.sources"
	[ -s "$aptdir/sources.list.d/deb-src.sources" ] ||
		die "no deb entry for this release to derive deb-src from"
	say "no deb-src entry for c-ares: using one derived from the deb entries, not kept"
	set -- -o APT::Sandbox::User=root \
		-o Dir::Etc::SourceList="$aptdir/sources.list" \
		-o Dir::Etc::SourceParts="$aptdir/sources.list.d" \
		-o Dir::State::Lists="$aptdir/lists" \
		-o Dir::Cache="$aptdir/cache"
	apt-get "$@" update
	(cd deps/src && apt-get "$@" source c-ares)
	rm -rf "$aptdir"
	aptdir=
}

cares_build() {
	if [ -f "$CARES_PREFIX/lib/libcares.a" ]; then
		say "c-ares: $CARES_PREFIX/lib/libcares.a exists, not building"
		return
	fi
	command -v musl-gcc >/dev/null || die "musl-gcc not found (musl-tools)"
	cares_source
	src=
	for d in deps/src/c-ares-*/; do
		[ -f "$d/include/ares_version.h" ] && src=${d%/}
	done
	[ -n "$src" ] || die "no c-ares source (c-ares-*/include/ares_version.h) in deps/src"
	# 1.34 and later (Debian 13's) get what CARES=1.34 gets, whatever the
	# source: their configure would build threads and getrandom in, over
	# the size limit and newer than Linux 3.10 (README, Requirements)
	v=$(sed -n 's/^#define ARES_VERSION_STR *"\(.*\)"/\1/p' "$src/include/ares_version.h")
	old=
	case $v in
	1.[0-9].*|1.[12][0-9].*|1.3[0-3].*)	old=1 ;;
	esac
	if [ -z "$old" ] || [ ! -f "$src/configure" ]; then	# a git archive has none
		cares_cmake "$src"
		return
	fi
	say "building c-ares $v ($src, configure) into $CARES_PREFIX"
	(
		cd "$src"
		CC=musl-gcc \
		CFLAGS='-Os -fstack-protector-strong -ffunction-sections -fdata-sections' \
		./configure --disable-shared --enable-static --disable-tests \
			--prefix="$CARES_PREFIX" >configure.out ||
			{ tail -n 30 configure.out config.log; exit 1; }
		make -j"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)" \
			>make.out 2>&1 || { tail -n 30 make.out; exit 1; }
		make install >>make.out 2>&1 || { tail -n 30 make.out; exit 1; }
	)
	[ -f "$CARES_PREFIX/lib/libcares.a" ] || die "c-ares build left no libcares.a"
	say "c-ares $(sed -n 's/^Version: //p' "$CARES_PREFIX/lib/pkgconfig/libcares.pc") in $CARES_PREFIX"
}

# cares_cmake DIR: the c-ares source in DIR into $CARES_PREFIX, as Alpine
# builds it: CMake, static, MinSizeRel (-Os), sections for --gc-sections;
# $CARES_CMAKE_OPTS and $CARES_CFLAGS on top
cares_cmake() {
	command -v cmake >/dev/null || apt_install cmake
	say "building c-ares $(sed -n 's/^#define ARES_VERSION_STR *"\(.*\)"/\1/p' \
		"$1/include/ares_version.h") ($1, CMake:" $CARES_CMAKE_OPTS") into $CARES_PREFIX"
	[ -f "$1/CMakeLists.txt" ] || die "no CMakeLists.txt in $1"
	rm -rf "$1/build"
	(
		cd "$1"
		mkdir build && cd build
		CC=musl-gcc \
		CFLAGS=$CARES_CFLAGS \
		cmake .. -DCMAKE_BUILD_TYPE=MinSizeRel \
			-DCARES_STATIC=ON -DCARES_SHARED=OFF \
			-DCARES_BUILD_TOOLS=OFF -DCARES_BUILD_TESTS=OFF \
			$CARES_CMAKE_OPTS \
			-DCMAKE_INSTALL_LIBDIR=lib \
			-DCMAKE_INSTALL_PREFIX="$CARES_PREFIX" >cmake.out 2>&1 ||
			{ tail -n 30 cmake.out; exit 1; }
		make -j"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)" \
			>make.out 2>&1 || { tail -n 30 make.out; exit 1; }
		make install >>make.out 2>&1 || { tail -n 30 make.out; exit 1; }
	)
	[ -f "$CARES_PREFIX/lib/libcares.a" ] || die "c-ares build left no libcares.a"
	say "c-ares $(sed -n 's/^Version: //p' "$CARES_PREFIX/lib/pkgconfig/libcares.pc") in $CARES_PREFIX"
}

# cares_vendor_build: c-ares $CARES (e.g. 1.34) from the release tarball
# in $CARES_VENDOR (a git archive, no configure), with cares_cmake.
cares_vendor_build() {
	if [ -f "$CARES_PREFIX/lib/libcares.a" ]; then
		say "c-ares $CARES: $CARES_PREFIX/lib/libcares.a exists, not building"
		return
	fi
	command -v musl-gcc >/dev/null || die "musl-gcc not found (musl-tools)"
	tgz=
	for f in "$CARES_VENDOR"/c-ares-"$CARES".*.tar.gz \
	    "$CARES_VENDOR"/c-ares-"$CARES".tar.gz; do
		[ -f "$f" ] && tgz=$f
	done
	[ -n "$tgz" ] || die "c-ares $CARES: no c-ares-$CARES.*.tar.gz in" \
		"$CARES_VENDOR (set CARES_VENDOR to the folder that holds it)"
	src=$ROOT/deps/src-$CARES
	rm -rf "$src"
	mkdir -p "$src"
	gzip -dc "$tgz" | (cd "$src" && tar -xf -)
	set -- "$src"/c-ares-*/CMakeLists.txt
	[ -f "$1" ] || die "no c-ares-*/CMakeLists.txt in $tgz"
	cares_cmake "${1%/CMakeLists.txt}"
}

case ${1:-} in
"")	;;
test)	if [ ! -f /etc/debian_version ]; then
		say "not Debian: install the test tools yourself (TEST_PKGS here); the tests that need them say skipped"
		exit 0
	fi
	missing=$(apt_missing $TEST_PKGS)
	if [ -n "$missing" ] && [ "$(id -u)" != 0 ]; then
		say "not root: not installing" $missing "(the tests that need them say skipped)"
		exit 0
	fi
	apt_install $TEST_PKGS
	exit 0 ;;
*)	die "usage: deps.sh [test]" ;;
esac

if [ -f /etc/debian_version ]; then
	if [ -f "$OLD_DEBSRC" ] && [ "$(id -u)" = 0 ]; then
		say "removing $OLD_DEBSRC (left by an earlier deps.sh)"
		rm -f "$OLD_DEBSRC"
	fi
	apt_install $BUILD_PKGS
	if [ -n "${CARES:-}" ]; then
		cares_vendor_build
		say "done: make CARES=$CARES && make CARES=$CARES test-core"
		exit 0
	fi
	cares_build
	say "done: make && make test (make test installs the test tools)"
elif [ -f /etc/alpine-release ]; then
	needroot "apk add"
	apk add $APK_PKGS
	say "done: make CC=cc CARES_PREFIX=/usr && make CC=cc CARES_PREFIX=/usr test"
else
	die "neither Debian nor Alpine: install a C99 compiler and static c-ares (1.18 or later), then make CC=cc CARES_PREFIX=DIR"
fi
