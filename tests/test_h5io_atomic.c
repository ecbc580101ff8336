/* test_h5io_atomic.c: artifacts are written atomically. A writer that exits
 * or is SIGKILLed before its commit leaves no file under the real name (only
 * its "<path>.tmp.<pid>", which h5io_remove_stale_temps and the next writer
 * remove) and leaves an older artifact intact and valid; a writer killed at
 * random moments while writing and committing in a loop never leaves a
 * partial artifact under the real name. */
#include "check.h"
#include "fixture_artifact.h"

#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>

/* ---- atomicity ----------------------------------------------------------- */

/* In a child: starts a writer for path, writes most of a baseline and dies
 * before committing: by _exit when `how` is 0, else by that signal. */
static pid_t spawn_dying_writer(const char *path, const ig_graph *g, int64_t seed, int how)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    h5io_provenance prov = provenance("gos.baseline", seed);
    h5io_writer w;
    if (h5io_create(&w, path, &prov) < 0 || write_baseline_body(&w, g, NULL) < 0) _exit(3);
    H5Fflush(w.file, H5F_SCOPE_GLOBAL);
    if (how) raise(how);
    _exit(0);
}

static int wait_child(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_atomicity(const ig_graph *g)
{
    /* No artifact before: a dead writer leaves none, only its temporary. */
    const char *fresh = in_dir("fresh.h5");
    pid_t pid = spawn_dying_writer(fresh, g, 1, 0);
    int status = wait_child(pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child wrote and exited");
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", fresh, (long)pid);
    CHECK(!exists(fresh), "no artifact under the real name after a writer died");
    CHECK(exists(tmp), "the dead writer's temporary %s is there", tmp);
    CHECK(h5io_remove_stale_temps(fresh) == 1 && !exists(tmp), "stale temporary removed");

    /* An old artifact survives a writer killed before its commit. */
    const char *old = in_dir("old.h5");
    CHECK(write_baseline(old, g, 1) == 0, "old artifact: %s", pl_last_error());
    pid = spawn_dying_writer(old, g, 2, SIGKILL);
    status = wait_child(pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child killed");
    h5io_reader r;
    int64_t seed = 0;
    CHECK(h5io_open(&r, old, "gos.baseline") == 0 &&
              h5io_read_attr_i64(&r, "/", "seed", &seed) == 0 && seed == 1,
          "the old artifact is intact and valid: %s", pl_last_error());
    h5io_close(&r);
    CHECK(count_temps("old.h5") == 1, "the killed writer left its temporary");
    CHECK(write_baseline(old, g, 3) == 0, "rewrite: %s", pl_last_error());
    CHECK(count_temps("old.h5") == 0, "the next writer removed the stale temporary");

    /* Killed at random moments while writing and committing in a loop: the
     * real name always holds a complete artifact (or nothing yet). */
    const char *loop = in_dir("loop.h5");
    int intact = 1;
    for (int round = 0; round < 12; round++) {
        pid = fork();
        if (pid == 0) {
            for (int64_t s = 100;; s++)
                if (write_baseline(loop, g, s) < 0) _exit(3);
        }
        usleep((useconds_t)(2000 + 3700 * round));
        /* On a slow disk, give the last round time for at least one commit. */
        for (int waited = 0; round == 11 && !exists(loop) && waited < 1000; waited++)
            usleep(10000);
        kill(pid, SIGKILL);
        wait_child(pid);
        if (exists(loop) && h5io_check(loop, NULL, 0) < 0) {
            intact = 0;
            fprintf(stderr, "round %d: %s\n", round, pl_last_error());
        } else if (verbose && exists(loop) && h5io_open(&r, loop, NULL) == 0) {
            int64_t commits = 0;
            h5io_read_attr_i64(&r, "/", "seed", &commits);
            printf("  round %d: killed after %lld commits, %d temporaries\n", round,
                   (long long)(commits - 99), count_temps("loop.h5"));
        }
        h5io_close(&r);
        h5io_remove_stale_temps(loop);
    }
    CHECK(intact, "a writer killed at any moment never leaves a partial artifact");
    CHECK(exists(loop), "the loop committed at least once");
    CHECK(count_temps("loop.h5") == 0, "stale temporaries of the loop removed");
}

int main(void)
{
    make_dir("test_h5io_atomic");
    ig_graph *g = build_graph();
    /* Computed once here, so the children do not each run git. */
    h5io_git_revision();
    test_atomicity(g);
    ig_graph_free(g);
    remove_dir();
    return check_summary("test_h5io_atomic");
}
