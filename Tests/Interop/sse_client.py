"""A Server-Sent Events subscriber, as any backend or browser would be: reads `count` events from a Dialogue
room's stream, optionally resuming with Last-Event-ID, and publishes events through the HTTP API once the
stream is open (so nothing races the subscription). Prints one JSON object per event, then exits."""

import argparse
import asyncio
import json
import sys

import aiohttp


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the stream, e.g. http://127.0.0.1:3000/sse/rooms/feed?events=message")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--last-event-id")
    parser.add_argument("--token")
    parser.add_argument("--publish", action="append", default=[], help="URL|JSON body, POSTed once the stream is open")
    parser.add_argument("--api-key")
    args = parser.parse_args()
    headers = {"Accept": "text/event-stream"}
    if args.last_event_id:
        headers["Last-Event-ID"] = args.last_event_id
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(args.url, headers=headers) as response:
            if response.status != 200 or not response.headers["Content-Type"].startswith("text/event-stream"):
                print(json.dumps({"status": response.status, "body": await response.text()}))
                sys.exit(1)
            for publish in args.publish:
                url, body = publish.split("|", 1)
                async with session.post(url, data=body, headers={"X-API-Key": args.api_key}) as posted:
                    assert posted.status == 200, await posted.text()
            received, fields = 0, {}
            while received < args.count:
                line = (await response.content.readline()).decode().rstrip("\n")
                if line == "":
                    if "data" in fields:
                        print(json.dumps({"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])}), flush=True)
                        received += 1
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value


asyncio.run(main())
