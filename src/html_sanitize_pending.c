/*
 * html_sanitize_pending.c - stands in for pd_html_sanitize() until the
 * sanitiser is merged: it refuses every input, so callers send no HTML part
 * (the text part alone) rather than unsanitised HTML.  Delete this file
 * when html.c defines pd_html_sanitize().
 */
#include "autoconfig.h"

#include <stddef.h>

#include "html.h"

int pd_html_sanitize(const char *html, size_t len, unsigned flags, char **out)
{
	(void)html, (void)len, (void)flags;
	*out = NULL;
	return -1;
}
