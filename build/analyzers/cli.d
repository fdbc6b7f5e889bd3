build/analyzers/cli.o: analyzers/cli.c analyzers/cli.h \
 analyzers/pipeline.h io/ckpt.h io/rw.h io/run.h io/table.h \
 analyzers/spectral.h io/rw.h
analyzers/cli.h:
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
io/run.h:
io/table.h:
analyzers/spectral.h:
io/rw.h:
