import Dialogue
import ServiceLifecycle

/// Seed example 4: a multiplayer game with a lobby, a 4-player match and a 30 Hz state broadcast.
enum GameExample {
    enum Direction: String, CaseIterable, Codable { case up, down, left, right }
    enum Action: String, CaseIterable, Codable { case attack, defend, heal, special }
    enum Status: String, CaseIterable, Codable { case waiting, playing, ended }

    struct PlayerMove: EventPayload {
        var playerId: String
        var x: Double
        var y: Double
        var direction: Direction
        static let schema: Schema = .object(["playerId": .string(), "x": .number(), "y": .number(), "direction": .enumeration(Direction.self)])
    }

    struct PlayerAction: EventPayload {
        var playerId: String
        var action: Action
        var targetId: String?
        static let schema: Schema = .object(["playerId": .string(), "action": .enumeration(Action.self), "targetId": .string().optional()])
    }

    struct GameState: EventPayload {
        struct Player: Codable, Sendable { var id: String; var x, y, health, score: Double }
        var players: [Player]
        var gameTime: Double
        var status: Status
        static let schema: Schema = .object([
            "players": .array(.object(["id": .string(), "x": .number(), "y": .number(), "health": .number(), "score": .number()])),
            "gameTime": .number(),
            "status": .enumeration(Status.self),
        ])
    }

    static let playerMove = EventDefinition("player:move", of: PlayerMove.self)
    static let playerAction = EventDefinition("player:action", of: PlayerAction.self)
    static let gameState = EventDefinition("game:state", of: GameState.self)

    static func make(port: Int) -> (DialogueServer, [any Service]) {
        var configuration = DialogueConfiguration(port: port, rooms: [
            "game:lobby": RoomConfiguration(name: "Game Lobby", maxSize: 8, events: [gameState], defaultSubscriptions: ["game:state"]),
            "game:match-1": RoomConfiguration(
                name: "Match 1", maxSize: 4, events: [playerMove, gameState, playerAction],
                defaultSubscriptions: ["player:move", "game:state", "player:action"]
            ),
        ])
        configuration.hooks.clients.onConnected = { client in try await client.join("game:lobby") }
        let dialogue = DialogueServer(configuration: configuration)
        let world = World()
        dialogue.on("game:match-1", playerMove) { move in await world.move(move.data.playerId, x: move.data.x, y: move.data.y) }
        dialogue.on("game:match-1", playerAction) { action in await world.act(action.data.playerId, action.data.action) }
        let loop = Every(interval: .milliseconds(33)) {
            try await dialogue.trigger("game:match-1", gameState, await world.tick())
        }
        return (dialogue, [loop])
    }

    /// The game's state, owned by one actor.
    actor World {
        var players: [String: GameState.Player] = [:]
        var time = 0.0

        func move(_ id: String, x: Double, y: Double) {
            players[id, default: .init(id: id, x: 0, y: 0, health: 100, score: 0)].x = x
            players[id]?.y = y
        }

        func act(_ id: String, _ action: Action) {
            if action == .heal { players[id]?.health = 100 }
        }

        func tick() -> GameState {
            time += 1 / 30
            return GameState(players: Array(players.values), gameTime: time, status: players.count < 2 ? .waiting : .playing)
        }
    }
}
