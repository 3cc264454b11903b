/*
 * report.h - what the team lead looks at: `postdesk report`.
 */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#endif
