/*
 * kbfiles.h - reading a knowledge-base folder into articles (kb.h parses
 * each file; kbdb.h stores them).
 */
#ifndef PD_KBFILES_H
#define PD_KBFILES_H

#include "kb.h"

/*
 * Read every *.md and *.txt file under dir (recursively, in name order,
 * skipping names that start with a dot) into set.  Returns 0, or -1 when
 * any file is bad or unreadable: errs then lists every problem (set holds
 * the good ones; the caller should not use it).  Two files with one slug
 * (a.md and a.txt) are an error.
 */
int pd_kb_load_dir(const char *dir, struct pd_kb_set *set, struct pd_kb_errors *errs);

#endif
