import RampartModel

/// The rules a new web-management password must follow. The operator picks one `Level` for the gateway
/// (`AccountDirectory.policy`); the web UI lists its rules next to the password field (`Level.rules`,
/// `Rule.text(in:)`) and, when a password is refused, the rules it broke (`Level.violations`).
package enum PasswordPolicy {
    /// How strict the policy is. Stored as "low", "medium" or "high".
    package enum Level: String, Codable, Sendable, CaseIterable {
        /// At least 8 characters.
        case low
        /// At least 10 characters of at least 3 of the 4 character classes (the default).
        case medium
        /// At least 14 characters of all 4 classes, not containing the user name, not a common password, and not
        /// one of the user's last 5 passwords.
        case high

        /// The rules of this level, in the order the UI shows them.
        package var rules: [Rule] {
            switch self {
            case .low:
                [.minimumLength(8)]
            case .medium:
                [.minimumLength(10), .characterClasses(3)]
            case .high:
                [
                    .minimumLength(14), .characterClasses(4), .notContainingUserName, .notCommon,
                    .notRecentlyUsed(AccountDirectory.passwordHistoryCount),
                ]
            }
        }

        /// Every rule of this level that `password` breaks, in `rules` order; empty when it is acceptable.
        ///
        /// - Parameters:
        ///   - userName: the account's name (for `notContainingUserName`).
        ///   - previousHashes: the user's earlier passwords (for `notRecentlyUsed`; only the first `count` are
        ///     checked). Checking them costs one PBKDF2 computation each, and only the High level does.
        ///   - commonPasswords: the list for `notCommon`.
        package func violations(
            password: String,
            userName: String,
            previousHashes: [PasswordHash],
            commonPasswords: CommonPasswords
        ) -> [Rule] {
            rules.filter { rule in
                !rule.isSatisfied(
                    password: password, userName: userName, previousHashes: previousHashes,
                    commonPasswords: commonPasswords)
            }
        }
    }

    /// One kind of character; a password's variety is the number of kinds it uses.
    package enum CharacterClass: CaseIterable, Sendable {
        case lowercase
        case uppercase
        case digit
        /// Anything else: punctuation, symbols, spaces, letters without case (such as CJK).
        case other

        /// The class of `character`. Letters of any cased script count (Cyrillic "ж" is lowercase).
        package init(_ character: Character) {
            if character.isLowercase {
                self = .lowercase
            } else if character.isUppercase {
                self = .uppercase
            } else if character.isNumber {
                self = .digit
            } else {
                self = .other
            }
        }

        /// The classes `password` uses.
        package static func used(in password: String) -> Set<CharacterClass> {
            Set(password.map(CharacterClass.init))
        }
    }

    /// One requirement of a password policy.
    package enum Rule: Hashable, Sendable, Codable {
        /// At least this many characters (Unicode characters as a person counts them: "ё" is one).
        case minimumLength(Int)
        /// Characters of at least this many of the 4 `CharacterClass`es.
        case characterClasses(Int)
        /// Does not contain the user name, ignoring case.
        case notContainingUserName
        /// Is not on the list of common passwords, ignoring case.
        case notCommon
        /// Is not one of the user's last this many passwords.
        case notRecentlyUsed(Int)

        /// The rule as the UI shows it in a list of requirements.
        package func text(in language: Language) -> String {
            switch (self, language) {
            case (.minimumLength(let count), .english):
                "At least \(count) \(count == 1 ? "character" : "characters")"
            case (.minimumLength(let count), .russian):
                "Не менее \(count) \(Russian.genitive(count, one: "символа", many: "символов"))"
            case (.characterClasses(let count), .english) where count >= 4:
                "All four kinds of characters: lowercase letters, uppercase letters, digits and other characters"
                    + " (such as punctuation)"
            case (.characterClasses(let count), .english):
                "At least \(count) of the four kinds of characters: lowercase letters, uppercase letters, digits,"
                    + " other characters (such as punctuation)"
            case (.characterClasses(let count), .russian) where count >= 4:
                "Все четыре вида символов: строчные буквы, заглавные буквы, цифры и прочие символы"
                    + " (например, знаки препинания)"
            case (.characterClasses(let count), .russian):
                "Не менее \(count) из четырёх видов символов: строчные буквы, заглавные буквы, цифры, прочие символы"
                    + " (например, знаки препинания)"
            case (.notContainingUserName, .english):
                "Does not contain the user name"
            case (.notContainingUserName, .russian):
                "Не содержит имени пользователя"
            case (.notCommon, .english):
                "Is not one of the most common passwords"
            case (.notCommon, .russian):
                "Не входит в список самых распространённых паролей"
            case (.notRecentlyUsed(let count), .english) where count == 1:
                "Differs from the previous password"
            case (.notRecentlyUsed(let count), .english):
                "Differs from the last \(count) passwords of this user"
            case (.notRecentlyUsed(let count), .russian) where count == 1:
                "Не совпадает с предыдущим паролем"
            case (.notRecentlyUsed(let count), .russian):
                "Не совпадает ни с одним из \(count) последних паролей пользователя"
            }
        }

        func isSatisfied(
            password: String,
            userName: String,
            previousHashes: [PasswordHash],
            commonPasswords: CommonPasswords
        ) -> Bool {
            switch self {
            case .minimumLength(let count):
                return password.count >= count
            case .characterClasses(let count):
                return CharacterClass.used(in: password).count >= count
            case .notContainingUserName:
                let name = userName.lowercased()
                return name.isEmpty || !password.lowercased().contains(name)
            case .notCommon:
                return !commonPasswords.contains(password)
            case .notRecentlyUsed(let count):
                // Every hash is computed (no early exit), so the time taken does not tell which one matched.
                var reused = false
                for previous in previousHashes.prefix(count) where previous.verify(password) {
                    reused = true
                }
                return !reused
            }
        }
    }
}

/// Russian plural forms for the texts above.
enum Russian {
    /// The genitive form after "не менее N": "1 символа", "21 символа", but "5 символов", "11 символов".
    static func genitive(_ count: Int, one: String, many: String) -> String {
        count % 10 == 1 && count % 100 != 11 ? one : many
    }
}
