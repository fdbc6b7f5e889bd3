build/io/ckpt_st.o: io/ckpt_st.c io/ckpt.h io/rw.h
io/ckpt.h:
io/rw.h:
