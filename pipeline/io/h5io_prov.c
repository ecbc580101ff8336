/* h5io_prov.c: the provenance facts h5io adds to every artifact: the current
 * UTC time and the project's git revision (computed once per process). */
#include "h5io.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void h5io_now_iso8601(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm utc;
    if (!gmtime_r(&now, &utc) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        snprintf(buf, n, "unknown");
}

static char git_revision[128];
static pthread_once_t git_revision_once = PTHREAD_ONCE_INIT;

/* Appends `text` to buf quoted for /bin/sh ('...' with ' escaped). */
static void shell_quote(char *buf, size_t n, const char *text)
{
    size_t used = strlen(buf);
    if (used + 1 < n) buf[used++] = '\'';
    for (const char *c = text; *c && used + 5 < n; c++) {
        if (*c == '\'') {
            memcpy(buf + used, "'\\''", 4);
            used += 4;
        } else {
            buf[used++] = *c;
        }
    }
    if (used + 1 < n) buf[used++] = '\'';
    buf[used < n ? used : n - 1] = '\0';
}

/* Runs `git [-C dir] args` with stderr discarded; writes the first line of its
 * output into out (may be empty). Returns the exit status (or -1). */
static int run_git(const char *dir, const char *args, char *out, size_t n)
{
    char command[PATH_MAX + 256] = "git ";
    if (dir) {
        strcat(command, "-C ");
        shell_quote(command, sizeof command - 128, dir);
        strcat(command, " ");
    }
    strcat(command, args);
    strcat(command, " 2>/dev/null");
    FILE *pipe = popen(command, "r");
    if (!pipe) return -1;
    out[0] = '\0';
    if (fgets(out, (int)n, pipe)) out[strcspn(out, "\r\n")] = '\0';
    char drain[256];
    while (fgets(drain, sizeof drain, pipe)) {
    }
    int status = pclose(pipe);
    return status;
}

/* "abc1234" or "abc1234-dirty" for the repository at dir (NULL = the current
 * directory); returns 0, or -1 when dir is not in a git work tree. */
static int revision_of(const char *dir, char *out, size_t n)
{
    char head[64], change[256];
    if (run_git(dir, "rev-parse --short HEAD", head, sizeof head) != 0 || !head[0]) return -1;
    if (run_git(dir, "status --porcelain", change, sizeof change) != 0) return -1;
    snprintf(out, n, "%s%s", head, change[0] ? "-dirty" : "");
    return 0;
}

static void compute_git_revision(void)
{
    const char *env = getenv("GOS_GIT_REVISION");
    if (env && *env) {
        snprintf(git_revision, sizeof git_revision, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash && slash != exe) *slash = '\0';
        if (revision_of(exe, git_revision, sizeof git_revision) == 0) return;
    }
    if (revision_of(NULL, git_revision, sizeof git_revision) == 0) return;
    snprintf(git_revision, sizeof git_revision, "unknown");
}

const char *h5io_git_revision(void)
{
    pthread_once(&git_revision_once, compute_git_revision);
    return git_revision;
}
