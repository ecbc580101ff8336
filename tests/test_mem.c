/* test_mem.c: pl_mem's allocation (pipeline/core/pl_mem.c): every block is
 * 64-byte aligned; calloc'd memory is zero even when the block is a reused
 * one; a big block (1 MB and up) freed by a thread is handed back to its next
 * request of the same size class, not to one more than twice smaller; and
 * the point of it: a loop of threads allocating, filling and freeing 40 MB
 * blocks (as the search does with each candidate's whole-model graph) maps
 * fresh pages on its first blocks only, measured with the process's minor
 * page faults. Under AddressSanitizer, which must see every free, blocks are
 * not kept and only the alignment and zeroing are checked. */
#include "check.h"
#include "pl_mem.h"

#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void test_alignment_and_zero(void)
{
    const size_t sizes[] = {0, 1, 63, 4097, (1 << 20) + 1, 5u << 20};
    int aligned = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = pl_xmalloc(sizes[i]);
        aligned &= ((uintptr_t)p & 63) == 0;
        pl_free(p);
    }
    CHECK(aligned, "every block is 64-byte aligned");
    const size_t n = 3u << 20;
    unsigned char *dirty = pl_xmalloc(n);
    memset(dirty, 0xff, n);
    pl_free(dirty);
    unsigned char *z = pl_xcalloc(n, 1);
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += z[i] != 0;
    CHECK(nonzero == 0, "calloc'd memory is zero on a reused block (%zu bytes not)", nonzero);
    pl_free(z);
    pl_free(NULL);
}

#if !defined(__SANITIZE_ADDRESS__)
static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static void test_reuse(void)
{
    void *p = pl_xmalloc(3000000);
    pl_free(p);
    void *q = pl_xmalloc(3100000);
    CHECK(q == p, "a freed 3 MB block serves the next request of its size class");
    pl_free(q);
    void *big = pl_xmalloc(9u << 20);
    pl_free(big);
    void *small = pl_xmalloc(2u << 20);
    CHECK(small != big, "a 9 MB block is not handed to a 2 MB request");
    pl_free(small);
}

/* Two threads, each allocating, filling and freeing 40 MB blocks of
 * slightly varying size 12 times. */
static void test_fresh_pages(void)
{
    enum { ROUNDS = 12, MB = 40 };
    const long page = sysconf(_SC_PAGESIZE);
    long faults = minor_faults();
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int i = 0; i < 2 * ROUNDS; i++) {
        const size_t n = ((size_t)MB << 20) + (size_t)(i % 3) * 100000;
        unsigned char *p = pl_xmalloc(n);
        memset(p, i, n);
        pl_free(p);
    }
    faults = minor_faults() - faults;
    const long pages_filled = 2L * ROUNDS * ((long)MB << 20) / page;
    /* the first block of each thread is fresh: 2 of 24 fills */
    CHECK(faults < pages_filled / 4, "filling %ld pages of reused blocks took %ld page faults "
          "(fresh pages: %ld)", pages_filled, faults, pages_filled);
}
#endif

int main(void)
{
    test_alignment_and_zero();
#if !defined(__SANITIZE_ADDRESS__)
    test_reuse();
    test_fresh_pages();
#endif
    return check_summary("test_mem");
}
