#!/usr/bin/env python3
"""Take a screenshot of a forewarn page as a logged-in staff member, in headless Chromium.

usage: screenshot.py BASE_URL NAME PASSWORD PATH OUT.png [WIDTH HEIGHT]

Logs in through the real login form (filling in name and password and submitting it), then opens PATH,
saves a full-page PNG and prints {"screenshot", "title", "text"} as JSON. Talks to Chromium over the DevTools protocol (websocket-client).
"""
import base64, json, os, shutil, subprocess, sys, tempfile, time, urllib.request

import websocket  # pip install websocket-client

base, name, password, path, out = sys.argv[1:6]
width, height = (int(sys.argv[6]), int(sys.argv[7])) if len(sys.argv) > 7 else (1280, 900)
profile = tempfile.mkdtemp(prefix="forewarn-chromium-")
port = 9333
proc = subprocess.Popen([
    shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
    f"--remote-debugging-port={port}", f"--window-size={width},{height}", "about:blank",
], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
            target = next(p for p in pages if p["type"] == "page")
            break
        except Exception:
            time.sleep(0.1)
    ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=20)
    seq = 0

    def call(method, **params):
        global seq
        seq += 1
        ws.send(json.dumps({"id": seq, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == seq:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_load():
        for _ in range(100):
            if call("Runtime.evaluate", expression="document.readyState")["result"]["value"] == "complete":
                return
            time.sleep(0.1)

    call("Page.enable")
    call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    call("Page.navigate", url=f"{base}/login")
    time.sleep(0.5); wait_load()
    call("Runtime.evaluate", expression=(
        f"document.querySelector('input[name=name]').value = {json.dumps(name)};"
        f"document.querySelector('input[name=password]').value = {json.dumps(password)};"
        "document.querySelector('form').submit();"))
    time.sleep(1.0); wait_load()
    call("Page.navigate", url=f"{base}{path}")
    time.sleep(1.0); wait_load()
    title = call("Runtime.evaluate", expression="document.title")["result"]["value"]
    text = call("Runtime.evaluate", expression="document.body.innerText")["result"]["value"]
    shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    with open(out, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    # For tests: the page's title and its visible text, as JSON on stdout.
    print(json.dumps({"screenshot": out, "title": title, "text": text}))
finally:
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(profile, ignore_errors=True)
