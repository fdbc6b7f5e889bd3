/*
 * spectrum.c — kinds, components, the default-component rule and the
 * validity of a spectrum (spectrum.h).
 */
#include "io/spectrum.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {"weight", "update", "update_first"};

const char *rw_kind_name(rw_kind k)
{
    return (unsigned)k <= RW_KIND_UPDATE_FIRST ? kind_names[k] : "?";
}

int rw_kind_parse(const char *name)
{
    for (int i = 0; i <= RW_KIND_UPDATE_FIRST; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

static const char *const comp_names[RW_COMP_COUNT] = {
    "weight", "base", "lora", "full", "ov", "wo_wv", "ov_base", "ov_lora"};

bool rw_comp_is_circuit(rw_comp c)
{
    return (unsigned)c < RW_COMP_COUNT && (RW_COMP_OV_ANY & RW_COMP_BIT(c)) != 0;
}

const char *rw_comp_name(rw_comp c)
{
    return (unsigned)c < RW_COMP_COUNT ? comp_names[c] : "?";
}

int rw_comp_parse(const char *name)
{
    for (int i = 0; i < RW_COMP_COUNT; i++)
        if (strcmp(name, comp_names[i]) == 0)
            return i;
    return -1;
}

bool rw_comp_parse_mask(const char *list, unsigned *mask)
{
    *mask = 0;
    if (strcmp(list, "all") == 0) {
        *mask = ((1u << RW_COMP_COUNT) - 1) | RW_COMP_ALL;
        return true;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int c = rw_comp_parse(tok);
        if (c < 0)
            return false;
        *mask |= RW_COMP_BIT(c);
    }
    return *mask != 0;
}

bool rw_comp_default(rw_comp c, bool has_full, unsigned circuits)
{
    switch (c) {
    case RW_COMP_WEIGHT:
    case RW_COMP_FULL:
        return true;
    case RW_COMP_LORA:
        return !has_full;
    case RW_COMP_OV:
    case RW_COMP_WO_WV:
        return (circuits & RW_COMP_BIT(c)) != 0;
    case RW_COMP_BASE:
    case RW_COMP_OV_BASE:
    case RW_COMP_OV_LORA:
    case RW_COMP_COUNT:
        break;
    }
    return false;
}

bool spectrum_valid(const double *sigma, size_t k)
{
    if (k > 0 && isnan(sigma[0])) {
        for (size_t j = 1; j < k; j++)
            if (!isnan(sigma[j]))
                return false;
        return true;
    }
    for (size_t j = 0; j < k; j++)
        if (!isfinite(sigma[j]) || sigma[j] < 0 || (j > 0 && sigma[j] > sigma[j - 1]))
            return false;
    return true;
}
