build/io/run.o: io/run.c io/run.h io/rw.h io/ckpt.h
io/run.h:
io/rw.h:
io/ckpt.h:
