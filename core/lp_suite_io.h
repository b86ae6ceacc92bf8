/* core/lp_suite_io.h: the suite file layout (SPEC B), one reader and one writer.
 *
 * A suite is a safetensors file. Per case <name>:
 *   case/<name>/logits [B, T, V] (F64/F32/F16/BF16; [T, V] is read too), case/<name>/labels
 *   [B, T] (I64/I32), case/<name>/mask [B, T] (optional), and from `lpcert gen` the expected
 *   values case/<name>/expected/<output>, named as `lpcert ref` names them (logp.f64 ... logp.lo,
 *   counted, sum.<fmt>, mean.<fmt>, count, token_mean.<fmt>);
 *   in __metadata__: case/<name>/shift (next|none), ignore_index (decimal), temperature (a C
 *   float, written as hex), empty_mean (nan|zero), family, dtype; defaults next, -100, 1, nan,
 *   the first component of the name; the sampling parameters of SPEC A7 where set: softcap,
 *   top_p, min_p (hex floats), top_k (decimal); absent: not set.
 * File-level metadata: generator, format (LP_SUITE_FORMAT), seed, cases.
 * The tensors are bound with core/lp_bind.h's rules. */
#ifndef LP_SUITE_IO_H
#define LP_SUITE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lp_tensor.h"
#include "lpcert.h"

#define LP_SUITE_FORMAT "lpcert-suite-1"

/* ---- the result columns (the layout of `lpcert ref`'s file and of a suite's expected/) ---- */

/* Adds the reference results r to a writer under the names "<prefix>logp.f64", ... "logp.bf16",
 * "logp.hi", "logp.lo", "<prefix>counted", "<prefix>sum.<fmt>", "<prefix>mean.<fmt>",
 * "<prefix>count", "<prefix>token_mean.<fmt>" (<fmt>: f64 f32 f16 bf16 hi lo). The column arrays
 * live in *keep until lp_ref_cols_free, after the writer has finished. */
typedef struct lp_ref_cols lp_ref_cols;
lp_status lp_ref_tensors_add(lp_twriter *w, const char *prefix, const lp_ref_result *r,
                             lp_ref_cols **keep, lp_error *err);
void lp_ref_cols_free(lp_ref_cols *keep);   /* NULL is a no-op */

/* ---- writing a suite ---- */

/* Adds case <name>'s inputs (logits, labels, mask when pb has one; data borrowed until the writer
 * finishes) and its parameters (metadata shift, ignore_index, temperature, empty_mean, family,
 * dtype). The expected values go under the prefix of lp_suite_expected_prefix. */
lp_status lp_suite_write_case(lp_twriter *w, const char *name, const char *family,
                              const lp_problem *pb, lp_error *err);
/* "case/<name>/expected/" */
void lp_suite_expected_prefix(char *dst, size_t cap, const char *name);
/* The file-level metadata: generator, format, seed, cases. */
lp_status lp_suite_write_header(lp_twriter *w, const char *generator, uint64_t seed,
                                size_t ncases, lp_error *err);

/* ---- reading a suite ---- */

/* If tensor_name is "case/<name>/logits", copies <name> into dst and returns 1; returns -1 when
 * the name does not fit in cap bytes, 0 for any other tensor. */
int lp_suite_case_of(char *dst, size_t cap, const char *tensor_name);
/* The tensor case/<name>/<key> (NULL if absent), and the metadata value case/<name>/<key>. */
const lp_tensor *lp_suite_tensor(const lp_tfile *f, const char *name, const char *key);
const char *lp_suite_meta(const lp_tfile *f, const char *name, const char *key);

/* Binds case <name> of the suite at path (opened as f) to *pb: its tensors (lp_bind_tensors; the
 * mask copied into *mask_own, the caller's to free), its parameters from the metadata, and
 * its family into family[fcap]; then validates the problem. */
lp_status lp_suite_read_case(lp_problem *pb, uint8_t **mask_own, char *family, size_t fcap,
                             const lp_tfile *f, const char *path, const char *name, lp_error *err);
/* 1 if the case carries expected values (case/<name>/expected/logp.f64). */
int lp_suite_has_expected(const lp_tfile *f, const char *name);
/* Fills the allocated arrays of ref ([B*Ts] logp and counted, [B] sum, mean, count) from the
 * expected values of case <name>, whose bound problem is pb; checks each tensor's dtype and
 * shape and that the counted flags are those of pb's labels and mask. */
lp_status lp_suite_read_expected(lp_ref_result *ref, const lp_tfile *f, const char *path,
                                 const char *name, const lp_problem *pb, lp_error *err);

#endif
