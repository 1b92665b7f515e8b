/* See LICENSE file for copyright and license details.
 *
 * fuzz_config - the config file parser.  The input is written to a
 * temporary file and compiled with conf_load(), as at start-up, -t and
 * SIGHUP; then what the values feed at request time runs on them: the
 * Reason_Message and Explanation_URL templates (pol_message), the
 * network lists (net_match), the domain lists (pol_indomains,
 * pol_action), the header (pol_header); and the same file is read once
 * more as a Per_User file (pol_peruser), compiled over the first.
 *
 * Checks beyond the sanitizers, against a model of the format (lines end
 * at a newline, at most CONF_LINE_MAX - 2 octets): a string key set only
 * by clean lines has the value of the last of them, and a template so
 * set formats as str.format() read at each use would; a Per_User line is
 * found for a recipient exactly when a line names it.  So a long line or
 * a NUL may spoil its own line, never another.
 *
 * Leaks: conf_load() keeps what it compiles in blocks of its own; after
 * each input the harness frees them with conf_free(), as lst_reload()
 * does with the configuration it replaces.  Leak detection stays on: a
 * block conf_load loses is reported.
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
	size_t key;		/* index in keys */
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
	size_t klen = strlen(keys[w->key].name);

	if ((hash = memchr(s, '#', e - s)))
		e = hash;
	if (!(eq = memchr(s, '=', e - s)))
		return;
	ns = s, ne = eq, vs = eq + 1, ve = e;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if ((size_t)(ne - ns) != klen || memcmp(ns, keys[w->key].name, klen))
		return;
	if (!clean) {
		w->dirty = 1;
		return;
	}
	w->val = vs;
	w->len = ve - vs;
	w->dirty = 0;
}

/* n bytes of s to out at *len, when they fit with a NUL after them */
static int
ref_put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (n >= size - *len)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	return 0;
}

/*
 * The model of a template: str.format() read at each use, as spfpolicy
 * did before templates were compiled at loading.
 */
static int
ref_spec(const char *spec, const char *e, const char *v, char *out, size_t size, size_t *len)
{
	char fill = ' ', align = '<';
	size_t vlen = strlen(v), width = 0, prec = (size_t)-1, pad, i;

	if (e - spec >= 2 && strchr("<>^", spec[1])) {
		fill = spec[0];
		align = spec[1];
		spec += 2;
	} else if (spec < e && strchr("<>^", *spec)) {
		align = *spec++;
	}
	for (; spec < e && isdigit((unsigned char)*spec) && width < 10000; spec++)
		width = width * 10 + *spec - '0';
	if (spec < e && *spec == '.') {
		for (prec = 0, spec++; spec < e && isdigit((unsigned char)*spec) && prec < 10000; spec++)
			prec = prec * 10 + *spec - '0';
		if (spec[-1] == '.')
			return -1;
	}
	if (spec < e && *spec == 's')
		spec++;
	if (spec != e)
		return -1;
	vlen = MIN(vlen, prec);
	pad = width > vlen ? width - vlen : 0;
	for (i = 0; i < (align == '>' ? pad : align == '^' ? pad / 2 : 0); i++)
		if (ref_put(out, size, len, &fill, 1))
			return -1;
	if (ref_put(out, size, len, v, vlen))
		return -1;
	for (i = 0; i < (align == '<' ? pad : align == '^' ? pad - pad / 2 : 0); i++)
		if (ref_put(out, size, len, &fill, 1))
			return -1;
	return 0;
}

static int
ref_format(const char *tmpl, const char *const *names, const char *const *vals,
           size_t n, char *out, size_t size)
{
	const char *p, *e, *colon;
	size_t len = 0, i;

	for (p = tmpl; *p; p++) {
		if ((*p == '{' && p[1] == '{') || (*p == '}' && p[1] == '}')) {
			if (ref_put(out, size, &len, p++, 1))
				return -1;
			continue;
		}
		if (*p == '}')
			return -1;
		if (*p != '{') {
			if (ref_put(out, size, &len, p, 1))
				return -1;
			continue;
		}
		if (!(e = strchr(++p, '}')) || memchr(p, '{', e - p))
			return -1;
		if (!(colon = memchr(p, ':', e - p)))
			colon = e;
		for (i = 0; i < n && (strlen(names[i]) != (size_t)(colon - p) ||
		                      strncmp(names[i], p, colon - p)); i++)
			;
		if (i == n || ref_spec(colon + (colon < e), e, vals[i], out, size, &len))
			return -1;
		p = e;
	}
	out[len] = '\0';
	return 0;
}

/*
 * A template key set by clean lines only: it compiles exactly when the
 * model formats it with empty fields, then it formats as the model does
 * (twice: with short values, and with values too long to fit a reply);
 * else the default is in force and -t names the value.
 */
static void
check_tmpl(const Key *k, const Tmpl *t, const char *v)
{
	static char want[REPLY_MAX], got[REPLY_MAX], big[REPLY_MAX / 3];
	const char *none[NUM_TFIELDS] = { "", "", "", "", "", "", "", "", "", "", "" };
	const char *vals[NUM_TFIELDS] = { "rejected", "fail", "http://x/", "mfrom", "a@b.c", "192.0.2.1", "r",
	                                  "helo", "x.y", "2001:db8::1", "" };	/* Reason_URL's {0}..{3} */
	const Tmpl *def = (const Tmpl *)((const char *)&builtin + k->off);
	int round, r;

	if (ref_format(v, tmpl_names + k->min, none + k->min, k->max - k->min + 1, want, sizeof(want))) {
		if (!t->bad || strcmp(t->bad, v) || t->part != def->part || t->n != def->n) {
			dprintf(2, "fuzz: %s \"%.60s\" compiled, but does not format\n", k->name, v);
			abort();
		}
		return;
	}
	if (t->bad) {
		dprintf(2, "fuzz: %s \"%.60s\" formats, but did not compile\n", k->name, v);
		abort();
	}
	memset(big, 'x', sizeof(big) - 1);
	for (round = 0; round < 2; round++, vals[TF_SPF] = vals[TF_IDENTITY] = vals[TF_URL] = vals[TF_P1] = big) {
		r = ref_format(v, tmpl_names + k->min, vals + k->min, k->max - k->min + 1, want, sizeof(want));
		if (pol_format(t, vals, got, sizeof(got)) != r || (!r && strcmp(want, got))) {
			dprintf(2, "fuzz: %s \"%.60s\": \"%.60s\", the model says \"%.60s\"\n",
			        k->name, v, got, r ? "(too long)" : want);
			abort();
		}
	}
}

/*
 * Every string key set by clean lines only has the last such value: a
 * long line or one with a NUL must not swallow or make another line.
 * (Authserv_Id and Receiver_Domain are made from the host name too.)
 */
static void
check_values(const uint8_t *d, size_t n, const Conf *cf)
{
	char v[CONF_LINE_MAX];
	const char *got;
	size_t i;
	Want w;

	for (i = 0; i < LEN(keys); i++) {
		if ((keys[i].type != K_STR && keys[i].type != K_PERUSER && keys[i].type != K_TMPL) ||
		    keys[i].off == offsetof(Conf, authserv_id) || keys[i].off == offsetof(Conf, receiver))
			continue;
		memset(&w, 0, sizeof(w));
		w.key = i;
		lines(d, n, want_line, &w);
		if (!w.val || w.dirty)
			continue;
		if (keys[i].type == K_TMPL) {
			memcpy(v, w.val, w.len);
			v[w.len] = '\0';
			check_tmpl(&keys[i], (const Tmpl *)((const char *)cf + keys[i].off), v);
			continue;
		}
		got = *(char *const *)((const char *)cf + keys[i].off);
		if (strlen(got) != w.len || memcmp(got, w.val, w.len)) {
			dprintf(2, "fuzz: %s is \"%.60s\", the file says \"%.*s\"\n",
			        keys[i].name, got, (int)MIN(w.len, 60), w.val);
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

/* Each identity's reject and defer texts, and the MAIL FROM header. */
static void
texts(Ctx *x)
{
	static char out[REPLY_MAX];
	int ident, act;

	for (ident = 0; ident < NUM_IDENTS; ident++) {
		x->id[ident].r = R_FAIL;
		snprintf(x->id[ident].reason, sizeof(x->id[ident].reason), "SPF fail - not authorized");
		for (act = A_REJECT; act <= A_DEFER; act++) {
			x->id[ident].act = act;
			pol_message(x, ident, out, sizeof(out));
			if (strlen(out) >= sizeof(out))
				abort();
		}
	}
	pol_header(x, I_MAILFROM, &x->id[I_MAILFROM]);
}

static void
use(const Conf *cf)
{
	static const char *const rcpts[] = { "user@example.com", "postmaster@example.com", "" };
	static Ctx ctx;
	Ctx *x = &ctx;
	Conf pu;
	Addr a4, a6, m6;
	size_t i;
	int local, found;

	addr_parse("192.0.2.1", &a4, 0);
	addr_parse("2001:db8::1", &a6, 0);
	addr_parse("::ffff:127.0.0.1", &m6, 0);
	pol_begin(x, NULL, cf);
	x->ipstr = "192.0.2.1";
	x->helo = "helo.example.com";
	x->sender = "user@example.com";
	x->rcpt = "example.com";
	texts(x);
	net_match(&cf->skip, &a4, cf->debug);
	net_match(&cf->whitelist, &a6, cf->debug);
	net_match(&cf->whitelist, &m6, cf->debug);
	net_match(&cf->listen_allow, &a4, -1);
	pol_indomains(cf->domain_whitelist_ptr, "mail.example.com");
	for (i = 0; i < NUM_RESULTS; i++) {
		pol_action(cf, I_HELO, "example.com", i, &local);
		pol_action(cf, I_MAILFROM, "example.com", i, &local);
	}
	/* the same bytes as a Per_User file */
	pu = *cf;
	pu.per_user = "text,";
	pu.per_user_path = path;
	for (i = 0; i < LEN(rcpts); i++) {
		Who w = { rcpts[i], 0, 0 };

		x->rcpt = rcpts[i];
		found = pol_peruser(x, &pu);
		lines(in, inlen, who_line, &w);
		if ((found && !w.clean && !w.dirty) || (!found && w.clean)) {
			dprintf(2, "fuzz: Per_User line for \"%s\": %s\n", rcpts[i],
			        found ? "found, but no line starts so" : "there, but not found");
			abort();
		}
		if (found)
			texts(x);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Conf cf;
	FILE *fp;

	fz_reset();
	if (!(fp = fopen(path, "w")) || fwrite(data, 1, size, fp) != size || fclose(fp)) {
		perror(path);
		abort();
	}
	in = data;
	inlen = size;
	conf_load(path, &cf);
	check_values(data, size, &cf);
	use(&cf);
	conf_free(&cf);
	return 0;
}
