/* cli/cmd_certify.c: `lpcert certify`: a kernel loaded from a shared library through the plugin
 * ABI (include/lpcert_plugin.h), or a built-in one, run on every family of the standard suite and
 * then on seeded random problems for a given time, compared with the exact reference, and checked
 * for batch invariance. Same report, certificate and exit codes as `lpcert check`. The run itself
 * is check/certify.c (ck_certify_run); this file parses the options and prints. */
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lp_check_certify.h"
#include "lp_check_shard.h"

static const char usage[] =
    "usage: lpcert certify --plugin LIB.so[:SYMBOL] | --kernel NAME  [options]\n"
    "\n"
    "Loads a kernel through the plugin ABI of include/lpcert_plugin.h (SYMBOL: its entry function,\n"
    "default lp_plugin_entry), or takes a built-in kernel (--kernel twopass_f32; --kernel list or\n"
    "`lpcert kernels` lists them), and runs it on\n"
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
    "  --json FILE, --certificate FILE, --quiet, --failures-only   as for lpcert check\n"
    "  --shard I/N --partial FILE   only block I of N of the suite cases, the partial result to\n"
    "                         FILE (needs --seconds 0); `lpcert merge` of the N partials gives\n"
    "                         this command's report, JSON and certificate byte for byte\n"
    "%s"
    "\n"
    "Cases the kernel cannot take (a logits format it does not declare; temperature without\n"
    "LP_PLUGIN_CAP_TEMPERATURE) are skipped and listed. Exit 0 pass, 1 fail, 2 usage or input error\n"
    "(a library that does not load, a missing symbol, an invalid description).\n";

typedef struct certify_opts {
    const char *plugin, *kernel, *suite, *glob, *json, *cert, *partial;
    int shard_i, shard_n;
    double seconds;
    uint64_t seed;
    int quiet, failures_only;
    ck_options ck;
} certify_opts;

static int parse(certify_opts *o, int argc, char **argv)
{
    static const char *const flags[] = {"--quiet", "--failures-only", "--no-default-bound", "--slow", NULL};
    static const char *const layered[] = {"--max-ulp", "--max-abs", NULL};   /* per output */
    lp_cli_args p = LP_CLI_ARGS("certify", argc, argv, flags, layered, 0);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            printf(usage, ck_options_help);
            exit(LP_EXIT_OK);
        }
        if (strcmp(a, "--quiet") == 0) { o->quiet = 1; continue; }
        if (strcmp(a, "--failures-only") == 0) { o->failures_only = 1; continue; }
        if (lp_cli_opt_flag(&o->ck, a)) continue;
        if (lp_cli_opt_common(&o->ck, "certify", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
            continue;
        }
        if (strcmp(a, "--plugin") == 0) o->plugin = v;
        else if (strcmp(a, "--kernel") == 0) {
            if (strcmp(v, "list") == 0) exit(lp_cli_kernels_print(stdout));
            o->kernel = v;
        }
        else if (strcmp(a, "--suite") == 0) o->suite = v;
        else if (strcmp(a, "--cases") == 0) o->glob = v;
        else if (strcmp(a, "--json") == 0) o->json = v;
        else if (strcmp(a, "--partial") == 0) o->partial = v;
        else if (strcmp(a, "--shard") == 0) {
            if (!ck_shard_parse(v, &o->shard_i, &o->shard_n))
                return lp_cli_usage("certify", "--shard: '%s' is not I/N with 1 <= I <= N", v);
        }
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
    if (k < 0) return rc;
    if (!o->plugin == !o->kernel) return lp_cli_usage("certify", "give one of --plugin and --kernel");
    if (!o->shard_n != !o->partial) return lp_cli_usage("certify", "--shard and --partial go together");
    if (o->shard_n && (o->seconds != 0 || o->json || o->cert))
        return lp_cli_usage("certify", "--shard needs --seconds 0 (random problems for a time are not "
                            "reproducible) and no --json, --certificate (lpcert merge writes them)");
    return lp_cli_opt_finish(&o->ck, "certify");
}

/* ---- progress on a terminal ---------------------------------------------------------------------- */

typedef struct tty_progress {
    int on;
    double t1;   /* when the random problems started */
} tty_progress;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(void *user, int64_t done, int64_t total)
{
    tty_progress *tp = user;
    if (total < 0 && done == 0) tp->t1 = now_s();
    if (!tp->on) return;
    if (total >= 0)
        fprintf(stderr, "\rlpcert certify: suite case %" PRId64 " / %" PRId64 "\033[K", done, total);
    else if (done > 0)
        fprintf(stderr, "\rlpcert certify: random problem %" PRId64 " (%.0f s)\033[K", done,
                now_s() - tp->t1);
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
    tty_progress tp = {isatty(fileno(stderr)), 0};
    ck_certify c;
    memset(&c, 0, sizeof c);
    c.plugin = o.plugin;
    c.kernel = o.kernel;
    c.suite = o.suite;
    c.glob = o.glob;
    c.seconds = o.seconds;
    c.seed = o.seed;
    c.progress = progress;
    c.user = &tp;
    c.shard_i = o.shard_i;
    c.shard_n = o.shard_n;
    ck_run r;
    lp_status s = ck_run_init(&r, &o.ck, &err);
    if (s == LP_OK) s = ck_certify_run(&c, &r, &err);
    if (tp.on) fputs("\r\033[K", stderr);
    static char repro[4096];
    if (s == LP_OK) {
        ck_repro_command(repro, sizeof repro, "certify", argc, argv);
        c.h.repro = repro;
        c.h.repro_cases = 1;
        c.h.failures_only = o.failures_only;
        if (o.shard_n) {
            ck_shard_info si;
            memset(&si, 0, sizeof si);
            si.i = o.shard_i;
            si.n = o.shard_n;
            si.total = c.total;
            si.quiet = o.quiet;
            si.certify = 1;
            si.seed = c.seed;
            si.seconds = c.seconds;
            si.elapsed = c.elapsed;
            si.ran = c.ran;
            si.skipped = c.skipped;
            si.nrand = c.nrand;
            s = ck_partial_write(o.partial, &r, &c.h, &si, &err);
            if (s == LP_OK)
                printf("lpcert certify: shard %d/%d: %" PRId64 " cases run, %" PRId64 " skipped, of "
                       "%" PRId64 " into %s\n", si.i, si.n, c.ran, c.skipped, c.total, o.partial);
            rc = s == LP_OK ? LP_EXIT_OK : lp_cli_fail("certify", &err);
        } else if (o.quiet) {
            char bt[320];
            ck_options_bound_text(bt, sizeof bt, &r.opt);
            printf("lpcert certify: %s (%s)\n", ck_run_failed(&r) ? "FAIL" : "PASS", bt);
        } else {
            ck_report_table(stdout, &r, &c.h);
        }
        fflush(stdout);
        if (o.json && !o.shard_n) s = ck_report_json(o.json, &r, &c.h, &err);
        if (s == LP_OK && o.cert) s = ck_report_certificate(o.cert, &r, &c.h, &err);
        if (!o.shard_n)
            rc = s != LP_OK ? lp_cli_fail("certify", &err) : ck_run_failed(&r) ? LP_EXIT_FAIL : LP_EXIT_OK;
    } else {
        rc = lp_cli_fail("certify", &err);
    }
    ck_run_free(&r);
    ck_certify_close(&c);
    return rc;
}
