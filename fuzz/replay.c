/*
 * replay.c - main() for a fuzz target in a build without libFuzzer: run
 * LLVMFuzzerTestOneInput once over every file named on the command line
 * or found in the directories named there.
 *
 *   fuzz/fuzz_mime [FILE|DIR]...
 *
 * Without arguments (make check) the directory is
 * $top_srcdir/tests/data/fuzz/NAME, NAME being the program name without
 * its "fuzz_" prefix.  A case that crashes ends the program under the
 * sanitizers (the test fails); otherwise it prints one line per case and
 * "N passed, N failed".  Hidden files and README files are skipped; a
 * directory without cases is a failure, so a misplaced tree is noticed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "ioutil.h"
#include "util.h"

struct list {
	size_t n;
	char **v;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add(struct list *l, char *path)
{
	l->v = pd_xgrow(l->v, l->n, sizeof(*l->v));
	l->v[l->n++] = path;
}

/* Files of dir, sorted; -1 when it cannot be read. */
static int add_dir(struct list *l, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t first = l->n;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
			continue;
		char *path = pd_xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			add(l, path);
		else
			free(path);
	}
	closedir(d);
	qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
	return 0;
}

static char *default_dir(const char *argv0)
{
	const char *top = getenv("top_srcdir");
	const char *name = strrchr(argv0, '/');

	name = name != NULL ? name + 1 : argv0;
	if (strncmp(name, "fuzz_", 5) == 0)
		name += 5;
	if (top == NULL || *top == '\0')
		top = ".";
	return pd_xasprintf("%s/tests/data/fuzz/%s", top, name);
}

int main(int argc, char **argv)
{
	struct list files = {0, NULL};
	unsigned passed = 0, failed = 0;
	char *dflt = NULL;

	if (argc < 2) {
		dflt = default_dir(argv[0]);
		if (add_dir(&files, dflt) < 0) {
			fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], dflt, strerror(errno));
			failed++;
		} else if (files.n == 0) {
			fprintf(stderr, "%s: no cases in %s\n", argv[0], dflt);
			failed++;
		}
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (add_dir(&files, argv[i]) < 0) {
				fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], argv[i],
					strerror(errno));
				failed++;
			}
		} else {
			add(&files, pd_xstrdup(argv[i]));
		}
	}
	for (size_t i = 0; i < files.n; i++) {
		char *data = NULL;
		size_t len = 0;

		if (pd_read_file(files.v[i], &data, &len) < 0) {
			printf("FAIL %s: %s\n", files.v[i], strerror(errno));
			failed++;
			continue;
		}
		/* a copy of exactly len bytes, as libFuzzer hands them over, so
		 * a read past the end is caught */
		uint8_t *copy = pd_xmalloc(len > 0 ? len : 1);
		memcpy(copy, data, len);
		free(data);
		printf("run %s (%zu bytes)\n", files.v[i], len);
		fflush(stdout);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
		printf("PASS %s\n", files.v[i]);
		passed++;
	}
	for (size_t i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	free(dflt);
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
