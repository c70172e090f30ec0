"""Long-polling fan-out: N Engine.IO v4 clients on HTTP long-polling join one room; one WebSocket publisher
sends M events at RATE/s; the server re-emits each to the room, and the receivers time every delivery from
the send time embedded in the payload (the `@@<ms>` marker, as shared/tools/fanout.c does).

usage: polling_fanout.py HOST PORT N M RATE [bench|dialogue]
  bench:    join = 421["join",ROOM] (acked 431); publish = 42["bcast",ROOM,{..}]; delivery = "tick"
  dialogue: join = 421["dialogue:join",{"roomId":ROOM}]; publish = 42["dialogue:trigger",{roomId,event,data}]
env: SERVER_PID (server CPU seconds while publishing, from /proc), ROOM (bench), EVENT (tick), SIZE (filler
     bytes, 64), DRAIN (seconds to wait for deliveries after the last send, 10), CONNECT_CONCURRENCY (50).
output: one line of key=value like fanout.c's, plus polls (GET requests answered while publishing) and
     packets_per_poll. Exit 0 when everything arrived.
Needs aiohttp (the project's .venv has it). Polling is slow: this is one Python process, which is enough for a
few thousand deliveries a second; see gen_cpu_s to tell whether the generator kept up.
"""
import asyncio
import os
import sys
import time

import aiohttp

RS = "\x1e"  # Engine.IO v4 separates packets in one polling payload with the record separator


def server_cpu(pid):
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def sent_at(packet):
    """The send time (ms) after `@@` in a delivery, or None."""
    at = packet.find("@@")
    if at < 0:
        return None
    end = at + 2
    while end < len(packet) and (packet[end].isdigit() or packet[end] == "."):
        end += 1
    try:
        return float(packet[at + 2:end])
    except ValueError:
        return None


class Stats:
    def __init__(self):
        self.latencies = []
        self.polls = 0
        self.counting = False


class PollingClient:
    """One Engine.IO long-polling session: one GET outstanding at a time, POSTs serialised."""

    def __init__(self, http, base, join, stats):
        self.http, self.base, self.join_packet, self.stats = http, base, join, stats
        self.url = None
        self.post_lock = asyncio.Lock()
        self.task = None

    async def get(self):
        async with self.http.get(self.url or self.base) as response:
            body = await response.text()
            if response.status != 200:
                raise RuntimeError(f"GET {response.status}: {body[:200]}")
        return body.split(RS) if body else []

    async def post(self, payload):
        async with self.post_lock:
            async with self.http.post(self.url, data=payload.encode(), headers={"Content-Type": "text/plain;charset=UTF-8"}) as response:
                body = await response.text()
                if response.status != 200:
                    raise RuntimeError(f"POST {response.status}: {body[:200]}")

    async def until(self, accept):
        """Polls until a packet satisfies `accept`; answers pings meanwhile."""
        while True:
            for packet in await self.get():
                if packet == "2":
                    await self.post("3")
                elif accept(packet):
                    return packet

    async def connect(self):
        packets = await self.get()
        if not packets or not packets[0].startswith("0"):
            raise RuntimeError(f"no open packet: {packets[:1]}")
        sid = packets[0].split('"sid":"', 1)[1].split('"', 1)[0]
        self.url = f"{self.base}&sid={sid}"
        await self.post("40")
        await self.until(lambda p: p.startswith("40") or p.startswith("44"))
        await self.post(self.join_packet)
        answer = await self.until(lambda p: p.startswith("431") or "dialogue:joined" in p or "dialogue:error" in p or p.startswith("44"))
        if "dialogue:error" in answer or '"ok":false' in answer or answer.startswith("44"):
            raise RuntimeError(f"join refused: {answer[:200]}")

    async def receive(self):
        stats = self.stats
        while True:
            packets = await self.get()
            if stats.counting:
                stats.polls += 1
            now = time.time() * 1000
            for packet in packets:
                if packet.startswith("42"):
                    t = sent_at(packet)
                    if t is not None:
                        stats.latencies.append(now - t)
                elif packet == "2":
                    asyncio.ensure_future(self.post("3"))
                elif packet == "1":
                    raise RuntimeError("server closed a polling session")


async def publisher(http, host, port, mode, room, event):
    ws = await http.ws_connect(f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket", max_msg_size=0, autoping=True)

    async def until(accept):
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"publisher: {message.type}")
            if message.data == "2":
                await ws.send_str("3")
            elif accept(message.data):
                return message.data

    await until(lambda p: p.startswith("0"))
    await ws.send_str("40")
    await until(lambda p: p.startswith("40"))
    if mode == "dialogue":  # triggering needs membership
        await ws.send_str('421["dialogue:join",{"roomId":"%s"}]' % room)
        answer = await until(lambda p: p.startswith("431"))
        if '"ok":false' in answer:
            raise RuntimeError(f"publisher join refused: {answer[:200]}")

    async def drain():  # the publisher's own traffic: pings, and its own events in dialogue mode
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT and message.data == "2":
                await ws.send_str("3")
            elif message.type == aiohttp.WSMsgType.TEXT and "dialogue:error" in message.data:
                print("publisher got:", message.data[:300], file=sys.stderr)

    return ws, asyncio.ensure_future(drain())


async def main():
    if len(sys.argv) < 6:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(1)
    host, port, n, m, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    mode = sys.argv[6] if len(sys.argv) > 6 else "bench"
    room, event = os.environ.get("ROOM", "bench"), os.environ.get("EVENT", "tick")
    size, drain_s = int(os.environ.get("SIZE", "64")), float(os.environ.get("DRAIN", "10"))
    pid = int(os.environ.get("SERVER_PID", "0"))
    if mode == "bench":
        join = '421["join","%s"]' % room
    elif mode == "dialogue":
        join = '421["dialogue:join",{"roomId":"%s"}]' % room
    else:
        sys.exit("mode must be bench or dialogue")

    stats = Stats()
    base = f"http://{host}:{port}/socket.io/?EIO=4&transport=polling"
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        clients = [PollingClient(http, base, join, stats) for _ in range(n)]
        gate = asyncio.Semaphore(int(os.environ.get("CONNECT_CONCURRENCY", "50")))

        async def connect(client):
            async with gate:
                await client.connect()
            client.task = asyncio.ensure_future(client.receive())

        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(connect(c) for c in clients)), 120)
        connect_s = time.monotonic() - t0
        ws, pub_task = await publisher(http, host, port, mode, room, event)
        await asyncio.sleep(1)  # settle

        filler = "x" * size
        expected = n * m
        cpu0, s0 = time.process_time(), server_cpu(pid)
        stats.counting = True
        start = time.monotonic()
        for k in range(m):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            data = '{"t":"@@%.3f","k":%d,"p":"%s"}' % (time.time() * 1000, k, filler)
            if mode == "bench":
                await ws.send_str('42["bcast","%s",%s]' % (room, data))
            else:
                await ws.send_str('42["dialogue:trigger",{"roomId":"%s","event":"%s","data":%s}]' % (room, event, data))
        last = time.monotonic()
        failed = [c.task for c in clients if c.task.done()]
        while len(stats.latencies) < expected and time.monotonic() - last < drain_s and not failed:
            await asyncio.sleep(0.05)
            failed = [c.task for c in clients if c.task.done()]
        end = time.monotonic()
        cpu1, s1 = time.process_time(), server_cpu(pid)
        for task in failed[:1]:
            print("a polling client failed:", repr(task.exception()), file=sys.stderr)

        lat = sorted(stats.latencies)
        delivered = len(lat)

        def q(p):
            return lat[int(p * (delivered - 1))] if delivered else -1

        secs = end - start
        print(
            f"mode=polling-{mode} N={n} M={m} rate={rate:.0f} size={size} connect_s={connect_s:.2f} "
            f"delivered={delivered}/{expected} secs={secs:.2f} deliveries_per_s={delivered / secs:.0f} "
            f"p50_ms={q(.5):.2f} p90_ms={q(.9):.2f} p99_ms={q(.99):.2f} max_ms={q(1.0):.2f} "
            f"gen_cpu_s={cpu1 - cpu0:.2f} srv_cpu_s={s1 - s0:.2f} "
            f"srv_us_per_delivery={(s1 - s0) * 1e6 / delivered if delivered else -1:.2f} "
            f"polls={stats.polls} packets_per_poll={delivered / stats.polls if stats.polls else 0:.2f}",
            flush=True,
        )
        for c in clients:
            c.task.cancel()
        pub_task.cancel()
        await ws.close()
    return 0 if delivered == expected else 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
