/*
 * answer.h - the agent's own text in a reply to a notice (pure).
 *
 * An agent answers a notice with their mail client, which quotes the
 * notice: above the agent's text (top-posting: Outlook, Gmail, Apple
 * Mail), below it (mutt's default, Thunderbird) or around it (answers
 * interleaved between quote blocks).  pd_answer_split() keeps what the
 * agent wrote, wherever it stands, and drops:
 *   - everything between the notice's marker lines (PD_ANSWER_MARK_BEGIN
 *     and PD_ANSWER_MARK_END), quoted or not, the agent's lines too: what
 *     stands there is internal.  A BEGIN without an END drops the rest of
 *     its quote block (or of its run of unquoted lines);
 *   - lines quoted with '>' at any depth;
 *   - the attribution line just before a quote block or a notice ("On
 *     ... wrote:", "* Ann <a@b> [date]:", "... написал(а):", "пн, 7 дек.
 *     2026 г. в 10:00, Анна <a@b>:", "... schrieb:", "... a écrit :"), also
 *     when the client wrapped it over two or three lines;
 *   - an Outlook history, which is not quoted at all, and everything after
 *     it: "-----Original Message-----" (and its translations), or a header
 *     block "From: / Sent: / To: / Subject:" ("От: / Отправлено: / Кому: /
 *     Тема:", "Von: / Gesendet: / An: / Betreff:", "De : / Envoyé : / À :
 *     / Objet :"), with or without a line of underscores above it, or
 *     Thunderbird's "-------- Original Message --------".
 * The agent's blocks that remain keep their order and are separated by one
 * blank line; the signature stays.  Commands and "#note" are then parsed by
 * pd_commands_parse() on the text, so they work above or below the quote.
 */
#ifndef PD_ANSWER_H
#define PD_ANSWER_H

#include <stdbool.h>

/* The marker lines of every notice (ASCII, each on a line of its own, no
 * newline here): everything between them is internal. */
#define PD_ANSWER_MARK_BEGIN                                                                 \
	"======== postdesk notice: answer above or below; nothing between these lines reaches " \
	"the customer ========"
#define PD_ANSWER_MARK_END "======== end of postdesk notice ========"

struct pd_answer {
	char *text;     /* the agent's own text, UTF-8, quote and notice removed,
			 * trimmed; "" if none */
	bool had_quote; /* some quoted history or notice text was removed */
};

/*
 * Split body (UTF-8 text; CRLF or LF line ends; NULL is taken as "") into
 * the agent's own text (LF line ends, no blank lines at either end, no
 * trailing white space) and whether anything was removed.  out->text is
 * newly allocated: free it with pd_answer_free().  Returns 0; -1 only when
 * out is NULL (allocation failure aborts, as everywhere in postdesk).
 */
int pd_answer_split(const char *body, struct pd_answer *out);

/* Free a's text and reset it; NULL is a no-op. */
void pd_answer_free(struct pd_answer *a);

#endif
