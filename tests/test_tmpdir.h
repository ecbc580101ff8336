/* test_tmpdir.h: removing a test's temporary folder tree (header-only). */
#ifndef TEST_TMPDIR_H
#define TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int test_tmpdir_remove_entry(const char *path, const struct stat *st, int flag,
                                           struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything under it (without following symbolic links). */
static inline void remove_tree(const char *dir)
{
    nftw(dir, test_tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
