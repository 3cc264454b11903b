/*
 * language.c - the language of a text by its letters (pure: no I/O).  See
 * language.h.  UTF-8 is decoded by libunistring.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <string.h>

#include <unistr.h>

#include "language.h"

const char *pd_language_detect(const char *subject, const char *body)
{
	const char *parts[2] = {subject, body};
	size_t cyr = 0, lat = 0;

	for (size_t k = 0; k < 2; k++) {
		const uint8_t *p = (const uint8_t *)(parts[k] ? parts[k] : "");
		size_t len = strlen((const char *)p);
		for (size_t i = 0; i < len;) {
			ucs4_t cp = p[i];
			/* ASCII, most of most mails, needs no decoding */
			int n = cp < 0x80 ? 1 : u8_mbtoucr(&cp, p + i, len - i);
			if (n <= 0) {
				i++; /* not UTF-8 (or cut short): skip the byte */
				continue;
			}
			i += (size_t)n;
			if ((cp >= 0x400 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4ff))
				cyr++; /* Cyrillic letters (0x482-0x489: signs, combining marks) */
			else if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ||
				 (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7))
				lat++;
		}
	}
	return cyr > 0 && cyr > lat ? "ru" : NULL;
}
