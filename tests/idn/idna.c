/* See LICENSE file for copyright and license details.
 *
 * idna.c - internationalized domain names to A-labels (RFC 8616 4), the
 * "idn" section of spfpolicy.c to be: it is included after spfpolicy.c
 * by tests/idn/idn.c and tests/fuzz/fuzz_idn.c until it moves there.
 *
 * idn_ascii() does what libidn2 2.3.3's idn2_lookup_u8() does with
 * IDN2_NONTRANSITIONAL (Debian 12's idn2(1)): UTS #46 mapping (deviations
 * kept, STD3 rules off), NFC, then per label the UTS #46 checks and, for
 * a label that is not ASCII, IDNA2008's (RFC 5891 5.4: DISALLOWED and
 * UNASSIGNED code points, CONTEXTJ, the existence of a CONTEXTO rule,
 * the bidi rule of RFC 5893 2 alone), Punycode, and libidn2's limits.
 * Whatever fails makes the whole name invalid: where libidn2 would stop
 * first does not matter.  The tables are idna.h (tests/idn/mktab.py).
 *
 * Once spfpolicy.c has these functions (and so IDN_CP_MAX), including
 * this file after it adds nothing: the harnesses build either way.
 */
#ifndef IDN_CP_MAX
#include <stdint.h>
#include "../../idna.h"

#define IDN_CP_MAX	255	/* code points after mapping: libidn2 refuses 255 */
#define IDN_NFD_MAX	(IDN_CP_MAX * 4)	/* a decomposition is 4 at most */
#define IDN_LABEL_MAX	63	/* octets of a label, code points decoded */
#define IDN_PUNY_MAX	(IDN_LABEL_MAX - 4)	/* Punycode after "xn--" */

/* the run of a plane-split table (idna.h) that holds c */
static size_t
idn_run(const uint16_t *plane, const uint16_t *lo, uint32_t c)
{
	size_t a = plane[c >> 16], b = plane[(c >> 16) + 1], m;

	while (b - a > 1) {
		m = a + (b - a) / 2;
		if (lo[m] <= (c & 0xFFFF))
			a = m;
		else
			b = m;
	}
	return a;
}

static unsigned
idn_prop(uint32_t c)
{
	return idn_prop_v[idn_run(idn_prop_plane, idn_prop_lo, c)];
}

static unsigned
idn_ccc(uint32_t c)
{
	return idn_ccc_v[idn_run(idn_ccc_plane, idn_ccc_lo, c)];
}

/*
 * UTS #46 status of c: IDN_DIS, IDN_VALID, IDN_IGN, IDN_MAPD (mapped to
 * the one code point *arg), IDN_MAPS or IDN_S3MAPS (to the string at
 * idn_str[*arg]).  Every other code point of a MAPA run is valid.
 */
static unsigned
idn_status(uint32_t c, uint32_t *arg)
{
	size_t i = idn_run(idn_map_plane, idn_map_lo, c);
	unsigned k = idn_map_v[i] >> 13, off = (c & 0xFFFF) - idn_map_lo[i];

	*arg = idn_map_v[i] & 0x1FFF;
	switch (k) {
	case IDN_MAPA:
		if (off % 2)
			return IDN_VALID;
		/* fall through */
	case IDN_MAPD:	/* a delta of 13 bits, two's complement */
		*arg = (c + *arg - (*arg & 0x1000) * 2) & 0x1FFFFF;
		return IDN_MAPD;
	case IDN_MAPX:
		*arg = idn_tgt[*arg] + off;
		return IDN_MAPD;
	}
	return k;
}

/*
 * Next code point of the UTF-8 at *s into *c, or -1: libunistring's
 * u8_to_u32 refuses overlong forms, surrogates, over U+10FFFF and
 * truncated sequences.  *s never moves past a NUL.
 */
static int
idn_utf8(const unsigned char **s, uint32_t *c)
{
	const unsigned char *p = *s;
	uint32_t min;
	int n, i;

	if (p[0] < 0x80) {
		*c = *p++;
		*s = p;
		return 0;
	} else if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		n = 1, *c = p[0] & 0x1F, min = 0x80;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		n = 2, *c = p[0] & 0x0F, min = 0x800;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 3, *c = p[0] & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80)	/* a NUL stops here too */
			return -1;
		*c = *c << 6 | (p[i] & 0x3F);
	}
	if (*c < min || *c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF))
		return -1;
	*s = p + n + 1;
	return 0;
}

/* Append the mapping string at idn_str[off] to u (*n code points of
 * IDN_CP_MAX); -1 when it does not fit */
static int
idn_map_str(uint32_t off, uint32_t *u, size_t *n)
{
	const uint16_t *p = idn_str + off + 1;
	unsigned k;

	for (k = idn_str[off]; k > 0; k--) {
		if (*n >= IDN_CP_MAX - 1)
			return -1;
		if (*p >= 0xD800 && *p <= 0xDBFF) {
			u[(*n)++] = 0x10000 + ((uint32_t)(p[0] - 0xD800) << 10) +
			    (p[1] - 0xDC00);
			p += 2;
		} else {
			u[(*n)++] = *p++;
		}
	}
	return 0;
}

/*
 * UTS #46 4 step 1 on the whole name: decode, map (deviations and STD3
 * code points kept), into u; -1 on bad UTF-8, a disallowed code point,
 * or IDN_CP_MAX code points or more (libidn2's limit before NFC).
 */
static int
idn_map(const char *name, uint32_t *u, size_t *n)
{
	const unsigned char *s = (const unsigned char *)name;
	uint32_t c, arg;

	*n = 0;
	while (*s) {
		if (idn_utf8(&s, &c) < 0)
			return -1;
		switch (idn_status(c, &arg)) {
		case IDN_DIS:
			return -1;
		case IDN_IGN:
			continue;
		case IDN_MAPD:
			c = arg;
			break;
		case IDN_MAPS:
		case IDN_S3MAPS:
			if (idn_map_str(arg, u, n) < 0)
				return -1;
			continue;
		}
		if (*n >= IDN_CP_MAX - 1)
			return -1;
		u[(*n)++] = c;
	}
	return 0;
}

/* the canonical decomposition of c (not Hangul): its idn_dec entry, or 0 */
static uint64_t
idn_decomp(uint32_t c)
{
	size_t a = 0, b = sizeof(idn_dec) / sizeof(idn_dec[0]), m;
	uint32_t x;

	while (a < b) {
		m = a + (b - a) / 2;
		x = (uint32_t)(idn_dec[m] >> 42) & 0x1FFFFF;
		if (x == c)
			return idn_dec[m];
		if (x < c)
			a = m + 1;
		else
			b = m;
	}
	return 0;
}

/* The primary composite of a and b, or 0; Hangul by arithmetic */
static uint32_t
idn_compose(uint32_t a, uint32_t b)
{
	size_t i, lo = 0, hi = sizeof(idn_second) / sizeof(idn_second[0]);

	if (a >= 0x1100 && a < 0x1113 && b >= 0x1161 && b < 0x1176)
		return 0xAC00 + ((a - 0x1100) * 21 + b - 0x1161) * 28;
	if (a >= 0xAC00 && a < 0xD7A4 && (a - 0xAC00) % 28 == 0 &&
	    b > 0x11A7 && b < 0x11C3)
		return a + b - 0x11A7;
	while (lo < hi && idn_second[lo + (hi - lo) / 2] != b) {
		if (idn_second[lo + (hi - lo) / 2] < b)
			lo = lo + (hi - lo) / 2 + 1;
		else
			hi = lo + (hi - lo) / 2;
	}
	if (lo >= hi)	/* b never composes: most code points */
		return 0;
	for (i = 0; i < sizeof(idn_dec) / sizeof(idn_dec[0]); i++)
		if (idn_dec[i] >> 63 && ((idn_dec[i] >> 21) & 0x1FFFFF) == a &&
		    (idn_dec[i] & 0x1FFFFF) == b)
			return (uint32_t)(idn_dec[i] >> 42) & 0x1FFFFF;
	return 0;
}

/* Full canonical decomposition of c appended to d (*n of max); -1 if
 * it does not fit.  A small stack instead of recursion: 4 deep at most. */
static int
idn_decompose(uint32_t c, uint32_t *d, size_t *n, size_t max)
{
	uint32_t st[8];
	size_t sp = 0;
	uint64_t e;

	st[sp++] = c;
	while (sp > 0) {
		c = st[--sp];
		if ((e = idn_decomp(c)) != 0) {
			if (sp + 2 > sizeof(st) / sizeof(st[0]))
				return -1;	/* not in Unicode 14 */
			if (e & 0x1FFFFF)
				st[sp++] = (uint32_t)e & 0x1FFFFF;
			st[sp++] = (uint32_t)(e >> 21) & 0x1FFFFF;
			continue;
		}
		if (*n >= max)
			return -1;
		d[(*n)++] = c;
	}
	return 0;
}

/*
 * NFC of u (n code points) into d (max code points), its length in *m:
 * decompose (Hangul syllables stay: composition gives them back), order
 * each run of marks by combining class (stable), compose (UAX #15's
 * algorithm).  -1 when it does not fit.
 */
static int
idn_nfc(const uint32_t *u, size_t n, uint32_t *d, size_t max, size_t *m)
{
	size_t i, j, st;
	unsigned last, cc;
	uint32_t c, x;

	for (i = 0, *m = 0; i < n; i++)
		if (idn_decompose(u[i], d, m, max) < 0)
			return -1;
	for (i = 1; i < *m; i++) {	/* insertion sort: stable, runs are short */
		cc = idn_ccc(c = d[i]);
		for (j = i; cc && j > 0 && idn_ccc(d[j - 1]) > cc; j--)
			d[j] = d[j - 1];
		d[j] = c;
	}
	if (*m == 0)
		return 0;
	st = 0;		/* the last starter; none yet if d[0] is a mark */
	last = idn_ccc(d[0]) ? 256 : 0;
	for (i = j = 1; i < *m; i++) {
		cc = idn_ccc(c = d[i]);
		if ((last < cc || last == 0) && (x = idn_compose(d[st], c))) {
			d[st] = x;
			continue;
		}
		if (cc == 0)
			st = j;
		last = cc;
		d[j++] = c;
	}
	*m = j;
	return 0;
}

/* RFC 3492 6.1, libidn2's arithmetic */
static uint32_t
idn_adapt(uint32_t delta, uint32_t npoints, int first)
{
	uint32_t k = 0;

	delta = first ? delta / 700 : delta >> 1;
	delta += delta / npoints;
	for (; delta > 455; k += 36)	/* ((base - tmin) * tmax) / 2 */
		delta /= 35;
	return k + 36 * delta / (delta + 38);
}

/* RFC 3492 threshold of digit position k */
static uint32_t
idn_t(uint32_t k, uint32_t bias)
{
	return k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
}

/* libidn2's basic code points: it takes '_' too (as digit 0) */
static int
idn_basic(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint32_t
idn_digit(uint32_t c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '0' && c <= '9')
		return c - '0' + 26;
	return 0;
}

/*
 * Punycode (RFC 3492 6.2) of in (len code points, after "xn--") into out
 * (IDN_LABEL_MAX code points), its length in *n; -1 where libidn2's
 * decoder fails: empty, not basic, a delimiter first or last, overflow,
 * over U+10FFFF or a high surrogate, more than IDN_LABEL_MAX.
 */
static int
idn_puny_decode(const uint32_t *in, size_t len, uint32_t *out, size_t *n)
{
	uint32_t c = 0x80, i = 0, bias = 72, oldi, w, k, dg, t, o1;
	size_t b = 0, j, o = 0, p;

	if (len == 0)
		return -1;
	for (j = 0; j < len; j++) {
		if (!idn_basic(in[j]))
			return -1;
		if (in[j] == '-')
			b = j;
	}
	if (in[b] == '-') {
		if (b == 0 || b == len - 1 || b >= IDN_LABEL_MAX)
			return -1;
		for (o = 0; o < b; o++)
			out[o] = in[o];
		b++;
	}
	for (p = b; p < len; o++) {
		for (oldi = i, w = 1, k = 36;; k += 36) {
			if (p >= len)
				return -1;
			dg = idn_digit(in[p++]);
			if (dg > (UINT32_MAX - i) / w)
				return -1;
			i += dg * w;
			if (dg < (t = idn_t(k, bias)))
				break;
			if (w > UINT32_MAX / (36 - t))
				return -1;
			w *= 36 - t;
		}
		o1 = (uint32_t)o + 1;	/* o < IDN_LABEL_MAX */
		bias = idn_adapt(i - oldi, o1, oldi == 0);
		if (i / o1 > UINT32_MAX - c)
			return -1;
		c += i / o1;
		if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDBFF))
			return -1;
		i %= o1;
		if (o >= IDN_LABEL_MAX)
			return -1;
		memmove(out + i + 1, out + i, (o - i) * sizeof(*out));
		out[i++] = c;
	}
	*n = o;
	return 0;
}

static char
idn_digit_char(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + d - 26);
}

/* one generalized variable-length integer q (RFC 3492 3.3) at out + *o */
static int
idn_puny_int(uint32_t q, uint32_t bias, char *out, size_t *o)
{
	uint32_t k, t;

	for (k = 36;; k += 36) {
		if (*o >= IDN_PUNY_MAX)
			return -1;
		if (q < (t = idn_t(k, bias)))
			break;
		out[(*o)++] = idn_digit_char(t + (q - t) % (36 - t));
		q = (q - t) / (36 - t);
	}
	out[(*o)++] = idn_digit_char(q);
	return 0;
}

/*
 * Punycode (RFC 3492 6.3) of in (len code points) into out, at most
 * IDN_PUNY_MAX characters (the A-label's 63 less "xn--"), its length in
 * *n; -1 when longer, or on overflow.
 */
static int
idn_puny_encode(const uint32_t *in, size_t len, char *out, size_t *n)
{
	uint32_t c = 0x80, delta = 0, h, b, bias = 72, m;
	size_t j, o = 0;

	for (j = 0; j < len; j++) {
		if (in[j] < 0x80) {
			if (IDN_PUNY_MAX - o < 2)
				return -1;
			out[o++] = (char)in[j];
		}
	}
	h = b = (uint32_t)o;
	if (b > 0)
		out[o++] = '-';
	while (h < len) {
		for (m = UINT32_MAX, j = 0; j < len; j++)
			if (in[j] >= c && in[j] < m)
				m = in[j];
		if (m - c > (UINT32_MAX - delta) / (h + 1))
			return -1;
		delta += (m - c) * (h + 1);
		c = m;
		for (j = 0; j < len; j++) {
			if (in[j] < c && ++delta == 0)
				return -1;
			if (in[j] != c)
				continue;
			if (idn_puny_int(delta, bias, out, &o) < 0)
				return -1;
			bias = idn_adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++, c++;
	}
	*n = o;
	return 0;
}

/*
 * UTS #46 4.1 as libidn2 checks every label (NFC is the caller's): no
 * "--" in 3rd and 4th position, no hyphen first or last, no mark first,
 * no dot, and each code point valid, a deviation, or STD3 (valid or
 * mapped: libidn2 lets both through with STD3 rules off).
 */
static int
idn_tr46_label(const uint32_t *u, size_t n)
{
	size_t i;
	uint32_t arg;
	unsigned k;

	if (n >= 4 && u[2] == '-' && u[3] == '-')
		return -1;
	if (n > 0 && (u[0] == '-' || u[n - 1] == '-' || idn_prop(u[0]) & IDN_M))
		return -1;
	for (i = 0; i < n; i++) {
		k = idn_status(u[i], &arg);
		if (u[i] == '.' || (k != IDN_VALID && k != IDN_S3MAPS))
			return -1;
	}
	return 0;
}

static unsigned
idn_jt(uint32_t c)
{
	return idn_prop(c) >> 3 & 7;
}

/*
 * RFC 5892 A.1 and A.2 for the ZWNJ or ZWJ at u[i], as libidn2 has them:
 * after a virama; ZWNJ also between (L|D) T* and T* (R|D).
 */
static int
idn_contextj(const uint32_t *u, size_t n, size_t i)
{
	size_t j;

	if (i > 0 && idn_ccc(u[i - 1]) == 9)
		return 0;
	if (u[i] == 0x200D || i == 0 || i == n - 1)
		return -1;
	for (j = i - 1; idn_jt(u[j]) != IDN_JL && idn_jt(u[j]) != IDN_JD; j--)
		if (j == 0 || idn_jt(u[j]) != IDN_JT)
			return -1;
	for (j = i + 1; idn_jt(u[j]) != IDN_JR && idn_jt(u[j]) != IDN_JD; j++)
		if (j == n - 1 || idn_jt(u[j]) != IDN_JT)
			return -1;
	return 0;
}

/*
 * RFC 5893 2 as libidn2 applies it, to the label alone: with an R, AL or
 * AN anywhere, it starts with L or R/AL, and then only what rule 2.5 or
 * 2.2 allows, ending in what 2.6 or 2.3 allows.
 */
static int
idn_bidi(const uint32_t *u, size_t n)
{
	size_t i;
	unsigned b, first;
	int rtl = 0, endok = 1;

	for (i = 0; i < n; i++)
		if ((b = idn_prop(u[i]) & 7) == IDN_BR || b == IDN_BAN)
			rtl = 1;
	if (!rtl)
		return 0;
	first = idn_prop(u[0]) & 7;
	if (first != IDN_BL && first != IDN_BR)
		return -1;
	for (i = 1; i < n; i++) {
		b = idn_prop(u[i]) & 7;
		if (b == IDN_BEN || b == IDN_BNSM || b == first ||
		    (first == IDN_BR && b == IDN_BAN))
			endok = 1;
		else if (b == IDN_BOK)
			endok = 0;
		else
			return -1;
	}
	return endok ? 0 : -1;
}

/* what libidn2 adds for a label that is not ASCII (RFC 5891 5.4) */
static int
idn_2008_label(const uint32_t *u, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (idn_prop(u[i]) & IDN_BAD2008)
			return -1;
	for (i = 0; i < n; i++)
		if ((u[i] == 0x200C || u[i] == 0x200D) && idn_contextj(u, n, i) < 0)
			return -1;
	return idn_bidi(u, n);
}

/*
 * libidn2 decodes the Punycode it made (p, n characters) and wants the
 * label (l, ln code points) back: that fails for the ASCII its decoder
 * does not take (all but letters, digits, '-' and '_').
 */
static int
idn_roundtrip(const char *p, size_t n, const uint32_t *l, size_t ln)
{
	uint32_t a[IDN_PUNY_MAX], u[IDN_LABEL_MAX];
	size_t i, un;

	for (i = 0; i < n; i++)
		a[i] = (unsigned char)p[i];
	if (idn_puny_decode(a, n, u, &un) < 0 || un != ln)
		return -1;
	return memcmp(u, l, ln * sizeof(*l)) == 0 ? 0 : -1;
}

/*
 * An A-label "xn--..." (l, n code points, NFC and mapped: lower case):
 * decoded, it must pass the label checks, and encode back to itself.
 */
static int
idn_alabel(const uint32_t *l, size_t n, char *lab, size_t *len)
{
	uint32_t u[IDN_LABEL_MAX], v[IDN_LABEL_MAX * 4];
	size_t un, vn, i;

	if (idn_puny_decode(l + 4, n - 4, u, &un) < 0 ||
	    idn_nfc(u, un, v, sizeof(v) / sizeof(v[0]), &vn) < 0 ||
	    vn != un || memcmp(u, v, un * sizeof(*u)) != 0 ||
	    idn_tr46_label(u, un) < 0 || idn_2008_label(u, un) < 0 ||
	    idn_puny_encode(u, un, lab + 4, len) < 0 || *len != n - 4)
		return -1;
	for (i = 4; i < n; i++)	/* decoding took only ASCII */
		if (lab[i] != (char)l[i])
			return -1;
	memcpy(lab, "xn--", 4);
	*len = n;
	return 0;
}

/*
 * One label of the mapped, NFC name (l, n code points) as it goes in the
 * lookup name, into lab (IDN_LABEL_MAX octets), its length in *len.
 */
static int
idn_label(const uint32_t *l, size_t n, char *lab, size_t *len)
{
	size_t i;

	if (n >= 4 && l[0] == 'x' && l[1] == 'n' && l[2] == '-' && l[3] == '-')
		return idn_alabel(l, n, lab, len);
	if (idn_tr46_label(l, n) < 0)
		return -1;
	for (i = 0; i < n && l[i] < 0x80; i++)
		;
	if (i == n) {	/* ASCII: as it is */
		if (n > IDN_LABEL_MAX)
			return -1;
		for (i = 0; i < n; i++)
			lab[i] = (char)l[i];
		*len = n;
		return 0;
	}
	if (idn_2008_label(l, n) < 0 || idn_puny_encode(l, n, lab + 4, len) < 0 ||
	    idn_roundtrip(lab + 4, *len, l, n) < 0)
		return -1;
	memcpy(lab, "xn--", 4);
	*len += 4;
	return 0;
}

/*
 * name (UTF-8) to its A-label form in out (size octets); -1 when name is
 * not a valid IDNA2008 name (RFC 7208 4.3: malformed) or out is too
 * small.  A pure-ASCII name is copied unchanged (no case folding, no
 * checks): what it was before IDNA.  Otherwise as libidn2's
 * idn2_lookup_u8(IDN2_NONTRANSITIONAL): map and normalize the whole name,
 * then label by label; the name at most 253 octets (254 with a final dot).
 */
static int
idn_ascii(const char *name, char *out, size_t size)
{
	uint32_t u[IDN_CP_MAX], d[IDN_NFD_MAX];
	char buf[DNS_NAME_MAX + 1], lab[IDN_LABEL_MAX];
	const char *p;
	size_t n, m, s, e, len = 0, ll;

	for (p = name; *p && !(*p & 0x80); p++)
		;
	if (!*p) {
		if (p - name >= (ptrdiff_t)size)
			return -1;
		memcpy(out, name, (size_t)(p - name) + 1);
		return 0;
	}
	if (idn_map(name, u, &n) < 0 || idn_nfc(u, n, d, IDN_NFD_MAX, &m) < 0)
		return -1;
	for (s = 0;; s = e + 1) {
		for (e = s; e < m && d[e] != '.'; e++)
			;
		if (idn_label(d + s, e - s, lab, &ll) < 0 ||
		    len + ll > 255 - (ll == 0 && e == m ? 1 : 2))
			return -1;
		memcpy(buf + len, lab, ll);
		len += ll;
		if (e == m)
			break;
		buf[len++] = '.';	/* len <= 254 here */
	}
	if (len >= size)
		return -1;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}
#endif
