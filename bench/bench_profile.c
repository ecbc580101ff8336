/* bench_profile.c: how well the latency model ranks this machine's operators
 * (issue 5). For each model, the profile stage's code measures every
 * operator here (batch 1, evaluation mode, device settings of
 * experiments/common/devices/host.cfg) and predicts it with the latency model
 * built from the same file's characteristics; the figure is Kendall's tau
 * between the two rankings (target >= 0.8 for each model), beside the whole
 * model measured end to end, the sum of its operators and the model's
 * prediction. Parameters are random: latency does not depend on them.
 *
 *   build/bench/bench_profile [THREADS] [--verbose] [--filter SUBSTR]
 * THREADS defaults to 2; --filter keeps the models whose name contains
 * SUBSTR; --verbose also prints every operator: its name, node count, FLOPs, bytes,
 * measured median and predicted latency. */
#include "cfg.h"
#include "dev.h"
#include "models.h"
#include "pl_err.h"
#include "prof.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *model;
    int         size, channels;
    float       width;
} bench_row;

/* The three models as the experiments build them (experiments/common/
 * models/: width and input size), at full width on 32x32 (resnet18 with the
 * small-input stem), and at the paper's input sizes. */
static const bench_row rows[] = {
    {"resnet18_small", 28, 1, 0.25f},   {"mobilenetv3_large", 28, 1, 1.0f},
    {"inceptionv3", 75, 1, 0.25f},
    {"resnet18_small", 32, 1, 1.0f},    {"mobilenetv3_large", 32, 1, 1.0f},
    {"inceptionv3_small", 32, 1, 1.0f}, {"resnet18", 224, 3, 1.0f},
    {"mobilenetv3_large", 224, 3, 1.0f}, {"mobilenetv3_small", 224, 3, 1.0f},
    {"inceptionv3", 299, 3, 1.0f},
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* An experiment that includes the shipped host device file, loaded from a
 * temporary folder that links experiments/common in. */
static int load_host_experiment(cfg_experiment *e, const char *dir, int threads)
{
    char cwd[512], common[600], link_path[600], path[600];
    if (!getcwd(cwd, sizeof cwd)) return PL_ERR_IO;
    snprintf(common, sizeof common, "%s/experiments/common", cwd);
    snprintf(link_path, sizeof link_path, "%s/common", dir);
    snprintf(path, sizeof path, "%s/bench.cfg", dir);
    if (symlink(common, link_path) != 0) return PL_ERR_IO;
    FILE *f = fopen(path, "w");
    if (!f) return PL_ERR_IO;
    fprintf(f, "@include \"common/devices/host.cfg\"\nmodel = { name = \"convnet\"; };\n"
               "data = { name = \"fashion_mnist\"; };\ntrain = { epochs = 1; };\n"
               "threads = %d;\nprofile = { rank_by = \"latency\"; };\n", threads);
    fclose(f);
    return cfg_load(e, path);
}

/* One line per operator: measured against predicted. */
static void print_operators(const ig_graph *g, const prof_result *r)
{
    printf("  %-28s %5s %10s %10s %10s %10s %6s\n", "operator", "nodes", "MFLOPs", "KB",
           "measured", "predicted", "ratio");
    for (int id = 0; id < r->n_operators; id++)
        printf("  %-28s %5d %10.3f %10.1f %7.4f ms %7.4f ms %6.2f\n", g->operators[id].name,
               r->n_nodes[id], r->flops[id] / 1e6, r->bytes[id] / 1024.0,
               r->latency[id].median_ms, r->predicted_ms[id],
               r->predicted_ms[id] / r->latency[id].median_ms);
}

int main(int argc, char **argv)
{
    int threads = 2, verbose = 0;
    const char *filter = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--verbose") == 0)
            verbose = 1;
        else if (strcmp(argv[a], "--filter") == 0 && a + 1 < argc)
            filter = argv[++a];
        else
            threads = atoi(argv[a]);
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/gos_bench_profile.%d", (int)getpid());
    if (mkdir(dir, 0700) != 0) return 1;
    cfg_experiment e;
    int rc = load_host_experiment(&e, dir, threads);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (rc < 0) {
        fprintf(stderr, "bench_profile: %s\n", pl_last_error());
        return 1;
    }
    printf("\n== latency model vs this host (batch 1, %d threads; device file "
           "experiments/common/devices/host.cfg) ==\n", threads);
    printf("%-18s %5s %5s %4s %10s %10s %10s %7s\n", "model", "input", "width", "ops", "measured",
           "sum ops", "predicted", "tau");
    int failed = 0;
    double worst = 1.0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const bench_row *row = &rows[i];
        if (filter && !strstr(row->model, filter)) continue;
        ig_graph *g = ig_graph_alloc();
        model_spec spec = {.in_c = row->channels, .in_h = row->size, .in_w = row->size,
                           .classes = 10, .width = row->width};
        snprintf(spec.name, sizeof spec.name, "%s", row->model);
        model_nodes nodes;
        prof_result r;
        rc = model_build(g, &spec, &nodes);
        if (rc == PL_OK) rc = ig_graph_finalize(g);
        if (rc == PL_OK) ig_graph_init_params(g, 1);
        if (rc == PL_OK) rc = prof_run(&e, g, NULL, "/tmp", &r);
        if (rc < 0) {
            fprintf(stderr, "bench_profile: %s: %s\n", row->model, pl_last_error());
            failed = 1;
        } else {
            printf("%-18s %5d %5.2f %4d %8.3f ms %7.3f ms %7.3f ms %7.3f\n", row->model,
                   row->size, row->width, r.n_operators, r.model.median_ms, r.sum_operators_ms, r.model_predicted_ms,
                   r.kendall_tau);
            if (!(r.kendall_tau >= worst)) worst = r.kendall_tau;
            if (verbose) print_operators(g, &r);
            prof_free(&r);
        }
        ig_graph_free(g);
    }
    printf("lowest tau %.3f (target >= 0.8: %s)\n", worst, worst >= 0.8 ? "met" : "NOT met");
    cfg_destroy(&e);
    return failed;
}
