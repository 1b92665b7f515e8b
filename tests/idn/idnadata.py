#!/usr/bin/python3
# See LICENSE file for copyright and license details.
#
# idnadata.py - the two inputs of mktab.py, written from the data of
# Python's idna module (Debian: python3-idna), for a Unicode version
# whose libidn2 source is not at hand (Debian 13's 2.3.8, Unicode 15.1):
#
#	python3 tests/idn/idnadata.py DIR
#
# writes DIR/IdnaMappingTable.txt (UTS #46, from idna.uts46data) and
# DIR/idna-tables-properties.csv (the IDNA2008 derived property of RFC
# 5892, from idna.idnadata: PVALID, CONTEXTJ and CONTEXTO listed, the
# rest UNASSIGNED when unassigned and not a noncharacter, else
# DISALLOWED).  Only the fields mktab.py reads are written.  The idna
# module's Unicode version must be this interpreter's (unicodedata), as
# mktab.py takes the rest from there.  Checked: from idna 3.3 (Unicode
# 14.0, Debian 12) the UTS #46 tables of idna.h come out as from libidn2
# 2.3.3's own files; the IDNA2008 properties differ where 2.3.3's file,
# older than Unicode 14, has the newer code points UNASSIGNED (libidn2
# 2.3.8 has them derived: the newest letters are taken, tests/idn.sh).

import bisect
import os
import sys
import unicodedata as ud

import idna.idnadata as idnadata
import idna.uts46data as uts46data

N = 0x110000
STATUS = {"V": "valid", "M": "mapped", "D": "deviation", "I": "ignored",
	"X": "disallowed"}


def die(msg):
	sys.stderr.write("idnadata.py: %s\n" % msg)
	sys.exit(1)


def hexes(s):
	return " ".join("%04X" % ord(c) for c in s)


def mapping_table(f):
	rows = uts46data.uts46data
	for i, row in enumerate(rows):
		start, st = row[0], row[1]
		end = rows[i + 1][0] - 1 if i + 1 < len(rows) else N - 1
		m = row[2] if len(row) > 2 else None
		if st == "3":
			st = "disallowed_STD3_mapped" if m is not None else "disallowed_STD3_valid"
		elif st in STATUS:
			st = STATUS[st]
		else:
			die("U+%04X: unknown status %r" % (start, st))
		rng = "%04X" % start if start == end else "%04X..%04X" % (start, end)
		if st in ("mapped", "disallowed_STD3_mapped", "deviation") and m is not None:
			f.write("%s ; %s ; %s\n" % (rng, st, hexes(m)))
		else:
			f.write("%s ; %s\n" % (rng, st))


# the listed classes: (start, end + 1, class), sorted
LISTED = sorted((r >> 32, r & 0xFFFFFFFF, cls) for cls in ("PVALID", "CONTEXTJ",
	"CONTEXTO") for r in idnadata.codepoint_classes[cls])


def derived(c):
	i = bisect.bisect_right(LISTED, (c, N + 1)) - 1
	if i >= 0 and LISTED[i][0] <= c < LISTED[i][1]:
		return LISTED[i][2]
	nonchar = 0xFDD0 <= c <= 0xFDEF or c & 0xFFFE == 0xFFFE
	if ud.category(chr(c)) == "Cn" and not nonchar:
		return "UNASSIGNED"
	return "DISALLOWED"


def properties(f):
	f.write("Codepoint,Property,Status\n")
	start, prev = 0, derived(0)
	for c in range(1, N + 1):
		p = derived(c) if c < N else None
		if p != prev:
			rng = "%04X" % start if start == c - 1 else "%04X-%04X" % (start, c - 1)
			f.write("%s,%s,\n" % (rng, prev))
			start, prev = c, p


def main():
	if len(sys.argv) != 2:
		die("usage: idnadata.py DIR")
	for mod in (uts46data, idnadata):
		if mod.__version__ != ud.unidata_version:
			die("%s is Unicode %s, this Python's unicodedata %s"
				% (mod.__name__, mod.__version__, ud.unidata_version))
	with open(os.path.join(sys.argv[1], "IdnaMappingTable.txt"), "w") as f:
		f.write("# UTS #46 %s, from Python's idna module\n" % uts46data.__version__)
		mapping_table(f)
	with open(os.path.join(sys.argv[1], "idna-tables-properties.csv"), "w") as f:
		properties(f)


if __name__ == "__main__":
	main()
