import XCTest
@testable import JobLabel

final class ClassifierTests: XCTestCase {
    /// Manning, Raghavan & Schütze, Introduction to IR, example 13.1 (raw counts, alpha 1).
    func testNaiveBayesTextbookExample() throws {
        // Vocabulary: 0 chinese, 1 beijing, 2 shanghai, 3 macao, 4 tokyo, 5 japan.
        let rows: [[(Int32, Float)]] = [[(0, 2), (1, 1)], [(0, 2), (2, 1)], [(0, 1), (3, 1)], [(0, 1), (4, 1), (5, 1)]]
        var x = CSRMatrix(columnCount: 6)
        for r in rows { try x.appendRow(r.map { (column: Int($0.0), value: $0.1) }) }
        let model = NaiveBayes.fit(NaiveBayesConfig(), x: x, y: [0, 0, 0, 1], classes: ["china", "japan"])
        // P(chinese|china) = 6/14, P(tokyo|china) = 1/14, P(chinese|japan) = 2/9, P(tokyo|japan) = 2/9.
        XCTAssertEqual(Double(model.weights[0 * 2 + 0]), log(6.0 / 14), accuracy: 1e-6)
        XCTAssertEqual(Double(model.weights[4 * 2 + 0]), log(1.0 / 14), accuracy: 1e-6)
        XCTAssertEqual(Double(model.weights[0 * 2 + 1]), log(2.0 / 9), accuracy: 1e-6)
        XCTAssertEqual(Double(model.bias[0]), log(0.75), accuracy: 1e-6)
        // Test document: chinese ×3, tokyo, japan. Scores ∝ 0.0003 vs 0.0001 in the book.
        let d = try CSRMatrix(rowOffsets: [0, 3], columns: [0, 4, 5], values: [3, 1, 1], columnCount: 6)
        let p = predictor(model, algorithm: .nb).probabilities(d)[0]
        let china = 0.75 * pow(3.0 / 7, 3) * (1.0 / 14) * (1.0 / 14)
        let japan = 0.25 * pow(2.0 / 9, 3) * (2.0 / 9) * (2.0 / 9)
        XCTAssertEqual(Double(p[0]), china / (china + japan), accuracy: 1e-5)
        XCTAssertEqual(Double(p[0] + p[1]), 1, accuracy: 1e-6)
        XCTAssertEqual(argmaxRows(p, classes: 2), [0])
        let uniform = NaiveBayes.fit(NaiveBayesConfig(alpha: 1, fitPrior: false), x: x, y: [0, 0, 0, 1], classes: ["china", "japan"])
        XCTAssertEqual(Double(uniform.bias[1]), log(0.5), accuracy: 1e-6)
    }

    private func randomProblem(rows: Int, cols: Int, k: Int, seed: UInt64) -> (CSRMatrix, [Int32]) {
        var rng = SplitMix64(seed: seed)
        var x = CSRMatrix(columnCount: cols)
        var y: [Int32] = []
        for _ in 0..<rows {
            let label = Int32(rng.next() % UInt64(k))
            var used = Set<Int32>()
            var columns: [Int32] = []
            for _ in 0..<4 {
                let c = Int32(rng.next() % UInt64(cols))
                if used.insert(c).inserted { columns.append(c) }
            }
            columns.sort()
            var entries: [(column: Int, value: Float)] = []
            for c in columns {
                let position = x.nonZeroCount + entries.count
                entries.append((Int(c), Float(rng.next() % 1000) / 1000 + 0.1 + (Int32(position) % Int32(k) == label ? 0.5 : 0)))
            }
            try! x.appendRow(entries)
            y.append(label)
        }
        return (x, y)
    }

    func testLogisticGradientMatchesFiniteDifferences() {
        let (x, y) = randomProblem(rows: 40, cols: 12, k: 3, seed: 7)
        var yy = y
        yy[5] = -1  // an unlabeled row must not contribute
        let problem = SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 3, C: 0.7,
                                     sampleWeights: LogisticRegression.sampleWeights(yy, k: 3, mode: .balanced))
        var rng = SplitMix64(seed: 3)
        let theta = (0..<(12 * 3 + 3)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 2000 }
        var g = [Float]()
        _ = problem.lossAndGradient(theta, gradient: &g)
        let h: Float = 1e-2
        for i in stride(from: 0, to: theta.count, by: 3) {
            var plus = theta, minus = theta
            plus[i] += h; minus[i] -= h
            var scratch = [Float]()
            let numeric = (problem.lossAndGradient(plus, gradient: &scratch) - problem.lossAndGradient(minus, gradient: &scratch)) / Double(2 * h)
            XCTAssertEqual(Double(g[i]), numeric, accuracy: 2e-4, "component \(i)")
        }
    }

    /// The three ways of evaluating the objective (fused row pass; row blocks and xᵀ; column tiles) agree.
    func testObjectivePassesAgree() {
        let (x, y) = randomProblem(rows: 900, cols: 60, k: 5, seed: 13)
        var yy = y
        yy[3] = -1
        let weights = LogisticRegression.sampleWeights(yy, k: 5, mode: .balanced)
        let fused = SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 5, C: 0.5, sampleWeights: weights, fusedPass: true)
        let columns = SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 5, C: 0.5, sampleWeights: weights, fusedPass: false)
        XCTAssertTrue(fused.fused)
        XCTAssertFalse(columns.fused)
        var rng = SplitMix64(seed: 9)
        let theta = (0..<fused.parameterCount).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        var g1 = [Float](), g2 = [Float]()
        let f1 = fused.lossAndGradient(theta, gradient: &g1)
        let f2 = columns.lossAndGradient(theta, gradient: &g2)
        XCTAssertEqual(f1, f2, accuracy: 1e-5 * abs(f2))
        XCTAssertEqual(g1.count, g2.count)
        for i in g1.indices { XCTAssertEqual(g1[i], g2[i], accuracy: 1e-4 * max(1, abs(g2[i]))) }
        XCTAssertEqual(fused.lastGradientMax, columns.lastGradientMax, accuracy: 1e-4 * columns.lastGradientMax)
        // Column tiles (used when W is large) give the same scores as row gathers.
        let tiled = SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 5, C: 0.5, sampleWeights: weights, fusedPass: false, tileRows: 256)
        XCTAssertEqual(tiled.tiles.count, 4)
        XCTAssertTrue(columns.tiles.isEmpty)
        var g3 = [Float]()
        XCTAssertEqual(tiled.lossAndGradient(theta, gradient: &g3), f2, accuracy: 1e-5 * abs(f2))
        for i in g3.indices { XCTAssertEqual(g3[i], g2[i], accuracy: 1e-4 * max(1, abs(g2[i]))) }
    }

    /// Hessian-vector products (at the last evaluated point) match central differences of the gradient, `d·Hd`
    /// is returned with them, and the diagonal matches the products with unit vectors — for each of the three
    /// evaluation strategies.
    func testHessianProductsMatchGradientDifferences() {
        let (x, y) = randomProblem(rows: 600, cols: 20, k: 4, seed: 17)
        var yy = y
        yy[2] = -1
        let weights = LogisticRegression.sampleWeights(yy, k: 4, mode: .balanced)
        let problems = [
            SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 4, C: 0.8, sampleWeights: weights, fusedPass: true),
            SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 4, C: 0.8, sampleWeights: weights, fusedPass: false),
            SoftmaxProblem(x: x, xT: x.transposed(), y: yy, k: 4, C: 0.8, sampleWeights: weights, fusedPass: false, tileRows: 256),
        ]
        XCTAssertTrue(problems[0].fused)
        XCTAssertTrue(problems[1].tiles.isEmpty)
        XCTAssertEqual(problems[2].tiles.count, 3)
        let n = problems[0].parameterCount
        var rng = SplitMix64(seed: 5)
        let theta = (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        let direction = (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        var products: [[Float]] = []
        for (which, problem) in problems.enumerated() {
            let h: Float = 1e-2
            var plus = [Float](), minus = [Float](), g = [Float]()
            _ = problem.lossAndGradient(zip(theta, direction).map { $0 + h * $1 }, gradient: &plus)
            _ = problem.lossAndGradient(zip(theta, direction).map { $0 - h * $1 }, gradient: &minus)
            _ = problem.lossAndGradient(theta, gradient: &g)
            let hd = PinnedBuffer<Float>(repeating: 0, count: n)
            let dHd = problem.hessianTimes(PinnedBuffer(direction), into: hd)
            let scale = hd.array.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0)
            for i in 0..<n {
                XCTAssertEqual(hd[i], (plus[i] - minus[i]) / (2 * h), accuracy: 2e-3 * scale, "strategy \(which), component \(i)")
            }
            let dot = zip(direction, hd.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(dHd, dot, accuracy: 1e-5 * abs(dot))
            XCTAssertGreaterThan(dHd, 0, "the Hessian is positive definite")
            let diagonal = PinnedBuffer<Float>(repeating: 0, count: n)
            problem.hessianDiagonal(into: diagonal)
            for i in Array(stride(from: 0, to: n, by: 5)) + [n - 2, n - 1] {
                var unit = [Float](repeating: 0, count: n)
                unit[i] = 1
                let column = PinnedBuffer<Float>(repeating: 0, count: n)
                _ = problem.hessianTimes(PinnedBuffer(unit), into: column)
                XCTAssertEqual(diagonal[i], column[i], accuracy: 1e-4 * column[i], "strategy \(which), diagonal \(i)")
            }
            products.append(hd.array)
        }
        for p in products.dropFirst() { for i in 0..<n { XCTAssertEqual(p[i], products[0][i], accuracy: 1e-4 * max(1, abs(products[0][i]))) } }
    }

    /// The trust-region solution at the default tolerance is as good as a much tighter one (no early stop), and
    /// an iteration limit is reported as such.
    func testTrustRegionReachesTheMinimum() {
        let (x, y) = randomProblem(rows: 800, cols: 120, k: 5, seed: 29)
        let classes = ["a", "b", "c", "d", "e"]
        let (_, loose) = LogisticRegression.fit(LogisticRegressionConfig(C: 3), x: x, xT: x.transposed(), y: y, classes: classes)
        let (_, tight) = LogisticRegression.fit(LogisticRegressionConfig(C: 3, tolerance: 1e-7), x: x, xT: x.transposed(), y: y, classes: classes)
        XCTAssertTrue(loose.converged, loose.stopReason)
        XCTAssertLessThanOrEqual(loose.gradientMax, 1e-4)
        XCTAssertLessThanOrEqual(tight.finalLoss, loose.finalLoss)
        XCTAssertEqual(loose.finalLoss, tight.finalLoss, accuracy: 1e-6 * tight.finalLoss)
        XCTAssertGreaterThan(loose.evaluations, loose.iterations, "each iteration takes a loss evaluation and Hessian products")
        let (_, capped) = LogisticRegression.fit(LogisticRegressionConfig(C: 3, maxIterations: 1), x: x, xT: x.transposed(), y: y, classes: classes)
        XCTAssertEqual(capped.iterations, 1)
        XCTAssertFalse(capped.converged)
        XCTAssertEqual(capped.stopReason, "iteration limit reached")
        XCTAssertGreaterThan(capped.finalLoss, loose.finalLoss)
    }

    func testLogisticRegressionConvergesAndIsThreadIndependent() {
        let (x, y) = randomProblem(rows: 1500, cols: 300, k: 4, seed: 11)
        let classes = ["a", "b", "c", "d"]
        let (m1, r1) = LogisticRegression.fit(LogisticRegressionConfig(C: 1, maxIterations: 500), x: x, xT: x.transposed(),
                                              y: y, classes: classes, parallel: Parallel(threads: 1))
        let (m3, r3) = LogisticRegression.fit(LogisticRegressionConfig(C: 1, maxIterations: 500), x: x, xT: x.transposed(),
                                              y: y, classes: classes, parallel: Parallel(threads: 3))
        XCTAssertTrue(r1.converged, r1.stopReason)
        XCTAssertLessThanOrEqual(r1.gradientMax, 1e-4 * 10)
        XCTAssertEqual(m1, m3, "weights must not depend on the thread count")
        XCTAssertEqual(r1, r3)
        // The fit beats chance clearly on its training data.
        let predicted = argmaxRows(predictor(m1).probabilities(x)[0], classes: 4)
        let accuracy = Double(zip(predicted, y).filter { $0 == Int($1) }.count) / Double(y.count)
        XCTAssertGreaterThan(accuracy, 0.35)
    }

    func testFitsWithoutClassesReturnEmptyModels() {
        let (x, _) = randomProblem(rows: 40, cols: 10, k: 2, seed: 3)
        let none = [Int32](repeating: -1, count: x.rowCount)
        let (lr, report) = LogisticRegression.fit(LogisticRegressionConfig(), x: x, xT: x.transposed(), y: none, classes: [])
        XCTAssertEqual(lr.classCount, 0)
        XCTAssertFalse(report.converged)
        XCTAssertEqual(report.stopReason, "no classes to learn")
        let nb = NaiveBayes.fit(NaiveBayesConfig(), x: x, y: none, classes: [])
        XCTAssertEqual(nb.classCount, 0)
        XCTAssertEqual(nb.featureCount, 10)
    }

    func testTransposeAndNaiveBayesDoNotDependOnTheThreadCount() throws {
        let (square, labels) = randomProblem(rows: 700, cols: 90, k: 5, seed: 23)
        // 40 more columns that no row uses: some parts of the feature range are empty.
        let x = try CSRMatrix(rowOffsets: square.rowOffsets, columns: square.columns, values: square.values, columnCount: 130)
        var y = labels
        y[3] = -1  // an unlabeled row is not counted
        var expected = [[(Int32, Float)]](repeating: [], count: x.columnCount)
        for i in 0..<x.rowCount { for t in x.row(i) { expected[Int(x.columns[t])].append((Int32(i), x.values[t])) } }
        var models: [LinearModel] = []
        for threads in [1, 2, 3, 8] {
            let parallel = Parallel(threads: threads)
            let t = x.transposed(parallel: parallel)
            XCTAssertEqual(t.rowCount, 130)
            XCTAssertEqual(t.columnCount, 700)
            for j in 0..<x.columnCount {
                let got = t.row(j).map { (t.columns[$0], t.values[$0]) }
                XCTAssertTrue(got.elementsEqual(expected[j]) { $0.0 == $1.0 && $0.1 == $1.1 }, "column \(j), \(threads) threads")
            }
            models.append(NaiveBayes.fit(NaiveBayesConfig(), x: x, y: y, classes: ["a", "b", "c", "d", "e"], parallel: parallel))
        }
        for m in models.dropFirst() { XCTAssertEqual(m, models[0], "Naive Bayes weights must not depend on the thread count") }
        XCTAssertTrue(models[0].weights.allSatisfy { $0.isFinite && $0 < 0 })
    }

    func testStrongerPenaltyShrinksWeights() {
        let (x, y) = randomProblem(rows: 300, cols: 50, k: 3, seed: 5)
        let (weak, _) = LogisticRegression.fit(LogisticRegressionConfig(C: 100), x: x, xT: x.transposed(), y: y, classes: ["a", "b", "c"])
        let (strong, _) = LogisticRegression.fit(LogisticRegressionConfig(C: 0.01), x: x, xT: x.transposed(), y: y, classes: ["a", "b", "c"])
        XCTAssertLessThan(Kernels.maxAbs(strong.weights), Kernels.maxAbs(weak.weights))
    }

    func testEncodeLabelsSortsByteOrderAndSkipsNil() {
        let (classes, y) = encodeLabels(["sales", nil, "Entry", "entry", "sales"])
        XCTAssertEqual(classes, ["Entry", "entry", "sales"])
        XCTAssertEqual(y, [2, -1, 0, 1, 2])
    }

    func testTopClassesAreTheFirstOfTheSortedClasses() {
        // Rows with ties (values from a small set), every count from 1 past the class count: the same classes,
        // in the same order, as sorting by probability (highest first) then class index.
        var generator = SystemRandomNumberGenerator()
        for k in [1, 2, 7, 20] {
            let rows = 50
            let p = (0..<(rows * k)).map { _ in Float(Int.random(in: 0..<5, using: &generator)) / 4 }
            for i in 0..<rows {
                let sorted = (0..<k).sorted { p[i * k + $0] != p[i * k + $1] ? p[i * k + $0] > p[i * k + $1] : $0 < $1 }
                for count in 1...(k + 1) {
                    XCTAssertEqual(topClasses(p, row: i, classes: k, count: count), Array(sorted.prefix(count)))
                }
            }
        }
    }
}
