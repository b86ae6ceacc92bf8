/* report/svg.c: line plots as SVG, written directly (no plotting dependency). Coordinates are
 * printed with one decimal, so a figure is a pure function of its data: the same bytes on every
 * run. */
#include <math.h>

#include "lp_file.h"
#include "lp_report.h"

/* ---- the plot --------------------------------------------------------------------------------- */

enum { W = 800, H = 460, PL = 78, PR = 580, PT = 58, PB = 392 };
#define CHAR_W 6.4   /* a generous width of one character of the 11 px legend font */

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

/* Dash patterns (series dash 1, 2, 3...) and marker shapes (series marker 1, 2, ...): with the
 * colour, each series stays distinguishable where lines cross or coincide. */
static const char *const dashes[] = {"5,3", "1.5,2.5", "8,3,2,3", "3,3"};
#define NSHAPES 6

static void dash_attr(rp_buf *b, int dash)
{
    if (dash > 0) rp_printf(b, " stroke-dasharray=\"%s\"", dashes[(dash - 1) % 4]);
}

/* A hollow marker of shape sh (0 circle, 1 square, 2 triangle up, 3 diamond, 4 triangle down,
 * 5 cross) centred on (x, y). */
static void marker(rp_buf *b, int sh, double x, double y, const char *col)
{
    const double r = 3.2;
    rp_printf(b, "<");
    switch (sh % NSHAPES) {
    case 0: rp_printf(b, "circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", x, y, r); break;
    case 1: rp_printf(b, "rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x - r, y - r, 2 * r, 2 * r); break;
    case 2: rp_printf(b, "polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"", x, y - r - 0.6, x + r + 0.4, y + r - 0.4, x - r - 0.4, y + r - 0.4); break;
    case 3: rp_printf(b, "polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\"", x, y - r - 0.8, x + r + 0.8, y, x, y + r + 0.8, x - r - 0.8, y); break;
    case 4: rp_printf(b, "polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"", x, y + r + 0.6, x + r + 0.4, y - r + 0.4, x - r - 0.4, y - r + 0.4); break;
    default: rp_printf(b, "path d=\"M%.1f,%.1fL%.1f,%.1fM%.1f,%.1fL%.1f,%.1f\"", x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r); break;
    }
    rp_printf(b, " fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"/>\n", col);
}

/* An arrow with its tip at y0, 12 px long, pointing up (dir -1) or down (dir 1): a point above
 * or below the y axis's range. */
static void arrow(rp_buf *b, double x, int y0, int dir, const char *col)
{
    rp_printf(b, "<path d=\"M%.1f,%d L%.1f,%d L%.1f,%d Z M%.1f,%d L%.1f,%d\" fill=\"%s\" stroke=\"%s\"/>\n",
              x, y0, x + 3.5, y0 - 6 * dir, x - 3.5, y0 - 6 * dir, x, y0 - 6 * dir, x, y0 - 12 * dir,
              col, col);
}

/* -1 if y is below the y axis's range, 1 if above, 0 if on it. */
static int off_scale(double y, const axis *ay)
{
    const double t = to_axis(y, ay->log);
    return t > ay->hi + 1e-9 ? 1 : t < ay->lo - 1e-9 ? -1 : 0;
}

/* Draws s; points off the y range break the line and are marked by an arrow at the top or the
 * bottom. Adds how many points were above and below to off[1] and off[0]. */
static void series(rp_buf *b, const rp_series *s, const axis *ax, const axis *ay, int off[2])
{
    const char *col = palette[s->color % 10];
    int open = 0;
    for (int i = 0; i < s->n; i++) {
        const int ok = usable(s->x[i], ax->log) && usable(s->y[i], ay->log);
        const int os = ok ? off_scale(s->y[i], ay) : 0;
        if (!ok || os) {
            if (open) rp_printf(b, "\"/>\n");
            open = 0;
            if (os) {
                arrow(b, px(ax, s->x[i]), os > 0 ? PT + 1 : PB - 1, os > 0 ? -1 : 1, col);
                off[os > 0]++;
            }
            continue;
        }
        if (!open) {
            rp_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"", col);
            dash_attr(b, s->dash);
            rp_printf(b, " points=\"");
        }
        rp_printf(b, "%s%.1f,%.1f", open ? " " : "", px(ax, s->x[i]), py(ay, s->y[i]));
        open = 1;
    }
    if (open) rp_printf(b, "\"/>\n");
    if (s->marker)
        for (int i = 0; i < s->n; i++)
            if (usable(s->x[i], ax->log) && usable(s->y[i], ay->log) && !off_scale(s->y[i], ay))
                marker(b, s->marker - 1, px(ax, s->x[i]), py(ay, s->y[i]), col);
}

/* 1 if two series hold the same points. */
static int same_points(const rp_series *a, const rp_series *b)
{
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->x[i] != b->x[i] || !(a->y[i] == b->y[i] || (isnan(a->y[i]) && isnan(b->y[i])))) return 0;
    return 1;
}

/* The legend entry of a named series k is k and the unnamed series after it. The first earlier
 * entry whose series all coincide with k's (*full 1), or whose named series does (*full 0); -1 if
 * none. */
static int coincides(const rp_plot *p, int k, int *full)
{
    int nk = 1;
    while (k + nk < p->ns && !p->s[k + nk].name[0]) nk++;
    for (int j = 0; j < k; j++) {
        if (!p->s[j].name[0] || !same_points(&p->s[j], &p->s[k])) continue;
        int nj = 1;
        while (j + nj < p->ns && !p->s[j + nj].name[0]) nj++;
        *full = nj == nk;
        for (int m = 1; m < nk && *full; m++) *full = same_points(&p->s[j + m], &p->s[k + m]);
        return j;
    }
    return -1;
}

/* The legend's text of series k: its name, and which earlier series it coincides with (that
 * one's name up to its first " (", the series' own remarks). */
static void legend_text(char *buf, size_t n, const rp_plot *p, int k)
{
    int full = 0;
    const int j = coincides(p, k, &full);
    if (j < 0) {
        snprintf(buf, n, "%s", p->s[k].name);
        return;
    }
    const char *nj = p->s[j].name, *par = strstr(nj, " (");
    snprintf(buf, n, "%s (%s= %.*s)", p->s[k].name, full ? "" : "solid ",
             (int)(par ? (size_t)(par - nj) : strlen(nj)), nj);
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
    if (p->ycap > 0 && yhi > p->ycap) yhi = p->ycap;
    if (p->yfloor > 0 && ylo < p->yfloor) ylo = p->yfloor;
    if (ylo > yhi) ylo = yhi;
    axis ax, ay;
    axis_fit(&ax, p->logx, xlo, xhi, p, 1);
    axis_fit(&ay, p->logy, ylo, yhi, p, 0);

    /* the legend: its width from the longest text, so that no label is clipped */
    char (*leg)[160] = calloc((size_t)(p->ns ? p->ns : 1), sizeof *leg);
    if (!leg) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    size_t longest = 0;
    for (int k = 0; k < p->ns; k++) {
        if (!p->s[k].name[0]) continue;
        legend_text(leg[k], sizeof leg[k], p, k);
        if (strlen(leg[k]) > longest) longest = strlen(leg[k]);
    }
    int w = PR + 46 + (int)ceil(CHAR_W * (double)longest) + 10;
    if (p->note && PL + (int)ceil(CHAR_W * (double)strlen(p->note)) + 10 > w)
        w = PL + (int)ceil(CHAR_W * (double)strlen(p->note)) + 10;
    if (w < W) w = W;

    rp_buf b = {0};
    rp_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    rp_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n", w, H, w, H);
    rp_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, H);
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
    int off[2] = {0, 0};
    for (int k = 0; k < p->ns; k++) series(&b, &p->s[k], &ax, &ay, off);
    rp_printf(&b, "</g>\n<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                  "</clipPath>\n", PL - 3, PT - 3, PR - PL + 6, PB - PT + 6);
    int row = 0;
    for (int k = 0; k < p->ns; k++) {   /* legend: the named series */
        if (!p->s[k].name[0]) continue;
        const int y = PT + 8 + 17 * row++;
        const char *col = palette[p->s[k].color % 10];
        rp_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"",
                  PR + 14, y, PR + 40, y, col);
        dash_attr(&b, p->s[k].dash);
        rp_printf(&b, "/>\n");
        if (p->s[k].marker) marker(&b, p->s[k].marker - 1, PR + 27, y, col);
        rp_printf(&b, "<text x=\"%d\" y=\"%d\">", PR + 46, y + 4);
        esc(&b, leg[k]);
        rp_printf(&b, "</text>\n");
    }
    for (int hi = 1; hi >= 0; hi--) {   /* the off-scale points, counted under the legend */
        if (!off[hi]) continue;
        char lim[32];
        tick_label(lim, sizeof lim, &ay, hi ? ay.hi : ay.lo);
        const int y = PT + 8 + 17 * row++ + 6;
        arrow(&b, PR + 27, hi ? y - 6 : y + 6, hi ? -1 : 1, "#333");
        rp_printf(&b, "<text x=\"%d\" y=\"%d\">%d point%s %s %s, off scale</text>\n", PR + 46, y + 4,
                  off[hi], off[hi] == 1 ? "" : "s", hi ? "above" : "below", lim);
    }
    free(leg);
    rp_printf(&b, "</svg>\n");
    lp_status s = b.oom ? lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path)
                        : lp_write_file_atomic(path, b.p, b.n, err);
    lp_text_free(&b);
    return s;
}
