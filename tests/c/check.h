/* A minimal test harness: CHECK records failures without stopping, and
 * check_done() prints the summary line and gives the exit status. Tests that
 * need ../shared call check_shared_dir(), which exits 77 (ctest: skipped)
 * with a clear message when it is absent. */
#ifndef LM_CHECK_H
#define LM_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) {                                                       \
            check_passed++;                                               \
        } else {                                                          \
            check_failed++;                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

static inline const char *check_shared_dir(void) {
    const char *dir = getenv("LM_SHARED_DIR");
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "SKIP: ../shared is absent (LM_SHARED_DIR=%s); this test needs its models and vocabularies\n",
                dir ? dir : "(unset)");
        exit(77);
    }
    return dir;
}

static inline int check_done(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
