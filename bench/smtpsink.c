/*
 * bench/smtpsink.c - a fast SMTP sink for the benchmarks.
 *
 *   smtpsink --port PORT --dir DIR [--discard] [--pidfile FILE]
 *
 * Listens on 127.0.0.1:PORT only and accepts every mail: ESMTP with
 * PIPELINING, 8BITMIME, SIZE, ENHANCEDSTATUSCODES and SMTPUTF8, many
 * sessions at once (one epoll loop, non-blocking sockets).  Like
 * tests/integration/smtp_sink.py it keeps DIR/connections (sessions that said
 * EHLO or HELO) and DIR/accepted (mails accepted), each replaced atomically;
 * here they are written at most every 100 ms and when the sink goes idle, so
 * counting costs nothing per mail.  Without --discard every mail is written
 * to DIR/N.eml (dot-unstuffed) as received.  SIGTERM or SIGINT: final counts
 * are written and the sink exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE (64 * 1024)
#define MAX_MAIL (64 * 1024 * 1024)
#define HOSTNAME "127.0.0.1"

struct buf {
	char *p;
	size_t len, cap;
};

struct sess {
	int fd;
	struct buf in, out, mail;
	size_t out_off;
	bool in_data;   /* between 354 and the final "." */
	bool greeted;   /* EHLO or HELO seen */
	bool counted;   /* counted as a session */
	bool have_from; /* MAIL FROM accepted */
	int rcpts;
	bool closing;   /* close once out is flushed */
	bool want_out;  /* EPOLLOUT registered */
	struct sess *prev, *next; /* every open session, for the exit */
};

static volatile sig_atomic_t stop;
static const char *dir;
static bool discard;
static unsigned long sessions, accepted, written;
static int epfd;
static struct sess *all;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "smtpsink: out of memory\n");
		exit(1);
	}
	return q;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void reply(struct sess *s, const char *text)
{
	buf_add(&s->out, text, strlen(text));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* DIR/NAME <- value, atomically. */
static void write_count(const char *name, unsigned long value)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "smtpsink: cannot write %s: %s\n", tmp, strerror(errno));
		return;
	}
	fprintf(f, "%lu\n", value);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		fprintf(stderr, "smtpsink: cannot replace %s: %s\n", path, strerror(errno));
}

static void write_counts(void)
{
	write_count("connections", sessions);
	write_count("accepted", accepted);
}

static void save_mail(struct sess *s)
{
	char tmp[4096], path[4096];
	FILE *f;

	written++;
	snprintf(tmp, sizeof(tmp), "%s/%lu.eml.tmp", dir, written);
	snprintf(path, sizeof(path), "%s/%lu.eml", dir, written);
	f = fopen(tmp, "wb");
	if (f == NULL || fwrite(s->mail.p ? s->mail.p : "", 1, s->mail.len, f) != s->mail.len) {
		fprintf(stderr, "smtpsink: cannot write %s: %s\n", tmp, strerror(errno));
		if (f != NULL)
			fclose(f);
		return;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		fprintf(stderr, "smtpsink: cannot write %s: %s\n", path, strerror(errno));
}

static void reset_transaction(struct sess *s)
{
	s->have_from = false;
	s->rcpts = 0;
	s->mail.len = 0;
}

/* Does line (without CRLF) start with the command word cmd? */
static bool is_cmd(const char *line, size_t len, const char *cmd)
{
	size_t n = strlen(cmd);

	return len >= n && strncasecmp(line, cmd, n) == 0 &&
	       (len == n || line[n] == ' ' || line[n] == ':');
}

static void command(struct sess *s, const char *line, size_t len)
{
	if (is_cmd(line, len, "EHLO") || is_cmd(line, len, "HELO")) {
		if (!s->counted) {
			s->counted = true;
			sessions++;
		}
		s->greeted = true;
		reset_transaction(s);
		if (toupper((unsigned char)line[0]) == 'E')
			reply(s, "250-" HOSTNAME "\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
				 "250-SIZE 67108864\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n");
		else
			reply(s, "250 " HOSTNAME "\r\n");
	} else if (is_cmd(line, len, "MAIL")) {
		if (!s->greeted)
			reply(s, "503 5.5.1 EHLO or HELO first\r\n");
		else if (s->have_from)
			reply(s, "503 5.5.1 nested MAIL command\r\n");
		else if (len < 10 || strncasecmp(line, "MAIL FROM:", 10) != 0)
			reply(s, "501 5.5.4 syntax: MAIL FROM:<address>\r\n");
		else {
			s->have_from = true;
			reply(s, "250 2.1.0 OK\r\n");
		}
	} else if (is_cmd(line, len, "RCPT")) {
		if (!s->have_from)
			reply(s, "503 5.5.1 MAIL first\r\n");
		else if (len < 8 || strncasecmp(line, "RCPT TO:", 8) != 0)
			reply(s, "501 5.5.4 syntax: RCPT TO:<address>\r\n");
		else {
			s->rcpts++;
			reply(s, "250 2.1.5 OK\r\n");
		}
	} else if (is_cmd(line, len, "DATA")) {
		if (!s->have_from)
			reply(s, "503 5.5.1 MAIL first\r\n");
		else if (s->rcpts == 0)
			reply(s, "554 5.5.1 no valid recipients\r\n");
		else {
			s->in_data = true;
			s->mail.len = 0;
			reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
		}
	} else if (is_cmd(line, len, "RSET")) {
		reset_transaction(s);
		reply(s, "250 2.0.0 OK\r\n");
	} else if (is_cmd(line, len, "NOOP")) {
		reply(s, "250 2.0.0 OK\r\n");
	} else if (is_cmd(line, len, "VRFY")) {
		reply(s, "252 2.5.0 cannot verify, will accept\r\n");
	} else if (is_cmd(line, len, "QUIT")) {
		reply(s, "221 2.0.0 Bye\r\n");
		s->closing = true;
	} else {
		reply(s, "502 5.5.2 command not recognised\r\n");
	}
}

/* One line of message data (with its line ending). */
static void data_line(struct sess *s, const char *line, size_t len)
{
	size_t body = len;

	while (body > 0 && (line[body - 1] == '\n' || line[body - 1] == '\r'))
		body--;
	if (body == 1 && line[0] == '.') {
		char text[80];

		s->in_data = false;
		accepted++;
		if (!discard)
			save_mail(s);
		snprintf(text, sizeof(text), "250 2.0.0 OK %s as %lu\r\n",
			 discard ? "discarded" : "queued", accepted);
		reply(s, text);
		reset_transaction(s);
		return;
	}
	if (discard)
		return;
	if (line[0] == '.') { /* dot-stuffing */
		line++;
		len--;
	}
	if (s->mail.len + len > MAX_MAIL)
		return; /* refused at the end: see process() */
	buf_add(&s->mail, line, len);
}

/* Handle every complete line in s->in; keep the rest. */
static void process(struct sess *s)
{
	size_t pos = 0;

	while (pos < s->in.len && !s->closing) {
		char *nl = memchr(s->in.p + pos, '\n', s->in.len - pos);
		size_t len;

		if (nl == NULL)
			break;
		len = (size_t)(nl - (s->in.p + pos)) + 1;
		if (s->in_data) {
			data_line(s, s->in.p + pos, len);
		} else {
			size_t l = len;
			while (l > 0 && (s->in.p[pos + l - 1] == '\n' || s->in.p[pos + l - 1] == '\r'))
				l--;
			command(s, s->in.p + pos, l);
		}
		pos += len;
	}
	if (pos > 0) {
		memmove(s->in.p, s->in.p + pos, s->in.len - pos);
		s->in.len -= pos;
	}
	if (!s->in_data && s->in.len > MAX_LINE) {
		reply(s, "500 5.5.2 line too long\r\n");
		s->closing = true;
	}
	if (s->in_data && s->in.len > MAX_MAIL) {
		reply(s, "552 5.3.4 message too big\r\n");
		s->closing = true;
	}
}

static void sess_free(struct sess *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		all = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	free(s->in.p);
	free(s->out.p);
	free(s->mail.p);
	free(s);
}

/* Write what is pending; returns -1 when the session is gone. */
static int flush(struct sess *s)
{
	while (s->out_off < s->out.len) {
		ssize_t w = write(s->fd, s->out.p + s->out_off, s->out.len - s->out_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		s->out_off += (size_t)w;
	}
	if (s->out_off == s->out.len) {
		s->out.len = s->out_off = 0;
		if (s->closing)
			return -1;
	}
	bool want = s->out.len > 0;
	if (want != s->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s};
		epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
		s->want_out = want;
	}
	return 0;
}

/* Readable: read everything there is, answer.  -1: close the session. */
static int on_read(struct sess *s)
{
	for (;;) {
		char chunk[65536];
		ssize_t r = read(s->fd, chunk, sizeof(chunk));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		if (r == 0)
			return -1; /* the client closed */
		buf_add(&s->in, chunk, (size_t)r);
		process(s);
		if (s->closing)
			break;
	}
	return flush(s);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct sess *s;
		int one = 1;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fprintf(stderr, "smtpsink: accept: %s\n", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s = calloc(1, sizeof(*s));
		if (s == NULL) {
			close(fd);
			return;
		}
		s->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(s);
			continue;
		}
		s->next = all;
		if (all != NULL)
			all->prev = s;
		all = s;
		reply(s, "220 " HOSTNAME " ESMTP postdesk bench sink\r\n");
		if (flush(s) < 0)
			sess_free(s);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: smtpsink --port PORT --dir DIR [--discard] [--pidfile FILE]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	long port = 0;
	int lfd, one = 1;
	struct sockaddr_in sa;
	struct sigaction act;
	int64_t last_write = 0;
	bool dirty = true;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc)
			pidfile = argv[++i];
		else if (strcmp(argv[i], "--discard") == 0)
			discard = true;
		else
			usage();
	}
	if (port <= 0 || port > 65535 || dir == NULL)
		usage();

	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		fprintf(stderr, "smtpsink: socket: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0) {
		fprintf(stderr, "smtpsink: cannot listen on 127.0.0.1:%ld: %s\n", port,
			strerror(errno));
		close(lfd);
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		fprintf(stderr, "smtpsink: epoll: %s\n", strerror(errno));
		close(lfd);
		return 1;
	}
	if (pidfile != NULL) {
		FILE *f = fopen(pidfile, "w");
		if (f == NULL) {
			fprintf(stderr, "smtpsink: cannot write %s: %s\n", pidfile, strerror(errno));
			return 1;
		}
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}

	while (!stop) {
		struct epoll_event ev[64];
		int n = epoll_wait(epfd, ev, 64, dirty ? 100 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "smtpsink: epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct sess *s = ev[i].data.ptr;
			unsigned long before = accepted + sessions;

			if (s == NULL) {
				on_accept(lfd);
				continue;
			}
			int r = 0;
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				r = on_read(s);
			else if (ev[i].events & EPOLLOUT)
				r = flush(s);
			if (accepted + sessions != before)
				dirty = true;
			if (r < 0)
				sess_free(s);
		}
		if (dirty && (n == 0 || now_ms() - last_write >= 100)) {
			write_counts();
			last_write = now_ms();
			dirty = false;
		}
	}
	write_counts();
	while (all != NULL)
		sess_free(all);
	close(lfd);
	close(epfd);
	fprintf(stderr, "smtpsink: %lu sessions, %lu mails accepted\n", sessions, accepted);
	return 0;
}
