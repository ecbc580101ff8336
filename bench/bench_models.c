/* bench_models.c: whole-model training throughput and inference latency of the
 * project's models, each beside PyTorch's on the same model measured in the
 * same run (issue 4).
 *
 * Rows:
 * - training: resnet18_small (ResNet18 with the 3x3/1 CIFAR stem) and
 *   mobilenetv3_small at 32x32x3, 10 classes, width 1.0, batch 64, 2 threads.
 *   One step is a whole SGD step: ig_forward (softmax cross-entropy loss),
 *   ig_zero_grad, ig_backward, opt_sgd_step (lr 0.01, momentum 0.9, weight
 *   decay 5e-4 on every parameter, as torch.optim.SGD over
 *   model.parameters()). Dropout as torchvision: 0.2 before the classifier of
 *   MobileNetV3, none in ResNet18. Figure: images/s = 64 / median step time;
 *   ratio gos/torch throughput (target >= 1).
 * - inference: batch 1, evaluation mode, 1000 classes, 1 and 2 threads:
 *   resnet18 (ImageNet stem), mobilenetv3_small and mobilenetv3_large at
 *   32x32 and 224x224, inceptionv3 at 299x299. Figure: median latency of one
 *   ig_forward in ms; ratio gos/torch latency (target <= 0.5).
 * - GF/img: forward FLOPs per image (ig_graph_flops, a multiply-add is 2).
 * Each graph is built once per model, input size and mode (a 1- and a
 * 2-thread row share it); parameters are ig_graph_init_params's random ones
 * and the input batch is random (timing does not depend on the values).
 *
 * PyTorch: when /usr/bin/python3 imports torch, scripts/bench-models-torch.py
 * runs as a co-process (pipes, --serve) and builds the same torchvision model
 * (train: SGD with the same settings, zero_grad(set_to_none=True), forward,
 * F.cross_entropy, backward, step; infer: eval() under torch.inference_mode()),
 * with torch.set_num_threads equal to the row's thread count. Debian's torch
 * links the pthreads OpenBLAS, whose own pool (a thread per core, busy-waiting
 * between calls) torch.set_num_threads does not limit: left alone, torch used
 * both cores on 1-thread rows and its spinning slowed the gos calls that
 * followed. The script sets that pool to 1 thread on 1-thread rows and, on
 * 2-thread rows, to whichever of 2 and 1 runs the model faster in a short
 * trial at the row's start (either can win: inceptionv3 ran faster with 2,
 * mobilenetv3_large with 1); column thB shows the choice.
 *
 * Timing: per row, warm-up calls on each side (2, or 1 when a call takes over
 * 0.25 s), then chunks alternate: torch times a chunk of calls, then gos does,
 * round after round, so load bursts hit both alike. A chunk is about 0.15 s
 * of calls (at least 1), led by 30 ms of untimed calls (a pause as long when
 * one call takes longer): after its calls each side's OpenMP threads spin for
 * about 10 ms (libgomp's default wait policy, measured on this host) on the
 * cores the other side is about to use, and the lead lets that pass and
 * refills the caches. Every timed call is timed alone (CLOCK_MONOTONIC;
 * torch: perf_counter, so Python's per-call overhead counts, as in any
 * PyTorch program); rounds go on until each side has at least 5 calls and
 * --time seconds (default 1) of timed calls, or 200 calls; the figure is the
 * median call. Column "oth" is the CPU other processes used (cores' worth,
 * /proc/stat minus this process and the script's timed chunks) while the row
 * was measured; rows above 0.25 are re-measured once after a pause (only rows
 * measured in under 5 s, at most 4 times per run, none after the first 60 s)
 * and marked NOISY if still loaded; the summary is then repeated over the
 * quiet rows. All figures are measured on this host, at the thread counts
 * shown, with the OpenBLAS kernel shown in the header.
 *
 *   bench_models [--time S] [--filter SUBSTR] [--no-torch]
 *                [--torch-script PATH] [--list] [--verbose]
 * --list prints the rows (the torch script's standalone input); --verbose
 * prints every chunk's mean call time on stderr.
 */
#include "ig.h"
#include "models.h"
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "bench_peer.h"
#include "bench_util.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS        32
#define MAX_CALLS       200
#define MIN_CALLS       5
#define WARMUP_CALLS    2
#define CHUNK_SECONDS   0.15 /* calls per chunk: about this long           */
#define LEAD_SECONDS    0.03 /* untimed lead of every chunk (see above)   */
#define SLOW_CALL       0.25 /* calls this long get one warm-up, not two   */
#define RETRY_BELOW     5.0  /* re-measure only rows measured faster       */
#define NOISY_CORES     0.25 /* others' CPU marking a row NOISY            */
#define MAX_RETRIES     4    /* re-measurements of NOISY rows per run      */
#define RETRY_UNTIL     60.0 /* no re-measurement after this many seconds  */
#define TRAIN_TARGET    1.0  /* gos/torch throughput at least             */
#define INFER_TARGET    0.5  /* gos/torch latency at most                 */
#define ORT_TARGET      1.0  /* gos/ort latency at most                   */
#define LR              0.01f
#define MOMENTUM        0.9f
#define WEIGHT_DECAY    5e-4f

/* The frameworks timed beside gos (bench_peer.h): PyTorch on every row,
 * ONNX Runtime on the inference rows. */
enum { PEER_TORCH, PEER_ORT, N_PEERS };

typedef struct {
    char name[80];      /* "train resnet18_small 32x32 b64 t2"          */
    const char *model;  /* the project's model name (torch script's too) */
    int training;       /* 1: SGD step, 0: forward in eval mode         */
    int size, batch, classes, threads;
    float dropout;      /* torchvision's                                */
    /* results; 0 = not measured */
    double gos_s;          /* median seconds per call                   */
    int gos_n;             /* calls timed                               */
    double peer_s[N_PEERS]; /* the same for each peer                   */
    int peer_n[N_PEERS];
    int torch_blas;        /* OpenBLAS threads torch ran with           */
    double gflops;         /* forward GFLOPs per image                  */
    double others;
    double seconds;        /* the row's measurement took                */
    int failed;            /* gos could not build or run the model      */
} bench_row;

/* Calls per chunk for calls of about `seconds` each. */
static int chunk_calls(double seconds)
{
    int k = seconds > 0 ? (int)(CHUNK_SECONDS / seconds + 0.5) : 1;
    return k < 1 ? 1 : k > 20 ? 20 : k;
}

/* ---- rows ---------------------------------------------------------------- */

static int add_row(bench_row *rows, int count, const char *model, int training, int size,
                   int batch, int classes, int threads, float dropout, const char *filter)
{
    bench_row r = {.model = model, .training = training, .size = size, .batch = batch,
                   .classes = classes, .threads = threads, .dropout = dropout};
    snprintf(r.name, sizeof r.name, "%s %s %dx%d b%d t%d", training ? "train" : "infer", model,
             size, size, batch, threads);
    if (filter && !strstr(r.name, filter)) return count;
    if (count >= MAX_ROWS) {
        fprintf(stderr, "bench_models: more than %d rows\n", MAX_ROWS);
        exit(2);
    }
    rows[count] = r;
    return count + 1;
}

/* The rows, grouped so that rows sharing a graph are adjacent. */
static int make_rows(bench_row *rows, const char *filter)
{
    int n = 0;
    n = add_row(rows, n, "resnet18_small", 1, 32, 64, 10, 2, 0.0f, filter);
    n = add_row(rows, n, "mobilenetv3_small", 1, 32, 64, 10, 2, 0.2f, filter);
    static const struct {
        const char *model;
        float dropout;
    } infer_models[] = {{"resnet18", 0.0f}, {"mobilenetv3_small", 0.2f},
                        {"mobilenetv3_large", 0.2f}};
    static const int sizes[] = {32, 224};
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 2; s++)
            for (int t = 1; t <= 2; t++)
                n = add_row(rows, n, infer_models[m].model, 0, sizes[s], 1, 1000, t,
                            infer_models[m].dropout, filter);
    for (int t = 1; t <= 2; t++)
        n = add_row(rows, n, "inceptionv3", 0, 299, 1, 1000, t, 0.5f, filter);
    return n;
}

/* Rows a and b run on one graph (and one torch model). */
static int same_graph(const bench_row *a, const bench_row *b)
{
    return !strcmp(a->model, b->model) && a->training == b->training && a->size == b->size &&
           a->batch == b->batch && a->classes == b->classes;
}

/* One row as a tab-separated line, the input of bench-models-torch.py:
 * name model mode size batch classes threads. */
static void write_row_line(FILE *f, const bench_row *r)
{
    fprintf(f, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n", r->name, r->model, r->training ? "train" : "infer",
            r->size, r->batch, r->classes, r->threads);
}

/* ---- the project's side ------------------------------------------------- */

typedef struct {
    ig_graph   *g;
    model_nodes nodes;
    int         loss;   /* softmax_xent node, training only */
    int         training;
    opt_sgd     sgd;
    int         sgd_ready;
    int32_t    *labels;
} gos_model;

static void gos_close(gos_model *m)
{
    if (m->sgd_ready) opt_sgd_destroy(&m->sgd);
    ig_graph_free(m->g);
    pl_free(m->labels);
    memset(m, 0, sizeof *m);
}

/* Builds, plans and fills the graph of row r. Returns PL_OK or a status with
 * pl_last_error set. */
static int gos_open(gos_model *m, const bench_row *r)
{
    memset(m, 0, sizeof *m);
    m->training = r->training;
    m->g = ig_graph_alloc();
    model_spec spec = {.in_c = 3, .in_h = r->size, .in_w = r->size, .classes = r->classes,
                       .width = 1.0f, .dropout = r->dropout};
    snprintf(spec.name, sizeof spec.name, "%s", r->model);
    PL_TRY(model_build(m->g, &spec, &m->nodes));
    if (r->training) PL_TRY(m->loss = ig_softmax_xent(m->g, m->nodes.logits));
    PL_TRY(ig_graph_finalize(m->g));
    ig_graph_init_params(m->g, 1);
    if (r->training) {
        PL_TRY(ig_graph_plan(m->g, r->batch));
        PL_TRY(ig_set_training(m->g, 1));
    } else {
        PL_TRY(ig_graph_plan_inference(m->g, r->batch));
    }
    fill_random(ig_value(m->g, m->nodes.input), (size_t)r->batch * 3 * r->size * r->size, 7);
    m->labels = pl_xmalloc((size_t)r->batch * sizeof(int32_t));
    for (int i = 0; i < r->batch; i++) m->labels[i] = (int32_t)((i * 7 + 3) % r->classes);
    if (r->training) {
        opt_sgd_config cfg = {.momentum = MOMENTUM, .weight_decay = WEIGHT_DECAY, .decay_all = 1};
        PL_TRY(opt_sgd_init(&m->sgd, m->g, &cfg));
        m->sgd_ready = 1;
    }
    return PL_OK;
}

static void gos_call(gos_model *m)
{
    if (m->training) {
        ig_forward(m->g, m->labels);
        ig_zero_grad(m->g);
        ig_backward(m->g, m->loss);
        opt_sgd_step(&m->sgd, m->g, LR);
    } else {
        ig_forward(m->g, NULL);
    }
}

/* ---- measuring ------------------------------------------------------------ */

static int verbose; /* --verbose: every chunk's times on stderr */

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The lead of a gos chunk while peers run alongside: untimed calls for
 * LEAD_SECONDS when calls are shorter than that, else a pause as long. */
static void gos_lead(gos_model *m, double call_seconds)
{
    if (call_seconds >= LEAD_SECONDS) {
        sleep_seconds(LEAD_SECONDS);
        return;
    }
    double start = now_seconds();
    do gos_call(m);
    while (now_seconds() - start < LEAD_SECONDS);
}

/* Timed calls of one side (gos or a peer) of a row. */
typedef struct {
    double samples[MAX_CALLS];
    int    n;
    double sum;     /* seconds of timed calls                 */
    double est;     /* mean call of the last chunk            */
    int    warmup;  /* untimed calls its next chunk starts with */
    int    active;
    int    blas;    /* BLAS threads the peer reports         */
} side;

static int side_done(const side *x, double budget)
{
    return !x->active || x->n >= MAX_CALLS || (x->n >= MIN_CALLS && x->sum >= budget);
}

/* One chunk of peer p's calls for row r into x; returns the CPU seconds the
 * peer used, 0 when it failed (then x is inactive and emptied). */
static double peer_chunk(bench_peer *p, side *x, bench_row *r)
{
    int before = x->n;
    double cpu = peer_time(p, r->threads, x->warmup, LEAD_SECONDS, chunk_calls(x->est),
                           x->samples, &x->n, MAX_CALLS, &x->blas);
    x->warmup = 0;
    if (cpu < 0) {
        x->active = 0; /* the script failed: no figures of this peer for this row */
        x->n = 0;
        return 0.0;
    }
    double chunk = 0;
    for (int i = before; i < x->n; i++) chunk += x->samples[i];
    x->sum += chunk;
    x->est = x->n > before ? chunk / (x->n - before) : 0;
    if (verbose)
        fprintf(stderr, "%s: %-5s chunk %d calls, mean %.2f ms, cpu %.3f s\n", r->name, p->name,
                x->n - before, 1e3 * x->est, cpu);
    return cpu;
}

/* Times row r (its graph m and the peers' models): warm-ups, then a chunk
 * of each peer's calls and one of gos's, round after round (see the file
 * comment). */
static void measure_row(bench_row *r, gos_model *m, bench_peer *peers, double budget)
{
    static side gos, peer[N_PEERS];
    pl_threads_set(r->threads);
    load_mark mark = load_mark_now();

    /* Warm-up: 2 calls, or 1 when it takes SLOW_CALL seconds; peers the same. */
    memset(&gos, 0, sizeof gos);
    gos.active = 1;
    int warmup = 0;
    while (warmup < WARMUP_CALLS && (warmup == 0 || gos.est < SLOW_CALL)) {
        double t0 = now_seconds();
        gos_call(m);
        gos.est = now_seconds() - t0;
        warmup++;
    }
    int any_peer = 0;
    for (int k = 0; k < N_PEERS; k++) {
        memset(&peer[k], 0, sizeof peer[k]);
        peer[k].active = peers[k].to && peers[k].loaded;
        peer[k].warmup = warmup;
        peer[k].est = gos.est;
        any_peer |= peer[k].active;
    }
    double peer_cpu = 0;
    for (;;) {
        int done = side_done(&gos, budget);
        for (int k = 0; k < N_PEERS; k++) done &= side_done(&peer[k], budget);
        if (done) break;
        for (int k = 0; k < N_PEERS; k++)
            if (!side_done(&peer[k], budget)) peer_cpu += peer_chunk(&peers[k], &peer[k], r);
        if (!side_done(&gos, budget)) {
            int k = chunk_calls(gos.est);
            if (any_peer) gos_lead(m, gos.est);
            double chunk = 0;
            int calls = 0;
            for (; calls < k && gos.n < MAX_CALLS; calls++) {
                double t0 = now_seconds();
                gos_call(m);
                double dt = now_seconds() - t0;
                gos.samples[gos.n++] = dt;
                chunk += dt;
            }
            gos.sum += chunk;
            if (calls) gos.est = chunk / calls;
            if (verbose)
                fprintf(stderr, "%s: gos   chunk %d calls, mean %.2f ms\n", r->name, calls,
                        1e3 * gos.est);
        }
    }
    r->others = others_since(&mark, peer_cpu);
    if (verbose) {
        load_mark end = load_mark_now();
        fprintf(stderr, "%s: wall %.2f s, machine busy %.2f s, self %.2f s, peers %.2f s\n",
                r->name, end.wall - mark.wall, end.busy - mark.busy, end.self - mark.self,
                peer_cpu);
    }
    r->seconds = now_seconds() - mark.wall;
    r->gos_n = gos.n;
    r->gos_s = median_of(gos.samples, gos.n);
    for (int k = 0; k < N_PEERS; k++) {
        r->peer_n[k] = peer[k].n;
        r->peer_s[k] = peer[k].n ? median_of(peer[k].samples, peer[k].n) : 0.0;
    }
    r->torch_blas = peer[PEER_TORCH].blas;
}

/* ---- printing ------------------------------------------------------------- */

static void print_header(double budget)
{
    char blas[512], date[64];
    pl_blas_describe(blas, (int)sizeof blas);
    time_t wall = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&wall));
    printf("bench_models: whole-model training throughput and inference latency, gos vs "
           "PyTorch and ONNX Runtime\n");
    printf("date: %s  threads: training 2, inference 1 and 2  core: %s\n", date,
           pl_blas_corename());
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
    printf("timing: per row <= %d warm-up calls each side, then torch, ort and gos chunks of "
           "~%.2f s (each led by %.0f ms untimed) alternate until each side has >= %d calls and "
           "%.2f s of them (or %d calls); median call. All times are measured on this host\n",
           WARMUP_CALLS, CHUNK_SECONDS, 1e3 * LEAD_SECONDS, MIN_CALLS, budget, MAX_CALLS);
    printf("GF/img: forward GFLOPs per image (multiply-add = 2). oth: cores' worth of CPU other "
           "processes (and the hypervisor) used while the row was measured; NOISY above %.2f "
           "after a retry: unreliable, rerun. n: calls timed. thB: OpenBLAS threads torch used "
           "(see below)\n", NOISY_CORES);
    printf("torch BLAS: Debian's torch links the pthreads OpenBLAS, whose pool (a thread per "
           "core, busy-waiting between calls) runs beside torch's OpenMP threads and is not "
           "limited by torch.set_num_threads: the script sets it to 1 thread on 1-thread rows "
           "and, on 2-thread rows, to whichever of 2 and 1 was faster in a trial at the row's "
           "start\n");
}

static void print_table_head(int training)
{
    if (training) {
        printf("\ntraining throughput: one SGD step (forward, softmax cross-entropy, backward, "
               "momentum %.1f update), width 1.0, 10 classes; images/s = batch / median step, "
               "measured on this host; target gos/torch >= %.1f\n", (double)MOMENTUM,
               TRAIN_TARGET);
        printf("%-38s %6s %11s %11s %9s %5s %5s %4s | %4s\n", "row", "GF/img", "gos img/s",
               "torch img/s", "gos/torch", "gos n", "th n", "thB", "oth");
    } else {
        printf("\ninference latency: batch 1, evaluation mode, 1000 classes, width 1.0; median "
               "forward in ms, measured on this host; targets gos/torch <= %.1f, gos/ort <= "
               "%.1f\n", INFER_TARGET, ORT_TARGET);
        printf("%-38s %6s %9s %9s %9s %9s %7s %5s %5s %5s %4s | %4s\n", "row", "GF/img",
               "gos ms", "torch ms", "ort ms", "gos/torch", "gos/ort", "gos n", "th n", "ort n",
               "thB", "oth");
    }
    fflush(stdout);
}

/* gos against peer k as the issue states it: throughput ratio for training,
 * latency ratio for inference; 0 when either was not measured. */
static double row_ratio(const bench_row *r, int k)
{
    if (r->failed || r->gos_s <= 0 || r->peer_s[k] <= 0) return 0.0;
    return r->training ? r->peer_s[k] / r->gos_s : r->gos_s / r->peer_s[k];
}

/* Whether row r misses its target against peer k (0 when not measured). */
static int row_misses(const bench_row *r, int k)
{
    double q = row_ratio(r, k);
    if (q <= 0) return 0;
    if (r->training) return q < TRAIN_TARGET;
    return q > (k == PEER_ORT ? ORT_TARGET : INFER_TARGET);
}

/* "%*.2f" of v, or "-" when v is 0 (not measured). */
static void print_figure(int width, double v)
{
    if (v > 0) printf("%*.2f ", width, v);
    else printf("%*s ", width, "-");
}

static void print_row(const bench_row *r)
{
    printf("%-38s %6.3f ", r->name, r->gflops);
    if (r->failed) {
        printf("%11s |\n", "failed");
        fflush(stdout);
        return;
    }
    const double torch = r->peer_s[PEER_TORCH], ort = r->peer_s[PEER_ORT];
    if (r->training) {
        print_figure(11, r->batch / r->gos_s);
        print_figure(11, torch > 0 ? r->batch / torch : 0);
        print_figure(9, row_ratio(r, PEER_TORCH));
        printf("%5d %5d %4d", r->gos_n, r->peer_n[PEER_TORCH], r->torch_blas);
    } else {
        print_figure(9, 1e3 * r->gos_s);
        print_figure(9, 1e3 * torch);
        print_figure(9, 1e3 * ort);
        print_figure(9, row_ratio(r, PEER_TORCH));
        print_figure(7, row_ratio(r, PEER_ORT));
        printf("%5d %5d %5d %4d", r->gos_n, r->peer_n[PEER_TORCH], r->peer_n[PEER_ORT],
               r->torch_blas);
    }
    printf(" | %4.2f%s%s%s\n", r->others,
           row_misses(r, PEER_TORCH) ? (r->training ? " SLOWER" : " MISS-torch") : "",
           row_misses(r, PEER_ORT) ? " MISS-ort" : "", r->others > NOISY_CORES ? " NOISY" : "");
    fflush(stdout);
}

/* The per-target summary lines over all rows, or over the quiet ones. */
static void print_summary(const bench_row *rows, int count, int quiet_only)
{
    char scope[48] = "";
    if (quiet_only) snprintf(scope, sizeof scope, " (quiet rows, oth <= %.2f)", NOISY_CORES);
    int printed = 0;
    for (int k = 0; k < N_PEERS; k++)
        for (int training = 1; training >= 0; training--) {
            double worst = 0, q_all[MAX_ROWS];
            int n = 0, met = 0;
            const char *worst_name = "";
            for (int i = 0; i < count; i++) {
                const bench_row *r = &rows[i];
                double q = row_ratio(r, k);
                if (r->training != training || q <= 0) continue;
                if (quiet_only && r->others > NOISY_CORES) continue;
                int better = training ? q < worst : q > worst;
                if (n == 0 || better) worst = q, worst_name = r->name;
                met += !row_misses(r, k);
                q_all[n++] = q;
            }
            if (!n) continue;
            const char *peer = k == PEER_TORCH ? "torch" : "ort";
            const double target = training ? TRAIN_TARGET : k == PEER_ORT ? ORT_TARGET
                                                                          : INFER_TARGET;
            printf("%s%s: gos/%s %s %s %.2f over %d rows (target %s %.1f): %s; median %.2f, "
                   "%d of %d rows within target (worst: %s)\n",
                   training ? "training" : "inference", scope, peer,
                   training ? "throughput" : "latency", training ? "min" : "max", worst, n,
                   training ? ">=" : "<=", target, met == n ? "met" : "NOT met",
                   median_of(q_all, n), met, n, worst_name);
            printed++;
        }
    if (!printed) printf("summary%s: no row has both gos and a peer's figures\n", scope);
}

/* ---- main -------------------------------------------------------------- */

/* Starts PyTorch's co-process when /usr/bin/python3 has torch and
 * torchvision; 1 when it runs. */
static int start_torch(bench_peer *p, const char *script)
{
    if (!peer_python_ready(p->name, script, "torch, torchvision")) return 0;
    const char *argv[] = {"/usr/bin/python3", script, "--serve", NULL};
    return peer_start(p, argv);
}

/* Starts ONNX Runtime's co-process when dir holds onnxruntime-node and the
 * exported models (`make bench-peers`); 1 when it runs. */
static int start_ort(bench_peer *p, const char *script, const char *dir)
{
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/node_modules/onnxruntime-node/package.json", dir ? dir : "");
    if (!dir || access(probe, R_OK) != 0) {
        printf("ort: onnxruntime-node not installed%s%s (make bench-peers installs it and the "
               "ONNX models), no ort figures\n", dir ? " in " : "", dir ? dir : "");
        return 0;
    }
    if (access(script, R_OK) != 0) {
        printf("ort: %s not found, no ort figures\n", script);
        return 0;
    }
    const char *argv[] = {"node", script, "--serve", "--dir", dir, NULL};
    return peer_start(p, argv);
}

int main(int argc, char **argv)
{
    int use_torch = 1, use_ort = 1, list_only = 0;
    double budget = 1.0;
    const char *filter = NULL, *torch_script = "scripts/bench-models-torch.py";
    const char *ort_script = "scripts/bench-models-ort.js", *ort_dir = getenv("GOS_PEERS");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--time") && i + 1 < argc) budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--torch-script") && i + 1 < argc) torch_script = argv[++i];
        else if (!strcmp(argv[i], "--ort-script") && i + 1 < argc) ort_script = argv[++i];
        else if (!strcmp(argv[i], "--ort-dir") && i + 1 < argc) ort_dir = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
        else if (!strcmp(argv[i], "--no-ort")) use_ort = 0;
        else if (!strcmp(argv[i], "--list")) list_only = 1;
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else {
            fprintf(stderr, "usage: bench_models [--time SECONDS] [--filter SUBSTR] [--no-torch] "
                            "[--torch-script PATH] [--no-ort] [--ort-dir DIR] "
                            "[--ort-script PATH] [--list] [--verbose]\n");
            return 2;
        }
    }

    static bench_row rows[MAX_ROWS];
    int count = make_rows(rows, filter);
    if (list_only) {
        printf("# name\tmodel\tmode\tsize\tbatch\tclasses\tthreads\n");
        for (int i = 0; i < count; i++) write_row_line(stdout, &rows[i]);
        return 0;
    }

    pl_threads_set(2);
    print_header(budget);
    bench_peer peers[N_PEERS] = {[PEER_TORCH] = {.name = "torch"}, [PEER_ORT] = {.name = "ort"}};
    if (use_torch) start_torch(&peers[PEER_TORCH], torch_script);
    if (use_ort) start_ort(&peers[PEER_ORT], ort_script, ort_dir);

    double started = now_seconds();
    int retries = 0;
    gos_model m = {0};
    int have_graph = 0;
    for (int i = 0; i < count; i++) {
        bench_row *r = &rows[i];
        if (i == 0 || r->training != rows[i - 1].training) print_table_head(r->training);
        if (i == 0 || !same_graph(r, &rows[i - 1])) {
            if (have_graph) gos_close(&m);
            have_graph = 1;
            if (gos_open(&m, r) != PL_OK) {
                printf("gos: %s: %s\n", r->model, pl_last_error());
                gos_close(&m);
                have_graph = 0;
            } else {
                for (int k = 0; k < N_PEERS; k++) {
                    peers[k].loaded = 0; /* ONNX Runtime times inference only */
                    if (peers[k].to && (k != PEER_ORT || !r->training))
                        peer_load(&peers[k], r->name, r->model, r->training, r->size, r->batch,
                                  r->classes);
                }
            }
        }
        if (!have_graph) {
            r->failed = 1;
            print_row(r);
            continue;
        }
        r->gflops = ig_graph_flops(m.g) / 1e9;
        measure_row(r, &m, peers, budget);
        if (r->others > NOISY_CORES && retries < MAX_RETRIES && r->seconds < RETRY_BELOW &&
            now_seconds() - started < RETRY_UNTIL) {
            retries++;
            sleep(1); /* let a neighbour's burst pass */
            measure_row(r, &m, peers, budget);
        }
        print_row(r);
        if (r->training && !isfinite(m.g->loss))
            printf("WARNING: %s: the training loss became %g (timings of non-finite values may "
                   "not be representative)\n", r->name, (double)m.g->loss);
    }
    if (have_graph) gos_close(&m);
    for (int k = 0; k < N_PEERS; k++) peer_stop(&peers[k]);

    printf("\nNOISY rows re-measured: %d times (at most %d per run); total %.0f s\n", retries,
           MAX_RETRIES, now_seconds() - started);
    int noisy = 0;
    for (int i = 0; i < count; i++) noisy += rows[i].others > NOISY_CORES;
    print_summary(rows, count, 0);
    if (noisy && noisy < count) print_summary(rows, count, 1);
    return 0;
}
