// swift-tools-version: 6.1
// libFuzzer targets for the parsers of the Dialogue package: not part of the normal build or test run.
// scripts/fuzz builds them with `-sanitize=fuzzer,address` (every module instrumented, ours and the
// dependencies) and runs each one; see Docs/Fuzzing.md.
import PackageDescription

let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "DialogueFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Dialogue", path: ".."), .package(url: "https://github.com/apple/swift-nio", from: "2.101.2")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzEnginePackets",
            dependencies: ["FuzzSupport", .product(name: "EngineIO", package: "Dialogue"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: fuzzer
        ),
        .executableTarget(
            name: "FuzzSocketPackets",
            dependencies: [
                "FuzzSupport", .product(name: "EngineIO", package: "Dialogue"), .product(name: "SocketIO", package: "Dialogue"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: fuzzer
        ),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", .product(name: "SocketIO", package: "Dialogue")], swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzJSONSchema",
            dependencies: ["FuzzSupport", .product(name: "SocketIO", package: "Dialogue"), .product(name: "DialogueEvents", package: "Dialogue")],
            swiftSettings: fuzzer
        ),
        .executableTarget(name: "FuzzConfiguration", dependencies: ["FuzzSupport", .product(name: "DialogueApp", package: "Dialogue")], swiftSettings: fuzzer),
        .executableTarget(
            name: "FuzzDialogueDBRequests",
            dependencies: [
                "FuzzSupport", .product(name: "SocketIO", package: "Dialogue"), .product(name: "DialogueDBCore", package: "Dialogue"),
                .product(name: "DialogueDBSQLite", package: "Dialogue"),
            ],
            swiftSettings: fuzzer
        ),
    ]
)
