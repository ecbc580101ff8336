/* ds_experiment.c: an experiment's data splits and model-sized batches (see
 * ds_experiment.h): the train stage's and every later stage's view of the
 * data. */
#include "ds_experiment.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>

/* Loads the training and test splits of data.name from data.path (empty:
 * the dataset's standard place, when it has one) and picks its augmentation:
 * crops shifted by up to 2 pixels of 28 (Fashion-MNIST) or 4 of 32 (CIFAR-10,
 * the usual RandomCrop(32, padding=4)), and mirroring, which keeps the label
 * of both (clothes, CIFAR-10's objects and animals; not so for digits). */
static int load_dataset(ds_experiment *x, const cfg_data *d)
{
    const char *path = d->path[0] != '\0' ? d->path : NULL;
    if (strcmp(d->name, "fashion_mnist") == 0) {
        x->crop_pad = 2;
        x->flip = 1;
        return ds_load_fashion_mnist(path, &x->train, &x->test, 0, d->test_images);
    }
    if (strcmp(d->name, "cifar10") == 0) {
        x->crop_pad = 4;
        x->flip = 1;
        if (!path)
            PL_FAIL(PL_ERR_CONFIG, "data.path: CIFAR-10 has no standard place; set data.path to "
                    "the cifar-10-batches-bin folder (CIFAR-10's binary version, "
                    "cifar-10-binary.tar.gz)");
        return ds_load_cifar10(path, &x->train, &x->test, 0, d->test_images);
    }
    PL_FAIL(PL_ERR_CONFIG, "data.name: unknown dataset '%s'", d->name);
}

static int prepare(ds_experiment *x, const cfg_experiment *e)
{
    const cfg_data *d = &e->data;
    PL_TRY(load_dataset(x, d));
    if (d->validation_images >= x->train.n)
        PL_FAIL(PL_ERR_CONFIG, "data.validation_images: %d leaves no training images (the "
                "training split has %d)", d->validation_images, x->train.n);
    PL_TRY(ds_split(&x->train, &x->val, d->validation_images, (uint64_t)e->seed));
    if (d->train_images > 0) {
        if (d->train_images > x->train.n)
            PL_FAIL(PL_ERR_CONFIG, "data.train_images: %d requested but only %d remain after "
                    "the validation split", d->train_images, x->train.n);
        x->train.n = d->train_images; /* the split already shuffled them */
    }
    x->src_c = x->train.c;
    x->src_h = x->train.h;
    x->src_w = x->train.w;
    int size = e->model.input_size;
    x->in_h = size > 0 ? size : x->src_h;
    x->in_w = size > 0 ? size : x->src_w;
    if (x->in_h < x->src_h || x->in_w < x->src_w)
        PL_FAIL(PL_ERR_CONFIG, "model.input_size: %d is smaller than the %dx%d images (only "
                "padding or resizing to a larger size is supported)", size, x->src_h, x->src_w);
    x->bilinear = strcmp(d->upscale, "bilinear") == 0;
    if (x->src_c < 1 || x->src_c > DS_MAX_CHANNELS)
        PL_FAIL(PL_ERR_INVAL, "%s: %d channels (at most %d are supported)", x->train.name,
                x->src_c, DS_MAX_CHANNELS);
    for (int c = 0; c < x->src_c; c++)
        x->pad_value[c] = x->train.std[c] > 0 ? -x->train.mean[c] / x->train.std[c] : 0.0f;
    return PL_OK;
}

int ds_experiment_load(ds_experiment *x, const cfg_experiment *e, int max_batch)
{
    memset(x, 0, sizeof *x);
    PL_ASSERT(max_batch >= 1);
    int rc = prepare(x, e);
    if (rc < 0) {
        ds_experiment_free(x);
        return rc;
    }
    x->max_batch = max_batch;
    x->staging = pl_xmalloc((size_t)max_batch * x->src_c * x->src_h * x->src_w * sizeof(float));
    return PL_OK;
}

void ds_experiment_batch(ds_experiment *x, const ds_set *set, const int32_t *idx, int count,
                         int augment, uint64_t seed, int64_t step, float *input,
                         int32_t *labels)
{
    PL_ASSERT(count >= 1 && count <= x->max_batch);
    int32_t scratch_labels[1];
    int enlarged = x->in_h != x->src_h || x->in_w != x->src_w;
    float *dst = enlarged ? x->staging : input;
    int32_t *lab = labels;
    int32_t *own = NULL;
    if (!lab) lab = count == 1 ? scratch_labels : (own = pl_xmalloc((size_t)count * sizeof *own));
    if (augment)
        ds_gather_augmented(set, idx, count, dst, lab, x->crop_pad, x->flip, seed, step);
    else
        ds_gather(set, idx, count, dst, lab);
    pl_free(own);
    if (!enlarged) return;
    if (x->bilinear) {
        ds_resize_bilinear(x->staging, count * x->src_c, x->src_h, x->src_w, input, x->in_h,
                           x->in_w);
        return;
    }
    int top = (x->in_h - x->src_h) / 2, left = (x->in_w - x->src_w) / 2;
    size_t plane = (size_t)x->in_h * x->in_w;
    for (int n = 0; n < count; n++)
        for (int c = 0; c < x->src_c; c++) {
            float *out = input + ((size_t)n * x->src_c + c) * plane;
            const float *in = x->staging + ((size_t)n * x->src_c + c) * x->src_h * x->src_w;
            for (size_t i = 0; i < plane; i++) out[i] = x->pad_value[c];
            for (int y = 0; y < x->src_h; y++)
                memcpy(out + (size_t)(y + top) * x->in_w + left, in + (size_t)y * x->src_w,
                       (size_t)x->src_w * sizeof *in);
        }
}

int ds_experiment_take(ds_experiment *x, const ds_set *set, int count, int shuffled,
                       uint64_t seed, float **images, int32_t **labels)
{
    if (count > set->n) count = set->n;
    int32_t *order = pl_xmalloc((size_t)(set->n > 0 ? set->n : 1) * sizeof *order);
    if (shuffled)
        ds_epoch_order(order, set->n, seed, 0);
    else
        for (int i = 0; i < set->n; i++) order[i] = i;
    size_t size = (size_t)x->src_c * x->in_h * x->in_w;
    *images = pl_xmalloc(((size_t)count * size + 1) * sizeof(float));
    if (labels) *labels = pl_xmalloc(((size_t)count + 1) * sizeof(int32_t));
    for (int start = 0; start < count; start += x->max_batch) {
        int b = count - start < x->max_batch ? count - start : x->max_batch;
        ds_experiment_batch(x, set, order + start, b, 0, 0, 0, *images + start * size,
                            labels ? *labels + start : NULL);
    }
    pl_free(order);
    return count;
}

void ds_experiment_free(ds_experiment *x)
{
    if (!x) return;
    ds_set_free(&x->train);
    ds_set_free(&x->val);
    ds_set_free(&x->test);
    pl_free(x->staging);
    memset(x, 0, sizeof *x);
}
