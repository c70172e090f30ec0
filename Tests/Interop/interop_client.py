#!/usr/bin/env python3
"""Socket.IO v5 interop client, driven by the Swift test suite.

Runs a fixed scenario with python-socketio's AsyncClient (asyncio + aiohttp)
against our Swift server and prints ``PASS <step>`` per step. On the first
failure it prints ``FAIL <step>: <detail>`` and exits 1; any unexpected
exception prints its traceback and exits 1. On success the last line is
``interop: N passed, 0 failed`` and the exit code is 0. A missing
python-socketio is a failure too (exit 1): ``./scripts/test`` installs it.

Usage:
    python3 interop_client.py --url http://127.0.0.1:PORT \
        --transports websocket|polling|upgrade

Requires: python-socketio (5.x, which brings python-engineio) and aiohttp.
"""
import argparse
import asyncio
import sys
import traceback

try:
    import aiohttp  # noqa: F401 - the asyncio client's HTTP/WebSocket stack
    import engineio  # python-engineio, installed with python-socketio
    import socketio
except ImportError as exc:  # never a skip: the test command installs these
    print(f'FAIL setup: python-socketio/aiohttp not importable ({exc}); '
          'run ./scripts/test, which installs them', flush=True)
    sys.exit(1)

STEP_TIMEOUT = 5.0       # seconds allowed for each step
UPGRADE_TIMEOUT = 3.0    # seconds allowed for polling -> websocket upgrade
SOCKETIO_PATH = '/socket.io/'
AUTH = {'userId': 'u1', 'token': 'secret-token', 'room': 'r'}

TRANSPORTS = {
    'websocket': ['websocket'],
    'polling': ['polling'],
    'upgrade': ['polling', 'websocket'],  # start on polling, then upgrade
}


class StepFailed(Exception):
    """An assertion in a step did not hold."""

    def __init__(self, step, detail):
        super().__init__(f'{step}: {detail}')
        self.step = step
        self.detail = detail


def strict_equal(a, b):
    """Deep equality that also requires identical types (1 != 1.0 != True,
    bytes != bytearray != str, list != tuple)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return (a.keys() == b.keys()
                and all(strict_equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(strict_equal, a, b))
    return a == b


def describe(value):
    """repr() plus the type tree, so a type mismatch is visible in FAIL."""
    def types(v):
        if isinstance(v, dict):
            return {k: types(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [types(x) for x in v]
        return type(v).__name__
    return f'{value!r} (types {types(value)})'


async def flush_writes(client):
    """Wait until every packet queued on the client so far is on the wire.

    python-engineio writes from a background task fed by ``eio.queue``;
    ``task_done()`` is called per packet once it was sent (WebSocket frame
    written or polling POST answered), so ``join()`` is a write barrier.
    """
    await asyncio.wait_for(client.eio.queue.join(), STEP_TIMEOUT)


async def disconnect_cleanly(client):
    """Client-initiated disconnect that the server really sees; returns the
    namespaces that were left.

    ``AsyncClient.disconnect()`` is not used as is (python-engineio 4.x):
    - on websocket it queues DISCONNECT/CLOSE and closes the socket without
      waiting for the write loop, so the server never gets them and only
      sees a transport close;
    - on polling it then waits for the pending long-poll GET, which hangs
      until the next ping if the server does not answer it on CLOSE.
    So do the same steps with a write barrier after each: DISCONNECT per
    namespace, then the Engine.IO CLOSE, then drop the session locally.
    """
    namespaces = list(client.namespaces)
    for ns in namespaces:
        await client._send_packet(client.packet_class(
            socketio.packet.DISCONNECT, namespace=ns))
    await flush_writes(client)
    for ns in namespaces:  # left for good: no second DISCONNECT below
        client.namespaces.pop(ns, None)
    if client.eio.state == 'connected':
        await client.eio._send_packet(
            engineio.packet.Packet(engineio.packet.CLOSE))
        await flush_writes(client)
    # abort=True: close locally without waiting for the read loop.
    await client.eio.disconnect(abort=True)
    return namespaces


class Recorder:
    """Collects the argument tuples of events, per (namespace, event)."""

    def __init__(self, client):
        self.client = client
        self.queues = {}

    def _queue(self, namespace, event):
        return self.queues.setdefault((namespace, event), asyncio.Queue())

    def record(self, event, namespace='/'):
        queue = self._queue(namespace, event)

        def handler(*args):
            queue.put_nowait(args)
        self.client.on(event, handler, namespace=namespace)

    async def next(self, step, event, namespace='/'):
        """Args (as a tuple) of the next `event` received on `namespace`."""
        try:
            return await asyncio.wait_for(
                self._queue(namespace, event).get(), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            raise StepFailed(step, f'no {event!r} event on {namespace} '
                                   f'within {STEP_TIMEOUT:g}s') from None


class Scenario:
    def __init__(self, url, mode):
        self.url = url
        self.mode = mode
        self.transports = TRANSPORTS[mode]
        self.passed = 0
        self.current = 'setup'  # step running now, for unexpected exceptions
        # reconnection off: a failure must surface, not be retried silently.
        self.client = socketio.AsyncClient(reconnection=False)
        self.events = Recorder(self.client)

    def begin(self, step):
        self.current = step
        return step

    def ok(self, step):
        self.passed += 1
        print(f'PASS {step}', flush=True)

    def expect(self, step, condition, detail):
        if not condition:
            raise StepFailed(step, detail)

    def expect_args(self, step, got, expected):
        self.expect(step, strict_equal(list(got), list(expected)),
                    f'expected args {describe(list(expected))}, '
                    f'got {describe(list(got))}')

    async def run(self):
        await self.step_connect()
        await self.step_message()
        await self.step_message_with_ack()
        await self.step_binary_to_server()
        await self.step_binary_from_server()
        await self.step_server_ack()
        await self.step_rejected('forbidden-namespace', '/forbidden',
                                 'not allowed')
        await self.step_rejected('invalid-namespace', '/nope',
                                 'Invalid namespace')
        await self.step_transport()
        await self.step_disconnect()

    # 1. connect to '/' and '/custom' with auth; each gets `auth` echoed.
    async def step_connect(self):
        for ns in ('/', '/custom'):
            self.events.record('auth', ns)
        self.events.record('message-back')
        self.events.record('binary-back')
        self.events.record('server-got')

        @self.client.on('server-ask')
        def server_ask(x):
            # The return value becomes the ack payload sent to the server.
            return x + '!' if isinstance(x, str) else x

        step = self.begin('connect')
        try:
            await asyncio.wait_for(self.client.connect(
                self.url, auth=AUTH, transports=self.transports,
                namespaces=['/', '/custom'], socketio_path=SOCKETIO_PATH,
                wait_timeout=STEP_TIMEOUT), STEP_TIMEOUT + 1)
        except (socketio.exceptions.ConnectionError,
                asyncio.TimeoutError) as exc:
            raise StepFailed(step, f'connect failed: {exc!r}') from None
        self.expect(step, self.client.connected, 'client not connected')
        self.expect(step, set(self.client.namespaces) == {'/', '/custom'},
                    f'connected namespaces: {sorted(self.client.namespaces)}')
        self.ok(step)

        step = self.begin('auth')
        for ns in ('/', '/custom'):
            args = await self.events.next(step, 'auth', ns)
            self.expect(step, strict_equal(list(args), [AUTH]),
                        f'on {ns}: expected {describe([AUTH])}, '
                        f'got {describe(list(args))}')
        self.ok(step)

    # 2. multiple plain args are echoed back as `message-back`.
    async def step_message(self):
        step = self.begin('message')
        sent = (1, 'two', {'three': [3]})
        await self.client.emit('message', sent)  # a tuple = several args
        self.expect_args(step, await self.events.next(step, 'message-back'),
                         sent)
        self.ok(step)

    # 3. client->server ack echoes the args.
    async def step_message_with_ack(self):
        # emit() + callback rather than call(): call() collapses a one-arg
        # ack to a bare value and a zero-arg ack to None, so the exact arg
        # list is only visible through the callback.
        step = self.begin('message-with-ack')
        sent = ('a', 2)
        acked = asyncio.get_running_loop().create_future()

        def on_ack(*args):
            if not acked.done():
                acked.set_result(args)
        await self.client.emit('message-with-ack', sent, callback=on_ack)
        try:
            args = await asyncio.wait_for(acked, STEP_TIMEOUT)
        except asyncio.TimeoutError:
            raise StepFailed(step, f'no ack within {STEP_TIMEOUT:g}s') \
                from None
        self.expect_args(step, args, sent)
        self.ok(step)

    # 4. binary client->server (top-level and nested) round-trips as bytes.
    async def step_binary_to_server(self):
        step = self.begin('binary-to-server')
        sent = (b'\x01\x02\x03', {'blob': b'\xfe\xff', 'k': 'v'})
        await self.client.emit('message', sent)
        self.expect_args(step, await self.events.next(step, 'message-back'),
                         sent)
        self.ok(step)

    # 5. binary server->client.
    async def step_binary_from_server(self):
        step = self.begin('binary-from-server')
        await self.client.emit('binary-please')
        expected = (b'\x00\x01\x02\xff', {'nested': b'\x10\x20', 'n': 1})
        self.expect_args(step, await self.events.next(step, 'binary-back'),
                         expected)
        self.ok(step)

    # 6. server->client ack: server asks, our handler's return is the ack.
    async def step_server_ack(self):
        step = self.begin('server-ack')
        await self.client.emit('ask-me', 'ping')
        self.expect_args(step, await self.events.next(step, 'server-got'),
                         ('ping!',))
        self.ok(step)

    # 7. namespaces the server refuses with CONNECT_ERROR.
    async def step_rejected(self, step, namespace, expected_text):
        self.begin(step)
        # Why not connect(wait=True) and catch its ConnectionError:
        # - python-socketio does not put the CONNECT_ERROR text into that
        #   exception ("One or more namespaces failed to connect: <ns>"); the
        #   text only reaches the `connect_error` handler, as the packet data
        #   ({"message": ...} in protocol v5);
        # - on pure polling its internal disconnect races with the write loop
        #   (the CLOSE packet is dropped if the POST carrying CONNECT is still
        #   in flight), and connect() then hangs until the next ping (~25 s).
        # So connect without waiting, await `connect_error` ourselves, and
        # check the same outcome connect() would (namespace failed, not
        # connected), then close once the write loop is idle.
        other = socketio.AsyncClient(reconnection=False)
        rejected = asyncio.get_running_loop().create_future()
        connected = asyncio.get_running_loop().create_future()

        def on_connect_error(*data):
            if not rejected.done():
                rejected.set_result(data)

        def on_connect():
            if not connected.done():
                connected.set_result(True)
        other.on('connect_error', on_connect_error, namespace=namespace)
        other.on('connect', on_connect, namespace=namespace)
        try:
            try:
                await asyncio.wait_for(other.connect(
                    self.url, transports=self.transports,
                    namespaces=[namespace], socketio_path=SOCKETIO_PATH,
                    wait=False), STEP_TIMEOUT)
            except (socketio.exceptions.ConnectionError,
                    asyncio.TimeoutError) as exc:
                raise StepFailed(step, f'Engine.IO connection failed: '
                                       f'{exc!r}') from None
            done, _ = await asyncio.wait(
                {rejected, connected}, timeout=STEP_TIMEOUT,
                return_when=asyncio.FIRST_COMPLETED)
            self.expect(step, done, f'no answer for {namespace} within '
                                    f'{STEP_TIMEOUT:g}s')
            self.expect(step, rejected in done,
                        f'connection to {namespace} was accepted')
            self.expect(step, namespace in other.failed_namespaces
                        and namespace not in other.namespaces,
                        f'{namespace} not marked as failed: failed='
                        f'{other.failed_namespaces}, '
                        f'connected={list(other.namespaces)}')
            data = rejected.result()
            texts = [d.get('message') if isinstance(d, dict) else d
                     for d in data]
            self.expect(step, any(isinstance(t, str) and expected_text in t
                                  for t in texts),
                        f'connect_error data {data!r} lacks '
                        f'{expected_text!r}')
        finally:
            for fut in (rejected, connected):
                fut.cancel()
            try:
                await disconnect_cleanly(other)
            except Exception:  # noqa: BLE001 - keep the step's own outcome
                pass
        self.ok(step)

    # 8. transport actually in use.
    async def step_transport(self):
        step = self.begin('transport')
        expected = 'websocket' if self.mode == 'upgrade' else self.mode
        deadline = asyncio.get_running_loop().time() + UPGRADE_TIMEOUT
        while (self.client.transport() != expected
               and asyncio.get_running_loop().time() < deadline):
            await asyncio.sleep(0.05)
        self.expect(step, self.client.transport() == expected,
                    f'expected {expected!r}, got {self.client.transport()!r}')
        self.ok(step)

    # 9. client-initiated disconnect from every namespace.
    async def step_disconnect(self):
        step = self.begin('disconnect')
        try:
            left = await disconnect_cleanly(self.client)
        except asyncio.TimeoutError:
            raise StepFailed(step, f'disconnect took over {STEP_TIMEOUT:g}s') \
                from None
        self.expect(step, sorted(left) == ['/', '/custom'],
                    f'left namespaces {left}, expected / and /custom')
        self.expect(step, not self.client.connected, 'still connected')
        self.expect(step, self.client.eio.state == 'disconnected',
                    f'Engine.IO state {self.client.eio.state!r}')
        self.ok(step)

    async def cleanup(self):
        """Best effort after a failure: leave the server a clean socket."""
        try:
            if self.client.connected:
                await disconnect_cleanly(self.client)
        except Exception:  # noqa: BLE001 - already failing, keep first error
            pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--url', required=True,
                        help='server base URL, e.g. http://127.0.0.1:3000')
    parser.add_argument('--transports', required=True, choices=TRANSPORTS,
                        help='websocket, polling, or upgrade '
                             '(polling first, then websocket)')
    args = parser.parse_args()

    scenario = Scenario(args.url, args.transports)
    try:
        await scenario.run()
    except StepFailed as failure:
        print(f'FAIL {failure.step}: {failure.detail}', flush=True)
        await scenario.cleanup()
        return 1
    except Exception:  # noqa: BLE001 - any surprise is a failure
        print(f'FAIL {scenario.current}: unexpected exception', flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        await scenario.cleanup()
        return 1
    print(f'interop: {scenario.passed} passed, 0 failed', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
