/* tests/t_mapguard.c: a mapped input that changes underneath (core/lp_mapguard.h, lp_tfile_verify).
 *
 * A logits file is mapped (lp_tfile_open), then truncated by ftruncate while mapped (what another
 * process truncating it does to the mapping), and the exact reference runs over it on several
 * threads (lp_ref_compute_mapped, `lpcert ref`'s path): with the guard installed the run ends,
 * the guard reports the caught faults and lp_tfile_verify gives one line naming the file. A file
 * that lost only part of its last page (no fault), or that was rewritten in place (same size), is
 * reported too. A SIGBUS that is not a fault in a registered mapping still kills (children). */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lp_mapguard.h"
#include "lp_problem.h"
#include "lp_ref_mapped.h"
#include "lp_tensor.h"
#include "lpt.h"

enum { B = 4, T = 256, V = 1024 };   /* 4 MiB of f32 logits */

static int one_line(const char *s) { return s[0] && strchr(s, '\n') == NULL; }

/* Writes the logits file; 1 on success. */
static int write_logits(const char *path, const float *logits)
{
    lp_error err = {LP_OK, ""};
    lp_twriter *w = NULL;
    const int64_t dims[3] = {B, T, V};
    lp_status st = lp_twriter_new(&w, path, &err);
    if (st == LP_OK) st = lp_twriter_add(w, "logits", LP_DT_F32, 3, dims, logits, &err);
    if (st == LP_OK) st = lp_twriter_finish(w, &err);
    else lp_twriter_abort(w);
    return lpt_check(st == LP_OK, "write %s: %s", path, err.msg);
}

/* Maps path, applies change (0: none, 1: truncate into the data, 2: drop the last byte, 3: new
 * mtime), computes, verifies. */
static void run_case(const char *path, const float *logits, const int64_t *labels, int change)
{
    if (!write_logits(path, logits)) return;
    lp_error err = {LP_OK, ""};
    lp_tfile *f = NULL;
    lp_status st = lp_tfile_open(&f, path, &err);
    if (!lpt_check(st == LP_OK, "case %d: open: %s", change, err.msg)) return;
    const lp_tensor *t = lp_tfile_find(f, "logits");
    struct stat sb;
    stat(path, &sb);
    const off_t full = sb.st_size;
    int rc = 0;
    if (change == 1) rc = truncate(path, full / 4);           /* most of the logits gone */
    else if (change == 2) rc = truncate(path, full - 1);      /* the last page half there */
    else if (change == 3) {
        struct timespec ts[2] = {{0, UTIME_OMIT}, {sb.st_mtim.tv_sec + 7, 0}};
        rc = utimensat(AT_FDCWD, path, ts, 0);
    }
    lpt_check(rc == 0, "case %d: cannot change %s", change, path);
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){B, T, V};
    pb.fmt = LP_F32;
    pb.labels = labels;
    pb.logits = t->data;
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = 3;
    o.formats = (1u << LP_F64) | (1u << LP_F32);
    lp_ref_result r;
    memset(&r, 0, sizeof r);
    st = lp_ref_compute_mapped(&r, &pb, &o, f, &err);
    lpt_check(st == LP_OK, "case %d: the run on the changed mapping did not end: %s", change,
              err.msg);
    lp_ref_result_free(&r);
    lp_error ev = {LP_OK, ""};
    lp_status sv = lp_tfile_verify(f, &ev);
    if (change == 0) {
        lpt_check(sv == LP_OK, "case 0: an untouched file fails verify: %s", ev.msg);
    } else {
        lpt_check(sv == LP_ERR_IO && one_line(ev.msg) && strstr(ev.msg, path) &&
                      strstr(ev.msg, "changed while being read"),
                  "case %d (%s): verify gives status %d, '%s'", change,
                  change == 1 ? "truncated" : change == 2 ? "last byte dropped" : "new mtime",
                  (int)sv, ev.msg);
        if (change == 1)
            lpt_check(strstr(ev.msg, "reads past its end caught") != NULL,
                      "case 1: the guard caught no fault (file %lld -> %lld bytes): '%s'",
                      (long long)full, (long long)(full / 4), ev.msg);
    }
    lp_tfile_close(f);
    remove(path);
}

/* A child that must not survive: 1 if it died (signal or non-zero exit), as without the guard. */
static int child_dies(int how, const char *path)
{
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        if (how == 0) {
            kill(getpid(), SIGBUS);   /* sent, not a fault */
        } else {                      /* a fault in a mapping that is not registered */
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
            if (fd < 0 || ftruncate(fd, 1 << 16) != 0) _exit(3);
            volatile const unsigned char *m = mmap(NULL, 1 << 16, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED || ftruncate(fd, 0) != 0) _exit(3);
            (void)m[1 << 15];
        }
        _exit(0);
    }
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid) return 0;
    return !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 3);
}

int main(void)
{
    lpt_begin("mapguard");
    lp_error err = {LP_OK, ""};
    lpt_check(lp_mapguard_install(&err) == LP_OK && lp_mapguard_installed(), "install: %s",
              err.msg);
    lpt_check(lp_mapguard_install(&err) == LP_OK, "a second install fails: %s", err.msg);
    float *logits = malloc(sizeof *logits * B * T * V);
    int64_t *labels = malloc(sizeof *labels * B * T);
    char dir[] = "/tmp/t_mapguard_XXXXXX";
    if (!lpt_check(logits && labels && mkdtemp(dir), "no memory or temporary directory")) {
        free(logits);
        free(labels);
        return lpt_end();
    }
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed() ^ 0x6d67u);
    for (int i = 0; i < B * T * V; i++) logits[i] = (float)(lpt_rng_normal(&rng) * 3);
    for (int i = 0; i < B * T; i++) labels[i] = (int64_t)(lpt_rng_next(&rng) % V);
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/logits.safetensors", dir);
    for (int change = 0; change <= 3; change++) run_case(path, logits, labels, change);
    /* a parsed buffer is never "changed" */
    lp_tfile *g = NULL;
    unsigned char hdr[] = "\x02\0\0\0\0\0\0\0{}";
    if (lpt_check(lp_tfile_parse(&g, hdr, 10, "buf", &err) == LP_OK, "parse: %s", err.msg))
        lpt_check(lp_tfile_verify(g, &err) == LP_OK && lp_tfile_verify(NULL, &err) == LP_OK,
                  "verify of a buffer or NULL: %s", err.msg);
    lp_tfile_close(g);
    snprintf(path, sizeof path, "%s/raw", dir);
    lpt_check(child_dies(0, path), "a SIGBUS sent by kill did not kill the child");
    lpt_check(child_dies(1, path), "a fault in an unregistered mapping did not kill the child");
    remove(path);
    rmdir(dir);
    free(logits);
    free(labels);
    return lpt_end();
}
