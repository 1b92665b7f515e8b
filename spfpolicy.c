/* See LICENSE file for copyright and license details.
 *
 * spfpolicy is a Postfix SMTP access policy server for SPF (RFC 7208), a
 * drop-in replacement for pypolicyd-spf: same config file, same answers.
 *
 * The file reads top to bottom, in sections.  Each opens with what it
 * offers and what it owns, then its own state, and calls only into the
 * sections above it (tests/map.sh checks that, and this list):
 *
 *   util       logging (stderr, and our own syslog writer), -v's trace,
 *              the clock, the request arena, a bounded write buffer
 *   names      domain names and comma lists, as several sections read them
 *   addresses  client addresses and their text forms
 *   networks   network lists: skip_addresses, Whitelist, Listen_Allow
 *   idn        U-labels (SMTPUTF8 mail) to A-labels, RFC 8616
 *   wire       DNS messages read through a cursor with a sticky error
 *   cache      DNS answers kept for their TTL, in a small fixed table
 *   dns        questions encoded here and carried by c-ares (one
 *              channel for the process's life: its IDs, ports, retries,
 *              TCP, cookies, server failover), answers parsed here; a
 *              lookup is given a deadline and nothing else of its caller
 *   spf        check_host(), RFC 7208: a record is parsed once into
 *              Terms that the syntax check and the evaluation share (and
 *              kept while its DNS answer is cached); mechanisms go through
 *              the table mechs[]
 *   config     the config file compiled once into a typed Conf, through
 *              the one key table keys[] of config.def.h (defaults too)
 *              and the key types' table keyrules[]: enums, flags, network
 *              and domain lists, and templates (Reason_Message) cut into
 *              literal text and fields
 *   policy     pypolicyd-spf's decisions and texts, on one request context
 *   input      the policy protocol, read
 *   modes      spawn (the default) and -q
 *   listener   -l: a socket, a child per connection, turns when full
 *   main       the command line, -t, main()
 *
 * The main types: Conf (the configuration in force; a Per_User line is
 * compiled over a copy, for one request), Request (the attributes used),
 * Ctx (a request on its way to its reply: the Conf in force, the client,
 * both identities' Verdicts, the Outcome), Check (one check_host()
 * evaluation), Record and Term (a parsed record), Query and Answer (a
 * lookup), Slot (a listener's child, in shared memory).
 *
 * One request: in_request() reads it and mode_spawn() hands it to
 * pol_request(), which starts it with pol_begin() (the one place: the
 * arena emptied, the parsed records flushed when their pool filled, the
 * Ctx set), picks the Conf in force (pol_peruser) and has pol_decide()
 * take pypolicyd-spf's steps: the answer already given to the message,
 * the skip and whitelist checks, then pol_identities(): the HELO, then
 * the MAIL FROM identity, each through pol_ident(), spf_check() and
 * spf_check_host() down to dns_lookup().  The Outcome is remembered for
 * the message (pol_remember: the one place), and pol_answer() applies
 * TestOnly, Prospective and Header_Type, logs and writes the reply.
 *
 * Nothing a stranger sends can make it recurse, loop or allocate without
 * a bound: the limits on what comes in are in config.def.h.  In listener mode
 * each connection gets a child process that runs the same loop as spawn
 * mode; the children tell the listener in shared memory whether they are
 * idle, reading or answering, so that a full house can make room, and
 * clients beyond it take turns.
 *
 * main() comes last.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <wctype.h>

#define CARES_NO_DEPRECATED	/* ares_send, ares_get_servers_ports: all that 1.18 offers */
#include <ares.h>

#include "spfpolicy.h"

/* macros */
#define LEN(a)		(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define LOWER(c)	((c) >= 'A' && (c) <= 'Z' ? (c) | 0x20 : (c))	/* ASCII only */
#define SPACE(c)	((c) == ' ' || (unsigned)((c) - '\t') < 5)	/* isspace(), C locale */

/* the one place a query leaves, through c-ares; the fuzzers put a fake DNS here */
#ifndef DNS_SEND
#define DNS_SEND(q)	dns_cares(q)
#endif

/* configuration: limits used by the types below, and the defaults */
#include "config.h"
#include "idna.h"	/* Unicode tables of idn_ascii(): tests/idn/mktab.py */

enum {	/* exit statuses, as spfpolicy.8 lists them; -q adds the result's, 0 to 6 */
	EXIT_PROBLEMS = 1,	/* -t: the configuration has a problem */
	EXIT_USAGE = 64,	/* sysexits.h's: a usage error, -q's ip no address */
	EXIT_INTERNAL = 70,	/* EX_SOFTWARE: no resolver, output not written */
	EXIT_FATAL = 111	/* a fatal error at start-up, logged */
};

enum LogTo {	/* where log lines go (log_open) */
	TO_STDERR = 1,	/* -q, -t, -d, or a terminal on stderr */
	TO_SYSLOG = 2,	/* spawn and listener modes */
	TO_TAGGED = 4	/* listener: stderr lines say ident[pid], and take what
			   syslog could not (a container) */
};

enum DnsStatus {	/* how a lookup ended */
	D_OK,		/* records of the asked type */
	D_NXDOMAIN,	/* RCODE 3 */
	D_NODATA,	/* RCODE 0 and nothing of the type */
	D_TEMP,		/* anything else: timeout, SERVFAIL, garbage */
	NUM_DNSSTATUS
};

enum {	/* RR types, RFC 1035 3.2.2, RFC 3596 */
	T_A = 1, T_CNAME = 5, T_SOA = 6, T_PTR = 12, T_MX = 15, T_TXT = 16, T_AAAA = 28
};

enum Mech {	/* RFC 7208 5; M_MOD is any modifier */
	M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS,
	M_MOD, NUM_MECHS
};

enum Match {	/* the outcome of one mechanism, RFC 7208 4.6.2 */
	MATCH, NOMATCH, ERR_TEMP, ERR_PERM
};

enum {	/* what may follow a mechanism's name */
	ARG_NONE,	/* nothing: all */
	ARG_DOMAIN,	/* maybe ":domain-spec" */
	ARG_NEED,	/* ":domain-spec" */
	ARG_IP4, ARG_IP6
};

enum {	/* the CIDR lengths a mechanism may end in */
	CIDR_DUAL = 1,	/* "/n", "//m", "/n//m" */
	CIDR4,		/* "/n" of 32 */
	CIDR6		/* "/n" of 128 */
};

typedef struct {	/* one DNS answer, parsed into the arena */
	int status;
	int type;
	int n;			/* records in s/len or ip */
	char **s;		/* TXT (strings joined), MX/PTR names */
	size_t *len;		/* TXT lengths */
	unsigned char (*ip)[16];/* A/AAAA */
	unsigned ttl;		/* smallest TTL seen */
	size_t first;		/* TXT: length of the first string of s[0] */
	const char *err;	/* D_TEMP: why */
	long long ms;		/* -v: when it came, how long it took */
	int cached;		/* -v: from the cache */
	int tries;		/* -v: tries that timed out or answered */
	int tcp;		/* -v: it came over TCP (c-ares 1.29 and later tell) */
	struct CacheEntry *entry;	/* where the cache keeps it, while gen */
	unsigned gen;		/*   is the entry's: spf_parsed() */
} Answer;

typedef struct CacheEntry {	/* a DNS answer kept for its TTL, as it came */
	unsigned gen;		/* a new answer here, a new number */
	int rec;		/* TXT: its SPF record, parsed: rcache[rec - 1]; 0: not yet */
	char name[DNS_NAME_MAX + 1];
	unsigned hash;		/* of name, any case: most misses compare no text */
	int type;
	int status;		/* ARES_SUCCESS, ARES_ENODATA, ARES_ENOTFOUND */
	long long expires;	/* ms, monotonic */
	int len;
	unsigned char pkt[DNS_CACHE_PKT];
} CacheEntry;

typedef struct {	/* a fan-out that may stop at the first answer that matches */
	const Addr *ip;		/* an address within cidr4/cidr6 of this */
	int cidr4, cidr6;
	const char *domain;	/* if set: and the name asked under this domain */
} Enough;

typedef struct {	/* a bounded write buffer: a write that does not fit sets err and
			   writes nothing, and every write after it is a no-op; room is
			   kept for a NUL */
	char *p;
	size_t size, len;
	int err;
} Buf;

typedef struct {	/* one term of a record, parsed once (RFC 7208 4.6.1) */
	const char *tok;	/* its text in the record */
	unsigned short len;	/* records are shorter than a DNS message */
	unsigned char mech;	/* enum Mech */
	unsigned char qual;	/* '+' '-' '~' '?' */
	unsigned char cidr4, cidr6;
	union {
		struct {	/* domain-spec or macro-string at tok + off; */
			unsigned short off, len;	/* a modifier's name before it */
		} arg;
		unsigned char ip[16];	/* ip4, ip6 */
	} u;
} Term;

typedef struct {	/* a record, parsed: what both the syntax check and the evaluation use */
	Term *t;		/* its terms, in order */
	int n;
	int redirect, exp;	/* those modifiers' terms in t[], or -1 */
	int hasall;
} Record;

enum { PTR_FAILED = -1, PTR_VOID = -2 };	/* Ptrs.n: the PTR lookup failed, was void */
typedef struct {	/* the client's validated PTR names, RFC 7208 5.5 */
	int done;		/* n and name[] are set */
	int n;			/* the names in name[]; or PTR_FAILED, PTR_VOID */
	char name[MAX_PTR_NAMES][DNS_NAME_MAX + 1];
} Ptrs;

typedef struct {	/* one check_host() evaluation, RFC 7208 4 */
	Addr ip;		/* client, IPv4-mapped folded to IPv4 */
	const char *local;	/* %{l} */
	const char *sdomain;	/* %{o} */
	const char *helo;	/* %{h} */
	const char *receiver;	/* %{r} */
	int lookups;		/* DNS-querying terms, 4.6.4 */
	int voids;		/* void lookups, 4.6.4 */
	int void_limit;
	long long deadline;	/* ms, monotonic; 0: LOOKUP_FALLBACK_MS per query */
	int nomail;		/* first TXT string is "v=spf1 -all" (No_Mail) */
	Ptrs ptr;
	char localbuf[LINE_MAX_LEN];	/* the local-part of the sender */
	char adomain[DNS_NAME_MAX + 1];	/* the domain as an A-label */
	char ahelo[DNS_NAME_MAX + 1];	/* the HELO name as an A-label */
	char exp[EXP_MAX];	/* explanation of a fail */
	char why[WHY_MAX];	/* detail of a permerror/temperror */
} Check;

enum Act {	/* what a request gets; A_NONE is pypolicyd-spf's None: dunno */
	A_NONE, A_DUNNO, A_PREPEND, A_REJECT, A_DEFER, A_RESULT_ONLY,
	A_ERROR,	/* ours: Error_Action, for what pypolicyd-spf dies on */
	NUM_ACTS
};

enum Attr {	/* the request attributes used; the rest are ignored */
	AT_CLIENT, AT_HELO, AT_SENDER, AT_RECIPIENT, AT_INSTANCE, AT_QUEUEID,
	NUM_ATTRS
};

typedef struct {
	char v[NUM_ATTRS][LINE_MAX_LEN + 1];
	int has[NUM_ATTRS];
	int bad;		/* a line was too long or held a NUL */
} Request;

typedef struct {	/* one identity's evaluation, as the policy sees it */
	int r;
	int act;
	char exp[EXP_MAX];
	char reason[EXP_MAX + 600];
	char header[REPLY_MAX];
	int nomail;
} Verdict;

typedef struct {	/* the decision for a request */
	int act;
	char text[REPLY_MAX];
	int iserror;		/* 550 5.7.24 instead of 5.7.23 */
	int mact;		/* what the instance memory gets, */
	const char *mtext;	/* NULL: nothing */
} Outcome;

typedef struct {	/* one request on its way to a reply */
	Request *rq;
	const Conf *cf;		/* in force: the file's, or user */
	Conf user;		/* the file's with the recipient's Per_User line */
	const char *inst;	/* the instance to remember; "": none */
	const char *ipstr;	/* Prospective, else client_address */
	Addr ip, raw;		/* the client: IPv4-mapped folded (RFC 7208 5), and as sent */
	const char *sender, *helo, *rcpt;
	Verdict id[NUM_IDENTS];
	Outcome o;
	char url[REPLY_MAX];	/* Explanation_URL, for Reason_Message */
} Ctx;

enum SlotState {	/* a listener child, as the listener sees it */
	S_FREE, S_IDLE, S_READ, S_BUSY
};

enum Evict {	/* why the listener asked a child to go (Slot.evicted) */
	E_NO,
	E_NOW,	/* idle, or a stalled partial request: go unless more is coming */
	E_TURN	/* in use: go at the next request boundary (issue 22) */
};

typedef struct {	/* one connection's child, in memory it shares with the listener */
	volatile pid_t pid;
	volatile int state;		/* SlotState, written by the child */
	volatile long long since;	/* ms: when the state began */
	volatile int requests;		/* taken so far, written by the child */
	long long start;		/* ms: when the connection got its slot */
	volatile int evicted;		/* Evict, written by the listener */
} Slot;

static const char *const result_name[NUM_RESULTS] = {	/* RFC 7208 2.6 */
	[R_NONE] = "none", [R_NEUTRAL] = "neutral", [R_PASS] = "pass",
	[R_FAIL] = "fail", [R_SOFTFAIL] = "softfail",
	[R_TEMPERROR] = "temperror", [R_PERMERROR] = "permerror",
};

/* util */

/*
 * Offers: logmsg() and die() (syslog through our own writer; stderr in
 * the modes that own it, log_open), trace() for -q -v, now_ms(),
 * harden(), the request arena (aalloc, arena_mark and arena_release),
 * num(), case-blind comparison, join(), strip(), and Buf, a bounded write
 * buffer with a sticky error (buf_put, buf_fill).
 * Owns: where log lines go and the syslog socket, the trace's depth, the
 * arena.
 */

static struct {		/* log_send(): our syslog(3) */
	const char *ident;
	pid_t pid;
	int fd;			/* -1: no socket yet */
	int up;			/* connected */
	time_t retry;		/* not up: connect again from then on */
	time_t sec;		/* the second head is of */
	char head[SYSLOG_MAX / 2];	/* "Mmm dd hh:mm:ss ident[pid]: " */
} syslg = { .fd = -1 };
static int log_to;		/* enum LogTo */
static int verbose;		/* -q -v: the evaluation as a tree on stderr */
static int trace_depth;
static char arena[ARENA_SIZE];	/* per request; untouched pages cost no memory */
static size_t arena_used;

/*
 * One line to syslog, as musl's syslog(3) writes it with LOG_PID and
 * LOG_MAIL: "<PRI>Mmm dd hh:mm:ss ident[pid]: text\n" (UTC), at most
 * SYSLOG_MAX bytes, to /dev/log.  Ours for what it costs every request:
 * the time is formatted once a second, and where there is no /dev/log
 * (a container) connecting is tried once a second, not for every line.
 * Returns 0 when syslog took the line, -1 when it did not.
 */
static int
log_send(int prio, const char *fmt, va_list ap)
{
	static const struct sockaddr_un dev = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	char buf[SYSLOG_MAX], stamp[16];
	time_t now = time(NULL);
	struct tm tm;
	int n, k, saved = errno, r = -1;

	if (now != syslg.sec && gmtime_r(&now, &tm)) {
		strftime(stamp, sizeof(stamp), "%b %e %T", &tm);
		snprintf(syslg.head, sizeof(syslg.head), "%s %s[%ld]: ", stamp, syslg.ident,
		         (long)syslg.pid);
		syslg.sec = now;
	}
	n = snprintf(buf, sizeof(buf), "<%d>%s", LOG_MAIL | prio, syslg.head);
	if ((k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap)) >= 0) {
		n = k >= (int)sizeof(buf) - n ? (int)sizeof(buf) - 1 : n + k;
		if (buf[n - 1] != '\n')
			buf[n++] = '\n';
		if (syslg.fd < 0)
			syslg.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if ((syslg.up || now >= syslg.retry) && send(syslg.fd, buf, n, 0) == n)
			r = 0;
		else if (now >= syslg.retry) {	/* not connected, or syslogd restarted */
			syslg.up = !connect(syslg.fd, (const struct sockaddr *)&dev, sizeof(dev)) &&
			           send(syslg.fd, buf, n, 0) == n;
			syslg.retry = syslg.up ? 0 : now + 1;
			r = syslg.up ? 0 : -1;
		}
	}
	errno = saved;
	return r;
}

/*
 * Log to syslog, and to stderr in the modes that own it: -q, -t, -d, a
 * terminal, and in listener mode whatever syslog did not take (a
 * container has no /dev/log: its log is stderr).  Spawn mode's stderr is
 * the policy socket: never there.
 */
static void
logmsg(int prio, const char *fmt, ...)
{
	va_list ap;
	int sent = 0;

	if (log_to & TO_SYSLOG) {
		va_start(ap, fmt);
		sent = !log_send(prio, fmt, ap);
		va_end(ap);
	}
	if ((log_to & TO_STDERR) || ((log_to & TO_TAGGED) && !sent)) {	/* one write a line: children share the stderr */
		char buf[LOG_LINE_MAX];
		int len = 0, k;

		if (log_to & TO_TAGGED)	/* the children's lines are told apart; a long argv[0] cut */
			len = snprintf(buf, sizeof(buf), "%.64s[%ld]: ", syslg.ident, (long)syslg.pid);
		va_start(ap, fmt);
		k = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
		va_end(ap);
		len = k < 0 ? len : MIN(len + k, (int)sizeof(buf) - 1);
		buf[len++] = '\n';
		if (write(2, buf, len) < 0) {
			/* nowhere left to say so */
		}
	}
}

/* Syslog lines are from ident, with the process's id; a listener's child says it anew. */
static void
log_open(const char *ident, int to)
{
	syslg.ident = ident;
	syslg.pid = getpid();
	syslg.sec = 0;
	log_to = to;
}

/* A new process (a listener's child): its own pid in its lines. */
static void
log_child(void)
{
	log_open(syslg.ident, log_to);
}

/* -v: the evaluation on stderr, as a tree (trace) */
static void
trace_on(void)
{
	verbose = 1;
}

static int
tracing(void)
{
	return verbose;
}

/* The tree one level deeper (1), or back (-1). */
static void
trace_indent(int by)
{
	trace_depth += by;
}

/* -v: one line of the tree, whatever its length; controls shown as '?'. */
static void
trace_line(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "%*s%s\n", 2 * trace_depth, "", s);
}

/*
 * -q -v: one line of the evaluation tree on stderr, indented by its
 * depth.  What DNS or a request brought may hold control bytes (an escape
 * sequence for the admin's terminal): they are shown as '?'.
 */
static void
trace(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	trace_line(buf);
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
	if (log_to & TO_TAGGED)	/* a listener that cannot start: on its stderr, whatever syslog took */
		log_to |= TO_STDERR;
	logmsg(LOG_ERR, "%s", buf);
	exit(EXIT_FATAL);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * What the process may do once set up (a stand-in for pledge): no core
 * files (they would hold mail data), in spawn mode no children, and no
 * privileges gained through exec.  (RLIMIT_FSIZE stays: stdout may be a
 * file when an admin tries requests by hand.)
 */
static void
harden(int spawn)
{
	struct rlimit zero = { 0, 0 };

	setrlimit(RLIMIT_CORE, &zero);
	if (spawn)
		setrlimit(RLIMIT_NPROC, &zero);
#ifdef __linux__
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
#endif
}

/* Bump allocation from the per-evaluation arena; NULL when it is full. */
static void *
aalloc(size_t n)
{
	void *p;

	if (n > sizeof(arena) - arena_used)
		return NULL;
	n = MIN((n + 15) & ~(size_t)15, sizeof(arena) - arena_used);
	p = arena + arena_used;
	arena_used += n;
	return p;
}

/* How much of the arena is taken: arena_release() gives back what came after. */
static size_t
arena_mark(void)
{
	return arena_used;
}

/* Back to mark: what was taken since goes (0: all, once per request). */
static void
arena_release(size_t mark)
{
	arena_used = mark;
}

/* The end of lookups given secs from now; 0 (no end: LOOKUP_FALLBACK_MS per query) for 0. */
static long long
deadline_in(int secs)
{
	return secs > 0 ? now_ms() + secs * 1000LL : 0;
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
		if (LOWER(*a) != LOWER(*b))
			return 1;
	return 0;
}

/* Whether a and b are the same name, ignoring ASCII case (strcasecmp() costs a call a byte). */
static int
caseeq(const char *a, const char *b)
{
	for (; LOWER(*a) == LOWER(*b); a++, b++)
		if (!*a)
			return 1;
	return 0;
}

/* join() of s and the strings in ap. */
static int
vjoin(char *out, size_t size, const char *s, va_list ap)
{
	size_t n = 0, k;
	int cut = 0;

	for (; !cut && s; s = va_arg(ap, const char *)) {
		if ((k = strlen(s)) >= size - n) {
			k = size - n - 1;
			cut = 1;
		}
		memcpy(out + n, s, k);
		n += k;
	}
	out[n] = '\0';
	return cut ? -1 : (int)n;
}

/*
 * The strings up to a NULL one, one after the other, into out (size
 * bytes): snprintf's "%s%s..." without a format to read, for what every
 * request writes.  Returns the length, or -1 when it was cut to fit.
 */
static int
join(char *out, size_t size, ...)
{
	va_list ap;
	int n;

	va_start(ap, size);
	n = vjoin(out, size, va_arg(ap, const char *), ap);
	va_end(ap);
	return n;
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

/* n bytes of s to b, when they fit with room for a NUL; else b->err */
static void
buf_put(Buf *b, const char *s, size_t n)
{
	if (b->err || n >= b->size - b->len) {
		b->err = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* n bytes c to b, as buf_put() */
static void
buf_fill(Buf *b, int c, size_t n)
{
	if (b->err || n >= b->size - b->len) {
		b->err = 1;
		return;
	}
	memset(b->p + b->len, c, n);
	b->len += n;
}

/* names */

/*
 * Offers: name_ok() (a name we may ask about), name_under() (a name at or
 * below a domain) and list_next() (the entries of a comma list), for the
 * sections that read names: dns, spf, config, policy.  Owns nothing.
 */

/* Whether name can be asked of DNS: labels of 1 to 63 octets, 253 in all. */
static int
name_ok(const char *name)
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

/* Whether name is domain or one of its subdomains, ignoring case. */
static int
name_under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n && name[n - 1] == '.')
		n--;
	if (d && domain[d - 1] == '.')
		d--;
	return n >= d && !casecmpn(name + n - d, domain, d) &&
	       (n == d || name[n - d - 1] == '.');
}

/* The next comma-separated entry of a list, blanks stripped; NULL at the end. */
static const char *
list_next(const char **p, char *buf, size_t size)
{
	const char *s = *p, *e;
	size_t n;

	if (!s)
		return NULL;
	if ((e = strchr(s, ',')))
		*p = e + 1;
	else
		*p = NULL, e = s + strlen(s);
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = MIN((size_t)(e - s), size - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* addresses */

/*
 * Offers: addr_parse(), addr_inprefix() and addr_text() (the forms
 * %{i}, %{c} and the PTR name use).  Owns nothing.
 */

/* Client address text to Addr; with fold, IPv4-mapped IPv6 is IPv4 (RFC 7208 5). */
static int
addr_parse(const char *s, Addr *a, int fold)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1)
		return 0;
	if (inet_pton(AF_INET6, s, a->b) != 1)
		return -1;
	if (fold && !memcmp(a->b, mapped, sizeof(mapped))) {
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

/* networks */

/*
 * Offers: net_parse() (one entry), net_commas() (Listen_Allow's blanks as
 * commas), net_check() (-t names every bad entry) and net_match().  Owns
 * nothing: a NetList belongs to its Conf.
 */

/*
 * Parse a network "addr[/len]" (IPv4 or IPv6, host bits clear, as
 * Python's ipaddress strict mode).  Returns NULL, or what is wrong.
 */
static const char *
net_parse(const char *s, Addr *net, int *bits)
{
	char buf[INET6_ADDRSTRLEN + 8], *sl;
	long v;
	int i;

	if (strlen(s) >= sizeof(buf))
		return "too long";
	strcpy(buf, s);
	if ((sl = strchr(buf, '/')))
		*sl++ = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->b) != 1) {
		if (inet_pton(AF_INET6, buf, net->b) != 1)
			return "does not appear to be an IPv4 or IPv6 network";
		net->v6 = 1;
	}
	*bits = net->v6 ? 128 : 32;
	if (sl) {
		if (!isdigit((unsigned char)*sl) || num(sl, 0, *bits, &v))
			return "invalid prefix length";
		*bits = v;
	}
	for (i = *bits; i < (net->v6 ? 128 : 32); i++)
		if (net->b[i / 8] & (0x80 >> (i % 8)))
			return "has host bits set";
	return NULL;
}

/*
 * Our own lists (Listen_Allow) may also be separated by blanks: rewrite
 * list into buf with commas only.  pypolicyd-spf's keys keep its rules.
 */
static const char *
net_commas(const char *list, char *buf, size_t size)
{
	size_t n = 0, k;

	for (; *list && n + 2 < size; list += k) {
		list += strspn(list, ", \t");
		if (!(k = MIN(strcspn(list, ", \t"), size - n - 2)))
			break;
		if (n)
			buf[n++] = ',';
		memcpy(buf + n, list, k);
		n += k;
	}
	buf[n] = '\0';
	return buf;
}

/* Every entry of a network list parses; returns the number that do not (logged). */
static int
net_check(const NetList *l)
{
	char buf[NET_ENTRY_MAX];
	const char *p = *l->text ? l->text : NULL, *e, *err;
	Addr net;
	int bits, bad = 0;

	while ((e = list_next(&p, buf, sizeof(buf))))
		if ((err = net_parse(e, &net, &bits))) {
			logmsg(LOG_ERR, "ERROR: %s in %s not IP network.  Message: %s.", e, l->key, err);
			bad++;
		}
	return bad;
}

/*
 * Whether a is in a network list (the client as sent: IPv4-mapped is
 * IPv6 here, as pypolicyd-spf has it).  As pypolicyd-spf, a bad entry
 * ends the list, the entries before it still count, and each request
 * that gets to it logs it (debug >= 0).
 */
static int
net_match(const NetList *l, const Addr *a, int debug)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->net[i].a.v6 == a->v6 && addr_inprefix(a->b, l->net[i].a.b, l->net[i].bits))
			return 1;
	if (l->bad && debug >= 0)
		logmsg(LOG_INFO, "ERROR: %s in %s not IP network.  Message: %s. "
		       "Aborting whitelist processing.", l->bad, l->key, l->err);
	return 0;
}

/* idn */

/*
 * Internationalized domain names to A-labels (RFC 8616 4).  idn_ascii()
 * does what libidn2 2.3.8's idn2_lookup_u8() does with
 * IDN2_NONTRANSITIONAL (Debian 13's idn2(1), Unicode 15.1; Debian 12's
 * 2.3.3 differs on U+1E9E only): UTS #46 mapping (deviations
 * kept, STD3 rules off), NFC, then per label the UTS #46 checks and, for
 * a label that is not ASCII, IDNA2008's (RFC 5891 5.4: DISALLOWED and
 * UNASSIGNED code points, CONTEXTJ, the existence of a CONTEXTO rule,
 * the bidi rule of RFC 5893 2 alone), Punycode, and libidn2's limits.
 * Whatever fails makes the whole name invalid.  tests/idn.sh holds it to
 * idn2(1), fuzz_idn to libidn2.
 *
 * Offers: idn_ascii(), and idn_utf8() for input's lower-casing.  Owns
 * nothing: its tables are idna.h's.
 */
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
				return -1;	/* not in Unicode 15.1 */
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

/* wire */

/*
 * Offers: Unpack, a read cursor over a DNS message (OpenSMTPD's struct
 * unpack): unpack_start() (past the header and question), unpack_rr(),
 * unpack_name(), unpack_u32(), unpack_take(), unpack_at().  A read that
 * does not fit sets the cursor's err and every read after it is a no-op,
 * so that a caller checks once.  Owns nothing.
 */

typedef struct {	/* a read cursor over a DNS message (OpenSMTPD's struct unpack): a
			   read that does not fit sets err, and every read after it is a
			   no-op, so that a caller checks err once */
	const unsigned char *p;
	int len, off;
	const char *err;
} Unpack;

enum { NAME_UNSAFE = -1 };	/* unpack_name(): no name we take */

typedef struct {	/* a resource record, as unpack_rr() reads it */
	char owner[DNS_NAME_MAX + 1];
	int type;
	unsigned ttl;
	int rd, rdlen;		/* its RDATA: rdlen bytes at rd */
} RR;

/* the cursor cannot read on: why, for the Answer; every read after it is a no-op */
static int
unpack_fail(Unpack *u)
{
	u->err = "malformed DNS answer";
	return NAME_UNSAFE;
}

/* a cursor on u's message at off: RDATA, a name a record points to */
static Unpack
unpack_at(const Unpack *u, int off)
{
	Unpack v = *u;

	v.off = off;
	return v;
}

/* n bytes at the cursor, and the cursor past them; NULL (err) when they are not there */
static const unsigned char *
unpack_take(Unpack *u, int n)
{
	if (u->err || n > u->len - u->off) {
		unpack_fail(u);
		return NULL;
	}
	u->off += n;
	return u->p + u->off - n;
}

static unsigned
unpack_u32(Unpack *u)
{
	const unsigned char *b = unpack_take(u, 4);

	return b ? (unsigned)b[0] << 24 | (unsigned)b[1] << 16 | b[2] << 8 | b[3] : 0;
}

/*
 * The name at the cursor, in text, into out (NULL: only past it): its
 * length, or NAME_UNSAFE when a label holds a control, '.', '\\' or DEL
 * (out holds it all the same) or when the name cannot be read (err).
 * Compression pointers are followed DNS_JUMPS_MAX times at most.
 */
static int
unpack_name(Unpack *u, char *out)
{
	const unsigned char *p = u->p;
	int o = u->off, n = 0, jumps = 0, bad = 0, l;

	for (; !u->err; ) {
		if (o >= u->len)
			return unpack_fail(u);
		l = p[o];
		if ((l & 0xc0) == 0xc0) {	/* compression pointer */
			if (o + 1 >= u->len || ++jumps > DNS_JUMPS_MAX)
				return unpack_fail(u);
			if (jumps == 1)
				u->off = o + 2;
			o = (l & 0x3f) << 8 | p[o + 1];
			continue;
		}
		if (l & 0xc0)
			return unpack_fail(u);
		if (!l)
			break;
		if (o + 1 + l > u->len || n + l + 1 > DNS_NAME_MAX)
			return unpack_fail(u);
		if (!out) {	/* only past it */
			n += (n > 0) + l;
			o += 1 + l;
			continue;
		}
		if (n)
			out[n++] = '.';
		for (o++; l; l--, o++) {
			if (p[o] < ' ' || p[o] == 0x7f || p[o] == '.' || p[o] == '\\')
				bad = 1;
			out[n++] = p[o];
		}
	}
	if (u->err)
		return NAME_UNSAFE;
	if (!jumps)
		u->off = o + 1;
	if (out)
		out[n] = '\0';
	return bad ? NAME_UNSAFE : n;
}

/* the record at the cursor: its owner, type, TTL, and where its RDATA is */
static void
unpack_rr(Unpack *u, RR *rr)
{
	const unsigned char *b;

	unpack_name(u, rr->owner);
	if (!(b = unpack_take(u, 10))) {	/* TYPE, CLASS, TTL, RDLENGTH */
		rr->type = rr->rdlen = rr->rd = 0;
		rr->ttl = 0;
		return;
	}
	rr->type = b[0] << 8 | b[1];
	rr->ttl = (unsigned)b[4] << 24 | (unsigned)b[5] << 16 | b[6] << 8 | b[7];
	rr->rdlen = b[8] << 8 | b[9];
	rr->rd = u->off;
	unpack_take(u, rr->rdlen);
}

/*
 * A cursor on the message p, past its header and question section: the
 * number of records in its answer section (*nsc: in its authority
 * section).  QTYPE and QCLASS are passed unread: a message cut inside
 * them fails at its first record.
 */
static int
unpack_start(Unpack *u, const unsigned char *p, int plen, int *nsc)
{
	const unsigned char *b;
	int qd;

	*u = (Unpack){ .p = p, .len = plen };
	*nsc = 0;
	if (!(b = unpack_take(u, 12)))	/* ID, flags, the four counts */
		return 0;
	qd = b[4] << 8 | b[5];
	*nsc = b[8] << 8 | b[9];
	while (qd-- > 0 && !u->err) {
		unpack_name(u, NULL);
		u->off += 4;
	}
	return b[6] << 8 | b[7];
}

/* cache */

/*
 * Offers: cache_get() and cache_put() (an answer as it came, for its TTL:
 * cache_ttl), cache_unparse().  Owns the table of DNS_CACHE_SIZE entries;
 * spf keeps the records it parsed from them (CacheEntry.rec).
 */

static CacheEntry dcache[DNS_CACHE_SIZE];
static int dcache_next;
static unsigned dcache_gen;

/*
 * The TTL to keep an answer for: its smallest TTL among the records of
 * the answer section (neg: the SOA records of the authority section, and
 * their MINIMUM, RFC 2308 5), at most dns_cache_max_ttl; 0: do not keep it.
 */
static unsigned
cache_ttl(const unsigned char *p, int plen, int neg)
{
	Unpack u, soa;
	RR rr;
	unsigned ttl = dns_cache_max_ttl, v, min;
	int an, nsc, i, found = 0;

	an = unpack_start(&u, p, plen, &nsc);
	for (i = 0; i < an + nsc && !u.err; i++) {
		unpack_rr(&u, &rr);
		if (u.err || (neg ? i < an || rr.type != T_SOA : i >= an))
			continue;
		v = rr.ttl;
		if (neg && rr.rdlen >= 22) {	/* SOA MINIMUM: the last 4 bytes */
			soa = unpack_at(&u, rr.rd + rr.rdlen - 4);
			min = unpack_u32(&soa);	/* not inside MIN(): read once */
			v = MIN(v, min);
		}
		ttl = MIN(ttl, v);
		found = 1;
	}
	return !u.err && found ? ttl : 0;
}

/* FNV-1a of a name, ignoring ASCII case. */
static unsigned
cache_hash(const char *name)
{
	unsigned h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)(*name | (*name >= 'A' && *name <= 'Z' ? 0x20 : 0))) * 16777619u;
	return h;
}

/* A live cache entry for name and type, or NULL. */
static CacheEntry *
cache_get(const char *name, int type)
{
	long long now = now_ms();
	unsigned h = cache_hash(name);
	int i;

	for (i = 0; i < DNS_CACHE_SIZE; i++)
		if (dcache[i].hash == h && dcache[i].type == type && dcache[i].expires > now &&
		    caseeq(dcache[i].name, name))
			return &dcache[i];
	return NULL;
}

/* Keep an answer for its TTL; large ones (TCP) are not kept.  Returns its entry, or NULL. */
static CacheEntry *
cache_put(const char *name, int type, int status, const unsigned char *p, int plen)
{
	CacheEntry *e;
	unsigned ttl;

	if (plen > (int)sizeof(e->pkt) || !(ttl = cache_ttl(p, plen, status != ARES_SUCCESS)))
		return NULL;
	if (!(e = cache_get(name, type))) {
		e = &dcache[dcache_next];
		dcache_next = (dcache_next + 1) % DNS_CACHE_SIZE;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->hash = cache_hash(name);
	e->type = type;
	e->status = status;
	e->expires = now_ms() + ttl * 1000LL;
	e->len = plen;
	memcpy(e->pkt, p, plen);
	e->gen = ++dcache_gen;
	e->rec = 0;
	return e;
}

/* The parsed records are gone (spf_flush): no entry points to one. */
static void
cache_unparse(void)
{
	int i;

	for (i = 0; i < DNS_CACHE_SIZE; i++)
		dcache[i].rec = 0;
}

/* dns */

/*
 * Offers: dns_init() (the channel, from a Conf), dns_lookup() and
 * dns_lookup_many() (answers parsed into the arena, by a deadline; a
 * fan-out may stop at the first that is Enough), dns_queries() for -v.
 * Owns the c-ares channel and the sockets it watches, the query IDs'
 * randomness, the count of queries sent.
 */

static ares_channel channel;	/* one for the life of the process (dns_init) */
static struct pollfd dnsfd[DNS_FDS_MAX];	/* the sockets c-ares watches */
static int ndnsfd;
static int dns_tcp;		/* the last answer came over TCP (dns_servstate) */
static struct {		/* /dev/urandom, read ahead, for query IDs (dns_id) */
	int fd;
	size_t n;
	unsigned char b[256];
} idpool = { .fd = -1 };
static int dns_sent;		/* -v: queries that went out */

enum { DNS_MALFORMED = -1 };	/* dns_count(): a record cannot be read */

enum QState {	/* Query.done */
	Q_AGAIN = -1,	/* dns_parse() asked again, for the CNAME's target */
	Q_WAITING,	/* in flight */
	Q_DONE		/* its Answer is set */
};

typedef struct {	/* one query in flight */
	Answer *ans;
	const char *asked;	/* the name as given, before CNAMEs */
	long long sent;		/* ms: -v shows how long it took */
	char name[DNS_NAME_MAX + 1];
	int hops;		/* CNAME re-queries made */
	int done;		/* enum QState */
	int cancel;		/* still in flight when dns_wait() stopped waiting */
	long long deadline;	/* no query is sent after it */
	int edns;		/* the question carries an OPT RR */
	int tries, tcp;		/* -v: Answer's */
	int qlen;
	unsigned char pkt[DNS_QUERY_MAX];	/* the question, for ares_send() */
} Query;

/*
 * In s (an "options" line or RES_OPTIONS), the last value of key
 * ("timeout:", "attempts:") into *v, capped at max as the C library does.
 */
static void
dns_optval(const char *s, const char *key, int max, int *v)
{
	size_t k = strlen(key), n;
	char val[16];
	long l;

	for (; *s; s += n) {
		s += strspn(s, " \t\r\n");
		n = strcspn(s, " \t\r\n");
		if (n <= k || n - k >= sizeof(val) || strncmp(s, key, k))
			continue;
		memcpy(val, s + k, n - k);
		val[n - k] = '\0';
		if (!num(val, 0, 1000000, &l))
			*v = MIN(l, max);
	}
}

/*
 * timeout: (s, into *timeout) and attempts: as resolv.conf(5) has them:
 * its options lines, then RES_OPTIONS; -1 where neither sets one.  Read
 * here, not by c-ares: 1.18 knows only its own retrans: and retry:, and
 * the versions' defaults differ.  Returns the number of nameserver
 * lines: a guess at the servers c-ares will read (dns_init).
 */
static int
dns_sysopts(int *timeout, int *attempts)
{
	char line[RESOLV_LINE_MAX], *p;
	FILE *fp;
	int n = 0;

	*timeout = *attempts = -1;
	if ((fp = fopen("/etc/resolv.conf", "r"))) {
		while (fgets(line, sizeof(line), fp)) {
			n += !strncmp(line, "nameserver", 10) && isspace((unsigned char)line[10]);
			if (strncmp(line, "options", 7) || !isspace((unsigned char)line[7]))
				continue;
			dns_optval(line + 7, "timeout:", 30, timeout);
			dns_optval(line + 7, "attempts:", 5, attempts);
		}
		fclose(fp);
	}
	if ((p = getenv("RES_OPTIONS"))) {
		dns_optval(p, "timeout:", 30, timeout);
		dns_optval(p, "attempts:", 5, attempts);
	}
	return n;
}

/* c-ares tells which sockets to watch: dnsfd[] follows it for dns_wait(). */
static void
dns_sockstate(void *data, ares_socket_t fd, int readable, int writable)
{
	int i;

	(void)data;
	for (i = 0; i < ndnsfd && dnsfd[i].fd != fd; i++)
		;
	if (!readable && !writable) {
		if (i < ndnsfd)
			dnsfd[i] = dnsfd[--ndnsfd];
		return;
	}
	if (i == ndnsfd) {
		if (ndnsfd == DNS_FDS_MAX)
			return;	/* not watched: c-ares times its query out */
		ndnsfd++;
	}
	dnsfd[i].fd = fd;
	dnsfd[i].events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
}

#if ARES_VERSION >= 0x011d00	/* 1.29: which transport answered, for -v */
static void
dns_servstate(const char *server, ares_bool_t success, int flags, void *data)
{
	(void)server;
	(void)data;
	dns_tcp = success && (flags & ARES_SERV_STATE_TCP);
}
#endif

/*
 * A channel for the name servers (resolv.conf, or servers: the
 * Nameservers key); with one server, SERVFAIL, REFUSED and NOTIMP come to
 * us (NOCHECKRESP) instead of being asked again at once of that same
 * server.  Returns the number of servers, or -1.
 */
static int
dns_channel(ares_channel *ch, const char *servers, int timeout_ms, int tries, int flags)
{
	struct ares_options o;
	struct ares_addr_port_node *list = NULL, *s;
	int mask, r, n = 0;

	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | flags;	/* replaces the defaults */
	o.timeout = timeout_ms;
	o.tries = tries;
	o.ednspsz = edns_payload;
	o.sock_state_cb = dns_sockstate;
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ |
	       ARES_OPT_SOCK_STATE_CB;
#ifdef ARES_OPT_UDP_MAX_QUERIES	/* 1.20: a fresh source port for every query */
	o.udp_max_queries = 1;
	mask |= ARES_OPT_UDP_MAX_QUERIES;
#endif
#ifdef ARES_OPT_QUERY_CACHE	/* 1.23: our cache decides what is kept */
	o.qcache_max_ttl = 0;
	mask |= ARES_OPT_QUERY_CACHE;
#endif
	if ((r = ares_init_options(ch, &o, mask)) != ARES_SUCCESS) {
		logmsg(LOG_ERR, "c-ares: %s", ares_strerror(r));
		return -1;
	}
	if (*servers && (r = ares_set_servers_ports_csv(*ch, servers)) != ARES_SUCCESS)
		logmsg(LOG_ERR, "Nameservers \"%s\": %s", servers, ares_strerror(r));
	else if ((r = ares_get_servers_ports(*ch, &list)) == ARES_SUCCESS)
		for (s = list; s; s = s->next)
			n++;
	ares_free_data(list);
#if ARES_VERSION >= 0x011d00
	ares_set_server_state_callback(*ch, dns_servstate, NULL);
#endif
	if (r == ARES_SUCCESS && !n)
		logmsg(LOG_ERR, "no name server to ask");
	if (r != ARES_SUCCESS || !n) {
		ares_destroy(*ch);
		return -1;
	}
	return n;
}

/*
 * The one channel of the process, for its whole life, so that what
 * c-ares learns (which server is down, its cookies) serves every request.
 * Timeout and tries: the keys DNS_Timeout_ms and DNS_Tries, else
 * resolv.conf's options, else ours.  A channel that cannot be made
 * leaves the one in force.  Returns 0, or -1.
 */
static int
dns_init(const Conf *cf)
{
	ares_channel ch;
	const char *p;
	int n, timeout, attempts, ms, tries, one;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return -1;
	if (idpool.fd < 0 && (idpool.fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0) {
		logmsg(LOG_ERR, "/dev/urandom: %s: no query IDs nobody can guess", strerror(errno));
		return -1;
	}
	idpool.n = 0;	/* a listener's child reads its own */
	n = dns_sysopts(&timeout, &attempts);
	ms = cf->dns_timeout_ms ? cf->dns_timeout_ms :
	     timeout > 0 ? timeout * 1000 : dns_timeout_default;
	tries = cf->dns_tries ? cf->dns_tries : attempts > 0 ? attempts : dns_tries_default;
	if (*cf->nameservers)
		for (n = 1, p = cf->nameservers; (p = strchr(p, ',')); p++)
			n++;
	/* one server or several: a guess, so that c-ares is set up once, checked */
	one = n <= 1;
	if ((n = dns_channel(&ch, cf->nameservers, ms, tries, one ? ARES_FLAG_NOCHECKRESP : 0)) < 0)
		return -1;
	if (one != (n == 1)) {
		ares_destroy(ch);
		if (dns_channel(&ch, cf->nameservers, ms, tries, one ? 0 : ARES_FLAG_NOCHECKRESP) < 0)
			return -1;
	}
	if (channel)
		ares_destroy(channel);	/* idle: no query outlives dns_wait() */
	channel = ch;
	return 0;
}

/* Two bytes nobody can predict, for a query ID; -1 when they cannot be read. */
static int
dns_id(unsigned char *id)
{
	if (idpool.n < 2) {
		if (read(idpool.fd, idpool.b, sizeof(idpool.b)) != (ssize_t)sizeof(idpool.b))
			return -1;
		idpool.n = sizeof(idpool.b);
	}
	idpool.n -= 2;
	memcpy(id, idpool.b + idpool.n, 2);
	return 0;
}

/*
 * Follow the CNAMEs among the an records at u from cur, which ends as the
 * name they lead to; NULL, or why the chain cannot be followed.
 */
static const char *
dns_chain(Unpack u, int an, char *cur)
{
	char t[DNS_NAME_MAX + 1];
	Unpack v, rd;
	RR rr;
	int i, hops, moved = 1;

	for (hops = 0; moved && hops <= max_cnames; hops++) {
		for (moved = 0, v = u, i = 0; i < an && !moved; i++) {
			unpack_rr(&v, &rr);
			if (v.err)
				return v.err;
			rd = unpack_at(&v, rr.rd);
			if (rr.type == T_CNAME && caseeq(rr.owner, cur) &&
			    unpack_name(&rd, t) > 0) {	/* to itself: a loop */
				strcpy(cur, t);
				moved = 1;
			}
		}
	}
	return moved ? "CNAME chain too long" : NULL;
}

/*
 * The records of type owned by name among the an at u; *cname: a CNAME
 * is among them.  DNS_MALFORMED: one cannot be read.
 */
static int
dns_count(Unpack u, int an, int type, const char *name, int *cname)
{
	RR rr;
	int n = 0;

	for (*cname = 0; an-- > 0; ) {
		unpack_rr(&u, &rr);
		if (u.err)
			return DNS_MALFORMED;
		*cname |= rr.type == T_CNAME;
		n += rr.type == type && caseeq(rr.owner, name);
	}
	return n;
}

/* rr's RDATA as the next record of a; 0: not a usable one (it is skipped) */
static int
dns_rdata(Answer *a, const Unpack *u, const RR *rr)
{
	char t[DNS_NAME_MAX + 1];
	const unsigned char *p = u->p;
	int rd = rr->rd, end = rr->rd + rr->rdlen, l, k;
	Unpack name;

	switch (a->type) {
	case T_A:
	case T_AAAA:
		if (rr->rdlen != (a->type == T_A ? 4 : 16))
			return 0;
		memset(a->ip[a->n], 0, 16);
		memcpy(a->ip[a->n], p + rd, rr->rdlen);
		return 1;
	case T_MX:
		if (rr->rdlen < 3)
			return 0;
		rd += 2;	/* preference */
		/* fallthrough */
	case T_PTR:
		name = unpack_at(u, rd);
		return (l = unpack_name(&name, t)) >= 0 && name.off <= end &&
		       (a->s[a->n] = astrndup(t, l));
	case T_TXT:	/* RFC 7208 3.3: strings joined, no spaces */
		if (!(a->s[a->n] = aalloc(rr->rdlen + 1)))
			return 0;
		for (l = 0, k = rd; k < end && k + 1 + p[k] <= end; k += 1 + p[k]) {
			memcpy(a->s[a->n] + l, p + k + 1, p[k]);
			l += p[k];
		}
		if (k != end)
			return 0;
		if (!a->n)
			a->first = rd < end ? p[rd] : 0;
		a->s[a->n][l] = '\0';
		a->len[a->n] = l;
		return 1;
	}
	return 0;
}

/*
 * Encode q's question into q->pkt: a header with RD, one question and,
 * when q->edns, an OPT RR (RFC 6891) offering edns_payload bytes, where
 * c-ares 1.34 also puts its cookie.  The ID is dns_cares()'s.  Returns -1
 * for a name that has an empty or over-long label.
 */
static int
dns_encode(Query *q)
{
	unsigned char *p = q->pkt;
	const char *s, *dot;
	int n = 12, l;

	memset(p, 0, 12);
	p[2] = 0x01;			/* RD */
	p[5] = 1;			/* QDCOUNT */
	p[11] = q->edns ? 1 : 0;	/* ARCOUNT */
	for (s = q->name; *s; s = *dot ? dot + 1 : dot) {
		if (!(dot = strchr(s, '.')))
			dot = s + strlen(s);
		if ((l = dot - s) < 1 || l > LABEL_MAX || n + 1 + l > 12 + DNS_NAME_MAX - 1)
			return -1;
		p[n++] = l;
		memcpy(p + n, s, l);
		n += l;
	}
	p[n++] = 0;
	p[n++] = q->ans->type >> 8;
	p[n++] = q->ans->type & 0xff;
	p[n++] = 0;
	p[n++] = 1;			/* IN */
	if (q->edns) {			/* root, OPT, payload size, no flags */
		memset(p + n, 0, 11);
		p[n + 2] = 41;
		p[n + 3] = edns_payload >> 8;
		p[n + 4] = edns_payload & 0xff;
		n += 11;
	}
	return q->qlen = n;
}

/*
 * The status ares_query() would give for what ares_send() handed over:
 * an answer's RCODE, or c-ares' own status when there is no answer.
 */
static int
dns_status(int status, const unsigned char *p, int plen)
{
	static const int rcode_status[] = {
		ARES_SUCCESS, ARES_EFORMERR, ARES_ESERVFAIL, ARES_ENOTFOUND,
		ARES_ENOTIMP, ARES_EREFUSED,
	};
	int rcode;

	if (status != ARES_SUCCESS || !p)
		return status == ARES_SUCCESS ? ARES_EBADRESP : status;
	if (plen < 12)
		return ARES_EBADRESP;
	rcode = p[3] & 0x0f;
	if (rcode >= (int)LEN(rcode_status))
		return ARES_EBADRESP;
	if (!rcode && !(p[6] | p[7]))
		return ARES_ENODATA;
	return rcode_status[rcode];
}

/* Whether q's answer is enough for w: an address that matches, under w's domain. */
static int
dns_enough(const Enough *w, const Query *q)
{
	const Answer *a = q->ans;
	int i;

	if (!w || q->done != Q_DONE || a->status != D_OK ||
	    (w->domain && !name_under(q->asked, w->domain)))
		return 0;
	for (i = 0; i < a->n; i++)
		if (addr_inprefix(a->ip[i], w->ip->b, w->ip->v6 ? w->cidr6 : w->cidr4))
			return 1;
	return 0;
}

/*
 * Drive c-ares until every query is done, one is enough for w, or the
 * deadline passes; the rest are cancelled (their callbacks run now, while
 * q is still there), so that nothing of this lookup is left in flight.
 */
static void
dns_wait(Query *q, int n, long long deadline, const Enough *w)
{
	struct pollfd p[DNS_FDS_MAX];
	struct timeval max, tv, *tvp;
	long long left;
	int i, k, busy, stop = 0;

	for (;;) {
		for (busy = 0, i = 0; i < n; i++) {
			stop |= dns_enough(w, &q[i]);
			busy |= q[i].done == Q_WAITING;
		}
		if (!busy || stop || (left = deadline - now_ms()) <= 0)
			break;
		max.tv_sec = left / 1000;
		max.tv_usec = left % 1000 * 1000;
		tvp = ares_timeout(channel, &max, &tv);
		/* callbacks change dnsfd[]: poll a copy */
		memcpy(p, dnsfd, (k = ndnsfd) * sizeof(*p));
		if ((i = poll(p, k, tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000)) < 0 &&
		    errno != EINTR)
			break;
		if (i <= 0) {	/* a try's time is up */
			ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (i = 0; i < k; i++)
			if (p[i].revents)
				ares_process_fd(channel,
				    p[i].revents & (POLLIN | POLLERR | POLLHUP) ? p[i].fd : ARES_SOCKET_BAD,
				    p[i].revents & POLLOUT ? p[i].fd : ARES_SOCKET_BAD);
	}
	if (!busy)
		return;
	for (i = 0; i < n; i++)
		q[i].cancel = q[i].done == Q_WAITING;
	if (channel)	/* none in the fuzzers, whose queries answer at once */
		ares_cancel(channel);	/* their callbacks run now, while q is still there */
	for (i = 0; i < n; i++) {
		if (!q[i].cancel)
			continue;
		q[i].done = Q_DONE;
		q[i].ans->ms = now_ms() - q[i].sent;
		q[i].ans->status = D_TEMP;
		q[i].ans->err = stop ? "not waited for: another answer matched" :
		                "exceeded max query lookup time";
	}
}

/*
 * -v: one lookup and what came of it, every record whole.  DNS text goes
 * to a terminal: bytes that are not printable ASCII (an escape sequence
 * in a TXT record) are shown as '?'.
 */
static void
dns_trace(const char *name, const Answer *a)
{
	static const char *const status[NUM_DNSSTATUS] = {
		[D_OK] = "", [D_NXDOMAIN] = " NXDOMAIN", [D_NODATA] = " no records",
		[D_TEMP] = " error: ",
	};
	char head[LOG_LINE_MAX], ip[INET6_ADDRSTRLEN], tries[32] = "", *line;
	const char *v;
	size_t size, vl;
	int k, txt = a->type == T_TXT;
	Buf b;

	if (a->tries > 1 || a->tcp)
		snprintf(tries, sizeof(tries), ", %d tr%s%s", a->tries, a->tries == 1 ? "y" : "ies",
		         a->tcp ? ", tcp" : "");
	snprintf(head, sizeof(head), "dns %s %s:%s%s", name, a->type == T_A ? "A" :
	         a->type == T_AAAA ? "AAAA" : a->type == T_MX ? "MX" : a->type == T_PTR ? "PTR" : "TXT",
	         status[a->status], a->status == D_TEMP ? a->err : "");
	for (size = strlen(head) + 64, k = 0; a->status == D_OK && k < a->n; k++)
		size += 4 + (txt ? a->len[k] : DNS_NAME_MAX);
	if (!(line = aalloc(size)))
		return;
	b = (Buf){ line, size, 0, 0 };
	buf_put(&b, head, strlen(head));
	for (k = 0; a->status == D_OK && k < a->n; k++) {
		v = a->type == T_A || a->type == T_AAAA ?
		    inet_ntop(a->type == T_A ? AF_INET : AF_INET6, a->ip[k], ip, sizeof(ip)) : a->s[k];
		vl = txt ? a->len[k] : strlen(v);
		buf_put(&b, txt ? " \"" : " ", 1 + txt);
		for (buf_put(&b, v, vl); vl; vl--)	/* any byte: DNS data is binary */
			if (line[b.len - vl] < ' ' || line[b.len - vl] > '~')
				line[b.len - vl] = '?';
		buf_put(&b, "\"", txt);
	}
	snprintf(line + b.len, size - b.len, " (%lld ms%s%s)", a->ms, a->cached ? ", cached" : "", tries);
	trace_line(line);
}

/* -q -v: how many queries went out */
static int
dns_queries(void)
{
	return dns_sent;
}

/* declared ahead: an answer's callback may ask again (a CNAME's target) */
static void dns_callback(void *, int, int, unsigned char *, int);

/*
 * DNS_SEND: q to c-ares, with an ID of ours: 1.18's ares_send() sends the
 * ID it is given (later versions put their own in its place).
 */
static void
dns_cares(Query *q)
{
	if (dns_id(q->pkt) < 0) {
		dns_callback(q, ARES_EFILE, 0, NULL, 0);
		return;
	}
	ares_send(channel, q->pkt, q->qlen, dns_callback, q);
}

/*
 * Hand q to c-ares, unless Lookup_Time is up: then it ends D_TEMP
 * without a query.  c-ares may call back before this returns.
 */
static void
dns_send(Query *q)
{
	if (now_ms() >= q->deadline) {
		q->done = Q_DONE;
		q->ans->status = D_TEMP;
		q->ans->err = "exceeded max query lookup time";
		return;
	}
	if (dns_encode(q) < 0) {
		dns_callback(q, ARES_EBADNAME, 0, NULL, 0);
		return;
	}
	dns_sent++;
	DNS_SEND(q);
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
	char cur[DNS_NAME_MAX + 1];
	Unpack u;
	RR rr;
	int an, nsc, i, n, cname;

	a->status = D_TEMP;
	a->err = "malformed DNS answer";
	an = unpack_start(&u, p, plen, &nsc);
	if (u.err)
		return;
	strcpy(cur, q->name);
	/* count, then copy: the arrays are sized by what is really there */
	if ((n = dns_count(u, an, a->type, cur, &cname)) == DNS_MALFORMED)
		return;
	if (cname && ((a->err = dns_chain(u, an, cur)) ||
	              (n = dns_count(u, an, a->type, cur, &cname)) == DNS_MALFORMED))
		return;
	a->n = 0;
	a->ttl = UINT_MAX;
	if (!(a->s = aalloc(n * sizeof(*a->s))) || !(a->len = aalloc(n * sizeof(*a->len))) ||
	    !(a->ip = aalloc(n * sizeof(*a->ip)))) {
		a->err = "out of memory for DNS answer";
		return;
	}
	for (i = 0; i < an; i++) {	/* dns_count() read them all */
		unpack_rr(&u, &rr);
		if (rr.type == a->type && caseeq(rr.owner, cur) && dns_rdata(a, &u, &rr)) {
			a->ttl = MIN(a->ttl, rr.ttl);
			a->n++;
		}
	}
	if (a->n) {
		a->status = D_OK;
	} else if (caseeq(cur, q->name)) {
		a->status = D_NODATA;
	} else if (q->hops < max_cnames) {
		strcpy(q->name, cur);	/* only the alias came: follow it */
		q->hops++;
		q->done = Q_AGAIN;	/* before: the callback may run right away */
		dns_send(q);
	} else {
		a->err = "CNAME chain too long";
	}
}

/*
 * Hand a finished query's answer to its Answer, with e, the cache entry
 * that holds exactly this answer (none: NULL), so that a parsed record is
 * kept with the answer it came from and no other; it may ask again
 * (CNAME).
 */
static void
dns_deliver(Query *q, int status, const unsigned char *abuf, int alen, CacheEntry *e)
{
	q->done = Q_DONE;
	q->ans->n = 0;
	q->ans->ms = now_ms() - q->sent;
	q->ans->entry = e;
	q->ans->gen = e ? e->gen : 0;
	switch (status) {
	case ARES_SUCCESS:
		dns_parse(q, abuf, alen);
		if (q->done == Q_AGAIN)
			q->done = Q_WAITING;
		return;
	case ARES_ENODATA:
		q->ans->status = D_NODATA;
		return;
	case ARES_ENOTFOUND:
		q->ans->status = D_NXDOMAIN;
		return;
	default:
		q->ans->status = D_TEMP;
		q->ans->err = ares_strerror(status);
	}
}

/*
 * ares_send()'s callback: an answer whose question and ID c-ares has
 * matched (and, with 1.34, its cookie), or why there is none.  A server
 * that answers FORMERR to EDNS is asked again without it (RFC 6891 7),
 * where c-ares did not do so itself.
 */
static void
dns_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	Query *q = arg;
	CacheEntry *e = NULL;

	q->tcp = dns_tcp;	/* the UDP try it was truncated on is one more */
	q->tries += timeouts + (abuf != NULL) + dns_tcp;
	dns_tcp = 0;
	status = dns_status(status, abuf, alen);
	if (status == ARES_EFORMERR && q->edns) {
		q->edns = 0;
		dns_send(q);
		return;
	}
	if (abuf && (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND))
		e = cache_put(q->name, q->ans->type, status, abuf, alen);
	dns_deliver(q, status, abuf, alen, e);
}

/*
 * Look names up concurrently, each into its Answer.  A name that cannot
 * be a DNS name gets D_NXDOMAIN without a query.  Returns the number of
 * answers that are D_TEMP.
 */
static int
dns_lookup_many(long long deadline, char **names, int n, int type, Answer *ans, const Enough *w)
{
	CacheEntry *e;
	Query *q;
	int i, temp, enough = 0;

	if (!(q = aalloc(n * sizeof(*q)))) {
		for (i = 0; i < n; i++) {
			ans[i].status = D_TEMP;
			ans[i].err = "out of memory for queries";
		}
		return n;
	}
	if (!deadline)	/* Lookup_Time 0 */
		deadline = now_ms() + LOOKUP_FALLBACK_MS;
	for (i = 0; i < n; i++) {
		memset(&ans[i], 0, sizeof(ans[i]));
		ans[i].type = type;
		q[i].ans = &ans[i];
		q[i].asked = names[i];
		q[i].hops = q[i].cancel = q[i].tries = q[i].tcp = 0;
		q[i].done = Q_DONE;
		q[i].edns = 1;
		q[i].deadline = deadline;
		/* RFC 8616 4: a U-label (from a macro) is asked as its A-label */
		if (idn_ascii(names[i], q[i].name, sizeof(q[i].name)) || !name_ok(q[i].name)) {
			ans[i].status = D_NXDOMAIN;
			continue;
		}
		q[i].done = Q_WAITING;
		q[i].sent = now_ms();
		if (enough)	/* dns_wait ends it unasked */
			continue;
		if ((e = cache_get(q[i].name, type))) {	/* cache_put's key */
			ans[i].cached = 1;
			dns_deliver(&q[i], e->status, e->pkt, e->len, e);
		} else {
			dns_send(&q[i]);
		}
		enough = dns_enough(w, &q[i]);
	}
	dns_wait(q, n, deadline, w);
	for (temp = 0, i = 0; i < n; i++) {
		temp += ans[i].status == D_TEMP;
		ans[i].tries = q[i].tries;
		ans[i].tcp = q[i].tcp;
		if (tracing())
			dns_trace(names[i], &ans[i]);
	}
	return temp;
}

/* One lookup; returns its DnsStatus. */
static int
dns_lookup(long long deadline, const char *name, int type, Answer *ans)
{
	char *n = (char *)name;

	dns_lookup_many(deadline, &n, 1, type, ans, NULL);
	return ans->status;
}

/* spf */

/*
 * Offers: spf_begin() and spf_check() (check_host() for one identity,
 * RFC 7208 4), spf_flush() (before a request), and for policy's
 * whitelists spf_validate() (the client's validated PTR names).
 * Owns the expansion buffer, and the records parsed from cached answers
 * (rcache, in the pool rpool), which live across requests.
 */

static char expand[MACRO_MAX + 1];	/* a macro-string expanded */
static struct {		/* SPF records of cached answers, parsed (CacheEntry.rec) */
	size_t len;
	const char *text;	/* in rpool */
	Record rec;		/* its terms in rpool */
} rcache[RCACHE_SIZE];
static int rcache_n;
static int rcache_full;		/* a record did not fit: empty it before the next request */
static Term rpool[RCACHE_POOL / sizeof(Term)];	/* terms, then the text */
static size_t rpool_used;	/* in Terms */
static unsigned short macro_parts[MACRO_MAX + 2];	/* every byte may be a delimiter */

static const char *const match_name[] = {	/* enum Match, for -v */
	[MATCH] = "match", [NOMATCH] = "no match", [ERR_TEMP] = "temperror",
	[ERR_PERM] = "permerror",
};

enum { MACRO_BAD = -1, MACRO_FULL = -2 };	/* spf_expand(): no expansion */
/* a byte a macro-string holds as it is, RFC 7208 7.1 (exp: an explanation's, spaces too) */
#define MACRO_BYTE(c, exp)	(((c) >= 0x21 || ((exp) && (c) == ' ')) && (c) <= 0x7e)
enum { MACRO_OK, MACRO_TAIL };	/* spf_macro_check(): well-formed (and how it ends) */

typedef struct {	/* one piece of a macro-string, RFC 7208 7.1 */
	const char *lit;	/* text copied as it is: a byte, or an escape's */
	size_t litlen;		/* 0: a macro-expand, as the fields below say */
	int pct;		/* it begins with '%': an escape or a macro-expand */
	int letter;		/* as written: upper case URL-escapes */
	int keep;		/* the rightmost parts kept; INT_MAX: all */
	int rev;		/* the parts reversed first */
	char delim[8];		/* the delimiters; "": '.' */
} Piece;

enum { R_NOTYET = -1 };	/* spf_record(), spf_parse(), spf_eval(): no result yet, go on */

typedef struct {	/* a domain's SPF record, as spf_record() found it */
	const char *s;
	size_t len;
	CacheEntry *from;	/* the cache entry of its answer; NULL: none */
} Found;

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
 * v transformed as m says (RFC 7208 7.3): split at its delimiters, the
 * rightmost keep parts (of the reversed list when rev) joined with '.',
 * URL-escaped for an upper-case letter, to b.
 */
static void
spf_transform(const char *v, const Piece *m, Buf *b)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned short *start = macro_parts;
	const char *delim = *m->delim ? m->delim : ".";
	size_t vlen = strlen(v), i, from, to, k;
	int nparts = 0, keep = m->keep, a, end, step, j, esc = isupper(m->letter);
	char tmp[3];

	if (vlen > MACRO_MAX) {
		b->err = 1;
		return;
	}
	start[nparts++] = 0;
	for (i = 0; i < vlen; i++)
		if (strchr(delim, v[i]))
			start[nparts++] = i + 1;
	start[nparts] = vlen + 1;	/* one past the end of the last part */
	if (keep > nparts)
		keep = nparts;
	/* reversed, the rightmost keep parts are the leftmost of v */
	a = m->rev ? keep - 1 : nparts - keep;
	end = m->rev ? -1 : nparts;
	step = m->rev ? -1 : 1;
	for (j = a; j != end && !b->err; j += step) {
		if (j != a)
			buf_put(b, ".", 1);
		from = start[j];
		to = start[j + 1] - 1;
		for (k = from; k < to; k++) {
			unsigned char ch = v[k];

			if (!esc || isalnum(ch) || strchr("-._~", ch)) {
				buf_put(b, v + k, 1);
				continue;
			}
			tmp[0] = '%';
			tmp[1] = hex[ch >> 4];
			tmp[2] = hex[ch & 15];
			buf_put(b, tmp, 3);
		}
	}
}

/*
 * The piece of a macro-string at *sp (before e) into m, and *sp past it:
 * a byte, an escape or a macro-expand (RFC 7208 7.1); MACRO_BAD when the
 * grammar is broken.  exp: an explanation's, with spaces and c, r, t.
 */
static int
spf_piece(const char **sp, const char *e, int exp, Piece *m)
{
	const char *s = *sp;
	size_t dn = 0;
	long digits = 0;
	int nd;

	m->lit = s;
	m->litlen = 1;
	if (!(m->pct = *s == '%')) {
		*sp = s + 1;
		return MACRO_BYTE(*s, exp) ? MACRO_OK : MACRO_BAD;
	}
	if (++s == e)
		return MACRO_BAD;
	if (*s == '%' || *s == '_' || *s == '-') {
		m->lit = *s == '%' ? "%" : *s == '_' ? " " : "%20";
		m->litlen = *s == '-' ? 3 : 1;
		*sp = s + 1;
		return MACRO_OK;
	}
	if (*s != '{' || ++s == e || !*s ||
	    !strchr(exp ? "slodiphvcrt" : "slodiphv", tolower((unsigned char)*s)))
		return MACRO_BAD;
	m->litlen = 0;
	m->letter = *s++;
	for (nd = 0; s < e && isdigit((unsigned char)*s); s++, nd++)
		digits = MIN(digits * 10 + *s - '0', 1000);
	if (nd && !digits)
		return MACRO_BAD;	/* 7.3: a DIGIT transformer is nonzero */
	m->keep = digits ? (int)digits : INT_MAX;
	if ((m->rev = s < e && (*s == 'r' || *s == 'R')))
		s++;
	for (; s < e && *s && strchr(".-+,/_=", *s); s++)
		if (dn < sizeof(m->delim) - 1 && !memchr(m->delim, *s, dn))
			m->delim[dn++] = *s;
	m->delim[dn] = '\0';
	if (s == e || *s != '}')
		return MACRO_BAD;
	*sp = s + 1;
	return MACRO_OK;
}

/*
 * The syntax of the macro-string s (n bytes), RFC 7208 7.1: MACRO_BAD,
 * MACRO_TAIL when it ends in a '%' piece (a domain-spec needs no
 * toplabel then), else MACRO_OK.
 */
static int
spf_macro_check(const char *s, size_t n, int exp)
{
	const char *e = s + n;
	Piece m;
	int tail = MACRO_OK;

	while (s < e) {
		if (*s != '%' && MACRO_BYTE(*s, exp)) {	/* most are: no call */
			s++;
			tail = MACRO_OK;
			continue;
		}
		if (spf_piece(&s, e, exp, &m) == MACRO_BAD)
			return MACRO_BAD;
		tail = m.pct ? MACRO_TAIL : MACRO_OK;
	}
	return tail;
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

	if (!len || (r = spf_macro_check(s, len, 0)) == MACRO_BAD)
		return -1;
	if (r == MACRO_TAIL)	/* ends in a macro-expand */
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

/* A lookup of name failed: ERR_TEMP, with why. */
static int
spf_temp(Check *c, const char *err, const char *name)
{
	snprintf(c->why, sizeof(c->why), "DNS %s: %s", err, name);
	return ERR_TEMP;
}

/* Whether one of the addresses in a matches ip within the CIDR. */
static int
spf_addr_match(const Addr *ip, const Answer *a, int cidr4, int cidr6)
{
	int i;

	for (i = 0; a->status == D_OK && i < a->n; i++)
		if (addr_inprefix(a->ip[i], ip->b, ip->v6 ? cidr6 : cidr4))
			return 1;
	return 0;
}

/*
 * RFC 7208 5.5: the validated domain names of ip, into p.  Looks up the
 * PTR names (the first MAX_PTR_NAMES), then their addresses,
 * concurrently; once per check, as pyspf: "ptr" and %{p} may ask again
 * and again, and with a TTL of 0 each time would be up to eleven queries
 * that count against no limit.  With a domain ("ptr:domain"), the first
 * name under it that validates ends the wait; the list is then partial
 * and not kept.  Returns how many names validated, -1 when the PTR
 * lookup failed, -2 when it was void.
 */
static int
spf_validate(long long deadline, const Addr *ip, const char *domain, Ptrs *p)
{
	Enough w = { ip, 32, 128, domain };
	Answer ptr, *addr;
	char rev[80];
	int i, n, temp;

	if (p->done)
		return p->n;
	p->done = 1;
	addr_text(ip, 'r', rev, sizeof(rev));
	if (dns_lookup(deadline, rev, T_PTR, &ptr) == D_TEMP) {
		p->n = PTR_FAILED;
	} else if (ptr.status != D_OK) {
		p->n = PTR_VOID;
	} else if (!(addr = aalloc((n = MIN(ptr.n, MAX_PTR_NAMES)) * sizeof(*addr)))) {
		p->n = PTR_FAILED;
	} else {
		temp = dns_lookup_many(deadline, ptr.s, n, ip->v6 ? T_AAAA : T_A, addr, domain ? &w : NULL);
		for (p->n = i = 0; i < n; i++)	/* 5.5: lookup errors skip the name */
			if (spf_addr_match(ip, &addr[i], 32, 128))
				snprintf(p->name[p->n++], sizeof(p->name[0]), "%s", ptr.s[i]);
		p->done = !temp || !domain;
		trace("PTR names %d (%d validated at most), %d validated", ptr.n, MAX_PTR_NAMES, p->n);
	}
	return p->n;
}

/* %{p}, RFC 7208 7.3: a validated name, the domain's own first. */
static int
spf_validated(Check *c, const char *domain, char *val, size_t size)
{
	const char *best = NULL;
	int i, n;

	n = spf_validate(c->deadline, &c->ip, NULL, &c->ptr);
	for (i = 0; !best && i < n; i++)
		if (!strcasecmp(c->ptr.name[i], domain))
			best = c->ptr.name[i];
	for (i = 0; !best && i < n; i++)
		if (name_under(c->ptr.name[i], domain))
			best = c->ptr.name[i];
	if (!best)
		best = n > 0 ? c->ptr.name[0] : "unknown";
	n = snprintf(val, size, "%s", best);
	return n < 0 || (size_t)n >= size ? -1 : 0;
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
		n = snprintf(val, size, "%s", c->receiver);
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
 * The macro-string s (n bytes) expanded for domain into expand[]: its
 * length, or MACRO_BAD (the grammar is broken) or MACRO_FULL (it does not
 * fit).  exp: an explanation's.  It stops at the first failure: a later
 * %{p} would cost lookups for nothing.
 */
static int
spf_expand(Check *c, const char *s, size_t n, const char *domain, int exp)
{
	char val[MACRO_MAX + 1];
	const char *e = s + n;
	Buf b = { expand, sizeof(expand), 0, 0 };
	Piece m;

	while (s < e && !b.err) {
		if (*s != '%' && MACRO_BYTE(*s, exp)) {	/* most are: no call */
			buf_put(&b, s++, 1);
			continue;
		}
		if (spf_piece(&s, e, exp, &m) == MACRO_BAD)
			return MACRO_BAD;
		if (m.litlen)
			buf_put(&b, m.lit, m.litlen);
		else if (spf_letter(c, tolower(m.letter), domain, val, sizeof(val)))
			b.err = 1;
		else
			spf_transform(val, &m, &b);
	}
	expand[b.len] = '\0';
	return b.err ? MACRO_FULL : (int)b.len;
}

/*
 * The target name of a term: its domain-spec expanded, or the current
 * domain.  RFC 7208 7.3: longer than 253 octets, labels are cut from the
 * left.  Returns 0, or -1 (permerror) when the expansion fails.
 */
static int
spf_target(Check *c, const char *arg, size_t arglen, const char *domain, char *out)
{
	char *p = expand;
	int n;

	if (!arglen) {
		join(out, DOMAIN_MAX + 2, domain, (char *)NULL);
		return 0;
	}
	if ((n = spf_expand(c, arg, arglen, domain, 0)) < 0) {
		snprintf(c->why, sizeof(c->why), "Macro expansion failed: %.*s",
		         (int)MIN(arglen, 100), arg);
		return -1;
	}
	if (n && expand[n - 1] == '.')
		expand[--n] = '\0';
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

/*
 * The addresses of names (a, mx) against the client.  RFC 7208 4.6.4:
 * a term whose lookups all came back empty is one void lookup.
 */
static int
spf_addrs(Check *c, char **names, int n, int cidr4, int cidr6)
{
	Enough w = { &c->ip, cidr4, cidr6, NULL };
	Answer *a;
	int i, voids = 0;

	if (!(a = aalloc(n * sizeof(*a))))
		return ERR_TEMP;
	dns_lookup_many(c->deadline, names, n, c->ip.v6 ? T_AAAA : T_A, a, &w);
	for (i = 0; i < n; i++)
		if (spf_addr_match(&c->ip, &a[i], cidr4, cidr6))
			return MATCH;
	for (i = 0; i < n; i++) {
		if (a[i].status == D_TEMP)
			return spf_temp(c, a[i].err, names[i]);
		voids += a[i].status != D_OK;
	}
	if (voids == n && spf_void(c))
		return ERR_PERM;
	return NOMATCH;
}

/* declared ahead: include and redirect evaluate another record */
static int spf_check_host(Check *, const char *, int, int);

static int
mech_all(Check *c, const Term *t, const char *target, int depth)
{
	(void)c, (void)t, (void)target, (void)depth;
	return MATCH;
}

/* 5.2: the table of include results */
static int
mech_include(Check *c, const Term *t, const char *target, int depth)
{
	(void)t;
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
}

static int
mech_a(Check *c, const Term *t, const char *target, int depth)
{
	char *names[] = { (char *)target };

	(void)depth;
	return spf_addrs(c, names, 1, t->cidr4, t->cidr6);
}

/* 5.4 */
static int
mech_mx(Check *c, const Term *t, const char *target, int depth)
{
	Answer a;
	int i, n;

	(void)depth;
	if ((n = dns_lookup(c->deadline, target, T_MX, &a)) == D_TEMP)
		return spf_temp(c, a.err, target);
	if (n != D_OK)
		return spf_void(c) ? ERR_PERM : NOMATCH;
	trace("MX names %d/%d", a.n, max_mx_names);
	if (a.n > max_mx_names) {
		snprintf(c->why, sizeof(c->why), "Too many MX lookups");
		return ERR_PERM;
	}
	for (n = i = 0; i < a.n; i++)	/* RFC 7505 null MX: no host */
		if (*a.s[i])
			a.s[n++] = a.s[i];
	return n ? spf_addrs(c, a.s, n, t->cidr4, t->cidr6) : NOMATCH;
}

/* 5.5: a failed PTR lookup is no match */
static int
mech_ptr(Check *c, const Term *t, const char *target, int depth)
{
	int i, n;

	(void)t, (void)depth;
	if ((n = spf_validate(c->deadline, &c->ip, target, &c->ptr)) == PTR_VOID)
		return spf_void(c) ? ERR_PERM : NOMATCH;
	for (i = 0; i < n; i++)
		if (name_under(c->ptr.name[i], target))
			return MATCH;
	return NOMATCH;
}

static int
mech_ip(Check *c, const Term *t, const char *target, int depth)
{
	(void)target, (void)depth;
	if (c->ip.v6 != (t->mech == M_IP6))
		return NOMATCH;
	return addr_inprefix(c->ip.b, t->u.ip, c->ip.v6 ? t->cidr6 : t->cidr4) ? MATCH : NOMATCH;
}

/* 5.7: always an A query */
static int
mech_exists(Check *c, const Term *t, const char *target, int depth)
{
	Answer a;
	int n;

	(void)t, (void)depth;
	if ((n = dns_lookup(c->deadline, target, T_A, &a)) == D_TEMP)
		return spf_temp(c, a.err, target);
	if (n != D_OK)
		return spf_void(c) ? ERR_PERM : NOMATCH;
	return MATCH;
}

static const struct {	/* RFC 7208 5: the mechanisms */
	const char *name;
	int arg;		/* what may follow the name after ':' */
	int cidr;		/* the CIDR lengths it may end in */
	int dns;		/* a DNS term (4.6.4), asked about a target name */
	int (*match)(Check *, const Term *, const char *, int);
} mechs[M_MOD] = {
	[M_ALL]     = { "all",     ARG_NONE,   0,         0, mech_all },
	[M_INCLUDE] = { "include", ARG_NEED,   0,         1, mech_include },
	[M_A]       = { "a",       ARG_DOMAIN, CIDR_DUAL, 1, mech_a },
	[M_MX]      = { "mx",      ARG_DOMAIN, CIDR_DUAL, 1, mech_mx },
	[M_PTR]     = { "ptr",     ARG_DOMAIN, 0,         1, mech_ptr },
	[M_IP4]     = { "ip4",     ARG_IP4,    CIDR4,     0, mech_ip },
	[M_IP6]     = { "ip6",     ARG_IP6,    CIDR6,     0, mech_ip },
	[M_EXISTS]  = { "exists",  ARG_NEED,   0,         1, mech_exists },
};

/*
 * The rest of a directive after its name, at p: CIDR lengths, then the
 * argument as mechs[] says.  a, mx, ip4, ip6 may end in CIDR lengths: a
 * '/' and digits; a '/' followed by anything else belongs to the
 * domain-spec (7.1).
 */
static const char *
spf_directive(Term *t, const char *p, const char *e)
{
	char buf[INET6_ADDRSTRLEN];
	const char *sl;
	int cidr = mechs[t->mech].cidr, v;

	if (cidr && (sl = spf_slashdigits(p, e)) && cidr != CIDR4 && sl - 1 > p && sl[-2] == '/') {
		if (cidr == CIDR6 || (v = spf_cidr(sl, e, 128)) < 0)
			return "Invalid CIDR length";
		t->cidr6 = v;
		e = sl - 2;
	}
	if (cidr && (sl = spf_slashdigits(p, e))) {
		if ((v = spf_cidr(sl, e, cidr == CIDR6 ? 128 : 32)) < 0)
			return "Invalid CIDR length";
		*(cidr == CIDR6 ? &t->cidr6 : &t->cidr4) = v;
		e = sl - 1;
	}
	if (p < e && *p++ != ':')
		return "Unknown mechanism found";
	switch (mechs[t->mech].arg) {
	case ARG_NONE:
		return p == e ? NULL : "Invalid all mechanism";
	case ARG_IP4:
		return p < e && !spf_ip4(p, e, t->u.ip) ? NULL : "Invalid IP4 address";
	case ARG_IP6:
		if (p == e || e - p >= (long)sizeof(buf))
			return "Invalid IP6 address";
		memcpy(buf, p, e - p);
		buf[e - p] = '\0';
		return inet_pton(AF_INET6, buf, t->u.ip) == 1 ? NULL : "Invalid IP6 address";
	case ARG_NEED:
		if (p[-1] != ':')
			return "Missing domain";
		/* fallthrough */
	default:
		t->u.arg.off = p - t->tok;
		t->u.arg.len = e - p;
		if (p[-1] == ':' && spf_domainspec(p, e - p))
			return "Invalid domain found";
		return NULL;
	}
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
	size_t n = t->u.arg.off - 1;

	if (n == 8 && !casecmpn(t->tok, "redirect", 8))
		return "redirect";
	if (n == 3 && !casecmpn(t->tok, "exp", 3))
		return "exp";
	return NULL;
}

/*
 * Parse one term of a record (RFC 7208 4.6.1, 12).  A directive and a
 * modifier look like this; t gets offsets into s:
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
	const char *e = s + len, *p = s;
	int i;

	memset(t, 0, sizeof(*t));
	t->tok = s;
	t->len = len;
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (strchr("+-~?", *p))
		t->qual = *p++;
	for (s = p; p < e && (isalnum((unsigned char)*p) || strchr("-_.", *p)); p++)
		;
	if (p == s || !isalpha((unsigned char)*s))
		return "Unknown mechanism found";
	if (p < e && *p == '=') {	/* modifier */
		t->mech = M_MOD;
		t->u.arg.off = p + 1 - t->tok;
		t->u.arg.len = e - p - 1;
		if (s != t->tok)
			return "Invalid modifier";
		if (spf_modifier(t))
			return spf_domainspec(p + 1, e - p - 1) ? "Invalid domain found" : NULL;
		return spf_macro_check(p + 1, e - p - 1, 1) == MACRO_BAD ?
		       "Invalid macro in modifier" : NULL;
	}
	for (i = 0; i < M_MOD; i++)
		if (strlen(mechs[i].name) == (size_t)(p - s) && !casecmpn(s, mechs[i].name, p - s))
			break;
	if ((t->mech = i) == M_MOD)
		return "Unknown mechanism found";
	return spf_directive(t, p, e);
}

/*
 * RFC 7208 4.6: parse the record's terms into r, once.  Any syntax error
 * anywhere is a permerror, before any lookup.  Returns R_NOTYET, or the
 * result.
 */
static int
spf_parse(Check *c, const char *s, size_t len, Record *r)
{
	const char *p, *e = s + len, *tok, *err, *mod;
	Term *t;
	size_t n;
	int *slot;

	for (r->n = 0, p = s + 6; spf_token(&p, e, &n); r->n++)
		;
	if (!(r->t = aalloc(r->n * sizeof(*r->t)))) {
		snprintf(c->why, sizeof(c->why), "out of memory for a record");
		return R_TEMPERROR;
	}
	r->redirect = r->exp = -1;
	for (t = r->t, p = s + 6; (tok = spf_token(&p, e, &n)); t++) {
		if ((err = spf_term(tok, n, t))) {
			snprintf(c->why, sizeof(c->why), "%s: %.*s", err, (int)MIN(n, 100), tok);
			return R_PERMERROR;
		}
		r->hasall |= t->mech == M_ALL;
		if (t->mech != M_MOD || !(mod = spf_modifier(t)))
			continue;
		if (*(slot = *mod == 'r' ? &r->redirect : &r->exp) >= 0) {
			snprintf(c->why, sizeof(c->why), "Duplicate %s modifier", mod);
			return R_PERMERROR;
		}
		*slot = t - r->t;
	}
	return R_NOTYET;
}

/*
 * Keep a parsed record in rpool, its terms, then its text.  Returns its
 * rcache index + 1, or 0 when it is full: records kept this request may
 * be in use, so it is emptied only between requests (spf_flush).
 */
static int
spf_keep(const char *s, size_t len, const Record *r)
{
	size_t need = r->n + (len + sizeof(Term)) / sizeof(Term);	/* in Terms */
	Term *t;
	char *text;
	int i;

	if (rcache_n == LEN(rcache) || need > LEN(rpool) - rpool_used) {
		rcache_full = 1;
		return 0;
	}
	t = rpool + rpool_used;
	text = (char *)(t + r->n);
	memcpy(text, s, len);
	for (i = 0; i < r->n; i++) {
		t[i] = r->t[i];
		t[i].tok = text + (r->t[i].tok - s);
	}
	rpool_used += need;
	rcache[rcache_n].len = len;
	rcache[rcache_n].text = text;
	rcache[rcache_n].rec = *r;
	rcache[rcache_n].rec.t = t;
	return ++rcache_n;
}

/*
 * spf_parse(), unless the record came from the DNS cache and was parsed
 * then: a provider's records come with every request it sends for.
 */
static int
spf_parsed(Check *c, const Found *f, Record *r)
{
	int res;

	trace("record \"%.*s\"", (int)f->len, f->s);
	if (f->from && f->from->rec) {
		*r = rcache[f->from->rec - 1].rec;
		return R_NOTYET;
	}
	if ((res = spf_parse(c, f->s, f->len, r)) == R_NOTYET && f->from)
		f->from->rec = spf_keep(f->s, f->len, r);
	return res;
}

/* RFC 7208 5: whether one mechanism matches; mechs[] has its match(). */
static int
spf_mech(Check *c, const Term *t, const char *domain, int depth)
{
	char target[DOMAIN_MAX + 2];

	if (!mechs[t->mech].dns)
		return mechs[t->mech].match(c, t, NULL, depth);
	if (spf_count(c) || spf_target(c, t->tok + t->u.arg.off, t->u.arg.len, domain, target))
		return ERR_PERM;
	return mechs[t->mech].match(c, t, target, depth);
}

/* RFC 7208 4.6.2: the result of the first directive that matches; else R_NOTYET */
static int
spf_eval(Check *c, const Record *r, const char *domain, int depth)
{
	static const int qual[128] = {
		['+'] = R_PASS, ['-'] = R_FAIL, ['~'] = R_SOFTFAIL, ['?'] = R_NEUTRAL
	};
	const Term *t;
	int m;

	for (t = r->t; t < r->t + r->n; t++) {
		if (t->mech == M_MOD)
			continue;
		trace("%.*s", (int)t->len, t->tok);
		trace_indent(1);
		m = spf_mech(c, t, domain, depth);
		trace("%s  [DNS terms %d/%d, void lookups %d/%d]", match_name[m],
		      c->lookups, max_dns_terms, c->voids, c->void_limit);
		trace_indent(-1);
		if (m != NOMATCH)
			return m == MATCH ? qual[t->qual] : m == ERR_TEMP ? R_TEMPERROR : R_PERMERROR;
	}
	return R_NOTYET;
}

/*
 * RFC 7208 6.2: the explanation of a fail.  Any problem fetching or
 * expanding it leaves c->exp empty, and the default is used.
 */
static void
spf_explain(Check *c, const char *arg, size_t arglen, const char *domain)
{
	char target[DOMAIN_MAX + 2], why[sizeof(c->why)];
	Answer a;
	size_t i;
	int n;

	c->exp[0] = '\0';
	memcpy(why, c->why, sizeof(why));	/* a failed exp= is no error */
	if (spf_target(c, arg, arglen, domain, target) ||
	    dns_lookup(c->deadline, target, T_TXT, &a) != D_OK || a.n != 1 ||
	    (n = spf_expand(c, a.s[0], a.len[0], domain, 1)) < 0) {
		memcpy(c->why, why, sizeof(why));
		return;
	}
	/* never let DNS text put a line break or a control into a reply */
	for (i = 0; i < (size_t)n && i < sizeof(c->exp) - 1; i++)
		c->exp[i] = expand[i] < ' ' || expand[i] > '~' ? '?' : expand[i];
	c->exp[i] = '\0';
}

/*
 * RFC 7208 4.4, 4.5: fetch the domain's one SPF record.  Returns R_NOTYET
 * with the record in *f, or the result that ends the check here.
 */
static int
spf_record(Check *c, const char *domain, int depth, Found *f)
{
	Answer a;
	size_t j;
	int i, found = 0;

	switch (dns_lookup(c->deadline, domain, T_TXT, &a)) {
	case D_TEMP:
		spf_temp(c, a.err, domain);
		return R_TEMPERROR;
	case D_NXDOMAIN:
	case D_NODATA:	/* an include or redirect target: a void lookup */
		return depth && spf_void(c) ? R_PERMERROR : R_NONE;
	}
	if (!depth)	/* what pyspf's cache shows No_Mail */
		c->nomail = a.n && a.first == 11 && !memcmp(a.s[0], "v=spf1 -all", 11);
	f->from = a.entry && a.entry->gen == a.gen ? a.entry : NULL;
	if (f->from && f->from->rec) {	/* this answer's record was found and parsed */
		f->s = rcache[f->from->rec - 1].text;
		f->len = rcache[f->from->rec - 1].len;
		return R_NOTYET;
	}
	for (i = 0; i < a.n; i++) {
		if (!spf_is_record(a.s[i], a.len[i]))
			continue;
		if (found++) {
			snprintf(c->why, sizeof(c->why), "Two or more type TXT spf records found.");
			return R_PERMERROR;
		}
		f->s = a.s[i];
		f->len = a.len[i];
	}
	if (!found)
		return R_NONE;
	for (j = 0; j < f->len; j++) {
		if (f->s[j] < ' ' || f->s[j] > '~') {
			snprintf(c->why, sizeof(c->why), "Non-ascii characters found in SPF record");
			return R_PERMERROR;
		}
	}
	return R_NOTYET;
}

/* RFC 7208 6.1: no directive matched and there is no "all": the target's result. */
static int
spf_redirect(Check *c, const Term *t, const char *domain, int depth, int wantexp)
{
	char target[DOMAIN_MAX + 2];
	int r;

	trace("redirect=%.*s", (int)t->u.arg.len, t->tok + t->u.arg.off);
	if (spf_count(c) || spf_target(c, t->tok + t->u.arg.off, t->u.arg.len, domain, target))
		return R_PERMERROR;
	trace_indent(1);
	r = spf_check_host(c, target, depth + 1, wantexp);
	trace_indent(-1);
	if (r == R_NONE) {
		snprintf(c->why, sizeof(c->why), "redirect domain has no SPF record: %s", target);
		r = R_PERMERROR;
	}
	return r;
}

/*
 * check_host(), RFC 7208 4: the result for one domain.  What its record
 * needs of the arena goes when it is done.
 */
static int
spf_check_host(Check *c, const char *domain, int depth, int wantexp)
{
	size_t mark = arena_mark();
	Found f = { NULL, 0, NULL };
	const Term *t;
	Record rec = { NULL, 0, -1, -1, 0 };
	int r;

	trace("check_host %s", domain);
	trace_indent(1);
	if ((r = spf_record(c, domain, depth, &f)) == R_NOTYET &&
	    (r = spf_parsed(c, &f, &rec)) == R_NOTYET &&
	    (r = spf_eval(c, &rec, domain, depth)) == R_NOTYET) {
		r = R_NEUTRAL;
		if (rec.redirect >= 0 && !rec.hasall) {
			r = spf_redirect(c, &rec.t[rec.redirect], domain, depth, wantexp);
			wantexp = 0;	/* the explanation, if any, is the target's */
		}
	}
	/* pyspf explains a softfail too; pypolicyd-spf shows it */
	if ((r == R_FAIL || r == R_SOFTFAIL) && wantexp && rec.exp >= 0) {
		t = &rec.t[rec.exp];
		spf_explain(c, t->tok + t->u.arg.off, t->u.arg.len, domain);
	}
	arena_release(mark);
	trace_indent(-1);
	trace("= %s%s%s", result_name[r], *c->why && r >= R_TEMPERROR ? ": " : "",
	      r >= R_TEMPERROR ? c->why : "");
	return r;
}

/*
 * A check of the client ip under cf's limits, its lookups ending secs
 * from now (Lookup_Time or Whitelist_Lookup_Time; 0: per query).
 */
static void
spf_begin(Check *c, const Conf *cf, const Addr *ip, int secs)
{
	memset(c, 0, offsetof(Check, ptr));	/* not the buffers */
	c->ptr.done = 0;
	c->exp[0] = c->why[0] = '\0';
	c->ip = *ip;
	c->void_limit = cf->void_limit;
	c->receiver = cf->receiver;
	c->deadline = deadline_in(secs);
}

/*
 * Evaluate one identity (RFC 7208 2.3, 2.4, 4.3): MAIL FROM, or
 * postmaster@helo for I_HELO and for the null sender.
 */
static int
spf_check(Check *c, const char *sender, const char *helo, int ident)
{
	const char *at, *domain = helo;
	size_t n, dl;

	c->helo = helo;
	c->local = "postmaster";	/* 4.3: no local-part */
	if (ident == I_MAILFROM && *sender) {
		domain = sender;
		if ((at = strrchr(sender, '@'))) {
			domain = at + 1;
			if ((n = at - sender) && n < sizeof(c->localbuf)) {
				memcpy(c->localbuf, sender, n);
				c->localbuf[n] = '\0';
				c->local = c->localbuf;
			}
		}
	}
	/* RFC 8616 4: U-labels are looked up as A-labels; a name that is not
	   IDNA2008 is malformed (4.3) */
	if (idn_ascii(domain, c->adomain, sizeof(c->adomain)))
		return R_NONE;
	c->sdomain = domain = c->adomain;
	if (!idn_ascii(helo, c->ahelo, sizeof(c->ahelo)))
		c->helo = c->ahelo;	/* %{h} */
	/* 4.3: malformed, single-label or literal: none, without a lookup */
	dl = strlen(domain);
	if (!name_ok(domain) || !strchr(domain, '.') || domain[dl - 1] == '.' ||
	    *domain == '[')
		return R_NONE;
	return spf_check_host(c, domain, 0, 1);
}

/*
 * Before a request: the parsed records go when their pool filled up
 * (spf_keep), and the DNS cache entries forget theirs.
 */
static void
spf_flush(void)
{
	if (!rcache_full)
		return;
	rcache_n = rpool_used = rcache_full = 0;
	cache_unparse();
}

/* config */

/*
 * Offers: conf_load() (a file, or the defaults, compiled into a Conf),
 * conf_free(), conf_set() and conf_key() (for a Per_User line),
 * conf_getline(), conf_defaults(), conf_unreadable(), conf_nameservers()
 * (-n), conf_default() and conf_which() (the file used without one).
 * Owns the defaults' templates (builtin), -n, and why the file given
 * was not read.
 */

static Conf builtin;		/* its templates only: the defaults, compiled once */
static const char *conf_unread;	/* conf_read(): why a file that is there was not read */
static const char *ns_given;	/* -n: over Nameservers, at every load */

static const char *const tmpl_names[NUM_TFIELDS] = {
	[TF_REJECTDEFER] = "rejectdefer", [TF_SPF] = "spf", [TF_URL] = "url",
	[TF_SCOPE] = "scope", [TF_IDENTITY] = "identity", [TF_IP] = "ip", [TF_RECEIVER] = "receiver",
	[TF_P0] = "0", [TF_P1] = "1", [TF_P2] = "2", [TF_P3] = "3",
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

/*
 * Read one line of a file into buf (size bytes, no newline kept).  A line
 * too long or holding a NUL is read to its end, never split in two.
 * Returns 0 for a line, 1 for a bad one, -1 at the end of the file.
 */
static int
conf_getline(FILE *fp, char *buf, size_t size)
{
	size_t n = 0;
	int ch, bad = 0;

	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (!ch || n == size - 1)
			bad = 1;
		else
			buf[n++] = ch;
	}
	buf[n] = '\0';
	return ch == EOF && !n && !bad ? -1 : bad;
}

/*
 * n bytes for cf's compiled values: from the request's arena for a
 * Per_User overlay, else a block freed with the others by conf_free().
 */
static void *
conf_alloc(Conf *cf, size_t n)
{
	void **b;

	if (cf->overlay)
		return aalloc(n);
	if (!(b = malloc(sizeof(*b) + n)))
		die("out of memory");
	*b = cf->blocks;
	cf->blocks = b;
	return b + 1;
}

static void
conf_free(Conf *cf)
{
	void **b, *next;

	for (b = cf->blocks; b; b = next) {
		next = *b;
		free(b);
	}
	cf->blocks = NULL;
}

static char *
conf_strdup(Conf *cf, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	return (p = conf_alloc(cf, n)) ? memcpy(p, s, n) : NULL;
}

/* The key called name, or NULL. */
static const Key *
conf_key(const char *name)
{
	size_t i;

	for (i = 0; i < LEN(keys); i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* HELO_reject, Mail_From_reject: pypolicyd-spf compares them exactly. */
static int
conf_policy(const char *v)
{
	static const char *const name[] = {
		[P_SPF_NOT_PASS] = "SPF_Not_Pass", [P_SOFTFAIL] = "Softfail", [P_FAIL] = "Fail",
		[P_NULL] = "Null", [P_FALSE] = "False", [P_NO_CHECK] = "No_Check",
	};
	int i;

	for (i = 0; i < P_OTHER && strcmp(v, name[i]); i++)
		;
	return i;
}

/* Header_Type: pypolicyd-spf reads it by substring. */
static int
conf_htype(const char *v)
{
	if (strstr(v, "AR"))
		return strstr(v, "SPF") ? H_BOTH : H_AR;
	return strcmp(v, "None") ? H_SPF : H_NONE;
}

/* K_TRUE: on when exactly "True", as pypolicyd-spf tests it */
static int
conf_true(const char *v)
{
	return !strcmp(v, "True");
}

/* K_NOTNO: on unless exactly "No" */
static int
conf_notno(const char *v)
{
	return strcmp(v, "No") != 0;
}

/* K_SEED: deprecated, any value: a warning per request */
static int
conf_seed(const char *v)
{
	(void)v;
	return 1;
}

/*
 * Compile a network list into l: the entries up to the first that is no
 * network, and that one (which -t and each request log).
 */
static void
conf_nets(Conf *cf, NetList *l, const char *key, const char *text)
{
	char buf[NET_ENTRY_MAX];
	const char *p = *text ? text : NULL, *e, *s;
	int max = 1;

	for (s = text; (s = strchr(s, ',')); s++)
		max++;
	memset(l, 0, sizeof(*l));
	l->key = key;
	l->text = text;
	if (!(l->net = conf_alloc(cf, max * sizeof(*l->net))))
		return;
	while ((e = list_next(&p, buf, sizeof(buf)))) {
		if ((l->err = net_parse(e, &l->net[l->n].a, &l->net[l->n].bits))) {
			l->bad = conf_strdup(cf, e);
			return;
		}
		l->n++;
	}
}

/*
 * A domain list as its entries, each ended by a NUL, then an empty one:
 * blanks stripped, empty entries left out, each cut to what a name can be.
 */
static const char *
conf_domains(Conf *cf, const char *text)
{
	char buf[DOMAIN_MAX + 2], *out, *o;
	const char *p = *text ? text : NULL, *e;

	if (!(o = out = conf_alloc(cf, strlen(text) + 2)))
		return "";
	while ((e = list_next(&p, buf, sizeof(buf))))
		if (*e)
			o = stpcpy(o, e) + 1;
	*o = '\0';
	return out;
}

/*
 * The spec of a field, Python's [[fill]align][width][.precision][s] for
 * a str, from spec to e into f; -1 when it is anything else.
 */
static int
conf_tmplspec(const char *spec, const char *e, TmplPart *f)
{
	f->fill = ' ';
	f->align = '<';
	f->width = 0;
	f->prec = (size_t)-1;
	if (e - spec >= 2 && strchr("<>^", spec[1])) {
		f->fill = spec[0];
		f->align = spec[1];
		spec += 2;
	} else if (spec < e && strchr("<>^", *spec)) {
		f->align = *spec++;
	}
	for (; spec < e && isdigit((unsigned char)*spec) && f->width < 10000; spec++)
		f->width = f->width * 10 + *spec - '0';
	if (spec < e && *spec == '.') {
		for (f->prec = 0, spec++; spec < e && isdigit((unsigned char)*spec) && f->prec < 10000; spec++)
			f->prec = f->prec * 10 + *spec - '0';
		if (spec[-1] == '.')
			return -1;
	}
	if (spec < e && *spec == 's')
		spec++;
	return spec == e ? 0 : -1;
}

/* The field {name} or {name:spec} at *p, one of fields lo..hi, into f; moves *p past it. */
static int
conf_tmplfield(const char **p, int lo, int hi, TmplPart *f)
{
	const char *s = *p + 1, *e, *colon;

	if (!(e = strchr(s, '}')) || memchr(s, '{', e - s))
		return -1;
	if (!(colon = memchr(s, ':', e - s)))
		colon = e;
	for (f->field = lo; f->field <= hi && (strlen(tmpl_names[f->field]) != (size_t)(colon - s) ||
	                                       memcmp(tmpl_names[f->field], s, colon - s)); f->field++)
		;
	f->lit = NULL;
	f->len = 0;
	*p = e + 1;
	return f->field > hi ? -1 : conf_tmplspec(colon + (colon < e), e, f);
}

/*
 * Python str.format() with named fields only, as pypolicyd-spf uses it:
 * {name} or {name:spec} is a field, {{ and }} are braces.  Returns the
 * number of parts, each put into part unless it is NULL; -1 for anything
 * else (pypolicyd-spf would die), and for a template whose literal text
 * and widths alone would not fit a reply.
 */
static int
conf_tmplparse(const char *v, int lo, int hi, TmplPart *part)
{
	const char *p = v, *s;
	size_t min = 0;
	TmplPart t;
	int n;

	for (n = 0; *p; n++) {
		memset(&t, 0, sizeof(t));
		if (*p == '{' && p[1] != '{') {
			if (conf_tmplfield(&p, lo, hi, &t))
				return -1;
			min += t.width;
		} else {
			for (s = p; *p && *p != '{' && *p != '}'; p++)
				;
			if (*p == '}' && p[1] != '}')
				return -1;
			t.lit = s;
			t.len = p - s;
			if (*p && p[1] == *p)	/* {{ or }}: one brace ends the text */
				t.len++, p += 2;
			min += t.len;
		}
		if (part)
			part[n] = t;
	}
	return min < REPLY_MAX ? n : -1;
}

/*
 * A template into the Tmpl at k's field of cf.  One that does not
 * compile leaves the default in force, and t->bad for -t to name.
 */
static int
conf_tmpl(Conf *cf, const Key *k, const char *v, const char *path)
{
	Tmpl *t = (Tmpl *)((char *)cf + k->off);
	TmplPart *part;
	int n;

	(void)path;
	if ((n = conf_tmplparse(v, k->min, k->max, NULL)) < 0 ||
	    !(part = conf_alloc(cf, (n + 1) * sizeof(*part)))) {	/* + 1: never 0 bytes */
		*t = *(const Tmpl *)((const char *)&builtin + k->off);
		t->bad = v;
		return 0;	/* -t names it */
	}
	t->part = part;
	t->n = conf_tmplparse(v, k->min, k->max, part);
	t->bad = NULL;
	return 0;
}

/* The templates' defaults, compiled once: what a template falls back to. */
static void
conf_builtin(void)
{
	size_t i;

	for (i = 0; i < LEN(keys); i++) {
		if (keys[i].type != K_TMPL)
			continue;
		conf_tmpl(&builtin, &keys[i], keys[i].def, "config.def.h");
		if (((const Tmpl *)((const char *)&builtin + keys[i].off))->bad)
			die("config.def.h: the default of %s does not compile", keys[i].name);
	}
}

/* Listen_Allow, ours: blanks separate entries too; unset, it is loopback. */
static int
conf_allow(Conf *cf, const Key *k, const char *v, const char *path)
{
	char buf[CONF_LINE_MAX];

	(void)path;
	cf->listen_allow_set = *v != '\0';
	conf_nets(cf, &cf->listen_allow, k->name, conf_strdup(cf, net_commas(*v ? v : listen_loopback,
	                                                                     buf, sizeof(buf))));
	return 0;
}

/* K_INT: a decimal in the key's range; 1: a problem, the value kept */
static int
conf_int(Conf *cf, const Key *k, const char *v, const char *path)
{
	int *f = (int *)((char *)cf + k->off);
	long n;

	if (num(v, k->min, k->max, &n)) {
		logmsg(LOG_ERR, "ERROR: %s = \"%s\" in file \"%s\": not an integer in %ld..%ld, "
		       "keeping %d", k->name, v, path, k->min, k->max, *f);
		return 1;
	}
	*f = n;
	return 0;
}

/* K_STR: the text */
static int
conf_str(Conf *cf, const Key *k, const char *v, const char *path)
{
	(void)path;
	*(const char **)((char *)cf + k->off) = v;
	return 0;
}

/* K_NETS */
static int
conf_netlist(Conf *cf, const Key *k, const char *v, const char *path)
{
	(void)path;
	conf_nets(cf, (NetList *)((char *)cf + k->off), k->name, v);
	return 0;
}

/* K_DOMAINS */
static int
conf_domainlist(Conf *cf, const Key *k, const char *v, const char *path)
{
	(void)path;
	*(const char **)((char *)cf + k->off) = conf_domains(cf, v);
	return 0;
}

/* K_PERUSER: "text,<path>" names a file; anything else is kept to be logged */
static int
conf_peruser(Conf *cf, const Key *k, const char *v, const char *path)
{
	(void)k;
	(void)path;
	cf->per_user = v;
	cf->per_user_path = strncmp(v, "text,", 5) || strchr(v + 5, ',') ? NULL : v + 5;
	return 0;
}

/*
 * What each enum KeyType does with a value: a new type is a line here.
 * The text of an owned value is kept (copied off the line, unless it is
 * the default or a Per_User line's, which live as long as the Conf).
 */
typedef struct {
	int owns;			/* the Conf keeps the value's text */
	int (*toint)(const char *);	/* an int field: the value read */
	int (*set)(Conf *, const Key *, const char *, const char *);	/* else */
} KeyRule;

static const KeyRule keyrules[NUM_KEYTYPES] = {
	[K_INT]     = { 0, NULL,        conf_int },
	[K_BOOL]    = { 0, conf_bool,   NULL },
	[K_TRUE]    = { 0, conf_true,   NULL },
	[K_NOTNO]   = { 0, conf_notno,  NULL },
	[K_POLICY]  = { 0, conf_policy, NULL },
	[K_HTYPE]   = { 0, conf_htype,  NULL },
	[K_STR]     = { 1, NULL,        conf_str },
	[K_TMPL]    = { 1, NULL,        conf_tmpl },
	[K_NETS]    = { 1, NULL,        conf_netlist },
	[K_ALLOW]   = { 1, NULL,        conf_allow },
	[K_DOMAINS] = { 1, NULL,        conf_domainlist },
	[K_PERUSER] = { 1, NULL,        conf_peruser },
	[K_SEED]    = { 0, conf_seed,   NULL },
	[K_IGNORED] = { 0, NULL,        NULL },
};

/*
 * v as the value of k in cf, read from path: 1 when it is a problem (the
 * value in force stays).  What a type does is in keyrules[].
 */
static int
conf_set(Conf *cf, const Key *k, const char *v, const char *path)
{
	const KeyRule *t = &keyrules[k->type];

	if (t->owns && !cf->overlay && v != k->def)
		v = conf_strdup(cf, v);	/* the line goes */
	if (t->toint)
		*(int *)((char *)cf + k->off) = t->toint(v);
	return t->set ? t->set(cf, k, v, path) : 0;
}

/*
 * One "name = value" line of a config file; returns the number of
 * problems (logged).
 */
static int
conf_line(Conf *cf, char *line, const char *path)
{
	const Key *k;
	char *name, *eq;

	if ((eq = strchr(line, '#')))
		*eq = '\0';
	if (!*(line = strip(line)) || !(eq = strchr(line, '=')))
		return 0;
	*eq = '\0';
	name = strip(line);
	if (!(k = conf_key(name))) {
		logmsg(LOG_INFO, "ERROR: Unknown name \"%s\" in file \"%s\"", name, path);
		return 1;
	}
	return conf_set(cf, k, strip(eq + 1), path);	/* a value may hold '=' (a deviation) */
}

/*
 * Read a pypolicyd-spf config file over the defaults in cf.  A missing
 * file leaves the defaults, as pypolicyd-spf does; one that is there but
 * cannot be read (a mode its user has no right to, a directory) is named
 * in conf_unread, for the listener to refuse it.  Returns the number of
 * problems, each logged.
 */
static int
conf_read(const char *path, Conf *cf)
{
	char line[CONF_LINE_MAX], host[256];
	struct stat st;
	FILE *fp;
	int bad = 0, r;

	conf_unread = NULL;
	if (stat(path, &st)) {
		if (errno != ENOENT && errno != ENOTDIR)
			conf_unread = strerror(errno);
		logmsg(LOG_ERR, "ERROR stating \"%s\": %s", path, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_unread = "not a file";
		logmsg(LOG_ERR, "ERROR: is not a file: \"%s\", mode=0o%o", path, (unsigned)st.st_mode);
		return 1;
	}
	if (!(fp = fopen(path, "r"))) {
		conf_unread = strerror(errno);
		logmsg(LOG_ERR, "ERROR opening \"%s\": %s", path, strerror(errno));
		return 1;
	}
	while ((r = conf_getline(fp, line, sizeof(line))) >= 0) {
		if (r > 0) {
			logmsg(LOG_ERR, "ERROR: line longer than %d bytes or with a NUL byte "
			       "in file \"%s\"", CONF_LINE_MAX - 1, path);
			bad++;
			continue;
		}
		bad += conf_line(cf, line, path);
	}
	fclose(fp);
	if (!strcmp(cf->authserv_id, "HOSTNAME") && !gethostname(host, sizeof(host))) {
		host[sizeof(host) - 1] = '\0';
		cf->authserv_id = conf_strdup(cf, host);
	}
	return bad;
}

/*
 * Check what pypolicyd-spf would only find out at the first request (or
 * never): each problem is logged; pypolicyd-spf would die on most.
 */
static int
conf_check(const Conf *cf)
{
	const Key *k;
	const Tmpl *t;
	int bad = 0;

	if (cf->htype == H_BOTH) {
		logmsg(LOG_ERR, "Header_Type includes both SPF and AR - invalid configuration; "
		       "using Authentication-Results");
		bad++;
	}
	if ((cf->htype == H_AR || cf->htype == H_BOTH) && !*cf->authserv_id) {
		logmsg(LOG_ERR, "Authserv_Id not set for authentication results header - "
		       "invalid configuration; using the host name");
		bad++;
	}
	for (k = keys; k < keys + LEN(keys); k++) {
		if (k->type != K_TMPL || !(t = (const Tmpl *)((const char *)cf + k->off))->bad)
			continue;
		logmsg(LOG_ERR, "%s = \"%s\": only the fields {%s}%s are known, and braces must pair; "
		       "using the default", k->name, t->bad, tmpl_names[k->min], k->max > k->min ? " ..." : "");
		bad++;
	}
	bad += net_check(&cf->skip);
	bad += net_check(&cf->whitelist);
	bad += net_check(&cf->listen_allow);
	if (*cf->per_user && !cf->per_user_path) {
		logmsg(LOG_ERR, "Per_User = \"%s\": not text,<path>; ignored", cf->per_user);
		bad++;
	}
	return bad;
}

/* The values that come from the host: the authserv-id (lower case) and %{r}. */
static void
conf_host(Conf *cf)
{
	char host[256], *p;

	if (*cf->authserv_id)
		snprintf(host, sizeof(host), "%s", cf->authserv_id);
	else if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (p = host; *p; p++)
		*p = tolower((unsigned char)*p);
	cf->authserv_id = conf_strdup(cf, host);
	/* %{r}: Receiver_Domain, or the host name (RFC 7208 7.3) */
	if (*cf->receiver)
		snprintf(host, sizeof(host), "%s", cf->receiver);
	else if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	cf->receiver = conf_strdup(cf, host);
}

/*
 * The configuration of path (NULL: the defaults alone) into cf, compiled:
 * the defaults, the file over them, then what depends on several keys or
 * on the host.  Returns the number of problems, each logged.
 */
static int
conf_load(const char *path, Conf *cf)
{
	size_t i;
	int bad;

	if (!builtin.blocks)
		conf_builtin();
	memset(cf, 0, sizeof(*cf));
	for (i = 0; i < LEN(keys); i++)
		if (keys[i].def)
			conf_set(cf, &keys[i], keys[i].def, "");
	bad = path ? conf_read(path, cf) : 0;
	bad += conf_check(cf);
	conf_host(cf);
	if (ns_given)	/* -n: not checked, as before; dns_init() tells */
		cf->nameservers = ns_given;
	return bad;
}

/* the templates' defaults, for a value too long to format (pol_message) */
static const Conf *
conf_defaults(void)
{
	return &builtin;
}

/* why the file conf_load() was given is there but was not read; NULL: it was */
static const char *
conf_unreadable(void)
{
	return conf_unread;
}

/* -n: ns over the Nameservers key of every config loaded from now on */
static void
conf_nameservers(const char *ns)
{
	ns_given = ns;
}

/*
 * Without a config argument: the first of default_configs that exists.
 * Upstream's path comes first; Debian's package keeps its file in the
 * other, and its master.cf line gives no path.
 */
static const char *
conf_default(void)
{
	size_t i;

	for (i = 0; i < LEN(default_configs); i++)
		if (!access(default_configs[i], F_OK))
			return default_configs[i];
	return default_configs[0];	/* missing: logged, the defaults */
}

/* Say which file is in force when none was named (-t: on stdout). */
static void
conf_which(const char *path, int check)
{
	const char *why = access(path, F_OK) ? "neither exists: the defaults" : "the first that exists";

	if (check)
		printf("%s: no config argument: of %s and %s, %s\n", path, default_configs[0],
		       default_configs[1], why);
	else
		logmsg(LOG_INFO, "no config argument: of %s and %s, %s: %s", default_configs[0],
		       default_configs[1], why, path);
}

/* policy */

/*
 * Offers: pol_request() (one request, read, to its reply on stdout),
 * pol_begin() and pol_ident() (for -q).  Owns the answers given to the
 * messages seen (icache, by instance), the Per_User line in force and
 * the reply's buffer.
 */

static char userline[CONF_LINE_MAX];	/* the Per_User line in force points into it */
static char replybuf[REPLY_MAX + 64];
static struct {		/* per-instance answers, for later recipients */
	char id[INSTANCE_MAX];
	int act;
	char text[REPLY_MAX];
} icache[ICACHE_SIZE];
static int icache_next;

static const char *const result_cap[NUM_RESULTS] = {	/* as pypolicyd-spf writes them */
	[R_NONE] = "None", [R_NEUTRAL] = "Neutral", [R_PASS] = "Pass",
	[R_FAIL] = "Fail", [R_SOFTFAIL] = "Softfail",
	[R_TEMPERROR] = "Temperror", [R_PERMERROR] = "Permerror",
};

/*
 * A compiled template with the values of its fields (by enum TmplField)
 * into out, padded and cut as str.format() would.  Returns -1 when it
 * does not fit: out then ends before the first piece that did not.
 */
static int
pol_format(const Tmpl *t, const char *const *vals, char *out, size_t size)
{
	const TmplPart *f;
	Buf b = { out, size, 0, 0 };
	size_t vlen, pad;

	for (f = t->part; f < t->part + t->n && !b.err; f++) {
		if (f->lit) {
			buf_put(&b, f->lit, f->len);
			continue;
		}
		vlen = MIN(strlen(vals[f->field]), f->prec);
		pad = f->width > vlen ? f->width - vlen : 0;
		buf_fill(&b, f->fill, f->align == '>' ? pad : f->align == '^' ? pad / 2 : 0);
		buf_put(&b, vals[f->field], vlen);
		buf_fill(&b, f->fill, f->align == '<' ? pad : f->align == '^' ? pad - pad / 2 : 0);
	}
	out[b.len] = '\0';
	return b.err ? -1 : 0;
}

/* The reason pyspf gives for a result: pypolicyd-spf's {spf} and comments. */
static void
pol_reason(int r, const Check *c, char *buf, size_t size)
{
	switch (r) {
	case R_PASS:
		join(buf, size, "sender SPF authorized", (char *)NULL);
		break;
	case R_FAIL:
		join(buf, size, c->exp, (char *)NULL);
		break;
	case R_SOFTFAIL:
		join(buf, size, *c->exp ? c->exp : "domain owner discourages use of this host", (char *)NULL);
		break;
	case R_NEUTRAL:
		join(buf, size, "access neither permitted nor denied", (char *)NULL);
		break;
	case R_NONE:
		buf[0] = '\0';	/* pypolicyd-spf says "no SPF record" later */
		break;
	case R_PERMERROR:
		snprintf(buf, size, "SPF Permanent Error: %s", c->why);
		break;
	case R_TEMPERROR:
		snprintf(buf, size, "SPF Temporary Error: %s", c->why);
		break;
	}
}

/* An RFC 8601 value as python-authres writes it: quoted unless a token or with '@'. */
static void
pol_arvalue(const char *v, char *buf, size_t size)
{
	static const char tok[] = "!#$%&'*+.^_`{|}~-";
	const char *p;
	size_t n = 0;

	for (p = v; *p && (isalnum((unsigned char)*p) || strchr(tok, *p)); p++)
		;
	if ((*v && !*p) || strchr(v, '@')) {
		snprintf(buf, size, "%s", v);
		return;
	}
	buf[n++] = '"';
	for (p = v; *p && n + 3 < size; p++) {
		if (*p == '"' || *p == '\\')
			buf[n++] = '\\';
		buf[n++] = *p;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

/*
 * The header for one identity (pypolicyd-spf's exact text): Received-SPF
 * with its trailing space, or Authentication-Results.
 */
static void
pol_header(const Ctx *x, int ident, Verdict *id)
{
	char val[LINE_MAX_LEN * 2 + 3], lower[16], why[sizeof(id->reason) + 3];
	const char *hsender = ident == I_HELO && !*x->sender ? "<>" : x->sender, *dom;
	const char *aid = x->cf->authserv_id, *r, *scope = ident == I_HELO ? "helo" : "mailfrom";
	size_t i;

	if (x->cf->htype == H_SPF || x->cf->htype == H_NONE) {
		join(id->header, sizeof(id->header), "Received-SPF: ", result_cap[id->r], " (",
		     ident == I_HELO ? id->reason : "mailfrom", ") identity=", scope, "; client-ip=",
		     x->ipstr, "; helo=", x->helo, "; envelope-from=", hsender, "; receiver=", x->rcpt,
		     " ", (char *)NULL);
		return;
	}
	for (i = 0, r = result_cap[id->r]; r[i] && i < sizeof(lower) - 1; i++)
		lower[i] = tolower((unsigned char)r[i]);
	lower[i] = '\0';
	snprintf(why, sizeof(why), "%s%s%s", *id->reason ? " (" : "", id->reason,
	         *id->reason ? ")" : "");
	dom = ident == I_HELO ? x->helo : (dom = strchr(x->sender, '@')) ? dom + 1 : x->sender;
	pol_arvalue(dom, val, sizeof(val));
	if (!*dom)	/* python-authres dies on an empty value */
		snprintf(id->header, sizeof(id->header), "Authentication-Results: %s; spf=%s%s",
		         aid, lower, why);
	else
		snprintf(id->header, sizeof(id->header), "Authentication-Results: %s; spf=%s%s "
		         "smtp.%s=%s (client-ip=%s; helo=%s; envelope-from=%s; receiver=%s)",
		         aid, lower, why, ident == I_HELO ? "helo" : "mailfrom", val, x->ipstr, x->helo,
		         hsender, x->rcpt);
}

/* A trace header for a skipped check (pypolicyd-spf's X-Comment), into x->o. */
static void
pol_trace(Ctx *x, const char *comment)
{
	const char *v[NUM_ATTRS];
	int i;

	for (i = 0; i < NUM_ATTRS; i++)
		v[i] = x->rq->has[i] ? x->rq->v[i] : "<UNKNOWN>";
	if (x->cf->htype == H_AR || x->cf->htype == H_BOTH)
		snprintf(x->o.text, sizeof(x->o.text), "Authentication-Results: %s; none (%s "
		         "client-ip=%s; helo=%s; envelope-from=%s; receiver=%s)", x->cf->authserv_id,
		         comment, v[AT_CLIENT], v[AT_HELO], v[AT_SENDER], v[AT_RECIPIENT]);
	else
		snprintf(x->o.text, sizeof(x->o.text), "X-Comment: %sclient-ip=%s; helo=%s; "
		         "envelope-from=%s; receiver=%s ", comment, v[AT_CLIENT], v[AT_HELO],
		         v[AT_SENDER], v[AT_RECIPIENT]);
}

/* Python's repr() of a str, for the log lines pypolicyd-spf writes. */
static void
pol_repr(const char *s, char *buf, size_t size)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	size_t n = 0;

	buf[n++] = q;
	for (; *s && n + 6 < size; s++) {
		unsigned char ch = *s;

		if (ch == '\\' || ch == (unsigned char)q)
			n += snprintf(buf + n, size - n, "\\%c", ch);
		else if (ch == '\n' || ch == '\r' || ch == '\t')
			n += snprintf(buf + n, size - n, "\\%c", ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't');
		else if (ch < ' ' || ch == 0x7f)
			n += snprintf(buf + n, size - n, "\\x%02x", ch);
		else
			buf[n++] = ch;
	}
	buf[n++] = q;
	buf[n] = '\0';
}

/* The cached answer for an instance, or -1. */
static int
pol_cached(const char *id)
{
	int i;

	for (i = 0; *id && i < ICACHE_SIZE; i++)
		if (!strcmp(icache[i].id, id))
			return i;
	return -1;
}

/*
 * What the instance memory is to get for this request; the last word
 * counts, as when pypolicyd-spf wrote it at each step.
 */
static void
pol_memo(Ctx *x, int act, const char *text)
{
	x->o.mact = act;
	x->o.mtext = text;
}

/*
 * Remember the request's answer for its instance: the one place the
 * instance memory is written.  Postfix starts a new instance only when
 * the last transaction is over, so a few slots bound the memory that
 * pypolicyd-spf lets grow with every message.
 */
static void
pol_remember(const Ctx *x)
{
	const char *id = x->inst;
	int i;

	if (!x->o.mtext || !*id || strlen(id) >= INSTANCE_MAX)
		return;
	if ((i = pol_cached(id)) < 0) {
		i = icache_next;
		icache_next = (icache_next + 1) % ICACHE_SIZE;
		strcpy(icache[i].id, id);
	}
	icache[i].act = x->o.mact;
	join(icache[i].text, sizeof(icache[i].text), x->o.mtext, (char *)NULL);
}

/* Whether domain is one of the list's domains or below one (any case). */
static int
pol_indomains(const char *list, const char *domain)
{
	for (; *list; list += strlen(list) + 1)
		if (*domain && name_under(domain, list))
			return 1;
	return 0;
}

/*
 * RFC 7208 result to action for one identity (pypolicyd-spf's
 * _get_resultcodes): the *_reject policy, then TempError_Defer and
 * PermError_reject unless the policy is False.  *local is set when
 * Reject_Not_Pass_Domains decided.
 */
static int
pol_action(const Conf *cf, int ident, const char *domain, int r, int *local)
{
	int policy = cf->policy[ident], rej = 0;

	if ((*local = pol_indomains(cf->reject_not_pass, domain)))
		policy = P_SPF_NOT_PASS;
	if (policy == P_SPF_NOT_PASS)
		rej = r == R_FAIL || r == R_SOFTFAIL || r == R_NEUTRAL;
	else if (policy == P_SOFTFAIL)
		rej = r == R_FAIL || r == R_SOFTFAIL;
	else if (policy == P_FAIL || (ident == I_HELO && policy == P_NULL))
		rej = r == R_FAIL;
	if (rej)
		return A_REJECT;
	if (policy == P_FALSE)
		return A_PREPEND;
	if (r == R_TEMPERROR && cf->temperror_defer)
		return A_DEFER;
	if (r == R_PERMERROR && cf->permerror_reject)
		return A_REJECT;
	return A_PREPEND;
}

/* The reject or defer text of an identity: Reason_Message with its three fields. */
static void
pol_message(Ctx *x, int ident, char *out, size_t size)
{
	const Verdict *id = &x->id[ident];
	const char *scope = ident == I_HELO ? "helo" : "mfrom";
	const char *identity = ident == I_HELO ? x->helo : x->sender;
	const char *v[NUM_TFIELDS] = {
		[TF_REJECTDEFER] = id->act == A_REJECT ? "rejected" : "deferred",
		[TF_SPF] = id->reason, [TF_URL] = x->url,	/* formatted first */
		[TF_SCOPE] = scope, [TF_IDENTITY] = identity,
		[TF_IP] = x->ipstr, [TF_RECEIVER] = x->rcpt,
		/* Reason_URL's {0}..{3} */
		[TF_P0] = scope, [TF_P1] = identity, [TF_P2] = x->ipstr, [TF_P3] = x->rcpt,
	};
	const Tmpl *url = x->cf->reason_url.n ? &x->cf->reason_url : &x->cf->why_url;

	if (pol_format(url, v, x->url, sizeof(x->url)))	/* too long: the default's */
		pol_format(&conf_defaults()->why_url, v, x->url, sizeof(x->url));
	if (pol_format(&x->cf->reason_message, v, out, size))
		pol_format(&conf_defaults()->reason_message, v, out, size);
}

/* Whether the HELO name's addresses include the client (HELO_Whitelist). */
static int
pol_helo_listed(const Ctx *x)
{
	const char *e;
	Answer a;
	int i;

	if (!x->rq->has[AT_HELO])
		return 0;
	for (e = x->cf->helo_whitelist; *e; e += strlen(e) + 1) {
		if (strcasecmp(e, x->rq->v[AT_HELO]) ||
		    dns_lookup(deadline_in(x->cf->whitelist_lookup_time), e,
		               x->raw.v6 ? T_AAAA : T_A, &a) != D_OK)
			continue;	/* DNS errors are ignored, as pypolicyd-spf */
		for (i = 0; i < a.n; i++)
			if (!memcmp(a.ip[i], x->raw.b, x->raw.v6 ? 16 : 4))
				return 1;
	}
	return 0;
}

/* Whether a validated PTR name of the client is in Domain_Whitelist_PTR. */
static int
pol_ptr_listed(const Ctx *x)
{
	Ptrs p;
	int i, n;

	p.done = 0;
	n = spf_validate(deadline_in(x->cf->whitelist_lookup_time), &x->ip, NULL, &p);
	for (i = 0; i < n; i++)
		if (pol_indomains(x->cf->domain_whitelist_ptr, p.name[i]))
			return 1;
	return 0;
}

/* Whether a Domain_Whitelist domain's SPF record passes the client. */
static int
pol_domain_listed(const Ctx *x)
{
	Check c;
	const char *e;

	for (e = x->cf->domain_whitelist; *e; e += strlen(e) + 1) {
		spf_begin(&c, x->cf, &x->ip, x->cf->whitelist_lookup_time);
		if (spf_check(&c, e, e, I_MAILFROM) == R_PASS)
			return 1;
	}
	return 0;
}

/*
 * The skip and whitelist checks, in pypolicyd-spf's order.  Returns the
 * trace comment of the first that applies, or NULL.
 */
static const char *
pol_skipped(const Ctx *x)
{
	const Conf *cf = x->cf;

	if (net_match(&cf->skip, &x->raw, cf->debug))
		return "SPF check N/A for local connections - ";
	if (net_match(&cf->whitelist, &x->raw, cf->debug))
		return "SPF skipped for whitelisted relay - ";
	if (*cf->domain_whitelist && pol_domain_listed(x))
		return "SPF skipped for whitelisted relay domain - ";
	if (*cf->helo_whitelist && pol_helo_listed(x))
		return "SPF skipped for whitelisted HELO domain - ";
	if (*cf->domain_whitelist_ptr && pol_ptr_listed(x))
		return "SPF skipped for PTR whitelisted relay domain - ";
	return NULL;
}

/*
 * Evaluate one identity and dress the result as pypolicyd-spf does:
 * action, reason, header, the level 2 log line.
 */
static void
pol_ident(Ctx *x, int ident)
{
	Check c;
	char repr[EXP_MAX + 700];
	const char *dom;
	Verdict *id = &x->id[ident];
	int local;

	spf_begin(&c, x->cf, &x->ip, x->cf->lookup_time);
	id->r = spf_check(&c, x->sender, x->helo, ident);
	if (id->r == R_FAIL && !*c.exp)
		join(c.exp, sizeof(c.exp), x->cf->default_exp, (char *)NULL);
	id->nomail = c.nomail;
	memcpy(id->exp, c.exp, sizeof(id->exp));
	pol_reason(id->r, &c, id->reason, sizeof(id->reason));
	if (x->cf->debug >= 2) {
		pol_repr(id->reason, repr, sizeof(repr));
		logmsg(LOG_INFO, "spfcheck: pyspf result: \"['%s', %s, '%s']\"",
		       result_cap[id->r], repr, ident == I_HELO ? "helo" : "mailfrom");
	}
	dom = ident == I_HELO ? x->helo : (dom = strchr(x->sender, '@')) ? dom + 1 : "";
	id->act = pol_action(x->cf, ident, dom, id->r, &local);
	if (ident == I_HELO && x->cf->policy[I_HELO] == P_NULL && *x->sender) {
		/* Null: the HELO only decides for bounces; otherwise its result
		   is none, and the MAIL FROM header goes on, as pypolicyd-spf
		   3.1.0 has it (3.0.4 put the HELO header: DEVIATIONS) */
		id->r = R_NONE;
		id->act = A_DUNNO;
	} else if (local)
		snprintf(id->reason, sizeof(id->reason), "Receiver policy for SPF %s", result_cap[id->r]);
	if (id->r == R_NONE)
		join(id->reason, sizeof(id->reason), "no SPF record", (char *)NULL);
	pol_header(x, ident, id);
}

/* Log the level 2 detail line of an identity. */
static void
pol_detail(const Ctx *x, int ident)
{
	if (x->cf->debug >= 2)
		logmsg(LOG_INFO, "%s; identity=%s; client-ip=%s; helo=%s; envelope-from=%s; receiver=%s ",
		       result_cap[x->id[ident].r], ident == I_HELO ? "helo" : "mailfrom", x->ipstr,
		       x->helo, ident == I_HELO && !*x->sender ? "<>" : x->sender, x->rcpt);
}

/* A reject that No_Mail turns into a prepend: the record is not "v=spf1 -all". */
static int
pol_nomail(const Conf *cf, const Verdict *id)
{
	return id->act == A_REJECT && cf->no_mail && !id->nomail ? A_PREPEND : id->act;
}

static void
outcome(Outcome *o, int act, const char *text, int iserror)
{
	o->act = act;
	o->iserror = iserror;
	join(o->text, sizeof(o->text), text, (char *)NULL);
}

/* Answer a reject or defer of one identity, and remember it. */
static void
pol_refuse(Ctx *x, int ident)
{
	const Verdict *id = &x->id[ident];

	pol_message(x, ident, x->o.text, sizeof(x->o.text));
	x->o.act = id->act;
	x->o.iserror = id->r == R_PERMERROR || id->r == R_TEMPERROR;
	pol_memo(x, id->act, x->o.text);
}

/*
 * The HELO check (unless No_Check): returns 1 when it refuses the
 * request, else 0, with the header in *header.
 */
static int
pol_helo(Ctx *x, const char **header)
{
	Verdict *h = &x->id[I_HELO];
	const char *hpr = x->cf->restriction[I_HELO];

	h->r = R_NONE;
	h->act = A_NONE;
	if (x->cf->policy[I_HELO] == P_NO_CHECK)
		return 0;
	pol_ident(x, I_HELO);
	pol_detail(x, I_HELO);
	*header = h->header;
	if (h->act != A_REJECT && h->act != A_DEFER) {
		if (*hpr && h->r == R_PASS)
			pol_memo(x, A_RESULT_ONLY, hpr);
		else
			pol_memo(x, h->act, h->header);
	} else if ((h->act = pol_nomail(x->cf, h)) != A_PREPEND) {
		pol_refuse(x, I_HELO);
		return 1;
	}
	return 0;
}

/*
 * The HELO check, then the MAIL FROM check, and which of them answers:
 * pypolicyd-spf's order, quirks included, decides which header and which
 * verdict win (pypolicyd-spf-behaviour.md 5, 6).
 */
static void
pol_identities(Ctx *x)
{
	const Verdict *h = &x->id[I_HELO], *m = &x->id[I_MAILFROM];
	const char *header = "", *hpr = x->cf->restriction[I_HELO];
	const char *mpr = x->cf->restriction[I_MAILFROM];
	const int *policy = x->cf->policy;

	if (!*x->sender && !*x->helo) {
		if (x->cf->debug >= 2)
			logmsg(LOG_INFO, "spfcheck: No sender or helo, exiting");
		return;
	}
	if (!*x->helo)	/* the sender's domain stands in, in headers too */
		x->helo = (x->helo = strchr(x->sender, '@')) ? x->helo + 1 : "unknown";
	if (pol_helo(x, &header))
		return;
	if (!*x->sender) {
		if (policy[I_HELO] == P_NO_CHECK)
			return;
		if (!*hpr || h->r != R_PASS)
			pol_memo(x, h->act, header);
		outcome(&x->o, *hpr && h->r == R_PASS ? A_RESULT_ONLY : h->act,
		        *hpr && h->r == R_PASS ? hpr : header, 0);
		return;
	}
	if (policy[I_MAILFROM] == P_NO_CHECK) {
		if (policy[I_HELO] != P_NO_CHECK)
			outcome(&x->o, A_PREPEND, header, 0);
		return;
	}
	pol_ident(x, I_MAILFROM);
	if (m->r != R_NONE || h->r == R_NONE) {	/* else the HELO header stays */
		pol_detail(x, I_MAILFROM);
		header = m->header;
		if (m->act != A_REJECT && m->act != A_DEFER)
			pol_memo(x, m->act, header);
	}
	if ((*mpr && m->r == R_PASS) || (*hpr && h->r == R_PASS)) {
		/* pypolicyd-spf answers "None" for a HELO-only restriction here */
		hpr = m->r == R_PASS && *mpr ? mpr : hpr;
		if (m->r == R_PASS)
			pol_memo(x, A_RESULT_ONLY, hpr);
		outcome(&x->o, A_RESULT_ONLY, hpr, 0);
	} else if ((m->act == A_REJECT || m->act == A_DEFER) &&
	           (x->id[I_MAILFROM].act = pol_nomail(x->cf, m)) != A_PREPEND) {
		pol_refuse(x, I_MAILFROM);
	} else {
		outcome(&x->o, A_PREPEND, header, 0);
	}
}

/*
 * The decision for one request, step for step pypolicyd-spf's _spfcheck:
 * the cached answer of the message, the skip and whitelist checks, then
 * the identities.
 */
static void
pol_decide(Ctx *x)
{
	const char *comment, *client = x->rq->has[AT_CLIENT] ? x->rq->v[AT_CLIENT] : NULL;
	int k;

	outcome(&x->o, A_NONE, "None", 0);
	if (!(x->ipstr = *x->cf->prospective ? x->cf->prospective : client)) {
		if (x->cf->debug >= 2)
			logmsg(LOG_INFO, "spfcheck: No client address, exiting");
		return;
	}
	if ((k = pol_cached(x->inst)) >= 0) {
		if (icache[k].act == A_PREPEND)
			outcome(&x->o, A_DUNNO, "Header already pre-pended", 0);
		else
			outcome(&x->o, icache[k].act, icache[k].text, 0);
		return;
	}
	if (addr_parse(x->ipstr, &x->ip, 1) || addr_parse(x->ipstr, &x->raw, 0)) {
		logmsg(LOG_ERR, "ERROR: client address \"%s\" is not an IP address; answering %s",
		       x->ipstr, x->cf->error_action);
		outcome(&x->o, A_ERROR, x->cf->error_action, 0);
		return;
	}
	if ((comment = pol_skipped(x))) {
		pol_trace(x, comment);
		if (x->cf->debug >= 3)
			logmsg(LOG_INFO, "%s", x->o.text);
		x->o.act = A_PREPEND;
		pol_memo(x, A_PREPEND, x->o.text);
		return;
	}
	pol_identities(x);
}

/*
 * Write one reply: the strings up to a NULL one, as join() puts them.
 * Nothing from DNS or the request may end the line or hide a second
 * reply in it: controls become '?'.
 */
static void
reply(const char *s, ...)
{
	va_list ap;
	size_t n, i;
	ssize_t w;

	va_start(ap, s);
	vjoin(replybuf, sizeof(replybuf) - 2, s, ap);
	va_end(ap);
	n = strlen(replybuf);
	for (i = 0; i < n; i++)
		if ((unsigned char)replybuf[i] < ' ' || replybuf[i] == 0x7f)
			replybuf[i] = '?';
	replybuf[n++] = '\n';
	replybuf[n++] = '\n';
	for (i = 0; i < n; i += w)
		if ((w = write(1, replybuf + i, n - i)) < 0 && errno != EINTR)
			exit(0);	/* Postfix went away */
		else if (w < 0)
			w = 0;
}

/*
 * The decision as it goes out: TestOnly 0 answers dunno but for a
 * header or an error; the debugLevel 3 line names the action then.
 */
static int
pol_final(const Ctx *x)
{
	static const char *const name[NUM_ACTS] = {
		"None", "dunno", "prepend", "reject", "defer", "result_only", "error"
	};
	const Conf *cf = x->cf;
	int act = x->o.act;

	if (cf->test_only == 0 && act != A_PREPEND && act != A_ERROR)
		act = A_NONE;
	if (cf->debug >= 3)
		logmsg(LOG_INFO, "Action: %s: Text: %s Reject action: %s", name[act],
		       act == A_NONE ? "None" : x->o.text,
		       !cf->enhanced ? "550" : x->o.iserror ? "550 5.7.24" : "550 5.7.23");
	return act;
}

/*
 * Turn the decision into the action line, logged as pypolicyd-spf logs
 * it; a header goes out unless Prospective or Header_Type None says not.
 */
static void
pol_answer(const Ctx *x)
{
	const Conf *cf = x->cf;
	const char *rej, *def, *qid = x->rq->has[AT_QUEUEID] ? x->rq->v[AT_QUEUEID] : NULL;
	const char *text = x->o.text;
	int act = pol_final(x), log = cf->debug >= 1;

	rej = !cf->enhanced ? "550" : x->o.iserror ? "550 5.7.24" : "550 5.7.23";
	def = cf->enhanced ? "defer_if_permit 4.7.24" : "defer_if_permit";
	if ((act == A_REJECT || act == A_DEFER) && log)
		logmsg(LOG_INFO, "%s%s%s %s", qid ? qid : "", qid ? ": " : "",
		       act == A_REJECT ? rej : def, text);
	if (act == A_PREPEND && !*cf->prospective && log)
		logmsg(LOG_INFO, "%s%s%s %s", qid ? qid : "", qid ? ": " : "",
		       cf->htype != H_NONE ? "prepend" : "Header field not prepended:", text);
	if (act == A_RESULT_ONLY && log)
		logmsg(LOG_INFO, "%s%sresult_only %s", qid ? qid : "", qid ? ": " : "", text);
	if (act == A_REJECT || act == A_DEFER)
		reply("action=", act == A_REJECT ? rej : def, " ", text, (char *)NULL);
	else if (act == A_PREPEND && !*cf->prospective && cf->htype != H_NONE)
		reply("action=prepend ", text, (char *)NULL);
	else if (act == A_RESULT_ONLY || act == A_ERROR)
		reply("action=", text, (char *)NULL);
	else
		reply("action=dunno", (char *)NULL);
}

/* A Per_User line's "Key=Value|Key=Value" over cf. */
static void
pol_userkeys(Conf *cf, char *pairs, const char *path)
{
	const Key *k;
	char *pair, *next, *e, *name;

	for (pair = pairs; pair; pair = next) {
		if ((next = strchr(pair, '|')))
			*next++ = '\0';
		if (!(e = strchr(pair, '=')))
			continue;
		*e = '\0';
		name = strip(pair);
		if (!(k = conf_key(name)) || !k->peruser) {
			*e = '=';
			logmsg(LOG_ERR, "ERROR: Unknown name in \"%s\" in file \"%s\" in per user "
			       "settings", pair, path);
		} else if (name + strlen(name) == e) {	/* "Key =" has always been ignored */
			conf_set(cf, k, strip(e + 1), path);
		}
	}
}

/*
 * Per_User (pypolicyd-spf's "text,<path>"): the line for the recipient
 * is compiled over the file's configuration into x->cf, for this request.
 * Returns 1 when the recipient has one.
 */
static int
pol_peruser(Ctx *x, const Conf *gc)
{
	const char *path = gc->per_user_path;
	char *e, *user;
	FILE *fp;
	int found = 0, r;

	x->user = *gc;
	x->user.overlay = 1;	/* its values go with the request */
	x->user.blocks = NULL;
	x->cf = &x->user;
	if (!path)
		return 0;	/* logged at start-up */
	if (!(fp = fopen(path, "r"))) {
		logmsg(LOG_ERR, "ERROR stating \"%s\": %s", path, strerror(errno));
		return 0;
	}
	while (!found && (r = conf_getline(fp, userline, sizeof(userline))) >= 0) {
		if (r > 0)
			continue;	/* too long or with a NUL: no user's line */
		if ((e = strchr(userline, '#')))
			*e = '\0';
		if (!(e = strchr(user = strip(userline), ',')))
			continue;
		*e = '\0';
		if ((found = !strcmp(strip(user), x->rcpt)))
			pol_userkeys(&x->user, e + 1, path);
	}
	fclose(fp);
	return found;
}

/*
 * The one start of a request: what the last one left goes (the arena,
 * and the parsed records when their pool filled up), and x starts from rq
 * and cf alone.  Field by field, not a compound literal: x holds some
 * 100 KB of text buffers, each written before it is read.
 */
static void
pol_begin(Ctx *x, Request *rq, const Conf *cf)
{
	int i;

	arena_release(0);
	spf_flush();
	x->rq = rq;
	x->cf = cf;	/* x->user is set with it, when a Per_User line applies */
	x->inst = "";
	x->ipstr = NULL;
	memset(&x->ip, 0, sizeof(x->ip));
	memset(&x->raw, 0, sizeof(x->raw));
	x->sender = x->helo = x->rcpt = "";
	for (i = 0; i < NUM_IDENTS; i++) {
		x->id[i].r = R_NONE;
		x->id[i].act = A_NONE;
		x->id[i].nomail = 0;
		x->id[i].exp[0] = x->id[i].reason[0] = x->id[i].header[0] = '\0';
	}
	x->o.act = x->o.mact = A_NONE;
	x->o.iserror = 0;
	x->o.text[0] = '\0';
	x->o.mtext = NULL;
	x->url[0] = '\0';
}

/*
 * The recipient as pypolicyd-spf shows it: "none" when there is none;
 * with Per_User the whole address, with Hide_Receiver "<UNKNOWN>", else
 * its domain.
 */
static void
pol_recipient(Request *rq, const Conf *gc)
{
	char *r = rq->v[AT_RECIPIENT], *at;

	if (!*r)
		strcpy(r, "none");
	rq->has[AT_RECIPIENT] = 1;
	if (*gc->per_user)
		return;
	if (gc->hide_receiver) {
		strcpy(r, "<UNKNOWN>");
	} else if (strcmp(r, "none") && (at = strchr(r, '@'))) {
		memmove(r, at + 1, strlen(at));	/* split('@')[1] */
		if ((at = strchr(r, '@')))
			*at = '\0';
	}
}

/*
 * Answer one request, x->rq, under the file's configuration gc: the
 * configuration in force, the decision, the instance memory, the reply.
 */
static void
pol_request(Ctx *x, Request *rq, const Conf *gc, const char *path)
{
	int peruser = 0;

	pol_begin(x, rq, gc);
	if (rq->bad) {
		reply("action=", gc->error_action, (char *)NULL);
		return;
	}
	if (gc->seed_only)
		logmsg(LOG_ERR, "WARNING: Deprecated Config Option defaultSeedOnly in use in: %s", path);
	if (gc->mock) {
		reply("action=dunno mock header field that should be ignored", (char *)NULL);
		return;
	}
	pol_recipient(rq, gc);
	x->rcpt = rq->v[AT_RECIPIENT];
	if (*gc->per_user && (peruser = pol_peruser(x, gc)) && gc->debug >= 2)
		logmsg(LOG_INFO, "Per user configuration data in use for: %s", x->rcpt);
	x->inst = peruser ? "" : rq->v[AT_INSTANCE];
	x->sender = rq->has[AT_SENDER] ? rq->v[AT_SENDER] : "";
	x->helo = rq->has[AT_HELO] ? rq->v[AT_HELO] : "";
	pol_decide(x);
	pol_remember(x);
	pol_answer(x);
}

/* input */

/*
 * Offers: in_request() (the next request from stdin, attributes lower-
 * cased as pypolicyd-spf does), in_state() (a listener's child tells its
 * slot), in_setup() (a child's slot and time limits).  Owns the bytes
 * read and not yet taken, the time limits, the eviction signal.
 */

enum { IN_EOF = -1, IN_BAD = -2 };	/* in_line(): no line */
static struct {		/* what comes from Postfix: spawn mode, or a listener's child */
	char buf[IN_BUF];	/* read, not yet taken */
	size_t pos, len;
	char line[LINE_MAX_LEN + 1];
	char lower[LINE_MAX_LEN + 1];	/* a value lower-cased in UTF-8 */
	int idle_ms;		/* listener: close a silent connection */
	int request_ms;		/* listener: a request's limit from its first byte */
	long long start;	/* ms: the first byte of the request being read */
	Slot *slot;		/* a listener child's own */
	const char *inst;	/* the last request's instance, while none is read (in_same) */
} input;
static volatile sig_atomic_t got_evict;	/* a listener child: go, for a new client */
static int leave;	/* a listener child: go now, between requests (in_idle) */

#define ATTR(s)	{ s, sizeof(s) - 1 }
static const struct { const char *name; size_t len; } attrs[NUM_ATTRS] = {
	[AT_CLIENT] = ATTR("client_address"), [AT_HELO] = ATTR("helo_name"),
	[AT_SENDER] = ATTR("sender"), [AT_RECIPIENT] = ATTR("recipient"),
	[AT_INSTANCE] = ATTR("instance"), [AT_QUEUEID] = ATTR("queue_id"),
};

/*
 * A child asked to go, between requests: whether the next request, come
 * within IDLE_MIN_MS, is another recipient of the message just answered
 * (its instance).  Only this process remembers that answer; a new one
 * would give it again, and Postfix would add a second header.  Looked
 * at, not taken (MSG_PEEK): in_line() reads it when it is.
 */
static int
in_same(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	const char *inst = input.inst;
	size_t n = strlen(inst);
	char *s;
	ssize_t r;

	if (!n || poll(&p, 1, IDLE_MIN_MS) <= 0 ||
	    (r = recv(0, input.buf, sizeof(input.buf) - 1, MSG_PEEK | MSG_DONTWAIT)) <= 0)
		return 0;
	input.buf[r] = '\0';	/* input.buf is empty: in_idle() is called only then */
	for (s = input.buf; (s = strstr(s, "instance=")); s++)
		if ((s == input.buf || s[-1] == '\n') && !casecmpn(s + 9, inst, n) &&
		    (s[9 + n] == '\n' || SPACE(s[9 + n])))
			return 1;
	return 0;
}

/* SIGUSR1, in a listener's child: the listener needs the slot (in_idle) */
static void
in_evicted(int sig)
{
	(void)sig;
	got_evict = 1;
}

/*
 * A listener's child: its slot, to tell the listener how it is doing,
 * and the time limits of its connection.
 */
static void
in_setup(Slot *slot, const Conf *cf)
{
	struct sigaction sa = { .sa_handler = in_evicted };	/* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);	/* lst_evict */
	input.slot = slot;
	input.request_ms = cf->request_timeout * 1000;
	input.idle_ms = cf->idle_timeout * 1000;
}

/*
 * A listener child tells the listener what it is doing (lst_evict), and
 * once a reply is out learns whether it was asked to go meanwhile.
 */
static void
in_state(int state)
{
	input.start = state == S_READ ? now_ms() : 0;
	if (!input.slot)
		return;
	if (state == S_BUSY)
		input.slot->requests++;
	else if (state == S_IDLE && input.slot->evicted)
		leave = 1;
	input.slot->since = now_ms();
	input.slot->state = state;
}

/*
 * Listener mode: wait for input.  Returns 1 (the connection is to close)
 * when the client stayed silent for input.idle_ms, its request is not complete
 * input.request_ms after its first byte, or the listener wants the slot:
 * idle (E_NOW), at once unless a request has come (then after its reply);
 * a partial request only when it has stalled (E_NOW), never while it
 * comes; a turn (E_TURN) between requests, but not before the message's
 * next recipient (in_same).  The listener has logged why it asked.
 */
static int
in_idle(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	long long left;
	int r, mid;

	for (;;) {
		if (leave && !input.start && !in_same())
			return 1;	/* asked while answering: the reply is out */
		if (got_evict) {	/* asked now, not while answering */
			got_evict = 0;
			if (input.slot->evicted == E_TURN) {
				if (!input.start)
					leave = 1;	/* as after a reply; mid-request: in_state() */
			} else if (!poll(&p, 1, 0)) {
				return 1;	/* idle, or a partial request stalled */
			} else if (!input.start) {	/* a request came: in_state() says go after it */
				in_state(S_READ);
			}
			continue;
		}
		mid = input.start && input.request_ms > 0;
		left = mid ? input.start + input.request_ms - now_ms() : -1;
		if (mid && left <= 0)
			break;	/* however fast the bytes come */
		if (input.idle_ms > 0 && (!mid || input.idle_ms < left))
			mid = 0, left = input.idle_ms;	/* a silence is idle mid-request too */
		if ((r = poll(&p, 1, (int)left)) > 0 || (r < 0 && errno != EINTR))
			return 0;
		if (!r)
			break;
	}
	if (mid)
		logmsg(LOG_INFO, "closing a connection: request not complete within %d s (Request_Timeout)",
		       input.request_ms / 1000);
	else
		logmsg(LOG_INFO, "closing a connection idle for %d s", input.idle_ms / 1000);
	return 1;
}

/*
 * The next line of at most LINE_MAX_LEN bytes, without its '\n': *line
 * points at it, NUL-terminated in input.buf when one read brought all of
 * it (nearly always), else copied into input.line.  A longer line is read
 * to its end and thrown away (never split into two), and so is a line
 * holding a NUL.  Returns its length, IN_BAD for a bad one, IN_EOF at end
 * of input.
 */
static long
in_line(char **line)
{
	char *p, *q, *nl, *end;
	size_t n = 0, k;
	ssize_t r;
	int bad = 0, nul = 0;

	for (;;) {
		if (input.pos == input.len) {
			if ((input.idle_ms > 0 || input.request_ms > 0) && in_idle())
				return IN_EOF;
			while ((r = read(0, input.buf, sizeof(input.buf))) < 0 && errno == EINTR)
				;
			if (r <= 0)
				return IN_EOF;	/* EOF mid-line: the request is cut off */
			input.pos = 0;
			input.len = r;
		}
		if (!input.start && input.request_ms > 0)
			in_state(S_READ);
		p = input.buf + input.pos;
		for (q = p, end = input.buf + input.len; q < end && *q != '\n'; q++)
			nul |= !*q;	/* one pass: lines are short */
		nl = q < end ? q : NULL;
		k = q - p;
		input.pos += k + (nl != NULL);
		if (bad || nul || k > LINE_MAX_LEN - n) {
			bad = 1;
		} else if (nl && !n) {
			*nl = '\0';
			*line = p;
			return k;
		} else {
			memcpy(input.line + n, p, k);
			n += k;
		}
		if (nl)
			break;
	}
	input.line[n] = '\0';
	*line = input.line;
	return bad ? IN_BAD : (long)n;
}

/* c as UTF-8 into b (4 bytes at most); returns the length. */
static size_t
in_utf8(char *b, uint32_t c)
{
	unsigned char *u = (unsigned char *)b;

	if (c < 0x80) {
		u[0] = c;
		return 1;
	} else if (c < 0x800) {
		u[0] = 0xC0 | c >> 6;
		u[1] = 0x80 | (c & 0x3F);
		return 2;
	} else if (c < 0x10000) {
		u[0] = 0xE0 | c >> 12;
		u[1] = 0x80 | (c >> 6 & 0x3F);
		u[2] = 0x80 | (c & 0x3F);
		return 3;
	}
	u[0] = 0xF0 | c >> 18;
	u[1] = 0x80 | (c >> 12 & 0x3F);
	u[2] = 0x80 | (c >> 6 & 0x3F);
	u[3] = 0x80 | (c & 0x3F);
	return 4;
}

/*
 * Lower-case a request value (LINE_MAX_LEN + 1 bytes) as pypolicyd-spf's
 * str.lower() does: SMTPUTF8 mail has UTF-8 addresses.  towlower() is
 * Unicode's simple case mapping in musl (Python has the full one, which
 * differs for U+0130 alone among letters); invalid UTF-8 is kept as it
 * came.  A value that would outgrow the buffer is lower-cased in ASCII.
 */
static void
in_lower(char *v)
{
	char *buf = input.lower, *a;
	const unsigned char *p;
	size_t n = 0;
	uint32_t c;

	for (a = v; *a && !(*a & 0x80); a++)
		*a = tolower((unsigned char)*a);
	if (!*a)
		return;	/* ASCII, as nearly every value is: no copy */
	for (p = (const unsigned char *)v; *p && n + 4 < sizeof(input.lower); ) {
		if (idn_utf8(&p, &c))
			buf[n++] = *p++;
		else
			n += in_utf8(buf + n, (uint32_t)towlower((wint_t)c));
	}
	if (*p) {
		for (; *v; v++)
			*v = tolower((unsigned char)*v);
		return;
	}
	memcpy(v, buf, n);
	v[n] = '\0';
}

/*
 * Read one request (pypolicyd-spf's rules: lines right-stripped, an empty
 * one ends the request, "name = value" with the name before the first
 * '=', values lower-cased but for three).  Returns 0 at end of input.
 */
static int
in_request(const Conf *cf, Request *rq)
{
	char *line, *p, *name, *e;
	long n;
	int i;

	input.inst = rq->v[AT_INSTANCE];	/* the last request's, until its line comes */
	memset(rq->has, 0, sizeof(rq->has));
	rq->bad = 0;
	for (;;) {
		if ((n = in_line(&line)) == IN_EOF)
			return 0;
		if (n == IN_BAD) {
			logmsg(LOG_ERR, "ERROR: line longer than %d bytes or with a NUL byte", LINE_MAX_LEN);
			rq->bad = 1;
			continue;
		}
		while (n && SPACE(line[n - 1]))
			n--;
		line[n] = '\0';
		if (cf->debug >= 4)
			logmsg(LOG_INFO, "Read line: \"%s\"", line);
		if (!n)
			break;
		for (p = line; SPACE(*p); p++)
			;
		for (name = p; *p && *p != '=' && !SPACE(*p); p++)
			;
		for (e = p; SPACE(*p); p++)
			;
		if (name == e || *p != '=') {
			if (cf->debug >= 0)
				logmsg(LOG_INFO, "ERROR: Could not match line \"%s\"", line);
			continue;
		}
		for (i = 0; i < NUM_ATTRS && (attrs[i].len != (size_t)(e - name) ||
		    memcmp(attrs[i].name, name, e - name)); i++)
			;
		if (i == NUM_ATTRS)
			continue;
		strcpy(rq->v[i], p + 1);
		rq->has[i] = 1;
		if (i != AT_QUEUEID)
			in_lower(rq->v[i]);
	}
	if (cf->debug >= 4)
		logmsg(LOG_INFO, "Found the end of entry");
	for (i = 0; i < NUM_ATTRS; i++)
		if (!rq->has[i])
			rq->v[i][0] = '\0';
	return 1;
}

/* modes */

/*
 * Offers: mode_spawn() (the policy protocol on stdin/stdout until EOF;
 * a listener's child runs it too) and mode_query() (-q).  Owns nothing
 * beyond their own Request and Ctx.
 */

/* spawn (default): the policy protocol on stdin/stdout until EOF. */
static int
mode_spawn(const Conf *cf, const char *path)
{
	static Request rq;	/* the request read, handed to the policy */
	static Ctx x;

	if (cf->debug >= 3)
		logmsg(LOG_INFO, "Starting");
	while (in_request(cf, &rq)) {
		in_state(S_BUSY);
		pol_request(&x, &rq, cf, path);
		in_state(S_IDLE);
	}
	if (cf->debug >= 3)
		logmsg(LOG_INFO, "Normal exit");
	return 0;
}

/* -q: evaluate once and print result, explanation, header. */
static int
mode_query(const Conf *cf, const char *ipstr, const char *sender, const char *helo)
{
	static const int status[NUM_RESULTS] = {	/* documented in spfpolicy.8 */
		[R_PASS] = 0, [R_FAIL] = 1, [R_SOFTFAIL] = 2, [R_NEUTRAL] = 3,
		[R_NONE] = 4, [R_PERMERROR] = 5, [R_TEMPERROR] = 6,
	};
	static Ctx ctx;
	long long t0 = now_ms();
	Ctx *x = &ctx;
	const Verdict *id;

	pol_begin(x, NULL, cf);
	if (addr_parse(ipstr, &x->ip, 1)) {
		logmsg(LOG_ERR, "not an IP address: %s", ipstr);
		return EXIT_USAGE;
	}
	x->ipstr = ipstr;
	x->sender = sender;
	x->helo = helo;
	x->rcpt = "none";
	pol_ident(x, *sender ? I_MAILFROM : I_HELO);
	id = &x->id[*sender ? I_MAILFROM : I_HELO];
	trace("%s in %lld ms, %d DNS quer%s sent", result_name[id->r], now_ms() - t0, dns_queries(),
	      dns_queries() == 1 ? "y" : "ies");
	printf("%s\n%s\n%s\n", result_name[id->r], id->r == R_FAIL ? id->exp : "", id->header);
	return fflush(stdout) ? EXIT_INTERNAL : status[id->r];
}

/* listener */

/*
 * Offers: mode_listen() (-l), lst_loopback() (-t's warning) and
 * lst_drop() (root gives up its rights).  Owns the slots shared with the
 * children, the clients waiting for one, the signals the listener got,
 * the caps on its log lines and the unix socket file it made.
 */

typedef struct {	/* log lines of one kind this minute, and how many more */
	long long window;
	int logged, more;
} Cap;

static Slot *slots;		/* listener: MAX_CONN_LIMIT, shared with the children */
static volatile sig_atomic_t got_term, got_hup;
static Cap refused, closed;	/* lst_cap(): refused clients, closes for new ones */
static struct {		/* listener: clients accepted while all slots were taken */
	int fd[WAIT_MAX];	/* first come first */
	int n;
} waiting;
static struct {		/* the unix socket file lst_bind() made: lst_unlink() */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	pid_t pid;		/* the listener's: its children leave it */
} lsock;

static void
lst_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig != SIGCHLD)
		got_term = 1;
}

/*
 * "systemd": the socket of systemd's socket activation (sd_listen_fds(3):
 * LISTEN_PID is ours, the first is fd 3); "fd:N": descriptor N, passed by
 * a supervisor (s6, inetd's wait).  Returns it; dies unless it is a
 * listening stream socket.
 */
static int
lst_inherit(const char *spec)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	socklen_t len = sizeof(int);
	long fd, v;
	int type, acc;

	if (!strcmp(spec, "systemd")) {
		if (!pid || !fds || num(pid, 1, LONG_MAX, &v) || v != getpid() ||
		    num(fds, 1, INT_MAX, &v))
			die("-l systemd: no socket from systemd (LISTEN_PID, LISTEN_FDS)");
		fd = 3;
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	} else if (num(spec + 3, 0, INT_MAX, &fd)) {
		die("%s: not fd:N", spec);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) || !acc)
		die("%s: descriptor %ld is not a listening stream socket", spec, fd);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/*
 * The unix socket file goes when the listener exits (not a child, and not
 * a file another run has put there since): unlinked at exit when it is
 * still the one lst_bind() made.  The directory must let Listen_User
 * remove it; else it stays, and the next start removes it.
 */
static void
lst_unlink(void)
{
	struct stat st;

	if (lsock.pid == getpid() && !lstat(lsock.path, &st) && S_ISSOCK(st.st_mode) &&
	    st.st_dev == lsock.dev && st.st_ino == lsock.ino && unlink(lsock.path))
		logmsg(LOG_WARNING, "%s: not removed: %s", lsock.path, strerror(errno));
}

static void
lst_made(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return;
	snprintf(lsock.path, sizeof(lsock.path), "%s", path);
	lsock.dev = st.st_dev;
	lsock.ino = st.st_ino;
	lsock.pid = getpid();
	atexit(lst_unlink);
}

/*
 * A user as Listen_User, Listen_Owner and -u name it: a name in
 * /etc/passwd, or a numeric uid[:gid], which needs none (a scratch
 * image).  *gid is the user's group: the gid given, else passwd's, else
 * (gid_t)-1.  Returns NULL, or why there is no such user.
 */
static const char *
lst_user(const char *s, uid_t *uid, gid_t *gid)
{
	char buf[64], *colon;
	struct passwd *pw;
	long v;

	*gid = (gid_t)-1;
	if (!isdigit((unsigned char)*s)) {
		if ((pw = getpwnam(s))) {
			*uid = pw->pw_uid;
			*gid = pw->pw_gid;
			return NULL;
		}
		return access("/etc/passwd", F_OK) ? "no /etc/passwd to look the name up in "
		       "(a numeric uid[:gid] needs none)" : "no such user in /etc/passwd";
	}
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return "not a user name or uid[:gid]";
	if ((colon = strchr(buf, ':')))
		*colon++ = '\0';
	if (num(buf, 0, INT_MAX - 1, &v))
		return "not a user name or uid[:gid]";
	*uid = v;
	if (colon && (!isdigit((unsigned char)*colon) || num(colon, 0, INT_MAX - 1, &v)))
		return "not a user name or uid[:gid]";
	if (colon)
		*gid = v;
	else if ((pw = getpwuid(*uid)))
		*gid = pw->pw_gid;
	return NULL;
}

/* A group as Listen_Group names it: a name in /etc/group, or a numeric gid. */
static const char *
lst_group(const char *s, gid_t *gid)
{
	struct group *gr;
	long v;

	if (isdigit((unsigned char)*s)) {
		if (num(s, 0, INT_MAX - 1, &v))
			return "not a group name or gid";
		*gid = v;
		return NULL;
	}
	if ((gr = getgrnam(s))) {
		*gid = gr->gr_gid;
		return NULL;
	}
	return access("/etc/group", F_OK) ? "no /etc/group to look the name up in "
	       "(a numeric gid needs none)" : "no such group in /etc/group";
}

/*
 * Bind "inet:ADDR:PORT" ([ADDR] for IPv6) or "unix:/path".  Returns the
 * listening socket; dies (at start-up) when it cannot.
 */
static int
lst_bind(const Conf *cf, const char *spec)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	                          .ai_socktype = SOCK_STREAM }, *ai;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	const char *why;
	uid_t uid;
	gid_t gid;
	char host[INET6_ADDRSTRLEN + 2], *port, *end;
	int fd, one = 1, r;
	long mode;

	if (!strcmp(spec, "systemd") || !strncmp(spec, "fd:", 3))
		return lst_inherit(spec);
	if (!strncmp(spec, "unix:", 5)) {
		if (!spec[5])
			die("%s: no path", spec);
		if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", spec + 5) >= (int)sizeof(sun.sun_path))
			die("%s: path too long", spec);
		if (!lstat(sun.sun_path, &st) && S_ISSOCK(st.st_mode))
			unlink(sun.sun_path);	/* left by an earlier run */
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, LISTEN_BACKLOG))
			die("%s: %s", spec, strerror(errno));
		lst_made(sun.sun_path);
		mode = strtol(cf->listen_mode, &end, 8);
		if (!*cf->listen_mode || *end || mode < 0 || mode > 0777 || chmod(sun.sun_path, mode))
			die("%s: Listen_Mode \"%s\": %s", spec, cf->listen_mode, strerror(errno));
		if (*cf->listen_owner && (why = lst_user(cf->listen_owner, &uid, &gid)))
			die("%s: Listen_Owner \"%s\": %s", spec, cf->listen_owner, why);
		if (*cf->listen_owner && chown(sun.sun_path, uid, gid))
			die("%s: Listen_Owner \"%s\": chown: %s", spec, cf->listen_owner, strerror(errno));
		return fd;
	}
	if (strncmp(spec, "inet:", 5) || !(port = strrchr(spec + 5, ':')) ||
	    snprintf(host, sizeof(host), "%.*s", (int)(port - spec - 5), spec + 5) >= (int)sizeof(host))
		die("%s: not inet:ADDR:PORT or unix:/path", spec);
	if (*host == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if ((r = getaddrinfo(host, port + 1, &hints, &ai)))
		die("%s: %s", spec, gai_strerror(r));
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG))
		die("%s: %s", spec, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

/* Whether spec ("inet:ADDR:PORT") is in Listen_Allow's default: loopback (-t warns else). */
static int
lst_loopback(const Conf *cf, const char *spec)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = strrchr(spec, ':');
	Addr a;
	size_t n;

	if (strncmp(spec, "inet:", 5) || !port || (n = port - spec - 5) >= sizeof(host))
		return 1;	/* unix: its mode decides; inherited: unknown */
	memcpy(host, spec + 5, n);
	host[n] = '\0';
	if (n > 2 && *host == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	return !addr_parse(host, &a, 1) && net_match(&cf->listen_allow, &a, -1);
}

/* An inet peer's address as text into text; NULL for any other socket. */
static const char *
lst_peer(const struct sockaddr_storage *ss, char *text, size_t size)
{
	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, text, size);
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, text, size);
	return NULL;
}

/* Whether the peer may connect: Listen_Allow, or loopback when it is unset. */
static int
lst_allowed(const Conf *cf, const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN];
	Addr a;

	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return 1;	/* unix: the socket's mode decides */
	return lst_peer(ss, text, sizeof(text)) && !addr_parse(text, &a, 1) &&
	       net_match(&cf->listen_allow, &a, -1);	/* IPv4-mapped: as IPv4 */
}

/*
 * Whether a line of c's kind may be logged: LOG_CAP_MAX lines a minute,
 * then they are counted, and the count logged (more, with %d) when the
 * next one comes after the minute.  Returns 0, else the lines this minute.
 */
static int
lst_cap(Cap *c, const char *more)
{
	long long now = now_ms();

	if (now - c->window >= LOG_CAP_MS) {
		if (c->more)
			logmsg(LOG_WARNING, more, c->more);
		c->window = now;
		c->logged = c->more = 0;
	}
	if (c->logged >= LOG_CAP_MAX) {
		c->more++;
		return 0;
	}
	return ++c->logged;
}

/* Log a refused client (lst_cap). */
static void
lst_refused(const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN];
	int n = lst_cap(&refused, "refused %d more connections not in Listen_Allow");

	if (n)
		logmsg(LOG_WARNING, "refused a connection from %s: not in Listen_Allow%s",
		       lst_peer(ss, text, sizeof(text)) ? text : "?",
		       n == LOG_CAP_MAX ? " (no more such lines this minute)" : "");
}

/*
 * The order in which lst_evict() asks a child to go, first 1; 0: not
 * (yet).  1: idle between requests (one that answered a moment ago may
 * be asked again at once, for the message's next recipient: in use);
 * 2: a partial request that has stalled; in use, a turn (its slot held
 * TURN_MIN_MS, a request answered at least): 3 between requests, 4
 * reading or answering one; 5: a new connection whose first request may
 * be on its way (closed then, Postfix's second try would fail).
 */
static int
lst_rank(const Slot *s, long long now)
{
	long long quiet = now - s->since;

	if (!s->pid || s->evicted)
		return 0;
	if (s->state == S_IDLE && !s->requests)
		return quiet >= FRESH_MS ? 1 : 5;
	if (s->state == S_IDLE && quiet >= IDLE_MIN_MS)
		return 1;
	if (s->state == S_READ && quiet >= IDLE_MIN_MS)
		return 2;
	if (!s->requests || now - s->start < TURN_MIN_MS)
		return 0;
	return s->state == S_IDLE ? 3 : 4;
}

/*
 * All Max_Connections are taken and a client waits: ask the child that
 * comes first in lst_rank()'s order to go; of two idle ones the one idle
 * longest, of two partial requests the one begun earliest, of two in use
 * the one that has held its slot longest.  A child being asked goes at a
 * request boundary, never mid-request (in_idle).  Returns whether one
 * was asked.
 */
#define TURN(rank)	((rank) == 3 || (rank) == 4)	/* lst_rank(): in use */
static int
lst_evict(const Conf *cf)
{
	Slot *v = NULL, *s;
	long long now = now_ms();
	int i, r, vr = 0, n;

	for (i = 0; i < MAX_CONN_LIMIT; i++) {
		s = &slots[i];
		if (!(r = lst_rank(s, now)) || (v && r > vr))
			continue;
		if (!v || r < vr || (TURN(r) ? s->start < v->start : s->since < v->since))
			v = s, vr = r;
	}
	if (!v)
		return 0;
	v->evicted = TURN(vr) ? E_TURN : E_NOW;
	kill(v->pid, SIGUSR1);
	if (!(n = lst_cap(&closed, "closed %d more connections for new clients")))
		return 1;
	if (TURN(vr))
		logmsg(LOG_INFO, "closing the connection after its next reply: its slot held %.1f s, "
		       "%d requests; for a new client (Max_Connections %d)%s",
		       (now - v->start) / 1000.0, v->requests, cf->max_connections,
		       n == LOG_CAP_MAX ? " (no more such lines this minute)" : "");
	else
		logmsg(LOG_INFO, "closing the connection %s %.1f s, for a new client (Max_Connections %d)%s",
		       vr == 2 ? "with a partial request since" : "idle for",
		       (now - v->since) / 1000.0, cf->max_connections,
		       n == LOG_CAP_MAX ? " (no more such lines this minute)" : "");
	return 1;
}

/* Become Listen_User (and Listen_Group); never go on as root. */
static void
lst_drop(const Conf *cf)
{
	const char *why;
	uid_t uid;
	gid_t gid;

	if (getuid() == 0 || geteuid() == 0) {
		if ((why = lst_user(cf->listen_user, &uid, &gid)))
			die("Listen_User \"%s\": %s", cf->listen_user, why);
		if (*cf->listen_group && (why = lst_group(cf->listen_group, &gid)))
			die("Listen_Group \"%s\": %s", cf->listen_group, why);
		if (gid == (gid_t)-1)
			die("Listen_User \"%s\": no group: not in /etc/passwd; give uid:gid, "
			    "or Listen_Group", cf->listen_user);
		if (setgroups(1, &gid) || setgid(gid) || setuid(uid))
			die("dropping privileges to %s: %s", cf->listen_user, strerror(errno));
	}
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0)
		die("refusing to serve as root (Listen_User, Listen_Group)");
}

/* One connection, in its own process: the same loop as spawn mode. */
static void
lst_serve(const Conf *cf, int lfd, int cfd, const char *path, Slot *slot)
{
	signal(SIGTERM, SIG_IGN);	/* the parent lets it finish, then kills */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	log_child();
	in_setup(slot, cf);
	close(lfd);
	if (dup2(cfd, 0) < 0 || dup2(cfd, 1) < 0)
		_exit(EXIT_FATAL);
	if (cfd > 1)
		close(cfd);
	if (cf->idle_timeout > 0) {	/* a client that reads no replies is idle too */
		struct timeval tv = { .tv_sec = cf->idle_timeout };

		setsockopt(1, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (dns_init(cf))
		_exit(EXIT_FATAL);
	harden(1);
	{	/* a client that waited while we made room has written already */
		struct pollfd p = { .fd = 0, .events = POLLIN };

		in_state(poll(&p, 1, 0) > 0 ? S_READ : S_IDLE);
	}
	exit(mode_spawn(cf, path));
}

/* Re-read the config file on SIGHUP; a broken one leaves the old in force. */
static void
lst_reload(Conf *cf, const char *path)
{
	Conf n;
	int bad = conf_load(path, &n);

	if (bad || dns_init(&n)) {	/* as -t: the name servers too */
		logmsg(LOG_ERR, "%s: problems above; keeping the running configuration", path);
		conf_free(&n);
		return;
	}
	conf_free(cf);
	*cf = n;
	logmsg(LOG_INFO, "%s: configuration reloaded", path);
}

/* Collect the children that have ended and free their slots; returns how many are left. */
static int
lst_reap(int n)
{
	pid_t pid;
	int i;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (i = 0; i < MAX_CONN_LIMIT; i++)
			if (slots[i].pid == pid) {
				slots[i].pid = 0;
				n--;
				break;
			}
	return n;
}

/* Serve cfd in a child of its own, in a free slot; returns 1 when one was started. */
static int
lst_start(const Conf *cf, int lfd, int cfd, const char *path)
{
	Slot *slot = slots;
	pid_t pid;

	while (slot->pid)	/* there is a free one: fewer than MAX_CONN_LIMIT run */
		slot++;
	slot->evicted = E_NO;
	slot->requests = 0;
	slot->state = S_BUSY;	/* until the child says (lst_serve) */
	slot->since = slot->start = now_ms();
	if ((pid = fork()) == 0)
		lst_serve(cf, lfd, cfd, path, slot);
	close(cfd);
	if (pid < 0) {
		logmsg(LOG_ERR, "fork: %s", strerror(errno));
		return 0;
	}
	slot->pid = pid;
	return 1;
}

/*
 * -l, before the first client: the resolver (bad Nameservers show now,
 * not per connection), the children's slots, the socket, then no root.
 * Returns the listening socket; dies when one of them fails.
 */
static int
lst_setup(const Conf *cf, const char *spec)
{
	struct sigaction sa = { .sa_handler = lst_signal };
	int lfd;

	if (dns_init(cf))
		die("cannot set up the resolver");
	slots = mmap(NULL, MAX_CONN_LIMIT * sizeof(*slots), PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	lfd = lst_bind(cf, spec);
	lst_drop(cf);
	harden(0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);	/* wakes poll to reap */
	logmsg(LOG_INFO, "listening on %s", spec);
	return lfd;
}

/* The client that has waited longest for a slot (there is one). */
static int
lst_next(void)
{
	int fd = waiting.fd[0];

	memmove(waiting.fd, waiting.fd + 1, --waiting.n * sizeof(*waiting.fd));
	return fd;
}

/*
 * Make room for the clients waiting: a child asked to go (lst_evict) for
 * each, at once, and one more whenever EVICT_WAIT_MS pass after an ask
 * with none gone (the one asked may be answering a slow request).
 * Returns when to look again; hold: when it was to.
 */
static long long
lst_room(const Conf *cf, long long hold)
{
	long long now = now_ms();
	int i, want = waiting.n, got;

	for (i = 0; i < MAX_CONN_LIMIT; i++)
		want -= slots[i].pid && slots[i].evicted;
	if (want <= 0 && now >= hold)
		want = 1;
	for (got = 0; got < want && lst_evict(cf); got++)
		;
	return got < want ? now + EVICT_RETRY_MS : got ? now + EVICT_WAIT_MS : hold;
}

/*
 * A new client: refused (Listen_Allow), served, or, when all slots are
 * taken (full), put in waiting.  Returns 1 when a child was started.
 */
static int
lst_accept(const Conf *cf, int lfd, int full, const char *path)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int cfd;

	if ((cfd = accept(lfd, (struct sockaddr *)&peer, &plen)) < 0)
		return 0;
	if (!lst_allowed(cf, &peer)) {	/* before a byte is read */
		lst_refused(&peer);
		close(cfd);
		return 0;
	}
	if (!full)
		return lst_start(cf, lfd, cfd, path);
	waiting.fd[waiting.n++] = cfd;
	return 0;
}

/*
 * SIGTERM.  A container engine gives 10 s before SIGKILL, and smtpd keeps
 * its connection open between requests: idle and partly read connections
 * are closed at once (smtpd connects again for its next request), a
 * request being evaluated gets SHUTDOWN_MS to be answered.  The children
 * are asked as lst_evict() asks them (SIGUSR1: gone when no request is
 * waiting to be read, else after its reply); one still idle STOP_IDLE_MS
 * later (Idle_Timeout and Request_Timeout 0: it never polls) is killed.
 */
static void
lst_stop(int n)
{
	long long t0 = now_ms();
	int i, busy = 0;

	n = lst_reap(n);	/* a child that just ended is not open */
	for (i = 0; i < MAX_CONN_LIMIT; i++)
		if (slots[i].pid) {
			busy += slots[i].state == S_BUSY;
			slots[i].evicted = E_NOW;	/* gone now, or after its reply */
			kill(slots[i].pid, SIGUSR1);
		}
	logmsg(LOG_INFO, "stopping: %d connection%s open: %d closed at once (between requests), "
	       "%d request%s being answered", n, n == 1 ? "" : "s", n - busy, busy, busy == 1 ? "" : "s");
	while (n > 0 && now_ms() - t0 < SHUTDOWN_MS) {
		poll(NULL, 0, 20);
		n = lst_reap(n);
		for (i = 0; now_ms() - t0 >= STOP_IDLE_MS && i < MAX_CONN_LIMIT; i++)
			if (slots[i].pid && slots[i].state != S_BUSY)
				kill(slots[i].pid, SIGKILL);
	}
	for (i = 0; i < MAX_CONN_LIMIT; i++)
		if (slots[i].pid)
			kill(slots[i].pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	logmsg(LOG_INFO, "stopped in %.2f s: %d request%s answered, %d connection%s killed after %d s",
	       (now_ms() - t0) / 1000.0, busy - n > 0 ? busy - n : 0, busy - n == 1 ? "" : "s",
	       n, n == 1 ? "" : "s", SHUTDOWN_MS / 1000);
}

/*
 * -l: accept connections and serve each in a child, at most
 * Max_Connections.  When all are taken, allowed clients that connect
 * wait (WAIT_MAX accepted, first come first served; more in the listen
 * queue) while lst_room() makes room.
 */
static int
mode_listen(Conf *cf, const char *spec, const char *path)
{
	struct pollfd p;
	long long hold = 0;
	int lfd = lst_setup(cf, spec), n = 0, full, ms;

	while (!got_term) {
		n = lst_reap(n);
		if (got_hup) {
			got_hup = 0;
			lst_reload(cf, path);
		}
		full = n >= MIN(cf->max_connections, MAX_CONN_LIMIT);
		if (waiting.n && !full) {
			n += lst_start(cf, lfd, lst_next(), path);
			continue;
		}
		ms = LISTEN_TICK_MS;
		if (waiting.n) {
			hold = lst_room(cf, hold);
			ms = MAX(1, MIN(hold - now_ms(), EVICT_RETRY_MS));
		}
		p.fd = waiting.n < WAIT_MAX ? lfd : -1;
		p.events = POLLIN;
		if (poll(&p, 1, ms) > 0 && (p.revents & POLLIN))
			n += lst_accept(cf, lfd, full, path);
	}
	close(lfd);
	while (waiting.n)
		close(lst_next());
	lst_stop(n);
	return 0;
}

/* main */

/*
 * Offers: main().  Owns the configuration in force, which a listener's
 * SIGHUP reloads in place.
 */

static Conf config;		/* the file's, compiled; its values live with it */

typedef struct {	/* the command line */
	const char *ident;	/* for syslog: argv[0]'s last part */
	const char *conffile, *ns, *listen;
	const char *user;	/* -u: root serves as this user, over Listen_User */
	int query, check, root;
	int argc;		/* the operands */
	char **argv;
} Opts;

/*
 * Root in spawn mode.  spawn(8) never runs its command as root: off a
 * terminal this is a misconfigured service, refused.  On a terminal it
 * is an admin trying requests by hand (pypolicyd-spf's how-to): the
 * config is read as root, then it serves as Listen_User (-u) and says
 * so; lst_drop() refuses when that cannot be done.
 */
static void
mode_root(const Conf *cf, const Opts *o)
{
	if ((getuid() != 0 && geteuid() != 0) || o->root)
		return;
	if (!isatty(0) || !isatty(2))
		die("refusing to serve as root: Postfix's spawn(8) runs it as the user= of "
		    "its master.cf entry; on a terminal root's run serves as Listen_User "
		    "(%s), or give -R", cf->listen_user);
	lst_drop(cf);
	logmsg(LOG_INFO, "root on a terminal: config read, now serving as %s "
	       "(Listen_User, -u); type a request, an empty line ends it", cf->listen_user);
}

/* The usage on fp, then exit: 0 for -h, EXIT_USAGE for a usage error. */
static void
usage(FILE *fp, int status)
{
	fputs("usage: spfpolicy [-R] [-u user] [-n nameservers] [config]\n"
	      "       spfpolicy -q [-v] [-c config] [-n nameservers] ip sender helo\n"
	      "       spfpolicy -t [-l listen] [-n nameservers] [config]\n"
	      "       spfpolicy -l inet:addr:port|unix:/path|systemd|fd:N [-d] [-u user] [-n nameservers] [config]\n"
	      "       spfpolicy -V | -h\n", fp);
	exit(status);
}

/*
 * Spawn mode's stderr is the Postfix socket: a usage error goes to syslog
 * then, and to the terminal only when there is one.
 */
static int
badusage(const char *ident, const char *msg)
{
	if (isatty(2))
		usage(stderr, EXIT_USAGE);
	log_open(ident, TO_SYSLOG);
	logmsg(LOG_ERR, "%s", msg);
	return EXIT_USAGE;
}

/* The options into o; returns 0, or the exit status of a usage error. */
static int
options(int argc, char *argv[], Opts *o)
{
	char msg[64];
	int ch, fg = 0, sys;

	opterr = 0;
	if (argc > 1 && !strcmp(argv[1], "--help"))
		usage(stdout, 0);
	while ((ch = getopt(argc, argv, "Vqvc:n:tl:dRu:h")) != -1) {
		switch (ch) {
		case 'V':
			printf("spfpolicy %s (c-ares %s)\n", VERSION, ares_version(NULL));
			exit(0);
		case 'q': o->query = 1; break;
		case 'v': trace_on(); break;	/* with -q: the evaluation on stderr */
		case 'c': o->conffile = optarg; break;
		case 'n': o->ns = optarg; break;
		case 't': o->check = 1; break;
		case 'l': o->listen = optarg; break;
		case 'd': fg = 1; break;	/* listener in the foreground of a terminal */
		case 'R': o->root = 1; break;	/* serve as root: for tests in a private namespace */
		case 'u': o->user = optarg; break;	/* root drops to it, over Listen_User */
		case 'h': usage(stdout, 0); break;
		default:
			snprintf(msg, sizeof(msg), "usage: unknown option -%c", optopt);
			return badusage(o->ident, msg);
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	if (tracing() && !o->query)	/* spawn mode: stderr may be the socket */
		return badusage(o->ident, "usage: -v goes with -q");
	if (o->query || o->check) {
		log_open(o->ident, TO_STDERR);
		if (o->check && o->argc <= 1 && !o->query)
			o->conffile = o->argc ? o->argv[0] : conf_default();
		else if (o->check || o->argc != 3)
			usage(stderr, EXIT_USAGE);
	} else {	/* under Postfix stderr is the socket; by hand, a terminal */
		sys = !(fg && o->listen);	/* -d: stderr only */
		log_open(o->ident, (sys ? TO_SYSLOG : 0) | (!sys || isatty(2) ? TO_STDERR : 0) |
		         (o->listen ? TO_TAGGED : 0));	/* its stderr is nobody else's */
		o->conffile = o->argc > 0 ? o->argv[0] : conf_default();
	}
	return 0;
}

/* -t: what the configuration would do, every problem logged; 1 when there is one. */
static int
mode_check(const Conf *cf, const Opts *o, int bad)
{
	bad += dns_init(cf) != 0;
	if (cf->reason_url.n)
		printf("%s: Reason_URL (pypolicyd-spf 3.1.0) is the {url} of Reason_Message, "
		       "over Explanation_URL\n", o->conffile);
	if (o->listen && !cf->listen_allow_set && !lst_loopback(cf, o->listen))
		printf("%s: Listen_Allow is unset: only loopback clients may connect to %s\n",
		       o->conffile, o->listen);
	printf("%s: %d problem%s\n", o->conffile, bad, bad == 1 ? "" : "s");
	return bad ? EXIT_PROBLEMS : 0;
}

int
main(int argc, char *argv[])
{
	Opts o = { 0 };
	int bad;

	o.ident = (o.ident = strrchr(argv[0] ? argv[0] : "", '/')) ? o.ident + 1 : argv[0];
	if (!o.ident || !*o.ident)
		o.ident = log_ident;
	signal(SIGPIPE, SIG_IGN);
	if ((bad = options(argc, argv, &o)))
		return bad;
	conf_nameservers(o.ns);	/* reloads keep it */
	bad = conf_load(o.conffile, &config);
	if (!o.query && !o.argc)
		conf_which(o.conffile, o.check);
	if (o.check)
		return mode_check(&config, &o, bad);
	if (o.user) {	/* over Listen_User, and its group with it */
		config.listen_user = o.user;
		config.listen_group = "";
	}
	if (o.listen && conf_unreadable())	/* not the defaults in its place: pypolicyd-spf dies too */
		die("%s: cannot be read (%s): not serving without it", o.conffile, conf_unreadable());
	if (o.listen)	/* each connection gets its own resolver */
		return mode_listen(&config, o.listen, o.conffile);
	if (!o.query)
		mode_root(&config, &o);
	if (dns_init(&config))
		return EXIT_INTERNAL;
	if (o.query) {
		harden(0);
		return mode_query(&config, o.argv[0], o.argv[1], o.argv[2]);
	}
	harden(1);
	return mode_spawn(&config, o.conffile);
}
