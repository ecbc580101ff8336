/* ds_data.h: image-classification data sets in memory, read from IDX files
 * (the MNIST family, Fashion-MNIST from Debian's dataset-fashion-mnist), a
 * seeded train/validation split, per-epoch orders and allocation-free batch
 * gathering with optional augmentation.
 *
 * Ownership: a ds_set is a plain struct the caller owns (usually on the
 * stack); the loaders and ds_split fill it with arrays the set owns, and
 * ds_set_free releases them. On error a loader leaves its output sets zeroed
 * (nothing to free; freeing is still harmless).
 *
 * Determinism: every random choice comes from a seed. ds_split uses GSL's
 * mt19937; the epoch orders and the augmentation use a counter-based hash
 * (splitmix64) of (seed, epoch) or (seed, step, example), so results never
 * depend on threads or on the order of calls. */
#ifndef DS_DATA_H
#define DS_DATA_H

#include <stdint.h>

/* Fashion-MNIST's training-set pixel statistics (pixels scaled to [0,1]). */
#define DS_FASHION_MNIST_MEAN 0.2860f
#define DS_FASHION_MNIST_STD  0.3530f
#define DS_FASHION_MNIST_CLASSES 10
/* Where Debian's dataset-fashion-mnist package puts the gzipped IDX files. */
#define DS_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* The number of classes ds_load_idx assumes (every MNIST-like set). */
#define DS_IDX_CLASSES 10

typedef struct {
    int      n, c, h, w;  /* examples, channels, rows, columns                */
    int      classes;     /* labels are in [0, classes)                       */
    float   *images;      /* (n, c, h, w) stored = (pixel/255 - mean) / std   */
    int32_t *labels;      /* (n)                                              */
    float    mean, std;   /* the normalization applied (0 and 1: none), for
                             the train stage to record in its artifact        */
    char     name[32];    /* e.g. "fashion-mnist-train"                       */
} ds_set;

/* Frees the set's arrays and zeroes it. The struct itself stays the caller's.
 * NULL and zeroed sets are fine. */
void ds_set_free(ds_set *s);

/* Reads an IDX image file (magic 0x00000803: n, rows, cols, then n*rows*cols
 * unsigned bytes) and its IDX label file (magic 0x00000801: n, then n bytes),
 * gzipped or not, into out (overwritten, not freed first): c = 1, h = rows,
 * w = cols, classes = DS_IDX_CLASSES, pixels scaled to [0,1] (mean 0, std 1).
 * Validates the magics, the dimensions (rows, cols in 1..4096, n >= 1), that
 * the counts agree, that each payload has exactly the declared size (short or
 * truncated files and trailing bytes are errors) and every label < classes.
 * limit > 0 keeps only the first min(limit, n) examples (the whole files are
 * still read and validated). Errors (PL_ERR_IO for open/read failures,
 * PL_ERR_INVAL for bad content, PL_ERR_NOMEM) name the file and the problem. */
int ds_load_idx(const char *images_path, const char *labels_path, ds_set *out, int limit);

/* As ds_load_idx with an explicit class count (1..256) and normalization:
 * stored = (pixel/255 - mean) / std, std > 0. */
int ds_load_idx_ex(const char *images_path, const char *labels_path, ds_set *out, int limit,
                   int classes, float mean, float std);

/* Loads Fashion-MNIST from dir (DS_FASHION_MNIST_DIR when NULL): the files
 * train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
 * t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; 10 classes,
 * 1x28x28 (not enforced, so small synthetic sets load too), normalized with
 * DS_FASHION_MNIST_MEAN/STD. train or test may be NULL to skip that half;
 * *_limit as in ds_load_idx. A missing directory or file is reported by name
 * with the hint that `apt-get install dataset-fashion-mnist` provides it. On
 * error both outputs are left zeroed. */
int ds_load_fashion_mnist(const char *dir, ds_set *train, ds_set *test, int train_limit,
                          int test_limit);

/* Shuffles train with GSL's mt19937 seeded from seed (every bit of it
 * counts), moves its first n_val examples into val and keeps the other
 * n - n_val in train, both in the shuffled order. val is overwritten (pass an
 * empty set), receives train's shape, classes and normalization and the name
 * "<train name>-val"; it is owned by the caller like train. 0 <= n_val < n,
 * else PL_ERR_INVAL (train unchanged). Train's arrays keep their allocation. */
int ds_split(ds_set *train, ds_set *val, int n_val, uint64_t seed);

/* Writes a permutation of 0..n-1 into order (n), a pure function of
 * (seed, epoch): the same pair always gives the same order, different epochs
 * give independent orders. No allocation. */
void ds_epoch_order(int32_t *order, int n, uint64_t seed, int epoch);

/* Copies the examples idx (count), each in [0, s->n), into images
 * (count, c, h, w) and labels (count; may be NULL). No allocation. */
void ds_gather(const ds_set *s, const int32_t *idx, int count, float *images, int32_t *labels);

/* The augmentation ds_gather_augmented applies to example `example` at
 * `step`: a crop offset (dy, dx), each uniform in [-pad, pad], and whether
 * the example is mirrored (always 0 when flip == 0). A pure function of
 * (seed, step, example). */
void ds_augment_params(uint64_t seed, int64_t step, int32_t example, int pad, int flip, int *dy,
                       int *dx, int *flipped);

/* As ds_gather, with random-crop and mirror augmentation (as torchvision's
 * RandomCrop(size, padding=pad) followed by RandomHorizontalFlip):
 *     out[y][x] = in[y + dy][x' + dx],  x' = flipped ? w-1-x : x
 * with (dy, dx, flipped) from ds_augment_params(seed, step, idx[i], ...);
 * positions outside the image read as a black pixel (raw 0, i.e. -mean/std
 * after normalization: zero padding in pixel space; 0 when std is 0, as in a
 * set built by hand without normalization fields). pad = 0 disables the
 * crop, flip = 0 the mirror (then it equals ds_gather). Mirroring keeps the
 * label for clothes (Fashion-MNIST: a mirrored shirt is still a shirt; it
 * would not be for digits), but the config keeps it off by default. The
 * result depends only on (seed, step, example), not on threads or call order.
 * pad in 0..h-1 and 0..w-1. No allocation. */
void ds_gather_augmented(const ds_set *s, const int32_t *idx, int count, float *images,
                         int32_t *labels, int pad, int flip, uint64_t seed, int64_t step);

#endif
