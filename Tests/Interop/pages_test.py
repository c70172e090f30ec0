"""Drives the demo page (/) and the admin dashboard (/admin) of a running `dialogue serve` in headless
Chromium through the DevTools protocol, as a person would: two people chat, the dashboard shows them.

Phases:
  chat     alice and bob open the demo page, see each other in the presence list, see typing, chat; the
           admin dashboard lists both connections and the messages, deletes a room alice made and
           disconnects bob.
  history  after a restart, carol opens the page and sees the earlier conversation.

Prints one JSON object (the report) on its last line; exits 1 with the reason on any failure.
Screenshots go to --artifacts.
"""

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import sys
import tempfile

import aiohttp


class Browser:
    """One headless Chromium with one DevTools WebSocket; pages are flattened sessions on it."""

    def __init__(self, chromium):
        self.chromium = chromium
        self.next_id = 0
        self.pending = {}

    async def start(self):
        self.profile = tempfile.mkdtemp(prefix="dialogue-pages-")
        self.process = await asyncio.create_subprocess_exec(
            self.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
            "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        url = None
        while url is None:
            line = await asyncio.wait_for(self.process.stderr.readline(), 30)
            if not line:
                raise RuntimeError("chromium exited before listening")
            match = re.search(rb"DevTools listening on (ws://\S+)", line)
            url = match and match.group(1).decode()
        asyncio.get_running_loop().create_task(self.process.stderr.read())
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(url, max_msg_size=0)
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self):
        async for message in self.ws:
            data = json.loads(message.data)
            future = self.pending.pop(data.get("id"), None)
            if future and not future.done():
                future.set_result(data)

    async def send(self, method, params=None, session=None):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def page(self, url):
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        session = (await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}))["sessionId"]
        page = Page(self, session)
        await page.send("Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 760, "deviceScaleFactor": 1, "mobile": False})
        await page.send("Page.navigate", {"url": url})
        return page

    async def close(self):
        await self.ws.close()
        await self.http.close()
        self.process.kill()
        await self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    async def send(self, method, params=None):
        return await self.browser.send(method, params, self.session)

    async def eval(self, expression):
        result = await self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    async def until(self, what, expression, timeout=20):
        """Waits until `expression` is truthy in the page; returns its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                value = await self.eval(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                shown = await self.eval("document.body.innerText.slice(0, 600)")
                raise TimeoutError(f"waited {timeout}s for {what}; the page shows: {shown!r}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path):
        data = (await self.send("Page.captureScreenshot", {"format": "png"}))["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))


def texts(selector):
    return f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent)"


async def say(page, text):
    await page.eval(f"""(() => {{ const input = document.getElementById("text"); input.value = {json.dumps(text)};
        input.dispatchEvent(new Event("input")); document.getElementById("send").requestSubmit(); return true; }})()""")


async def until_seen(alice, bob, timeout=20):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await bob.eval('(() => { const i = document.getElementById("text"); i.value += "h"; i.dispatchEvent(new Event("input")); return true; })()')
        shown = await alice.eval('document.getElementById("typing").textContent')
        if shown:
            return shown
        await asyncio.sleep(0.3)
    raise TimeoutError(f"waited {timeout}s for bob's typing indicator")


async def chat(browser, base, token, artifacts, report):
    alice = await browser.page(f"{base}/?name=alice")
    bob = await browser.page(f"{base}/?name=bob")
    for name, page in (("alice", alice), ("bob", bob)):
        await page.until(f"{name} connected", f'document.getElementById("status").textContent === "connected as {name}"')
    await alice.until("bob in alice's presence list", 'document.querySelector(\'#presence li[data-user="bob"]\') !== null')
    report["presence"] = await alice.eval(texts("#presence li"))

    # The indicator shows for three seconds after each (throttled) typing event: bob keeps typing until alice
    # has seen it, so a slow poll on a loaded machine cannot miss the window.
    report["typing"] = await until_seen(alice, bob)
    await say(bob, "hello alice")
    await alice.until("bob's message at alice", 'document.querySelector(\'#log p.message[data-from="bob"]\')?.textContent.includes("hello alice")')
    await say(alice, "hello bob")
    await bob.until("alice's message at bob", 'document.querySelector(\'#log p.message[data-from="alice"]\')?.textContent.includes("hello bob")')
    # Alice sees her own message when it is delivered to her, which may be a moment after bob.
    await alice.until("alice's message at alice", 'document.querySelector(\'#log p.message[data-from="alice"]\')?.textContent.includes("hello bob")')
    report["aliceLog"] = await alice.eval(texts("#log p.message"))
    report["bobLog"] = await bob.eval(texts("#log p.message"))
    await alice.screenshot(os.path.join(artifacts, "chat-alice.png"))
    await bob.screenshot(os.path.join(artifacts, "chat-bob.png"))

    # Alice makes a room (the admin deletes it below).
    await alice.eval("""(() => { document.getElementById("room-id").value = "side"; document.getElementById("room-name").value = "Side room";
        document.getElementById("create").requestSubmit(); return true; })()""")
    await alice.until("alice in her new room", 'document.getElementById("title").textContent === "Side room"')

    admin = await browser.page(f"{base}/admin#token={token}")
    await admin.until("both connections on the dashboard",
                      '!!(document.querySelector(\'#connections tr[data-user="alice"]\') && document.querySelector(\'#connections tr[data-user="bob"]\'))')
    await admin.until("the messages on the dashboard", 'document.querySelectorAll(\'#events li[data-event="message"]\').length >= 2')
    await admin.until("the side room on the dashboard", 'document.querySelector(\'#rooms tr[data-room="side"] button.delete-room\') !== null')
    report["adminConnections"] = await admin.eval('[...document.querySelectorAll("#connections tr[data-user]")].map(r => r.dataset.user).sort()')
    report["adminRooms"] = await admin.eval('[...document.querySelectorAll("#rooms tr[data-room]")].map(r => r.dataset.room)')
    report["adminEvents"] = await admin.eval('[...document.querySelectorAll("#events li[data-event]")].map(l => l.dataset.room + "/" + l.dataset.event)')
    report["adminStore"] = await admin.eval('document.getElementById("store").textContent')
    report["adminConnectionCount"] = await admin.eval('document.getElementById("count-connections").textContent')
    await admin.screenshot(os.path.join(artifacts, "admin.png"))

    await admin.eval('document.querySelector(\'#rooms tr[data-room="side"] button.delete-room\').click(), true')
    await admin.eval('document.querySelector(\'#rooms tr[data-room="side"] button.delete-room\').click(), true')
    await admin.until("the side room gone", 'document.querySelector(\'#rooms tr[data-room="side"]\') === null')
    bob_id = await admin.eval('document.querySelector(\'#connections tr[data-user="bob"]\').dataset.id')
    report["disconnectedId"] = bob_id
    await admin.eval(f'document.querySelector(\'#connections tr[data-id="{bob_id}"] button.disconnect\').click(), true')
    await admin.until("bob's connection gone", f'document.querySelector(\'#connections tr[data-id="{bob_id}"]\') === null')
    await admin.screenshot(os.path.join(artifacts, "admin-after-actions.png"))


async def history(browser, base, artifacts, report):
    carol = await browser.page(f"{base}/?name=carol")
    await carol.until("carol connected", 'document.getElementById("status").textContent === "connected as carol"')
    await carol.until("the earlier conversation", texts("#log p.message") + '.join("|").includes("hello bob")')
    report["carolLog"] = await carol.eval(texts("#log p.message"))
    await carol.screenshot(os.path.join(artifacts, "history-carol.png"))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--phase", choices=["chat", "history"], required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    browser = Browser(args.chromium)
    await browser.start()
    report = {}
    try:
        if args.phase == "chat":
            await chat(browser, args.url, args.token, args.artifacts, report)
        else:
            await history(browser, args.url, args.artifacts, report)
    except Exception as error:  # the report says how far it got
        report["error"] = f"{type(error).__name__}: {error}"
    finally:
        await browser.close()
    print(json.dumps(report))
    sys.exit(1 if "error" in report else 0)


asyncio.run(main())
