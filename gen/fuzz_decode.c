/* gen/fuzz_decode.c: bytes -> a small lp_problem that reaches the hard places (layout:
 * lp_fuzz_decode.h).
 * Deterministic: the same bytes give the same problem, on every machine and in every process. */
#include "lp_fuzz_decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lp_core.h"
#include "lp_format.h"

static const int64_t LP_FZ_IGNORE[8] = {-100, -100, -100, -1, 0, 1, INT64_MIN, INT64_C(1) << 40};
/* 1 most often; non-powers of two (division inexact); extremes that push (x - m)/tau out of
 * double's range or squash every row to near-uniform. */
static const double LP_FZ_TAU[16] = {1.0, 1.0, 1.0, 1.0, 0.5, 2.0, 0.7, 1.5,
                                     3.0, 0.1, 1.0 / 3.0, 1e-3, 0x1p-20, 1e5, 1e-300, 1e300};
/* Gaps below the max: exp(-21) ~ 7.6e-10, so a row with gaps >= 25 has p within 1e-9 of 1;
 * 745 is where exp underflows double; 3.3e18 where it underflows MPFR's exponent range. */
static const double LP_FZ_GAP[16] = {16, 20, 21, 22, 23, 25, 30, 40,
                                     60, 100, 745, 800, 1e4, 1e6, 3.3e18, 1e30};
static const int LP_FZ_BIGEXP[16] = {16, 20, 31, 40, 61, 62, 63, 64,
                                     100, 127, 128, 200, 500, 1000, 1023, 1024};

/* ---- formats as bit patterns --------------------------------------------------------------- */

typedef struct fmt_bits {
    int bytes, mbits;            /* storage bytes, trailing significand bits */
    uint64_t sign, inf, qnan, snan;
} fmt_bits;

static fmt_bits fmt_of(lp_format f)
{
    const lp_format_info *fi = lp_format_get(f);
    fmt_bits b;
    b.bytes = fi->bytes;
    b.mbits = fi->prec - 1;
    int w = 8 * fi->bytes, ebits = w - 1 - b.mbits;
    b.sign = UINT64_C(1) << (w - 1);
    b.inf = ((UINT64_C(1) << ebits) - 1) << b.mbits;
    b.qnan = b.inf | UINT64_C(1) << (b.mbits - 1);
    b.snan = b.inf | UINT64_C(1) << (b.mbits - 2);
    return b;
}

double lp_fz_widen(uint64_t bits, lp_format f)
{
    switch (f) {
    case LP_F64: return lp_f64_bits(bits);
    case LP_F32: return (double)lp_f32_bits((uint32_t)bits);
    case LP_F16: return lp_f16_to_f64((uint16_t)bits);
    case LP_BF16: return lp_bf16_to_f64((uint16_t)bits);
    }
    return 0.0;
}

uint64_t lp_fz_narrow(double x, lp_format f)
{
    switch (f) {
    case LP_F64: return lp_bits_f64(x);
    case LP_F32: return lp_bits_f32(lp_f32_from_f64(x));
    case LP_F16: return lp_f16_from_f64(x);
    case LP_BF16: return lp_bf16_from_f64(x);
    }
    return 0;
}

/* bits moved k representable values up (k > 0) or down, stopping at the infinities; -0 and +0
 * count as one value. NaN stays. */
static uint64_t step(uint64_t bits, lp_format f, int k)
{
    const fmt_bits fb = fmt_of(f);
    uint64_t mag = bits & ~fb.sign;
    if (mag > fb.inf) return bits;
    int64_t ord = (bits & fb.sign) ? -(int64_t)mag : (int64_t)mag;
    ord += k;
    if (ord > (int64_t)fb.inf) ord = (int64_t)fb.inf;
    if (ord < -(int64_t)fb.inf) ord = -(int64_t)fb.inf;
    return ord < 0 ? fb.sign | (uint64_t)(-ord) : (uint64_t)ord;
}

/* LP_FZ_SPECIAL: the table of the element grammar, per format. */
static uint64_t special(unsigned k, lp_format f)
{
    const fmt_bits fb = fmt_of(f);
    const uint64_t one = lp_fz_narrow(1.0, f);
    switch (k & 31) {
    case 0: return 0;                               /* +0 */
    case 1: return fb.sign;                         /* -0 */
    case 2: return 1;                               /* smallest subnormal */
    case 3: return fb.sign | 1;
    case 4: return (UINT64_C(1) << fb.mbits) - 1;  /* largest subnormal */
    case 5: return UINT64_C(1) << fb.mbits;        /* smallest normal */
    case 6: return fb.inf - 1;                      /* max finite */
    case 7: return fb.sign | (fb.inf - 1);
    case 8: return fb.inf;
    case 9: case 10: case 11: return fb.sign | fb.inf;   /* -inf: vocabulary masking, common */
    case 12: return fb.qnan;
    case 13: return fb.sign | fb.qnan;
    case 14: return fb.snan;
    case 15: return one;
    case 16: return fb.sign | one;
    case 17: return lp_fz_narrow(0.5, f);
    case 18: return lp_fz_narrow(2.0, f);
    case 19: return one + 1;                        /* next above 1 */
    case 20: return one - 1;                        /* next below 1 */
    case 21: return fb.sign | (fb.inf - (UINT64_C(1) << fb.mbits)); /* -max/2 */
    case 22: return lp_fz_narrow(65504.0, f);
    case 23: return lp_fz_narrow(-65504.0, f);
    case 24: return lp_fz_narrow(3e18, f);
    case 25: return lp_fz_narrow(-3.3e18, f);
    case 26: return lp_fz_narrow(1e-5, f);
    case 27: return lp_fz_narrow(0x1.62e42fefa39efp-1, f);   /* ln 2 */
    case 28: return lp_fz_narrow(100.0, f);
    case 29: return lp_fz_narrow(-100.0, f);
    case 30: return lp_fz_narrow(88.72283905206835, f);      /* log(FLT_MAX) */
    default: return lp_fz_narrow(-745.1332191019412, f);     /* log of the smallest double */
    }
}

/* ---- the byte reader: tail for parameters, head for the payload ---------------------------- */

typedef struct rd {
    const uint8_t *d;
    size_t head, tail;
} rd;

static unsigned tb(rd *r) { return r->tail > r->head ? r->d[--r->tail] : 0u; }
static unsigned hb(rd *r) { return r->head < r->tail ? r->d[r->head++] : 0u; }

static uint64_t raw(rd *r, lp_format f)
{
    uint64_t v = 0;
    int n = lp_format_get(f)->bytes;
    for (int i = 0; i < n; i++) v |= (uint64_t)hb(r) << (8 * i);
    return v;
}

static double signed_if(double v, unsigned bit) { return bit ? -v : v; }

/* One element of the grammar; row0 is the row's first index, i the element's position. */
static uint64_t element(rd *r, const lp_fz_problem *p, size_t row0, size_t i)
{
    const lp_format f = p->pb.fmt;
    const unsigned c = hb(r);
    if (c < 0x40) return raw(r, f);
    if (c < 0x60) return special(c, f);
    if (c < 0x80) return lp_fz_narrow((double)((int)(c & 31) - 16), f);
    if (c < 0xc0) {
        const unsigned j = hb(r);
        uint64_t src = i > 0 ? lp_fz_bits(p, row0 + j % i) : lp_fz_narrow(1.0, f);
        if (c < 0xa0) return src;
        int k = (int)(c & 7) + 1;
        return step(src, f, (c & 8) ? -k : k);
    }
    if (c < 0xe0) {
        unsigned m = hb(r);
        m |= hb(r) << 8;
        double v = ldexp(1.0 + m / 65536.0, (int)(c & 15) - 8);
        return lp_fz_narrow(signed_if(v, c & 16), f);
    }
    unsigned m = hb(r);
    double v = ldexp(1.0 + m / 256.0, LP_FZ_BIGEXP[c & 15]);
    return lp_fz_narrow(signed_if(v, c & 16), f);
}

static void gen_row(rd *r, lp_fz_problem *p, size_t row0)
{
    const lp_format f = p->pb.fmt;
    const size_t V = (size_t)p->pb.shape.V;
    const fmt_bits fb = fmt_of(f);
    const unsigned mode = hb(r);
    switch (mode >> 5) {
    case 2:   /* small: many exact ties */
        for (size_t i = 0; i < V; i++) {
            unsigned s = hb(r);
            int v = (int)s - (s >= 128 ? 256 : 0);
            lp_fz_set_bits(p, row0 + i, s == 0x80 ? fb.sign | fb.inf : lp_fz_narrow(v / 8.0, f));
        }
        break;
    case 3: { /* dominant: p close to 1 at k */
        size_t k = hb(r) % V;
        uint64_t mb = element(r, p, row0, 0);
        double M = lp_fz_widen(mb, f);
        for (size_t i = 0; i < V; i++) {
            if (i == k) {
                lp_fz_set_bits(p, row0 + i, mb);
                continue;
            }
            unsigned g = hb(r);
            uint64_t v = g == 0xff ? fb.sign | fb.inf
                                   : lp_fz_narrow(M - LP_FZ_GAP[g & 15] - (g >> 4) / 16.0, f);
            lp_fz_set_bits(p, row0 + i, v);
        }
        break;
    }
    case 4: { /* near ties around one base */
        uint64_t base = element(r, p, row0, 0);
        for (size_t i = 0; i < V; i++)
            lp_fz_set_bits(p, row0 + i, step(base, f, (int)(hb(r) >> 4) - 8));
        break;
    }
    case 5:   /* raw bit patterns */
        for (size_t i = 0; i < V; i++) lp_fz_set_bits(p, row0 + i, raw(r, f));
        break;
    case 6:   /* specials only */
        for (size_t i = 0; i < V; i++) lp_fz_set_bits(p, row0 + i, special(hb(r), f));
        break;
    case 7:   /* the dummy-label trap: -inf at index 0 */
        lp_fz_set_bits(p, row0, fb.sign | fb.inf);
        for (size_t i = 1; i < V; i++) lp_fz_set_bits(p, row0 + i, element(r, p, row0, i));
        break;
    default:  /* free */
        for (size_t i = 0; i < V; i++) lp_fz_set_bits(p, row0 + i, element(r, p, row0, i));
        break;
    }
}

/* Index of the first (last) max, or of the first min finite logit, of a row; -1 if none. */
static int64_t row_pick(const lp_fz_problem *p, size_t row0, int which)
{
    const int64_t V = p->pb.shape.V;
    int64_t at = -1;
    double best = 0.0;
    for (int64_t i = 0; i < V; i++) {
        double x = lp_fz_value(p, row0 + (size_t)i);
        if (isnan(x)) continue;
        if (which == 2) {   /* min finite */
            if (isinf(x)) continue;
            if (at < 0 || x < best) at = i, best = x;
        } else if (at < 0 || x > best || (which == 1 && x == best)) {
            at = i;
            best = x;
        }
    }
    return at;
}

static int64_t first_neginf(const lp_fz_problem *p, size_t row0)
{
    for (int64_t i = 0; i < p->pb.shape.V; i++)
        if (lp_fz_value(p, row0 + (size_t)i) == -HUGE_VAL) return i;
    return -1;
}

static int64_t resolve_label(const lp_fz_problem *p, unsigned s, int64_t b, int64_t t)
{
    const int64_t T = p->pb.shape.T, V = p->pb.shape.V;
    if (s >= 0xf0) {
        static const int64_t fixed[16] = {0, -1, -2, 0, 1000, INT32_MAX, INT32_MIN, INT64_MAX,
                                          INT64_MIN, INT64_C(1) << 32, -100, 0, 0, 0,
                                          INT64_C(1) << 40, 0};
        switch (s & 15) {
        case 0: return V;
        case 3: return V + 1;
        case 11: return V + (INT64_C(1) << 32);   /* an i32 label wraps to V */
        case 12: return 2 * V;
        case 13: return -V;
        default: return fixed[s & 15];
        }
    }
    if (s >= 0xb0 && s < 0xd0) return p->pb.ignore_index;
    const int64_t ts = p->pb.shift == LP_SHIFT_NEXT ? t - 1 : t;
    if (s < 0x80 || ts < 0) return (int64_t)(s % (unsigned)V);
    const size_t row0 = (size_t)((b * T + ts) * V);
    int64_t at = s < 0xa0 ? row_pick(p, row0, 0)
                 : s < 0xb0 ? row_pick(p, row0, 2)
                 : s < 0xe0 ? row_pick(p, row0, 1)
                            : first_neginf(p, row0);
    if (at < 0) at = s >= 0xe0 ? V - 1 : (int64_t)(s % (unsigned)V);
    return at;
}

/* ---- the problem ---------------------------------------------------------------------------- */

static size_t n_logits(const lp_fz_problem *p)
{
    return (size_t)(p->pb.shape.B * p->pb.shape.T * p->pb.shape.V);
}

static size_t n_tokens(const lp_fz_problem *p) { return (size_t)(p->pb.shape.B * p->pb.shape.T); }

static size_t label_size(const lp_fz_problem *p) { return p->pb.label_type == LP_I32 ? 4 : 8; }

static int alloc_arrays(lp_fz_problem *p, int with_mask)
{
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    p->logits = calloc(n_logits(p), esz);
    p->labels = calloc(n_tokens(p), label_size(p));
    p->mask = with_mask ? calloc(n_tokens(p), 1) : NULL;
    p->pb.logits = p->logits;
    p->pb.labels = p->labels;
    p->pb.mask = p->mask;
    if (!p->logits || !p->labels || (with_mask && !p->mask)) {
        lp_fz_free(p);
        return 0;
    }
    return 1;
}

void lp_fz_free(lp_fz_problem *p)
{
    free(p->logits);
    free(p->labels);
    free(p->mask);
    p->logits = p->labels = NULL;
    p->mask = NULL;
    p->pb.logits = p->pb.labels = NULL;
    p->pb.mask = NULL;
}

int lp_fz_copy(lp_fz_problem *dst, const lp_fz_problem *src)
{
    *dst = *src;
    if (!alloc_arrays(dst, src->mask != NULL)) return 0;
    memcpy(dst->logits, src->logits, n_logits(src) * (size_t)lp_format_get(src->pb.fmt)->bytes);
    memcpy(dst->labels, src->labels, n_tokens(src) * label_size(src));
    if (src->mask) memcpy(dst->mask, src->mask, n_tokens(src));
    return 1;
}

uint64_t lp_fz_bits(const lp_fz_problem *p, size_t i)
{
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    const unsigned char *q = (const unsigned char *)p->logits + i * esz;
    uint64_t v = 0;
    for (size_t k = 0; k < esz; k++) v |= (uint64_t)q[k] << (8 * k);
    return v;
}

void lp_fz_set_bits(lp_fz_problem *p, size_t i, uint64_t bits)
{
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    unsigned char *q = (unsigned char *)p->logits + i * esz;
    for (size_t k = 0; k < esz; k++) q[k] = (unsigned char)(bits >> (8 * k));
}

double lp_fz_value(const lp_fz_problem *p, size_t i)
{
    return lp_fz_widen(lp_fz_bits(p, i), p->pb.fmt);
}

int64_t lp_fz_label(const lp_fz_problem *p, size_t i)
{
    if (p->pb.label_type == LP_I32) {
        int32_t v;
        memcpy(&v, (const char *)p->labels + 4 * i, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, (const char *)p->labels + 8 * i, 8);
    return v;
}

void lp_fz_set_label(lp_fz_problem *p, size_t i, int64_t v)
{
    if (p->pb.label_type == LP_I32) {
        uint32_t low = (uint32_t)(uint64_t)v;   /* the low 32 bits, as a cast from a wider type */
        memcpy((char *)p->labels + 4 * i, &low, 4);
    } else {
        memcpy((char *)p->labels + 8 * i, &v, 8);
    }
}

int lp_fz_decode(lp_fz_problem *p, const uint8_t *data, size_t size)
{
    static const lp_problem init = LP_PROBLEM_INIT;
    memset(p, 0, sizeof *p);
    p->pb = init;
    rd r = {data, 0, size};
    for (int k = 0; k < LP_FZ_NPARAM; k++) p->param[k] = (uint8_t)tb(&r);
    const unsigned k0 = p->param[0], k1 = p->param[1], k2 = p->param[2], k3 = p->param[3];
    p->pb.fmt = (lp_format)(k0 & 3);
    p->pb.shift = (k0 & 4) ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
    p->pb.label_type = (k0 & 8) ? LP_I32 : LP_I64;
    p->pb.empty_mean = (k0 & 16) ? LP_EMPTY_ZERO : LP_EMPTY_NAN;
    const unsigned mask_mode = (k0 >> 5) & 3;
    const int64_t B = 1 + (k1 & 3), T = 1 + ((k1 >> 2) & 7);
    int64_t V = 1 + (k2 & 63);
    if (V > LP_FZ_MAX_LOGITS / (B * T)) V = LP_FZ_MAX_LOGITS / (B * T);
    p->pb.shape.B = B;
    p->pb.shape.T = T;
    p->pb.shape.V = V;
    p->pb.ignore_index = LP_FZ_IGNORE[k1 >> 5];
    p->pb.temperature = LP_FZ_TAU[k3 & 15];

    unsigned sel[LP_FZ_MAX_TOKENS];
    const size_t nt = (size_t)(B * T);
    for (size_t i = 0; i < nt; i++) sel[i] = tb(&r);
    if (!alloc_arrays(p, mask_mode != 0)) return 0;

    for (size_t row = 0; row < nt; row++) gen_row(&r, p, row * (size_t)V);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            lp_fz_set_label(p, (size_t)(b * T + t), resolve_label(p, sel[b * T + t], b, t));
    if (p->mask) {
        const uint32_t bits = (uint32_t)p->param[4] | (uint32_t)p->param[5] << 8 |
                              (uint32_t)p->param[6] << 16 | (uint32_t)p->param[7] << 24;
        for (size_t i = 0; i < nt; i++)
            p->mask[i] = mask_mode == 3 ? 1 : (uint8_t)((bits >> i) & 1);
        if (k0 & 0x80) p->mask[(k3 >> 4) % nt] = 2;
    }
    return 1;
}

/* ---- reports -------------------------------------------------------------------------------- */

void lp_fz_dump(FILE *fp, const lp_fz_problem *p)
{
    const lp_problem *pb = &p->pb;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    const int hexw = 2 * lp_format_get(pb->fmt)->bytes;
    fprintf(fp, "  problem: %s B=%lld T=%lld V=%lld shift=%s labels=%s ignore_index=%lld "
                "tau=%a (%.17g) empty_mean=%s\n",
            lp_format_name(pb->fmt), (long long)B, (long long)T, (long long)V,
            pb->shift == LP_SHIFT_NEXT ? "next" : "none", pb->label_type == LP_I32 ? "i32" : "i64",
            (long long)pb->ignore_index, pb->temperature, pb->temperature,
            pb->empty_mean == LP_EMPTY_NAN ? "nan" : "zero");
    fprintf(fp, "  params:");
    for (int k = 0; k < LP_FZ_NPARAM; k++) fprintf(fp, " %02x", p->param[k]);
    fprintf(fp, "\n");
    for (int64_t b = 0; b < B; b++) {
        fprintf(fp, "  b=%lld labels:", (long long)b);
        for (int64_t t = 0; t < T; t++)
            fprintf(fp, " %lld", (long long)lp_fz_label(p, (size_t)(b * T + t)));
        if (p->mask) {
            fprintf(fp, "  mask:");
            for (int64_t t = 0; t < T; t++) fprintf(fp, " %u", (unsigned)p->mask[b * T + t]);
        }
        fprintf(fp, "\n");
        for (int64_t t = 0; t < T; t++) {
            fprintf(fp, "  b=%lld t=%lld:", (long long)b, (long long)t);
            for (int64_t i = 0; i < V; i++) {
                size_t at = (size_t)((b * T + t) * V + i);
                fprintf(fp, " 0x%0*llx (%.9g)", hexw, (unsigned long long)lp_fz_bits(p, at),
                        lp_fz_value(p, at));
            }
            fprintf(fp, "\n");
        }
    }
}
