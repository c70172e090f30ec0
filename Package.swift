// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Dialogue",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EngineIO", targets: ["EngineIO"]),
        .library(name: "EngineIOServer", targets: ["EngineIOServer"]),
        .library(name: "SocketIO", targets: ["SocketIO"]),
        .library(name: "SocketIOServer", targets: ["SocketIOServer"]),
        .library(name: "SocketIOClient", targets: ["SocketIOClient"]),
        .library(name: "DialogueEvents", targets: ["DialogueEvents"]),
        .library(name: "Dialogue", targets: ["Dialogue"]),
        .library(name: "DialogueClient", targets: ["DialogueClient"]),
        .library(name: "DialogueHistory", targets: ["DialogueHistory"]),
        .library(name: "DialogueHistorySQLite", targets: ["DialogueHistorySQLite"]),
        .library(name: "DialogueHistoryPostgres", targets: ["DialogueHistoryPostgres"]),
        .library(name: "DialogueCluster", targets: ["DialogueCluster"]),
        .library(name: "DialogueApp", targets: ["DialogueApp"]),
        .library(name: "DialogueDBCore", targets: ["DialogueDBCore"]),
        .library(name: "DialogueDBSQLite", targets: ["DialogueDBSQLite"]),
        .library(name: "DialogueDBPostgres", targets: ["DialogueDBPostgres"]),
        .library(name: "DialogueDBServer", targets: ["DialogueDBServer"]),
        .library(name: "DialogueDB", targets: ["DialogueDB"]),
        .executable(name: "socketio-fixture", targets: ["SocketIOFixture"]),
        .executable(name: "dialogue", targets: ["DialogueCLI"]),
        .executable(name: "dialogue-examples", targets: ["DialogueExamples"]),
        .executable(name: "history-bench", targets: ["HistoryBench"]),
        .executable(name: "dialoguedb", targets: ["DialogueDBCLI"]),
        .executable(name: "dialoguedb-bench", targets: ["DialogueDBBench"]),
        .executable(name: "bench-reference", targets: ["BenchReference"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Pure Engine.IO v4: packets, payload codec, session state machine. No HTTP framework.
        .target(
            name: "EngineIO",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // Engine.IO transports (long-polling + WebSocket) on Hummingbird.
        .target(
            name: "EngineIOServer",
            dependencies: [
                "EngineIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Pure Socket.IO v5 packet codec, binary attachments. No HTTP framework.
        .target(
            name: "SocketIO",
            dependencies: [
                "EngineIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // Namespaces, sockets, acks, adapters and encode-once broadcast.
        .target(
            name: "SocketIOServer",
            dependencies: [
                "EngineIO", "EngineIOServer", "SocketIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // What Dialogue servers and clients share: event definitions, schemas, messages, error codes.
        .target(
            name: "DialogueEvents",
            dependencies: ["SocketIO", .product(name: "OrderedCollections", package: "swift-collections")]
        ),
        // The history store protocol, and the in-memory store.
        .target(name: "DialogueHistory", dependencies: ["DialogueEvents"]),
        // What every SQLite store shares: opening with the same durability, named migrations, transaction turns.
        .target(
            name: "SQLiteSupport",
            dependencies: [
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The history store in an SQLite file (WAL, group commit): the default of `dialogue serve`.
        .target(
            name: "DialogueHistorySQLite",
            dependencies: [
                "DialogueHistory", "DialogueEvents", "SocketIO", "SQLiteSupport",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What every PostgreSQL store shares: URLs, schema names, migrations under an advisory lock, the pool.
        .target(
            name: "PostgresSupport",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The history store in PostgreSQL (postgres-nio, group commit), for more than one machine.
        .target(
            name: "DialogueHistoryPostgres",
            dependencies: [
                "DialogueHistory", "DialogueEvents", "SocketIO", "PostgresSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Several nodes as one server on PostgreSQL: membership (heartbeats, timeouts) and the bus between nodes. See Docs/ClusterDesign.md.
        .target(
            name: "DialogueCluster",
            dependencies: [
                "Dialogue", "DialogueEvents", "SocketIO", "PostgresSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Dialogue: rooms, typed events with schemas, subscriptions, hooks, history. Never sees packets.
        .target(
            name: "Dialogue",
            dependencies: [
                "DialogueEvents", "DialogueHistory", "SocketIO", "SocketIOServer", "EngineIO", "EngineIOServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            resources: [.copy("Resources/client.js")]
        ),
        // DialogueDB: records, validation, the API (one routing table for REST and the embedded SDK), the storage protocol.
        .target(
            name: "DialogueDBCore",
            dependencies: ["SocketIO", .product(name: "OrderedCollections", package: "swift-collections"), .product(name: "Logging", package: "swift-log")]
        ),
        // DialogueDB in an SQLite file.
        .target(
            name: "DialogueDBSQLite",
            dependencies: [
                "DialogueDBCore", "SQLiteSupport", "SocketIO",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // DialogueDB in PostgreSQL (jsonb, tsvector search).
        .target(
            name: "DialogueDBPostgres",
            dependencies: [
                "DialogueDBCore", "PostgresSupport", "SocketIO",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The DialogueDB REST server (Hummingbird): keys, error envelope, rate limits.
        .target(
            name: "DialogueDBServer",
            dependencies: [
                "DialogueDBCore", "SocketIO",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/openapi.json")]
        ),
        // The DialogueDB SDK: ConversationStore and Conversation, embedded on a file or remote over HTTP.
        .target(
            name: "DialogueDB",
            dependencies: [
                "DialogueDBCore", "DialogueDBSQLite", "SocketIO",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The Dialogue client SDK: rooms, typed events, reconnection with re-join.
        .target(
            name: "DialogueClient",
            dependencies: [
                "DialogueEvents", "SocketIOClient", "SocketIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // Engine.IO/Socket.IO client over WebSocket.
        .target(
            name: "SocketIOClient",
            dependencies: [
                "EngineIO", "SocketIO",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "SocketIOFixture",
            dependencies: [
                "SocketIOServer", "EngineIOServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // The standalone server: configuration files, the demo, the admin dashboard, /metrics. The composition
        // root of `dialogue serve`, as a library so tests run it in-process.
        .target(
            name: "DialogueApp",
            dependencies: [
                "Dialogue", "DialogueEvents", "DialogueHistory", "DialogueHistorySQLite", "DialogueHistoryPostgres", "DialogueCluster", "EngineIOServer", "SocketIO",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Public")]
        ),
        .executableTarget(
            name: "DialogueCLI",
            dependencies: [
                "Dialogue", "DialogueApp", "DialogueCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `dialoguedb`: serve, keys, and the API from the command line.
        .executableTarget(
            name: "DialogueDBCLI",
            dependencies: [
                "DialogueDB", "DialogueDBCore", "DialogueDBServer", "DialogueDBSQLite", "DialogueDBPostgres", "SocketIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Append throughput and search latency of DialogueDB's storages (a benchmark, not a test).
        .executableTarget(
            name: "DialogueDBBench",
            dependencies: [
                "DialogueDBCore", "DialogueDBSQLite", "DialogueDBPostgres", "SocketIO",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The physical-limit reference of the fan-out benchmarks: a minimal SwiftNIO WebSocket server that speaks
        // just enough of the bench protocol for `shared/tools/fanout.c` (a benchmark, not a product).
        .executableTarget(
            name: "BenchReference",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        // Helpers every test target needs: waiting for effects, running the Python interop clients.
        .target(name: "TestSupport", dependencies: ["EngineIO"], path: "Tests/TestSupport"),
        // The seeds' examples in Swift: compiled with the package so the documentation stays true.
        .executableTarget(
            name: "DialogueExamples",
            dependencies: [
                "Dialogue", "DialogueClient", "EngineIOServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Append throughput and page latency of the history stores (a benchmark, not a test).
        .executableTarget(
            name: "HistoryBench",
            dependencies: [
                "DialogueHistory", "DialogueHistorySQLite", "DialogueHistoryPostgres", "DialogueEvents",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "EngineIOTests", dependencies: ["EngineIO"]),
        .testTarget(
            name: "DialogueTests",
            dependencies: [
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                "Dialogue", "DialogueApp", "DialogueClient", "DialogueExamples", "DialogueHistory", "DialogueHistorySQLite", "DialogueHistoryPostgres", "DialogueCluster", "SocketIOClient", "SocketIOServer",
                "EngineIO", "EngineIOServer", "TestSupport",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Browser"]
        ),
        .testTarget(name: "SocketIOTests", dependencies: ["SocketIO"]),
        .testTarget(
            name: "ClusterTests",
            dependencies: [
                "DialogueCluster", "PostgresSupport", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "DialogueDBTests",
            dependencies: [
                "DialogueDB", "DialogueDBCore", "DialogueDBSQLite", "DialogueDBPostgres", "DialogueDBServer", "SocketIO", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "SocketIOServer", "EngineIOServer", "SocketIOClient", "TestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
