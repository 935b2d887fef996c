import Foundation
import JSONRPC
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Opt-in attribution: resource attributes from a flag, and the signed-in account as Codex reports it, read from a
/// real-shaped `auth.json` whose tokens and key never reach anything we send, print or keep.
@Suite(.serialized)
struct AttributionTests {
    static let email = "dev+codex@example.com"
    static let accountID = "acct-7c2e91"
    static let secrets = ["ACCESS-TOKEN-MARKER-31", "REFRESH-TOKEN-MARKER-31", "sk-API-KEY-MARKER-31", "SIG-MARKER-31"]

    /// A Codex home whose `auth.json` holds a ChatGPT sign-in as Codex writes it: an ID token (a JWT, base64url;
    /// its `???` claim makes a `_` of the alphabet's `/`), an access and a refresh token, an account id, a key.
    static func codexHome() throws -> URL {
        let home = try TestTools.makeTemporaryDirectory("codex-home")
        func base64URL(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "=", with: "")
        }
        let claims = """
            {"email":"\(email)","name":"???","https://api.openai.com/auth":{"chatgpt_account_id":"\(accountID)"}}
            """
        let idToken = [base64URL(#"{"alg":"RS256"}"#), base64URL(claims), secrets[3]].joined(separator: ".")
        #expect(idToken.contains("_"))
        let auth = """
            {"OPENAI_API_KEY":"\(secrets[2])","tokens":{"id_token":"\(idToken)","access_token":"\(secrets[0])",\
            "refresh_token":"\(secrets[1])","account_id":"\(accountID)"},"last_refresh":"2026-12-01T00:00:00Z"}
            """
        try Data(auth.utf8).write(to: home.appendingPathComponent("auth.json"))
        return home
    }

    func replay(
        _ arguments: [String],
        environment: [String: String]
    ) async throws -> (outcome: CommandOutcome, sent: String) {
        let collector = try await StandInCollector(respond: "200")
        defer { Task { await collector.stop() } }
        let outcome = try await TestTools.runCLI(
            [
                "replay", OTLPExportTests.session, "--otlp-endpoint", "http://127.0.0.1:\(collector.port)",
                "--spool-dir", try TestTools.makeTemporaryDirectory("spool").path,
            ] + arguments,
            environment: environment
        )
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        return (outcome, String(decoding: try collector.receivedBytes(), as: UTF8.self))
    }

    @Test(arguments: [(["--identify-user"], [:]), ([], ["CODEX_TELEMETRY_IDENTIFY_USER": "1"])])
    func theSignedInAccountIsAddedWhenAskedAndNoTokenGoesAnywhere(
        arguments: [String],
        environment: [String: String]
    ) async throws {
        let home = try Self.codexHome()
        let (outcome, sent) = try await replay(
            arguments + ["--resource-attribute", "team=payments", "--resource-attribute", "cost.centre=42"],
            environment: environment.merging([
                "CODEX_HOME": home.path, "OTEL_RESOURCE_ATTRIBUTES": "team=team-from-env,region=eu",
            ]) { $1 }
        )
        for expected in ["user.email", Self.email, "user.account_id", Self.accountID, "payments", "cost.centre", "eu"] {
            #expect(sent.contains(expected), "\(expected) was not sent")
        }
        // The flag beats the environment for the same key.
        #expect(!sent.contains("team-from-env"))
        for secret in Self.secrets {
            #expect(!sent.contains(secret))
            #expect(!(outcome.stdout + outcome.stderr).contains(secret))
        }
    }

    @Test func withoutTheOptInNoAccountIsSentAndAuthIsNotNeeded() async throws {
        let (_, sent) = try await replay([], environment: ["CODEX_HOME": try Self.codexHome().path])
        #expect(sent.count > 1000)
        #expect(!sent.contains("user.email") && !sent.contains(Self.email) && !sent.contains(Self.accountID))
    }

    /// An API key alone, or an `auth.json` that is a link: no account, said once, and the run goes on.
    @Test(arguments: ["key", "link"])
    func withNoAccountToReadTheRunSaysSoAndGoesOn(kind: String) async throws {
        let home = try TestTools.makeTemporaryDirectory("codex-home")
        let auth = home.appendingPathComponent("auth.json")
        if kind == "key" {
            try Data(#"{"OPENAI_API_KEY":"\#(Self.secrets[2])","tokens":null}"#.utf8).write(to: auth)
        } else {
            let elsewhere = try Self.codexHome().appendingPathComponent("auth.json")
            #expect(symlink(elsewhere.path, auth.path) == 0)
        }
        let (outcome, sent) = try await replay(["--identify-user"], environment: ["CODEX_HOME": home.path])
        #expect(outcome.stderr.contains("--identify-user: Codex is not signed in with a ChatGPT account"))
        #expect(!sent.contains("user.email") && !sent.contains(Self.email))
        #expect(!(outcome.stdout + outcome.stderr + sent).contains(Self.secrets[2]))
    }
}
