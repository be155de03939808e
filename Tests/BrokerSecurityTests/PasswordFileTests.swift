import Testing

@testable import BrokerSecurity

@Suite("Password file")
struct PasswordFileTests {
    // MARK: Fixtures written by the real mosquitto_passwd (see Fixtures/README.md)

    @Test func pbkdf2FixtureFromMosquittoPasswd() throws {
        let file = try PasswordFile(contents: Fixture.text("passwd_pbkdf2"), fileName: "passwd_pbkdf2")
        #expect(file.usernames == ["alice", "bob", "Carol Smith", "dave"])
        #expect(file.verify(username: "alice", password: Array("correct horse".utf8)))
        #expect(file.verify(username: "bob", password: Array("s3cr3t!".utf8)))
        #expect(file.verify(username: "Carol Smith", password: Array("pässwörd ünïcode".utf8)))
    }

    @Test(arguments: [
        ("alice", "correct horse "),
        ("alice", "Correct horse"),
        ("alice", "s3cr3t!"),
        ("bob", "correct horse"),
        ("Alice", "correct horse"),  // usernames are case sensitive
        ("alice ", "correct horse"),
        ("mallory", "correct horse"),  // unknown user
        ("", "correct horse"),
        ("Carol Smith", "passwörd ünïcode"),
    ])
    func wrongCredentialsAreRefused(username: String, password: String) throws {
        let file = try PasswordFile(contents: Fixture.text("passwd_pbkdf2"), fileName: "passwd_pbkdf2")
        #expect(!file.verify(username: username, password: Array(password.utf8)))
    }

    /// `mosquitto_passwd -b passwd dave ''` stores the hash of the empty string, yet Mosquitto 2.0.11 refuses the
    /// login (a zero-length password counts as none); Rampart does the same.
    @Test func emptyPasswordIsRefusedLikeMosquitto() throws {
        let text = try Fixture.text("passwd_pbkdf2")
        let file = try PasswordFile(contents: text, fileName: "passwd_pbkdf2")
        #expect(!file.verify(username: "dave", password: [UInt8]()))
        // The stored hash really is the empty password's, and hashing an empty password works.
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("dave:") })
        let entry = try #require(try PasswordFile.parseLine(line, lineNumber: 4, fileName: "passwd_pbkdf2"))
        #expect(entry.hash.matches(password: [UInt8]()))
        #expect(!entry.hash.matches(password: Array(" ".utf8)))
    }

    @Test func sha512FixtureFromMosquittoPasswd() throws {
        let file = try PasswordFile(contents: Fixture.text("passwd_sha512"), fileName: "passwd_sha512")
        #expect(file.usernames == ["legacy", "alice"])
        #expect(file.verify(username: "legacy", password: Array("old-school".utf8)))
        #expect(file.verify(username: "alice", password: Array("correct horse".utf8)))
        #expect(!file.verify(username: "legacy", password: Array("old-schoo".utf8)))
        #expect(!file.verify(username: "alice", password: Array("correct horse!".utf8)))
    }

    @Test func otherIterationCountsAndSaltSizes() throws {
        let file = try PasswordFile(contents: Fixture.text("passwd_iterations"), fileName: "passwd_iterations")
        #expect(file.usernames == ["thousand", "single", "longsalt"])
        #expect(file.verify(username: "thousand", password: Array("one thousand rounds".utf8)))
        #expect(file.verify(username: "single", password: Array("one round".utf8)))
        #expect(file.verify(username: "longsalt", password: Array("sixteen byte salt".utf8)))
        #expect(!file.verify(username: "thousand", password: Array("one round".utf8)))
        #expect(!file.verify(username: "single", password: Array("one thousand rounds".utf8)))
    }

    /// hash7 reproduces mosquitto_passwd's output byte for byte when given the same salt.
    @Test func hash7ReproducesMosquittoPasswd() throws {
        let text = try Fixture.text("passwd_pbkdf2")
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("alice:") })
        let entry = try #require(try PasswordFile.parseLine(line, lineNumber: 1, fileName: "f"))
        guard case .pbkdf2SHA512(let iterations, let salt, _) = entry.hash else {
            Issue.record("expected a $7$ hash")
            return
        }
        #expect(iterations == 101)
        #expect(salt.count == 12)
        let hash = try PasswordFile.hash7(password: Array("correct horse".utf8), salt: salt, iterations: 101)
        #expect("alice:\(hash)" == String(line))
        #expect(
            try PasswordFile.line(username: "alice", password: Array("correct horse".utf8), salt: salt)
                == String(line))
        #expect(entry.line == String(line))
    }

    @Test func writtenLinesReadBack() throws {
        let salt: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
        let first = try PasswordFile.line(username: "sensor-1", password: Array("pw1".utf8), salt: salt)
        let second = try PasswordFile.line(
            username: "sensor 2", password: Array("pw2".utf8), salt: [9], iterations: 5000)
        let file = try PasswordFile(contents: "\(first)\n\(second)\n", fileName: "generated")
        #expect(file.usernames == ["sensor-1", "sensor 2"])
        #expect(file.verify(username: "sensor-1", password: Array("pw1".utf8)))
        #expect(file.verify(username: "sensor 2", password: Array("pw2".utf8)))
        #expect(!file.verify(username: "sensor 2", password: Array("pw1".utf8)))
        #expect(second.contains("$7$5000$CQ==$"))
    }

    @Test func sha512HashesReadBack() throws {
        let hash = PasswordHash.sha512(password: Array("legacy".utf8), salt: Array("saltsaltsalt".utf8))
        let file = try PasswordFile(contents: "old:\(hash.encoded)", fileName: "f")
        #expect(file.verify(username: "old", password: Array("legacy".utf8)))
        #expect(!file.verify(username: "old", password: Array("Legacy".utf8)))
    }

    @Test(arguments: [
        (0, [UInt8](repeating: 1, count: 12), "iteration count 0 is outside 1...10000000"),
        (10_000_001, [UInt8](repeating: 1, count: 12), "iteration count 10000001 is outside 1...10000000"),
        (101, [UInt8](), "salt is empty"),
    ])
    func hash7RefusesBadParameters(iterations: Int, salt: [UInt8], message: String) {
        #expect(throws: PasswordHash.FormatError(message)) {
            try PasswordFile.hash7(password: Array("pw".utf8), salt: salt, iterations: iterations)
        }
    }

    @Test(arguments: ["", "a:b", "#admin", " padded", "padded ", "nul\u{0}"])
    func lineRefusesUnwritableUsernames(username: String) {
        #expect(throws: PasswordHash.FormatError.self) {
            try PasswordFile.line(username: username, password: Array("pw".utf8), salt: [1, 2, 3])
        }
    }

    // MARK: Layout

    @Test func commentsBlankLinesWhitespaceCRLFAndByteOrderMark() throws {
        let alice = try PasswordFile.line(username: "alice", password: Array("pw".utf8), salt: [7, 7, 7])
        let hash = String(alice.dropFirst("alice:".count))
        let contents = "\u{FEFF}# users\r\n\r\n   \r\n  alice \t: \(hash)  \r\n#bob:\(hash)\r\n"
        let file = try PasswordFile(contents: contents, fileName: "f")
        #expect(file.usernames == ["alice"])
        #expect(file.verify(username: "alice", password: Array("pw".utf8)))
        #expect(file.contains(username: "alice"))
        #expect(!file.contains(username: "bob"))
    }

    @Test func emptyFileHasNoUsers() throws {
        let file = try PasswordFile(contents: "", fileName: "f")
        #expect(file.usernames.isEmpty)
        #expect(!file.verify(username: "anyone", password: Array("x".utf8)))
    }

    @Test func bytesMustBeUTF8() throws {
        var bytes = Array("# ok\n".utf8)
        bytes += [0x61, 0xFF, 0x3A, 0x24, 0x0A]  // "a\u{FF}:$\n"
        #expect(throws: SecurityFileError(file: "pw", line: 2, message: "line is not valid UTF-8")) {
            try PasswordFile(contents: bytes, fileName: "pw")
        }
        let good = try PasswordFile(contents: Array(Fixture.text("passwd_sha512").utf8), fileName: "pw")
        #expect(good.usernames == ["legacy", "alice"])
    }

    // MARK: Malformed lines

    /// alice's hash from passwd_pbkdf2.
    static let validHash =
        "$7$101$CcOecQT8kbXQZHol$kHXFkr6C4jKPs9DkotNjhYdyutjM3qW62KPLjMhb8vpDJuuObKGMCZhwrFL/ssh5zJpGbVdEKhWFg+CO4uM"
        + "kug=="

    @Test(arguments: [
        ("alice", "passwd:1: missing ':' between username and password hash"),
        ("# header\n\nalice:", "passwd:3: missing password hash for user 'alice'"),
        ("alice:   ", "passwd:1: missing password hash for user 'alice'"),
        (":\(validHash)", "passwd:1: empty username"),
        ("  :\(validHash)", "passwd:1: empty username"),
        ("  # indented comment", "passwd:1: comments must start with '#' in the first column"),
        (
            "alice:secret",
            "passwd:1: user 'alice': password is not a $6$ or $7$ hash "
                + "(plain-text passwords are not accepted; hash the file with mosquitto_passwd -U)"
        ),
        ("alice:$5$abc$def", "passwd:1: user 'alice': unsupported hash type '$5$' (Mosquitto supports $6$ and $7$)"),
        (
            "alice:$7$101$c2FsdA==",
            "passwd:1: user 'alice': malformed $7$ hash: "
                + "expected $7$<iterations>$<base64 salt>$<base64 hash>"
        ),
        (
            "alice:$7$101$c2FsdA==$AAAA$AAAA",
            "passwd:1: user 'alice': malformed $7$ hash: "
                + "expected $7$<iterations>$<base64 salt>$<base64 hash>"
        ),
        ("alice:$6$c2FsdA==", "passwd:1: user 'alice': malformed $6$ hash: expected $6$<base64 salt>$<base64 hash>"),
        (
            "alice:$7$abc$c2FsdA==$AAAA",
            "passwd:1: user 'alice': iteration count 'abc' is not a positive decimal integer"
        ),
        ("alice:$7$$c2FsdA==$AAAA", "passwd:1: user 'alice': iteration count '' is not a positive decimal integer"),
        ("alice:$7$-5$c2FsdA==$AAAA", "passwd:1: user 'alice': iteration count '-5' is not a positive decimal integer"),
        ("alice:$7$0$c2FsdA==$AAAA", "passwd:1: user 'alice': iteration count must be at least 1"),
        (
            "alice:$7$10000001$c2FsdA==$AAAA",
            "passwd:1: user 'alice': iteration count 10000001 exceeds the maximum of "
                + "10000000"
        ),
        (
            "alice:$7$99999999999999999999999$c2FsdA==$AAAA",
            "passwd:1: user 'alice': iteration count "
                + "99999999999999999999999 exceeds the maximum of 10000000"
        ),
        ("alice:$7$101$$AAAA", "passwd:1: user 'alice': salt is empty"),
        ("alice:$7$101$c2Fs*A==$AAAA", "passwd:1: user 'alice': salt is not valid base64"),
        ("alice:$7$101$c2FsdA==$AAAA", "passwd:1: user 'alice': hash is 3 bytes, expected 64 (SHA-512)"),
        ("alice:$7$101$c2FsdA==$AA A", "passwd:1: user 'alice': hash is not valid base64"),
        ("alice:$6$c2FsdA==$AAAA", "passwd:1: user 'alice': hash is 3 bytes, expected 64 (SHA-512)"),
        (
            "alice:bob:\(validHash)",
            "passwd:1: password hash for user 'alice' contains ':' "
                + "(usernames cannot contain ':')"
        ),
        (
            "alice:\(validHash)\r\nbob:x\r\n",
            "passwd:2: user 'bob': password is not a $6$ or $7$ hash "
                + "(plain-text passwords are not accepted; hash the file with mosquitto_passwd -U)"
        ),
        (
            "alice:\(validHash)\nbob:\(validHash)\nalice:\(validHash)",
            "passwd:3: duplicate user 'alice' (first defined on line 1)"
        ),
    ])
    func malformedLine(contents: String, expected: String) {
        do {
            _ = try PasswordFile(contents: contents, fileName: "passwd")
            Issue.record("parsed without error; expected \(expected)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func diagnoseListsEveryProblem() {
        let contents = "alice:\(Self.validHash)\nbroken\nbob:plain\nalice:\(Self.validHash)\n# fine\n"
        let errors = PasswordFile.diagnose(contents: contents, fileName: "pw").map(\.description)
        #expect(errors.count == 3)
        #expect(errors.first == "pw:2: missing ':' between username and password hash")
        #expect(errors.last == "pw:4: duplicate user 'alice' (first defined on line 1)")
        #expect(PasswordFile.diagnose(contents: "alice:\(Self.validHash)\n", fileName: "pw").isEmpty)
    }
}

@Suite("Base64")
struct Base64Tests {
    @Test(arguments: [
        ([UInt8](), ""), (Array("f".utf8), "Zg=="), (Array("fo".utf8), "Zm8="), (Array("foo".utf8), "Zm9v"),
        (Array("foob".utf8), "Zm9vYg=="), ([0xFB, 0xFF], "+/8="),
    ])
    func roundTrip(bytes: [UInt8], text: String) {
        #expect(Base64.encode(bytes) == text)
        #expect(Base64.decode(text) == bytes)
    }

    @Test func unpaddedIsAccepted() {
        #expect(Base64.decode("Zg") == Array("f".utf8))
        #expect(Base64.decode("Zm8") == Array("fo".utf8))
    }

    @Test(arguments: ["Z", "Zg=", "Z===", "Zm9v\n", "Zm-v", "Zm_v", "=Zm9", "Zg==Zg=="])
    func invalidIsRefused(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
