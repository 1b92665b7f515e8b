/* See LICENSE file for copyright and license details.
 *
 * fuzz_config - the config file parser.  The input is written to a
 * temporary file and read with conf_read() and conf_check(), as at
 * start-up, -t and SIGHUP; then what the values feed at request time
 * runs on them: the Reason_Message and Explanation_URL templates
 * (pol_message), the network lists (net_match), the domain lists
 * (pol_indomains, pol_action), the header (pol_header, pol_htype); and
 * the same file is read once more as a Per_User file (pol_peruser).
 *
 * Checks beyond the sanitizers, against a model of the format (lines end
 * at a newline, at most CONF_LINE_MAX - 2 octets): a string key set only
 * by clean lines has the value of the last of them; a Per_User line is
 * found for a recipient exactly when a line names it.  So a long line or
 * a NUL may spoil its own line, never another.
 *
 * Leaks: conf_read() strdup()s the values it reads; after each input the
 * harness frees them with conf_freestr(), as lst_reload() does with the
 * configuration it replaces.  Leak detection stays on: a string conf_read
 * loses (a key given twice, Authserv_Id = HOSTNAME) is reported.
 */
#define DNS_SEND(q)	fz_send(q)
static void fz_send(void *);
#include "../../spfpolicy.c"
#include "fuzz.h"

static char path[256];
static const uint8_t *in;
static size_t inlen;

/* No lookup is expected from a config: any is answered NXDOMAIN. */
static void
fz_answer(Query *q)
{
	pk_begin(&fz_pkt, q->name, q->ans->type, 3);
	fz_reply(q, ARES_ENOTFOUND);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	(void)argc;
	(void)argv;
	fz_quiet();
	snprintf(path, sizeof(path), "%s/fuzz_config.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0) {
		perror(path);
		abort();
	}
	close(fd);
	return 0;
}

/*
 * The lines of the input as the config format defines them: complete up
 * to a newline (or the end), of at most CONF_LINE_MAX - 2 octets; clean
 * when they also hold no NUL.  Calls f on each, with its length.
 */
static void
lines(const uint8_t *d, size_t n, void (*f)(const char *, size_t, int, void *), void *arg)
{
	const uint8_t *p = d, *e = d + n, *nl;
	size_t len;

	while (p < e) {
		nl = memchr(p, '\n', e - p);
		len = (nl ? nl : e) - p;
		f((const char *)p, len, len <= CONF_LINE_MAX - 2 && !memchr(p, 0, len), arg);
		p = nl ? nl + 1 : e;
	}
}

/* [s, e) without leading blanks and trailing white space, as strip() */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

typedef struct {
	size_t key;		/* index in conf_keys */
	const char *val;	/* the last clean line's value */
	size_t len;
	int dirty;		/* an unclean line may set it too */
} Want;

/* What a line of the config file sets, in the model. */
static void
want_line(const char *s, size_t len, int clean, void *arg)
{
	Want *w = arg;
	const char *e = s + len, *eq, *hash, *ns, *ne, *vs, *ve;
	size_t klen = strlen(conf_keys[w->key].name);

	if ((hash = memchr(s, '#', e - s)))
		e = hash;
	if (!(eq = memchr(s, '=', e - s)))
		return;
	ns = s, ne = eq, vs = eq + 1, ve = e;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if ((size_t)(ne - ns) != klen || memcmp(ns, conf_keys[w->key].name, klen))
		return;
	if (!clean) {
		w->dirty = 1;
		return;
	}
	w->val = vs;
	w->len = ve - vs;
	w->dirty = 0;
}

/*
 * Every string key set by clean lines only has the last such value: a
 * long line or one with a NUL must not swallow or make another line.
 */
static void
check_values(const uint8_t *d, size_t n, const Conf *cf)
{
	const char *got;
	size_t i;
	Want w;

	for (i = 0; i < LEN(conf_keys); i++) {
		if (conf_keys[i].type != K_STR)
			continue;
		memset(&w, 0, sizeof(w));
		w.key = i;
		lines(d, n, want_line, &w);
		if (!w.val || w.dirty || (w.len == 8 && !memcmp(w.val, "HOSTNAME", 8)))
			continue;
		got = *(char *const *)((const char *)cf + conf_keys[i].off);
		if (strlen(got) != w.len || memcmp(got, w.val, w.len)) {
			dprintf(2, "fuzz: %s is \"%.60s\", the file says \"%.*s\"\n",
			        conf_keys[i].name, got, (int)MIN(w.len, 60), w.val);
			abort();
		}
	}
}

typedef struct {
	const char *rcpt;
	int clean, dirty;	/* lines for rcpt */
} Who;

/* Whether a Per_User line is for w->rcpt. */
static void
who_line(const char *s, size_t len, int clean, void *arg)
{
	Who *w = arg;
	const char *e = s + MIN(len, CONF_LINE_MAX - 1), *p;

	if ((p = memchr(s, 0, e - s)))
		e = p;
	if ((p = memchr(s, '#', e - s)))
		e = p;
	if (!(p = memchr(s, ',', e - s)))
		return;
	e = p;
	trim(&s, &e);
	if ((size_t)(e - s) == strlen(w->rcpt) && !memcmp(s, w->rcpt, e - s)) {
		w->clean |= clean;
		w->dirty |= !clean;
	}
}

static void
use(const Conf *cf)
{
	static const char *const rcpts[] = { "user@example.com", "postmaster@example.com", "" };
	static char out[REPLY_MAX], hdr[REPLY_MAX];
	static Ident id;
	static Conf uc;
	Conf pu;
	Addr a4, a6, m6;
	size_t i;
	int local, act;

	addr_parse("192.0.2.1", &a4, 0);
	addr_parse("2001:db8::1", &a6, 0);
	addr_parse("::ffff:127.0.0.1", &m6, 0);
	for (act = A_REJECT; act <= A_DEFER; act++) {
		pol_message(cf, act, "SPF fail - not authorized", I_MAILFROM, "user@example.com",
		            "192.0.2.1", "example.com", out, sizeof(out));
		if (strlen(out) >= sizeof(out))
			abort();
	}
	net_match(cf->debug, "skip_addresses", cf->skip_addresses, &a4);
	net_match(cf->debug, "Whitelist", cf->whitelist, &a6);
	net_match(cf->debug, "Whitelist", cf->whitelist, &m6);
	pol_indomains(cf->domain_whitelist_ptr, "mail.example.com");
	for (i = 0; i < NUM_RESULTS; i++) {
		pol_action(cf, I_HELO, "example.com", i, &local);
		pol_action(cf, I_MAILFROM, "example.com", i, &local);
	}
	id.r = R_FAIL;
	id.act = A_REJECT;
	snprintf(id.reason, sizeof(id.reason), "SPF fail - not authorized");
	pol_htype(cf);
	pol_header(cf, &id, I_MAILFROM, "192.0.2.1", "helo.example.com", "user@example.com",
	           "example.com", hdr, sizeof(hdr));
	/* the same bytes as a Per_User file */
	pu = *cf;
	pu.per_user = (char[sizeof(path) + 5]){ 0 };
	snprintf(pu.per_user, sizeof(path) + 5, "text,%s", path);
	for (i = 0; i < LEN(rcpts); i++) {
		Who w = { rcpts[i], 0, 0 };
		int found = pol_peruser(&pu, rcpts[i], &uc);

		lines(in, inlen, who_line, &w);
		if ((found && !w.clean && !w.dirty) || (!found && w.clean)) {
			dprintf(2, "fuzz: Per_User line for \"%s\": %s\n", rcpts[i],
			        found ? "found, but no line starts so" : "there, but not found");
			abort();
		}
		if (found)
			pol_message(&uc, A_REJECT, "reason", I_HELO, "helo.example.com", "2001:db8::1",
			            "example.com", out, sizeof(out));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Conf cf;
	FILE *fp;
	size_t i;

	fz_reset();
	if (!(fp = fopen(path, "w")) || fwrite(data, 1, size, fp) != size || fclose(fp)) {
		perror(path);
		abort();
	}
	in = data;
	inlen = size;
	conf_read(path, &cf);
	check_values(data, size, &cf);
	conf_check(&cf);
	use(&cf);
	for (i = 0; i < LEN(conf_keys); i++)
		conf_freestr(&cf, i);
	return 0;
}
