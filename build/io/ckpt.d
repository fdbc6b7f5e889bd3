build/io/ckpt.o: io/ckpt.c io/ckpt.h io/rw.h
io/ckpt.h:
io/rw.h:
