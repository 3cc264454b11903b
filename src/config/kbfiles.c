/*
 * kbfiles.c - reading a knowledge-base folder: every article file under it
 * (recursively, in name order), each parsed by kb.c, every bad or
 * unreadable file collected as one error line.  See kbfiles.h.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ioutil.h"
#include "kb.h"
#include "kbfiles.h"
#include "util.h"

/* Folders nested deeper than this are not followed (symlink loops). */
#define KB_MAX_DEPTH 16

static void add_error(struct pd_kb_errors *errs, char *line)
{
	errs->v = pd_xgrow(errs->v, errs->n, sizeof(*errs->v));
	errs->v[errs->n++] = line;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static bool is_article_name(const char *name)
{
	return (ends_with(name, ".md") && strlen(name) > 3) ||
	       (ends_with(name, ".txt") && strlen(name) > 4);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool name_ok(const char *rel)
{
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return pd_utf8_valid(rel, strlen(rel));
}

static void load_file(const char *path, const char *rel, struct pd_kb_set *set,
		      struct pd_kb_errors *errs)
{
	char *text = NULL, *error = NULL;
	size_t len;
	struct pd_kb_article a;

	if (!name_ok(rel)) {
		add_error(errs, pd_xasprintf("%s: the file name is not UTF-8 or has control "
					     "characters",
					     path));
		return;
	}
	if (pd_read_file(path, &text, &len) < 0) {
		add_error(errs, pd_xasprintf("%s: %s", path, strerror(errno)));
		return;
	}
	if (pd_kb_parse(path, rel, text, len, &a, &error) < 0) {
		add_error(errs, error);
		free(text);
		return;
	}
	free(text);
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->v[i].slug, a.slug) == 0) {
			add_error(errs, pd_xasprintf("%s: the same article name \"%s\" as %s", path,
						     a.slug, set->v[i].file));
			pd_kb_article_free(&a);
			return;
		}
	}
	set->v = pd_xgrow(set->v, set->n, sizeof(*set->v));
	set->v[set->n++] = a;
}

static void walk(const char *dir, const char *rel, int depth, struct pd_kb_set *set,
		 struct pd_kb_errors *errs)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name);

	if (n < 0) {
		add_error(errs, pd_xasprintf("%s: %s", dir, strerror(errno)));
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct stat st;

		if (name[0] == '.')
			goto next;
		char *path = pd_xasprintf("%s/%s", dir, name);
		char *r = rel[0] ? pd_xasprintf("%s/%s", rel, name) : pd_xstrdup(name);
		if (stat(path, &st) < 0) {
			add_error(errs, pd_xasprintf("%s: %s", path, strerror(errno)));
		} else if (S_ISDIR(st.st_mode)) {
			if (depth >= KB_MAX_DEPTH)
				add_error(errs, pd_xasprintf("%s: folders nested too deep", path));
			else
				walk(path, r, depth + 1, set, errs);
		} else if (S_ISREG(st.st_mode) && is_article_name(name)) {
			load_file(path, r, set, errs);
		}
		free(path);
		free(r);
	next:
		free(ents[i]);
	}
	free(ents);
}

int pd_kb_load_dir(const char *dir, struct pd_kb_set *set, struct pd_kb_errors *errs)
{
	struct stat st;
	size_t before = errs->n;

	set->v = NULL;
	set->n = 0;
	if (stat(dir, &st) < 0) {
		add_error(errs, pd_xasprintf("%s: %s", dir, strerror(errno)));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		add_error(errs, pd_xasprintf("%s: not a folder", dir));
		return -1;
	}
	/* "dir/" and "dir" name the same articles */
	char *d = pd_xstrdup(dir);
	size_t l = strlen(d);
	while (l > 1 && d[l - 1] == '/')
		d[--l] = '\0';
	walk(d, "", 0, set, errs);
	free(d);
	return errs->n > before ? -1 : 0;
}
