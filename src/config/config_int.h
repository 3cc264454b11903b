/*
 * config_int.h - what the files of the configuration loader share: the
 * scan of the file (config_lex.c), the loading context every check reports
 * into, the typed getters (config_values.c) and the secrets
 * (config_secrets.c).  Used by src/config*.c only.
 */
#ifndef PD_CONFIG_INT_H
#define PD_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <confuse.h>

#include "config.h"

/* ------------------------------------------------------ problems (lex) */

struct problem {
	int line; /* 0 = the whole file */
	size_t seq;
	char *text;
};

struct problems {
	size_t n, cap;
	struct problem *v;
};

/* Add text (taken: a formatted "FILE:LINE: reason") as the problem sorted
 * at line; the same text at the same line is kept once. */
void problems_add(struct problems *p, int line, char *text);
/* Order of the problems as reported: by line, then as found. */
int problem_cmp(const void *a, const void *b);

/* -------------------------------------------------------- scan (lex) */

/* A key assignment or list update seen in a section. */
struct scan_assign {
	const char *key; /* schema name */
	int line;
	bool append;     /* += */
	size_t n;        /* list items given in this statement */
	int *item_lines;
};

/* One occurrence of a top-level section (or the root). */
struct scan_sec {
	const char *name; /* schema name; "" for the root */
	char *title;      /* as written (unescaped); NULL when untitled */
	bool titled;
	int line;
	size_t n, cap;
	struct scan_assign *a;
	size_t n_kids;           /* sections inside this one (mailbox's oauth2 { }) */
	struct scan_sec **kids;
};

struct range {
	size_t start, end;
};

struct scanner {
	const char *path;
	const char *s;
	size_t len, pos;
	int line;
	int last_line; /* line of the last token: where "end of file" errors go */
	bool failed;   /* syntax error seen: stop */
	struct problems *probs;
	/* byte ranges libconfuse must not see: comments, unknown statements */
	size_t n_blank, cap_blank;
	struct range *blank;
	struct scan_sec root;
	size_t n_secs, cap_secs;
	struct scan_sec **secs;
};

/* Scan the statements of sec (the root: opts = the root schema, where "",
 * depth 0) up to its closing brace or the end of the text. */
void scan_body(struct scanner *sc, const cfg_opt_t *opts, struct scan_sec *sec,
	       const char *where, int depth, int open_line);
void scanner_free(struct scanner *sc);
/* "mailbox \"NAME\"" or "smtp": how a section is named in messages; newly allocated. */
char *sec_desc(const char *name, const char *title);

/* ------------------------------------------- loading context (lex) */

struct ctx {
	const char *path;
	char *dir;            /* directory of path, for relative password files */
	bool group_readable;  /* the file's mode has bits in 077 */
	struct scanner sc;
	struct problems probs;
	cfg_t *root;
	struct pd_config *cfg;
	/* nested sections met while loading (cfg_t has no parent link): which
	 * scanned section each stands for */
	size_t n_nested;
	struct {
		cfg_t *sec;
		const struct scan_sec *scan;
	} nested[64];
};

/* Report a problem at line of the file (0: the whole file). */
void report(struct ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* libconfuse's error function, reporting into confuse_ctx. */
extern struct ctx *confuse_ctx;
void confuse_error(cfg_t *cfg, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
size_t sec_instances(const struct ctx *c, cfg_t *sec, const struct scan_sec **out, size_t max);
int sec_line(const struct ctx *c, cfg_t *sec);
int key_line(const struct ctx *c, cfg_t *sec, const char *key);
int item_line(const struct ctx *c, cfg_t *sec, const char *key, unsigned idx);
const struct scan_sec *first_scan_sec(const struct ctx *c, const char *name);

/* --------------------------------------------------- values (values) */

bool domain_valid(const char *s);
bool addr_spec_valid(const char *s);
const char *get_str(cfg_t *sec, const char *key);
const char *need_str(struct ctx *c, cfg_t *sec, const char *key);
const char *opt_str(struct ctx *c, cfg_t *sec, const char *key);
/* The getters leave *out untouched when the value is unset or wrong (then reported);
 * a number's range and a duration's minimum come from the schema (config.c). */
void get_duration(struct ctx *c, cfg_t *sec, const char *key, int64_t *out);
void get_size(struct ctx *c, cfg_t *sec, const char *key, uint64_t *out);
void get_int(struct ctx *c, cfg_t *sec, const char *key, int *out);
void get_bool(struct ctx *c, cfg_t *sec, const char *key, bool *out);
void copy_list(cfg_t *sec, const char *key, struct pd_strlist *l);
void check_addr_list(struct ctx *c, cfg_t *sec, const char *key, bool domains_ok);

/* ------------------------------------------------- secrets (secrets) */

char *get_password(struct ctx *c, cfg_t *sec, const char *cred_name, bool required);
void wipe_value(cfg_t *sec, const char *key);
bool conninfo_has_password(const char *s);
void check_readable(struct ctx *c, cfg_t *sec, const char *key, const char *path);
struct pd_oauth2_cfg *load_oauth2(struct ctx *c, cfg_t *sec, const char *what, const char *login,
				  enum pd_imap_auth auth, int64_t timeout);
void oauth2_cfg_free(struct pd_oauth2_cfg *o);

/* ----------------------------------------------- templates (templates) */

/* Fill c->cfg->templates: the compiled-in defaults, then the files of
 * templates_dir; every template checked, every problem reported. */
void load_templates(struct ctx *c);

#endif
