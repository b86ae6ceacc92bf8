/* tests/t_vectors.c: the C reference agrees bit for bit with the mpmath oracle on every vector.
 *
 * Two oracles (STYLE 6): vectors/gen_vectors.py computes every expected value with mpmath and its
 * own rounding, sharing no code with reference/. This test reads every vectors/corpus/NAME.txt (the
 * format: vectors/FORMAT.md; the reader: core/vectors.c), runs lp_ref_compute on each case and requires:
 *   - per scored position: the counted flag; where counted, the f64, f32, f16 and bf16 results
 *     bit for bit, dd.hi equal to the f64 bits and dd.lo equal to the oracle's; where not
 *     counted, the canonical NaN in every format and a (NaN, NaN) double-double;
 *   - per sequence: the count, and the sum and mean as above; per batch: the count and the token
 *     mean.
 * The double-double is canonical (lpcert.h): lo = RN(x - hi), which is the oracle's lo, so it is
 * compared bit for bit too. An infinite hi needs lo == +0, a NaN hi a NaN lo.
 * Level 2 (LPCERT_LEVEL=2) also generates the large-vocabulary cases (V = 32000, 128256, 256000)
 * with `python3 vectors/gen_vectors.py --large DIR` and checks them. Arguments, if any, name the
 * folders or files to check instead of vectors/corpus.
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

#define CORPUS_DIR "vectors/corpus"

/* One expected value: the four roundings and the double-double's low part (hi is the f64). */
typedef struct want {
    uint64_t f64, lo;
    uint32_t f32;
    uint16_t f16, bf16;
} want;

static int64_t tot_files, tot_cases, tot_tokens, tot_counted, tot_seqs;

/* The expected value v of the reader as bit patterns. */
static want want_of(const lp_value *v)
{
    want w;
    w.f64 = lp_bits_f64(v->f64);
    w.f32 = lp_bits_f32(v->f32);
    w.f16 = v->f16;
    w.bf16 = v->bf16;
    w.lo = lp_bits_f64(v->dd.lo);
    return w;
}

/* ---- comparison ------------------------------------------------------------------------- */

static const char *cur_file;
static const lp_case *cur_case;

static void fail_u64(const char *where, const char *out, uint64_t want_bits, uint64_t got_bits)
{
    lpt_check(0, "%s case=%s %s %s want 0x%016llx (%.17g) got 0x%016llx (%.17g)", cur_file,
              cur_case->name, where, out, (unsigned long long)want_bits,
              lp_f64_bits(want_bits), (unsigned long long)got_bits, lp_f64_bits(got_bits));
}

static void check_bits(const char *where, const char *out, lp_format f, uint64_t want_bits,
                       uint64_t got_bits)
{
    if (want_bits == got_bits) {
        lpt_check(1, "%s", "");
        return;
    }
    double wv, gv;
    int w = 16;
    switch (f) {
    case LP_F64: fail_u64(where, out, want_bits, got_bits); return;
    case LP_F32:
        wv = (double)lp_f32_bits((uint32_t)want_bits);
        gv = (double)lp_f32_bits((uint32_t)got_bits);
        w = 8;
        break;
    case LP_F16:
        wv = lp_f16_to_f64((uint16_t)want_bits);
        gv = lp_f16_to_f64((uint16_t)got_bits);
        w = 4;
        break;
    default:
        wv = lp_bf16_to_f64((uint16_t)want_bits);
        gv = lp_bf16_to_f64((uint16_t)got_bits);
        w = 4;
        break;
    }
    lpt_check(0, "%s case=%s %s %s want 0x%0*llx (%.9g) got 0x%0*llx (%.9g)", cur_file,
              cur_case->name, where, out, w, (unsigned long long)want_bits, wv, w,
              (unsigned long long)got_bits, gv);
}

/* dd.hi must be the f64 bits; dd.lo the oracle's RN(x - hi), bit for bit (a NaN for a NaN hi). */
static void check_dd(const char *where, const char *out, const want *w, lp_dd got)
{
    char o[64];
    snprintf(o, sizeof o, "%s.dd.hi", out);
    check_bits(where, o, LP_F64, w->f64, lp_bits_f64(got.hi));
    double whi = lp_f64_bits(w->f64), wlo = lp_f64_bits(w->lo);
    int ok;
    if (isnan(whi)) ok = isnan(got.lo);
    else ok = lp_bits_f64(got.lo) == w->lo;
    if (!lpt_check(ok, "%s case=%s %s %s.dd.lo want %a (%.17g) got %a (%.17g) (hi %a)", cur_file,
                   cur_case->name, where, out, wlo, wlo, got.lo, got.lo, whi))
        lpt_note("want lo 0x%016llx got lo 0x%016llx", (unsigned long long)w->lo,
                 (unsigned long long)lp_bits_f64(got.lo));
}

static void check_value(const char *where, const char *out, const want *w, const lp_value *got)
{
    char o[64];
    snprintf(o, sizeof o, "%s.f64", out);
    check_bits(where, o, LP_F64, w->f64, lp_bits_f64(got->f64));
    snprintf(o, sizeof o, "%s.f32", out);
    check_bits(where, o, LP_F32, w->f32, lp_bits_f32(got->f32));
    snprintf(o, sizeof o, "%s.f16", out);
    check_bits(where, o, LP_F16, w->f16, got->f16);
    snprintf(o, sizeof o, "%s.bf16", out);
    check_bits(where, o, LP_BF16, w->bf16, got->bf16);
    check_dd(where, out, w, got->dd);
}

static const want want_nan = {0x7ff8000000000000u, 0x7ff8000000000000u, 0x7fc00000u, 0x7e00u,
                              0x7fc0u};

static void run_case(const lp_vcase *vc)
{
    const lp_case *c = &vc->c;
    const lp_ref_result *w = &vc->want;
    const int64_t B = c->pb.shape.B, Ts = w->Ts;
    lp_ref_result res;
    lp_error err;
    char where[96];

    cur_case = c;
    memset(&res, 0, sizeof res);
    memset(&err, 0, sizeof err);
    lp_status st = lp_ref_compute(&res, &c->pb, &err);
    tot_cases++;
    if (!lpt_check(st == LP_OK, "%s case=%s (line %lld): lp_ref_compute: %s: %s", cur_file,
                   c->name, (long long)vc->line, lp_status_name(st), err.msg)) {
        lp_ref_result_free(&res);
        return;
    }
    if (!lpt_check(res.B == B && res.Ts == Ts,
                   "%s case=%s result shape B=%lld Ts=%lld, want B=%lld Ts=%lld", cur_file,
                   c->name, (long long)res.B, (long long)res.Ts, (long long)B, (long long)Ts)) {
        lp_ref_result_free(&res);
        return;
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < Ts; t++) {
            int64_t i = b * Ts + t;
            snprintf(where, sizeof where, "b=%lld t=%lld", (long long)b, (long long)t);
            tot_tokens++;
            if (!lpt_check(res.counted[i] == w->counted[i], "%s case=%s %s counted want %d got %d",
                           cur_file, c->name, where, w->counted[i], res.counted[i]))
                continue;
            if (w->counted[i]) {
                tot_counted++;
                const want wt = want_of(&w->logp[i]);
                check_value(where, "logp", &wt, &res.logp[i]);
            } else {
                check_value(where, "logp(not counted: NaN)", &want_nan, &res.logp[i]);
            }
        }
    }
    for (int64_t b = 0; b < B; b++) {
        snprintf(where, sizeof where, "seq b=%lld", (long long)b);
        tot_seqs++;
        lpt_check(res.count[b] == w->count[b], "%s case=%s %s count want %lld got %lld",
                  cur_file, c->name, where, (long long)w->count[b], (long long)res.count[b]);
        const want ws = want_of(&w->sum[b]), wm = want_of(&w->mean[b]);
        check_value(where, "sum", &ws, &res.sum[b]);
        check_value(where, "mean", &wm, &res.mean[b]);
    }
    int64_t total = 0;
    for (int64_t b = 0; b < B; b++) total += res.count[b];
    lpt_check(total == vc->tm_count, "%s case=%s batch count (m line) want %lld got %lld", cur_file,
              c->name, (long long)vc->tm_count, (long long)total);
    const want wtm = want_of(&w->token_mean);
    check_value("batch", "token_mean", &wtm, &res.token_mean);
    lp_ref_result_free(&res);
}

/* ---- one file ------------------------------------------------------------------------------ */

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

/* Level 2: the large-vocabulary cases, generated now by the oracle (not committed). */
static void check_large(void)
{
    char dir[] = "/tmp/lpcert_vectors_XXXXXX";
    if (!lpt_check(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno))) return;
    char cmd[256], file[128];
    snprintf(cmd, sizeof cmd, "python3 vectors/gen_vectors.py --large %s", dir);
    snprintf(file, sizeof file, "%s/large.txt", dir);
    printf("t_vectors: level 2: %s\n", cmd);
    int rc = system(cmd);
    if (lpt_check(rc == 0, "'%s' failed (status %d): python3 with mpmath is needed", cmd, rc))
        check_path(file);
    remove(file);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    lpt_begin("t_vectors");
    if (argc > 1) {
        for (int i = 1; i < argc; i++) check_path(argv[i]);
    } else {
        check_path(CORPUS_DIR);
        if (lpt_level() >= 2) check_large();
        else printf("t_vectors: large-V cases skipped (LPCERT_LEVEL=2 generates and checks them)\n");
    }
    printf("t_vectors: %lld files, %lld cases, %lld scored tokens (%lld counted), %lld sequences\n",
           (long long)tot_files, (long long)tot_cases, (long long)tot_tokens,
           (long long)tot_counted, (long long)tot_seqs);
    return lpt_end();
}
