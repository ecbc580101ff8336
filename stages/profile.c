/* profile.c: the profile stage. Reads the baseline artifact and the
 * experiment's device, measures (or predicts, or times remotely) every
 * operator and the whole model, ranks the operators by inefficiency and
 * writes the profile artifact (gos.profile). Prints the ranking.
 *
 *   profile EXPERIMENT.cfg PROFILE.h5 BASELINE.h5
 *
 * (the output first, then the inputs, as scripts/run-stage.sh calls every
 * stage).
 *
 * Exit status: 0 done, 1 error, 2 usage. */
#include "cfg.h"
#include "h5io.h"
#include "pl_err.h"
#include "prof.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: profile EXPERIMENT.cfg PROFILE.h5 BASELINE.h5\n");
    return 2;
}

/* The ranking as a table on stdout. */
static void print_profile(const cfg_experiment *e, const ig_graph *g, const prof_result *r)
{
    const char *kind = r->latency_prov.kind;
    printf("profile: %s on %s (%s, batch %d, %d threads): model %.4g ms end to end, "
           "operators sum %.4g ms", e->name, e->device.name, kind, e->device.batch,
           r->latency_prov.threads, r->model.median_ms, r->sum_operators_ms);
    if (!isnan(r->model_predicted_ms) && strcmp(kind, "predicted") != 0)
        printf(", latency model %.4g ms, Kendall tau %.3f", r->model_predicted_ms,
               r->kendall_tau);
    printf("\n%4s  %-28s %10s %8s %10s %10s %9s\n", "rank", "operator", "ms", "share",
           "params", "MFLOPs", "score");
    for (int k = 0; k < r->n_operators; k++) {
        int id = r->ranking[k];
        printf("%4d  %-28s %10.4g %7.2f%% %10lld %10.4g %9.4g\n", k, g->operators[id].name,
               r->latency[id].median_ms, 100.0 * r->latency_share[id], (long long)r->params[id],
               r->flops[id] / 1e6, r->score[id]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) return usage();
    const char *cfg_path = argv[1], *out = argv[2], *baseline = argv[3];
    char start[32];
    h5io_now_iso8601(start, sizeof start);

    cfg_experiment *cfg = cfg_new();
    ig_graph *g = NULL;
    int input_node = -1, logits_node = -1;
    prof_result result;
    memset(&result, 0, sizeof result);
    int rc = cfg_load(cfg, cfg_path);
    if (rc == PL_OK) rc = h5io_read_model(baseline, "gos.baseline", "/data", &g, &input_node,
                                             &logits_node);
    char work_dir[1100];
    snprintf(work_dir, sizeof work_dir, "%s", out);
    if (rc == PL_OK) rc = prof_run(cfg, g, baseline, dirname(work_dir), &result);
    if (rc == PL_OK) rc = prof_write(out, cfg, g, &result, start);
    if (rc == PL_OK) print_profile(cfg, g, &result);
    if (rc < 0) fprintf(stderr, "profile: error: %s\n", pl_last_error());
    prof_free(&result);
    ig_graph_free(g);
    cfg_delete(cfg);
    return rc < 0 ? 1 : 0;
}
