/* impl/lp_pkernel.h: processed-log-prob kernels (SPEC A7 as inference engines compute it).
 *
 * A processed kernel applies a problem's sampling parameters (pb->sampling: softcap, then the
 * temperature, top_k, top_p, min_p) to each row the way an engine's sampler does, in a fixed
 * floating-point format (its "tensor" format: every processed logit, probability and cumulative
 * sum is a value of that format), replaces every logit it does not keep by -inf, and then hands
 * the processed rows to its BASE kernel (impl/registry.c) at temperature 1: the log-softmax over
 * the kept set, gathered at the label, -inf where the label was not kept; sums and means as the
 * base kernel reduces. With no sampling parameter set the kernel IS its base kernel (the same
 * call, bit for bit, temperature included).
 *
 * The engine rules modelled, the error analysis and the contracts are in the opening comment of
 * impl/processed.c. In short: where the kernel's kept set is provably the exact one (no filter
 * set, or top_k alone at temperature 1 without softcap) the token error is PROVED
 * (lp_pkernel_promise_row); where it is not (top_p, min_p, top_k after a rounded softcap or
 * temperature) the same bound holds against the exact log-prob over the kernel's OWN kept set,
 * and the kept set itself is MEASURED: a token the kernel gives -inf where the reference is
 * finite, or the reverse, is a kept-set disagreement (check and the report count them apart from
 * ULP errors). The library never prints and never exits. */
#ifndef LP_PKERNEL_H
#define LP_PKERNEL_H

#include <stdint.h>

#include "lp_impl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lp_pkernel {
    const char *name;        /* "sampled_f32", ... */
    const char *base;        /* the unprocessed kernel (lp_kernel_find): log-softmax and reductions */
    lp_format tensor;        /* format of the processed logits, probabilities and cumulative sums */
    int topp_rule;           /* LP_PTOPP_* */
    const char *models;      /* one line: the engine code it stands for */
} lp_pkernel;

#define LP_PTOPP_ASC 0       /* vLLM / HF: ascending sort, cumsum, drop where cumsum <= 1 - p */
#define LP_PTOPP_DESC 1      /* SGLang torch-native: descending sort, drop where cumsum - p_i > p */

size_t lp_pkernel_count(void);
const lp_pkernel *lp_pkernel_at(size_t i);            /* NULL past the end */
const lp_pkernel *lp_pkernel_find(const char *name);  /* NULL if unknown */
const lp_kernel *lp_pkernel_base(const lp_pkernel *k);
int lp_pkernel_accepts(const lp_pkernel *k, lp_format fmt);   /* as its base kernel */
const char *lp_pkernel_contract_text(const lp_pkernel *k);    /* static, one paragraph */

/* 1 if no sampling parameter is set (s may be NULL). */
int lp_sampling_none(const lp_sampling *s);

/* The processed row as the kernel holds it: w[0..V-1] values of k->tensor widened to double,
 * -inf where not kept. A row holding NaN or +inf, or only -inf, is copied unprocessed (the base
 * kernel then gives SPEC A3's answer). *kept (may be NULL): the finite entries of w. */
lp_status lp_pkernel_process_row(double *w, int64_t *kept, const lp_pkernel *k, const void *row,
                                 lp_format fmt, int64_t V, double temperature,
                                 const lp_sampling *s, lp_error *err);

/* One row: *out = the kernel's processed logp of label (0 <= label < V), in its output format. */
lp_status lp_pkernel_row(double *out, const lp_pkernel *k, const void *row, lp_format fmt,
                         int64_t V, int64_t label, double temperature, const lp_sampling *s,
                         lp_error *err);

/* The whole problem, pb->sampling applied (lp_kresult as lp_kernel_run). With no sampling
 * parameter set: lp_kernel_run of the base kernel. */
lp_status lp_pkernel_run(lp_kresult *res, const lp_pkernel *k, const lp_problem *pb,
                         lp_error *err);

/* 1 if the kernel's kept set is provably the exact (SPEC A7) one for every row: no filter set, or
 * top_k alone (no top_p, min_p) with temperature 1 and no softcap. */
int lp_pkernel_keptset_exact(const lp_pkernel *k, double temperature, const lp_sampling *s);

/* The promise for one token (processed.c CONTRACT): with K the kernel's own kept set for this
 * row, LP_KALLOW_NEGINF if the label is not in K, else LP_KALLOW_NUM with a bound on
 * |logp_hat - logp_K|, logp_K the exact log-prob of the label over K of the exact softcapped,
 * tempered row (the SPEC A7 value wherever K is the exact kept set). Special rows as the base
 * kernel's promise; outside the domain: in_domain = 0. */
lp_kpromise lp_pkernel_promise_row(const lp_pkernel *k, const void *row, lp_format fmt, int64_t V,
                                   int64_t label, double temperature, const lp_sampling *s);

/* The assumed error bound of tanhf, in ulps of the exact result (SPEC A4's ulp): measured by
 * tests/t_processed_kernels.c against MPFR, which fails if a sample exceeds it (glibc 2.36 on
 * x86-64: 2.08 ulp sampled, so 3 leaves a margin; a sampled maximum is a lower bound). */
#define LP_LIBM_TANH_ULP 3.0

#ifdef __cplusplus
}
#endif
#endif
