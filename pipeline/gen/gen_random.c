/* gen_random.c: random candidates from scratch, and the random
 * hyperparameters that mutations reuse.
 *
 * Hyperparameter sets (c = the first input's channels, (h, w) its size):
 *   output channels   uniform over {output channels of the boundary, c,
 *                     c/2, 2c, c/4, 4c} (at least 1, at most 8 times the
 *                     boundary's largest channel count)
 *   stride            2 with probability 1/2 when h is above the boundary
 *                     output's height, else 1/10; otherwise 1
 *   conv2d            kernel 1, 3, 5 or 7 (only 1 without dense_conv),
 *                     padding k/2, groups 1 (p = 0.7) or a random divisor of
 *                     gcd(c, out), bias 0 or 1
 *   dwconv2d          kernel 3, 5 or 7, padding k/2, bias 0 or 1
 *   pwconv2d, linear  output channels, groups as conv2d (pwconv2d), bias
 *   maxpool, avgpool  kernel 2 (padding 0) or 3 (padding 1); avgpool counts
 *                     the padding (PyTorch's default)
 *   split             one of 2 or 4 equal parts
 *   channel_shuffle   a random divisor of c above 1
 *   concat            2 inputs (p = 3/4) or 3
 *   batchnorm         eps 1e-5, momentum 0.1 */
#include "gen.h"
#include "pl_err.h"

#include <string.h>

static int uniform_int(gsl_rng *r, int n) { return (int)gsl_rng_uniform_int(r, (unsigned long)n); }

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* A random divisor of n above 1, or 1 when n has none. */
static int random_divisor(int n, gsl_rng *r)
{
    int divs[64], m = 0;
    for (int k = 2; k <= n && m < 64; k++)
        if (n % k == 0) divs[m++] = k;
    return m ? divs[uniform_int(r, m)] : 1;
}

static int random_channels(int c, const gen_boundary *b, gsl_rng *r)
{
    int cmax = b->output.c;
    for (int i = 0; i < b->n_inputs; i++)
        if (b->inputs[i].c > cmax) cmax = b->inputs[i].c;
    cmax *= 8;
    int options[] = {b->output.c, c, c / 2, 2 * c, c / 4, 4 * c};
    int oc = options[uniform_int(r, 6)];
    if (oc < 1) oc = 1;
    return oc > cmax ? cmax : oc;
}

static int random_stride(const ig_shape *in, const gen_boundary *b, gsl_rng *r)
{
    double p2 = in->h > b->output.h ? 0.5 : 0.1;
    return gsl_rng_uniform(r) < p2 ? 2 : 1;
}

static int random_groups(int c, int oc, gsl_rng *r)
{
    return gsl_rng_uniform(r) < 0.7 ? 1 : random_divisor(gcd(c, oc), r);
}

static void set_conv(ig_node *nd, int oc, int k, int stride, int groups, int bias)
{
    int a[] = {oc, k, k, stride, stride, k / 2, k / 2, groups, bias};
    memcpy(nd->attr, a, sizeof a);
}

void gen_random_hyper(ig_node *nd, const ig_shape *shapes, const gen_boundary *b,
                      const gen_iset *s, gsl_rng *r)
{
    memset(nd->attr, 0, sizeof nd->attr);
    memset(nd->fattr, 0, sizeof nd->fattr);
    const ig_shape *in = &shapes[nd->in[0]];
    const int c = in->c;
    switch (nd->op) {
    case IG_OP_CONV2D: {
        static const int ks[] = {1, 3, 5, 7};
        int k = s->dense_conv ? ks[uniform_int(r, 4)] : 1;
        int oc = random_channels(c, b, r);
        set_conv(nd, oc, k, random_stride(in, b, r), random_groups(c, oc, r), uniform_int(r, 2));
        break;
    }
    case IG_OP_DWCONV2D:
        set_conv(nd, c, 3 + 2 * uniform_int(r, 3), random_stride(in, b, r), c, uniform_int(r, 2));
        break;
    case IG_OP_PWCONV2D: {
        int oc = random_channels(c, b, r);
        set_conv(nd, oc, 1, 1, random_groups(c, oc, r), uniform_int(r, 2));
        break;
    }
    case IG_OP_LINEAR:
        nd->attr[IG_A_OC] = random_channels(c, b, r);
        nd->attr[IG_A_BIAS] = 1;
        break;
    case IG_OP_BATCHNORM:
        nd->fattr[0] = 1e-5f;
        nd->fattr[1] = 0.1f;
        break;
    case IG_OP_MAXPOOL:
    case IG_OP_AVGPOOL: {
        int k = 2 + uniform_int(r, 2), st = random_stride(in, b, r), p = k == 3;
        int a[] = {k, k, st, st, p, p, 0, nd->op == IG_OP_AVGPOOL};
        memcpy(nd->attr, a, sizeof a);
        break;
    }
    case IG_OP_SPLIT: {
        int parts = uniform_int(r, 2) ? 4 : 2;
        int count = c / parts > 0 ? c / parts : 1;
        nd->attr[0] = count * uniform_int(r, parts);
        nd->attr[1] = count;
        break;
    }
    case IG_OP_CHANNEL_SHUFFLE: {
        int g = random_divisor(c, r);
        nd->attr[0] = g > 1 ? g : 2;
        break;
    }
    default: break; /* no hyperparameters */
    }
}

/* Inputs an opcode takes when generated. */
static int random_arity(int op, gsl_rng *r)
{
    switch (op) {
    case IG_OP_ADD:
    case IG_OP_SUB:
    case IG_OP_MUL:
    case IG_OP_MAX: return 2;
    case IG_OP_CONCAT: return gsl_rng_uniform(r) < 0.75 ? 2 : 3;
    default: return 1;
    }
}

int gen_random_dag(gen_dag *d, const gen_boundary *b, const gen_iset *s, int min_nodes,
                   int max_nodes, gsl_rng *r)
{
    PL_ASSERT(min_nodes >= 1 && min_nodes <= max_nodes);
    gen_dag_init(d, b);
    int room = GEN_MAX_NODES - d->n_inputs;
    if (max_nodes > room) max_nodes = room;
    if (min_nodes > max_nodes) min_nodes = max_nodes;
    int count = min_nodes + uniform_int(r, max_nodes - min_nodes + 1);
    int ops[IG_OP_COUNT], n_ops = 0;
    for (int op = 0; op < IG_OP_COUNT; op++)
        if (s->allowed[op]) ops[n_ops++] = op;
    PL_ASSERT(n_ops > 0);

    /* Shapes as far as they are known: a node whose inference fails stands
     * in the scratch graph as an input of its first input's shape, so later
     * nodes still see plausible shapes for their hyperparameters. */
    ig_shape shapes[GEN_MAX_NODES];
    ig_graph *g = ig_graph_alloc();
    for (int i = 0; i < d->n_inputs; i++) {
        int rc = ig_add(g, &d->nodes[i]);
        PL_ASSERT(rc == i);
        shapes[i] = g->nodes[i].shape;
    }
    for (int t = 0; t < count; t++) {
        const int n = d->n_nodes;
        ig_node nd;
        memset(&nd, 0, sizeof nd);
        nd.operator_id = -1;
        nd.op = ops[uniform_int(r, n_ops)];
        nd.n_in = random_arity(nd.op, r);
        nd.in[0] = gsl_rng_uniform(r) < 0.5 ? n - 1 : uniform_int(r, n);
        for (int k = 1; k < nd.n_in; k++) nd.in[k] = uniform_int(r, n);
        gen_random_hyper(&nd, shapes, b, s, r);
        int at = gen_dag_append(d, &nd);
        PL_ASSERT(at == n);
        if (ig_add(g, &nd) >= 0) {
            shapes[n] = g->nodes[n].shape;
        } else {
            /* A shape-invalid node: an input node of its first input's
             * shape stands in for it in the shape graph, so later nodes keep
             * their indices (the DAG itself keeps the invalid node and is
             * judged invalid at the end). */
            shapes[n] = shapes[nd.in[0]];
            int stand_in = ig_input(g, shapes[n].c, shapes[n].h, shapes[n].w);
            PL_ASSERT(stand_in == n);
        }
    }
    ig_graph_free(g);
    d->output = d->n_nodes - 1;
    gen_dag_prune(d);
    return gen_dag_valid(d, b);
}
