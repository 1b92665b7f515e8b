/* See LICENSE file for copyright and license details.
 *
 * fuzz.h - what the libFuzzer harnesses share: an in-process fake DNS
 * that answers every query synchronously through dns_callback(), a DNS
 * packet builder, the per-input reset of spfpolicy's process state, and
 * quiet logging.
 *
 * A harness defines DNS_SEND and includes spfpolicy.c, then this file:
 *
 *	#define DNS_SEND(q)	fz_send(q)
 *	static void fz_send(void *);
 *	#include "../../spfpolicy.c"
 *	#include "fuzz.h"
 *
 * and defines fz_answer(), which answers one query:
 *
 *	static void fz_answer(Query *q);
 *
 * typically by building a packet with pk_*() and calling fz_reply().
 * FUZZ_LOG=1 in the environment keeps spfpolicy's log lines on stderr
 * (to read what a reproducer does); otherwise they go to /dev/null.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#define FZ_PKT_MAX	65535	/* a DNS message over TCP at most */

typedef struct {
	unsigned char b[FZ_PKT_MAX];
	int n;
	int trunc;		/* something did not fit: answer what fits */
} Pkt;

static void fz_answer(Query *);

static Pkt fz_pkt;		/* the answer being built */
static int fz_depth;		/* fz_send nesting: CNAME re-queries */
static unsigned long fz_queries;/* per input: a runaway is a bug */

static void
pk_bytes(Pkt *p, const void *s, int n)
{
	if (n < 0 || p->n + n > FZ_PKT_MAX) {
		p->trunc = 1;
		return;
	}
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void
pk_u16(Pkt *p, unsigned v)
{
	unsigned char b[2] = { v >> 8, v };

	pk_bytes(p, b, 2);
}

static void
pk_u32(Pkt *p, unsigned long v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	pk_bytes(p, b, 4);
}

/*
 * A name in wire form, labels as the text has them between dots (empty
 * labels are left out, longer than 63 octets are cut): c-ares would have
 * sent the same, having parsed the name the same way.
 */
static int
pk_name_into(unsigned char *out, int size, const char *name)
{
	const char *s = name, *e;
	int n = 0, l;

	while (*s) {
		for (e = s; *e && *e != '.'; e++)
			;
		l = MIN(e - s, 63);
		if (l && n + 1 + l + 1 <= size && n + 1 + l < 255) {
			out[n++] = l;
			memcpy(out + n, s, l);
			n += l;
		}
		s = *e ? e + 1 : e;
	}
	out[n++] = 0;
	return n;
}

static void
pk_name(Pkt *p, const char *name)
{
	unsigned char w[300];

	pk_bytes(p, w, pk_name_into(w, sizeof(w), name));
}

/* Header and question; RCODE 0 (NOERROR) or 3 (NXDOMAIN). */
static void
pk_begin(Pkt *p, const char *qname, int qtype, int rcode)
{
	p->n = 0;
	p->trunc = 0;
	pk_u16(p, 0x1234);		/* ID */
	pk_u16(p, 0x8580 | rcode);	/* QR AA RD RA */
	pk_u16(p, 1);			/* QDCOUNT */
	pk_u16(p, 0);			/* ANCOUNT */
	pk_u16(p, 0);			/* NSCOUNT */
	pk_u16(p, 0);			/* ARCOUNT */
	pk_name(p, qname);
	pk_u16(p, qtype);
	pk_u16(p, 1);			/* IN */
}

/*
 * One record: owner NULL is the question's name (a compression pointer),
 * section 0 answer, 1 authority (sections must be added in order).
 */
static void
pk_rr(Pkt *p, const char *owner, int type, unsigned long ttl, const void *rd, int rdlen,
      int section)
{
	int at = 6 + 2 * section, save = p->n;
	unsigned cnt = p->b[at] << 8 | p->b[at + 1];

	if (owner)
		pk_name(p, owner);
	else
		pk_u16(p, 0xc00c);
	pk_u16(p, type);
	pk_u16(p, 1);
	pk_u32(p, ttl);
	pk_u16(p, rdlen);
	pk_bytes(p, rd, rdlen);
	if (p->trunc) {		/* keep the packet whole: drop the record */
		p->n = save;
		return;
	}
	cnt++;
	p->b[at] = cnt >> 8;
	p->b[at + 1] = cnt;
}

/* A record holding a name (CNAME, PTR; MX with a preference). */
static void
pk_rr_name(Pkt *p, const char *owner, int type, unsigned long ttl, int pref, const char *name)
{
	unsigned char rd[300];
	int n = 0;

	if (type == T_MX) {
		rd[n++] = pref >> 8;
		rd[n++] = pref;
	}
	n += pk_name_into(rd + n, sizeof(rd) - n, name);
	pk_rr(p, owner, type, ttl, rd, n, 0);
}

/* A TXT record of text, cut into character-strings of at most chunk octets. */
static void
pk_rr_txt(Pkt *p, const char *owner, unsigned long ttl, const unsigned char *s, size_t len,
          int chunk)
{
	static unsigned char rd[FZ_PKT_MAX];
	size_t i, n = 0, k;

	if (chunk < 1 || chunk > 255)
		chunk = 255;
	for (i = 0; (i < len || !i) && n < sizeof(rd) - 256; i += k) {
		k = MIN(len - i, (size_t)chunk);
		rd[n++] = k;
		memcpy(rd + n, s + i, k);
		n += k;
	}
	if (n > 65535 - 12 - 300 - 10)
		n = 0;	/* too long for any packet: an empty record */
	pk_rr(p, owner, T_TXT, ttl, rd, n, 0);
}

/* The SOA of a negative answer (RFC 2308), in the authority section. */
static void
pk_soa(Pkt *p, unsigned long ttl, unsigned long minimum)
{
	unsigned char rd[64];
	int n = 0;

	n += pk_name_into(rd + n, sizeof(rd) - n, "ns.test");
	n += pk_name_into(rd + n, sizeof(rd) - n, "hostmaster.test");
	memset(rd + n, 0, 16);
	n += 16;	/* serial, refresh, retry, expire */
	rd[n++] = minimum >> 24;
	rd[n++] = minimum >> 16;
	rd[n++] = minimum >> 8;
	rd[n++] = minimum;
	pk_rr(p, "test", T_SOA, ttl, rd, n, 1);
}

/*
 * Hand the packet being built to the query, with the status c-ares
 * gives for it: ARES_SUCCESS with answers, ARES_ENODATA for none,
 * ARES_ENOTFOUND for NXDOMAIN; any other status comes without a packet.
 */
static void
fz_reply(Query *q, int status)
{
	int ok = status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND;
	int n = fz_pkt.n;
	unsigned char *copy;

	/*
	 * c-ares frees its buffer when the callback returns: a copy of
	 * just the right size, freed here, lets ASan see any read past
	 * the packet or any use of it later.
	 */
	if (!ok) {
		dns_callback(q, status, 0, NULL, 0);
		return;
	}
	if (!(copy = malloc(n ? n : 1)))
		abort();
	memcpy(copy, fz_pkt.b, n);
	dns_callback(q, status, 0, copy, n);
	free(copy);
}

/* The DNS_SEND of the harnesses: answer now, as c-ares would later. */
static void
fz_send(void *arg)
{
	Query *q = arg;

	if (++fz_queries > 100000 || ++fz_depth > 64) {
		dprintf(2, "fuzz: runaway DNS queries (%lu, depth %d) for %s\n",
		        fz_queries, fz_depth, q->name);
		abort();
	}
	fz_answer(q);
	fz_depth--;
}

/* Reset what spfpolicy keeps between requests, so inputs are independent. */
static void
fz_reset(void)
{
	memset(dcache, 0, sizeof(dcache));
	dcache_next = 0;
	rcache_n = rpool_used = rcache_full = 0;
	memset(icache, 0, sizeof(icache));
	icache_next = 0;
	arena_release(0);
	spf_flush();
	input.idle_ms = input.request_ms = 0;
	input.pos = input.len = 0;
	fz_queries = 0;
	fz_depth = 0;
}

/* Send spfpolicy's log lines to /dev/null unless FUZZ_LOG is set. */
static void
fz_quiet(void)
{
	FILE *null;

	log_open("fuzz", TO_STDERR);	/* never syslog from a fuzzer */
	if (getenv("FUZZ_LOG"))
		return;
	if ((null = fopen("/dev/null", "w")))
		stderr = null;	/* sanitizers and libFuzzer write to fd 2 */
}

/*
 * cf compiled from text, a config file's lines, the way spfpolicy loads
 * one (conf_load through a temporary file).  Returns its problems.
 */
static int
fz_conf(Conf *cf, const char *text)
{
	char path[256];
	const char *dir = getenv("TMPDIR");
	int fd, bad;

	snprintf(path, sizeof(path), "%s/fuzz_conf.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0 || write(fd, text, strlen(text)) < 0) {
		perror(path);
		abort();
	}
	close(fd);
	bad = conf_load(path, cf);
	unlink(path);
	return bad;
}
