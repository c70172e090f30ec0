import SocketIO
import SocketIOClient
import SocketIOServer
import TestSupport
import Testing

/// socket.io's `timeout(ms).emitWithAck` to many sockets: every answer, or an error naming who did not.
@Suite("Broadcasts with acknowledgements")
struct BroadcastAckTests {
    @Test func everyAnswerOrTheSocketsThatDidNotAnswer() async throws {
        try await withSocketServer(setUp: { server in
            server.namespace("/").onConnection { socket in
                socket.on("join") { socket, _, ack in
                    socket.join("room")
                    ack?("joined")
                }
            }
        }) { running, server async throws in
            let url = "http://127.0.0.1:\(running.port)"
            let room = server.namespace("/").to("room")
            try await SocketClient.withConnection(to: url, logger: testLogger) { first async throws in
                try await SocketClient.withConnection(to: url, logger: testLogger) { second async throws in
                    let alice = try await first.socket()
                    let bob = try await second.socket()
                    for socket in [alice, bob] { #expect(try await socket.emitWithAck("join") == ["joined"]) }
                    // Both answer "vote" with their own id; only Alice answers "poll". (One reader per
                    // socket for the whole test: an event stream ends when its reader is cancelled.)
                    let answering = Task {
                        await withTaskGroup(of: Void.self) { group in
                            for (socket, answers) in [(alice, ["vote", "poll"]), (bob, ["vote"])] {
                                group.addTask {
                                    for await event in socket.events where answers.contains(event.name) {
                                        event.ack?(event.name == "vote" ? [.string(socket.id ?? "")] : ["ok"])
                                    }
                                }
                            }
                        }
                    }
                    defer { answering.cancel() }
                    let answers = try await room.emitWithAck("vote", "yes?", timeout: .seconds(5))
                    #expect(answers == [alice.id!: [.string(alice.id!)], bob.id!: [.string(bob.id!)]])
                    // Bob does not answer: the error says so and keeps Alice's answer.
                    do throws(SocketBroadcastAckError) {
                        _ = try await room.emitWithAck("poll", timeout: .milliseconds(500))
                        Issue.record("bob never answers, yet every answer came")
                    } catch {
                        #expect(error.missing == [bob.id!])
                        #expect(error.answers == [alice.id!: ["ok"]])
                    }
                }
            }
        }
    }
}
