// The `joblabel` command line: dispatches a subcommand and maps errors to messages and exit codes.
import Foundation
import JobLabel

/// The command-line tool behind the `joblabel` executable.
public enum CommandLineTool {
    static let usage = """
    USAGE: joblabel <command> [options]

    Labels job postings by role and seniority with TF-IDF + Naive Bayes / logistic regression.

    COMMANDS:
      train      train a model bundle from labeled postings
      classify   label postings (files, directories or stdin) with a model
      evaluate   score a model on labeled postings, or cross-validate settings
      inspect    show what a model bundle contains

    OPTIONS:
      -h, --help             show this help
      --version              print joblabel's version

    Run 'joblabel <command> --help' for the options of a command.
    Exit codes: 0 success, 64 usage, 65 bad data, 66 missing input, 74 I/O error.
    """

    /// Runs the command in `arguments` (without the program name); returns the exit status.
    public static func run(_ arguments: [String]) -> Int32 {
        var argv = arguments
        guard let command = argv.first else {
            printError(usage)
            return 64
        }
        argv.removeFirst()
        do {
            switch command {
            case "train": try TrainCommand.run(argv)
            case "classify": try ClassifyCommand.run(argv)
            case "evaluate": try EvaluateCommand.run(argv)
            case "inspect": try InspectCommand.run(argv)
            case "-h", "--help", "help": print(usage)
            case "--version", "version": print("joblabel \(ModelBundle.joblabelVersion)")
            case "help-man": print(ManPage.render(), terminator: "")  // hidden: the manual page, for scripts/install
            default:
                let commands = ["train", "classify", "evaluate", "inspect"]
                let hint = suggestion(for: command, among: commands + ["--help", "--version"]).map { "did you mean '\($0)'? " } ?? ""
                throw UsageError("unknown command '\(command)'; \(hint)commands are \(commands.joined(separator: ", "))")
            }
        } catch {
            let (message, code) = Messages.describe(error)
            printError("joblabel: \(message)")
            return code
        }
        return 0
    }

    /// Process set-up for the executable: signal dispositions and the allocator's policy.
    public static func configureProcess() {
        // Past a file-size limit (ulimit -f), write() then fails with EFBIG and is reported like a full disk,
        // instead of the process being killed by SIGXFSZ halfway through writing a model.
        signal(SIGXFSZ, SIG_IGN)

        // A model's weights are read through a read-only mapping while it loads; if another process truncates the
        // file in place meanwhile, touching the lost pages raises SIGBUS. Report that as an I/O error (exit 74)
        // instead of dying with a crash report. Only async-signal-safe calls here (write, _exit).
        signal(SIGBUS) { _ in
            let message: StaticString = "joblabel: a file shrank while it was being read (another process rewrote it in place); run again, and replace model files by renaming new ones into place\n"
            _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
            _exit(74)
        }

        #if canImport(Glibc)
        // Keep freed memory for reuse instead of handing large blocks back to the kernel: every batch of
        // `classify` allocates and frees buffers of a few MiB, and each fresh page costs a fault and a zero-fill.
        // Peak memory is unchanged: it is still the most that is live at once.
        _ = glibcMallopt(-3, 256 << 20)  // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, 1 << 30)    // M_TRIM_THRESHOLD
        #endif
    }
}

#if canImport(Glibc)
@_silgen_name("mallopt") func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32  // malloc.h is not in the Glibc module
#endif
