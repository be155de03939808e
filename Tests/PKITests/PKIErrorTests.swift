import PKI
import Testing

@Suite struct PKIErrorTests {
    @Test func descriptionIsTheMessage() {
        let error = PKIError(.weakKey, "the private key is RSA 1024")
        #expect(error.code == .weakKey)
        #expect(error.description == "the private key is RSA 1024")
        #expect("\(error)" == "the private key is RSA 1024")
    }

    @Test func codesHaveStableNames() {
        #expect(PKIError.Code.brokenChain.rawValue == "brokenChain")
        #expect(PKIError.Code(rawValue: "fileTooLarge") == .fileTooLarge)
        #expect(Set(PKIError.Code.allCases.map(\.rawValue)).count == PKIError.Code.allCases.count)
    }
}
