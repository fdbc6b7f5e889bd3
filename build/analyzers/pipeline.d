build/analyzers/pipeline.o: analyzers/pipeline.c analyzers/pipeline.h \
 io/ckpt.h io/rw.h analyzers/items.h io/run.h analyzers/spectral.h \
 io/rw.h io/table.h
analyzers/pipeline.h:
io/ckpt.h:
io/rw.h:
analyzers/items.h:
io/run.h:
analyzers/spectral.h:
io/rw.h:
io/table.h:
