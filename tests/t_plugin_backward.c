/* tests/t_plugin_backward.c: the plugin ABI's optional backward entry (version 2,
 * include/lpcert_plugin.h) through lp_check_certify_kernel:
 *   v1        a version-1 description (abi_version 1, version 1's struct_size, no backward) is
 *             certified exactly as before: forward values judged, no gradient section;
 *   refused   CAP_BACKWARD with abi_version 1, or with version 1's struct_size, or without the
 *             backward function: LP_ERR_INPUT naming the field;
 *   exact     a backward-only kernel writing the correctly rounded f32 gradient (lp_grad_compute)
 *             passes --max-ulp 0.5 for every reduction, through mask folding and shift-none
 *             transformations (CAPs off) as well;
 *   bug       the same with the label element rounded like the pbf16 bug (0 when p_y >= 1 - 2^-9)
 *             fails the same bound; the JSON report holds "gradients".
 * A failure prints the case and the figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lp_format.h"
#include "lpcert_check.h"
#include "lpcert_plugin.h"
#include "lpt.h"

/* ---- a forward kernel: the exact reference (as t_check's) ---- */

static lp_problem problem_of(const lp_plugin_problem *pp)
{
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){pp->B, pp->T, pp->V};
    pb.fmt = (lp_format)pp->format;
    pb.logits = pp->logits;
    pb.label_type = LP_I64;
    pb.labels = pp->labels;
    pb.mask = pp->mask;
    pb.shift = (lp_shift)pp->shift;
    pb.ignore_index = pp->ignore_index;
    pb.temperature = pp->temperature;
    pb.empty_mean = (lp_empty_mean)pp->empty_mean;
    return pb;
}

static int fwd_run(void *state, const lp_plugin_problem *pp, const lp_plugin_outputs *po, char *msg,
                   size_t msg_size)
{
    (void)state;
    lp_problem pb = problem_of(pp);
    lp_ref_result r;
    lp_error e = {LP_OK, ""};
    if (lp_ref_compute(&r, &pb, &e) != LP_OK) {
        snprintf(msg, msg_size, "%s", e.msg);
        return 1;
    }
    float *lp = po->logp;
    for (int64_t i = 0; i < r.B * r.Ts; i++) lp[i] = r.logp[i].f32;
    lp_ref_result_free(&r);
    return 0;
}

/* ---- backward kernels ---- */

typedef struct gout { float *g; int64_t T; int bug; } gout;

static int gsink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    (void)err;
    gout *o = user;
    float *row = o->g + ((size_t)b * (size_t)o->T + (size_t)t) * (size_t)V;
    for (int64_t i = 0; i < V; i++) {
        row[i] = g[i].f32;
        /* the bug: 1 - RN_bf16(p_y) for the label element of a row with weight 1 (token, sum) */
        if (o->bug && g[i].f32 > 0 && g[i].f32 < 0x1p-9f) row[i] = 0.0f;
    }
    return 0;
}

static int bwd(void *state, const lp_plugin_problem *pp, const lp_plugin_grad *pg, char *msg,
               size_t msg_size)
{
    const int *bug = state;
    if (pg->grad_format != LP_F32) {
        snprintf(msg, msg_size, "grad_format %d, expected f32", (int)pg->grad_format);
        return 1;
    }
    lp_problem pb = problem_of(pp);
    gout o = {pg->grad, pp->T, *bug};
    lp_error e = {LP_OK, ""};
    lp_ref_options ro = LP_REF_OPTIONS_INIT;
    ro.threads = 1;
    if (lp_grad_compute(&pb, (lp_reduction)pg->reduction, &ro, gsink, &o, NULL, &e) != LP_OK) {
        snprintf(msg, msg_size, "%s", e.msg);
        return 1;
    }
    return 0;
}

static int no_fwd(void *state, const lp_plugin_problem *pp, const lp_plugin_outputs *po, char *msg,
                  size_t msg_size)
{
    (void)state;
    (void)pp;
    (void)po;
    snprintf(msg, msg_size, "backward only");
    return 1;
}

static lp_check *new_check(double max_ulp)
{
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    for (int i = 0; i < LP_NOUTPUTS; i++) o.max_ulp[i] = max_ulp;
    o.threads = 1;
    lp_check *c = NULL;
    lp_error e = {LP_OK, ""};
    LP_ASSERT(lp_check_new(&c, &o, &e) == LP_OK);
    return c;
}

static lp_certify_options copts(const char *cases)
{
    lp_certify_options co = LP_CERTIFY_OPTIONS_INIT;
    co.cases = cases;
    co.seconds = 0;
    co.batch_invariance = 2;
    return co;
}

static int json_has(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    LP_ASSERT(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            LP_ASSERT(buf);
        }
    }
    fclose(f);
    buf[n] = 0;
    const int r = strstr(buf, what) != NULL;
    free(buf);
    return r;
}

int main(void)
{
    lpt_begin("t_plugin_backward");
    lp_error e = {LP_OK, ""};
    static int zero = 0, one = 1;
    const char *json = "t_plugin_backward.json";

    /* v1: unchanged */
    lp_plugin v1 = {1, sizeof(lp_plugin), "v1_exact", "version 1", LP_PLUGIN_FMT(LP_F32),
                    LP_PLUGIN_OUT_LOGP, LP_F32, LP_F32, LP_F32, LP_PLUGIN_CAP_MASK |
                    LP_PLUGIN_CAP_IGNORE_INDEX | LP_PLUGIN_CAP_SHIFT_NONE | LP_PLUGIN_CAP_TEMPERATURE,
                    fwd_run, NULL};
    lp_check *c = new_check(0.5);
    lp_certify_options co = copts("normal,peaked");
    lp_status s = lp_check_certify_kernel(c, &v1, &co, &e);
    lpt_check(s == LP_OK && !lp_check_failed(c) && lp_check_values(c) > 0,
              "v1: status %d failed %d values %lld: %s", (int)s, lp_check_failed(c),
              (long long)lp_check_values(c), e.msg);
    lpt_check(lp_check_write_json(c, json, &e) == LP_OK && !json_has(json, "\"gradients\""),
              "v1: the JSON report has a gradient section");
    lp_check_free(c);

    /* refused descriptions */
    lp_plugin_v2 k2 = {{2, sizeof(lp_plugin_v2), "exact_grad", "backward only, exact f32",
                        LP_PLUGIN_FMT(LP_F32) | LP_PLUGIN_FMT(LP_BF16), 0, LP_F32, LP_F32, LP_F32,
                        LP_PLUGIN_CAP_BACKWARD, no_fwd, &zero},
                       bwd, LP_F32, 0xfu};
    const struct { const char *what, *field; int abi; uint32_t size; int nofn; } bad[] = {
        {"abi 1", "abi_version", 1, sizeof(lp_plugin_v2), 0},
        {"v1 size", "struct_size", 2, sizeof(lp_plugin), 0},
        {"no backward", "backward", 2, sizeof(lp_plugin_v2), 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lp_plugin_v2 b = k2;
        b.base.abi_version = (uint32_t)bad[i].abi;
        b.base.struct_size = bad[i].size;
        if (bad[i].nofn) b.backward = NULL;
        c = new_check(0.5);
        s = lp_check_certify_kernel(c, &b.base, &co, &e);
        lpt_check(s == LP_ERR_INPUT && strstr(e.msg, bad[i].field), "refused %s: status %d (%s)",
                  bad[i].what, (int)s, e.msg);
        lp_check_free(c);
    }

    /* exact: every reduction, with and without the transformations of the capabilities */
    for (int caps = 0; caps < 2; caps++) {
        lp_plugin_v2 k = k2;
        k.base.caps = LP_PLUGIN_CAP_BACKWARD | LP_PLUGIN_CAP_TEMPERATURE |
                      (caps ? LP_PLUGIN_CAP_MASK | LP_PLUGIN_CAP_IGNORE_INDEX |
                                  LP_PLUGIN_CAP_SHIFT_NONE : 0u);
        c = new_check(0.5);
        lp_certify_options cm = copts("normal,peaked,masks,shift_none,neginf,all_masked,temperature");
        s = lp_check_certify_kernel(c, &k.base, &cm, &e);
        lpt_check(s == LP_OK && !lp_check_failed(c), "exact (caps %d): status %d failed %d: %s", caps,
                  (int)s, lp_check_failed(c), e.msg);
        lpt_check(lp_check_write_json(c, json, &e) == LP_OK && json_has(json, "\"gradients\"") &&
                      json_has(json, "\"token_mean\""),
                  "exact (caps %d): the JSON report's gradient section", caps);
        lp_check_free(c);
    }

    /* bug: fails the same bound */
    lp_plugin_v2 kb = k2;
    kb.base.name = "bug_grad";
    kb.base.state = &one;
    c = new_check(0.5);
    lp_certify_options cp = copts("peaked");
    s = lp_check_certify_kernel(c, &kb.base, &cp, &e);
    lpt_check(s == LP_OK && lp_check_failed(c), "bug: status %d failed %d (expected a failure): %s",
              (int)s, lp_check_failed(c), e.msg);
    lp_check_free(c);
    remove(json);
    return lpt_end();
}
