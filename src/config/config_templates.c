/*
 * config_templates.c - the mail templates of a configuration, read once as
 * it loads (at startup and on every reload) into its immutable snapshot:
 *   1. the defaults compiled in from conf/templates (templates_builtin.c,
 *      made by scripts/embed-templates.sh), so a build that was never
 *      installed sends its mail all the same;
 *   2. then the files DIR/LANG/NAME.txt of templates_dir, each in the place
 *      of the default of the same language and name (or as a language of
 *      its own).  Unset, DIR is the installed PD_DATADIR/templates when that
 *      folder exists, so that templates edited there are still used; "" means
 *      the compiled-in defaults only.  A templates_dir that is written but
 *      cannot be read is an error at its line.
 * Every template is parsed and rendered with sample values for each field of
 * its kind (render.c), so a broken template stops check-config and the
 * daemon's start or reload with "FILE:LINE: reason" instead of failing the
 * mails it was meant for.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "config_int.h"
#include "ioutil.h"
#include "render.h"
#include "templates_builtin.h"
#include "util.h"

#define INSTALLED_TEMPLATES PD_DATADIR "/templates"

/* A template problem: err's text ("ORIGIN:LINE: reason") as it is, sorted at
 * line (the templates_dir setting's) among the configuration's own. */
static void report_template(struct ctx *c, int line, const struct pd_err *err)
{
	char *text = pd_xstrdup(err->msg);

	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	problems_add(&c->probs, line, text);
}

static int skip_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* The templates of one language folder, DIR/LANG/NAME.txt, into set. */
static void load_language(struct ctx *c, int line, const char *dir, const char *lang)
{
	char *sub = pd_xasprintf("%s/%s", dir, lang);
	struct dirent **names;
	int n = scandir(sub, &names, skip_hidden, alphasort);

	if (n < 0) {
		report(c, line, "templates_dir: cannot read %s: %s", sub, strerror(errno));
		free(sub);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *file = names[i]->d_name;
		size_t len = strlen(file);
		if (len > 4 && strcmp(file + len - 4, ".txt") == 0) {
			char *name = pd_xstrndup(file, len - 4);
			char *path = pd_xasprintf("%s/%s", sub, file);
			char *data;
			size_t dlen;
			struct pd_template t;
			struct pd_err err;

			pd_err_clear(&err);
			if (pd_read_file(path, &data, &dlen) < 0) {
				report(c, line, "templates_dir: cannot read %s: %s", path,
				       strerror(errno));
			} else {
				if (pd_template_parse(lang, name, path, data, dlen, &t, &err) < 0)
					report_template(c, line, &err);
				else
					pd_templates_put(&c->cfg->templates, &t);
				free(data);
			}
			free(path);
			free(name);
		}
		free(names[i]);
	}
	free(names);
	free(sub);
}

void load_templates(struct ctx *c)
{
	struct pd_config *cfg = c->cfg;
	const char *dir = get_str(c->root, "templates_dir");
	int line = dir != NULL ? key_line(c, c->root, "templates_dir") : 0;
	struct pd_err err;

	/* 1. the compiled-in defaults */
	for (size_t i = 0; i < pd_n_builtin_templates; i++) {
		const struct pd_builtin_template *b = &pd_builtin_templates[i];
		char *origin = pd_xasprintf("(built in) %s", b->origin);
		struct pd_template t;

		pd_err_clear(&err);
		if (pd_template_parse(b->lang, b->name, origin, b->text, strlen(b->text), &t,
				      &err) < 0)
			report_template(c, 0, &err);
		else
			pd_templates_put(&cfg->templates, &t);
		free(origin);
	}

	/* 2. the files of templates_dir in their place */
	if (dir == NULL) {
		struct stat st;
		if (stat(INSTALLED_TEMPLATES, &st) == 0 && S_ISDIR(st.st_mode))
			dir = INSTALLED_TEMPLATES;
	}
	if (dir == NULL || *dir == '\0')
		return;
	cfg->templates_dir = pd_xstrdup(dir);

	struct dirent **names;
	int n = scandir(dir, &names, skip_hidden, alphasort);
	if (n < 0) {
		report(c, line,
		       "templates_dir: cannot read the folder \"%s\": %s (create it with a "
		       "folder per language, e.g. en/ack.txt, or remove the setting to send the "
		       "built-in templates)",
		       dir, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *lang = names[i]->d_name;
		char *path = pd_xasprintf("%s/%s", dir, lang);
		struct stat st;

		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (pd_template_lang_ok(lang))
				load_language(c, line, dir, lang);
			else
				report(c, line,
				       "templates_dir: %s is not a language folder (2 to 8 "
				       "lower-case letters, such as en or ru)",
				       path);
		}
		free(path);
		free(names[i]);
	}
	free(names);
}
