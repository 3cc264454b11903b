/*
 * ioutil.h - reading a whole file, the monotonic clock and SHA-256: the
 * helpers of the layers above the deciding modules (which never use them,
 * and so link with nothing but libc and libunistring).
 */
#ifndef PD_IOUTIL_H
#define PD_IOUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds, for deadlines. */
int64_t pd_now_ms(void);

/* Read a whole file into memory (NUL-terminated). Returns 0 / -1 with errno set. */
int pd_read_file(const char *path, char **data_r, size_t *len_r);

/* SHA-256 of data (GnuTLS); out receives 32 bytes. */
void pd_sha256(const void *data, size_t len, unsigned char out[32]);
#endif
