/* gen_mutate.c: mutations and crossover of candidates, with shape repair.
 *
 * A mutation edits a copy of the parent (change an opcode, a hyperparameter,
 * insert a node on an edge, bypass a node, move an edge), prunes it and
 * checks its shapes. A child that breaks shapes goes through repair, which
 * fixes the first failing node and tries again (a few rounds):
 *   dwconv2d          follows its input's channels (OC = groups = C)
 *   conv2d, pwconv2d  groups shrink to a common divisor; a kernel that
 *                     does not fit becomes 1x1
 *   pooling           a window that does not fit becomes 1x1
 *   split, shuffle    the slice or the groups are clamped to the channels
 *   linear            a global_avgpool is inserted before it
 *   add/sub/mul/max   a commutative op with its broadcast operand first is
 *                     swapped; otherwise one operand (drawn at random, the
 *                     other tried next) is bridged to the other's shape
 *   concat            a mismatched input is bridged to input 0's size
 *   the output        is bridged to the boundary's output shape
 * A bridge inserts global_avgpool or stride-2 reductions (pooling, depthwise
 * or 1x1 strided convolution, whichever s allows) for the size, then a
 * pointwise convolution for the channels; it cannot enlarge. What cannot be
 * repaired is rejected: the child is then a copy of the parent. */
#include "gen.h"
#include "pl_err.h"

#include <string.h>

enum { REPAIR_ROUNDS = 12, PICK_TRIES = 16 };

static const char *const mutation_names[GEN_MUT_COUNT + 1] = {
    "change_op", "hyper", "insert", "delete", "rewire", "crossover"};

const char *gen_mutation_name(int kind)
{
    PL_ASSERT(kind >= 0 && kind <= GEN_MUT_COUNT);
    return mutation_names[kind];
}

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

static int same_shape(const ig_shape *a, const ig_shape *b)
{
    return a->c == b->c && a->h == b->h && a->w == b->w;
}

/* Arity classes an opcode change stays within. */
enum { CLASS_UNARY, CLASS_BINARY, CLASS_CONCAT, CLASS_NONE };

static int op_class(int op)
{
    switch (op) {
    case IG_OP_ADD:
    case IG_OP_SUB:
    case IG_OP_MUL:
    case IG_OP_MAX: return CLASS_BINARY;
    case IG_OP_CONCAT: return CLASS_CONCAT;
    case IG_OP_INPUT:
    case IG_OP_SOFTMAX_XENT: return CLASS_NONE;
    default: return CLASS_UNARY;
    }
}

static ig_node new_node(int op, int in0)
{
    ig_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = op;
    nd.n_in = 1;
    nd.in[0] = in0;
    nd.operator_id = -1;
    return nd;
}

static void set_conv(ig_node *nd, int oc, int k, int stride, int pad, int groups, int bias)
{
    int a[] = {oc, k, k, stride, stride, pad, pad, groups, bias};
    memset(nd->attr, 0, sizeof nd->attr);
    memcpy(nd->attr, a, sizeof a);
}

static void set_pool(ig_node *nd, int k, int stride, int pad)
{
    int a[] = {k, k, stride, stride, pad, pad, 0, nd->op == IG_OP_AVGPOOL};
    memset(nd->attr, 0, sizeof nd->attr);
    memcpy(nd->attr, a, sizeof a);
}

static int count_disallowed(const gen_dag *d, const gen_iset *s)
{
    int n = 0;
    for (int i = d->n_inputs; i < d->n_nodes; i++) n += !gen_iset_allows(s, &d->nodes[i]);
    return n;
}

/* ---- editing ------------------------------------------------------------- */

/* Inserts spec (inputs < pos) at pos, shifting later nodes and their
 * references. Returns pos, or -1 when d is full. */
static int dag_insert(gen_dag *d, int pos, const ig_node *spec)
{
    if (d->n_nodes >= GEN_MAX_NODES) return -1;
    PL_ASSERT(pos >= d->n_inputs && pos <= d->n_nodes);
    for (int k = 0; k < spec->n_in; k++) PL_ASSERT(spec->in[k] >= 0 && spec->in[k] < pos);
    memmove(&d->nodes[pos + 1], &d->nodes[pos], (size_t)(d->n_nodes - pos) * sizeof d->nodes[0]);
    d->n_nodes++;
    for (int i = pos + 1; i < d->n_nodes; i++)
        for (int k = 0; k < d->nodes[i].n_in; k++)
            if (d->nodes[i].in[k] >= pos) d->nodes[i].in[k]++;
    if (d->output >= pos) d->output++;
    ig_node *nd = &d->nodes[pos];
    memset(nd, 0, sizeof *nd);
    nd->op = spec->op;
    nd->n_in = spec->n_in;
    memcpy(nd->in, spec->in, sizeof nd->in);
    memcpy(nd->attr, spec->attr, sizeof nd->attr);
    memcpy(nd->fattr, spec->fattr, sizeof nd->fattr);
    nd->operator_id = -1;
    return pos;
}

/* -1 when d is shape-valid for b; else the first node whose shape inference
 * fails, or d->n_nodes when only the output is wrong. shapes receives the
 * shapes of the nodes before the returned index (all of them otherwise). */
static int first_failure(const gen_dag *d, const gen_boundary *b, ig_shape *shapes)
{
    int f = gen_dag_shapes(d, shapes);
    if (f < d->n_nodes) return f;
    if (d->output < d->n_inputs || d->output >= d->n_nodes) return d->n_nodes;
    return same_shape(&shapes[d->output], &b->output) ? -1 : d->n_nodes;
}

/* ---- hyperparameters aimed at a shape ------------------------------------ */

/* From size in to size want: 1 the same, 2 halved rounding up, 3 halved
 * rounding down (only when that differs), 0 none of these. */
static int size_step(const ig_shape *in, const ig_shape *want)
{
    if (want->h == in->h && want->w == in->w) return 1;
    if (want->h == (in->h + 1) / 2 && want->w == (in->w + 1) / 2) return 2;
    if (want->h == in->h / 2 && want->w == in->w / 2) return 3;
    return 0;
}

/* Random hyperparameters for nd, then adjusted where the opcode allows so
 * that its output has shape want. */
static void fit_hyper(ig_node *nd, const ig_shape *shapes, const ig_shape *want,
                      const gen_boundary *b, const gen_iset *s, gsl_rng *r)
{
    gen_random_hyper(nd, shapes, b, s, r);
    const ig_shape *in = &shapes[nd->in[0]];
    const int step = size_step(in, want);
    int *a = nd->attr;
    switch (nd->op) {
    case IG_OP_CONV2D:
    case IG_OP_DWCONV2D:
        if (nd->op == IG_OP_CONV2D) {
            a[IG_A_OC] = want->c;
            if (in->c % a[IG_A_GROUPS] || want->c % a[IG_A_GROUPS]) a[IG_A_GROUPS] = 1;
        }
        if (step == 1 || step == 2) {
            a[IG_A_SH] = a[IG_A_SW] = step;
        } else if (step == 3 && (nd->op == IG_OP_DWCONV2D || s->dense_conv)) {
            a[IG_A_KH] = a[IG_A_KW] = 3;
            a[IG_A_SH] = a[IG_A_SW] = 2;
            a[IG_A_PH] = a[IG_A_PW] = 0;
        }
        break;
    case IG_OP_PWCONV2D:
        a[IG_A_OC] = want->c;
        if (in->c % a[IG_A_GROUPS] || want->c % a[IG_A_GROUPS]) a[IG_A_GROUPS] = 1;
        break;
    case IG_OP_LINEAR: a[IG_A_OC] = want->c; break;
    case IG_OP_MAXPOOL:
    case IG_OP_AVGPOOL:
        if (step == 1) set_pool(nd, 3, 1, 1);
        if (step == 2) set_pool(nd, 3, 2, 1);
        if (step == 3) set_pool(nd, 2, 2, 0);
        break;
    case IG_OP_SPLIT:
        if (want->c <= in->c) {
            a[1] = want->c;
            a[0] = uniform_int(r, in->c - want->c + 1);
        }
        break;
    default: break;
    }
}

/* ---- bridges and repair -------------------------------------------------- */

/* One stride-2 reduction of src (channels kept), rounding up (ceil = 1) or
 * down, from an opcode s allows; -1 when none is allowed. */
static int pick_reduction(ig_node *nd, int src, int c, int ceil, const gen_iset *s, gsl_rng *r)
{
    ig_node opts[4];
    int m = 0;
    if (s->allowed[IG_OP_MAXPOOL]) {
        opts[m] = new_node(IG_OP_MAXPOOL, src);
        set_pool(&opts[m++], ceil ? 3 : 2, 2, ceil ? 1 : 0);
    }
    if (s->allowed[IG_OP_AVGPOOL]) {
        opts[m] = new_node(IG_OP_AVGPOOL, src);
        set_pool(&opts[m++], ceil ? 3 : 2, 2, ceil ? 1 : 0);
    }
    if (s->allowed[IG_OP_DWCONV2D]) {
        opts[m] = new_node(IG_OP_DWCONV2D, src);
        set_conv(&opts[m++], c, 3, 2, ceil ? 1 : 0, c, 0);
    }
    if (s->allowed[IG_OP_CONV2D] && (ceil || s->dense_conv)) {
        opts[m] = new_node(IG_OP_CONV2D, src);
        set_conv(&opts[m++], c, ceil ? 1 : 3, 2, 0, 1, 0);
    }
    if (m == 0) return -1;
    *nd = opts[uniform_int(r, m)];
    return 0;
}

/* Inserts at *pos (> src) the nodes that turn src's value, of shape from,
 * into shape to; *pos advances past them. Returns the last node (src when
 * nothing was needed), or -1 when that is impossible or d is full. */
static int bridge(gen_dag *d, int src, ig_shape from, const ig_shape *to, int *pos,
                  const gen_iset *s, gsl_rng *r)
{
    int cur = src;
    ig_shape sh = from;
    for (int round = 0; round < 4 && (sh.h != to->h || sh.w != to->w); round++) {
        ig_node nd;
        const int hc = (sh.h + 1) / 2, wc = (sh.w + 1) / 2;
        if (to->h == 1 && to->w == 1 && s->allowed[IG_OP_GLOBAL_AVGPOOL]) {
            nd = new_node(IG_OP_GLOBAL_AVGPOOL, cur);
            sh.h = sh.w = 1;
        } else {
            int step = size_step(&sh, to);
            if (step == 0 && !(to->h <= hc && to->w <= wc)) return -1;
            int ceil = step != 3;
            if (pick_reduction(&nd, cur, sh.c, ceil, s, r) < 0) return -1;
            sh.h = ceil ? hc : sh.h / 2;
            sh.w = ceil ? wc : sh.w / 2;
        }
        if (dag_insert(d, *pos, &nd) < 0) return -1;
        cur = (*pos)++;
    }
    if (sh.h != to->h || sh.w != to->w) return -1;
    if (sh.c != to->c) {
        ig_node nd;
        if (s->allowed[IG_OP_PWCONV2D]) {
            nd = new_node(IG_OP_PWCONV2D, cur);
            set_conv(&nd, to->c, 1, 1, 0, 1, uniform_int(r, 2));
        } else if (s->allowed[IG_OP_CONV2D]) {
            nd = new_node(IG_OP_CONV2D, cur);
            set_conv(&nd, to->c, 1, 1, 0, 1, uniform_int(r, 2));
        } else {
            return -1;
        }
        if (dag_insert(d, *pos, &nd) < 0) return -1;
        cur = (*pos)++;
    }
    return cur;
}

/* Bridges input k of node f to shape to, on a scratch copy kept only on
 * success. Returns 1 when done. */
static int bridge_input(gen_dag *d, int f, int k, const ig_shape *from, const ig_shape *to,
                        const gen_iset *s, gsl_rng *r)
{
    gen_dag t = *d;
    int pos = f;
    int last = bridge(&t, t.nodes[f].in[k], *from, to, &pos, s, r);
    if (last < 0) return 0;
    t.nodes[pos].in[k] = last; /* node f now sits at pos */
    *d = t;
    return 1;
}

static int fix_binary(gen_dag *d, int f, const ig_shape *shapes, const gen_iset *s, gsl_rng *r)
{
    ig_node *nd = &d->nodes[f];
    const ig_shape a = shapes[nd->in[0]], bs = shapes[nd->in[1]];
    const int a_vec = a.h == 1 && a.w == 1, b_vec = bs.h == 1 && bs.w == 1;
    if (a.c == bs.c && a_vec && !b_vec && op_class(nd->op) == CLASS_BINARY && nd->op != IG_OP_SUB) {
        int t = nd->in[0];
        nd->in[0] = nd->in[1];
        nd->in[1] = t;
        return 1;
    }
    /* Side 1: operand 1 takes operand 0's shape (only its channels when it
     * is a broadcast (C,1,1) operand); side 0: the other way round. */
    ig_shape to1 = b_vec ? (ig_shape){a.c, 1, 1} : a;
    ig_shape to0 = b_vec ? (ig_shape){bs.c, a.h, a.w} : bs;
    int first = uniform_int(r, 2);
    for (int t = 0; t < 2; t++) {
        int side = (first + t) % 2;
        if (side == 1 && bridge_input(d, f, 1, &bs, &to1, s, r)) return 1;
        if (side == 0 && bridge_input(d, f, 0, &a, &to0, s, r)) return 1;
    }
    return 0;
}

/* A convolution kernel that does not fit its input becomes 1x1. */
static int shrink_kernel(ig_node *nd)
{
    int *a = nd->attr;
    if (a[IG_A_KH] == 1 && a[IG_A_KW] == 1) return 0;
    a[IG_A_KH] = a[IG_A_KW] = 1;
    a[IG_A_PH] = a[IG_A_PW] = 0;
    return 1;
}

/* Fixes node f, the first whose shape inference fails (its inputs' shapes
 * are known). Returns 1 when something changed. */
static int fix_node(gen_dag *d, int f, const ig_shape *shapes, const gen_iset *s, gsl_rng *r)
{
    ig_node *nd = &d->nodes[f];
    const ig_shape *in = &shapes[nd->in[0]];
    int *a = nd->attr;
    switch (nd->op) {
    case IG_OP_DWCONV2D:
        if (a[IG_A_OC] != in->c || a[IG_A_GROUPS] != in->c) {
            a[IG_A_OC] = a[IG_A_GROUPS] = in->c;
            return 1;
        }
        return shrink_kernel(nd);
    case IG_OP_CONV2D:
    case IG_OP_PWCONV2D: {
        int g = 1;
        if (a[IG_A_OC] > 0 && a[IG_A_GROUPS] > 0) g = gcd(gcd(in->c, a[IG_A_OC]), a[IG_A_GROUPS]);
        if (g != a[IG_A_GROUPS]) {
            a[IG_A_GROUPS] = g;
            return 1;
        }
        return nd->op == IG_OP_CONV2D ? shrink_kernel(nd) : 0;
    }
    case IG_OP_MAXPOOL:
    case IG_OP_AVGPOOL:
        if (a[IG_A_POOL_KH] == 1 && a[IG_A_POOL_KW] == 1) return 0;
        set_pool(nd, 1, a[IG_A_POOL_SH], 0);
        return 1;
    case IG_OP_SPLIT: {
        int offset = a[0], count = a[1];
        if (count < 1) count = 1;
        if (count > in->c) count = in->c;
        if (offset < 0) offset = 0;
        if (offset + count > in->c) offset = in->c - count;
        if (offset == a[0] && count == a[1]) return 0;
        a[0] = offset;
        a[1] = count;
        return 1;
    }
    case IG_OP_CHANNEL_SHUFFLE: {
        int g = a[0] < in->c ? a[0] : in->c;
        while (g > 1 && in->c % g) g--;
        if (g < 1) g = 1;
        if (g == a[0]) return 0;
        a[0] = g;
        return 1;
    }
    case IG_OP_LINEAR: {
        ig_shape to = {in->c, 1, 1};
        return in->h != 1 || in->w != 1 ? bridge_input(d, f, 0, in, &to, s, r) : 0;
    }
    case IG_OP_ADD:
    case IG_OP_SUB:
    case IG_OP_MUL:
    case IG_OP_MAX: return fix_binary(d, f, shapes, s, r);
    case IG_OP_CONCAT:
        for (int k = 1; k < nd->n_in; k++) {
            const ig_shape *sk = &shapes[nd->in[k]];
            if (sk->h == in->h && sk->w == in->w) continue;
            ig_shape to = {sk->c, in->h, in->w};
            return bridge_input(d, f, k, sk, &to, s, r);
        }
        return 0;
    default: return 0;
    }
}

/* Repairs d in place; 1 when it is shape-valid afterwards. */
static int repair(gen_dag *d, const gen_boundary *b, const gen_iset *s, gsl_rng *r)
{
    ig_shape shapes[GEN_MAX_NODES];
    for (int round = 0; round < REPAIR_ROUNDS; round++) {
        int f = first_failure(d, b, shapes);
        if (f < 0) return 1;
        if (f < d->n_nodes) {
            if (!fix_node(d, f, shapes, s, r)) return 0;
            continue;
        }
        if (d->output < d->n_inputs || d->output >= d->n_nodes) return 0;
        int pos = d->n_nodes;
        int out = bridge(d, d->output, shapes[d->output], &b->output, &pos, s, r);
        if (out < 0 || out == d->output) return 0;
        d->output = out;
    }
    return 0;
}

/* ---- the mutations ------------------------------------------------------- */

static int random_instruction(const gen_dag *d, gsl_rng *r)
{
    return d->n_inputs + uniform_int(r, d->n_nodes - d->n_inputs);
}

static int mut_change_op(gen_dag *d, const ig_shape *shapes, const gen_boundary *b,
                         const gen_iset *s, gsl_rng *r)
{
    for (int t = 0; t < PICK_TRIES; t++) {
        int i = random_instruction(d, r);
        ig_node *nd = &d->nodes[i];
        int cls = op_class(nd->op);
        if (cls != CLASS_UNARY && cls != CLASS_BINARY) continue;
        int ops[IG_OP_COUNT], m = 0;
        for (int op = 0; op < IG_OP_COUNT; op++)
            if (s->allowed[op] && op != nd->op && op_class(op) == cls) ops[m++] = op;
        if (m == 0) continue;
        nd->op = ops[uniform_int(r, m)];
        fit_hyper(nd, shapes, &shapes[i], b, s, r);
        return 1;
    }
    return 0;
}

enum { H_KERNEL, H_STRIDE, H_GROUPS, H_CHANNELS, H_SLICE, H_COUNT };

/* A new output channel count for a node with input channels c, now cur. */
static int other_channels(int c, int cur, const gen_boundary *b, gsl_rng *r)
{
    int cmax = b->output.c;
    for (int i = 0; i < b->n_inputs; i++)
        if (b->inputs[i].c > cmax) cmax = b->inputs[i].c;
    cmax *= 8;
    int opts[] = {b->output.c, c, c / 2, 2 * c, c / 4, 4 * c, cur / 2, 2 * cur}, m = 0;
    int ok[8];
    for (int k = 0; k < 8; k++)
        if (opts[k] >= 1 && opts[k] <= cmax && opts[k] != cur) ok[m++] = opts[k];
    return m ? ok[uniform_int(r, m)] : -1;
}

/* A random divisor of n (1 included) other than cur, or -1. */
static int other_divisor(int n, int cur, int min, gsl_rng *r)
{
    int divs[64], m = 0;
    for (int k = min; k <= n && m < 64; k++)
        if (n % k == 0 && k != cur) divs[m++] = k;
    return m ? divs[uniform_int(r, m)] : -1;
}

static int mut_hyper(gen_dag *d, const ig_shape *shapes, const gen_boundary *b, const gen_iset *s,
                     gsl_rng *r)
{
    for (int t = 0; t < PICK_TRIES; t++) {
        ig_node *nd = &d->nodes[random_instruction(d, r)];
        const ig_shape *in = &shapes[nd->in[0]];
        int *a = nd->attr, kinds[H_COUNT], m = 0;
        switch (nd->op) {
        case IG_OP_CONV2D:
            if (s->dense_conv) kinds[m++] = H_KERNEL;
            kinds[m++] = H_STRIDE;
            kinds[m++] = H_GROUPS;
            kinds[m++] = H_CHANNELS;
            break;
        case IG_OP_DWCONV2D:
        case IG_OP_MAXPOOL:
        case IG_OP_AVGPOOL:
            kinds[m++] = H_KERNEL;
            kinds[m++] = H_STRIDE;
            break;
        case IG_OP_PWCONV2D:
            kinds[m++] = H_GROUPS;
            kinds[m++] = H_CHANNELS;
            break;
        case IG_OP_LINEAR: kinds[m++] = H_CHANNELS; break;
        case IG_OP_SPLIT: kinds[m++] = H_SLICE; break;
        case IG_OP_CHANNEL_SHUFFLE: kinds[m++] = H_GROUPS; break;
        default: break;
        }
        if (m == 0) continue;
        const int pooling = nd->op == IG_OP_MAXPOOL || nd->op == IG_OP_AVGPOOL;
        switch (kinds[uniform_int(r, m)]) {
        case H_KERNEL: {
            if (pooling) {
                int k = a[IG_A_POOL_KH] == 2 ? 3 : 2;
                set_pool(nd, k, a[IG_A_POOL_SH], k == 3);
                return 1;
            }
            static const int ks[] = {1, 3, 5, 7};
            int opts[4], n = 0;
            for (int k = nd->op == IG_OP_DWCONV2D; k < 4; k++)
                if (ks[k] != a[IG_A_KH]) opts[n++] = ks[k];
            int k = opts[uniform_int(r, n)];
            a[IG_A_KH] = a[IG_A_KW] = k;
            a[IG_A_PH] = a[IG_A_PW] = k / 2;
            return 1;
        }
        case H_STRIDE: {
            int st = a[pooling ? IG_A_POOL_SH : IG_A_SH] == 1 ? 2 : 1;
            a[pooling ? IG_A_POOL_SH : IG_A_SH] = a[pooling ? IG_A_POOL_SW : IG_A_SW] = st;
            return 1;
        }
        case H_GROUPS: {
            int slot = nd->op == IG_OP_CHANNEL_SHUFFLE ? 0 : IG_A_GROUPS;
            int n = nd->op == IG_OP_CHANNEL_SHUFFLE ? in->c : gcd(in->c, a[IG_A_OC]);
            int g = other_divisor(n, a[slot], nd->op == IG_OP_CHANNEL_SHUFFLE ? 2 : 1, r);
            if (g < 0) continue;
            a[slot] = g;
            return 1;
        }
        case H_CHANNELS: {
            int oc = other_channels(in->c, a[IG_A_OC], b, r);
            if (oc < 0) continue;
            a[IG_A_OC] = oc;
            if (nd->op != IG_OP_LINEAR && oc % a[IG_A_GROUPS])
                a[IG_A_GROUPS] = gcd(oc, a[IG_A_GROUPS]);
            return 1;
        }
        case H_SLICE: {
            int count = 1 + uniform_int(r, in->c);
            int offset = uniform_int(r, in->c - count + 1);
            if (count == a[1] && offset == a[0]) continue;
            a[0] = offset;
            a[1] = count;
            return 1;
        }
        default: break;
        }
    }
    return 0;
}

static int mut_insert(gen_dag *d, const ig_shape *shapes, const gen_boundary *b,
                      const gen_iset *s, gsl_rng *r)
{
    if (d->n_nodes >= GEN_MAX_NODES) return 0;
    int edges = 1; /* the output edge, then every input slot of every node */
    for (int i = d->n_inputs; i < d->n_nodes; i++) edges += d->nodes[i].n_in;
    int e = uniform_int(r, edges), j = d->n_nodes, k = 0;
    for (int i = d->n_inputs; i < d->n_nodes && e > 0; i++) {
        if (e <= d->nodes[i].n_in) {
            j = i;
            k = e - 1;
            break;
        }
        e -= d->nodes[i].n_in;
    }
    const int x = j == d->n_nodes ? d->output : d->nodes[j].in[k];
    int ops[IG_OP_COUNT], m = 0;
    for (int op = 0; op < IG_OP_COUNT; op++)
        if (s->allowed[op] && op_class(op) != CLASS_NONE) ops[m++] = op;
    if (m == 0) return 0;
    ig_node nd = new_node(ops[uniform_int(r, m)], x);
    if (op_class(nd.op) != CLASS_UNARY) {
        nd.n_in = 2;
        nd.in[1] = uniform_int(r, j);
        if (uniform_int(r, 2)) {
            nd.in[1] = x;
            nd.in[0] = uniform_int(r, j);
        }
    }
    fit_hyper(&nd, shapes, &shapes[x], b, s, r);
    int at = dag_insert(d, j, &nd);
    if (at < 0) return 0;
    if (j == d->n_nodes - 1)
        d->output = at; /* the output edge: the new node is the output */
    else
        d->nodes[j + 1].in[k] = at;
    return 1;
}

static int mut_delete(gen_dag *d, gsl_rng *r)
{
    for (int t = 0; t < PICK_TRIES; t++) {
        int i = random_instruction(d, r);
        const ig_node *nd = &d->nodes[i];
        int rep = nd->in[uniform_int(r, nd->n_in)];
        if (i == d->output && rep < d->n_inputs) continue;
        for (int j = i + 1; j < d->n_nodes; j++)
            for (int k = 0; k < d->nodes[j].n_in; k++)
                if (d->nodes[j].in[k] == i) d->nodes[j].in[k] = rep;
        if (d->output == i) d->output = rep;
        return 1; /* the node is dead now; pruning removes it */
    }
    return 0;
}

static int mut_rewire(gen_dag *d, gsl_rng *r)
{
    for (int t = 0; t < PICK_TRIES; t++) {
        int j = random_instruction(d, r);
        if (j < 2) continue;
        int k = uniform_int(r, d->nodes[j].n_in);
        int u = uniform_int(r, j - 1);
        if (u >= d->nodes[j].in[k]) u++;
        d->nodes[j].in[k] = u;
        return 1;
    }
    return 0;
}

/* ---- driver -------------------------------------------------------------- */

/* Counts and finishes an attempt: a shape-valid pruned child (1), or the
 * parent's copy (0). */
static int finish(gen_dag *child, const gen_dag *parent, const gen_boundary *b,
                  const gen_iset *s, int disallowed_max, int kind, int applied, gsl_rng *r,
                  gen_mut_stats *st)
{
    int ok = 0, repaired = 0;
    if (applied) {
        gen_dag_prune(child);
        if (gen_dag_valid(child, b)) {
            ok = 1;
        } else if (repair(child, b, s, r)) {
            ok = repaired = 1;
            gen_dag_prune(child);
        }
        if (ok && count_disallowed(child, s) > disallowed_max) ok = 0;
    }
    if (st) {
        st->tried[kind]++;
        if (!ok) st->rejected[kind]++;
        else if (repaired) st->repaired[kind]++;
        else st->valid[kind]++;
    }
    if (!ok) *child = *parent;
    return ok;
}

int gen_mutate_kind(gen_dag *child, const gen_dag *parent, const gen_boundary *b,
                    const gen_iset *s, gen_mutation kind, gsl_rng *r, gen_mut_stats *st)
{
    PL_ASSERT(kind >= 0 && kind < GEN_MUT_COUNT);
    *child = *parent;
    gen_dag_prune(child);
    ig_shape shapes[GEN_MAX_NODES];
    int applied = 0;
    if (child->n_nodes > child->n_inputs && gen_dag_shapes(child, shapes) == child->n_nodes) {
        switch (kind) {
        case GEN_MUT_CHANGE_OP: applied = mut_change_op(child, shapes, b, s, r); break;
        case GEN_MUT_HYPER: applied = mut_hyper(child, shapes, b, s, r); break;
        case GEN_MUT_INSERT: applied = mut_insert(child, shapes, b, s, r); break;
        case GEN_MUT_DELETE: applied = mut_delete(child, r); break;
        case GEN_MUT_REWIRE: applied = mut_rewire(child, r); break;
        default: break;
        }
    }
    return finish(child, parent, b, s, count_disallowed(parent, s), kind, applied, r, st);
}

int gen_mutate(gen_dag *child, const gen_dag *parent, const gen_boundary *b, const gen_iset *s,
               gsl_rng *r, gen_mut_stats *st)
{
    return gen_mutate_kind(child, parent, b, s, (gen_mutation)uniform_int(r, GEN_MUT_COUNT), r,
                           st);
}

int gen_crossover(gen_dag *child, const gen_dag *a, const gen_dag *b2, const gen_boundary *b,
                  const gen_iset *s, gsl_rng *r, gen_mut_stats *st)
{
    PL_ASSERT(a->n_inputs == b2->n_inputs);
    gen_dag pa = *a, pb = *b2;
    gen_dag_prune(&pa);
    gen_dag_prune(&pb);
    ig_shape sa[GEN_MAX_NODES], sb[GEN_MAX_NODES];
    int applied = 0;
    /* The crossover points: pairs (i of a, j of b2) of equal shapes. */
    int pairs = 0, pick_i = -1, pick_j = -1;
    if (gen_dag_shapes(&pa, sa) == pa.n_nodes && gen_dag_shapes(&pb, sb) == pb.n_nodes) {
        for (int i = 0; i < pa.n_nodes; i++)
            for (int j = 0; j < pb.n_nodes; j++) {
                if (i < pa.n_inputs && (j < pb.n_inputs || j == pb.output)) continue;
                if (same_shape(&sa[i], &sb[j]) && uniform_int(r, ++pairs) == 0) {
                    pick_i = i; /* reservoir sampling: uniform over pairs */
                    pick_j = j;
                }
            }
    }
    gen_dag c = pa;
    if (pairs > 0) {
        c.output = pick_i;
        gen_dag_prune(&c);
        /* b2's nodes its output needs without passing through j. */
        uint8_t need[GEN_MAX_NODES] = {0};
        need[pb.output] = 1;
        for (int m = pb.n_nodes - 1; m >= pb.n_inputs; m--)
            if (need[m] && m != pick_j)
                for (int k = 0; k < pb.nodes[m].n_in; k++) need[pb.nodes[m].in[k]] = 1;
        int map[GEN_MAX_NODES], fits = 1;
        const int ai = c.output;
        for (int m = 0; m < pb.n_nodes && fits; m++) {
            if (m == pick_j) {
                map[m] = ai;
            } else if (m < pb.n_inputs) {
                map[m] = m;
            } else if (need[m]) {
                ig_node nd = pb.nodes[m];
                for (int k = 0; k < nd.n_in; k++) nd.in[k] = map[nd.in[k]];
                map[m] = gen_dag_append(&c, &nd);
                fits = map[m] >= 0;
            }
        }
        if (fits) {
            c.output = map[pb.output];
            *child = c;
            applied = 1;
        }
    }
    if (!applied) *child = *a;
    /* Crossover creates no node, so the disallowed nodes are the parents'. */
    return finish(child, a, b, s, count_disallowed(a, s) + count_disallowed(b2, s), GEN_MUT_COUNT,
                  applied, r, st);
}
