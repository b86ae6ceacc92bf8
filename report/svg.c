/* report/svg.c: line plots as SVG, written directly (no plotting dependency). Coordinates are
 * printed with one decimal, so a figure is a pure function of its data: the same bytes on every
 * run. */
#include <math.h>

#include "lp_file.h"
#include "lp_report.h"

/* ---- the plot --------------------------------------------------------------------------------- */

enum { W = 800, H = 460, PL = 78, PR = 580, PT = 58, PB = 392 };

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

typedef struct axis {
    int log;                 /* 0, 2 or 10 */
    double lo, hi;           /* in axis units: the value, or its log */
} axis;

static int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }

static double to_axis(double v, int log) { return log == 10 ? log10(v) : log == 2 ? log2(v) : v; }

static void axis_fit(axis *a, int log, double lo, double hi, const rp_plot *p, int is_x)
{
    a->log = log;
    if (!(lo < hi) && lo == hi && isfinite(lo)) {   /* one value: a unit range around it */
        lo = log ? lo / 2 : lo - 1;
        hi = log ? hi * 2 : hi + 1;
    }
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = log ? 1 : 0;
        hi = log ? 10 : 1;
    }
    a->lo = to_axis(lo, log);
    a->hi = to_axis(hi, log);
    if (log) {
        a->lo = floor(a->lo + 1e-9);
        a->hi = ceil(a->hi - 1e-9);
        if (a->hi <= a->lo) a->hi = a->lo + 1;
    } else {
        const double span = a->hi - a->lo, step = pow(10, floor(log10(span)));
        a->lo = floor(a->lo / step) * step;
        a->hi = ceil(a->hi / step) * step;
    }
    (void)p;
    (void)is_x;
}

static double px(const axis *a, double v)
{
    return PL + (to_axis(v, a->log) - a->lo) / (a->hi - a->lo) * (PR - PL);
}

static double py(const axis *a, double v)
{
    return PB - (to_axis(v, a->log) - a->lo) / (a->hi - a->lo) * (PB - PT);
}

static void esc(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') rp_printf(b, "&lt;");
        else if (*s == '>') rp_printf(b, "&gt;");
        else if (*s == '&') rp_printf(b, "&amp;");
        else rp_printf(b, "%c", *s);
    }
}

static void tick_label(char *buf, size_t n, const axis *a, double t)
{
    if (a->log == 10) {
        if (t >= -3 && t <= 4) snprintf(buf, n, "%g", pow(10, t));
        else snprintf(buf, n, "1e%d", (int)t);
    } else if (a->log == 2) {
        if (t >= -4 && t <= 16) snprintf(buf, n, "%g", ldexp(1, (int)t));
        else snprintf(buf, n, "2^%d", (int)t);
    } else {
        snprintf(buf, n, "%g", fabs(t) < 1e-12 ? 0.0 : t);
    }
}

/* Ticks: every power (thinned to at most ~10) on a log axis, 1-2-5 steps on a linear one. */
static void ticks(rp_buf *b, const axis *a, int is_x)
{
    double step;
    if (a->log) {
        step = 1;
        while ((a->hi - a->lo) / step > 10) step = step == 1 ? 2 : step == 2 ? 5 : step * 2;
    } else {
        const double span = a->hi - a->lo;
        step = pow(10, floor(log10(span)));
        if (span / step < 2.5) step /= 5;
        else if (span / step < 5) step /= 2;
    }
    const double first = ceil(a->lo / step - 1e-9) * step;
    for (double t = first; t <= a->hi + 1e-9 * step; t += step) {
        const double f = (t - a->lo) / (a->hi - a->lo);
        char lab[32];
        tick_label(lab, sizeof lab, a, t);
        if (is_x) {
            const double x = PL + f * (PR - PL);
            rp_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n", x,
                      PT, x, PB);
            rp_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, PB + 16,
                      lab);
        } else {
            const double y = PB - f * (PB - PT);
            rp_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", PL,
                      y, PR, y);
            rp_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", PL - 6, y + 4,
                      lab);
        }
    }
}

static void series(rp_buf *b, const rp_series *s, const axis *ax, const axis *ay, int idx)
{
    const char *col = palette[s->color % 10];
    (void)idx;
    int open = 0;
    for (int i = 0; i < s->n; i++) {
        if (!usable(s->x[i], ax->log) || !usable(s->y[i], ay->log)) {
            if (open) rp_printf(b, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open)
            rp_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"", col,
                      s->dash ? " stroke-dasharray=\"5,3\"" : "");
        rp_printf(b, "%s%.1f,%.1f", open ? " " : "", px(ax, s->x[i]), py(ay, s->y[i]));
        open = 1;
    }
    if (open) rp_printf(b, "\"/>\n");
    if (s->marker)
        for (int i = 0; i < s->n; i++)
            if (usable(s->x[i], ax->log) && usable(s->y[i], ay->log))
                rp_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>\n",
                          px(ax, s->x[i]), py(ay, s->y[i]), col);
}

lp_status rp_svg_write(const char *path, const rp_plot *p, lp_error *err)
{
    double xlo = HUGE_VAL, xhi = -HUGE_VAL, ylo = HUGE_VAL, yhi = -HUGE_VAL;
    for (int k = 0; k < p->ns; k++)
        for (int i = 0; i < p->s[k].n; i++) {
            const double x = p->s[k].x[i], y = p->s[k].y[i];
            if (!usable(x, p->logx) || !usable(y, p->logy)) continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    if (p->xmin < p->xmax) xlo = p->xmin, xhi = p->xmax;
    if (p->ymin < p->ymax) ylo = p->ymin, yhi = p->ymax;
    axis ax, ay;
    axis_fit(&ax, p->logx, xlo, xhi, p, 1);
    axis_fit(&ay, p->logy, ylo, yhi, p, 0);

    rp_buf b = {0};
    rp_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    rp_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n", W, H, W, H);
    rp_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    rp_printf(&b, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", PL);
    esc(&b, p->title);
    rp_printf(&b, "</text>\n");
    if (p->note) {
        rp_printf(&b, "<text x=\"%d\" y=\"40\" fill=\"#555\">", PL);
        esc(&b, p->note);
        rp_printf(&b, "</text>\n");
    }
    ticks(&b, &ax, 1);
    ticks(&b, &ay, 0);
    rp_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
              PL, PT, PR - PL, PB - PT);
    rp_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">", (PL + PR) / 2,
              PB + 38);
    esc(&b, p->xlabel);
    rp_printf(&b, "</text>\n<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\" "
                  "font-size=\"12\">", (PT + PB) / 2);
    esc(&b, p->ylabel);
    rp_printf(&b, "</text>\n<g clip-path=\"url(#plot)\">\n");
    for (int k = 0; k < p->ns; k++) series(&b, &p->s[k], &ax, &ay, k);
    rp_printf(&b, "</g>\n<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                  "</clipPath>\n", PL - 3, PT - 3, PR - PL + 6, PB - PT + 6);
    for (int k = 0, row = 0; k < p->ns; k++) {   /* legend: the named series */
        if (!p->s[k].name[0]) continue;
        const int y = PT + 8 + 17 * row++;
        rp_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                  PR + 14, y, PR + 40, y, palette[p->s[k].color % 10],
                  p->s[k].dash ? " stroke-dasharray=\"5,3\"" : "");
        rp_printf(&b, "<text x=\"%d\" y=\"%d\">", PR + 46, y + 4);
        esc(&b, p->s[k].name);
        rp_printf(&b, "</text>\n");
    }
    rp_printf(&b, "</svg>\n");
    lp_status s = b.oom ? lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path)
                        : lp_write_file_atomic(path, b.p, b.n, err);
    lp_text_free(&b);
    return s;
}
