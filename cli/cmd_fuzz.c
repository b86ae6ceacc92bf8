/* cli/cmd_fuzz.c: `lpcert fuzz`: structure-aware random differential testing of a plugin, for
 * users without clang. Seeded random byte strings go through the fuzzers' problem decoder
 * (gen/lp_fuzz_decode.h), and each problem is judged by check/fuzz.c, the code of the
 * libFuzzer harness fuzz/fz_plugin.c: so a failing input found here replays there, and back. The
 * bytes are drawn with the decoder's layout in mind: the format among the plugin's, mostly a
 * temperature the plugin and the options can take, and input errors (out-of-range labels, a mask
 * byte 2) rarer than uniform bytes would make them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lp_check_fuzz.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lp_gen_random.h"
#include "lp_rng.h"

static const char usage[] =
    "usage: lpcert fuzz --plugin LIB.so[:SYMBOL] [options]\n"
    "\n"
    "Random problems for the kernel of a plugin (the ABI of include/lpcert_plugin.h, as for lpcert\n"
    "certify): seeded random byte strings decoded by the fuzzers' problem decoder (fuzz/README.md:\n"
    "raw bit patterns, +-0, subnormals, max finite, +-inf, NaN, ties and near ties for the max,\n"
    "p within 1e-9 of 1, masks, ignore_index, all-masked sequences, extreme temperatures), each\n"
    "judged as lpcert certify judges a case: lpcert check's comparison with the exact reference\n"
    "under the bounds and conventions below, and batch invariance. Problems in a format the kernel\n"
    "does not declare, or with a temperature it does not support, are skipped as certify skips\n"
    "them; problems the reference rejects (a label out of range, a mask byte 2) are not run.\n"
    "On the first failure: the input's bytes go to the artifact file, the reproducer (the value,\n"
    "the expected value, the bound, the problem in hex and decimal, the report) is printed, exit 1.\n"
    "\n"
    "options:\n"
    "  --seconds N            fuzz for about N seconds (default 10)\n"
    "  --seed N               seed of the random inputs (default 0x5eed; printed)\n"
    "  --artifact FILE        where a failing input goes (default lpcert-fuzz-<sha256 prefix>.bin)\n"
    "  --replay FILE          judge the input FILE (an artifact, or a file of fuzz/corpus/) only\n"
    "  --json FILE            a summary as JSON: counts per format, verdict, artifact, report\n"
    "%s%s"
    "\n"
    "The same judgement as a libFuzzer harness (clang, coverage-guided):\n"
    "  LPCERT_FUZZ_PLUGIN=LIB.so LPCERT_FUZZ_ARGS='--max-ulp 4 ...' fuzz/run plugin\n"
    "and an artifact replays there with fz_plugin_replay FILE (same variables).\n"
    "Exit 0 pass, 1 fail, 2 usage or input error (a plugin that does not load, an unreadable FILE).\n";

typedef struct fuzz_opts {
    const char *plugin, *artifact, *replay, *json;
    double seconds;
    uint64_t seed;
} fuzz_opts;

static int parse(fuzz_opts *o, ck_fuzz *z, int argc, char **argv)
{
    static const char *const flags[] = {"--no-default-bound", "--slow", NULL};
    static const char *const layered[] = {"--max-ulp", "--max-abs", NULL};   /* per output */
    lp_cli_args p = LP_CLI_ARGS("fuzz", argc, argv, flags, layered, 0);
    const char *a, *v;
    int rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            printf(usage, ck_options_help, ck_fuzz_help);
            exit(LP_EXIT_OK);
        }
        if (lp_cli_opt_flag(&z->opt, a)) continue;
        lp_error e = {LP_OK, ""};
        if (strcmp(a, "--vs-baseline") == 0 && strcmp(v, "list") == 0) exit(lp_cli_kernels_print(stdout));
        if (ck_fuzz_option(z, a, v, &e)) {
            if (e.status != LP_OK) return lp_cli_usage("fuzz", "%s", e.msg);
            continue;
        }
        if (strcmp(a, "--plugin") == 0) o->plugin = v;
        else if (strcmp(a, "--artifact") == 0) o->artifact = v;
        else if (strcmp(a, "--replay") == 0) o->replay = v;
        else if (strcmp(a, "--json") == 0) o->json = v;
        else if (lp_cli_opt_seconds_seed(&o->seconds, &o->seed, "fuzz", a, v, &rc)) {
            if (rc != LP_EXIT_OK) return rc;
        } else {
            return lp_cli_usage("fuzz", "unknown option '%s'", a);
        }
    }
    if (k < 0) return rc;
    if (!o->plugin) return lp_cli_usage("fuzz", "--plugin LIB.so[:SYMBOL] is required");
    return lp_cli_opt_finish(&z->opt, "fuzz");
}

/* ---- inputs -------------------------------------------------------------------------------- */

/* The temperature of each value of the decoder's tau selector (tail byte 3, bits 0-3) that the
 * options can judge: a supported capability, exact in --tempered-exact's format, finite and
 * non-zero in --in-range's. Found by decoding, so the decoder's table stays its own. */
static int tau_choices(uint8_t *ok, const ck_fuzz *z)
{
    int n = 0;
    for (unsigned i = 0; i < 16; i++) {
        uint8_t tail[LP_FZ_NPARAM];
        memset(tail, 0, sizeof tail);
        tail[LP_FZ_NPARAM - 1 - 3] = (uint8_t)i;
        lp_fz_problem p;
        if (!lp_fz_decode(&p, tail, sizeof tail)) continue;
        const double tau = p.pb.temperature;
        lp_fz_free(&p);
        int good = tau == 1 || (z->k.p->caps & LP_PLUGIN_CAP_TEMPERATURE);
        if (z->exact_fmt >= 0 && lp_round_to(tau, (lp_format)z->exact_fmt) != tau) good = 0;
        if (z->range_fmt >= 0) {
            const double t = lp_round_to(tau, (lp_format)z->range_fmt);
            if (!(t > 0) || isinf(t)) good = 0;
        }
        if (good) ok[n++] = (uint8_t)i;
    }
    return n;
}

static lp_status read_file(uint8_t **out, size_t *n, const char *path, lp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    uint8_t *buf = len >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)len + 1) : NULL;
    const int ok = buf && fread(buf, 1, (size_t)len, f) == (size_t)len;
    fclose(f);
    if (!ok) {
        free(buf);
        return lp_fail(err, len < 0 ? LP_ERR_IO : buf ? LP_ERR_IO : LP_ERR_NOMEM,
                       "%s: cannot read%s", path, len < 0 ? " (not a regular file?)" : "");
    }
    *out = buf;
    *n = (size_t)len;
    return LP_OK;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the report ---------------------------------------------------------------------------- */

static void counts_line(char *buf, size_t n, const ck_fuzz *z)
{
    const int64_t *c = z->n;
    snprintf(buf, n, "%" PRId64 " problems: %" PRId64 " judged (f64 %" PRId64 ", f32 %" PRId64
             ", f16 %" PRId64 ", bf16 %" PRId64 "), %" PRId64 " skipped (format or capability), %"
             PRId64 " rejected by the reference (input errors), %" PRId64 " left out (--in-range, "
             "--tempered-exact)", c[0] + c[1] + c[2] + c[3] + c[4], c[CK_FZ_PASS] + c[CK_FZ_FAIL],
             z->judged[LP_F64], z->judged[LP_F32], z->judged[LP_F16], z->judged[LP_BF16],
             c[CK_FZ_SKIP], c[CK_FZ_REJECT], c[CK_FZ_LEFT_OUT]);
}

static lp_status write_json(const char *path, const fuzz_opts *o, const ck_fuzz *z, double secs,
                            const char *artifact, const char *report, lp_error *err)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return lp_fail(err, LP_ERR_NOMEM, "fuzz: out of memory");
    char hex[65] = "", args[600], line[400];
    lp_status s = ck_sha256_file(hex, z->k.path, err);
    ck_fuzz_args_text(args, sizeof args, z);
    counts_line(line, sizeof line, z);
    cJSON_AddStringToObject(j, "command", "fuzz");
    cJSON *pl = cJSON_AddObjectToObject(j, "plugin");
    if (pl) {
        cJSON_AddStringToObject(pl, "spec", z->k.spec);
        cJSON_AddStringToObject(pl, "path", z->k.path);
        cJSON_AddStringToObject(pl, "symbol", z->k.symbol);
        cJSON_AddStringToObject(pl, "name", z->k.p->name);
        cJSON_AddStringToObject(pl, "sha256", hex);
    }
    cJSON_AddStringToObject(j, "args", args);
    char bt[320];
    ck_options_bound_text(bt, sizeof bt, &z->opt);
    cJSON *bd = cJSON_AddObjectToObject(j, "bound");
    if (bd) {
        cJSON_AddBoolToObject(bd, "default", z->opt.default_bound);
        cJSON_AddStringToObject(bd, "text", bt);
    }
    char seed[24];
    snprintf(seed, sizeof seed, "0x%" PRIx64, o->seed);
    if (o->replay) cJSON_AddStringToObject(j, "replay", o->replay);
    else cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "seconds", secs);
    const int64_t *c = z->n;
    cJSON_AddNumberToObject(j, "problems", (double)(c[0] + c[1] + c[2] + c[3] + c[4]));
    cJSON *jd = cJSON_AddObjectToObject(j, "judged");
    for (int f = 0; jd && f < LP_NFORMATS; f++)
        cJSON_AddNumberToObject(jd, lp_format_name((lp_format)f), (double)z->judged[f]);
    cJSON_AddNumberToObject(j, "skipped", (double)c[CK_FZ_SKIP]);
    cJSON_AddNumberToObject(j, "rejected", (double)c[CK_FZ_REJECT]);
    cJSON_AddNumberToObject(j, "left_out", (double)c[CK_FZ_LEFT_OUT]);
    cJSON_AddStringToObject(j, "summary", line);
    cJSON_AddStringToObject(j, "verdict", report ? "FAIL" : "PASS");
    if (artifact) cJSON_AddStringToObject(j, "artifact", artifact);
    else cJSON_AddNullToObject(j, "artifact");
    if (report) cJSON_AddStringToObject(j, "report", report);
    else cJSON_AddNullToObject(j, "report");
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (s != LP_OK) {
        free(text);
        return s;
    }
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "fuzz: out of memory for JSON");
    s = lp_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return s;
}

static void print_failure(const char *report, const char *artifact, const fuzz_opts *o,
                          const ck_fuzz *z)
{
    char args[600];
    ck_fuzz_args_text(args, sizeof args, z);
    printf("FAIL lpcert fuzz: %s", report);
    if (artifact) {
        printf("artifact: %s\n", artifact);
        printf("  replay: lpcert fuzz --plugin %s %s --replay %s\n", o->plugin, args, artifact);
        printf("      or: LPCERT_FUZZ_PLUGIN=%s LPCERT_FUZZ_ARGS='%s' fz_plugin_replay %s\n",
               o->plugin, args, artifact);
    }
}

int lp_cmd_fuzz(int argc, char **argv)
{
    fuzz_opts o;
    memset(&o, 0, sizeof o);
    o.seconds = 10;
    o.seed = 0x5eed;
    ck_fuzz z;
    ck_fuzz_init(&z);
    int rc = parse(&o, &z, argc, argv);
    if (rc != LP_EXIT_OK) return rc;
    lp_error err = {LP_OK, ""};
    lp_status s = ck_fuzz_open(&z, o.plugin, &err);
    char *report = NULL, artifact[1024] = "";
    uint8_t *buf = NULL;
    size_t n = 0;
    const double t0 = now_s();
    ck_fz_verdict v = CK_FZ_PASS;
    int internal = 0;
    if (s == LP_OK && o.replay) {
        s = read_file(&buf, &n, o.replay, &err);
        if (s == LP_OK) s = ck_fuzz_one(&z, buf, n, &v, &report, &err);
    } else if (s == LP_OK) {
        const size_t cap = 2049 + 32 + LP_FZ_NPARAM;
        buf = malloc(cap);
        if (!buf) s = lp_fail(&err, LP_ERR_NOMEM, "fuzz: out of memory");
        lp_rng rng;
        lp_rng_init(&rng, o.seed);
        uint8_t taus[16];
        const int ntau = tau_choices(taus, &z);
        int64_t tried = 0;
        const int tty = isatty(fileno(stderr));
        while (s == LP_OK && (tried == 0 || now_s() - t0 < o.seconds)) {
            n = lp_gen_fuzz_input(buf, cap, &rng, z.k.p->formats, taus, ntau);
            s = ck_fuzz_one(&z, buf, n, &v, &report, &err);
            tried++;
            if (s != LP_OK) {
                internal = 1;   /* an error of lpcert itself on this input: keep it too */
                break;
            }
            if (v == CK_FZ_FAIL) break;
            if (tty && tried % 256 == 0)
                fprintf(stderr, "\rlpcert fuzz: %" PRId64 " problems (%.0f s)\033[K", tried,
                        now_s() - t0);
        }
        if (tty) fputs("\r\033[K", stderr);
        if ((s == LP_OK && v == CK_FZ_FAIL) || internal) {
            if (o.artifact) {
                snprintf(artifact, sizeof artifact, "%s", o.artifact);
            } else {
                ck_sha *h = ck_sha_new();
                char hex[65];
                ck_sha_update(h, buf, n);
                ck_sha_final(h, hex);
                snprintf(artifact, sizeof artifact, "lpcert-fuzz-%.16s.bin", hex);
            }
            if (internal) {
                lp_error werr = {LP_OK, ""};
                if (lp_write_file_atomic(artifact, buf, n, &werr) == LP_OK)
                    fprintf(stderr, "lpcert fuzz: lpcert itself failed on an input (a bug: please "
                            "report it with the input): %s\n  input: %s\n", err.msg, artifact);
            } else {
                s = lp_write_file_atomic(artifact, buf, n, &err);
            }
        }
    }
    const double secs = now_s() - t0;
    if (s == LP_OK) {
        char line[400], args[600];
        counts_line(line, sizeof line, &z);
        ck_fuzz_args_text(args, sizeof args, &z);
        if (v == CK_FZ_FAIL) print_failure(report, artifact[0] ? artifact : NULL, &o, &z);
        if (o.replay)
            printf("lpcert fuzz: %s: %s (%s)\n", v == CK_FZ_FAIL ? "FAIL" : "PASS", o.replay,
                   v == CK_FZ_PASS ? "judged" : v == CK_FZ_FAIL ? "judged"
                   : v == CK_FZ_SKIP ? "skipped: a format or capability the kernel lacks"
                   : v == CK_FZ_REJECT ? "not run: the reference rejects the problem"
                                       : "not run: left out by --in-range / --tempered-exact");
        else
            printf("lpcert fuzz: %s: plugin %s (%s), seed 0x%" PRIx64 ", %.1f s: %s\n",
                   v == CK_FZ_FAIL ? "FAIL" : "PASS", o.plugin, z.k.p->name, o.seed, secs, line);
        printf("  args: %s\n", args);
        char bt[320];
        ck_options_bound_text(bt, sizeof bt, &z.opt);
        printf("  %s\n", bt);
        fflush(stdout);
        if (o.json)
            s = write_json(o.json, &o, &z, secs, artifact[0] ? artifact : NULL, report, &err);
    }
    rc = s != LP_OK ? lp_cli_fail("fuzz", &err) : v == CK_FZ_FAIL ? LP_EXIT_FAIL : LP_EXIT_OK;
    free(report);
    free(buf);
    ck_fuzz_close(&z);
    return rc;
}
