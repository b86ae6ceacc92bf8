/* core/lp_bind.h: one binding of tensors (from files or memory) to an lp_problem, with one rule
 * set for every front end (`lpcert ref`, `lpcert check`, suites):
 *   logits [B, T, V] or [T, V] (B = 1) in F64, F32, F16 or BF16; a .npy '<u2' array (U16) is read
 *   as bf16 bit patterns only when the caller's dtype says bf16; a given dtype must agree with the
 *   file's;
 *   labels exactly [B, T] (or [T] with 2-D logits), every dim compared, I64 or I32;
 *   mask (optional) of the labels' shape, every dim compared, U8/BOOL/I64/I32 of 0 and 1.
 * Errors are LP_ERR_INPUT lines that start with the caller's name of the tensor ("L.npy",
 * "suite.safetensors: case/x/labels"). */
#ifndef LP_BIND_H
#define LP_BIND_H

#include <stdint.h>

#include "lp_tensor.h"
#include "lpcert.h"

typedef struct lp_bind_names {
    const char *logits, *labels, *mask;   /* how errors name each tensor */
} lp_bind_names;

/* Fills pb's shape, fmt, logits, labels, label_type and mask from the tensors (mt may be NULL);
 * pb's parameters (shift, ignore_index, temperature, empty_mean) are left as the caller set them.
 * dtype: the format the caller asks for (--dtype), or NULL to take the file's. The mask is copied
 * into *mask_own as 0/1 bytes (the caller frees it; NULL without a mask). The problem is not
 * validated: lp_bind does that too. */
lp_status lp_bind_tensors(lp_problem *pb, uint8_t **mask_own, const lp_tensor *lt,
                          const lp_tensor *yt, const lp_tensor *mt, const lp_format *dtype,
                          const lp_bind_names *what, lp_error *err);

/* lp_bind_tensors, then lp_problem_check (labels in range, mask of 0 and 1, parameters), its
 * messages naming the tensor as `what` does ("Y.npy: labels[b=1,t=2]: label 7 outside ..."). */
lp_status lp_bind(lp_problem *pb, uint8_t **mask_own, const lp_tensor *lt, const lp_tensor *yt,
                  const lp_tensor *mt, const lp_format *dtype, const lp_bind_names *what,
                  lp_error *err);

#endif
