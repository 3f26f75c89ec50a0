import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI

/// `scripts/install` and the manual page it installs.
final class InstallTests: XCTestCase {
    /// The manual page comes from the option tables: every option of every command is in it, as troff.
    func testManualPageHasEveryOption() throws {
        let r = try CLI.run(["help-man"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let page = r.stdout
        XCTAssertTrue(page.contains(".TH JOBLABEL 1 "), page)
        for command in ManPage.commands {
            XCTAssertTrue(page.contains(".SS \(command.name)\n"), command.name)
            for group in command.groups {
                for entry in group.entries {
                    XCTAssertTrue(page.contains(".B " + ManPage.escape(entry.names.joined(separator: ", "))), "\(command.name) \(entry.names)")
                }
            }
        }
        // Lines starting with a period or quote are only the macros this page writes.
        let macros: Set<String> = [".\\\"", ".TH", ".SH", ".SS", ".B", ".RB", ".RI", ".br", ".nf", ".fi", ".PP", ".TP", ".I"]
        for line in page.split(separator: "\n") where line.hasPrefix(".") || line.hasPrefix("'") {
            XCTAssertTrue(macros.contains(String(line.split(separator: " ")[0])), String(line))
        }
        XCTAssertFalse(try CLI.run(["--help"]).stdout.contains("help-man"), "a hidden command")
    }

    /// Installs into a temporary prefix, then runs the installed binary from / with the build folder moved
    /// away and no JOBLABEL_MODEL: it labels a posting with the installed default model. About 2 minutes
    /// (a release build with the Swift runtime linked statically), so it runs only with
    /// JOBLABEL_INSTALL_TEST=1 (scripts/test sets it).
    func testInstallIntoATemporaryPrefix() throws {
        guard ProcessInfo.processInfo.environment["JOBLABEL_INSTALL_TEST"] == "1" else {
            throw XCTSkip("set JOBLABEL_INSTALL_TEST=1 to run scripts/install into a temporary prefix (scripts/test does)")
        }
        let repo = DefaultModelTests.repo.path
        let prefix = makeTempDirectory("joblabel-prefix") + "/usr local"  // a space in the path, too
        defer { try? FileManager.default.removeItem(atPath: (prefix as NSString).deletingLastPathComponent) }
        let install = try run(repo + "/scripts/install", ["--prefix", prefix], in: repo)
        XCTAssertEqual(install.status, 0, install.output)
        let fm = FileManager.default
        for file in ["bin/joblabel", "share/joblabel/Models/default/manifest.json", "share/joblabel/Models/default/weights.bin",
                     "share/joblabel/corpus/postings-a.jsonl", "share/man/man1/joblabel.1"] {
            XCTAssertTrue(fm.fileExists(atPath: prefix + "/" + file), file)
        }
        let binary = prefix + "/bin/joblabel"
        XCTAssertTrue(fm.isExecutableFile(atPath: binary))
        // No shared library of the toolchain.
        let ldd = try run("/usr/bin/env", ["ldd", binary], in: "/")
        XCTAssertFalse(ldd.output.contains("libswift") || ldd.output.contains("libFoundation"), ldd.output)
        // The build folder out of reach while the installed binary runs.
        let build = repo + "/.build-install", away = repo + "/.build-install-away-\(getpid())"
        try fm.moveItem(atPath: build, toPath: away)
        defer { try? fm.moveItem(atPath: away, toPath: build) }
        var env = ProcessInfo.processInfo.environment
        env["JOBLABEL_MODEL"] = nil
        let labeled = try run(binary, ["classify", "--input-format", "lines", "--format", "text"], in: "/", environment: env,
                              stdin: "Senior Data Analyst\nSummer internship for students in our marketing team\n")
        XCTAssertEqual(labeled.status, 0, labeled.output)
        let lines = labeled.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, labeled.output)
        XCTAssertTrue(lines[0].hasPrefix("1\trole=") && lines[0].contains("\tseniority="), labeled.output)
        XCTAssertTrue(lines[1].contains("seniority=internship"), labeled.output)
        XCTAssertEqual(try run(binary, ["--version"], in: "/", environment: env).stdout, "joblabel \(ModelBundle.joblabelVersion)\n")
        // The installed corpus serves --with-default-corpus.
        let boardDir = makeTempDirectory("joblabel-board")
        defer { try? fm.removeItem(atPath: boardDir) }
        try "{\"text\": \"night shift lighthouse keeper\", \"seniority\": \"entry\"}\n".write(toFile: boardDir + "/b.jsonl", atomically: true, encoding: .utf8)
        let adapted = try run(binary, ["train", "--data", boardDir + "/b.jsonl", "--with-default-corpus", "--labels", "seniority",
                                       "--out", boardDir + "/m", "--quiet"], in: "/", environment: env)
        XCTAssertEqual(adapted.status, 0, adapted.output)
        // The manual page is the one the binary generates, and man reads it.
        XCTAssertEqual(try String(contentsOfFile: prefix + "/share/man/man1/joblabel.1", encoding: .utf8),
                       try run(binary, ["help-man"], in: "/").stdout)
        if fm.isExecutableFile(atPath: "/usr/bin/man") {
            let man = try run("/usr/bin/man", ["-l", prefix + "/share/man/man1/joblabel.1"], in: "/", environment: env.merging(["MANPAGER": "cat", "MANWIDTH": "100"]) { $1 })
            XCTAssertEqual(man.status, 0, man.output)
            XCTAssertTrue(man.stdout.contains("--text-field"), man.output)
        }
        // A second install over the first replaces the files (and is quick: the build is kept).
        try fm.moveItem(atPath: away, toPath: build)
        let again = try run(repo + "/scripts/install", ["--prefix", prefix], in: repo)
        XCTAssertEqual(again.status, 0, again.output)
        try fm.moveItem(atPath: build, toPath: away)
    }

    private struct Run { var status: Int32; var stdout: String; var output: String }

    private func run(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String]? = nil,
                     stdin: String? = nil) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        if let environment { p.environment = environment }
        // stderr to a file: a full pipe nobody reads would block a long build.
        let errPath = NSTemporaryDirectory() + "joblabel-install-stderr-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try err.close()
        let stdout = String(decoding: o, as: UTF8.self)
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Run(status: p.terminationStatus, stdout: stdout, output: stdout + stderr)
    }
}
