/*
 * compare_write.c — rw-compare's outputs: the data tables (tsv, csv, json)
 * of the comparison and of its summary, and the tables for reading (md,
 * tex) with their presentation numbers (compare.h).
 */
#include "analyzers/tables/compare.h"

#include "io/outfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ data tables */

const char *const compare_cols[RW_CMP_NCOLS] = {"module", "metric", "step",    "run",
                                                "n",      "mean",   "sd",      "ci95_lo",
                                                "ci95_hi", "diff"};
const char *const compare_summary_cols[RW_CMP_SUM_NCOLS] = {
    "module",    "metric", "run",     "ref",      "steps", "first_step", "last_step",
    "final",     "ref_final", "gap",  "rel_gap",  "mean_gap", "area",    "diverge_step"};

rw_table *compare_table(const rw_comparison *c)
{
    rw_table *t = table_new(compare_cols, RW_CMP_NCOLS);
    if (!t)
        return NULL;
    for (long i = 2; i < RW_CMP_NCOLS; i++)
        if (i != 3)
            table_set_numeric(t, i, true);
    rw_err err = {{0}};
    for (size_t i = 0; i < c->nrows; i++) {
        const rw_cmp_row *r = &c->rows[i];
        char step[32], n[32], mean[32], sd[32], lo[32], hi[32], diff[32];
        snprintf(step, sizeof step, "%lld", (long long)r->step);
        snprintf(n, sizeof n, "%zu", r->s.n);
        const char *cells[] = {r->module, r->metric, step, r->run, n,
                               rw_fmt_double(mean, r->s.mean), rw_fmt_double(sd, r->s.sd),
                               rw_fmt_double(lo, r->s.lo), rw_fmt_double(hi, r->s.hi),
                               r->is_ref ? "" : rw_fmt_double(diff, r->diff)};
        if (table_add_row(t, cells, &err) != RW_OK) {
            table_free(t);
            return NULL;
        }
    }
    return t;
}

rw_table *compare_summary_table(const rw_cmp_summary *s, size_t n)
{
    rw_table *t = table_new(compare_summary_cols, RW_CMP_SUM_NCOLS);
    if (!t)
        return NULL;
    for (long i = 4; i < RW_CMP_SUM_NCOLS; i++)
        table_set_numeric(t, i, true);
    rw_err err = {{0}};
    for (size_t i = 0; i < n; i++) {
        const rw_cmp_summary *x = &s[i];
        char ns[32], f0[32], f1[32], v[7][32], dv[32];
        snprintf(ns, sizeof ns, "%zu", x->nsteps);
        snprintf(f0, sizeof f0, "%lld", (long long)x->first_step);
        snprintf(f1, sizeof f1, "%lld", (long long)x->last_step);
        snprintf(dv, sizeof dv, "%lld", (long long)x->diverge_step);
        const char *cells[] = {x->module, x->metric, x->run, x->ref, ns,
                               x->nsteps ? f0 : "", x->nsteps ? f1 : "",
                               rw_fmt_double(v[0], x->final), rw_fmt_double(v[1], x->ref_final),
                               rw_fmt_double(v[2], x->gap), rw_fmt_double(v[3], x->rel_gap),
                               rw_fmt_double(v[4], x->mean_gap), rw_fmt_double(v[5], x->area),
                               x->diverges ? dv : ""};
        if (table_add_row(t, cells, &err) != RW_OK) {
            table_free(t);
            return NULL;
        }
    }
    return t;
}

/* ------------------------------------------------------ presentation numbers */

/* Drops trailing zeros after a decimal point ("0.5000" -> "0.5", "2.0" -> "2"). */
static void strip_zeros(char *s)
{
    char *dot = strchr(s, '.');
    if (!dot)
        return;
    char *e = s + strlen(s);
    while (e > dot + 1 && e[-1] == '0')
        e--;
    if (e == dot + 1)
        e = dot;
    *e = '\0';
}

/* x (finite) to sig significant digits, without math-mode delimiters:
 * fixed in [1e-3, 1e5) (all integer digits kept), else m·10^e. */
static void fmt_sig(char *buf, size_t len, double x, int sig, bool tex)
{
    if (x == 0)
        x = 0; /* no "-0" */
    double ax = fabs(x);
    if (x == 0 || (ax >= 1e-3 && ax < 1e5)) {
        int e = x == 0 ? 0 : (int)floor(log10(ax));
        int d = sig - 1 - e;
        snprintf(buf, len, "%.*f", d < 0 ? 0 : d, x);
        strip_zeros(buf);
        return;
    }
    int e = (int)floor(log10(ax));
    char m[40];
    snprintf(m, sizeof m, "%.*f", sig - 1, x / pow(10, e));
    if (fabs(strtod(m, NULL)) >= 10) { /* 9.9996 rounded up to 10.000 */
        e++;
        snprintf(m, sizeof m, "%.*f", sig - 1, x / pow(10, e));
    }
    strip_zeros(m);
    if (tex)
        snprintf(buf, len, "%s\\times10^{%d}", m, e);
    else
        snprintf(buf, len, "%se%d", m, e);
}

char *compare_fmt_num(char *buf, double x, bool tex, bool sign)
{
    if (isnan(x))
        return strcpy(buf, tex ? "--" : "nan");
    if (isinf(x)) {
        if (tex)
            return strcpy(buf, x > 0 ? (sign ? "$+\\infty$" : "$\\infty$") : "$-\\infty$");
        return strcpy(buf, x > 0 ? (sign ? "+inf" : "inf") : "-inf");
    }
    char s[56];
    fmt_sig(s, sizeof s, x, 4, tex);
    const char *plus = sign && s[0] != '-' && x != 0 ? "+" : "";
    snprintf(buf, 64, tex ? "$%s%s$" : "%s%s", plus, s);
    return buf;
}

char *compare_fmt_pm(char *buf, double mean, double h, bool tex)
{
    if (!isfinite(mean) || !isfinite(h) || !(h > 0))
        return compare_fmt_num(buf, mean, tex, false);
    double am = fabs(mean), base = am > 0 ? am : h;
    int e = 0;
    if (base >= 1e5 || base < 1e-3)
        e = (int)floor(log10(base));
    double scale = pow(10, e), m = mean / scale, hh = h / scale;
    int d = 1 - (int)floor(log10(hh)); /* h to 2 significant digits */
    if (m != 0) {
        int dmax = 3 - (int)floor(log10(fabs(m))); /* the mean to at most 4 */
        if (d > dmax)
            d = dmax;
    }
    if (d < 0)
        d = 0;
    char ms[32], hs[32];
    snprintf(ms, sizeof ms, "%.*f", d, m);
    if (strtod(ms, NULL) == 0)
        snprintf(ms, sizeof ms, "%.*f", d, 0.0);
    snprintf(hs, sizeof hs, "%.*f", d, hh);
    if (strtod(hs, NULL) == 0) /* h far below the mean's last digit: show it alone */
        fmt_sig(hs, sizeof hs, hh, 1, tex);
    if (e == 0)
        snprintf(buf, 96, tex ? "$%s \\pm %s$" : "%s ± %s", ms, hs);
    else if (tex)
        snprintf(buf, 96, "$(%s \\pm %s)\\times10^{%d}$", ms, hs, e);
    else
        snprintf(buf, 96, "(%s ± %s)e%d", ms, hs, e);
    return buf;
}

/* --------------------------------------------------- presentation tables */


/* Percent of a ratio, signed: "+2.13%" (TeX: "$+2.13\%$"). */
static char *fmt_pct(char *buf, double ratio, bool tex)
{
    if (!isfinite(ratio))
        return compare_fmt_num(buf, ratio, tex, true);
    char s[56];
    fmt_sig(s, sizeof s, 100 * ratio, 3, tex);
    const char *plus = s[0] != '-' && ratio != 0 ? "+" : "";
    snprintf(buf, 64, tex ? "$%s%s\\%%$" : "%s%s%%", plus, s);
    return buf;
}

/* Cells of the reading tables (md and tex), row by row. `text` marks the
 * columns of names (escaped in TeX; left-aligned). */
typedef struct {
    size_t ncols;
    const char *const *head_md, *const *head_tex;
    const bool *text;
    size_t group;  /* leading columns that are blanked when they repeat */
} present_spec;

static rw_status write_md(const present_spec *ps, char *const *cells, size_t nrows, FILE *f)
{
    rw_table *t = table_new(ps->head_md, ps->ncols);
    if (!t)
        return RW_ENOMEM;
    for (size_t c = 0; c < ps->ncols; c++)
        table_set_numeric(t, (long)c, !ps->text[c]);
    rw_err err = {{0}};
    rw_status st = RW_OK;
    for (size_t r = 0; r < nrows && st == RW_OK; r++)
        st = table_add_row(t, (const char *const *)cells + r * ps->ncols, &err);
    if (st == RW_OK)
        st = table_write(t, f, RW_TF_MD);
    table_free(t);
    return st;
}

static rw_status write_tex(const present_spec *ps, char *const *cells, size_t nrows,
                           const char *comment, FILE *f)
{
    fprintf(f, "%% %s\n\\begin{tabular}{", comment);
    for (size_t c = 0; c < ps->ncols; c++)
        fputc(ps->text[c] ? 'l' : 'r', f);
    fputs("}\n\\toprule\n", f);
    for (size_t c = 0; c < ps->ncols; c++)
        fprintf(f, "%s%s", c ? " & " : "", ps->head_tex[c]);
    fputs(" \\\\\n\\midrule\n", f);
    for (size_t r = 0; r < nrows; r++) {
        char *const *row = cells + r * ps->ncols, *const *prev = row - ps->ncols;
        /* A new group of the leading columns: a little space, and the names
         * written once. */
        size_t same = 0;
        while (r > 0 && same < ps->group && strcmp(row[same], prev[same]) == 0)
            same++;
        if (r > 0 && ps->group && same < ps->group - 1)
            fputs("\\addlinespace\n", f);
        for (size_t c = 0; c < ps->ncols; c++) {
            if (c)
                fputs(" & ", f);
            if (c < same)
                continue;
            if (ps->text[c])
                table_put_text(f, row[c], RW_TF_TEX);
            else
                fputs(row[c], f);
        }
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
    return ferror(f) ? RW_EIO : RW_OK;
}

typedef struct {
    const present_spec *ps;
    char **cells;
    size_t nrows;
    const char *comment;
    rw_tformat fmt;
    const rw_comparison *c; /* for the note on rank-deficient modules */
    bool ci_note;           /* md: say how a bootstrap interval was made */
} present_out;

/* Under the table: which modules' cond is cond_rank (compare.h), names
 * escaped for the format (md: a paragraph; tex: comment lines). */
static void write_cond_note(const rw_comparison *c, rw_tformat fmt, FILE *f)
{
    if (!c || !c->ncond_ranked)
        return;
    bool tex = fmt == RW_TF_TEX;
    fputs(tex ? "% " : "\n", f);
    fputs(tex ? "cond_rank (sigma_1/sigma_r over the numerically non-zero singular values) "
              : "*cond_rank* (σ₁/σ_r over the numerically non-zero singular values) ", f);
    fputs("stands for cond where the matrices are rank-deficient (num_rank < k, so σ₁/σₖ "
          "is round-off): ", f);
    if (tex)
        fputs("\n% ", f);
    for (size_t i = 0; i < c->ncond_ranked; i++) {
        fputs(i ? ", " : "", f);
        if (tex) {
            /* a comment line: any newline in a name is escaped by the TSV rule */
            table_put_text(f, c->cond_ranked[i], RW_TF_TSV);
        } else {
            fputc('`', f);
            table_put_text(f, c->cond_ranked[i], RW_TF_MD);
            fputc('`', f);
        }
    }
    fputs(".\n", f);
}

static rw_status write_present_out(FILE *f, void *ctx)
{
    const present_out *w = ctx;
    rw_status st;
    if (w->fmt == RW_TF_TEX) {
        write_cond_note(w->c, w->fmt, f);
        st = write_tex(w->ps, w->cells, w->nrows, w->comment, f);
    } else {
        st = write_md(w->ps, w->cells, w->nrows, f);
        if (st == RW_OK && w->ci_note && w->c && w->c->ci.ci == RW_CI_BOOTSTRAP)
            fprintf(f, "\n95%% CI: the percentile bootstrap of the mean over layers (%d "
                    "resamples of the layers with replacement, seed %llu).\n", RW_BOOT_N,
                    (unsigned long long)w->c->ci.seed);
        if (st == RW_OK)
            write_cond_note(w->c, w->fmt, f);
    }
    return st == RW_OK && ferror(f) ? RW_EIO : st;
}

/* Writes through write_md/write_tex to path (atomically) or stdout. */
static rw_status write_present(const present_spec *ps, char **cells, size_t nrows,
                               const char *comment, const rw_comparison *c, bool ci_note,
                               const char *path, rw_tformat fmt, rw_err *err)
{
    present_out w = {ps, cells, nrows, comment, fmt, c, ci_note};
    return outfile_write(path, write_present_out, &w, err);
}

static void free_cells(char **cells, size_t n)
{
    for (size_t i = 0; cells && i < n; i++)
        free(cells[i]);
    free(cells);
}

/* Writes the plain table t (NULL: it could not be built) and frees it. */
static rw_status write_table(rw_table *t, const char *path, rw_tformat fmt, rw_err *err)
{
    if (!t)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    rw_status st = table_write_path(t, path, fmt, err);
    table_free(t);
    return st;
}

/* A bootstrap interval, asymmetric: "mean [lo, hi]" (4 significant digits). */
static void fmt_interval(char *buf, size_t n, const rw_summary *s, bool tex)
{
    char m[96], lo[96], hi[96];
    compare_fmt_num(m, s->mean, tex, false);
    if (isnan(s->lo) || isnan(s->hi) || s->lo == s->hi) {
        snprintf(buf, n, "%s", m);
        return;
    }
    snprintf(buf, n, "%s [%s, %s]", m, compare_fmt_num(lo, s->lo, tex, false),
             compare_fmt_num(hi, s->hi, tex, false));
}

rw_status compare_write_path(const rw_comparison *c, const char *path, rw_tformat fmt,
                             rw_err *err)
{
    if (fmt != RW_TF_MD && fmt != RW_TF_TEX)
        return write_table(compare_table(c), path, fmt, err);
    bool tex = fmt == RW_TF_TEX;
    enum { NC = 7 };
    bool boot = c->ci.ci == RW_CI_BOOTSTRAP;
    const char *const head_md[NC] = {"module", "metric", "step", "run",
                                     "n",      boot ? "mean [95% CI]" : "mean ± 95% CI", "diff"};
    static const bool text[NC] = {true, true, false, true, false, false, false};
    /* The reference run's name, escaped for the head ("$\Delta$ vs.\ <ref>")
     * and the comment line. */
    char *ref_tex = table_text_dup(c->ref ? c->ref : "", RW_TF_TEX), *dhead = NULL;
    if (!ref_tex || asprintf(&dhead, "$\\Delta$ vs.\\ %s", ref_tex) < 0) {
        free(ref_tex);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    const char *head_tex[NC] = {"Module", "Metric", "Step", "Run", "$n$",
                                boot ? "Mean [95\\% CI]" : "Mean $\\pm$ 95\\% CI", dhead};
    present_spec ps = {NC, head_md, head_tex, text, 3};
    size_t ncells;
    char **cells = NULL;
    if (!rw_mul_size(c->nrows ? c->nrows : 1, NC, &ncells) ||
        !(cells = rw_calloc(ncells, sizeof *cells, err))) {
        free(ref_tex);
        free(dhead);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    rw_status st = RW_OK;
    for (size_t i = 0; i < c->nrows && st == RW_OK; i++) {
        const rw_cmp_row *r = &c->rows[i];
        char step[32], n[32], pm[320], diff[96];
        snprintf(step, sizeof step, "%lld", (long long)r->step);
        snprintf(n, sizeof n, "%zu", r->s.n);
        if (boot) /* not symmetric: mean [lo, hi] */
            fmt_interval(pm, sizeof pm, &r->s, tex);
        else
            compare_fmt_pm(pm, r->s.mean, (r->s.hi - r->s.lo) / 2, tex);
        if (r->is_ref)
            diff[0] = '\0';
        else
            compare_fmt_num(diff, r->diff, tex, true);
        const char *v[NC] = {r->module, r->metric, step, r->run, n, pm, diff};
        for (size_t k = 0; k < NC; k++)
            if (!(cells[i * NC + k] = rw_strdup(v[k])))
                st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    char *comment = NULL;
    if (st == RW_OK &&
        (boot ? asprintf(&comment, "rw-compare: mean over layers%s, 95%% bootstrap "
                                   "percentile interval (%d resamples of the layers, seed "
                                   "%llu); diff to run %s",
                         c->groups ? " of each layer group" : "", RW_BOOT_N,
                         (unsigned long long)c->ci.seed, ref_tex)
              : asprintf(&comment, "rw-compare: mean over layers%s, 95%% t-interval "
                                   "half-width; diff to run %s",
                         c->groups ? " of each layer group" : "", ref_tex)) < 0) {
        comment = NULL;
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (st == RW_OK)
        st = write_present(&ps, cells, c->nrows, comment, c, true, path, fmt, err);
    free_cells(cells, ncells);
    free(comment);
    free(dhead);
    free(ref_tex);
    return st;
}

rw_status compare_summary_write_path(const rw_comparison *c, const rw_cmp_summary *s, size_t n,
                                     const char *path, rw_tformat fmt, rw_err *err)
{
    if (fmt != RW_TF_MD && fmt != RW_TF_TEX)
        return write_table(compare_summary_table(s, n), path, fmt, err);
    bool tex = fmt == RW_TF_TEX;
    enum { NC = 12 };
    static const char *const head_md[NC] = {"module", "metric", "run", "ref", "final step",
                                            "final", "ref final", "gap", "rel. gap",
                                            "mean gap", "area", "apart from"};
    static const char *const head_tex[NC] = {"Module", "Metric", "Run", "Ref.", "Final step",
                                             "Final", "Ref.\\ final", "Gap", "Rel.\\ gap",
                                             "Mean gap", "Area", "Apart from"};
    static const bool text[NC] = {true, true, true, true, false, false,
                                  false, false, false, false, false, false};
    present_spec ps = {NC, head_md, head_tex, text, 2};
    char **cells = rw_calloc((n ? n : 1) * NC, sizeof *cells, err);
    if (!cells)
        return RW_ENOMEM;
    rw_status st = RW_OK;
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        const rw_cmp_summary *x = &s[i];
        char last[32], v[6][96], dv[32];
        snprintf(last, sizeof last, "%lld", (long long)x->last_step);
        snprintf(dv, sizeof dv, "%lld", (long long)x->diverge_step);
        compare_fmt_num(v[0], x->final, tex, false);
        compare_fmt_num(v[1], x->ref_final, tex, false);
        compare_fmt_num(v[2], x->gap, tex, true);
        fmt_pct(v[3], x->rel_gap, tex);
        compare_fmt_num(v[4], x->mean_gap, tex, true);
        compare_fmt_num(v[5], x->area, tex, false);
        /* No shared step: every number is nan, and "never" apart would
         * read as "they stay together". */
        const char *apart = !x->nsteps  ? (tex ? "--" : "no shared step")
                            : x->diverges ? dv
                                          : (tex ? "--" : "never");
        const char *cv[NC] = {x->module, x->metric, x->run, x->ref,
                              x->nsteps ? last : (tex ? "--" : "none"),
                              v[0], v[1], v[2], v[3], v[4], v[5], apart};
        for (size_t k = 0; k < NC; k++)
            if (!(cells[i * NC + k] = rw_strdup(cv[k])))
                st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (st == RW_OK)
        st = write_present(&ps, cells, n,
                           "rw-compare --summary: final gap, mean gap and area between the "
                           "curves over the shared steps (divided by their span)",
                           c, false, path, fmt, err);
    free_cells(cells, (n ? n : 1) * NC);
    return st;
}
