import Basics
import BazarCore
import Wire
import XCTest

/// Every internal message reads back what it wrote, and a malformed one is refused (nil), so
/// that sender, receiver and tests share one description of it.
final class WireTests: XCTestCase {
    let book = Book(id: 3, title: "Xen", topic: "undergraduate school", price: 15.5, stock: 7, version: 12)
    let order = Order(number: 9, bookID: 3, title: "Xen", price: 15.5, createdAt: "2026-12-07T12:00:00Z", key: "k-9")
    let one = Term(epoch: 1, primary: "catalog-1")
    let two = Term(epoch: 2, primary: "catalog-2")

    /// The message as its receiver reads it from the body its sender wrote (`init?(body:)`).
    func received<Message: WireMessage>(_ json: JSON, _ message: Message.Type) -> Message? {
        Message(body: json.encoded())
    }

    func testEachMessageReadsBackWhatItWrote() throws {
        let grant = LeaseGrant(lease: 4, milliseconds: 1_000, fresh: true, announced: 17, epoch: 2)
        XCTAssertEqual(received(grant.json, LeaseGrant.self), grant)
        let answer = PushAnswer(applied: 12, takes: 9, keys: WriteKey.noneHeld, free: 1_048_576, receipt: -5)
        XCTAssertEqual(received(answer.json, PushAnswer.self), answer)
        for record in [WitnessRecord(term: two, version: 3, inSync: false, acknowledged: 40), WitnessRecord(term: one, version: 4, inSync: true)] {
            XCTAssertEqual(received(record.json, WitnessRecord.self), record)
        }
        let stored = WitnessRecordAnswer(recorded: false, version: 8)
        XCTAssertEqual(received(stored.json, WitnessRecordAnswer.self), stored)
        for acknowledged in [AcknowledgedThrough(41), AcknowledgedThrough(41, term: two)] {
            XCTAssertEqual(received(acknowledged.json, AcknowledgedThrough.self), acknowledged)
        }
        let state = WitnessState(version: 3, inSync: false, acknowledged: 40, term: two)
        XCTAssertEqual(received(state.json, WitnessState.self), state)
        let request = EpochRequest(candidate: "catalog-2", leaving: one)
        XCTAssertEqual(received(request.json, EpochRequest.self), request)
        XCTAssertEqual(request.asked, two)
        for epochAnswer in [EpochAnswer.grant(two), EpochAnswer.refusal("no", holding: one)] {
            XCTAssertEqual(received(epochAnswer.json, EpochAnswer.self), epochAnswer)
        }
        XCTAssertEqual(TermMessage(body: TermMessage(two).encoded), TermMessage(two))
        let stale = StaleEpoch(known: two).response
        XCTAssertEqual(stale.status, 409)
        XCTAssertEqual(StaleEpoch(status: stale.status, body: stale.body), StaleEpoch(known: two))
        for standIn in [StandInAnswer(leaseMilliseconds: 1_000), StandInAnswer(leaseMilliseconds: nil)] {
            XCTAssertEqual(received(standIn.json, StandInAnswer.self), standIn)
        }
        for settle in [SettleAnswer(applied: false), SettleAnswer(applied: true, book: book, order: order),
                       SettleAnswer(applied: true, books: [book, book])] {
            XCTAssertEqual(received(settle.json, SettleAnswer.self), settle)
        }
        let backup = BackupState(applied: 12, current: true)
        XCTAssertEqual(received(backup.json, BackupState.self), backup)
        let take = TakeAnswer(order: order, book: book, replayed: true)
        XCTAssertEqual(received(take.json, TakeAnswer.self), take)
        XCTAssertEqual(received(OrderList([order, order]).json, OrderList.self), OrderList([order, order]))
        let takes = TakeBatch([.init(book: 6, key: "k1", attempt: "k1.order-1.1"), .init(book: 2, key: "k2", attempt: "k2")])
        XCTAssertEqual(received(takes.json, TakeBatch.self), takes)
        XCTAssertEqual(TakeBatch(body: TakeBatch.encoded(takes.takes.map { $0.json.encoded() })), takes)
        let answers = TakeBatchAnswer([.init(status: 200, body: take.json, replayed: true),
                                       .init(status: 409, body: APIError.outOfStock("none").json, replayed: false)])
        XCTAssertEqual(received(answers.json, TakeBatchAnswer.self), answers)
    }

    func testMessagesBuiltFromEncodedPartsReadBackToo() throws {
        let keys = ReplicationPush.Keys(after: 4, through: 12, updateKeysFrom: 2, keys: [
            WriteKey(.update, key: "u", bookID: 3, seq: 5), WriteKey(.addition, key: "a", bookID: 8, seq: 6),
            WriteKey(.abort, key: "x", seq: 7)])
        let push = ReplicationPush(term: two, after: 10, upTo: 12, complete: true, books: [book], takes: [order], keys: keys,
                                   lease: .init(milliseconds: 500, echo: 77))
        XCTAssertEqual(ReplicationPush(body: push.encoded), push)
        XCTAssertEqual(ReplicationPush(body: ReplicationPush.encoded(term: two, after: 10, upTo: 12, complete: true, books: [book.json.encoded()],
                                                               takes: [order.internalJSON.encoded()], keys: keys,
                                                               lease: .init(milliseconds: 500, echo: 77))), push)
        let page = ReplicationPush(term: one, after: 3, upTo: 3, complete: false, books: [])
        XCTAssertEqual(ReplicationPush(body: page.encoded), page)
        XCTAssertNil(page.lease)
        XCTAssertNil(page.keys)
        let invalidation = Invalidation([.init(.book(6), seq: 41), .init(.topic("distributed systems"), seq: 42)])
        XCTAssertEqual(Invalidation(body: invalidation.encoded), invalidation)
        let changes = ChangesPage.encoded(books: [book.json.encoded()], through: 12, complete: false, applied: 20)
        XCTAssertEqual(ChangesPage(json: try JSON.parse(changes)), ChangesPage(books: [book], through: 12, complete: false, applied: 20))
        XCTAssertEqual(OrderList(json: try JSON.parse(OrderList.encoded([order.internalJSON.encoded()]))), OrderList([order]))
    }

    func testABodyThatIsNotJSONIsNoMessage() {
        for body in ["", "not json", "{", #"{"lease":1}"#] {
            XCTAssertNil(LeaseGrant(body: Array(body.utf8)), body)
            XCTAssertNil(OrderList(body: Array(body.utf8)), body)
        }
    }

    func testMalformedMessagesAreRefused() throws {
        let malformed: [(String, (JSON) -> Bool)] = [
            (#"{"lease":1,"lease_ms":"1000","fresh":true,"announced":2,"epoch":1}"#, { LeaseGrant(json: $0) == nil }),
            (#"{"lease":1,"lease_ms":1000,"fresh":true,"announced":2}"#, { LeaseGrant(json: $0) == nil }),
            (#"{"applied":1}"#, { PushAnswer(json: $0) == nil }),
            (#"{"applied":1,"receipt":2}"#, { PushAnswer(json: $0) == nil }),
            (#"{"applied":1,"takes":2,"receipt":2}"#, { PushAnswer(json: $0) == nil }),
            (#"{"applied":1,"takes":2,"keys":"3","free":4,"receipt":2}"#, { PushAnswer(json: $0) == nil }),
            (#"{"applied":1,"takes":2,"keys":3,"receipt":2}"#, { PushAnswer(json: $0) == nil }),
            (#"{"in_sync":false}"#, { WitnessRecord(json: $0) == nil }),
            (#"{"version":1,"in_sync":true}"#, { WitnessRecord(json: $0) == nil }),
            (#"{"epoch":-1,"primary":"catalog-1","version":1,"in_sync":true}"#, { WitnessRecord(json: $0) == nil }),
            (#"{"through":-1}"#, { AcknowledgedThrough(json: $0) == nil }),
            (#"{"through":1,"epoch":2}"#, { AcknowledgedThrough(json: $0) == nil }),
            (#"{"version":1,"in_sync":true}"#, { WitnessState(json: $0) == nil }),
            (#"{"version":1,"in_sync":true,"acknowledged":0}"#, { WitnessState(json: $0) == nil }),
            (#"{}"#, { EpochRequest(json: $0) == nil }),
            (#"{"candidate":"","epoch":1,"primary":"catalog-1"}"#, { EpochRequest(json: $0) == nil }),
            (#"{"candidate":"c","epoch":-1,"primary":"p"}"#, { EpochRequest(json: $0) == nil }),
            (#"{"granted":false,"epoch":1,"primary":"catalog-1"}"#, { EpochAnswer(json: $0) == nil }),
            (#"{"granted":true,"epoch":"2","primary":"catalog-2"}"#, { EpochAnswer(json: $0) == nil }),
            (#"{"in_sync":true}"#, { StandInAnswer(json: $0) == nil }),
            (#"{"applied":true,"book":{"id":1}}"#, { SettleAnswer(json: $0) == nil }),
            (#"{"applied":true,"books":[{"id":1}]}"#, { SettleAnswer(json: $0) == nil }),
            (#"{"book":{}}"#, { SettleAnswer(json: $0) == nil }),
            (#"{"applied":3}"#, { BackupState(json: $0) == nil }),
            (#"{"order":null,"book":{}}"#, { TakeAnswer(json: $0) == nil }),
            (#"{"orders":{}}"#, { OrderList(json: $0) == nil }),
            (#"{"takes":[]}"#, { TakeBatch(json: $0) == nil }),
            (#"{"takes":[{"book":1,"key":"k","attempt":"a"},{"book":0,"key":"k","attempt":"a"}]}"#, { TakeBatch(json: $0) == nil }),
            (#"{"takes":[{"book":1,"key":"","attempt":"a"}]}"#, { TakeBatch(json: $0) == nil }),
            (#"{"answers":[{"status":200}]}"#, { TakeBatchAnswer(json: $0) == nil }),
            (#"{"answers":[{"status":"200","body":{}}]}"#, { TakeBatchAnswer(json: $0) == nil }),
        ]
        for (text, refused) in malformed {
            XCTAssertTrue(refused(try JSON.parse(Array(text.utf8))), text)
        }
        for invalidation in [#"{"items":[]}"#, #"{"items":[{"book":6}]}"#, #"{"items":[{"seq":1}]}"#] {
            XCTAssertNil(Invalidation(body: Array(invalidation.utf8)), invalidation)
        }
        let term = #""epoch":1,"primary":"catalog-1","complete":true,"takes":[],"keys":null"#
        for push in [#"{\#(term),"after":0,"up_to":1,"lease":{"ms":-1,"echo":1},"books":[]}"#, #"{\#(term),"after":0,"books":[]}"#,
                     #"{\#(term),"after":0,"up_to":1,"lease":{"ms":60001,"echo":1},"books":[]}"#,
                     #"{"after":0,"up_to":1,"complete":true,"books":[],"takes":[]}"#,
                     #"{"epoch":1,"primary":"catalog-1","after":0,"up_to":1,"books":[],"takes":[]}"#,
                     #"{"epoch":1,"primary":"catalog-1","after":0,"up_to":1,"complete":true,"books":[],"keys":null}"#] {
            XCTAssertNil(ReplicationPush(body: Array(push.utf8)), push)
        }
        let keyless = #""epoch":1,"primary":"catalog-1","after":0,"up_to":1,"complete":true,"books":[],"takes":[]"#
        let key = #"{"kind":"update","key":"k","book_id":1,"seq":5}"#
        for keys in ["", #","keys":[]"#, #","keys":{"after":0,"through":9,"keys":[]}"#,
                     #","keys":{"after":9,"through":8,"update_keys_from":0,"keys":[]}"#,
                     #","keys":{"after":5,"through":9,"update_keys_from":0,"keys":[\#(key)]}"#,
                     #","keys":{"after":0,"through":4,"update_keys_from":0,"keys":[\#(key)]}"#,
                     #","keys":{"after":0,"through":9,"update_keys_from":0,"keys":[{"kind":"delete","key":"k","book_id":1,"seq":5}]}"#,
                     #","keys":{"after":0,"through":9,"update_keys_from":0,"keys":[{"kind":"abort","key":"k","seq":5}]}"#] {
            let push = "{\(keyless)\(keys)}"
            XCTAssertNil(ReplicationPush(body: Array(push.utf8)), push)
        }
        for message in ["{}", #"{"epoch":1}"#, #"{"epoch":-2,"primary":"catalog-1"}"#, "[]", "not json"] {
            XCTAssertNil(TermMessage(body: Array(message.utf8)), message)
        }
        XCTAssertNil(StaleEpoch(status: 409, body: Array(#"{"error":{"code":"out_of_stock"},"epoch":2,"primary":"x"}"#.utf8)))
        XCTAssertNil(StaleEpoch(status: 200, body: StaleEpoch(known: two).response.body))
    }
}
