/* reference/batch.c: the exact reference over a whole problem: tokens, sequence sums and means,
 * the batch token mean (DESIGN A1-A3). The numerics and their proof are in ziv.c; this file adds
 * the reductions: enclosures of sums of token enclosures, decided by the same Ziv rule, with the
 * precision of a whole sequence (or batch) raised when a sum or mean is undecided. */
#include <math.h>
#include <mpfr.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_internal.h"

/* Per-sequence tally of the counted tokens' classes. */
typedef struct tally {
    int64_t n, n_num, n_nan, n_neginf;
} tally;

static lp_row row_at(const lp_problem *pb, int64_t b, int64_t ts)
{
    int64_t lab = lp_problem_label(pb, b, lp_problem_label_t(pb, ts));
    lp_row r = {lp_problem_row(pb, b, ts), pb->fmt, pb->shape.V, lab, pb->temperature, 0, 0, 0};
    return r;
}

/* The value of a reduction whose terms are not all finite irrationals (or which has none). */
static int reduce_special(lp_value *v, const tally *t, int is_mean, lp_empty_mean em)
{
    if (t->n_nan) lp_value_special(v, LP_TOK_NAN);
    else if (t->n_neginf) lp_value_special(v, LP_TOK_NEGINF);
    else if (t->n == 0) lp_value_special(v, is_mean && em == LP_EMPTY_NAN ? LP_TOK_NAN : LP_TOK_ZERO);
    else if (t->n_num == 0) lp_value_special(v, LP_TOK_ZERO); /* all terms exactly +0 */
    else return 0;
    return 1;
}

/* Outward enclosure of the sum of the k intervals [lo_i, hi_i] (one correct rounding each way). */
static void sum_enclose(mpfr_t slo, mpfr_t shi, mpfr_ptr *lo, mpfr_ptr *hi, int64_t k)
{
    mpfr_prec_t p = 64;
    for (int64_t i = 0; i < k; i++)
        if (mpfr_get_prec(lo[i]) > p) p = mpfr_get_prec(lo[i]);
    mpfr_set_prec(slo, p + 8);
    mpfr_set_prec(shi, p + 8);
    mpfr_sum(slo, lo, (unsigned long)k, MPFR_RNDD);
    mpfr_sum(shi, hi, (unsigned long)k, MPFR_RNDU);
}

/* Decides sum (and mean = sum / n) from the sum enclosure; returns 1 if both are decided. */
static int decide_sum_mean(lp_value *sum, lp_value *mean, const mpfr_t slo, const mpfr_t shi,
                           int64_t n)
{
    if (!lp_decide(sum, slo, shi)) return 0;
    mpfr_t mlo, mhi;
    mpfr_inits2(mpfr_get_prec(slo) + 8, mlo, mhi, (mpfr_ptr)0);
    mpfr_div_ui(mlo, slo, (unsigned long)n, MPFR_RNDD);
    mpfr_div_ui(mhi, shi, (unsigned long)n, MPFR_RNDU);
    int ok = lp_decide(mean, mlo, mhi);
    mpfr_clears(mlo, mhi, (mpfr_ptr)0);
    return ok;
}

typedef struct work {
    const lp_problem *pb;
    int64_t Ts;
    mpfr_ptr *tlo, *thi;      /* [Ts] token enclosures of the current sequence (NUM tokens only) */
    mpfr_prec_t *tprec;       /* [Ts] */
    int64_t *tidx;            /* [Ts] positions of the NUM tokens, in order */
    lp_ref_stats *stats;
} work;

/* Recomputes the enclosures of sequence b's NUM tokens at precision >= prec and sums them.
 * k is the number of NUM tokens, positions in w->tidx. */
static void seq_enclose(work *w, int64_t b, int64_t k, mpfr_prec_t prec, mpfr_t slo, mpfr_t shi)
{
    for (int64_t i = 0; i < k; i++) {
        if (w->tprec[i] >= prec) continue;
        lp_row r = row_at(w->pb, b, w->tidx[i]);
        LP_ASSERT(lp_row_scan(&r) == LP_TOK_NUM);
        lp_row_enclose(w->tlo[i], w->thi[i], &r, prec);
        w->tprec[i] = prec;
    }
    sum_enclose(slo, shi, w->tlo, w->thi, k);
    if (prec > w->stats->max_prec) w->stats->max_prec = prec;
}

/* Sequence b: tokens, then sum and mean. Leaves the sum enclosure in slo, shi when t->n_num > 0,
 * and its precision in *sprec. */
static lp_status do_sequence(work *w, lp_ref_result *res, int64_t b, tally *t, mpfr_t slo,
                             mpfr_t shi, mpfr_prec_t *sprec, lp_error *err)
{
    const lp_problem *pb = w->pb;
    int64_t k = 0;
    mpfr_prec_t pmax = lp_ziv_prec0();
    memset(t, 0, sizeof *t);
    for (int64_t ts = 0; ts < w->Ts; ts++) {
        size_t at = (size_t)(b * w->Ts + ts);
        lp_value *out = &res->logp[at];
        res->counted[at] = (uint8_t)lp_problem_counted(pb, b, ts);
        if (!res->counted[at]) {
            lp_value_special(out, LP_TOK_NAN);
            continue;
        }
        t->n++;
        w->stats->tokens++;
        lp_row r = row_at(pb, b, ts);
        lp_tok_class cls = lp_row_scan(&r);
        if (cls != LP_TOK_NUM) {
            lp_value_special(out, cls);
            w->stats->exact++;
            t->n_nan += cls == LP_TOK_NAN;
            t->n_neginf += cls == LP_TOK_NEGINF;
            continue;
        }
        mpfr_prec_t prec = lp_ziv_prec0();
        lp_status s = lp_row_decide(out, w->tlo[k], w->thi[k], &r, &prec, w->stats, err);
        if (s != LP_OK) return s;
        if (prec > pmax) pmax = prec;
        w->tprec[k] = prec;
        w->tidx[k++] = ts;
    }
    t->n_num = k;
    res->count[b] = t->n;
    lp_value *sum = &res->sum[b], *mean = &res->mean[b];
    int s_special = reduce_special(sum, t, 0, pb->empty_mean);
    reduce_special(mean, t, 1, pb->empty_mean);
    if (s_special) return LP_OK;
    for (mpfr_prec_t prec = pmax;; prec *= 2) {
        seq_enclose(w, b, k, prec, slo, shi);
        *sprec = prec;
        if (decide_sum_mean(sum, mean, slo, shi, t->n)) return LP_OK;
        if (prec >= lp_ziv_max_prec())
            return lp_fail(err, LP_ERR_INTERNAL,
                           "ziv: sum of sequence b=%lld undecided at %ld bits: please report",
                           (long long)b, (long)prec);
        w->stats->retries++;
    }
}

/* Re-encloses sequence b from scratch at precision prec (batch-level retries only). */
static void seq_reenclose(work *w, int64_t b, mpfr_prec_t prec, mpfr_t slo, mpfr_t shi)
{
    int64_t k = 0;
    for (int64_t ts = 0; ts < w->Ts; ts++) {
        if (!lp_problem_counted(w->pb, b, ts)) continue;
        lp_row r = row_at(w->pb, b, ts);
        if (lp_row_scan(&r) != LP_TOK_NUM) continue;
        w->tprec[k] = 0;
        w->tidx[k++] = ts;
    }
    seq_enclose(w, b, k, prec, slo, shi);
}

lp_status lp_ref_compute(lp_ref_result *res, const lp_problem *pb, lp_error *err)
{
    memset(res, 0, sizeof *res);
    lp_status s = lp_problem_check(pb, err);
    if (s != LP_OK) return s;
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    res->B = B;
    res->Ts = Ts;
    size_t ntok = (size_t)(B * Ts);
    res->logp = calloc(ntok ? ntok : 1, sizeof *res->logp);
    res->counted = calloc(ntok ? ntok : 1, 1);
    res->sum = calloc((size_t)B, sizeof *res->sum);
    res->mean = calloc((size_t)B, sizeof *res->mean);
    res->count = calloc((size_t)B, sizeof *res->count);
    size_t nt = Ts ? (size_t)Ts : 1;
    work w = {pb, Ts, calloc(nt, sizeof(mpfr_ptr)), calloc(nt, sizeof(mpfr_ptr)),
              calloc(nt, sizeof(mpfr_prec_t)), calloc(nt, sizeof(int64_t)), &res->stats};
    mpfr_t *pool = calloc(2 * nt, sizeof(mpfr_t));
    mpfr_t *seq = calloc(2 * (size_t)B, sizeof(mpfr_t));
    tally *tal = calloc((size_t)B, sizeof(tally));
    if (!res->logp || !res->counted || !res->sum || !res->mean || !res->count || !w.tlo ||
        !w.thi || !w.tprec || !w.tidx || !pool || !seq || !tal) {
        free(w.tlo); free(w.thi); free(w.tprec); free(w.tidx); free(pool); free(seq); free(tal);
        lp_ref_result_free(res);
        return lp_fail(err, LP_ERR_NOMEM, "ref: out of memory for B=%lld, T_s=%lld",
                       (long long)B, (long long)Ts);
    }
    lp_mpfr_state st;
    lp_mpfr_enter(&st);
    for (size_t i = 0; i < nt; i++) {
        mpfr_init2(pool[2 * i], 64);
        mpfr_init2(pool[2 * i + 1], 64);
        w.tlo[i] = pool[2 * i];
        w.thi[i] = pool[2 * i + 1];
    }
    for (int64_t b = 0; b < 2 * B; b++) mpfr_init2(seq[b], 64);

    /* Sequences, then the batch token mean from their sum enclosures. */
    tally all = {0, 0, 0, 0};
    mpfr_prec_t bprec = lp_ziv_prec0();
    for (int64_t b = 0; b < B && s == LP_OK; b++) {
        mpfr_prec_t sp = 0;
        s = do_sequence(&w, res, b, &tal[b], seq[2 * b], seq[2 * b + 1], &sp, err);
        all.n += tal[b].n;
        all.n_num += tal[b].n_num;
        all.n_nan += tal[b].n_nan;
        all.n_neginf += tal[b].n_neginf;
        if (sp > bprec) bprec = sp;
    }
    if (s == LP_OK && !reduce_special(&res->token_mean, &all, 1, pb->empty_mean)) {
        mpfr_ptr *lo = calloc((size_t)B, sizeof(mpfr_ptr)), *hi = calloc((size_t)B, sizeof(mpfr_ptr));
        mpfr_t slo, shi, mlo, mhi;
        mpfr_inits2(64, slo, shi, mlo, mhi, (mpfr_ptr)0);
        if (!lo || !hi) s = lp_fail(err, LP_ERR_NOMEM, "ref: out of memory for the token mean");
        for (int64_t iter = 0; s == LP_OK; iter++) {
            int64_t k = 0;
            for (int64_t b = 0; b < B; b++) {
                if (!tal[b].n_num) continue;
                if (iter > 0) seq_reenclose(&w, b, bprec, seq[2 * b], seq[2 * b + 1]);
                lo[k] = seq[2 * b];
                hi[k++] = seq[2 * b + 1];
            }
            sum_enclose(slo, shi, lo, hi, k);
            mpfr_set_prec(mlo, mpfr_get_prec(slo) + 8);
            mpfr_set_prec(mhi, mpfr_get_prec(slo) + 8);
            mpfr_div_ui(mlo, slo, (unsigned long)all.n, MPFR_RNDD);
            mpfr_div_ui(mhi, shi, (unsigned long)all.n, MPFR_RNDU);
            if (lp_decide(&res->token_mean, mlo, mhi)) break;
            if (bprec >= lp_ziv_max_prec()) {
                s = lp_fail(err, LP_ERR_INTERNAL, "ziv: token mean undecided at %ld bits: please report",
                            (long)bprec);
                break;
            }
            bprec *= 2;
            res->stats.retries++;
        }
        mpfr_clears(slo, shi, mlo, mhi, (mpfr_ptr)0);
        free(lo);
        free(hi);
    }

    for (size_t i = 0; i < 2 * nt; i++) mpfr_clear(pool[i]);
    for (int64_t b = 0; b < 2 * B; b++) mpfr_clear(seq[b]);
    mpfr_free_cache();
    lp_mpfr_leave(&st);
    free(w.tlo); free(w.thi); free(w.tprec); free(w.tidx); free(pool); free(seq); free(tal);
    if (s != LP_OK) lp_ref_result_free(res);
    return s;
}

void lp_ref_result_free(lp_ref_result *res)
{
    if (!res) return;
    free(res->logp);
    free(res->counted);
    free(res->sum);
    free(res->mean);
    free(res->count);
    res->logp = NULL;
    res->counted = NULL;
    res->sum = res->mean = NULL;
    res->count = NULL;
}
