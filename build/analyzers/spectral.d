build/analyzers/spectral.o: analyzers/spectral.c analyzers/spectral.h \
 io/rw.h
analyzers/spectral.h:
io/rw.h:
