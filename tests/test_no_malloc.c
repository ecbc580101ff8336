/* test_no_malloc.c: in a training step of a real model (the convnet at half
 * width, batch 32: forward, zero, backward, SGD update), after the graph is
 * planned, the project's code calls no allocator function, with one thread
 * and with two. Every malloc, calloc, realloc and aligned allocation
 * of the process is interposed here and attributed by its caller's address:
 * the project's code is linked into this executable, the runtime libraries
 * are not. The libraries' own calls are printed, not failed: libgomp
 * allocates a team for every one-thread parallel region, and OpenBLAS's
 * OpenMP build allocates per-call thread buffers inside sgemm (glibc reuses
 * that memory: see pl_mem_keep_freed_memory). Under AddressSanitizer, which
 * owns the allocator, only the steps are run. */
#include "check.h"
#include "ig.h"
#include "models.h"
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_threads.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#else
#define COUNTING 1
static long project_calls, library_calls;
static int counting;
extern char __executable_start, etext; /* this program's code, the project's included */

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void __libc_free(void *);

#define COUNT() count_call(__builtin_return_address(0))
static void count_call(const void *caller)
{
    if (!counting) return;
    const char *c = caller;
    int ours = c >= &__executable_start && c < &etext;
    __atomic_add_fetch(ours ? &project_calls : &library_calls, 1, __ATOMIC_RELAXED);
}
void *malloc(size_t n) { COUNT(); return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { COUNT(); return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { COUNT(); return __libc_realloc(p, n); }
/* free is not counted: a library may tail-call it (libgomp frees a team on
 * its way back into the caller), which would blame the caller; a per-step
 * allocation shows up in the allocating calls anyway. */
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n);
void *memalign(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n)
{
    COUNT();
    *out = __libc_memalign(a, n);
    return *out ? 0 : 12; /* ENOMEM */
}
#endif

/* Runs `steps` training steps after two warm-up steps; returns the
 * project's allocator calls during the counted steps and writes the
 * libraries' to *library (0 when not counting). */
static long count_steps(int threads, int steps, long *library)
{
    pl_threads_set(threads);
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.name = "convnet", .in_c = 1, .in_h = 28, .in_w = 28, .classes = 10,
                       .width = 0.5f, .dropout = 0.2f};
    model_nodes nodes;
    int rc = model_build(g, &spec, &nodes);
    int loss = rc == PL_OK ? ig_softmax_xent(g, nodes.logits) : rc;
    CHECK(loss >= 0 && ig_graph_finalize(g) == PL_OK, "build: %s", pl_last_error());
    ig_graph_init_params(g, 1);
    const int N = 32;
    CHECK(ig_graph_plan(g, N) == PL_OK && ig_set_training(g, 1) == PL_OK, "plan");
    float *x = ig_value(g, nodes.input);
    for (int i = 0; i < N * 28 * 28; i++) x[i] = (float)sin(i * 0.37);
    int32_t labels[32];
    for (int i = 0; i < N; i++) labels[i] = i % 10;
    opt_sgd sgd;
    opt_sgd_config cfg = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    CHECK(opt_sgd_init(&sgd, g, &cfg) == PL_OK, "sgd");
    long calls = 0;
    *library = 0;
    for (int s = 0; s < steps + 2; s++) {
#if COUNTING
        if (s == 2) {
            project_calls = library_calls = 0;
            counting = 1;
        }
#endif
        ig_forward(g, labels);
        ig_zero_grad(g);
        ig_backward(g, loss);
        opt_sgd_step(&sgd, g, 0.01f);
    }
#if COUNTING
    counting = 0;
    calls = project_calls;
    *library = library_calls;
#endif
    CHECK(isfinite(g->loss), "the steps ran (loss %g)", (double)g->loss);
    opt_sgd_destroy(&sgd);
    ig_graph_free(g);
    return calls;
}

int main(void)
{
    long lib_one, lib_two;
    long one = count_steps(1, 5, &lib_one);
    long two = count_steps(2, 5, &lib_two);
    if (COUNTING) {
        CHECK(one == 0, "5 training steps with one thread: the project's code made %ld "
              "allocator calls", one);
        CHECK(two == 0, "5 training steps with two threads: the project's code made %ld "
              "allocator calls", two);
    }
    printf("test_no_malloc: allocator calls in 5 steps from the runtime libraries (libgomp, "
           "OpenBLAS): %ld with 1 thread, %ld with 2%s\n", lib_one, lib_two,
           COUNTING ? "" : " [not counted under ASan]");
    return check_summary("test_no_malloc");
}
