/*
 * language.h - which language a customer wrote in, from the text alone
 * (pure: no I/O).  The planner picks the acknowledgement's language with it,
 * the knowledge base tags articles without a Language: header, and
 * `postdesk kb search` guesses the language of its query text.
 */
#ifndef PD_LANGUAGE_H
#define PD_LANGUAGE_H

/* "ru" when subject and body (UTF-8; NULL reads as "") are mostly Cyrillic
 * letters among their letters, else NULL (the caller's default applies).
 * Bytes that are not UTF-8 are skipped. */
const char *pd_language_detect(const char *subject, const char *body);

#endif
