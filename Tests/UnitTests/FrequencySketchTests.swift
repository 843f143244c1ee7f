@testable import Front
import XCTest

final class FrequencySketchTests: XCTestCase {
    func testEstimatesNeverFallBelowTheTrueCount() {
        var sketch = FrequencySketch(capacity: 1_000)   // halves after 10,000 sightings: not here
        for index in 0..<200 {
            for _ in 0..<(index % 20) { sketch.record("key-\(index)".hashValue) }
        }
        for index in 0..<200 {
            XCTAssertGreaterThanOrEqual(sketch.estimate("key-\(index)".hashValue), min(index % 20, 16), "key-\(index)")
        }
        XCTAssertLessThanOrEqual(sketch.estimate("key-19".hashValue), 16)
    }

    func testKeysSeenOnceStayInTheDoorkeeper() {
        var sketch = FrequencySketch(capacity: 1_000)
        XCTAssertEqual(sketch.estimate("hot".hashValue), 0)
        for _ in 0..<10 { sketch.record("hot".hashValue) }
        for index in 0..<5_000 { sketch.record("once-\(index)".hashValue) }
        let estimates = (0..<5_000).map { sketch.estimate("once-\($0)".hashValue) }
        XCTAssertGreaterThanOrEqual(estimates.filter { $0 <= 1 }.count, 4_900, "barely any one-off reaches the counters")
        XCTAssertGreaterThanOrEqual(sketch.estimate("hot".hashValue), 10)
    }

    func testEveryCountHalvesAfterTheSample() {
        var sketch = FrequencySketch(capacity: 10)
        XCTAssertEqual(sketch.sampleSize, 100)
        for _ in 0..<12 { sketch.record("hot".hashValue) }
        XCTAssertGreaterThanOrEqual(sketch.estimate("hot".hashValue), 12)
        sketch.record("once".hashValue)
        for index in 0..<86 { sketch.record("other-\(index)".hashValue) }
        XCTAssertGreaterThanOrEqual(sketch.estimate("once".hashValue), 1)
        sketch.record("last".hashValue)   // the 100th sighting: counters halve, doorkeeper clears
        XCTAssertTrue((5...6).contains(sketch.estimate("hot".hashValue)), "\(sketch.estimate("hot".hashValue))")
        XCTAssertEqual(sketch.estimate("once".hashValue), 0)
    }
}
