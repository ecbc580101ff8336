/* test_gen.c: the candidate algebra: building and rejecting candidates,
 * canonical structural hashing (order, dead nodes, commutativity, shared vs
 * duplicated nodes), canonical form, functional hashing, instruction-set
 * variants, random generation (determinism, valid and invalid draws), and
 * every mutation kind and crossover (valid pruned child or rejection, the
 * counters, the instruction set respected), and canonical forms over random
 * reorderings of mutated DAGs. */
#include "check.h"
#include "gen.h"
#include "pl_err.h"

#include <string.h>

static const gen_boundary B8 = {.n_inputs = 1, .inputs = {{8, 8, 8}}, .output = {8, 8, 8}};

static ig_node node1(int op, int in)
{
    ig_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = op;
    nd.n_in = 1;
    nd.in[0] = in;
    nd.operator_id = -1;
    if (op == IG_OP_BATCHNORM) {
        nd.fattr[0] = 1e-5f;
        nd.fattr[1] = 0.1f;
    }
    return nd;
}

static int add1(gen_dag *d, int op, int in)
{
    ig_node nd = node1(op, in);
    return gen_dag_append(d, &nd);
}

static int add2(gen_dag *d, int op, int a, int b)
{
    ig_node nd = node1(op, a);
    nd.n_in = 2;
    nd.in[1] = b;
    return gen_dag_append(d, &nd);
}

static int conv(gen_dag *d, int op, int in, int oc, int k, int stride, int groups)
{
    ig_node nd = node1(op, in);
    int a[] = {oc, k, k, stride, stride, k / 2, k / 2, groups, 0};
    memcpy(nd.attr, a, sizeof a);
    return gen_dag_append(d, &nd);
}

/* x -> conv3x3(oc) -> batchnorm -> relu */
static void conv_bn_relu(gen_dag *d, const gen_boundary *b, int oc)
{
    gen_dag_init(d, b);
    int c = conv(d, IG_OP_CONV2D, 0, oc, 3, 1, 1);
    int n = add1(d, IG_OP_BATCHNORM, c);
    d->output = add1(d, IG_OP_RELU, n);
}

/* squeeze-and-excitation: x * hardsigmoid(pw(relu(pw(gap(x))))) */
static void se_block(gen_dag *d, const gen_boundary *b)
{
    gen_dag_init(d, b);
    int g = add1(d, IG_OP_GLOBAL_AVGPOOL, 0);
    int p1 = conv(d, IG_OP_PWCONV2D, g, 2, 1, 1, 1);
    int r = add1(d, IG_OP_RELU, p1);
    int p2 = conv(d, IG_OP_PWCONV2D, r, 8, 1, 1, 1);
    int h = add1(d, IG_OP_HARDSIGMOID, p2);
    d->output = add2(d, IG_OP_MUL, 0, h);
}

static void test_build(void)
{
    gen_dag d;
    conv_bn_relu(&d, &B8, 8);
    ig_graph *g = NULL;
    CHECK(gen_dag_build(&d, &B8, &g) == PL_OK && g, "conv+bn+relu builds: %s", pl_last_error());
    CHECK(g && g->n_nodes == 4 && g->finalized, "built graph has the candidate's nodes");
    ig_graph_free(g);
    CHECK(gen_dag_valid(&d, &B8), "conv+bn+relu is valid");

    conv_bn_relu(&d, &B8, 16); /* 16 output channels, the operator's are 8 */
    int rc = gen_dag_build(&d, &B8, &g);
    CHECK(rc == PL_ERR_SHAPE && g == NULL, "wrong output channels rejected (rc %d)", rc);
    CHECK(strstr(pl_last_error(), "(16,8,8)") && strstr(pl_last_error(), "(8,8,8)"),
          "message names both shapes: %s", pl_last_error());
    CHECK(!gen_dag_valid(&d, &B8), "wrong output is invalid");

    gen_dag_init(&d, &B8);
    int c = conv(&d, IG_OP_CONV2D, 0, 4, 3, 1, 1);
    d.output = add2(&d, IG_OP_ADD, 0, c); /* (8,8,8) + (4,8,8) */
    rc = gen_dag_build(&d, &B8, &g);
    CHECK(rc == PL_ERR_SHAPE && strstr(pl_last_error(), "add"), "mismatched add rejected: %s",
          pl_last_error());
}

/* x -> {conv3x3, dwconv3x3} -> add -> relu, the two branches in either
 * order; dead = 1 adds an unused sigmoid. */
static void two_branches(gen_dag *d, int swap, int dead)
{
    gen_dag_init(d, &B8);
    int a, b;
    if (dead) add1(d, IG_OP_SIGMOID, 0);
    if (swap) {
        b = conv(d, IG_OP_DWCONV2D, 0, 8, 3, 1, 8);
        a = conv(d, IG_OP_CONV2D, 0, 8, 3, 1, 1);
    } else {
        a = conv(d, IG_OP_CONV2D, 0, 8, 3, 1, 1);
        b = conv(d, IG_OP_DWCONV2D, 0, 8, 3, 1, 8);
    }
    int s = add2(d, IG_OP_ADD, a, b);
    d->output = add1(d, IG_OP_RELU, s);
}

static void test_struct_hash(void)
{
    gen_dag d1, d2, d3;
    two_branches(&d1, 0, 0);
    two_branches(&d2, 1, 0);
    two_branches(&d3, 1, 1);
    CHECK(memcmp(&d1, &d2, sizeof d1) != 0, "the two orders differ as written");
    CHECK(gen_struct_hash(&d1) == gen_struct_hash(&d2), "hash invariant to node order");
    CHECK(gen_struct_hash(&d1) == gen_struct_hash(&d3), "dead node ignored");
    CHECK(gen_struct_hash(&d1) != 0, "hash not zero");

    /* add(a, b) vs add(b, a); sub(a, b) vs sub(b, a) */
    gen_dag p, q;
    for (int op = IG_OP_ADD; op <= IG_OP_SUB; op++) {
        for (int flip = 0; flip < 2; flip++) {
            gen_dag *d = flip ? &q : &p;
            gen_dag_init(d, &B8);
            int a = add1(d, IG_OP_RELU, 0), b = add1(d, IG_OP_TANH, 0);
            d->output = flip ? add2(d, op, b, a) : add2(d, op, a, b);
        }
        if (op == IG_OP_ADD)
            CHECK(gen_struct_hash(&p) == gen_struct_hash(&q), "add is commutative");
        else
            CHECK(gen_struct_hash(&p) != gen_struct_hash(&q), "sub is not commutative");
    }

    /* Shared vs duplicated convolution: add(c(x), c(x)) vs add(c1(x), c2(x)). */
    gen_dag_init(&p, &B8);
    int c = conv(&p, IG_OP_CONV2D, 0, 8, 3, 1, 1);
    p.output = add2(&p, IG_OP_ADD, c, c);
    gen_dag_init(&q, &B8);
    int c1 = conv(&q, IG_OP_CONV2D, 0, 8, 3, 1, 1), c2 = conv(&q, IG_OP_CONV2D, 0, 8, 3, 1, 1);
    q.output = add2(&q, IG_OP_ADD, c1, c2);
    CHECK(gen_struct_hash(&p) != gen_struct_hash(&q), "shared node differs from two copies");

    /* Different kernel size, different hash. */
    gen_dag_init(&p, &B8);
    p.output = conv(&p, IG_OP_CONV2D, 0, 8, 3, 1, 1);
    gen_dag_init(&q, &B8);
    q.output = conv(&q, IG_OP_CONV2D, 0, 8, 5, 1, 1);
    CHECK(gen_struct_hash(&p) != gen_struct_hash(&q), "attributes count");
}

/* relu(x) twice, one feeding a sigmoid, one a tanh; then mul of the two,
 * written in two orders. */
static void twin_uses(gen_dag *d, int swap)
{
    gen_dag_init(d, &B8);
    int r1 = add1(d, IG_OP_RELU, 0), r2 = add1(d, IG_OP_RELU, 0);
    int s = add1(d, IG_OP_SIGMOID, swap ? r2 : r1), t = add1(d, IG_OP_TANH, swap ? r1 : r2);
    d->output = add2(d, IG_OP_SUB, s, t);
}

static void test_canonicalize(void)
{
    gen_dag d1, d2;
    two_branches(&d1, 0, 0);
    two_branches(&d2, 1, 1);
    uint64_t h = gen_struct_hash(&d1);
    gen_canonicalize(&d1);
    gen_canonicalize(&d2);
    CHECK(memcmp(&d1, &d2, sizeof d1) == 0, "canonical forms identical");
    CHECK(d1.n_nodes == 5 && d1.output == 4, "canonical form pruned (%d nodes, output %d)",
          d1.n_nodes, d1.output);
    CHECK(gen_struct_hash(&d1) == h, "canonicalizing keeps the hash");
    CHECK(gen_dag_valid(&d1, &B8), "canonical form valid");

    twin_uses(&d1, 0);
    twin_uses(&d2, 1);
    CHECK(gen_struct_hash(&d1) == gen_struct_hash(&d2), "twin nodes: same hash");
    gen_canonicalize(&d1);
    gen_canonicalize(&d2);
    CHECK(memcmp(&d1, &d2, sizeof d1) == 0, "twin nodes: canonical forms identical");

    /* A broadcast operand stays second even when hash order would swap it. */
    gen_dag s1;
    se_block(&s1, &B8);
    gen_canonicalize(&s1);
    CHECK(gen_dag_valid(&s1, &B8), "SE block valid after canonicalizing: %s", pl_last_error());
}

static void test_functional_hash(void)
{
    gen_dag two, three_minus, square;
    gen_dag_init(&two, &B8);
    two.output = add2(&two, IG_OP_ADD, 0, 0);
    gen_dag_init(&three_minus, &B8);
    int a = add2(&three_minus, IG_OP_ADD, 0, 0);
    int b = add2(&three_minus, IG_OP_ADD, a, 0);
    three_minus.output = add2(&three_minus, IG_OP_SUB, b, 0);
    gen_dag_init(&square, &B8);
    square.output = add2(&square, IG_OP_MUL, 0, 0);

    uint64_t h2 = 0, h3 = 1, hs = 2;
    CHECK(gen_functional_hash(&two, &B8, &h2) == PL_OK, "functional hash of x+x");
    CHECK(gen_functional_hash(&three_minus, &B8, &h3) == PL_OK, "functional hash of 3x-x");
    CHECK(gen_functional_hash(&square, &B8, &hs) == PL_OK, "functional hash of x*x");
    CHECK(h2 == h3, "x+x and ((x+x)+x)-x compute the same");
    CHECK(h2 != hs, "x+x and x*x differ");
    CHECK(gen_struct_hash(&two) != gen_struct_hash(&three_minus), "but their structures differ");

    /* Two orders of a DAG with parameters: same weights after canonicalizing. */
    gen_dag d1, d2;
    two_branches(&d1, 0, 0);
    two_branches(&d2, 1, 1);
    uint64_t f1 = 0, f2 = 1;
    CHECK(gen_functional_hash(&d1, &B8, &f1) == PL_OK &&
              gen_functional_hash(&d2, &B8, &f2) == PL_OK,
          "functional hash of conv branches");
    CHECK(f1 == f2, "functional hash invariant to node order");

    gen_dag bad;
    conv_bn_relu(&bad, &B8, 16);
    uint64_t hb;
    CHECK(gen_functional_hash(&bad, &B8, &hb) == PL_ERR_SHAPE,
          "invalid DAG has no functional hash");
}

static int count_dense_conv(const gen_dag *d)
{
    int n = 0;
    for (int i = d->n_inputs; i < d->n_nodes; i++) {
        const ig_node *nd = &d->nodes[i];
        n += nd->op == IG_OP_CONV2D && (nd->attr[IG_A_KH] > 1 || nd->attr[IG_A_KW] > 1);
    }
    return n;
}

/* Nodes s does not allow. */
static int count_disallowed(const gen_dag *d, const gen_iset *s)
{
    int n = 0;
    for (int i = d->n_inputs; i < d->n_nodes; i++) n += !gen_iset_allows(s, &d->nodes[i]);
    return n;
}

static void test_iset(void)
{
    CHECK(gen_iset_count() == 4, "four variants");
    gen_iset s;
    for (int i = 0; i < gen_iset_count(); i++) {
        CHECK(gen_iset_find(gen_iset_name(i), &s) == PL_OK && strcmp(s.name, gen_iset_name(i)) == 0,
              "variant %s found", gen_iset_name(i));
        CHECK(!s.allowed[IG_OP_INPUT] && !s.allowed[IG_OP_SOFTMAX_XENT] &&
                  !s.allowed[IG_OP_DROPOUT],
              "%s excludes input, loss, dropout", s.name);
        CHECK(s.allowed[IG_OP_PWCONV2D] && s.allowed[IG_OP_DWCONV2D] && s.allowed[IG_OP_ADD],
              "%s keeps pointwise, depthwise, add", s.name);
    }
    int rc = gen_iset_find("no-such-set", &s);
    CHECK(rc == PL_ERR_INVAL, "unknown variant is an error");
    CHECK(strstr(pl_last_error(), "no-such-set") && strstr(pl_last_error(), "pointwise-depthwise"),
          "message names it and the known ones: %s", pl_last_error());

    ig_node c3 = node1(IG_OP_CONV2D, 0), c1 = node1(IG_OP_CONV2D, 0);
    c3.attr[IG_A_KH] = c3.attr[IG_A_KW] = 3;
    c1.attr[IG_A_KH] = c1.attr[IG_A_KW] = 1;
    gen_iset_find("full", &s);
    CHECK(gen_iset_allows(&s, &c3) && gen_iset_allows(&s, &c1), "full allows conv2d 3x3");
    gen_iset_find("no-dense-conv", &s);
    CHECK(!gen_iset_allows(&s, &c3) && gen_iset_allows(&s, &c1), "no-dense-conv: 1x1 only");
    gen_iset_find("no-transcendental", &s);
    CHECK(!s.allowed[IG_OP_SIGMOID] && !s.allowed[IG_OP_TANH] && s.allowed[IG_OP_HARDSIGMOID] &&
              s.allowed[IG_OP_HARDSWISH], "no-transcendental drops sigmoid and tanh only");
    gen_iset_find("pointwise-depthwise", &s);
    CHECK(!s.allowed[IG_OP_CONV2D] && !s.allowed[IG_OP_MAXPOOL] && !s.allowed[IG_OP_CONCAT] &&
              s.allowed[IG_OP_BATCHNORM] && s.allowed[IG_OP_MAX], "pointwise-depthwise subset");
}

static void test_random(gsl_rng *r)
{
    gen_iset full, ndc, pd;
    gen_iset_find("full", &full);
    gen_iset_find("no-dense-conv", &ndc);
    gen_iset_find("pointwise-depthwise", &pd);

    gen_dag a, b;
    gsl_rng_set(r, 7);
    gen_random_dag(&a, &B8, &full, 3, 12, r);
    gsl_rng_set(r, 7);
    gen_random_dag(&b, &B8, &full, 3, 12, r);
    CHECK(memcmp(&a, &b, sizeof a) == 0, "same seed, same DAG");
    int differ = 0;
    for (int seed = 8; seed < 13; seed++) {
        gsl_rng_set(r, (unsigned long)seed);
        gen_random_dag(&b, &B8, &full, 3, 12, r);
        differ += gen_struct_hash(&a) != gen_struct_hash(&b);
    }
    CHECK(differ == 5, "other seeds, other DAGs (%d of 5 differ)", differ);

    /* A downsampling boundary too: (8,8,8) -> (16,4,4). */
    const gen_boundary down = {.n_inputs = 1, .inputs = {{8, 8, 8}}, .output = {16, 4, 4}};
    const gen_boundary *bs[] = {&B8, &down};
    const gen_iset *sets[] = {&full, &ndc, &pd};
    gsl_rng_set(r, 11);
    for (int bi = 0; bi < 2; bi++) {
        for (int si = 0; si < 3; si++) {
            int valid = 0, agree = 1, dense = 0, disallowed = 0, sizes_ok = 1;
            for (int t = 0; t < 500; t++) {
                gen_dag d;
                int v = gen_random_dag(&d, bs[bi], sets[si], 1, 8, r);
                valid += v;
                agree &= v == gen_dag_valid(&d, bs[bi]);
                dense += count_dense_conv(&d);
                disallowed += count_disallowed(&d, sets[si]);
                sizes_ok &= d.n_nodes - d.n_inputs <= 8 && d.output == d.n_nodes - 1;
            }
            printf("random %s, boundary %d: %d of 500 valid\n", sets[si]->name, bi, valid);
            /* pointwise-depthwise reaches (16,4,4) in ~0.5% of draws. */
            CHECK(valid < 500, "%s/%d: some invalid", sets[si]->name, bi);
            if (sets[si] != &pd || bi == 0)
                CHECK(valid > 0, "%s/%d: some valid", sets[si]->name, bi);
            CHECK(agree, "return value is gen_dag_valid");
            CHECK(sizes_ok, "sizes within bounds, output last");
            CHECK(disallowed == 0, "%s: %d disallowed nodes generated", sets[si]->name, disallowed);
            if (sets[si] != &full) CHECK(dense == 0, "%s: %d dense convs", sets[si]->name, dense);
        }
    }
}

/* Runs n mutations of each kind from parent; every child valid and pruned
 * or a copy of the parent; counters add up; every kind succeeds. */
static void check_mutations(const char *what, const gen_dag *parent, const gen_boundary *b,
                            const gen_iset *s, int n, gsl_rng *r)
{
    gen_mut_stats st;
    memset(&st, 0, sizeof st);
    int bad = 0, unpruned = 0, not_copy = 0, changed = 0, extra_disallowed = 0;
    for (int kind = 0; kind < GEN_MUT_COUNT; kind++) {
        for (int t = 0; t < n; t++) {
            gen_dag child;
            int ok = gen_mutate_kind(&child, parent, b, s, (gen_mutation)kind, r, &st);
            if (ok) {
                bad += !gen_dag_valid(&child, b);
                gen_dag pr = child;
                gen_dag_prune(&pr);
                unpruned += pr.n_nodes != child.n_nodes;
                changed += gen_struct_hash(&child) != gen_struct_hash(parent);
                extra_disallowed += count_disallowed(&child, s) > count_disallowed(parent, s);
            } else {
                not_copy += memcmp(&child, parent, sizeof child) != 0;
            }
        }
    }
    CHECK(bad == 0, "%s: %d accepted children invalid", what, bad);
    CHECK(unpruned == 0, "%s: %d accepted children not pruned", what, unpruned);
    CHECK(not_copy == 0, "%s: %d rejected children not the parent", what, not_copy);
    CHECK(changed > 0, "%s: mutations change the DAG", what);
    CHECK(extra_disallowed == 0, "%s: %d children with new disallowed nodes", what,
          extra_disallowed);
    for (int kind = 0; kind < GEN_MUT_COUNT; kind++) {
        printf("%s %-9s tried %ld valid %ld repaired %ld rejected %ld\n", what,
               gen_mutation_name(kind), st.tried[kind], st.valid[kind], st.repaired[kind],
               st.rejected[kind]);
        CHECK(st.tried[kind] == n, "%s %s: tried %ld", what, gen_mutation_name(kind),
              st.tried[kind]);
        CHECK(st.valid[kind] + st.repaired[kind] + st.rejected[kind] == st.tried[kind],
              "%s %s: counters add up", what, gen_mutation_name(kind));
        CHECK(st.valid[kind] + st.repaired[kind] > 0, "%s %s: never succeeded", what,
              gen_mutation_name(kind));
    }
}

static void test_mutations(gsl_rng *r)
{
    gen_iset full, ndc;
    gen_iset_find("full", &full);
    gen_iset_find("no-dense-conv", &ndc);
    gsl_rng_set(r, 3);
    gen_dag cbr, se;
    conv_bn_relu(&cbr, &B8, 8);
    se_block(&se, &B8);
    check_mutations("conv-bn-relu", &cbr, &B8, &full, 300, r);
    check_mutations("se-block", &se, &B8, &full, 300, r);
    check_mutations("se-block/no-dense-conv", &se, &B8, &ndc, 100, r);

    /* Repair happens: over all kinds something was repaired. */
    gen_mut_stats st;
    memset(&st, 0, sizeof st);
    gen_dag child;
    for (int t = 0; t < 300; t++) gen_mutate(&child, &se, &B8, &full, r, &st);
    long repaired = 0, tried = 0;
    for (int k = 0; k < GEN_MUT_COUNT; k++) {
        repaired += st.repaired[k];
        tried += st.tried[k];
    }
    CHECK(tried == 300 && repaired > 0, "gen_mutate: %ld tried, %ld repaired", tried, repaired);

    /* A random walk (each child the next parent) under each variant stays
     * valid, and under no-dense-conv never grows a dense convolution. */
    for (int si = 0; si < gen_iset_count(); si++) {
        gen_iset s;
        gen_iset_find(gen_iset_name(si), &s);
        gen_dag cur;
        se_block(&cur, &B8);
        int bad = 0, dense = 0, accepted = 0, max_nodes = 0;
        for (int t = 0; t < 600; t++) {
            gen_dag next;
            if (gen_mutate(&next, &cur, &B8, &s, r, NULL)) {
                accepted++;
                bad += !gen_dag_valid(&next, &B8);
                dense += count_dense_conv(&next);
                if (next.n_nodes > max_nodes) max_nodes = next.n_nodes;
                cur = next;
            }
        }
        CHECK(bad == 0, "walk %s: %d invalid", s.name, bad);
        CHECK(accepted > 100, "walk %s: %d accepted of 600", s.name, accepted);
        if (!s.dense_conv) CHECK(dense == 0, "walk %s: %d dense convs", s.name, dense);
        printf("walk %s: %d accepted, largest %d nodes\n", s.name, accepted, max_nodes);
    }
}

/* d written in a random other topological order (inputs first), with the
 * operands of add/mul/max swapped at random where their shapes are equal. */
static void reorder(const gen_dag *d, gen_dag *o, gsl_rng *r)
{
    int placed[GEN_MAX_NODES] = {0}, pos[GEN_MAX_NODES], n = d->n_inputs;
    *o = *d;
    for (int i = 0; i < d->n_inputs; i++) {
        placed[i] = 1;
        pos[i] = i;
    }
    while (n < d->n_nodes) {
        int ready[GEN_MAX_NODES], m = 0;
        for (int i = d->n_inputs; i < d->n_nodes; i++) {
            int ok = !placed[i];
            for (int k = 0; k < d->nodes[i].n_in; k++) ok &= placed[d->nodes[i].in[k]];
            if (ok) ready[m++] = i;
        }
        int i = ready[gsl_rng_uniform_int(r, (unsigned long)m)];
        placed[i] = 1;
        pos[i] = n;
        o->nodes[n++] = d->nodes[i];
    }
    for (int i = d->n_inputs; i < d->n_nodes; i++)
        for (int k = 0; k < o->nodes[i].n_in; k++) o->nodes[i].in[k] = pos[o->nodes[i].in[k]];
    o->output = pos[d->output];
    ig_shape sh[GEN_MAX_NODES];
    gen_dag_shapes(o, sh);
    for (int i = o->n_inputs; i < o->n_nodes; i++) {
        ig_node *nd = &o->nodes[i];
        const ig_shape *a = &sh[nd->in[0]], *b = &sh[nd->in[1]];
        if ((nd->op == IG_OP_ADD || nd->op == IG_OP_MUL || nd->op == IG_OP_MAX) &&
            a->c == b->c && a->h == b->h && a->w == b->w && gsl_rng_uniform_int(r, 2)) {
            int t = nd->in[0];
            nd->in[0] = nd->in[1];
            nd->in[1] = t;
        }
    }
}

/* Two identical branches joined by an add (a symmetric DAG), written with
 * the branches' nodes interleaved in two different ways. */
static void symmetric(gen_dag *d, int cross)
{
    gen_dag_init(d, &B8);
    int p1 = conv(d, IG_OP_PWCONV2D, 0, 8, 1, 1, 1), p2 = conv(d, IG_OP_PWCONV2D, 0, 8, 1, 1, 1);
    int r1 = add1(d, IG_OP_RELU, 0), r2 = add1(d, IG_OP_RELU, 0);
    int s1 = add1(d, IG_OP_SCALE_BIAS, r1), s2 = add1(d, IG_OP_SCALE_BIAS, r2);
    int m1 = add2(d, IG_OP_MAX, p1, cross ? s2 : s1), m2 = add2(d, IG_OP_MAX, p2, cross ? s1 : s2);
    d->output = add2(d, IG_OP_ADD, m1, m2);
}

/* Canonical form and hashes over random reorderings of mutated DAGs. */
static void test_reorder(gsl_rng *r)
{
    gen_dag s1, s2;
    symmetric(&s1, 0);
    symmetric(&s2, 1);
    CHECK(gen_struct_hash(&s1) == gen_struct_hash(&s2), "symmetric branches: same hash");
    gen_canonicalize(&s1);
    gen_canonicalize(&s2);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0, "symmetric branches: same canonical form");

    gen_iset full;
    gen_iset_find("full", &full);
    gsl_rng_set(r, 17);
    gen_dag cur;
    se_block(&cur, &B8);
    int hash_bad = 0, canon_bad = 0, idem_bad = 0, func_bad = 0, tried = 0;
    for (int t = 0; t < 500; t++) {
        gen_dag next, o, c1, c2;
        if (!gen_mutate(&next, &cur, &B8, &full, r, NULL)) continue;
        if (next.n_nodes < 24) cur = next;
        reorder(&next, &o, r);
        tried++;
        hash_bad += gen_struct_hash(&o) != gen_struct_hash(&next);
        c1 = next;
        c2 = o;
        gen_canonicalize(&c1);
        gen_canonicalize(&c2);
        canon_bad += memcmp(&c1, &c2, sizeof c1) != 0;
        o = c1;
        gen_canonicalize(&o);
        idem_bad += memcmp(&c1, &o, sizeof c1) != 0;
        if (t % 10 == 0) {
            uint64_t h1 = 0, h2 = 1;
            func_bad += gen_functional_hash(&next, &B8, &h1) != PL_OK ||
                        gen_functional_hash(&c2, &B8, &h2) != PL_OK || h1 != h2;
        }
    }
    CHECK(tried > 250, "reorder: %d DAGs", tried);
    CHECK(hash_bad == 0, "reorder: %d structural hashes changed", hash_bad);
    CHECK(canon_bad == 0, "reorder: %d canonical forms differ", canon_bad);
    CHECK(idem_bad == 0, "reorder: canonicalize not idempotent %d times", idem_bad);
    CHECK(func_bad == 0, "reorder: %d functional hashes changed", func_bad);
}

static void test_crossover(gsl_rng *r)
{
    gen_iset full;
    gen_iset_find("full", &full);
    gsl_rng_set(r, 5);
    /* A small population from walks, then crossovers among it. */
    enum { POP = 8 };
    gen_dag pop[POP];
    for (int i = 0; i < POP; i++) {
        if (i % 2) se_block(&pop[i], &B8);
        else conv_bn_relu(&pop[i], &B8, 8);
        for (int t = 0; t < 10; t++) {
            gen_dag next;
            if (gen_mutate(&next, &pop[i], &B8, &full, r, NULL)) pop[i] = next;
        }
    }
    gen_mut_stats st;
    memset(&st, 0, sizeof st);
    int bad = 0, not_copy = 0, novel = 0;
    for (int t = 0; t < 300; t++) {
        const gen_dag *a = &pop[gsl_rng_uniform_int(r, POP)];
        const gen_dag *b = &pop[gsl_rng_uniform_int(r, POP)];
        gen_dag child;
        if (gen_crossover(&child, a, b, &B8, &full, r, &st)) {
            bad += !gen_dag_valid(&child, &B8);
            uint64_t h = gen_struct_hash(&child);
            novel += h != gen_struct_hash(a) && h != gen_struct_hash(b);
        } else {
            not_copy += memcmp(&child, a, sizeof child) != 0;
        }
    }
    const int X = GEN_MUT_COUNT;
    printf("crossover tried %ld valid %ld repaired %ld rejected %ld, %d novel\n", st.tried[X],
           st.valid[X], st.repaired[X], st.rejected[X], novel);
    CHECK(bad == 0, "crossover: %d invalid children", bad);
    CHECK(not_copy == 0, "crossover: %d rejected children not parent a", not_copy);
    CHECK(st.tried[X] == 300 && st.valid[X] + st.repaired[X] + st.rejected[X] == 300,
          "crossover counters add up");
    CHECK(st.valid[X] > 0 && novel > 0, "crossover succeeds with new DAGs (%d)", novel);

    /* conv-bn-relu x SE block: the child mixes both. */
    gen_dag cbr, se, child;
    conv_bn_relu(&cbr, &B8, 8);
    se_block(&se, &B8);
    int mixed = 0;
    for (int t = 0; t < 50; t++)
        if (gen_crossover(&child, &cbr, &se, &B8, &full, r, NULL)) {
            int has_conv = 0, has_gap = 0;
            for (int i = 0; i < child.n_nodes; i++) {
                has_conv |= child.nodes[i].op == IG_OP_CONV2D;
                has_gap |= child.nodes[i].op == IG_OP_GLOBAL_AVGPOOL;
            }
            mixed += has_conv && has_gap;
        }
    CHECK(mixed > 0, "crossover of conv-bn-relu and SE mixes them (%d of 50)", mixed);
}

int main(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    test_build();
    test_struct_hash();
    test_canonicalize();
    test_functional_hash();
    test_iset();
    test_random(r);
    test_mutations(r);
    test_reorder(r);
    test_crossover(r);
    gsl_rng_free(r);
    return check_summary("test_gen");
}
