// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Rampart",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rampart", targets: ["rampart"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"6.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // swift-configuration support is not used; leaving its trait off saves building it.
        .package(
            url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]
        ),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .target(name: "RampartModel", swiftSettings: swiftSettings),
        .target(
            name: "Events",
            dependencies: ["RampartModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // malloc_trim(3), which Glibc's Swift module does not export.
        .target(name: "CMallocTrim"),
        .target(
            name: "MQTTCodec",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(name: "FirewallPolicy", dependencies: ["RampartModel"], swiftSettings: swiftSettings),
        .target(name: "NFTables", dependencies: ["FirewallPolicy"], swiftSettings: swiftSettings),
        .target(name: "BrokerConfig", dependencies: ["MQTTCodec", "RampartModel"], swiftSettings: swiftSettings),
        .target(
            name: "BrokerSecurity",
            dependencies: [
                "MQTTCodec",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
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
        .target(
            name: "Store",
            dependencies: [
                "Events",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Accounts",
            dependencies: [
                "RampartModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PKI",
            dependencies: [
                "RampartModel",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "NetConfig",
            dependencies: ["RampartModel"],
            swiftSettings: swiftSettings
        ),
        .target(name: "FirewallDriver", dependencies: ["NetConfig", "RampartModel"], swiftSettings: swiftSettings),
        .target(
            name: "WebAPI",
            dependencies: [
                "Accounts", "PKI", "RampartModel", "Store", "Events", "FirewallPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MQTTClient",
            dependencies: [
                "MQTTCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BrokerServer",
            dependencies: [
                "BrokerCore", "MQTTCodec", "MQTTClient", "CMallocTrim",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Forwarders",
            dependencies: [
                "Events",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RampartApp",
            dependencies: [
                "BrokerServer", "BrokerCore", "BrokerConfig", "BrokerSecurity", "MQTTClient", "WebAPI", "NetConfig",
                "Store", "Accounts", "RampartModel", "Events", "Forwarders", "FirewallPolicy", "NFTables",
                "FirewallDriver",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings,
            // `thirdPartyComponents` (the About page's notices) and `buildCommit`, generated at build time.
            plugins: ["ThirdPartyNotices"]
        ),
        .executableTarget(name: "rampart", dependencies: ["RampartApp"], swiftSettings: swiftSettings),
        // Writes the third-party notices for the ThirdPartyNotices plugin; Foundation only, it runs at build time.
        .executableTarget(name: "ThirdPartyNoticesGenerator", swiftSettings: swiftSettings),
        .plugin(name: "ThirdPartyNotices", capability: .buildTool(), dependencies: ["ThirdPartyNoticesGenerator"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Events"], swiftSettings: swiftSettings),
        .testTarget(name: "EventsTests", dependencies: ["Events"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ForwardersTests",
            dependencies: [
                "Forwarders", "Events",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "AccountsTests", dependencies: ["Accounts", "RampartModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PKITests",
            dependencies: [
                "PKI",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WebAPITests",
            dependencies: [
                "WebAPI", "PKI", "Store", "RampartModel", "Events", "FirewallPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FirewallPolicyTests", dependencies: ["FirewallPolicy", "RampartModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "NFTablesTests", dependencies: ["NFTables", "FirewallPolicy", "NetConfig"],
            resources: [.copy("Golden")],
            swiftSettings: swiftSettings),
        .testTarget(name: "RampartModelTests", dependencies: ["RampartModel"], swiftSettings: swiftSettings),
        .testTarget(name: "NetConfigTests", dependencies: ["NetConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FirewallDriverTests", dependencies: ["FirewallDriver", "NetConfig"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RampartAppTests",
            dependencies: ["RampartApp", "RampartModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MQTTCodecTests",
            dependencies: ["MQTTCodec", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerConfigTests",
            dependencies: ["BrokerConfig", "MQTTCodec"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerSecurityTests",
            dependencies: ["BrokerSecurity", "MQTTCodec"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MQTTClientTests",
            dependencies: [
                "MQTTClient", "BrokerServer", "BrokerCore", "MQTTCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerCoreTests",
            dependencies: ["BrokerCore", "MQTTCodec", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerServerTests",
            dependencies: [
                "BrokerServer", "BrokerCore", "MQTTCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
