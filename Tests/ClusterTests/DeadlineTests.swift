import Foundation
import PostgresNIO
import PostgresSupport
import Testing

/// `PostgresDatabase.withDeadline`, the guard every cluster and history query runs under, against the
/// throwaway PostgreSQL of `./scripts/test`.
@Suite("PostgreSQL queries with a deadline")
struct DeadlineTests {
    func withClient(_ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try PostgresDatabase.configuration(url: try ClusterBusTests.url), backgroundLogger: ClusterBusTests.logger)
        let pool = Task { await PostgresDatabase.runPool(client) }
        defer { pool.cancel() }
        try await body(client)
    }

    @Test("a query that answers in time returns its rows")
    func answersInTime() async throws {
        try await withClient { client in
            let value = try await PostgresDatabase.withDeadline(.seconds(5)) {
                var value = 0
                for try await n in try await client.query("SELECT 41 + 1", logger: ClusterBusTests.logger).decode(Int.self) { value = n }
                return value
            }
            #expect(value == 42)
        }
    }

    @Test("a query that does not answer in time fails with PostgresTimeout at the deadline, not when it ends")
    func givesUpAtTheDeadline() async throws {
        try await withClient { client in
            let started = ContinuousClock.now
            await #expect(throws: PostgresTimeout.self) {
                try await PostgresDatabase.withDeadline(.milliseconds(300)) {
                    _ = try await client.query("SELECT pg_sleep(20)", logger: ClusterBusTests.logger)
                }
            }
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(300) && waited < .seconds(10), "waited \(waited)")
        }
    }

    @Test("an operation that ignores cancellation is left behind at the deadline")
    func leavesAHungOperationBehind() async throws {
        let started = ContinuousClock.now
        await #expect(throws: PostgresTimeout.self) {
            try await PostgresDatabase.withDeadline(.milliseconds(200)) {
                // Like a query whose promise the driver lost: nothing ends it.
                await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("cancelling the caller ends the wait at once")
    func cancellationEndsTheWait() async throws {
        let waiting = Task {
            try await PostgresDatabase.withDeadline(.seconds(30)) { try await Task.sleep(for: .seconds(30)) }
        }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
