import DescriptorIO
import FoundationEssentials
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// The ChatGPT account Codex is signed in with, as Codex reports it in its own telemetry: the e-mail address in the
/// claims of the ID token, and the account id, both from `auth.json` in Codex's home. Only those two members of the
/// file are built; the access and refresh tokens and any API key are passed over unparsed, and the ID token is
/// dropped once its e-mail address is read. Nothing of it is kept but the address and the id.
package struct SignedInAccount: Sendable, Equatable {
    package var email: String?
    package var accountID: String?

    /// `auth.json` is a few kilobytes; anything much larger is not Codex's.
    static let maximumFileLength = 1 << 20

    private static let selection = JSONSelection.members([
        "tokens": .members(["id_token": .everything, "account_id": .everything])
    ])

    /// The account in `codexHome/auth.json`, or `nil` when there is none: no file, a link, an API key alone, a file
    /// that is not Codex's.
    package init?(codexHome: String) {
        let descriptor = open(codexHome + "/auth.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard fileStatus(descriptor)?.kind == .regular,
            let bytes = try? readAll(descriptor, atMost: Self.maximumFileLength)
        else { return nil }
        self.init(authFile: bytes)
    }

    /// The account in the bytes of an `auth.json`.
    init?(authFile bytes: [UInt8]) {
        guard let auth = try? JSONValue(parsing: bytes, selecting: Self.selection, maximumValues: 16),
            let tokens = auth["tokens"]
        else { return nil }
        accountID = tokens["account_id"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        email = tokens["id_token"]?.string.flatMap(Self.email(inIDToken:))
        guard email != nil || accountID != nil else { return nil }
    }

    /// The `email` claim of a JSON Web Token: the middle of its three parts, base64url without padding.
    private static func email(inIDToken token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var payload = String(parts[1].map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        guard let claims = Data(base64Encoded: payload),
            let email = try? JSONValue(
                parsing: claims,
                selecting: .members(["email": .head(320)]),
                maximumValues: 8
            )["email"]?.string,
            !email.isEmpty
        else { return nil }
        return email
    }

    /// The resource attributes Codex's own export names them by.
    package var resourceAttributes: [String: String] {
        var attributes: [String: String] = [:]
        attributes["user.email"] = email
        attributes["user.account_id"] = accountID
        return attributes
    }
}
