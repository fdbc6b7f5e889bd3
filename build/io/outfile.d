build/io/outfile.o: io/outfile.c io/outfile.h io/rw.h
io/outfile.h:
io/rw.h:
