/* check/lp_audit_internal.h: what the audit's computation (audit.c) and its reports
 * (audit_report.c) share: the figures of one audit (SPEC A9, include/lpcert_check.h). */
#ifndef LP_AUDIT_INTERNAL_H
#define LP_AUDIT_INTERNAL_H

#include "lpcert_check.h"

typedef struct au_side_info {
    char name[200];
    lp_format fmt;               /* of logp */
    int has_logits;
    lp_format logits_fmt;
    int64_t V;
    double temperature;
    lp_sampling sampling;
} au_side_info;

struct lp_audit {
    int64_t B, T, Ts;
    lp_shift shift;
    int64_t ignore_index;
    int64_t scored;              /* B * T_s */
    int64_t seqs_empty;          /* sequences without a counted token (left out of sequences.*) */
    au_side_info side[2];
    lp_audit_figures lev[LP_AUDIT_NLEVELS];
    lp_audit_split part[LP_AUDIT_NPARTS];
    int dominant;
};

/* "temperature 0.7, top_p 0.9" (the semantics a side's exact values were computed with). */
void au_semantics_text(char *buf, size_t n, const au_side_info *s);
/* The part's key and formula (static strings). */
const char *au_part_key(int part);
const char *au_part_formula(int part);

#endif
