/// The delivery order of a room, a value kept by ``RoomLogs``: events go out one at a time in offset order,
/// and a joining client can hold the room between two deliveries (the gate) to get an exact "everything up
/// to here" snapshot.
struct RoomTurns {
    /// The newest offset delivered, or given up on; the next one may go.
    var delivered: Int64
    /// Offsets finished out of order, waiting for the ones before them.
    var finished: Set<Int64> = []
    var waiters: [Int64: CheckedContinuation<Void, Never>] = [:]
    /// The offset being delivered now.
    var delivering: Int64?
    /// Whether a join holds the room.
    var gated = false
    var gateWaiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    var nextGateWaiter = 0

    /// Lets the next one go: a waiting join first, else the next offset. Returns whom to resume.
    mutating func grantNext() -> Resumption? {
        guard !gated, delivering == nil else { return nil }
        if !gateWaiters.isEmpty {
            gated = true
            let waiter = gateWaiters.removeFirst()
            return .gate(waiter.continuation)
        }
        guard let next = waiters.removeValue(forKey: delivered + 1) else { return nil }
        delivering = delivered + 1
        return .turn(next)
    }

    enum Resumption {
        case turn(CheckedContinuation<Void, Never>)
        case gate(CheckedContinuation<Bool, Never>)

        func resume() {
            switch self {
            case .turn(let continuation): continuation.resume()
            case .gate(let continuation): continuation.resume(returning: true)
            }
        }
    }
}
