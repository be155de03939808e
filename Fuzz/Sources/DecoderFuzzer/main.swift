import CLibFuzzer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Hand the command line to libFuzzer, which runs `fuzzDecoder` on every input (see CLibFuzzer.h for why this is
// not a `-parse-as-library` build with libFuzzer's own `main`).
var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
var argumentCount = CommandLine.argc
let status = LLVMFuzzerRunDriver(&argumentCount, &arguments) { data, size in
    fuzzDecoder(data, size)
}
exit(status)
