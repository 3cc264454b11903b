/*
 * fuzz.h - the entry point every fuzz target defines.
 *
 * Built with --enable-fuzzing, libFuzzer calls it with generated inputs;
 * otherwise fuzz/replay.c calls it once per file of tests/data/fuzz/NAME/
 * (make check), so every case found stays a regression test.
 */
#ifndef PD_FUZZ_H
#define PD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
