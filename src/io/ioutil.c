/*
 * ioutil.c - the process's small helpers beyond the deciding modules:
 * reading a whole file, the monotonic clock and SHA-256 (GnuTLS).  See
 * ioutil.h.  The deciding modules never call them.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "ioutil.h"
#include "util.h"

int64_t pd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pd_read_file(const char *path, char **data_r, size_t *len_r)
{
	struct pd_buf b;
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	pd_buf_init(&b);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			pd_buf_free(&b);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		pd_buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	*data_r = pd_buf_steal(&b, len_r);
	return 0;
}

void pd_sha256(const void *data, size_t len, unsigned char out[32])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) < 0)
		abort();
}
