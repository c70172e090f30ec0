#!/usr/bin/env python3
"""Dialogue wire-contract client, driven by the Swift test suite.

Speaks the raw ``dialogue:*`` events of PROTOCOL.md with python-socketio's AsyncClient, as a browser
frontend of the TypeScript original does (no Dialogue SDK), against a Swift server that the test starts
with one room, ``general``: events ``message`` ({text: 1-2000 chars, senderId}, history 3) and
``typing`` ({isTyping}); joiners subscribe to ``message``; history is synced on join. Before the script
runs, the server triggered one ``message`` "welcome".

Prints ``PASS <step>`` per step; on the first failure ``FAIL <step>: <detail>`` and exit 1. On success the
last line is ``dialogue-wire: N passed, 0 failed``.

Usage: python3 dialogue_wire_client.py --url http://127.0.0.1:PORT --transports websocket|polling
"""
import argparse
import asyncio
import sys

try:
    import socketio
except ImportError as exc:  # never a skip: the test command installs it
    print(f'FAIL setup: python-socketio not importable ({exc}); run ./scripts/test', flush=True)
    sys.exit(1)

TIMEOUT = 5.0


class Failure(Exception):
    pass


class Peer:
    """One connection, with an inbox of every event the server sent."""

    def __init__(self, name):
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox = []
        self.arrived = asyncio.Condition()

        @self.sio.on('*')
        async def any_event(event, *args):
            async with self.arrived:
                self.inbox.append((event, args[0] if args else None))
                self.arrived.notify_all()

    async def connect(self, url, transports, auth):
        await self.sio.connect(url, auth=auth, transports=transports, wait_timeout=TIMEOUT)

    async def emit(self, event, payload=None):
        await self.sio.emit(event, payload)

    async def next(self, event, where=lambda data: True):
        """Removes and returns the first `event` whose payload satisfies `where`, waiting for it."""
        def find():
            for index, (name, data) in enumerate(self.inbox):
                if name == event and where(data):
                    return self.inbox.pop(index)[1]
            return None

        async def wait():
            async with self.arrived:
                while True:
                    found = find()
                    if found is not None:
                        return found
                    await self.arrived.wait()
        try:
            return await asyncio.wait_for(wait(), TIMEOUT)
        except asyncio.TimeoutError:
            raise Failure(f'{self.name}: no {event} within {TIMEOUT}s; inbox: {self.inbox}')

    async def error(self, code):
        error = await self.next('dialogue:error')
        check(error.get('code') == code, f'expected {code}, got {error}')
        return error

    def has(self, event, where=lambda data: True):
        return any(name == event and where(data) for name, data in self.inbox)


def check(condition, detail):
    if not condition:
        raise Failure(detail)


async def scenario(url, transports, step):
    alice, bob = Peer('alice'), Peer('bob')

    await step('connect announces the client and its user id')
    await alice.connect(url, transports, {'userId': 'py-alice', 'theme': 'dark'})
    connected = await alice.next('dialogue:connected')
    check(connected['userId'] == 'py-alice' and connected['clientId'] == alice.sio.get_sid('/'), connected)

    await step('listRooms returns the configured room with its size')
    await alice.emit('dialogue:listRooms')
    rooms = await alice.next('dialogue:rooms')
    check(rooms == [{'id': 'general', 'name': 'General Chat', 'size': 0}], rooms)

    await step('trigger before joining is refused with NOT_IN_ROOM')
    await alice.emit('dialogue:trigger', {'roomId': 'general', 'event': 'message', 'data': {'text': 'x', 'senderId': 'a'}})
    await alice.error('NOT_IN_ROOM')

    await step('join answers joined, then the synced history')
    await alice.emit('dialogue:join', {'roomId': 'general'})
    joined = await alice.next('dialogue:joined')
    check(joined['roomId'] == 'general' and joined['roomName'] == 'General Chat' and joined['offset'] == 1, joined)
    history = await alice.next('dialogue:history')
    check(history['roomId'] == 'general' and [e['data']['text'] for e in history['events']] == ['welcome'], history)

    await step('a second user joins; a trigger reaches both as an EventMessage')
    await bob.connect(url, transports, {'token': 'py-bob'})
    await bob.next('dialogue:connected', lambda d: d['userId'] == 'py-bob')
    await bob.emit('dialogue:join', {'roomId': 'general'})
    await bob.next('dialogue:joined')
    await alice.emit('dialogue:trigger', {'roomId': 'general', 'event': 'message',
                                          'data': {'text': 'hello from python', 'senderId': 'py-alice'},
                                          'meta': {'trace': 'abc'}})
    for peer in (alice, bob):
        event = await peer.next('dialogue:event')
        check(event['event'] == 'message' and event['roomId'] == 'general' and event['from'] == 'py-alice'
              and event['data'] == {'text': 'hello from python', 'senderId': 'py-alice'}
              and event['meta'] == {'trace': 'abc'} and isinstance(event['timestamp'], int), event)

    await step('invalid data is refused with VALIDATION_FAILED naming the field')
    await alice.emit('dialogue:trigger', {'roomId': 'general', 'event': 'message', 'data': {'text': '', 'senderId': 'x'}})
    error = await alice.error('VALIDATION_FAILED')
    check('text' in error['message'] and error.get('field') == 'text', error)

    await step('an event the room does not list is refused with EVENT_NOT_ALLOWED')
    await alice.emit('dialogue:trigger', {'roomId': 'general', 'event': 'dance', 'data': {}})
    await alice.error('EVENT_NOT_ALLOWED')

    await step('only subscribers receive an event; subscribe adds one')
    # Acknowledged, so the typing event is delivered before bob subscribes (two connections, no order).
    answer = await alice.sio.call('dialogue:trigger', {'roomId': 'general', 'event': 'typing', 'data': {'isTyping': True}},
                                  timeout=TIMEOUT)
    check(answer.get('ok') is True and isinstance(answer.get('timestamp'), int), answer)
    answer = await bob.sio.call('dialogue:subscribe', {'roomId': 'general', 'eventName': 'typing'}, timeout=TIMEOUT)
    check(answer == {'ok': True}, answer)
    await alice.emit('dialogue:trigger', {'roomId': 'general', 'event': 'message', 'data': {'text': 'marker', 'senderId': 'a'}})
    await bob.next('dialogue:event', lambda e: e['data'].get('text') == 'marker')
    check(not bob.has('dialogue:event', lambda e: e['event'] == 'typing'), 'bob got typing before subscribing')
    await alice.emit('dialogue:trigger', {'roomId': 'general', 'event': 'typing', 'data': {'isTyping': False}})
    typing = await bob.next('dialogue:event', lambda e: e['event'] == 'typing')
    check(typing['data'] == {'isTyping': False}, typing)

    await step('getHistory pages newest first')
    await alice.emit('dialogue:getHistory', {'roomId': 'general', 'eventName': 'message', 'start': 0, 'end': 2})
    page = await alice.next('dialogue:historyResponse')
    check(page['roomId'] == 'general' and page['eventName'] == 'message' and page['start'] == 0 and page['end'] == 2
          and [e['data']['text'] for e in page['events']] == ['marker', 'hello from python'], page)

    await step('clients create rooms (announced to everyone) and delete their own')
    await bob.emit('dialogue:createRoom', {'id': 'py-room', 'name': 'Python Room', 'description': 'made in python'})
    created = await alice.next('dialogue:roomCreated')
    check(created == {'id': 'py-room', 'name': 'Python Room', 'description': 'made in python', 'createdById': 'py-bob'}, created)
    await alice.emit('dialogue:deleteRoom', {'roomId': 'py-room'})
    await alice.error('PERMISSION_DENIED')
    await alice.emit('dialogue:deleteRoom', {'roomId': 'general'})
    await alice.error('PERMISSION_DENIED')
    await bob.emit('dialogue:deleteRoom', {'roomId': 'py-room'})
    deleted = await alice.next('dialogue:roomDeleted')
    check(deleted == {'roomId': 'py-room'}, deleted)

    await step('acknowledged requests answer ok or the error, through the acknowledgement only')
    answer = await alice.sio.call('dialogue:join', {'roomId': 'nowhere'}, timeout=TIMEOUT)
    check(answer == {'ok': False, 'error': {'code': 'ROOM_NOT_FOUND', 'message': "Room 'nowhere' does not exist", 'roomId': 'nowhere'}}, answer)
    answer = await alice.sio.call('dialogue:listRooms', timeout=TIMEOUT)
    check(answer['ok'] is True and [room['id'] for room in answer['rooms']] == ['general'], answer)
    check(not alice.has('dialogue:error'), f'an acknowledged request also sent dialogue:error: {alice.inbox}')

    await step('leave answers left')
    await alice.emit('dialogue:leave', {'roomId': 'general'})
    left = await alice.next('dialogue:left')
    check(left == {'roomId': 'general'}, left)

    await alice.sio.disconnect()
    await bob.sio.disconnect()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--url', required=True)
    parser.add_argument('--transports', choices=['websocket', 'polling'], required=True)
    args = parser.parse_args()
    passed = 0
    current = None

    async def step(name):
        nonlocal passed, current
        if current is not None:
            print(f'PASS {current}', flush=True)
            passed += 1
        current = name

    try:
        await scenario(args.url, [args.transports], step)
    except Failure as failure:
        print(f'FAIL {current}: {failure}', flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - report anything unexpected as a failure
        print(f'FAIL {current}: {type(exc).__name__}: {exc}', flush=True)
        return 1
    print(f'PASS {current}', flush=True)
    passed += 1
    print(f'dialogue-wire: {passed} passed, 0 failed', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
