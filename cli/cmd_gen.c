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
    "top_p, min_p; absent keys: not set).\n";

typedef struct gen_opts {
    const char *out;
    uint64_t families;    /* bit i: lp_family_at(i) (the table has fewer than 64); 0: all */
    unsigned fmt_mask;    /* bit f: format f; 0: none named yet (all four) */
    uint64_t seed;
    int threads, list;
    lp_sampling sampling; /* SPEC A7, applied to every case */
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

int lp_cmd_gen(int argc, char **argv)
{
    gen_opts o = {NULL, 0, 0, 0x5eed, 0, 0, {0, 0, 0, 0}};
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
    if (s == LP_OK && (!res || !keep)) s = lp_fail(&err, LP_ERR_NOMEM, "gen: out of memory");
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
    }
    free(res);
    free(keep);
    lp_case_list_free(&cases);
    return s == LP_OK ? LP_EXIT_OK : lp_cli_fail("gen", &err);
}
