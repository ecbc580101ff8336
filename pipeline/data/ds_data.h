/* ds_data.h: image-classification data sets in memory, read from IDX files
 * (the MNIST family, Fashion-MNIST from Debian's dataset-fashion-mnist) or
 * from CIFAR-10's binary version, a seeded train/validation split, per-epoch
 * orders and allocation-free batch gathering with optional augmentation.
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

/* CIFAR-10's binary version: records of 1 label byte then 3x32x32 pixel
 * bytes (channel-major: the 1024 red, then green, then blue values, rows top
 * to bottom), 10000 records in each of data_batch_1.bin .. data_batch_5.bin
 * and test_batch.bin. */
#define DS_CIFAR10_CLASSES      10
#define DS_CIFAR10_CHANNELS     3
#define DS_CIFAR10_SIDE         32
#define DS_CIFAR10_RECORD_BYTES 3073
#define DS_CIFAR10_FILE_RECORDS 10000
/* CIFAR-10's training-set per-channel pixel statistics (R, G, B; pixels
 * scaled to [0,1]). */
extern const float ds_cifar10_mean[DS_CIFAR10_CHANNELS];
extern const float ds_cifar10_std[DS_CIFAR10_CHANNELS];

/* The number of classes ds_load_idx assumes (every MNIST-like set). */
#define DS_IDX_CLASSES 10

/* The most channels a set records a normalization for. */
#define DS_MAX_CHANNELS 4

typedef struct {
    int      n, c, h, w;  /* examples, channels, rows, columns (c <= 4)       */
    int      classes;     /* labels are in [0, classes)                       */
    float   *images;      /* (n, c, h, w) stored = (pixel/255 - mean[ch]) /
                             std[ch] for the pixel's channel ch               */
    int32_t *labels;      /* (n)                                              */
    float    mean[DS_MAX_CHANNELS], std[DS_MAX_CHANNELS];
                          /* (c used) the normalization applied per channel
                             (0 and 1: none), for the train stage to record
                             in its artifact; entries from c on are 0         */
    char     name[32];    /* e.g. "fashion-mnist-train"                       */
} ds_set;

/* Frees the set's arrays and zeroes it. The struct itself stays the caller's.
 * NULL and zeroed sets are fine. */
void ds_set_free(ds_set *s);

/* Reads an IDX image file (magic 0x00000803: n, rows, cols, then n*rows*cols
 * unsigned bytes) and its IDX label file (magic 0x00000801: n, then n bytes),
 * gzipped or not, into out (overwritten, not freed first): c = 1, h = rows,
 * w = cols, classes = DS_IDX_CLASSES, pixels scaled to [0,1] (mean[0] = 0,
 * std[0] = 1).
 * Validates the magics, the dimensions (rows, cols in 1..4096, n >= 1), that
 * the counts agree, that each payload has exactly the declared size (short or
 * truncated files and trailing bytes are errors) and every label < classes.
 * limit > 0 keeps only the first min(limit, n) examples (the whole files are
 * still read and validated). Errors (PL_ERR_IO for open/read failures,
 * PL_ERR_INVAL for bad content, PL_ERR_NOMEM) name the file and the problem. */
int ds_load_idx(const char *images_path, const char *labels_path, ds_set *out, int limit);

/* As ds_load_idx with an explicit class count (1..256) and normalization:
 * stored = (pixel/255 - mean) / std, std > 0 (recorded as mean[0], std[0]). */
int ds_load_idx_ex(const char *images_path, const char *labels_path, ds_set *out, int limit,
                   int classes, float mean, float std);

/* Loads Fashion-MNIST from dir (DS_FASHION_MNIST_DIR when NULL): the files
 * train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
 * t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; 10 classes,
 * 1x28x28 (not enforced, so small synthetic sets load too), normalized with
 * DS_FASHION_MNIST_MEAN/STD (in mean[0], std[0]). train or test may be NULL
 * to skip that half;
 * *_limit as in ds_load_idx. A missing directory or file is reported by name
 * with the hint that `apt-get install dataset-fashion-mnist` provides it. On
 * error both outputs are left zeroed. */
int ds_load_fashion_mnist(const char *dir, ds_set *train, ds_set *test, int train_limit,
                          int test_limit);

/* Loads CIFAR-10's binary version (cifar-10-binary.tar.gz, extracted: the
 * cifar-10-batches-bin folder) from dir: train gets data_batch_1.bin ..
 * data_batch_5.bin in that order ("cifar10-train"), test gets test_batch.bin
 * ("cifar10-test"); 10 classes, 3x32x32, each channel normalized with
 * ds_cifar10_mean/std (recorded in mean[0..2], std[0..2]). train or test may
 * be NULL to skip that half; limit > 0 keeps the first min(limit, n) records
 * (every file is still read and validated).
 *
 * Validation: each file must be a whole number of 3073-byte records, at
 * least one and at most 10000 (the real files hold exactly 10000: 30730000
 * bytes); a file of fewer records is accepted, so that tests can use small
 * generated files, but the five training batches must hold the same number.
 * A truncated, oversized or empty file, batches of different sizes, a short
 * read and a label >= 10 are errors naming the file and the byte or record
 * counts. dir NULL or "", a missing directory or batch file is an error
 * saying which, and that CIFAR-10's binary version must be given as
 * data.path. Errors: PL_ERR_IO (open/read), PL_ERR_INVAL (content, no dir),
 * PL_ERR_NOMEM. On error both outputs are left zeroed; on success the caller
 * owns them (ds_set_free). */
int ds_load_cifar10(const char *dir, ds_set *train, ds_set *test, int train_limit,
                    int test_limit);

/* Shuffles train with GSL's mt19937 seeded from seed (every bit of it
 * counts), moves its first n_val examples into val and keeps the other
 * n - n_val in train, both in the shuffled order. val is overwritten (pass an
 * empty set), receives train's shape, classes and per-channel normalization
 * and the name
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
 * positions outside the image read as a black pixel (raw 0, i.e.
 * -mean[ch]/std[ch] after normalization, per channel: zero padding in pixel
 * space; 0 when std[ch] is 0, as in a set built by hand without
 * normalization fields). pad = 0 disables the crop, flip = 0 the mirror
 * (then it equals ds_gather). Mirroring keeps the label for clothes
 * (Fashion-MNIST: a mirrored shirt is still a shirt) and for CIFAR-10's
 * objects and animals; it would not for digits or text, whose caller passes
 * flip = 0. The config keeps augmentation off by default. The
 * result depends only on (seed, step, example), not on threads or call order.
 * pad in 0..h-1 and 0..w-1. No allocation. */
void ds_gather_augmented(const ds_set *s, const int32_t *idx, int count, float *images,
                         int32_t *labels, int pad, int flip, uint64_t seed, int64_t step);

/* Resizes planes images (planes, in_h, in_w) to out (planes, out_h, out_w)
 * bilinearly, as PyTorch's interpolate(mode="bilinear",
 * align_corners=False); allocation-free. */
void ds_resize_bilinear(const float *in, int planes, int in_h, int in_w, float *out, int out_h,
                        int out_w);

#endif
