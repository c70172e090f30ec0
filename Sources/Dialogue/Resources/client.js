// Dialogue browser client: an ES module with no dependencies, served by a Dialogue server at
// /dialogue/client.js. It speaks Socket.IO v5 over an Engine.IO v4 WebSocket and has the API shape of
// the TypeScript original's client (createDialogueClient, RoomContext), with requests matched to their
// answers by Socket.IO acknowledgements, and reconnection that re-joins rooms, restores subscriptions and
// gets the events missed meanwhile.
//
//   import { createDialogueClient } from "/dialogue/client.js";
//   const client = createDialogueClient({ url: location.origin, auth: { userId: "alice" } });
//   await client.connect();
//   const room = await client.join("general");
//   room.on("message", (msg) => console.log(msg.from, msg.data.text));
//   await room.trigger("message", { text: "Hello" });

/** An error the server reported, with its code (ROOM_NOT_FOUND, VALIDATION_FAILED, …). */
export class DialogueError extends Error {
  constructor({ code, message, field }) {
    super(`[${code}] ${message}`);
    this.name = "DialogueError";
    this.code = code;
    this.field = field;
  }
}

function listeners() {
  const set = new Set();
  return {
    add(handler) { set.add(handler); return () => set.delete(handler); },
    emit(...args) { for (const handler of [...set]) { try { handler(...args); } catch (error) { console.error(error); } } },
  };
}

/**
 * Creates a client. Options: url (default: the page's origin), auth ({userId, token, …}), path
 * ("/socket.io"), autoConnect (true), reconnection (true), reconnectionAttempts (5),
 * reconnectionDelay (1000 ms), reconnectionDelayMax (5000 ms), timeout (5000 ms per request).
 */
export function createDialogueClient(options = {}) {
  const config = {
    url: globalThis.location?.origin ?? "http://127.0.0.1:3000", auth: {}, path: "/socket.io", autoConnect: true,
    reconnection: true, reconnectionAttempts: 5, reconnectionDelay: 1000, reconnectionDelayMax: 5000, timeout: 5000, ...options,
  };
  const on = { connect: listeners(), disconnect: listeners(), error: listeners(), history: listeners(), roomCreated: listeners(), roomDeleted: listeners(), state: listeners() };
  const rooms = new Map();
  const pending = new Map();
  let ws = null, nextAck = 0, attempts = 0, state = "disconnected", userId = null, manual = false, connecting = null, retryTimer = null;

  const setState = (next) => { if (next !== state) { state = next; on.state.emit(next); } };
  const send = (text) => ws?.readyState === WebSocket.OPEN && ws.send(text);

  function request(event, payload, { rejoining = false } = {}) {
    if (!rejoining && state !== "connected") {
      if (config.autoConnect && state === "disconnected") return client.connect().then(() => request(event, payload));
      return Promise.reject(new Error(`not connected (${state})`));
    }
    return new Promise((resolve, reject) => {
      const id = nextAck++;
      const timer = setTimeout(() => { pending.delete(id); reject(new Error(`no answer to ${event} within ${config.timeout} ms`)); }, config.timeout);
      pending.set(id, { resolve, reject, timer, event });
      send("42" + id + JSON.stringify(payload === undefined ? [event] : [event, payload]));
    });
  }

  function answered(id, [answer]) {
    const call = pending.get(id);
    if (!call) return;
    pending.delete(id);
    clearTimeout(call.timer);
    if (answer?.ok) call.resolve(answer);
    else call.reject(answer?.error ? new DialogueError(answer.error) : new Error(`${call.event} failed`));
  }

  function failPending(reason) {
    for (const [id, call] of pending) { clearTimeout(call.timer); call.reject(new Error(`the connection dropped before ${call.event} was answered (${reason})`)); pending.delete(id); }
  }

  async function announced(payload) {
    userId = payload.userId;
    for (const room of [...rooms.values()]) {
      try { await room._rejoin(); } catch (error) { rooms.delete(room.roomId); on.error.emit(error); }
    }
    attempts = 0;
    setState("connected");
    on.connect.emit(userId);
    connecting?.resolve();
    connecting = null;
  }

  function received(event, payload) {
    switch (event) {
      case "dialogue:connected": announced(payload); break;
      case "dialogue:event": rooms.get(payload.roomId)?._deliver(payload); break;
      case "dialogue:joined":
        if (!rooms.has(payload.roomId)) rooms.set(payload.roomId, roomContext(payload.roomId, payload.roomName));
        rooms.get(payload.roomId)._update(payload);
        break;
      case "dialogue:left": rooms.delete(payload.roomId); break;
      case "dialogue:history": on.history.emit(payload.roomId, payload.events); break;
      case "dialogue:roomCreated": on.roomCreated.emit(payload); break;
      case "dialogue:roomDeleted": rooms.delete(payload.roomId); on.roomDeleted.emit(payload.roomId); break;
      case "dialogue:error": on.error.emit(new DialogueError(payload)); break;
    }
  }

  function open() {
    setState(attempts === 0 ? "connecting" : "reconnecting");
    const base = config.url.replace(/^http/, "ws").replace(/\/$/, "");
    ws = new WebSocket(`${base}${config.path}/?EIO=4&transport=websocket`);
    let reason = "transport close";
    ws.onmessage = ({ data }) => {
      if (typeof data !== "string") return;
      const type = data[0];
      if (type === "0") return send("40" + JSON.stringify(config.auth));
      if (type === "2") return send("3");
      if (type === "1") { reason = "transport close"; return; }
      if (type !== "4") return;
      const packet = data.slice(1);
      if (packet.startsWith("4")) {
        const error = JSON.parse(packet.slice(1) || "{}");
        manual = true;
        connecting?.reject(new Error(error.message ?? "connection refused"));
        connecting = null;
        on.error.emit(new Error(error.message ?? "connection refused"));
        ws.close();
        return;
      }
      if (packet.startsWith("1")) { reason = "io server disconnect"; manual = true; ws.close(); return; }
      const match = /^([23])(\d*)(.*)$/s.exec(packet);
      if (!match) return;
      const [, kind, id, json] = match;
      const args = JSON.parse(json);
      if (kind === "3") answered(Number(id), args);
      else received(args[0], args[1]);
    };
    ws.onclose = () => {
      const wasConnected = state === "connected";
      failPending(reason);
      if (wasConnected) on.disconnect.emit(reason);
      if (manual || !config.reconnection) { setState("disconnected"); connecting?.reject(new Error(`disconnected: ${reason}`)); connecting = null; return; }
      if (++attempts > config.reconnectionAttempts) {
        setState("disconnected");
        const error = new Error(`gave up after ${config.reconnectionAttempts} reconnection attempts`);
        connecting?.reject(error); connecting = null; on.error.emit(error);
        return;
      }
      const base = Math.min(config.reconnectionDelay * 2 ** (attempts - 1), config.reconnectionDelayMax);
      setState("reconnecting");
      retryTimer = setTimeout(open, base * (0.5 + Math.random()));
    };
  }

  function roomContext(roomId, roomName) {
    const handlers = listeners();
    // Where the client stands in the room's log: a re-join sends it, so the server replays what was missed
    // and restores the subscriptions.
    const position = { epoch: undefined, offset: 0, subscriptions: undefined };
    const change = async (event, eventName) => {
      await request(event, { roomId, eventName });
      if (!position.subscriptions) return;
      if (event === "dialogue:unsubscribe") position.subscriptions = position.subscriptions.filter((name) => name !== eventName);
      else if (!position.subscriptions.includes(eventName)) position.subscriptions.push(eventName);
    };
    return {
      roomId, roomName,
      /** Calls handler(message) for events named `eventName`; returns an unsubscribe function. */
      on(eventName, handler) { return handlers.add((message) => { if (message.event === eventName) handler(message); }); },
      /** Calls handler(eventName, message) for every event of the room. */
      onAny(handler) { return handlers.add((message) => handler(message.event, message)); },
      /** Triggers an event; resolves with the server's timestamp, rejects with a DialogueError. */
      async trigger(event, data, meta) { return (await request("dialogue:trigger", meta === undefined ? { roomId, event, data } : { roomId, event, data, meta })).timestamp; },
      subscribe(eventName) { return change("dialogue:subscribe", eventName); },
      subscribeAll() { return change("dialogue:subscribeAll", "*"); },
      unsubscribe(eventName) { return change("dialogue:unsubscribe", eventName); },
      /** Events [start, end) of one name, newest first. */
      async getHistory(eventName, start = 0, end = 50) { return (await request("dialogue:getHistory", { roomId, eventName, start, end })).events; },
      async leave() { rooms.delete(roomId); await request("dialogue:leave", { roomId }); },
      async presence() { return (await request("dialogue:presence", { roomId })).users; },
      _deliver(message) { if (message.offset > position.offset) position.offset = message.offset; handlers.emit(message); },
      _update(joined) {
        if (joined.epoch !== undefined) { if (joined.epoch !== position.epoch) position.offset = 0; position.epoch = joined.epoch; }
        if (joined.offset > position.offset) position.offset = joined.offset;
        if (joined.subscriptions) position.subscriptions = [...joined.subscriptions];
      },
      async _rejoin() {
        const answer = await request("dialogue:join", { roomId, offset: position.offset, epoch: position.epoch, subscriptions: position.subscriptions }, { rejoining: true });
        this._update(answer);
        if (answer.recovered === false) on.error.emit(new Error(`could not replay everything missed in ${roomId}; history was sent instead`));
      },
    };
  }

  const client = {
    get userId() { return userId; },
    get state() { return state; },
    get connected() { return state === "connected"; },
    /** Connects; resolves once the server announced the client, rejects with the server's reason if refused. */
    connect() {
      if (state === "connected") return Promise.resolve();
      if (connecting) return connecting.promise;
      manual = false;
      attempts = 0;
      let resolve, reject;
      const promise = new Promise((ok, fail) => { resolve = ok; reject = fail; });
      connecting = { promise, resolve, reject };
      open();
      return promise;
    },
    disconnect() { manual = true; clearTimeout(retryTimer); if (ws?.readyState === WebSocket.OPEN) send("41"); ws?.close(); rooms.clear(); },
    /** Joins a room; resolves with its RoomContext. */
    async join(roomId) {
      if (rooms.has(roomId)) return rooms.get(roomId);
      const answer = await request("dialogue:join", { roomId });
      if (!rooms.has(roomId)) rooms.set(roomId, roomContext(roomId, answer.roomName));
      rooms.get(roomId)._update(answer);
      return rooms.get(roomId);
    },
    getRoom(roomId) { return rooms.get(roomId) ?? null; },
    /** Sends a fresh token before the current one expires; later reconnections use it. Resolves to its exp. */
    async refreshToken(token) {
      const answer = await request("dialogue:refreshToken", { token });
      config.auth = { ...config.auth, token };
      return answer.exp;
    },
    async listRooms() { return (await request("dialogue:listRooms")).rooms; },
    async createRoom({ id, name, description, maxSize }) { return (await request("dialogue:createRoom", { id, name, description, maxSize })).room; },
    async deleteRoom(roomId) { await request("dialogue:deleteRoom", { roomId }); rooms.delete(roomId); },
    onConnect(handler) { return on.connect.add(handler); },
    onDisconnect(handler) { return on.disconnect.add(handler); },
    onError(handler) { return on.error.add(handler); },
    onHistory(handler) { return on.history.add(handler); },
    onRoomCreated(handler) { return on.roomCreated.add(handler); },
    onRoomDeleted(handler) { return on.roomDeleted.add(handler); },
    onStateChange(handler) { return on.state.add(handler); },
  };
  return client;
}
