/* cli/cmd_certify.c: `lpcert certify`: a kernel loaded from a shared library through the plugin
 * ABI (include/lpcert_plugin.h), or a built-in one, run on every family of the standard suite and
 * then on seeded random problems for a given time, compared with the exact reference, and checked
 * for batch invariance. Same report, certificate and exit codes as `lpcert check`. */
#include <inttypes.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_rng.h"
#include "lp_suite.h"
#include "lpcert_version.h"

static const char usage[] =
    "usage: lpcert certify --plugin LIB.so[:SYMBOL] | --kernel NAME  [options]\n"
    "\n"
    "Loads a kernel through the plugin ABI of include/lpcert_plugin.h (SYMBOL: its entry function,\n"
    "default lp_plugin_entry), or takes a built-in kernel (--kernel twopass_f32), and runs it on\n"
    "every family of the standard suite in the formats it declares, then on random problems for\n"
    "--seconds, comparing every output with the exact reference (the report of `lpcert check`).\n"
    "Batch invariance: sequences are rerun alone and at another position of a larger batch; their\n"
    "bits must not change.\n"
    "\n"
    "options:\n"
    "  --seconds N            random problems after the suite, for about N seconds (default 10; 0:\n"
    "                         none)\n"
    "  --seed N               seed of the suite and the random problems (default 0x5eed)\n"
    "  --suite FILE           use this suite file (lpcert gen) instead of building the standard one\n"
    "  --cases GLOB[,GLOB..]  only the suite cases whose names match one ('normal', 'neginf/f32/*')\n"
    "  --batch-invariance require|report|off   (default require)\n"
    "  --json FILE, --certificate FILE, --quiet   as for lpcert check\n"
    "%s"
    "\n"
    "Cases the kernel cannot take (a logits format it does not declare; temperature without\n"
    "LP_PLUGIN_CAP_TEMPERATURE) are skipped and listed. Exit 0 pass, 1 fail, 2 usage or input error\n"
    "(a library that does not load, a missing symbol, an invalid description).\n";

typedef struct certify_opts {
    const char *plugin, *kernel, *suite, *glob, *json, *cert;
    double seconds;
    uint64_t seed;
    int quiet;
    ck_options ck;
} certify_opts;

static int parse(certify_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf(usage, ck_options_help);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--quiet") == 0) { o->quiet = 1; continue; }
        if (strncmp(a, "--", 2) != 0) return lp_cli_usage("certify", "unexpected argument '%s'", a);
        if (i + 1 >= argc) return lp_cli_usage("certify", "option %s needs a value", a);
        const char *v = argv[++i];
        int rc;
        if (lp_cli_opt_common(&o->ck, "certify", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
            continue;
        }
        if (strcmp(a, "--plugin") == 0) o->plugin = v;
        else if (strcmp(a, "--kernel") == 0) o->kernel = v;
        else if (strcmp(a, "--suite") == 0) o->suite = v;
        else if (strcmp(a, "--cases") == 0) o->glob = v;
        else if (strcmp(a, "--json") == 0) o->json = v;
        else if (strcmp(a, "--certificate") == 0) o->cert = v;
        else if (lp_cli_opt_seconds_seed(&o->seconds, &o->seed, "certify", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
        } else if (strcmp(a, "--batch-invariance") == 0) {
            if (!ck_batch_parse(&o->ck.batch, v))
                return lp_cli_usage("certify", "--batch-invariance: '%s' is not require, report or off", v);
        } else {
            return lp_cli_usage("certify", "unknown option '%s'", a);
        }
    }
    if (!o->plugin == !o->kernel) return lp_cli_usage("certify", "give one of --plugin and --kernel");
    return lp_cli_opt_finish(&o->ck, "certify");
}

/* ---- random problems ---------------------------------------------------------------------------- */

typedef struct rcase {
    lp_problem pb;
    void *logits;
    int64_t *labels;
    uint8_t *mask;
} rcase;

static void rcase_free(rcase *c)
{
    free(c->logits);
    free(c->labels);
    free(c->mask);
    memset(c, 0, sizeof *c);
}

/* A seeded random problem: sizes, value scales, -inf masking, peaked rows, ignored and masked
 * positions (with NaN/inf in some masked rows: leak traps), all-masked sequences, shift, tau. */
static lp_status random_case(rcase *c, lp_rng *rng, unsigned fmts, int temp_ok, lp_error *err)
{
    static const int64_t Vs[] = {1, 2, 3, 7, 16, 50, 128, 333, 1000};
    static const double scales[] = {0.5, 2, 8, 32};
    static const double taus[] = {0.5, 0.7, 2, 0.01};
    memset(c, 0, sizeof *c);
    int nf = 0, fl[LP_NFORMATS];
    for (int f = 0; f < LP_NFORMATS; f++)
        if (fmts & (1u << f)) fl[nf++] = f;
    const lp_format fmt = (lp_format)fl[lp_rng_below(rng, (uint64_t)nf)];
    const int64_t B = 1 + (int64_t)lp_rng_below(rng, 4), T = 2 + (int64_t)lp_rng_below(rng, 32);
    const int64_t V = Vs[lp_rng_below(rng, sizeof Vs / sizeof Vs[0])];
    const double scale = scales[lp_rng_below(rng, 4)];
    const size_t n = (size_t)(B * T * V);
    c->logits = malloc(n * (size_t)lp_format_get(fmt)->bytes);
    c->labels = malloc((size_t)(B * T) * sizeof *c->labels);
    c->mask = malloc((size_t)(B * T));
    if (!c->logits || !c->labels || !c->mask) {
        rcase_free(c);
        return lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for a random problem");
    }
    lp_problem *pb = &c->pb;
    *pb = (lp_problem)LP_PROBLEM_INIT;
    pb->shape = (lp_shape){B, T, V};
    pb->fmt = fmt;
    pb->logits = c->logits;
    pb->labels = c->labels;
    pb->shift = lp_rng_below(rng, 5) == 0 ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
    pb->empty_mean = lp_rng_below(rng, 2) ? LP_EMPTY_ZERO : LP_EMPTY_NAN;
    if (temp_ok && lp_rng_below(rng, 5) == 0) pb->temperature = taus[lp_rng_below(rng, 4)];
    const int neginf = lp_rng_below(rng, 4) == 0, peaked = lp_rng_below(rng, 4) == 0;
    const int use_mask = lp_rng_below(rng, 3) == 0, traps = lp_rng_below(rng, 4) == 0;
    for (size_t i = 0; i < n; i++) {
        double x = scale * lp_rng_normal(rng);
        if (neginf && lp_rng_below(rng, 4) == 0) x = -HUGE_VAL;
        lp_store_f64(c->logits, fmt, i, x);
    }
    for (int64_t b = 0; b < B; b++) {
        const int empty = lp_rng_below(rng, 10) == 0;
        for (int64_t t = 0; t < T; t++) {
            int64_t y = (int64_t)lp_rng_below(rng, (uint64_t)V);
            if (empty || lp_rng_below(rng, 8) == 0) y = -100;
            c->labels[b * T + t] = y;
            c->mask[b * T + t] = use_mask && lp_rng_below(rng, 6) == 0 ? 0 : 1;
        }
    }
    if (use_mask) pb->mask = c->mask;
    const int64_t Ts = lp_problem_ts(pb);
    for (int64_t b = 0; b < B; b++)
        for (int64_t ts = 0; ts < Ts; ts++) {
            const size_t row = (size_t)((b * T + ts) * V);
            const int64_t y = c->labels[b * T + lp_problem_label_t(pb, ts)];
            if (peaked && y >= 0) lp_store_f64(c->logits, fmt, row + (size_t)y, 12 + 4 * lp_rng_unif(rng));
            if (traps && !lp_problem_counted(pb, b, ts) && lp_rng_below(rng, 3) == 0) {
                const uint64_t k = lp_rng_below(rng, 3);
                const double v = k == 0 ? (double)NAN : k == 1 ? HUGE_VAL : -HUGE_VAL;
                lp_store_f64(c->logits, fmt, row + (k == 2 ? 0 : (size_t)lp_rng_below(rng, (uint64_t)V)), v);
            }
        }
    return LP_OK;
}

/* ---- the run ------------------------------------------------------------------------------------ */

typedef struct certify_ctx {
    certify_opts *o;
    ck_kernel k;
    ck_run r;
    int64_t skipped, ran;
} certify_ctx;

static lp_status one_case(certify_ctx *x, const char *name, const char *cls, const lp_problem *pb,
                          const lp_ref_result *given_ref, uint64_t bseed, lp_error *err)
{
    int ran;
    lp_status s = ck_kernel_judge(&x->r, &x->k, name, cls, pb, given_ref, bseed, &ran, err);
    if (s == LP_OK && ran == 1) x->ran++;
    if (s == LP_OK && ran == 0) x->skipped++;
    return s;
}

static void digest_case(ck_sha *h, const char *name, const lp_problem *pb)
{
    char buf[400];
    int n = snprintf(buf, sizeof buf, "%s|%lld,%lld,%lld|%s|%d|%lld|%a|%d|", name,
                     (long long)pb->shape.B, (long long)pb->shape.T, (long long)pb->shape.V,
                     lp_format_name(pb->fmt), (int)pb->shift, (long long)pb->ignore_index,
                     pb->temperature, (int)pb->empty_mean);
    ck_sha_update(h, buf, (size_t)n);
    const size_t bt = (size_t)(pb->shape.B * pb->shape.T);
    ck_sha_update(h, pb->logits, bt * (size_t)pb->shape.V * (size_t)lp_format_get(pb->fmt)->bytes);
    ck_sha_update(h, pb->labels, bt * (pb->label_type == LP_I64 ? 8 : 4));
    if (pb->mask) ck_sha_update(h, pb->mask, bt);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(const char *what, size_t i, size_t n)
{
    if (isatty(fileno(stderr)))
        fprintf(stderr, "\rlpcert certify: %s %zu / %zu\033[K", what, i, n);
}

int lp_cmd_certify(int argc, char **argv)
{
    certify_opts o;
    memset(&o, 0, sizeof o);
    o.seconds = 10;
    o.seed = 0x5eed;
    ck_options_init(&o.ck);
    int rc = parse(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    lp_error err = {LP_OK, ""};
    certify_ctx x;
    memset(&x, 0, sizeof x);
    x.o = &o;
    ck_header h;
    memset(&h, 0, sizeof h);
    ck_suite su;
    memset(&su, 0, sizeof su);
    lp_case_list cases = {NULL, 0, 0};
    char sdesc[700], cdesc[900], digest[65] = "", store[2][4096];
    lp_status s = o.plugin ? ck_kernel_open_plugin(&x.k, o.plugin, &err)
                           : ck_kernel_open_builtin(&x.k, o.kernel, &err);
    if (s == LP_OK) s = ck_run_init(&x.r, &o.ck, &err);
    if (s == LP_OK && o.plugin) {
        h.files[0].role = "plugin";
        h.files[0].path = strcpy(store[0], x.k.path);
        s = ck_sha256_file(h.files[0].sha256, x.k.path, &err);
        h.nfiles = 1;
    }
    const lp_plugin *p = x.k.p;
    const double t0 = now_s();
    if (s == LP_OK && o.suite) {
        s = ck_suite_open(&su, o.suite, o.glob, &err);
        if (s == LP_OK) {
            h.files[h.nfiles].role = "suite";
            h.files[h.nfiles].path = strcpy(store[1], o.suite);
            s = ck_sha256_file(h.files[h.nfiles].sha256, o.suite, &err);
            h.nfiles++;
        }
        for (size_t i = 0; i < su.n && s == LP_OK; i++) {
            lp_ref_result ref;
            progress("suite case", i, su.n);
            if (!(p->formats & LP_PLUGIN_FMT(su.c[i].pb.fmt))) {
                s = one_case(&x, su.c[i].name, su.c[i].cls, &su.c[i].pb, NULL, o.seed + i, &err);
                continue;   /* skipped inside, no reference needed */
            }
            s = ck_suite_ref(&ref, &su, i, 0, o.ck.threads, &err);
            if (s == LP_OK) s = one_case(&x, su.c[i].name, su.c[i].cls, &su.c[i].pb, &ref, o.seed + i, &err);
            lp_ref_result_free(&ref);
        }
        snprintf(sdesc, sizeof sdesc, "%s: %zu cases%s%s", o.suite, su.n, o.glob ? " matching " : "",
                 o.glob ? o.glob : "");
    } else if (s == LP_OK) {
        s = lp_suite_build(&cases, NULL, 0xf, o.seed, &err);
        ck_sha *dg = ck_sha_new();
        size_t kept = 0, total = cases.n;
        for (size_t i = 0; i < cases.n && s == LP_OK; i++) {
            const lp_case *c = &cases.v[i];
            if (!ck_glob_match(o.glob, c->name)) continue;
            kept++;
            digest_case(dg, c->name, &c->pb);
            char cls[96];
            snprintf(cls, sizeof cls, "%s/%s", c->family, lp_format_name(c->pb.fmt));
            progress("suite case", i, cases.n);
            s = one_case(&x, c->name, cls, &c->pb, NULL, o.seed + i, &err);
        }
        ck_sha_final(dg, digest);
        if (s == LP_OK && kept == 0) s = lp_fail(&err, LP_ERR_USAGE, "certify: no case matches --cases '%s'", o.glob);
        snprintf(sdesc, sizeof sdesc,
                 "the standard suite of lpcert " LPCERT_VERSION_STRING " (lpcert gen --seed %" PRIu64
                 "), %zu of %zu cases in all four formats%s%s; inputs digest sha256 %s", o.seed,
                 kept, total, o.glob ? " matching " : "", o.glob ? o.glob : "", digest);
    }
    /* random problems */
    int64_t nrand = 0;
    if (s == LP_OK && o.seconds > 0) {
        lp_rng rng;
        lp_rng_init(&rng, o.seed ^ 0x72616e646f6du);
        const double t1 = now_s();
        while (s == LP_OK && (nrand == 0 || now_s() - t1 < o.seconds)) {
            rcase rc_;
            s = random_case(&rc_, &rng, p->formats, (p->caps & LP_PLUGIN_CAP_TEMPERATURE) != 0, &err);
            if (s != LP_OK) break;
            char name[64], cls[32];
            snprintf(name, sizeof name, "random/%s/%" PRId64, lp_format_name(rc_.pb.fmt), nrand);
            snprintf(cls, sizeof cls, "random/%s", lp_format_name(rc_.pb.fmt));
            s = one_case(&x, name, cls, &rc_.pb, NULL, lp_rng_next(&rng), &err);
            rcase_free(&rc_);
            nrand++;
            if (isatty(fileno(stderr)))
                fprintf(stderr, "\rlpcert certify: random problem %" PRId64 " (%.0f s)\033[K", nrand,
                        now_s() - t1);
        }
    }
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    if (s == LP_OK) {
        char fmts[40] = "", outs[120] = "";
        for (int f = 0; f < LP_NFORMATS; f++)
            if (p->formats & LP_PLUGIN_FMT(f)) {
                size_t l = strlen(fmts);
                snprintf(fmts + l, sizeof fmts - l, "%s%s", l ? " " : "", lp_format_name((lp_format)f));
            }
        const int32_t decl[CK_NOUT] = {p->logp_format, p->sum_format, p->mean_format};
        for (int k = 0; k < CK_NOUT; k++)
            if (p->outputs & (1u << k)) {
                size_t l = strlen(outs);
                snprintf(outs + l, sizeof outs - l, "%s%s (%s)", l ? ", " : "", ck_tensor_name(k),
                         decl[k] < 0 ? "as logits" : lp_format_name((lp_format)decl[k]));
            }
        snprintf(cdesc, sizeof cdesc, "%s %s: %s%s%s; reads %s; writes %s; ABI %u",
                 o.plugin ? "plugin" : "built-in kernel", x.k.spec, p->name,
                 p->description ? ": " : "", p->description ? p->description : "", fmts, outs,
                 p->abi_version);
        h.command = "certify";
        h.suite = sdesc;
        h.candidate = cdesc;
        snprintf(h.extra[h.nextra++], sizeof h.extra[0], "seed %" PRIu64 "; %" PRId64 " random "
                 "problems in %.1f s; %" PRId64 " cases run, %" PRId64 " skipped; %.1f s in all",
                 o.seed, nrand, o.seconds, x.ran, x.skipped, now_s() - t0);
        if (!(p->caps & LP_PLUGIN_CAP_MASK))
            snprintf(h.extra[h.nextra++], sizeof h.extra[0], "explicit masks folded into the labels "
                     "(no LP_PLUGIN_CAP_MASK)");
        if (!(p->caps & LP_PLUGIN_CAP_IGNORE_INDEX))
            snprintf(h.extra[h.nextra++], sizeof h.extra[0], "ignore_index passed as -100 (no "
                     "LP_PLUGIN_CAP_IGNORE_INDEX)");
        if (!(p->caps & LP_PLUGIN_CAP_SHIFT_NONE))
            snprintf(h.extra[h.nextra++], sizeof h.extra[0], "shift-none problems passed as shift "
                     "next with one more row (no LP_PLUGIN_CAP_SHIFT_NONE)");
        if (o.quiet) {
            printf("lpcert certify: %s\n", ck_run_failed(&x.r) ? "FAIL" : "PASS");
        } else {
            ck_report_table(stdout, &x.r, &h);
        }
        fflush(stdout);
        if (o.json) s = ck_report_json(o.json, &x.r, &h, &err);
        if (s == LP_OK && o.cert) s = ck_report_certificate(o.cert, &x.r, &h, &err);
        rc = s != LP_OK ? lp_cli_fail("certify", &err) : ck_run_failed(&x.r) ? LP_EXIT_FAIL : LP_EXIT_OK;
    } else {
        rc = lp_cli_fail("certify", &err);
    }
    ck_run_free(&x.r);
    lp_case_list_free(&cases);
    ck_suite_close(&su);
    ck_kernel_close(&x.k);
    return rc;
}
