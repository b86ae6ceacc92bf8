/* lpcert.h: the public API of lpcert, the exact reference for log-probability extraction.
 *
 * Semantics are those of DESIGN.md Part A: per scored token logp = x[y] - log(sum_i exp(x[i])),
 * per sequence the exact sum and mean of the counted tokens, per batch the token mean; every
 * result correctly rounded (RNE) to f64, f32, f16 and bf16, plus a double-double.
 * The library never prints and never exits: it fills an lp_error with one line.
 */
#ifndef LPCERT_H
#define LPCERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage formats. Values are ABI: append, never renumber. */
typedef enum lp_format { LP_F64 = 0, LP_F32 = 1, LP_F16 = 2, LP_BF16 = 3 } lp_format;
#define LP_NFORMATS 4

typedef enum lp_status {
    LP_OK = 0,
    LP_ERR_USAGE,    /* bad arguments or options            -> exit 2 */
    LP_ERR_INPUT,    /* malformed or out-of-range input     -> exit 2 */
    LP_ERR_IO,       /* open/read/write/mmap failed         -> exit 2 */
    LP_ERR_NOMEM,
    LP_ERR_INTERNAL  /* a bug in lpcert: report it          */
} lp_status;

typedef struct lp_error { lp_status status; char msg[256]; } lp_error;  /* plain: caller owns */
typedef struct lp_shape { int64_t B, T, V; } lp_shape;                  /* plain: a value */

typedef enum lp_itype { LP_I64 = 0, LP_I32 = 1 } lp_itype;               /* label storage */
typedef enum lp_shift { LP_SHIFT_NEXT = 0, LP_SHIFT_NONE = 1 } lp_shift;
typedef enum lp_empty_mean { LP_EMPTY_NAN = 0, LP_EMPTY_ZERO = 1 } lp_empty_mean;

/* The problem of DESIGN A1. The arrays are borrowed (they may be a file mapping).
 * logits: B*T*V elements of fmt, row-major. labels: B*T of label_type. mask: B*T bytes indexed
 * like labels (0 or 1; NULL means all ones). With LP_SHIFT_NEXT the logits row (b, t) scores
 * labels[b, t+1] under mask[b, t+1], for t in [0, T-1); with LP_SHIFT_NONE row (b, t) scores
 * labels[b, t] under mask[b, t]. */
typedef struct lp_problem {
    lp_shape shape;
    lp_format fmt;
    const void *logits;
    lp_itype label_type;
    const void *labels;
    const uint8_t *mask;
    lp_shift shift;
    int64_t ignore_index;
    double temperature;      /* tau > 0 and finite; rows are logits / tau, divided exactly */
    lp_empty_mean empty_mean;
} lp_problem;

#define LP_PROBLEM_INIT { {0, 0, 0}, LP_F32, NULL, LP_I64, NULL, NULL, LP_SHIFT_NEXT, -100, 1.0, \
                          LP_EMPTY_NAN }

/* An unevaluated sum hi + lo with |lo| <= ulp(hi)/2. */
typedef struct lp_dd { double hi, lo; } lp_dd;

/* One exact real result, rounded every way. f16 and bf16 are bit patterns. NaN results are the
 * positive quiet NaN of each format (0x7ff8000000000000, 0x7fc00000, 0x7e00, 0x7fc0).
 * dd.hi is the f64 value (correctly rounded). For finite |x| < 2^1024 the pair satisfies
 * |dd.hi + dd.lo - x| <= 2^-104 |x| + 2^-1074 (at least 100 correct bits where x is normal);
 * dd.lo is not canonical: two correct evaluations may differ within that bound. Where dd.hi is not
 * finite, dd.lo is 0 (infinity) or NaN (NaN). */
typedef struct lp_value {
    double f64;
    float f32;
    uint16_t f16;
    uint16_t bf16;
    lp_dd dd;
} lp_value;

/* Counters of the Ziv loop, for reports and benchmarks. */
typedef struct lp_ref_stats {
    int64_t tokens;          /* scored tokens evaluated */
    int64_t exact;           /* decided without the loop (DESIGN A2 exact cases, specials) */
    int64_t retries;         /* precision raises, all values together */
    long max_prec;           /* largest working precision used, bits */
    int64_t fast;            /* tokens decided by the certified double fast path (reference/fast.c) */
    int64_t fallback;        /* tokens the fast path left to the MPFR loop (undecided, tau != 1) */
    int64_t seq_fallback;    /* sums/means (sequences, and the token mean) left to the MPFR loop */
} lp_ref_stats;

/* Everything `lpcert ref` writes. Arrays owned by the result: lp_ref_result_free. */
typedef struct lp_ref_result {
    int64_t B, Ts;           /* scored positions per sequence: T-1 (next) or T (none) */
    lp_value *logp;          /* [B*Ts]; NaN where not counted */
    uint8_t *counted;        /* [B*Ts]; 1 where the token counts */
    lp_value *sum, *mean;    /* [B] */
    int64_t *count;          /* [B] */
    lp_value token_mean;
    lp_ref_stats stats;
} lp_ref_result;

const char *lp_status_name(lp_status s);
const char *lp_format_name(lp_format f);               /* "f64", "f32", "f16", "bf16" */

/* Checks shapes, parameters and every scored label (DESIGN A3: a label outside [0, V) that is not
 * ignore_index is an input error even where the mask is 0). */
lp_status lp_problem_check(const lp_problem *pb, lp_error *err);

/* Options of the exact reference. Results are bit-identical for every thread count. */
typedef struct lp_ref_options {
    int threads;     /* 0: one per online CPU */
    /* Called with the scored tokens done so far and the total, from any thread (never two at
     * once), at most every 4096 tokens or 2^16 logits; NULL for none. */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
    /* 1: the MPFR Ziv loop for everything (the fast path is off). */
    int slow;
    /* The outputs wanted: bits (1u << fmt) and LP_REF_DD; 0 means all (LP_REF_ALL). Outputs not
     * wanted hold NaN (each format's canonical NaN; dd (NaN, NaN)). The fast path decides f32, f16,
     * bf16 and f64; the double-double always comes from the MPFR loop, so wanting it turns the fast
     * path off. */
    unsigned formats;
} lp_ref_options;
#define LP_REF_DD (1u << 4)
#define LP_REF_ALL 0x1fu
#define LP_REF_OPTIONS_INIT { 0, NULL, NULL, 0, 0 }

/* The exact reference on a whole problem. Saves and restores MPFR's global state. */
lp_status lp_ref_compute(lp_ref_result *res, const lp_problem *pb, lp_error *err);
lp_status lp_ref_compute_opts(lp_ref_result *res, const lp_problem *pb, const lp_ref_options *opt,
                              lp_error *err);
void lp_ref_result_free(lp_ref_result *res);            /* NULL members are fine */

/* The exact logp of one row of V logits in fmt scoring label (0 <= label < V). */
lp_status lp_ref_row(lp_value *out, const void *row, lp_format fmt, int64_t V, int64_t label,
                     double temperature, lp_error *err);

#ifdef __cplusplus
}
#endif
#endif
