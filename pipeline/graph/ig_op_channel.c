/* ig_op_channel.c: op-table entries for the data-movement instructions:
 * concat and split along channels, channel shuffle, flatten. They cost no
 * FLOPs (their cost is the bytes they move, which the latency model sees). */
#include "ig_ops.h"
#include "nn_channel.h"
#include "nn_pointwise.h"

/* ---- concat ----------------------------------------------------------- */

static int concat_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *first = ig_in_shape(g, nd, 0);
    int c = 0;
    for (int k = 0; k < nd->n_in; k++) {
        const ig_shape *s = ig_in_shape(g, nd, k);
        if (s->h != first->h || s->w != first->w)
            PL_FAIL(PL_ERR_SHAPE, "input %d is %dx%d, input 0 is %dx%d", k, s->h, s->w, first->h,
                    first->w);
        c += s->c;
    }
    *out = (ig_shape){c, first->h, first->w};
    return PL_OK;
}

static void concat_forward(ig_graph *g, const ig_node *nd)
{
    const float *inps[IG_MAX_IN];
    int Cs[IG_MAX_IN];
    for (int k = 0; k < nd->n_in; k++) {
        inps[k] = ig_in_value(g, nd, k);
        Cs[k] = ig_in_shape(g, nd, k)->c;
    }
    nn_concat_forward(ig_out_value(g, nd), inps, Cs, nd->n_in, g->batch,
                      nd->shape.h * nd->shape.w);
}

static void concat_backward(ig_graph *g, const ig_node *nd)
{
    float *dinps[IG_MAX_IN];
    int Cs[IG_MAX_IN];
    for (int k = 0; k < nd->n_in; k++) {
        dinps[k] = ig_in_grad(g, nd, k);
        Cs[k] = ig_in_shape(g, nd, k)->c;
    }
    nn_concat_backward(dinps, ig_out_grad(g, nd), Cs, nd->n_in, g->batch,
                       nd->shape.h * nd->shape.w);
}

const ig_op_def ig_op_concat = {.name = "concat", .min_in = 2, .max_in = IG_MAX_IN,
                                .infer = concat_infer, .forward = concat_forward,
                                .backward = concat_backward};

/* ---- split: one channel slice [offset, offset + count) ----------------- */

static int split_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    int offset = nd->attr[0], count = nd->attr[1];
    if (offset < 0 || count <= 0 || offset + count > in->c)
        PL_FAIL(PL_ERR_SHAPE, "channels [%d, %d) are outside the input's %d", offset,
                offset + count, in->c);
    *out = (ig_shape){count, in->h, in->w};
    return PL_OK;
}

static void split_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_channel_slice_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), g->batch, in->c,
                             in->h * in->w, nd->attr[0], nd->attr[1]);
}

static void split_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_channel_slice_backward(dinp, ig_out_grad(g, nd), g->batch, in->c, in->h * in->w,
                              nd->attr[0], nd->attr[1]);
}

const ig_op_def ig_op_split = {.name = "split", .min_in = 1, .max_in = 1, .infer = split_infer,
                               .forward = split_forward, .backward = split_backward};

/* ---- channel shuffle -------------------------------------------------- */

static int shuffle_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    if (nd->attr[0] <= 0 || in->c % nd->attr[0])
        PL_FAIL(PL_ERR_SHAPE, "groups %d must divide the channels %d", nd->attr[0], in->c);
    *out = *in;
    return PL_OK;
}

static void shuffle_forward(ig_graph *g, const ig_node *nd)
{
    nn_channel_shuffle_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), g->batch, nd->shape.c,
                               nd->shape.h * nd->shape.w, nd->attr[0]);
}

static void shuffle_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    nn_channel_shuffle_backward(dinp, ig_out_grad(g, nd), g->batch, nd->shape.c,
                                nd->shape.h * nd->shape.w, nd->attr[0]);
}

const ig_op_def ig_op_channel_shuffle = {.name = "channel_shuffle", .min_in = 1, .max_in = 1,
                                         .infer = shuffle_infer, .forward = shuffle_forward,
                                         .backward = shuffle_backward};

/* ---- flatten: (C,H,W) -> (C*H*W,1,1); NCHW makes it a plain copy -------- */

static int flatten_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    *out = (ig_shape){in->c * in->h * in->w, 1, 1};
    return PL_OK;
}

static void flatten_forward(ig_graph *g, const ig_node *nd)
{
    nn_act_forward(NN_ACT_IDENTITY, ig_out_value(g, nd), ig_in_value(g, nd, 0),
                   (size_t)g->batch * ig_shape_size(&nd->shape));
}

static void flatten_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (dinp)
        nn_accumulate(dinp, ig_out_grad(g, nd), (size_t)g->batch * ig_shape_size(&nd->shape));
}

const ig_op_def ig_op_flatten = {.name = "flatten", .min_in = 1, .max_in = 1,
                                 .infer = flatten_infer, .forward = flatten_forward,
                                 .backward = flatten_backward};
