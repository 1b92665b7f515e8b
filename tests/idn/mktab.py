#!/usr/bin/python3
# See LICENSE file for copyright and license details.
#
# mktab.py - generate idna.h, the Unicode tables of idn_ascii() (the
# conversion of internationalized domain names to A-labels, RFC 8616 4,
# done as libidn2 2.3.3's idn2_lookup_u8(IDN2_NONTRANSITIONAL) does it).
#
# Usage: tests/idn/mktab.py IdnaMappingTable.txt idna-tables-properties.csv \
#		[DerivedJoiningType.txt] > idna.h
#
# The idna.h of the tree: libidn2 2.3.8's data (Debian 13, Unicode 15.1),
# made in Debian 13 (Python 3.13: unicodedata 15.1), where its source
# package is not at hand, from python3-idna 3.10 and unicode-data 15.1
# (Perl there is Unicode 15.0: the joining types from the file instead):
#
#	python3 tests/idn/idnadata.py DIR
#	IDN_LIBIDN2="libidn2 2.3.8" IDN_FROM="python3-idna 3.10's UTS #46
#	and IDNA2008 data (tests/idn/idnadata.py)" python3 tests/idn/mktab.py DIR/IdnaMappingTable.txt \
#		DIR/idna-tables-properties.csv \
#		/usr/share/unicode/extracted/DerivedJoiningType.txt > idna.h
#
# Before, from libidn2 2.3.3's own files (Debian 12, Unicode 14):
# Both files come from libidn2 2.3.3's source, directory lib/ ("apt-get
# source libidn2" on Debian 12): IdnaMappingTable.txt is UTS #46's table
# for Unicode 14.0.0, idna-tables-properties.csv the IDNA2008 derived
# properties (RFC 5892) libidn2 ships.  The rest comes from the Unicode
# 14.0.0 data of this interpreter (Python 3.11's unicodedata: canonical
# decompositions, combining classes, bidi classes, general categories)
# and of Perl 5.36 (Unicode::UCD: joining types, not in unicodedata):
# the Unicode version of libunistring 1.0, which libidn2 uses for them.
# With a third argument the joining types come from that file (the
# Unicode Character Database's extracted/DerivedJoiningType.txt, of
# Python's Unicode version) instead of Perl.  IDN_FROM names the sources
# in idna.h's opening comment.
#
# Tables are runs over one plane (16-bit starts, a per-plane index), so a
# lookup is a binary search in one plane's runs.  The property tables only
# need to be right for code points that can reach a label check (valid or
# STD3 under UTS #46, mapping results, their decompositions): a label with
# any other code point is refused anyway, so those merge into neighbours.

import os
import subprocess
import sys
import unicodedata as ud

N = 0x110000
# the libidn2 whose data these are: named in idna.h, which tests/idn.sh
# reads to know which idn2 agrees with the tables
LIBIDN2 = os.environ.get("IDN_LIBIDN2", "libidn2 2.3.3")

# UTS #46 kinds (3 bits of idn_map_v)
K_DIS, K_VALID, K_IGN, K_MAPD, K_MAPA, K_MAPS, K_MAPX, K_S3MAPS = range(8)
# bidi classes libidn2's rule tells apart
B_L, B_R, B_AN, B_EN, B_NSM, B_OK, B_BAD = range(7)
# joining types ZWNJ's rule looks at
J_U, J_L, J_D, J_R, J_T = range(5)


def die(msg):
	sys.stderr.write("mktab.py: %s\n" % msg)
	sys.exit(1)


def read_map(path):
	st = [None] * N
	mp = {}
	for line in open(path, encoding="utf-8"):
		line = line.split("#")[0].strip()
		if not line:
			continue
		f = [x.strip() for x in line.split(";")]
		r = f[0].split("..")
		a, b = int(r[0], 16), int(r[-1], 16)
		for c in range(a, b + 1):
			st[c] = f[1]
			if f[1] in ("mapped", "disallowed_STD3_mapped"):
				mp[c] = [int(x, 16) for x in f[2].split()]
	if None in st:
		die("%s does not cover every code point" % path)
	return st, mp


def read_props(path):
	p = ["UNASSIGNED"] * N	# libidn2: not in the table is UNASSIGNED
	for line in open(path, encoding="utf-8"):
		if line.startswith("Codepoint"):
			continue
		f = line.split(",")
		r = f[0].split("-")
		for c in range(int(r[0], 16), int(r[-1], 16) + 1):
			p[c] = f[1]
	return p


def joining_file(path):
	"""DerivedJoiningType.txt: 'start[..end] ; type', the rest U"""
	code = {"U": J_U, "C": J_U, "L": J_L, "D": J_D, "R": J_R, "T": J_T}
	jt = [J_U] * N
	head = open(path, encoding="utf-8").readline()
	if ud.unidata_version not in head:
		die("%s is not Unicode %s: %s" % (path, ud.unidata_version, head.strip()))
	for line in open(path, encoding="utf-8"):
		f = [x.strip() for x in line.split("#")[0].split(";")]
		if len(f) < 2:
			continue
		r = f[0].split("..")
		for c in range(int(r[0], 16), int(r[-1], 16) + 1):
			jt[c] = code[f[1]]
	return jt


def joining_types():
	prog = ('use Unicode::UCD qw(prop_invmap);'
		'print Unicode::UCD::UnicodeVersion(), "\\n";'
		'my ($l, $m) = prop_invmap("Joining_Type");'
		'print "$l->[$_] $m->[$_]\\n" for 0 .. $#$l;')
	out = subprocess.run(["perl", "-e", prog], capture_output=True,
		text=True, check=True).stdout.split("\n")
	if out[0] != ud.unidata_version:
		die("Perl's Unicode %s is not Python's %s" % (out[0], ud.unidata_version))
	code = {"Non_Joining": J_U, "Join_Causing": J_U, "C": J_U,
		"L": J_L, "D": J_D, "R": J_R, "T": J_T,
		"Left_Joining": J_L, "Dual_Joining": J_D, "Right_Joining": J_R,
		"Transparent": J_T}
	jt = [J_U] * N
	rows = [x.split() for x in out[1:] if x]
	for i, (start, v) in enumerate(rows):
		end = int(rows[i + 1][0]) if i + 1 < len(rows) else N
		if v not in code:
			die("unknown joining type %s" % v)
		for c in range(int(start), end):
			jt[c] = code[v]
	return jt


def decomp(c):
	d = ud.decomposition(chr(c))
	if not d or d.startswith("<"):
		return None
	return [int(x, 16) for x in d.split()]


def bidi(c):
	b = ud.bidirectional(chr(c))
	return {"L": B_L, "R": B_R, "AL": B_R, "AN": B_AN, "EN": B_EN,
		"NSM": B_NSM, "ES": B_OK, "CS": B_OK, "ET": B_OK, "ON": B_OK,
		"BN": B_OK}.get(b, B_BAD)


def runs(vals, care):
	"""[(start, value)], a run at every plane start; code points where
	care is false take the value before them"""
	out = []
	for c in range(N):
		if c & 0xFFFF == 0:
			out.append((c, vals(c)))
		elif care(c) and vals(c) != out[-1][1]:
			out.append((c, vals(c)))
	return out


def emit_runs(name, rs, vtype, vfmt, why):
	plane = [0] * 18
	for i, (c, v) in enumerate(rs):
		if c & 0xFFFF == 0:
			plane[c >> 16] = i
	plane[17] = len(rs)
	print("/* %s: %d runs */" % (why, len(rs)))
	emit("static const uint16_t %s_plane[18]" % name, plane, "%d")
	emit("static const uint16_t %s_lo[%d]" % (name, len(rs)),
		[c & 0xFFFF for c, v in rs], "0x%x")
	emit("static const %s %s_v[%d]" % (vtype, name, len(rs)),
		[v for c, v in rs], vfmt)


def emit(decl, vals, fmt):
	print(decl + " = {")
	line = "\t"
	for v in vals:
		s = (fmt % v) + ","
		if len(line) + len(s) > 72:
			print(line.rstrip())
			line = "\t"
		line += s + " "
	print(line.rstrip())
	print("};")


def check_map(mr, kind, tgt, pool):
	"""every code point read back from the runs as idn_status() reads it"""
	i = 0
	for c in range(N):
		while i + 1 < len(mr) and mr[i + 1][0] <= c:
			i += 1
		start, v = mr[i]
		k, a, off = v >> 13, v & 0x1FFF, c - start
		if k == K_MAPA:
			k = K_VALID if off % 2 else K_MAPD
		if k == K_MAPD:
			got = (K_MAPD, [c + a - (a & 0x1000) * 2])
		elif k == K_MAPX:
			got = (K_MAPD, [tgt[a] + off])
		elif k in (K_MAPS, K_S3MAPS):
			u = pool[a + 1:a + 1 + 2 * pool[a]]
			b = b"".join(x.to_bytes(2, "little") for x in u)
			got = (k, [ord(x) for x in b.decode("utf-16-le", "ignore")][:pool[a]])
		else:
			got = (k, [])
		want = kind(c)
		if want[0] in (K_MAPD, K_MAPX):
			want = (K_MAPD, [c + want[1]])
		elif want[0] in (K_MAPS, K_S3MAPS):
			want = (want[0], list(want[1]))
		else:
			want = (want[0], [])
		if got != want:
			die("U+%04X reads back as %r, not %r" % (c, got, want))


def main():
	if len(sys.argv) not in (3, 4):
		die("usage: mktab.py IdnaMappingTable.txt idna-tables-properties.csv "
			"[DerivedJoiningType.txt]")
	st, mp = read_map(sys.argv[1])
	prop = read_props(sys.argv[2])
	jt = joining_file(sys.argv[3]) if len(sys.argv) == 4 else joining_types()

	# what can reach a label check
	reach = set(c for c in range(N) if st[c] in ("valid", "deviation",
		"disallowed_STD3_valid", "disallowed_STD3_mapped"))
	for m in mp.values():
		reach.update(m)
	dec = {}
	for c in range(N):
		d = decomp(c)
		if d and not 0xAC00 <= c <= 0xD7A3:
			dec[c] = d
	more = True
	while more:
		more = False
		for c in list(reach):
			for x in dec.get(c, []):
				if x not in reach:
					reach.add(x)
					more = True
	# primary composites of reachable pairs (and of those)
	comp = set()
	more = True
	while more:
		more = False
		for c, d in dec.items():
			if (c not in comp and len(d) == 2 and
			    ud.normalize("NFC", chr(d[0]) + chr(d[1])) == chr(c) and
			    (d[0] in reach or d[0] in comp) and d[1] in reach):
				comp.add(c)
				more = True

	# UTS #46 statuses and mappings
	deltas = []
	pool = []
	strs = {}

	def delta(d):
		if d not in deltas:
			deltas.append(d)
		return deltas.index(d)

	def string(m):
		key = tuple(m)
		if key not in strs:
			strs[key] = len(pool)
			u = "".join(chr(x) for x in m).encode("utf-16-le")
			pool.append(len(m))
			pool.extend(int.from_bytes(u[i:i + 2], "little")
				for i in range(0, len(u), 2))
		return strs[key]

	def kind(c):
		s = st[c]
		if s in ("valid", "deviation", "disallowed_STD3_valid"):
			return (K_VALID, 0)
		if s == "disallowed":
			return (K_DIS, 0)
		if s == "ignored":
			return (K_IGN, 0)
		m = mp[c]
		if s == "disallowed_STD3_mapped":
			return (K_S3MAPS, tuple(m))
		if len(m) > 1:
			return (K_MAPS, tuple(m))
		if -4096 <= m[0] - c < 4096:
			return (K_MAPD, m[0] - c)
		if m[0] > 0xFFFF:
			return (K_MAPS, tuple(m))
		return (K_MAPX, m[0] - c)

	mruns = []
	c = 0
	while c < N:
		k = kind(c)
		e = c + 1
		if k[0] == K_MAPD and kind(e) == (K_VALID, 0) and kind(e + 1) == k:
			# upper and lower case alternating: even offsets mapped
			while e + 1 < N and kind(e) == (K_VALID, 0) and kind(e + 1) == k \
			    and (e + 1) & 0xFFFF:
				e += 2
			k = (K_MAPA, k[1])
		else:
			while e < N and kind(e) == k and e & 0xFFFF:
				e += 1
		mruns.append((c, k))
		c = e
	vals = []
	for c, (k, a) in mruns:
		if k in (K_MAPD, K_MAPA):
			a &= 0x1FFF	# 13 bits, two's complement
		elif k == K_MAPX:	# the target of the run's start
			a = delta(c + a)
		elif k in (K_MAPS, K_S3MAPS):
			a = string(a)
		if a >= 1 << 13:
			die("index %d over 13 bits" % a)
		vals.append(k << 13 | a)
	# merge equal neighbours (a plane start keeps its run); not MAPA or
	# MAPX, whose meaning depends on where the run starts
	mr = []
	for (c, k), v in zip(mruns, vals):
		if mr and mr[-1][1] == v and c & 0xFFFF and k[0] not in (K_MAPA, K_MAPX):
			continue
		mr.append((c, v))

	check_map(mr, kind, deltas, pool)

	# IDNA2008 property, bidi, joining type, general category M
	with_rule = set([0xB7, 0x375, 0x5F3, 0x5F4, 0x30FB] +
		list(range(0x660, 0x66A)) + list(range(0x6F0, 0x6FA)))
	for c in reach:
		if prop[c] == "CONTEXTO" and c not in with_rule:
			die("CONTEXTO U+%04X has no rule in libidn2" % c)
		if prop[c] == "CONTEXTJ" and c not in (0x200C, 0x200D):
			die("CONTEXTJ U+%04X is not ZWJ or ZWNJ" % c)

	def pv(c):
		bad = (prop[c] == "UNASSIGNED" or (prop[c] == "DISALLOWED" and
			st[c] not in ("disallowed_STD3_valid", "disallowed_STD3_mapped")))
		m = ud.category(chr(c))[0] == "M"
		return bidi(c) | jt[c] << 3 | m << 6 | bad << 7
	pr = runs(pv, lambda c: c in reach or c in comp)
	cr = runs(lambda c: ud.combining(chr(c)),
		lambda c: c in reach or c in comp)

	# canonical decompositions, one level; bit 63: composes back
	de = []
	for c in sorted(dec):
		if c not in reach and c not in comp:
			continue
		d = dec[c] + [0]
		if max(d) >= 1 << 21:
			die("U+%04X" % c)
		de.append((c in comp) << 63 | c << 42 | d[0] << 21 | d[1])
	second = sorted(set(dec[c][1] for c in comp))

	print("/* idna.h - Unicode tables of idn_ascii() (RFC 8616 4): UTS #46 %s,"
		% ud.unidata_version)
	print(" * non-transitional, as %s applies it.  Generated by" % LIBIDN2)
	print(" * tests/idn/mktab.py from %s," % os.environ.get("IDN_FROM",
		"libidn2 2.3.3's lib/IdnaMappingTable.txt and\n"
		" * lib/idna-tables-properties.csv"))
	print(" * Python %s's unicodedata and %s (joining types), Unicode %s."
		% (".".join(map(str, sys.version_info[:2])), "DerivedJoiningType.txt"
		if len(sys.argv) == 4 else "Perl's Unicode::UCD", ud.unidata_version))
	print(" * Do not edit: see tests/idn/mktab.py.")
	print(" */")
	print()
	print("/* the libidn2 whose conversion these tables give (fuzz_idn, tests/idn.sh) */")
	print('#define IDN_TABLES_LIBIDN2\t"%s"' % LIBIDN2.split()[-1])
	print()
	print("/* idn_map_v: kind << 13 | argument: MAPD and MAPA a 13-bit signed delta,")
	print(" * MAPX an index in idn_tgt, MAPS and S3MAPS (STD3) one in idn_str */")
	for i, n in enumerate(["DIS", "VALID", "IGN", "MAPD", "MAPA", "MAPS",
			"MAPX", "S3MAPS"]):
		print("#define IDN_%s\t%d" % (n, i))
	print("/* idn_prop_v: bidi class (low 3 bits), joining type (3 bits), M, IDNA2008 refuses */")
	for i, n in enumerate(["L", "R", "AN", "EN", "NSM", "OK", "BAD"]):
		print("#define IDN_B%s\t%d" % (n, i))
	for i, n in enumerate(["U", "L", "D", "R", "T"]):
		print("#define IDN_J%s\t%d" % (n, i))
	print("#define IDN_M\t0x40")
	print("#define IDN_BAD2008\t0x80")
	print()
	emit_runs("idn_map", mr, "uint16_t", "0x%x",
		"UTS #46 status; mappings by delta (MAPA: every other code point) or string")
	print("/* MAPX: the target (BMP) of the run's first code point */")
	emit("static const uint16_t idn_tgt[%d]" % len(deltas), deltas, "0x%x")
	print("/* mapping strings: a count of code points, then UTF-16 */")
	emit("static const uint16_t idn_str[%d]" % len(pool), pool, "0x%x")
	emit_runs("idn_prop", pr, "uint8_t", "0x%x",
		"bidi class, joining type, mark, IDNA2008 DISALLOWED/UNASSIGNED")
	emit_runs("idn_ccc", cr, "uint8_t", "%d", "canonical combining class")
	print("/* canonical decompositions (not Hangul) by code point:"
		" 1 << 63 if it composes back | cp << 42 | first << 21 | second */")
	emit("static const uint64_t idn_dec[%d]" % len(de), de, "0x%xULL")
	print("/* code points that are the second of a composition */")
	emit("static const uint32_t idn_second[%d]" % len(second), second, "0x%x")
	sys.stderr.write("map %d runs, %d targets, %d string units; prop %d, ccc %d runs; "
		"%d decompositions, %d seconds\n" % (len(mr), len(deltas), len(pool),
		len(pr), len(cr), len(de), len(second)))


main()
