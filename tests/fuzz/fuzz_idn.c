/* See LICENSE file for copyright and license details.
 *
 * fuzz_idn - idn_ascii(), the conversion of internationalized domain
 * names to A-labels (RFC 8616 4).  The input, up to its first NUL, is one
 * name, in any bytes.
 *
 * Checks beyond the sanitizers: libidn2's idn2_lookup_u8() with
 * IDN2_NONTRANSITIONAL (what idn2(1) does, the reference of tests/idn.sh)
 * is the oracle: both refuse the name, or both give the same A-label
 * form.  A pure-ASCII name is not IDNA's: idn_ascii() must give it back
 * as it is (libidn2 would fold and check it).  Every output is a C string
 * of at most DNS_NAME_MAX - 1 octets, ASCII alone.
 *
 * A libidn2 other than the one of idna.h's tables (IDN_TABLES_LIBIDN2:
 * Debian 12's 2.3.3, Unicode 14, against 2.3.8's, Unicode 15.1) is an
 * oracle for the rest: a name it refuses as unassigned, disallowed or
 * not valid under TR46 (code points newer than its data) may be ours, and U+1E9E may differ
 * (tests/idn/known.txt).
 *
 * Built with -lidn2 (libidn2-dev) on top of what the other targets link.
 */
#define DNS_SEND(q)	fz_send(q)
static void fz_send(void *);
#include "../../spfpolicy.c"
#include "fuzz.h"

#include <idn2.h>

/* No lookup is expected: any is answered NXDOMAIN. */
static void
fz_answer(Query *q)
{
	pk_begin(&fz_pkt, q->name, q->ans->type, 3);
	fz_reply(q, ARES_ENOTFOUND);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

static void
disagree(const char *name, const char *ours, const char *ref)
{
	size_t i;

	fprintf(stderr, "fuzz_idn: name");
	for (i = 0; name[i]; i++)
		fprintf(stderr, " %02x", (unsigned char)name[i]);
	fprintf(stderr, "\n  idn_ascii: %s\n  libidn2:   %s\n", ours, ref);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[8192];
	char out[DNS_NAME_MAX + 1], *ref = NULL;
	size_t n = MIN(size, sizeof(name) - 1), i;
	int rc, lrc, ascii = 1;

	memcpy(name, data, n);
	name[n] = '\0';
	for (i = 0; name[i]; i++)
		if (name[i] & 0x80)
			ascii = 0;
	memset(out, 'Z', sizeof(out));
	rc = idn_ascii(name, out, sizeof(out));
	if (rc == 0) {
		if (!memchr(out, '\0', sizeof(out)))
			disagree(name, "(not a C string)", "-");
		for (i = 0; out[i]; i++)
			if (out[i] & 0x80)
				disagree(name, out, "(non-ASCII output)");
	}
	if (ascii) {
		if (strlen(name) < sizeof(out) ? rc != 0 || strcmp(out, name) != 0
		    : rc == 0)
			disagree(name, rc ? "!invalid" : out, "(ASCII: itself)");
		return 0;
	}
	if ((lrc = idn2_lookup_u8((const uint8_t *)name, (uint8_t **)&ref,
	    IDN2_NONTRANSITIONAL)) != IDN2_OK) {
		free(ref);
		ref = NULL;
	}
	if (strcmp(idn2_check_version(NULL), IDN_TABLES_LIBIDN2) &&
	    (strstr(name, "\xe1\xba\x9e") ||	/* U+1E9E */
	     (rc == 0 && (lrc == IDN2_UNASSIGNED || lrc == IDN2_DISALLOWED ||
	                 lrc == IDN2_INVALID_NONTRANSITIONAL)))) {
		free(ref);
		return 0;	/* older data: not an oracle here */
	}
	if ((rc == 0) != (ref != NULL) || (ref && strcmp(out, ref) != 0))
		disagree(name, rc ? "!invalid" : out, ref ? ref : "!invalid");
	free(ref);
	return 0;
}
