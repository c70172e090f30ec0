import Foundation
import SocketIO

/// `POST /summary` (summarize, or compact) and `GET /summary/{id}`; and the compacted message list.
extension DialogueDBAPI {
    /// Starts a summary of the dialogue's messages (all, or `startId`…`endId`; with `compact`, all but the
    /// newest `keepRecent`, default 10) and answers at once with it `processing`; poll `GET /summary/{id}`.
    func summarize(_ body: SocketValue?, context: RequestContext) async throws -> SocketValue {
        let input = try InputValidation.object(body)
        guard let dialogueId = try InputValidation.identifier(input["dialogueId"], "dialogueId") else { throw DialogueDBError.missingParameter("dialogueId") }
        let scope = try Query(values: [:]).scope(context, namespace: try InputValidation.namespace(input["namespace"]))
        guard try await storage.dialogue(id: dialogueId, scope: scope) != nil else { throw DialogueDBError.dialogueNotFound(dialogueId, namespace: scope.namespace) }
        let compact = input["compact"] == .bool(true)
        var keepRecent = 10
        if let value = input["keepRecent"], value != .null {
            guard let number = value.intValue, number >= 0 else { throw DialogueDBError.invalidParameter("keepRecent", "must be 0 or more", value: value) }
            keepRecent = number
        }
        let startId = try InputValidation.identifier(input["startId"], "startId"), endId = try InputValidation.identifier(input["endId"], "endId")
        var messages: [MessageRecord] = []
        var query = ListQuery(limit: maxPageSize, order: .asc)
        repeat {
            let page = try await storage.listMessages(dialogueId: dialogueId, query, scope: scope)
            messages += page.items
            query.after = page.next.flatMap(PageCursor.init(token:))
        } while query.after != nil
        if let startId {
            guard let start = messages.firstIndex(where: { $0.id == startId }) else { throw DialogueDBError.invalidParameter("startId", "is not a message of this dialogue") }
            messages.removeFirst(start)
        }
        if let endId {
            guard let end = messages.firstIndex(where: { $0.id == endId }) else { throw DialogueDBError.invalidParameter("endId", "is not a message of this dialogue (after startId)") }
            messages.removeLast(messages.count - end - 1)
        }
        if compact { messages.removeLast(min(keepRecent, messages.count)) }
        guard let first = messages.first, let last = messages.last else { throw DialogueDBError.invalidParameter("dialogueId", "has no messages to summarize in this range") }
        let now = Timestamp.now
        var summary = SummaryRecord(
            id: try InputValidation.identifier(input["id"], "id") ?? id(), dialogueId: dialogueId, projectId: context.projectId, namespace: scope.namespace,
            provider: summarizer.provider, model: summarizer.model, template: try InputValidation.string(input["template"], "template", maxLength: 128),
            startId: first.id, endId: last.id, fromCreated: first.created, toCreated: last.created, messageCount: messages.count, compact: compact,
            created: now, modified: now
        )
        try await storage.insertSummary(summary, scope: scope)
        let (storage, summarizer, range, logger) = (storage, summarizer, messages, logger)
        let processing = summary
        // The answer does not wait for the model; the summary is finished in the background and polled.
        Task {
            do {
                summary.content = try await summarizer.summarize(range, template: processing.template)
                summary.status = .completed
            } catch {
                summary.status = .failed
                summary.error = "\(error)"
                logger.warning("summary failed", metadata: ["db.summary": .string(summary.id), "db.error": "\(error)"])
            }
            summary.modified = Timestamp.now
            do {
                try await storage.updateSummary(summary, scope: scope)
            } catch {
                logger.error("summary could not be stored", metadata: ["db.summary": .string(summary.id), "db.error": "\(error)"])
            }
        }
        return processing.json
    }

    func getSummary(_ summaryId: String, query: Query, context: RequestContext) async throws -> SocketValue {
        guard let dialogueId = query["dialogueId"] else { throw DialogueDBError.missingParameter("dialogueId") }
        guard let summary = try await storage.summary(id: summaryId, dialogueId: dialogueId, scope: try query.scope(context)) else {
            throw DialogueDBError.notFound("summary", summaryId)
        }
        return summary.json
    }

    /// A dialogue's messages as `GET /messages` shows them: once compacted, the summary stands in (as a
    /// `system` message) for the messages it covers; `view=full` shows every message.
    func messagePage(dialogueId: String, _ list: ListQuery, view: String?, scope: Scope) async throws -> Page<MessageRecord> {
        guard view != "full", let compaction = try await storage.compaction(dialogueId: dialogueId, scope: scope),
              let toCreated = compaction.toCreated, let endId = compaction.endId
        else { return try await storage.listMessages(dialogueId: dialogueId, list, scope: scope) }
        var list = list
        list.floor = PageCursor(created: toCreated, id: endId)
        let firstPageAscending = list.after == nil && list.order == .asc
        if firstPageAscending { list.limit = max(1, list.limit - 1) }
        var page = try await storage.listMessages(dialogueId: dialogueId, list, scope: scope)
        if firstPageAscending { page.items.insert(compaction.standIn, at: 0) }
        if list.order == .desc, page.next == nil { page.items.append(compaction.standIn) }
        return page
    }
}
