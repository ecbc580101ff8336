/* gen_iset.c: instruction-set variants, the named subsets of the opcodes a
 * generator or a mutation may put into a candidate (gen.h lists them and
 * says why input, softmax_xent, dropout, flatten and identity are never
 * generated). */
#include "gen.h"
#include "pl_err.h"

#include <stdio.h>
#include <string.h>

static const char *const iset_names[] = {"full", "no-dense-conv", "no-transcendental",
                                         "pointwise-depthwise"};
enum { N_ISETS = (int)(sizeof iset_names / sizeof iset_names[0]) };

int gen_iset_count(void) { return N_ISETS; }

const char *gen_iset_name(int i)
{
    PL_ASSERT(i >= 0 && i < N_ISETS);
    return iset_names[i];
}

static void fill_full(gen_iset *s)
{
    for (int op = 0; op < IG_OP_COUNT; op++) s->allowed[op] = 1;
    s->allowed[IG_OP_INPUT] = 0;
    s->allowed[IG_OP_SOFTMAX_XENT] = 0;
    s->allowed[IG_OP_DROPOUT] = 0;
    s->allowed[IG_OP_FLATTEN] = 0;
    s->allowed[IG_OP_IDENTITY] = 0;
    s->dense_conv = 1;
}

int gen_iset_find(const char *name, gen_iset *out)
{
    memset(out, 0, sizeof *out);
    int which = -1;
    for (int i = 0; i < N_ISETS; i++)
        if (strcmp(name, iset_names[i]) == 0) which = i;
    if (which < 0) {
        char known[256] = "";
        for (int i = 0; i < N_ISETS; i++) {
            strcat(known, i ? ", " : "");
            strcat(known, iset_names[i]);
        }
        PL_FAIL(PL_ERR_INVAL, "unknown instruction set '%s' (known: %s)", name, known);
    }
    snprintf(out->name, sizeof out->name, "%s", iset_names[which]);
    switch (which) {
    case 0: fill_full(out); break;
    case 1:
        fill_full(out);
        out->dense_conv = 0;
        break;
    case 2:
        fill_full(out);
        out->allowed[IG_OP_SIGMOID] = 0;
        out->allowed[IG_OP_TANH] = 0;
        break;
    case 3: {
        static const int ops[] = {IG_OP_PWCONV2D, IG_OP_DWCONV2D,    IG_OP_BATCHNORM,
                                  IG_OP_SCALE_BIAS, IG_OP_RELU,      IG_OP_RELU6,
                                  IG_OP_SIGMOID,  IG_OP_HARDSIGMOID, IG_OP_HARDSWISH,
                                  IG_OP_TANH,     IG_OP_ADD,         IG_OP_SUB,
                                  IG_OP_MUL,      IG_OP_MAX};
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) out->allowed[ops[k]] = 1;
        out->dense_conv = 0;
        break;
    }
    default: PL_ASSERT(!"unhandled instruction set");
    }
    return PL_OK;
}

int gen_iset_allows(const gen_iset *s, const ig_node *nd)
{
    if (nd->op < 0 || nd->op >= IG_OP_COUNT || !s->allowed[nd->op]) return 0;
    if (nd->op == IG_OP_CONV2D && !s->dense_conv)
        return nd->attr[IG_A_KH] == 1 && nd->attr[IG_A_KW] == 1;
    return 1;
}
