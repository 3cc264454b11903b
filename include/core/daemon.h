/*
 * daemon.h - postdeskd's process: the loop that keeps every mailbox ingesting
 * (IDLE where the server has it, polling where not), signals through
 * signalfd, reconnects with backoff.  Single-threaded: every blocking library
 * call has a timeout.
 */
#ifndef PD_DAEMON_H
#define PD_DAEMON_H

#include <stdbool.h>

struct pd_daemon_opts {
	const char *config_path;
	bool once;       /* process everything pending in every mailbox, then exit */
	bool foreground; /* accepted for symmetry with other daemons: we never fork */
};

/* Run until done (--once) or SIGTERM/SIGINT.  Returns a sysexits.h code:
 * 0 ok; 78 config or schema problem; 69 a mailbox refused us (login,
 * certificate) in --once mode; 75 a temporary failure in --once mode, or a
 * mail that could not be stored and stays on the server. */
int pd_daemon_run(const struct pd_daemon_opts *opts);

#endif
