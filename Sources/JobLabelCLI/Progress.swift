import Foundation
import JobLabel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress of a long run, for stderr: on a terminal a line redrawn in place (with a bar when the total is
/// known), otherwise a plain line every few seconds; nothing at all for runs shorter than the first delay,
/// so short runs and scripts' logs stay clean. Work loops call `update` (per batch or per optimiser
/// iteration: it only takes a lock and sets a few fields); a background timer does the drawing.
final class ProgressMeter: @unchecked Sendable {
    /// How progress is shown.
    enum Style: Sendable, Equatable {
        /// One line redrawn in place (`\r`), for a terminal.
        case bar
        /// A new line every `interval` seconds, for logs and pipes.
        case lines
        /// Nothing (`--quiet`).
        case off
    }

    /// What the run is doing now.
    struct Status: Sendable, Equatable {
        /// The current step, e.g. "reading" or "seniority: logistic regression on all rows".
        var phase = ""
        /// More about the step, e.g. "iteration 12 (at most 200)".
        var detail = ""
        /// Bytes of input read so far (nil: not known).
        var bytesDone: Int64?
        /// Bytes of input in all (nil: not known, e.g. standard input).
        var bytesTotal: Int64?
        /// Items handled so far, e.g. postings labeled.
        var items = 0
        /// What the items are ("postings"); empty: items are not shown.
        var itemName = ""

        /// Creates an empty status.
        init() {}
    }

    /// The command named in each line, e.g. "train".
    let command: String
    /// How it is shown.
    let style: Style
    /// Seconds between two lines or redraws; 0 draws on every update (no timer; for tests).
    let interval: Double
    /// Seconds before anything is shown.
    let delay: Double
    /// Characters per line on a terminal.
    let width: Int
    private let sink: (String) -> Void
    private let clock: () -> Double
    private let lock = NSLock()
    private var status = Status()
    private var started = 0.0
    private var lastDrawn = -Double.infinity
    private var drawnOnTerminal = false
    private var linesPrinted = 0
    private var finished = false
    private var timer: DispatchSourceTimer?
    /// Polled before each drawing for the bytes read so far (e.g. `FileReadProgress.bytesRead`).
    private var bytesProbe: (() -> Int64?)?

    /// Creates a meter; `sink` receives the text to write to stderr, `clock` gives seconds.
    init(command: String, style: Style, interval: Double, delay: Double, width: Int = 80,
                sink: @escaping (String) -> Void, clock: @escaping () -> Double = ProgressMeter.monotonicSeconds) {
        self.command = command
        self.style = style
        self.interval = max(0, interval)
        self.delay = max(0, delay)
        self.width = max(40, width)
        self.sink = sink
        self.clock = clock
    }

    /// The meter for a command-line run writing to stderr: off with `quiet`, a redrawn line when stderr is
    /// a terminal (first after 1 s, then every 0.25 s), else a plain line every 5 s (first after 5 s).
    /// `JOBLABEL_PROGRESS_INTERVAL` (seconds) sets both the delay and the interval; 0 prints on every update.
    static func forStandardError(command: String, quiet: Bool) -> ProgressMeter {
        let terminal = isatty(2) == 1
        let style: Style = quiet ? .off : terminal ? .bar : .lines
        var interval = terminal ? 0.25 : 5, delay = terminal ? 1.0 : 5
        if let s = ProcessInfo.processInfo.environment["JOBLABEL_PROGRESS_INTERVAL"], let v = Double(s), v.isFinite, v >= 0 {
            interval = v
            delay = v
        }
        var columns = 80
        var size = winsize()
        if terminal && ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 {
            columns = Int(size.ws_col)
        } else if let s = ProcessInfo.processInfo.environment["COLUMNS"], let c = Int(s), c > 0 {
            columns = c
        }
        return ProgressMeter(command: command, style: style, interval: interval, delay: delay, width: columns,
                             sink: { writeAll(2, Array($0.utf8)) })
    }

    /// Seconds on a monotonic clock.
    static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Starts the clock and, unless drawing on every update, the timer that draws.
    func start() {
        lock.lock()
        started = clock()
        lock.unlock()
        guard style != .off, interval > 0 else { return }
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        let period = style == .bar ? interval : min(interval, 1)
        t.schedule(deadline: .now() + min(delay, period), repeating: period, leeway: .milliseconds(50))
        t.setEventHandler { [weak self] in self?.tick() }
        timer = t
        t.resume()
    }

    /// Changes the status (cheap: a lock and the closure).
    func update(_ change: (inout Status) -> Void) {
        guard style != .off else { return }
        lock.lock()
        defer { lock.unlock() }
        change(&status)
        if interval == 0 && !finished { drawLocked(now: clock()) }
    }

    /// Sets a closure polled for the bytes read before each drawing (nil: none).
    func setBytesProbe(_ probe: (() -> Int64?)?) {
        lock.lock()
        bytesProbe = probe
        lock.unlock()
    }

    /// Removes a line drawn on the terminal so that a message can be printed; the next tick redraws it.
    func clearForMessage() {
        lock.lock()
        defer { lock.unlock() }
        if drawnOnTerminal {
            sink("\r\u{1B}[K")
            drawnOnTerminal = false
        }
    }

    /// Stops drawing: clears the terminal line, or after plain lines prints a last one with the total time.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        timer?.cancel()
        timer = nil
        if drawnOnTerminal { sink("\r\u{1B}[K") }
        drawnOnTerminal = false
        if style == .lines && linesPrinted > 0 {
            sink("joblabel \(command): done in \(ProgressMeter.duration(clock() - started))\n")
        }
    }

    /// Timer callback: draws when the delay has passed and the interval since the last drawing.
    func tick() {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        let now = clock()
        guard now - started >= delay, now - lastDrawn >= interval - 0.01 else { return }
        drawLocked(now: now)
    }

    private func drawLocked(now: Double) {
        if let probe = bytesProbe, let bytes = probe() { status.bytesDone = bytes }
        lastDrawn = now
        let elapsed = now - started
        switch style {
        case .off: return
        case .lines:
            sink("joblabel \(command): \(ProgressMeter.describe(status, elapsed: elapsed, bar: nil))\n")
            linesPrinted += 1
        case .bar:
            let text = ProgressMeter.fitted(status, elapsed: elapsed, bar: 20, width: width - 2 - command.count)
            sink("\r\(command) \(text)\u{1B}[K")
            drawnOnTerminal = true
        }
    }

    /// The parts of a status line, most important first: phase and detail; bytes of the total with share
    /// (with a bar of `bar` characters when given and the total is known); items; rate and ETA; elapsed time.
    /// The share never reaches 100 % while the run goes on (the line is cleared at the end). Without a known
    /// total, the rate is in items per second when items are counted.
    static func parts(_ s: Status, elapsed: Double, bar: Int?) -> (head: String, progress: String?, items: String?, rate: String?, elapsed: String) {
        var head = s.phase
        if !s.detail.isEmpty { head += head.isEmpty ? s.detail : ", " + s.detail }
        var progress: String?
        if let done = s.bytesDone {
            var bytes = byteCount(done)
            if let total = s.bytesTotal, total > 0 {
                let f = min(0.99, Double(done) / Double(total))
                bytes += " of \(byteCount(total)) (\(Int((f * 100).rounded(.down))) %)"
                if let bar {
                    let filled = Int((Double(bar) * f).rounded(.down))
                    bytes = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: bar - filled) + "] " + bytes
                }
            }
            progress = bytes
        }
        let items = s.itemName.isEmpty ? nil : "\(s.items) \(s.itemName)"
        var rate: String?
        let totalKnown = (s.bytesTotal ?? 0) > 0
        if !totalKnown, !s.itemName.isEmpty {
            if elapsed > 0 && s.items > 0 { rate = "\(Int((Double(s.items) / elapsed).rounded())) \(s.itemName)/s" }
        } else if let done = s.bytesDone, elapsed > 0 && done > 0 {
            let perSecond = Double(done) / elapsed
            var r = "\(byteCount(Int64(perSecond)))/s"
            if let total = s.bytesTotal, total > done { r += ", ETA \(duration(Double(total - done) / perSecond))" }
            rate = r
        }
        return (head, progress, items, rate, duration(elapsed))
    }

    /// The status as one line (see `parts`).
    static func describe(_ s: Status, elapsed: Double, bar: Int?) -> String {
        let p = parts(s, elapsed: elapsed, bar: bar)
        return ([p.head.isEmpty ? nil : p.head, p.progress, p.items, p.rate, p.elapsed] as [String?]).compactMap { $0 }.joined(separator: "; ")
    }

    /// The status in at most `width` characters, for a terminal. What does not fit goes in this order: the
    /// bar, the elapsed time, the item count, then the phase is shortened; the bytes, share, rate and ETA
    /// stay (only a terminal too narrow for them cuts them).
    static func fitted(_ s: Status, elapsed: Double, bar: Int, width: Int) -> String {
        let width = max(10, width)
        let withBar = describe(s, elapsed: elapsed, bar: bar)
        if withBar.count <= width { return withBar }
        let p = parts(s, elapsed: elapsed, bar: nil)
        func line(_ items: [String?]) -> String { items.compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "; ") }
        for candidate in [line([p.head, p.progress, p.items, p.rate, p.elapsed]), line([p.head, p.progress, p.items, p.rate]),
                          line([p.head, p.progress, p.rate])] where candidate.count <= width {
            return candidate
        }
        let rest = line([p.progress, p.rate])
        let room = width - rest.count - 2
        if !p.head.isEmpty && !rest.isEmpty && room >= 8 {
            return String(p.head.prefix(room - 1)) + "…; " + rest
        }
        let all = line([p.head, rest])
        return all.count <= width ? all : String(all.prefix(width - 1)) + "…"
    }

    /// Bytes as "812 B", "3.4 kB", "412.3 MB", "1.20 GB" (powers of 1000).
    static func byteCount(_ n: Int64) -> String {
        let x = Double(n)
        switch n {
        case ..<1000: return "\(n) B"
        case ..<1_000_000: return String(format: "%.1f kB", x / 1e3)
        case ..<1_000_000_000: return String(format: "%.1f MB", x / 1e6)
        default: return String(format: "%.2f GB", x / 1e9)
        }
    }

    /// Seconds as "4.2 s", "3 min 05 s" or "1 h 02 min".
    static func duration(_ seconds: Double) -> String {
        let s = max(0, seconds.isFinite ? seconds : 0)
        if s < 60 { return String(format: "%.1f s", s) }
        let whole = Int(s.rounded())
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, whole / 60 % 60)
    }
}
