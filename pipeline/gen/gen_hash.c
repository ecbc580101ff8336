/* gen_hash.c: a candidate's canonical form, its structural hash (the same
 * for any topological order of the same DAG) and its functional hash (the
 * same for DAGs that compute the same values on fixed probe inputs).
 *
 * Canonical order: every node gets an "up" hash (Merkle: opcode, attributes
 * and its inputs' up hashes, the two inputs of add/mul/max sorted) and a
 * "down" hash (how its value is used: its consumers' down and up hashes and
 * input slots, slot-free for add/mul/max; the output is marked). Nodes are
 * placed by depth, then up hash, then down hash, then the canonical
 * positions of their inputs. The down hash separates nodes whose subgraphs
 * are equal but whose uses differ (relu(x) twice, one feeding a sigmoid and
 * one a tanh). Nodes that still tie are symmetric (two identical branches
 * joined by an add): one of them is placed, its position mixed into its
 * hash, and the hashes recomputed before the others are placed
 * (individualization and refinement, as in graph canonical labelling), so
 * that its branch-mates follow it consistently. This is exact whenever
 * equal refined hashes mean an automorphism, which holds for the small DAGs
 * here (tested on random reorderings of thousands of mutated candidates).
 * The structural hash is taken over this canonical array rather than being
 * the output's up hash: a Merkle hash alone cannot tell add(c1(x), c2(x))
 * (two convolutions, two weight sets) from add(c(x), c(x)) (one, shared). */
#include "gen.h"
#include "pl_err.h"

#include <math.h>
#include <string.h>

static inline uint64_t fmix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    return fmix64(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

static int commutative(const ig_node *nd)
{
    return nd->n_in == 2 && (nd->op == IG_OP_ADD || nd->op == IG_OP_MUL || nd->op == IG_OP_MAX);
}

/* Opcode, input count, attributes and float attribute bit patterns. */
static uint64_t content_hash(const ig_node *nd)
{
    uint64_t h = mix(0x5bd1e9955bd1e995ULL, (uint64_t)(uint32_t)nd->op);
    h = mix(h, (uint64_t)(uint32_t)nd->n_in);
    for (int a = 0; a < IG_N_ATTR; a++) h = mix(h, (uint64_t)(uint32_t)nd->attr[a]);
    for (int a = 0; a < IG_N_FATTR; a++) {
        uint32_t bits;
        memcpy(&bits, &nd->fattr[a], sizeof bits);
        h = mix(h, bits);
    }
    return h;
}

/* Merkle hashes of every node, (n_nodes); a node already given its
 * canonical position (pos >= 0) mixes it in, which individualizes it. */
static void up_hashes(const gen_dag *d, const int *pos, uint64_t *up)
{
    for (int i = 0; i < d->n_nodes; i++) {
        const ig_node *nd = &d->nodes[i];
        if (i < d->n_inputs) {
            up[i] = mix(0x1f83d9abfb41bd6bULL, (uint64_t)i);
            continue;
        }
        uint64_t h = content_hash(nd);
        if (commutative(nd)) {
            uint64_t a = up[nd->in[0]], b = up[nd->in[1]];
            h = mix(mix(h, a < b ? a : b), a < b ? b : a);
        } else {
            for (int k = 0; k < nd->n_in; k++) h = mix(h, up[nd->in[k]]);
        }
        up[i] = pos[i] >= 0 ? mix(h, (uint64_t)pos[i] + 1) : h;
    }
}

/* Hashes of how each node's value is used (see the file comment). */
static void down_hashes(const gen_dag *d, const uint64_t *up, uint64_t *down)
{
    uint64_t acc[GEN_MAX_NODES] = {0};
    for (int i = d->n_nodes - 1; i >= 0; i--) {
        down[i] = fmix64(acc[i] + (i == d->output ? 0x2545f4914f6cdd1dULL : 0));
        const ig_node *nd = &d->nodes[i];
        for (int k = 0; k < nd->n_in; k++) {
            uint64_t slot = commutative(nd) ? 0 : (uint64_t)k + 1;
            acc[nd->in[k]] += fmix64(mix(mix(down[i], up[i]), slot));
        }
    }
}

int gen_dag_shapes(const gen_dag *d, ig_shape *shapes)
{
    ig_graph *g = ig_graph_alloc();
    int i;
    for (i = 0; i < d->n_nodes; i++) {
        if (ig_add(g, &d->nodes[i]) < 0) break;
        shapes[i] = g->nodes[i].shape;
    }
    ig_graph_free(g);
    return i;
}

/* Copies only the fields meaningful in a candidate into a zeroed node. */
static void copy_meaningful(ig_node *dst, const ig_node *src)
{
    dst->op = src->op;
    dst->n_in = src->n_in;
    for (int k = 0; k < src->n_in; k++) dst->in[k] = src->in[k];
    memcpy(dst->attr, src->attr, sizeof dst->attr);
    memcpy(dst->fattr, src->fattr, sizeof dst->fattr);
    dst->operator_id = -1;
}

/* Sort key of a node at its level: up hash, down hash, then its inputs'
 * canonical positions in (canonical) slot order. */
typedef struct {
    int      node;
    uint64_t up, down;
    int      n_in;
    int      in_pos[IG_MAX_IN];
} level_key;

static int key_less(const level_key *a, const level_key *b)
{
    if (a->up != b->up) return a->up < b->up;
    if (a->down != b->down) return a->down < b->down;
    if (a->n_in != b->n_in) return a->n_in < b->n_in;
    for (int k = 0; k < a->n_in; k++)
        if (a->in_pos[k] != b->in_pos[k]) return a->in_pos[k] < b->in_pos[k];
    return 0;
}

void gen_canonicalize(gen_dag *d)
{
    gen_dag_prune(d);
    const int n = d->n_nodes;
    uint64_t up[GEN_MAX_NODES], down[GEN_MAX_NODES];
    int depth[GEN_MAX_NODES], pos[GEN_MAX_NODES];
    ig_shape shapes[GEN_MAX_NODES];
    const int shaped = gen_dag_shapes(d, shapes);
    for (int i = 0; i < n; i++) {
        depth[i] = 0;
        for (int k = 0; k < d->nodes[i].n_in; k++)
            if (depth[d->nodes[i].in[k]] + 1 > depth[i]) depth[i] = depth[d->nodes[i].in[k]] + 1;
        pos[i] = i < d->n_inputs ? i : -1;
    }
    int next = d->n_inputs;
    while (next < n) {
        up_hashes(d, pos, up);
        down_hashes(d, up, down);
        int level = -1;
        for (int i = d->n_inputs; i < n; i++)
            if (pos[i] < 0 && (level < 0 || depth[i] < level)) level = depth[i];
        level_key keys[GEN_MAX_NODES];
        int m = 0;
        for (int i = d->n_inputs; i < n; i++) {
            if (pos[i] >= 0 || depth[i] != level) continue;
            ig_node *nd = &d->nodes[i];
            /* add/mul/max: inputs in canonical position order, unless the
             * second is a (C,1,1) operand broadcast over the first. */
            if (commutative(nd) && pos[nd->in[1]] < pos[nd->in[0]]) {
                int a = nd->in[0], b = nd->in[1];
                if (i >= shaped || (shapes[a].c == shapes[b].c && shapes[a].h == shapes[b].h &&
                                    shapes[a].w == shapes[b].w)) {
                    nd->in[0] = b;
                    nd->in[1] = a;
                }
            }
            level_key *key = &keys[m++];
            key->node = i;
            key->up = up[i];
            key->down = down[i];
            key->n_in = nd->n_in;
            for (int k = 0; k < nd->n_in; k++) key->in_pos[k] = pos[nd->in[k]];
        }
        for (int a = 1; a < m; a++) /* insertion sort: a level has few nodes */
            for (int b = a; b > 0 && key_less(&keys[b], &keys[b - 1]); b--) {
                level_key t = keys[b];
                keys[b] = keys[b - 1];
                keys[b - 1] = t;
            }
        /* Place the level in order up to the first tie; a tied node placed
         * first is individualized and the hashes are refined before the
         * rest of its group is placed. */
        for (int a = 0; a < m; a++) {
            pos[keys[a].node] = next++;
            if (a + 1 < m && !key_less(&keys[a], &keys[a + 1])) break;
        }
    }

    gen_dag c;
    memset(&c, 0, sizeof c);
    c.n_inputs = d->n_inputs;
    c.n_nodes = n;
    c.output = d->output >= 0 ? pos[d->output] : -1;
    for (int i = 0; i < n; i++) {
        ig_node *dst = &c.nodes[pos[i]];
        copy_meaningful(dst, &d->nodes[i]);
        for (int k = 0; k < dst->n_in; k++) dst->in[k] = pos[dst->in[k]];
    }
    memcpy(d, &c, sizeof c);
}

uint64_t gen_struct_hash(const gen_dag *d)
{
    if (d->output < 0) return 0;
    gen_dag c = *d;
    gen_canonicalize(&c);
    uint64_t h = mix(0x8ebc6af09c88c6e3ULL, (uint64_t)c.n_inputs);
    h = mix(h, (uint64_t)c.n_nodes);
    h = mix(h, (uint64_t)c.output);
    for (int i = 0; i < c.n_nodes; i++) {
        const ig_node *nd = &c.nodes[i];
        h = mix(h, content_hash(nd));
        for (int k = 0; k < nd->n_in; k++) h = mix(h, (uint64_t)nd->in[k]);
    }
    return h;
}

/* ---- functional hash ---------------------------------------------------- */

enum { FH_BATCH = 2, FH_PROJECTIONS = 8 };
#define FH_PARAM_SEED 20240601u

/* Probe value j of input i, uniform in [-4, 4). */
static float probe(int input, size_t j)
{
    uint64_t u = fmix64(((uint64_t)input << 48) ^ (j * 0x9e3779b97f4a7c15ULL) ^ 0x1234567ULL);
    return (float)((double)(u >> 11) * 0x1.0p-53 * 8.0 - 4.0);
}

/* Projection weight k of value j, uniform in [-1, 1). */
static double weight(int k, size_t j)
{
    uint64_t u = fmix64(((uint64_t)(k + 1) << 52) ^ (j * 0xd1b54a32d192ed03ULL));
    return (double)(u >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

/* The hash of n output values (see gen.h). */
static uint64_t hash_values(const float *y, size_t n, const ig_shape *shape)
{
    uint64_t h = mix(mix(mix(0x6a09e667f3bcc909ULL, (uint64_t)shape->c), (uint64_t)shape->h),
                     (uint64_t)shape->w);
    double sumsq = 0.0;
    for (size_t j = 0; j < n; j++) sumsq += (double)y[j] * y[j];
    double rms = sqrt(sumsq / (double)n);
    if (!isfinite(rms)) return mix(h, 0xbad0bad0bad0bad0ULL);
    if (rms == 0.0) return mix(h, 0x2e502e502e502e5ULL);
    int e;
    double m = frexp(rms, &e); /* m in [0.5, 1) */
    h = mix(h, (uint64_t)(int64_t)e);
    h = mix(h, (uint64_t)llround(m * 2048.0));
    double norm = rms * sqrt((double)n);
    for (int k = 0; k < FH_PROJECTIONS; k++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++) s += weight(k, j) * y[j];
        h = mix(h, (uint64_t)llround(s / norm * 1024.0));
    }
    return h;
}

int gen_functional_hash(const gen_dag *d, const gen_boundary *b, uint64_t *out)
{
    gen_dag c = *d;
    gen_canonicalize(&c);
    ig_graph *g = NULL;
    PL_TRY(gen_dag_build(&c, b, &g));
    ig_graph_init_params(g, FH_PARAM_SEED);
    int rc = ig_graph_plan_inference(g, FH_BATCH);
    if (rc < 0) {
        ig_graph_free(g);
        return rc;
    }
    for (int i = 0; i < c.n_inputs; i++) {
        const ig_shape *s = &g->nodes[i].shape;
        size_t count = (size_t)FH_BATCH * (size_t)s->c * (size_t)s->h * (size_t)s->w;
        float *x = ig_value(g, i);
        for (size_t j = 0; j < count; j++) x[j] = probe(i, j);
    }
    ig_forward(g, NULL);
    const ig_shape *os = &g->nodes[c.output].shape;
    size_t n = (size_t)FH_BATCH * (size_t)os->c * (size_t)os->h * (size_t)os->w;
    *out = hash_values(ig_value(g, c.output), n, os);
    ig_graph_free(g);
    return PL_OK;
}
