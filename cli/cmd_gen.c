/* cli/cmd_gen.c: `lpcert gen`: export families of the standard suite as one safetensors file with
 * the exact expected results beside the inputs (SPEC B), for users to run their own kernel on. */
#include <inttypes.h>
#include <unistd.h>

#include "cli.h"
#include "lp_format.h"
#include "lp_suite.h"
#include "lp_suite_io.h"
#include "lp_tensor.h"
#include "lpcert_version.h"

static const char usage[] =
    "usage: lpcert gen [--family NAME[,NAME...]|all] [--dtype f64|f32|f16|bf16|all[,...]]\n"
    "                  [--seed N] [--threads N] " LP_CLI_SAMPLING_USAGE "\n"
    "                  [--grad token|sum|mean|token_mean]\n"
    "                  --out SUITE.safetensors\n"
    "       lpcert gen --list\n"
    "\n"
    "Writes the cases of the families named (default: all) in the storage formats named (default:\n"
    "all four) as a safetensors suite. --family and --dtype take a comma-separated list, and a\n"
    "repeated one adds to the list (--family normal --family peaked is --family normal,peaked);\n"
    "the cases come in the order of --list whatever the order given. Any other option given twice\n"
    "is an error. Per case <name> = <family>/<dtype>/<k>:\n"
    "  case/<name>/logits [B, T, V] (the storage format), case/<name>/labels [B, T] I64,\n"
    "  case/<name>/mask [B, T] U8 (when the case has one),\n"
    "  case/<name>/expected/<output>: the exact results, named as `lpcert ref` names them\n"
    "  (logp.f64 ... logp.bf16, logp.hi, logp.lo, counted, sum.<fmt>, mean.<fmt>, count,\n"
    "  token_mean.<fmt>).\n"
    "Parameters are in __metadata__: case/<name>/shift, ignore_index, temperature (hex float),\n"
    "empty_mean, family, dtype; and generator, seed, cases. The same seed gives the same file.\n"
    "--softcap C, --top-k K, --top-p P, --min-p Q: every case is processed (SPEC A7; the expected\n"
    "values are processed log-probs) and carries them in __metadata__ (case/<name>/softcap, top_k,\n"
    "top_p, min_p; absent keys: not set).\n"
    "--grad R adds the exact gradient of reduction R with respect to the logits (SPEC A8):\n"
    "  case/<name>/expected/grad.f64, grad.f32, grad.f16, grad.bf16 [B, T, V] and grad.lo (the\n"
    "  double-double's low part), metadata case/<name>/grad_of = R; `lpcert check SUITE CANDIDATE\n"
    "  --grad-of R` then judges case/<name>/grad of a candidate file against them.\n";

typedef struct gen_opts {
    const char *out;
    uint64_t families;    /* bit i: lp_family_at(i) (the table has fewer than 64); 0: all */
    unsigned fmt_mask;    /* bit f: format f; 0: none named yet (all four) */
    uint64_t seed;
    int threads, list;
    lp_sampling sampling; /* SPEC A7, applied to every case */
    int grad;             /* --grad given: red */
    lp_reduction red;
} gen_opts;

/* Calls one(o, item) on each item of a comma-separated list; an empty item is an error. */
static int each_item(gen_opts *o, const char *opt, const char *v,
                     int (*one)(gen_opts *o, const char *item))
{
    char buf[256];
    if (strlen(v) >= sizeof buf) return lp_cli_usage("gen", "%s: list longer than %zu characters",
                                                     opt, sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", v);
    for (char *p = buf;;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (!*p) return lp_cli_usage("gen", "%s: empty name in the list '%s'", opt, v);
        int rc = one(o, p);
        if (rc != LP_EXIT_OK) return rc;
        if (!c) return LP_EXIT_OK;
        p = c + 1;
    }
}

static int one_family(gen_opts *o, const char *name)
{
    const size_t n = lp_family_count();
    if (strcmp(name, "all") == 0) {
        o->families = n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
        return LP_EXIT_OK;
    }
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(lp_family_at(i)->name, name) == 0) {
            o->families |= (uint64_t)1 << i;
            return LP_EXIT_OK;
        }
    return lp_cli_usage("gen", "--family: unknown family '%s' (lpcert gen --list)", name);
}

static int one_dtype(gen_opts *o, const char *name)
{
    lp_format f;
    if (strcmp(name, "all") == 0) o->fmt_mask = 0xf;
    else if (lp_format_parse(&f, name)) o->fmt_mask |= 1u << f;
    else return lp_cli_usage("gen", "--dtype: '%s' is not f64, f32, f16, bf16 or all", name);
    return LP_EXIT_OK;
}

static int parse(gen_opts *o, int argc, char **argv)
{
    static const char *const flags[] = {"--list", NULL};
    static const char *const lists[] = {"--family", "--dtype", NULL};   /* accumulate */
    lp_cli_args p = LP_CLI_ARGS("gen", argc, argv, flags, lists, 0);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            fputs(usage, stdout);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--list") == 0) {
            o->list = 1;
            continue;
        }
        if (strcmp(a, "--family") == 0) {
            rc = each_item(o, a, v, one_family);
        } else if (strcmp(a, "--dtype") == 0) {
            rc = each_item(o, a, v, one_dtype);
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            o->seed = strtoull(v, &end, 0);
            if (*v == '-' || *end || end == v)
                return lp_cli_usage("gen", "--seed: '%s' is not a non-negative integer", v);
        } else if (strcmp(a, "--threads") == 0) {
            int64_t n;
            if (!lp_parse_int64(&n, v) || n < 0 || n > 64)
                return lp_cli_usage("gen", "--threads: '%s' is not an integer in [0, 64]", v);
            o->threads = (int)n;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (lp_cli_opt_sampling(&o->sampling, "gen", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
        } else if (strcmp(a, "--grad") == 0) {
            if (!lp_reduction_parse(&o->red, v))
                return lp_cli_usage("gen", "--grad: '%s' is not token, sum, mean or token_mean", v);
            o->grad = 1;
        } else {
            return lp_cli_usage("gen", "unknown option '%s'", a);
        }
        if (rc != LP_EXIT_OK) return rc;
    }
    if (k < 0) return rc;
    if (!o->list && !o->out) return lp_cli_usage("gen", "--out is required");
    if (!o->fmt_mask) o->fmt_mask = 0xf;
    return LP_EXIT_OK;
}

/* The cases of the chosen families, in the order of the family table (lp_suite_build's order:
 * each family has its own random stream, so a subset gives the same cases as in the whole). */
static lp_status build(lp_case_list *cases, char *names, size_t cap, const gen_opts *o,
                       lp_error *err)
{
    const size_t n = lp_family_count();
    const uint64_t all = n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
    if (o->families == 0 || o->families == all) {
        snprintf(names, cap, "all families");
        return lp_suite_build(cases, NULL, o->fmt_mask, o->seed, err);
    }
    size_t used = 0;
    names[0] = '\0';
    for (size_t i = 0; i < n && i < 64; i++) {
        if (!(o->families & ((uint64_t)1 << i))) continue;
        const char *name = lp_family_at(i)->name;
        if (used < cap)
            used += (size_t)snprintf(names + used, cap - used, "%s%s", used ? "," : "", name);
        lp_status s = lp_suite_build(cases, name, o->fmt_mask, o->seed, err);
        if (s != LP_OK) return s;
    }
    return LP_OK;
}

/* ---- expected gradients (--grad R) -----------------------------------------------------------
 * The exact gradient of reduction red on pb (lp_grad_compute) as expected values of case <name>:
 * case/<name>/expected/grad.f64, grad.f32, grad.f16, grad.bf16 [B, T, V] and grad.lo (the
 * double-double's low part, F64; its high part is grad.f64), and metadata case/<name>/grad_of
 * (check/grad.c's ck_grad_check_stored reads them). The arrays live in *keep until
 * lp_suite_grad_free, after the writer has finished. */
typedef struct lp_suite_grad { void *col[5]; int64_t V, T; } lp_suite_grad;

static int grad_cols_sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V,
                          lp_error *err)
{
    (void)err;
    lp_suite_grad *k = user;
    const size_t base = ((size_t)b * (size_t)k->T + (size_t)t) * (size_t)V;
    for (int64_t i = 0; i < V; i++) {
        const size_t at = base + (size_t)i;
        ((double *)k->col[0])[at] = g[i].f64;
        ((float *)k->col[1])[at] = g[i].f32;
        ((uint16_t *)k->col[2])[at] = g[i].f16;
        ((uint16_t *)k->col[3])[at] = g[i].bf16;
        ((double *)k->col[4])[at] = g[i].dd.lo;
    }
    return 0;
}

static lp_status lp_suite_write_grad(lp_twriter *w, const char *name, const lp_problem *pb,
                              lp_reduction red, const lp_ref_options *opt, lp_suite_grad **keep,
                              lp_error *err)
{
    static const char *const col[5] = {"grad.f64", "grad.f32", "grad.f16", "grad.bf16", "grad.lo"};
    static const lp_dtype dt[5] = {LP_DT_F64, LP_DT_F32, LP_DT_F16, LP_DT_BF16, LP_DT_F64};
    *keep = NULL;
    size_t n;
    if (!lp_mul_size(&n, (size_t)pb->shape.B * (size_t)pb->shape.T, (size_t)pb->shape.V))
        return lp_fail(err, LP_ERR_INPUT, "case %s: the gradient's size overflows", name);
    lp_suite_grad *k = calloc(1, sizeof *k);
    if (!k) return lp_fail(err, LP_ERR_NOMEM, "case %s: out of memory for its gradient", name);
    *keep = k;
    k->V = pb->shape.V;
    k->T = pb->shape.T;
    for (int j = 0; j < 5; j++)
        if (!(k->col[j] = malloc((n ? n : 1) * (size_t)lp_dtype_size(dt[j]))))
            return lp_fail(err, LP_ERR_NOMEM, "case %s: out of memory for its gradient", name);
    lp_status s = lp_grad_compute(pb, red, opt, grad_cols_sink, k, NULL, err);
    char pre[300], key[340];
    lp_suite_expected_prefix(pre, sizeof pre, name);
    const int64_t d3[3] = {pb->shape.B, pb->shape.T, pb->shape.V};
    for (int j = 0; j < 5 && s == LP_OK; j++) {
        snprintf(key, sizeof key, "%s%s", pre, col[j]);
        s = lp_twriter_add(w, key, dt[j], 3, d3, k->col[j], err);
    }
    snprintf(key, sizeof key, "case/%s/grad_of", name);
    if (s == LP_OK) s = lp_twriter_meta(w, key, lp_reduction_name(red), err);
    return s;
}

static void lp_suite_grad_free(lp_suite_grad *keep)
{
    if (!keep) return;
    for (int j = 0; j < 5; j++) free(keep->col[j]);
    free(keep);
}

int lp_cmd_gen(int argc, char **argv)
{
    gen_opts o = {NULL, 0, 0, 0x5eed, 0, 0, {0, 0, 0, 0}, 0, LP_RED_TOKEN};
    int rc = parse(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    if (o.list) {
        for (size_t i = 0; i < lp_family_count(); i++)
            printf("%-13s %s\n", lp_family_at(i)->name, lp_family_at(i)->probes);
        return LP_EXIT_OK;
    }
    lp_error err = {LP_OK, ""};
    lp_case_list cases = {NULL, 0, 0};
    char fams[512];
    lp_status s = build(&cases, fams, sizeof fams, &o, &err);
    lp_ref_result *res = calloc(cases.n ? cases.n : 1, sizeof *res);
    lp_ref_cols **keep = calloc(cases.n ? cases.n : 1, sizeof *keep);
    lp_suite_grad **gkeep = calloc(cases.n ? cases.n : 1, sizeof *gkeep);
    if (s == LP_OK && (!res || !keep || !gkeep)) s = lp_fail(&err, LP_ERR_NOMEM, "gen: out of memory");
    lp_twriter *w = NULL;
    if (s == LP_OK) s = lp_twriter_new(&w, o.out, &err);
    lp_ref_options ropt = LP_REF_OPTIONS_INIT;
    ropt.threads = o.threads;
    int64_t tokens = 0;
    char name[256];
    for (size_t i = 0; i < cases.n && s == LP_OK; i++) {
        lp_case *c = &cases.v[i];
        c->pb.sampling = o.sampling;
        const lp_problem *pb = &c->pb;
        s = lp_ref_compute_opts(&res[i], pb, &ropt, &err);
        if (s != LP_OK) break;
        tokens += res[i].B * res[i].Ts;
        s = lp_suite_write_case(w, c->name, c->family, pb, &err);
        lp_suite_expected_prefix(name, sizeof name, c->name);
        if (s == LP_OK) s = lp_ref_tensors_add(w, name, &res[i], &keep[i], &err);
        if (s == LP_OK && o.grad) s = lp_suite_write_grad(w, c->name, pb, o.red, &ropt, &gkeep[i], &err);
        if (isatty(fileno(stderr)))
            fprintf(stderr, "\rlpcert gen: %zu / %zu cases", i + 1, cases.n);
    }
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    if (s == LP_OK) s = lp_suite_write_header(w, "lpcert gen " LPCERT_VERSION_STRING, o.seed, cases.n, &err);
    if (s == LP_OK) s = lp_twriter_finish(w, &err);
    else lp_twriter_abort(w);
    if (s == LP_OK)
        fprintf(stderr, "lpcert gen: %zu cases (%s, seed %" PRIu64 "), %" PRId64 " scored tokens -> %s\n",
                cases.n, fams, o.seed, tokens, o.out);
    for (size_t i = 0; i < cases.n && res && keep; i++) {
        lp_ref_result_free(&res[i]);
        lp_ref_cols_free(keep[i]);
        if (gkeep) lp_suite_grad_free(gkeep[i]);
    }
    free(res);
    free(keep);
    free(gkeep);
    lp_case_list_free(&cases);
    return s == LP_OK ? LP_EXIT_OK : lp_cli_fail("gen", &err);
}
