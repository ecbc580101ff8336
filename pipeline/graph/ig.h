/* ig.h: the instruction graph, the one representation for models and
 * operators.
 *
 * A graph is an array of nodes in topological order; each node is one
 * instruction with up to IG_MAX_IN inputs (indices of earlier nodes), integer
 * and float attributes, and one output tensor. Per-sample shapes (C,H,W) are
 * inferred and validated as each node is added; the batch size N is chosen
 * when the graph is planned. A named operator is a set of nodes (the unit the
 * search replaces) whose boundary tensors ig_operator_boundary reports.
 *
 * Memory: parameters, their gradients and the non-trained state (batch-norm
 * running statistics) are three contiguous slabs sized by ig_graph_finalize.
 * Activations, their gradients, the per-node saved data (batch-norm mean and
 * rstd, max-pool argmax, dropout masks, softmax probabilities) and one shared
 * kernel workspace are slabs sized by ig_graph_plan for a batch size, once;
 * forward and backward never allocate.
 *
 * Lifecycle: ig_graph_alloc, add nodes (ig_add or the ig_<op> builders),
 * ig_graph_finalize, ig_graph_init_params, ig_graph_plan(batch), then per step:
 * write inputs into ig_value(g, input_node), ig_forward, ig_zero_grad,
 * ig_backward; ig_graph_free at the end. */
#ifndef IG_H
#define IG_H

#include <stddef.h>
#include <stdint.h>

#define IG_MAX_IN   8  /* most inputs of one node (concat)        */
#define IG_N_ATTR   10 /* integer attributes per node             */
#define IG_N_FATTR  2  /* float attributes per node               */
#define IG_NAME_LEN 64 /* operator and parameter names, with NUL  */

/* The instruction set: X(ENUM, "name"). The names are the spellings used in
 * configs and artifacts; keep schemas/ in step when adding one. */
#define IG_OPCODES(X)                                                          \
    X(INPUT, "input")             /* attr: C, H, W, wants gradient      */     \
    X(CONV2D, "conv2d")           /* attr: OC,KH,KW,SH,SW,PH,PW,G,bias  */     \
    X(DWCONV2D, "dwconv2d")       /* depthwise: as conv2d, OC = G = C   */     \
    X(PWCONV2D, "pwconv2d")       /* 1x1 conv / matmul: OC, G, bias     */     \
    X(LINEAR, "linear")           /* attr: OUT, bias; input (C,1,1)     */     \
    X(BATCHNORM, "batchnorm")     /* fattr: eps, momentum               */     \
    X(SCALE_BIAS, "scale_bias")   /* per-channel scale and bias         */     \
    X(RELU, "relu")                                                            \
    X(RELU6, "relu6")                                                          \
    X(SIGMOID, "sigmoid")                                                      \
    X(HARDSIGMOID, "hardsigmoid")                                              \
    X(HARDSWISH, "hardswish")                                                  \
    X(TANH, "tanh")                                                            \
    X(IDENTITY, "identity")                                                    \
    X(ADD, "add")                 /* b may be (C,1,1): broadcast        */     \
    X(SUB, "sub")                                                              \
    X(MUL, "mul")                                                              \
    X(MAX, "max")                                                              \
    X(MAXPOOL, "maxpool")         /* attr: KH,KW,SH,SW,PH,PW,ceil       */     \
    X(AVGPOOL, "avgpool")         /* attr: ...,ceil,count_include_pad   */     \
    X(GLOBAL_AVGPOOL, "global_avgpool")                                        \
    X(CONCAT, "concat")           /* along channels, 2..IG_MAX_IN in    */     \
    X(SPLIT, "split")             /* one channel slice: offset, count   */     \
    X(CHANNEL_SHUFFLE, "channel_shuffle") /* attr: groups               */     \
    X(DROPOUT, "dropout")         /* fattr: p                           */     \
    X(FLATTEN, "flatten")         /* (C,H,W) -> (C*H*W,1,1)             */     \
    X(SOFTMAX_XENT, "softmax_xent") /* logits (K,1,1) -> mean loss      */

typedef enum {
#define IG_ENUM(e, s) IG_OP_##e,
    IG_OPCODES(IG_ENUM)
#undef IG_ENUM
    IG_OP_COUNT
} ig_opcode;

/* Attribute slots of the convolution family, pooling and the rest. */
enum { IG_A_OC = 0, IG_A_KH, IG_A_KW, IG_A_SH, IG_A_SW, IG_A_PH, IG_A_PW, IG_A_GROUPS, IG_A_BIAS };
enum { IG_A_POOL_KH = 0, IG_A_POOL_KW, IG_A_POOL_SH, IG_A_POOL_SW, IG_A_POOL_PH, IG_A_POOL_PW,
       IG_A_POOL_CEIL, IG_A_POOL_INCLUDE_PAD };

typedef struct {
    int32_t c, h, w; /* per-sample shape; the batch N is set by ig_graph_plan */
} ig_shape;

typedef struct {
    int32_t  op;                 /* ig_opcode                                  */
    int32_t  n_in;               /* number of inputs                           */
    int32_t  in[IG_MAX_IN];      /* input node indices, all < this node's      */
    int32_t  attr[IG_N_ATTR];    /* opcode-specific integers (see IG_OPCODES)  */
    float    fattr[IG_N_FATTR];  /* opcode-specific floats                     */
    int32_t  operator_id;        /* the named operator it belongs to, or -1    */
    /* Derived when the node is added or the graph finalized/planned: */
    ig_shape shape;              /* output shape per sample                    */
    int32_t  param_first;        /* first index into g->params                 */
    int32_t  n_params;           /* number of parameter tensors                */
    size_t   state_off;          /* offset into g->state (batch-norm stats)    */
    size_t   act_off;            /* offset of the output in g->act / g->dact   */
    size_t   aux_off;            /* offset of saved data in g->aux             */
    uint8_t  needs_grad;         /* 1 when a gradient flows through the output */
} ig_node;

/* Weights and biases of conv/linear; per-channel gamma (scale, initialised
 * to 1) and beta (shift, 0) of batchnorm and scale_bias. */
typedef enum { IG_PARAM_WEIGHT, IG_PARAM_BIAS, IG_PARAM_GAMMA, IG_PARAM_BETA } ig_param_kind;

typedef struct {
    char    name[IG_NAME_LEN];   /* "<node>.<weight|bias|gamma|beta>"          */
    int32_t node;                /* owning node                                */
    int32_t kind;                /* ig_param_kind                              */
    int32_t dims[4];             /* shape, unused trailing dims are 1          */
    size_t  offset;              /* into g->param, g->grad, optimizer slabs    */
    size_t  count;               /* number of floats                           */
    int32_t fan_in;              /* for initialisation                         */
} ig_param;

typedef struct {
    char name[IG_NAME_LEN];
} ig_operator;

typedef struct ig_graph {
    int          n_nodes, cap_nodes;
    ig_node     *nodes;              /* (n_nodes) in topological order         */
    int          n_operators, cap_operators;
    ig_operator *operators;          /* (n_operators)                          */
    int          open_operator;      /* operator receiving new nodes, or -1    */
    int          finalized;

    int          n_params;
    ig_param    *params;             /* (n_params) views into the slabs        */
    size_t       param_size;         /* floats in param and grad               */
    float       *param;              /* (param_size) trainable parameters      */
    float       *grad;               /* (param_size) their gradients           */
    size_t       state_size;
    float       *state;              /* (state_size) batch-norm running stats  */

    int          batch;              /* N of the current plan, 0 before        */
    size_t       act_size, aux_size, work_size;
    size_t       act_cap, dact_cap, aux_cap, work_cap, labels_cap; /* allocated */
    float       *act;                /* (act_size) every node's output         */
    float       *dact;               /* (act_size) their gradients, when
                                        grads_planned                          */
    int          grads_planned;      /* 0: planned for inference alone        */
    int          dact_clean;         /* 1: dact is zero but for the gradients
                                        no backward consumes (ig_exec.c)      */
    int          dact_seeded;        /* the node ig_seed_gradient wrote last,
                                        or -1                                  */
    float       *aux;                /* (aux_size) saved data for backward     */
    float       *work;               /* (work_size) shared kernel workspace    */
    int32_t     *labels;             /* (batch) class labels for the loss      */

    int          training;           /* 1: batch statistics, dropout active    */
    uint64_t     dropout_seed;       /* mixed with the step count per forward  */
    uint64_t     step;               /* forwards run in training mode          */
    float        loss;               /* value of the last softmax_xent node    */
} ig_graph;

/* ---- building -------------------------------------------------------- */

/* A new, empty graph. Caller owns it; free with ig_graph_free (NULL ok). */
ig_graph *ig_graph_alloc(void);
void ig_graph_free(ig_graph *g);

/* Appends a node given its op, inputs and attributes (the derived fields are
 * ignored), after validating its inputs and inferring its shape. Returns the
 * new node's index, or a negative pl_status with a message naming the node. */
int ig_add(ig_graph *g, const ig_node *spec);

/* Starts a named operator: nodes added until ig_operator_end belong to it.
 * Returns its index or a negative status (nested or duplicate name). */
int ig_operator_begin(ig_graph *g, const char *name);
void ig_operator_end(ig_graph *g);

/* Opens the existing operator id again: nodes added until ig_operator_end
 * join it (rebuilding a graph with an operator replaced keeps the operator
 * list and order). Returns id or a negative status. */
int ig_operator_reopen(ig_graph *g, int id);

/* Convenience builders over ig_add; each returns the node index or < 0. */
int ig_input(ig_graph *g, int c, int h, int w);
/* Asks for the gradient of an input node to be computed by ig_backward (for
 * gradient checks and for operators cut out of a model); before finalize. */
void ig_input_wants_gradient(ig_graph *g, int node);
int ig_conv2d(ig_graph *g, int in, int oc, int kh, int kw, int sh, int sw, int ph, int pw,
              int groups, int bias);
int ig_dwconv2d(ig_graph *g, int in, int k, int stride, int pad, int bias);
int ig_pwconv2d(ig_graph *g, int in, int oc, int groups, int bias);
int ig_linear(ig_graph *g, int in, int out, int bias);
int ig_batchnorm(ig_graph *g, int in);
int ig_scale_bias(ig_graph *g, int in);
int ig_unary(ig_graph *g, ig_opcode op, int in);
int ig_binary(ig_graph *g, ig_opcode op, int a, int b);
int ig_maxpool(ig_graph *g, int in, int k, int stride, int pad, int ceil_mode);
int ig_avgpool(ig_graph *g, int in, int k, int stride, int pad, int ceil_mode,
               int count_include_pad);
int ig_global_avgpool(ig_graph *g, int in);
int ig_concat(ig_graph *g, const int *ins, int count);
int ig_split(ig_graph *g, int in, int offset, int count);
int ig_channel_shuffle(ig_graph *g, int in, int groups);
int ig_dropout(ig_graph *g, int in, float p);
int ig_flatten(ig_graph *g, int in);
int ig_softmax_xent(ig_graph *g, int logits);

/* A finalized copy of g (finalized) with its nodes, operators, parameters and
 * state; when add_loss_on >= 0 a softmax_xent node on that node is
 * appended (outside every operator) and its index stored in *loss_node.
 * Returns NULL only when adding the loss fails (message recorded). */
ig_graph *ig_graph_copy(const ig_graph *g, int add_loss_on, int *loss_node);

/* Lays out and allocates the parameter, gradient and state slabs (once).
 * No node can be added afterwards. */
int ig_graph_finalize(ig_graph *g);

/* PyTorch's default initialisation, seeded: conv/linear weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); gamma 1 and beta 0 (batchnorm and
 * scale_bias); running mean 0, running variance 1. */
void ig_graph_init_params(ig_graph *g, uint64_t seed);

/* Sizes the activation, gradient, saved-data and workspace slabs for batch N.
 * Allocates only when a slab must grow; re-planning for a smaller or equal
 * batch reuses the memory. */
int ig_graph_plan(ig_graph *g, int batch);

/* As ig_graph_plan without the activation-gradient slab (as large as the
 * activations', so planning costs half the fresh memory), then evaluation
 * mode: for a graph that only runs forward (accuracy, timing, capturing
 * activations, a distillation teacher). Gradients need a new ig_graph_plan;
 * ig_gradient, ig_seed_gradient and ig_backward abort until then. */
int ig_graph_plan_inference(ig_graph *g, int batch);

/* The kernel workspace, grown to at least floats when it is smaller: some
 * kernels' workspace grows with the thread count (nn_conv2d_workspace), which
 * may be raised after planning. Allocates only on that growth. */
float *ig_graph_work(ig_graph *g, size_t floats);

/* ---- running ----------------------------------------------------------- */

/* Training (1) or evaluation (0) mode: batch-norm statistics and dropout.
 * Training needs more than one value per channel at every batchnorm (as in
 * PyTorch): PL_ERR_SHAPE otherwise, naming the node. */
int ig_set_training(ig_graph *g, int training);

/* The output buffer of node i, (batch, C, H, W). Write inputs here. */
float *ig_value(const ig_graph *g, int node);

/* The gradient buffer of node i, (batch, C, H, W). After ig_backward it
 * holds the gradient of the nodes no backward consumes (an input node that
 * asked for one, attr[3]); the others' are zeroed as the pass consumes
 * them, ready for the next pass. */
float *ig_gradient(const ig_graph *g, int node);

/* Runs every node in order. Labels (batch) are read by softmax_xent nodes and
 * may be NULL when the graph has none. */
void ig_forward(ig_graph *g, const int32_t *labels);

/* Runs node i alone, reading its inputs' current values (profiling times an
 * operator's nodes this way, after one whole forward filled the inputs). */
void ig_forward_node(ig_graph *g, int node);

/* Zeroes the parameter gradients. */
void ig_zero_grad(ig_graph *g);

/* Reverse-mode pass over the whole graph: zeroes the activation gradients,
 * seeds the gradient of the loss node `seed_node` with 1 (a softmax_xent
 * node), or, when seed_node is some other node, expects the caller to have
 * written that node's gradient with ig_seed_gradient first; then accumulates
 * into the parameter gradients. Each node's activation gradient is zeroed
 * right after its backward has consumed it (still in cache), so the next
 * pass need not clear the whole slab. */
void ig_backward(ig_graph *g, int seed_node);

/* Zeroes all activation gradients and copies dout (batch,C,H,W) into node's
 * gradient, for ig_backward from a non-loss node. */
void ig_seed_gradient(ig_graph *g, int node, const float *dout);

/* ---- inspection -------------------------------------------------------- */

const char *ig_opcode_name(int op);
/* The opcode with this name, or -1. */
int ig_opcode_from_name(const char *name);

/* Trainable parameters of node i, and of the whole graph. */
size_t ig_node_param_count(const ig_graph *g, int node);
size_t ig_graph_param_count(const ig_graph *g);

/* Floating-point operations of node i per sample (a multiply-add counts 2),
 * and of the whole graph. */
double ig_node_flops(const ig_graph *g, int node);
double ig_graph_flops(const ig_graph *g);

/* Bytes node i moves in one forward at batch N, counting each input and the
 * output once (N * C*H*W floats each) and its parameters once: the memory
 * traffic a roofline model charges it with. */
double ig_node_bytes(const ig_graph *g, int node, int batch);

/* The boundary of operator id: inputs are nodes outside it that feed nodes
 * inside; outputs are nodes inside that feed nodes outside, or that nothing
 * consumes. Each array must hold g->n_nodes entries; counts are written.
 * The lists are in node order. */
void ig_operator_boundary(const ig_graph *g, int id, int *inputs, int *n_inputs,
                          int *outputs, int *n_outputs);

/* Returns the operator index with this name, or -1. */
int ig_operator_find(const ig_graph *g, const char *name);

#endif
