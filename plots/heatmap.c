#include "plot.h"
rw_status plot_heatmap(const char *const *paths, size_t npaths, const rw_plot_opts *o, rw_err *err)
{ (void)paths; (void)npaths; (void)o; return rw_fail(err, RW_EUSAGE, "todo"); }
