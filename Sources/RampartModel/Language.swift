/// A language of the user interface. The web UI and the texts the management modules return (password rules,
/// error messages) exist in each of them; a user's choice is stored with the account.
package enum Language: String, Codable, Sendable, CaseIterable {
    case english = "en"
    case russian = "ru"
}
