/*
 * ioutil.h - reading a whole file and the monotonic clock: the I/O helpers
 * of the layers above the deciding modules (which never use them).
 */
#ifndef PD_IOUTIL_H
#define PD_IOUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds, for deadlines. */
int64_t pd_now_ms(void);

/* Read a whole file into memory (NUL-terminated). Returns 0 / -1 with errno set. */
int pd_read_file(const char *path, char **data_r, size_t *len_r);

#endif
