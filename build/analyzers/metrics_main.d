build/analyzers/metrics_main.o: analyzers/metrics_main.c \
 analyzers/metrics_main.h analyzers/spectral.h io/rw.h analyzers/cli.h \
 analyzers/pipeline.h io/ckpt.h io/rw.h analyzers/items.h io/run.h \
 io/table.h analyzers/spectra_file.h
analyzers/metrics_main.h:
analyzers/spectral.h:
io/rw.h:
analyzers/cli.h:
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
analyzers/items.h:
io/run.h:
io/table.h:
analyzers/spectra_file.h:
