build/analyzers/rw-cond.o: analyzers/rw-cond.c analyzers/cli.h \
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
