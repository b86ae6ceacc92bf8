/* tests/lpt.c: the test kit (see lpt.h). */
#include "lpt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lp_file.h"
#include "lp_vectors.h"

static const char *test_name = "?";
static uint64_t seed = 0x5eed0001u;
static int64_t n_checks, n_fail;
static mpfr_exp_t emin0, emax0;
static mpfr_flags_t flags0;

void lpt_begin(const char *name)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    test_name = name;
    const char *s = getenv("LPCERT_SEED");
    if (s && strcmp(s, "random") == 0) {
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(&seed, sizeof seed, 1, f) != 1) seed = 0x5eed0002u;
        if (f) fclose(f);
    } else if (s && *s) {
        seed = strtoull(s, NULL, 0);
    }
    emin0 = mpfr_get_emin();
    emax0 = mpfr_get_emax();
    flags0 = mpfr_flags_save();
    printf("%s: seed 0x%llx level %d\n", name, (unsigned long long)seed, lpt_level());
}

uint64_t lpt_seed(void) { return seed; }

int lpt_level(void)
{
    const char *s = getenv("LPCERT_LEVEL");
    return s && *s ? atoi(s) : 1;
}

int64_t lpt_failures(void) { return n_fail; }

int lpt_check(int ok, const char *fmt, ...)
{
    n_checks++;
    if (ok) return 1;
    n_fail++;
    if (n_fail <= 20) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL %s ", test_name);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
    return 0;
}

void lpt_note(const char *fmt, ...)
{
    if (n_fail > 20) return;
    va_list ap;
    va_start(ap, fmt);
    printf("  ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int lpt_end(void)
{
    int leak = mpfr_get_emin() != emin0 || mpfr_get_emax() != emax0 ||
               mpfr_flags_save() != flags0;
    if (leak) {
        n_fail++;
        printf("FAIL %s MPFR global state leaked: emin %ld->%ld emax %ld->%ld flags %x->%x\n",
               test_name, (long)emin0, (long)mpfr_get_emin(), (long)emax0, (long)mpfr_get_emax(),
               (unsigned)flags0, (unsigned)mpfr_flags_save());
    }
    printf("%s: %lld checks, %lld failure%s (seed 0x%llx, level %d)\n", test_name,
           (long long)n_checks, (long long)n_fail, n_fail == 1 ? "" : "s",
           (unsigned long long)seed, lpt_level());
    return n_fail ? 1 : 0;
}

int64_t lpt_each_corpus_file(void (*fn)(const char *path, int64_t *ncases), int64_t *ncases)
{
    char **names = NULL;
    size_t nfiles = 0;
    if (lp_dir_list(&names, &nfiles, "vectors/corpus", ".txt", NULL) != LP_OK) return 0;
    for (size_t i = 0; i < nfiles; i++) {
        char path[512];
        snprintf(path, sizeof path, "vectors/corpus/%s", names[i]);
        fn(path, ncases);
    }
    lp_dir_list_free(names, nfiles);
    return (int64_t)nfiles;
}

static int64_t each_in_file(const char *path, void (*fn)(const char *file, struct lp_vcase *c))
{
    lp_vreader *r = NULL;
    lp_error err = {LP_OK, ""};
    lp_status s = lp_vectors_open(&r, path, &err);
    if (!lpt_check(s == LP_OK, "%s", err.msg)) return 0;
    lp_vcase c;
    int got = 0;
    while ((s = lp_vectors_next(r, &c, &got, &err)) == LP_OK && got) {
        fn(path, &c);
        lp_vcase_free(&c);
    }
    lpt_check(s == LP_OK, "%s", err.msg);
    lp_vectors_close(r);
    return 1;
}

int64_t lpt_each_vectors_case(const char *path, void (*fn)(const char *file, struct lp_vcase *c))
{
    struct stat sb;
    const int found = stat(path, &sb) == 0;   /* before strerror(errno) is evaluated */
    if (!lpt_check(found, "%s: %s (run from the project root)", path, strerror(errno))) return 0;
    if (!S_ISDIR(sb.st_mode)) return each_in_file(path, fn);
    char **names;
    size_t n;
    lp_status st = lp_dir_list(&names, &n, path, ".txt", NULL);
    LP_ASSERT(st != LP_ERR_NOMEM);
    if (!lpt_check(st == LP_OK, "%s: opendir: %s", path, strerror(errno))) return 0;
    lpt_check(n > 0, "%s: no *.txt vector files", path);
    int64_t files = 0;
    for (size_t i = 0; i < n; i++) {
        size_t need = strlen(path) + strlen(names[i]) + 2;
        char *file = malloc(need);
        LP_ASSERT(file != NULL);
        snprintf(file, need, "%s/%s", path, names[i]);
        files += each_in_file(file, fn);
        free(file);
    }
    lp_dir_list_free(names, n);
    return files;
}
