/*
 * msg.c - the inbound message model: releasing a parsed pd_msg and the
 * small address helpers other modules share.  Building a message is
 * mime.c's job; this file only knows the ownership rules of msg.h (every
 * string and array is owned by the message, the raw bytes are not).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msg.h"
#include "util.h"

/* Free an address's strings and leave it empty (NULL, NULL). */
static void addr_clear(struct pd_addr *a)
{
	free(a->name);
	free(a->address);
	a->name = NULL;
	a->address = NULL;
}

/* Free every address of a list and the array itself. */
static void addrlist_clear(struct pd_addrlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		addr_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Free an array of n owned strings (NULL entries allowed) and the array. */
static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Everything in a pd_msg is owned by it except raw (see msg.h).  Every
 * pointer may be NULL: a message abandoned half-built is freed correctly.
 */
void pd_msg_free(struct pd_msg *msg)
{
	if (msg == NULL)
		return;
	free(msg->message_id);
	free(msg->in_reply_to);
	strv_free(msg->references, msg->n_references);
	free(msg->subject);
	addr_clear(&msg->from);
	addr_clear(&msg->reply_to);
	addrlist_clear(&msg->to);
	addrlist_clear(&msg->cc);
	addrlist_clear(&msg->delivered_to);
	for (size_t i = 0; i < msg->n_fields; i++) {
		free(msg->fields[i].name);
		free(msg->fields[i].value);
	}
	free(msg->fields);
	free(msg->content_type);
	free(msg->report_type);
	free(msg->dsn.original_message_id);
	free(msg->dsn.returned_message_id);
	for (size_t i = 0; i < msg->dsn.n_groups; i++) {
		struct pd_dsn_group *g = &msg->dsn.groups[i];
		free(g->final_recipient);
		free(g->original_recipient);
		free(g->action);
		free(g->status);
	}
	free(msg->dsn.groups);
	free(msg->auto_submitted);
	free(msg->precedence);
	free(msg->authentication_results);
	free(msg->list_id);
	free(msg->return_path);
	free(msg->x_priority);
	free(msg->importance);
	free(msg->priority_hdr);
	free(msg->body_text);
	free(msg->body_html);
	free(msg->body_charset);
	for (size_t i = 0; i < msg->n_attachments; i++) {
		struct pd_attachment *a = &msg->attachments[i];
		free(a->filename);
		free(a->content_type);
		free(a->disposition);
		free(a->content_id);
		free(a->data);
	}
	free(msg->attachments);
	free(msg->parse_error);
	strv_free(msg->warnings, msg->n_warnings);
	free(msg);
}

const char *pd_msg_field(const struct pd_msg *msg, const char *name, size_t nth)
{
	if (msg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < msg->n_fields; i++)
		if (strcasecmp(msg->fields[i].name, name) == 0 && nth-- == 0)
			return msg->fields[i].value;
	return NULL;
}

/*
 * The domain after the last '@' (an addr-spec can contain quoted '@'s in
 * its local part, never in its domain), lower-cased for comparisons.
 */
char *pd_addr_domain(const char *addr)
{
	const char *at, *end;
	char *d;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL)
		return NULL;
	at++;
	/* tolerate what people paste around addresses: "<a@b.example>", "a@b.example." */
	end = at + strlen(at);
	while (end > at && (end[-1] == '>' || end[-1] == '.' || isspace((unsigned char)end[-1])))
		end--;
	if (end == at)
		return NULL;
	d = pd_xstrndup(at, (size_t)(end - at));
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}
