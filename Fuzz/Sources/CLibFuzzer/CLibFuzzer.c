// Intentionally empty: SwiftPM needs a source file for the module that exports CLibFuzzer.h.
#include "CLibFuzzer.h"
