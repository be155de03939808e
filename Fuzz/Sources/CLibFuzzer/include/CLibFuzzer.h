// libFuzzer's driver entry point (compiler-rt FuzzerInterface.h), declared for Swift.
//
// SwiftPM links Linux executables with `--defsym main=<Module>_main`, so a fuzzer built with
// `-parse-as-library` (no Swift `main`) fails to link. Instead DecoderFuzzer keeps a Swift `main` and hands
// control to libFuzzer through this function; libFuzzer's own `main` is then never pulled from its archive.
#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

#endif
