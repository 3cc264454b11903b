/*
 * classify.c - urgency and routing of a new ticket (see classify.h).
 * Placeholder: every mail is normal, in its mailbox's queue, on line 1.
 */
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "util.h"

static const char *const prio_names[] = {"low", "normal", "high", "critical"};

const char *pd_priority_name(enum pd_priority p)
{
	return (unsigned)p < 4 ? prio_names[p] : "normal";
}

int pd_priority_parse(const char *s, enum pd_priority *p)
{
	for (int i = 0; i < 4; i++)
		if (s != NULL && strcmp(s, prio_names[i]) == 0) {
			*p = (enum pd_priority)i;
			return 0;
		}
	return -1;
}

void pd_classify(const struct pd_config *cfg, const char *mailbox, const struct pd_msg *msg,
		 struct pd_classification *out)
{
	const struct pd_mailbox_cfg *mb = mailbox ? pd_config_mailbox(cfg, mailbox) : NULL;

	(void)msg;
	memset(out, 0, sizeof(*out));
	out->priority = PD_PRIO_NORMAL;
	out->queue = pd_xstrdup(mb && mb->queue ? mb->queue : "default");
	out->line = 1;
}

void pd_classification_free(struct pd_classification *c)
{
	for (size_t i = 0; i < c->n_reasons; i++) {
		struct pd_reason *r = &c->reasons[i];
		free(r->what);
		free(r->source);
		free(r->rule);
		free(r->matched);
		free(r->field);
		free(r->value);
	}
	free(c->reasons);
	free(c->queue);
	memset(c, 0, sizeof(*c));
}
