/* See LICENSE file for copyright and license details.
 *
 * spfpolicy - Postfix SMTP access policy server for SPF (RFC 7208).
 * (skeleton: under construction)
 */
#include <stdio.h>
#include <string.h>

#include <ares.h>

#include "spfpolicy.h"
#include "config.h"

int
main(int argc, char *argv[])
{
	if (argc == 2 && !strcmp(argv[1], "-V")) {
		printf("spfpolicy %s (c-ares %s)\n", VERSION, ares_version(NULL));
		return 0;
	}
	return 64;
}
