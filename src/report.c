/*
 * report.c - `postdesk report` (see report.h).
 */
#include "report.h"
