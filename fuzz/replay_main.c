/* fuzz/replay_main.c: feeds files to a harness's LLVMFuzzerTestOneInput without libFuzzer, so the
 * harnesses build with gcc and ctest replays the committed corpora (zstd regression_driver.c).
 *
 * Usage: fz_<target>_replay PATH...
 * A directory stands for its regular files (not recursive, dotfiles skipped), sorted by name so
 * runs are repeatable. Each file is read into a malloc'd buffer of exactly its size, so that ASan
 * reports any read past the input. The path is printed before the run: when a harness aborts, the
 * last line names the input. Exit status 0 when every input ran, 2 on a usage or I/O error. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lp_buf.h"
#include "lp_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Called once before the first input when the harness defines it, as libFuzzer does. */
#if defined(__GNUC__)
__attribute__((weak))
#endif
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: %s: cannot open: %s\n", path, strerror(errno));
        return 0;
    }
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;
    int oom = 0;
    for (;;) {
        if (!LP_VEC_RESERVE(buf, cap, n + 1, 4096)) {
            oom = 1;
            break;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int io_error = ferror(fp);
    fclose(fp);
    if (oom || io_error) {
        fprintf(stderr, "replay: %s: %s\n", path, oom ? "out of memory" : "read error");
        free(buf);
        return 0;
    }
    /* an exactly sized copy: ASan then sees a read of data[size] */
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return 0;
    }
    memcpy(exact, buf, n);
    free(buf);
    printf("replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 1;
}

/* Runs every regular file of dir; returns the number run, or -1 on error. */
static long run_dir(const char *dir)
{
    char **names;
    size_t n;
    lp_error err = {LP_OK, ""};
    if (lp_dir_list(&names, &n, dir, NULL, &err) != LP_OK) {
        fprintf(stderr, "replay: %s\n", err.msg);
        return -1;
    }
    long ran = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (!path) {
            fprintf(stderr, "replay: %s: out of memory\n", dir);
            ran = -1;
            break;
        }
        snprintf(path, len, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (!run_file(path)) ran = -1;
            else if (ran >= 0) ran++;
        }
        free(path);
    }
    lp_dir_list_free(names, n);
    return ran;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    long total = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
        } else if (S_ISDIR(sb.st_mode)) {
            long k = run_dir(argv[i]);
            if (k < 0) bad = 1;
            else total += k;
        } else if (run_file(argv[i])) {
            total++;
        } else {
            bad = 1;
        }
    }
    printf("replay: %ld inputs, no failure\n", total);
    return bad ? 2 : 0;
}
