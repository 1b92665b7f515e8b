/* See LICENSE file for copyright and license details.
 *
 * dunno - the spawn floor of tests/bench.sh: a policy server that answers
 * every request with "action=DUNNO" and does nothing else (no config, no
 * DNS).  What it costs is the cost of being spawned at all and of the
 * request/reply exchange.  usage: dunno [ignored...]
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

static int
put(const char *s, size_t n)
{
	ssize_t w;

	while (n) {
		if ((w = write(1, s, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= w;
	}
	return 0;
}

int
main(void)
{
	static char buf[8192];
	static const char ans[] = "action=DUNNO\n\n";
	ssize_t r, i;
	int bol = 1;	/* at the beginning of a line */

	for (;;) {
		if ((r = read(0, buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		for (i = 0; i < r; i++) {
			if (buf[i] != '\n') {
				bol = 0;
				continue;
			}
			if (bol && put(ans, sizeof(ans) - 1))
				return 1;
			bol = 1;
		}
	}
}
