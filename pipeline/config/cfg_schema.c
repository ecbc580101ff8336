/* cfg_schema.c: the configuration schema tables (every key, section and
 * stage) and the checks that relate keys to each other.
 *
 * To add a key: add its field to the struct in cfg.h and a row below (the
 * AT_* macros refuse a field of the wrong C type at compile time), then
 * regenerate schemas/config.md with `build/gos_config schema`. To add a stage:
 * add its row to `stages`; to add its section: move the name from
 * `future_sections` to `sections` and add the key rows. To add a model or a
 * dataset: add its name to model_names or dataset_names. */
#include "cfg_schema.h"
#include "pl_err.h"

#include <stdio.h>
#include <string.h>

/* Field locations, type-checked: a mismatch is a compile error. */
#define FIELD_OF(f) (((cfg_experiment *)0)->f)
#define AT_INT(f)                                                              \
    .offset = _Generic(FIELD_OF(f), int: offsetof(cfg_experiment, f)), .size = sizeof(int)
#define AT_FLOAT(f)                                                            \
    .offset = _Generic(FIELD_OF(f), double: offsetof(cfg_experiment, f)), .size = sizeof(double)
#define AT_STRING(f)                                                           \
    .offset = _Generic(FIELD_OF(f), char *: offsetof(cfg_experiment, f)), .size = sizeof(FIELD_OF(f))

#define MIN_MAX (CFG_HAS_MIN | CFG_HAS_MAX)

/* Allowed values of the enum keys. */
static const char *const model_names[]   = {"convnet", "resnet18", "resnet18_small",
                                            "mobilenetv3_large", "mobilenetv3_small",
                                            "inceptionv3", "inceptionv3_small", NULL};
static const char *const dataset_names[] = {"fashion_mnist", "cifar10", NULL};
static const char *const upscale_names[] = {"pad", "bilinear", NULL};
static const char *const schedule_names[] = {"constant", "step", "cosine", NULL};
static const char *const progress_names[] = {"auto", "always", "never", NULL};
static const char *const device_kinds[]   = {"measured", "predicted", "remote", NULL};
static const char *const rank_names[]     = {"latency", "latency_per_param", "mixed", NULL};
/* The instruction-set variants of pipeline/gen/gen_iset.c (a test keeps the
 * two lists equal). */
static const char *const choice_names[]   = {"lowest_latency", "knee", NULL};
static const char *const iset_names[]     = {"full", "no-dense-conv", "no-transcendental",
                                             "pointwise-depthwise", NULL};

static const cfg_section_spec sections[] = {
    {"", "Top-level keys, shared by every stage."},
    {"model", "The network that is trained and then adapted."},
    {"data", "The dataset and how much of it is used."},
    {"train", "The training recipe of the baseline model: SGD with momentum and a "
              "learning-rate schedule with optional linear warm-up."},
    {"device", "The device latencies are measured on or predicted for. Device files "
               "(experiments/common/devices/*.cfg) define `base_device` with the "
               "characteristics of one device and their sources. The latency model, per "
               "instruction: `overhead_us` + planes * `plane_ns` + max(FLOPs / (peak * S * "
               "eff_<class>), bytes / bandwidth), where planes = batch * output channels, "
               "peak = cores * freq_ghz * simd_lanes * 2 * fma_units, S is 1 but for "
               "convolutions lowered to sgemm (`parallel_mflops`, `gemm_half`), and "
               "the bandwidth is `cache_gbs` when the instruction's bytes fit in `cache_kb`, "
               "else `dram_gbs`, times `eff_bandwidth`. A characteristic left at 0 is "
               "unknown; a predicted device needs them all."},
    {"profile", "How the profile stage ranks operators by inefficiency."},
    {"graphgen", "Graph generation: the profile's top operators as instruction DAGs with their "
                 "weights and real activations, seed candidates for the search, and the "
                 "sparsity study (random candidates from scratch against adaptations of the "
                 "original)."},
    {"search", "The search: for each inefficient operator in turn, NSGA-II over candidate DAGs "
               "minimising latency on the device and parameters, under the constraint that "
               "the model's validation accuracy with the candidate in place stays within "
               "`epsilon` points of the baseline's."},
    {"finetune", "Fine-tuning of the adapted model, end to end. Batch size, momentum, "
                 "Nesterov, weight decay and augmentation are the `train` section's."},
    {"validate", "Validation of the adapted model against the original on the device."},
};

/* Sections of the stages still to be written (see ARCHITECTURE.md). */
static const char *const future_sections[] = {
    "report", NULL,
};

static const cfg_stage_spec stages[] = {
    {"train", {"seed", "threads", "model", "data", "train", NULL},
     "Trains the baseline model: results/<exp>/baseline.h5."},
    {"profile", {"threads", "device", "profile", NULL},
     "Times or predicts every operator of the baseline on the device and ranks them: "
     "results/<exp>/profile.h5."},
    {"graphgen", {"seed", "threads", "model", "data", "device", "graphgen", NULL},
     "Cuts the top operators out as instruction DAGs, makes seed candidates and runs the "
     "sparsity study: results/<exp>/graphs.h5."},
    {"search", {"seed", "threads", "model", "data", "device", "graphgen", "search", NULL},
     "Replaces inefficient operators by searched candidates: results/<exp>/search.h5."},
    {"finetune", {"seed", "threads", "data", "train", "finetune", NULL},
     "Trains the adapted model end to end: results/<exp>/adapted.h5."},
    {"validate", {"seed", "threads", "model", "data", "device", "search.epsilon", "validate", NULL},
     "Latency, accuracy, parameters and FLOPs of the original and the adapted model on the "
     "device: results/<exp>/validate.h5."},
};

static const cfg_key_spec keys[] = {
    /* top level */
    {.section = "", .key = "seed", .type = CFG_INT, AT_INT(seed), .def_int = 1,
     .bounds = CFG_HAS_MIN, .min = 0, .fingerprinted = 1,
     .doc = "Seed of every random choice (initialization, shuffling, augmentation, "
            "search); runs with the same seed give the same results."},
    {.section = "", .key = "threads", .type = CFG_INT, AT_INT(threads), .def_int = 0,
     .bounds = MIN_MAX, .min = 0, .max = 256, .fingerprinted = 1,
     .doc = "Worker threads; 0 uses every core. Results can differ in the last bits "
            "between thread counts (sgemm sums in another order), so the fingerprint "
            "holds the resolved count and artifacts are shared only between runs with "
            "the same count."},

    /* model */
    {.section = "model", .key = "name", .type = CFG_ENUM, AT_STRING(model.name),
     .required = 1, .values = model_names, .fingerprinted = 1,
     .doc = "The architecture to build."},
    {.section = "model", .key = "width", .type = CFG_FLOAT, AT_FLOAT(model.width),
     .def_float = 1.0, .bounds = MIN_MAX, .min = 0.0625, .max = 4, .fingerprinted = 1,
     .doc = "Channel-width multiplier applied to every layer (channels are rounded, "
            "at least 1); small values make quick tests."},
    {.section = "model", .key = "input_size", .type = CFG_INT, AT_INT(model.input_size),
     .def_int = 0, .bounds = MIN_MAX | CFG_ZERO_SPECIAL, .min = 8, .max = 512,
     .fingerprinted = 1,
     .doc = "Side of the square model input: images are zero-padded (centered) to "
            "it, never shrunk; 0 keeps the dataset's native size (28 for Fashion-MNIST, 32 "
            "for CIFAR-10)."},
    {.section = "model", .key = "dropout", .type = CFG_FLOAT, AT_FLOAT(model.dropout),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 0.9, .fingerprinted = 1,
     .doc = "Dropout probability before the classifier; 0 disables it."},

    /* data */
    {.section = "data", .key = "name", .type = CFG_ENUM, AT_STRING(data.name),
     .required = 1, .values = dataset_names, .fingerprinted = 1,
     .doc = "The dataset: Fashion-MNIST (1x28x28 grey, normalized with mean 0.2860 and "
            "std 0.3530) or CIFAR-10 (3x32x32 colour, normalized per channel with mean "
            "(0.4914, 0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616)); 10 classes each."},
    {.section = "data", .key = "path", .type = CFG_STRING, AT_STRING(data.path),
     .def_string = "", .fingerprinted = 1,
     .doc = "Directory holding the dataset files; empty: the dataset's standard place. "
            "`fashion_mnist`: the gzipped IDX files, by default "
            "/usr/share/datasets/fashion-mnist (Debian's `dataset-fashion-mnist`). "
            "`cifar10`: the `cifar-10-batches-bin` folder of CIFAR-10's binary version "
            "(cifar-10-binary.tar.gz, extracted); it has no standard place, so it must "
            "be set."},
    {.section = "data", .key = "train_images", .type = CFG_INT, AT_INT(data.train_images),
     .def_int = 0, .bounds = CFG_HAS_MIN, .min = 0, .fingerprinted = 1,
     .doc = "Training images used; 0 uses every training image not held out for "
            "validation."},
    {.section = "data", .key = "validation_images", .type = CFG_INT,
     AT_INT(data.validation_images), .def_int = 5000, .bounds = CFG_HAS_MIN, .min = 0,
     .fingerprinted = 1,
     .doc = "Images held out of the training split for validation (model selection, "
            "the search's accuracy estimates); 0 holds out none."},
    {.section = "data", .key = "test_images", .type = CFG_INT, AT_INT(data.test_images),
     .def_int = 0, .bounds = CFG_HAS_MIN, .min = 0, .fingerprinted = 1,
     .doc = "Test-split images used for the reported accuracy; 0 uses all of them."},
    {.section = "data", .key = "augment", .type = CFG_BOOL, AT_INT(data.augment),
     .def_int = 0, .fingerprinted = 1,
     .doc = "Augment training images, deterministically under `seed`: random crops of "
            "the image zero-padded by 2 pixels (Fashion-MNIST) or 4 (CIFAR-10), and "
            "horizontal flips (both datasets' labels survive a mirror)."},
    {.section = "data", .key = "upscale", .type = CFG_ENUM, AT_STRING(data.upscale),
     .def_string = "pad", .values = upscale_names, .fingerprinted = 1,
     .doc = "How images smaller than `model.input_size` are brought to it: `pad` "
            "centers them on a black canvas (the image keeps its pixels); `bilinear` "
            "resizes them (PyTorch's `interpolate(mode=\"bilinear\", "
            "align_corners=False)`), so the whole input carries the image."},

    /* train */
    {.section = "train", .key = "epochs", .type = CFG_INT, AT_INT(train.epochs),
     .required = 1, .bounds = MIN_MAX, .min = 1, .max = 1000, .fingerprinted = 1,
     .doc = "Passes over the training images."},
    {.section = "train", .key = "batch_size", .type = CFG_INT, AT_INT(train.batch_size),
     .def_int = 64, .bounds = MIN_MAX, .min = 2, .max = 4096, .fingerprinted = 1,
     .doc = "Images per SGD step (at least 2: batch normalization needs two values per "
            "channel)."},
    {.section = "train", .key = "lr", .type = CFG_FLOAT, AT_FLOAT(train.lr),
     .def_float = 0.1, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE, .min = 0, .max = 10,
     .fingerprinted = 1,
     .doc = "Base learning rate, reached at the end of the warm-up."},
    {.section = "train", .key = "momentum", .type = CFG_FLOAT, AT_FLOAT(train.momentum),
     .def_float = 0.9, .bounds = MIN_MAX, .min = 0, .max = 0.999, .fingerprinted = 1,
     .doc = "SGD momentum; 0 disables it."},
    {.section = "train", .key = "nesterov", .type = CFG_BOOL, AT_INT(train.nesterov),
     .def_int = 0, .fingerprinted = 1,
     .doc = "Nesterov momentum (needs momentum > 0)."},
    {.section = "train", .key = "weight_decay", .type = CFG_FLOAT,
     AT_FLOAT(train.weight_decay), .def_float = 5e-4, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "L2 weight decay coefficient."},
    {.section = "train", .key = "decay_bn_and_bias", .type = CFG_BOOL,
     AT_INT(train.decay_bn_and_bias), .def_int = 0, .fingerprinted = 1,
     .doc = "Also apply weight decay to biases and batch-norm scales and shifts."},
    {.section = "train", .key = "schedule", .type = CFG_ENUM, AT_STRING(train.schedule),
     .def_string = "cosine", .values = schedule_names, .fingerprinted = 1,
     .doc = "Learning-rate schedule after the warm-up: constant, step decay by `gamma` "
            "every `step_epochs`, or cosine annealing to `min_lr`."},
    {.section = "train", .key = "warmup_epochs", .type = CFG_INT, AT_INT(train.warmup_epochs),
     .def_int = 0, .bounds = CFG_HAS_MIN, .min = 0, .fingerprinted = 1,
     .doc = "Epochs of linear warm-up to `lr` at the start; must be less than `epochs`."},
    {.section = "train", .key = "step_epochs", .type = CFG_INT, AT_INT(train.step_epochs),
     .def_int = 30, .bounds = CFG_HAS_MIN, .min = 1, .fingerprinted = 1,
     .doc = "Step schedule: epochs between two decays."},
    {.section = "train", .key = "gamma", .type = CFG_FLOAT, AT_FLOAT(train.gamma),
     .def_float = 0.1, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Step schedule: factor applied to the learning rate at each decay."},
    {.section = "train", .key = "min_lr", .type = CFG_FLOAT, AT_FLOAT(train.min_lr),
     .def_float = 0, .bounds = CFG_HAS_MIN, .min = 0, .fingerprinted = 1,
     .doc = "Cosine schedule: final learning rate; at most `lr`."},
    {.section = "train", .key = "progress", .type = CFG_ENUM, AT_STRING(train.progress),
     .def_string = "auto", .values = progress_names, .fingerprinted = 0,
     .doc = "Per-epoch progress lines: `auto` when stderr is a terminal, `always`, or "
            "`never`. Results do not depend on it."},

    /* device */
    {.section = "device", .key = "name", .type = CFG_STRING, AT_STRING(device.name),
     .def_string = "host", .fingerprinted = 1,
     .doc = "Device name, written beside every latency (`host`, `rpi3`, `redmi7s`, ...)."},
    {.section = "device", .key = "kind", .type = CFG_ENUM, AT_STRING(device.kind),
     .def_string = "measured", .values = device_kinds, .fingerprinted = 1,
     .doc = "`measured`: timed on this machine with the project's engine; `predicted`: the "
            "latency model; `remote`: timed on the real device by `gos_bench_graph`, run "
            "through `remote_command`."},
    {.section = "device", .key = "description", .type = CFG_STRING,
     AT_STRING(device.description), .def_string = "", .fingerprinted = 0,
     .doc = "Free text for tables (the device's full name)."},
    {.section = "device", .key = "threads", .type = CFG_INT, AT_INT(device.threads),
     .def_int = 0, .bounds = MIN_MAX, .min = 0, .max = 256, .fingerprinted = 1,
     .doc = "Threads of a timed inference (measured and remote devices); 0 uses the "
            "experiment's `threads`."},
    {.section = "device", .key = "batch", .type = CFG_INT, AT_INT(device.batch),
     .def_int = 1, .bounds = MIN_MAX, .min = 1, .max = 1024, .fingerprinted = 1,
     .doc = "Images per timed (or predicted) inference."},
    {.section = "device", .key = "warmup_runs", .type = CFG_INT, AT_INT(device.warmup_runs),
     .def_int = 3, .bounds = MIN_MAX, .min = 0, .max = 10000, .fingerprinted = 1,
     .doc = "Untimed runs before the timed ones."},
    {.section = "device", .key = "timed_runs", .type = CFG_INT, AT_INT(device.timed_runs),
     .def_int = 15, .bounds = MIN_MAX, .min = 1, .max = 100000, .fingerprinted = 1,
     .doc = "Timed runs; latencies report their median, min, max and interquartile "
            "spread."},
    {.section = "device", .key = "min_run_ms", .type = CFG_FLOAT, AT_FLOAT(device.min_run_ms),
     .def_float = 0.5, .bounds = MIN_MAX, .min = 0, .max = 10000, .fingerprinted = 1,
     .doc = "A timed run repeats the timed code until it lasts at least this long and "
            "reports the time per repetition (clock resolution for microsecond "
            "instructions)."},
    {.section = "device", .key = "remote_command", .type = CFG_STRING,
     AT_STRING(device.remote_command), .def_string = "", .fingerprinted = 1,
     .doc = "`remote` devices: a shell command that runs `gos_bench_graph` on the device; "
            "`{graph}` is replaced by the graph artifact to time and `{timings}` by the "
            "timings artifact it must leave on this machine, e.g. `scp {graph} pi:g.h5 && "
            "ssh pi ./gos_bench_graph g.h5 t.h5 && scp pi:t.h5 {timings}`."},
    {.section = "device", .key = "cores", .type = CFG_INT, AT_INT(device.cores),
     .def_int = 0, .bounds = MIN_MAX, .min = 0, .max = 1024, .fingerprinted = 1,
     .doc = "Latency model: cores used by one inference."},
    {.section = "device", .key = "freq_ghz", .type = CFG_FLOAT, AT_FLOAT(device.freq_ghz),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 10, .fingerprinted = 1,
     .doc = "Latency model: sustained core clock, GHz."},
    {.section = "device", .key = "simd_lanes", .type = CFG_INT, AT_INT(device.simd_lanes),
     .def_int = 0, .bounds = MIN_MAX, .min = 0, .max = 64, .fingerprinted = 1,
     .doc = "Latency model: float32 lanes of one SIMD register (NEON 4, AVX2 8, AVX-512 "
            "16)."},
    {.section = "device", .key = "fma_units", .type = CFG_INT, AT_INT(device.fma_units),
     .def_int = 0, .bounds = MIN_MAX, .min = 0, .max = 8, .fingerprinted = 1,
     .doc = "Latency model: vector fused multiply-adds issued per cycle per core."},
    {.section = "device", .key = "dram_gbs", .type = CFG_FLOAT, AT_FLOAT(device.dram_gbs),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 10000, .fingerprinted = 1,
     .doc = "Latency model: sustained main-memory bandwidth, GB/s."},
    {.section = "device", .key = "cache_kb", .type = CFG_FLOAT, AT_FLOAT(device.cache_kb),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1e7, .fingerprinted = 1,
     .doc = "Latency model: an instruction whose bytes fit in this many KiB streams at "
            "`cache_gbs` (the last cache level the cores share)."},
    {.section = "device", .key = "cache_gbs", .type = CFG_FLOAT, AT_FLOAT(device.cache_gbs),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 100000, .fingerprinted = 1,
     .doc = "Latency model: bandwidth from that cache, GB/s."},
    {.section = "device", .key = "overhead_us", .type = CFG_FLOAT,
     AT_FLOAT(device.overhead_us), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1e6,
     .fingerprinted = 1,
     .doc = "Latency model: fixed cost of one instruction (dispatch, thread start), "
            "microseconds."},
    {.section = "device", .key = "plane_ns", .type = CFG_FLOAT, AT_FLOAT(device.plane_ns),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1e6, .fingerprinted = 1,
     .doc = "Latency model: cost of every instruction per output plane (image of the batch "
            "times output channel), nanoseconds: the per-channel set-up of kernels on small "
            "planes (depthwise convolutions, squeeze-and-excitation) that FLOPs and bytes do "
            "not show. 0: none."},
    {.section = "device", .key = "parallel_mflops", .type = CFG_FLOAT,
     AT_FLOAT(device.parallel_mflops), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1e6,
     .fingerprinted = 1,
     .doc = "Latency model: work of one instruction (millions of FLOPs) at which the cores "
            "beyond the first bring half their rate; an instruction of F MFLOPs runs its "
            "compute on 1 + (cores - 1) x F / (F + `parallel_mflops`) cores, because small "
            "kernels stay on one thread (OpenBLAS and the engine's own loops split only large "
            "work). 0: every instruction uses all `cores`."},
    {.section = "device", .key = "gemm_half", .type = CFG_FLOAT, AT_FLOAT(device.gemm_half),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1e6, .fingerprinted = 1,
     .doc = "Latency model: the sgemm dimension at which a convolution (dense or 1x1) "
            "reaches half its rate: each of its product's dimensions d (output channels, "
            "inputs per output, output pixels x batch) keeps d / (d + `gemm_half`) of "
            "`eff_conv` or `eff_pointwise`, since skinny products spend their time packing. "
            "0: none."},
    {.section = "device", .key = "dw_row_lanes", .type = CFG_INT, AT_INT(device.dw_row_lanes),
     .def_int = 0, .bounds = MIN_MAX, .min = 0, .max = 64, .fingerprinted = 1,
     .doc = "Latency model: floats per vector where the device's depthwise kernels "
            "vectorise along output rows (this host's AVX-512 kernels: 16); a row of OW "
            "outputs fills OW / (`dw_row_lanes` x ceil(OW / `dw_row_lanes`)) of the lanes, "
            "and a depthwise convolution keeps that share of `eff_depthwise`. Not fitted: "
            "it describes the kernels. 0: none (kernels that vectorise across channels or "
            "whole planes)."},
    {.section = "device", .key = "dw_taps_half", .type = CFG_FLOAT,
     AT_FLOAT(device.dw_taps_half), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1e6,
     .fingerprinted = 1,
     .doc = "Latency model: the kernel size (taps, KH x KW) at which a depthwise "
            "convolution reaches half its rate: it keeps taps / (taps + `dw_taps_half`) of "
            "`eff_depthwise`, since every output pays its loads and stores whatever the "
            "taps (a 5x5 kernel runs at a higher FLOP rate than a 3x3). 0: none."},
    {.section = "device", .key = "eff_winograd", .type = CFG_FLOAT,
     AT_FLOAT(device.eff_winograd), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Latency model: the engine computes 3x3 stride-1 convolutions of 16 channels or "
            "more in and out by Winograd F(2x2,3x3) (pipeline/nn/nn_conv_wino.c): 16 "
            "multiply-adds per 2x2 output tile and channel pair instead of 36, plus transforms "
            "that FLOPs do not show. A value e > 0 counts such a convolution's FLOPs as its 16 "
            "products' and runs them at e x `eff_conv`; 0: Winograd not modelled (FLOPs of the "
            "direct convolution)."},
    {.section = "device", .key = "eff_conv", .type = CFG_FLOAT, AT_FLOAT(device.eff_class[0]),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1, .fingerprinted = 1,
     .doc = "Latency model: fraction of peak FLOP/s a dense or grouped k>1 convolution "
            "reaches."},
    {.section = "device", .key = "eff_pointwise", .type = CFG_FLOAT,
     AT_FLOAT(device.eff_class[1]), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Latency model: the same for 1x1 convolutions."},
    {.section = "device", .key = "eff_depthwise", .type = CFG_FLOAT,
     AT_FLOAT(device.eff_class[2]), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Latency model: the same for depthwise convolutions."},
    {.section = "device", .key = "eff_linear", .type = CFG_FLOAT, AT_FLOAT(device.eff_class[3]),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1, .fingerprinted = 1,
     .doc = "Latency model: the same for fully connected layers."},
    {.section = "device", .key = "eff_pool", .type = CFG_FLOAT, AT_FLOAT(device.eff_class[4]),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1, .fingerprinted = 1,
     .doc = "Latency model: the same for max and average pooling windows and global "
            "average pooling."},
    {.section = "device", .key = "eff_other", .type = CFG_FLOAT, AT_FLOAT(device.eff_class[5]),
     .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1, .fingerprinted = 1,
     .doc = "Latency model: the same for every other instruction (activations, "
            "elementwise, normalization, data movement)."},
    {.section = "device", .key = "eff_bandwidth", .type = CFG_FLOAT,
     AT_FLOAT(device.eff_bandwidth), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Latency model: fraction of the bandwidth an instruction's memory traffic "
            "reaches."},

    /* profile */
    {.section = "profile", .key = "rank_by", .type = CFG_ENUM, AT_STRING(profile.rank_by),
     .def_string = "mixed", .values = rank_names, .fingerprinted = 1,
     .doc = "Operator ranking, most inefficient first: `latency` (share of the model's "
            "latency), `latency_per_param` (latency share over parameter share: slow for "
            "what it holds) or `mixed` (weighted sum of the latency and parameter shares, "
            "as the paper ranks by latency and parameters)."},
    {.section = "profile", .key = "latency_weight", .type = CFG_FLOAT,
     AT_FLOAT(profile.latency_weight), .def_float = 0.7, .bounds = MIN_MAX, .min = 0,
     .max = 1, .fingerprinted = 1,
     .doc = "`mixed`: weight of the latency share; the parameter share gets the rest."},

    /* graphgen */
    {.section = "graphgen", .key = "top_operators", .type = CFG_INT,
     AT_INT(graphgen.top_operators), .def_int = 3, .bounds = MIN_MAX, .min = 1, .max = 1000,
     .fingerprinted = 1,
     .doc = "Operators taken from the top of the profile's ranking (operators that cannot "
            "be a candidate, e.g. with two outputs, are skipped and counted)."},
    {.section = "graphgen", .key = "sample_images", .type = CFG_INT,
     AT_INT(graphgen.sample_images), .def_int = 256, .bounds = MIN_MAX, .min = 8,
     .max = 100000, .fingerprinted = 1,
     .doc = "Training images whose activations at each operator's boundary are recorded "
            "(the quick fit's data; the last `fit_holdout` share measures the fitted error)."},
    {.section = "graphgen", .key = "instruction_set", .type = CFG_ENUM,
     AT_STRING(graphgen.instruction_set), .def_string = "full", .values = iset_names,
     .fingerprinted = 1,
     .doc = "The instructions new candidates may use: `full`, `no-dense-conv` (no convolution "
            "with a kernel above 1x1 except depthwise), `no-transcendental` (no sigmoid or "
            "tanh), `pointwise-depthwise` (1x1 and depthwise convolutions, normalization, "
            "activations and elementwise arithmetic only)."},
    {.section = "graphgen", .key = "min_nodes", .type = CFG_INT, AT_INT(graphgen.min_nodes),
     .def_int = 1, .bounds = MIN_MAX, .min = 1, .max = 60, .fingerprinted = 1,
     .doc = "Random candidates from scratch: fewest instructions."},
    {.section = "graphgen", .key = "max_nodes", .type = CFG_INT, AT_INT(graphgen.max_nodes),
     .def_int = 8, .bounds = MIN_MAX, .min = 1, .max = 60, .fingerprinted = 1,
     .doc = "Random candidates from scratch: most instructions (at least `min_nodes`)."},
    {.section = "graphgen", .key = "study_samples", .type = CFG_INT,
     AT_INT(graphgen.study_samples), .def_int = 50, .bounds = MIN_MAX, .min = 0,
     .max = 100000, .fingerprinted = 1,
     .doc = "Sparsity study: candidates drawn per operator from scratch, and as many by "
            "adaptation (one mutation of the original); each valid one gets the quick fit."},
    {.section = "graphgen", .key = "seed_candidates", .type = CFG_INT,
     AT_INT(graphgen.seed_candidates), .def_int = 8, .bounds = MIN_MAX, .min = 0, .max = 1000,
     .fingerprinted = 1,
     .doc = "Distinct valid adaptations of each original stored beside it as seeds of the "
            "search's first population."},
    {.section = "graphgen", .key = "study_threshold", .type = CFG_FLOAT,
     AT_FLOAT(graphgen.study_threshold), .def_float = 0.05, .bounds = MIN_MAX, .min = 0,
     .max = 100, .fingerprinted = 1,
     .doc = "A candidate fits when its fitted relative error is at most the original "
            "operator's own (re-initialised and fitted the same way) plus this."},
    {.section = "graphgen", .key = "fit_steps", .type = CFG_INT, AT_INT(graphgen.fit_steps),
     .def_int = 150, .bounds = MIN_MAX, .min = 0, .max = 1000000, .fingerprinted = 1,
     .doc = "Quick fit: Adam steps on the relative squared error to the original's outputs."},
    {.section = "graphgen", .key = "fit_batch", .type = CFG_INT, AT_INT(graphgen.fit_batch),
     .def_int = 16, .bounds = MIN_MAX, .min = 2, .max = 1024, .fingerprinted = 1,
     .doc = "Quick fit: recorded examples per step."},
    {.section = "graphgen", .key = "fit_lr", .type = CFG_FLOAT, AT_FLOAT(graphgen.fit_lr),
     .def_float = 0.01, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Quick fit: Adam step size."},
    {.section = "graphgen", .key = "fit_holdout", .type = CFG_FLOAT,
     AT_FLOAT(graphgen.fit_holdout), .def_float = 0.25, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE,
     .min = 0, .max = 0.9, .fingerprinted = 1,
     .doc = "Quick fit: share of the recorded examples held out to measure the fitted error."},

    /* search */
    {.section = "search", .key = "epsilon", .type = CFG_FLOAT, AT_FLOAT(search.epsilon),
     .def_float = 1.0, .bounds = MIN_MAX, .min = 0, .max = 100, .fingerprinted = 1,
     .doc = "Accuracy points (of 100) the model may lose: a candidate is feasible when the "
            "validation accuracy with it in place is at least the baseline's minus this "
            "(and `finetune_slack`). The validate stage holds the fine-tuned model to it on "
            "the test set."},
    {.section = "search", .key = "finetune_slack", .type = CFG_FLOAT,
     AT_FLOAT(search.finetune_slack), .def_float = 0.0, .bounds = MIN_MAX, .min = 0,
     .max = 100, .fingerprinted = 1,
     .doc = "Accuracy points beyond `epsilon` the search may spend, trusting the finetune "
            "stage to win them back: candidates are held to epsilon + finetune_slack below "
            "the baseline's validation accuracy, while validate still holds the fine-tuned "
            "model to `epsilon` alone on the test set (a slack fine-tuning cannot repay "
            "shows there). 0: the search holds itself to epsilon."},
    {.section = "search", .key = "max_step_drop", .type = CFG_FLOAT,
     AT_FLOAT(search.max_step_drop), .def_float = 0.0, .bounds = MIN_MAX, .min = 0,
     .max = 100, .fingerprinted = 1,
     .doc = "Accuracy points one replacement may cost the model as it stands (after the "
            "recovery of the replacements before it), on top of the floor that epsilon and "
            "`finetune_slack` set below the baseline: the fastest feasible candidate then "
            "cannot spend the whole budget in one step, leaving the later operators none. "
            "0: no limit per step."},
    {.section = "search", .key = "operators", .type = CFG_INT, AT_INT(search.operators),
     .def_int = 10, .bounds = MIN_MAX, .min = 1, .max = 10000, .fingerprinted = 1,
     .doc = "Operators to replace (the paper: at least 10); the search stops earlier when "
            "every operator has been tried."},
    {.section = "search", .key = "population", .type = CFG_INT, AT_INT(search.population),
     .def_int = 12, .bounds = MIN_MAX, .min = 2, .max = 10000, .fingerprinted = 1,
     .doc = "NSGA-II population size."},
    {.section = "search", .key = "generations", .type = CFG_INT, AT_INT(search.generations),
     .def_int = 6, .bounds = MIN_MAX, .min = 0, .max = 100000, .fingerprinted = 1,
     .doc = "Generations per operator after the first population."},
    {.section = "search", .key = "crossover_rate", .type = CFG_FLOAT,
     AT_FLOAT(search.crossover_rate), .def_float = 0.3, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Share of offspring made by crossover of two tournament winners; the rest by "
            "mutation of one."},
    {.section = "search", .key = "fresh_offspring", .type = CFG_BOOL,
     AT_INT(search.fresh_offspring), .def_int = 0, .fingerprinted = 1,
     .doc = "Redraw an offspring (up to 20 times) that computes the same as a candidate this "
            "step already scored or as an earlier offspring of the generation (equal "
            "functional hash), so each generation brings new candidates instead of cache "
            "hits; the redraws cost a functional hash each, and the new candidates their "
            "evaluations. false: duplicates stand, and take the scored candidate's results."},
    {.section = "search", .key = "scratch_share", .type = CFG_FLOAT,
     AT_FLOAT(search.scratch_share), .def_float = 0.25, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Share of the first population drawn at random from scratch; the rest is the "
            "original, graphgen's seeds and adaptations of the original."},
    {.section = "search", .key = "choice", .type = CFG_ENUM, AT_STRING(search.choice),
     .def_string = "lowest_latency", .values = choice_names, .fingerprinted = 1,
     .doc = "Which member of the final feasible front replaces the operator: the lowest "
            "latency, or the knee point of the latency-parameters front."},
    {.section = "search", .key = "min_gain", .type = CFG_FLOAT, AT_FLOAT(search.min_gain),
     .def_float = 0.05, .bounds = MIN_MAX, .min = 0, .max = 0.99, .fingerprinted = 1,
     .doc = "A winner replaces the operator only when its latency is below the original's "
            "by at least this fraction (measured latencies of microsecond operators move by "
            "a few percent between runs; 0 takes any gain)."},
    {.section = "search", .key = "min_share", .type = CFG_FLOAT, AT_FLOAT(search.min_share),
     .def_float = 0.01, .bounds = MIN_MAX, .min = 0, .max = 1, .fingerprinted = 1,
     .doc = "Operators are searched slowest first; the search ends at the first one whose "
            "latency is below this fraction of the current model's (summed over operators): "
            "replacing it could not buy a speedup worth its evaluations. 0 searches every "
            "operator until `operators` are replaced."},
    {.section = "search", .key = "validation_images", .type = CFG_INT,
     AT_INT(search.validation_images), .def_int = 1000, .bounds = MIN_MAX, .min = 1,
     .max = 1000000, .fingerprinted = 1,
     .doc = "Validation images (the first of the held-out split) behind every accuracy the "
            "search measures."},
    {.section = "search", .key = "recovery_steps", .type = CFG_INT,
     AT_INT(search.recovery_steps), .def_int = 0, .bounds = MIN_MAX, .min = 0, .max = 1000000,
     .fingerprinted = 1,
     .doc = "After each replacement, SGD steps of the whole model on training images (batch, "
            "momentum and weight decay from `train`) before the next operator is searched, "
            "so the accuracy a replacement cost is won back and the next operator's "
            "candidates are held to epsilon against the baseline from a recovered model; "
            "0: none (every replacement spends from the same epsilon)."},
    {.section = "search", .key = "recovery_rounds", .type = CFG_INT,
     AT_INT(search.recovery_rounds), .def_int = 1, .bounds = MIN_MAX, .min = 1, .max = 100,
     .fingerprinted = 1,
     .doc = "Recovery runs in rounds of `recovery_steps` steps, each judged by the validation "
            "accuracy: the model keeps the most accurate weights seen, its own before the "
            "recovery included, so a round that costs accuracy is undone. Another round "
            "follows one that gained, up to this many, until the accuracy is back at the "
            "baseline's."},
    {.section = "search", .key = "recovery_min_drop", .type = CFG_FLOAT,
     AT_FLOAT(search.recovery_min_drop), .def_float = 0.0, .bounds = MIN_MAX, .min = 0,
     .max = 100, .fingerprinted = 1,
     .doc = "Recovery runs only after a replacement that leaves the model's validation "
            "accuracy at least this many points below the baseline's (a model the "
            "replacement left that close needs no recovery, and skipping it saves its "
            "steps); 0: after every replacement."},
    {.section = "search", .key = "recovery_lr", .type = CFG_FLOAT, AT_FLOAT(search.recovery_lr),
     .def_float = 0.01, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE, .min = 0, .max = 10,
     .fingerprinted = 1,
     .doc = "Learning rate of the recovery steps at their start; it decays to 0 along a "
            "cosine."},
    {.section = "search", .key = "recovery_distill_weight", .type = CFG_FLOAT,
     AT_FLOAT(search.recovery_distill_weight), .def_float = 0.0, .bounds = MIN_MAX, .min = 0,
     .max = 1, .fingerprinted = 1,
     .doc = "Recovery steps learn from the baseline model as well as the labels: the loss is "
            "(1 - w) * cross-entropy + w * T^2 * KL divergence to the baseline's softened "
            "outputs (as `finetune.distill_weight`); 0: the labels alone."},
    {.section = "search", .key = "recovery_distill_temperature", .type = CFG_FLOAT,
     AT_FLOAT(search.recovery_distill_temperature), .def_float = 4.0,
     .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE, .min = 0, .max = 100, .fingerprinted = 1,
     .doc = "The recovery's distillation temperature T."},

    /* finetune */
    {.section = "finetune", .key = "epochs", .type = CFG_INT, AT_INT(finetune.epochs),
     .def_int = 2, .bounds = MIN_MAX, .min = 1, .max = 1000, .fingerprinted = 1,
     .doc = "Passes over the training images (the paper: a few)."},
    {.section = "finetune", .key = "lr", .type = CFG_FLOAT, AT_FLOAT(finetune.lr),
     .def_float = 0.01, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE, .min = 0, .max = 10,
     .fingerprinted = 1,
     .doc = "Learning rate (lower than training's: the weights start trained)."},
    {.section = "finetune", .key = "schedule", .type = CFG_ENUM, AT_STRING(finetune.schedule),
     .def_string = "cosine", .values = schedule_names, .fingerprinted = 1,
     .doc = "Learning-rate schedule, as `train.schedule` (step decay uses train's "
            "`step_epochs` and `gamma`)."},
    {.section = "finetune", .key = "min_lr", .type = CFG_FLOAT, AT_FLOAT(finetune.min_lr),
     .def_float = 0, .bounds = CFG_HAS_MIN, .min = 0, .fingerprinted = 1,
     .doc = "Cosine schedule: final learning rate."},
    {.section = "finetune", .key = "warmup_epochs", .type = CFG_INT,
     AT_INT(finetune.warmup_epochs), .def_int = 0, .bounds = CFG_HAS_MIN, .min = 0,
     .fingerprinted = 1,
     .doc = "Epochs of linear warm-up; less than `epochs`."},
    {.section = "finetune", .key = "distill_weight", .type = CFG_FLOAT,
     AT_FLOAT(finetune.distill_weight), .def_float = 0, .bounds = MIN_MAX, .min = 0, .max = 1,
     .fingerprinted = 1,
     .doc = "Knowledge distillation from the original model (Hinton et al. 2015): the loss "
            "is (1 - w) * cross-entropy with the labels + w * T^2 * KL(softmax(teacher / T) "
            "|| softmax(student / T)), the teacher being the baseline's logits on the same "
            "batch. 0: labels only."},
    {.section = "finetune", .key = "distill_temperature", .type = CFG_FLOAT,
     AT_FLOAT(finetune.distill_temperature), .def_float = 4, .bounds = MIN_MAX | CFG_MIN_EXCLUSIVE,
     .min = 0, .max = 100, .fingerprinted = 1,
     .doc = "The distillation temperature T (softens both distributions)."},

    /* validate */
    {.section = "validate", .key = "only_report", .type = CFG_BOOL, AT_INT(validate.only_report),
     .def_int = 0, .fingerprinted = 1,
     .doc = "When the adapted model's test accuracy is more than `search.epsilon` points "
            "below the original's, write the validate artifact and go on instead of failing "
            "(the default fails the stage with both accuracies, writing nothing)."},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const cfg_key_spec *cfg_schema_keys(int *count)
{
    *count = COUNT(keys);
    return keys;
}

const cfg_section_spec *cfg_schema_sections(int *count)
{
    *count = COUNT(sections);
    return sections;
}

const cfg_stage_spec *cfg_schema_stages(int *count)
{
    *count = COUNT(stages);
    return stages;
}

const char *const *cfg_schema_future_sections(void) { return future_sections; }

int cfg_schema_find_key(const char *section, const char *key)
{
    for (int i = 0; i < COUNT(keys); i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0) return i;
    return -1;
}

int cfg_schema_is_section(const char *section)
{
    if (section[0] == '\0') return 0;
    for (int i = 0; i < COUNT(sections); i++)
        if (strcmp(sections[i].name, section) == 0) return 1;
    return 0;
}

const cfg_stage_spec *cfg_schema_find_stage(const char *stage)
{
    for (int i = 0; i < COUNT(stages); i++)
        if (strcmp(stages[i].stage, stage) == 0) return &stages[i];
    return NULL;
}

void cfg_schema_full_name(const cfg_key_spec *k, char *buf, size_t n)
{
    if (k->section[0] == '\0')
        snprintf(buf, n, "%s", k->key);
    else
        snprintf(buf, n, "%s.%s", k->section, k->key);
}

int cfg_schema_stage_reads(const cfg_stage_spec *s, const cfg_key_spec *k)
{
    char full[128];
    cfg_schema_full_name(k, full, sizeof full);
    for (int i = 0; i < CFG_STAGE_MAX_READS && s->reads[i] != NULL; i++) {
        const char *r = s->reads[i];
        if ((k->section[0] != '\0' && strcmp(r, k->section) == 0) || strcmp(r, full) == 0)
            return 1;
    }
    return 0;
}

/* 1 when name is a section or a full key name of the schema. */
static int names_something(const char *name)
{
    if (cfg_schema_is_section(name)) return 1;
    for (int i = 0; i < COUNT(keys); i++) {
        char full[128];
        cfg_schema_full_name(&keys[i], full, sizeof full);
        if (strcmp(full, name) == 0) return 1;
    }
    return 0;
}

static void assert_key_consistent(const cfg_key_spec *k)
{
    PL_ASSERT(k->section[0] == '\0' || cfg_schema_is_section(k->section));
    PL_ASSERT(k->doc != NULL && k->doc[0] != '\0');
    double def = k->type == CFG_FLOAT ? k->def_float : (double)k->def_int;
    switch (k->type) {
    case CFG_INT:
    case CFG_BOOL: PL_ASSERT(k->size == sizeof(int)); break;
    case CFG_FLOAT: PL_ASSERT(k->size == sizeof(double)); break;
    case CFG_STRING:
    case CFG_ENUM:
        PL_ASSERT(k->required || (k->def_string != NULL && strlen(k->def_string) < k->size));
        PL_ASSERT(k->size * 4 + 8 <= CFG_VALUE_TEXT_MAX);
        break;
    }
    if (k->type == CFG_ENUM) {
        PL_ASSERT(k->values != NULL && k->values[0] != NULL);
        int found = k->required;
        for (int v = 0; k->values[v] != NULL; v++) {
            PL_ASSERT(strlen(k->values[v]) < k->size);
            if (!k->required && strcmp(k->values[v], k->def_string) == 0) found = 1;
        }
        PL_ASSERT(found);
    }
    if (k->required || (k->type != CFG_INT && k->type != CFG_FLOAT)) return;
    if (def == 0 && (k->bounds & CFG_ZERO_SPECIAL)) return;
    if (k->bounds & CFG_HAS_MIN)
        PL_ASSERT((k->bounds & CFG_MIN_EXCLUSIVE) ? def > k->min : def >= k->min);
    if (k->bounds & CFG_HAS_MAX) PL_ASSERT(def <= k->max);
}

void cfg_schema_assert_consistent(void)
{
    for (int i = 0; i < COUNT(keys); i++) {
        assert_key_consistent(&keys[i]);
        PL_ASSERT(cfg_schema_find_key(keys[i].section, keys[i].key) == i);
    }
    for (int i = 0; i < COUNT(stages); i++) {
        PL_ASSERT(cfg_schema_find_stage(stages[i].stage) == &stages[i]);
        for (int r = 0; r < CFG_STAGE_MAX_READS && stages[i].reads[r] != NULL; r++)
            PL_ASSERT(names_something(stages[i].reads[r]));
    }
    for (int f = 0; future_sections[f] != NULL; f++)
        PL_ASSERT(!cfg_schema_is_section(future_sections[f]));
}

/* ---- relations between keys ------------------------------------------------ */

static const char *where_of(const char *const *where, const char *section, const char *key)
{
    int row = cfg_schema_find_key(section, key);
    PL_ASSERT(row >= 0);
    return where[row];
}

/* A predicted device needs every characteristic of the latency model; a
 * remote one needs its command. */
static int check_device(const cfg_device *d, const char *const *where)
{
    if (strcmp(d->kind, "remote") == 0 && d->remote_command[0] == '\0')
        PL_FAIL(PL_ERR_CONFIG, "%s: device.kind: a remote device needs device.remote_command",
                where_of(where, "device", "kind"));
    if (strcmp(d->kind, "remote") == 0 &&
        (!strstr(d->remote_command, "{graph}") || !strstr(d->remote_command, "{timings}")))
        PL_FAIL(PL_ERR_CONFIG, "%s: device.remote_command: must contain {graph} and {timings}",
                where_of(where, "device", "remote_command"));
    if (strcmp(d->kind, "predicted") != 0) return PL_OK;
    static const char *const needed[] = {"cores", "freq_ghz", "simd_lanes", "fma_units",
                                         "dram_gbs", "cache_gbs", "eff_conv", "eff_pointwise",
                                         "eff_depthwise", "eff_linear", "eff_pool", "eff_other",
                                         "eff_bandwidth"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        int row = cfg_schema_find_key("device", needed[i]);
        const cfg_key_spec *k = &keys[row];
        const char *field = (const char *)(const void *)d + k->offset - offsetof(cfg_experiment, device);
        double v = k->type == CFG_INT ? *(const int *)field : *(const double *)field;
        if (v <= 0)
            PL_FAIL(PL_ERR_CONFIG, "%s: device.%s: a predicted device (%s) needs it > 0 (the "
                    "latency model uses it)", where_of(where, "device", needed[i]), needed[i],
                    d->name);
    }
    return PL_OK;
}

int cfg_schema_check_relations(const cfg_experiment *e, const char *const *where)
{
    const cfg_data *d = &e->data;
    if (strcmp(d->name, "cifar10") == 0 && d->path[0] == '\0')
        PL_FAIL(PL_ERR_CONFIG, "%s: data.path: CIFAR-10 has no standard place; set data.path to "
                "the cifar-10-batches-bin folder (CIFAR-10's binary version, "
                "cifar-10-binary.tar.gz)", where_of(where, "data", "path"));
    const cfg_train *t = &e->train;
    if (t->nesterov && t->momentum <= 0)
        PL_FAIL(PL_ERR_CONFIG, "%s: train.nesterov: Nesterov momentum needs train.momentum > 0 "
                "(got %g)", where_of(where, "train", "nesterov"), t->momentum);
    if (t->warmup_epochs >= t->epochs)
        PL_FAIL(PL_ERR_CONFIG, "%s: train.warmup_epochs: must be < train.epochs (%d) (got %d)",
                where_of(where, "train", "warmup_epochs"), t->epochs, t->warmup_epochs);
    if (strcmp(t->schedule, "cosine") == 0 && t->min_lr > t->lr)
        PL_FAIL(PL_ERR_CONFIG, "%s: train.min_lr: must be <= train.lr (%g) with the cosine "
                "schedule (got %g)", where_of(where, "train", "min_lr"), t->lr, t->min_lr);
    if (e->finetune.warmup_epochs >= e->finetune.epochs)
        PL_FAIL(PL_ERR_CONFIG, "%s: finetune.warmup_epochs: must be < finetune.epochs (%d) "
                "(got %d)", where_of(where, "finetune", "warmup_epochs"), e->finetune.epochs,
                e->finetune.warmup_epochs);
    if (strcmp(e->finetune.schedule, "cosine") == 0 && e->finetune.min_lr > e->finetune.lr)
        PL_FAIL(PL_ERR_CONFIG, "%s: finetune.min_lr: must be <= finetune.lr (%g) with the "
                "cosine schedule (got %g)", where_of(where, "finetune", "min_lr"),
                e->finetune.lr, e->finetune.min_lr);
    if (e->graphgen.max_nodes < e->graphgen.min_nodes)
        PL_FAIL(PL_ERR_CONFIG, "%s: graphgen.max_nodes: must be >= graphgen.min_nodes (%d) "
                "(got %d)", where_of(where, "graphgen", "max_nodes"), e->graphgen.min_nodes,
                e->graphgen.max_nodes);
    return check_device(&e->device, where);
}
