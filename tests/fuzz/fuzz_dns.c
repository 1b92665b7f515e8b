/* See LICENSE file for copyright and license details.
 *
 * fuzz_dns - DNS answers: the input is one answer packet, as a server
 * (or anyone who can spoof one) sends it.  It goes through dns_callback()
 * (cache_put, dns_parse) for a query of each type spfpolicy asks, with the
 * name of the packet's own question (so that its records can match), under
 * each status c-ares hands over with a packet; a CNAME re-query gets the
 * same packet again.  cache_ttl() runs in both modes, and c-ares' own
 * parsers read the same bytes.  The same bytes also arrive as ares_send()
 * hands them over (dns_status: RCODEs; FORMERR after EDNS).
 *
 * Checks beyond the sanitizers: an answer is D_OK only with records, its
 * TXT lengths are the lengths of its strings, its names are usable;
 * cache_ttl() gives what a plain reading of the bytes gives (ref_ttl).
 */
#define DNS_SEND(q)	fz_send(q)
static void fz_send(void *);
#include "../../spfpolicy.c"
#include "fuzz.h"

static const unsigned char *in;
static size_t inlen;

/* Any re-query (a CNAME target) gets the same packet. */
static void
fz_answer(Query *q)
{
	fz_pkt.n = MIN(inlen, sizeof(fz_pkt.b));
	memcpy(fz_pkt.b, in, fz_pkt.n);
	fz_reply(q, ARES_SUCCESS);
}

static void
check_answer(const Answer *a)
{
	int i;

	if (a->status < 0 || a->status >= NUM_DNSSTATUS)
		abort();
	if (a->status != D_OK)
		return;
	if (a->n <= 0)
		abort();
	for (i = 0; i < a->n; i++) {
		switch (a->type) {
		case T_TXT:
			if (strlen(a->s[i]) > a->len[i])
				abort();	/* a NUL inside is allowed */
			break;
		case T_MX:
		case T_PTR:
			if (strlen(a->s[i]) > DNS_NAME_MAX)
				abort();
			break;
		}
	}
}

/* a fresh query of name for type into q, its answer a, on an empty
 * arena; no deadline: a CNAME is followed */
static void
query(Query *q, Answer *a, int type, const char *name)
{
	arena_release(0);
	memset(q, 0, sizeof(*q));
	memset(a, 0, sizeof(*a));
	a->type = type;
	q->ans = a;
	q->deadline = LLONG_MAX;
	snprintf(q->name, sizeof(q->name), "%s", name);
}

/*
 * The packet as ares_send() hands it over: status ARES_SUCCESS whatever
 * its RCODE, to a query of each type, with or without EDNS (FORMERR asks
 * again without), after some timeouts.
 */
static void
wire(const char *name, const uint8_t *data, size_t size)
{
	static const int types[] = { T_A, T_AAAA, T_MX, T_PTR, T_TXT };
	static Query q;
	static Answer a;
	size_t t;

	for (t = 0; t < LEN(types); t++) {
		query(&q, &a, types[t], name);
		q.edns = size & 1;
		fz_depth = 1;
		dns_callback(&q, ARES_SUCCESS, (int)(size >> 1 & 3), (unsigned char *)data, size);
		if (q.done != Q_DONE)
			abort();
		check_answer(&a);
	}
}

/*
 * The model of cache_ttl(), written plainly over the bytes, without the
 * cursor: past the name at *off (compression pointers followed as
 * dns_name() did before the cursor); -1 when it cannot be read.
 */
static int
ref_name(const unsigned char *p, int n, int *off)
{
	int o = *off, jumps = 0, len = 0, l;

	for (;;) {
		if (o >= n)
			return -1;
		l = p[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 1 >= n || ++jumps > DNS_JUMPS_MAX)
				return -1;
			if (jumps == 1)
				*off = o + 2;
			o = (l & 0x3f) << 8 | p[o + 1];
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (!l)
			break;
		if (o + 1 + l > n || len + l + 1 > DNS_NAME_MAX)
			return -1;
		len += (len > 0) + l;
		o += 1 + l;
	}
	if (!jumps)
		*off = o + 1;
	return 0;
}

static unsigned
ref_ttl(const unsigned char *p, int n, int neg)
{
	unsigned ttl = dns_cache_max_ttl, v, min;
	int qd, an, ns, off = 12, i, type, rdlen, found = 0;

	if (n < 12)
		return 0;
	qd = p[4] << 8 | p[5];
	an = p[6] << 8 | p[7];
	ns = p[8] << 8 | p[9];
	for (i = 0; i < qd; i++, off += 4)
		if (ref_name(p, n, &off))
			return 0;
	for (i = 0; i < an + ns; i++) {
		if (ref_name(p, n, &off) || off + 10 > n)
			return 0;
		type = p[off] << 8 | p[off + 1];
		v = (unsigned)p[off + 4] << 24 | p[off + 5] << 16 | p[off + 6] << 8 | p[off + 7];
		rdlen = p[off + 8] << 8 | p[off + 9];
		if (off + 10 + rdlen > n)
			return 0;
		off += 10 + rdlen;
		if (neg ? i < an || type != T_SOA : i >= an)
			continue;
		if (neg && rdlen >= 22) {	/* the SOA's MINIMUM: its last 4 bytes */
			min = (unsigned)p[off - 4] << 24 | p[off - 3] << 16 | p[off - 2] << 8 | p[off - 1];
			v = v < min ? v : min;
		}
		ttl = ttl < v ? ttl : v;
		found = 1;
	}
	return found ? ttl : 0;
}

static void
cares_parsers(const unsigned char *p, int n)
{
	struct ares_addrttl a4[8];
	struct ares_addr6ttl a6[8];
	struct ares_mx_reply *mx;
	struct ares_txt_ext *txt;
	struct hostent *h;
	unsigned char addr[4] = { 192, 0, 2, 1 };
	int na;

	na = LEN(a4);
	h = NULL;
	if (ares_parse_a_reply(p, n, &h, a4, &na) == ARES_SUCCESS && h)
		ares_free_hostent(h);
	na = LEN(a6);
	h = NULL;
	if (ares_parse_aaaa_reply(p, n, &h, a6, &na) == ARES_SUCCESS && h)
		ares_free_hostent(h);
	mx = NULL;
	if (ares_parse_mx_reply(p, n, &mx) == ARES_SUCCESS)
		ares_free_data(mx);
	h = NULL;
	if (ares_parse_ptr_reply(p, n, addr, sizeof(addr), AF_INET, &h) == ARES_SUCCESS && h)
		ares_free_hostent(h);
	txt = NULL;
	if (ares_parse_txt_reply_ext(p, n, &txt) == ARES_SUCCESS)
		ares_free_data(txt);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { T_A, T_AAAA, T_MX, T_PTR, T_TXT, T_CNAME };
	static const int statuses[] = { ARES_SUCCESS, ARES_ENODATA, ARES_ENOTFOUND };
	static Query q;
	static Answer a;
	char name[DNS_NAME_MAX + 1];
	size_t t, s;
	Unpack u = { .p = data, .len = size > INT_MAX ? INT_MAX : (int)size, .off = 12 };
	int n;

	if (size > FZ_PKT_MAX)
		return 0;
	in = data;
	inlen = size;
	fz_reset();
	/* the question's name, when it has a usable one */
	snprintf(name, sizeof(name), "example.com");
	if (size >= 12 && unpack_name(&u, name) < 1)
		snprintf(name, sizeof(name), "example.com");
	for (t = 0; t < LEN(types); t++) {
		for (s = 0; s < LEN(statuses); s++) {
			query(&q, &a, types[t], name);
			fz_depth = 1;
			dns_callback(&q, statuses[s], 0, (unsigned char *)data, size);
			if (q.done != Q_DONE)
				abort();
			check_answer(&a);
		}
	}
	/* what the cache kept must read back the same way */
	for (t = 0; t < LEN(types); t++) {
		CacheEntry *e = cache_get(name, types[t]);

		if (!e)
			continue;
		arena_release(0);
		memset(&q, 0, sizeof(q));
		memset(&a, 0, sizeof(a));
		a.type = types[t];
		q.ans = &a;
		q.deadline = LLONG_MAX;
		snprintf(q.name, sizeof(q.name), "%s", name);
		dns_deliver(&q, e->status, e->pkt, e->len, e);
		check_answer(&a);
	}
	n = size > INT_MAX ? INT_MAX : (int)size;
	if (cache_ttl(data, n, 0) != ref_ttl(data, n, 0) || cache_ttl(data, n, 1) != ref_ttl(data, n, 1) ||
	    ref_ttl(data, n, 0) > dns_cache_max_ttl || ref_ttl(data, n, 1) > dns_cache_max_ttl) {
		dprintf(2, "fuzz: cache_ttl %u %u, the model's %u %u\n", cache_ttl(data, n, 0),
		        cache_ttl(data, n, 1), ref_ttl(data, n, 0), ref_ttl(data, n, 1));
		abort();
	}
	cares_parsers(data, n);
	wire(name, data, size);
	return 0;
}
