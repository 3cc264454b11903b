/*
 * templates.h - the parsed mail templates a configuration holds: data only.
 * render.c (mail) parses, checks and renders them (render.h);
 * config_templates.c (config) fills a configuration's set at load.  They
 * are declared here, in base, because struct pd_config holds a set.
 */
#ifndef PD_TEMPLATES_H
#define PD_TEMPLATES_H

#include <stddef.h>

/* One template: "Subject: ...\n\nbody", parsed. */
struct pd_template {
	char *lang;    /* "en", "ru", ... */
	char *name;    /* a kind of pd_template_kinds: "ack", "survey", ... */
	char *origin;  /* where it was read, for messages: a file's path */
	char *subject; /* from the first line "Subject: ..." */
	char *body;    /* after the blank line that follows it (line 3 of origin) */
};

/* The templates a configuration sends from (config_templates.c loads them): the
 * compiled-in defaults and the files of templates_dir, each checked. */
struct pd_templates {
	size_t n;
	struct pd_template *v;
};

#endif
