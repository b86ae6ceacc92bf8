/* core/lp_file.h: files as every part of lpcert writes and lists them: atomic writes (no partial
 * output: "<path>.tmp", then fflush, fsync, close and rename; on any failure the tmp is removed)
 * and the sorted listing of a directory. */
#ifndef LP_FILE_H
#define LP_FILE_H

#include <stdint.h>

#include "lp_core.h"

/* An output file being written: opaque, it owns the FILE and the tmp path. */
typedef struct lp_afile lp_afile;

/* Creates "<path>.tmp" for writing (binary). Errors: LP_ERR_USAGE (empty path), LP_ERR_NOMEM,
 * LP_ERR_IO "<path>.tmp: cannot create: <why>". The path in messages is quoted as
 * lp_tensor_quote does (96 characters at most, control characters as \xNN). */
lp_status lp_afile_open(lp_afile **out, const char *path, lp_error *err);
/* Writes n bytes; 1 on success, 0 on failure (then the failure and its errno are kept for
 * lp_afile_commit, and later writes do nothing). */
int lp_afile_write(lp_afile *a, const void *data, size_t n);
/* Writes n bytes at byte offset off (pwrite, after flushing what lp_afile_write buffered), and
 * sets the file's size (ftruncate: a longer file reads as zeros there); 1 on success, 0 on
 * failure, kept for lp_afile_commit as lp_afile_write's. */
int lp_afile_pwrite(lp_afile *a, uint64_t off, const void *data, size_t n);
int lp_afile_resize(lp_afile *a, uint64_t size);
/* Flushes, fsyncs, closes and renames onto path; frees a in every case. On failure nothing is left
 * at "<path>.tmp" and path is untouched. Errors (LP_ERR_IO): "<path>.tmp: write failed: <why>",
 * "<path>.tmp: close failed: <why>", "<path>: cannot rename <path>.tmp onto it: <why>". */
lp_status lp_afile_commit(lp_afile *a, lp_error *err);
/* Closes and removes the tmp, frees a; NULL is a no-op. */
void lp_afile_abort(lp_afile *a);

/* The whole of data to path, atomically (lp_afile_open + write + commit). */
lp_status lp_write_file_atomic(const char *path, const void *data, size_t len, lp_error *err);
/* The string text and one '\n' after it (a JSON document as cJSON_Print leaves it), atomically. */
lp_status lp_write_line_atomic(const char *path, const char *text, lp_error *err);

/* The names (not paths) of the entries of dir that end in suffix ("" or NULL: every entry), in
 * strcmp order; hidden names (a leading '.') and a name that is the suffix alone are skipped. The
 * entry types are not looked at. *names is NULL when *n is 0; free with lp_dir_list_free.
 * Errors: LP_ERR_IO "<dir>: cannot open directory: <why>" or "<dir>: cannot read directory:
 * <why>", with errno still saying why on return (callers may word it their own way);
 * LP_ERR_NOMEM "<dir>: out of memory". */
lp_status lp_dir_list(char ***names, size_t *n, const char *dir, const char *suffix,
                      lp_error *err);
void lp_dir_list_free(char **names, size_t n);

#endif
