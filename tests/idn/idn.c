/* See LICENSE file for copyright and license details.
 *
 * idn.c - spfpolicy's conversion of domain names to A-labels, on the
 * names read from stdin, one a line: "NAME<TAB>A-LABEL-FORM" for each,
 * or "NAME<TAB>!invalid" where idn_ascii() finds NAME not a valid
 * IDNA2008 name.  tests/idn.sh builds it as the binary is built (musl,
 * static, the same libraries) and compares its lines with idn2(1)'s.
 */
#define main spfpolicy_main	/* spfpolicy.c's own, unused here */
#include "../../spfpolicy.c"
#undef main

int
main(void)
{
	static char line[LINE_MAX_LEN];
	char out[DNS_NAME_MAX + 1];
	size_t n;

	while (fgets(line, sizeof(line), stdin)) {
		n = strcspn(line, "\n");
		line[n] = '\0';
		if (idn_ascii(line, out, sizeof(out)) < 0)
			printf("%s\t!invalid\n", line);
		else
			printf("%s\t%s\n", line, out);
	}
	return ferror(stdin) || fflush(stdout) ? 1 : 0;
}
