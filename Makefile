# rankwatch — plain GNU make.
#   make            build the library and every program into bin/
#   make check      unit tests (cmocka) and end-to-end tests; installs missing
#                   Debian packages first (scripts/deps.sh)
#   make check SAN=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check E2E_JOBS=1   the end-to-end files one at a time (default: as
#                   many at once as there are cores, nproc)
#   make e2e T=plot    only tests/e2e_plot.sh (T="plot core": several); also
#                   `bash tests/e2e_plot.sh` once the programs are built
#   make MPI=1      also rw-spectra-mpi (Open MPI's mpicc; scripts/deps.sh --mpi
#                   installs it): rw-spectra across the ranks of an MPI job,
#                   docs/mpi.md. `make check` builds and tests it whenever
#                   mpicc is there (tests/e2e_mpi.sh), and says so when not.
#   make bench      the spectra benchmark
#   make fuzz       the libFuzzer harnesses of the readers into build-fuzz/fuzz/
#                   (clang; installs it first: scripts/deps.sh --fuzz)
#   make fuzz-run FUZZ_SECONDS=600 TARGET=hdf5   fuzz (all targets by default)
#   make fuzz-seeds regenerate the seed corpus tests/fuzz/corpus/
#   make install    the rw- programs and analyze.sh (as rankwatch-analyze)
#                   into $(DESTDIR)$(PREFIX)/bin: PREFIX=/usr/local DESTDIR=
#                   (with MPI=1 rw-spectra-mpi too)
#   make clean

CC ?= cc
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
PKGS := hdf5 lapacke openblas libpng libcjson libzip zlib

# FUZZ=1 (set by `make fuzz`): the library and the harnesses built with
# clang, instrumented for libFuzzer, into build-fuzz/.
ifeq ($(FUZZ),1)
  B := build-fuzz
  CC := clang
  SANFLAGS := -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
  OPT := -O1
  DEPS_ARGS := --fuzz
else ifeq ($(SAN),1)
  B := build-san
  SANFLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined,float-cast-overflow
  OPT := -O1
else
  B := build
  SANFLAGS :=
  OPT := -O2
  DEPS_ARGS := $(if $(filter 1,$(MPI)),--mpi)
endif

# Recursive (=) on purpose: pkg-config runs when a recipe needs the flags,
# after the deps stamp below has installed what was missing.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) -pthread \
             -I. $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS) -pthread
LIBS = $(PKG_LIBS) -lm

PROG_SRC := $(wildcard analyzers/rw-*.c)
# What only the programs use (option parsing and usage, the signal thread,
# the shared main of the metric programs): linked into the programs, not
# into the library.
PROGLIB_SRC := analyzers/cli.c analyzers/metrics_main.c analyzers/spectra_main.c
# The library, bottom up: io/ (formats, runs, tables, output files, the
# spectra file), analyzers/core/ (the spectral engine), analyzers/tables/
# (statistics, comparison, diff), plots/ (figures).
LIB_SRC := $(wildcard io/*.c analyzers/core/*.c analyzers/tables/*.c plots/*.c)
# Test-only code (synthetic runs, the HDF5 and safetensors writers, the
# malformed-input generator): a library of its own, linked by rw-fixture,
# the tests and the fuzz seed generator, never by the other programs.
FIX_SRC := $(wildcard fixtures/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
TESTUTIL_SRC := $(filter-out $(TEST_SRC) tests/bench_%.c,$(wildcard tests/*.c))

PROGS := $(patsubst analyzers/%.c,$(B)/bin/%,$(PROG_SRC))
# The MPI program (analyzers/mpi/): compiled and linked with mpicc, only
# with MPI=1 or for `make check` where mpicc is found; nothing else links it.
MPICC ?= mpicc
MPI_SRC := $(wildcard analyzers/mpi/*.c)
MPI_PROG := $(B)/bin/rw-spectra-mpi
HAVE_MPICC = $(shell command -v $(MPICC) >/dev/null 2>&1 && echo 1)
ifeq ($(MPI),1)
  BIN_PROGS = $(PROGS) $(MPI_PROG)
else
  BIN_PROGS = $(PROGS)
endif
LIB := $(B)/librankwatch.a
FIXLIB := $(B)/librwfixtures.a
PROGLIB := $(B)/librwprograms.a
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
DEPS_STAMP := $(B)/.deps-ok

# Object files are intermediates of the programs and tests: kept between
# builds (and no `rm` of them after a build).
.SECONDARY:

.PHONY: all check unit e2e bench install clean deps fuzz fuzz-replay fuzz-run fuzz-seeds mpi
all: $(BIN_PROGS) bin

# bin/ is where users and scripts find the programs of the normal build.
bin: $(BIN_PROGS)
ifneq ($(SAN),1)
	@mkdir -p bin && cp -f $(BIN_PROGS) bin/ && touch bin
else
	@true
endif

$(DEPS_STAMP):
	@mkdir -p $(B)
	@bash scripts/deps.sh $(DEPS_ARGS)
	@touch $@

deps: $(DEPS_STAMP)

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(FIXLIB): $(patsubst %.c,$(B)/%.o,$(FIX_SRC))
	@rm -f $@
	ar rcs $@ $^

$(PROGLIB): $(patsubst %.c,$(B)/%.o,$(PROGLIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(B)/bin/%: $(B)/analyzers/%.o $(PROGLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

$(B)/analyzers/mpi/%.o: analyzers/mpi/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_CFLAGS) -c $< -o $@

$(MPI_PROG): $(patsubst %.c,$(B)/%.o,$(MPI_SRC)) $(PROGLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

mpi: $(MPI_PROG)

$(B)/bin/rw-fixture: $(B)/analyzers/rw-fixture.o $(PROGLIB) $(FIXLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

$(B)/tests/%: $(B)/tests/%.o $(patsubst %.c,$(B)/%.o,$(TESTUTIL_SRC)) $(FIXLIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -lcmocka -o $@

# The end-to-end summary ("e2e: N passed, N failed, N skipped") comes last.
check: unit fuzz-replay e2e
ifneq ($(filter check,$(MAKECMDGOALS)),)
e2e: | unit fuzz-replay
endif

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

# tests/e2e_*.sh, E2E_JOBS files at a time (the number of cores by default),
# or only those named by T (plot, or e2e_plot).
E2E_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
T ?=
# With mpicc (the normal build only), rw-spectra-mpi is built and tested too.
E2E_MPI = $(if $(and $(filter build,$(B)),$(HAVE_MPICC)),$(MPI_PROG))
e2e: $(PROGS)
	@$(if $(E2E_MPI),$(MAKE) --no-print-directory $(E2E_MPI),true)
	@RW_BIN=$(B)/bin bash tests/e2e.sh -j $(E2E_JOBS) $(T)

# The benchmark programs (tests/bench_svd.c, tests/bench_large.c, and
# tests/bench_wide.c, the 4096-wide checkpoints of tests/bench_mpi.sh): not
# tests, not in `make check`.
$(B)/tests/bench_%: $(B)/tests/bench_%.o $(FIXLIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

# tests/bench.sh (the spectra benchmark), then every tests/bench_*.sh.
bench: $(PROGS) $(B)/tests/bench_svd $(B)/tests/bench_large $(B)/tests/bench_wide
	@$(if $(and $(filter build,$(B)),$(HAVE_MPICC)),$(MAKE) --no-print-directory $(MPI_PROG),true)
	@set -e; for b in tests/bench.sh tests/bench_*.sh; do \
	    [ -f "$$b" ] || continue; echo "== $$b"; \
	    RW_BIN=$(B)/bin RW_BENCH=$(B)/tests/bench_svd RW_BENCH_WIDE=$(B)/tests/bench_wide \
	    RW_BENCH_LARGE=$(B)/tests/bench_large bash "$$b"; done

# ---------------------------------------------------------------- fuzzing
# One harness per reader, tests/fuzz/fuzz_<target>.c (tests/fuzz/fuzz.h).
FUZZ_TARGETS := safetensors hdf5 table spectra pickle pytorch
FUZZ_UTIL := $(B)/tests/fuzz/fuzz_util.o
FUZZ_SECONDS ?= 180
TARGET ?= $(FUZZ_TARGETS)

ifeq ($(FUZZ),1)
fuzz: $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_TARGETS))
else
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz
endif

$(B)/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(FUZZ_UTIL) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer $^ $(LIBS) -o $@

# The same harnesses with a plain main (tests/fuzz/replay.c), any compiler:
# `make check` replays the committed corpus and crash reproducers.
$(B)/fuzz/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(FUZZ_UTIL) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

fuzz-replay: $(patsubst %,$(B)/fuzz/replay_%,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	    echo "== fuzz replay $$t"; \
	    $(B)/fuzz/replay_$$t $$(ls -d tests/fuzz/corpus/$$t tests/fuzz/crashes/$$t 2>/dev/null); \
	done

fuzz-run: fuzz
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(TARGET)

$(B)/fuzz/seedgen: $(B)/tests/fuzz/seedgen.o $(FIXLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

fuzz-seeds: $(PROGS) $(B)/fuzz/seedgen
	@bash tests/fuzz/seeds.sh $(B)

# analyze.sh finds the programs beside itself once installed (no sources,
# no make); rw-fixture, installed with them, makes its fixture runs.
install: $(BIN_PROGS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BIN_PROGS) $(DESTDIR)$(BINDIR)
	install -m 755 analyze.sh $(DESTDIR)$(BINDIR)/rankwatch-analyze

clean:
	rm -rf build build-san build-fuzz bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)
