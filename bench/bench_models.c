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
#define LR              0.01f
#define MOMENTUM        0.9f
#define WEIGHT_DECAY    5e-4f

typedef struct {
    char name[80];      /* "train resnet18_small 32x32 b64 t2"          */
    const char *model;  /* the project's model name (torch script's too) */
    int training;       /* 1: SGD step, 0: forward in eval mode         */
    int size, batch, classes, threads;
    float dropout;      /* torchvision's                                */
    /* results; 0 = not measured */
    double gos_s, torch_s; /* median seconds per call                   */
    int gos_n, torch_n;    /* calls timed                               */
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
    PL_TRY(ig_graph_plan(m->g, r->batch));
    PL_TRY(ig_set_training(m->g, r->training));
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

/* ---- load by other processes ------------------------------------------ */

/* Wall clock, seconds the machine has been busy (/proc/stat: all but idle and
 * iowait, hypervisor steal included) and CPU seconds this process has used. */
/* ---- PyTorch co-process ------------------------------------------------ */

typedef struct {
    pid_t pid;
    FILE *to;   /* requests to the script */
    FILE *from; /* its answers            */
    int   loaded; /* the model of the current rows is built there */
} torch_peer;

static void torch_stop(torch_peer *t)
{
    if (t->to) fclose(t->to);
    if (t->from) fclose(t->from);
    if (t->pid > 0) waitpid(t->pid, NULL, 0);
    memset(t, 0, sizeof *t);
}

/* Starts `/usr/bin/python3 script --serve` on pipes and prints its info
 * line. Returns 1 when it runs, 0 (with a printed reason) when not. */
static int torch_start(torch_peer *t, const char *script)
{
    memset(t, 0, sizeof *t);
    if (access(script, R_OK) != 0) {
        printf("torch: %s not found, gos figures only\n", script);
        return 0;
    }
    if (system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") != 0) {
        printf("torch: /usr/bin/python3 cannot import torch and torchvision, gos figures only\n");
        return 0;
    }
    int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
    fflush(stdout);
    pid_t pid = pipe(to_child) == 0 && pipe(from_child) == 0 ? fork() : -1;
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        for (int k = 0; k < 2; k++) {
            close(to_child[k]);
            close(from_child[k]);
        }
        execl("/usr/bin/python3", "python3", script, "--serve", (char *)NULL);
        _exit(127);
    }
    close(to_child[0]); /* close(-1) after a failed pipe() is harmless */
    close(from_child[1]);
    if (pid < 0) {
        close(to_child[1]);
        close(from_child[0]);
        printf("torch: cannot start %s, gos figures only\n", script);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead script shows as a failed read */
    t->pid = pid;
    t->to = fdopen(to_child[1], "w");
    t->from = fdopen(from_child[0], "r");
    if (!t->to) close(to_child[1]); /* else the script would wait for input forever */
    if (!t->from) close(from_child[0]);
    char line[512];
    if (!t->to || !t->from || !fgets(line, sizeof line, t->from) || line[0] != '#') {
        printf("torch: %s --serve did not start, gos figures only\n", script);
        torch_stop(t);
        return 0;
    }
    printf("torch:%s", line + 1);
    return 1;
}

/* Sends one request line and reads the answer into line; 0 when the script
 * is gone (then stopped, with a message). */
static int torch_request(torch_peer *t, const char *request, char *line, int size)
{
    if (!t->to) return 0;
    fputs(request, t->to);
    if (fflush(t->to) != 0 || !fgets(line, size, t->from)) {
        printf("torch: the script stopped answering, no further comparison\n");
        torch_stop(t);
        return 0;
    }
    line[strcspn(line, "\n")] = '\0';
    return 1;
}

/* Has the script build row r's model. */
static void torch_load(torch_peer *t, const bench_row *r)
{
    char request[256], line[512];
    t->loaded = 0;
    snprintf(request, sizeof request, "load\t%.79s\t%.63s\t%s\t%d\t%d\t%d\n", r->name, r->model,
             r->training ? "train" : "infer", r->size, r->batch, r->classes);
    if (!torch_request(t, request, line, (int)sizeof line)) return;
    if (strncmp(line, "ok\t", 3) == 0) t->loaded = 1;
    else printf("torch: %s: %s\n", r->model, line);
}

/* Has the script run `warmup` untimed calls, then its lead (see the file
 * comment) and `calls` timed calls at `threads`; appends the seconds to
 * samples (capacity MAX_CALLS). Returns the CPU seconds the script reports,
 * or -1 when it failed. */
static double torch_time(torch_peer *t, int threads, int warmup, int calls, double *samples,
                         int *count, int *blas_threads)
{
    char request[96], line[8192];
    if (!t->to || !t->loaded) return -1;
    snprintf(request, sizeof request, "time\t%d\t%d\t%g\t%d\n", threads, warmup, LEAD_SECONDS,
             calls);
    if (!torch_request(t, request, line, (int)sizeof line)) return -1;
    if (strncmp(line, "times\t", 6) != 0) {
        printf("torch: %s\n", line);
        t->loaded = 0;
        return -1;
    }
    char *p = line + 6, *end;
    while (*count < MAX_CALLS) {
        double v = strtod(p, &end);
        if (end == p) break;
        samples[(*count)++] = v;
        p = end;
        if (*p != ',') break;
        p++;
    }
    char *tab = strchr(p, '\t');
    if (!tab) return 0.0;
    double cpu = strtod(tab + 1, &end);
    if (*end == '\t') *blas_threads = atoi(end + 1);
    return cpu;
}

/* ---- measuring ------------------------------------------------------------ */

static int verbose; /* --verbose: every chunk's times on stderr */

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The lead of a gos chunk while torch runs alongside: untimed calls for
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

/* Times row r (its graph m and, when running, the torch model): warm-ups,
 * then torch and gos chunks alternately (see the file comment). */
static void measure_row(bench_row *r, gos_model *m, torch_peer *t, double budget)
{
    static double gos_samples[MAX_CALLS], torch_samples[MAX_CALLS];
    int gos_n = 0, torch_n = 0;
    double gos_sum = 0, torch_sum = 0, torch_cpu = 0;
    pl_threads_set(r->threads);
    load_mark mark = load_mark_now();

    /* Warm-up: 2 calls, or 1 when it takes SLOW_CALL seconds; torch the same. */
    int warmup = 0;
    double gos_est = 0;
    while (warmup < WARMUP_CALLS && (warmup == 0 || gos_est < SLOW_CALL)) {
        double t0 = now_seconds();
        gos_call(m);
        gos_est = now_seconds() - t0;
        warmup++;
    }
    int use_torch = t->to && t->loaded;
    int torch_warmup = warmup, torch_k = chunk_calls(gos_est);
    for (;;) {
        int gos_done = gos_n >= MAX_CALLS || (gos_n >= MIN_CALLS && gos_sum >= budget);
        int torch_done = !use_torch || torch_n >= MAX_CALLS ||
                         (torch_n >= MIN_CALLS && torch_sum >= budget);
        if (gos_done && torch_done) break;
        if (!torch_done) {
            int before = torch_n;
            double cpu = torch_time(t, r->threads, torch_warmup, torch_k, torch_samples, &torch_n,
                                    &r->torch_blas);
            torch_warmup = 0;
            if (cpu < 0) {
                use_torch = 0; /* the script failed: gos figures only for this row */
                torch_n = 0;
            } else {
                torch_cpu += cpu;
                double chunk = 0;
                for (int i = before; i < torch_n; i++) chunk += torch_samples[i];
                torch_sum += chunk;
                double est = torch_n > before ? chunk / (torch_n - before) : 0;
                if (verbose)
                    fprintf(stderr, "%s: torch chunk %d calls, mean %.2f ms, cpu %.3f s\n",
                            r->name, torch_n - before, 1e3 * est, cpu);
                torch_k = chunk_calls(est);
            }
        }
        if (!gos_done) {
            int k = chunk_calls(gos_est);
            if (use_torch) gos_lead(m, gos_est);
            double chunk = 0;
            int done = 0;
            for (; done < k && gos_n < MAX_CALLS; done++) {
                double t0 = now_seconds();
                gos_call(m);
                double dt = now_seconds() - t0;
                gos_samples[gos_n++] = dt;
                chunk += dt;
            }
            gos_sum += chunk;
            if (done) gos_est = chunk / done;
            if (verbose)
                fprintf(stderr, "%s: gos   chunk %d calls, mean %.2f ms\n", r->name, done,
                        1e3 * gos_est);
        }
    }
    r->others = others_since(&mark, torch_cpu);
    if (verbose) {
        load_mark end = load_mark_now();
        fprintf(stderr, "%s: wall %.2f s, machine busy %.2f s, self %.2f s, torch %.2f s\n",
                r->name, end.wall - mark.wall, end.busy - mark.busy, end.self - mark.self,
                torch_cpu);
    }
    r->seconds = now_seconds() - mark.wall;
    r->gos_n = gos_n;
    r->gos_s = median_of(gos_samples, gos_n);
    r->torch_n = torch_n;
    r->torch_s = torch_n ? median_of(torch_samples, torch_n) : 0.0;
}

/* ---- printing ------------------------------------------------------------- */

static void print_header(double budget)
{
    char blas[512], date[64];
    pl_blas_describe(blas, (int)sizeof blas);
    time_t wall = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&wall));
    printf("bench_models: whole-model training throughput and inference latency, gos vs "
           "PyTorch\n");
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
    printf("timing: per row <= %d warm-up calls each side, then torch and gos chunks of ~%.2f s "
           "(each led by %.0f ms untimed) alternate until each side has >= %d calls and %.2f s "
           "of them (or %d calls); median call. All times are measured on this host\n",
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
               "forward in ms, measured on this host; target gos/torch <= %.1f\n", INFER_TARGET);
        printf("%-38s %6s %11s %11s %9s %5s %5s %4s | %4s\n", "row", "GF/img", "gos ms",
               "torch ms", "gos/torch", "gos n", "th n", "thB", "oth");
    }
    fflush(stdout);
}

/* gos/torch as the issue states it: throughput ratio for training, latency
 * ratio for inference; 0 when torch was not measured. */
static double row_ratio(const bench_row *r)
{
    if (r->failed || r->gos_s <= 0 || r->torch_s <= 0) return 0.0;
    return r->training ? r->torch_s / r->gos_s : r->gos_s / r->torch_s;
}

static int row_misses(const bench_row *r)
{
    double q = row_ratio(r);
    if (q <= 0) return 0;
    return r->training ? q < TRAIN_TARGET : q > INFER_TARGET;
}

static void print_row(const bench_row *r)
{
    printf("%-38s %6.3f ", r->name, r->gflops);
    if (r->failed) {
        printf("%11s %11s %9s %5s %5s %4s |\n", "failed", "-", "-", "-", "-", "-");
        fflush(stdout);
        return;
    }
    double gos = r->training ? r->batch / r->gos_s : 1e3 * r->gos_s;
    printf("%11.2f ", gos);
    if (r->torch_s > 0) {
        double th = r->training ? r->batch / r->torch_s : 1e3 * r->torch_s;
        printf("%11.2f %9.2f %5d %5d %4d", th, row_ratio(r), r->gos_n, r->torch_n, r->torch_blas);
    } else {
        printf("%11s %9s %5d %5s %4s", "-", "-", r->gos_n, "-", "-");
    }
    printf(" | %4.2f%s%s\n", r->others,
           row_misses(r) ? (r->training ? " SLOWER" : " MISS") : "",
           r->others > NOISY_CORES ? " NOISY" : "");
    fflush(stdout);
}

/* The per-target summary lines over all rows, or over the quiet ones. */
static void print_summary(const bench_row *rows, int count, int quiet_only)
{
    char scope[48] = "";
    if (quiet_only) snprintf(scope, sizeof scope, " (quiet rows, oth <= %.2f)", NOISY_CORES);
    double train_min = 0, infer_max = 0, infer_q[MAX_ROWS];
    int n_train = 0, n_infer = 0, infer_met = 0;
    const char *train_worst = "", *infer_worst = "";
    for (int i = 0; i < count; i++) {
        const bench_row *r = &rows[i];
        if (quiet_only && r->others > NOISY_CORES) continue;
        double q = row_ratio(r);
        if (q <= 0) continue;
        if (r->training) {
            if (n_train == 0 || q < train_min) train_min = q, train_worst = r->name;
            n_train++;
        } else {
            if (n_infer == 0 || q > infer_max) infer_max = q, infer_worst = r->name;
            infer_met += q <= INFER_TARGET;
            infer_q[n_infer++] = q;
        }
    }
    if (n_train)
        printf("training%s: gos/torch throughput min %.2f over %d models (target >= %.1f): %s "
               "(worst: %s)\n", scope, train_min, n_train, TRAIN_TARGET,
               train_min >= TRAIN_TARGET ? "met" : "NOT met", train_worst);
    if (n_infer) {
        double median = median_of(infer_q, n_infer);
        printf("inference%s: gos/torch latency max %.2f over %d rows (target <= %.1f): %s; "
               "median %.2f, %d of %d rows within target (worst: %s)\n", scope, infer_max,
               n_infer, INFER_TARGET, infer_max <= INFER_TARGET ? "met" : "NOT met", median,
               infer_met, n_infer, infer_worst);
    }
    if (!n_train && !n_infer)
        printf("summary%s: no row has both gos and torch figures\n", scope);
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int use_torch = 1, list_only = 0;
    double budget = 1.0;
    const char *filter = NULL, *torch_script = "scripts/bench-models-torch.py";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--time") && i + 1 < argc) budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--torch-script") && i + 1 < argc) torch_script = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
        else if (!strcmp(argv[i], "--list")) list_only = 1;
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else {
            fprintf(stderr, "usage: bench_models [--time SECONDS] [--filter SUBSTR] [--no-torch] "
                            "[--torch-script PATH] [--list] [--verbose]\n");
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
    torch_peer torch = {0};
    if (use_torch) torch_start(&torch, torch_script);

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
            } else if (torch.to) {
                torch_load(&torch, r);
            }
        }
        if (!have_graph) {
            r->failed = 1;
            print_row(r);
            continue;
        }
        r->gflops = ig_graph_flops(m.g) / 1e9;
        measure_row(r, &m, &torch, budget);
        if (r->others > NOISY_CORES && retries < MAX_RETRIES && r->seconds < RETRY_BELOW &&
            now_seconds() - started < RETRY_UNTIL) {
            retries++;
            sleep(1); /* let a neighbour's burst pass */
            measure_row(r, &m, &torch, budget);
        }
        print_row(r);
        if (r->training && !isfinite(m.g->loss))
            printf("WARNING: %s: the training loss became %g (timings of non-finite values may "
                   "not be representative)\n", r->name, (double)m.g->loss);
    }
    if (have_graph) gos_close(&m);
    torch_stop(&torch);

    printf("\nNOISY rows re-measured: %d times (at most %d per run); total %.0f s\n", retries,
           MAX_RETRIES, now_seconds() - started);
    int noisy = 0;
    for (int i = 0; i < count; i++) noisy += rows[i].others > NOISY_CORES;
    print_summary(rows, count, 0);
    if (noisy && noisy < count) print_summary(rows, count, 1);
    return 0;
}
