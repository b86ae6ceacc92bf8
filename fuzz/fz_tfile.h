/* fuzz/fz_tfile.h: the tensor-file property shared by fz_safetensors and fz_npy. */
#ifndef FZ_TFILE_H
#define FZ_TFILE_H

#include <stddef.h>
#include <stdint.h>

#include "lp_tensor.h"

#define LP_FZ_TFILE_LABEL "fuzz-input"

/* Parses data with lp_tfile_parse. Either LP_OK and a consistent file (lp_fz_tfile_consistent),
 * returned for the caller to close; or LP_ERR_INPUT / LP_ERR_NOMEM with *out NULL and one
 * non-empty error line without '\n' that starts with the label, and NULL is returned. Anything
 * else aborts with a FAIL line. */
lp_tfile *lp_fz_tfile_parse(const char *harness, const uint8_t *data, size_t size);

/* Every tensor inside [buf, buf + size) with nbytes = numel * dtype size, numel the product of
 * dims, names and metadata valid UTF-8 and unique, lp_tfile_find and lp_tfile_meta consistent
 * with the lists, file order by data offset, BOOL bytes 0/1; a safetensors file's tensors tile its
 * data buffer exactly, a .npy file holds one unnamed tensor that ends the file. Every data byte
 * is read (so ASan sees a wrong pointer). */
void lp_fz_tfile_consistent(const char *harness, const lp_tfile *f, const uint8_t *buf,
                            size_t size);

/* 1 if s (NUL-terminated) is valid UTF-8 (RFC 3629), written here apart from core/'s checker. */
int lp_fz_utf8_ok(const char *s);

#endif
