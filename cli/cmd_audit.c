/* cli/cmd_audit.c: `lpcert audit`: the gap between two sources of per-token log-probs (SPEC A9):
 * options, file binding and output files; the figures are check/audit.c's (lp_audit_run). */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "lp_bind.h"
#include "lp_check_internal.h"
#include "lp_file.h"
#include "lp_problem.h"
#include "lp_report.h"
#include "lp_tensor.h"
#include "lpcert_check.h"

static const char usage[] =
    "usage: lpcert audit --a A --b B --labels Y [--mask M] [--shift next|none] [--ignore-index N]\n"
    "                    [--logits-a LA] [--logits-b LB]\n"
    "                    [--a-temperature T] [--a-softcap C] [--a-top-k K] [--a-top-p P] [--a-min-p Q]\n"
    "                    [--b-temperature T] [--b-softcap C] [--b-top-k K] [--b-top-p P] [--b-min-p Q]\n"
    "                    [--band LO,HI]... [--out REPORT.md] [--json FILE] [--svg-dir DIR]\n"
    "                    [--threads N]\n"
    "\n"
    "Audits the gap a - b between two pipelines' log-probs of the same tokens (e.g. an inference\n"
    "engine's rollout and a trainer). Each input is FILE.npy or FILE.safetensors[:tensor]. A and B\n"
    "are [B, T_s] (T_s = T-1 with --shift next, the default, else T) in f64, f32, f16 or bf16; Y [B, T]\n"
    "I64/I32; M [B, T] of 0 and 1 (a .npy '<u2' array, log-probs or logits, is read as bf16 bit\n"
    "patterns). A token counts when its label is not --ignore-index (default -100) and its mask is\n"
    "1; a NaN or inf in A or B at a counted token is an input error, and so is a negative label\n"
    "other than --ignore-index.\n"
    "\n"
    "Figures (exact, each rounded once to binary64; definitions in the report): per token x = a - b,\n"
    "per sequence the difference of the sums and of the means: count, mean |x|, max |x|, mean x, the\n"
    "k3 KL estimator mean(r - 1 - log r) with r = exp(b - a), and for each band the fraction of\n"
    "values with exp(x) outside [LO, HI] (always 0.9,1.1; --band adds more, repeatable).\n"
    "With --logits-a/--logits-b (the logits [B, T, V] each side saw) and each side's semantics\n"
    "(--a-temperature ... as lpcert ref's; default temperature 1, no filter), every token's gap is\n"
    "split exactly into a - exact(La) (a's final op), exact(La) - exact(Lb) (logits and semantics)\n"
    "and exact(Lb) - b (b's final op), exact() being lpcert's reference; with one side's logits,\n"
    "two parts. The report names the dominant part.\n"
    "\n"
    "Outputs: the Markdown report on stdout, or --out FILE; --json FILE (tokens.*, sequences.sum.*,\n"
    "sequences.mean.*, split.*); --svg-dir DIR: histograms of the split's parts (audit_split.svg,\n"
    "audit_<part>.svg). Files are written whole or not at all.\n"
    "Exit 0 on success, 2 on a usage or input error (nothing written).\n";

typedef struct side_opts {
    const char *logp, *logits;
    double temperature;
    int have_sem;                 /* a semantics option was given */
    lp_sampling sampling;
} side_opts;

typedef struct audit_opts {
    const char *labels, *mask, *out, *json, *svg_dir;
    side_opts s[2];
    lp_shift shift;
    int64_t ignore_index;
    lp_audit_options ao;
} audit_opts;

/* --a-... / --b-... semantics options; 0 if a is not one. */
static int parse_sem(audit_opts *o, const char *a, const char *v, int *rc)
{
    *rc = LP_EXIT_OK;
    if (strncmp(a, "--a-", 4) != 0 && strncmp(a, "--b-", 4) != 0) return 0;
    side_opts *s = &o->s[a[2] == 'b'];
    const char *k = a + 4;
    double d;
    int64_t n;
    if (strcmp(k, "temperature") == 0) {
        if (!lp_parse_double(&d, v) || !(d > 0) || isinf(d))
            *rc = lp_cli_usage("audit", "%s: '%s' is not a positive finite number", a, v);
        s->temperature = d;
    } else if (strcmp(k, "softcap") == 0) {
        if (!lp_parse_double(&d, v) || !(d > 0) || isinf(d))
            *rc = lp_cli_usage("audit", "%s: '%s' is not a positive finite number", a, v);
        s->sampling.softcap = d;
    } else if (strcmp(k, "top-k") == 0) {
        if (!lp_parse_int64(&n, v) || n < 1)
            *rc = lp_cli_usage("audit", "%s: '%s' is not an integer >= 1", a, v);
        s->sampling.top_k = n;
    } else if (strcmp(k, "top-p") == 0) {
        if (!lp_parse_double(&d, v) || !(d > 0 && d <= 1))
            *rc = lp_cli_usage("audit", "%s: '%s' is not a number in (0, 1]", a, v);
        s->sampling.top_p = d;
    } else if (strcmp(k, "min-p") == 0) {
        if (!lp_parse_double(&d, v) || !(d > 0 && d <= 1))
            *rc = lp_cli_usage("audit", "%s: '%s' is not a number in (0, 1]", a, v);
        s->sampling.min_p = d;
    } else {
        return 0;
    }
    s->have_sem = 1;
    return 1;
}

static int parse_band(audit_opts *o, const char *v)
{
    char buf[128], *end;
    snprintf(buf, sizeof buf, "%s", v);
    char *c = strchr(buf, ',');
    double lo = NAN, hi = NAN;
    if (c) {
        *c = 0;
        lo = strtod(buf, &end);
        if (*end || end == buf) lo = NAN;
        hi = strtod(c + 1, &end);
        if (*end || end == c + 1) hi = NAN;
    }
    if (!(lo >= 0) || isinf(lo) || !(hi > lo))
        return lp_cli_usage("audit", "--band: '%s' is not LO,HI with 0 <= LO < HI (HI may be inf)", v);
    if (o->ao.nbands >= LP_AUDIT_MAX_BANDS - 1)
        return lp_cli_usage("audit", "--band: at most %d bands", LP_AUDIT_MAX_BANDS - 1);
    o->ao.band_lo[o->ao.nbands] = lo;
    o->ao.band_hi[o->ao.nbands++] = hi;
    return LP_EXIT_OK;
}

static int parse_opts(audit_opts *o, int argc, char **argv)
{
    static const char *const rep[] = {"--band", NULL};
    lp_cli_args p = LP_CLI_ARGS("audit", argc, argv, NULL, rep, 0);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            fputs(usage, stdout);
            exit(LP_EXIT_OK);
        }
        if (parse_sem(o, a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
            continue;
        }
        if (strcmp(a, "--a") == 0) o->s[0].logp = v;
        else if (strcmp(a, "--b") == 0) o->s[1].logp = v;
        else if (strcmp(a, "--logits-a") == 0) o->s[0].logits = v;
        else if (strcmp(a, "--logits-b") == 0) o->s[1].logits = v;
        else if (strcmp(a, "--labels") == 0) o->labels = v;
        else if (strcmp(a, "--mask") == 0) o->mask = v;
        else if (strcmp(a, "--out") == 0) o->out = v;
        else if (strcmp(a, "--json") == 0) o->json = v;
        else if (strcmp(a, "--svg-dir") == 0) o->svg_dir = v;
        else if (strcmp(a, "--band") == 0) {
            if ((rc = parse_band(o, v)) != LP_EXIT_OK) return rc;
        } else if (strcmp(a, "--shift") == 0) {
            if (strcmp(v, "next") == 0) o->shift = LP_SHIFT_NEXT;
            else if (strcmp(v, "none") == 0) o->shift = LP_SHIFT_NONE;
            else return lp_cli_usage("audit", "--shift: '%s' is not next or none", v);
        } else if (strcmp(a, "--ignore-index") == 0) {
            if (!lp_parse_int64(&o->ignore_index, v))
                return lp_cli_usage("audit", "--ignore-index: '%s' is not an integer", v);
        } else if (strcmp(a, "--threads") == 0) {
            int64_t n;
            if (!lp_parse_int64(&n, v) || n < 0 || n > 64)
                return lp_cli_usage("audit", "--threads: '%s' is not an integer in [0, 64]", v);
            o->ao.threads = (int)n;
        } else {
            return lp_cli_usage("audit", "unknown option '%s'", a);
        }
    }
    if (k < 0) return rc;
    if (!o->s[0].logp || !o->s[1].logp) return lp_cli_usage("audit", "--a and --b are required");
    if (!o->labels) return lp_cli_usage("audit", "--labels is required");
    for (int i = 0; i < 2; i++)
        if (o->s[i].have_sem && !o->s[i].logits)
            return lp_cli_usage("audit", "--%c-temperature, --%c-softcap, --%c-top-k, --%c-top-p and "
                                "--%c-min-p are the semantics of exact(L%c): give --logits-%c",
                                "ab"[i], "ab"[i], "ab"[i], "ab"[i], "ab"[i], "ab"[i], "ab"[i]);
    return LP_EXIT_OK;
}

/* The files of one run, closed together. */
typedef struct audit_files {
    lp_tfile *f[6];               /* labels, mask, a, b, logits a, logits b */
    uint8_t *mask_own[3];         /* tokens, side a, side b */
} audit_files;

/* The tokens problem (labels, mask) through core's binding: lp_bind_tensors with a logits
 * descriptor of V = 1 standing for the logits audit never reads (without logits V is unknown:
 * lp_audit_run rejects only negative labels other than ignore_index; with logits, lp_bind checks
 * them per side). */
static lp_status bind_tokens(lp_problem *tk, uint8_t **mask_own, const audit_opts *o,
                             const lp_tensor *yt, const lp_tensor *mt, lp_error *err)
{
    if (yt->ndim != 1 && yt->ndim != 2)
        return lp_fail(err, LP_ERR_INPUT, "%s: labels have %d dimensions; expected [B, T] or [T]",
                       o->labels, yt->ndim);
    lp_tensor fake = *yt;
    fake.dtype = LP_DT_F32;
    fake.ndim = yt->ndim + 1;
    fake.dims[yt->ndim] = 1;
    const lp_bind_names what = {"(logits)", o->labels, o->mask};
    lp_status s = lp_bind_tensors(tk, mask_own, &fake, yt, mt, NULL, &what, err);
    tk->logits = NULL;
    tk->shape.V = 0;
    return s;
}

/* A side's log-probs: [B, T_s] (or [T_s] with 1-D labels), checked by check/'s candidate loader. */
static lp_status load_side(lp_audit_side *sd, const lp_tensor *t, const char *spec,
                           const lp_problem *tk, lp_error *err)
{
    const int64_t Ts = lp_problem_ts(tk);
    const int64_t want[2] = {tk->shape.B, Ts};
    char hint[160];
    snprintf(hint, sizeof hint, " ([B, T_s] with T_s = %s = %lld: shift %s)",
             tk->shift == LP_SHIFT_NEXT ? "T-1" : "T", (long long)Ts,
             tk->shift == LP_SHIFT_NEXT ? "next" : "none");
    ck_array arr = {0, LP_F64, 0, NULL};
    lp_status s = ck_output_load(&arr, t, 2, want, tk->shape.B == 1, spec, hint, err);
    if (s != LP_OK) return s;
    free(arr.v);          /* validated; the audit reads the stored values themselves */
    sd->name = spec;
    sd->fmt = arr.fmt;
    sd->logp = t->data;
    return LP_OK;
}

/* The --svg-dir directory, made (or found) before any output file is written: "written whole
 * or not at all" (the JSON was already written when this failed). */
static lp_status svg_dir_make(const char *dir, lp_error *err)
{
    struct stat st;
    if (mkdir(dir, 0777) != 0 && (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return lp_fail(err, LP_ERR_IO, "%s: cannot create directory: %s", dir,
                       strerror(errno == EEXIST ? ENOTDIR : errno));
    return LP_OK;
}

static lp_status write_svgs(const lp_audit *au, const char *dir, lp_error *err)
{
    enum { NB = LP_AUDIT_HIST_BINS - 1 };
    double x[NB], y[LP_AUDIT_NPARTS][NB];
    rp_series all[LP_AUDIT_NPARTS];
    lp_audit_split sp[LP_AUDIT_NPARTS];
    int ns = 0;
    for (int b = 0; b < NB; b++) x[b] = ldexp(1.5, b + LP_AUDIT_HIST_EMIN);   /* binade middles */
    int lo = NB, hi = -1;   /* the binades drawn: those holding a token, and one either side */
    for (int k = 0; k < LP_AUDIT_NPARTS; k++) {
        lp_audit_split q;
        lp_audit_split_get(au, (lp_audit_part)k, &q);
        for (int b = 0; q.present && b < NB; b++)
            if (q.hist[b + 1]) lo = b < lo ? b : lo, hi = b > hi ? b : hi;
    }
    const double xmin = hi < 0 ? 0 : ldexp(1, lo - 1 + LP_AUDIT_HIST_EMIN);
    const double xmax = hi < 0 ? 0 : ldexp(1, hi + 2 + LP_AUDIT_HIST_EMIN);
    lp_status s = LP_OK;
    char path[4096], note[200], title[160];
    for (int k = 0; k < LP_AUDIT_NPARTS && s == LP_OK; k++) {
        lp_audit_split_get(au, (lp_audit_part)k, &sp[k]);
        if (!sp[k].present) continue;
        for (int b = 0; b < NB; b++) y[k][b] = (double)sp[k].hist[b + 1];
        all[ns] = (rp_series){sp[k].key, ns, 0, ns + 1, NB, x, y[k]};
        rp_plot pl = {0};
        snprintf(title, sizeof title, "lpcert audit: |%s| = |%s| per token", sp[k].key, sp[k].formula);
        snprintf(note, sizeof note, "%lld tokens, %lld with |part| = 0 (not drawn); mean %.3g, "
                 "p99 %.3g, max %.3g", (long long)sp[k].n, (long long)sp[k].hist[0],
                 sp[k].mean_abs, sp[k].p99_abs, sp[k].max_abs);
        pl.title = title;
        pl.xlabel = "|part| (nats), binade 2^e <= |part| < 2^(e+1), at its middle";
        pl.ylabel = "tokens";
        pl.logx = 2;
        pl.xmin = xmin, pl.xmax = xmax;
        pl.s = &all[ns];
        pl.ns = 1;
        pl.note = note;
        snprintf(path, sizeof path, "%s/audit_%s.svg", dir, sp[k].key);
        s = rp_svg_write(path, &pl, err);
        ns++;
    }
    if (s == LP_OK && ns) {
        rp_plot pl = {0};
        pl.title = "lpcert audit: the split of a - b, tokens per binade of |part|";
        pl.xlabel = "|part| (nats), binade 2^e <= |part| < 2^(e+1), at its middle";
        pl.ylabel = "tokens";
        pl.logx = 2;
        pl.xmin = xmin, pl.xmax = xmax;
        pl.s = all;
        pl.ns = ns;
        pl.note = "parts equal to 0 are not drawn (the report counts them)";
        snprintf(path, sizeof path, "%s/audit_split.svg", dir);
        s = rp_svg_write(path, &pl, err);
    }
    return s;
}

int lp_cmd_audit(int argc, char **argv)
{
    audit_opts o;
    memset(&o, 0, sizeof o);
    o.shift = LP_SHIFT_NEXT;
    o.ignore_index = -100;
    o.s[0].temperature = o.s[1].temperature = 1.0;
    int rc = parse_opts(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    lp_error err = {LP_OK, ""};
    audit_files fs;
    memset(&fs, 0, sizeof fs);
    const lp_tensor *yt = NULL, *mt = NULL, *at = NULL, *bt = NULL, *lt[2] = {NULL, NULL};
    lp_problem tk = LP_PROBLEM_INIT, side_pb[2] = {LP_PROBLEM_INIT, LP_PROBLEM_INIT};
    lp_audit_side sd[2];
    memset(sd, 0, sizeof sd);
    lp_audit *au = NULL;
    char *md = NULL;
    tk.shift = o.shift;
    tk.ignore_index = o.ignore_index;
    lp_status s = lp_tensor_open_spec(&fs.f[0], &yt, o.labels, &err);
    if (s == LP_OK && o.mask) s = lp_tensor_open_spec(&fs.f[1], &mt, o.mask, &err);
    if (s == LP_OK) s = bind_tokens(&tk, &fs.mask_own[0], &o, yt, mt, &err);
    if (s == LP_OK) s = lp_tensor_open_spec(&fs.f[2], &at, o.s[0].logp, &err);
    if (s == LP_OK) s = lp_tensor_open_spec(&fs.f[3], &bt, o.s[1].logp, &err);
    if (s == LP_OK) s = load_side(&sd[0], at, o.s[0].logp, &tk, &err);
    if (s == LP_OK) s = load_side(&sd[1], bt, o.s[1].logp, &tk, &err);
    for (int k = 0; k < 2 && s == LP_OK; k++) {
        if (!o.s[k].logits) continue;
        s = lp_tensor_open_spec(&fs.f[4 + k], &lt[k], o.s[k].logits, &err);
        lp_problem *p = &side_pb[k];
        p->shift = o.shift;
        p->ignore_index = o.ignore_index;
        p->temperature = o.s[k].temperature;
        p->sampling = o.s[k].sampling;
        const lp_bind_names what = {o.s[k].logits, o.labels, o.mask};
        static const lp_format bf16 = LP_BF16;   /* a .npy '<u2' array: bf16 bit patterns */
        if (s == LP_OK)
            s = lp_bind(p, &fs.mask_own[1 + k], lt[k], yt, mt, lt[k]->dtype == LP_DT_U16 ? &bf16 : NULL,
                        &what, &err);
        if (s != LP_OK) {   /* say which side's binding failed: lp_bind may name the labels */
            char m[sizeof err.msg];
            snprintf(m, sizeof m, "%s", err.msg);
            lp_fail(&err, s, "--logits-%c %s: %s", "ab"[k], o.s[k].logits, m);
        }
        sd[k].logits = p;
    }
    if (s == LP_OK) s = lp_audit_run(&au, &tk, &sd[0], &sd[1], &o.ao, &err);
    for (int k = 0; k < 6 && s == LP_OK; k++) s = lp_tfile_verify(fs.f[k], &err);
    if (s == LP_OK) s = lp_audit_markdown(&md, au, &err);
    if (s == LP_OK && o.svg_dir) s = svg_dir_make(o.svg_dir, &err);
    if (s == LP_OK && o.json) s = lp_audit_write_json(au, o.json, &err);
    if (s == LP_OK && o.svg_dir) s = write_svgs(au, o.svg_dir, &err);
    if (s == LP_OK && o.out) s = lp_write_file_atomic(o.out, md, strlen(md), &err);
    if (s == LP_OK && !o.out) fputs(md, stdout);
    free(md);
    lp_audit_free(au);
    for (int k = 0; k < 3; k++) free(fs.mask_own[k]);
    for (int k = 0; k < 6; k++) lp_tfile_close(fs.f[k]);
    return s == LP_OK ? LP_EXIT_OK : lp_cli_fail("audit", &err);
}
