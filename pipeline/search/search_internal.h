/* search_internal.h: the search's internals shared by search.c (the
 * evolution and the outer loop), search_eval.c (evaluating candidates) and
 * search_ckpt.c (the checkpoint after every generation). */
#ifndef SEARCH_INTERNAL_H
#define SEARCH_INTERNAL_H

#include "search.h"

#include <gsl/gsl_rng.h>

/* Images per forward pass when the search measures accuracy; the prefix
 * (below) runs the same batches, which keeps its values bit for bit those
 * of a whole pass. */
#define SEARCH_EVAL_BATCH 64

/* The current model's values at the cut before a step's target operator,
 * over the validation images (search_prefix.c): the nodes below `cut` are
 * the same in every spliced candidate, so evaluating one runs only the
 * nodes from the cut on, after copying in the values of the `live` ones
 * (those below the cut that later nodes read). cut 0: none held. */
typedef struct {
    int     cut;     /* the operator's first node in the model              */
    int     n;       /* validation images held                              */
    int     n_live;
    int    *live;    /* (n_live) node indices, below cut                    */
    size_t *size;    /* (n_live) floats per image                           */
    float **values;  /* (n_live) each (n, size)                             */
} search_prefix;

/* What evaluating candidates of one operator needs, and its cache. */
typedef struct {
    const ig_graph       *model;        /* current model                        */
    int                   input_node, logits_node;
    const search_data    *data;
    const search_options *o;
    gen_operator          op;           /* the target, cut out of model         */
    gen_activations       acts;         /* its boundary values on the sample    */
    search_prefix         prefix;       /* the model below it, on the validation
                                           images                             */
    double                min_accuracy; /* base - epsilon, 0..1                 */
    uint64_t              original_hash;/* the operator's own structural hash  */
    double                max_latency_ms; /* candidates this slow or slower (the
                                           original excepted) cannot replace it:
                                           not fitted or scored (search_eval.c) */
    search_cand          *cache;        /* evaluated, one per functional hash   */
    int                   n_cache, cap_cache;
    long                  evaluations, cache_hits;
} eval_ctx;

/* The random streams of a step. */
enum { RNG_INIT, RNG_SELECT, RNG_VARY, RNG_COUNT };

/* Everything a search needs to go on from a generation boundary. */
typedef struct {
    search_result *r;
    int            n_ops;
    double        *ms;          /* (n_ops) current operator latencies        */
    int32_t       *tried;       /* (n_ops) searched already                  */
    int            replaced;
    int            in_step;     /* 1: r->steps[r->n_steps - 1] is under way  */
    int            target;      /* its operator                              */
    int            generation;  /* generations done in it; -1 none           */
    search_cand   *pop;         /* (population)                              */
    eval_ctx       x;           /* the current step's evaluation context     */
    gsl_rng       *rng[RNG_COUNT];
    double         step_seconds;/* spent on the step before this process     */
    double         step_started;/* monotonic clock when this process took it  */
    int            checkpoints; /* written by this process                   */
} search_state;

/* search_eval.c */
gsl_rng *search_stream(uint64_t seed, int purpose, int step);
int search_operator_latencies(ig_graph *g, const search_options *o, double *ms);
int search_evaluate_batch(eval_ctx *x, search_cand *cands, int n);
/* c's results from the cache, or evaluated when absent; counts no cache hit. */
int search_score(eval_ctx *x, search_cand *c);
/* Sets x->original_hash and x->max_latency_ms from the latency of the
 * original operator (x->op) on the device: (1 - o->min_gain) times it. */
int search_latency_bar(eval_ctx *x);
void search_cache_add(eval_ctx *x, const search_cand *c);

/* Canonicalizes c's DAG and sets its structural and functional hashes (the
 * functional one is the structural one when the DAG cannot be run). */
void search_hash_candidate(const eval_ctx *x, search_cand *c);

/* search_prefix.c: builds p for the operator operator_id of model (runs
 * the model below the operator over images (n, input shape) in batches of
 * 64, as search_accuracy does); holds nothing (cut 0) when the live values
 * would exceed max_bytes. search_prefix_load copies images [start,
 * start+count) of the live values into g's nodes (g: model or a spliced
 * candidate, planned for at least count images). */
int search_prefix_build(ig_graph *model, int input_node, int logits_node, int operator_id,
                        const float *images, int n, size_t max_bytes, search_prefix *p);
void search_prefix_load(ig_graph *g, const search_prefix *p, int start, int count);
void search_prefix_free(search_prefix *p);

/* search_io.c: the steps (with their chosen DAGs) and the generations'
 * records, written and read back (gos.search and the checkpoint share
 * them). */
int search_write_steps(h5io_writer *w, const search_result *r);
int search_write_generations(h5io_writer *w, const search_result *r);
int search_read_history(h5io_reader *h, const char *file, search_result *r);

/* search_ckpt.c: the checkpoint file, atomic; read validates everything and
 * the fingerprint (a checkpoint of another config is an error, never
 * silently reused). */
int search_ckpt_write(const char *path, const char *fingerprint, const search_state *st);
/* Restores st (n_ops, ms, tried, r with its model and history, the step
 * state, the population, the cache, the streams) from path; x.op and
 * x.acts are not stored (recomputed from the model). Returns 1 restored, 0
 * no file, or a negative status. */
int search_ckpt_read(const char *path, const char *fingerprint, const search_options *o,
                     search_state *st);

#endif
