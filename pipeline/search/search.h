/* search.h: the search stage's work, independent of config and files:
 * for each inefficient operator in turn, a constrained multi-objective
 * evolution (NSGA-II with Deb's constrained domination, nsga2.h) over
 * candidate DAGs that minimises the operator's latency on the device and
 * its parameters, subject to the model's validation accuracy with the
 * candidate in place (after the quick fit) staying within epsilon of the
 * baseline's; the chosen replacement is spliced into the model, the model
 * is re-profiled, and the next operator follows.
 *
 * Every evaluation is a pure function of the candidate, the current model
 * and the seed (the fit's initialisation is seeded by the candidate's
 * structural hash), so equivalent candidates (equal functional hash) are
 * evaluated once, a later one taking the scored one's place (DAG included,
 * so a step splices what was scored), and the run is deterministic for
 * predicted devices.
 * Evaluation is asked for and told in batches (search_ask / search_tell in
 * search.c), so a later issue can spread it over machines. */
#ifndef SEARCH_H
#define SEARCH_H

#include "dev.h"
#include "ds_experiment.h"
#include "gen.h"
#include "graphgen.h"
#include "lat_cache.h"
#include "nsga2.h"
#include "opt_sgd.h"

typedef struct {
    double          epsilon;        /* accuracy points                          */
    double          finetune_slack; /* more points the search may spend (the
                                       finetune stage is to win them back)    */
    double          max_step_drop;  /* points one replacement may cost the model
                                       as it stands; 0: no limit              */
    int             operators;      /* replacements wanted                      */
    int             population, generations;
    double          crossover_rate; /* else mutation                            */
    double          scratch_share;  /* of the first population                  */
    int             fresh_offspring;/* redraw offspring equivalent to a scored
                                       candidate or an earlier offspring       */
    int             choose_knee;    /* 0: lowest latency on the feasible front  */
    double          min_gain;       /* relative latency cut to replace          */
    double          min_share;      /* stop at an operator below this share of
                                       the model's summed operator latency       */
    int             min_nodes, max_nodes;
    gen_iset        iset;
    gen_fit_options fit;
    dev_kind        device_kind;    /* measured here, or predicted              */
    dev_model       latency_model;
    dev_timing      timing;
    int             batch;          /* device batch                             */
    uint64_t        seed;
    int             threads;        /* candidates evaluated at once             */
    /* Recovery after each replacement (search_recover): up to
     * recovery_rounds rounds (>= 1) of recovery_steps SGD steps (0: none)
     * of recovery_batch training images with recovery_sgd, the rate
     * falling from recovery_lr to 0 along a cosine in each round, on
     * recovery_threads threads. */
    int             recovery_steps, recovery_rounds, recovery_batch, recovery_threads;
    double          recovery_lr;
    double          recovery_min_drop; /* accuracy points below the baseline
                                          that call for a recovery; 0: always */
    opt_sgd_config  recovery_sgd;
    double          recovery_distill_weight; /* 0: the labels alone; else
                                                distillation from data->teacher */
    double          recovery_distill_temperature;
    int             progress;
    /* Checkpointing (NULL path: none): the state is written atomically after
     * every generation and every finished operator, and a run finding a
     * checkpoint of the same fingerprint resumes from it; stop_after > 0
     * stops (r->stopped = 1) after that many checkpoints, for tests. */
    const char     *checkpoint_path;
    const char     *fingerprint;
    int             stop_after;
    /* Measured devices: latencies already measured for the same candidate
     * structure, boundary shapes, device, batch, threads and build come
     * from this cache (may be NULL), shared by experiments through its
     * file; new ones are added (saved by the caller). */
    lat_cache      *latency_cache;
    dev_provenance  latency_prov;   /* the device part of the cache keys      */
} search_options;

/* One evaluated candidate. */
typedef struct {
    gen_dag       dag;
    nsga2_fitness fit;           /* obj[0] latency ms, obj[1] params          */
    double        latency_ms;
    double        accuracy;      /* validation accuracy with it in place, 0..1 */
    double        fit_error;     /* quick-fit relative error                  */
    int64_t       params;
    uint64_t      struct_hash, func_hash;
} search_cand;

/* A population member as recorded for the artifact. */
typedef struct {
    int32_t  step, generation;
    int32_t  rank;
    double   latency_ms, accuracy, fit_error, violation, crowding;
    int64_t  params;
    uint64_t struct_hash;
} search_record;

/* One outer-loop step: an operator searched. */
typedef struct {
    char    name[IG_NAME_LEN];
    int32_t replaced;            /* 1 when a feasible, faster candidate won    */
    double  latency_before_ms, latency_after_ms;
    int64_t params_before, params_after;
    double  accuracy;            /* validation accuracy after the step (with the
                                    winner in place, or the model unchanged)    */
    double  accuracy_recovered;  /* the same after the recovery steps            */
    double  fit_error;
    int32_t evaluations, cache_hits, front_size;
    double  seconds;             /* the step's wall time, recovery included */
    double  recovery_seconds;    /* of which the recovery steps (0: none ran) */
    gen_dag chosen;              /* the winner (the original when not replaced) */
} search_step;

typedef struct {
    ig_graph      *model;          /* the adapted model (owned)               */
    int            input_node, logits_node; /* in model                      */
    double         base_accuracy;  /* baseline on the validation subset       */
    double         base_latency_ms, final_latency_ms; /* sum over operators; on
                                      measured devices both timed at the end */
    int            n_steps, cap_steps;
    search_step   *steps;
    int            n_records, cap_records;
    search_record *records;
    long           evaluations, cache_hits;
    int            stopped;        /* 1: stopped as asked (stop_after)        */
    int            table_refused;  /* 1: a recovery found data->teacher_table
                                      not the teacher's or of another row
                                      count (distill.h): the later ones run
                                      the teacher without trying it again */
} search_result;

/* The data a search evaluates on. */
typedef struct {
    const float   *sample_images;  /* (n_sample, input) for the quick fit      */
    int            n_sample;
    const float   *val_images;     /* (n_val, input) for the accuracy         */
    const int32_t *val_labels;     /* (n_val)                                  */
    int            n_val;
    ds_experiment *train;          /* recovery's training images; may be NULL
                                      when o->recovery_steps is 0              */
    const ig_graph *teacher;       /* recovery's distillation teacher (the
                                      baseline), with its input and logits
                                      nodes; may be NULL when not distilling */
    int            teacher_input, teacher_logits;
    const float   *teacher_table;  /* (teacher_rows, classes) its logits on the
                                      training images (train_read_logits), read
                                      instead of running it; may be NULL     */
    int64_t        teacher_rows;
} search_data;

/* Searches model (finalized, with weights; input_node and logits_node are
 * its nodes): operators are taken by current predicted-or-measured latency
 * share (re-profiled after every replacement), each at most once, until
 * o->operators are replaced or none is left; seeds (may be NULL) adds the
 * graphgen stage's adapted candidates to the first population of the
 * operators it extracted. Returns PL_OK (free r with search_free) or a
 * negative status. */
int search_run(const ig_graph *model, int input_node, int logits_node, const search_data *data,
               const graphgen_result *seeds, const search_options *o, search_result *r);

void search_free(search_result *r);

/* The recovery after replacement number step (named name, for messages):
 * trains r->model in place on data->train (distilling data->teacher when
 * o->recovery_distill_weight > 0), every parameter and the batch-norm
 * statistics, as search_options describes, in rounds judged by the
 * validation accuracy on data: the model keeps the most accurate weights
 * seen, its own included (a round that lowers the accuracy is undone).
 * Rounds go on while they gain, up to o->recovery_rounds, until the
 * accuracy reaches r->base_accuracy. *accuracy is the model's validation
 * accuracy on entry and the kept weights' on return; *rounds the rounds
 * run. Nothing happens when o->recovery_steps is 0. Returns PL_OK or a
 * negative status (a non-finite loss names the step; the model keeps the
 * best weights). */
int search_recover(search_result *r, const search_data *data, const search_options *o,
                   int step, const char *name, double *accuracy, int *rounds);

/* Writes the gos.search artifact atomically (search_io.c): prov is the root
 * provenance (its schema is set here), latency the provenance of every
 * latency in it; input_node and logits_node are the adapted model's. */
int search_write(const char *path, h5io_provenance *prov, const dev_provenance *latency,
                 const search_options *o, int n_val, int input_node, int logits_node,
                 const search_result *r);

/* Validation accuracy (0..1) of g, evaluation mode, batches of 64; NaN when
 * g cannot be planned for them (pl_last_error says why). */
double search_accuracy(ig_graph *g, int input_node, int logits_node, const float *images,
                       const int32_t *labels, int n);

#endif
