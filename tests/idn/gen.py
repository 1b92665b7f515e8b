#!/usr/bin/python3
# See LICENSE file for copyright and license details.
#
# gen.py - the domain names tests/idn.sh converts with spfpolicy and with
# idn2(1), one a line, UTF-8, the same on every run (a fixed seed).
#
# First the hand-picked cases (each a rule of IDNA2008 / UTS #46 that a
# conversion can get wrong), then random names built from pools of
# characters per script with the edits that make names invalid or change
# their A-label: upper case, combining marks first, hyphens in 3rd and 4th
# position, symbols, joiners, over-long labels, xn-- labels, empty labels
# and final dots, decomposed forms and marks out of order (NFC), Hangul
# jamo, upper case Greek and Cyrillic, other full stops; and a few byte
# strings that are not UTF-8.  Every name but the few ASCII controls has a non-ASCII
# character: spfpolicy passes ASCII names on as they are (no case folding,
# no check), idn2 folds and checks them.  No name has a space, a tab or a
# line end; none is empty.
#
# Usage: gen.py [COUNT]	(default 1500 names in all)

import random
import sys
import unicodedata

ZWNJ, ZWJ = "\u200c", "\u200d"

# ß, ς, ZWJ and ZWNJ are where the transitional and the non-transitional
# conversions differ (UTS #46 deviations): the names with them catch a
# conversion that uses the wrong one
HAND = [
	# controls: ASCII, compared ignoring case
	"example.com", "EXAMPLE.Org", "_spf.example.net", "mail-1.example.",
	"a.b.c.d.e.f.example", "xn--bcher-kva.example",
	# RFC 8616 issue 11's case and its relatives
	"bücher.example", "BÜCHER.example", "Bücher.Example.", "bücher.example.",
	"_spf.bücher.example", "mx.bücher.example", "bücher.xn--bcher-kva.example",
	"bücher.XN--BCHER-KVA.example",
	# deviations
	"straße.de", "STRASSE.de", "Straße.de", "faß.de", "ß.example",
	"βόλος.gr", "ΒΌΛΟΣ.gr", "ς.example", "σς.example", "αβγς.example",
	"क्\u200dष.example", "क्\u200cष.example", "a\u200db.example",
	"\u200dbücher.example", "bücher\u200c.example",
	"نامه\u200cای.example", "ن\u200cا.example", "ا\u200cا.example",
	"ශ්\u200dර.example", "ශ්\u200cර.example", "ü\u200d.example",
	# mapped by UTS #46: full width, ligatures, compatibility, dots
	"ｂüｃｈｅｒ.example", "ﬁnanz.bücher.example", "ſchön.de",
	"bücher。example", "bücher．example", "bücher｡example",
	"ǅemal.example", "ⅷ.bücher.example", "x²ü.example",
	"bu\u0308cher.example", "ü\u00adber.example", "ü\ufe0f.example",
	"\u00adü.example",
	# disallowed or unassigned
	"☃.example", "i❤ü.example", "😀.example", "ü\u200b.example",
	"ü\u2028.example", "ü\ufffd.example", "ü\U000e0001.example",
	"ü\U0010ffff.example", "ü\U000f0000.example", "ü/x.example",
	"ü_x.example", "ü%x.example", "ü@x.example", "ü*.example",
	# CONTEXTO: middle dot, keraia, geresh, katakana middle dot, digits
	"l·l.bücher.example", "a·l.bücher.example", "·l.bücher.example",
	"͵α.example", "α͵.example", "͵a.bücher.example",
	"א׳.example", "׳א.example", "a׳.bücher.example",
	"カ・カ.example", "a・b.bücher.example", "漢・字.example",
	"١٢٣.example", "۱۲۳.example", "١۲.example", "ب١٢.example",
	# leading combining marks, hyphens
	"\u0301a.example", "\u0308ü.example", "ü\u0301.example",
	"-ü.example", "ü-.example", "ü--x.example", "üx--y.example",
	"ab--ü.example", "xn--ü.example", "XN--ü.example",
	# empty labels, dots
	"ü..example", ".ü.example", "ü.example..", "..ü", "ü.", "ü",
	# A-labels, good and bad, beside a U-label
	"xn--mnchen-3ya.ü.example", "xn--mnchen-3ya.ü", "xn--abc.ü",
	"xn--.ü", "xn--a.ü", "xn--zz-.ü", "xn--bcher-kva-.ü", "xn--ls8h.ü",
	"xn--strae-oqa.ü", "xn--Bcher-kva.ü", "xn--bcher-kv.ü", "xn--99999999.ü",
	"xn--55qx5d.ü", "xn--ab-.ü", "xn--a-ecp.ü", "xn--rksmrgs-5wao1o.ü",
	# bidi: right to left labels, mixed with left to right ones
	"עברית.example", "עברית1.example", "1עברית.example",
	"עברית.ü", "עבריתa.example", "مثال.إختبار", "مثال1.example",
	"مثال١.example", "a.مثال.ü", "abc.עברית.ü", "١a.example",
	# NFC: decomposed input, marks out of canonical order, ignored code
	# points between a base and its mark, Hangul jamo, two-part vowels
	"e\u0301cole.example", "E\u0301COLE.example", "a\u030a.example",
	"e\u0323\u0302.example", "e\u0302\u0323.example",
	"\u1ec7.example", "\u00ea\u0323.example", "e\u00ad\u0301.example",
	"\u03b1\u0313\u0300\u0345.example", "\u1f82.example",
	"\u1100\u1161.example", "\u1100\u1161\u11a8.example",
	"\uac00\u11a8.example", "\u1112\u1161\u11ab\u1100\u116e\u11a8.example",
	"\u110b\u1175\u11af\u11a8.example", "\u11a8\uac00.example",
	"\u0bc6\u0bbe.example", "\u0bca.example", "\u0b47\u0b3e.example",
	"\u0915\u093c.example", "\u0958.example", "\u212b.example",
	"\u2126mega.example", "\u0344.example", "a\u0344.example",
	"\u0130stanbul.example", "\u1e9e.example", "\u1e9b\u0323.example",
	# upper case Greek and Cyrillic, final sigma
	"\u0391\u0398\u0397\u039d\u0391.gr", "\u039f\u0394\u039f\u03a3.gr",
	"\u041c\u041e\u0421\u041a\u0412\u0410.\u0440\u0444",
	"\u0421\u0410\u0419\u0422.\u0420\u0424", "\u0401\u0416.example",
	# other dots: ideographic, full width, halfwidth, at the end, twice
	"\u4f8b\u3002\u4e2d\u56fd", "\u4f8b\uff0e\u4e2d\u56fd\uff0e",
	"\u4f8b\uff61xn--fiqs8s", "b\u00fccher\u3002\u3002example",
	"\u3002b\u00fccher.example",
	# deviations in other places: upper case, an A-label, joiners
	"STRA\u00dfE.example", "xn--zca.\u00fc", "xn--0ca.\u00fc",
	"\u03c3\u03c2\u03a3.example", "\u0645\u200c\u0627.example",
	"\u0628\u064b\u200c\u064b\u0628.example", "\u0915\u094d\u200c.example",
]

# not UTF-8: a stray byte, a cut sequence, an overlong form, a surrogate,
# past U+10FFFF
BYTES = [b"\xff.example", b"b\xc3.example", b"\xc0\xaf.example",
	b"\xed\xa0\x80.example", b"\xf4\x90\x80\x80.example",
	b"b\xc3\xbc\x80.example"]

POOLS = {
	"latin": "abcdefghijklmnopqrstuvwxyz0123456789àáâãäåæçèéêëìíîïñò"
		 "óôõöøùúûüýÿœłđħŧŋğşıčšžřůőűāēīōū",
	"greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰ",
	"cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўђћџ",
	"cjk": "中文网络日本語漢字東京大阪北京上海台灣香港"
	       "あいうえおかきくけこさしすせそ"
	       "アイウエオカキクケコサシスセソー"
	       "한국어서울부산",
	"arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىءأإآ٠١٢٣٤",
	"hebrew": "אבגדהוזחטיכלמנסעפצקרשתךםןףץ",
	"devanagari": "कखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसहािीुूेैोौंः्०१२",
	"thai": "กขคงจฉชซญดตถทธนบปผพฟภมยรลวศษสหอฮะัาำิีึืุู่้๊๋",
	"jamo": "\u1100\u1102\u1103\u1105\u1106\u1107\u1109\u110b"
		"\u1161\u1165\u1169\u116e\u1173\u1175\u11a8\u11ab\u11af\u11b7",
	"upper": "ΑΒΓΔΣΩΆΈЖЗИЙКЛМНОПЁÄÖÜÇ",
	"misc": "ßς·͵׳・ｂＡ０ﬁſⅷ²。\u00ad\u0301\u0308\u05b4\u200c\u200d"
		"☃❤★♥€©®™→∞😀🎉",
}
SCRIPTS = [s for s in POOLS if s != "misc"]
TLDS = ["example", "com", "de", "xn--p1ai", "рф", "中国", "ελ", "ü", "org."]


def label(r):
	"""a label mostly of one script, now and then with an odd character"""
	pool = POOLS[r.choice(SCRIPTS)]
	n = r.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 16])
	s = "".join(r.choice(pool) for _ in range(n))
	if r.random() < 0.25:
		i = r.randrange(len(s) + 1)
		s = s[:i] + r.choice(POOLS["misc"]) + s[i:]
	if r.random() < 0.1:
		s = s + r.choice("abc-1")
	return s


def edit(r, s):
	"""one of the edits that make a label invalid or change its form"""
	k = r.randrange(14)
	if k == 0:
		return s.upper()
	if k == 1:
		return s.title()
	if k == 2:
		return r.choice("\u0301\u0308\u0327\u05b4\u093f") + s
	if k == 3:
		return (s + "abcd")[:2] + "--" + s
	if k == 4:
		return r.choice(["-" + s, s + "-"])
	if k == 5:
		return s * (64 // max(len(s.encode()), 1) + 1)	# over 63 octets
	if k == 6:
		return "xn--" + s.encode("punycode").decode()	# valid or not
	if k == 7:
		return s + r.choice([ZWJ, ZWNJ]) + s
	if k == 8:
		return s + r.choice("😀☃❤★")
	if k == 9:
		return s.replace(s[0], "ß", 1)
	if k == 10:
		return s + "ς"
	if k == 11:	# decomposed: NFC must put it back
		return unicodedata.normalize("NFD", s)
	if k == 12:	# two marks, in or out of canonical order
		return s + r.choice(["\u0323\u0301", "\u0301\u0323",
			"\u0308\u0304", "\u05b4\u05b8"])
	return s


def name(r):
	labels = [label(r) for _ in range(r.choice([1, 1, 2, 2, 3]))]
	if r.random() < 0.5:
		i = r.randrange(len(labels))
		labels[i] = edit(r, labels[i])
	if r.random() < 0.05:
		labels.insert(r.randrange(len(labels) + 1), "")	# empty label
	if r.random() < 0.05:
		labels.insert(0, "xn--" + r.choice(["bcher-kva", "abc", "zz-",
			"mnchen-3ya", "Bcher-kva", "a"]))
	n = ".".join(labels + [r.choice(TLDS)])
	if r.random() < 0.1:
		n += "."
	return n


def lengths():
	"""names at the limits: an A-label of 62 to 64 octets, a name of
	252 to 255 in A-label form, with and without a final dot"""
	out = []
	for k in range(40, 70):
		u = "ü" + "a" * k
		if 62 <= len("xn--" + u.encode("punycode").decode()) <= 64:
			out += [u + ".example", "x." + u]
	for n in range(250, 257):
		a = "a" * 63
		tail = "ü.example"	# xn--tda.example: 15 octets
		pad = n - 15 - 3 * 64	# three labels of 63 with their dots
		name = ".".join([a, a, a, "b" * (pad - 1), tail]) \
		    if pad > 1 else None
		if name:
			out += [name, name + "."]
	return out


def main():
	count = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
	r = random.Random(8616)
	seen = set()
	out = []
	for n in HAND + lengths():
		if n not in seen:
			seen.add(n)
			out.append(n)
	while len(out) < count:
		n = name(r)
		# no whitespace (U+2028 only by hand), a non-ASCII character
		if n in seen or any(c.isspace() and c != "\u2028" for c in n) \
		    or n.isascii():
			continue
		seen.add(n)
		out.append(n)
	out[len(HAND):len(HAND)] = [b.decode("utf-8", "surrogateescape")
	    for b in BYTES]
	sys.stdout.buffer.write("".join(n + "\n" for n in out[:count])
	    .encode("utf-8", "surrogateescape"))


main()
