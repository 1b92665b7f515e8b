/* See LICENSE file for copyright and license details.
 *
 * cares_floor - the DNS floor of tests/bench.sh: a policy server that,
 * for each request it reads, performs with c-ares and poll(2) exactly the
 * DNS round trips spfpolicy made for that request (captured by the bench
 * from spfpolicy's own system calls), then answers "action=DUNNO".  What
 * it costs is the cost of being spawned, of setting up c-ares and of the
 * DNS itself, without any SPF or policy work.
 *
 * usage: cares_floor PLANFILE [ignored...]
 *
 * PLANFILE: one line per event, in order:
 *	R		the next request starts (requests past the last R
 *			make no query)
 *	B		a batch: the queries up to the next B or R are sent
 *			together and all awaited before the next batch
 *	Q TYPE NAME	one query, TYPE the numeric RR type
 *
 * The channel is set up as spfpolicy sets it up (EDNS, no search list,
 * same timeouts); answers are not parsed.
 */
#include <sys/time.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ares.h>

#define MAX_SOCKS	32

typedef struct {
	int type;
	char *name;
	int batch;	/* batch number, counted over the whole plan */
} Query;

static Query *plan;
static int nplan;
static int *reqstart;	/* request i: plan[reqstart[i] .. reqstart[i + 1]) */
static int nreq;

static ares_channel channel;
static struct pollfd pfd[MAX_SOCKS];
static int npfd;
static int pending;

static void
die(const char *s)
{
	(void)!write(2, s, strlen(s));
	(void)!write(2, "\n", 1);
	exit(1);
}

static void
sockstate(void *data, ares_socket_t fd, int readable, int writable)
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
			return;
		npfd++;
	}
	pfd[i].fd = fd;
	pfd[i].events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
	pfd[i].revents = 0;
}

static void
callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)arg; (void)status; (void)timeouts; (void)abuf; (void)alen;
	pending--;
}

static void
wait_all(void)
{
	struct timeval max = { 20, 0 }, tv, *tvp;
	ares_socket_t rfd[MAX_SOCKS], wfd[MAX_SOCKS];
	int i, k, n, ms;

	while (pending > 0) {
		tvp = ares_timeout(channel, &max, &tv);
		ms = tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
		if ((n = poll(pfd, npfd, ms)) < 0 && errno != EINTR)
			die("cares_floor: poll failed");
		if (n <= 0) {
			ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (k = 0, i = 0; i < npfd; i++) {
			if (!pfd[i].revents)
				continue;
			rfd[k] = pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD;
			wfd[k++] = pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
		}
		for (i = 0; i < k; i++)
			ares_process_fd(channel, rfd[i], wfd[i]);
	}
}

static void
run(int r)
{
	int i, b;

	if (r >= nreq)
		return;
	for (i = reqstart[r]; i < reqstart[r + 1]; ) {
		b = plan[i].batch;
		for (; i < reqstart[r + 1] && plan[i].batch == b; i++) {
			pending++;
			ares_query(channel, plan[i].name, 1, plan[i].type, callback, NULL);
		}
		wait_all();
	}
}

static void
load(const char *path)
{
	FILE *f;
	char line[1100], name[1030];
	int cap = 0, rcap = 0, batch = 0, type;

	if (!(f = fopen(path, "r")))
		die("cares_floor: cannot open the plan file");
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == 'R') {
			if (nreq + 2 > rcap && !(reqstart = realloc(reqstart, (rcap = 2 * rcap + 64) * sizeof(*reqstart))))
				die("cares_floor: out of memory");
			reqstart[nreq++] = nplan;
		} else if (line[0] == 'B') {
			batch++;
		} else if (sscanf(line, "Q %d %1023s", &type, name) == 2) {
			if (!nreq)
				die("cares_floor: Q before R in the plan");
			if (nplan == cap && !(plan = realloc(plan, (cap = 2 * cap + 64) * sizeof(*plan))))
				die("cares_floor: out of memory");
			plan[nplan].type = type;
			plan[nplan].batch = batch;
			if (!(plan[nplan++].name = strdup(name)))
				die("cares_floor: out of memory");
		}
	}
	fclose(f);
	if (!reqstart && !(reqstart = malloc(sizeof(*reqstart))))
		die("cares_floor: out of memory");
	reqstart[nreq] = nplan;
}

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
main(int argc, char *argv[])
{
	static char buf[8192];
	static const char ans[] = "action=DUNNO\n\n";
	struct ares_options o;
	ssize_t r, i;
	int bol = 1, req = 0;

	if (argc < 2)
		die("usage: cares_floor PLANFILE");
	load(argv[1]);
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		die("cares_floor: ares_library_init failed");
	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;	/* as spfpolicy */
	o.timeout = 2000;
	o.tries = 3;
	o.ednspsz = 1232;
	o.sock_state_cb = sockstate;
	if (ares_init_options(&channel, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS)
		die("cares_floor: ares_init_options failed");
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
			if (bol) {
				run(req++);
				if (put(ans, sizeof(ans) - 1))
					return 1;
			}
			bol = 1;
		}
	}
}
