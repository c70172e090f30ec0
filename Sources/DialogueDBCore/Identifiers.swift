import Foundation
import Synchronization

/// ULIDs (26 characters of Crockford base 32: 48 bits of milliseconds, 80 random bits), monotonic within a
/// millisecond so ids made in one process sort in creation order, as the hosted service's do.
public final class ULIDGenerator: Sendable {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    private let last = Mutex<(milliseconds: UInt64, random: (UInt16, UInt64))>((0, (0, 0)))

    public init() {}

    /// A new id; `now` is injectable for tests.
    public func next(now: Date = Date()) -> String {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (time, random) = last.withLock { last -> (UInt64, (UInt16, UInt64)) in
            if milliseconds <= last.milliseconds {
                // Same (or an earlier) millisecond: the previous random part plus one.
                var (high, low) = last.random
                low &+= 1
                if low == 0 { high &+= 1 }
                last.random = (high, low)
            } else {
                last = (milliseconds, (UInt16.random(in: 0 ... .max), UInt64.random(in: 0 ... .max)))
            }
            return (last.milliseconds, last.random)
        }
        var characters = [UInt8](repeating: 0, count: 26)
        var value = time
        for index in stride(from: 9, through: 0, by: -1) {
            characters[index] = Self.alphabet[Int(value & 31)]
            value >>= 5
        }
        // 80 random bits = 16 characters: the low 64 bits, then the high 16.
        var low = random.1, high = UInt64(random.0)
        for index in stride(from: 25, through: 10, by: -1) {
            characters[index] = Self.alphabet[Int(low & 31)]
            low = (low >> 5) | ((high & 31) << 59)
            high >>= 5
        }
        return String(decoding: characters, as: UTF8.self)
    }
}

/// Timestamps as the API writes them: ISO 8601 in UTC with milliseconds (`2026-11-27T14:30:00.123Z`), which
/// sort as text in time order.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static var now: String { string(Date()) }

    /// Reads an ISO 8601 date or date-time (`2025-01-31`, `2025-01-31T10:00:00Z`, with or without fractions).
    public static func date(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle().year().month().day().parse(text)
    }

    /// Whether the hosted API would take `text` as a `created` value: at least `YYYY-MM-DD`.
    public static func looksLikeISODate(_ text: String) -> Bool {
        text.count >= 10 && text.prefix(10).wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil
    }
}

/// The opaque `next` cursor of list endpoints: the sort key of the last item returned, base64url-encoded.
public struct PageCursor: Sendable, Equatable {
    public let created: String
    public let id: String

    public init(created: String, id: String) {
        self.created = created
        self.id = id
    }

    public var token: String {
        Data("v1\n\(created)\n\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Reads a token; `nil` for anything this server did not make.
    public init?(token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1" else { return nil }
        self.init(created: String(parts[1]), id: String(parts[2]))
    }
}
