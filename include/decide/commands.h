/*
 * commands.h - commands and notes in an agent's mail (pure).
 *
 * Commands stand alone on the first non-empty lines of the body, before any
 * other text: "#close", "#resolve", "#pending", "#priority high", "#assign
 * bob@example.com", "#line 2", "#type complaint" (question, incident,
 * complaint, suggestion, refund, access), "#note" (the whole mail is an
 * internal note).
 * Case-insensitive names; the lines are stripped from the text that is
 * relayed.  A line starting with '#' that is not a known command, or a known
 * one with a bad argument, is an error to report back to the agent (nothing
 * is relayed or applied then).
 */
#ifndef PD_COMMANDS_H
#define PD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

enum pd_cmd_kind {
	PD_CMD_CLOSE,
	PD_CMD_RESOLVE,
	PD_CMD_PENDING,
	PD_CMD_PRIORITY, /* arg: critical|high|normal|low */
	PD_CMD_ASSIGN,   /* arg: an addr-spec */
	PD_CMD_LINE,     /* arg: 1..99 */
	PD_CMD_NOTE,
	PD_CMD_TYPE,     /* arg: question|incident|complaint|suggestion|refund|access */
};

struct pd_cmd {
	enum pd_cmd_kind kind;
	char *arg;       /* NULL when the command takes none */
};

struct pd_cmd_result {
	size_t n;
	struct pd_cmd *v;
	bool note;       /* #note seen: store as an internal note, never relay */
	char *body;      /* the text without the command lines (newly allocated) */
	char *error;     /* NULL, or what is wrong: "unknown command #clsoe on line 1" */
};

/* Parse body (UTF-8).  Always fills r (free with pd_commands_free). */
void pd_commands_parse(const char *body, struct pd_cmd_result *r);
void pd_commands_free(struct pd_cmd_result *r);

const char *pd_cmd_name(enum pd_cmd_kind kind);

#endif
