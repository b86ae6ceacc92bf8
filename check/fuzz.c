/* check/fuzz.c: one fuzz input judged as certify judges a case (see lp_check_fuzz.h). */
#include <math.h>

#include "lp_check_fuzz.h"
#include "lp_format.h"
#include "lp_problem.h"

const char ck_fuzz_help[] =
    "  --batch-invariance require|report|off   sequences rerun alone and at another position of\n"
    "                         a larger batch must keep their bits (default require)\n"
    "  --in-range F           judge only problems that stay in the range of format F, the format\n"
    "                         the kernel computes in (e.g. f32): tau and every logit x / tau of a\n"
    "                         scored row finite (tau non-zero) once rounded to F, and so the spread\n"
    "                         of each row (max - min), and no exact token or sum finite whose\n"
    "                         rounding to F overflows; the others are left out and counted\n";

void ck_fuzz_init(ck_fuzz *z)
{
    memset(z, 0, sizeof *z);
    ck_options_init(&z->opt);
    z->opt.threads = 1;   /* problems of at most 256 logits: threads cost more than they save */
    z->range_fmt = z->exact_fmt = -1;
}

int ck_fuzz_option(ck_fuzz *z, const char *a, const char *v, lp_error *err)
{
    if (ck_options_parse(&z->opt, a, v, err)) return 1;
    if (strcmp(a, "--batch-invariance") == 0) {
        if (!ck_batch_parse(&z->opt.batch, v))
            lp_fail(err, LP_ERR_USAGE, "--batch-invariance: '%s' is not require, report or off", v);
        return 1;
    }
    int *fmt = strcmp(a, "--in-range") == 0         ? &z->range_fmt
               : strcmp(a, "--tempered-exact") == 0 ? &z->exact_fmt
                                                     : NULL;
    if (fmt) {
        *fmt = -1;
        for (int f = 0; f < LP_NFORMATS; f++)
            if (strcmp(v, lp_format_name((lp_format)f)) == 0) *fmt = f;
        if (*fmt < 0) lp_fail(err, LP_ERR_USAGE, "%s: '%s' is not f64, f32, f16 or bf16", a, v);
        return 1;
    }
    return 0;
}

lp_status ck_fuzz_args(ck_fuzz *z, const char *line, lp_error *err)
{
    char word[2][256];
    int have = 0;
    const char *s = line ? line : "";
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        if (!*s) break;
        size_t n = strcspn(s, " \t\n");
        if (n >= sizeof word[0])
            return lp_fail(err, LP_ERR_USAGE, "option word '%.40s...' is too long", s);
        memcpy(word[have], s, n);
        word[have][n] = 0;
        s += n;
        if (have == 0) {
            if (strncmp(word[0], "--", 2) != 0)
                return lp_fail(err, LP_ERR_USAGE,
                               "unexpected argument '%s' (options start with --)", word[0]);
            if (ck_options_flag(&z->opt, word[0])) continue;
            have = 1;
            continue;
        }
        if (!ck_fuzz_option(z, word[0], word[1], err))
            return lp_fail(err, LP_ERR_USAGE, "unknown option '%s'", word[0]);
        if (err->status != LP_OK) return err->status;
        have = 0;
    }
    if (have) return lp_fail(err, LP_ERR_USAGE, "option %s needs a value", word[0]);
    return ck_options_finish(&z->opt, err);
}

static void append(char *buf, size_t n, const char *fmt, double x)
{
    size_t l = strlen(buf);
    if (l < n) snprintf(buf + l, n - l, fmt, x);
}

static void bound_args(char *buf, size_t n, const char *opt, const double *v)
{
    if (v[0] >= 0 && v[0] == v[1] && v[0] == v[2]) {
        append(buf, n, " ", 0);
        append(buf, n, opt, 0);
        append(buf, n, " %.17g", v[0]);
        return;
    }
    for (int o = 0; o < CK_NOUT; o++) {
        if (v[o] < 0) continue;
        append(buf, n, " ", 0);
        append(buf, n, opt, 0);
        append(buf, n, " ", 0);
        append(buf, n, ck_output_name(o), 0);
        append(buf, n, "=%.17g", v[o]);
    }
}

void ck_fuzz_args_text(char *buf, size_t n, const ck_fuzz *z)
{
    static const char *const empty[] = {"case", "nan", "zero"};
    static const char *const batch[] = {"require", "report", "off"};
    const ck_options *o = &z->opt;
    if (n) buf[0] = 0;
    bound_args(buf, n, "--max-ulp", o->max_ulp);
    bound_args(buf, n, "--max-abs", o->max_abs);
    if (o->baseline) {
        size_t l = strlen(buf);
        if (l < n) snprintf(buf + l, n - l, " --vs-baseline %s --factor %.17g", o->baseline, o->factor);
    }
    if (o->no_default && !o->default_bound) append(buf, n, " --no-default-bound", 0);
    size_t l = strlen(buf);
    if (l < n)
        snprintf(buf + l, n - l, " --masking %s --empty-mean %s --batch-invariance %s",
                 o->masking == CK_MASKING_MUL ? "mul" : "spec", empty[o->empty], batch[o->batch]);
    l = strlen(buf);
    if (z->range_fmt >= 0 && l < n)
        snprintf(buf + l, n - l, " --in-range %s", lp_format_name((lp_format)z->range_fmt));
    l = strlen(buf);
    if (z->exact_fmt >= 0 && l < n)
        snprintf(buf + l, n - l, " --tempered-exact %s", lp_format_name((lp_format)z->exact_fmt));
    if (buf[0] == ' ') memmove(buf, buf + 1, strlen(buf));
}

lp_status ck_fuzz_open(ck_fuzz *z, const char *spec, lp_error *err)
{
    return ck_kernel_open_plugin(&z->k, spec, err);
}

void ck_fuzz_close(ck_fuzz *z)
{
    ck_kernel_close(&z->k);
}

static int overflows(const lp_value *v, lp_format f)
{
    return isfinite(v->dd.hi) && isinf(lp_value_wide(v, f));
}

/* 1 if pb stays in the range of format f (--in-range): tau finite and non-zero in f; in every
 * scored row, counted or not, each finite x / tau finite in f and so is the spread (largest minus
 * smallest of them: a masked row's logp at its label or at the dummy label 0 then cannot
 * overflow either, which a multiply-masking kernel turns into 0 * -inf = NaN); no exact token or
 * sum finite but infinite in f. */
static int in_range(const lp_problem *pb, const lp_ref_result *ref, lp_format f)
{
    const double tau = lp_round_to(pb->temperature, f);
    if (!(tau > 0) || isinf(tau)) return 0;
    const int64_t Ts = lp_problem_ts(pb), V = pb->shape.V;
    for (int64_t b = 0; b < pb->shape.B; b++) {
        if (overflows(&ref->sum[b], f)) return 0;
        for (int64_t ts = 0; ts < Ts; ts++) {
            if (ref->counted[b * Ts + ts] && overflows(&ref->logp[b * Ts + ts], f)) return 0;
            const void *row = lp_problem_row(pb, b, ts);
            double lo = HUGE_VAL, hi = -HUGE_VAL;
            for (int64_t i = 0; i < V; i++) {
                const double x = lp_load_f64(row, pb->fmt, (size_t)i);
                if (!isfinite(x)) continue;
                /* RN_f(RN_f(x) / tau): the double quotient is exact enough (53 >= 2p + 2 bits for
                 * f32 and the half formats), and for f64 it is the division itself */
                const double q = lp_round_to(lp_round_to(x, f) / tau, f);
                if (isinf(q)) return 0;
                if (q < lo) lo = q;
                if (q > hi) hi = q;
            }
            if (lo <= hi && isinf(lp_round_to(hi - lo, f))) return 0;
        }
    }
    return 1;
}

/* 1 if tau and every finite x / tau of a scored row are exact in format f (--tempered-exact). */
static int tempered_exact(const lp_problem *pb, lp_format f)
{
    const double tau = pb->temperature;
    if (lp_round_to(tau, f) != tau) return 0;
    const int64_t Ts = lp_problem_ts(pb), V = pb->shape.V;
    for (int64_t b = 0; b < pb->shape.B; b++)
        for (int64_t ts = 0; ts < Ts; ts++) {
            const void *row = lp_problem_row(pb, b, ts);
            for (int64_t i = 0; i < V; i++) {
                const double x = lp_load_f64(row, pb->fmt, (size_t)i);
                if (!isfinite(x)) continue;
                const double q = lp_round_to(x / tau, f);
                /* x in f, and q * tau == x exactly (fma rounds once, after the exact product) */
                if (lp_round_to(x, f) != x || !isfinite(q) || fma(q, tau, -x) != 0) return 0;
            }
        }
    return 1;
}

static uint64_t fnv1a(const uint8_t *d, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * UINT64_C(0x100000001b3);
    return h;
}

static lp_status failure_report(char **report, ck_fuzz *z, const lp_fz_problem *p, ck_run *r,
                                const char *name, lp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return lp_fail(err, LP_ERR_NOMEM, "fuzz: out of memory for a report");
    char first[1200], args[600], cand[700];
    ck_report_first_failure(first, sizeof first, r);
    ck_fuzz_args_text(args, sizeof args, z);
    fprintf(f, "plugin %s (%s) fails lpcert check's judgement on %s: %s\n", z->k.p->name,
            z->k.spec, name, first);
    fprintf(f, "  args: %s\n", args);
    lp_fz_dump(f, p);
    ck_header h;
    memset(&h, 0, sizeof h);
    h.command = "fuzz";
    h.suite = name;
    snprintf(cand, sizeof cand, "plugin %s: %s", z->k.spec, z->k.p->name);
    h.candidate = cand;
    fprintf(f, "  lpcert check's report of this problem:\n");
    ck_report_table(f, r, &h);
    if (fclose(f) != 0 || !text) {
        free(text);
        return lp_fail(err, LP_ERR_NOMEM, "fuzz: out of memory for a report");
    }
    *report = text;
    return LP_OK;
}

lp_status ck_fuzz_one(ck_fuzz *z, const uint8_t *data, size_t size, ck_fz_verdict *v,
                      char **report, lp_error *err)
{
    *report = NULL;
    *v = CK_FZ_REJECT;
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return lp_fail(err, LP_ERR_NOMEM, "fuzz: out of memory");
    const lp_problem *pb = &p.pb;
    const unsigned fbit = LP_PLUGIN_FMT(pb->fmt);
    lp_status s = LP_OK;
    lp_ref_result ref;
    memset(&ref, 0, sizeof ref);
    ck_run r;
    memset(&r, 0, sizeof r);
    if (!(z->k.p->formats & fbit) ||
        (pb->temperature != 1 && !(z->k.p->caps & LP_PLUGIN_CAP_TEMPERATURE))) {
        *v = CK_FZ_SKIP;   /* what ck_kernel_run would skip, decided before the reference */
        goto done;
    }
    lp_ref_options ro = LP_REF_OPTIONS_INIT;
    ro.threads = z->opt.threads;
    s = lp_ref_compute_opts(&ref, pb, &ro, err);
    if (s == LP_ERR_INPUT) {
        *v = CK_FZ_REJECT;   /* an invalid problem (label out of range, mask byte 2): not run */
        s = LP_OK;
        goto done;
    }
    if (s != LP_OK) goto done;
    if ((z->range_fmt >= 0 && !in_range(pb, &ref, (lp_format)z->range_fmt)) ||
        (z->exact_fmt >= 0 && !tempered_exact(pb, (lp_format)z->exact_fmt))) {
        *v = CK_FZ_LEFT_OUT;
        goto done;
    }
    char name[48];
    snprintf(name, sizeof name, "fuzz/%s", lp_format_name(pb->fmt));
    s = ck_run_init(&r, &z->opt, err);
    int ran = 0;
    if (s == LP_OK) s = ck_kernel_judge(&r, &z->k, name, name, pb, &ref, fnv1a(data, size), &ran, err);
    if (s != LP_OK) goto done;
    if (ran == 0) {
        *v = CK_FZ_SKIP;
        goto done;
    }
    z->judged[pb->fmt]++;
    *v = ck_run_any_failure(&r) ? CK_FZ_FAIL : CK_FZ_PASS;
    if (*v == CK_FZ_FAIL) s = failure_report(report, z, &p, &r, name, err);
done:
    if (s == LP_OK) z->n[*v]++;
    ck_run_free(&r);
    lp_ref_result_free(&ref);
    lp_fz_free(&p);
    return s;
}
