/* reference/batch.c: the exact reference over a whole problem: tokens, sequence sums and means,
 * the batch token mean (SPEC A1-A3), from memory (lp_ref_compute_opts) or from a file mapping
 * whose pages are released as rows are done (lp_ref_compute_mapped, lp_ref_mapped.h). The
 * numerics and their proof are in ziv.c; this file adds the reductions: enclosures of sums of
 * token enclosures, decided by the same Ziv rule, with the precision of a whole sequence (or
 * batch) raised when a sum or mean is undecided.
 *
 * Threads: phase 1 decides tokens in chunks, phase 2 reduces sequences, both pulled from an atomic
 * counter by every thread; phase 3 (the token mean) runs on the caller's thread. Every value is
 * decided from enclosures whose precision depends only on the input (the Ziv loop of a token, or of
 * its sequence, never on what another thread did), so results are bit-identical for any thread
 * count. MPFR's exponent range and flags are per thread (TLS): each worker sets and restores its own.
 *
 * Tier 3 (the double-double wanted, as by default; lp_ref_td_on): every token is decided by
 * fast_td.c from an MPFR enclosure of about 2^-125.8 relative width kept in its slot (precision
 * LP_ZIV_PREC0), or else by the Ziv loop (stats.fallback); sums and means then take the MPFR route
 * below from those slots, which decides them at the first precision almost always; a sequence or
 * token mean that needs more counts in stats.seq_fallback.
 *
 * Fast path (lp_ref_options.slow turns it off, and it is off when the double-double is
 * wanted: lp_ref_fast_on): a token is first evaluated by fast.c (tier 1, double; skipped when f64
 * is wanted), whose enclosure decides f32/f16/bf16 in almost every case, then by fast_dd.c (tier 2,
 * double-double: decides f64, and retries tier 1's undecided rows); otherwise the token goes
 * through the Ziv loop (counted: stats.fallback, tier 1 and 2 count as stats.fast) and its MPFR
 * enclosure is kept as a pair p + [clo, chi] like the others. That chain, one token at a time,
 * is lp_ref_token (decide.c), which lp_ref_row uses too. Sums and means are then decided
 * from the outward double sums of the token enclosures (lp_fast_sum), then from their MPFR sum
 * (lp_fast_sum_pairs: narrow enough for f64); an undecided sequence (or token mean) is redone by
 * the MPFR code below from MPFR enclosures of its tokens (stats.seq_fallback). Every
 * decision is a correct rounding, so the results are those of the MPFR path bit for bit, and they
 * depend only on the input, never on the thread count.
 */
#include <limits.h>
#include <math.h>
#include <mpfr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_fast.h"
#include "lp_ref_internal.h"
#include "lp_ref_mapped.h"
#include "lp_ref_judge.h"


/* Tally of a reduction's counted terms by class. */
typedef struct tally {
    int64_t n, n_num, n_nan, n_neginf;
} tally;

typedef struct job {
    const lp_problem *pb;
    const lp_ref_options *opt;
    lp_ref_result *res;
    int64_t Ts;
    lp_ref_slot *slots;   /* [B*Ts] the MPFR enclosures of NUM tokens (lp_ref_internal.h) */
    uint8_t *cls;         /* [B*Ts] lp_tok_class of counted tokens */
    tally *tal;           /* [B] */
    mpfr_t *seq;          /* [2B] sum enclosures of sequences with NUM tokens */
    mpfr_prec_t *sprec;   /* [B] precision that decided each sequence */
    atomic_llong next;    /* the work counter of the current phase */
    atomic_llong done;    /* tokens done, for progress */
    int64_t chunk;        /* tokens per work item of phase 1: about 2^16 logits, 1 to 64 tokens */
    int phase;
    pthread_mutex_t lock; /* guards: err_b, err, stats, progress calls */
    int64_t err_b;        /* the first failing work item (lowest index wins: deterministic) */
    lp_error err;
    lp_ref_stats stats;
    int fast;             /* the fast path (tiers 1, 2; sums from their pairs) is on */
    int td;               /* tier 3 is on (the dd wanted): tokens by fast_td.c, sums by MPFR */
    int release;          /* logits in a read-only file mapping: release_rows (lp_ref_mapped.h) */
    unsigned want;        /* wanted outputs (LP_REF_ALL bits) */
    double *enc;          /* [3 B*Ts] fast mode: enclosure p + [clo, chi] of every NUM token */
    double *senc;         /* [3 B] fast mode: the same of every sequence sum with NUM tokens */
    double *thr;          /* [B*Ts] sampling (SPEC A7) on: each counted row's kept threshold
                           * (sample.c; -inf: every finite logit kept); NULL when off */
} job;

static lp_row row_at(const lp_problem *pb, int64_t b, int64_t ts)
{
    int64_t lab = lp_problem_label(pb, b, lp_problem_label_t(pb, ts));
    lp_row r = {lp_problem_row(pb, b, ts), pb->fmt, pb->shape.V, lab, pb->temperature, 0, 0, 0, 0, 0, 0};
    return r;
}

/* Row (b, ts) as the job sees it: with the softcap and the kept set of SPEC A7 (phase 1 decided
 * the set of every counted row: J->thr). */
static lp_row row_of(const job *J, int64_t b, int64_t ts)
{
    lp_row r = row_at(J->pb, b, ts);
    if (J->thr) {
        r.cap = J->pb->sampling.softcap;
        r.thr = J->thr[b * J->Ts + ts];
        r.filt = r.thr > -HUGE_VAL;
    }
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

/* Decides the mean sum / n from the sum enclosure. */
static int decide_mean(lp_value *mean, const mpfr_t slo, const mpfr_t shi, int64_t n)
{
    mpfr_t mlo, mhi;
    mpfr_inits2(mpfr_get_prec(slo) + 8, mlo, mhi, (mpfr_ptr)0);
    mpfr_div_ui(mlo, slo, (unsigned long)n, MPFR_RNDD);
    mpfr_div_ui(mhi, shi, (unsigned long)n, MPFR_RNDU);
    int ok = lp_decide(mean, mlo, mhi);
    mpfr_clears(mlo, mhi, (mpfr_ptr)0);
    return ok;
}

static void fail_at(job *J, int64_t item, const lp_error *e)
{
    pthread_mutex_lock(&J->lock);
    if (item < J->err_b) {
        J->err_b = item;
        J->err = *e;
    }
    pthread_mutex_unlock(&J->lock);
}

static void merge_stats(job *J, const lp_ref_stats *s)
{
    pthread_mutex_lock(&J->lock);
    J->stats.tokens += s->tokens;
    J->stats.exact += s->exact;
    J->stats.retries += s->retries;
    J->stats.fast += s->fast;
    J->stats.fallback += s->fallback;
    J->stats.seq_fallback += s->seq_fallback;
    if (s->max_prec > J->stats.max_prec) J->stats.max_prec = s->max_prec;
    pthread_mutex_unlock(&J->lock);
}

/* Hands the pages of the logits rows of tokens [i0, i1) back to the kernel (a read-only file
 * mapping: they are read again from the file if a fallback needs them). The range is rounded
 * outward to pages: a neighbouring chunk that still needs a page faults it back in. */
static void release_rows(job *J, int64_t i0, int64_t i1)
{
    if (i1 <= i0) return;
    const lp_problem *pb = J->pb;
    const int64_t b0 = i0 / J->Ts, b1 = (i1 - 1) / J->Ts;
    const char *p0 = lp_problem_row(pb, b0, i0 % J->Ts);
    const char *p1 = (const char *)lp_problem_row(pb, b1, (i1 - 1) % J->Ts) +
                     (size_t)pb->shape.V * (size_t)lp_format_get(pb->fmt)->bytes;
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    /* The kernel's fault-around maps up to 64 KiB of cached pages about a faulting address, also
     * before it: pages of earlier, already released rows. Going 64 KiB back (not before the
     * logits' first page) drops those too, so the resident set stays a few rows per thread. */
    const uintptr_t base = (uintptr_t)pb->logits & ~(pg - 1);
    uintptr_t a = (uintptr_t)p0 & ~(pg - 1);
    a = a - base > 65536 ? a - 65536 : base;
    const uintptr_t z = ((uintptr_t)p1 + pg - 1) & ~(pg - 1);
    madvise((void *)a, z - a, MADV_DONTNEED);
}

/* Keeps an enclosure as the triple (p, clo, chi); ends-only ones as (lo, 0, up(hi - lo)). */
static void store_enc(double *t, const lp_fast_enc *e)
{
    if (e->p == e->p) {
        t[0] = e->p;
        t[1] = e->clo;
        t[2] = e->chi;
    } else {
        t[0] = e->lo;
        t[1] = 0.0;
        t[2] = nextafter(e->hi - e->lo, HUGE_VAL);
    }
}

/* The double ends dn(p + clo), up(p + chi) of k triples into lo[2 i], lo[2 i + 1]. */
static void trip_ends(double *ends, const double *trip, int64_t k)
{
    for (int64_t i = 0; i < k; i++) {
        const double p = trip[3 * i], a = p + trip[3 * i + 1], b = p + trip[3 * i + 2];
        ends[2 * i] = nextafter(a, -HUGE_VAL);
        ends[2 * i + 1] = nextafter(b, HUGE_VAL);
    }
}

/* Decides a sum (sum may be NULL: not wanted) and the mean sum / n of k token (or sequence)
 * triples: from the double sums of the ends first (fast; f32/f16/bf16), then from the MPFR sums
 * of the pairs (narrow: f64). *es receives the enclosure of the sum. ends: scratch of 2k doubles. */
static int decide_sum(lp_value *sum, lp_value *mean, lp_fast_enc *es, const double *trip,
                      double *ends, int64_t k, int64_t n, unsigned want)
{
    double slo, shi, qlo, qhi;
    trip_ends(ends, trip, k);
    lp_fast_sum(&slo, &shi, ends, ends + 1, k, 2);
    lp_fast_div(&qlo, &qhi, slo, shi, n);
    lp_fast_enc e1 = lp_fast_enc_ends(slo, shi), m1 = lp_fast_enc_ends(qlo, qhi);
    lp_value s0 = sum ? *sum : *mean, m0 = *mean;
    if ((!sum || lp_fast_decide(&s0, &e1, want)) && lp_fast_decide(&m0, &m1, want)) {
        if (sum) *sum = s0;
        *mean = m0;
        *es = e1;
        return 1;
    }
    lp_fast_enc e2, m2;
    if (!lp_fast_sum_pairs(&e2, trip, k, 1) || !lp_fast_sum_pairs(&m2, trip, k, n)) return 0;
    if ((!sum || lp_fast_decide(&s0, &e2, want)) && lp_fast_decide(&m0, &m2, want)) {
        if (sum) *sum = s0;
        *mean = m0;
        *es = e2;
        return 1;
    }
    return 0;
}

/* Phase 1: the tokens of one chunk. */
static void do_chunk(job *J, int64_t c, lp_ref_stats *st)
{
    const lp_problem *pb = J->pb;
    const int64_t ntok = pb->shape.B * J->Ts, end = (c + 1) * J->chunk < ntok ? (c + 1) * J->chunk : ntok;
    for (int64_t i = c * J->chunk; i < end; i++) {
        const int64_t b = i / J->Ts, ts = i % J->Ts;
        lp_value *out = &J->res->logp[i];
        J->res->counted[i] = (uint8_t)lp_problem_counted(pb, b, ts);
        if (!J->res->counted[i]) {
            lp_value_special(out, LP_TOK_NAN);
            continue;
        }
        st->tokens++;
        lp_row r = row_at(pb, b, ts);
        lp_fast_enc fe;
        lp_tok_class cls;
        lp_error e = {LP_OK, ""};
        if (J->thr) { /* SPEC A7: the kept set, decided exactly (sample.c) */
            const lp_status ss = lp_sample_prepare(&r, &pb->sampling, J->opt->slow, st, &e);
            if (ss != LP_OK) {
                J->cls[i] = (uint8_t)LP_TOK_NAN;
                fail_at(J, i, &e);
                return;
            }
            J->thr[i] = r.filt ? r.thr : -HUGE_VAL;
        }
        /* The chain (decide.c); a slot the Ziv loop used is freed at the end, even on failure. */
        const lp_status s =
            lp_ref_token(out, &cls, &fe, &J->slots[i], &r, J->want, J->fast, J->td, st, &e);
        J->cls[i] = (uint8_t)cls;
        if (s != LP_OK) {
            fail_at(J, i, &e);
            return;
        }
        if (J->fast && cls == LP_TOK_NUM) store_enc(J->enc + 3 * i, &fe);
    }
    if (J->release) release_rows(J, c * J->chunk, end);
    if (J->opt->progress) {
        const int64_t k = end - c * J->chunk;
        int64_t d = atomic_fetch_add(&J->done, k) + k;
        if (d / 4096 != (d - k) / 4096 || d == ntok || J->pb->shape.V * k >= 65536) {
            pthread_mutex_lock(&J->lock);
            J->opt->progress(J->opt->user, d, ntok);
            pthread_mutex_unlock(&J->lock);
        }
    }
}

/* Re-encloses sequence b's NUM tokens at precision >= prec and sums them into slo, shi. */
static void seq_enclose(job *J, int64_t b, mpfr_prec_t prec, mpfr_t slo, mpfr_t shi,
                        mpfr_ptr *lo, mpfr_ptr *hi, lp_ref_stats *st)
{
    int64_t k = 0;
    for (int64_t ts = 0; ts < J->Ts; ts++) {
        lp_ref_slot *sl = &J->slots[b * J->Ts + ts];
        if (!sl->prec) continue;
        if (sl->prec < prec) {
            lp_row r = row_of(J, b, ts);
            LP_ASSERT(lp_row_scan(&r) == LP_TOK_NUM);
            lp_row_enclose(sl->lo, sl->hi, &r, prec);
            sl->prec = prec;
        }
        lo[k] = sl->lo;
        hi[k++] = sl->hi;
    }
    sum_enclose(slo, shi, lo, hi, k);
    if (prec > st->max_prec) st->max_prec = prec;
}

/* The sum of the counted NUM tokens of sequences [b0, b1), enclosed in its two parts:
 *     S = N / tau - sum_i L_i,   N = sum_i (x_y,i - m_i)  (exact: a sum of dyadics, LP_GAP_PREC
 *                                                          bits each, summed without rounding)
 * with L_i = log1p(T_i) enclosed at prec. The token enclosures of seq_enclose round each
 * D_i = (x_y,i - m_i) / tau outward on its own; with tau != 1 those D_i are not dyadic, yet their
 * sum can be, and can be a rounding boundary: then the summed ends straddle it at every
 * precision, and when every T_i underflows MPFR's exponent range (gaps past 3e18) the L_i that
 * decide the side are below any precision. Here N / tau is one division, exact when the sum is
 * dyadic, and the open-bound decision (ziv.c, STRICTNESS: every L_i lies strictly inside its
 * enclosure) settles it. The Ziv loops try it once plain doubling has failed twice.
 * Returns 0 on out of memory (slo, shi untouched). */
static int split_enclose(job *J, int64_t b0, int64_t b1, mpfr_prec_t prec, mpfr_t slo, mpfr_t shi)
{
    /* With softcap the D_i are transcendental: no exact part to split off (sample.c). */
    if (J->pb->sampling.softcap != 0) return 0;
    int64_t k = 0;
    for (int64_t i = b0 * J->Ts; i < b1 * J->Ts; i++)
        k += J->res->counted[i] && J->cls[i] == LP_TOK_NUM;
    if (k == 0) {                                /* no NUM token: the sum is exactly 0 */
        mpfr_set_zero(slo, -1);
        mpfr_set_zero(shi, -1);
        return 1;
    }
    const size_t nk = (size_t)k;
    __mpfr_struct *v = malloc(3 * nk * sizeof *v);
    mpfr_ptr *p = malloc(3 * nk * sizeof *p);
    if (!v || !p) {
        free(v);
        free(p);
        return 0;
    }
    int64_t n = 0;
    for (int64_t b = b0; b < b1; b++)
        for (int64_t ts = 0; ts < J->Ts; ts++) {
            const int64_t i = b * J->Ts + ts;
            if (!J->res->counted[i] || J->cls[i] != LP_TOK_NUM) continue;
            lp_row r = row_of(J, b, ts);
            LP_ASSERT(lp_row_scan(&r) == LP_TOK_NUM);
            mpfr_inits2(64, &v[n], &v[nk + n], &v[2 * nk + n], (mpfr_ptr)0);
            lp_row_gap(&v[n], &r);
            lp_row_log1p_enclose(&v[nk + n], &v[2 * nk + n], &r, prec);
            p[n] = &v[n];
            p[nk + n] = &v[nk + n];
            p[2 * nk + n] = &v[2 * nk + n];
            n++;
        }
    mpfr_prec_t w = mpfr_get_prec(&v[nk]) + 8;   /* every L has the working precision of prec */
    for (int64_t c = k; c > 1; c = (c + 1) / 2) w++;
    mpfr_t N, d, llo, lhi;
    mpfr_init2(N, LP_GAP_PREC + 64);             /* |N| < k 2^1025, bits down to 2^-1074 */
    mpfr_inits2(w, d, llo, lhi, (mpfr_ptr)0);
    mpfr_sum(N, p, (unsigned long)k, MPFR_RNDN); /* exact */
    mpfr_sum(llo, p + nk, (unsigned long)k, MPFR_RNDD);
    mpfr_sum(lhi, p + 2 * nk, (unsigned long)k, MPFR_RNDU);
    const double tau = J->pb->temperature;
    mpfr_set_prec(slo, w);
    mpfr_set_prec(shi, w);
    mpfr_div_d(d, N, tau, MPFR_RNDD);
    mpfr_sub(slo, d, lhi, MPFR_RNDD);
    mpfr_div_d(d, N, tau, MPFR_RNDU);
    mpfr_sub(shi, d, llo, MPFR_RNDU);
    mpfr_clears(N, d, llo, lhi, (mpfr_ptr)0);
    for (size_t j = 0; j < 3 * nk; j++) mpfr_clear(&v[j]);
    free(v);
    free(p);
    return 1;
}

/* Fast mode, before MPFR work on sequence b: MPFR enclosures (at the first precision) of its
 * counted tokens that the fast path decided (their slots are empty). */
static void ensure_slots(job *J, int64_t b)
{
    for (int64_t ts = 0; ts < J->Ts; ts++) {
        const int64_t i = b * J->Ts + ts;
        lp_ref_slot *sl = &J->slots[i];
        if (!J->res->counted[i] || J->cls[i] != LP_TOK_NUM || sl->prec) continue;
        lp_row r = row_of(J, b, ts);
        LP_ASSERT(lp_row_scan(&r) == LP_TOK_NUM);
        mpfr_inits2(64, sl->lo, sl->hi, (mpfr_ptr)0);
        sl->prec = lp_ziv_prec0();
        lp_row_enclose(sl->lo, sl->hi, &r, sl->prec);
    }
}

/* Phase 2: sequence b's tally, sum and mean. lo, hi: scratch of Ts pointers. */
static void do_sequence(job *J, int64_t b, mpfr_ptr *lo, mpfr_ptr *hi, lp_ref_stats *st)
{
    const lp_problem *pb = J->pb;
    tally *t = &J->tal[b];
    mpfr_prec_t pmax = lp_ziv_prec0();
    memset(t, 0, sizeof *t);
    for (int64_t ts = 0; ts < J->Ts; ts++) {
        const int64_t i = b * J->Ts + ts;
        if (!J->res->counted[i]) continue;
        t->n++;
        t->n_nan += J->cls[i] == LP_TOK_NAN;
        t->n_neginf += J->cls[i] == LP_TOK_NEGINF;
        if (J->cls[i] == LP_TOK_NUM) {
            t->n_num++;
            if (J->slots[i].prec > pmax) pmax = J->slots[i].prec;
        }
    }
    J->res->count[b] = t->n;
    lp_value *sum = &J->res->sum[b], *mean = &J->res->mean[b];
    int special = reduce_special(sum, t, 0, pb->empty_mean);
    reduce_special(mean, t, 1, pb->empty_mean);
    if (special) {
        if (J->fast) J->senc[3 * b] = (double)NAN;   /* no enclosure: a special sum */
        return;
    }
    mpfr_ptr slo = J->seq[2 * b], shi = J->seq[2 * b + 1];
    if (J->fast) {
        /* Every counted token is NUM here (else the sequence is special). Uncounted tokens of
         * the sequence do not count: gather the counted enclosures into scratch (the token
         * enclosures stay in place for lp_ref_compute_enc). */
        double *tr = malloc(5 * (size_t)(t->n ? t->n : 1) * sizeof *tr);
        int64_t k = 0;
        for (int64_t ts = 0; tr && ts < J->Ts; ts++)
            if (J->res->counted[b * J->Ts + ts]) {
                for (int c = 0; c < 3; c++) tr[3 * k + c] = J->enc[3 * (b * J->Ts + ts) + c];
                k++;
            }
        lp_fast_enc es;
        int ok = tr && decide_sum(sum, mean, &es, tr, tr + 3 * k, k, t->n, J->want);
        free(tr);
        if (ok) {
            store_enc(J->senc + 3 * b, &es);
            return;
        }
        st->seq_fallback++;
        ensure_slots(J, b);
    }
    for (mpfr_prec_t prec = pmax;; prec *= 2) {
        seq_enclose(J, b, prec, slo, shi, lo, hi, st);
        J->sprec[b] = prec;
        int ok = lp_decide(sum, slo, shi) && decide_mean(mean, slo, shi, t->n);
        if (!ok && prec >= 4 * lp_ziv_prec0() && split_enclose(J, b, b + 1, prec, slo, shi))
            ok = lp_decide(sum, slo, shi) && decide_mean(mean, slo, shi, t->n);
        if (ok) {
            if (J->fast) {
                lp_fast_enc es;
                lp_fast_enc_mpfr(&es, slo, shi);
                store_enc(J->senc + 3 * b, &es);
            }
            return;
        }
        if (prec >= lp_ziv_max_prec()) {
            lp_error e;
            lp_fail(&e, LP_ERR_INTERNAL, "ziv: sum of sequence b=%lld undecided at %ld bits: "
                    "please report", (long long)b, (long)prec);
            fail_at(J, J->pb->shape.B * J->Ts + b, &e);
            return;
        }
        if (J->td && prec == pmax) st->seq_fallback++; /* tier 3's enclosures did not decide it */
        st->retries++;
    }
}

static void *worker(void *arg)
{
    job *J = arg;
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    lp_ref_stats st = {0, 0, 0, 0, 0, 0, 0};
    size_t nt = J->Ts ? (size_t)J->Ts : 1;
    mpfr_ptr *lo = malloc(nt * sizeof *lo), *hi = malloc(nt * sizeof *hi);
    const int64_t ntok = J->pb->shape.B * J->Ts;
    const int64_t items = J->phase == 1 ? (ntok + J->chunk - 1) / J->chunk : J->pb->shape.B;
    if (!lo || !hi) {
        lp_error e;
        lp_fail(&e, LP_ERR_NOMEM, "ref: out of memory for a worker's scratch (T_s=%lld)",
                (long long)J->Ts);
        fail_at(J, -1, &e);
    }
    for (;;) {
        int64_t it = atomic_fetch_add(&J->next, 1);
        if (it >= items || !lo || !hi) break;
        pthread_mutex_lock(&J->lock);
        int failed = J->err_b != INT64_MAX;
        pthread_mutex_unlock(&J->lock);
        if (failed) break;
        if (J->phase == 1) do_chunk(J, it, &st);
        else do_sequence(J, it, lo, hi, &st);
    }
    free(lo);
    free(hi);
    merge_stats(J, &st);
    lp_mpfr_leave(&ms);
    return NULL;
}

/* a worker on a thread of its own: its MPFR caches go with it (lp_ref_internal.h); the caller's
 * thread releases its own at the end of lp_ref_compute */
static void *worker_thread(void *arg)
{
    worker(arg);
    mpfr_free_cache();
    return NULL;
}

/* The default thread count: the processors online at the first call. glibc's sysconf reads
 * /sys/devices/system/cpu/online on every call (an open, a read and a close), which small
 * problems (the fuzz harnesses: several calls per input) paid each time. */
static int online_cpus(void)
{
    static atomic_int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n <= 0) {
        const long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 && c < INT_MAX ? (int)c : 1;
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n;
}

static void run_phase(job *J, int phase, int threads)
{
    J->phase = phase;
    atomic_store(&J->next, 0);
    pthread_t tid[64];
    int started = 0;
    for (int i = 1; i < threads && i < 64; i++)
        if (pthread_create(&tid[started], NULL, worker_thread, J) == 0) started++;
    worker(J); /* the caller's thread works too; with 1 thread it is the only one */
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
}

/* Phase 3: token_mean = (sum of all counted values) / (their count), on the caller's thread. */
static void do_token_mean(job *J)
{
    const int64_t B = J->pb->shape.B;
    tally all = {0, 0, 0, 0};
    mpfr_prec_t prec = lp_ziv_prec0();
    for (int64_t b = 0; b < B; b++) {
        all.n += J->tal[b].n;
        all.n_num += J->tal[b].n_num;
        all.n_nan += J->tal[b].n_nan;
        all.n_neginf += J->tal[b].n_neginf;
        if (J->tal[b].n_num && J->sprec[b] > prec) prec = J->sprec[b];
    }
    if (reduce_special(&J->res->token_mean, &all, 1, J->pb->empty_mean)) return;
    size_t nt = J->Ts ? (size_t)J->Ts : 1;
    mpfr_ptr *lo = malloc((size_t)B * sizeof *lo), *hi = malloc((size_t)B * sizeof *hi);
    mpfr_ptr *tlo = malloc(nt * sizeof *tlo), *thi = malloc(nt * sizeof *thi);
    mpfr_t slo, shi;
    mpfr_inits2(64, slo, shi, (mpfr_ptr)0);
    if (!lo || !hi || !tlo || !thi) {
        lp_error e;
        lp_fail(&e, LP_ERR_NOMEM, "ref: out of memory for the token mean (B=%lld)", (long long)B);
        fail_at(J, INT64_MAX - 1, &e);
    }
    int fast_done = 0;
    if (J->fast && lo && hi && tlo && thi) {
        double *buf = malloc(5 * (size_t)B * sizeof *buf);
        int done = 0;
        if (buf) {
            int64_t k = 0;
            for (int64_t b = 0; b < B; b++)
                if (J->tal[b].n_num) {
                    for (int c = 0; c < 3; c++) buf[3 * k + c] = J->senc[3 * b + c];
                    k++;
                }
            lp_fast_enc es;
            done = decide_sum(NULL, &J->res->token_mean, &es, buf, buf + 3 * (size_t)B, k,
                              all.n, J->want);
            free(buf);
        }
        if (done) {
            fast_done = 1; /* the MPFR loop is skipped */
        } else {
            J->stats.seq_fallback++;
            for (int64_t b = 0; b < B; b++)
                if (J->tal[b].n_num && !J->sprec[b]) {
                    ensure_slots(J, b);
                    seq_enclose(J, b, lp_ziv_prec0(), J->seq[2 * b], J->seq[2 * b + 1], tlo, thi,
                                &J->stats);
                    J->sprec[b] = lp_ziv_prec0();
                }
        }
    }
    for (int iter = 0; !fast_done && lo && hi && tlo && thi; iter++) {
        int64_t k = 0;
        for (int64_t b = 0; b < B; b++) {
            if (!J->tal[b].n_num) continue;
            if (iter > 0) seq_enclose(J, b, prec, J->seq[2 * b], J->seq[2 * b + 1], tlo, thi, &J->stats);
            lo[k] = J->seq[2 * b];
            hi[k++] = J->seq[2 * b + 1];
        }
        sum_enclose(slo, shi, lo, hi, k);
        if (decide_mean(&J->res->token_mean, slo, shi, all.n)) break;
        if (prec >= 4 * lp_ziv_prec0() && split_enclose(J, 0, B, prec, slo, shi) &&
            decide_mean(&J->res->token_mean, slo, shi, all.n))
            break;
        if (prec >= lp_ziv_max_prec()) {
            lp_error e;
            lp_fail(&e, LP_ERR_INTERNAL, "ziv: token mean undecided at %ld bits: please report",
                    (long)prec);
            fail_at(J, INT64_MAX - 1, &e);
            break;
        }
        if (J->td && iter == 0) J->stats.seq_fallback++;
        prec *= 2;
        J->stats.retries++;
    }
    mpfr_clears(slo, shi, (mpfr_ptr)0);
    free(lo); free(hi); free(tlo); free(thi);
}

/* Outputs not wanted hold each format's canonical NaN (both paths alike). */
static void blank_value(lp_value *v, unsigned want)
{
    lp_value nan;
    lp_value_special(&nan, LP_TOK_NAN);
    if (!(want & (1u << LP_F64))) v->f64 = nan.f64;
    if (!(want & (1u << LP_F32))) v->f32 = nan.f32;
    if (!(want & (1u << LP_F16))) v->f16 = nan.f16;
    if (!(want & (1u << LP_BF16))) v->bf16 = nan.bf16;
    if (!(want & LP_REF_DD)) v->dd = nan.dd;
}

static void blank_unwanted(lp_ref_result *res, unsigned want)
{
    for (int64_t i = 0; i < res->B * res->Ts; i++) blank_value(&res->logp[i], want);
    for (int64_t b = 0; b < res->B; b++) {
        blank_value(&res->sum[b], want);
        blank_value(&res->mean[b], want);
    }
    blank_value(&res->token_mean, want);
}

lp_status lp_ref_compute(lp_ref_result *res, const lp_problem *pb, lp_error *err)
{
    lp_ref_options opt = LP_REF_OPTIONS_INIT;
    return lp_ref_compute_opts(res, pb, &opt, err);
}

/* Whether the logits of pb (checked) lie wholly inside the read-only mapping file owns. */
static int logits_mapped(const lp_problem *pb, const lp_tfile *file)
{
    const size_t n = (size_t)pb->shape.B * (size_t)pb->shape.T * (size_t)pb->shape.V *
                     (size_t)lp_format_get(pb->fmt)->bytes;
    return lp_tfile_holds(file, pb->logits, n);
}

static lp_status compute(lp_ref_result *res, const lp_problem *pb, const lp_ref_options *opt,
                         const lp_tfile *file, lp_ref_enc *keep, lp_error *err)
{
    if (keep) memset(keep, 0, sizeof *keep);
    memset(res, 0, sizeof *res);
    lp_status s = lp_problem_check(pb, err);
    if (s != LP_OK) return s;
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    res->B = B;
    res->Ts = Ts;
    size_t ntok = (size_t)(B * Ts), n1 = ntok ? ntok : 1;
    res->logp = calloc(n1, sizeof *res->logp);
    res->counted = calloc(n1, 1);
    res->sum = calloc((size_t)B, sizeof *res->sum);
    res->mean = calloc((size_t)B, sizeof *res->mean);
    res->count = calloc((size_t)B, sizeof *res->count);
    job *J = calloc(1, sizeof *J);
    if (J) {
        J->slots = calloc(n1, sizeof *J->slots);
        J->cls = calloc(n1, 1);
        J->tal = calloc((size_t)B, sizeof *J->tal);
        J->seq = calloc(2 * (size_t)B, sizeof *J->seq);
        J->sprec = calloc((size_t)B, sizeof *J->sprec);
    }
    const unsigned want = opt->formats ? (opt->formats & LP_REF_ALL) : LP_REF_ALL;
    const int fast = lp_ref_fast_on(want, opt->slow);
    const int sampled = lp_sampling_on(&pb->sampling);
    if (J && sampled) J->thr = calloc(n1, sizeof *J->thr);
    if (J && fast) {
        J->enc = calloc(3 * n1, sizeof *J->enc);
        J->senc = calloc(3 * (size_t)B + 1, sizeof *J->senc);
    }
    if (!res->logp || !res->counted || !res->sum || !res->mean || !res->count || !J ||
        !J->slots || !J->cls || !J->tal || !J->seq || !J->sprec ||
        (fast && (!J->enc || !J->senc)) || (sampled && !J->thr)) {
        if (J) {
            free(J->slots); free(J->cls); free(J->tal); free(J->seq); free(J->sprec);
            free(J->enc); free(J->senc); free(J->thr);
        }
        free(J);
        lp_ref_result_free(res);
        return lp_fail(err, LP_ERR_NOMEM, "ref: out of memory for B=%lld, T_s=%lld",
                       (long long)B, (long long)Ts);
    }
    J->pb = pb;
    J->opt = opt;
    J->release = logits_mapped(pb, file);
    J->fast = fast;
    J->td = lp_ref_td_on(want, opt->slow);
    J->want = want;
    J->res = res;
    J->Ts = Ts;
    J->err_b = INT64_MAX;
    pthread_mutex_init(&J->lock, NULL);
    atomic_init(&J->next, 0);
    atomic_init(&J->done, 0);
    int threads = opt->threads;
    if (threads <= 0) threads = online_cpus();
    J->chunk = 65536 / pb->shape.V;
    if (J->chunk < 1) J->chunk = 1;
    if (J->chunk > 64) J->chunk = 64;
    int64_t chunks = (int64_t)(ntok + (size_t)J->chunk - 1) / J->chunk;
    if (threads > chunks) threads = chunks > 0 ? (int)chunks : 1;
    if (threads > 64) threads = 64;

    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    for (int64_t b = 0; b < 2 * B; b++) mpfr_init2(J->seq[b], 64);
    run_phase(J, 1, threads);
    if (J->err_b == INT64_MAX) run_phase(J, 2, threads);
    if (J->err_b == INT64_MAX) do_token_mean(J);
    if (J->err_b != INT64_MAX) {
        if (err) *err = J->err;
        s = J->err.status;
    }
    res->stats = J->stats;
    if (keep && fast && s == LP_OK) {   /* hand the enclosures over (lp_ref_judge.h) */
        keep->cls = J->cls;
        keep->tok = J->enc;
        keep->seq = J->senc;
        J->cls = NULL;
        J->enc = J->senc = NULL;
    }
    for (size_t i = 0; i < ntok; i++)
        if (J->slots[i].prec) mpfr_clears(J->slots[i].lo, J->slots[i].hi, (mpfr_ptr)0);
    for (int64_t b = 0; b < 2 * B; b++) mpfr_clear(J->seq[b]);
    lp_mpfr_release_cache();
    lp_mpfr_leave(&ms);
    pthread_mutex_destroy(&J->lock);
    free(J->slots); free(J->cls); free(J->tal); free(J->seq); free(J->sprec);
    free(J->enc); free(J->senc); free(J->thr);
    free(J);
    if (s != LP_OK) lp_ref_result_free(res);
    else if (want != LP_REF_ALL) blank_unwanted(res, want);
    return s;
}

lp_status lp_ref_compute_opts(lp_ref_result *res, const lp_problem *pb, const lp_ref_options *opt,
                              lp_error *err)
{
    return compute(res, pb, opt, NULL, NULL, err);
}

lp_status lp_ref_compute_mapped(lp_ref_result *res, const lp_problem *pb, const lp_ref_options *opt,
                                const lp_tfile *file, lp_error *err)
{
    return compute(res, pb, opt, file, NULL, err);
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

lp_status lp_ref_compute_enc(lp_ref_result *res, lp_ref_enc *enc, const lp_problem *pb,
                             const lp_ref_options *opt, lp_error *err)
{
    return compute(res, pb, opt, NULL, enc, err);
}

void lp_ref_enc_free(lp_ref_enc *enc)
{
    if (!enc) return;
    free(enc->cls);
    free(enc->tok);
    free(enc->seq);
    memset(enc, 0, sizeof *enc);
}

/* ---- exact values for the judge (lp_ref_judge.h) ---- */

lp_status lp_ref_exact_token(lp_value *out, const lp_problem *pb, int64_t b, int64_t ts,
                             lp_error *err)
{
    lp_row r = row_at(pb, b, ts);
    lp_ref_slot sl = {.prec = 0};
    lp_ref_stats st;
    memset(&st, 0, sizeof st);
    lp_fast_enc fe;
    lp_tok_class cls;
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    lp_status s = LP_OK;
    if (lp_sampling_on(&pb->sampling)) s = lp_sample_prepare(&r, &pb->sampling, 0, &st, err);
    /* every output with the double-double: tier 3, then the Ziv loop. The dd is canonical (a
     * function of the exact value, ziv.c), so this is the slow route's value bit for bit. */
    if (s == LP_OK) s = lp_ref_token(out, &cls, &fe, &sl, &r, LP_REF_ALL, 0, lp_ref_td_on(LP_REF_ALL, 0),
                               &st, err);
    if (sl.prec) mpfr_clears(sl.lo, sl.hi, (mpfr_ptr)0);
    lp_mpfr_release_cache();
    lp_mpfr_leave(&ms);
    return s;
}

int lp_ref_tier2_token(lp_fast_enc *e, const lp_problem *pb, int64_t b, int64_t ts)
{
    lp_row r = row_at(pb, b, ts);
    if (!lp_sampling_on(&pb->sampling)) return lp_fast_row_dd(e, r.data, r.fmt, r.V, r.label, r.tau);
    /* SPEC A7: tier 2 on the masked row (decide.c, SAMPLED); none with softcap */
    if (pb->sampling.softcap != 0) return 0;
    lp_mpfr_state ms;
    lp_error err;
    lp_mpfr_enter(&ms);
    const lp_status s = lp_sample_prepare(&r, &pb->sampling, 0, NULL, &err);
    lp_mpfr_release_cache();
    lp_mpfr_leave(&ms);
    if (s != LP_OK) return 0;
    void *masked = lp_row_masked(&r);
    const int ok = masked && lp_fast_row_dd(e, masked, r.fmt, r.V, r.label, r.tau);
    free(masked);
    return ok;
}

lp_status lp_ref_exact_seq(lp_value *sum, lp_value *mean, const lp_problem *pb, int64_t b,
                           lp_error *err)
{
    const lp_problem one = lp_problem_seqs(pb, b, 1);
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = 1; /* every output (tier 3 and the Ziv loop): the slow route's values bit for bit */
    lp_ref_result r;
    lp_status s = compute(&r, &one, &o, NULL, NULL, err);
    if (s != LP_OK) return s;
    *sum = r.sum[0];
    *mean = r.mean[0];
    lp_ref_result_free(&r);
    return LP_OK;
}
