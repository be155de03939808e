import Foundation

@testable import Accounts

/// A deterministic generator (SplitMix64) for tests that need repeatable randomness.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

enum Fixture {
    /// An arbitrary fixed instant.
    static let now = Date(timeIntervalSince1970: 1_750_000_000)

    /// PBKDF2 cost for tests that are about something else than the cost: 600,000 iterations take a good part of a
    /// second in a debug build.
    static let cheapIterations = 1_000

    /// The list shipped at `Sources/WebAPI/Resources/common-passwords/`.
    static let shippedCommonPasswordsURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/WebAPI/Resources/common-passwords/10k-most-common.txt")

    static func shippedCommonPasswords() throws -> CommonPasswords {
        CommonPasswords(text: try String(contentsOf: shippedCommonPasswordsURL, encoding: .utf8))
    }

    /// A hash made cheaply, for tests about comparisons rather than cost.
    static func cheapHash(_ password: String, seed: UInt64 = 1) throws -> PasswordHash {
        var generator = SeededGenerator(seed: seed)
        return try PasswordHash.make(password: password, iterations: cheapIterations, using: &generator)
    }
}

extension Date {
    func plus(_ seconds: Double) -> Date { addingTimeInterval(seconds) }
}
