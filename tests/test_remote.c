/* test_remote.c: timing on a remote device (dev_remote_time_graph) with
 * gos_bench_graph run through a remote_command on this machine, and the
 * gos.timings artifact it writes (dev_timings_read):
 *   - {graph} and {timings} are substituted (also in a work folder whose
 *     path needs quoting), the timings come back with the graph's operators,
 *     the provenance names the experiment's device with kind "remote", and
 *     the temporary file is removed;
 *   - a command that fails, is killed, writes no file, writes a corrupt file,
 *     times another graph or another batch is an error naming the command
 *     and the reason.
 *   build/tests/test_remote --write-graph FILE   writes the test's graph (a
 *     small MobileNetV3 with random weights) as a gos.baseline and exits:
 *     tests/test_cross.sh times it with the host and the aarch64 builds.
 * Run from the repository root; GOS_BUILD names the build folder (build). */
#include "check.h"
#include "dev.h"
#include "fixture_artifact.h"
#include "models.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A small MobileNetV3 (depthwise, squeeze-and-excitation, hardswish) with
 * random weights and non-trivial batch-norm statistics, and its loss. */
static ig_graph *test_graph(const char *model, float width)
{
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.in_c = 3, .in_h = 32, .in_w = 32, .classes = 10, .width = width};
    snprintf(spec.name, sizeof spec.name, "%s", model);
    model_nodes nodes;
    MUST(model_build(g, &spec, &nodes));
    MUST(ig_softmax_xent(g, nodes.logits));
    MUST(ig_graph_finalize(g));
    ig_graph_init_params(g, 11);
    for (size_t i = 0; i < g->state_size; i++) g->state[i] = 0.6f + 0.3f * (float)((i * 7) % 5);
    return g;
}

static const char *build_dir(void)
{
    const char *b = getenv("GOS_BUILD");
    return b && *b ? b : "build";
}

static cfg_device remote_device(const char *command, int batch)
{
    cfg_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "testpi");
    snprintf(d.kind, sizeof d.kind, "remote");
    d.batch = batch;
    snprintf(d.remote_command, sizeof d.remote_command, "%s", command);
    return d;
}

/* Runs the remote timing with command; returns its status. */
static int run_remote(const char *command, int batch, const char *graph, const ig_graph *g,
                      const char *work, dev_graph_timings *t, dev_provenance *p)
{
    cfg_device d = remote_device(command, batch);
    int rc = dev_remote_time_graph(&d, graph, g, work, t, p);
    if (verbose) printf("  %s -> %d %s\n", command, rc, rc < 0 ? pl_last_error() : "");
    return rc;
}

#define CHECK_REMOTE_ERR(cmd, batch, graph, g, work, want1, want2)                          \
    do {                                                                                  \
        dev_graph_timings t_;                                                             \
        dev_provenance p_;                                                                \
        int rc_ = run_remote((cmd), (batch), (graph), (g), (work), &t_, &p_);              \
        const char *m_ = pl_last_error();                                                 \
        CHECK(rc_ < 0 && strstr(m_, "testpi") && strstr(m_, (want1)) && strstr(m_, (want2)), \
              "%s: want an error naming '%s' and '%s', got %d: %s", (cmd), (want1), (want2), \
              rc_, rc_ < 0 ? m_ : "");                                                    \
        if (rc_ >= 0) dev_graph_timings_free(&t_);                                        \
    } while (0)

/* Number of entries of folder path whose name starts with prefix. */
static int count_prefix(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    if (d) closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-graph") == 0) {
        ig_graph *g = test_graph("mobilenetv3_small", 0.5f);
        int rc = write_baseline(argv[2], g, 11);
        ig_graph_free(g);
        if (rc < 0) fprintf(stderr, "test_remote: %s\n", pl_last_error());
        return rc < 0;
    }
    make_dir("gos_test_remote");
    ig_graph *g = test_graph("mobilenetv3_small", 0.5f);
    ig_graph *other = test_graph("convnet", 0.25f);
    char graph[256], other_graph[256], work[256];
    snprintf(graph, sizeof graph, "%s", in_dir("graph.h5"));
    snprintf(other_graph, sizeof other_graph, "%s", in_dir("other.h5"));
    snprintf(work, sizeof work, "%s", in_dir("work dir 'quoted'"));
    MUST(write_baseline(graph, g, 11));
    MUST(write_baseline(other_graph, other, 12));
    if (mkdir(work, 0755) != 0) pl_abort(__FILE__, __LINE__, "mkdir %s", work);
    const char *b = build_dir();
    char cmd[1024];

    /* The remote path end to end, gos_bench_graph run here. */
    snprintf(cmd, sizeof cmd,
             "%s/gos_bench_graph {graph} {timings} --threads 1 --warmup 1 --runs 3 "
             "--min-run-ms 0 --device localhost > /dev/null",
             b);
    dev_graph_timings t;
    dev_provenance p;
    int rc = run_remote(cmd, 1, graph, g, work, &t, &p);
    CHECK(rc == PL_OK, "remote timing: %s", rc < 0 ? pl_last_error() : "");
    if (rc == PL_OK) {
        CHECK(t.n_operators == g->n_operators && g->n_operators > 5, "operators: %d, graph %d",
              t.n_operators, g->n_operators);
        CHECK(t.model.median_ms > 0 && t.model.min_ms <= t.model.median_ms &&
                  t.model.median_ms <= t.model.max_ms && t.model.runs == 3 &&
                  t.model.repeats >= 1,
              "model latency %g ms [%g, %g], runs %d", t.model.median_ms, t.model.min_ms,
              t.model.max_ms, t.model.runs);
        int positive = 0;
        for (int k = 0; k < t.n_operators; k++) positive += t.operators[k].median_ms > 0;
        CHECK(positive == t.n_operators, "%d of %d operators have a latency > 0", positive,
              t.n_operators);
        CHECK(strcmp(p.kind, "remote") == 0 && strcmp(p.device, "testpi") == 0,
              "provenance kind '%s' device '%s'", p.kind, p.device);
        CHECK(p.batch == 1 && p.threads == 1 && p.warmup_runs == 1 && p.timed_runs == 3 &&
                  p.min_run_ms == 0,
              "provenance batch %d threads %d warmup %d runs %d min %g", p.batch, p.threads,
              p.warmup_runs, p.timed_runs, p.min_run_ms);
        CHECK(strstr(p.build, "gos ") && strstr(p.build, "reported device 'localhost'"),
              "provenance build: %s", p.build);
        dev_graph_timings_free(&t);
    }
    CHECK(count_prefix(work, "remote-timings") == 0, "the temporary timings file is removed");

    /* Batch: the command must time the device's batch. */
    CHECK_REMOTE_ERR(cmd, 2, graph, g, work, "batch 1", "device.batch is 2");
    snprintf(cmd, sizeof cmd,
             "%s/gos_bench_graph {graph} {timings} --batch 2 --threads 1 --warmup 0 --runs 1 "
             "--min-run-ms 0 > /dev/null",
             b);
    rc = run_remote(cmd, 2, graph, g, work, &t, &p);
    CHECK(rc == PL_OK && p.batch == 2, "batch 2: %s", rc < 0 ? pl_last_error() : "");
    if (rc == PL_OK) dev_graph_timings_free(&t);

    /* Errors name the command and the reason. */
    CHECK_REMOTE_ERR("exit 1 # {graph} {timings}", 1, graph, g, work, "`exit 1 #",
                     "exit status 1");
    CHECK_REMOTE_ERR("kill -9 $$ # {graph} {timings}", 1, graph, g, work, "kill -9",
                     "signal 9");
    CHECK_REMOTE_ERR("true {graph} {timings}", 1, graph, g, work, "`true ",
                     "left no timings file");
    CHECK_REMOTE_ERR("echo garbage > {timings} # {graph}", 1, graph, g, work, "unusable",
                     "remote-timings");
    snprintf(cmd, sizeof cmd,
             "%s/gos_bench_graph %s {timings} --threads 1 --warmup 0 --runs 1 --min-run-ms 0 "
             "> /dev/null # {graph}",
             b, other_graph);
    CHECK_REMOTE_ERR(cmd, 1, graph, g, work, "/operators/names", "another graph");
    CHECK(count_prefix(work, "remote-timings") == 0, "no temporary file is left after errors");

    /* The artifact directly: gos_bench_graph's, read with and without a graph. */
    char timings[256];
    snprintf(timings, sizeof timings, "%s", in_dir("timings.h5"));
    snprintf(cmd, sizeof cmd,
             "%s/gos_bench_graph %s %s --threads 1 --warmup 0 --runs 2 --min-run-ms 0 > /dev/null",
             b, graph, timings);
    CHECK(system(cmd) == 0, "%s", cmd);
    rc = dev_timings_read(timings, NULL, &t, &p);
    CHECK(rc == PL_OK && t.n_operators == g->n_operators && strcmp(p.kind, "measured") == 0 &&
              strcmp(p.device, "host") == 0,
          "read without a graph: %s", rc < 0 ? pl_last_error() : "");
    if (rc == PL_OK) dev_graph_timings_free(&t);
    CHECK_ERR(dev_timings_read(timings, other, &t, &p), timings, "/operators/names");
    CHECK_ERR(dev_timings_read(graph, g, &t, &p), graph, "gos.timings");
    float *out = NULL;
    int64_t batch = 0, size = 0, node = 0;
    rc = dev_timings_read_output(timings, &out, &batch, &size, &node);
    CHECK(rc == PL_OK && batch == 1 && size == 10 && node == dev_output_node(g),
          "output (%lld, %lld) of node %lld", (long long)batch, (long long)size,
          (long long)node);
    double diff = -1, mag = 0;
    rc = dev_timings_compare_outputs(timings, timings, &diff, &mag);
    CHECK(rc == PL_OK && diff == 0 && mag > 0, "compare with itself: %g, %g", diff, mag);
    pl_free(out);

    ig_graph_free(g);
    ig_graph_free(other);
    char rm[512];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "test_remote: cannot remove %s\n", dir);
    return check_summary("test_remote");
}
