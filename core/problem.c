/* core/problem.c: validation and addressing of an lp_problem. */
#include <math.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"

int64_t lp_problem_ts(const lp_problem *pb)
{
    if (pb->shift == LP_SHIFT_NONE) return pb->shape.T;
    return pb->shape.T >= 1 ? pb->shape.T - 1 : 0;
}

int64_t lp_problem_label(const lp_problem *pb, int64_t b, int64_t t)
{
    size_t i = (size_t)(b * pb->shape.T + t);
    if (pb->label_type == LP_I32) {
        int32_t v;
        memcpy(&v, (const char *)pb->labels + i * 4, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, (const char *)pb->labels + i * 8, 8);
    return v;
}

int lp_problem_mask(const lp_problem *pb, int64_t b, int64_t t)
{
    return pb->mask ? pb->mask[(size_t)(b * pb->shape.T + t)] != 0 : 1;
}

const void *lp_problem_row(const lp_problem *pb, int64_t b, int64_t ts)
{
    size_t esz = (size_t)lp_format_get(pb->fmt)->bytes;
    return (const char *)pb->logits + ((size_t)(b * pb->shape.T + ts) * (size_t)pb->shape.V) * esz;
}

int lp_sampling_on(const lp_sampling *s)
{
    return s && (s->softcap != 0 || s->top_k != 0 || s->top_p != 0 || s->min_p != 0);
}

lp_problem lp_problem_seqs(const lp_problem *pb, int64_t b0, int64_t nb)
{
    lp_problem q = *pb;
    const size_t T = (size_t)pb->shape.T, V = (size_t)pb->shape.V, b = (size_t)b0;
    q.shape.B = nb;
    q.logits = (const char *)pb->logits + b * T * V * (size_t)lp_format_get(pb->fmt)->bytes;
    q.labels = (const char *)pb->labels + b * T * (pb->label_type == LP_I64 ? 8 : 4);
    if (pb->mask) q.mask = pb->mask + b * T;
    return q;
}

int lp_problem_counted(const lp_problem *pb, int64_t b, int64_t ts)
{
    int64_t t = lp_problem_label_t(pb, ts);
    return lp_problem_label(pb, b, t) != pb->ignore_index && lp_problem_mask(pb, b, t);
}

lp_status lp_sampling_check(const lp_sampling *s, lp_error *err)
{
    /* SPEC A7; zero is "not set" for each. */
    if (s->softcap != 0 && !(s->softcap > 0 && isfinite(s->softcap)))
        return lp_fail(err, LP_ERR_USAGE, "problem: softcap %a (%g) is not positive and finite",
                       s->softcap, s->softcap);
    if (s->top_k < 0)
        return lp_fail(err, LP_ERR_USAGE, "problem: top_k %lld is negative (0: not set)",
                       (long long)s->top_k);
    if (s->top_p != 0 && !(s->top_p > 0 && s->top_p <= 1))
        return lp_fail(err, LP_ERR_USAGE, "problem: top_p %a (%g) is not in (0, 1]", s->top_p,
                       s->top_p);
    if (s->min_p != 0 && !(s->min_p > 0 && s->min_p <= 1))
        return lp_fail(err, LP_ERR_USAGE, "problem: min_p %a (%g) is not in (0, 1]", s->min_p,
                       s->min_p);
    return LP_OK;
}

lp_status lp_problem_check(const lp_problem *pb, lp_error *err)
{
    return lp_problem_check_named(pb, NULL, NULL, NULL, err);
}

lp_status lp_problem_check_named(const lp_problem *pb, const char *logits_name,
                                 const char *labels_name, const char *mask_name, lp_error *err)
{
    const char *ln = logits_name ? logits_name : "problem";
    const char *yn = labels_name ? labels_name : "", *ysep = labels_name ? ": " : "";
    const char *mn = mask_name ? mask_name : "", *msep = mask_name ? ": " : "";
    const lp_shape s = pb->shape;
    if ((unsigned)pb->fmt >= LP_NFORMATS)
        return lp_fail(err, LP_ERR_USAGE, "problem: unknown logits format %d", (int)pb->fmt);
    if (pb->label_type != LP_I64 && pb->label_type != LP_I32)
        return lp_fail(err, LP_ERR_USAGE, "problem: unknown label type %d", (int)pb->label_type);
    if (s.B < 1 || s.T < 1 || s.V < 1)
        return lp_fail(err, LP_ERR_INPUT, "%s: shape [B=%lld, T=%lld, V=%lld] has an empty dimension",
                       ln, (long long)s.B, (long long)s.T, (long long)s.V);
    size_t n, bytes;
    if (!lp_mul_size(&n, (size_t)s.B, (size_t)s.T) || !lp_mul_size(&n, n, (size_t)s.V) ||
        !lp_mul_size(&bytes, n, (size_t)lp_format_get(pb->fmt)->bytes) || n > (size_t)INT64_MAX)
        return lp_fail(err, LP_ERR_INPUT, "%s: shape [B=%lld, T=%lld, V=%lld] overflows size_t",
                       ln, (long long)s.B, (long long)s.T, (long long)s.V);
    if (!pb->logits || !pb->labels)
        return lp_fail(err, LP_ERR_USAGE, "problem: logits or labels missing");
    if (pb->shift != LP_SHIFT_NEXT && pb->shift != LP_SHIFT_NONE)
        return lp_fail(err, LP_ERR_USAGE, "problem: unknown shift %d", (int)pb->shift);
    if (pb->empty_mean != LP_EMPTY_NAN && pb->empty_mean != LP_EMPTY_ZERO)
        return lp_fail(err, LP_ERR_USAGE, "problem: unknown empty_mean %d", (int)pb->empty_mean);
    if (!(pb->temperature > 0) || isinf(pb->temperature))
        return lp_fail(err, LP_ERR_USAGE, "problem: temperature %a (%g) is not positive and finite",
                       pb->temperature, pb->temperature);
    lp_status ss = lp_sampling_check(&pb->sampling, err);
    if (ss != LP_OK) return ss;
    const int64_t ts_n = lp_problem_ts(pb);
    for (int64_t b = 0; b < s.B; b++) {
        for (int64_t ts = 0; ts < ts_n; ts++) {
            int64_t t = lp_problem_label_t(pb, ts), lab = lp_problem_label(pb, b, t);
            if (lab != pb->ignore_index && (lab < 0 || lab >= s.V))
                return lp_fail(err, LP_ERR_INPUT,
                               "%s%slabels[b=%lld,t=%lld]: label %lld outside [0, %lld) and not "
                               "ignore_index %lld", yn, ysep, (long long)b, (long long)t, (long long)lab, (long long)s.V,
                               (long long)pb->ignore_index);
        }
    }
    if (pb->mask) {
        for (size_t i = 0; i < (size_t)(s.B * s.T); i++)
            if (pb->mask[i] > 1)
                return lp_fail(err, LP_ERR_INPUT, "%s%smask[b=%lld,t=%lld]: value %u is not 0 or 1",
                               mn, msep, (long long)(i / (size_t)s.T), (long long)(i % (size_t)s.T),
                               (unsigned)pb->mask[i]);
    }
    return LP_OK;
}
