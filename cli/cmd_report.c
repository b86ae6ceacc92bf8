/* cli/cmd_report.c: `lpcert report`: every built-in kernel on the standard suite against the exact
 * reference, sum versus mean against sequence length, and the accuracy report: Markdown,
 * JSON and SVG figures under --out-dir, byte-identical for the same options on every run and for
 * any --threads. The parts: report.h. */
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lp_report.h"

static const char usage[] =
    "usage: lpcert report [--out-dir DIR] [--json FILE] [--kernels GLOBS] [--families GLOBS]\n"
    "                     [--seed N] [--threads N] [--corpus DIR] [--quick]\n"
    "\n"
    "Runs every built-in kernel (impl/) on the standard suite, the committed corpus\n"
    "(vectors/corpus) and the generated families (lpcert gen --list), plus the report's own\n"
    "families near_zero (logp close to 0) and pair_exh (every f16/bf16 value, V = 2), against the\n"
    "exact reference, and sweeps sum versus mean over sequence lengths 1 to 8192 with a DPO margin.\n"
    "Writes DIR/ACCURACY.md, DIR/accuracy_families.md (per kernel x format x family), the JSON\n"
    "with every figure and DIR/figures/*.svg, then prints a short summary table on stdout.\n"
    "\n"
    "  --out-dir DIR      where to write (default docs)\n"
    "  --json FILE        the JSON file (default DIR/accuracy.json)\n"
    "  --kernels GLOBS    comma-separated kernel names or globs (default: all; e.g. 'twopass_*')\n"
    "  --families GLOBS   comma-separated families (default: all; corpus ones are corpus.<name>)\n"
    "  --seed N           seed of the generated families and of the sweep (default 24301)\n"
    "  --threads N        threads (default: one per CPU); the output is identical for any N\n"
    "  --corpus DIR       the committed vectors (default vectors/corpus)\n"
    "  --quick            a small version (a few families, lengths up to 512): seconds, for tests\n"
    "\n"
    "Progress goes to stderr. Exit 0 on success, 2 on a usage or input error.\n";

static int parse(rp_options *o, int argc, char **argv)
{
    static const char *const flags[] = {"--quick", NULL};
    lp_cli_args args = LP_CLI_ARGS("report", argc, argv, flags, NULL, 0);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&args, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            fputs(usage, stdout);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
            continue;
        }
        if (strcmp(a, "--out-dir") == 0) {
            if (!*v) return lp_cli_usage("report", "--out-dir: empty path");
            o->out_dir = v;
        } else if (strcmp(a, "--json") == 0) {
            if (!*v) return lp_cli_usage("report", "--json: empty path");
            o->json = v;
        } else if (strcmp(a, "--kernels") == 0) {
            o->kernels = v;
        } else if (strcmp(a, "--families") == 0) {
            o->families = v;
        } else if (strcmp(a, "--corpus") == 0) {
            o->corpus = v;
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 0);
            if (errno || end == v || *end || *v == '-')
                return lp_cli_usage("report", "--seed: '%s' is not a non-negative integer", v);
        } else if (strcmp(a, "--threads") == 0) {
            int64_t n;
            if (!lp_parse_int64(&n, v) || n < 0 || n > 64)
                return lp_cli_usage("report", "--threads: '%s' is not an integer in [0, 64]", v);
            o->threads = (int)n;
        } else {
            return lp_cli_usage("report", "unknown option '%s'", a);
        }
    }
    if (k < 0) return rc;
    if (o->families) {
        char buf[256];
        for (const char *p = o->families; *p;) {
            size_t n = strcspn(p, ",");
            snprintf(buf, sizeof buf, "%.*s", (int)n, p);
            if (n == 0 || !rp_family_known(buf, o))
                return lp_cli_usage("report", "--families: '%s' matches no family (lpcert gen "
                                    "--list; corpus families are corpus.<file name>)", buf);
            p += n;
            if (*p == ',') p++;
        }
    }
    return LP_EXIT_OK;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static lp_status make_dirs(const rp_options *o, lp_error *err)
{
    char fig[4096];
    snprintf(fig, sizeof fig, "%s/figures", o->out_dir);
    const char *dirs[2] = {o->out_dir, fig};
    for (int i = 0; i < 2; i++)
        if (mkdir(dirs[i], 0777) != 0 && errno != EEXIST)
            return lp_fail(err, LP_ERR_IO, "%s: cannot create: %s", dirs[i], strerror(errno));
    return LP_OK;
}

int lp_cmd_report(int argc, char **argv)
{
    rp_options o;
    memset(&o, 0, sizeof o);
    o.out_dir = "docs";
    o.corpus = "vectors/corpus";
    o.seed = 24301;
    int rc = parse(&o, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    char json[4096];
    if (!o.json) {
        snprintf(json, sizeof json, "%s/accuracy.json", o.out_dir);
        o.json = json;
    }
    if (!ck_builtin_available()) {
        fputs("lpcert report: this lpcert was built without the kernel registry (impl/)\n", stderr);
        return LP_EXIT_USAGE;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lp_error err = {LP_OK, ""};
    rp_cases cs;
    rp_kernels ks;
    rp_sweep sw;
    memset(&cs, 0, sizeof cs);
    memset(&ks, 0, sizeof ks);
    memset(&sw, 0, sizeof sw);
    lp_status s = rp_kernels_select(&ks, o.kernels, &err);
    if (s == LP_OK) s = make_dirs(&o, &err);
    if (s == LP_OK) s = rp_cases_build(&cs, &o, &err);
    if (s == LP_OK) {
        fprintf(stderr, "lpcert report: %zu cases, %lld scored tokens, %lld logits; %zu kernels%s\n",
                cs.n, (long long)cs.tokens, (long long)cs.logits, ks.n, o.quick ? " (--quick)" : "");
        s = rp_run_reference(&cs, &o, &err);
    }
    if (s == LP_OK) {
        fprintf(stderr, "lpcert report: exact reference done (%.1f s); running the kernels\n",
                since(&t0));
        s = rp_run_kernels(&ks, &cs, &o, &err);
    }
    if (s == LP_OK) {
        fprintf(stderr, "lpcert report: kernels done (%.1f s); sum versus mean sweep\n", since(&t0));
        s = rp_sweep_run(&sw, &ks, &o, &err);
    }
    rp_processed *pk = NULL;
    if (s == LP_OK && rp_list_match(o.families, "processed")) {
        fprintf(stderr, "lpcert report: sweep done (%.1f s); processed log-probs\n", since(&t0));
        s = rp_processed_run(&pk, &o, &err);
    }
    rp_gradient *gr = NULL;
    if (s == LP_OK && rp_list_match(o.families, "gradients")) {
        fprintf(stderr, "lpcert report: %.1f s; backward kernels (gradients)\n", since(&t0));
        s = rp_gradient_run(&gr, &o, &err);
    }
    rp_report r = {&o, &cs, &ks, &sw, pk, gr};
    if (s == LP_OK) fprintf(stderr, "lpcert report: sweep done (%.1f s); writing\n", since(&t0));
    if (s == LP_OK) s = rp_figures_write(&r, &err);
    if (s == LP_OK) s = rp_markdown_write(&r, &err);
    if (s == LP_OK) s = rp_json_write(&r, &err);
    if (s == LP_OK) {
        fprintf(stderr, "lpcert report: wrote %s/ACCURACY.md, %s and %s/figures/\n", o.out_dir,
                o.json, o.out_dir);
        rp_summary_print(stdout, &r);
    }
    rp_gradient_free(gr);
    rp_processed_free(pk);
    rp_sweep_free(&sw);
    rp_kernels_free(&ks);
    rp_cases_free(&cs);
    if (s != LP_OK) return lp_cli_fail("report", &err);
    return LP_EXIT_OK;
}
