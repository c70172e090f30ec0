"""Drives the DialogueDB REST server with nothing but Python's standard library, the way the hosted
service's Node SDK does: a Bearer key, JSON bodies sent as text/plain (no Content-Type of JSON), every
2xx read as JSON, the error envelope read on failures. Prints "N passed, N failed"."""

import json
import sys
import urllib.error
import urllib.request

BASE, KEY = sys.argv[1], sys.argv[2]
results = {"passed": 0, "failed": 0}


def call(method, path, body=None, prefix="/api/v1"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + prefix + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {KEY}")
    request.add_header("User-Agent", "dialogue-db-nodejs.1.0.18")
    if data is not None:
        request.add_header("Content-Type", "text/plain;charset=UTF-8")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, (json.loads(raw) if raw else None)


def check(name, condition):
    results["passed" if condition else "failed"] += 1
    if not condition:
        print(f"FAILED: {name}", file=sys.stderr)


status, dialogue = call("POST", "/dialogue", {"namespace": "py", "label": "from python",
                                              "messages": [{"role": "user", "content": "hi"}], "metadata": {"source": "py"}})
check("create dialogue", status == 200 and dialogue["totalMessages"] == 1 and dialogue["messages"][0]["content"] == "hi")
did = dialogue["id"]
status, batch = call("POST", f"/messages?dialogueId={did}&namespace=py",
                     [{"role": "assistant", "content": [{"type": "text", "text": f"part {n}"}]} for n in range(5)])
check("batch of messages", status == 200 and len(batch) == 5)
pages, cursor = [], None
while True:
    query = f"/messages?dialogueId={did}&namespace=py&limit=2&order=asc" + (f"&next={cursor}" if cursor else "")
    status, page = call("GET", query)
    pages.append(len(page["items"]))
    cursor = page.get("next")
    if not cursor:
        break
check("pages of two", pages == [2, 2, 2])
status, updated = call("PUT", f"/dialogue/{did}?namespace=py", {"state": {"step": 1}, "tags": ["py"]})
check("update state and tags", status == 200 and updated["state"] == {"step": 1} and updated["tags"] == ["py"])
status, ended = call("POST", f"/dialogue/{did}/end?namespace=py", {})
check("end", status == 200 and ended["status"] == "ended" and "endedAt" in ended)
status, error = call("POST", "/message", {"dialogueId": did, "namespace": "py", "role": "user", "content": "late"})
check("409 after end", status == 409 and error["error"]["type"] == "conflict" and error["error"]["requestId"].startswith("req_"))
status, error = call("GET", f"/dialogue/{did}")
check("404 without the namespace", status == 404 and error["error"]["code"] == "DIALOGUE_NOT_FOUND")
status, error = call("POST", "/dialogue", {"tags": ["x"] * 11})
check("400 with the field", status == 400 and error["error"]["details"][0]["field"] == "tags")
status, deleted = call("DELETE", f"/dialogue/{did}?namespace=py", prefix="")
check("delete on the bare path returns JSON", status == 200 and deleted == {"id": did, "deleted": True})
print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
