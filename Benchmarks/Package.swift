// swift-tools-version: 6.1
// Micro-benchmarks of the codec, the subscription trie and the in-memory publish path, with ordo-one's
// package-benchmark. They live in their own package because the modules' API is `package` access:
// `Sources/MQTTCodec`, `Sources/RampartModel` and `Sources/BrokerCore` are symlinks to the main package's modules,
// compiled here as part of this package (as `Fuzz/` does for the codec).
//
// Run from the repository root with `scripts/bench-micro`, or `swift package --package-path Benchmarks benchmark`.
// The `MallocInterposer` trait gives the malloc counters without jemalloc; the default `RuntimeInterposer` trait
// is left off, so that the Swift 6.3 ARC interposer package is not needed (ARC counters are not used here).
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "RampartBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The main package's modules, through the symlinks in Sources/ (same dependencies as in ../Package.swift).
        .target(name: "RampartModel", swiftSettings: swiftSettings),
        .target(
            name: "MQTTCodec",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BrokerCore",
            dependencies: [
                "MQTTCodec", "RampartModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Configuration and packet fixtures shared by the suites.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                "MQTTCodec",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// One executable per suite, in package-benchmark's layout: `Benchmarks/<Target>/`, built by `BenchmarkPlugin`.
let suites: [(name: String, dependencies: [Target.Dependency])] = [
    ("CodecBenchmarks", ["MQTTCodec"]),
    ("TopicMatchingBenchmarks", ["BrokerCore", "MQTTCodec"]),
    ("PublishPathBenchmarks", ["BrokerCore", "MQTTCodec"]),
]

package.targets += suites.map { suite in
    .executableTarget(
        name: suite.name,
        dependencies: suite.dependencies + [
            "BenchmarkSupport",
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "NIOCore", package: "swift-nio"),
        ],
        path: "Benchmarks/\(suite.name)",
        swiftSettings: swiftSettings,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}
