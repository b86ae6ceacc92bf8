/* cli/cmd_merge.c: `lpcert merge PARTS...`: the N partial results of `lpcert check|certify --shard
 * I/N --partial FILE` merged into the report, JSON, certificate and exit status of the unsharded
 * run, byte for byte (check/shard.c, lp_check_shard.h argue why). Every partial is read and the
 * set checked (each shard once, same inputs and options) before anything is printed. */
#include "cli.h"
#include "lp_check_shard.h"

static const char usage[] =
    "usage: lpcert merge PARTIAL... [--json FILE] [--certificate FILE]\n"
    "\n"
    "Merges the partial files of a sharded `lpcert check` or `lpcert certify` (--shard I/N\n"
    "--partial FILE, any order) into the report, JSON and certificate that the unsharded command\n"
    "gives, byte for byte: counts and maxima add up, the worst values with their reproducers are\n"
    "chosen as one run chooses them, and medians come from every shard's full list of errors.\n"
    "(A certify run's \"s in all\" adds up the shards' times.)\n"
    "\n"
    "options:\n"
    "  --json FILE            the report as JSON\n"
    "  --certificate FILE     the Markdown certificate\n"
    "\n"
    "Exit 0: the merged run passes; 1: it fails; 2: usage or input error (one line on stderr, no\n"
    "output): a missing, duplicated or foreign shard (other inputs, options, candidate or N), or a\n"
    "file that is not a partial.\n";

int lp_cmd_merge(int argc, char **argv)
{
    const char *json = NULL, *cert = NULL;
    ck_partial **parts = calloc((size_t)(argc > 1 ? argc : 1), sizeof *parts);
    if (!parts) {
        fprintf(stderr, "lpcert merge: out of memory\n");
        return LP_EXIT_FAIL;
    }
    size_t n = 0;
    lp_error err = {LP_OK, ""};
    lp_status s = LP_OK;
    int rc = LP_EXIT_OK;
    for (int i = 1; i < argc && s == LP_OK && rc == LP_EXIT_OK; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", usage);
            for (size_t k = 0; k < n; k++) ck_partial_free(parts[k]);
            free(parts);
            return LP_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0 || strcmp(a, "--certificate") == 0) {
            if (i + 1 >= argc) rc = lp_cli_usage("merge", "%s needs a value", a);
            else if (a[2] == 'j') json = argv[++i];
            else cert = argv[++i];
            continue;
        }
        if (strncmp(a, "--", 2) == 0 && strcmp(a, "--") != 0) {
            rc = lp_cli_usage("merge", "unknown option '%s'", a);
            continue;
        }
        s = ck_partial_read(&parts[n], a, &err);
        if (s == LP_OK) n++;
    }
    if (rc != LP_EXIT_OK || s != LP_OK) {
        for (size_t k = 0; k < n; k++) ck_partial_free(parts[k]);
        free(parts);
        return rc != LP_EXIT_OK ? rc : lp_cli_fail("merge", &err);
    }
    if (n == 0) {
        free(parts);
        return lp_cli_usage("merge", "give the partial files of every shard");
    }
    ck_partial *m = NULL;
    s = ck_partial_merge(&m, parts, n, &err);   /* takes over the parts */
    free(parts);
    if (s != LP_OK) return lp_cli_fail("merge", &err);
    ck_run *r = ck_partial_run(m);
    const ck_header *h = ck_partial_header(m);
    if (ck_partial_quiet(m)) {
        char bt[320];
        ck_options_bound_text(bt, sizeof bt, &r->opt);
        printf("lpcert %s: %s (%s)\n", ck_partial_command(m), ck_run_failed(r) ? "FAIL" : "PASS", bt);
    } else {
        ck_report_table(stdout, r, h);
    }
    fflush(stdout);
    if (json) s = ck_report_json(json, r, h, &err);
    if (s == LP_OK && cert) s = ck_report_certificate(cert, r, h, &err);
    rc = s != LP_OK ? lp_cli_fail(ck_partial_command(m), &err)
                    : ck_run_failed(r) ? LP_EXIT_FAIL : LP_EXIT_OK;
    ck_partial_free(m);
    return rc;
}
