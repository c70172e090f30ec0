// Event definitions, schemas, messages and error codes are shared with the client SDK; a server imports
// them with `import Dialogue`.
@_exported import DialogueEvents
