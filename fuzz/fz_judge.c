/* fz_judge.c: on any decoded problem and candidate, the enclosure-based judge (check/judge.c) writes
 * byte for byte the report and JSON of the all-MPFR judge (--slow).
 *
 * The candidate is made from the exact reference: every value correctly rounded to the candidate's
 * format, then moved a few representable steps, or made NaN or -inf, by a hash of its index and
 * the perturbation byte. Tail byte k11 chooses: bits 0-1 the candidate format (f32 f64 bf16 f16),
 * bit 2 sums and means too, bit 3 one case per run (the median settled in it, RULES (f)) or
 * several, bits 4-6 the bound (none, --max-ulp K, --max-abs E, both, the default bound with the
 * built-in baseline when built with impl/, --vs-baseline twopass_f32, K exactly the worst error
 * of the slow judge); k9 the perturbation seed, k10 K and E. A problem the reference rejects is
 * skipped (both judges see the same reference status). ck_judge_verify is set: every value's
 * interval (or exact measure) is also checked against the all-MPFR measure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz_decode.h"
#include "lp_check_internal.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_ref_judge.h"
#include "lpcert.h"

#define H "fz_judge"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* x (a value of format f) moved k steps of f: each step the spacing of f just beyond x. */
static double steps(double x, lp_format f, int k)
{
    const double dir = k < 0 ? -HUGE_VAL : HUGE_VAL;
    for (int i = 0; i < (k < 0 ? -k : k) && isfinite(x); i++) {
        const lp_dd beyond = {nextafter(x, dir), 0};
        x = lp_round_to(x + (k < 0 ? -1 : 1) * lp_ulp_of(beyond, f), f);
    }
    return x;
}

static double cand_value(const lp_value *v, lp_format f, uint64_t h)
{
    double y = lp_value_wide(v, f);
    switch (h % 16) {
    case 0: return (double)NAN;
    case 1: return -HUGE_VAL;
    case 2: case 3: case 4: return steps(y, f, (int)(h >> 8) % 7 - 3);
    case 5: return steps(y, f, (int)((h >> 8) % 2000) - 1000);
    default: return y;
    }
}

/* Where the JSON report goes for a moment: $TMPDIR, else /dev/shm (memory: ck_report_json's fsync
 * costs nothing there; on a disk it was most of an execution's time), else /tmp. */
static const char *temp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    struct stat sb;
    if (dir && *dir) return dir;
    return stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
}

/* Runs one judge; returns the report text and JSON (malloc'd). */
static void judge(char **text, char **json, const lp_fz_problem *p, const ck_options *o,
                  const lp_ref_result *ref, const lp_ref_enc *enc, int one_case,
                  const ck_outputs *cand)
{
    ck_run r;
    lp_error err = {LP_OK, ""};
    ck_run_init(&r, o, &err);
    r.renc = enc;
    r.one_case = one_case;
    unsigned fm[CK_NOUT] = {0, 0, 0};
    lp_status s = ck_judge(&r, "fz", "fz/case", &p->pb, ref, cand, fm, &err);
    LP_FZ_CHECK(s == LP_OK, H, p, "judge (%s): %s", enc ? "fast" : "slow", err.msg);
    r.renc = NULL;
    r.js.used = 0;   /* the counts differ by design */
    ck_header h;
    memset(&h, 0, sizeof h);
    h.command = "check";
    h.suite = "fz";
    h.candidate = "fz";
    size_t n;
    FILE *f = open_memstream(text, &n);
    ck_report_table(f, &r, &h);
    fclose(f);
    char path[512];
    snprintf(path, sizeof path, "%s/fz_judge_XXXXXX", temp_dir());
    int fd = mkstemp(path);
    LP_FZ_CHECK(fd >= 0, H, p, "mkstemp failed");
    close(fd);
    s = ck_report_json(path, &r, &h, &err);
    LP_FZ_CHECK(s == LP_OK, H, p, "json: %s", err.msg);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *json = calloc((size_t)len + 1, 1);
    LP_FZ_CHECK(*json && fread(*json, 1, (size_t)len, f) == (size_t)len, H, p, "json read");
    fclose(f);
    unlink(path);
    ck_run_free(&r);
}

static void first_diff(const char *a, const char *b, char *out, size_t n)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    size_t s = i > 200 ? i - 200 : 0;
    snprintf(out, n, "at byte %zu:\n  slow: %.400s\n  fast: %.400s", i, a + s, b + s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lp_fz_init();   /* MPFR's limb memory recycled (fz_alloc.c) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    ck_judge_verify = 1;   /* every interval against the all-MPFR measure, too */
    const unsigned k11 = p.param[11], seed = p.param[9], k10 = p.param[10];
    static const lp_format fmts[4] = {LP_F32, LP_F64, LP_BF16, LP_F16};
    const lp_format F = fmts[k11 & 3];
    const int sums = (k11 >> 2) & 1, one_case = (k11 >> 3) & 1, bound = (k11 >> 4) & 7;

    lp_ref_options so = LP_REF_OPTIONS_INIT;
    so.threads = 1;
    so.slow = 1;
    lp_ref_result slow;
    lp_error e = {LP_OK, ""};
    if (lp_ref_compute_opts(&slow, &p.pb, &so, &e) != LP_OK) {
        lp_fz_free(&p);
        return 0;
    }
    /* the candidate */
    ck_outputs cand;
    memset(&cand, 0, sizeof cand);
    const int64_t B = slow.B, Ts = slow.Ts;
    const int64_t n[CK_NOUT] = {B * Ts, B, B};
    for (int k = 0; k < CK_NOUT; k++) {
        if (k > 0 && !sums) continue;
        ck_array *a = &cand.a[k];
        a->present = 1;
        a->fmt = F;
        a->n = n[k];
        a->v = calloc((size_t)n[k] + 1, sizeof *a->v);
        for (int64_t i = 0; i < n[k]; i++) {
            const lp_value *v = k == 0 ? &slow.logp[i] : k == 1 ? &slow.sum[i] : &slow.mean[i];
            a->v[i] = cand_value(v, F, mix(((uint64_t)seed << 40) ^ ((uint64_t)k << 32) ^ (uint64_t)i));
        }
    }
    ck_options o;
    ck_options_init(&o);
    o.threads = 1;
    const double K = (double)(k10 & 15) / 4, E = ldexp(1, -(int)(k10 >> 4) * 3);
    switch (bound) {
    case 0: o.no_default = 1; break;
    case 1: o.max_ulp[0] = o.max_ulp[1] = o.max_ulp[2] = K; break;
    case 2: o.max_abs[0] = o.max_abs[1] = o.max_abs[2] = E; break;
    case 3: o.max_ulp[0] = K; o.max_abs[1] = E; break;
    case 4: case 5:
        if (!ck_builtin_available()) o.no_default = 1;
        else if (bound == 5) o.baseline = "twopass_f32";
        break;
    default: {
        /* K exactly the slow judge's largest token error */
        ck_run r;
        ck_options q;
        ck_options_init(&q);
        q.no_default = 1;
        q.threads = 1;
        ck_options_finish(&q, &e);
        ck_run_init(&r, &q, &e);
        unsigned fm[CK_NOUT] = {0, 0, 0};
        LP_FZ_CHECK(ck_judge(&r, "fz", "fz/case", &p.pb, &slow, &cand, fm, &e) == LP_OK, H, &p,
                    "judge: %s", e.msg);
        o.max_ulp[0] = r.ng ? r.g[0].max_ulp : 0;
        if (bound == 7) o.max_ulp[0] = nextafter(o.max_ulp[0], 0);
        ck_run_free(&r);
    }
    }
    LP_FZ_CHECK(ck_options_finish(&o, &e) == LP_OK, H, &p, "options: %s", e.msg);

    lp_ref_result fast;
    lp_ref_enc enc;
    lp_ref_options fo = LP_REF_OPTIONS_INIT;
    fo.threads = 1;
    fo.formats = 1u << F;
    LP_FZ_CHECK(lp_ref_compute_enc(&fast, &enc, &p.pb, &fo, &e) == LP_OK, H, &p, "fast ref: %s",
                e.msg);
    LP_FZ_CHECK(enc.tok != NULL, H, &p, "no enclosures");
    char *ta, *ja, *tb, *jb;
    judge(&ta, &ja, &p, &o, &slow, NULL, one_case, &cand);
    judge(&tb, &jb, &p, &o, &fast, &enc, one_case, &cand);
    char d[1000];
    if (strcmp(ta, tb) != 0) {
        first_diff(ta, tb, d, sizeof d);
        LP_FZ_CHECK(0, H, &p, "report text differs (format %s, bound %d, one case %d) %s",
                    lp_format_name(F), bound, one_case, d);
    }
    if (strcmp(ja, jb) != 0) {
        first_diff(ja, jb, d, sizeof d);
        LP_FZ_CHECK(0, H, &p, "JSON differs (format %s, bound %d, one case %d) %s",
                    lp_format_name(F), bound, one_case, d);
    }
    free(ta);
    free(ja);
    free(tb);
    free(jb);
    ck_outputs_free(&cand);
    lp_ref_result_free(&slow);
    ck_ref_free(&fast, &enc);
    lp_fz_free(&p);
    return 0;
}
