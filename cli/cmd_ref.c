/* cli/cmd_ref.c: `lpcert ref`: exact results for logits and labels from files. */
#include <cjson/cJSON.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lp_bind.h"
#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_grad_mapped.h"
#include "lp_ref_mapped.h"
#include "lp_suite_io.h"
#include "lp_tensor.h"
#include "lpcert_version.h"

static const char usage[] =
    "usage: lpcert ref --logits L.npy|L.safetensors[:tensor] --labels Y.npy|Y.safetensors[:tensor]\n"
    "                  [--mask M] [--dtype f64|f32|f16|bf16] [--shift next|none]\n"
    "                  [--ignore-index N] [--temperature T] [--empty-mean nan|zero]\n"
    "                  " LP_CLI_SAMPLING_USAGE "\n"
    "                  [--threads N] [--formats LIST] [--slow] [--grad token|sum|mean|token_mean]\n"
    "                  --out OUT.safetensors [--json]\n"
    "\n"
    "Exact log-probabilities: per scored token the correctly rounded logp in f64, f32, f16 and bf16\n"
    "and a double-double (hi, lo); per sequence the exact sum and mean and the count; the batch\n"
    "token mean. logits are [B, T, V] (or [T, V]) in F64/F32/F16/BF16 (a .npy '<u2' array is read as\n"
    "bf16 bit patterns with --dtype bf16); labels [B, T] (or [T]) I64/I32; mask [B, T] U8/BOOL/I64/I32\n"
    "of 0 and 1, indexed like labels. With --shift next (default) logits row t scores labels[t+1].\n"
    "\n"
    "OUT tensors ([B, T_s], T_s = T-1 with --shift next, else T): logp.f64 logp.f32 logp.f16\n"
    "logp.bf16 (NaN where not counted), logp.hi logp.lo, counted (U8); per sequence ([B]) sum.<fmt>\n"
    "mean.<fmt> sum.hi sum.lo mean.hi mean.lo count (I64); token_mean.<fmt> token_mean.hi\n"
    "token_mean.lo ([1]). --json prints the same to stdout with hex bit patterns (small inputs).\n"
    "--threads N: worker threads (default: one per CPU; results are identical for any N).\n"
    "--formats LIST: the outputs to compute, comma-separated from f64,f32,f16,bf16,dd (default: all;\n"
    "a repeated --formats adds to the list); the others are written as NaN. f64, f32, f16 and bf16\n"
    "are decided by the certified fast path (double, and double-double for f64; the MPFR loop only\n"
    "where it cannot decide): real sizes run near kernel speed. dd (the *.hi, *.lo outputs, lo =\n"
    "RN(x - hi)) comes from a triple-double tier, about 2.5x slower than f32 alone.\n"
    "--slow: the MPFR loop for everything (the results are the same bits).\n"
    "--softcap C, --top-k K, --top-p P, --min-p Q: processed log-probs (SPEC A7, in this order\n"
    "after softcap: temperature, top-k, top-p, min-p): logp over the kept tokens, -inf for a label\n"
    "filtered out (its sequence's sum and mean too); every kept-set decision is exact.\n"
    "--grad R: also the exact gradient of reduction R (token: each token's logp; sum: the sequence\n"
    "sums; mean: the sequence means, weight 1/n_b; token_mean: weight 1/sum_b n_b) with respect to\n"
    "the stored logits (SPEC A8): grad.f64 grad.f32 grad.f16 grad.bf16, shape [B, T, V] like the\n"
    "logits, each element correctly rounded (the label element as the sum of the other\n"
    "probabilities; a certified fast path, MPFR where it cannot decide, the same bits), rows that\n"
    "score nothing +0; restricted by --formats; streamed into OUT row by row (memory of a few rows,\n"
    "OUT as large as the logits times 16/bytes per logit). Needs --out.\n"
    "Any other option given twice is an error. OUT must end in .safetensors.\n"
    "Exit 0 on success, 2 on a usage or input error (no output file is left behind).\n";

typedef struct ref_opts {
    const char *logits, *labels, *mask, *out;
    int have_dtype, json, threads, slow, grad;
    lp_reduction red;
    unsigned formats;
    lp_format dtype;
    lp_problem pb;
} ref_opts;

/* 1 if path ends in ".safetensors" (what `lpcert ref` writes, whatever the name). */
static int safetensors_name(const char *path)
{
    static const char ext[] = ".safetensors";
    const size_t n = strlen(path), k = sizeof ext - 1;
    return n > k && strcmp(path + n - k, ext) == 0;
}

static int parse_opts(ref_opts *o, int argc, char **argv)
{
    static const char *const flags[] = {"--json", "--slow", NULL};
    static const char *const lists[] = {"--formats", NULL};   /* accumulates */
    lp_cli_args p = LP_CLI_ARGS("ref", argc, argv, flags, lists, 0);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            fputs(usage, stdout);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--slow") == 0) {
            o->slow = 1;
            continue;
        }
        if (strcmp(a, "--logits") == 0) o->logits = v;
        else if (strcmp(a, "--labels") == 0) o->labels = v;
        else if (strcmp(a, "--mask") == 0) o->mask = v;
        else if (strcmp(a, "--out") == 0) o->out = v;
        else if (strcmp(a, "--grad") == 0) {
            if (!lp_reduction_parse(&o->red, v))
                return lp_cli_usage("ref", "--grad: '%s' is not token, sum, mean or token_mean", v);
            o->grad = 1;
        }
        else if (strcmp(a, "--formats") == 0) {   /* a list; a repeated one adds to it */
            char buf[64];
            unsigned add = 0;
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                lp_format f;
                if (strcmp(tok, "dd") == 0) add |= LP_REF_DD;
                else if (lp_format_parse(&f, tok)) add |= 1u << f;
                else return lp_cli_usage("ref", "--formats: '%s' is not one of f64, f32, f16, bf16, dd", tok);
            }
            if (!add) return lp_cli_usage("ref", "--formats: empty list");
            o->formats |= add;
        }
        else if (strcmp(a, "--dtype") == 0) {
            if (!lp_format_parse(&o->dtype, v))
                return lp_cli_usage("ref", "--dtype: '%s' is not one of f64, f32, f16, bf16", v);
            o->have_dtype = 1;
        } else if (strcmp(a, "--shift") == 0) {
            if (strcmp(v, "next") == 0) o->pb.shift = LP_SHIFT_NEXT;
            else if (strcmp(v, "none") == 0) o->pb.shift = LP_SHIFT_NONE;
            else return lp_cli_usage("ref", "--shift: '%s' is not next or none", v);
        } else if (strcmp(a, "--ignore-index") == 0) {
            if (!lp_parse_int64(&o->pb.ignore_index, v))
                return lp_cli_usage("ref", "--ignore-index: '%s' is not an integer", v);
        } else if (strcmp(a, "--temperature") == 0) {
            if (!lp_parse_double(&o->pb.temperature, v) || !(o->pb.temperature > 0))
                return lp_cli_usage("ref", "--temperature: '%s' is not a positive finite number", v);
        } else if (lp_cli_opt_sampling(&o->pb.sampling, "ref", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
        } else if (strcmp(a, "--threads") == 0) {
            int64_t n;
            if (!lp_parse_int64(&n, v) || n < 0 || n > 64)
                return lp_cli_usage("ref", "--threads: '%s' is not an integer in [0, 64]", v);
            o->threads = (int)n;
        } else if (strcmp(a, "--empty-mean") == 0) {
            if (strcmp(v, "nan") == 0) o->pb.empty_mean = LP_EMPTY_NAN;
            else if (strcmp(v, "zero") == 0) o->pb.empty_mean = LP_EMPTY_ZERO;
            else return lp_cli_usage("ref", "--empty-mean: '%s' is not nan or zero", v);
        } else {
            return lp_cli_usage("ref", "unknown option '%s'", a);
        }
    }
    if (k < 0) return rc;
    if (!o->logits) return lp_cli_usage("ref", "--logits is required");
    if (!o->labels) return lp_cli_usage("ref", "--labels is required");
    if (!o->out && !o->json) return lp_cli_usage("ref", "--out (or --json) is required");
    if (o->grad && !o->out) return lp_cli_usage("ref", "--grad needs --out");
    if (o->grad && o->formats && !(o->formats & 0xfu))
        return lp_cli_usage("ref", "--grad: --formats names none of f64, f32, f16, bf16");
    if (o->out && !safetensors_name(o->out))
        return lp_cli_usage("ref", "--out '%s': the output is a safetensors file; name it "
                            "OUT.safetensors", o->out);
    return LP_EXIT_OK;
}

/* Shapes: logits [B,T,V] or [T,V]; labels and mask [B,T] or [T] to match (core/lp_bind.h). */
static lp_status bind_inputs(ref_opts *o, const lp_tensor *lt, const lp_tensor *yt,
                             const lp_tensor *mt, uint8_t **mask_copy, lp_error *err)
{
    const lp_bind_names what = {o->logits, o->labels, o->mask};
    return lp_bind(&o->pb, mask_copy, lt, yt, mt, o->have_dtype ? &o->dtype : NULL, &what, err);
}

/* --grad: the sink writing each gradient row at its place in the deferred tensors grad.<fmt>. */
typedef struct grad_out {
    lp_twriter *w;
    size_t idx[LP_NFORMATS];
    int on[LP_NFORMATS];
    void *buf[LP_NFORMATS];   /* one row per format */
    int64_t T;
} grad_out;

static int grad_sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    grad_out *go = user;
    for (int f = 0; f < LP_NFORMATS; f++) {
        if (!go->on[f]) continue;
        const size_t esz = (size_t)lp_format_get((lp_format)f)->bytes;
        for (int64_t i = 0; i < V; i++) {
            char *p = (char *)go->buf[f] + (size_t)i * esz;
            switch ((lp_format)f) {
            case LP_F64: memcpy(p, &g[i].f64, 8); break;
            case LP_F32: memcpy(p, &g[i].f32, 4); break;
            case LP_F16: memcpy(p, &g[i].f16, 2); break;
            case LP_BF16: memcpy(p, &g[i].bf16, 2); break;
            }
        }
        const uint64_t off = (uint64_t)(b * go->T + t) * (uint64_t)V * esz;
        if (lp_twriter_put(go->w, go->idx[f], off, go->buf[f], (size_t)V * esz, err) != LP_OK)
            return 1;
    }
    return 0;
}

/* Adds grad.<fmt> (deferred), begins the file, streams the gradient into it. */
static lp_status write_grad(const ref_opts *o, lp_twriter *w, const lp_ref_options *ropt,
                            lp_grad_stats *gst, const lp_tfile *fl, lp_error *err)
{
    const lp_problem *pb = &o->pb;
    grad_out go;
    memset(&go, 0, sizeof go);
    go.w = w;
    go.T = pb->shape.T;
    const int64_t dims[3] = {pb->shape.B, pb->shape.T, pb->shape.V};
    lp_status s = LP_OK;
    for (int f = 0; f < LP_NFORMATS && s == LP_OK; f++) {
        go.on[f] = !o->formats || (o->formats & (1u << f));
        if (!go.on[f]) continue;
        char name[16];
        snprintf(name, sizeof name, "grad.%s", lp_format_name((lp_format)f));
        s = lp_twriter_add_later(w, name, lp_dtype_of_format((lp_format)f), 3, dims, &go.idx[f],
                                 err);
        if (s == LP_OK && !(go.buf[f] = malloc((size_t)pb->shape.V * 8 + 8)))
            s = lp_fail(err, LP_ERR_NOMEM, "ref: out of memory for a gradient row");
    }
    if (s == LP_OK) s = lp_twriter_meta(w, "grad", lp_reduction_name(o->red), err);
    if (s == LP_OK) s = lp_twriter_begin(w, err);
    lp_ref_options gopt = *ropt;   /* the dd is not written: the fast path decides the rest */
    gopt.formats = (o->formats ? o->formats : LP_REF_ALL) & 0xfu;
    if (s == LP_OK) s = lp_grad_compute_mapped(pb, o->red, &gopt, grad_sink, &go, gst, fl, err);
    for (int f = 0; f < LP_NFORMATS; f++) free(go.buf[f]);
    return s;
}

static lp_status write_out(const ref_opts *o, const lp_ref_result *r, const lp_ref_options *ropt,
                           lp_grad_stats *gst, const lp_tfile *const *in, lp_error *err)
{
    const lp_problem *pb = &o->pb;
    lp_twriter *w = NULL;
    lp_ref_cols *keep = NULL;
    lp_status s = lp_twriter_new(&w, o->out, err);
    if (s == LP_OK) s = lp_ref_tensors_add(w, "", r, &keep, err);
    char buf[64];
    struct { const char *k; const char *v; } meta[] = {
        {"generator", "lpcert ref " LPCERT_VERSION_STRING},
        {"logits", o->logits},
        {"labels", o->labels},
        {"mask", o->mask ? o->mask : ""},
        {"dtype", lp_format_name(pb->fmt)},
        {"shift", pb->shift == LP_SHIFT_NEXT ? "next" : "none"},
        {"empty_mean", pb->empty_mean == LP_EMPTY_NAN ? "nan" : "zero"},
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0] && s == LP_OK; i++)
        s = lp_twriter_meta(w, meta[i].k, meta[i].v, err);
    snprintf(buf, sizeof buf, "%lld", (long long)pb->ignore_index);
    if (s == LP_OK) s = lp_twriter_meta(w, "ignore_index", buf, err);
    snprintf(buf, sizeof buf, "%a", pb->temperature);
    if (s == LP_OK) s = lp_twriter_meta(w, "temperature", buf, err);
    const lp_sampling *sp = &pb->sampling; /* SPEC A7: those set, as a suite writes them */
    snprintf(buf, sizeof buf, "%a", sp->softcap);
    if (s == LP_OK && sp->softcap != 0) s = lp_twriter_meta(w, "softcap", buf, err);
    snprintf(buf, sizeof buf, "%lld", (long long)sp->top_k);
    if (s == LP_OK && sp->top_k != 0) s = lp_twriter_meta(w, "top_k", buf, err);
    snprintf(buf, sizeof buf, "%a", sp->top_p);
    if (s == LP_OK && sp->top_p != 0) s = lp_twriter_meta(w, "top_p", buf, err);
    snprintf(buf, sizeof buf, "%a", sp->min_p);
    if (s == LP_OK && sp->min_p != 0) s = lp_twriter_meta(w, "min_p", buf, err);
    if (s == LP_OK && o->grad) s = write_grad(o, w, ropt, gst, in[0], err);
    for (int i = 0; i < 3 && s == LP_OK && o->grad; i++) s = lp_tfile_verify(in[i], err);
    if (s == LP_OK) s = lp_twriter_finish(w, err);
    else lp_twriter_abort(w);
    lp_ref_cols_free(keep);
    return s;
}

static cJSON *json_value(const lp_value *v)
{
    cJSON *o = cJSON_CreateObject();
    char hex[32];
    for (int f = 0; f < LP_NFORMATS; f++) {
        lp_cli_hex(hex, sizeof hex, v, (lp_format)f);
        cJSON_AddStringToObject(o, lp_format_name((lp_format)f), hex);
    }
    snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)lp_bits_f64(v->dd.hi));
    cJSON_AddStringToObject(o, "hi", hex);
    snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)lp_bits_f64(v->dd.lo));
    cJSON_AddStringToObject(o, "lo", hex);
    char dec[40];
    snprintf(dec, sizeof dec, "%.17g", v->f64);  /* NaN and inf are not JSON numbers: a string */
    cJSON_AddStringToObject(o, "decimal", dec);
    return o;
}

static lp_status print_json(const ref_opts *o, const lp_ref_result *r, lp_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "B", (double)r->B);
    cJSON_AddNumberToObject(root, "T_s", (double)r->Ts);
    cJSON_AddNumberToObject(root, "V", (double)o->pb.shape.V);
    cJSON_AddStringToObject(root, "dtype", lp_format_name(o->pb.fmt));
    cJSON_AddStringToObject(root, "shift", o->pb.shift == LP_SHIFT_NEXT ? "next" : "none");
    cJSON_AddStringToObject(root, "empty_mean", o->pb.empty_mean == LP_EMPTY_NAN ? "nan" : "zero");
    /* SPEC A7: the parameters set, none otherwise, each as the shortest decimal that reads back
     * as the same binary64 (cJSON's own 15 digits printed top_p 1 - 2^-53 as 1) */
    const lp_sampling *sp = &o->pb.sampling;
    char num[40];
    if (sp->softcap != 0) cJSON_AddRawToObject(root, "softcap", ck_shortest(num, sizeof num, sp->softcap));
    snprintf(num, sizeof num, "%lld", (long long)sp->top_k);
    if (sp->top_k != 0) cJSON_AddRawToObject(root, "top_k", num);
    if (sp->top_p != 0) cJSON_AddRawToObject(root, "top_p", ck_shortest(num, sizeof num, sp->top_p));
    if (sp->min_p != 0) cJSON_AddRawToObject(root, "min_p", ck_shortest(num, sizeof num, sp->min_p));
    cJSON *toks = cJSON_AddArrayToObject(root, "tokens");
    for (int64_t b = 0; b < r->B; b++)
        for (int64_t t = 0; t < r->Ts; t++) {
            size_t i = (size_t)(b * r->Ts + t);
            cJSON *e = json_value(&r->logp[i]);
            cJSON_AddNumberToObject(e, "b", (double)b);
            cJSON_AddNumberToObject(e, "t", (double)t);
            cJSON_AddBoolToObject(e, "counted", r->counted[i]);
            cJSON_AddItemToArray(toks, e);
        }
    cJSON *seqs = cJSON_AddArrayToObject(root, "sequences");
    for (int64_t b = 0; b < r->B; b++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "b", (double)b);
        cJSON_AddNumberToObject(e, "count", (double)r->count[b]);
        cJSON_AddItemToObject(e, "sum", json_value(&r->sum[b]));
        cJSON_AddItemToObject(e, "mean", json_value(&r->mean[b]));
        cJSON_AddItemToArray(seqs, e);
    }
    cJSON_AddItemToObject(root, "token_mean", json_value(&r->token_mean));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "ref: out of memory printing JSON");
    puts(text);
    free(text);
    return LP_OK;
}

/* What the progress callback watches: the mapped inputs, and whether to draw. */
typedef struct ref_watch {
    const lp_tfile *f[3];
    int tty;
    const char *unit;   /* what progress counts: "tokens", then "gradient rows" */
} ref_watch;

/* Called by the reference after each chunk of rows (phase 1, where the logits are read). An input
 * that changed (lp_tfile_verify: a caught fault, a new size or mtime) ends the run here, with the
 * error line the end of lp_cmd_ref would print: nothing has been written yet (the output is
 * created only after the computation), and a terabyte run on a truncated file should not go on
 * reading zeros for hours. The process is the CLI's, so _exit from a worker thread is fine. */
static void progress(void *user, int64_t done, int64_t total)
{
    const ref_watch *w = user;
    for (int i = 0; i < 3; i++) {
        lp_error e = {LP_OK, ""};
        if (lp_tfile_verify(w->f[i], &e) != LP_OK) {
            if (w->tty) fputs("\r\033[K", stderr);
            _exit(lp_cli_fail("ref", &e));
        }
    }
    if (w->tty)
        fprintf(stderr, "\rlpcert ref: %lld / %lld %s", (long long)done, (long long)total, w->unit);
}

int lp_cmd_ref(int argc, char **argv)
{
    ref_opts o;
    memset(&o, 0, sizeof o);
    o.pb = (lp_problem)LP_PROBLEM_INIT;
    int rc = parse_opts(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lp_error err = {LP_OK, ""};
    lp_tfile *fl = NULL, *fy = NULL, *fm = NULL;
    const lp_tensor *lt = NULL, *yt = NULL, *mt = NULL;
    uint8_t *mask = NULL;
    lp_ref_result res;
    memset(&res, 0, sizeof res);
    lp_status s = lp_tensor_open_spec(&fl, &lt, o.logits, &err);
    if (s == LP_OK) s = lp_tensor_open_spec(&fy, &yt, o.labels, &err);
    if (s == LP_OK && o.mask) s = lp_tensor_open_spec(&fm, &mt, o.mask, &err);
    if (s == LP_OK) s = bind_inputs(&o, lt, yt, mt, &mask, &err);
    lp_ref_options ropt = LP_REF_OPTIONS_INIT;
    ropt.threads = o.threads;
    ropt.slow = o.slow;
    ropt.formats = o.formats;
    ref_watch watch = {{fl, fy, fm}, isatty(fileno(stderr)), "tokens"};
    ropt.progress = progress;
    ropt.user = &watch;
    const double nlogits = (double)o.pb.shape.B * (double)o.pb.shape.T * (double)o.pb.shape.V;
    if (s == LP_OK && !o.slow && (!o.formats || (o.formats & LP_REF_DD)) && nlogits > 0x1p26)
        fprintf(stderr, "lpcert ref: %.3g logits with the double-double outputs (*.hi, *.lo), which "
                "only the MPFR loop gives (about 1e6 logits/s per thread); --formats "
                "f64,f32,f16,bf16 takes the fast path\n", nlogits);
    /* The logits are a read-only mapping (lp_tensor_open_spec): rows done are released. */
    const int computed = s == LP_OK;
    if (s == LP_OK) s = lp_ref_compute_mapped(&res, &o.pb, &ropt, fl, &err);
    if (watch.tty) fputs("\r\033[K", stderr);
    /* An input that shrank or changed while it was read (its tail then read as zeros: main.c's
     * lp_mapguard_install) voids the results: that error wins over any other, nothing is written. */
    if (computed) {
        lp_error ev = {LP_OK, ""};
        lp_status sv = lp_tfile_verify(fl, &ev);
        if (sv == LP_OK) sv = lp_tfile_verify(fy, &ev);
        if (sv == LP_OK) sv = lp_tfile_verify(fm, &ev);
        if (sv != LP_OK) {
            s = sv;
            err = ev;
        }
    }
    lp_grad_stats gst;
    memset(&gst, 0, sizeof gst);
    const lp_tfile *in[3] = {fl, fy, fm};
    watch.unit = "gradient rows";
    if (s == LP_OK && o.out) s = write_out(&o, &res, &ropt, &gst, in, &err);
    if (watch.tty && o.grad) fputs("\r\033[K", stderr);
    if (s == LP_OK && o.json) s = print_json(&o, &res, &err);
    if (s == LP_OK) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        int64_t counted = 0;
        for (int64_t b = 0; b < res.B; b++) counted += res.count[b];
        fprintf(stderr,
                "lpcert ref: B=%lld T=%lld V=%lld %s shift=%s: %lld scored, %lld counted, "
                "%lld fast, %lld MPFR fallbacks, %lld sum/mean fallbacks, "
                "%lld Ziv retries, max %ld bits, %.3f s%s%s\n",
                (long long)o.pb.shape.B, (long long)o.pb.shape.T, (long long)o.pb.shape.V,
                lp_format_name(o.pb.fmt), o.pb.shift == LP_SHIFT_NEXT ? "next" : "none",
                (long long)(res.B * res.Ts), (long long)counted, (long long)res.stats.fast,
                (long long)res.stats.fallback, (long long)res.stats.seq_fallback,
                (long long)res.stats.retries,
                res.stats.max_prec, secs, o.out ? " -> " : "", o.out ? o.out : "");
        if (o.grad)
            fprintf(stderr, "lpcert ref: grad %s: %lld rows, %lld elements in counted rows, %lld "
                    "exact, %lld fast, %lld MPFR, max %ld bits\n", lp_reduction_name(o.red),
                    (long long)gst.rows, (long long)gst.elements, (long long)gst.exact,
                    (long long)gst.fast, (long long)gst.fallback, gst.max_prec);
    }
    lp_ref_result_free(&res);
    free(mask);
    lp_tfile_close(fl);
    lp_tfile_close(fy);
    lp_tfile_close(fm);
    return s == LP_OK ? LP_EXIT_OK : lp_cli_fail("ref", &err);
}
