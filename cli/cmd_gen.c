/* cli/cmd_gen.c: `lpcert gen`: export families of the standard suite as one safetensors file with
 * the exact expected results beside the inputs (DESIGN B4), for users to run their own kernel on. */
#include <inttypes.h>
#include <unistd.h>

#include "cli.h"
#include "lp_format.h"
#include "lp_suite.h"
#include "lp_suite_io.h"
#include "lp_tensor.h"
#include "lpcert_version.h"

static const char usage[] =
    "usage: lpcert gen [--family NAME|all] [--dtype f64|f32|f16|bf16|all] [--seed N]\n"
    "                  [--threads N] --out SUITE.safetensors\n"
    "       lpcert gen --list\n"
    "\n"
    "Writes the cases of one family (default: all) in one storage format (default: all four) as a\n"
    "safetensors suite. Per case <name> = <family>/<dtype>/<k>:\n"
    "  case/<name>/logits [B, T, V] (the storage format), case/<name>/labels [B, T] I64,\n"
    "  case/<name>/mask [B, T] U8 (when the case has one),\n"
    "  case/<name>/expected/<output>: the exact results, named as `lpcert ref` names them\n"
    "  (logp.f64 ... logp.bf16, logp.hi, logp.lo, counted, sum.<fmt>, mean.<fmt>, count,\n"
    "  token_mean.<fmt>).\n"
    "Parameters are in __metadata__: case/<name>/shift, ignore_index, temperature (hex float),\n"
    "empty_mean, family, dtype; and generator, seed, cases. The same seed gives the same file.\n";

typedef struct gen_opts {
    const char *family, *out;
    unsigned fmt_mask;
    uint64_t seed;
    int threads, list;
} gen_opts;

static int parse(gen_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--list") == 0) {
            o->list = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return lp_cli_usage("gen", "unexpected argument '%s'", a);
        if (i + 1 >= argc) return lp_cli_usage("gen", "option %s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--family") == 0) {
            if (strcmp(v, "all") != 0 && !lp_family_find(v))
                return lp_cli_usage("gen", "--family: unknown family '%s' (lpcert gen --list)", v);
            o->family = v;
        } else if (strcmp(a, "--dtype") == 0) {
            lp_format f;
            if (strcmp(v, "all") == 0) o->fmt_mask = 0xf;
            else if (lp_format_parse(&f, v)) o->fmt_mask = 1u << f;
            else return lp_cli_usage("gen", "--dtype: '%s' is not f64, f32, f16, bf16 or all", v);
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
        } else {
            return lp_cli_usage("gen", "unknown option '%s'", a);
        }
    }
    if (!o->list && !o->out) return lp_cli_usage("gen", "--out is required");
    return LP_EXIT_OK;
}

int lp_cmd_gen(int argc, char **argv)
{
    gen_opts o = {NULL, NULL, 0xf, 0x5eed, 0, 0};
    int rc = parse(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    if (o.list) {
        for (size_t i = 0; i < lp_family_count(); i++)
            printf("%-13s %s\n", lp_family_at(i)->name, lp_family_at(i)->probes);
        return LP_EXIT_OK;
    }
    lp_error err = {LP_OK, ""};
    lp_case_list cases = {NULL, 0, 0};
    lp_status s = lp_suite_build(&cases, o.family, o.fmt_mask, o.seed, &err);
    lp_ref_result *res = calloc(cases.n ? cases.n : 1, sizeof *res);
    lp_ref_cols **keep = calloc(cases.n ? cases.n : 1, sizeof *keep);
    if (s == LP_OK && (!res || !keep)) s = lp_fail(&err, LP_ERR_NOMEM, "gen: out of memory");
    lp_twriter *w = NULL;
    if (s == LP_OK) s = lp_twriter_new(&w, o.out, &err);
    lp_ref_options ropt = LP_REF_OPTIONS_INIT;
    ropt.threads = o.threads;
    int64_t tokens = 0;
    char name[256];
    for (size_t i = 0; i < cases.n && s == LP_OK; i++) {
        const lp_case *c = &cases.v[i];
        const lp_problem *pb = &c->pb;
        s = lp_ref_compute_opts(&res[i], pb, &ropt, &err);
        if (s != LP_OK) break;
        tokens += res[i].B * res[i].Ts;
        s = lp_suite_write_case(w, c->name, c->family, pb, &err);
        lp_suite_expected_prefix(name, sizeof name, c->name);
        if (s == LP_OK) s = lp_ref_tensors_add(w, name, &res[i], &keep[i], &err);
        if (isatty(fileno(stderr)))
            fprintf(stderr, "\rlpcert gen: %zu / %zu cases", i + 1, cases.n);
    }
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    if (s == LP_OK) s = lp_suite_write_header(w, "lpcert gen " LPCERT_VERSION_STRING, o.seed, cases.n, &err);
    if (s == LP_OK) s = lp_twriter_finish(w, &err);
    else lp_twriter_abort(w);
    if (s == LP_OK)
        fprintf(stderr, "lpcert gen: %zu cases (%s, seed %" PRIu64 "), %" PRId64 " scored tokens -> %s\n",
                cases.n, o.family ? o.family : "all families", o.seed, tokens, o.out);
    for (size_t i = 0; i < cases.n && res && keep; i++) {
        lp_ref_result_free(&res[i]);
        lp_ref_cols_free(keep[i]);
    }
    free(res);
    free(keep);
    lp_case_list_free(&cases);
    return s == LP_OK ? LP_EXIT_OK : lp_cli_fail("gen", &err);
}
