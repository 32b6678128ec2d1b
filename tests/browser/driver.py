#!/usr/bin/env python3
"""Drive one headless Chromium session step by step, for end-to-end tests.

usage: driver.py [WIDTH HEIGHT]

Reads one JSON step per line on stdin and answers each with one JSON line on stdout, so a test
can do something else (wait for a mail, read the database) between two steps of the same browser
session (same cookies). Steps:

  {"goto": URL}                         open URL, wait until it has loaded
  {"fill": {CSS: VALUE, ...}}           set form fields (inputs, textareas; selects by value;
                                        checkboxes and radios: "true"/"false" sets checked)
  {"submit": CSS}                       click the button or submit the form CSS names, wait
  {"click": CSS}                        click an element (a link, a button), wait
  {"shot": PATH}                        save a full-page PNG
  {"size": [WIDTH, HEIGHT]}             emulate a viewport of that size (phone: mobile, touch)
  {"eval": JS}                          evaluate an expression; its JSON value is in "value"
  {"quit": true}                        close the browser

Every answer carries the page after the step: {"ok": true, "url", "title", "text"} (text is
the visible text), or {"ok": false, "error"}. Talks to Chromium over the DevTools protocol
(websocket-client), started with the flags the project's machines need.
"""
import base64, json, shutil, socket, subprocess, sys, tempfile, time, urllib.request

import websocket  # pip install websocket-client

width, height = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (1280, 900)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


profile = tempfile.mkdtemp(prefix="forewarn-chromium-")
port = free_port()
proc = subprocess.Popen([
    shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
    f"--remote-debugging-port={port}", f"--window-size={width},{height}", "about:blank",
], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seq = 0
ws = None


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


def js(expression):
    r = call("Runtime.evaluate", expression=expression, returnByValue=True)
    if "exceptionDetails" in r:
        raise RuntimeError(r["exceptionDetails"].get("exception", {}).get("description", "script failed"))
    return r["result"].get("value")


def mark():
    """Marks the current document, so that settle() can tell when a new one has replaced it."""
    try:
        js("window.__forewarn_old = true")
    except Exception:
        pass


def settle():
    """Waits until a new document has replaced the marked one and has finished loading."""
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            fresh = js("window.__forewarn_old !== true")
            if fresh and js("document.readyState") == "complete":
                return
        except Exception:
            pass  # the old document went away mid-call
        time.sleep(0.1)
    raise RuntimeError("no new page finished loading within 15 s")


def page():
    return {"ok": True, "url": js("location.href"), "title": js("document.title"),
            "text": js("document.body ? document.body.innerText : ''")}


FILL = """(function(fields){
  for (const [sel, value] of Object.entries(fields)) {
    const el = document.querySelector(sel);
    if (!el) throw new Error('no element ' + sel);
    if (el.type === 'checkbox' || el.type === 'radio') el.checked = (value === 'true' || value === true);
    else el.value = value;
  }
})"""

CLICK = """(function(sel){
  const el = document.querySelector(sel);
  if (!el) throw new Error('no element ' + sel);
  if (el.tagName === 'FORM') { el.requestSubmit ? el.requestSubmit() : el.submit(); }
  else el.click();
})"""


def step(s):
    if "goto" in s:
        mark()
        call("Page.navigate", url=s["goto"])
        settle()
    elif "fill" in s:
        js(f"{FILL}({json.dumps(s['fill'])})")
    elif "submit" in s or "click" in s:
        sel = s.get("submit") or s.get("click")
        mark()
        js(f"{CLICK}({json.dumps(sel)})")
        settle()
    elif "shot" in s:
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(s["shot"], "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    elif "size" in s:
        w, h = s["size"]
        call("Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1, mobile=w < 600)
        js("window.dispatchEvent(new Event('resize'))")
    elif "eval" in s:
        answer = page()
        answer["value"] = js(s["eval"])
        return answer
    elif "quit" in s:
        return {"ok": True}
    else:
        raise RuntimeError(f"unknown step {s}")
    return page()


try:
    target = None
    for _ in range(150):
        try:
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
            target = next(p for p in pages if p["type"] == "page")
            break
        except Exception:
            time.sleep(0.1)
    if target is None:
        raise SystemExit("chromium did not start (apt-get install chromium)")
    ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
    call("Page.enable")
    call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        s = json.loads(line)
        try:
            answer = step(s)
        except Exception as e:  # the test sees what went wrong and decides
            answer = {"ok": False, "error": str(e)}
        print(json.dumps(answer), flush=True)
        if "quit" in s:
            break
finally:
    proc.terminate()
    try:
        proc.wait(10)
    except Exception:
        proc.kill()
    shutil.rmtree(profile, ignore_errors=True)
