/* lpcert_plugin.h: the plugin ABI of `lpcert certify` (version 2: version 1 plus an optional
 * backward entry).
 *
 * A plugin is a shared library that exports an entry function (default symbol lp_plugin_entry;
 * `lpcert certify --plugin lib.so:other_symbol` picks another, so one library may hold several
 * kernels). lpcert calls it once with the ABI version it speaks and gets back a description of
 * the kernel: what logits formats it reads, which outputs it writes and in which format, what it
 * supports, and its run function. lpcert then calls run on every case of the standard suite and on
 * random problems, one call at a time from one thread, and compares the outputs with the exact
 * reference.
 *
 *     #include "lpcert_plugin.h"
 *     static int run(void *state, const lp_plugin_problem *pb, const lp_plugin_outputs *out,
 *                    char *msg, size_t msg_size);
 *     static const lp_plugin kernel = {
 *         LP_PLUGIN_ABI_VERSION, sizeof(lp_plugin), "my_kernel", "two-pass, f32 accumulation",
 *         LP_PLUGIN_FMT(LP_F32) | LP_PLUGIN_FMT(LP_BF16),
 *         LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM | LP_PLUGIN_OUT_MEAN,
 *         LP_F32, LP_F32, LP_F32, LP_PLUGIN_CAP_TEMPERATURE, run, NULL};
 *     const lp_plugin *lp_plugin_entry(uint32_t host_abi) { (void)host_abi; return &kernel; }
 *
 * Versioning. Both structs lpcert passes start with struct_size (the size lpcert knows) and the
 * plugin's description starts with abi_version and struct_size (the size the plugin knows). A
 * later version only appends fields; a reader uses a field only when the struct_size it was
 * given covers it. lpcert refuses a plugin whose abi_version is 0 or greater than its own, or
 * whose struct_size is smaller than version 1's. The entry function may return NULL to refuse a
 * host (e.g. host_abi too old).
 *
 * Backward (version 2). A kernel that also computes the gradient (SPEC A8) of a reduction with
 * respect to the logits is described by an lp_plugin_v2 (lp_plugin followed by backward,
 * grad_format, reductions): LP_PLUGIN_CAP_BACKWARD, abi_version >= 2, struct_size =
 * sizeof(lp_plugin_v2).
 * Such a kernel may write no forward output at all (outputs 0: a backward-only kernel). lpcert
 * calls backward with the same (transformed) problem as run and an lp_plugin_grad: grad is
 * [B, T, V] (T as in the problem passed, row-major, in grad_format, poisoned with NaN); the kernel
 * writes the gradient of the reduction asked (token: each counted token's logp, weight 1; sum:
 * weight 1; mean: 1/n_b; token_mean: 1/sum_b n_b) of the logp values, i.e. d R / d logits with R
 * a sum of logp (a cross-entropy kernel writes its gradient negated), and +0 in rows that score
 * nothing. Version-1 plugins (abi_version 1, the version-1 struct_size) load and run unchanged;
 * a version-2 plugin loaded by a version-1 lpcert is refused by its abi_version unless the entry
 * function returns a version-1 description for host_abi 1.
 *
 * Semantics: SPEC A1-A3 (docs/SPEC.md), as the problem states them (lpcert reports, rather than forbids,
 * the conventions a kernel follows instead: masking by multiplication, its own empty-mean policy).
 * Memory: every array belongs to lpcert and lives only during the call; logits, labels and mask
 * are host memory (a CUDA kernel copies them to the device and its outputs back).
 */
#ifndef LPCERT_PLUGIN_H
#define LPCERT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LP_PLUGIN_ABI_VERSION 2u
#define LP_PLUGIN_ENTRY "lp_plugin_entry"       /* the default entry symbol */

#define LP_PLUGIN_FMT(f) (1u << (unsigned)(f))  /* formats: bit (1 << lp_format) */
#define LP_PLUGIN_SAME_AS_LOGITS (-1)           /* an output format: the logits' format */

/* Outputs a kernel writes (lp_plugin.outputs). */
#define LP_PLUGIN_OUT_LOGP 1u                   /* per scored token, [B, Ts] */
#define LP_PLUGIN_OUT_SUM 2u                    /* per sequence, [B] */
#define LP_PLUGIN_OUT_MEAN 4u                   /* per sequence, [B] */

/* What a kernel supports (lp_plugin.caps). Without a capability lpcert either transforms the
 * problem into an equivalent one the kernel supports, or skips the case and says so:
 *   MASK          without it, an explicit mask is folded into the labels (label := ignore_index
 *                 where mask is 0) and mask is NULL;
 *   IGNORE_INDEX  without it, ignore_index is always -100 (other values are rewritten to -100);
 *   SHIFT_NONE    without it, a shift-none problem [B, T, V] is passed as the equivalent
 *                 shift-next problem [B, T+1, V] (one row of zeros appended, labels moved right);
 *   TEMPERATURE   without it, problems with temperature != 1 are skipped (reported). */
#define LP_PLUGIN_CAP_MASK 1u
#define LP_PLUGIN_CAP_IGNORE_INDEX 2u
#define LP_PLUGIN_CAP_SHIFT_NONE 4u
#define LP_PLUGIN_CAP_TEMPERATURE 8u
#define LP_PLUGIN_CAP_BACKWARD 16u    /* ABI 2: backward, grad_format and reductions are set */

/* The problem of SPEC A1. */
typedef struct lp_plugin_problem {
    uint32_t struct_size;     /* sizeof(lp_plugin_problem) as lpcert knows it */
    uint32_t abi_version;     /* the version lpcert speaks */
    int64_t B, T, V;
    int64_t Ts;               /* scored positions per sequence: T-1 (shift next) or T (none) */
    int32_t format;           /* lp_format of the logits */
    int32_t shift;            /* lp_shift: 0 next (row t scores labels[t+1]), 1 none */
    const void *logits;       /* [B, T, V] row-major, in format; f16/bf16 as uint16 bit patterns */
    const int64_t *labels;    /* [B, T] */
    const uint8_t *mask;      /* [B, T] of 0 and 1, indexed like labels; NULL: all ones */
    int64_t ignore_index;     /* a label equal to it does not count */
    double temperature;       /* tau > 0: the rows are logits / tau */
    int32_t empty_mean;       /* lp_empty_mean the spec asks for a sequence with no counted token:
                               * 0 NaN, 1 zero (a kernel with its own fixed policy may ignore it) */
    int32_t reserved;         /* 0 */
} lp_plugin_problem;

/* Where the kernel writes. lpcert allocates every array (poisoned with a NaN) and reads it back
 * after run returns; an output the kernel does not declare is NULL. Values at positions that do
 * not count are ignored. */
typedef struct lp_plugin_outputs {
    uint32_t struct_size;     /* sizeof(lp_plugin_outputs) as lpcert knows it */
    uint32_t reserved;
    void *logp;               /* [B, Ts] in logp_format */
    void *sum;                /* [B] in sum_format */
    void *mean;               /* [B] in mean_format */
    int32_t logp_format, sum_format, mean_format;   /* lp_format, resolved (never SAME_AS_LOGITS) */
    int32_t reserved2;
} lp_plugin_outputs;

/* Computes the outputs of one problem. Returns 0 on success; otherwise writes one line into msg
 * (msg_size bytes, NUL-terminated) and returns non-zero: lpcert reports it as a failure of the
 * kernel on that case. Called from one thread at a time. */
typedef int (*lp_plugin_run_fn)(void *state, const lp_plugin_problem *pb,
                                const lp_plugin_outputs *out, char *msg, size_t msg_size);

/* Where the backward entry writes (ABI 2). */
typedef struct lp_plugin_grad {
    uint32_t struct_size;     /* sizeof(lp_plugin_grad) as lpcert knows it */
    int32_t reduction;        /* lp_reduction asked: 0 token, 1 sum, 2 mean, 3 token_mean */
    void *grad;               /* [B, T, V] in grad_format */
    int32_t grad_format;      /* lp_format, resolved (never SAME_AS_LOGITS) */
    int32_t reserved;
} lp_plugin_grad;

/* Computes the gradient of one problem (ABI 2). Return value and msg as lp_plugin_run_fn. */
typedef int (*lp_plugin_backward_fn)(void *state, const lp_plugin_problem *pb,
                                     const lp_plugin_grad *out, char *msg, size_t msg_size);

/* The kernel's description, returned by the entry function; it must stay valid until the library
 * is unloaded. */
typedef struct lp_plugin {
    uint32_t abi_version;     /* LP_PLUGIN_ABI_VERSION the plugin was written for */
    uint32_t struct_size;     /* sizeof(lp_plugin) as the plugin knows it */
    const char *name;         /* short name, printed in reports */
    const char *description;  /* one line: the algorithm and its conventions (may be NULL) */
    uint32_t formats;         /* logits formats it reads: LP_PLUGIN_FMT(LP_F32) | ... */
    uint32_t outputs;         /* LP_PLUGIN_OUT_* it writes (at least one) */
    int32_t logp_format;      /* lp_format of each output, or LP_PLUGIN_SAME_AS_LOGITS */
    int32_t sum_format;
    int32_t mean_format;
    uint32_t caps;            /* LP_PLUGIN_CAP_* */
    lp_plugin_run_fn run;
    void *state;              /* passed back to run (and backward) */
} lp_plugin;

/* Version 2's appended fields: a backward kernel describes itself as an lp_plugin_v2 and returns
 * the address of its base member, with struct_size = sizeof(lp_plugin_v2) and abi_version 2;
 * lpcert reads the fields after base only when struct_size covers them and caps has
 * LP_PLUGIN_CAP_BACKWARD. (sizeof(lp_plugin) is version 1's, so version-1 sources compile and
 * behave unchanged against this header.)
 *     static const lp_plugin_v2 k = {{2, sizeof(lp_plugin_v2), "my_kernel", "...",
 *         LP_PLUGIN_FMT(LP_F32), 0, LP_F32, LP_F32, LP_F32, LP_PLUGIN_CAP_BACKWARD, run, NULL},
 *         backward, LP_F32, 1u << LP_RED_TOKEN_MEAN};
 *     const lp_plugin *lp_plugin_entry(uint32_t host_abi) { return host_abi >= 2 ? &k.base : NULL; } */
typedef struct lp_plugin_v2 {
    lp_plugin base;
    lp_plugin_backward_fn backward;  /* with LP_PLUGIN_CAP_BACKWARD; else NULL */
    int32_t grad_format;      /* lp_format of the gradient, or LP_PLUGIN_SAME_AS_LOGITS */
    uint32_t reductions;      /* the reductions it computes: bits (1u << lp_reduction) */
} lp_plugin_v2;

/* The entry function's type. host_abi: LP_PLUGIN_ABI_VERSION of the lpcert that loads it. */
typedef const lp_plugin *(*lp_plugin_entry_fn)(uint32_t host_abi);

/* The default entry, defined by the plugin (declared here so that a plugin's definition has a
 * prototype). */
const lp_plugin *lp_plugin_entry(uint32_t host_abi);

#ifdef __cplusplus
}
#endif
#endif
