/*
 * codec.c - base64, quoted-printable and the addr-spec check (see codec.h).
 *
 * Owned here so that each exists once: mime.c decodes bodies and encoded
 * words with these decoders, render.c writes encoded words and bodies with
 * these encoders, and config.c, render.c and smtp.c refuse the same
 * addresses.  Pure: no I/O, no allocation but the caller's buffer.
 */
#include "autoconfig.h"

#include <string.h>

#include "codec.h"
#include "util.h"

/* ------------------------------------------------------------- base64 */

static const char b64_digits[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int pd_b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

void pd_b64_encode(struct pd_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;
		char q[4];

		if (k > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (k > 2)
			v |= p[i + 2];
		q[0] = b64_digits[(v >> 18) & 63];
		q[1] = b64_digits[(v >> 12) & 63];
		q[2] = k > 1 ? b64_digits[(v >> 6) & 63] : '=';
		q[3] = k > 2 ? b64_digits[v & 63] : '=';
		pd_buf_append(out, q, 4);
	}
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

bool pd_b64_decode(const char *s, size_t n, struct pd_buf *out)
{
	unsigned bits = 0, nbits = 0;
	bool clean = true;
	char chunk[4096];
	size_t cn = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v = pd_b64_value(ch);

		if (ch == '-' || ch == '_')
			v = -1; /* URL-safe letters are not MIME base64 */
		if (v < 0) {
			if (ch == '=')
				bits = nbits = 0;
			else if (!is_space((char)ch))
				clean = false;
			continue;
		}
		bits = (bits << 6 | (unsigned)v) & 0xffffff;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			chunk[cn++] = (char)(bits >> nbits & 0xff);
			if (cn == sizeof(chunk)) {
				pd_buf_append(out, chunk, cn);
				cn = 0;
			}
		}
	}
	pd_buf_append(out, chunk, cn);
	return clean && nbits < 6;
}

/* --------------------------------------------------- quoted-printable */

void pd_qp_decode(const char *s, size_t n, struct pd_buf *out)
{
	const char *p = s, *e = s + n, *run = s;

	while (p < e) {
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *q;
		int hi, lo;

		if (eq == NULL)
			break;
		pd_buf_append(out, run, (size_t)(eq - run));
		if (e - eq >= 3 && (hi = pd_hexval(eq[1])) >= 0 && (lo = pd_hexval(eq[2])) >= 0) {
			pd_buf_append_char(out, (char)(hi << 4 | lo));
			p = run = eq + 3;
			continue;
		}
		/* soft line break, with transport padding before the line end */
		for (q = eq + 1; q < e && (*q == ' ' || *q == '\t'); q++)
			;
		if (q == e || *q == '\n' || (*q == '\r' && (q + 1 == e || q[1] == '\n'))) {
			if (q < e && *q == '\r')
				q++;
			if (q < e)
				q++;
			p = run = q;
			continue;
		}
		pd_buf_append_char(out, '=');
		p = run = eq + 1;
	}
	pd_buf_append(out, run, (size_t)(e - run));
}

void pd_qp_encode_line(struct pd_buf *out, const char *s, size_t len, size_t line_max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool last = i + 1 == len;
		char tok[3];
		size_t t;

		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
			tok[0] = (char)c, t = 1;
		} else {
			tok[0] = '=', tok[1] = hex[c >> 4], tok[2] = hex[c & 15], t = 3;
		}
		/* a soft break "=" needs a column of its own, except on the last token */
		if (col + t > (last ? line_max : line_max - 1)) {
			pd_buf_append(out, "=\r\n", 3);
			col = 0;
		}
		pd_buf_append(out, tok, t);
		col += t;
	}
	pd_buf_append(out, "\r\n", 2);
}

/* ---------------------------------------------------------- addr-spec */

/* A domain label byte: letters, digits, '-', '_' (DNS), UTF-8 when allowed. */
static bool label_byte(unsigned char c, unsigned flags)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || (c >= 0x80 && (flags & PD_ADDR_UTF8));
}

static bool domain_valid(const char *d, size_t n, unsigned flags)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	if (d[0] == '[') {
		if (n < 3 || d[n - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if ((unsigned char)d[i] <= ' ' || (unsigned char)d[i] >= 0x7f || strchr("[]\\", d[i]) != NULL)
				return false;
		return true;
	}
	for (size_t i = 0; i <= n; i++) {
		if (i == n || d[i] == '.') {
			if (label == 0 || label > 63 || d[i - 1] == '-' || d[i - label] == '-')
				return false;
			label = 0;
		} else if (label_byte((unsigned char)d[i], flags)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

bool pd_addr_spec_valid(const char *s, unsigned flags)
{
	const char *at;
	size_t n, ln;

	if (s == NULL || (at = strrchr(s, '@')) == NULL)
		return false;
	n = strlen(s);
	ln = (size_t)(at - s);
	if (n > 254 || ln == 0 || ln > 64 || !pd_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < ln; i++)
		if ((unsigned char)s[i] >= 0x80 && !(flags & PD_ADDR_UTF8))
			return false;
	return pd_dot_atom_valid(s, ln) && domain_valid(at + 1, n - ln - 1, flags);
}
