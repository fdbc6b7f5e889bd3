build/analyzers/rw-metrics.o: analyzers/rw-metrics.c analyzers/cli.h \
 analyzers/pipeline.h io/ckpt.h io/rw.h io/run.h io/table.h \
 analyzers/spectral.h io/rw.h analyzers/metrics_main.h
analyzers/cli.h:
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
io/run.h:
io/table.h:
analyzers/spectral.h:
io/rw.h:
analyzers/metrics_main.h:
