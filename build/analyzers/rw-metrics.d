build/analyzers/rw-metrics.o: analyzers/rw-metrics.c analyzers/cli.h \
 analyzers/pipeline.h io/ckpt.h io/rw.h analyzers/items.h io/run.h \
 analyzers/spectral.h io/rw.h io/table.h analyzers/metrics_main.h
analyzers/cli.h:
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
analyzers/items.h:
io/run.h:
analyzers/spectral.h:
io/rw.h:
io/table.h:
analyzers/metrics_main.h:
