build/analyzers/pipeline.o: analyzers/pipeline.c analyzers/pipeline.h \
 io/ckpt.h io/rw.h io/run.h io/table.h analyzers/spectral.h io/rw.h
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
io/run.h:
io/table.h:
analyzers/spectral.h:
io/rw.h:
