/* cli/cmd_check.c: `lpcert check`: a file of a kernel's outputs against the exact reference
 *. Two routes: a suite (lpcert gen) and a candidate file of outputs per case; or one
 * case given as logits and labels files with .npy (or safetensors) outputs. Every input is
 * validated before anything is compared; the report goes to stdout (and --json, --certificate);
 * exit 0 pass, 1 fail, 2 usage or input error. */
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lp_bind.h"
#include "lp_buf.h"
#include "lp_check_internal.h"
#include "lp_check_shard.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_suite.h"
#include "lp_tensor.h"
#include "lpcert_check.h"

static const char usage[] =
    "usage: lpcert check SUITE.safetensors CANDIDATE.safetensors [options]\n"
    "       lpcert check SUITE.safetensors --kernel NAME [--save-candidate OUT.safetensors]\n"
    "       lpcert check --logits L --labels Y [--mask M] [--dtype f64|f32|f16|bf16]\n"
    "                    [--shift next|none] [--ignore-index N] [--temperature T]\n"
    "                    " LP_CLI_SAMPLING_USAGE "\n"
    "                    [--logp P.npy] [--sum S.npy] [--mean M.npy] [options]\n"
    "       lpcert check --logits L --labels Y [...] --grad G[:tensor] --grad-of R [options]\n"
    "       lpcert check SUITE.safetensors CANDIDATE.safetensors --grad-of R [options]\n"
    "\n"
    "Compares a kernel's outputs with the exact reference. SUITE comes from `lpcert gen` (or holds\n"
    "case/<name>/logits, labels [, mask] and parameters in __metadata__: expected values are then\n"
    "computed). CANDIDATE holds case/<name>/logp [B, T_s], case/<name>/sum [B], case/<name>/mean\n"
    "[B], any subset, each in F64, F32, F16 or BF16: the tensor's dtype says which format's\n"
    "reference it is measured against. Values at positions that do not count are ignored.\n"
    "The second route checks one case: logits [B, T, V] or [T, V] and labels [B, T] (or [T]), files\n"
    "as for `lpcert ref` (F[:tensor]; --dtype as there: a '<u2' logits array is read as bf16 with\n"
    "--dtype bf16); outputs as .npy (a '<u2' array is read as bf16 bit patterns) or safetensors\n"
    "F:tensor.\n"
    "\n"
    "Reports per case class (family/dtype) and output (token, sum, mean): values compared, %%\n"
    "correctly rounded, max and median ulp error, max absolute error, max steps from the correctly\n"
    "rounded value, class mismatches, NaN leaks; the masking and empty-mean conventions followed;\n"
    "diagnoses (NaN leaks, wrong shift, temperature, empty-mean convention); the worst values with\n"
    "a reproducer.\n"
    "\n"
    "options:\n"
    "  --cases GLOB[,GLOB..]  only the suite cases whose names match one of the globs (a prefix\n"
    "                         such as 'normal' or 'normal/f32' works too)\n"
    "  --recompute            compute the reference instead of reading the suite's expected values\n"
    "  --kernel NAME          the candidate is the built-in kernel NAME (impl/), run on the suite\n"
    "                         (--kernel list, or lpcert kernels: the names and their contracts)\n"
    "  --save-candidate FILE  with --kernel: write its outputs as a candidate file\n"
    "  --json FILE            the report as JSON\n"
    "  --certificate FILE     a Markdown certificate: inputs with SHA-256, bounds, figures, verdict\n"
    "  --quiet                no table on stdout (the verdict line only)\n"
    "  --failures-only        the table lists the failing groups only\n"
    "  --grad G[:tensor]      judge a gradient [B, T, V] (the logits' shape; F64, F32, F16, BF16)\n"
    "                         of the reduction --grad-of with respect to the logits (SPEC A8):\n"
    "                         per element ulp, abs, rel, row_rel (err / the row's max |g|) and\n"
    "                         scale_rel (err tau / w); rows that score nothing must be 0\n"
    "  --grad-of R            token, sum, mean or token_mean (required with gradients); with\n"
    "                         SUITE CANDIDATE: the candidate holds case/<name>/grad\n"
    "  --grad-negate          the candidate is the gradient of the loss -R (F.cross_entropy's\n"
    "                         backward): compared negated (exact)\n"
    "  --max-row-rel X        gradients: an element passes when err / max_j |g_j| <= X (or\n"
    "                         within --max-ulp / --max-abs when given). With no bound given, the\n"
    "                         default: per group max scale_rel <= max(4 x that of the plain\n"
    "                         softmax - onehot kernel in f32 (f64 logits: f64) rounded to the\n"
    "                         candidate's format, 2 u_F; sampling parameters: on the rows\n"
    "                         processed on the exact kept set, times the softcap's derivative);\n"
    "                         --no-default-bound: classes only\n"
    "  --shard I/N --partial FILE   judge only block I of N of the cases (1 <= I <= N) and write\n"
    "                         the partial result to FILE; `lpcert merge` of the N partials gives\n"
    "                         this command's report, JSON and certificate byte for byte. With\n"
    "                         --logits (one case): block I of N of its sequences, with --slow\n"
    "%s"
    "\n"
    "Exit 0: every bound holds (the default one when none is given); 1: some value fails; 2: usage or input error (one line on stderr:\n"
    "a candidate tensor of the wrong shape or dtype, a missing case, a corrupt file).\n";

typedef struct check_opts {
    const char *suite, *cand;
    const char *logits, *labels, *mask, *outs[CK_NOUT];
    const char *glob, *json, *cert, *kernel, *save, *partial;
    int shard_i, shard_n;      /* --shard I/N (0: not sharded) */
    int recompute, quiet, have_dtype, failures_only;
    const char *grad;          /* --grad: a candidate gradient [B, T, V] */
    int have_red, negate;      /* --grad-of given; --grad-negate */
    lp_reduction red;
    double max_row_rel;
    int argc;
    char **argv;
    char repro[4096];
    lp_format dtype;
    lp_problem pb;
    ck_options ck;
} check_opts;

static int parse(check_opts *o, int argc, char **argv)
{
    static const char *const flags[] = {"--recompute", "--quiet", "--failures-only",
                                        "--no-default-bound", "--slow", "--grad-negate", NULL};
    static const char *const layered[] = {"--max-ulp", "--max-abs", NULL};   /* per output */
    lp_cli_args p = LP_CLI_ARGS("check", argc, argv, flags, layered, 2);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            printf(usage, ck_options_help);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--recompute") == 0) { o->recompute = 1; continue; }
        if (strcmp(a, "--quiet") == 0) { o->quiet = 1; continue; }
        if (strcmp(a, "--failures-only") == 0) { o->failures_only = 1; continue; }
        if (strcmp(a, "--grad-negate") == 0) { o->negate = 1; continue; }
        if (lp_cli_opt_flag(&o->ck, a)) continue;
        if (strncmp(a, "--", 2) != 0) {   /* SUITE, then CANDIDATE */
            if (!o->suite) o->suite = a;
            else o->cand = a;
            continue;
        }
        if (lp_cli_opt_common(&o->ck, "check", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
            continue;
        }
        if (strcmp(a, "--logits") == 0) o->logits = v;
        else if (strcmp(a, "--labels") == 0) o->labels = v;
        else if (strcmp(a, "--mask") == 0) o->mask = v;
        else if (strcmp(a, "--logp") == 0) o->outs[CK_TOKEN] = v;
        else if (strcmp(a, "--sum") == 0) o->outs[CK_SUM] = v;
        else if (strcmp(a, "--mean") == 0) o->outs[CK_MEAN] = v;
        else if (strcmp(a, "--cases") == 0) o->glob = v;
        else if (strcmp(a, "--grad") == 0) o->grad = v;
        else if (strcmp(a, "--grad-of") == 0) {
            if (!lp_reduction_parse(&o->red, v))
                return lp_cli_usage("check", "--grad-of: '%s' is not token, sum, mean or token_mean", v);
            o->have_red = 1;
        } else if (strcmp(a, "--max-row-rel") == 0) {
            if (!lp_parse_double(&o->max_row_rel, v) || !(o->max_row_rel >= 0))
                return lp_cli_usage("check", "--max-row-rel: '%s' is not a non-negative number", v);
        }
        else if (strcmp(a, "--kernel") == 0) {
            if (strcmp(v, "list") == 0) exit(lp_cli_kernels_print(stdout));
            o->kernel = v;
        }
        else if (strcmp(a, "--save-candidate") == 0) o->save = v;
        else if (strcmp(a, "--partial") == 0) o->partial = v;
        else if (strcmp(a, "--shard") == 0) {
            if (!ck_shard_parse(v, &o->shard_i, &o->shard_n))
                return lp_cli_usage("check", "--shard: '%s' is not I/N with 1 <= I <= N", v);
        }
        else if (strcmp(a, "--json") == 0) o->json = v;
        else if (strcmp(a, "--certificate") == 0) o->cert = v;
        else if (strcmp(a, "--dtype") == 0) {
            if (!lp_format_parse(&o->dtype, v))
                return lp_cli_usage("check", "--dtype: '%s' is not one of f64, f32, f16, bf16", v);
            o->have_dtype = 1;
        } else if (strcmp(a, "--shift") == 0) {
            if (strcmp(v, "next") == 0) o->pb.shift = LP_SHIFT_NEXT;
            else if (strcmp(v, "none") == 0) o->pb.shift = LP_SHIFT_NONE;
            else return lp_cli_usage("check", "--shift: '%s' is not next or none", v);
        } else if (strcmp(a, "--ignore-index") == 0) {
            if (!lp_parse_int64(&o->pb.ignore_index, v))
                return lp_cli_usage("check", "--ignore-index: '%s' is not an integer", v);
        } else if (strcmp(a, "--temperature") == 0) {
            if (!lp_parse_double(&o->pb.temperature, v) || !(o->pb.temperature > 0))
                return lp_cli_usage("check", "--temperature: '%s' is not a positive finite number", v);
        } else if (lp_cli_opt_sampling(&o->pb.sampling, "check", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
        } else {
            return lp_cli_usage("check", "unknown option '%s'", a);
        }
    }
    if (k < 0) return rc;
    const int single = o->logits || o->labels;
    if (!o->shard_n != !o->partial) return lp_cli_usage("check", "--shard and --partial go together");
    if (o->shard_n && (o->save || o->json || o->cert))
        return lp_cli_usage("check", "--shard goes without --save-candidate, --json, --certificate "
                            "(lpcert merge writes the reports)");
    if (o->shard_n && (o->have_red || o->grad))
        return lp_cli_usage("check", "--shard does not apply to gradients (not implemented)");
    if (o->shard_n && single && !o->ck.slow)
        return lp_cli_usage("check", "--shard on one case (--logits) splits its sequences and needs "
                            "--slow: every value measured exactly, so the shards merge into the "
                            "report of `check ... --slow` byte for byte (the same figures as "
                            "without --slow; lp_check_shard.h, ROWS)");
    if ((o->grad || o->negate || o->max_row_rel >= 0) && !o->have_red)
        return lp_cli_usage("check", "gradients need --grad-of token|sum|mean|token_mean");
    if (o->have_red) {
        if (o->kernel || o->save) return lp_cli_usage("check", "--kernel does not judge gradients");
        if (o->outs[0] || o->outs[1] || o->outs[2])
            return lp_cli_usage("check", "--grad judges a gradient alone: no --logp, --sum, --mean");
        if (single && !o->grad) return lp_cli_usage("check", "--grad-of needs --grad G with --logits");
        if (!single && o->grad) return lp_cli_usage("check", "--grad goes with --logits/--labels");
        if (single) {
            if (p.npos) return lp_cli_usage("check", "give either SUITE CANDIDATE or --logits/--labels, not both");
            if (!o->logits || !o->labels) return lp_cli_usage("check", "--logits and --labels go together");
            if (o->glob || o->recompute)
                return lp_cli_usage("check", "--cases and --recompute apply to a suite");
        } else {
            if (p.npos != 2) return lp_cli_usage("check", "SUITE and CANDIDATE are required");
            if (o->mask || o->have_dtype)
                return lp_cli_usage("check", "--mask and --dtype go with --logits/--labels");
        }
        return lp_cli_opt_finish(&o->ck, "check");
    }
    if (single && o->kernel) return lp_cli_usage("check", "--kernel goes with a suite");
    if (single) {
        if (p.npos) return lp_cli_usage("check", "give either SUITE CANDIDATE or --logits/--labels, not both");
        if (!o->logits || !o->labels) return lp_cli_usage("check", "--logits and --labels go together");
        if (!o->outs[0] && !o->outs[1] && !o->outs[2])
            return lp_cli_usage("check", "at least one of --logp, --sum, --mean is required");
        if (o->glob || o->recompute)
            return lp_cli_usage("check", "--cases and --recompute apply to a suite");
    } else if (o->have_dtype) {
        return lp_cli_usage("check", "--dtype goes with --logits/--labels");
    } else if (lp_sampling_on(&o->pb.sampling)) {
        return lp_cli_usage("check", "--softcap, --top-k, --top-p, --min-p go with --logits/--labels "
                            "(a suite carries them per case)");
    } else if (o->kernel) {
        if (p.npos != 1) return lp_cli_usage("check", "--kernel NAME takes the place of CANDIDATE: give SUITE only");
    } else {
        if (o->save) return lp_cli_usage("check", "--save-candidate goes with --kernel");
        if (p.npos != 2) return lp_cli_usage("check", "SUITE and CANDIDATE are required");
        if (o->mask || o->outs[0] || o->outs[1] || o->outs[2])
            return lp_cli_usage("check", "--mask, --logp, --sum, --mean go with --logits/--labels");
    }
    if (o->ck.empty != CK_EMPTY_CASE)
        o->pb.empty_mean = o->ck.empty == CK_EMPTY_NAN ? LP_EMPTY_NAN : LP_EMPTY_ZERO;
    return lp_cli_opt_finish(&o->ck, "check");
}

/* The file part of a "path[:tensor]" spec. */
static void spec_path(char *dst, size_t cap, const char *spec)
{
    struct stat st;
    const char *colon = strrchr(spec, ':');
    if (stat(spec, &st) == 0 || !colon) snprintf(dst, cap, "%s", spec);
    else snprintf(dst, cap, "%.*s", (int)(colon - spec), spec);
}

static void progress(size_t i, size_t n)
{
    if (isatty(fileno(stderr))) fprintf(stderr, "\rlpcert check: %zu / %zu cases", i, n);
}

static int finish(check_opts *o, ck_run *r, ck_header *h, lp_error *err)
{
    lp_status s = LP_OK;
    ck_repro_command(o->repro, sizeof o->repro, "check", o->argc, o->argv);
    h->repro = o->repro;
    h->repro_cases = o->logits == NULL;   /* a suite: one case by --cases */
    h->failures_only = o->failures_only;
    if (o->quiet) {
        char bt[320];
        ck_options_bound_text(bt, sizeof bt, &r->opt);
        printf("lpcert check: %s (%s)\n", ck_run_failed(r) ? "FAIL" : "PASS", bt);
    } else {
        ck_report_table(stdout, r, h);
    }
    fflush(stdout);
    if (o->json) s = ck_report_json(o->json, r, h, err);
    if (s == LP_OK && o->cert) s = ck_report_certificate(o->cert, r, h, err);
    if (s != LP_OK) return lp_cli_fail("check", err);
    return ck_run_failed(r) ? LP_EXIT_FAIL : LP_EXIT_OK;
}

/* --shard: the partial of this shard (lp_check_shard.h): total cases of the unsharded run; rows:
 * the case's sequences when the shard is a block of them (ROWS), else 0; cand_what and fm: the
 * candidate line, rebuilt by the merge from every shard's formats. A suite's repro names the case
 * (--cases), one case's does not. */
static lp_status write_partial(check_opts *o, ck_run *r, ck_header *h, int64_t total, int64_t rows,
                               const char *cand_what, const unsigned fm[CK_NOUT], lp_error *err)
{
    ck_shard_info si;
    memset(&si, 0, sizeof si);
    si.i = o->shard_i;
    si.n = o->shard_n;
    si.total = total;
    si.rows = rows;
    si.quiet = o->quiet;
    si.cand_what = cand_what;
    memcpy(si.fm, fm, sizeof si.fm);
    ck_repro_command(o->repro, sizeof o->repro, "check", o->argc, o->argv);
    h->repro = o->repro;
    h->repro_cases = o->logits == NULL;
    h->failures_only = o->failures_only;
    return ck_partial_write(o->partial, r, h, &si, err);
}

typedef struct saved {        /* a kernel output kept for --save-candidate */
    char name[200];
    lp_dtype dt;
    int nd;
    int64_t dims[2];
    void *data;
} saved;

typedef struct save_list {
    saved *v;
    size_t n, cap;
} save_list;

static lp_status save_outputs(save_list *l, const ck_case *c, const ck_outputs *out, lp_error *err)
{
    const int64_t B = c->pb.shape.B, Ts = lp_problem_ts(&c->pb);
    for (int k = 0; k < CK_NOUT; k++) {
        const ck_array *a = &out->a[k];
        if (!a->present) continue;
        if (!LP_VEC_RESERVE(l->v, l->cap, l->n + 1, 64))
            return lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
        saved *sv = &l->v[l->n];
        sv->data = malloc((size_t)(a->n ? a->n : 1) * (size_t)lp_format_get(a->fmt)->bytes);
        if (!sv->data) return lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
        l->n++;
        for (int64_t i = 0; i < a->n; i++) lp_store_f64(sv->data, a->fmt, (size_t)i, a->v[i]);
        snprintf(sv->name, sizeof sv->name, "case/%s/%s", c->name, ck_tensor_name(k));
        sv->dt = lp_dtype_of_format(a->fmt);
        sv->nd = k == CK_TOKEN ? 2 : 1;
        sv->dims[0] = B;
        sv->dims[1] = Ts;
    }
    return LP_OK;
}

static lp_status save_write(const save_list *l, const char *path, const char *kernel, lp_error *err)
{
    lp_twriter *w = NULL;
    lp_status s = lp_twriter_new(&w, path, err);
    for (size_t i = 0; i < l->n && s == LP_OK; i++)
        s = lp_twriter_add(w, l->v[i].name, l->v[i].dt, l->v[i].nd, l->v[i].dims, l->v[i].data, err);
    if (s == LP_OK) s = lp_twriter_meta(w, "generator", "lpcert check --kernel", err);
    if (s == LP_OK) s = lp_twriter_meta(w, "kernel", kernel, err);
    if (s == LP_OK) return lp_twriter_finish(w, err);
    lp_twriter_abort(w);
    return s;
}

/* s, or the error of the first of the n files (NULL ones skipped) that changed while it was read
 * (lp_tfile_verify): a truncated or rewritten input voids the verdict whatever else happened. */
static lp_status verify_inputs(lp_status s, lp_error *err, lp_tfile *const *f, int n)
{
    for (int i = 0; i < n; i++) {
        lp_error ev = {LP_OK, ""};
        if (lp_tfile_verify(f[i], &ev) != LP_OK) {
            *err = ev;
            return ev.status;
        }
    }
    return s;
}

static int check_suite(check_opts *o)
{
    lp_error err = {LP_OK, ""};
    ck_suite su;
    lp_tfile *cf = NULL;
    ck_run r;
    ck_header h;
    memset(&h, 0, sizeof h);
    memset(&r, 0, sizeof r);
    char paths[2][4096], sdesc[600], cdesc[600];
    unsigned fm[CK_NOUT] = {0, 0, 0};
    int rc = LP_EXIT_USAGE;
    ck_kernel kern;
    memset(&kern, 0, sizeof kern);
    save_list sl = {NULL, 0, 0};
    lp_status s = ck_suite_open(&su, o->suite, o->glob, &err);
    if (s == LP_OK && o->kernel) s = ck_kernel_open_builtin(&kern, o->kernel, &err);
    if (s == LP_OK && !o->kernel) s = lp_tfile_open(&cf, o->cand, &err);
    if (s == LP_OK && !o->kernel) s = ck_candidate_validate(cf, o->cand, &su, &err);
    if (s == LP_OK) s = ck_header_add_file(&h, "suite", o->suite, paths[0], &err);
    if (s == LP_OK && !o->kernel) s = ck_header_add_file(&h, "candidate", o->cand, paths[1], &err);
    if (s == LP_OK) s = ck_run_init(&r, &o->ck, &err);
    ck_suite sub = su;   /* --shard: its block of the cases (lp_check_shard.h) */
    if (s == LP_OK && o->shard_n) {
        size_t lo, hi;
        ck_shard_range(su.n, o->shard_i, o->shard_n, &lo, &hi);
        sub.c = su.c + lo;
        sub.n = hi - lo;
    }
    if (s == LP_OK && !o->kernel)
        s = ck_suite_compare(&r, &sub, cf, o->cand, o->recompute, fm, progress, &err);
    for (size_t i = 0; o->kernel && i < sub.n && s == LP_OK; i++) {   /* --kernel: run it here */
        const ck_case *c = &sub.c[i];
        lp_ref_result ref;
        ck_outputs cand;
        progress(i, sub.n);
        s = ck_suite_ref(&ref, &sub, i, o->recompute, o->ck.threads, &err);
        if (s != LP_OK) break;
        const char *skip;
        int kfail;
        char kmsg[256];
        s = ck_kernel_run(&kern, &c->pb, &cand, &skip, &kfail, kmsg, sizeof kmsg, &err);
        if (s == LP_OK && (skip || kfail)) {
            if (skip) ck_run_diag(&r, CK_D_SKIP, "case %s: %s", c->name, skip);
            else ck_run_diag(&r, CK_D_KERNEL_ERR, "case %s: %s", c->name, kmsg);
            lp_ref_result_free(&ref);
            continue;
        }
        if (s == LP_OK && o->save) s = save_outputs(&sl, c, &cand, &err);
        if (s == LP_OK) s = ck_judge(&r, c->name, c->cls, &c->pb, &ref, &cand, fm, &err);
        ck_outputs_free(&cand);
        lp_ref_result_free(&ref);
    }
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    lp_tfile *const inputs[2] = {su.f, cf};
    s = verify_inputs(s, &err, inputs, 2);
    if (s == LP_OK) {
        ck_suite_text(sdesc, sizeof sdesc, &su, o->suite, o->glob);
        if (o->kernel) {
            char kd[300];
            snprintf(kd, sizeof kd, "built-in kernel %s (%s)", o->kernel,
                     kern.p->description ? kern.p->description : "");
            ck_cand_text(cdesc, sizeof cdesc, kd, fm);
        } else {
            ck_cand_text(cdesc, sizeof cdesc, o->cand, fm);
        }
        h.command = "check";
        h.suite = sdesc;
        h.candidate = cdesc;
        if (o->recompute) snprintf(h.extra[h.nextra++], sizeof h.extra[0], "reference recomputed by lpcert");
        if (o->save) s = save_write(&sl, o->save, o->kernel, &err);
        if (s == LP_OK && o->shard_n) {
            char kd[300];
            snprintf(kd, sizeof kd, "built-in kernel %s (%s)", o->kernel ? o->kernel : "",
                     o->kernel && kern.p->description ? kern.p->description : "");
            s = write_partial(o, &r, &h, (int64_t)su.n, 0, o->kernel ? kd : o->cand, fm, &err);
            if (s == LP_OK)
                printf("lpcert check: shard %d/%d: %zu of %zu cases judged into %s\n", o->shard_i, o->shard_n,
                       sub.n, su.n, o->partial);
            rc = s == LP_OK ? LP_EXIT_OK : lp_cli_fail("check", &err);
        } else {
            rc = s == LP_OK ? finish(o, &r, &h, &err) : lp_cli_fail("check", &err);
        }
    } else {
        rc = lp_cli_fail("check", &err);
    }
    for (size_t i = 0; i < sl.n; i++) free(sl.v[i].data);
    free(sl.v);
    ck_kernel_close(&kern);
    ck_run_free(&r);
    lp_tfile_close(cf);
    ck_suite_close(&su);
    return rc;
}

static int check_single(check_opts *o)
{
    lp_error err = {LP_OK, ""};
    lp_tfile *fl = NULL, *fy = NULL, *fm = NULL, *fo[CK_NOUT] = {NULL, NULL, NULL};
    const lp_tensor *lt = NULL, *yt = NULL, *mt = NULL, *ot[CK_NOUT] = {NULL, NULL, NULL};
    uint8_t *mask = NULL;
    ck_outputs cand;
    memset(&cand, 0, sizeof cand);
    ck_run r;
    memset(&r, 0, sizeof r);
    ck_header h;
    memset(&h, 0, sizeof h);
    char store[6][4096], tmp[4096], sdesc[600], cdesc[600];
    int rc = LP_EXIT_USAGE;
    lp_problem *pb = &o->pb;
    lp_status s = lp_tensor_open_spec(&fl, &lt, o->logits, &err);
    if (s == LP_OK) s = lp_tensor_open_spec(&fy, &yt, o->labels, &err);
    if (s == LP_OK && o->mask) s = lp_tensor_open_spec(&fm, &mt, o->mask, &err);
    for (int k = 0; k < CK_NOUT && s == LP_OK; k++)
        if (o->outs[k]) s = lp_tensor_open_spec(&fo[k], &ot[k], o->outs[k], &err);
    if (s == LP_OK) {
        const lp_bind_names what = {o->logits, o->labels, o->mask};
        s = lp_bind(pb, &mask, lt, yt, mt, o->have_dtype ? &o->dtype : NULL, &what, &err);
    }
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    for (int k = 0; k < CK_NOUT && s == LP_OK; k++) {
        if (!ot[k]) continue;
        const int64_t dims[2] = {B, Ts};
        char hint[160] = "";
        if (k == CK_TOKEN)
            snprintf(hint, sizeof hint, " ([B, T_s], T_s = %s with --shift %s)",
                     pb->shift == LP_SHIFT_NEXT ? "T-1" : "T", pb->shift == LP_SHIFT_NEXT ? "next" : "none");
        s = ck_output_load(&cand.a[k], ot[k], k == CK_TOKEN ? 2 : 1, dims, lt->ndim == 2, o->outs[k],
                           hint, &err);
    }
    if (s == LP_OK) {
        spec_path(tmp, sizeof tmp, o->logits);
        s = ck_header_add_file(&h, "logits", tmp, store[0], &err);
    }
    if (s == LP_OK) {
        spec_path(tmp, sizeof tmp, o->labels);
        s = ck_header_add_file(&h, "labels", tmp, store[1], &err);
    }
    if (s == LP_OK && o->mask) {
        spec_path(tmp, sizeof tmp, o->mask);
        s = ck_header_add_file(&h, "mask", tmp, store[2], &err);
    }
    for (int k = 0; k < CK_NOUT && s == LP_OK; k++)
        if (o->outs[k]) {
            spec_path(tmp, sizeof tmp, o->outs[k]);
            s = ck_header_add_file(&h, ck_tensor_name(k), tmp, store[3 + k], &err);
        }
    if (s == LP_OK) s = ck_run_init(&r, &o->ck, &err);
    char cls[64];
    snprintf(cls, sizeof cls, "input/%s", lp_format_name(pb->fmt));
    unsigned fmo[CK_NOUT] = {0, 0, 0};
    size_t lo = 0, hi = (size_t)B;
    if (o->shard_n) ck_shard_range((size_t)B, o->shard_i, o->shard_n, &lo, &hi);
    if (s == LP_OK && !o->shard_n) {
        /* one case: the route of lp_check_one (check/judge.c, ck_judge_single) */
        s = ck_judge_single(&r, "input", cls, pb, &cand, fmo, &err);
    } else if (s == LP_OK && hi > lo) {
        /* --shard: sequences [lo, hi) as a problem of their own (lp_check_shard.h, ROWS) */
        const lp_problem sub = lp_problem_seqs(pb, (int64_t)lo, (int64_t)(hi - lo));
        ck_outputs sc = cand;   /* views into cand's arrays */
        for (int k = 0; k < CK_NOUT; k++) {
            if (!sc.a[k].present) continue;
            const int64_t per = k == CK_TOKEN ? Ts : 1;
            sc.a[k].v += (int64_t)lo * per;
            sc.a[k].n = (int64_t)(hi - lo) * per;
        }
        r.b0 = (int64_t)lo;
        r.rows = 1;
        s = ck_judge_single(&r, "input", cls, &sub, &sc, fmo, &err);
    }
    lp_tfile *const inputs[3 + CK_NOUT] = {fl, fy, fm, fo[0], fo[1], fo[2]};
    s = verify_inputs(s, &err, inputs, 3 + CK_NOUT);
    if (s == LP_OK) {
        char samp[160];
        lp_cli_sampling_text(samp, sizeof samp, &pb->sampling);
        snprintf(sdesc, sizeof sdesc, "one case: logits %s [B=%lld, T=%lld, V=%lld] %s, shift %s, "
                 "ignore_index %lld, temperature %g%s; reference computed by lpcert", o->logits,
                 (long long)pb->shape.B, (long long)pb->shape.T, (long long)pb->shape.V,
                 lp_format_name(pb->fmt), pb->shift == LP_SHIFT_NEXT ? "next" : "none",
                 (long long)pb->ignore_index, pb->temperature, samp);
        static const char cwhat[] = "outputs given by --logp/--sum/--mean";
        ck_cand_text(cdesc, sizeof cdesc, cwhat, fmo);
        h.command = "check";
        h.suite = sdesc;
        h.candidate = cdesc;
        if (o->shard_n) {
            s = write_partial(o, &r, &h, 1, B, cwhat, fmo, &err);
            if (s == LP_OK)
                printf("lpcert check: shard %d/%d: sequences [%zu, %zu) of %lld judged into %s\n",
                       o->shard_i, o->shard_n, lo, hi, (long long)B, o->partial);
            rc = s == LP_OK ? LP_EXIT_OK : lp_cli_fail("check", &err);
        } else {
            rc = finish(o, &r, &h, &err);
        }
    } else {
        rc = lp_cli_fail("check", &err);
    }
    ck_run_free(&r);
    ck_outputs_free(&cand);
    free(mask);
    lp_tfile_close(fl);
    lp_tfile_close(fy);
    lp_tfile_close(fm);
    for (int k = 0; k < CK_NOUT; k++) lp_tfile_close(fo[k]);
    return rc;
}

/* ---- gradients (SPEC A8) ---------------------------------------------------------------------- */

/* The candidate gradient tensor t of problem pb: a float dtype ('<u2' .npy: bf16), shape
 * [B, T, V] (or [T, V] when the logits were [T, V]). */
static lp_status grad_tensor(lp_format *fmt, const lp_tensor *t, const lp_problem *pb, int logits_2d,
                             const char *what, lp_error *err)
{
    if (t->dtype == LP_DT_U16) *fmt = LP_BF16;
    else if (!lp_dtype_format(fmt, t->dtype))
        return lp_fail(err, LP_ERR_INPUT, "%s: dtype %s is not a float format (F64, F32, F16, BF16)",
                       what, lp_dtype_name(t->dtype));
    const int64_t want[3] = {pb->shape.B, pb->shape.T, pb->shape.V};
    int ok = t->ndim == 3 && t->dims[0] == want[0] && t->dims[1] == want[1] && t->dims[2] == want[2];
    if (!ok && logits_2d && pb->shape.B == 1)
        ok = t->ndim == 2 && t->dims[0] == want[1] && t->dims[1] == want[2];
    if (!ok) {
        char got[200], exp[200];
        lp_tensor_shape_str(got, sizeof got, t->ndim, t->dims);
        lp_tensor_shape_str(exp, sizeof exp, 3, want);
        return lp_fail(err, LP_ERR_INPUT, "%s: shape %s, expected %s (the logits' shape)", what, got,
                       exp);
    }
    return LP_OK;
}

static lp_status grad_new(lp_grad_check **gc, const check_opts *o, lp_error *err)
{
    lp_grad_check_options go = LP_GRAD_CHECK_OPTIONS_INIT;
    go.reduction = o->red;
    go.max_ulp = o->ck.max_ulp[0];
    go.max_abs = o->ck.max_abs[0];
    go.max_row_rel = o->max_row_rel;
    go.negate = o->negate;
    go.threads = o->ck.threads;
    go.slow = o->ck.slow;
    go.no_default_bound = o->ck.no_default;
    return lp_grad_check_new(gc, &go, err);
}

/* A note "role: path (sha256 ...)" for the reports. */
static lp_status grad_note_file(lp_grad_check *gc, const char *role, const char *spec, lp_error *err)
{
    ck_header h;
    memset(&h, 0, sizeof h);
    char path[4096], store[4096], line[600];
    spec_path(path, sizeof path, spec);
    lp_status s = ck_header_add_file(&h, role, path, store, err);
    if (s != LP_OK) return s;
    snprintf(line, sizeof line, "%-11s %.300s (sha256 %s)", role, spec, h.files[0].sha256);
    lp_grad_check_note(gc, line);
    return LP_OK;
}

static int grad_finish(const check_opts *o, lp_grad_check *gc, lp_error *err)
{
    lp_status s = LP_OK;
    const int failed = lp_grad_check_failed(gc);
    if (o->quiet) printf("lpcert check --grad: %s\n", failed ? "FAIL" : "PASS");
    else lp_grad_check_write_table(stdout, gc);
    fflush(stdout);
    if (o->json) s = lp_grad_check_write_json(gc, o->json, err);
    if (s == LP_OK && o->cert) s = lp_grad_check_write_certificate(gc, o->cert, err);
    if (s != LP_OK) return lp_cli_fail("check", err);
    return failed ? LP_EXIT_FAIL : LP_EXIT_OK;
}

static int check_grad_single(check_opts *o)
{
    lp_error err = {LP_OK, ""};
    lp_tfile *fl = NULL, *fy = NULL, *fm = NULL, *fg = NULL;
    const lp_tensor *lt = NULL, *yt = NULL, *mt = NULL, *gt = NULL;
    uint8_t *mask = NULL;
    lp_grad_check *gc = NULL;
    lp_problem *pb = &o->pb;
    lp_format gf = LP_F32;
    int rc;
    lp_status s = lp_tensor_open_spec(&fl, &lt, o->logits, &err);
    if (s == LP_OK) s = lp_tensor_open_spec(&fy, &yt, o->labels, &err);
    if (s == LP_OK && o->mask) s = lp_tensor_open_spec(&fm, &mt, o->mask, &err);
    if (s == LP_OK) s = lp_tensor_open_spec(&fg, &gt, o->grad, &err);
    if (s == LP_OK) {
        const lp_bind_names what = {o->logits, o->labels, o->mask};
        s = lp_bind(pb, &mask, lt, yt, mt, o->have_dtype ? &o->dtype : NULL, &what, &err);
    }
    if (s == LP_OK) s = grad_tensor(&gf, gt, pb, lt->ndim == 2, o->grad, &err);
    if (s == LP_OK) s = grad_new(&gc, o, &err);
    if (s == LP_OK) s = grad_note_file(gc, "logits", o->logits, &err);
    if (s == LP_OK) s = grad_note_file(gc, "labels", o->labels, &err);
    if (s == LP_OK && o->mask) s = grad_note_file(gc, "mask", o->mask, &err);
    if (s == LP_OK) s = grad_note_file(gc, "candidate", o->grad, &err);
    if (s == LP_OK) {
        char line[512], cls[64], samp[160];
        lp_cli_sampling_text(samp, sizeof samp, &pb->sampling);
        snprintf(line, sizeof line, "problem:    [B=%lld, T=%lld, V=%lld] %s logits, shift %s, "
                 "ignore_index %lld, temperature %g%s; candidate %s; reference computed by lpcert",
                 (long long)pb->shape.B, (long long)pb->shape.T, (long long)pb->shape.V,
                 lp_format_name(pb->fmt), pb->shift == LP_SHIFT_NEXT ? "next" : "none",
                 (long long)pb->ignore_index, pb->temperature, samp, lp_format_name(gf));
        lp_grad_check_note(gc, line);
        snprintf(cls, sizeof cls, "input/%s", lp_format_name(pb->fmt));
        s = lp_grad_check_problem(gc, "input", cls, pb, gf, gt->data, &err);
    }
    lp_tfile *const inputs[4] = {fl, fy, fm, fg};
    s = verify_inputs(s, &err, inputs, 4);
    rc = s == LP_OK ? grad_finish(o, gc, &err) : lp_cli_fail("check", &err);
    lp_grad_check_free(gc);
    free(mask);
    lp_tfile_close(fl);
    lp_tfile_close(fy);
    lp_tfile_close(fm);
    lp_tfile_close(fg);
    return rc;
}

/* SUITE CANDIDATE --grad-of R: every kept case of the suite against case/<name>/grad of the
 * candidate (all validated before anything is compared); the suite's stored gradients (lpcert gen
 * --grad R: case/<name>/grad.<fmt>, grad.dd_lo, and the reduction in grad_of) are the reference
 * when they are there for R, unless --recompute. */
static int check_grad_suite(check_opts *o)
{
    lp_error err = {LP_OK, ""};
    ck_suite su;
    lp_tfile *cf = NULL;
    lp_grad_check *gc = NULL;
    int rc;
    memset(&su, 0, sizeof su);
    lp_status s = ck_suite_open(&su, o->suite, o->glob, &err);
    if (s == LP_OK) s = lp_tfile_open(&cf, o->cand, &err);
    const lp_tensor **gts = calloc(su.n + 1, sizeof *gts);
    lp_format *gfs = calloc(su.n + 1, sizeof *gfs);
    if (s == LP_OK && (!gts || !gfs)) s = lp_fail(&err, LP_ERR_NOMEM, "check: out of memory");
    for (size_t i = 0; i < su.n && s == LP_OK; i++) {
        char nm[300];
        snprintf(nm, sizeof nm, "case/%s/grad", su.c[i].name);
        gts[i] = lp_tfile_find(cf, nm);
        if (!gts[i]) {
            s = lp_fail(&err, LP_ERR_INPUT, "%s: no tensor %s (the gradient of case %s)", o->cand,
                        nm, su.c[i].name);
            break;
        }
        char what[400];
        snprintf(what, sizeof what, "%s:%s", o->cand, nm);
        s = grad_tensor(&gfs[i], gts[i], &su.c[i].pb, 0, what, &err);
    }
    if (s == LP_OK) s = grad_new(&gc, o, &err);
    if (s == LP_OK) s = grad_note_file(gc, "suite", o->suite, &err);
    if (s == LP_OK) s = grad_note_file(gc, "candidate", o->cand, &err);
    int64_t stored = 0;
    for (size_t i = 0; i < su.n && s == LP_OK; i++) {
        progress(i, su.n);
        int used = 0;
        if (!o->recompute)
            s = ck_grad_check_stored(gc, su.f, su.c[i].name, su.c[i].cls, &su.c[i].pb, gfs[i],
                                     gts[i]->data, &used, &err);
        if (s == LP_OK && !used)
            s = lp_grad_check_problem(gc, su.c[i].name, su.c[i].cls, &su.c[i].pb, gfs[i],
                                      gts[i]->data, &err);
        stored += used;
    }
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    if (s == LP_OK) {
        char line[200];
        snprintf(line, sizeof line, "reference:  %lld of %zu cases from the suite's stored "
                 "gradients, the others computed by lpcert", (long long)stored, su.n);
        lp_grad_check_note(gc, line);
    }
    lp_tfile *const inputs[2] = {su.f, cf};
    s = verify_inputs(s, &err, inputs, 2);
    rc = s == LP_OK ? grad_finish(o, gc, &err) : lp_cli_fail("check", &err);
    lp_grad_check_free(gc);
    free(gts);
    free(gfs);
    lp_tfile_close(cf);
    ck_suite_close(&su);
    return rc;
}

int lp_cmd_check(int argc, char **argv)
{
    check_opts o;
    memset(&o, 0, sizeof o);
    o.pb = (lp_problem)LP_PROBLEM_INIT;
    ck_options_init(&o.ck);
    o.argc = argc;
    o.argv = argv;
    o.max_row_rel = -1;
    int rc = parse(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    if (o.have_red) return o.logits ? check_grad_single(&o) : check_grad_suite(&o);
    return o.logits ? check_single(&o) : check_suite(&o);
}
