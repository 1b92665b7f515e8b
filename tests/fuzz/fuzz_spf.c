/* See LICENSE file for copyright and license details.
 *
 * fuzz_spf - the SPF record parser, the macro expander and the whole
 * evaluator (check_host), with DNS answers made from the input.  The
 * input is split at newlines (records never hold one):
 *
 *   line 0   TXT of the checked domains (d.test, the sender's, and
 *            h.test, the HELO name)
 *   line 1   TXT of every other name (include and redirect targets, exp=)
 *   line 2   one byte per query, in the order they are asked, choosing
 *            how it is answered (see fz_answer); missing bytes are 0
 *   line 3   the sender's local part (default "user")
 *
 * spf_check() runs for MAIL FROM from an IPv4 and an IPv6 client and for
 * the HELO identity; spf_macro_check() and spf_expand() run on line 0 in
 * both syntaxes (domain-spec and explanation).
 *
 * Checks beyond the sanitizers: results are in range; an explanation
 * holds no control character; the syntax check and the expansion agree
 * on what is a syntax error; an expansion is as long as it says.
 */
#define DNS_SEND(q)	fz_send(q)
static void fz_send(void *);
#include "../../spfpolicy.c"
#include "fuzz.h"

enum { L_TOP, L_OTHER, L_DNS, L_LOCAL, NUM_LINES };

static const unsigned char *line[NUM_LINES];
static size_t linelen[NUM_LINES];
static size_t qno;		/* queries answered in this check */

static unsigned
qbyte(void)
{
	unsigned b = qno < linelen[L_DNS] ? line[L_DNS][qno] : 0;

	qno++;
	return b;
}

static int
top(const char *name)
{
	return !strcasecmp(name, "d.test") || !strcasecmp(name, "h.test");
}

/* Client addresses the records may hit: the one checked, and neighbours. */
static void
addrs(Query *q, const char *owner, unsigned b, int type)
{
	static const unsigned char v4[4] = { 192, 0, 2, 1 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	unsigned char ip[16];
	int i, n = 1 + (b >> 2 & 3), len = type == T_A ? 4 : 16;

	(void)q;
	for (i = 0; i < n; i++) {
		memcpy(ip, type == T_A ? v4 : v6, len);
		if (!(b & 0x10) || i)
			ip[len - 1] ^= (b + i) & 0xff;	/* another in the /24 or /120 */
		if (b & 0x20 && !i)
			len = type == T_A ? 16 : 4;	/* wrong length: skipped */
		pk_rr(&fz_pkt, owner, type, b & 0x40 ? 0 : 300, ip, len, 0);
		len = type == T_A ? 4 : 16;
	}
}

/*
 * One query byte b:
 *   TXT    b & 7: 0-3 the text, 4 NODATA, 5 NXDOMAIN, 6 timeout, 7 two
 *          records (the text twice); b & 8 cut into 1-octet strings;
 *          b & 0x40 TTL 0
 *   A/AAAA b & 3: 0 addresses, 1 NODATA, 2 NXDOMAIN, 3 SERVFAIL;
 *          b >> 2 & 3: one more address each; b & 0x10 the first is the
 *          client; b & 0x20 the first has the wrong length
 *   MX     b & 3 as for A; b >> 2 & 15 names mxN.NAME; b & 0x40 null MX
 *   PTR    b & 3 as for A; b >> 2 & 15 names: d.test, pN.d.test, h.test
 *   all    b & 0x80: the answer is owned by c.NAME, reached by a CNAME
 *          (b & 3 == 1 with it: the CNAME only, which makes a re-query)
 */
static void
fz_answer(Query *q)
{
	char name[DNS_NAME_MAX + 8], owner[DNS_NAME_MAX + 8];
	const unsigned char *txt;
	unsigned b = qbyte();
	int type = q->ans->type, i, n, st = b & 3;
	const char *own = NULL;
	size_t tl;

	pk_begin(&fz_pkt, q->name, type, 0);
	if (b & 0x80 && strlen(q->name) < 240) {
		snprintf(owner, sizeof(owner), "c.%s", q->name);
		pk_rr_name(&fz_pkt, NULL, T_CNAME, 300, 0, owner);
		own = owner;
		if (st == 1) {
			fz_reply(q, ARES_SUCCESS);
			return;
		}
	}
	if (type == T_TXT) {
		st = b & 7;
		if (st == 4 || st == 5 || st == 6) {
			if (st == 6) {
				fz_reply(q, ARES_ETIMEOUT);
				return;
			}
			if (st == 5)
				fz_pkt.b[3] |= 3;
			pk_soa(&fz_pkt, 300, b & 0x40 ? 0 : 60);
			fz_reply(q, st == 5 ? ARES_ENOTFOUND : ARES_ENODATA);
			return;
		}
		txt = top(q->name) ? line[L_TOP] : line[L_OTHER];
		tl = top(q->name) ? linelen[L_TOP] : linelen[L_OTHER];
		for (i = 0; i < (st == 7 ? 2 : 1); i++)
			pk_rr_txt(&fz_pkt, own, b & 0x40 ? 0 : 300, txt, tl, b & 8 ? 1 : 255);
		fz_reply(q, ARES_SUCCESS);
		return;
	}
	switch (st) {
	case 1:
	case 2:
		if (st == 2)
			fz_pkt.b[3] |= 3;
		pk_soa(&fz_pkt, 300, 60);
		fz_reply(q, st == 2 ? ARES_ENOTFOUND : ARES_ENODATA);
		return;
	case 3:
		fz_reply(q, ARES_ESERVFAIL);
		return;
	}
	switch (type) {
	case T_A:
	case T_AAAA:
		addrs(q, own, b, type);
		break;
	case T_MX:
		if (b & 0x40) {
			pk_rr_name(&fz_pkt, own, T_MX, 300, 0, "");
			break;
		}
		for (n = b >> 2 & 15, i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "mx%d.%.240s", i, q->name);
			pk_rr_name(&fz_pkt, own, T_MX, 300, i, name);
		}
		break;
	case T_PTR:
		for (n = b >> 2 & 15, i = 0; i < n; i++) {
			if (i == 0 || i == 5)
				snprintf(name, sizeof(name), i ? "h.test" : "d.test");
			else
				snprintf(name, sizeof(name), "p%d.d.test", i);
			pk_rr_name(&fz_pkt, own, T_PTR, 300, 0, name);
		}
		break;
	}
	fz_reply(q, fz_pkt.b[7] ? ARES_SUCCESS : ARES_ENODATA);
}

static void
check(const Conf *cf, const char *ipstr, const char *sender, int ident)
{
	static Check c;
	Addr ip;
	size_t i;
	int r;

	qno = 0;
	addr_parse(ipstr, &ip, 1);
	spf_begin(&c, cf, &ip, cf->lookup_time);
	r = spf_check(&c, sender, "h.test", ident);
	if (r < 0 || r >= NUM_RESULTS)
		abort();
	for (i = 0; c.exp[i]; i++)
		if ((unsigned char)c.exp[i] < ' ' || c.exp[i] == 0x7f)
			abort();
}

static void
macros(const char *local, const char *s, size_t n)
{
	static Check c;
	int exp, v, e;

	memset(&c, 0, sizeof(c));
	addr_parse(n & 1 ? "2001:db8::1" : "192.0.2.1", &c.ip, 1);
	c.local = local;
	c.sdomain = "d.test";
	c.helo = "h.test";
	c.receiver = "receiver.test";
	c.void_limit = 2;
	for (exp = 0; exp <= 1; exp++) {
		qno = 0;
		arena_release(0);
		spf_flush();
		memset(expand, 0, sizeof(expand));
		v = spf_macro_check(s, n, exp);
		e = spf_expand(&c, s, n, "d.test", exp);
		/*
		 * A syntax error is one for both, unless the expansion
		 * stopped before it because the output was full (it stops
		 * at the first failure); it is full for no other reason
		 * here: every value fits.
		 */
		if ((v != MACRO_BAD && v != MACRO_OK && v != MACRO_TAIL) ||
		    (v == MACRO_BAD && e >= 0) || (v != MACRO_BAD && e == MACRO_BAD) ||
		    (e == MACRO_FULL && strlen(expand) < sizeof(expand) - 3)) {
			dprintf(2, "fuzz: spf_macro_check %d, spf_expand %d (%zu bytes out)\n",
			        v, e, strnlen(expand, sizeof(expand)));
			abort();
		}
		if (e >= 0 && (size_t)e != strlen(expand))
			abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fz_conf(&config, "Receiver_Domain = receiver.test\n");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char local[65];
	static char *sender;
	const unsigned char *p = data, *e = data + size, *nl;
	const Conf *cf = &config;
	size_t i;

	for (i = 0; i < NUM_LINES; i++) {
		line[i] = p;
		nl = p < e ? memchr(p, '\n', e - p) : NULL;
		linelen[i] = (nl ? nl : e) - p;
		p = nl ? nl + 1 : e;
	}
	snprintf(local, sizeof(local), "%.*s", (int)MIN(linelen[L_LOCAL], 64),
	         (const char *)line[L_LOCAL]);
	if (!*local || strchr(local, '@'))	/* a NUL cuts it short */
		snprintf(local, sizeof(local), "user");
	sender = (char[sizeof(local) + 8]){ 0 };
	snprintf(sender, sizeof(local) + 8, "%s@d.test", local);
	fz_reset();
	check(cf, "192.0.2.1", sender, I_MAILFROM);
	check(cf, "2001:db8::1", sender, I_MAILFROM);
	check(cf, "192.0.2.1", "", I_HELO);
	macros(local, (const char *)line[L_TOP], linelen[L_TOP]);
	return 0;
}
