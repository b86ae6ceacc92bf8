/* cli/cmd_kernels.c: `lpcert kernels` (also `--kernel list` and `--vs-baseline list` of check,
 * certify and fuzz): the built-in kernels of impl/'s registry, one line each: family, the logits
 * formats it reads, the format it accumulates in, its output format, its conventions, and the
 * contract its family proves (the token bound to first order, impl/<family>.c); --json for all of
 * it, the domain and the code each kernel stands for included. */
#include <cjson/cJSON.h>

#include "cli.h"
#include "lp_format.h"
#include "lp_grad.h"
#include "lp_impl.h"

static const char usage[] =
    "usage: lpcert kernels [--json]\n"
    "\n"
    "Lists the built-in kernels (impl/): the names `lpcert certify --kernel`, `lpcert check\n"
    "--kernel` and `--vs-baseline` take. One line each: family, logits formats read, accumulation\n"
    "format, output format, conventions (masking, empty mean, sequence sum, mean), and the token\n"
    "bound its family proves (first order; impl/<family>.c holds the proof; u = 2^-p of the\n"
    "accumulation format, n the row's finite logits, D = |x_y - max|/tau, L = D - |logp| in\n"
    "[0, ln n], P = |logp|, M = |max|/tau, r = rescales of the running max, k_* the libm bounds).\n"
    "Then the backward kernels (gradients, SPEC A8, impl/grad.c) with their per-element contract.\n"
    "\n"
    "options:\n"
    "  --json                 the same as JSON on stdout (with each kernel's domain and the code\n"
    "                         it stands for)\n";

/* "f32,f16,bf16": the logits formats k reads. */
static void formats_text(char *buf, size_t n, const lp_kernel *k)
{
    static const lp_format order[] = {LP_F64, LP_F32, LP_F16, LP_BF16};
    size_t l = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && l < n; i++)
        if (lp_kernel_accepts(k, order[i]))
            l += (size_t)snprintf(buf + l, n - l, "%s%s", l ? "," : "", lp_format_name(order[i]));
}

static int print_json(void)
{
    cJSON *root = cJSON_CreateArray();
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        cJSON *o = cJSON_CreateObject();
        char fm[40];
        formats_text(fm, sizeof fm, k);
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddStringToObject(o, "kind", "forward");
        cJSON_AddStringToObject(o, "family", lp_kfamily_name(k->family));
        cJSON_AddStringToObject(o, "storage", lp_format_name(k->storage));
        cJSON *lf = cJSON_AddArrayToObject(o, "logits");
        for (int f = 0; f < LP_NFORMATS; f++)
            if (lp_kernel_accepts(k, (lp_format)f))
                cJSON_AddItemToArray(lf, cJSON_CreateString(lp_format_name((lp_format)f)));
        cJSON_AddStringToObject(o, "accumulation", lp_format_name(k->acc));
        cJSON_AddStringToObject(o, "output", lp_format_name(k->out));
        cJSON_AddStringToObject(o, "masking", lp_kmask_name(k->mask));
        cJSON_AddStringToObject(o, "empty_mean", k->empty_mean == LP_EMPTY_NAN ? "nan" : "zero");
        cJSON_AddStringToObject(o, "out_of_range_label", lp_koob_name(k->oob));
        cJSON_AddStringToObject(o, "inf_row", lp_kinf_name(k->inf_row));
        cJSON_AddStringToObject(o, "reduction", lp_kreduce_name(k->reduce));
        cJSON_AddStringToObject(o, "mean", lp_kmean_name(k->mean));
        cJSON_AddStringToObject(o, "temperature", lp_ktemp_name(k->temp));
        cJSON_AddStringToObject(o, "contract", lp_kernel_bound_text(k));
        cJSON_AddStringToObject(o, "domain", lp_kernel_domain_text(k));
        cJSON_AddStringToObject(o, "models", k->models ? k->models : "");
        cJSON_AddItemToArray(root, o);
    }
    for (size_t i = 0; i < lp_gkernel_count(); i++) {   /* backward kernels (impl/grad.c) */
        const lp_gkernel *k = lp_gkernel_at(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddStringToObject(o, "kind", "backward");
        cJSON_AddStringToObject(o, "family", lp_gfamily_name(k->family));
        cJSON_AddStringToObject(o, "storage", lp_format_name(k->storage));
        cJSON *lf = cJSON_AddArrayToObject(o, "logits");
        for (int f = 0; f < LP_NFORMATS; f++)
            if (lp_gkernel_accepts(k, (lp_format)f))
                cJSON_AddItemToArray(lf, cJSON_CreateString(lp_format_name((lp_format)f)));
        cJSON_AddStringToObject(o, "accumulation", lp_format_name(k->acc));
        cJSON_AddStringToObject(o, "output", lp_format_name(k->out));
        cJSON_AddStringToObject(o, "reductions", "token, sum, mean, token_mean");
        cJSON_AddBoolToObject(o, "known_bug", k->known_bug != 0);
        cJSON_AddStringToObject(o, "contract", lp_gkernel_bound_text(k));
        cJSON_AddStringToObject(o, "domain", lp_gkernel_domain_text(k));
        cJSON_AddStringToObject(o, "models", k->models ? k->models : "");
        cJSON_AddItemToArray(root, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fputs("lpcert kernels: out of memory\n", stderr);
        return LP_EXIT_FAIL;
    }
    puts(text);
    free(text);
    return LP_EXIT_OK;
}

int lp_cli_kernels_print(FILE *f)
{
    fprintf(f, "%-28s %-9s %-16s %-4s %-4s %-44s %s\n", "kernel", "family", "logits", "acc", "out",
            "conventions", "contract: token bound (first order)");
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        char fm[40], conv[96];
        formats_text(fm, sizeof fm, k);
        snprintf(conv, sizeof conv, "mask %s, empty %s, sum %s, mean %s", lp_kmask_name(k->mask),
                 k->empty_mean == LP_EMPTY_NAN ? "nan" : "zero", lp_kreduce_name(k->reduce),
                 lp_kmean_name(k->mean));
        fprintf(f, "%-28s %-9s %-16s %-4s %-4s %-44s %s\n", k->name, lp_kfamily_name(k->family), fm,
                lp_format_name(k->acc), lp_format_name(k->out), conv, lp_kernel_bound_text(k));
    }
    fprintf(f, "\n%zu kernels. Use: lpcert certify --kernel NAME; lpcert check --vs-baseline NAME "
               "--factor 4.\nThe default bound of check and certify compares with twopass_f32 "
               "(twopass_f64 for f64 outputs): SPEC A5 (docs/SPEC.md).\n", lp_kernel_count());
    fprintf(f, "\n%-30s %-9s %-16s %-4s %-4s %s\n", "backward kernel", "family", "logits", "acc", "out",
            "contract: per element, every reduction (impl/grad.c)");
    for (size_t i = 0; i < lp_gkernel_count(); i++) {
        const lp_gkernel *k = lp_gkernel_at(i);
        char fm[40] = "";
        size_t l = 0;
        static const lp_format order[] = {LP_F64, LP_F32, LP_F16, LP_BF16};
        for (size_t j = 0; j < 4 && l < sizeof fm; j++)
            if (lp_gkernel_accepts(k, order[j]))
                l += (size_t)snprintf(fm + l, sizeof fm - l, "%s%s", l ? "," : "",
                                      lp_format_name(order[j]));
        fprintf(f, "%-30s %-9s %-16s %-4s %-4s %s%s\n", k->name, lp_gfamily_name(k->family), fm,
                lp_format_name(k->acc), lp_format_name(k->out),
                k->known_bug ? "KNOWN BUG, kept as a measured example; " : "", lp_gkernel_bound_text(k));
    }
    fprintf(f, "\n%zu backward kernels (gradients of SPEC A8: token, sum, mean, token_mean). Use: "
               "lpcert certify --kernel NAME (judged per reduction).\n", lp_gkernel_count());
    return ferror(f) ? LP_EXIT_FAIL : LP_EXIT_OK;
}

int lp_cmd_kernels(int argc, char **argv)
{
    static const char *const flags[] = {"--json", NULL};
    lp_cli_args p = LP_CLI_ARGS("kernels", argc, argv, flags, NULL, 0);
    const char *a, *v;
    int json = 0, rc, k;
    while ((k = lp_cli_next(&p, &a, &v, &rc)) > 0) {
        if (lp_cli_is_help(a)) {
            fputs(usage, stdout);
            return LP_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) json = 1;
        else return lp_cli_usage("kernels", "unknown option '%s'", a);
    }
    if (k < 0) return rc;
    return json ? print_json() : lp_cli_kernels_print(stdout);
}
