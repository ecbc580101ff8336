/* gos_bench_graph.c: times an instruction graph on this machine and writes
 * the gos.timings artifact (per-operator and whole-model latencies with
 * their provenance, and the graph's output for the fixed input). The same
 * program runs on the real device (cross-built with `make cross`); the
 * profile stage runs it there through a remote device's remote_command.
 *
 *   gos_bench_graph GRAPH.h5 TIMINGS.h5 [--batch N] [--threads T] [--warmup W]
 *                   [--runs R] [--min-run-ms X] [--device NAME]
 *   gos_bench_graph --compare A.h5 B.h5 [--tolerance X]
 *
 * GRAPH.h5 is any artifact holding /graph (e.g. a gos.baseline). The second
 * form compares the /output of two timings artifacts of the same graph (two
 * builds, two machines): max |a - b| <= X * max |a| (default 1e-4).
 * Exit status: 0 done (outputs agree), 1 error (outputs differ), 2 usage. */
#include "dev.h"
#include "pl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: gos_bench_graph GRAPH.h5 TIMINGS.h5 [--batch N] [--threads T] [--warmup W]\n"
            "                       [--runs R] [--min-run-ms X] [--device NAME]\n"
            "       gos_bench_graph --compare A.h5 B.h5 [--tolerance X]\n"
            "Defaults: batch 1, threads 1, warmup 3, runs 15, min-run-ms 0.5, device host.\n");
    return 2;
}

/* Parses a number of the given kind from s into *out; 0 when malformed. */
static int parse_int(const char *s, int min, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0)) return 0;
    *out = v;
    return 1;
}

static int compare(int argc, char **argv)
{
    if (argc != 4 && argc != 6) return usage();
    double tolerance = 1e-4;
    if (argc == 6 && (strcmp(argv[4], "--tolerance") != 0 || !parse_double(argv[5], &tolerance)))
        return usage();
    double diff, mag;
    if (dev_timings_compare_outputs(argv[2], argv[3], &diff, &mag) < 0) {
        fprintf(stderr, "gos_bench_graph: %s\n", pl_last_error());
        return 1;
    }
    int ok = diff <= tolerance * mag;
    printf("gos_bench_graph: outputs %s: max |a - b| = %.3g, max |a| = %.3g (tolerance %.3g "
           "relative)\n", ok ? "agree" : "DIFFER", diff, mag, tolerance);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--compare") == 0) return compare(argc, argv);
    if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') return usage();
    dev_bench_options o = {.batch = 1,
                           .timing = {.threads = 1, .warmup_runs = 3, .timed_runs = 15,
                                      .min_run_ms = 0.5}};
    snprintf(o.device, sizeof o.device, "host");
    for (int i = 3; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) return usage();
        int ok;
        if (strcmp(opt, "--batch") == 0)
            ok = parse_int(val, 1, &o.batch);
        else if (strcmp(opt, "--threads") == 0)
            ok = parse_int(val, 1, &o.timing.threads);
        else if (strcmp(opt, "--warmup") == 0)
            ok = parse_int(val, 0, &o.timing.warmup_runs);
        else if (strcmp(opt, "--runs") == 0)
            ok = parse_int(val, 1, &o.timing.timed_runs);
        else if (strcmp(opt, "--min-run-ms") == 0)
            ok = parse_double(val, &o.timing.min_run_ms);
        else if (strcmp(opt, "--device") == 0)
            ok = val[0] != '\0' && strlen(val) < sizeof o.device &&
                 snprintf(o.device, sizeof o.device, "%s", val) > 0;
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "gos_bench_graph: bad option %s %s\n", opt, val);
            return usage();
        }
        i++;
    }

    dev_graph_timings t;
    if (dev_bench_graph(argv[1], argv[2], &o, &t) < 0) {
        fprintf(stderr, "gos_bench_graph: %s\n", pl_last_error());
        return 1;
    }
    printf("gos_bench_graph: %s: %d operators, whole model %.4g ms median (batch %d, %d threads, "
           "device %s) -> %s\n",
           argv[1], t.n_operators, t.model.median_ms, o.batch, o.timing.threads, o.device,
           argv[2]);
    dev_graph_timings_free(&t);
    return 0;
}
