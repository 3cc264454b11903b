/*
 * main.c - postdeskd: argument parsing only; the work is in daemon.c.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "daemon.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: postdeskd -c FILE [--once] [--foreground]\n"
		   "  -c, --config FILE  configuration file (default " PD_SYSCONFDIR
		   "/postdesk.conf)\n"
		   "      --once         process everything pending, then exit\n"
		   "  -f, --foreground   stay in the foreground (always the case; for systemd)\n"
		   "  -h, --help         this text\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"once", no_argument, NULL, 'o'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pd_daemon_opts opts = {PD_SYSCONFDIR "/postdesk.conf", false, false};
	int c;

	while ((c = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'o':
			opts.once = true;
			break;
		case 'f':
			opts.foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	return pd_daemon_run(&opts);
}
