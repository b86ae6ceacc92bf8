/* tests/t_grad_vectors.c: the gradient reference agrees bit for bit with the mpmath gradient oracle.
 *
 * Two oracles (STYLE 6): vectors/gen_grad.py computes every element of the gradient of SPEC A8 with
 * mpmath (enclosures, exact rationals for the exact rows) and its own rounding, sharing no code
 * with reference/. This test reads every vectors/corpus_grad/NAME.txt (vectors/FORMAT.md, `grad R`
 * blocks; the reader: core/vectors.c) and, for each case and each of its reductions, requires:
 *   - lp_grad_compute (fast path, then again with opt.slow = 1, the MPFR path alone): every row
 *     (b, t) of [B, T] delivered once, in row-major order, and every element's f64, f32, f16 and
 *     bf16 bits equal to the oracle's (signed zeros and the canonical NaN included), dd.hi equal
 *     to the f64 bits, dd.lo equal to the oracle's RN(x - hi) bit for bit (the canonical dd that
 *     lp_value promises; +0 at an exact zero; a NaN where hi is NaN, +-0 where hi is infinite);
 *   - lp_grad_row on every counted row (divisor 1, n_b or sum_b n_b as the reduction says): the
 *     same bits;
 *   - the logp lines of the case (t/u/s/m) through lp_ref_compute, as t_vectors does, so that the
 *     forward and backward references are checked on the same rows.
 * A failure prints the file, the case, the reduction, b, t, i, want and got in hex and decimal,
 * and the row (label, temperature, divisor, logits in hex): lp_grad_row on that row reproduces it.
 * Level 2 (LPCERT_LEVEL=2) also generates the large-vocabulary cases (V = 4096, 32000) with
 * `python3 vectors/gen_grad.py --large DIR` and checks them. Arguments, if any, name the folders or
 * files to check instead of vectors/corpus_grad.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_core.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lp_vectors.h"
#include "lpcert.h"
#include "lpt.h"

#define CORPUS_DIR "vectors/corpus_grad"

static int64_t tot_files, tot_cases, tot_blocks, tot_elements, tot_rowcalls, tot_sampled;
static const char *cur_file;

/* ---- the reproducer ------------------------------------------------------------------------ */

static const char *red_name(lp_reduction r)
{
    static const char *const n[] = {"token", "sum", "mean", "token_mean"};
    return (unsigned)r < 4 ? n[r] : "?";
}

/* The label, divisor and logits of row (b, t) in hex: what lp_grad_row needs to reproduce it. */
static void note_row(const lp_vcase *vc, int64_t b, int64_t t, int64_t label, int64_t divisor)
{
    const lp_problem *pb = &vc->c.pb;
    const int64_t V = pb->shape.V;
    const int bytes = lp_format_get(pb->fmt)->bytes;
    char buf[1024];
    size_t n = 0;
    for (int64_t i = 0; i < V && n + 24 < sizeof buf; i++) {
        uint64_t u = 0;
        memcpy(&u, (const char *)pb->logits + (size_t)((b * pb->shape.T + t) * V + i) * (size_t)bytes,
               (size_t)bytes);
        n += (size_t)snprintf(buf + n, sizeof buf - n, " %0*llx", 2 * bytes, (unsigned long long)u);
    }
    lpt_note("reproduce: lp_grad_row(fmt=%s, V=%lld, label=%lld, temperature=%a, divisor=%lld) "
             "on row (b=%lld, t=%lld) of %s case %s (line %lld):%s%s", lp_format_name(pb->fmt),
             (long long)V, (long long)label, pb->temperature, (long long)divisor, (long long)b,
             (long long)t, cur_file, vc->c.name, (long long)vc->line, buf,
             n + 24 >= sizeof buf ? " ..." : "");
}

/* ---- one element ----------------------------------------------------------------------------- */

static double wide(lp_format f, uint64_t bits)
{
    switch (f) {
    case LP_F64: return lp_f64_bits(bits);
    case LP_F32: return (double)lp_f32_bits((uint32_t)bits);
    case LP_F16: return lp_f16_to_f64((uint16_t)bits);
    default: return lp_bf16_to_f64((uint16_t)bits);
    }
}

/* 0 when got equals want in every format (and the dd as the header says), else the first output
 * that differs: 1 f64, 2 f32, 3 f16, 4 bf16, 5 the dd; *wb, *gb its bits. */
static int compare(const lp_value *want, const lp_value *got, uint64_t *wb, uint64_t *gb)
{
    const uint64_t w[4] = {lp_bits_f64(want->f64), lp_bits_f32(want->f32), want->f16, want->bf16};
    const uint64_t g[4] = {lp_bits_f64(got->f64), lp_bits_f32(got->f32), got->f16, got->bf16};
    for (int k = 0; k < 4; k++) {
        if (w[k] != g[k]) {
            *wb = w[k];
            *gb = g[k];
            return 1 + k;
        }
    }
    const double hi = want->f64, wlo = want->dd.lo, glo = got->dd.lo;
    int ok;
    if (lp_bits_f64(got->dd.hi) != w[0]) ok = 0;
    else if (isnan(hi)) ok = isnan(glo);
    else if (isinf(hi)) ok = glo == 0.0;
    else ok = lp_bits_f64(glo) == lp_bits_f64(wlo);
    if (!ok) {
        *wb = lp_bits_f64(wlo);
        *gb = lp_bits_f64(glo);
        return 5;
    }
    return 0;
}

static void fail_element(const lp_vcase *vc, const char *route, lp_reduction red, int64_t b,
                         int64_t t, int64_t i, int what, uint64_t wb, uint64_t gb, int64_t label,
                         int64_t divisor)
{
    static const lp_format order[4] = {LP_F64, LP_F32, LP_F16, LP_BF16};
    const lp_format f = what == 5 ? LP_F64 : order[what - 1];
    const char *o = what == 5 ? "dd (hi, lo)" : lp_format_name(f);
    const int w = what == 5 ? 16 : 2 * lp_format_get(f)->bytes;
    const double wv = what == 5 ? lp_f64_bits(wb) : wide(f, wb);
    const double gv = what == 5 ? lp_f64_bits(gb) : wide(f, gb);
    if (!lpt_check(0, "%s case=%s %s grad %s b=%lld t=%lld i=%lld %s want 0x%0*llx (%.17g) got "
                   "0x%0*llx (%.17g)", cur_file, vc->c.name, route, red_name(red), (long long)b,
                   (long long)t, (long long)i, o, w, (unsigned long long)wb, wv, w,
                   (unsigned long long)gb, gv))
        note_row(vc, b, t, label, divisor);
}

/* ---- lp_grad_compute through a sink ----------------------------------------------------------- */

typedef struct sink_state {
    const lp_vcase *vc;
    const struct lp_vgrad *want;
    const char *route;
    int64_t next;               /* the row expected next: b * T + t */
    int64_t bad_rows;
    const int64_t *label_of;    /* [B*T]: the scored label, or INT64_MIN */
    const int64_t *div_of;      /* [B*T]: the divisor of the row */
} sink_state;

static int sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    (void)err;
    sink_state *s = user;
    const lp_problem *pb = &s->vc->c.pb;
    const int64_t r = b * pb->shape.T + t;
    if (!lpt_check(r == s->next && V == pb->shape.V && b >= 0 && t >= 0 && t < pb->shape.T,
                   "%s case=%s %s grad %s: row (b=%lld, t=%lld, V=%lld) delivered, want row "
                   "%lld (V=%lld)", cur_file, s->vc->c.name, s->route, red_name(s->want->red),
                   (long long)b, (long long)t, (long long)V, (long long)s->next,
                   (long long)pb->shape.V)) {
        s->bad_rows++;
        return s->bad_rows > 3;
    }
    s->next++;
    const lp_value *w = s->want->g + r * V;
    for (int64_t i = 0; i < V; i++) {
        uint64_t wb, gb;
        int what = compare(&w[i], &g[i], &wb, &gb);
        tot_elements++;
        if (what)
            fail_element(s->vc, s->route, s->want->red, b, t, i, what, wb, gb, s->label_of[r],
                         s->div_of[r]);
        else
            lpt_check(1, "%s", "");
    }
    return 0;
}

/* ---- one case ---------------------------------------------------------------------------------- */

static int64_t label_at(const lp_problem *pb, int64_t b, int64_t tl)
{
    const int64_t i = b * pb->shape.T + tl;
    return pb->label_type == LP_I32 ? ((const int32_t *)pb->labels)[i]
                                    : ((const int64_t *)pb->labels)[i];
}

/* The logp lines of the case through lp_ref_compute (as t_vectors; a shorter report). */
static void check_logp(const lp_vcase *vc)
{
    const lp_problem *pb = &vc->c.pb;
    lp_ref_result res;
    lp_error err = {LP_OK, ""};
    memset(&res, 0, sizeof res);
    lp_status st = lp_ref_compute(&res, pb, &err);
    if (!lpt_check(st == LP_OK, "%s case=%s: lp_ref_compute: %s: %s", cur_file, vc->c.name,
                   lp_status_name(st), err.msg)) {
        lp_ref_result_free(&res);
        return;
    }
    const lp_ref_result *w = &vc->want;
    for (int64_t i = 0; i < w->B * w->Ts; i++) {
        uint64_t wb, gb;
        if (!lpt_check(res.counted[i] == w->counted[i], "%s case=%s logp %lld counted", cur_file,
                       vc->c.name, (long long)i))
            continue;
        if (!w->counted[i]) continue;
        int what = compare(&w->logp[i], &res.logp[i], &wb, &gb);
        lpt_check(what == 0, "%s case=%s logp token %lld output %d want 0x%llx got 0x%llx",
                  cur_file, vc->c.name, (long long)i, what, (unsigned long long)wb,
                  (unsigned long long)gb);
    }
    for (int64_t b = 0; b < w->B; b++) {
        uint64_t wb, gb;
        int what = compare(&w->sum[b], &res.sum[b], &wb, &gb);
        lpt_check(what == 0 && res.count[b] == w->count[b], "%s case=%s sum b=%lld output %d",
                  cur_file, vc->c.name, (long long)b, what);
        what = compare(&w->mean[b], &res.mean[b], &wb, &gb);
        lpt_check(what == 0, "%s case=%s mean b=%lld output %d", cur_file, vc->c.name,
                  (long long)b, what);
    }
    uint64_t wb, gb;
    int what = compare(&w->token_mean, &res.token_mean, &wb, &gb);
    lpt_check(what == 0, "%s case=%s token_mean output %d", cur_file, vc->c.name, what);
    lp_ref_result_free(&res);
}

static void run_case(const lp_vcase *vc)
{
    const lp_problem *pb = &vc->c.pb;
    const lp_shape s = pb->shape;
    const int64_t BT = s.B * s.T;
    tot_cases++;
    check_logp(vc);
    lpt_check(vc->ngrad > 0, "%s case=%s: no grad block", cur_file, vc->c.name);

    /* labels and counts of the scored rows (SPEC A1) */
    int64_t *label_of = malloc((size_t)BT * sizeof *label_of);
    int64_t *div_of = malloc((size_t)BT * sizeof *div_of);
    int64_t *nb = calloc((size_t)s.B, sizeof *nb);
    LP_ASSERT(label_of && div_of && nb);
    const int next = pb->shift == LP_SHIFT_NEXT;
    int64_t total = 0;
    for (int64_t b = 0; b < s.B; b++) {
        for (int64_t t = 0; t < s.T; t++) {
            const int64_t tl = t + next;
            label_of[b * s.T + t] = INT64_MIN;
            if (tl >= s.T) continue;
            const int64_t y = label_at(pb, b, tl);
            const int m = pb->mask ? pb->mask[b * s.T + tl] : 1;
            if (y == pb->ignore_index || !m) continue;
            label_of[b * s.T + t] = y;
            nb[b]++;
            total++;
        }
    }
    const size_t bytes = (size_t)lp_format_get(pb->fmt)->bytes;
    lp_value *row = malloc((size_t)s.V * sizeof *row);
    LP_ASSERT(row);
    const lp_sampling *sp = &pb->sampling;
    if (sp->softcap != 0 || sp->top_k != 0 || sp->top_p != 0 || sp->min_p != 0)
        tot_sampled++; /* SPEC A8 over A7's processed rows: required bit for bit like the others */
    for (int k = 0; k < vc->ngrad; k++) {
        const struct lp_vgrad *want = &vc->grad[k];
        tot_blocks++;
        for (int64_t r = 0; r < BT; r++) {
            const int64_t b = r / s.T;
            div_of[r] = want->red == LP_RED_MEAN ? nb[b]
                        : want->red == LP_RED_TOKEN_MEAN ? total : 1;
        }
        for (int slow = 0; slow <= 1; slow++) {
            lp_ref_options opt = LP_REF_OPTIONS_INIT;
            opt.slow = slow;
            opt.threads = 1 + slow;
            sink_state st = {vc, want, slow ? "lp_grad_compute(slow)" : "lp_grad_compute", 0, 0,
                             label_of, div_of};
            lp_grad_stats stats;
            lp_error err = {LP_OK, ""};
            memset(&stats, 0, sizeof stats);
            lp_status rc = lp_grad_compute(pb, want->red, &opt, sink, &st, &stats, &err);
            lpt_check(rc == LP_OK, "%s case=%s %s grad %s: %s: %s", cur_file, vc->c.name,
                      st.route, red_name(want->red), lp_status_name(rc), err.msg);
            lpt_check(rc != LP_OK || st.next == BT, "%s case=%s %s grad %s: %lld rows delivered, "
                      "want %lld", cur_file, vc->c.name, st.route, red_name(want->red),
                      (long long)st.next, (long long)BT);
            lpt_check(rc != LP_OK || stats.rows == BT, "%s case=%s %s: stats.rows %lld want %lld",
                      cur_file, vc->c.name, st.route, (long long)stats.rows, (long long)BT);
        }
        /* lp_grad_row on every counted row */
        for (int64_t r = 0; r < BT; r++) {
            if (label_of[r] == INT64_MIN) continue;
            const int64_t b = r / s.T, t = r % s.T;
            lp_error err = {LP_OK, ""};
            const void *x = (const char *)pb->logits + (size_t)r * (size_t)s.V * bytes;
            lp_status rc = lp_grad_row(row, x, pb->fmt, s.V, label_of[r], pb->temperature,
                                       &pb->sampling, div_of[r], &err);
            tot_rowcalls++;
            if (!lpt_check(rc == LP_OK, "%s case=%s lp_grad_row b=%lld t=%lld: %s: %s", cur_file,
                           vc->c.name, (long long)b, (long long)t, lp_status_name(rc), err.msg))
                continue;
            for (int64_t i = 0; i < s.V; i++) {
                uint64_t wb, gb;
                int what = compare(&want->g[r * s.V + i], &row[i], &wb, &gb);
                if (what)
                    fail_element(vc, "lp_grad_row", want->red, b, t, i, what, wb, gb,
                                 label_of[r], div_of[r]);
                else
                    lpt_check(1, "%s", "");
            }
        }
    }
    free(row);
    free(label_of);
    free(div_of);
    free(nb);
}

/* ---- files ------------------------------------------------------------------------------------- */

/* One case of a vector file (lpt_each_vectors_case reads them). */
static void on_case(const char *file, lp_vcase *c)
{
    cur_file = file;
    run_case(c);
}

static void check_path(const char *path)
{
    tot_files += lpt_each_vectors_case(path, on_case);
}

/* Level 2: the large-vocabulary cases (V = 4096, 32000), generated now by the oracle (about a
 * minute; not committed). */
static void check_large(void)
{
    char dir[] = "/tmp/lpcert_grad_vectors_XXXXXX";
    if (!lpt_check(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno))) return;
    char cmd[256], file[128];
    snprintf(cmd, sizeof cmd, "python3 vectors/gen_grad.py --large %s", dir);
    snprintf(file, sizeof file, "%s/large.txt", dir);
    printf("t_grad_vectors: level 2: %s\n", cmd);
    int rc = system(cmd);
    if (lpt_check(rc == 0, "'%s' failed (status %d): python3 with mpmath is needed", cmd, rc))
        check_path(file);
    remove(file);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    lpt_begin("t_grad_vectors");
    if (argc > 1) {
        for (int i = 1; i < argc; i++) check_path(argv[i]);
    } else {
        check_path(CORPUS_DIR);
        if (lpt_level() >= 2) check_large();
        else printf("t_grad_vectors: large-V cases skipped (LPCERT_LEVEL=2 generates and checks "
                    "them)\n");
    }
    printf("t_grad_vectors: %lld files, %lld cases, %lld gradient blocks, %lld elements compared "
           "through lp_grad_compute (fast and slow), %lld lp_grad_row calls\n",
           (long long)tot_files, (long long)tot_cases, (long long)tot_blocks,
           (long long)tot_elements, (long long)tot_rowcalls);
    printf("t_grad_vectors: %lld of the cases with sampling parameters (SPEC A7), every one "
           "checked\n", (long long)tot_sampled);
    return lpt_end();
}
