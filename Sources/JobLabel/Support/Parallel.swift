import Dispatch
import Foundation

/// Deterministic parallel loops on a number of worker threads: work is cut into fixed-size blocks independent
/// of the thread count, so per-block results (and their in-order reduction) are identical on 1 or N threads.
public struct Parallel: Sendable {
    /// Worker threads; 1 runs everything on the calling thread.
    public let threads: Int

    /// `threads` workers, or nil for the default: `JOBLABEL_THREADS` when set, else every active core.
    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? Parallel.defaultThreads)
    }

    /// The thread count used when none is given.
    static let defaultThreads: Int = {
        if let s = getenvString("JOBLABEL_THREADS"), let n = Int(s), n >= 1 { return n }
        return max(1, ProcessInfoShim.activeProcessorCount)
    }()

    /// Runs `body(block)` for every block in `0..<blocks`, concurrently when allowed.
    func forEachBlock(_ blocks: Int, _ body: (Int) -> Void) {
        if blocks <= 0 { return }
        if threads <= 1 || blocks == 1 {
            for b in 0..<blocks { body(b) }
            return
        }
        let workers = min(threads, blocks)
        // Workers take the next block from a shared counter; which thread runs a block never affects its result.
        let next = BlockCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let b = next.take()
                if b >= blocks { break }
                body(b)
            }
        }
    }

    /// Splits `0..<count` into blocks of `blockSize` and runs `body(range)` for each.
    func forEachRange(count: Int, blockSize: Int, _ body: (Range<Int>) -> Void) {
        let size = max(1, blockSize)
        let blocks = (count + size - 1) / size
        forEachBlock(blocks) { b in
            let lo = b * size
            body(lo..<min(count, lo + size))
        }
    }

    /// Runs `body` over fixed blocks of `0..<count` and returns the per-block results in block order.
    func mapRanges<T>(count: Int, blockSize: Int, _ body: (Range<Int>) -> T) -> [T] {
        let size = max(1, blockSize)
        let blocks = (count + size - 1) / size
        var results = [T?](repeating: nil, count: blocks)
        results.withUnsafeMutableBufferPointer { out in
            let slots = out
            forEachBlock(blocks) { b in
                let lo = b * size
                slots[b] = body(lo..<min(count, lo + size))
            }
        }
        return results.map { $0! }
    }
}

/// A value computed on a thread of its own (or at once with one thread); `wait()` returns it.
final class Pending<T>: @unchecked Sendable {
    private let work: () -> T
    private var value: T?
    private let group = DispatchGroup()

    init(_ parallel: Parallel = Parallel(), _ work: @escaping () -> T) {
        self.work = work
        if parallel.threads > 1 {
            DispatchQueue.global().async(group: group) { self.value = self.work() }
        } else {
            value = work()
        }
    }

    /// Waits for the value.
    func wait() -> T {
        group.wait()
        return value ?? work()  // always set once the group is done
    }
}

/// A lock-protected counter handing out block numbers to worker threads.
final class BlockCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    /// The next block number.
    func take() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}
