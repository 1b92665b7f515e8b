/* See LICENSE file for copyright and license details.
 *
 * fuzz_request - the policy request stream.  The first input byte picks
 * a configuration variant (bits below); the rest is what Postfix (or
 * anyone who can write to the policy socket) sends on stdin.  It is run
 * through mode_spawn(), with SPF evaluated against the fixed zone of
 * zone.h by the fake DNS of fuzz.h.
 *
 * Checks beyond the sanitizers, on what goes out on stdout: one reply per
 * request, each "action=..." on one line followed by an empty line, no
 * control character inside; a line too long or holding a NUL never
 * becomes a second request (that count is computed here independently).
 */
#define DNS_SEND(q)	fz_send(q)
static void fz_send(void *);
#include "../../spfpolicy.c"
#include "fuzz.h"
#include "zone.h"

enum {	/* the first byte */
	V_AR       = 1 << 0,	/* Header_Type AR; with V_NOMAIL: None */
	V_ERRORS   = 1 << 1,	/* PermError_reject, TempError_Defer True */
	V_NOMAIL   = 1 << 2,	/* No_Mail True */
	V_LISTS    = 1 << 3,	/* Whitelist, Domain_Whitelist, HELO_Whitelist, ..._PTR */
	V_PERUSER  = 1 << 4,	/* Per_User text,FILE */
	V_POLICY   = 1 << 5,	/* SPF_Not_Pass, Softfail, Reject_Not_Pass_Domains, restrictions */
	V_VERBOSE  = 1 << 6,	/* debugLevel 5, Hide_Receiver, own Reason_Message */
	V_TESTONLY = 1 << 7,	/* TestOnly 0, SPF_Enhanced_Status_Codes No, No_Check */
};

static char peruser[64] = "text,";
static int infd = -1, outfd = -1;

/* The configuration of variant v, as its file says it. */
static void
variant_text(unsigned v, char *buf, size_t size)
{
	size_t n = 0;

#define LINE(...)	(n += snprintf(buf + n, size - n, __VA_ARGS__))
	LINE("Authserv_Id = mx.receiver.test\nReceiver_Domain = receiver.test\n");
	if (v & V_AR)
		LINE("Header_Type = %s\n", v & V_NOMAIL ? "None" : "AR");
	if (v & V_ERRORS)
		LINE("PermError_reject = True\nTempError_Defer = True\n");
	if (v & V_NOMAIL)
		LINE("No_Mail = True\n");
	if (v & V_LISTS)
		LINE("Whitelist = 198.51.100.0/24, 2001:db8:ffff::/48, bogus\n"
		     "Domain_Whitelist = wl.test,nx.test\nHELO_Whitelist = helo.wl.test\n"
		     "Domain_Whitelist_PTR = pass.test\n"
		     "skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1,203.0.113.0/24\n");
	if (v & V_PERUSER)
		LINE("Per_User = %s\n", peruser);
	if (v & V_POLICY)
		LINE("HELO_reject = %s\nMail_From_reject = %s\n"
		     "Reject_Not_Pass_Domains = rnp.test, neutral.test\n"
		     "HELO_pass_restriction = helo_passed_spf\nMail_From_pass_restriction = %s\n",
		     v & V_AR ? "Null" : "SPF_Not_Pass", v & V_ERRORS ? "False" : "Softfail",
		     v & V_LISTS ? "" : "mfrom_passed_spf");
	if (v & V_VERBOSE)
		LINE("debugLevel = 5\nHide_Receiver = Yes\n"
		     "Reason_Message = {rejectdefer:*^30} {{literal}} {spf:.40} {url:>5s}\n"
		     "Explanation_URL = https://why.test/?s={scope}&id={identity:.20}&ip={ip}&r={receiver}\n"
		     "defaultSeedOnly = 1\n");
	if (v & V_TESTONLY)
		LINE("TestOnly = 0\nSPF_Enhanced_Status_Codes = No\n");
	if ((v & V_TESTONLY) && (v & V_POLICY))
		LINE("HELO_reject = No_Check\n");
	if ((v & V_TESTONLY) && (v & V_PERUSER))
		LINE("Prospective = 192.0.2.1\n");
	if ((v & V_TESTONLY) && (v & (V_AR | V_ERRORS | V_NOMAIL)) == (V_AR | V_ERRORS | V_NOMAIL))
		LINE("Mock = True\n");
#undef LINE
}

/* Variant v's configuration, compiled the first time it is asked for. */
static const Conf *
variant(unsigned v)
{
	static Conf cf[256];
	static int made[256];
	char text[2048];

	if (!made[v]) {
		variant_text(v, text, sizeof(text));
		fz_conf(&cf[v], text);
		made[v] = 1;
	}
	return &cf[v];
}

/* The number of requests in the input, as the protocol defines them. */
static size_t
requests(const unsigned char *d, size_t n)
{
	size_t i, start = 0, count = 0, k;
	int blank;

	for (i = 0; i < n; i++) {
		if (d[i] != '\n')
			continue;
		blank = i - start <= LINE_MAX_LEN;	/* longer: a bad line */
		for (k = start; blank && k < i; k++)
			blank = d[k] && isspace(d[k]);
		count += blank;
		start = i + 1;
	}
	return count;
}

/* Every reply well formed, and as many as requests. */
static void
check_replies(size_t want)
{
	static char buf[8 << 20];
	size_t n = 0, got = 0, i;
	ssize_t r;

	lseek(outfd, 0, SEEK_SET);
	while ((r = read(outfd, buf + n, sizeof(buf) - n)) > 0)
		n += r;
	if (n == sizeof(buf))
		return;	/* more than any input here makes */
	for (i = 0; i < n; ) {
		if (n - i < 9 || memcmp(buf + i, "action=", 7)) {
			dprintf(2, "fuzz: reply %zu does not start with action=\n", got);
			abort();
		}
		for (; i < n && buf[i] != '\n'; i++)
			if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f) {
				dprintf(2, "fuzz: control 0x%02x in reply %zu\n", buf[i], got);
				abort();
			}
		if (n - i < 2 || buf[i + 1] != '\n') {
			dprintf(2, "fuzz: reply %zu not ended by an empty line\n", got);
			abort();
		}
		i += 2;
		got++;
	}
	if (got != want) {
		dprintf(2, "fuzz: %zu requests but %zu replies\n", want, got);
		abort();
	}
}

/* An unlinked temporary file, for stdin or stdout. */
static int
tmpfd(void)
{
	char path[256];
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/fuzz_request.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0) {
		perror("mkstemp");
		abort();
	}
	unlink(path);
	return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char users[] =
		"# Per_User: recipient,Key=Value|Key=Value\n"
		"postmaster@receiver.test,HELO_reject=False|Mail_From_reject=No_Check\n"
		"user@receiver.test , Whitelist=192.0.2.0/24|debugLevel=3\n"
		"strict@receiver.test,Mail_From_reject=SPF_Not_Pass|PermError_reject=True|"
		"Header_Type=AR|Reason_Message={spf}|Void_Limit=0|Lookup_Time=1\n"
		"bad@receiver.test,Nameservers=1.2.3.4|debugLevel=x|=|Whitelist\n";
	char path[256];
	const char *dir = getenv("TMPDIR");
	int fd;

	(void)argc;
	(void)argv;
	fz_quiet();
	snprintf(path, sizeof(path), "%s/fuzz_peruser.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0 || write(fd, users, sizeof(users) - 1) < 0) {
		perror(path);
		abort();
	}
	close(fd);
	snprintf(peruser, sizeof(peruser), "text,%s", path);
	infd = tmpfd();
	outfd = tmpfd();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const Conf *cf;

	if (size < 1)
		return 0;
	cf = variant(data[0]);
	data++;
	size--;
	fz_reset();
	if (ftruncate(infd, 0) || pwrite(infd, data, size, 0) != (ssize_t)size ||
	    ftruncate(outfd, 0) || dup2(infd, 0) < 0 || dup2(outfd, 1) < 0) {
		perror("fuzz_request: stdin/stdout");
		abort();
	}
	lseek(infd, 0, SEEK_SET);
	lseek(outfd, 0, SEEK_SET);
	mode_spawn(cf, "fuzz.conf");
	check_replies(requests(data, size));
	return 0;
}
