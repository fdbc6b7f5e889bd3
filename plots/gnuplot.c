/*
 * gnuplot.c — running gnuplot, staging figure files, shared syntax
 * (gnuplot.h).
 */
#include "plots/gnuplot.h"

#include "io/tmpfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- running */

static bool is_executable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

rw_status gp_find(const char *prog, char **path, rw_err *err)
{
    *path = NULL;
    const char *name = prog && *prog ? prog : getenv("RW_GNUPLOT");
    if (!name || !*name)
        name = "gnuplot";
    if (strchr(name, '/')) {
        if (!is_executable(name))
            return rw_fail(err, RW_ENOTFOUND, "gnuplot '%s' is not an executable file", name);
        if (!(*path = rw_strdup(name)))
            return rw_fail(err, RW_ENOMEM, "out of memory");
        return RW_OK;
    }
    const char *env = getenv("PATH");
    char *dirs = rw_strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
    if (!dirs)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *p = rw_path_join(*d ? d : ".", name);
        if (p && is_executable(p)) {
            *path = p;
            break;
        }
        free(p);
    }
    free(dirs);
    if (!*path)
        return rw_fail(err, RW_ENOTFOUND,
                       "%s not found in PATH (install gnuplot-nox, set RW_GNUPLOT, or use "
                       "--script-only)", name);
    return RW_OK;
}

/* Child side of gp_run: never returns. */
static void gp_child(const char *gnuplot, const char *dir, const char *script, int errfd)
{
    /* gnuplot gets the termination signals as usual, whatever mask the
     * forking thread had. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(errfd, 2) < 0 ||
        chdir(dir) != 0)
        _exit(126);
    char *argv[] = {(char *)"gnuplot", (char *)"-d", (char *)script, NULL};
    execv(gnuplot, argv);
    _exit(127);
}

rw_status gp_run(const char *gnuplot, const char *dir, const char *script, char **diag,
                 rw_err *err)
{
    *diag = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return rw_fail(err, RW_EIO, "cannot start gnuplot: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return rw_fail(err, RW_EIO, "cannot start gnuplot: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        gp_child(gnuplot, dir, script, fds[1]);
    }
    close(fds[1]);
    tmp_set_child(pid);
    /* Keep the first 64 KiB of diagnostics; read the rest to let gnuplot finish. */
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    char sink[4096];
    for (;;) {
        ssize_t r = buf && n < cap ? read(fds[0], buf + n, cap - n)
                                   : read(fds[0], sink, sizeof sink);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf && n < cap)
            n += (size_t)r;
    }
    close(fds[0]);
    int wst = 0;
    /* Forget the child while it is still a zombie (WNOWAIT): once reaped,
     * its pid could be another process's by the time a signal's clean-up
     * kills "the child". */
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    tmp_set_child(0);
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    if (!buf)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    buf[n] = '\0';
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == 127 && n == 0) {
        free(buf);
        return rw_fail(err, RW_EIO, "cannot run %s", gnuplot);
    }
    if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
        /* gnuplot echoes the offending line and a caret line before its
         * message ("fig.gp" line 12: ...): report the last line that says
         * something. */
        const char *msg = NULL;
        for (const char *l = buf; *l;) {
            size_t len = strcspn(l, "\n");
            if (strspn(l, " \t^") < len)
                msg = l;
            l += len + (l[len] ? 1 : 0);
        }
        char line[300] = "";
        if (msg)
            snprintf(line, sizeof line, "%.*s", (int)strcspn(msg, "\n"), msg);
        rw_status st;
        if (WIFSIGNALED(wst))
            st = rw_fail(err, RW_EDATA, "gnuplot killed by signal %d", WTERMSIG(wst));
        else
            st = rw_fail(err, RW_EDATA, "gnuplot failed (exit %d): %s", WEXITSTATUS(wst),
                         *line ? line : "no message");
        free(buf);
        return st;
    }
    *diag = buf;
    return RW_OK;
}

/* ---------------------------------------------------------------- staging */

static void stage_free(gp_stage *s)
{
    tmp_forget(s->reg);
    free(s->dir);
    free(s->outdir);
    free(s->figure);
    free(s->stem);
    memset(s, 0, sizeof *s);
}

rw_status gp_stage_open(gp_stage *s, const char *figure_path, rw_err *err)
{
    memset(s, 0, sizeof *s);
    s->outdir = rw_dirname(figure_path);
    s->figure = rw_basename(figure_path, false);
    s->stem = rw_basename(figure_path, true);
    s->dir = tmp_template(figure_path);
    if (!s->outdir || !s->figure || !s->stem || !s->dir) {
        stage_free(s);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (!*s->figure || !*s->stem) {
        stage_free(s);
        return rw_fail(err, RW_EUSAGE, "%s: not a file name", figure_path);
    }
    /* The script names its figure and data files in quoted strings, where a
     * control character would be shown escaped, naming another file. */
    for (const char *c = figure_path; *c; c++)
        if (rw_is_control((unsigned char)*c)) {
            stage_free(s);
            return rw_fail(err, RW_EUSAGE, "figure name holds a control character (byte 0x%02x)",
                           (unsigned char)*c);
        }
    tmp_sweep_stale(figure_path);
    if (!mkdtemp(s->dir)) {
        rw_status st = rw_fail(err, RW_EIO, "%s: cannot create files in %s: %s", figure_path,
                               s->outdir, strerror(errno));
        stage_free(s);
        return st;
    }
    s->reg = tmp_register(s->dir, true);
    return RW_OK;
}

char *gp_stage_path(const gp_stage *s, const char *name)
{
    return rw_path_join(s->dir, name);
}

FILE *gp_stage_fopen(const gp_stage *s, const char *name, char **path, rw_err *err)
{
    *path = gp_stage_path(s, name);
    FILE *f = *path ? fopen(*path, "w") : NULL;
    if (!f) {
        rw_fail(err, RW_EIO, "cannot write %s", *path ? *path : name);
        free(*path);
        *path = NULL;
    }
    return f;
}

static rw_status stage_move(gp_stage *s, const char *name, rw_err *err)
{
    char *from = rw_path_join(s->dir, name), *to = rw_path_join(s->outdir, name);
    rw_status st = RW_OK;
    if (!from || !to)
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    else if (rename(from, to) != 0)
        st = rw_fail(err, RW_EIO, "%s: cannot rename into place: %s", to, strerror(errno));
    free(from);
    free(to);
    return st;
}

rw_status gp_stage_commit(gp_stage *s, bool require_figure, rw_err *err)
{
    char *fig = rw_path_join(s->dir, s->figure);
    struct stat st_fig;
    bool have_fig = fig && stat(fig, &st_fig) == 0 && st_fig.st_size > 0;
    free(fig);
    if (require_figure && !have_fig) {
        gp_stage_abort(s);
        return rw_fail(err, RW_EDATA, "gnuplot did not write the figure");
    }
    rw_status st = RW_OK;
    DIR *d = opendir(s->dir);
    if (!d) {
        st = rw_fail(err, RW_EIO, "%s: %s", s->dir, strerror(errno));
    } else {
        struct dirent *e;
        while (st == RW_OK && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                strcmp(e->d_name, s->figure))
                st = stage_move(s, e->d_name, err);
        closedir(d);
    }
    if (st == RW_OK && have_fig)
        st = stage_move(s, s->figure, err);
    gp_stage_abort(s);
    return st;
}

rw_status gp_check_figure(const char *path, rw_figfmt fmt, rw_err *err)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char png_iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D',
                                               0xae, 0x42, 0x60, 0x82};
    unsigned char head[8] = {0}, tail[64] = {0};
    size_t nt = 0;
    bool ok = false;
    struct stat sb;
    if (stat(path, &sb) != 0 || sb.st_size == 0)
        return rw_fail(err, RW_EDATA, "gnuplot did not write the figure");
    FILE *f = fopen(path, "rb");
    if (f && fread(head, 1, sizeof head, f) == sizeof head && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        long from = size > (long)sizeof tail ? size - (long)sizeof tail : 0;
        if (size > 0 && fseek(f, from, SEEK_SET) == 0)
            nt = fread(tail, 1, (size_t)(size - from), f);
    }
    if (f)
        fclose(f);
    /* Text formats may end with white space after their last mark. */
    size_t end = nt;
    if (fmt != RW_FIG_PNG)
        while (end > 0 && (tail[end - 1] == '\n' || tail[end - 1] == '\r' ||
                           tail[end - 1] == ' ' || tail[end - 1] == '\t'))
            end--;
    switch (fmt) {
    case RW_FIG_PNG:
        ok = memcmp(head, png_sig, 8) == 0 && nt >= 12 &&
             memcmp(tail + nt - 12, png_iend, 12) == 0;
        break;
    case RW_FIG_PDF:
        ok = memcmp(head, "%PDF-", 5) == 0 && end >= 5 && memcmp(tail + end - 5, "%%EOF", 5) == 0;
        break;
    case RW_FIG_SVG:
        ok = end >= 6 && memcmp(tail + end - 6, "</svg>", 6) == 0;
        break;
    }
    if (!ok)
        return rw_fail(err, RW_EIO, "gnuplot wrote an incomplete %s (disk full?)",
                       fmt == RW_FIG_PNG ? "PNG" : fmt == RW_FIG_PDF ? "PDF" : "SVG");
    return RW_OK;
}

void gp_stage_abort(gp_stage *s)
{
    if (s->dir) {
        DIR *d = opendir(s->dir);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                    char *p = rw_path_join(s->dir, e->d_name);
                    if (p)
                        unlink(p);
                    free(p);
                }
            closedir(d);
        }
        rmdir(s->dir);
    }
    stage_free(s);
}

/* ---------------------------------------------------------------- syntax */

/* In a single-quoted gnuplot string nothing is special but the quote itself
 * (no backslash escapes, no backquote or macro substitution): quotes are
 * doubled and control characters escaped (rw_escape_byte: a newline
 * would end the command and start another), so that whatever a name holds,
 * gnuplot reads it as one string, on one line, and never as code. Bytes
 * that are not UTF-8, which the cairo terminals refuse to draw, are
 * written \xNN too. */
char *gp_quoted(const char *s)
{
    size_t n = 3;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        n += *c == '\'' ? 2 : 4;
    char *q = malloc(n), *w = q;
    if (!q)
        return NULL;
    *w++ = '\'';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        size_t len = rw_utf8_len(c);
        if (*c == '\'')
            *w++ = '\'';
        if (rw_is_control(*c) || len == 0) {
            w += strlen(rw_escape_byte(*c, w));
        } else {
            memcpy(w, c, len);
            w += len;
            c += len - 1;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

void gp_quote(FILE *f, const char *s)
{
    char *q = gp_quoted(s);
    fputs(q ? q : "''", f);
    free(q);
}

void gp_terminal(FILE *f, rw_figfmt fmt, int w, int h, const char *output)
{
    switch (fmt) {
    case RW_FIG_PNG:
        fprintf(f, "set terminal pngcairo size %d,%d font 'sans,12' noenhanced "
                   "background rgb 'white'\n", w, h);
        break;
    case RW_FIG_PDF:
        /* Sizes in points and fontscale 1: the PDF looks like the PNG. */
        fprintf(f, "set terminal pdfcairo size %.4gin,%.4gin font 'sans,12' fontscale 1 "
                   "noenhanced background rgb 'white'\n", w / 72.0, h / 72.0);
        break;
    case RW_FIG_SVG:
        fprintf(f, "set terminal svg size %d,%d fixed font 'sans,12' noenhanced "
                   "background rgb 'white'\n", w, h);
        break;
    }
    fputs("set output ", f);
    gp_quote(f, output);
    fputc('\n', f);
}

const char *gp_rgb(char *buf, uint32_t rgb)
{
    snprintf(buf, 8, "#%06x", (unsigned)(rgb & 0xffffff));
    return buf;
}

double gp_nice_step(double lo, double hi, int maxticks)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span) || maxticks < 1)
        return 1;
    double raw = span / maxticks, p = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if (mult[i] * p >= raw)
            return mult[i] * p;
    return 10 * p;
}

/* Writes the digits of e (with its sign) as Unicode superscripts. */
static void write_sup(FILE *f, int e)
{
    static const char *const sup[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
    char digits[16];
    snprintf(digits, sizeof digits, "%d", e < 0 ? -e : e);
    if (e < 0)
        fputs("⁻", f);
    for (char *d = digits; *d; d++)
        fputs(sup[*d - '0'], f);
}

/* A log-axis tic label for m·10^e (m in 1..9) as a gnuplot string:
 * 10³ for m = 1, plain digits for moderate values, 2×10⁶ beyond. */
static void write_tic_label(FILE *f, int m, int e, bool plain_ok)
{
    fputc('\'', f);
    if (plain_ok && e >= -3 && e <= 4) {
        fprintf(f, "%g", m * pow(10, e));
    } else {
        if (m != 1)
            fprintf(f, "%d×", m);
        fputs("10", f);
        write_sup(f, e);
    }
    fputc('\'', f);
}

/* Tics at m·10^e for the mantissas in labelled[] (labelled) and the rest of
 * 1..9 (minor), over [lo, hi]; returns how many labels fall inside. */
static int count_tics(double lo, double hi, const int *mant, int nmant)
{
    int n = 0;
    for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)); e++)
        for (int i = 0; i < nmant; i++) {
            double v = mant[i] * pow(10, e);
            n += v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
        }
    return n;
}

void gp_log_tics(FILE *f, const char *axis, double lo, double hi)
{
    fprintf(f, "set logscale %s 10\n", axis);
    bool minor = strcmp(axis, "cb") != 0;
    int e0 = (int)ceil(log10(lo) - 1e-9), e1 = (int)floor(log10(hi) + 1e-9);
    fprintf(f, "set %stics (", axis);
    bool first = true;
    static const int m125[] = {1, 2, 5};
    if (e1 - e0 + 1 >= 3 || (e1 - e0 + 1 == 2 && count_tics(lo, hi, m125, 3) < 4)) {
        /* Decades: every one, or every other (...) to keep about 7 labels. */
        int every = (e1 - e0) / 6 + 1;
        for (int e = e0; e <= e1; e += every) {
            fputs(first ? "" : ", ", f);
            first = false;
            write_tic_label(f, 1, e, false);
            fprintf(f, " 1e%d", e);
        }
        fputs(")\n", f);
        if (!minor)
            return;
        /* Unlabelled: the decades skipped; 2..9 within each when few. */
        first = true;
        fprintf(f, "set %stics add (", axis);
        for (int e = e0 - 1; e <= e1; e++)
            for (int m = 1; m <= (e1 - e0 <= 4 ? 9 : 1); m++) {
                double v = m * pow(10, e);
                if (v < lo || v > hi || (m == 1 && (e - e0) % every == 0))
                    continue;
                fprintf(f, "%s'' %.3g %d", first ? "" : ", ", v, m == 1 ? 0 : 1);
                first = false;
            }
        fputs(first ? "'' 1 1)\n" : ")\n", f);
        return;
    }
    /* Less than three decades: label 1-2-5 (or every mantissa) so that the
     * axis shows at least three numbers. */
    bool all = count_tics(lo, hi, m125, 3) < 3;
    for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)); e++)
        for (int m = 1; m <= 9; m++) {
            double v = m * pow(10, e);
            if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9))
                continue;
            bool label = all || m == 1 || m == 2 || m == 5;
            if (!label && !minor)
                continue;
            fputs(first ? "" : ", ", f);
            first = false;
            if (label)
                write_tic_label(f, m, e, true);
            else
                fputs("''", f);
            fprintf(f, " %.3g %d", v, label ? 0 : 1);
        }
    fputs(first ? "'' 1 1)\n" : ")\n", f);
}

void gp_num(FILE *f, double x)
{
    if (!isfinite(x))
        fputs("1/0", f);
    else
        fprintf(f, "%.10g", x);
}
