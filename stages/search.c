/* search.c: the search stage. Reads the baseline (with its stored logits on
 * the training images, which distilled recovery reads instead of running
 * it) and the graphs artifact (seed candidates), evolves replacements for the most inefficient
 * operators one after another (pipeline/search/search.h), and writes the
 * search artifact (gos.search) with the adapted model. Prints a line per
 * operator searched and a summary.
 *
 *   search EXPERIMENT.cfg SEARCH.h5 BASELINE.h5 GRAPHS.h5 [--checkpoint PATH]
 *          [--stop-after N]
 *
 * The state is checkpointed after every generation and every operator (by
 * default to SEARCH.h5 with ".ckpt.h5" for ".h5"); a run that finds a
 * checkpoint of the same config resumes from it and ends with the same
 * artifact as an uninterrupted run; the checkpoint is removed once the
 * artifact is written. --stop-after N stops after N checkpoints (tests).
 * Exit status: 0 done (or stopped as asked), 1 error, 2 usage. */
#include "cfg.h"
#include "ds_experiment.h"
#include "h5io.h"
#include "pl_args.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "search.h"
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: search EXPERIMENT.cfg SEARCH.h5 BASELINE.h5 GRAPHS.h5 "
                    "[--checkpoint PATH] [--stop-after N]\n");
    return 2;
}

/* The quick fit's images (as graphgen takes them), the validation subset
 * with its labels, at the model's input size, and the splits the recovery
 * trains on. */
typedef struct {
    ds_experiment splits;
    float        *sample, *val;
    int32_t      *labels;
    int           n_sample, n_val;
} stage_data;

static int load_data(const cfg_experiment *e, stage_data *s)
{
    ds_experiment *x = &s->splits;
    int batch = e->train.batch_size > 64 ? e->train.batch_size : 64;
    PL_TRY(ds_experiment_load(x, e, batch));
    if (x->val.n < 1)
        PL_FAIL(PL_ERR_CONFIG, "search: data.validation_images is 0: the search measures "
                "accuracy on held-out validation images");
    s->n_sample = ds_experiment_take(x, &x->train, e->graphgen.sample_images, 1,
                                     (uint64_t)e->seed, &s->sample, NULL);
    s->n_val = ds_experiment_take(x, &x->val, e->search.validation_images, 0, 0, &s->val,
                                  &s->labels);
    return PL_OK;
}

static int options_from(const cfg_experiment *e, search_options *o, dev_provenance *latency)
{
    memset(o, 0, sizeof *o);
    const cfg_search *c = &e->search;
    o->epsilon = c->epsilon;
    o->finetune_slack = c->finetune_slack;
    o->max_step_drop = c->max_step_drop;
    o->operators = c->operators;
    o->population = c->population;
    o->generations = c->generations;
    o->crossover_rate = c->crossover_rate;
    o->fresh_offspring = c->fresh_offspring;
    o->scratch_share = c->scratch_share;
    o->choose_knee = strcmp(c->choice, "knee") == 0;
    o->min_gain = c->min_gain;
    o->min_share = c->min_share;
    o->min_nodes = e->graphgen.min_nodes;
    o->max_nodes = e->graphgen.max_nodes;
    PL_TRY(gen_iset_find(e->graphgen.instruction_set, &o->iset));
    o->fit = (gen_fit_options){.steps = e->graphgen.fit_steps, .batch = e->graphgen.fit_batch,
                               .lr = e->graphgen.fit_lr, .holdout = e->graphgen.fit_holdout};
    o->device_kind = dev_kind_of(&e->device);
    if (o->device_kind == DEV_REMOTE)
        PL_FAIL(PL_ERR_CONFIG, "device %s: the search cannot time candidates on a remote device "
                "yet; use kind \"predicted\" (its latency model) or \"measured\" here",
                e->device.name);
    int complete = dev_model_from_config(&o->latency_model, &e->device);
    if (o->device_kind == DEV_PREDICTED && !complete)
        PL_FAIL(PL_ERR_CONFIG, "device %s: incomplete latency model", e->device.name);
    o->timing = dev_timing_from_config(&e->device, 1); /* candidates timed alone */
    o->batch = e->device.batch;
    o->seed = (uint64_t)e->seed;
    pl_threads_set(e->threads);
    /* Candidates are fitted and scored in parallel on every device; on a
     * measured one they are then timed one at a time (search_eval.c). */
    o->threads = pl_threads_get();
    o->recovery_threads = pl_threads_get();
    pl_threads_set(1);
    o->recovery_steps = c->recovery_steps;
    o->recovery_rounds = c->recovery_rounds;
    o->recovery_lr = c->recovery_lr;
    o->recovery_min_drop = c->recovery_min_drop;
    o->recovery_distill_weight = c->recovery_distill_weight;
    o->recovery_distill_temperature = c->recovery_distill_temperature;
    o->recovery_batch = e->train.batch_size;
    o->recovery_sgd = (opt_sgd_config){.momentum = (float)e->train.momentum,
                                       .nesterov = e->train.nesterov,
                                       .weight_decay = (float)e->train.weight_decay,
                                       .decay_all = e->train.decay_bn_and_bias};
    o->progress = isatty(STDERR_FILENO) && !getenv("CI");
    if (o->device_kind == DEV_PREDICTED)
        dev_provenance_init(latency, &e->device, NULL, &o->latency_model);
    else
        dev_provenance_init(latency, &e->device, &o->timing, NULL);
    return PL_OK;
}

int main(int argc, char **argv)
{
    if (argc < 5) return usage();
    const char *cfg_path = argv[1], *out = argv[2], *baseline = argv[3], *graphs = argv[4];
    pl_resume_args resume;
    if (pl_parse_resume_args(argc, argv, 5, "--stop-after", out, &resume) < 0) return usage();
    const char *checkpoint = resume.path;
    int stop_after = resume.stop_after;
    char *fingerprint = NULL;
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    h5io_now_iso8601(prov.start_time, sizeof prov.start_time);
    cfg_experiment *cfg = cfg_new();
    ig_graph *g = NULL;
    int input_node = -1, logits_node = -1;
    stage_data data;
    memset(&data, 0, sizeof data);
    graphgen_result seeds;
    memset(&seeds, 0, sizeof seeds);
    search_result result;
    memset(&result, 0, sizeof result);
    search_options o;
    dev_provenance latency;
    int rc = cfg_load(cfg, cfg_path);
    if (rc == PL_OK) rc = options_from(cfg, &o, &latency);
    if (rc == PL_OK) rc = cfg_fingerprint(cfg, "search", &fingerprint);
    o.checkpoint_path = checkpoint;
    o.fingerprint = fingerprint;
    o.stop_after = stop_after;
    /* Measured latencies: the cache beside the artifact (the store), shared
     * by every experiment and sweep variant using it. */
    lat_cache *cache = NULL;
    char cache_path[1100];
    if (rc == PL_OK && o.device_kind == DEV_MEASURED) {
        snprintf(cache_path, sizeof cache_path, "%s", out);
        char *slash = strrchr(cache_path, '/');
        snprintf(slash ? slash + 1 : cache_path,
                 sizeof cache_path - (size_t)(slash ? slash + 1 - cache_path : 0),
                 "latency-cache.h5");
        rc = lat_cache_open(&cache, cache_path);
        if (rc == PL_OK) lat_cache_set_provenance(cache, cfg->name);
        o.latency_cache = cache;
        o.latency_prov = latency;
    }
    if (rc == PL_OK) rc = h5io_read_model(baseline, "gos.baseline", "/data", &g, &input_node,
                                             &logits_node);
    float *teacher_table = NULL; /* the baseline's logits, for the recovery */
    int64_t teacher_rows = 0;
    if (rc == PL_OK && o.recovery_distill_weight > 0)
        rc = train_read_logits(baseline, &teacher_table, &teacher_rows);
    if (rc == PL_OK) rc = graphgen_read(graphs, &seeds);
    if (rc == PL_OK) rc = load_data(cfg, &data);
    if (rc == PL_OK) {
        search_data sd = {data.sample, data.n_sample, data.val, data.labels, data.n_val,
                          &data.splits, g, input_node, logits_node, teacher_table,
                          teacher_rows};
        rc = search_run(g, input_node, logits_node, &sd, &seeds, &o, &result);
    }
    int stopped = rc == PL_OK && result.stopped;
    if (stopped) printf("search: stopped as asked; the checkpoint %s resumes it\n", checkpoint);
    if (rc == PL_OK && !stopped) {
        snprintf(prov.stage, sizeof prov.stage, "search");
        snprintf(prov.experiment, sizeof prov.experiment, "%s", cfg->name);
        prov.config_text = cfg->resolved_text;
        prov.seed = cfg->seed;
        rc = search_write(out, &prov, &latency, &o, data.n_val, result.input_node,
                          result.logits_node, &result);
    }
    if (rc == PL_OK && !stopped) {
        remove(checkpoint);
        int replaced = 0;
        for (int s = 0; s < result.n_steps; s++) replaced += result.steps[s].replaced;
        printf("search: %s: %d of %d operators searched were replaced; operators' latency "
               "%.4g -> %.4g ms (%s on %s, %.2fx); validation accuracy %.2f%% baseline, "
               "epsilon %.3g points (%.3g more of fine-tuning slack); %ld evaluations, "
               "%ld cached\n",
               cfg->name, replaced, result.n_steps, result.base_latency_ms,
               result.final_latency_ms, latency.kind, cfg->device.name,
               result.final_latency_ms > 0 ? result.base_latency_ms / result.final_latency_ms : 0.0,
               100 * result.base_accuracy, o.epsilon, o.finetune_slack, result.evaluations,
               result.cache_hits);
    }
    if (rc < 0) fprintf(stderr, "search: error: %s\n", pl_last_error());
    /* The timings are worth keeping however the search ended (stopped, or
     * failed); a cache that cannot be saved costs only time, not the run. */
    if (cache && lat_cache_save(cache) < 0)
        fprintf(stderr, "search: warning: the latency cache %s was not saved: %s\n", cache_path,
                pl_last_error());
    lat_cache_close(cache);
    search_free(&result);
    graphgen_free(&seeds);
    pl_free(data.sample);
    pl_free(data.val);
    pl_free(data.labels);
    ds_experiment_free(&data.splits);
    ig_graph_free(g);
    pl_free(teacher_table);
    free(fingerprint);
    cfg_delete(cfg);
    return rc < 0 ? 1 : 0;
}
