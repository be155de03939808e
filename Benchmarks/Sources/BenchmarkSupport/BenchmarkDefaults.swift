import Benchmark

extension Benchmark.Configuration {
    /// The configuration every Rampart micro-benchmark starts from.
    ///
    /// - Metrics: wall clock, throughput and the number of `malloc` calls. `.instructions` is left out: it needs
    ///   hardware perf events, which the shared 2-core machines do not offer (`perf stat -e instructions true`
    ///   prints `<not supported>`).
    /// - Scaling: a measured iteration runs `scalingFactor` operations, so the figures read per operation.
    /// - Thresholds: allocation counts are deterministic, so they get a tight tolerance (see
    ///   `mallocThresholds`); time is left loose, as the machine is shared and noisy.
    ///
    /// Benchmark names have no spaces (nor `/`): package-benchmark 1.38.1 writes a thresholds file under the name
    /// with spaces and `/` replaced by `_`, but looks it up under the name as it is, so a name with a space never
    /// finds its thresholds.
    ///
    /// - Parameters:
    ///   - scalingFactor: operations per measured iteration.
    ///   - maxDuration: how long one benchmark samples for.
    package static func rampart(
        scalingFactor: BenchmarkScalingFactor = .kilo,
        maxDuration: Duration = .seconds(1)
    ) -> Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            warmupIterations: 3,
            scalingFactor: scalingFactor,
            maxDuration: maxDuration,
            maxIterations: 10_000,
            thresholds: [
                .mallocCountTotal: mallocThresholds(scalingFactor: scalingFactor),
                // Only used by `benchmark baseline compare|check` between two runs; the static thresholds under
                // Thresholds/ record allocation counts only, so time is never checked against them.
                .wallClock: BenchmarkThresholds(relative: [.p50: 25.0]),
                .throughput: BenchmarkThresholds(relative: [.p50: 25.0]),
            ]
        )
    }

    /// Tolerance on the 90th percentile of `mallocCountTotal`: 2 % of the recorded count, and at most 0.05
    /// allocations per operation more or fewer.
    ///
    /// Counts are recorded per measured iteration (`scalingFactor` operations), so one allocation more per
    /// operation moves the count by `scalingFactor`, far outside both bounds, even where the recorded count is 0
    /// (where the relative bound does not apply). The slack absorbs the histogram's rounding (3 significant
    /// digits) and the odd allocation of a lazily initialized runtime structure.
    package static func mallocThresholds(scalingFactor: BenchmarkScalingFactor) -> BenchmarkThresholds {
        BenchmarkThresholds(
            relative: [.p90: 2.0],
            absolute: [.p90: max(scalingFactor.rawValue / 20, 1)]
        )
    }
}
