build/analyzers/rw-spectra.o: analyzers/rw-spectra.c analyzers/cli.h \
 analyzers/pipeline.h io/ckpt.h io/rw.h analyzers/items.h io/run.h \
 analyzers/spectral.h io/rw.h io/table.h analyzers/spectra_file.h
analyzers/cli.h:
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
analyzers/items.h:
io/run.h:
analyzers/spectral.h:
io/rw.h:
io/table.h:
analyzers/spectra_file.h:
