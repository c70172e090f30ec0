import Logging
import PostgresNIO

/// A configuration or URL a PostgreSQL store cannot use.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A named schema step: it runs once, and is never edited once released (a change is a new step).
public struct PostgresMigration: Sendable {
    public let name: String
    public let statements: [String]

    public init(_ name: String, _ statements: [String]) {
        self.name = name
        self.statements = statements
    }
}

/// What every PostgreSQL store of the package shares: URLs, schema names, migrations, running the pool.
public enum PostgresDatabase {
    /// The client configuration of `postgres://user[:password]@host[:port]/database` (TLS off: loopback or
    /// a trusted network).
    public static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let parts = URLParts(url) else { throw PostgresStoreError("not a postgres:// URL") }
        return PostgresClient.Configuration(host: parts.host, port: parts.port, username: parts.user, password: parts.password, database: parts.database, tls: .disable)
    }

    /// The configuration of one connection outside a pool (a `LISTEN` session) to the same URL, with the
    /// given `application_name` (it names the session in `pg_stat_activity`).
    public static func connectionConfiguration(url: String, applicationName: String) throws -> PostgresConnection.Configuration {
        guard let parts = URLParts(url) else { throw PostgresStoreError("not a postgres:// URL") }
        var configuration = PostgresConnection.Configuration(host: parts.host, port: parts.port, username: parts.user, password: parts.password, database: parts.database, tls: .disable)
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    /// Checks that `schema` is a plain lower-case identifier (it is written into SQL).
    public static func validate(schema: String) throws {
        guard let first = schema.unicodeScalars.first, first == "_" || ("a"..."z").contains(first),
            schema.unicodeScalars.allSatisfy({ $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }), schema.count <= 63
        else { throw PostgresStoreError("schema must be a lowercase identifier: \(schema)") }
    }

    /// Applies the steps not yet recorded in `schema.table`, in one transaction under an advisory lock, so
    /// two servers starting at once do not race. The schema is created under a lock of its own name, which
    /// every migration into it takes first (`CREATE SCHEMA IF NOT EXISTS` run by two sessions at once fails
    /// in one of them): the stores of one process, or several processes, may start together.
    public static func migrate(_ steps: [PostgresMigration], table: String, lock: Int64, schema: String, on client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            var schemaBinds = PostgresBindings()
            schemaBinds.append(schema)
            try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtextextended($1, \(schemaLockSeed)))", binds: schemaBinds), logger: logger
            )
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            var lockBinds = PostgresBindings()
            lockBinds.append(lock)
            try await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock($1)", binds: lockBinds), logger: logger)
            try await connection.query(PostgresQuery(
                unsafeSQL: "CREATE TABLE IF NOT EXISTS \(schema).\(table) (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            ), logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query(PostgresQuery(unsafeSQL: "SELECT name FROM \(schema).\(table)"), logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for step in steps where !applied.contains(step.name) {
                for statement in step.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                var binds = PostgresBindings()
                binds.append(step.name)
                try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO \(schema).\(table) (name) VALUES ($1)", binds: binds), logger: logger)
                logger.info("database migrated", metadata: ["db.migration": .string(step.name)])
            }
        }
    }

    /// The seed of the advisory lock a migration takes, by schema name, before creating its schema.
    static let schemaLockSeed: Int64 = 7_315_150_000

    /// Runs `client`'s connection pool until cancelled, ignoring graceful shutdown (postgres-nio's `run()`
    /// would close the pool as soon as a service group starts shutting down, while the owner still writes).
    public static func runPool(_ client: PostgresClient) async {
        let pool = Task.detached { await client.run() }
        await withTaskCancellationHandler { await pool.value } onCancel: { pool.cancel() }
    }
}

/// The parts of `postgres://user[:password]@host[:port]/database`.
struct URLParts {
    let user: String, password: String?, host: String, port: Int, database: String?

    init?(_ url: String) {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), let rest = url.split(separator: "://", maxSplits: 1).last else { return nil }
        let (credentials, location) = rest.contains("@") ? (String(rest.split(separator: "@", maxSplits: 1)[0]), String(rest.split(separator: "@", maxSplits: 1)[1])) : ("", String(rest))
        let userParts = credentials.split(separator: ":", maxSplits: 1).map(String.init)
        let hostAndDatabase = location.split(separator: "/", maxSplits: 1).map(String.init)
        let hostParts = (hostAndDatabase.first ?? "").split(separator: ":", maxSplits: 1).map(String.init)
        guard let host = hostParts.first, !host.isEmpty else { return nil }
        self.user = userParts.first.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        self.password = userParts.count > 1 ? userParts[1] : nil
        self.host = host
        self.port = hostParts.count > 1 ? Int(hostParts[1]) ?? 5432 : 5432
        self.database = hostAndDatabase.count > 1 ? hostAndDatabase[1] : nil
    }
}
