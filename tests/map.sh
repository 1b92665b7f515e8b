#!/bin/sh
# See LICENSE file for copyright and license details.
#
# map.sh - the opening map of spfpolicy.c checked against the file, with
# awk alone: a section is a line "/* NAME */" whose NAME the map lists
# (" *   NAME   what it offers"), and a function is "NAME(" at column 0 up
# to the "}" at column 0 (the file's style).  It fails when
#	- the sections' order is not the map's, or a section is missing,
#	  or one the map does not list stands in the file;
#	- a function or table reaches a function of a later section;
#	- a function is declared ahead of its definition though nothing
#	  before that definition uses it (the order could have avoided it);
#	- a function passes 60 lines;
#	- a mutable file-scope variable is used by a section other than
#	  the one that declares it, or is declared before the sections.
# It also compiles the file with -Wshadow, warnings as errors, against
# each c-ares in deps/ (else the system's ares.h; skipped without one).
# map.sh -v also prints the numbers (functions, lengths, forward uses,
# prototypes, parameters, globals).  Usage: map.sh [-v] [FILE]

v=0
[ "${1:-}" = -v ] && { v=1; shift; }
src=${1:-$(dirname "$0")/../spfpolicy.c}
[ -f "$src" ] || { echo "FAIL map: no $src"; exit 1; }

awk -v verbose=$v -v maxlen=60 '
function fail(what) { print "FAIL map: " what; bad++ }

# the line without comments, strings and character constants
function code(s,    out, i, c, q) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (incomment) {
			if (substr(s, i, 2) == "*/") { incomment = 0; i++ }
			continue
		}
		if (substr(s, i, 2) == "/*") { incomment = 1; i++; continue }
		if (substr(s, i, 2) == "//") break
		if (c == "\"" || c == "\047") {
			q = c
			for (i++; i <= length(s); i++) {
				c = substr(s, i, 1)
				if (c == "\\") { i++; continue }
				if (c == q) break
			}
			out = out " "
			continue
		}
		out = out c
	}
	return out
}

# the names a file-scope declaration makes, unless they are const
function variable(d,    t, name, isconst, part, np, i, ty) {
	t = d
	sub(/[=;].*/, "", t)
	np = split(t, part, ",")
	for (i = 1; i <= np; i++) {
		t = part[i]
		sub(/\[.*/, "", t)
		sub(/[ \t]+$/, "", t)
		if (!match(t, /[A-Za-z_][A-Za-z0-9_]*$/)) continue
		name = substr(t, RSTART)
		if (i == 1) ty = substr(t, 1, RSTART - 1)
		else ty = ty substr(t, 1, RSTART - 1)
		isconst = ty ~ /\*[ \t]*const[ \t]*$/ || (ty ~ /^static const / && ty !~ /\*/)
		if (i == 1) sub(/[* \t]+$/, " ", ty)
		if (isconst) continue
		gsec[name] = s
		gline[name] = FNR
		nglobal++
	}
}

# pass 1: the map, the sections, where each function and variable is
FNR == NR {
	if (FNR == 1) inmap = 1
	if (inmap && /^ \*\//) inmap = 0
	if (inmap && match($0, /^ \*   [a-z]+ /)) {
		name = substr($0, 6, RLENGTH - 6)
		mapped[name] = ++nmap
		mapname[nmap] = name
	}
	c = code($0)
	if (/^#/) next
	if (match($0, /^\/\* [a-z]+ \*\/$/)) {
		name = substr($0, 4, RLENGTH - 6)
		if (name in mapped) {
			seen[++nseen] = name
			s = name
		} else if (s != "")
			fail(sprintf("section \"%s\" (line %d) is not in the map", name, FNR))
		next
	}
	if (cur == "" && c ~ /^static[^=]*[A-Za-z_][A-Za-z0-9_]*\([^)]*\);[ \t]*$/) {
		t = c
		sub(/\(.*/, "", t)
		n = split(t, w, /[ *]+/)
		proto[w[n]] = FNR	# a prototype
		nproto++
		next
	}
	if (cur == "" && match($0, /^[A-Za-z_][A-Za-z0-9_]*\(/)) {
		cur = substr($0, 1, RLENGTH - 1)	# a function, to "}" at column 0
		fsec[cur] = s
		fline[cur] = FNR
		params = $0
		while (params !~ /\)/ && (getline more) > 0)
			params = params " " more
		p = params
		sub(/^[^(]*\(/, "", p)
		sub(/\).*/, "", p)
		np = p == "void" ? 0 : split(p, w, ",")
		if (np > 5) over5[cur] = np
		next
	}
	if (cur != "" && /^}/) {
		flen[cur] = FNR - fline[cur] + 1
		if (flen[cur] > maxlen)
			fail(sprintf("%s is %d lines (at most %d)", cur, flen[cur], maxlen))
		cur = ""
		next
	}
	if (cur != "") next
	# a file-scope variable: "static TYPE name...;" or a struct ending "} name"
	if (instruct && /^}/) {
		instruct = 0
		variable(structhead " " c)
	} else if (!instruct && c ~ /^static .*[;{][ \t]*$/ && c !~ /^static[^[=]*\(/) {
		decl = c
		sub(/[ \t]+$/, "", decl)
		if (decl ~ /\{$/ && decl !~ /=/ && decl !~ /\}/) {
			instruct = 1
			structhead = decl
		} else if (decl ~ /^static (const )?struct \{.*\}/) {	# one line
			t = decl
			sub(/\{.*\}/, "", t)
			variable(t)
		} else
			variable(decl)
	}
	next
}

FNR == 1 {
	for (i = 1; i <= nmap; i++) order[mapname[i]] = i
	for (i = 1; i <= nseen && i <= nmap; i++)
		if (seen[i] != mapname[i])
			break
	if (i <= nseen || nseen != nmap)
		fail(sprintf("section %d is \"%s\", the map says \"%s\"", i, \
		    i <= nseen ? seen[i] : "none", i <= nmap ? mapname[i] : "none"))
	sec = ""; cur = ""; order[""] = 0; incomment = 0
}

# pass 2: every use of a function or a variable, and where it is
/^\/\* [a-z]+ \*\/$/ {
	name = substr($0, 4, length($0) - 6)
	if (name in mapped) { sec = name; next }
}
/^#/ { next }
{ c = code($0) }
cur == "" && c ~ /^static[^=]*[A-Za-z_][A-Za-z0-9_]*\([^)]*\);[ \t]*$/ { next }
cur == "" && /^[A-Za-z_][A-Za-z0-9_]*\(/ {
	cur = substr($0, 1, index($0, "(") - 1)
	while ($0 !~ /\)/ && (getline) > 0)
		;
	next
}
cur != "" && /^}/ { cur = ""; next }
{
	rest = c
	while (match(rest, /[A-Za-z_][A-Za-z0-9_]*/)) {
		id = substr(rest, RSTART, RLENGTH)
		pre = substr(rest, 1, RSTART - 1)
		rest = substr(rest, RSTART + RLENGTH)
		if (pre ~ /(\.|->)[ \t]*$/)
			continue	# a member
		if (id in fsec && id != cur) {
			if (order[fsec[id]] > order[sec])
				upward[++nup] = sprintf("%s (%s, line %d) uses %s of %s", \
				    cur != "" ? cur : "a table", sec, FNR, id, fsec[id])
			if (FNR < fline[id]) {
				ahead[id] = 1
				nfwd++
			}
		}
		if (id in gsec && cur != "" && gsec[id] != sec)
			outside[id, sec] = FNR
	}
}

END {
	for (id in gsec)
		if (gsec[id] == "") {
			fail(sprintf("%s (line %d) is declared before the sections", id, gline[id]))
			nout++
		}
	for (k in outside) {
		split(k, w, SUBSEP)
		if (gsec[w[1]] == "") continue
		fail(sprintf("%s of %s is used by %s (line %d)", w[1], gsec[w[1]], w[2], outside[k]))
		nout++
	}
	for (i = 1; i <= nup; i++) fail(upward[i])
	for (id in proto)
		if (!(id in ahead))
			fail(sprintf("%s is declared at line %d but nothing uses it ahead of its definition", id, proto[id]))
	if (verbose) {
		n = 0
		for (f in flen) lens[++n] = flen[f]
		for (i = 2; i <= n; i++) {	# insertion sort: a few hundred numbers
			x = lens[i]
			for (j = i - 1; j > 0 && lens[j] > x; j--) lens[j + 1] = lens[j]
			lens[j + 1] = x
		}
		long = 0; over = 0
		for (i = 1; i <= n; i++) { if (lens[i] > 40) long++; if (lens[i] > maxlen) over++ }
		np5 = 0; list = ""
		for (f in over5) { np5++; list = list " " f "(" over5[f] ")" }
		printf "# map: %d sections (", nseen
		for (i = 1; i <= nseen; i++) printf "%s%s", (i > 1 ? " " : ""), seen[i]
		printf ")\n"
		printf "# map: %d functions, lines median %d, p90 %d, max %d, over 40: %d, over %d: %d\n", \
		    n, lens[int((n + 1) / 2)], lens[int(n * 0.9)], lens[n], long, maxlen, over
		printf "# map: %d uses reach a later section, %d uses ahead of a definition, %d prototypes\n", \
		    nup, nfwd, nproto
		printf "# map: %d mutable file-scope variables, %d uses outside their section\n", nglobal, nout
		printf "# map: %d functions take more than 5 parameters:%s\n", np5, list
	}
	if (!bad) print "ok map"
	exit bad > 0
}' "$src" "$src" || exit 1

# -Wshadow: a local that hides a global is the state a section does not
# own.  Against each c-ares at hand (deps/cares*: the code under version
# checks differs), else the system's.
dir=$(cd "$(dirname "$src")" && pwd)
cc=${CC:-cc}
command -v "$cc" >/dev/null || cc=gcc
incs=
for d in "$dir"/deps/cares*/include; do
	[ -f "$d/ares.h" ] && incs="$incs $d"
done
[ -n "$incs" ] || [ ! -f /usr/include/ares.h ] || incs=/usr/include
if [ -z "$incs" ] || [ ! -f "$dir/config.h" ] || ! command -v "$cc" >/dev/null; then
	echo "skipped: map/shadow: no ares.h, config.h (make makes it) or compiler"
	exit 0
fi
rc=0
for inc in $incs; do
	v=$(sed -n 's/^#define ARES_VERSION_STR "\(.*\)"/\1/p' "$inc/ares_version.h" 2>/dev/null)
	if out=$("$cc" -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DVERSION='"map"' \
	    -I"$dir" -isystem "$inc" -Wshadow -Werror=shadow -fsyntax-only "$src" 2>&1); then
		echo "ok map/shadow ($cc -Wshadow, c-ares ${v:-?})"
	else
		echo "FAIL map/shadow: c-ares ${v:-?}: $out" | head -5
		rc=1
	fi
done
exit $rc
