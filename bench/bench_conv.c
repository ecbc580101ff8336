/* bench_conv.c: throughput of nn_conv2d_forward / nn_conv2d_backward on the
 * convolutions of ResNet18 and MobileNetV3-Large, each beside a reference
 * measured in the same run.
 *
 * Layers: every distinct conv shape of torchvision resnet18 and a
 * representative set of mobilenet_v3_large (stem, 1x1 expand/project, 3x3 and
 * 5x5 depthwise at their real channel counts and positions), at a 224x224
 * input with batch 1 and at a 32x32 input (spatial sizes as the model gives
 * them) with batch 32; and at 32x32, batch 32, the grouped convolutions the
 * search builds for ResNet18 at width 0.25 ("candidates"). Per layer:
 * - forward and backward GFLOP/s. FLOPs = 2*MACs, forward MACs =
 *   N*OC*OH*OW*(C/groups)*KH*KW, backward (dinp + dweight) = 2x forward.
 *   No bias (the conv layers of both models have none).
 * - dense: GFLOP/s of one plain cblas_sgemm per group, row-major, M = OC/groups,
 *   N = batch*OH*OW, K = C/groups*KH*KW (the im2col GEMM with the batch folded
 *   into N), and the ratios conv/sgemm (target: 3x3 forward >= 0.7).
 * - depthwise: forward GB/s, bytes = (input + output + weights) * 4, against
 *   the DRAM bound, a parallel memcpy of 256 MB counting read + write bytes
 *   ("bw", target >= 0.5), and against a memcpy of the same footprint ("hot",
 *   cache-resident when the layer is).
 * - gos/torch ratios, when /usr/bin/python3 imports torch: scripts/bench-torch.py
 *   runs as a co-process (pipes, --serve); per layer bench_conv sends the
 *   shape, torch times it, then gos does, so both see about the same load and
 *   use identical names and shapes.
 *
 * Timing: the ops of a layer (forward, backward, reference) run interleaved,
 * round after round, so load bursts hit them alike; 2 warm-up rounds, then
 * every call timed (clock_gettime MONOTONIC) until the budget (default 0.2 s
 * per op) or 200 rounds; the median call. The machine is shared: column "oth"
 * is the CPU other processes used (cores, /proc/stat minus this process and
 * the script) while the row was measured. With as many threads as cores, one
 * busy neighbour stalls every parallel region for a scheduler slice, so rows
 * above 0.25 are re-measured after a pause (at most 20 times per run), marked
 * NOISY if still loaded, and the summary is repeated over the quiet rows.
 *
 *   bench_conv [--threads N] [--time S] [--filter SUBSTR] [--no-torch]
 *              [--torch-script PATH] [--list]
 */
#include "nn_conv.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "bench_peer.h"
#include "bench_util.h"

#include <cblas.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LAYERS     128
#define MAX_REPS       200
#define MAX_OPS        3
#define MIN_REPS       3
#define WARMUP_CALLS   2
#define DRAM_COPY_MB   256
#define DENSE3_TARGET  0.7 /* dense 3x3 forward / sgemm       */
#define DW_TARGET      0.5 /* depthwise forward / DRAM bound  */
#define NOISY_CORES    0.25 /* others' CPU marking a row NOISY */
#define MAX_RETRIES    20   /* re-measurements of NOISY rows per run */

/* One conv of a model, spatial size given as input resolution / div;
 * groups: of a dense convolution (a depthwise one has C). */
typedef struct {
    const char *block; /* torchvision module name */
    int C, OC, k, stride, depthwise, div, groups;
} layer_spec;

static const layer_spec resnet18_specs[] = {
    {"conv1",               3,   64,  7, 2, 0, 1, 1},
    {"layer1.conv",         64,  64,  3, 1, 0, 4, 1},
    {"layer2.0.conv1",      64,  128, 3, 2, 0, 4, 1},
    {"layer2.0.downsample", 64,  128, 1, 2, 0, 4, 1},
    {"layer2.conv",         128, 128, 3, 1, 0, 8, 1},
    {"layer3.0.conv1",      128, 256, 3, 2, 0, 8, 1},
    {"layer3.0.downsample", 128, 256, 1, 2, 0, 8, 1},
    {"layer3.conv",         256, 256, 3, 1, 0, 16, 1},
    {"layer4.0.conv1",      256, 512, 3, 2, 0, 16, 1},
    {"layer4.0.downsample", 256, 512, 1, 2, 0, 16, 1},
    {"layer4.conv",         512, 512, 3, 1, 0, 32, 1},
};

/* Grouped convolutions the search builds for ResNet18 at width 0.25
 * (resnet18_rpi3's adapted model: 16 groups of 2 channels, 8 of 4, 5x5 in
 * 16 groups, 4 groups of 4 with stride 2), at the planes they replace. */
static const layer_spec candidate_specs[] = {
    {"layer2.g16",   32, 32, 3, 1, 0, 2, 16},
    {"layer2.g8",    32, 32, 3, 1, 0, 2, 8},
    {"layer1.g4",    16, 16, 3, 1, 0, 1, 4},
    {"layer3.5x5g16", 64, 64, 5, 1, 0, 4, 16},
    {"layer3.g16",   64, 64, 3, 1, 0, 4, 16},
    {"layer2.0.g4s2", 16, 32, 3, 2, 0, 1, 4},
};

/* Howard et al. 2019, table 1 / torchvision mobilenet_v3_large. */
static const layer_spec mbv3_specs[] = {
    {"features.0",          3,   16,  3, 2, 0, 1, 1},
    {"features.1.dw",       16,  16,  3, 1, 1, 2, 1},
    {"features.1.project",  16,  16,  1, 1, 0, 2, 1},
    {"features.2.expand",   16,  64,  1, 1, 0, 2, 1},
    {"features.2.dw",       64,  64,  3, 2, 1, 2, 1},
    {"features.2.project",  64,  24,  1, 1, 0, 4, 1},
    {"features.3.expand",   24,  72,  1, 1, 0, 4, 1},
    {"features.3.dw",       72,  72,  3, 1, 1, 4, 1},
    {"features.4.dw",       72,  72,  5, 2, 1, 4, 1},
    {"features.4.project",  72,  40,  1, 1, 0, 8, 1},
    {"features.5.expand",   40,  120, 1, 1, 0, 8, 1},
    {"features.5.dw",       120, 120, 5, 1, 1, 8, 1},
    {"features.7.expand",   40,  240, 1, 1, 0, 8, 1},
    {"features.7.dw",       240, 240, 3, 2, 1, 8, 1},
    {"features.7.project",  240, 80,  1, 1, 0, 16, 1},
    {"features.8.dw",       200, 200, 3, 1, 1, 16, 1},
    {"features.11.expand",  80,  480, 1, 1, 0, 16, 1},
    {"features.11.dw",      480, 480, 3, 1, 1, 16, 1},
    {"features.12.dw",      672, 672, 3, 1, 1, 16, 1},
    {"features.13.dw",      672, 672, 5, 2, 1, 16, 1},
    {"features.14.dw",      960, 960, 5, 1, 1, 32, 1},
    {"features.14.project", 960, 160, 1, 1, 0, 32, 1},
    {"features.16",         160, 960, 1, 1, 0, 32, 1},
};

typedef struct {
    char name[96];
    int N, C, H, W, OC, OH, OW;
    int depthwise;
    nn_conv_params p;
    /* results: GFLOP/s; ratio = forward / sgemm (dense) or forward GB/s /
     * DRAM bound (depthwise); torch GFLOP/s (0: not measured); others =
     * cores used by other processes while the layer was measured */
    double fwd_gflops, bwd_gflops, ratio;
    double ref;  /* sgemm GFLOP/s (dense) or forward GB/s (depthwise)      */
    double hot;  /* depthwise: forward GB/s / same-footprint memcpy GB/s   */
    double torch_fwd, torch_bwd;
    double others;
} bench_layer;

/* One buffer set sized to the largest layer, shared by every layer. */
typedef struct {
    const bench_layer *layer;
    float *inp, *out, *weight, *work, *dinp, *dweight, *dout, *gemm_b;
    const float *copy_src;
    float *copy_dst;
    size_t copy_bytes;
} bench_ctx;

typedef void (*bench_op)(bench_ctx *);

/* Median seconds of one call of each op, interleaved round by round (see the
 * file comment); budget is per op. */
static void time_interleaved(const bench_op *ops, int nops, bench_ctx *ctx, double budget,
                             double *medians)
{
    static double samples[MAX_OPS][MAX_REPS];
    for (int w = 0; w < WARMUP_CALLS; w++)
        for (int k = 0; k < nops; k++) ops[k](ctx);
    int rounds = 0;
    double start = now_seconds(), end = start;
    do {
        for (int k = 0; k < nops; k++) {
            double t0 = now_seconds();
            ops[k](ctx);
            end = now_seconds();
            samples[k][rounds] = end - t0;
        }
        rounds++;
    } while (rounds < MAX_REPS && (rounds < MIN_REPS || end - start < budget * nops));
    for (int k = 0; k < nops; k++) medians[k] = median_of(samples[k], rounds);
}

/* ---- the timed operations ---------------------------------------------- */

static void run_forward(bench_ctx *c)
{
    const bench_layer *L = c->layer;
    nn_conv2d_forward(c->out, c->inp, c->weight, NULL, L->N, L->C, L->H, L->W, L->OC, &L->p,
                      c->work);
}

static void run_backward(bench_ctx *c)
{
    const bench_layer *L = c->layer;
    nn_conv2d_backward(c->dinp, c->dweight, NULL, c->dout, c->inp, c->weight,
                       L->N, L->C, L->H, L->W, L->OC, &L->p, c->work);
}

/* The im2col GEMM of the layer: weight (M x K) times columns (K x N). */
static void run_sgemm(bench_ctx *c)
{
    const bench_layer *L = c->layer;
    int groups = L->p.groups;
    int M = L->OC / groups, N = L->N * L->OH * L->OW, K = L->C / groups * L->p.kh * L->p.kw;
    for (int g = 0; g < groups; g++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f,
                    c->weight + (size_t)g * M * K, K, c->gemm_b + (size_t)g * K * N, N, 0.0f,
                    c->out + (size_t)g * M * N, N);
}

/* memcpy split evenly over the OpenMP threads. */
static void run_copy(bench_ctx *c)
{
    const char *src = (const char *)c->copy_src;
    char *dst = (char *)c->copy_dst;
    size_t bytes = c->copy_bytes;
#pragma omp parallel
    {
        size_t threads = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t lo = (bytes * t / threads) & ~(size_t)63;
        size_t hi = t + 1 == threads ? bytes : (bytes * (t + 1) / threads) & ~(size_t)63;
        memcpy(dst + lo, src + lo, hi - lo);
    }
}

/* ---- layers ------------------------------------------------------------ */

static int add_layers(bench_layer *layers, int count, const char *model, const layer_spec *specs,
                      int nspecs, int resolution, int batch, const char *filter)
{
    for (int i = 0; i < nspecs; i++) {
        const layer_spec *s = &specs[i];
        bench_layer L = {.N = batch, .C = s->C, .OC = s->OC, .H = resolution / s->div,
                         .W = resolution / s->div, .depthwise = s->depthwise};
        L.p = (nn_conv_params){.kh = s->k, .kw = s->k, .sh = s->stride, .sw = s->stride,
                               .ph = s->k / 2, .pw = s->k / 2,
                               .groups = s->depthwise ? s->C : s->groups};
        L.OH = nn_window_out(L.H, s->k, s->stride, s->k / 2, 0);
        L.OW = nn_window_out(L.W, s->k, s->stride, s->k / 2, 0);
        if (s->depthwise)
            snprintf(L.name, sizeof L.name, "%s/%d %s %dx%dx%d dw%d s%d", model, resolution,
                     s->block, L.C, L.H, L.W, s->k, s->stride);
        else
            snprintf(L.name, sizeof L.name, "%s/%d %s %dx%dx%d->%d k%d s%d g%d", model,
                     resolution, s->block, L.C, L.H, L.W, L.OC, s->k, s->stride, L.p.groups);
        if (filter && !strstr(L.name, filter)) continue;
        if (count >= MAX_LAYERS) {
            fprintf(stderr, "bench_conv: more than %d layers\n", MAX_LAYERS);
            exit(2);
        }
        layers[count++] = L;
    }
    return count;
}

static double forward_flops(const bench_layer *L)
{
    return 2.0 * L->N * L->OC * L->OH * L->OW * (double)(L->C / L->p.groups) * L->p.kh * L->p.kw;
}

static double forward_bytes(const bench_layer *L)
{
    double floats = (double)L->N * L->C * L->H * L->W + (double)L->N * L->OC * L->OH * L->OW +
                    (double)L->OC * (L->C / L->p.groups) * L->p.kh * L->p.kw;
    return 4.0 * floats;
}

/* One layer as a tab-separated line, the input format of bench-torch.py:
 * name N C H W OC KH KW SH SW PH PW groups. */
static void write_layer_line(FILE *f, const bench_layer *L)
{
    fprintf(f, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", L->name, L->N, L->C, L->H,
            L->W, L->OC, L->p.kh, L->p.kw, L->p.sh, L->p.sw, L->p.ph, L->p.pw, L->p.groups);
}

/* ---- PyTorch co-process ------------------------------------------------ */

/* Starts `/usr/bin/python3 script --serve` as a co-process (bench_peer.h)
 * when it and torch are there. Returns 1 when it runs, 0 (with a printed
 * reason) when not. */
static int torch_start(bench_peer *t, const char *script, int threads, double budget)
{
    if (!peer_python_ready(t->name, script, "torch")) return 0;
    char threads_arg[16], time_arg[32];
    snprintf(threads_arg, sizeof threads_arg, "%d", threads);
    snprintf(time_arg, sizeof time_arg, "%g", budget);
    const char *argv[] = {"/usr/bin/python3", script,    "--serve", "--threads",
                          threads_arg,        "--time", time_arg,  NULL};
    return peer_start(t, argv);
}

/* Has the script time one layer; stores its GFLOP/s in the layer. Returns
 * the CPU seconds the script reports it used for that. */
static double torch_measure(bench_peer *t, bench_layer *L)
{
    char line[512];
    double fwd = 0, bwd = 0, cpu = 0;
    if (!t->to) return 0.0;
    write_layer_line(t->to, L);
    if (fflush(t->to) != 0 || !fgets(line, sizeof line, t->from)) {
        printf("torch: the script stopped answering, no further comparison\n");
        peer_stop(t);
        return 0.0;
    }
    char *tab = strchr(line, '\t');
    if (!tab) return 0.0;
    *tab = '\0';
    if (strcmp(line, L->name) == 0 && sscanf(tab + 1, "%lf %lf %lf", &fwd, &bwd, &cpu) == 3) {
        L->torch_fwd = fwd;
        L->torch_bwd = bwd;
    }
    return cpu;
}

/* ---- main -------------------------------------------------------------- */

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static void print_header(double budget)
{
    char blas[512], date[64];
    pl_blas_describe(blas, (int)sizeof blas);
    time_t wall = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&wall));
    printf("bench_conv: nn_conv2d_forward/backward vs sgemm, copy bandwidth and PyTorch\n");
    printf("date: %s  threads: %d  core: %s\n", date, pl_threads_get(), pl_blas_corename());
    printf("blas: %s\n", blas);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3)
        printf("load average at start: %.2f %.2f %.2f on %ld online cores (others' load skews "
               "every figure; compare ratios)\n", load[0], load[1], load[2],
               sysconf(_SC_NPROCESSORS_ONLN));
    const char *core = pl_blas_corename();
    if (__builtin_cpu_supports("avx2") &&
        (!strcmp(core, "Prescott") || !strcmp(core, "Core2") || !strcmp(core, "Nehalem") ||
         !strcmp(core, "generic")))
        printf("WARNING: OpenBLAS chose the %s kernel although this CPU has AVX2 (model unknown "
               "to this OpenBLAS); sgemm runs far below peak. OPENBLAS_CORETYPE=SkylakeX or "
               "Haswell selects a modern kernel.\n", core);
    printf("FLOPs = 2*MACs, forward MACs = N*OC*OH*OW*(C/groups)*KH*KW, backward = dinp + dweight "
           "= 2x forward; no bias\n");
    printf("sgemm: one cblas_sgemm per group, row-major, M = OC/groups, N = batch*OH*OW, "
           "K = C/groups*KH*KW; f, b = conv forward, backward GFLOP/s / sgemm GFLOP/s\n");
    printf("depthwise: GB/s = (input+output+weights)*4 B / forward time; bw = GB/s / DRAM bound, "
           "hot = GB/s / parallel memcpy of the same footprint\n");
    printf("timing: ops of a layer interleaved; %d warm-up rounds, then every call timed until "
           "%.2f s per op or %d rounds; median. torch columns: GFLOP/s and gos/torch ratios\n",
           WARMUP_CALLS, budget, MAX_REPS);
    printf("LOW: dense 3x3 forward below %.1f of sgemm, or depthwise below %.1f of the DRAM "
           "bound. oth: cores' worth of CPU other processes (and the hypervisor) used while the "
           "row was measured; NOISY above %.2f after retries: unreliable, rerun\n",
           DENSE3_TARGET, DW_TARGET, NOISY_CORES);
}

/* Times one layer, torch first then gos (forward, backward and reference
 * interleaved), and fills its results. */
static void measure_layer(bench_layer *L, bench_ctx *ctx, bench_peer *torch, double budget,
                          double dram_gbs)
{
    load_mark mark = load_mark_now();
    double torch_cpu = torch_measure(torch, L);
    ctx->layer = L;
    memset(ctx->dinp, 0, (size_t)L->N * L->C * L->H * L->W * sizeof(float));
    memset(ctx->dweight, 0,
           (size_t)L->OC * (L->C / L->p.groups) * L->p.kh * L->p.kw * sizeof(float));
    /* Depthwise reference: a copy with the layer's footprint, (input +
     * output) / 2 bytes from inp into dinp (output <= input here). */
    ctx->copy_src = ctx->inp;
    ctx->copy_dst = ctx->dinp;
    ctx->copy_bytes = ((size_t)L->N * L->C * L->H * L->W +
                       (size_t)L->N * L->OC * L->OH * L->OW) / 2 * sizeof(float);
    const bench_op ops[MAX_OPS] = {run_forward, run_backward, L->depthwise ? run_copy : run_sgemm};
    double medians[MAX_OPS];
    time_interleaved(ops, MAX_OPS, ctx, budget, medians);
    L->others = others_since(&mark, torch_cpu);
    double flops = forward_flops(L);
    L->fwd_gflops = flops / medians[0] / 1e9;
    L->bwd_gflops = 2.0 * flops / medians[1] / 1e9;
    if (L->depthwise) {
        L->ref = forward_bytes(L) / medians[0] / 1e9;
        L->ratio = L->ref / dram_gbs;
        L->hot = L->ref / (2.0 * (double)ctx->copy_bytes / medians[2] / 1e9);
    } else {
        L->ref = flops / medians[2] / 1e9;
        L->ratio = L->fwd_gflops / L->ref;
    }
}

static void print_row(const bench_layer *L)
{
    char reference[64];
    int low;
    if (L->depthwise) {
        low = L->ratio < DW_TARGET;
        snprintf(reference, sizeof reference, "%6.1f GB/s bw %5.2f hot %5.2f", L->ref, L->ratio,
                 L->hot);
    } else {
        /* the target is the dense 3x3's; grouped rows have none */
        low = L->p.kh == 3 && L->p.groups == 1 && L->ratio < DENSE3_TARGET;
        snprintf(reference, sizeof reference, "sgemm %6.1f f %5.2f b %5.2f", L->ref, L->ratio,
                 L->bwd_gflops / L->ref);
    }
    printf("%-54s %3d %8.1f %8.1f | %-34s |", L->name, L->N, L->fwd_gflops, L->bwd_gflops,
           reference);
    if (L->torch_fwd > 0 && L->torch_bwd > 0)
        printf(" %7.1f %7.1f %5.2f %5.2f |", L->torch_fwd, L->torch_bwd,
               L->fwd_gflops / L->torch_fwd, L->bwd_gflops / L->torch_bwd);
    else
        printf(" %7s %7s %5s %5s |", "-", "-", "-", "-");
    printf(" %4.2f%s%s\n", L->others, low ? " LOW" : "", L->others > NOISY_CORES ? " NOISY" : "");
    fflush(stdout);
}

/* Median ratios over all rows, or over the quiet ones (others' CPU below
 * NOISY_CORES) when quiet_only. */
static void print_summary(const bench_layer *layers, int count, int quiet_only)
{
    double dense3[MAX_LAYERS], dw[MAX_LAYERS], th_fwd[MAX_LAYERS], th_bwd[MAX_LAYERS];
    int n_dense3 = 0, n_dw = 0, n_torch = 0, low_dense3 = 0, low_dw = 0;
    for (int i = 0; i < count; i++) {
        const bench_layer *L = &layers[i];
        if (quiet_only && L->others > NOISY_CORES) continue;
        if (L->depthwise) {
            dw[n_dw++] = L->ratio;
            low_dw += L->ratio < DW_TARGET;
        } else if (L->p.kh == 3 && L->p.groups == 1) {
            dense3[n_dense3++] = L->ratio;
            low_dense3 += L->ratio < DENSE3_TARGET;
        }
        if (L->torch_fwd > 0 && L->torch_bwd > 0) {
            th_fwd[n_torch] = L->fwd_gflops / L->torch_fwd;
            th_bwd[n_torch++] = L->bwd_gflops / L->torch_bwd;
        }
    }
    char rows[48] = "all rows";
    if (quiet_only) snprintf(rows, sizeof rows, "quiet rows (oth <= %.2f)", NOISY_CORES);
    if (n_dense3)
        printf("summary, %s: dense 3x3 forward / sgemm median %.2f over %d layers, %d below "
               "%.1f\n", rows, median_of(dense3, n_dense3), n_dense3, low_dense3, DENSE3_TARGET);
    if (n_dw)
        printf("summary, %s: depthwise forward GB/s / DRAM bound median %.2f over %d layers, "
               "%d below %.1f\n", rows, median_of(dw, n_dw), n_dw, low_dw, DW_TARGET);
    if (n_torch)
        printf("summary, %s: gos / torch median forward %.2f, backward %.2f over %d layers\n",
               rows, median_of(th_fwd, n_torch), median_of(th_bwd, n_torch), n_torch);
}

int main(int argc, char **argv)
{
    int threads = 0, use_torch = 1, list_only = 0;
    double budget = 0.2;
    const char *filter = NULL, *torch_script = "scripts/bench-torch.py";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--time") && i + 1 < argc) budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--torch-script") && i + 1 < argc) torch_script = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
        else if (!strcmp(argv[i], "--list")) list_only = 1;
        else {
            fprintf(stderr, "usage: bench_conv [--threads N] [--time SECONDS] [--filter SUBSTR] "
                            "[--no-torch] [--torch-script PATH] [--list]\n");
            return 2;
        }
    }

    static bench_layer layers[MAX_LAYERS];
    const int resnet_n = (int)(sizeof resnet18_specs / sizeof resnet18_specs[0]);
    const int mbv3_n = (int)(sizeof mbv3_specs / sizeof mbv3_specs[0]);
    int count = 0;
    count = add_layers(layers, count, "resnet18", resnet18_specs, resnet_n, 224, 1, filter);
    count = add_layers(layers, count, "mbv3_large", mbv3_specs, mbv3_n, 224, 1, filter);
    count = add_layers(layers, count, "resnet18", resnet18_specs, resnet_n, 32, 32, filter);
    count = add_layers(layers, count, "mbv3_large", mbv3_specs, mbv3_n, 32, 32, filter);
    count = add_layers(layers, count, "candidates", candidate_specs,
                       (int)(sizeof candidate_specs / sizeof candidate_specs[0]), 32, 32, filter);
    if (list_only) {
        printf("# name\tN\tC\tH\tW\tOC\tKH\tKW\tSH\tSW\tPH\tPW\tgroups\n");
        for (int i = 0; i < count; i++) write_layer_line(stdout, &layers[i]);
        return 0;
    }

    pl_threads_set(threads);
    print_header(budget);

    /* Buffers sized to the largest layer, touched once. */
    size_t inp_n = 1, out_n = 1, weight_n = 1, work_n = 1, gemm_b_n = 1;
    for (int i = 0; i < count; i++) {
        const bench_layer *L = &layers[i];
        size_t K = (size_t)(L->C / L->p.groups) * L->p.kh * L->p.kw;
        inp_n = max_size(inp_n, (size_t)L->N * L->C * L->H * L->W);
        out_n = max_size(out_n, (size_t)L->N * L->OC * L->OH * L->OW);
        weight_n = max_size(weight_n, (size_t)L->OC * K);
        work_n = max_size(work_n, nn_conv2d_workspace(L->N, L->C, L->H, L->W, L->OC, &L->p));
        if (!L->depthwise)
            gemm_b_n = max_size(gemm_b_n, (size_t)L->p.groups * K * L->N * L->OH * L->OW);
    }
    bench_ctx ctx = {0};
    size_t sizes[8] = {inp_n, inp_n, out_n, out_n, weight_n, weight_n, work_n, gemm_b_n};
    float **slots[8] = {&ctx.inp, &ctx.dinp, &ctx.out, &ctx.dout,
                        &ctx.weight, &ctx.dweight, &ctx.work, &ctx.gemm_b};
    size_t arena_n = 0;
    for (int k = 0; k < 8; k++) arena_n += (sizes[k] + 15) & ~(size_t)15; /* 64-byte slots */
    float *arena = pl_xmalloc(arena_n * sizeof(float));
    size_t offset = 0;
    for (int k = 0; k < 8; k++) {
        *slots[k] = arena + offset;
        offset += (sizes[k] + 15) & ~(size_t)15;
    }
    fill_random(arena, arena_n, 1); /* touches every page once, values in [-1, 1) */
    printf("buffers: %.1f MB (inp %zu, out %zu, weight %zu, work %zu, gemm B %zu floats)\n",
           4.0 * (double)arena_n / 1e6, inp_n, out_n, weight_n, work_n, gemm_b_n);

    /* DRAM bound: parallel memcpy of a buffer far larger than the caches,
     * the best of up to 3 attempts while other processes load the machine. */
    size_t dram_bytes = (size_t)DRAM_COPY_MB << 20;
    char *dram = pl_xmalloc(2 * dram_bytes);
    memset(dram, 1, 2 * dram_bytes);
    const bench_op copy_op[1] = {run_copy};
    ctx.copy_src = (const float *)dram;
    ctx.copy_dst = (float *)(dram + dram_bytes);
    ctx.copy_bytes = dram_bytes;
    double dram_gbs = 0, dram_others = 1e9;
    for (int attempt = 0; attempt < 3 && dram_others > NOISY_CORES; attempt++) {
        load_mark mark = load_mark_now();
        double copy_s;
        time_interleaved(copy_op, 1, &ctx, 0.5, &copy_s);
        dram_others = others_since(&mark, 0.0);
        if (2.0 * (double)dram_bytes / copy_s / 1e9 > dram_gbs)
            dram_gbs = 2.0 * (double)dram_bytes / copy_s / 1e9;
    }
    pl_free(dram);
    printf("DRAM bound: parallel memcpy %d MB -> %d MB, bytes = read + write: %.1f GB/s "
           "(oth %.2f)\n", DRAM_COPY_MB, DRAM_COPY_MB, dram_gbs, dram_others);

    bench_peer torch = {.name = "torch"};
    if (use_torch) torch_start(&torch, torch_script, pl_threads_get(), budget);
    printf("\n%-54s %3s %8s %8s | %-34s | %7s %7s %5s %5s | %4s\n", "layer", "N", "fwdGF/s",
           "bwdGF/s", "reference (dense: sgemm; dw: GB/s)", "thFGF/s", "thBGF/s", "f/th", "b/th",
           "oth");
    fflush(stdout);

    int retries = 0;
    for (int i = 0; i < count; i++) {
        measure_layer(&layers[i], &ctx, &torch, budget, dram_gbs);
        while (layers[i].others > NOISY_CORES && retries < MAX_RETRIES) {
            retries++;
            sleep(1); /* let a neighbour's burst pass */
            measure_layer(&layers[i], &ctx, &torch, budget, dram_gbs);
        }
        print_row(&layers[i]);
    }
    peer_stop(&torch);

    printf("\n");
    printf("NOISY rows re-measured: %d times (at most %d per run)\n", retries, MAX_RETRIES);
    int noisy = 0;
    for (int i = 0; i < count; i++) noisy += layers[i].others > NOISY_CORES;
    print_summary(layers, count, 0);
    if (noisy && noisy < count) print_summary(layers, count, 1);

    pl_free(arena);
    return 0;
}
