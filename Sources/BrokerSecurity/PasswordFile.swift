/// The users of a Mosquitto `password_file`, as written by `mosquitto_passwd`.
///
/// Format (one entry per line): `username:$7$<iterations>$<base64 salt>$<base64 hash>` or the legacy
/// `username:$6$<base64 salt>$<base64 hash>`; see `PasswordHash`. Like Mosquitto: a line whose first character is
/// `#` is a comment, blank lines are ignored, whitespace around the username and around the hash is trimmed,
/// usernames are case sensitive and cannot contain `:`.
///
/// Unlike Mosquitto, which logs and drops lines it cannot use (a line without `:`, a plain-text password, a bad
/// salt), every such line is an error naming the line: a user who silently cannot log in is a support call, and a
/// half-read file is not what the operator wrote. Duplicate usernames are errors too (Mosquitto keeps both and
/// which one wins depends on its hash table).
package struct PasswordFile: Sendable {
    /// One parsed `username:hash` line.
    package struct Entry: Sendable, Hashable {
        package var username: String
        package var hash: PasswordHash

        package init(username: String, hash: PasswordHash) {
            self.username = username
            self.hash = hash
        }

        /// The line as `mosquitto_passwd` writes it (without the newline).
        package var line: String { "\(username):\(hash.encoded)" }
    }

    private let entries: [String: PasswordHash]
    /// Usernames in file order, for listings and the management plane.
    package let usernames: [String]

    /// Stand-in hash verified for unknown users so that a login attempt for a user who does not exist costs about
    /// as much as one for a user with the default iteration count; otherwise response time would reveal which
    /// usernames exist. Its hash bytes are all zero, which PBKDF2 output never equals in practice.
    private static let decoy = PasswordHash.pbkdf2SHA512(
        iterations: PasswordHash.mosquittoDefaultIterations,
        salt: Array(repeating: 0x5A, count: 12),
        hash: Array(repeating: 0, count: PasswordHash.hashByteCount))

    /// Parses a whole password file. Throws the first malformed line; `diagnose` lists them all.
    package init(contents: String, fileName: String) throws(SecurityFileError) {
        var entries: [String: PasswordHash] = [:]
        var firstLines: [String: Int] = [:]
        var usernames: [String] = []
        try TextLines.forEachLine(in: contents) { (text, number) throws(SecurityFileError) in
            guard let entry = try Self.parseLine(text, lineNumber: number, fileName: fileName) else { return }
            if let first = firstLines[entry.username] {
                throw SecurityFileError(
                    file: fileName, line: number,
                    message: "duplicate user '\(entry.username)' (first defined on line \(first))")
            }
            firstLines[entry.username] = number
            entries[entry.username] = entry.hash
            usernames.append(entry.username)
        }
        self.entries = entries
        self.usernames = usernames
    }

    /// Parses file bytes, refusing invalid UTF-8 with the line it occurs on.
    package init(contents: some Collection<UInt8>, fileName: String) throws(SecurityFileError) {
        try self.init(contents: TextLines.decode(contents, fileName: fileName), fileName: fileName)
    }

    /// Every problem in the file, in line order (empty when `init` would succeed). For the management plane, which
    /// wants to show all mistakes of an uploaded file at once.
    package static func diagnose(contents: String, fileName: String) -> [SecurityFileError] {
        var errors: [SecurityFileError] = []
        var firstLines: [String: Int] = [:]
        TextLines.forEachLine(in: contents) { text, number in
            do throws(SecurityFileError) {
                guard let entry = try parseLine(text, lineNumber: number, fileName: fileName) else { return }
                if let first = firstLines[entry.username] {
                    errors.append(
                        SecurityFileError(
                            file: fileName, line: number,
                            message: "duplicate user '\(entry.username)' (first defined on line \(first))"))
                } else {
                    firstLines[entry.username] = number
                }
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    /// Parses one line (without its newline). Returns nil for a blank line or a comment.
    package static func parseLine(
        _ line: Substring, lineNumber: Int, fileName: String
    ) throws(SecurityFileError) -> Entry? {
        func failure(_ message: String) -> SecurityFileError {
            SecurityFileError(file: fileName, line: lineNumber, message: message)
        }
        // Mosquitto: `if(buf[0] == '#') continue;` — only a '#' in the first column starts a comment.
        if line.utf8.first == UInt8(ascii: "#") { return nil }
        if TextLines.trimmed(line).isEmpty { return nil }
        guard let colon = line.firstIndex(of: ":") else {
            if TextLines.trimmed(line).hasPrefix("#") {
                throw failure("comments must start with '#' in the first column")
            }
            throw failure("missing ':' between username and password hash")
        }
        let username = TextLines.trimmed(line[..<colon])
        guard !username.isEmpty else { throw failure("empty username") }
        guard !username.utf8.contains(0) else { throw failure("username contains U+0000") }
        guard username.utf8.count <= 65535 else { throw failure("username longer than 65535 bytes") }
        let hashText = TextLines.trimmed(line[line.index(after: colon)...])
        guard !hashText.isEmpty else { throw failure("missing password hash for user '\(username)'") }
        guard !hashText.contains(":") else {
            throw failure("password hash for user '\(username)' contains ':' (usernames cannot contain ':')")
        }
        do {
            return Entry(username: String(username), hash: try PasswordHash(parsing: hashText))
        } catch {
            throw failure("user '\(username)': \(error.message)")
        }
    }

    /// A `$7$` password file line for `username`, as `mosquitto_passwd` writes it. The management plane uses this
    /// to create users; see `PasswordHash.pbkdf2SHA512` for the salt.
    package static func line(
        username: String, password: some Collection<UInt8>, salt: [UInt8],
        iterations: Int = PasswordHash.mosquittoDefaultIterations
    ) throws(PasswordHash.FormatError) -> String {
        guard !username.isEmpty, !username.contains(":"), !username.utf8.contains(0),
            username.utf8.first != UInt8(ascii: "#"), TextLines.trimmed(Substring(username)) == username
        else {
            throw PasswordHash.FormatError(
                "username must be non-empty, must not contain ':' or U+0000, start with '#' or have "
                    + "leading or trailing whitespace")
        }
        return "\(username):\(try hash7(password: password, salt: salt, iterations: iterations))"
    }

    /// The `$7$…` hash text for `password` (no username), for writing password files.
    package static func hash7(
        password: some Collection<UInt8>, salt: [UInt8],
        iterations: Int = PasswordHash.mosquittoDefaultIterations
    ) throws(PasswordHash.FormatError) -> String {
        try PasswordHash.pbkdf2SHA512(password: password, salt: salt, iterations: iterations).encoded
    }

    /// Whether `password` is `username`'s password.
    ///
    /// Unknown users get `false` after the same work as a user with the default iteration count (see `decoy`).
    ///
    /// An empty password is always refused, even when the file holds the hash of the empty string
    /// (`mosquitto_passwd` writes one if asked): Mosquitto 2.0 reads a zero-length CONNECT password as "no
    /// password" and refuses the login (observed with 2.0.11), and Rampart keeps that. A client that sent a
    /// username but no password must likewise be refused by the caller.
    package func verify(username: String, password: some Collection<UInt8>) -> Bool {
        guard let hash = entries[username] else {
            _ = Self.decoy.matches(password: password)
            return false
        }
        guard !password.isEmpty else { return false }
        return hash.matches(password: password)
    }

    /// Whether the file defines `username` (for deciding between "bad username" and "bad password" in logs only;
    /// never tell the client which).
    package func contains(username: String) -> Bool {
        entries[username] != nil
    }
}
