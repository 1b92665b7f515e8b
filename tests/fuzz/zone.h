/* See LICENSE file for copyright and license details.
 *
 * zone.h - a small fixed zone for the fake DNS of fuzz_request: enough
 * names that requests with senders like user@pass.test reach every
 * result, every mechanism, macros, CNAMEs, the limits and the whitelists.
 * Included after fuzz.h.
 *
 * Names absent from the table get NXDOMAIN, present names without the
 * asked type NODATA, both with an SOA (so the cache keeps them); names
 * under any.test have an A record (exists: matches); "SERVFAIL" and
 * "TIMEOUT" entries answer every type so.
 */
enum { Z_SERVFAIL = 1000, Z_TIMEOUT, Z_CNAMEONLY };

static const struct {
	const char *name;
	int type;	/* T_*, or Z_* */
	const char *v;	/* text, address, "pref name", name */
} zone[] = {
	{ "pass.test", T_TXT, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx ptr -all" },
	{ "pass.test", T_A, "192.0.2.10" },
	{ "pass.test", T_MX, "10 mx.pass.test" },
	{ "mx.pass.test", T_A, "192.0.2.20" },
	{ "mx.pass.test", T_AAAA, "2001:db8::20" },
	{ "mail.pass.test", T_A, "192.0.2.1" },
	{ "mail.pass.test", T_AAAA, "2001:db8::1" },
	{ "1.2.0.192.in-addr.arpa", T_PTR, "mail.pass.test" },
	{ "1.2.0.192.in-addr.arpa", T_PTR, "other.test" },
	{ "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", T_PTR,
	  "mail.pass.test" },
	{ "130.2.0.192.in-addr.arpa", T_PTR, "helo.wl.test" },
	{ "fail.test", T_TXT, "v=spf1 mx:pass.test -all exp=exp.fail.test" },
	{ "exp.fail.test", T_TXT, "%{i} is not one of %{d}'s designated mail servers "
	  "(%{c}, %{r}, %{l}, %{o}, %{h}, %{s}, %{v}, %{ir}, %{d2}) %%%_%-" },
	{ "softfail.test", T_TXT, "v=spf1 ~all exp=exp2.fail.test" },
	{ "exp2.fail.test", T_TXT, "line\r\nbreak\x01 and %{p} and %{S}" },
	{ "neutral.test", T_TXT, "v=spf1 ?all" },
	{ "perm.test", T_TXT, "v=spf1 ip4:192.0.2.1/33 -all" },
	{ "two.test", T_TXT, "v=spf1 -all" },
	{ "two.test", T_TXT, "v=spf1 +all" },
	{ "temp.test", Z_SERVFAIL, "" },
	{ "slow.test", Z_TIMEOUT, "" },
	{ "none.test", T_TXT, "google-site-verification=abc" },
	{ "none.test", T_A, "192.0.2.1" },
	{ "nomail.test", T_TXT, "v=spf1 -all" },
	{ "include.test", T_TXT, "v=spf1 include:neutral.test include:pass.test -all" },
	{ "includetemp.test", T_TXT, "v=spf1 include:temp.test -all" },
	{ "includenone.test", T_TXT, "v=spf1 include:none.test -all" },
	{ "redirect.test", T_TXT, "v=spf1 redirect=macro.test" },
	{ "redirnone.test", T_TXT, "v=spf1 redirect=none.test" },
	{ "macro.test", T_TXT, "v=spf1 exists:%{ir}.%{l1r-}.%{d2}.any.test a:%{h} "
	  "ptr:%{d} mx:%{o}/24//64 -all exp=exp.fail.test" },
	{ "macro2.test", T_TXT, "v=spf1 exists:%{p}.%{v}.%{i}._spf.any.test -all" },
	{ "cname.test", Z_CNAMEONLY, "pass.test" },
	{ "cname2.test", T_CNAME, "cname.test" },
	{ "loop.test", Z_CNAMEONLY, "loop2.test" },
	{ "loop2.test", Z_CNAMEONLY, "loop.test" },
	{ "limit.test", T_TXT, "v=spf1 a:a1.test a:a2.test a:a3.test a:a4.test a:a5.test "
	  "a:a6.test a:a7.test a:a8.test a:a9.test a:a10.test a:a11.test -all" },
	{ "a1.test", T_A, "198.51.100.1" }, { "a2.test", T_A, "198.51.100.2" },
	{ "a3.test", T_A, "198.51.100.3" }, { "a4.test", T_A, "198.51.100.4" },
	{ "a5.test", T_A, "198.51.100.5" }, { "a6.test", T_A, "198.51.100.6" },
	{ "a7.test", T_A, "198.51.100.7" }, { "a8.test", T_A, "198.51.100.8" },
	{ "a9.test", T_A, "198.51.100.9" }, { "a10.test", T_A, "198.51.100.10" },
	{ "a11.test", T_A, "192.0.2.1" },
	{ "void.test", T_TXT, "v=spf1 a:nx1.test a:nx2.test mx:nx3.test -all" },
	{ "helo.test", T_TXT, "v=spf1 a -all" },
	{ "helo.test", T_A, "192.0.2.1" },
	{ "helo.test", T_AAAA, "2001:db8::1" },
	{ "wl.test", T_TXT, "v=spf1 ip4:192.0.2.128/25 -all" },
	{ "helo.wl.test", T_A, "192.0.2.130" },
	{ "helo.wl.test", T_AAAA, "2001:db8::130" },
	{ "manymx.test", T_TXT, "v=spf1 mx -all" },
	{ "manymx.test", T_MX, "1 m1.test" }, { "manymx.test", T_MX, "2 m2.test" },
	{ "manymx.test", T_MX, "3 m3.test" }, { "manymx.test", T_MX, "4 m4.test" },
	{ "manymx.test", T_MX, "5 m5.test" }, { "manymx.test", T_MX, "6 m6.test" },
	{ "manymx.test", T_MX, "7 m7.test" }, { "manymx.test", T_MX, "8 m8.test" },
	{ "manymx.test", T_MX, "9 m9.test" }, { "manymx.test", T_MX, "10 m10.test" },
	{ "manymx.test", T_MX, "11 m11.test" },
	{ "nullmx.test", T_TXT, "v=spf1 mx ~all" },
	{ "nullmx.test", T_MX, "0 " },
	{ "ip6.test", T_TXT, "v=spf1 ip6:2001:db8::/64 ip4:192.0.2.1 a/24//64 -all" },
	{ "ip6.test", T_AAAA, "2001:db8:1::1" },
	{ "long.test", T_TXT, "v=spf1 ip4:198.51.100.1 ip4:198.51.100.2 ip4:198.51.100.3 "
	  "ip4:198.51.100.4 ip4:198.51.100.5 ip4:198.51.100.6 ip4:198.51.100.7 "
	  "ip4:198.51.100.8 ip4:198.51.100.9 ip4:198.51.100.10 ip4:198.51.100.11 "
	  "ip4:198.51.100.12 ip4:198.51.100.13 ip4:198.51.100.14 ip4:198.51.100.15 "
	  "ip6:2001:db8:ffff::/48 ~all" },
	{ "rnp.test", T_TXT, "v=spf1 ?all" },
	{ "ptrwl.test", T_TXT, "v=spf1 ptr:pass.test -all" },
};

/* A dotted quad or IPv6 address as rdata; 0 when the text is neither. */
static int
zone_addr(int type, const char *v, unsigned char *b)
{
	if (type == T_A)
		return inet_pton(AF_INET, v, b) == 1 ? 4 : 0;
	return inet_pton(AF_INET6, v, b) == 1 ? 16 : 0;
}

static int
zone_under(const char *name, const char *domain)
{
	return name_under(name, domain);
}

static void
fz_answer(Query *q)
{
	const char *name = q->name;
	unsigned char b[16];
	size_t i;
	int type = q->ans->type, known = 0, hops = 0, n;

	pk_begin(&fz_pkt, name, type, 0);
	for (i = 0; i < LEN(zone); i++) {
		if (strcasecmp(zone[i].name, name))
			continue;
		known = 1;
		switch (zone[i].type) {
		case Z_SERVFAIL:
			fz_reply(q, ARES_ESERVFAIL);
			return;
		case Z_TIMEOUT:
			fz_reply(q, ARES_ETIMEOUT);
			return;
		case Z_CNAMEONLY:	/* as a server that does not chase */
			pk_rr_name(&fz_pkt, name == q->name ? NULL : name, T_CNAME, 300, 0,
			           zone[i].v);
			fz_reply(q, ARES_SUCCESS);
			return;
		case T_CNAME:		/* as a resolver: the chain, then the records */
			if (++hops > 8)
				break;
			pk_rr_name(&fz_pkt, name == q->name ? NULL : name, T_CNAME, 300, 0,
			           zone[i].v);
			name = zone[i].v;
			i = (size_t)-1;
			continue;
		}
		if (zone[i].type != type)
			continue;
		switch (type) {
		case T_A:
		case T_AAAA:
			if ((n = zone_addr(type, zone[i].v, b)))
				pk_rr(&fz_pkt, name == q->name ? NULL : name, type, 300, b, n, 0);
			break;
		case T_MX:
			pk_rr_name(&fz_pkt, name == q->name ? NULL : name, T_MX, 300,
			           atoi(zone[i].v), strchr(zone[i].v, ' ') + 1);
			break;
		case T_PTR:
			pk_rr_name(&fz_pkt, name == q->name ? NULL : name, T_PTR, 300, 0, zone[i].v);
			break;
		case T_TXT:
			pk_rr_txt(&fz_pkt, name == q->name ? NULL : name, 300,
			          (const unsigned char *)zone[i].v, strlen(zone[i].v), 255);
			break;
		}
	}
	if (type == T_A && zone_under(name, "any.test")) {
		known = 1;
		pk_rr(&fz_pkt, NULL, T_A, 60, "\x7f\0\0\x02", 4, 0);
	}
	if (fz_pkt.b[7] || fz_pkt.b[6]) {
		fz_reply(q, ARES_SUCCESS);
		return;
	}
	if (!known)
		fz_pkt.b[3] |= 3;	/* NXDOMAIN */
	pk_soa(&fz_pkt, 300, 60);
	fz_reply(q, known ? ARES_ENODATA : ARES_ENOTFOUND);
}
