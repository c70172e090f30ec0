#!/usr/bin/env python3
"""What one kept event's commit costs in SQLite itself, on this machine's disk, outside our server.

The history store's schema (table, index, room-position trigger) in WAL mode; one single-row INSERT per
commit, 200 per second (paced like the 100 x 100/s scenario), 2000 of them; prints the commit latency's
percentiles for synchronous=FULL and NORMAL, with the statement prepared once (as a statement cache would)
and prepared every time (as sqlite-nio does). It is the floor under the p99 of `dialogue-sqlite` at
100 x 100/s: a kept event is committed before it is delivered (see Docs/Benchmarks.md).

usage: python3 Benchmarks/sqlite_commit_floor.py [DIR]      (DIR: where the database goes; default a temp dir)
"""
import os
import sqlite3
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE dialogue_rooms (room_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL, last_offset INTEGER NOT NULL);
CREATE TABLE dialogue_events (room_id TEXT NOT NULL, room_offset INTEGER NOT NULL, epoch INTEGER NOT NULL, event TEXT NOT NULL,
    data TEXT NOT NULL, sender TEXT NOT NULL, timestamp INTEGER NOT NULL, meta TEXT);
CREATE UNIQUE INDEX dialogue_events_by_offset ON dialogue_events (room_id, room_offset);
CREATE TRIGGER dialogue_events_room_position AFTER INSERT ON dialogue_events BEGIN
    INSERT INTO dialogue_rooms (room_id, epoch, last_offset) VALUES (NEW.room_id, NEW.epoch, NEW.room_offset)
    ON CONFLICT(room_id) DO UPDATE SET last_offset = CASE WHEN dialogue_rooms.epoch = excluded.epoch
        THEN max(dialogue_rooms.last_offset, excluded.last_offset) ELSE excluded.last_offset END, epoch = excluded.epoch;
END;
"""
INSERT = "INSERT INTO dialogue_events (room_id, room_offset, epoch, event, data, sender, timestamp, meta) VALUES (?,?,?,?,?,?,?,?)"


def measure(folder, synchronous, cached):
    path = os.path.join(folder, f"floor-{synchronous}-{cached}.sqlite")
    db = sqlite3.connect(path, isolation_level=None, cached_statements=100 if cached else 0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.executescript(SCHEMA)
    latencies = []
    for offset in range(1, 2001):
        started = time.perf_counter()
        db.execute(INSERT, ("bench", offset, 1, "tick", '{"t":"x","k":1,"p":"filler"}', "u", 0, None))
        latencies.append((time.perf_counter() - started) * 1e6)
        time.sleep(0.005)
    db.close()
    latencies.sort()
    pick = lambda q: latencies[int(q * (len(latencies) - 1))]
    statement = "prepared once" if cached else "prepared each time"
    print(f"synchronous={synchronous} {statement}: p50 {pick(0.5):.0f} us, p90 {pick(0.9):.0f} us, p99 {pick(0.99):.0f} us")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="sqlite-floor-")
    for synchronous in ("FULL", "NORMAL"):
        for cached in (True, False):
            measure(folder, synchronous, cached)


if __name__ == "__main__":
    main()
