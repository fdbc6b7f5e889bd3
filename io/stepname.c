/*
 * stepname.c — steps from step-like names (stepname.h).
 */
#include "io/stepname.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#define MAX_STEP ((int64_t)1 << 53)

/* The decimal number at s (digits only, up to a non-digit): its value, or -1
 * when s does not start with a digit or the value exceeds 2^53. *end gets
 * the first byte after the digits. */
static int64_t number(const char *s, const char **end)
{
    int64_t v = 0;
    const char *p = s;
    bool ok = isdigit((unsigned char)*p);
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (MAX_STEP - (*p - '0')) / 10)
            ok = false;
        else
            v = v * 10 + (*p - '0');
    }
    *end = p;
    return ok ? v : -1;
}

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c);
}

/* The step of name, and in *keyword the keyword it follows (NULL: none). */
static int64_t step_of_name(const char *name, const char **keyword)
{
    *keyword = NULL;
    /* longer keywords first: "iteration" before "iter" */
    static const char *const keywords[] = {"global_step", "checkpoint", "iteration", "epoch",
                                           "step",        "ckpt",       "iter"};
    int64_t found = -1;
    for (const char *p = name; *p; p++) {
        if (p != name && is_alnum(p[-1]))
            continue;
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
            size_t kl = strlen(keywords[k]);
            if (strncasecmp(p, keywords[k], kl) != 0)
                continue;
            const char *q = p + kl, *end;
            if (*q && strchr("_-. ", *q) && isdigit((unsigned char)q[1]))
                q++;
            int64_t v = number(q, &end);
            if (v >= 0 && !is_alnum(*end)) {
                found = v;
                *keyword = keywords[k];
            }
            break;
        }
    }
    if (found >= 0)
        return found;
    const char *end;
    int64_t v = number(name, &end);
    if (v >= 0 && *end == '\0')
        return v;
    size_t n = strlen(name), i = n;
    while (i > 0 && isdigit((unsigned char)name[i - 1]))
        i--;
    if (i < n && i > 1 && strchr("._-", name[i - 1]))
        return number(name + i, &end);
    return -1;
}

int64_t rw_step_from_name(const char *name)
{
    const char *kw;
    return step_of_name(name, &kw);
}

const char *rw_step_name_keyword(const char *name)
{
    const char *kw;
    return step_of_name(name, &kw) >= 0 ? kw : NULL;
}

bool rw_step_name_is_epoch(const char *name)
{
    const char *kw = rw_step_name_keyword(name);
    return kw && !strcmp(kw, "epoch");
}
