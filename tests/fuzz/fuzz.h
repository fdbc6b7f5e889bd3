/*
 * fuzz.h — what the fuzz harnesses (tests/fuzz/fuzz_<target>.c) share.
 *
 * Each harness defines LLVMFuzzerTestOneInput, the libFuzzer entry point:
 * one input, given as bytes, through one reader of rankwatch. The same
 * object file links either with libFuzzer (`make fuzz`, clang) or with
 * replay.c, a plain main that feeds it the files named on its command line
 * (`make check`, any C compiler), so the committed corpus and every crash
 * reproducer run through exactly the code that was fuzzed.
 *
 * The readers take paths (HDF5 opens files by name; the safetensors and
 * table readers pick the format from the extension), so an input is written
 * to a file first: fuzz_file puts it in a scratch directory of this process
 * in /dev/shm (memory, no disk traffic), removed at exit.
 */
#ifndef RW_FUZZ_H
#define RW_FUZZ_H

#include "io/ckpt.h"

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data (size bytes) to the file `name` (a plain file name, no '/')
 * in this process's scratch directory, replacing what was there, and returns
 * its path (static storage, valid until exit).
 * Aborts when the file cannot be written: a harness that cannot present
 * its input has nothing to test. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);

/* Largest tensor, in elements, that the checkpoint harnesses read: the
 * cap is the harness's, so that a fuzzed dataset declaring 10^9 elements
 * does not measure the machine's memory instead of the reader. */
#define FUZZ_MAX_NUMEL ((size_t)1 << 20)

/* Exercises an open checkpoint the way the analyzers do: attributes and
 * step, each tensor's name, shape and matrix view, and the values of every
 * float tensor of at most FUZZ_MAX_NUMEL elements. Aborts when a documented
 * invariant of ckpt.h does not hold (tensors sorted by name, numel the
 * product of the shape). */
void fuzz_walk_ckpt(rw_ckpt *c);

#endif
