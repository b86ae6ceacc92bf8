/* check/lp_check_shard.h: certification sharded over several machines with an exact merge
 * (check/shard.c; `lpcert check|certify --shard I/N --partial FILE`, `lpcert merge`).
 *
 * CUT       Shard I of N takes the contiguous block of cases [floor((I-1) n / N), floor(I n / N))
 *           of the n cases the unsharded run would judge, in the same order (ck_shard_range), and
 *           judges them with the unsharded run's code into a ck_run of its own. A partial file
 *           holds that ck_run whole: every counter, every maximum, the worst values with their
 *           reproducers, the diagnoses' counts and first examples, and each group's full list of
 *           per-value ulp errors (the median's input, not a summary), plus the report header.
 * MERGE     ck_partial_merge folds the runs of shards 1..N in order into the first one. For runs A
 *           (cases before) and B (cases after) the fold gives what judging A's cases then B's
 *           cases into one run gives, because every quantity ck_run_case accumulates is either a
 *           sum (counts), a maximum, an or, a list (the ulps: the median sorts them), or "the
 *           first value attaining the greatest key" (the worst: key (rank, rank < 2 ? ulp : 0),
 *           replaced only when strictly greater; the baseline-relative worst: ulp, strictly
 *           greater; a diagnosis's example and fix: its first occurrence; a group's place in the
 *           table: its first value), and such a "first maximum" of A followed by B is B's when
 *           B's key is strictly greater than A's, else A's. So the merged run equals the
 *           unsharded one field by field and the same report code (report.c) prints it: the text,
 *           JSON and certificate come out byte for byte. Blocks (not c mod N) keep "first" the
 *           same in both runs.
 * ROWS      A run of one case (`check --logits ...`) is sharded by its sequences instead: shard I
 *           judges sequences [floor((I-1) B / N), floor(I B / N)) as a problem of its own (the same
 *           rows, labels and mask; reported sequence indices offset by the block's start, b0), and
 *           must run with --slow. Every value's measure is then exact (the all-MPFR route's dd, no
 *           enclosures), so the median is the merge's sort of every value's exact ulp error, and
 *           there are no judge counts to differ (the enclosure route's "judge" record counts what
 *           the whole case's order statistics asked for, which no shard knows). Each value is
 *           judged from its own row and sequence, so the fold argument above holds sequence by
 *           sequence. What is decided per case rather than per value (the overflow and mistake
 *           diagnoses: "90% of the case's wrong values match", "N of M explained") is carried as
 *           counts (ck_case_tally, a 'tally' line), summed by the fold and decided once after it;
 *           the baseline's refusal of the case (its format only) is noted once, not per shard;
 *           the case count is 1. So `lpcert merge` prints what `check ... --slow` prints
 *           (tests/e2e_shard.py, rows_tests: N = 2..12, byte for byte).
 * IDENTITY  Everything that must agree between shards (the options, the header lines, the input
 *           files with their SHA-256, the reproducer command, N, the case count) is written as an
 *           identity block whose SHA-256 each partial records: shards of other inputs, options,
 *           candidate or N are refused by name.
 * FORMAT    Text, one record a line, tokens separated by one space; strings as 's' + the bytes with
 *           ' ', '%', bytes < 0x21 and >= 0x7f as %XX ('-': none); doubles as C99 hex floats (%a,
 *           exact); the first line "lpcert-partial 1". The reader (ck_partial_parse) is strict: any
 *           other line is an input error naming the file and line.
 */
#ifndef LP_CHECK_SHARD_H
#define LP_CHECK_SHARD_H

#include "lp_check_internal.h"

#define CK_PARTIAL_VERSION 1

/* "I/N" with 1 <= I <= N <= 100000: 1 and *i, *n set; else 0. */
int ck_shard_parse(const char *v, int *i, int *n);
/* The block of shard i of n over count cases: [*lo, *hi). */
void ck_shard_range(size_t count, int i, int n, size_t *lo, size_t *hi);

/* What a shard knows beyond its run and header. */
typedef struct ck_shard_info {
    int i, n;                   /* shard i of n */
    int64_t total;              /* cases of the whole (unsharded) run */
    int64_t rows;               /* ROWS: the case's sequences (B); 0: shards of cases */
    int quiet;                  /* the command's --quiet: merge prints as the command would */
    const char *cand_what;      /* check: the candidate line is ck_cand_text(cand_what, fm) of the
                                 * merged formats; NULL: h->candidate as it is */
    unsigned fm[CK_NOUT];       /* candidate formats seen by this shard */
    int certify;                /* certify: h->extra[0] is its summary, rebuilt at merge */
    uint64_t seed;
    double seconds, elapsed;
    int64_t ran, skipped, nrand;
} ck_shard_info;

/* Writes the partial of shard si (run r, header h without its summary line) to path, through
 * path.tmp and a rename. */
lp_status ck_partial_write(const char *path, const ck_run *r, const ck_header *h,
                           const ck_shard_info *si, lp_error *err);

typedef struct ck_partial ck_partial;   /* one partial read back, or the merge of several */
/* Parses a partial from memory (name: for messages). LP_ERR_INPUT with a line naming the file. */
lp_status ck_partial_parse(ck_partial **out, const char *name, const char *data, size_t len,
                           lp_error *err);
lp_status ck_partial_read(ck_partial **out, const char *path, lp_error *err);
void ck_partial_free(ck_partial *p);
/* Merges parts[0..n) (each exactly one shard of the same identity; any order) into *out (which
 * takes over the parts: they are freed, also on error). LP_ERR_INPUT naming the file of a
 * duplicated, foreign or mismatched shard, or the missing shard numbers. */
lp_status ck_partial_merge(ck_partial **out, ck_partial **parts, size_t n, lp_error *err);
/* The merged run, its header (repro, candidate and summary lines rebuilt), the command ("check" or
 * "certify") and whether the shards ran with --quiet. */
ck_run *ck_partial_run(ck_partial *p);
const ck_header *ck_partial_header(ck_partial *p);
const char *ck_partial_command(const ck_partial *p);
int ck_partial_quiet(const ck_partial *p);

#endif
