/* ds_experiment.h: an experiment's data as every stage after train sees it:
 * the dataset of `data` loaded and split exactly as the train stage splits
 * it (same seed, same validation hold-out, same training subset), and
 * batches written at the model's input size (data.upscale: zero-padded,
 * centered, with the normalized value of a black pixel; or resized
 * bilinearly), optionally augmented like training. The train stage and every
 * later stage see the same pixels. */
#ifndef DS_EXPERIMENT_H
#define DS_EXPERIMENT_H

#include "cfg.h"
#include "ds_data.h"

typedef struct {
    ds_set train, val, test;     /* normalized images, (n, c, h, w)          */
    int    src_c, src_h, src_w;  /* dataset image shape                      */
    int    in_h, in_w;           /* model input (>= source)                  */
    int    bilinear;             /* 1: resize to the input, 0: pad       */
    float  pad_value[DS_MAX_CHANNELS];
    int    crop_pad, flip;       /* augmentation of the dataset              */
    int    max_batch;
    float *staging;              /* (max_batch, src_c, src_h, src_w)         */
} ds_experiment;

/* Loads and splits e's data for batches of at most max_batch images.
 * Returns PL_OK or a negative status naming the file or key at fault; on
 * error x needs no cleanup (ds_experiment_free is still safe). */
int ds_experiment_load(ds_experiment *x, const cfg_experiment *e, int max_batch);

/* Writes count (<= max_batch) examples of set, indices idx, into input
 * (count, src_c, in_h, in_w) and labels (count; NULL skips them), augmented
 * with the dataset's crop and mirror under (seed, step) when augment. */
void ds_experiment_batch(ds_experiment *x, const ds_set *set, const int32_t *idx, int count,
                         int augment, uint64_t seed, int64_t step, float *input,
                         int32_t *labels);

/* The first count (at most set->n) examples of set, unaugmented, at the
 * model's input size: in the set's order, or, when shuffled, in the seeded
 * order of epoch 0 (ds_epoch_order). *images (count, src_c, in_h, in_w) and
 * *labels (count; NULL skips them) are pl_xmalloc'd. Returns the count. */
int ds_experiment_take(ds_experiment *x, const ds_set *set, int count, int shuffled,
                       uint64_t seed, float **images, int32_t **labels);

void ds_experiment_free(ds_experiment *x);

#endif
