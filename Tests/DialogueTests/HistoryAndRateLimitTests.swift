import Dialogue
import SocketIO
import Testing

@Suite("History manager")
struct HistoryManagerTests {
    func message(_ room: String, _ event: String, _ n: Int) -> AnyEventMessage {
        AnyEventMessage(event: event, roomId: room, data: .int(Int64(n)), from: "u", timestamp: Int64(n))
    }

    @Test func newestFirstPagingAndEvictionOldestFirst() {
        var history = HistoryManager()
        for n in 1...3 { #expect(history.append(message("r", "m", n), limit: 3).isEmpty) }
        let evictions = history.append(message("r", "m", 4), limit: 3)
        #expect(evictions.count == 1)
        #expect(evictions.first?.events.map(\.data) == [1])
        #expect(history.events(roomId: "r", eventName: "m", start: 0, end: 10).map(\.data) == [4, 3, 2])
        #expect(history.events(roomId: "r", eventName: "m", start: 1, end: 2).map(\.data) == [3])
        #expect(history.events(roomId: "r", eventName: "m", start: 5, end: 9).isEmpty)
        #expect(history.count(roomId: "r", eventName: "m") == 3)
    }

    @Test func latestMergesEventNamesInArrivalOrder() {
        var history = HistoryManager()
        _ = history.append(message("r", "a", 1), limit: 10)
        _ = history.append(message("r", "b", 2), limit: 10)
        _ = history.append(message("r", "a", 3), limit: 10)
        _ = history.append(message("other", "a", 4), limit: 10)
        #expect(history.latest(roomId: "r").map(\.data) == [3, 2, 1])
        #expect(history.latest(roomId: "r", limit: 2).map(\.data) == [3, 2])
        #expect(history.eventNames(roomId: "r") == ["a", "b"])
    }

    @Test func roomsBeyondTheLimitEvictTheStalestRoomWhole() {
        var history = HistoryManager(maxRooms: 2)
        _ = history.append(message("r1", "a", 1), limit: 10)
        _ = history.append(message("r2", "a", 2), limit: 10)
        _ = history.append(message("r1", "a", 3), limit: 10)
        let evictions = history.append(message("r3", "a", 4), limit: 10)
        #expect(evictions.map(\.roomId) == ["r2"])
        #expect(history.latest(roomId: "r2").isEmpty)
        #expect(history.removeAll().map(\.roomId).sorted() == ["r1", "r3"])
    }
}

@Suite("Rate limiter")
struct RateLimiterTests {
    @Test func slidingWindowPerKey() {
        var window = SlidingWindow<String>(maxEvents: 2, window: .seconds(60))
        let t0 = ContinuousClock.now
        let attempt0 = window.attempt("a", at: t0)
        #expect(attempt0)
        let attempt1 = window.attempt("a", at: t0 + .seconds(30))
        #expect(attempt1)
        let attempt2 = window.attempt("a", at: t0 + .seconds(59))
        #expect(!attempt2)
        #expect(window.remaining("a", at: t0 + .seconds(59)) == 0)
        let attempt3 = window.attempt("b", at: t0 + .seconds(59))
        #expect(attempt3, "keys are independent")
        // The first attempt leaves the window after 60 s; the one at 30 s is still in it.
        #expect(window.remaining("a", at: t0 + .seconds(61)) == 1)
        let attempt4 = window.attempt("a", at: t0 + .seconds(61))
        #expect(attempt4)
        let attempt5 = window.attempt("a", at: t0 + .seconds(62))
        #expect(!attempt5)
        window.reset("a")
        #expect(window.remaining("a", at: t0 + .seconds(62)) == 2)
    }

    @Test func idleKeysDoNotAccumulate() {
        var window = SlidingWindow<Int>(maxEvents: 5, window: .seconds(1))
        let t0 = ContinuousClock.now
        for key in 0..<1000 { _ = window.attempt(key, at: t0) }
        #expect(window.trackedKeys == 1000)
        _ = window.attempt(-1, at: t0 + .seconds(3))
        #expect(window.trackedKeys == 1, "expired keys are swept once a window has passed")
    }

    @Test func classWrapperCountsAttempts() {
        let limiter = RateLimiter(maxEvents: 3, window: .seconds(60))
        #expect(limiter.remaining("u") == 3)
        #expect(limiter.isAllowed("u") && limiter.isAllowed("u") && limiter.isAllowed("u"))
        #expect(!limiter.isAllowed("u"))
        limiter.reset("u")
        #expect(limiter.isAllowed("u"))
    }
}
