/// The one loop behind every format's escaping: each Unicode scalar is either replaced by what `replacement`
/// returns for it or kept.
enum TextEscaping {
    static func escape(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
        var escaped = ""
        escaped.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if let replaced = replacement(scalar) {
                escaped += replaced
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    func paddedLeft(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
