build/io/table.o: io/table.c io/table.h io/rw.h io/outfile.h
io/table.h:
io/rw.h:
io/outfile.h:
