/*
 * templates_builtin.h - the default mail templates compiled in from
 * conf/templates (see scripts/embed-templates.sh); used by
 * config_templates.c only.
 */
#ifndef PD_TEMPLATES_BUILTIN_H
#define PD_TEMPLATES_BUILTIN_H

#include <stddef.h>

struct pd_builtin_template {
	const char *lang;   /* "en" */
	const char *name;   /* "ack" */
	const char *origin; /* "en/ack.txt": where it came from, for messages */
	const char *text;   /* the file's bytes */
};

extern const struct pd_builtin_template pd_builtin_templates[];
extern const size_t pd_n_builtin_templates;

#endif
