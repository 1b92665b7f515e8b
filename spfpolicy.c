/* See LICENSE file for copyright and license details.
 *
 * spfpolicy is a Postfix SMTP access policy server for SPF (RFC 7208), a
 * drop-in replacement for pypolicyd-spf: same config file, same answers.
 *
 * Data flow: Postfix writes a request (name=value lines, blank line) on
 * stdin; the policy layer decides which identities to check; spf_check()
 * evaluates the HELO or MAIL FROM identity as RFC 7208's check_host(),
 * asking c-ares through dns_lookup(); the policy layer turns the results
 * into one action line.  All per-evaluation memory comes from one arena
 * that is reset after each answer; nothing a stranger sends can make it
 * recurse, loop or allocate without a bound.
 *
 * Start reading at main().
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define CARES_NO_DEPRECATED	/* ares_query is all 1.18 offers */
#include <ares.h>

#include "spfpolicy.h"

/* macros */
#define LEN(a)		(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* configuration: limits used by the types below, and the defaults */
#include "config.h"

enum DnsStatus {	/* how a lookup ended */
	D_OK,		/* records of the asked type */
	D_NXDOMAIN,	/* RCODE 3 */
	D_NODATA,	/* RCODE 0 and nothing of the type */
	D_TEMP,		/* anything else: timeout, SERVFAIL, garbage */
	NUM_DNSSTATUS
};

enum {	/* RR types, RFC 1035 3.2.2, RFC 3596 */
	T_A = 1, T_CNAME = 5, T_PTR = 12, T_MX = 15, T_TXT = 16, T_AAAA = 28
};

enum Mech {	/* RFC 7208 5; M_MOD is any modifier */
	M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS,
	M_MOD, NUM_MECHS
};

enum Match {	/* the outcome of one mechanism, RFC 7208 4.6.2 */
	MATCH, NOMATCH, ERR_TEMP, ERR_PERM
};

typedef struct {	/* one DNS answer, parsed into the arena */
	int status;
	int type;
	int n;			/* records in s/len or ip */
	char **s;		/* TXT (strings joined), MX/PTR names */
	size_t *len;		/* TXT lengths */
	unsigned char (*ip)[16];/* A/AAAA */
	unsigned ttl;		/* smallest TTL seen */
	const char *err;	/* D_TEMP: why */
} Answer;

typedef struct {	/* one query in flight */
	Answer *ans;
	char name[DNS_NAME_MAX + 1];
	int hops;		/* CNAME re-queries made */
	int done;
} Query;

typedef struct {	/* one parsed term, pointing into its record */
	int mech;
	int qual;		/* '+' '-' '~' '?' */
	const char *name;	/* modifier name */
	size_t namelen;
	const char *arg;	/* domain-spec, macro-string or address */
	size_t arglen;
	int cidr4, cidr6;
	unsigned char ip[16];
} Term;

typedef struct {	/* one check_host() evaluation, RFC 7208 4 */
	Addr ip;		/* client, IPv4-mapped folded to IPv4 */
	const char *local;	/* %{l} */
	const char *sdomain;	/* %{o} */
	const char *helo;	/* %{h} */
	int lookups;		/* DNS-querying terms, 4.6.4 */
	int voids;		/* void lookups, 4.6.4 */
	int void_limit;
	long long deadline;	/* ms, monotonic */
	char exp[EXP_MAX];	/* explanation of a fail */
	char why[512];		/* detail of a permerror/temperror */
} Check;

/* function declarations */
static void logmsg(int, const char *, ...);
static void die(const char *, ...);
static long long now_ms(void);
static void *aalloc(size_t);
static char *astrndup(const char *, size_t);
static int num(const char *, long, long, long *);
static int casecmpn(const char *, const char *, size_t);
static int put(char *, size_t, size_t *, const char *, size_t);
static char *strip(char *);

static int addr_parse(const char *, Addr *);
static int addr_inprefix(const unsigned char *, const unsigned char *, int);
static void addr_text(const Addr *, int, char *, size_t);

static void dns_sockstate(void *, ares_socket_t, int, int);
static int dns_init(const Conf *);
static int dns_name(const unsigned char *, int, int *, char *);
static void dns_parse(Query *, const unsigned char *, int);
static void dns_callback(void *, int, int, unsigned char *, int);
static void dns_wait(Query *, int, long long);
static int dns_lookup_many(Check *, char **, int, int, Answer *);
static int dns_lookup(Check *, const char *, int, Answer *);

static int spf_domain_ok(const char *);
static int spf_is_record(const char *, size_t);
static int spf_cidr(const char *, const char *, int);
static const char *spf_slashdigits(const char *, const char *);
static int spf_ip4(const char *, const char *, unsigned char *);
static int spf_domainspec(const char *, size_t);
static const char *spf_term(const char *, size_t, Term *);
static int spf_transform(const char *, int, int, const char *, int, char *, size_t, size_t *);
static int spf_macro(Check *, const char *, size_t, const char *, int, char *, size_t);
static int spf_letter(Check *, int, const char *, char *, size_t);
static int spf_target(Check *, const char *, size_t, const char *, char *);
static int spf_count(Check *);
static int spf_void(Check *);
static int spf_addr_match(Check *, const Answer *, int, int);
static int spf_ptrnames(Check *, char ***);
static int spf_subdomain(const char *, const char *);
static int spf_validated(Check *, const char *, char *, size_t);
static int spf_addrs(Check *, char **, int, int, int);
static int spf_mech(Check *, const Term *, const char *, int);
static void spf_explain(Check *, const char *, size_t, const char *);
static int spf_record(Check *, const char *, int, const char **, size_t *);
static const char *spf_token(const char **, const char *, size_t *);
static const char *spf_modifier(const Term *);
static int spf_check_host(Check *, const char *, int, int);
static int spf_check(const Conf *, const Addr *, const char *, const char *, int, Check *);

static int conf_bool(const char *);
static int conf_line(Conf *, char *, const char *);
static int conf_read(const char *, Conf *);

static void pol_reason(int, const Check *, char *, size_t);
static void pol_received_spf(int, int, const Check *, const char *, const char *, const char *, const char *, char *, size_t);

static int mode_query(const Conf *, const char *, const char *, const char *);
static void usage(void);

/* variables */
static ares_channel channel;
static struct pollfd pfd[MAX_SOCKS];
static int npfd;
static char arena[ARENA_SIZE];	/* untouched pages cost no memory */
static size_t arena_used;
static int log_stderr;		/* only in modes that own a terminal */
static const char *receiver_host = "unknown";	/* %{r} */


static const char *const result_name[NUM_RESULTS] = {	/* RFC 7208 2.6 */
	[R_NONE] = "none", [R_NEUTRAL] = "neutral", [R_PASS] = "pass",
	[R_FAIL] = "fail", [R_SOFTFAIL] = "softfail",
	[R_TEMPERROR] = "temperror", [R_PERMERROR] = "permerror",
};

static const char *const mech_name[NUM_MECHS] = {
	[M_ALL] = "all", [M_INCLUDE] = "include", [M_A] = "a", [M_MX] = "mx",
	[M_PTR] = "ptr", [M_IP4] = "ip4", [M_IP6] = "ip6",
	[M_EXISTS] = "exists",
};

/* util */

/* Log to syslog, and to stderr in the modes that own a terminal. */
static void
logmsg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_stderr) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

/* For start-up and impossible states only: never for what a stranger sent. */
static void
die(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	logmsg(LOG_ERR, "%s", buf);
	exit(111);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bump allocation from the per-evaluation arena; NULL when it is full. */
static void *
aalloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(arena) - arena_used)
		return NULL;
	p = arena + arena_used;
	arena_used += n;
	return p;
}

static char *
astrndup(const char *s, size_t n)
{
	char *p;

	if (!(p = aalloc(n + 1)))
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Decimal in [min, max] with nothing else around it: 0, else -1. */
static int
num(const char *s, long min, long max, long *v)
{
	char *end;
	long n;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s) && *s != '-')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || *end || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

/* Case-insensitive equality of the first n bytes (ASCII only). */
static int
casecmpn(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 1;
	return 0;
}

/* Append n bytes to out (size bytes) at *len; -1 when they do not fit. */
static int
put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (n >= size - *len)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	return 0;
}

/* Strip leading and trailing blanks in place. */
static char *
strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	return s;
}

/* addresses */

/* Client address text to Addr; IPv4-mapped IPv6 becomes IPv4 (RFC 7208 5). */
static int
addr_parse(const char *s, Addr *a)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1)
		return 0;
	if (inet_pton(AF_INET6, s, a->b) != 1)
		return -1;
	if (!memcmp(a->b, mapped, sizeof(mapped))) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		return 0;
	}
	a->v6 = 1;
	return 0;
}

/* Whether the first bits of a and b agree. */
static int
addr_inprefix(const unsigned char *a, const unsigned char *b, int bits)
{
	int n = bits / 8, r = bits % 8;

	if (memcmp(a, b, n))
		return 0;
	return !r || !((a[n] ^ b[n]) & (0xff << (8 - r)));
}

/*
 * Forms of the client address: 'i' for %{i} (dotted quad or 32 dotted
 * nibbles, RFC 7208 7.3), 'c' for %{c} (RFC 5952 text), 'r' for the
 * reverse lookup name.
 */
static void
addr_text(const Addr *a, int form, char *buf, size_t size)
{
	/* pyspf and the RFC 7208 suite write %{i} nibbles in upper case */
	const char *hex = form == 'i' ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = buf;
	int i;

	if (!a->v6 && form != 'r') {
		snprintf(buf, size, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2], a->b[3]);
	} else if (!a->v6) {
		snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa",
		         a->b[3], a->b[2], a->b[1], a->b[0]);
	} else if (form == 'c') {
		inet_ntop(AF_INET6, a->b, buf, size);
	} else if (size >= 74) {	/* 32 nibbles, dots, "ip6.arpa" */
		for (i = 0; i < 32; i++) {
			if (form == 'r')
				*p++ = hex[(a->b[15 - i / 2] >> (i % 2 ? 4 : 0)) & 15];
			else
				*p++ = hex[(a->b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
			*p++ = '.';
		}
		if (form == 'r')
			strcpy(p, "ip6.arpa");
		else
			p[-1] = '\0';
	}
}

/* dns */

/* c-ares tells which sockets to watch; keep pfd[] in step with it. */
static void
dns_sockstate(void *data, ares_socket_t fd, int readable, int writable)
{
	int i;

	(void)data;
	for (i = 0; i < npfd && pfd[i].fd != fd; i++)
		;
	if (!readable && !writable) {
		if (i < npfd)
			pfd[i] = pfd[--npfd];
		return;
	}
	if (i == npfd) {
		if (npfd == MAX_SOCKS)
			return;	/* unwatched: its query times out */
		npfd++;
	}
	pfd[i].fd = fd;
	pfd[i].events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
	pfd[i].revents = 0;
}

/* Returns 0, or -1 when the channel or the nameservers cannot be set up. */
static int
dns_init(const Conf *cf)
{
	struct ares_options o;
	int mask, r;

	if (channel)
		ares_destroy(channel);
	channel = NULL;
	npfd = 0;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return -1;
	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;	/* replaces defaults */
	o.timeout = cf->dns_timeout_ms;
	o.tries = cf->dns_tries;
	o.ednspsz = edns_payload;
	o.sock_state_cb = dns_sockstate;
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	       ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB;
#ifdef ARES_OPT_QUERY_CACHE	/* 1.23+: we keep our own, bounded cache */
	o.qcache_max_ttl = 0;
	mask |= ARES_OPT_QUERY_CACHE;
#endif
	if ((r = ares_init_options(&channel, &o, mask)) != ARES_SUCCESS) {
		logmsg(LOG_ERR, "c-ares: %s", ares_strerror(r));
		return -1;
	}
	if (*cf->nameservers &&
	    (r = ares_set_servers_ports_csv(channel, cf->nameservers)) != ARES_SUCCESS) {
		logmsg(LOG_ERR, "Nameservers \"%s\": %s", cf->nameservers, ares_strerror(r));
		return -1;
	}
	return 0;
}

/*
 * Decode the name at *off into out (DNS_NAME_MAX + 1 bytes, no final dot)
 * and move *off past it.  Returns its length, -1 for a malformed packet,
 * -2 for a name no SPF evaluation can use (a dot, a backslash or a
 * control in a label: c-ares would read them as escapes or separators).
 */
static int
dns_name(const unsigned char *p, int plen, int *off, char *out)
{
	int o = *off, n = 0, jumps = 0, bad = 0, l;

	for (;;) {
		if (o >= plen)
			return -1;
		l = p[o];
		if ((l & 0xc0) == 0xc0) {	/* compression pointer */
			if (o + 1 >= plen || ++jumps > 64)
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
		if (o + 1 + l > plen || n + l + 1 > DNS_NAME_MAX)
			return -1;
		if (n)
			out[n++] = '.';
		for (o++; l; l--, o++) {
			if (p[o] < ' ' || p[o] == 0x7f || p[o] == '.' || p[o] == '\\')
				bad = 1;
			out[n++] = p[o];
		}
	}
	if (!jumps)
		*off = o + 1;
	out[n] = '\0';
	return bad ? -2 : n;
}

/*
 * Take from an answer the records of the asked type owned by the asked
 * name or, through CNAMEs in the same answer, by its alias target.  Other
 * records (a lying or confused server) are ignored.  When only a CNAME
 * came back, ask again for its target.
 */
static void
dns_parse(Query *q, const unsigned char *p, int plen)
{
	Answer *a = q->ans;
	char cur[DNS_NAME_MAX + 1], owner[DNS_NAME_MAX + 1], t[DNS_NAME_MAX + 1];
	int an, qd, off, start, i, type, rdlen, rd, hops, moved, n, l, k;
	unsigned ttl;

	a->status = D_TEMP;
	a->err = "malformed DNS answer";
	if (plen < 12)
		return;
	qd = p[4] << 8 | p[5];
	an = p[6] << 8 | p[7];
	for (off = 12; qd--; off += 4)
		if (dns_name(p, plen, &off, t) == -1)
			return;
	start = off;
	strcpy(cur, q->name);
	for (hops = 0, moved = 1; moved && hops <= max_cnames; hops++) {
		for (moved = 0, off = start, i = 0; i < an && !moved; i++) {
			if ((l = dns_name(p, plen, &off, owner)) == -1 || off + 10 > plen)
				return;
			type = p[off] << 8 | p[off + 1];
			rdlen = p[off + 8] << 8 | p[off + 9];
			if ((off += 10) + rdlen > plen)
				return;
			rd = off;
			off += rdlen;
			if (type == T_CNAME && !strcasecmp(owner, cur) &&
			    dns_name(p, plen, &rd, t) > 0 && strcasecmp(t, cur)) {
				strcpy(cur, t);
				moved = 1;
			}
		}
	}
	if (moved) {
		a->err = "CNAME chain too long";
		return;
	}
	/* count, then copy: the arrays are sized by what is really there */
	for (n = 0, off = start, i = 0; i < an; i++) {
		dns_name(p, plen, &off, owner);
		type = p[off] << 8 | p[off + 1];
		rdlen = p[off + 8] << 8 | p[off + 9];
		off += 10 + rdlen;
		n += type == a->type && !strcasecmp(owner, cur);
	}
	a->n = 0;
	a->ttl = UINT_MAX;
	if (!(a->s = aalloc(n * sizeof(*a->s))) || !(a->len = aalloc(n * sizeof(*a->len))) ||
	    !(a->ip = aalloc(n * sizeof(*a->ip)))) {
		a->err = "out of memory for DNS answer";
		return;
	}
	for (off = start, i = 0; i < an; i++) {
		dns_name(p, plen, &off, owner);
		type = p[off] << 8 | p[off + 1];
		ttl = (unsigned)p[off + 4] << 24 | p[off + 5] << 16 | p[off + 6] << 8 | p[off + 7];
		rdlen = p[off + 8] << 8 | p[off + 9];
		rd = off + 10;
		off = rd + rdlen;
		if (type != a->type || strcasecmp(owner, cur))
			continue;
		switch (type) {
		case T_A:
		case T_AAAA:
			if (rdlen != (type == T_A ? 4 : 16))
				continue;
			memset(a->ip[a->n], 0, 16);
			memcpy(a->ip[a->n], p + rd, rdlen);
			break;
		case T_MX:
			if (rdlen < 3)
				continue;
			rd += 2;
			/* fallthrough */
		case T_PTR:
			if ((l = dns_name(p, plen, &rd, t)) < 0 || rd > off ||
			    !(a->s[a->n] = astrndup(t, l)))
				continue;
			break;
		case T_TXT:	/* RFC 7208 3.3: strings joined, no spaces */
			if (!(a->s[a->n] = aalloc(rdlen + 1)))
				continue;
			for (l = 0, k = rd; k < off; k += 1 + p[k]) {
				if (k + 1 + p[k] > off)
					break;
				memcpy(a->s[a->n] + l, p + k + 1, p[k]);
				l += p[k];
			}
			if (k != off)
				continue;
			a->s[a->n][l] = '\0';
			a->len[a->n] = l;
			break;
		}
		a->ttl = MIN(a->ttl, ttl);
		a->n++;
	}
	if (a->n) {
		a->status = D_OK;
	} else if (strcasecmp(cur, q->name) && q->hops < max_cnames) {
		strcpy(q->name, cur);	/* only the alias came: follow it */
		q->hops++;
		q->done = -1;	/* before: the callback may run right away */
		ares_query(channel, q->name, 1 /* IN */, a->type, dns_callback, q);
	} else {
		a->status = D_NODATA;
	}
}

static void
dns_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	Query *q = arg;

	(void)timeouts;
	q->done = 1;
	q->ans->n = 0;
	switch (status) {
	case ARES_SUCCESS:
		dns_parse(q, abuf, alen);
		if (q->done == -1)	/* asked again */
			q->done = 0;
		return;
	case ARES_ENODATA:
		q->ans->status = D_NODATA;
		return;
	case ARES_ENOTFOUND:
		q->ans->status = D_NXDOMAIN;
		return;
	case ARES_ECANCELLED:
		q->ans->status = D_TEMP;
		q->ans->err = "exceeded max query lookup time";
		return;
	default:
		q->ans->status = D_TEMP;
		q->ans->err = ares_strerror(status);
	}
}

/* Drive c-ares until every query is done or the deadline passes. */
static void
dns_wait(Query *q, int n, long long deadline)
{
	struct timeval max, tv, *tvp;
	ares_socket_t rfd[MAX_SOCKS], wfd[MAX_SOCKS];
	long long left;
	int i, k, busy, nready, ms;

	for (;;) {
		for (busy = 0, i = 0; i < n; i++)
			busy |= !q[i].done;
		if (!busy)
			return;
		if ((left = deadline - now_ms()) <= 0)
			break;
		max.tv_sec = left / 1000;
		max.tv_usec = left % 1000 * 1000;
		tvp = ares_timeout(channel, &max, &tv);
		ms = tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
		if ((nready = poll(pfd, npfd, ms)) < 0 && errno != EINTR)
			break;
		if (nready <= 0) {
			ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		/* callbacks change pfd[]: take the ready sockets out first */
		for (k = 0, i = 0; i < npfd; i++) {
			if (!pfd[i].revents)
				continue;
			rfd[k] = pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD;
			wfd[k++] = pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
		}
		for (i = 0; i < k; i++)
			ares_process_fd(channel, rfd[i], wfd[i]);
	}
	ares_cancel(channel);	/* each callback: D_TEMP */
	for (i = 0; i < n; i++) {
		if (q[i].done)
			continue;
		q[i].done = 1;
		q[i].ans->status = D_TEMP;
		q[i].ans->err = "exceeded max query lookup time";
	}
}

/*
 * Look names up concurrently, each into its Answer.  A name that cannot
 * be a DNS name gets D_NXDOMAIN without a query.  Returns the number of
 * answers that are D_TEMP.
 */
static int
dns_lookup_many(Check *c, char **names, int n, int type, Answer *ans)
{
	Query *q;
	int i, temp;

	if (!(q = aalloc(n * sizeof(*q)))) {
		for (i = 0; i < n; i++) {
			ans[i].status = D_TEMP;
			ans[i].err = "out of memory for queries";
		}
		return n;
	}
	for (i = 0; i < n; i++) {
		memset(&ans[i], 0, sizeof(ans[i]));
		ans[i].type = type;
		q[i].ans = &ans[i];
		q[i].hops = 0;
		q[i].done = 1;
		if (!spf_domain_ok(names[i])) {
			ans[i].status = D_NXDOMAIN;
			continue;
		}
		strcpy(q[i].name, names[i]);
		q[i].done = 0;
		ares_query(channel, q[i].name, 1 /* IN */, type, dns_callback, &q[i]);
	}
	dns_wait(q, n, c->deadline ? c->deadline : now_ms() + 20000);
	for (temp = 0, i = 0; i < n; i++)
		temp += ans[i].status == D_TEMP;
	return temp;
}

/* One lookup; returns its DnsStatus. */
static int
dns_lookup(Check *c, const char *name, int type, Answer *ans)
{
	char *n = (char *)name;

	dns_lookup_many(c, &n, 1, type, ans);
	return ans->status;
}

/* spf */

/* Whether name can be asked of DNS: labels of 1 to 63 octets, 253 in all. */
static int
spf_domain_ok(const char *name)
{
	size_t n = strlen(name), l = 0;
	const char *p;

	if (n && name[n - 1] == '.')
		n--;
	if (!n || n > DOMAIN_MAX)
		return 0;
	for (p = name; p < name + n; p++) {
		if (*p == '.') {
			if (!l)
				return 0;
			l = 0;
		} else if ((unsigned char)*p < ' ' || *p == 0x7f || *p == '\\' ||
		           ++l > LABEL_MAX) {
			return 0;
		}
	}
	return l > 0;
}

/* RFC 7208 4.5: "v=spf1", case-insensitive, then a space or the end. */
static int
spf_is_record(const char *s, size_t len)
{
	return len >= 6 && !casecmpn(s, "v=spf1", 6) && (len == 6 || s[6] == ' ');
}

/* A CIDR length in [s, e): "0" or digits without a leading zero, <= max. */
static int
spf_cidr(const char *s, const char *e, int max)
{
	int v = 0;

	if (s == e || e - s > 3 || (*s == '0' && e - s > 1))
		return -1;
	for (; s < e; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + *s - '0';
	}
	return v <= max ? v : -1;
}

/* The digits after a last '/' in [p, e), or NULL when that is not the end. */
static const char *
spf_slashdigits(const char *p, const char *e)
{
	const char *s = e;

	while (s > p && isdigit((unsigned char)s[-1]))
		s--;
	return s < e && s > p && s[-1] == '/' ? s : NULL;
}

/* RFC 7208 12 ip4-network: four qnums, no leading zeros. */
static int
spf_ip4(const char *s, const char *e, unsigned char *ip)
{
	const char *q;
	int i, v;

	for (i = 0; i < 4; i++) {
		if (i && (s == e || *s++ != '.'))
			return -1;
		for (q = s, v = 0; s < e && isdigit((unsigned char)*s) && s - q < 3; s++)
			v = v * 10 + *s - '0';
		if (s == q || v > 255 || (*q == '0' && s - q > 1))
			return -1;
		ip[i] = v;
	}
	return s == e ? 0 : -1;
}

/*
 * Check a domain-spec (RFC 7208 7.1): a macro-string whose end is a macro
 * or "." toplabel ["."].  Returns 0 or -1.
 */
static int
spf_domainspec(const char *s, size_t len)
{
	const char *e = s + len, *dot;
	int r, alpha = 0;

	if (!len || (r = spf_macro(NULL, s, len, NULL, 0, NULL, 0)) < 0)
		return -1;
	if (r == 1)	/* ends in a macro-expand */
		return 0;
	if (e[-1] == '.')
		e--;
	for (dot = e; dot > s && dot[-1] != '.'; dot--)
		;
	if (dot == s || dot == e || *dot == '-' || e[-1] == '-')
		return -1;
	for (; dot < e; dot++) {
		if (*dot == '-')
			alpha = 1;	/* 1*alphanum "-" ... alphanum */
		else if (isalpha((unsigned char)*dot))
			alpha = 1;
		else if (!isdigit((unsigned char)*dot))
			return -1;
	}
	return alpha ? 0 : -1;
}

/*
 * Parse one term of a record (RFC 7208 4.6.1, 12).  A directive and a
 * modifier look like this; t gets pointers into s:
 *
 *   -mx:%{d}.example/24//64          redirect=_spf.example
 *   ^^ ^           ^  ^              ^       ^
 *   |  arg         |  cidr6          name    arg
 *   qual, mech     cidr4
 *
 * Returns NULL, or what is wrong (the permerror detail).
 */
static const char *
spf_term(const char *s, size_t len, Term *t)
{
	const char *e = s + len, *p, *sl;
	char buf[INET6_ADDRSTRLEN];
	int i, hasq = 0;

	memset(t, 0, sizeof(*t));
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (strchr("+-~?", *s)) {
		t->qual = *s++;
		hasq = 1;
	}
	for (p = s; p < e && (isalnum((unsigned char)*p) || strchr("-_.", *p)); p++)
		;
	if (p == s || !isalpha((unsigned char)*s))
		return "Unknown mechanism found";
	if (p < e && *p == '=') {	/* modifier */
		t->mech = M_MOD;
		t->name = s;
		t->namelen = p - s;
		t->arg = p + 1;
		t->arglen = e - p - 1;
		if (hasq)
			return "Invalid modifier";
		if ((t->namelen == 8 && !casecmpn(s, "redirect", 8)) ||
		    (t->namelen == 3 && !casecmpn(s, "exp", 3)))
			return spf_domainspec(t->arg, t->arglen) ? "Invalid domain found" : NULL;
		return spf_macro(NULL, t->arg, t->arglen, NULL, 1, NULL, 0) < 0 ?
		       "Invalid macro in modifier" : NULL;
	}
	for (i = 0; i < M_MOD; i++)
		if (strlen(mech_name[i]) == (size_t)(p - s) && !casecmpn(s, mech_name[i], p - s))
			break;
	if ((t->mech = i) == M_MOD)
		return "Unknown mechanism found";

	/*
	 * a, mx, ip4, ip6 may end in CIDR lengths: a '/' and digits.  A '/'
	 * followed by anything else belongs to the domain-spec (7.1).
	 */
	if (i == M_A || i == M_MX || i == M_IP4 || i == M_IP6) {
		if ((sl = spf_slashdigits(p, e)) && i != M_IP4 && sl - 1 > p && sl[-2] == '/') {
			if (i == M_IP6 || (t->cidr6 = spf_cidr(sl, e, 128)) < 0)
				return "Invalid CIDR length";
			e = sl - 2;
			sl = spf_slashdigits(p, e);
		}
		if (sl && (i == M_IP6 ? (t->cidr6 = spf_cidr(sl, e, 128)) :
		                        (t->cidr4 = spf_cidr(sl, e, 32))) < 0)
			return "Invalid CIDR length";
		if (sl)
			e = sl - 1;
	}
	if (p < e && *p++ != ':')
		return "Unknown mechanism found";
	t->arg = p;
	t->arglen = e - p;
	switch (i) {
	case M_ALL:
		return p == e ? NULL : "Invalid all mechanism";
	case M_IP4:
		return p < e && !spf_ip4(p, e, t->ip) ? NULL : "Invalid IP4 address";
	case M_IP6:
		if (p == e || e - p >= (long)sizeof(buf))
			return "Invalid IP6 address";
		memcpy(buf, p, e - p);
		buf[e - p] = '\0';
		return inet_pton(AF_INET6, buf, t->ip) == 1 ? NULL : "Invalid IP6 address";
	case M_INCLUDE:
	case M_EXISTS:
		if (p[-1] != ':')
			return "Missing domain";
		/* fallthrough */
	default:
		if (p[-1] == ':' && spf_domainspec(p, e - p))
			return "Invalid domain found";
		return NULL;
	}
}

/*
 * Expand one macro letter with its transformers (RFC 7208 7.3): split
 * the value at the delimiters, maybe reverse, keep the rightmost parts,
 * join with dots, URL-escape for an upper-case letter.
 */
static int
spf_transform(const char *v, int keep, int rev, const char *delim, int esc,
              char *out, size_t size, size_t *len)
{
	static const char hex[] = "0123456789ABCDEF";
	static unsigned short start[MACRO_MAX / 2 + 2];
	size_t vlen = strlen(v), i, from, to, k;
	int nparts = 0, a, b, step, j;
	char tmp[3];

	if (vlen > MACRO_MAX)
		return -1;
	start[nparts++] = 0;
	for (i = 0; i < vlen; i++)
		if (strchr(delim, v[i]))
			start[nparts++] = i + 1;
	start[nparts] = vlen + 1;	/* one past the end of the last part */
	if (keep > nparts)
		keep = nparts;
	/* reversed, the rightmost keep parts are the leftmost of v */
	a = rev ? keep - 1 : nparts - keep;
	b = rev ? -1 : nparts;
	step = rev ? -1 : 1;
	for (j = a; j != b; j += step) {
		if (j != a && put(out, size, len, ".", 1))
			return -1;
		from = start[j];
		to = start[j + 1] - 1;
		for (k = from; k < to; k++) {
			unsigned char ch = v[k];

			if (!esc || isalnum(ch) || strchr("-._~", ch)) {
				if (put(out, size, len, v + k, 1))
					return -1;
				continue;
			}
			tmp[0] = '%';
			tmp[1] = hex[ch >> 4];
			tmp[2] = hex[ch & 15];
			if (put(out, size, len, tmp, 3))
				return -1;
		}
	}
	return 0;
}

/*
 * Expand a macro-string (RFC 7208 7) for the current domain, into out.
 * With c NULL only the syntax is checked: returns 1 when the string ends
 * in a macro-expand (for the domain-end rule), 0 when not, -1 on error.
 * Otherwise returns the length, -1 for a syntax error, -2 for an
 * expansion that does not fit.  exp allows c, r, t and spaces (7.2, 6.2).
 *
 *   %{ir.}.%{v}._spf.%{d2}
 *   ^ ^^^ ^
 *   | ||| literal
 *   | ||delimiters
 *   | |transformers (digits, r)
 *   | letter
 *   macro-expand
 */
static int
spf_macro(Check *c, const char *s, size_t n, const char *domain, int exp,
          char *out, size_t size)
{
	const char *e = s + n, *letters = exp ? "slodiphvcrt" : "slodiphv";
	char delim[8], val[MACRO_MAX + 1];
	size_t len = 0, dn;
	int tail = 0, keep, rev, letter, nd;
	long digits;

	for (; s < e; s++) {
		tail = 0;
		if (*s != '%') {
			if ((*s < 0x21 && !(exp && *s == ' ')) || *s > 0x7e)
				return -1;
			if (c && put(out, size, &len, s, 1))
				return -2;
			continue;
		}
		tail = 1;
		if (++s == e)
			return -1;
		if (*s == '%' || *s == '_' || *s == '-') {
			if (c && put(out, size, &len, *s == '%' ? "%" : *s == '_' ? " " : "%20",
			              *s == '-' ? 3 : 1))
				return -2;
			continue;
		}
		if (*s != '{' || ++s == e || !strchr(letters, tolower((unsigned char)*s)))
			return -1;
		letter = *s++;
		for (nd = 0, digits = 0; s < e && isdigit((unsigned char)*s); s++, nd++)
			digits = MIN(digits * 10 + *s - '0', 1000);
		if (nd && !digits)
			return -1;	/* 7.3: a DIGIT transformer is nonzero */
		keep = digits ? (int)digits : INT_MAX;
		if ((rev = (*s == 'r' || *s == 'R')))
			s++;
		for (dn = 0; s < e && strchr(".-+,/_=", *s) && *s; s++)
			if (dn < sizeof(delim) - 1 && !memchr(delim, *s, dn))
				delim[dn++] = *s;
		delim[dn] = '\0';
		if (s == e || *s != '}')
			return -1;
		if (!c)
			continue;
		if (spf_letter(c, tolower(letter), domain, val, sizeof(val)) ||
		    spf_transform(val, keep, rev, dn ? delim : ".", isupper(letter),
		                  out, size, &len))
			return -2;
	}
	if (!c)
		return tail;
	out[len] = '\0';
	return len;
}

/* The value of one macro letter (RFC 7208 7.3); -1 if it does not fit. */
static int
spf_letter(Check *c, int letter, const char *domain, char *val, size_t size)
{
	int n;

	switch (letter) {
	case 's':
		n = snprintf(val, size, "%s@%s", c->local, c->sdomain);
		break;
	case 'l':
		n = snprintf(val, size, "%s", c->local);
		break;
	case 'o':
		n = snprintf(val, size, "%s", c->sdomain);
		break;
	case 'd':
		n = snprintf(val, size, "%s", domain);
		break;
	case 'h':
		n = snprintf(val, size, "%s", c->helo);
		break;
	case 'i':
	case 'c':
		addr_text(&c->ip, letter, val, size);
		return 0;
	case 'v':
		n = snprintf(val, size, "%s", c->ip.v6 ? "ip6" : "in-addr");
		break;
	case 'p':
		return spf_validated(c, domain, val, size);
	case 'r':
		n = snprintf(val, size, "%s", receiver_host);
		break;
	case 't':
		n = snprintf(val, size, "%lld", (long long)time(NULL));
		break;
	default:
		return -1;
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * The target name of a term: its domain-spec expanded, or the current
 * domain.  RFC 7208 7.3: longer than 253 octets, labels are cut from the
 * left.  Returns 0, or -1 (permerror) when the expansion fails.
 */
static int
spf_target(Check *c, const char *arg, size_t arglen, const char *domain, char *out)
{
	static char buf[MACRO_MAX + 1];
	char *p = buf;
	int n;

	if (!arglen) {
		snprintf(out, DOMAIN_MAX + 2, "%s", domain);
		return 0;
	}
	if ((n = spf_macro(c, arg, arglen, domain, 0, buf, sizeof(buf))) < 0) {
		snprintf(c->why, sizeof(c->why), "Macro expansion failed: %.*s",
		         (int)MIN(arglen, 100), arg);
		return -1;
	}
	if (n && buf[n - 1] == '.')
		buf[--n] = '\0';
	while (n > DOMAIN_MAX && (p = strchr(p, '.'))) {
		p++;
		n = strlen(p);
	}
	if (!p || n > DOMAIN_MAX)
		out[0] = '\0';	/* one giant label: no such name */
	else
		memcpy(out, p, n + 1);
	return 0;
}

/* RFC 7208 4.6.4: count a DNS-querying term; -1 when over the limit. */
static int
spf_count(Check *c)
{
	if (++c->lookups <= max_dns_terms)
		return 0;
	snprintf(c->why, sizeof(c->why), "Too many DNS lookups");
	return -1;
}

/* RFC 7208 4.6.4: count a void term; -1 when over the limit. */
static int
spf_void(Check *c)
{
	if (++c->voids <= c->void_limit)
		return 0;
	snprintf(c->why, sizeof(c->why), "Void lookup limit of %d exceeded", c->void_limit);
	return -1;
}

/* Whether one of the addresses in a matches the client within the CIDR. */
static int
spf_addr_match(Check *c, const Answer *a, int cidr4, int cidr6)
{
	int i;

	for (i = 0; a->status == D_OK && i < a->n; i++)
		if (addr_inprefix(a->ip[i], c->ip.b, c->ip.v6 ? cidr6 : cidr4))
			return 1;
	return 0;
}

/*
 * RFC 7208 5.5: the client's validated domain names.  Looks up the PTR
 * names (the first max_ptr_names), then their addresses, concurrently.
 * Returns how many of names[] validated, -1 when the PTR lookup failed,
 * -2 when it was void.
 */
static int
spf_ptrnames(Check *c, char ***names)
{
	Answer ptr, *addr;
	char rev[80];
	int i, n, k;

	addr_text(&c->ip, 'r', rev, sizeof(rev));
	if (dns_lookup(c, rev, T_PTR, &ptr) == D_TEMP)
		return -1;
	if (ptr.status != D_OK)
		return -2;
	n = MIN(ptr.n, max_ptr_names);
	if (!(addr = aalloc(n * sizeof(*addr))))
		return -1;
	dns_lookup_many(c, ptr.s, n, c->ip.v6 ? T_AAAA : T_A, addr);
	for (k = i = 0; i < n; i++)	/* 5.5: lookup errors skip the name */
		if (spf_addr_match(c, &addr[i], 32, 128))
			ptr.s[k++] = ptr.s[i];
	*names = ptr.s;
	return k;
}

/* Whether name is domain or one of its subdomains, ignoring case. */
static int
spf_subdomain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n && name[n - 1] == '.')
		n--;
	if (d && domain[d - 1] == '.')
		d--;
	return n >= d && !casecmpn(name + n - d, domain, d) &&
	       (n == d || name[n - d - 1] == '.');
}

/* %{p}, RFC 7208 7.3: a validated name, the domain's own first. */
static int
spf_validated(Check *c, const char *domain, char *val, size_t size)
{
	char **names, *best;
	size_t mark = arena_used;
	int i, n;

	n = spf_ptrnames(c, &names);
	for (best = NULL, i = 0; !best && i < n; i++)
		if (!strcasecmp(names[i], domain))
			best = names[i];
	for (i = 0; !best && i < n; i++)
		if (spf_subdomain(names[i], domain))
			best = names[i];
	if (!best)
		best = n > 0 ? names[0] : "unknown";
	n = snprintf(val, size, "%s", best);
	arena_used = mark;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * The addresses of names (a, mx) against the client.  RFC 7208 4.6.4:
 * a term whose lookups all came back empty is one void lookup.
 */
static int
spf_addrs(Check *c, char **names, int n, int cidr4, int cidr6)
{
	Answer *a;
	int i, voids = 0;

	if (!(a = aalloc(n * sizeof(*a))))
		return ERR_TEMP;
	dns_lookup_many(c, names, n, c->ip.v6 ? T_AAAA : T_A, a);
	for (i = 0; i < n; i++)
		if (spf_addr_match(c, &a[i], cidr4, cidr6))
			return MATCH;
	for (i = 0; i < n; i++) {
		if (a[i].status == D_TEMP) {
			snprintf(c->why, sizeof(c->why), "DNS %s: %s", a[i].err, names[i]);
			return ERR_TEMP;
		}
		voids += a[i].status != D_OK;
	}
	if (voids == n && spf_void(c))
		return ERR_PERM;
	return NOMATCH;
}

/* RFC 7208 5: whether one mechanism matches. */
static int
spf_mech(Check *c, const Term *t, const char *domain, int depth)
{
	char target[DOMAIN_MAX + 2], **names;
	Answer a;
	int i, n;

	switch (t->mech) {
	case M_ALL:
		return MATCH;
	case M_IP4:
		return !c->ip.v6 && addr_inprefix(c->ip.b, t->ip, t->cidr4) ? MATCH : NOMATCH;
	case M_IP6:
		return c->ip.v6 && addr_inprefix(c->ip.b, t->ip, t->cidr6) ? MATCH : NOMATCH;
	}
	if (spf_count(c) || spf_target(c, t->arg, t->arglen, domain, target))
		return ERR_PERM;
	switch (t->mech) {
	case M_INCLUDE:	/* 5.2: the table of include results */
		switch (spf_check_host(c, target, depth + 1, 0)) {
		case R_PASS:
			return MATCH;
		case R_TEMPERROR:
			return ERR_TEMP;
		case R_NONE:
			snprintf(c->why, sizeof(c->why), "No SPF record for included domain: %s", target);
			/* fallthrough */
		case R_PERMERROR:
			return ERR_PERM;
		default:
			return NOMATCH;
		}
	case M_A:
		names = (char *[]){ target };
		return spf_addrs(c, names, 1, t->cidr4, t->cidr6);
	case M_MX:	/* 5.4 */
		if ((n = dns_lookup(c, target, T_MX, &a)) == D_TEMP)
			break;
		if (n != D_OK)
			return spf_void(c) ? ERR_PERM : NOMATCH;
		if (a.n > max_mx_names) {
			snprintf(c->why, sizeof(c->why), "Too many MX lookups");
			return ERR_PERM;
		}
		for (n = i = 0; i < a.n; i++)	/* RFC 7505 null MX: no host */
			if (*a.s[i])
				a.s[n++] = a.s[i];
		return n ? spf_addrs(c, a.s, n, t->cidr4, t->cidr6) : NOMATCH;
	case M_PTR:	/* 5.5: a failed PTR lookup is no match */
		if ((n = spf_ptrnames(c, &names)) == -2)
			return spf_void(c) ? ERR_PERM : NOMATCH;
		for (i = 0; i < n; i++)
			if (spf_subdomain(names[i], target))
				return MATCH;
		return NOMATCH;
	case M_EXISTS:	/* 5.7: always an A query */
		if ((n = dns_lookup(c, target, T_A, &a)) == D_TEMP)
			break;
		if (n != D_OK)
			return spf_void(c) ? ERR_PERM : NOMATCH;
		return MATCH;
	}
	snprintf(c->why, sizeof(c->why), "DNS %s: %s", a.err, target);
	return ERR_TEMP;
}

/*
 * RFC 7208 6.2: the explanation of a fail.  Any problem fetching or
 * expanding it leaves c->exp empty, and the default is used.
 */
static void
spf_explain(Check *c, const char *arg, size_t arglen, const char *domain)
{
	static char buf[MACRO_MAX + 1];
	char target[DOMAIN_MAX + 2], why[sizeof(c->why)];
	Answer a;
	size_t i;
	int n;

	c->exp[0] = '\0';
	memcpy(why, c->why, sizeof(why));	/* a failed exp= is no error */
	if (spf_target(c, arg, arglen, domain, target) ||
	    dns_lookup(c, target, T_TXT, &a) != D_OK || a.n != 1 ||
	    (n = spf_macro(c, a.s[0], a.len[0], domain, 1, buf, sizeof(buf))) < 0) {
		memcpy(c->why, why, sizeof(why));
		return;
	}
	/* never let DNS text put a line break or a control into a reply */
	for (i = 0; i < (size_t)n && i < sizeof(c->exp) - 1; i++)
		c->exp[i] = buf[i] < ' ' || buf[i] > '~' ? '?' : buf[i];
	c->exp[i] = '\0';
}

/*
 * RFC 7208 4.4, 4.5: fetch the domain's one SPF record.  Returns -1 with
 * the record in *rec, or the result that ends the check here.
 */
static int
spf_record(Check *c, const char *domain, int depth, const char **rec, size_t *len)
{
	Answer a;
	size_t j;
	int i, found = 0;

	switch (dns_lookup(c, domain, T_TXT, &a)) {
	case D_TEMP:
		snprintf(c->why, sizeof(c->why), "DNS %s: %s", a.err, domain);
		return R_TEMPERROR;
	case D_NXDOMAIN:
	case D_NODATA:	/* an include or redirect target: a void lookup */
		return depth && spf_void(c) ? R_PERMERROR : R_NONE;
	}
	for (i = 0; i < a.n; i++) {
		if (!spf_is_record(a.s[i], a.len[i]))
			continue;
		if (found++) {
			snprintf(c->why, sizeof(c->why), "Two or more type TXT spf records found.");
			return R_PERMERROR;
		}
		*rec = a.s[i];
		*len = a.len[i];
	}
	if (!found)
		return R_NONE;
	for (j = 0; j < *len; j++) {
		if ((*rec)[j] < ' ' || (*rec)[j] > '~') {
			snprintf(c->why, sizeof(c->why), "Non-ascii characters found in SPF record");
			return R_PERMERROR;
		}
	}
	return -1;
}

/* The next space-separated token after *p in [*p, e); NULL at the end. */
static const char *
spf_token(const char **p, const char *e, size_t *len)
{
	const char *s = *p, *t;

	while (s < e && *s == ' ')
		s++;
	if (s == e)
		return NULL;
	for (t = s; t < e && *t != ' '; t++)
		;
	*len = t - s;
	*p = t;
	return s;
}

/* "redirect" or "exp" for those modifiers (any case), else NULL. */
static const char *
spf_modifier(const Term *t)
{
	if (t->namelen == 8 && !casecmpn(t->name, "redirect", 8))
		return "redirect";
	if (t->namelen == 3 && !casecmpn(t->name, "exp", 3))
		return "exp";
	return NULL;
}

/* check_host(), RFC 7208 4: the result for one domain. */
static int
spf_check_host(Check *c, const char *domain, int depth, int wantexp)
{
	static const int qual[128] = {
		['+'] = R_PASS, ['-'] = R_FAIL, ['~'] = R_SOFTFAIL, ['?'] = R_NEUTRAL
	};
	const char *rec, *p, *e, *tok, *redir = NULL, *exp = NULL;
	char target[DOMAIN_MAX + 2];
	size_t mark = arena_used, len, rlen = 0, elen = 0;
	const char *err, *mod;
	Term t;
	int r, hasall = 0;

	if ((r = spf_record(c, domain, depth, &rec, &len)) >= 0)
		goto done;
	/* 4.6: any syntax error anywhere is a permerror, before any lookup */
	for (e = rec + len, p = rec + 6; (tok = spf_token(&p, e, &len)); ) {
		if ((err = spf_term(tok, len, &t))) {
			snprintf(c->why, sizeof(c->why), "%s: %.*s", err, (int)MIN(len, 100), tok);
			r = R_PERMERROR;
			goto done;
		}
		hasall |= t.mech == M_ALL;
		if (t.mech != M_MOD || !(mod = spf_modifier(&t)))
			continue;
		if (*mod == 'r' ? redir != NULL : exp != NULL) {
			snprintf(c->why, sizeof(c->why), "Duplicate %s modifier", mod);
			r = R_PERMERROR;
			goto done;
		}
		if (*mod == 'r') {
			redir = t.arg;
			rlen = t.arglen;
		} else {
			exp = t.arg;
			elen = t.arglen;
		}
	}
	for (p = rec + 6; (tok = spf_token(&p, e, &len)); ) {
		spf_term(tok, len, &t);
		if (t.mech == M_MOD)
			continue;
		switch (spf_mech(c, &t, domain, depth)) {
		case ERR_TEMP:
			r = R_TEMPERROR;
			goto done;
		case ERR_PERM:
			r = R_PERMERROR;
			goto done;
		case MATCH:
			r = qual[t.qual];
			goto done;
		}
	}
	r = R_NEUTRAL;
	if (redir && !hasall) {	/* 6.1 */
		if (spf_count(c) || spf_target(c, redir, rlen, domain, target)) {
			r = R_PERMERROR;
			goto done;
		}
		if ((r = spf_check_host(c, target, depth + 1, wantexp)) == R_NONE) {
			snprintf(c->why, sizeof(c->why), "redirect domain has no SPF record: %s", target);
			r = R_PERMERROR;
		}
		arena_used = mark;
		return r;	/* the explanation, if any, is the target's */
	}
done:	/* pyspf explains a softfail too; pypolicyd-spf shows it */
	if ((r == R_FAIL || r == R_SOFTFAIL) && wantexp && exp)
		spf_explain(c, exp, elen, domain);
	arena_used = mark;
	return r;
}

/*
 * Evaluate one identity (RFC 7208 2.3, 2.4, 4.3): MAIL FROM, or
 * postmaster@helo for I_HELO and for the null sender.  Resets the arena.
 */
static int
spf_check(const Conf *cf, const Addr *ip, const char *sender, const char *helo,
          int ident, Check *c)
{
	static char local[LINE_MAX_LEN];
	const char *at, *domain;
	size_t n, dl;
	int r;

	memset(c, 0, sizeof(*c));
	arena_used = 0;
	c->ip = *ip;
	c->helo = helo;
	c->void_limit = cf->void_limit;
	c->deadline = cf->lookup_time > 0 ? now_ms() + cf->lookup_time * 1000LL : 0;
	c->local = "postmaster";	/* 4.3: no local-part */
	domain = helo;
	if (ident == I_MAILFROM && *sender) {
		domain = sender;
		if ((at = strrchr(sender, '@'))) {
			domain = at + 1;
			if ((n = at - sender) && n < sizeof(local)) {
				memcpy(local, sender, n);
				local[n] = '\0';
				c->local = local;
			}
		}
	}
	c->sdomain = domain;
	/* 4.3: malformed, single-label or literal: none, without a lookup */
	dl = strlen(domain);
	if (!spf_domain_ok(domain) || !strchr(domain, '.') || domain[dl - 1] == '.' ||
	    *domain == '[')
		return R_NONE;
	r = spf_check_host(c, domain, 0, 1);
	if (r == R_FAIL && !*c->exp)
		snprintf(c->exp, sizeof(c->exp), "%s", cf->default_exp);
	return r;
}

/* config */

enum { K_STR, K_INT, K_BOOL, K_IGNORED };

#define KEY(name, type, field)	{ name, type, offsetof(Conf, field) }
static const struct {
	const char *name;	/* case-sensitive, as pypolicyd-spf reads it */
	int type;
	size_t off;
} conf_keys[] = {
	KEY("debugLevel", K_INT, debug),
	KEY("HELO_reject", K_STR, helo_reject),
	KEY("Mail_From_reject", K_STR, mfrom_reject),
	KEY("PermError_reject", K_STR, permerror_reject),
	KEY("TempError_Defer", K_STR, temperror_defer),
	KEY("skip_addresses", K_STR, skip_addresses),
	KEY("Whitelist", K_STR, whitelist),
	KEY("Domain_Whitelist", K_STR, domain_whitelist),
	KEY("HELO_Whitelist", K_STR, helo_whitelist),
	KEY("Domain_Whitelist_PTR", K_STR, domain_whitelist_ptr),
	KEY("Reject_Not_Pass_Domains", K_STR, reject_not_pass),
	KEY("No_Mail", K_STR, no_mail),
	KEY("HELO_pass_restriction", K_STR, helo_pass_restriction),
	KEY("Mail_From_pass_restriction", K_STR, mfrom_pass_restriction),
	KEY("Prospective", K_STR, prospective),
	KEY("TestOnly", K_INT, test_only),
	KEY("SPF_Enhanced_Status_Codes", K_STR, enhanced_codes),
	KEY("Header_Type", K_STR, header_type),
	KEY("Hide_Receiver", K_STR, hide_receiver),
	KEY("Authserv_Id", K_STR, authserv_id),
	KEY("Lookup_Time", K_INT, lookup_time),
	KEY("Whitelist_Lookup_Time", K_INT, whitelist_lookup_time),
	KEY("Void_Limit", K_INT, void_limit),
	KEY("Reason_Message", K_STR, reason_message),
	KEY("Mock", K_BOOL, mock),
	KEY("Per_User", K_STR, per_user),
	KEY("Nameservers", K_STR, nameservers),
	KEY("Default_Explanation", K_STR, default_exp),
	KEY("Explanation_URL", K_STR, why_url),
	KEY("Receiver_Domain", K_STR, receiver_domain),
	KEY("DNS_Timeout_ms", K_INT, dns_timeout_ms),
	KEY("DNS_Tries", K_INT, dns_tries),
	/* accepted: deprecated, or for the milter front end only */
	{ "defaultSeedOnly", K_IGNORED, 0 }, { "Socket", K_IGNORED, 0 },
	{ "PidFile", K_IGNORED, 0 }, { "UserID", K_IGNORED, 0 },
	{ "UMask", K_IGNORED, 0 }, { "InternalHosts", K_IGNORED, 0 },
	{ "IntHosts", K_IGNORED, 0 }, { "MacroList", K_IGNORED, 0 },
};

static const struct {	/* the range of each integer key */
	const char *name;
	long min, max;
} conf_ranges[] = {
	{ "debugLevel", -1, 5 }, { "TestOnly", LONG_MIN / 2, LONG_MAX / 2 },
	{ "Lookup_Time", 0, 3600 }, { "Whitelist_Lookup_Time", 0, 3600 },
	{ "Void_Limit", 0, 1000 }, { "DNS_Timeout_ms", 1, 60000 },
	{ "DNS_Tries", 1, 10 },
};

/* A boolean as a person writes it: False, No, Off, 0 and empty are off. */
static int
conf_bool(const char *v)
{
	static const char *const off[] = { "", "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < LEN(off); i++)
		if (!strcasecmp(v, off[i]))
			return 0;
	return 1;
}

/* One "name = value" line; returns the number of problems (logged). */
static int
conf_line(Conf *cf, char *line, const char *path)
{
	char *name, *val, *eq;
	size_t i, j;
	long v;

	if ((eq = strchr(line, '#')))
		*eq = '\0';
	if (!*(line = strip(line)) || !(eq = strchr(line, '=')))
		return 0;
	*eq = '\0';
	name = strip(line);
	val = strip(eq + 1);	/* a value may hold '=' (a deviation) */
	for (i = 0; i < LEN(conf_keys) && strcmp(conf_keys[i].name, name); i++)
		;
	if (i == LEN(conf_keys)) {
		logmsg(LOG_ERR, "ERROR: Unknown name \"%s\" in file \"%s\"", name, path);
		return 1;
	}
	switch (conf_keys[i].type) {
	case K_STR:
		if (!(val = strdup(val)))
			die("out of memory");
		*(char **)((char *)cf + conf_keys[i].off) = val;
		return 0;
	case K_BOOL:
		*(int *)((char *)cf + conf_keys[i].off) = conf_bool(val);
		return 0;
	case K_INT:
		for (j = 0; j < LEN(conf_ranges) && strcmp(conf_ranges[j].name, name); j++)
			;
		if (num(val, conf_ranges[j].min, conf_ranges[j].max, &v)) {
			logmsg(LOG_ERR, "ERROR: %s = \"%s\" in file \"%s\": not an integer in %ld..%ld, "
			       "keeping %d", name, val, path, conf_ranges[j].min, conf_ranges[j].max,
			       *(int *)((char *)cf + conf_keys[i].off));
			return 1;
		}
		*(int *)((char *)cf + conf_keys[i].off) = v;
		return 0;
	}
	return 0;
}

/*
 * Read a pypolicyd-spf config file over the defaults.  A missing file
 * leaves the defaults, as pypolicyd-spf does.  Returns the number of
 * problems, each logged.
 */
static int
conf_read(const char *path, Conf *cf)
{
	char line[CONF_LINE_MAX], host[256];
	struct stat st;
	FILE *fp;
	int bad = 0, c;

	*cf = conf_default;
	if (stat(path, &st)) {
		logmsg(LOG_ERR, "ERROR stating \"%s\": %s", path, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		logmsg(LOG_ERR, "ERROR: is not a file: \"%s\", mode=0o%o", path, (unsigned)st.st_mode);
		return 1;
	}
	if (!(fp = fopen(path, "r"))) {
		logmsg(LOG_ERR, "ERROR opening \"%s\": %s", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), fp)) {
		if (!strchr(line, '\n') && !feof(fp)) {
			logmsg(LOG_ERR, "ERROR: line longer than %d bytes in file \"%s\"",
			       CONF_LINE_MAX - 2, path);
			while ((c = getc(fp)) != EOF && c != '\n')
				;
			bad++;
			continue;
		}
		bad += conf_line(cf, line, path);
	}
	fclose(fp);
	if (!strcmp(cf->authserv_id, "HOSTNAME") && !gethostname(host, sizeof(host))) {
		host[sizeof(host) - 1] = '\0';
		if (!(cf->authserv_id = strdup(host)))
			die("out of memory");
	}
	return bad;
}

/* policy */

static const char *const result_cap[NUM_RESULTS] = {	/* as pypolicyd-spf writes them */
	[R_NONE] = "None", [R_NEUTRAL] = "Neutral", [R_PASS] = "Pass",
	[R_FAIL] = "Fail", [R_SOFTFAIL] = "Softfail",
	[R_TEMPERROR] = "Temperror", [R_PERMERROR] = "Permerror",
};

/* The reason pyspf gives for a result (pypolicyd-spf's {spf} and comments). */
static void
pol_reason(int r, const Check *c, char *buf, size_t size)
{
	switch (r) {
	case R_PASS:
		snprintf(buf, size, "sender SPF authorized");
		break;
	case R_FAIL:
		snprintf(buf, size, "%s", c->exp);
		break;
	case R_SOFTFAIL:
		snprintf(buf, size, "%s", *c->exp ? c->exp : "domain owner discourages use of this host");
		break;
	case R_NEUTRAL:
		snprintf(buf, size, "access neither permitted nor denied");
		break;
	case R_NONE:
		snprintf(buf, size, "no SPF record");
		break;
	case R_PERMERROR:
		snprintf(buf, size, "SPF Permanent Error: %s", c->why);
		break;
	case R_TEMPERROR:
		snprintf(buf, size, "SPF Temporary Error: %s", c->why);
		break;
	}
}

/* The Received-SPF header pypolicyd-spf prepends, trailing space included. */
static void
pol_received_spf(int r, int ident, const Check *c, const char *ip, const char *helo,
                 const char *sender, const char *receiver, char *buf, size_t size)
{
	char reason[EXP_MAX + 300];

	if (ident == I_MAILFROM) {
		snprintf(buf, size, "Received-SPF: %s (mailfrom) identity=mailfrom; client-ip=%s; "
		         "helo=%s; envelope-from=%s; receiver=%s ",
		         result_cap[r], ip, helo, sender, receiver);
		return;
	}
	pol_reason(r, c, reason, sizeof(reason));
	snprintf(buf, size, "Received-SPF: %s (%s) identity=helo; client-ip=%s; "
	         "helo=%s; envelope-from=%s; receiver=%s ",
	         result_cap[r], reason, ip, helo, *sender ? sender : "<>", receiver);
}

/* modes */

/* -q: evaluate once and print result, explanation, header. */
static int
mode_query(const Conf *cf, const char *ipstr, const char *sender, const char *helo)
{
	static const int status[NUM_RESULTS] = {	/* documented in spfpolicy.8 */
		[R_PASS] = 0, [R_FAIL] = 1, [R_SOFTFAIL] = 2, [R_NEUTRAL] = 3,
		[R_NONE] = 4, [R_PERMERROR] = 5, [R_TEMPERROR] = 6,
	};
	char header[2048];
	Check c;
	Addr ip;
	int r, ident = *sender ? I_MAILFROM : I_HELO;

	if (addr_parse(ipstr, &ip)) {
		logmsg(LOG_ERR, "not an IP address: %s", ipstr);
		return 64;
	}
	r = spf_check(cf, &ip, sender, helo, ident, &c);
	pol_received_spf(r, ident, &c, ipstr, helo, sender, "none", header, sizeof(header));
	printf("%s\n%s\n%s\n", result_name[r], r == R_FAIL ? c.exp : "", header);
	return fflush(stdout) ? 70 : status[r];
}

static void
usage(void)
{
	fputs("usage: spfpolicy [config]\n"
	      "       spfpolicy -q [-c config] [-n nameservers] ip sender helo\n"
	      "       spfpolicy -t config\n"
	      "       spfpolicy -V\n", stderr);
	exit(64);
}

int
main(int argc, char *argv[])
{
	const char *conffile = NULL, *ns = NULL, *ident;
	char host[256];
	Conf cf;
	int ch, query = 0, check = 0, bad;

	ident = (ident = strrchr(argv[0] ? argv[0] : "", '/')) ? ident + 1 : argv[0];
	if (!ident || !*ident)
		ident = log_ident;
	opterr = 0;
	while ((ch = getopt(argc, argv, "Vqc:n:t")) != -1) {
		switch (ch) {
		case 'V':
			printf("spfpolicy %s (c-ares %s)\n", VERSION, ares_version(NULL));
			return 0;
		case 'q':
			query = 1;
			break;
		case 'c':
			conffile = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 't':
			check = 1;
			break;
		default:
			log_stderr = isatty(2);
			if (!log_stderr) {
				openlog(ident, LOG_PID, LOG_MAIL);
				logmsg(LOG_ERR, "unknown option -%c", optopt);
				return 64;
			}
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (query || check) {
		log_stderr = 1;
		if (check && argc == 1)
			conffile = argv[0];
		else if ((query && argc != 3) || (check && argc != 0))
			usage();
	} else {
		openlog(ident, LOG_PID, LOG_MAIL);
		conffile = argc > 0 ? argv[0] : default_config;
	}
	cf = conf_default;
	bad = conffile ? conf_read(conffile, &cf) : 0;
	if (ns)
		cf.nameservers = (char *)ns;
	if (check)
		return bad ? 1 : 0;
	if (*cf.receiver_domain)
		receiver_host = cf.receiver_domain;
	else if (!gethostname(host, sizeof(host)))
		receiver_host = (host[sizeof(host) - 1] = '\0', host);
	if (dns_init(&cf))
		return 70;
	if (query)
		return mode_query(&cf, argv[0], argv[1], argv[2]);
	return 0;
}
