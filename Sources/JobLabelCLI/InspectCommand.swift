import Foundation
import JobLabel

/// `joblabel inspect`: the model card of a bundle.
enum InspectCommand {
    struct Settings {
        var path: String?
        var json = false
        var terms = 10
    }

    static let spec = CommandSpec<Settings>(
        name: "inspect",
        usage: ["joblabel inspect [--json] [--terms N] [--model DIR | DIR]"],
        description: """
        Prints the model card of a bundle, after checking that it loads (weights present, checksums and
        shapes right): data fingerprint (SHA-256 of the training records), files and number of postings,
        label counts per head, settings, training-set metrics, logistic regression's optimisation report,
        and the top terms per label (logistic regression: largest weights; Naive Bayes: log P(term | label)
        minus its mean over labels). Without DIR, the shipped default model (see 'joblabel classify --help').
        """,
        groups: [OptionGroup(title: "OPTIONS", options: [
            .flag("--json", help: "the manifest as stored, with a \"top_terms\" key added") { $0.json = true },
            .value("--terms", name: "N", help: "top terms per label (default 10; 0 leaves them out)") { $0.terms = try parseInt($1, "--terms", min: 0) },
            .value("--model", name: "DIR", help: "the model bundle (or give DIR as the argument)") { $0.path = $1 },
        ])],
        positional: { s, arg in
            if let path = s.path { throw UsageError("inspect takes one model directory, got '\(path)' and '\(arg)'") }
            s.path = arg
        })

    static func run(_ arguments: [String]) throws {
        var s = Settings()
        guard try spec.parse(arguments, into: &s) else { return }
        let dir = try s.path ?? defaultModelPath()
        let manifest = try ModelBundle.loadManifest(dir)
        // Loading verifies the weights too: a bundle that cannot load is reported, not described.
        let card = ModelCard(manifest: manifest, model: try ModelBundle.load(dir), termCount: s.terms)
        let stdout = StandardOutput()
        guard let manifestBytes = FileManager.default.contents(atPath: dir + "/manifest.json") else {
            throw JobLabelError.io(path: dir + "/manifest.json", message: "cannot read")
        }
        try stdout.write(s.json ? card.json(manifestBytes: Array(manifestBytes)) : Array(terminalText(card.text(directory: dir)).utf8))  // labels from the data: no raw control characters
        try stdout.flush()
    }
}
