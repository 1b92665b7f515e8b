/* See LICENSE file for copyright and license details.
 *
 * drive - the timing driver of tests/bench.sh.  It plays Postfix: it
 * starts policy servers the way spawn(8) does (stdin and stdout one end of
 * a socket pair) or connects to a listener, writes requests one at a time
 * and waits for each reply ("...\n\n"), and measures with CLOCK_MONOTONIC.
 * Peak RSS is the VmHWM of /proc/PID/status, read after the last reply
 * and before the connection is closed.
 *
 *   drive spawn REQFILE ERRFILE CMD [ARG...]
 *	one process, one request: prints "us=N" (fork to reply), the
 *	process's minor page faults "minflt=N" (to its exit) and the
 *	reply's first line
 *   drive stream REQFILE WARMFILE|- ERRFILE CMD [ARG...]
 *	one process: the requests of WARMFILE untimed, then those of
 *	REQFILE timed; prints "n=N us=N hwm_kb=N"
 *   drive conc DIR NPROC ERRFILE CMD [ARG...]
 *	NPROC processes at once, process k answering DIR/KK.txt; prints
 *	"n=N us=N hwm_kb=SUM hwm_max_kb=MAX pss_kb=SUM" (us: first spawn to
 *	last reply; PSS from smaps_rollup, shared pages split among sharers)
 *	(an argument holding "{k}" gets the two-digit process number there)
 *   drive connect DIR NCONN PORT PARENTPID
 *	the same over NCONN connections to 127.0.0.1:PORT; the RSS is that
 *	of PARENTPID's children (one per connection) plus PARENTPID's own
 *   drive tcp1 REQFILE PORT
 *	one connection to 127.0.0.1:PORT, one request: prints "us=N"
 *	(connect to reply) and the reply's first line
 *
 * Every reply must start with "action="; anything else is an error
 * (exit 1).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN	256

extern char **environ;

typedef struct {
	char **req;	/* requests, each with its blank line */
	size_t *len;
	int n;
} Reqs;

typedef struct {
	int fd;
	pid_t pid;
	Reqs r;
	int next;	/* request being answered */
	char buf[65536];
	size_t blen;
	int done;
} Conn;

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "drive: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Split a file into requests at blank lines. */
static void
load(const char *path, Reqs *r)
{
	FILE *f;
	char *data, *p, *e;
	long n;

	memset(r, 0, sizeof(*r));
	if (!strcmp(path, "-"))
		return;
	if (!(f = fopen(path, "rb")) || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) || !(data = malloc(n + 1)) ||
	    fread(data, 1, n, f) != (size_t)n)
		die("cannot read %s", path);
	fclose(f);
	data[n] = '\0';
	for (p = data; *p; p = e) {
		if (!(e = strstr(p, "\n\n")))
			break;
		e += 2;
		if (!(r->req = realloc(r->req, (r->n + 1) * sizeof(*r->req))) ||
		    !(r->len = realloc(r->len, (r->n + 1) * sizeof(*r->len))))
			die("out of memory%s", "");
		r->req[r->n] = p;
		r->len[r->n++] = e - p;
	}
}

static void
put(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n) {
		if ((w = write(fd, s, n)) < 0) {
			if (errno == EINTR)
				continue;
			die("write: %s", strerror(errno));
		}
		s += w;
		n -= w;
	}
}

/* Start cmd with stdin and stdout on one end of a socket pair. */
static pid_t
start(char **cmd, const char *errfile, int *fd)
{
	posix_spawn_file_actions_t fa;
	int sv[2], r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if ((r = posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, environ)))
		die("cannot run: %s", strerror(r));
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

/* Read until the reply is complete; returns its length in c->buf. */
static int
got_reply(Conn *c)
{
	ssize_t r;

	while ((r = read(c->fd, c->buf + c->blen, sizeof(c->buf) - 1 - c->blen)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		die("the server closed the connection%s", r ? ": read error" : "");
	c->blen += r;
	c->buf[c->blen] = '\0';
	if (c->blen < 2 || strcmp(c->buf + c->blen - 2, "\n\n"))
		return 0;
	if (strncmp(c->buf, "action=", 7))
		die("not a reply: %.200s", c->buf);
	return 1;
}

static void
reply_wait(Conn *c)
{
	c->blen = 0;
	while (!got_reply(c))
		;
}

/* A field of /proc/PID/status (or smaps_rollup for Pss) in kB; 0 if gone. */
static long
status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid,
	         strcmp(field, "Pss") ? "status" : "smaps_rollup");
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':')
			v = atol(line + fl + 1);
	fclose(f);
	return v;
}

/* Close the connection and reap the process; its minor page faults. */
static long
finish(Conn *c)
{
	struct rusage ru;
	int st;

	close(c->fd);
	memset(&ru, 0, sizeof(ru));
	if (c->pid > 0 && wait4(c->pid, &st, 0, &ru) == c->pid &&
	    !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fprintf(stderr, "drive: pid %d ended with status %#x\n", (int)c->pid, st);
	return ru.ru_minflt;
}

static int
cmd_spawn(int argc, char **argv)
{
	static Conn c;
	long long t0, t1;
	char *nl;

	if (argc < 4)
		die("usage: drive spawn REQFILE ERRFILE CMD...%s", "");
	load(argv[1], &c.r);
	if (c.r.n < 1)
		die("no request in %s", argv[1]);
	t0 = now_us();
	c.pid = start(argv + 3, argv[2], &c.fd);
	put(c.fd, c.r.req[0], c.r.len[0]);
	reply_wait(&c);
	t1 = now_us();
	if ((nl = strchr(c.buf, '\n')))
		*nl = '\0';
	printf("us=%lld minflt=%ld %s\n", t1 - t0, finish(&c), c.buf);
	return 0;
}

static int
cmd_stream(int argc, char **argv)
{
	static Conn c;
	Reqs warm;
	long long t0, t1;
	long hwm;
	int i;

	if (argc < 5)
		die("usage: drive stream REQFILE WARMFILE ERRFILE CMD...%s", "");
	load(argv[1], &c.r);
	load(argv[2], &warm);
	c.pid = start(argv + 4, argv[3], &c.fd);
	for (i = 0; i < warm.n; i++) {
		put(c.fd, warm.req[i], warm.len[i]);
		reply_wait(&c);
	}
	t0 = now_us();
	for (i = 0; i < c.r.n; i++) {
		put(c.fd, c.r.req[i], c.r.len[i]);
		reply_wait(&c);
	}
	t1 = now_us();
	hwm = status_kb(c.pid, "VmHWM");
	printf("n=%d us=%lld hwm_kb=%ld\n", c.r.n, t1 - t0, hwm);
	finish(&c);
	return 0;
}

/* Drive all connections until each has had all its requests answered. */
static long long
run_all(Conn *c, int n, long long t0)
{
	struct pollfd pfd[MAXCONN];
	int i, left = n;

	for (i = 0; i < n; i++) {
		c[i].next = 0;
		c[i].blen = 0;
		c[i].done = c[i].r.n == 0;
		left -= c[i].done;
		if (!c[i].done)
			put(c[i].fd, c[i].r.req[0], c[i].r.len[0]);
	}
	while (left > 0) {
		for (i = 0; i < n; i++) {
			pfd[i].fd = c[i].done ? -1 : c[i].fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) || !got_reply(&c[i]))
				continue;
			c[i].blen = 0;
			if (++c[i].next == c[i].r.n) {
				c[i].done = 1;
				left--;
			} else {
				put(c[i].fd, c[i].r.req[c[i].next], c[i].r.len[c[i].next]);
			}
		}
	}
	return now_us() - t0;
}

static void
load_dir(const char *dir, Conn *c, int n)
{
	char path[4096];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%02d.txt", dir, i);
		load(path, &c[i].r);
	}
}

/* n copies of cmd, "{k}" in an argument replaced by the copy's number */
static char ***
subst(char **cmd, int n)
{
	char ***v, *p;
	int i, j, argc;

	for (argc = 0; cmd[argc]; argc++)
		;
	if (!(v = calloc(n, sizeof(*v))))
		die("out of memory%s", "");
	for (i = 0; i < n; i++) {
		if (!(v[i] = calloc(argc + 1, sizeof(**v))))
			die("out of memory%s", "");
		for (j = 0; j < argc; j++) {
			v[i][j] = cmd[j];
			if (!(p = strstr(cmd[j], "{k}")))
				continue;
			if (!(v[i][j] = malloc(strlen(cmd[j]) + 16)))
				die("out of memory%s", "");
			sprintf(v[i][j], "%.*s%02d%s", (int)(p - cmd[j]), cmd[j], i, p + 3);
		}
	}
	return v;
}

static int
cmd_conc(int argc, char **argv)
{
	static Conn c[MAXCONN];
	char ***cmds;
	long long t0, us;
	long hwm, sum = 0, max = 0, pss = 0;
	int n, i, reqs = 0;

	if (argc < 5 || (n = atoi(argv[2])) < 1 || n > MAXCONN)
		die("usage: drive conc DIR NPROC ERRFILE CMD...%s", "");
	load_dir(argv[1], c, n);
	cmds = subst(argv + 4, n);
	t0 = now_us();
	for (i = 0; i < n; i++)
		c[i].pid = start(cmds[i], argv[3], &c[i].fd);
	us = run_all(c, n, t0);
	for (i = 0; i < n; i++) {
		hwm = status_kb(c[i].pid, "VmHWM");
		sum += hwm;
		max = hwm > max ? hwm : max;
		pss += status_kb(c[i].pid, "Pss");
		reqs += c[i].r.n;
	}
	printf("n=%d us=%lld hwm_kb=%ld hwm_max_kb=%ld pss_kb=%ld\n", reqs, us, sum, max, pss);
	for (i = 0; i < n; i++)
		finish(&c[i]);
	return 0;
}

/* The children of pid, from /proc (any depth 1). */
static int
children(pid_t parent, pid_t *kids, int max)
{
	char path[300], line[512], *p;
	struct dirent *de;
	DIR *d;
	FILE *f;
	int n = 0, ppid;

	if (!(d = opendir("/proc")))
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) &&
		    sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == parent)
			kids[n++] = atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

static int
tcp(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd;

	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("connect: %s", strerror(errno));
	return fd;
}

static int
cmd_tcp1(int argc, char **argv)
{
	static Conn c;
	long long t0, t1;
	char *nl;

	if (argc < 3)
		die("usage: drive tcp1 REQFILE PORT%s", "");
	load(argv[1], &c.r);
	if (c.r.n < 1)
		die("no request in %s", argv[1]);
	c.pid = -1;
	t0 = now_us();
	c.fd = tcp(atoi(argv[2]));
	put(c.fd, c.r.req[0], c.r.len[0]);
	reply_wait(&c);
	t1 = now_us();
	if ((nl = strchr(c.buf, '\n')))
		*nl = '\0';
	printf("us=%lld %s\n", t1 - t0, c.buf);
	finish(&c);
	return 0;
}

static int
cmd_connect(int argc, char **argv)
{
	static Conn c[MAXCONN];
	static pid_t kids[4 * MAXCONN];
	long long t0, us;
	long hwm, sum, max = 0, pss;
	pid_t parent;
	int n, i, nk, reqs = 0, port;

	if (argc < 5 || (n = atoi(argv[2])) < 1 || n > MAXCONN)
		die("usage: drive connect DIR NCONN PORT PARENTPID%s", "");
	port = atoi(argv[3]);
	parent = atoi(argv[4]);
	load_dir(argv[1], c, n);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		c[i].pid = -1;
		c[i].fd = tcp(port);
	}
	us = run_all(c, n, t0);
	sum = status_kb(parent, "VmHWM");
	pss = status_kb(parent, "Pss");
	nk = children(parent, kids, (int)(sizeof(kids) / sizeof(kids[0])));
	for (i = 0; i < nk; i++) {
		hwm = status_kb(kids[i], "VmHWM");
		sum += hwm;
		max = hwm > max ? hwm : max;
		pss += status_kb(kids[i], "Pss");
	}
	for (i = 0; i < n; i++)
		reqs += c[i].r.n;
	printf("n=%d us=%lld hwm_kb=%ld hwm_max_kb=%ld pss_kb=%ld kids=%d\n", reqs, us, sum, max,
	       pss, nk);
	for (i = 0; i < n; i++)
		finish(&c[i]);
	return 0;
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("usage: drive spawn|stream|conc|connect|tcp1 ...%s", "");
	if (!strcmp(argv[1], "spawn"))
		return cmd_spawn(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stream"))
		return cmd_stream(argc - 1, argv + 1);
	if (!strcmp(argv[1], "conc"))
		return cmd_conc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "connect"))
		return cmd_connect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "tcp1"))
		return cmd_tcp1(argc - 1, argv + 1);
	die("unknown command %s", argv[1]);
	return 1;
}
