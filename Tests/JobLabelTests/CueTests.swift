import XCTest
@testable import JobLabel

/// Seniority cue features: each rule on tiny titles and texts, and how cues enter the TF-IDF matrix.
final class CueTests: XCTestCase {
    private func cues(_ groups: [CueGroup] = CueGroup.allCases, title: String = "", text: String = "") -> [String] {
        var tokenizer = Tokenizer(TokenizerConfig(lowercase: true, minTokenLength: 1))
        var t = TokenList(), x = TokenList()
        tokenizer.tokenize(Array(title.utf8), into: &t)
        tokenizer.tokenize(Array(text.utf8), into: &x)
        return CueExtractor(groups).cues(title: t, text: x)
    }

    private func years(_ text: String) -> [String] { cues([.years], text: text) }
    private func title(_ title: String) -> [String] { cues([.titleLevel], title: title) }
    private func textLevel(_ text: String) -> [String] { cues([.textLevel], text: text) }
    private func degree(_ text: String) -> [String] { cues([.degree], text: text) }

    func testYearsOfExperienceForms() {
        XCTAssertEqual(years("You have 5+ years of experience in B2B sales."),
                       ["cue:years", "cue:years>=1", "cue:years>=2", "cue:years>=3", "cue:years>=5"])
        // A range counts from its lower bound.
        XCTAssertEqual(years("3-5 yrs experience with payroll"), ["cue:years", "cue:years>=1", "cue:years>=2", "cue:years>=3"])
        XCTAssertEqual(years("3 to 5 years' experience"), ["cue:years", "cue:years>=1", "cue:years>=2", "cue:years>=3"])
        // Spelled-out numbers with "minimum of" / "at least", no experience word needed.
        XCTAssertEqual(years("A minimum of two years in a busy clinic."), ["cue:years", "cue:years>=1", "cue:years>=2"])
        XCTAssertEqual(years("at least ten years leading finance teams").last, "cue:years>=10")
        // The largest requirement wins.
        XCTAssertEqual(years("2+ years of SQL experience and 8 years of overall experience").last, "cue:years>=8")
        XCTAssertEqual(years("1 year of experience preferred"), ["cue:years", "cue:years>=1"])
    }

    func testYearsNeedsExperienceContext() {
        XCTAssertEqual(years("Founded 25 years ago, we ship parts worldwide."), [])
        XCTAssertEqual(years("A 2 year fixed-term contract in Leeds."), [])
        XCTAssertEqual(years("No years mentioned here, just experience."), [])
    }

    func testNoExperienceRequired() {
        XCTAssertEqual(years("No experience necessary, full training given."), ["cue:years=0"])
        XCTAssertEqual(years("No prior experience? No problem."), ["cue:years=0"])
        XCTAssertEqual(years("Experience not required."), ["cue:years=0"])
        XCTAssertEqual(years("0-1 years of experience"), ["cue:years=0"])
        // A stated requirement beats a "no experience" phrase elsewhere.
        XCTAssertEqual(years("No experience with Go needed, but 3 years of Java experience is.").first, "cue:years")
    }

    func testTitleLevelWords() {
        XCTAssertEqual(title("Marketing Intern (Summer 2025)"), ["cue:title=intern"])
        XCTAssertEqual(title("Engineering Co-op Student"), ["cue:title=intern"])
        XCTAssertEqual(title("Jr. Accountant | Hybrid"), ["cue:title=junior"])
        XCTAssertEqual(title("Graduate Engineer 2025 intake"), ["cue:title=junior"])
        XCTAssertEqual(title("Sr. Data Analyst"), ["cue:title=senior"])
        XCTAssertEqual(title("Staff Accountant"), ["cue:title=senior"])
        XCTAssertEqual(title("Associate Product Manager"), ["cue:title=associate", "cue:title=manager"])
        XCTAssertEqual(title("Associate Director, Clinical Operations"), ["cue:title=director"])
        XCTAssertEqual(title("Head of Growth"), ["cue:title=director"])
        XCTAssertEqual(title("Vice President, Sales"), ["cue:title=director"])
        XCTAssertEqual(title("VP Engineering"), ["cue:title=director"])
        XCTAssertEqual(title("President and CEO"), ["cue:title=chief"])
        XCTAssertEqual(title("Chief of Staff"), ["cue:title=chief"])
        XCTAssertEqual(title("Managing Director, EMEA"), ["cue:title=chief", "cue:title=director"])
        XCTAssertEqual(title("Accountant"), ["cue:title=plain"])
        XCTAssertEqual(title(""), [])
    }

    func testTitleNumerals() {
        XCTAssertEqual(title("Driver II"), ["cue:title=level-2"])
        XCTAssertEqual(title("Service Delivery Manager 1"), ["cue:title=level-1", "cue:title=manager"])
        XCTAssertEqual(title("Help Desk Tier 2 Technician"), ["cue:title=level-2"])
        XCTAssertEqual(title("Software Engineer III"), ["cue:title=level-3+"])
        // A number that is not a level: not at the end, not after level/tier/grade/band.
        XCTAssertEqual(title("3D Artist for 2 titles in production"), ["cue:title=plain"])
    }

    func testTextLevelPhrases() {
        XCTAssertEqual(textLevel("This is an entry-level role."), ["cue:text=entry-level"])
        XCTAssertEqual(textLevel("Currently enrolled in a bachelor's programme."), ["cue:text=student"])
        XCTAssertEqual(textLevel("Recent graduates welcome."), ["cue:text=graduate"])
        XCTAssertEqual(textLevel("You will manage a team of six and have four direct reports."), ["cue:text=manages-team"])
        XCTAssertEqual(textLevel("Reporting directly to the CEO, you own the P&L."), ["cue:text=p-and-l", "cue:text=reports-to-executive"])
        XCTAssertEqual(textLevel("Reporting to the Managing Director."), ["cue:text=reports-to-executive"])
        XCTAssertEqual(textLevel("Reporting to the team lead."), [])
        XCTAssertEqual(textLevel("A seat on the executive team."), ["cue:text=executive-level"])
    }

    func testDegrees() {
        XCTAssertEqual(degree("High school diploma or GED."), ["cue:degree=secondary"])
        XCTAssertEqual(degree("Bachelor's degree in accounting."), ["cue:degree=bachelor"])
        XCTAssertEqual(degree("B.S. in Computer Science"), ["cue:degree=bachelor"])
        XCTAssertEqual(degree("MBA preferred"), ["cue:degree=master"])
        XCTAssertEqual(degree("PhD or Ph.D. candidates"), ["cue:degree=doctorate"])
        XCTAssertEqual(degree("Use MS Excel daily."), [])
    }

    func testGroupsAreIndependentAndParsed() {
        let all = cues(title: "Senior Accountant", text: "5 years of experience. CPA and a bachelor's degree.")
        XCTAssertTrue(all.contains("cue:title=senior") && all.contains("cue:years>=5") && all.contains("cue:degree=bachelor"))
        XCTAssertEqual(cues([.degree], title: "Senior Accountant", text: "5 years of experience, bachelor's degree"), ["cue:degree=bachelor"])
        XCTAssertEqual(CueGroup.parseList("all"), CueGroup.allCases)
        XCTAssertEqual(CueGroup.parseList("none"), [])
        XCTAssertEqual(CueGroup.parseList("degree,years"), [.years, .degree])
        XCTAssertNil(CueGroup.parseList("years,level"))
    }

    func testCueFeaturesInTfidfAndWeight() throws {
        var config = TrainingConfig.product.vectorizer
        config.minDF = .count(1)
        config.cueWeight = 1
        let docs = [Posting(id: "1", title: Array("Senior Nurse".utf8), text: Array("5 years of experience on a ward".utf8)),
                    Posting(id: "2", title: Array("Nurse".utf8), text: Array("no experience necessary, ward work".utf8))]
        let (v, m) = try TfidfVectorizer.fitTransform(config, docs)
        let names = (0..<v.featureCount).map { v.vocabulary.string($0) }
        XCTAssertTrue(names.contains("cue:years>=5"))
        XCTAssertTrue(names.contains("cue:years=0"))
        XCTAssertTrue(names.contains("cue:title=plain"))
        XCTAssertTrue(names.contains("title:senior"))
        // Cue features get weight cueWeight: doubling it raises their share of the (unit-norm) row.
        config.cueWeight = 2
        let (v2, m2) = try TfidfVectorizer.fitTransform(config, docs)
        let c = v.vocabulary.lookup("cue:years>=5"), c2 = v2.vocabulary.lookup("cue:years>=5")
        func value(_ m: CSRMatrix, _ col: Int32) -> Float { m.row(0).first { m.columns[$0] == col }.map { m.values[$0] } ?? 0 }
        XCTAssertGreaterThan(value(m2, c2), value(m, c) * 1.2)
        // No cues configured: no cue features.
        config.cues = []
        let (v3, _) = try TfidfVectorizer.fitTransform(config, docs)
        XCTAssertFalse((0..<v3.featureCount).contains { v3.vocabulary.string($0).hasPrefix("cue:") })
    }
}
