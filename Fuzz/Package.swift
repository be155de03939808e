// swift-tools-version: 6.1
// The libFuzzer target for the MQTT decoder. It lives in its own package because the codec's API is `package`
// access: `Sources/MQTTCodec` is a symlink to the main package's codec, compiled here as part of this package.
// Build and run with `scripts/fuzz [SECONDS]` from the repository root, which builds with
// `swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address`.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "RampartFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")
    ],
    targets: [
        .target(
            name: "MQTTCodec",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "DecoderFuzzer",
            dependencies: ["MQTTCodec", "CLibFuzzer", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
    ]
)
