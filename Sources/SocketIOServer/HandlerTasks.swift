/// Runs the server's handler work — middlewares, connection, event and disconnect handlers — as child tasks
/// of ``SocketServer/run()``, so that a socket holds a task only while it has something to handle.
///
/// An idle connection then costs no task, stack or stream: work starts when an event arrives and ends when
/// the socket's queue is empty.
final class HandlerTasks: Sendable {
    typealias Work = @Sendable () async -> Void
    private let queue: AsyncStream<Work>
    private let continuation: AsyncStream<Work>.Continuation

    init() {
        (queue, continuation) = AsyncStream.makeStream()
    }

    /// Starts `work` as a child task of ``run()``. Work started after ``finish()`` does not run.
    func start(_ work: @escaping Work) {
        continuation.yield(work)
    }

    /// Runs started work until ``finish()``, then waits for what is still running.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await work in queue { group.addTask(operation: work) }
        }
    }

    /// Takes no more work.
    func finish() {
        continuation.finish()
    }
}
