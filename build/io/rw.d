build/io/rw.o: io/rw.c io/rw.h
io/rw.h:
