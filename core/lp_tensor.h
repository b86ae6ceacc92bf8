/* core/lp_tensor.h: tensor files. safetensors read and write, .npy read.
 *
 * Files are mapped read-only, never slurped: a tensor's data pointer points into the mapping and
 * may be unaligned (read elements with memcpy, e.g. lp_load_f64). Every size is checked for
 * overflow and every offset against the mapping before it is used. A malformed file gives one
 * error line naming the file, the tensor (when known) and the offending value. */
#ifndef LP_TENSOR_H
#define LP_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

typedef enum lp_dtype {
    LP_DT_F64 = 0, LP_DT_F32, LP_DT_F16, LP_DT_BF16, LP_DT_I64, LP_DT_I32, LP_DT_U8, LP_DT_BOOL,
    LP_DT_U16 /* only from .npy '<u2' (a bf16 bit pattern when the user says --dtype bf16) */
} lp_dtype;

#define LP_MAX_DIMS 8

typedef struct lp_tensor {
    const char *name;          /* owned by the file; "" for a .npy file */
    lp_dtype dtype;
    int ndim;
    int64_t dims[LP_MAX_DIMS];
    int64_t numel;             /* product of dims (1 for ndim 0) */
    const void *data;          /* numel elements, inside the mapping, possibly unaligned */
    size_t nbytes;
} lp_tensor;

typedef struct lp_tfile lp_tfile;  /* opaque: owns a mapping (or borrows a buffer) and the header */

int lp_dtype_size(lp_dtype dt);                         /* bytes per element */
const char *lp_dtype_name(lp_dtype dt);                 /* safetensors spelling: "F64", "BF16", ... */
/* The storage format of a floating dtype: 1 and *out set for F64/F32/F16/BF16, else 0. */
int lp_dtype_format(lp_format *out, lp_dtype dt);
lp_dtype lp_dtype_of_format(lp_format f);

/* Opens a safetensors or .npy file (told apart by the .npy magic "\x93NUMPY"). */
lp_status lp_tfile_open(lp_tfile **out, const char *path, lp_error *err);
/* Parses a file held in memory (the fuzzers' entry); buf is borrowed and must outlive the file.
 * label names the buffer in error messages. */
lp_status lp_tfile_parse(lp_tfile **out, const void *buf, size_t n, const char *label,
                         lp_error *err);
void lp_tfile_close(lp_tfile *f);                       /* NULL is a no-op */
/* LP_OK if the file f maps (lp_tfile_open) is, as far as can be seen, still what was mapped: no
 * read of the mapping faulted (the guard of lp_mapguard.h caught a truncation), and the open file
 * has the size and modification time it had when opened. Call it after the last read of f's data
 * and before trusting or writing any result computed from it. Otherwise LP_ERR_IO, one line
 * "<path>: changed while being read (<n> bytes when opened, <m> now): results from it are void"
 * (or "...: could not be read back (<why>)"). A buffer parsed with lp_tfile_parse (and NULL) is
 * always LP_OK. */
lp_status lp_tfile_verify(const lp_tfile *f, lp_error *err);

size_t lp_tfile_count(const lp_tfile *f);
/* In file order: by data offset (ties in header order), which is the order a writer added them. */
const lp_tensor *lp_tfile_at(const lp_tfile *f, size_t i);
const lp_tensor *lp_tfile_find(const lp_tfile *f, const char *name);  /* NULL if absent */
/* A string value of the safetensors "__metadata__" object, or NULL. */
const char *lp_tfile_meta(const lp_tfile *f, const char *key);
size_t lp_tfile_meta_count(const lp_tfile *f);
const char *lp_tfile_meta_key(const lp_tfile *f, size_t i);

/* "path" or "path:tensor" (the part after the last ':' names a tensor when the whole string is not
 * an existing file). Opens the file into *file and points *t at the tensor: the named one, or the
 * only one when no name is given (an error if the file holds several and none is named). An empty
 * name ("path:") names none; a .npy file holds one unnamed tensor, so naming one is an error. */
lp_status lp_tensor_open_spec(lp_tfile **file, const lp_tensor **t, const char *spec,
                              lp_error *err);

/* Writer. Tensors are written in the order added, contiguously, header padded with spaces to a
 * multiple of 8 bytes. Data is borrowed until lp_twriter_finish. Output goes to "<path>.tmp" and
 * is renamed onto path only on success; abort (or a failed finish) removes it. */
typedef struct lp_twriter lp_twriter;
lp_status lp_twriter_new(lp_twriter **out, const char *path, lp_error *err);
lp_status lp_twriter_add(lp_twriter *w, const char *name, lp_dtype dt, int ndim,
                         const int64_t *dims, const void *data, lp_error *err);
lp_status lp_twriter_meta(lp_twriter *w, const char *key, const char *value, lp_error *err);
lp_status lp_twriter_finish(lp_twriter *w, lp_error *err);  /* frees w in every case */
void lp_twriter_abort(lp_twriter *w);                       /* NULL is a no-op */
/* Streaming tensors too large to hold: add them with lp_twriter_add_later (their index in
 * *index), then lp_twriter_begin writes the header and every other tensor at its place and sizes
 * the file (the deferred data reads as zeros until put); lp_twriter_put writes n bytes at byte
 * offset off inside deferred tensor index (any order, pwrite); lp_twriter_finish commits.
 * Nothing can be added after begin. On a begin or put error the caller aborts. */
lp_status lp_twriter_add_later(lp_twriter *w, const char *name, lp_dtype dt, int ndim,
                               const int64_t *dims, size_t *index, lp_error *err);
lp_status lp_twriter_begin(lp_twriter *w, lp_error *err);
lp_status lp_twriter_put(lp_twriter *w, size_t index, uint64_t off, const void *data, size_t n,
                         lp_error *err);

/* 1 if the n bytes at p lie wholly inside the read-only mapping f owns (0 for a parsed buffer
 * that f only borrows, or for f NULL): memory lpcert may hand back to the kernel (madvise). */
int lp_tfile_holds(const lp_tfile *f, const void *p, size_t n);

/* ---- Internal to core/tensor.c, core/safetensors.c and core/npy.c; other code uses the API
 * above. tensor.c owns the file and dispatches on the magic; a parser fills the contents. ---- */
struct lp_tfile {
    const unsigned char *buf;  /* the whole file: the mapping or the borrowed buffer */
    size_t size;
    void *map;                 /* the owned mapping of size bytes, or NULL when buf is borrowed */
    lp_tensor *tensors;        /* count tensors, in file order (malloc) */
    size_t count;
    size_t *by_name;           /* tensor indices sorted by strcmp of the names (malloc) */
    char **meta;               /* 2*nmeta strings: key, value, key, ... in header order (malloc) */
    size_t nmeta;
    char *strings;             /* one block holding every name, key and value (malloc) */
    /* an owned mapping only (lp_tfile_open), for lp_tfile_verify: */
    int fd;                    /* the file, kept open (O_CLOEXEC) to fstat it; -1 otherwise */
    int guard;                 /* lp_mapguard slot, or -1 */
    int64_t mtime_s, mtime_ns; /* st_mtim when opened */
    char *path;                /* the printable path for messages (malloc) */
};
/* Fill f->tensors, count, by_name, meta, strings from f->buf; on error leave them for
 * lp_tfile_close to free. label names the file in errors (already made printable). */
lp_status lp_safetensors_read(lp_tfile *f, const char *label, lp_error *err);
lp_status lp_npy_read(lp_tfile *f, const char *label, lp_error *err);
/* s as one printable line of at most max bytes: control bytes as \xNN, "..." when cut. */
void lp_tensor_quote(char *dst, size_t cap, const char *s, size_t max);
/* "[2, 3]" (at most LP_MAX_DIMS dims): cap >= 8 + 21 * LP_MAX_DIMS is always enough. */
void lp_tensor_shape_str(char *dst, size_t cap, int ndim, const int64_t *dims);
/* numel and nbytes of a shape: 1, or 0 (outputs untouched) on a negative dim or on overflow of
 * int64 or size_t. A zero dim gives 0 whatever the others. */
int lp_tensor_sizes(int64_t *numel, size_t *nbytes, int ndim, const int64_t *dims, lp_dtype dt);

/* A mask tensor (U8, BOOL, I64 or I32 of 0 and 1) as bytes; *out is the caller's to free. what
 * names the tensor in errors. */
lp_status lp_tensor_mask_bytes(uint8_t **out, const lp_tensor *t, const char *what, lp_error *err);

#endif
