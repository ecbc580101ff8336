/* dev_remote.c: latencies timed on the real device. A remote device's
 * remote_command (a /bin/sh command line) runs gos_bench_graph there, e.g.
 *   scp {graph} pi:g.h5 && ssh pi ./gos_bench_graph g.h5 t.h5 && scp pi:t.h5 {timings}
 * {graph} becomes the graph artifact, {timings} a temporary file in the work
 * folder that the command must leave here; the gos.timings artifact found
 * there is read back (dev_timings_read, checked against the graph's
 * operators) and removed. Paths are inserted bare when they hold only
 * [A-Za-z0-9_./+:,@%=-], else single-quoted for the shell. */
#include "dev.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Appends s to the growing string *buf (length *len, capacity *cap). */
static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t grown = 2 * (*len + n + 1);
        char *b = pl_xmalloc(grown);
        if (*buf) memcpy(b, *buf, *len);
        pl_free(*buf);
        *buf = b;
        *cap = grown;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Appends path, shell-quoted unless it is made of safe characters only. */
static void append_path(char **buf, size_t *len, size_t *cap, const char *path)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_./+:,@%=-";
    if (path[0] != '\0' && strspn(path, safe) == strlen(path)) {
        append(buf, len, cap, path, strlen(path));
        return;
    }
    append(buf, len, cap, "'", 1);
    for (const char *c = path; *c; c++) {
        if (*c == '\'')
            append(buf, len, cap, "'\\''", 4);
        else
            append(buf, len, cap, c, 1);
    }
    append(buf, len, cap, "'", 1);
}

/* The command with {graph} and {timings} substituted (pl_free). */
static char *substitute(const char *tmpl, const char *graph, const char *timings)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    append(&buf, &len, &cap, "", 0);
    for (const char *c = tmpl; *c;) {
        if (strncmp(c, "{graph}", 7) == 0) {
            append_path(&buf, &len, &cap, graph);
            c += 7;
        } else if (strncmp(c, "{timings}", 9) == 0) {
            append_path(&buf, &len, &cap, timings);
            c += 9;
        } else {
            append(&buf, &len, &cap, c, 1);
            c++;
        }
    }
    return buf;
}

/* Runs cmd with /bin/sh -c; returns PL_OK when it exited 0. */
static int run_shell(const cfg_device *d, const char *cmd)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        PL_FAIL(PL_ERR_IO, "device %s: cannot start the remote command: fork: %s", d->name,
                strerror(errno));
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            PL_FAIL(PL_ERR_IO, "device %s: remote command `%s`: waitpid: %s", d->name, cmd,
                    strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return PL_OK;
    if (WIFEXITED(status))
        PL_FAIL(PL_ERR_IO, "device %s: remote command `%s` failed with exit status %d", d->name,
                cmd, WEXITSTATUS(status));
    PL_FAIL(PL_ERR_IO, "device %s: remote command `%s` was killed by signal %d", d->name, cmd,
            WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static int read_back(const cfg_device *d, const char *cmd, const char *timings,
                     const ig_graph *g, dev_graph_timings *out, dev_provenance *prov)
{
    if (access(timings, F_OK) != 0)
        PL_FAIL(PL_ERR_IO,
                "device %s: remote command `%s` exited 0 but left no timings file %s (it must "
                "write the gos.timings artifact of gos_bench_graph to {timings})",
                d->name, cmd, timings);
    int rc = dev_timings_read(timings, g, out, prov);
    if (rc < 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", pl_last_error());
        PL_FAIL(rc, "device %s: the timings left by remote command `%s` are unusable: %s",
                d->name, cmd, why);
    }
    if (prov->batch != d->batch) {
        int batch = prov->batch;
        dev_graph_timings_free(out);
        PL_FAIL(PL_ERR_INVAL,
                "device %s: remote command `%s` timed batch %d, but device.batch is %d (pass "
                "--batch %d to gos_bench_graph)",
                d->name, cmd, batch, d->batch, d->batch);
    }
    return PL_OK;
}

int dev_remote_time_graph(const cfg_device *d, const char *graph_artifact, const ig_graph *g,
                          const char *work_dir, dev_graph_timings *out, dev_provenance *prov)
{
    static int serial;
    memset(out, 0, sizeof *out);
    char timings[1024];
    if (snprintf(timings, sizeof timings, "%s/remote-timings.%ld.%d.h5", work_dir,
                 (long)getpid(), serial++) >= (int)sizeof timings)
        PL_FAIL(PL_ERR_INVAL, "device %s: work folder path too long: %s", d->name, work_dir);
    unlink(timings); /* never read a file an earlier run left */
    char *cmd = substitute(d->remote_command, graph_artifact, timings);

    int rc = run_shell(d, cmd);
    if (rc >= 0) rc = read_back(d, cmd, timings, g, out, prov);
    unlink(timings);
    h5io_remove_stale_temps(timings);
    pl_free(cmd);
    if (rc < 0) return rc;

    /* The latencies are the device's: name them by the experiment's device,
     * keeping what gos_bench_graph reported about the run and its build. */
    if (strcmp(prov->device, d->name) != 0) {
        size_t used = strlen(prov->build);
        snprintf(prov->build + used, sizeof prov->build - used, "; reported device '%s'",
                 prov->device);
    }
    snprintf(prov->device, sizeof prov->device, "%s", d->name);
    snprintf(prov->kind, sizeof prov->kind, "remote");
    return PL_OK;
}
