/* core/bind.c: tensors to an lp_problem with one rule set (see lp_bind.h). */
#include "lp_bind.h"
#include "lp_case.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"

lp_status lp_bind_tensors(lp_problem *pb, uint8_t **mask_own, const lp_tensor *lt,
                          const lp_tensor *yt, const lp_tensor *mt, const lp_format *dtype,
                          const lp_bind_names *what, lp_error *err)
{
    *mask_own = NULL;
    lp_format fmt;
    if (lt->dtype == LP_DT_U16) {
        if (!(dtype && *dtype == LP_BF16))
            return lp_fail(err, LP_ERR_INPUT, "%s: '<u2' logits are read only as bf16 bit patterns: "
                           "pass --dtype bf16", what->logits);
        fmt = LP_BF16;
    } else if (!lp_dtype_format(&fmt, lt->dtype)) {
        return lp_fail(err, LP_ERR_INPUT, "%s: logits dtype %s is not F64, F32, F16 or BF16",
                       what->logits, lp_dtype_name(lt->dtype));
    } else if (dtype && *dtype != fmt) {
        return lp_fail(err, LP_ERR_INPUT, "%s: logits are %s but --dtype says %s", what->logits,
                       lp_dtype_name(lt->dtype), lp_format_name(*dtype));
    }
    lp_shape shape;
    if (lt->ndim == 3) shape = (lp_shape){lt->dims[0], lt->dims[1], lt->dims[2]};
    else if (lt->ndim == 2) shape = (lp_shape){1, lt->dims[0], lt->dims[1]};
    else
        return lp_fail(err, LP_ERR_INPUT, "%s: logits have %d dimensions; expected [B, T, V] or [T, V]",
                       what->logits, lt->ndim);
    const int want_nd = lt->ndim - 1;
    if (yt->ndim != want_nd || yt->dims[0] != (want_nd == 2 ? shape.B : shape.T) ||
        (want_nd == 2 && yt->dims[1] != shape.T)) {
        char got[8 + 21 * LP_MAX_DIMS], exp[8 + 21 * 2];
        const int64_t bt[2] = {shape.B, shape.T};
        lp_tensor_shape_str(got, sizeof got, yt->ndim, yt->dims);
        lp_tensor_shape_str(exp, sizeof exp, want_nd, want_nd == 2 ? bt : bt + 1);
        return lp_fail(err, LP_ERR_INPUT, "%s: labels shape does not match logits [B=%lld, T=%lld, "
                       "V=%lld]: labels are %s, expected %s", what->labels, (long long)shape.B,
                       (long long)shape.T, (long long)shape.V, got, exp);
    }
    lp_itype itype;
    if (yt->dtype == LP_DT_I64) itype = LP_I64;
    else if (yt->dtype == LP_DT_I32) itype = LP_I32;
    else
        return lp_fail(err, LP_ERR_INPUT, "%s: labels dtype %s is not I64 or I32", what->labels,
                       lp_dtype_name(yt->dtype));
    uint8_t *m = NULL;
    if (mt) {
        if (mt->ndim != yt->ndim || mt->numel != yt->numel ||
            memcmp(mt->dims, yt->dims, sizeof(int64_t) * (size_t)yt->ndim) != 0) {
            char mshp[8 + 21 * LP_MAX_DIMS], yshp[8 + 21 * LP_MAX_DIMS];
            lp_tensor_shape_str(mshp, sizeof mshp, mt->ndim, mt->dims);
            lp_tensor_shape_str(yshp, sizeof yshp, yt->ndim, yt->dims);
            return lp_fail(err, LP_ERR_INPUT, "%s: mask shape does not match labels: mask %s, "
                           "labels %s", what->mask, mshp, yshp);
        }
        lp_status ms = lp_tensor_mask_bytes(&m, mt, what->mask, err);
        if (ms != LP_OK) return ms;
    }
    pb->shape = shape;
    pb->fmt = fmt;
    pb->logits = lt->data;
    pb->label_type = itype;
    pb->labels = yt->data;
    pb->mask = m;
    *mask_own = m;
    return LP_OK;
}

lp_status lp_bind(lp_problem *pb, uint8_t **mask_own, const lp_tensor *lt, const lp_tensor *yt,
                  const lp_tensor *mt, const lp_format *dtype, const lp_bind_names *what,
                  lp_error *err)
{
    lp_status s = lp_bind_tensors(pb, mask_own, lt, yt, mt, dtype, what, err);
    if (s != LP_OK) return s;
    return lp_problem_check_named(pb, what->logits, what->labels, what->mask, err);
}

