import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI

/// The progress meter of `train` and `classify`, with a fake clock and a string sink.
final class ProgressTests: XCTestCase {
    final class Recorder: @unchecked Sendable {
        var text = ""
        var now = 0.0
        private let lock = NSLock()
        func write(_ s: String) { lock.lock(); text += s; lock.unlock() }
        var written: String { lock.lock(); defer { lock.unlock() }; return text }
    }

    func testPlainLinesShowBytesRateETAAndItems() {
        let r = Recorder()
        let meter = ProgressMeter(command: "classify", style: .lines, interval: 0, delay: 0, sink: r.write, clock: { r.now })
        meter.start()
        r.now = 10
        meter.update { $0.phase = "labeling"; $0.bytesTotal = 400_000_000; $0.bytesDone = 100_000_000; $0.itemName = "postings"; $0.items = 5000 }
        XCTAssertEqual(r.written, "joblabel classify: labeling; 100.0 MB of 400.0 MB (25 %); 5000 postings; 10.0 MB/s, ETA 30.0 s; 10.0 s\n")
        meter.finish()
        XCTAssertTrue(r.written.hasSuffix("joblabel classify: done in 10.0 s\n"), r.written)
        meter.update { $0.items = 1 }
        XCTAssertEqual(r.written.split(separator: "\n").count, 2, "nothing after finish")
    }

    func testTerminalLineIsRedrawnWithABarAndClearedAtTheEnd() {
        let r = Recorder()
        let meter = ProgressMeter(command: "train", style: .bar, interval: 0, delay: 0, width: 200, sink: r.write, clock: { r.now })
        meter.start()
        r.now = 2
        meter.update { $0.phase = "reading"; $0.bytesTotal = 1000; $0.bytesDone = 500 }
        XCTAssertEqual(r.written, "\rtrain reading; [##########----------] 500 B of 1.0 kB (50 %); 250 B/s, ETA 2.0 s; 2.0 s\u{1B}[K")
        meter.clearForMessage()
        XCTAssertTrue(r.written.hasSuffix("\r\u{1B}[K"))
        meter.update { $0.phase = "seniority: logistic regression on all rows"; $0.detail = "Newton iteration 3 (at most 200)"; $0.bytesDone = nil }
        XCTAssertTrue(r.written.hasSuffix("\rtrain seniority: logistic regression on all rows, Newton iteration 3 (at most 200); 2.0 s\u{1B}[K"), r.written)
        meter.finish()
        XCTAssertTrue(r.written.hasSuffix("\r\u{1B}[K"), "the line is cleared, no 'done' line")
        XCTAssertFalse(r.written.contains("\n"))
    }

    func testNarrowTerminalsGetAShortenedLine() {
        let r = Recorder()
        let meter = ProgressMeter(command: "train", style: .bar, interval: 0, delay: 0, width: 40, sink: r.write, clock: { r.now })
        meter.start()
        meter.update { $0.phase = String(repeating: "x", count: 100) }
        let line = r.written.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\u{1B}[K", with: "")
        XCTAssertEqual(line.count, 39)
        XCTAssertTrue(line.hasSuffix("…"))
    }

    func testQuietPrintsNothing() {
        let r = Recorder()
        let meter = ProgressMeter(command: "train", style: .off, interval: 0, delay: 0, sink: r.write, clock: { r.now })
        meter.start()
        meter.update { $0.phase = "reading" }
        meter.clearForMessage()
        meter.finish()
        XCTAssertEqual(r.written, "")
    }

    /// With a timer: nothing before the delay (short runs stay silent), lines once it has passed.
    func testTimerDrawsOnlyAfterTheDelay() {
        let quick = Recorder()
        let short = ProgressMeter(command: "train", style: .lines, interval: 0.05, delay: 0.4, sink: quick.write)
        short.start()
        short.update { $0.phase = "reading" }
        Thread.sleep(forTimeInterval: 0.1)
        short.finish()
        XCTAssertEqual(quick.written, "", "a run shorter than the delay prints nothing")

        let slow = Recorder()
        let long = ProgressMeter(command: "train", style: .lines, interval: 0.05, delay: 0.05, sink: slow.write)
        long.start()
        long.update { $0.phase = "reading" }
        let deadline = Date().addingTimeInterval(5)
        while !slow.written.contains("joblabel train: reading") && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        long.finish()
        XCTAssertTrue(slow.written.contains("joblabel train: reading; "), slow.written)
        XCTAssertTrue(slow.written.hasSuffix(" s\n") && slow.written.contains("done in"), slow.written)
    }

    func testByteCountsAndDurations() {
        XCTAssertEqual(ProgressMeter.byteCount(999), "999 B")
        XCTAssertEqual(ProgressMeter.byteCount(3_400), "3.4 kB")
        XCTAssertEqual(ProgressMeter.byteCount(412_345_678), "412.3 MB")
        XCTAssertEqual(ProgressMeter.byteCount(1_204_000_000), "1.20 GB")
        XCTAssertEqual(ProgressMeter.duration(4.24), "4.2 s")
        XCTAssertEqual(ProgressMeter.duration(185), "3 min 05 s")
        XCTAssertEqual(ProgressMeter.duration(3720), "1 h 02 min")
        // Unknown total (standard input): bytes and rate, no share, bar or ETA.
        var s = ProgressMeter.Status()
        s.bytesDone = 2_000_000
        XCTAssertEqual(ProgressMeter.describe(s, elapsed: 2, bar: 10), "2.0 MB; 1.0 MB/s; 2.0 s")
        // With postings counted, their rate.
        s.itemName = "postings"
        s.items = 5000
        XCTAssertEqual(ProgressMeter.describe(s, elapsed: 2, bar: 10), "2.0 MB; 5000 postings; 2500 postings/s; 2.0 s")
    }

    /// On an 80-column terminal the bar goes first, then the elapsed time and the item count, then the
    /// phase is shortened: the share, rate and ETA stay.
    func testTheLineFitsTheTerminalKeepingRateAndETA() {
        var s = ProgressMeter.Status()
        s.phase = "labeling"
        s.bytesTotal = 1_204_000_000
        s.bytesDone = 412_345_678
        s.itemName = "postings"
        s.items = 1_200_000
        let wide = ProgressMeter.fitted(s, elapsed: 4.8, bar: 20, width: 200)
        XCTAssertEqual(wide, "labeling; [######--------------] 412.3 MB of 1.20 GB (34 %); 1200000 postings; 85.9 MB/s, ETA 9.2 s; 4.8 s")
        let r = Recorder()
        let meter = ProgressMeter(command: "classify", style: .bar, interval: 0, delay: 0, width: 80, sink: r.write, clock: { r.now })
        meter.start()
        r.now = 4.8
        meter.update { $0 = s }
        let line = r.written.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\u{1B}[K", with: "")
        XCTAssertEqual(line, "classify labeling; 412.3 MB of 1.20 GB (34 %); 85.9 MB/s, ETA 9.2 s")
        XCTAssertEqual(ProgressMeter.fitted(s, elapsed: 4.8, bar: 20, width: 90),
                       "labeling; 412.3 MB of 1.20 GB (34 %); 1200000 postings; 85.9 MB/s, ETA 9.2 s; 4.8 s")
        XCTAssertEqual(ProgressMeter.fitted(s, elapsed: 4.8, bar: 20, width: 80),
                       "labeling; 412.3 MB of 1.20 GB (34 %); 1200000 postings; 85.9 MB/s, ETA 9.2 s")
        s.phase = "seniority: logistic regression on all rows"
        let narrow = ProgressMeter.fitted(s, elapsed: 4.8, bar: 20, width: 60)
        XCTAssertEqual(narrow, "seniority…; 412.3 MB of 1.20 GB (34 %); 85.9 MB/s, ETA 9.2 s")
        XCTAssertEqual(narrow.count, 60)
    }

    /// The share stops at 99 % until the meter is finished: the last batch may still be labeled.
    func testNeverShowsAHundredPercentBeforeTheEnd() {
        var s = ProgressMeter.Status()
        s.bytesTotal = 1000
        s.bytesDone = 1000
        XCTAssertEqual(ProgressMeter.describe(s, elapsed: 1, bar: 10), "[#########-] 1.0 kB of 1.0 kB (99 %); 1.0 kB/s; 1.0 s")
        s.bytesDone = 500
        XCTAssertEqual(ProgressMeter.describe(s, elapsed: 1, bar: 10), "[#####-----] 500 B of 1.0 kB (50 %); 500 B/s, ETA 1.0 s; 1.0 s")
    }

    /// Bytes read are the read position of the descriptor open on the current file, after the earlier files.
    /// The stream says how far it has read: bytes of the records handed out, never a read-ahead chunk more,
    /// and the inputs' total (none for standard input).
    func testRecordStreamCountsTheBytesOfTheRecordsHandedOut() throws {
        let dir = makeTempDirectory("joblabel-progress")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = String(repeating: "{\"text\": \"a\"}\n", count: 10), b = String(repeating: "{\"text\": \"bb\"}\n", count: 5)
        try a.write(toFile: dir + "/a.jsonl", atomically: true, encoding: .utf8)
        try b.write(toFile: dir + "/b.jsonl", atomically: true, encoding: .utf8)
        let stream = RecordStream([InputSpec(path: dir + "/a.jsonl", format: .jsonl), InputSpec(path: dir + "/b.jsonl", format: .jsonl)], heads: [])
        XCTAssertEqual(stream.totalBytes, Int64(a.utf8.count + b.utf8.count))
        XCTAssertEqual(stream.bytesConsumed, 0)
        XCTAssertEqual(try stream.next(maxCount: 4).count, 4)
        XCTAssertEqual(stream.bytesConsumed, 4 * 14)
        XCTAssertEqual(try stream.next(maxCount: 100).count, 6)
        XCTAssertEqual(stream.bytesConsumed, 10 * 14)
        XCTAssertEqual(try stream.next(maxCount: 2).count, 2)
        XCTAssertEqual(stream.bytesConsumed, 10 * 14 + 2 * 15)
        XCTAssertEqual(try stream.next(maxCount: 100).count, 3)
        XCTAssertTrue(try stream.next(maxCount: 100).isEmpty)
        XCTAssertEqual(stream.bytesConsumed, stream.totalBytes, "all of it at the end, and only then")
        XCTAssertNil(RecordStream([InputSpec(path: "-", format: .jsonl)], heads: []).totalBytes, "standard input has no size")
    }
}
