// SPDX-License-Identifier: GPL-2.0
/*
 * dts-c-handover-proxy: the smallest proxy that hands connections over, in C.
 *
 *	dts-c-handover-proxy [-l ADDR] [-t SECS] PORT NODE
 *
 * Listens on ADDR:PORT (default 0.0.0.0; PORT is the service's proxy port,
 * where the dts module redirects the client connections this node
 * accepted). For every connection it reads the request head (up to the
 * blank line), then asks the module to hand the connection over to node
 * NODE with dts_request_handover(), passing every byte it has read. On
 * success the destination node's server answers the client and this
 * process only closes its descriptor. On failure the connection is still
 * ours: it answers "502 Bad Gateway" naming the errno, and closes.
 *
 * One log line per connection on stderr, in dts-proxy's key=value style:
 *
 *	dts-c-handover-proxy: client=10.0.0.2:21001 path=/f target=2 result=ok action=handover method=GET bytes=78
 *	dts-c-handover-proxy: client=10.0.0.2:21002 path=/f target=9 result=EINVAL action=close method=GET bytes=78 status=502
 *	dts-c-handover-proxy: client=10.0.0.2:21003 action=close error=eof bytes=0
 *
 * One child process per connection (a handover blocks for up to 3 s).
 * Needs CAP_NET_ADMIN for the handover (else every one fails with EPERM).
 * Without the dts module loaded every handover fails with ENOPROTOOPT.
 * -t: how long a client may stay silent before its head is complete
 * (default 30 s). Exit status 2 on a usage error, 1 if the listening
 * socket cannot be set up. Documentation/c-api.md describes it.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dts_handover.h"

#define PROG		"dts-c-handover-proxy"
#define HEAD_MAX	16384	/* most bytes of a request head */

/* Sets a receive timeout of secs seconds on fd. */
static void set_rcvtimeo(int fd, long secs)
{
	struct timeval tv = { .tv_sec = secs, .tv_usec = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Writes all len bytes of buf to fd. Returns 0 or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The name of errno e for a log line: "EBUSY", or "errno-N". */
static const char *errno_label(int e, char *tmp, size_t size)
{
	const char *name = dts_errno_name(e);

	if (name)
		return name;
	snprintf(tmp, size, "errno-%d", e);
	return tmp;
}

/*
 * Appends printf-style text to the log line in line[LOG_MAX] (at *used);
 * log_flush() writes it with one write(2), so that the lines of concurrent
 * children do not mix.
 */
#define LOG_MAX 1024
static void log_add(char *line, size_t *used, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (*used + 2 > LOG_MAX)
		return;
	room = LOG_MAX - 1 - *used;	/* the text and its NUL; one byte kept for '\n' */
	va_start(ap, fmt);
	n = vsnprintf(line + *used, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n < room ? (size_t)n : room - 1;
}

static void log_flush(char *line, size_t used)
{
	line[used++] = '\n';
	(void)write_all(STDERR_FILENO, line, used);
}

/* Whether buf[0..len) contains the end of a request head, "\r\n\r\n". */
static int head_complete(const char *buf, size_t len)
{
	size_t i;

	for (i = 3; i < len; i++)
		if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n')
			return 1;
	return 0;
}

/*
 * The request line's method and target (the path, for the log), copied
 * into method[16] and path[256] as printable tokens. Returns 0, or -1 if
 * the first line is not "METHOD SP TARGET SP VERSION".
 */
static int request_line(const char *buf, size_t len, char *method, char *path)
{
	size_t i = 0, m = 0, p = 0;

	while (i < len && buf[i] != ' ' && buf[i] > ' ' && buf[i] < 127 && m < 15)
		method[m++] = buf[i++];
	method[m] = '\0';
	if (m == 0 || i >= len || buf[i++] != ' ')
		return -1;
	while (i < len && buf[i] > ' ' && buf[i] < 127) {
		if (p < 255)
			path[p++] = buf[i];
		i++;
	}
	path[p] = '\0';
	if (p == 0 || i >= len || buf[i] != ' ')
		return -1;
	return 0;
}

/*
 * Answers the client with a short text response and closes the connection
 * the way a server should when the client may still be sending: shut down
 * our side, read what comes for up to 2 s, then close (an immediate close
 * with unread bytes would reset the connection and could destroy the
 * response before the client read it).
 */
static void respond_and_close(int fd, const char *status, const char *body)
{
	char resp[512], sink[4096];
	int n;

	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s", status, strlen(body), body);
	if (n > 0 && (size_t)n < sizeof(resp))
		(void)write_all(fd, resp, (size_t)n);
	(void)shutdown(fd, SHUT_WR);
	set_rcvtimeo(fd, 2);
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
}

/* Serves one accepted connection: reads its head, hands it over to node. */
static void serve(int fd, const struct sockaddr_in *peer, unsigned int node, long timeout)
{
	char buf[HEAD_MAX], line[LOG_MAX], addr[INET_ADDRSTRLEN], method[16], path[256];
	char tmp[32], body[128];
	size_t len = 0, used = 0;
	const char *name;
	int e;

	inet_ntop(AF_INET, &peer->sin_addr, addr, sizeof(addr));
	log_add(line, &used, PROG ": client=%s:%u", addr, (unsigned int)ntohs(peer->sin_port));
	set_rcvtimeo(fd, timeout);

	/* Read until the head is complete. Whatever else arrives with it (a
	 * body, a pipelined request) is read too, and goes with the handover:
	 * buf is exactly the bytes read, in order. */
	while (!head_complete(buf, len)) {
		ssize_t n;

		if (len == sizeof(buf)) {
			log_add(line, &used, " action=close status=431 error=headers-too-large bytes=%zu", len);
			log_flush(line, used);
			respond_and_close(fd, "431 Request Header Fields Too Large", "request head too large\n");
			return;
		}
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = errno;
			if (n == 0)
				name = "eof";
			else if (e == EAGAIN)	/* SO_RCVTIMEO ran out */
				name = "timeout";
			else
				name = errno_label(e, tmp, sizeof(tmp));
			log_add(line, &used, " action=close error=%s bytes=%zu", name, len);
			log_flush(line, used);
			close(fd);
			return;
		}
		len += (size_t)n;
	}
	if (request_line(buf, len, method, path) != 0) {
		log_add(line, &used, " action=close status=400 error=malformed bytes=%zu", len);
		log_flush(line, used);
		respond_and_close(fd, "400 Bad Request", "malformed request\n");
		return;
	}
	log_add(line, &used, " path=%s target=%u", path, node);

	if (dts_request_handover(fd, node, buf, len) == 0) {
		/* The connection is node's now: close, never write. */
		log_add(line, &used, " result=ok action=handover method=%s bytes=%zu", method, len);
		log_flush(line, used);
		close(fd);
		return;
	}
	/* Refused: the connection is intact and still ours. */
	name = errno_label(errno, tmp, sizeof(tmp));
	log_add(line, &used, " result=%s action=close method=%s bytes=%zu status=502", name, method, len);
	log_flush(line, used);
	snprintf(body, sizeof(body), "handover to node %u failed: %s\n", node, name);
	respond_and_close(fd, "502 Bad Gateway", body);
}

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " [-l ADDR] [-t SECS] PORT NODE\n"
		"  PORT  the service's proxy port to listen on (1..65535)\n"
		"  NODE  the node every connection is handed over to (1..%d)\n"
		"  -l    the address to listen on (default 0.0.0.0)\n"
		"  -t    seconds a client may stay silent before its request head is complete (default 30)\n",
		DTS_MAX_NODE_ID);
	exit(2);
}

/* The number in s, within lo..hi; a usage error otherwise. */
static unsigned long number(const char *s, unsigned long lo, unsigned long hi, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, PROG ": error: bad %s '%s' (%lu..%lu)\n", what, s, lo, hi);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct sigaction act;
	const char *listen_addr = "0.0.0.0";
	long timeout = 30;
	unsigned int port, node;
	int lfd, one = 1, opt;

	while ((opt = getopt(argc, argv, "l:t:h")) != -1) {
		switch (opt) {
		case 'l':
			listen_addr = optarg;
			break;
		case 't':
			timeout = (long)number(optarg, 1, 3600, "timeout");
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	port = (unsigned int)number(argv[optind], 1, 65535, "port");
	node = (unsigned int)number(argv[optind + 1], 1, DTS_MAX_NODE_ID, "node");

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, listen_addr, &sa.sin_addr) != 1) {
		fprintf(stderr, PROG ": error: bad address '%s'\n", listen_addr);
		usage();
	}

	/* Children are reaped by the kernel; a client that went away must not
	 * kill us with SIGPIPE. */
	memset(&act, 0, sizeof(act));
	act.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &act, NULL);
	sigaction(SIGPIPE, &act, NULL);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 128) != 0) {
		fprintf(stderr, PROG ": error: listen on %s:%u: %s\n", listen_addr, port, strerror(errno));
		return 1;
	}
	fprintf(stderr, PROG ": listening on %s:%u node=%u\n", listen_addr, port, node);

	for (;;) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int fd = accept(lfd, (struct sockaddr *)&peer, &plen);
		pid_t pid;

		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			serve(fd, &peer, node, timeout);
			_exit(0);
		}
		if (pid < 0)	/* no child: serve it here */
			serve(fd, &peer, node, timeout);
		else
			close(fd);
	}
}
