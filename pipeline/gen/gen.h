/* gen.h: candidate operators, the grassroots part of GOS.
 *
 * A candidate (gen_dag) is a small DAG of instructions with the same
 * boundary as the operator it may replace: its first n_inputs nodes are
 * `input` instructions with the operator's input shapes (in the order of
 * ig_operator_boundary), the remaining nodes are instructions in topological
 * order (every input index smaller than the node's own), and `output` names
 * the node whose value replaces the operator's output. Nodes are ig_node
 * specs: only op, n_in, in[], attr[] and fattr[] are meaningful here; shapes
 * are inferred, and the candidate accepted or rejected, by building it into
 * an ig_graph (gen_dag_build), which runs each instruction's shape inference
 * before anything runs.
 *
 * The modules:
 *   gen_dag.c      building, validity, pruning of dead nodes, copying
 *   gen_hash.c     canonical form and structural hash; functional hash
 *   gen_iset.c     instruction-set variants (named subsets)
 *   gen_random.c   random candidates from scratch
 *   gen_mutate.c   mutations and crossover, with repair/reject counters
 *   gen_extract.c  an operator of a model cut out as a gen_dag, its weights
 *                  and its boundary activations
 *   gen_fit.c      the quick fit of a candidate to the original's outputs */
#ifndef GEN_H
#define GEN_H

#include "h5io.h"
#include "ig.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

#define GEN_MAX_NODES  64 /* instructions of one candidate, inputs included */
#define GEN_MAX_INPUTS 8  /* boundary inputs of an operator (= IG_MAX_IN)    */

typedef struct {
    int     n_inputs;               /* nodes [0, n_inputs) are `input`       */
    int     n_nodes;                /* n_inputs <= n_nodes <= GEN_MAX_NODES  */
    int     output;                 /* node whose value is the output        */
    ig_node nodes[GEN_MAX_NODES];   /* topological order                     */
} gen_dag;

/* The boundary a candidate must match: input shapes and the output shape. */
typedef struct {
    int      n_inputs;
    ig_shape inputs[GEN_MAX_INPUTS];
    ig_shape output;
} gen_boundary;

/* ---- gen_dag.c ---------------------------------------------------------- */

/* An empty candidate with the boundary's input nodes (output = -1). */
void gen_dag_init(gen_dag *d, const gen_boundary *b);

/* Appends a node (inputs must be existing nodes); returns its index or -1
 * when the candidate is full. Shapes are not checked here. */
int gen_dag_append(gen_dag *d, const ig_node *spec);

/* Builds d into a new finalized ig_graph (parameters not initialised).
 * Returns PL_OK and *out, or PL_ERR_SHAPE (with the message of the failing
 * instruction's shape inference) when d is not shape-valid, or when its
 * output shape differs from b's. out_node receives the output node's index
 * in the graph (equal to d->output). */
int gen_dag_build(const gen_dag *d, const gen_boundary *b, ig_graph **out);

/* 1 when gen_dag_build would succeed (no message recorded otherwise). */
int gen_dag_valid(const gen_dag *d, const gen_boundary *b);

/* Removes nodes the output does not depend on (inputs stay), renumbering
 * the rest; keeps topological order. */
void gen_dag_prune(gen_dag *d);

/* ---- gen_extract.c ------------------------------------------------------ */

/* An operator of a model cut out as a standalone candidate, with its
 * weights. */
typedef struct {
    char         name[IG_NAME_LEN];
    int          operator_id;                 /* in the model            */
    gen_boundary boundary;
    int          model_inputs[GEN_MAX_INPUTS];/* model nodes feeding it  */
    int          model_output;                /* model node it outputs   */
    gen_dag      dag;                         /* the original operator   */
    size_t       param_size, state_size;
    float       *param;  /* (param_size) the slab of gen_dag_build(dag)  */
    float       *state;  /* (state_size) its batch-norm running stats    */
} gen_operator;

/* Cuts operator id out of model (finalized, with weights): its nodes in
 * model order become the candidate's instructions, its boundary inputs the
 * candidate's inputs (ig_operator_boundary order), its weights and
 * batch-norm statistics are copied. Returns PL_OK, or PL_ERR_INVAL (naming
 * the operator) when it cannot be a candidate: not exactly one output, more
 * than GEN_MAX_INPUTS inputs or GEN_MAX_NODES nodes, or a node (a loss) that
 * has no place in one. Free with gen_operator_free. */
int gen_extract(const ig_graph *model, int id, gen_operator *out);

void gen_operator_free(gen_operator *op);

/* Copies the original's weights into g, built from op->dag
 * (gen_dag_build). */
void gen_operator_load_weights(const gen_operator *op, ig_graph *g);

/* Boundary activations of the operators of one model on a sample of
 * images: for operator k, inputs[k][i] holds (n, boundary.inputs[i]) and
 * outputs[k] holds (n, boundary.output), the model's own values in
 * evaluation mode. */
typedef struct {
    int     n;                                 /* images                     */
    int     n_ops;
    float **inputs;                            /* (n_ops * GEN_MAX_INPUTS)   */
    float **outputs;                           /* (n_ops)                    */
} gen_activations;

/* Runs model (finalized, with weights) in evaluation mode over images
 * (n, model input shape) in batches of at most `batch`, and records the
 * boundary values of ops[0..n_ops). Re-plans the model for `batch`.
 * Returns PL_OK or a negative status. Free with gen_activations_free. */
int gen_capture(ig_graph *model, int input_node, const float *images, int n, int batch,
                const gen_operator *ops, int n_ops, gen_activations *out);

void gen_activations_free(gen_activations *a);

/* ---- gen_io.c ----------------------------------------------------------- */

/* Writes dags[0..n) under group as one node table: group/opcodes (rows),
 * inputs (rows, 8), attrs (rows, 10), fattrs (rows, 2), and per DAG
 * group/first, n_nodes, n_inputs, output (layout in schemas/artifacts.md,
 * gos.graphs /candidates). Returns PL_OK or a negative status. */
int gen_write_dag_table(h5io_writer *w, const char *group, const gen_dag *dags, int n);

/* Reads the node table under group of an open artifact (file names it in
 * messages) into *out (pl_xmalloc'd, *count DAGs), checking every index and
 * opcode; shapes are not checked (gen_dag_valid against the boundary). A
 * DAG of 0 nodes is read as empty (output -1).
 * Returns PL_OK or PL_ERR_SCHEMA naming the file and entry. */
int gen_read_dag_table(h5io_reader *h, const char *file, const char *group, gen_dag **out,
                       int *count);

/* ---- gen_splice.c ------------------------------------------------------- */

/* The model with operator op->operator_id replaced by candidate d, whose
 * built graph cg (gen_dag_build(d)) holds the weights to use: a new
 * finalized graph where the operator's nodes are gone and d's instructions
 * take their place (d's inputs read the model nodes that fed the operator,
 * the model's consumers of the operator read d's output), every other node
 * keeps its weights and state, the operator list (names, order) stays, and
 * d's instructions belong to the replaced operator. map (model->n_nodes)
 * receives each model node's index in the new graph, or -1 for the removed
 * ones. Returns PL_OK or a negative status. */
int gen_splice(const ig_graph *model, const gen_operator *op, const gen_dag *d,
               const ig_graph *cg, ig_graph **out, int *map);

/* ---- gen_fit.c ------------------------------------------------------------ */

/* The quick fit: Adam on the relative squared error
 *   L = mean((y - t)^2) / mean(t^2)
 * of the candidate's output y against the original's output t on the
 * recorded boundary activations, in training mode (batch statistics); the
 * fitted error is L in evaluation mode on the held-out share of the sample.
 * Scale-free, so one learning rate serves every operator. */
typedef struct {
    int      steps;         /* SGD steps                                    */
    int      batch;         /* images per step (>= 2)                       */
    double   lr;            /* Adam step size (0.01 is a good default)      */
    double   holdout;       /* share of the sample kept for the fitted error */
    uint64_t seed;          /* initialisation and batch order               */
} gen_fit_options;

typedef struct {
    double error_before;    /* held-out L at the initial weights            */
    double error;           /* held-out L after the fit; INFINITY diverged  */
    int    steps_done;
} gen_fit_result;

/* Fits g (built from a candidate of operator k of a; parameters as they
 * are: call ig_graph_init_params or gen_operator_load_weights first) and
 * leaves the fitted weights in g. Returns PL_OK (a diverging fit is a
 * result, error = INFINITY, not a failure) or a negative status when the
 * candidate cannot run in training mode at this batch. */
int gen_fit(ig_graph *g, const gen_dag *d, const gen_activations *a, int k,
            const gen_fit_options *o, gen_fit_result *r);

/* The held-out relative error of g as it is (evaluation mode). */
double gen_fit_error(ig_graph *g, const gen_dag *d, const gen_activations *a, int k,
                     double holdout, int batch);

/* ---- gen_hash.c --------------------------------------------------------- */

/* Infers the shape of every node of d into shapes (d->n_nodes entries)
 * through the instructions' own shape inference. Returns the index of the
 * first node whose inference fails (shapes before it are filled), or
 * d->n_nodes when every node is shape-valid; the output shape is not
 * compared with any boundary here. */
int gen_dag_shapes(const gen_dag *d, ig_shape *shapes);

/* Canonical structural hash, the same for any topological order the DAG
 * is written in: a 64-bit hash (splitmix64 mixing) of the canonical form
 * (gen_canonicalize of a copy), i.e. of each node's opcode, n_in,
 * attributes, float attribute bit patterns and canonical input positions,
 * the input nodes by boundary index. Dead nodes do not count; the two
 * operands of add, mul and max are unordered (when their shapes are equal,
 * the only case where swapping them keeps the DAG valid); concat and sub
 * keep their order. A shared node differs from two equal copies
 * (add(c(x), c(x)) vs add(c1(x), c2(x)): one weight set or two), which a
 * plain Merkle hash of the output could not tell apart. 0 when d has no
 * output. */
uint64_t gen_struct_hash(const gen_dag *d);

/* Prunes dead nodes and rewrites d in a canonical topological order: inputs
 * first, then by depth (longest path from an input), then a Merkle hash of
 * the node's subgraph, then a hash of its uses, then the canonical
 * positions of its inputs; symmetric ties are broken by individualization
 * and refinement (see gen_hash.c). The two inputs of add/mul/max are put in
 * position order when their shapes are equal (a (C,1,1) broadcast operand
 * stays second). Fields that carry no meaning in a candidate (derived
 * shape, offsets, unused input slots, nodes past n_nodes) are zeroed, so
 * afterwards two DAGs with the same gen_struct_hash are byte-identical
 * (memcmp of the whole gen_dag). Idempotent. Parameters, created in node
 * order, then come in a canonical order too. */
void gen_canonicalize(gen_dag *d);

/* A hash of what the candidate computes: a canonicalized copy of d is built
 * (gen_dag_build), its parameters initialised with a fixed seed, planned for
 * batch 2 in evaluation mode, its inputs filled with fixed pseudo-random
 * probe values uniform in [-4, 4) (a generator independent of the
 * candidate), and run forward. The output y (n values) is summarised by
 * features that float rounding barely moves: its root mean square (rms,
 * kept to 10 significant bits) and 8 projections sum(w_k * y) / (rms *
 * sqrt(n)) on fixed pseudo-random w_k uniform in [-1, 1), each O(1) and
 * rounded to a multiple of 2^-10; these and the output shape are hashed.
 * Rounding each value alone would not do: with ~1e3 values, some value of
 * two equivalent DAGs (x+x and (x+x+x)-x differ in the last bits) would
 * straddle a rounding boundary most of the time; a projection moves by
 * ~1e-7, so two equivalent DAGs differ with a chance of ~1e-4 per feature.
 * Outputs that are all zero, or not finite, hash to fixed codes. Returns
 * PL_OK and *out, or PL_ERR_SHAPE when d is not valid for b. */
int gen_functional_hash(const gen_dag *d, const gen_boundary *b, uint64_t *out);

/* ---- gen_iset.c --------------------------------------------------------- */

/* An instruction-set variant: the opcodes a generator or mutation may put
 * into a candidate, and whether conv2d may have a kernel larger than 1x1.
 * The variants (config key graphgen.instruction_set):
 *   full               every instruction except input, softmax_xent (a loss),
 *                      dropout (identity in evaluation), flatten (only
 *                      useful before linear, which takes (C,1,1) anyway) and
 *                      identity (a no-op)
 *   no-dense-conv      full, but conv2d only with a 1x1 kernel (pointwise
 *                      and depthwise convolutions stay)
 *   no-transcendental  full without sigmoid and tanh (hardsigmoid and
 *                      hardswish are piecewise linear and stay)
 *   pointwise-depthwise pwconv2d, dwconv2d, batchnorm, scale_bias, the
 *                      activations relu, relu6, sigmoid, hardsigmoid,
 *                      hardswish, tanh, and add, sub, mul, max */
typedef struct {
    char    name[32];
    uint8_t allowed[IG_OP_COUNT]; /* 1: the opcode may be generated         */
    int     dense_conv;           /* 1: conv2d may have a kernel above 1x1  */
} gen_iset;

/* Fills *out with the named variant; PL_ERR_INVAL naming it and listing the
 * known names when there is none. */
int gen_iset_find(const char *name, gen_iset *out);

/* The number of variants, and the name of variant i (0 <= i < count). */
int gen_iset_count(void);
const char *gen_iset_name(int i);

/* 1 when the node's opcode is allowed, and for conv2d, its kernel too. */
int gen_iset_allows(const gen_iset *s, const ig_node *nd);

/* ---- gen_random.c ------------------------------------------------------- */

/* A random candidate from scratch for boundary b, drawn from r: the number
 * of instructions is uniform in [min_nodes, max_nodes] (clamped to the
 * room in a gen_dag); each new node takes an opcode uniform over s's allowed
 * ones, inputs among the existing nodes (the first input is the newest node
 * with probability 1/2, otherwise uniform; further inputs uniform), and
 * hyperparameters from small sensible sets that look at the inputs' shapes
 * (see gen_random.c); the last node is the output. Nothing is repaired; dead
 * nodes are pruned (which changes no value), so d->n_nodes may end below the
 * drawn size. Returns 1 when d is shape-valid for b, 0 when not (d is
 * filled in either way), so callers can count. */
int gen_random_dag(gen_dag *d, const gen_boundary *b, const gen_iset *s, int min_nodes,
                   int max_nodes, gsl_rng *r);

/* Draws hyperparameters (attr, fattr) for nd, whose op, n_in and in[] are
 * set, from the sets listed in gen_random.c, looking at its first input's
 * shape (shapes is indexed by node). Mutations use it too. */
void gen_random_hyper(ig_node *nd, const ig_shape *shapes, const gen_boundary *b,
                      const gen_iset *s, gsl_rng *r);

/* ---- gen_mutate.c ------------------------------------------------------- */

typedef enum {
    GEN_MUT_CHANGE_OP, /* another allowed opcode of the same arity           */
    GEN_MUT_HYPER,     /* kernel size, stride, groups or output channels     */
    GEN_MUT_INSERT,    /* a new node on an edge: x -> new(x) -> consumer     */
    GEN_MUT_DELETE,    /* bypass a node: its consumers take one of its inputs */
    GEN_MUT_REWIRE,    /* an input of a node moves to another earlier node   */
    GEN_MUT_COUNT
} gen_mutation;

/* Per-kind counters; index GEN_MUT_COUNT counts crossover. For each kind,
 * tried = valid + repaired + rejected. */
typedef struct {
    long tried[GEN_MUT_COUNT + 1];
    long valid[GEN_MUT_COUNT + 1];    /* shape-valid as mutated            */
    long repaired[GEN_MUT_COUNT + 1]; /* shape-valid after a repair        */
    long rejected[GEN_MUT_COUNT + 1]; /* neither: child = parent           */
} gen_mut_stats;

/* The name of a mutation kind ("change_op", ..., "crossover" for
 * GEN_MUT_COUNT). */
const char *gen_mutation_name(int kind);

/* Applies one mutation, of a kind drawn uniformly, to a copy of the
 * shape-valid parent. When the result breaks shapes, a repair is tried:
 * depthwise and grouped attributes follow their input's channels, a channel
 * or spatial mismatch at a binary op, a concat or the output is bridged by
 * an inserted pointwise convolution and/or a stride-2 pooling or
 * convolution (from s's opcodes), a window that does not fit shrinks to 1.
 * Returns 1 with a shape-valid, pruned child (mutated or repaired), or 0
 * with child = a copy of the parent (rejected). A child never has more
 * nodes that s disallows than the parent. st (may be NULL) counts the
 * attempt under its kind. */
int gen_mutate(gen_dag *child, const gen_dag *parent, const gen_boundary *b, const gen_iset *s,
               gsl_rng *r, gen_mut_stats *st);

/* Like gen_mutate with a forced kind (for tests and per-kind studies). */
int gen_mutate_kind(gen_dag *child, const gen_dag *parent, const gen_boundary *b,
                    const gen_iset *s, gen_mutation kind, gsl_rng *r, gen_mut_stats *st);

/* One-point crossover of two shape-valid candidates of the same boundary:
 * a random pair of nodes (i of a, j of b2) with equal output shapes is
 * drawn, uniformly over all such pairs; either may be an input node (then
 * the child starts b2 at a's input, or runs all of b2 on a's node i), not
 * both, and not an input i with j b2's output. The child is a's nodes that
 * i depends on, then b2's nodes that b2's output depends on without passing
 * through j, with j's uses reading i. Returns 1 with a shape-valid pruned
 * child, 0 with child = a copy of a when no pair matches or the child does
 * not fit GEN_MAX_NODES. st (may be NULL) counts under index GEN_MUT_COUNT. */
int gen_crossover(gen_dag *child, const gen_dag *a, const gen_dag *b2, const gen_boundary *b,
                  const gen_iset *s, gsl_rng *r, gen_mut_stats *st);

#endif
