#!/bin/sh
# See LICENSE file for copyright and license details.
#
# deps.sh - install what spfpolicy is built and tested with ("make deps",
# as root).
#
# Debian: the packages below from apt, then c-ares built static with
# musl-gcc from Debian's own source package (Debian's patches applied by
# dpkg-source) into $CARES_PREFIX.  A deb-src entry is derived from the
# configured deb entries when apt has none.  Postfix is installed with no
# configuration and is not started.  libidn2 is a test tool only: idn2(1)
# is the reference of tests/idn.sh, libidn2-dev the oracle of fuzz_idn.
#
# Alpine: apk packages; build with "make CC=cc CARES_PREFIX=/usr".
#
# Environment:
#	CARES_PREFIX=DIR	where c-ares is, or is built (default deps/cares);
#				nothing is built if DIR/lib/libcares.a exists
#	CARES_SRC=FILE.tar.gz	build this c-ares release tarball instead of
#				"apt-get source c-ares"
set -eu

# build tools (dpkg-dev for apt-get source)
BUILD_PKGS="musl-tools make gcc file dpkg-dev"
# test tools: extend here
TEST_PKGS="python3 python3-dnslib python3-yaml iproute2 util-linux valgrind
	postfix-policyd-spf-python python3-spf postfix swaks mandoc
	clang libclang-rt-14-dev libc-ares-dev libidn2-dev idn2"
# Alpine: musl is the libc, c-ares comes static from the distribution
APK_PKGS="build-base c-ares-dev c-ares-static python3 py3-yaml py3-dnslib file"

DEBSRC=/etc/apt/sources.list.d/spfpolicy-deb-src.sources

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CARES_PREFIX=${CARES_PREFIX:-deps/cares}
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

apt_install() {
	missing=$(apt_missing $BUILD_PKGS $TEST_PKGS)
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
	rcd=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		rcd=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$rcd"
		chmod 755 "$rcd"
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
		trap 'exit 1' INT TERM
	fi
	apt-get update
	apt-get install -y --no-install-recommends $missing
	if [ -n "$rcd" ]; then
		rm -f "$rcd"
		trap - EXIT INT TERM
	fi
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
		[ -f "$f" ] && [ "$f" != "$DEBSRC" ] && lists="$lists $f"
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
	if ! apt-cache showsrc c-ares 2>/dev/null | grep -q '^Package:'; then
		needroot "adding a deb-src entry"
		say "no deb-src entry for c-ares; writing $DEBSRC"
		debsrc_stanzas > "$DEBSRC.tmp"
		[ -s "$DEBSRC.tmp" ] || {
			rm -f "$DEBSRC.tmp"
			die "no deb entry for this release to derive deb-src from"
		}
		mv "$DEBSRC.tmp" "$DEBSRC"
		apt-get update
	fi
	# root downloads into deps/src: say so instead of being warned
	(cd deps/src && apt-get -o APT::Sandbox::User=root source c-ares)
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
		[ -f "$d/configure" ] && src=$d
	done
	[ -n "$src" ] || die "no c-ares source with a configure script in deps/src"
	say "building $src into $CARES_PREFIX"
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

if [ -f /etc/debian_version ]; then
	apt_install
	cares_build
	say "done: make && make test"
elif [ -f /etc/alpine-release ]; then
	needroot "apk add"
	apk add $APK_PKGS
	say "done: make CC=cc CARES_PREFIX=/usr && make CC=cc CARES_PREFIX=/usr test"
else
	die "neither Debian nor Alpine: install a C99 compiler and static c-ares (1.18 or later), then make CC=cc CARES_PREFIX=DIR"
fi
