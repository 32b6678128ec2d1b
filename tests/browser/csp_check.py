#!/usr/bin/env python3
"""Headless Chromium against a running `forewarn serve`: every page renders under the
Content-Security-Policy (its inline CSS applies), the queue's filter select submits on change,
the ticket update and customer forms post, the customer error page's Back link works, no page
reports a CSP violation, and an injected inline script or unhashed javascript: link is refused.

usage: csp_check.py BASE_URL CUSTOMER_CHECKS_URL CUSTOMER_TICKET_URL

Needs a staff user `sam` with password "sam long password", at least one open ticket, the
customer checks link (`forewarn customer link ID --json`) and a customer ticket link (from a
ticket mail). Prints PASS/FAIL per step and ALL PASS at the end. Used by hand to check a change
of the policy (src/web/mod.rs); needs chromium and websocket-client like driver.py."""
import json, shutil, socket, subprocess, sys, tempfile, time, urllib.request, email, glob, re
import websocket

base, checks_url, ticket_url = sys.argv[1], sys.argv[2], sys.argv[3]
profile = tempfile.mkdtemp(); s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
proc = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(150):
    try:
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json")); break
    except Exception: time.sleep(0.1)
ws = websocket.create_connection(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"], timeout=30)
seq = 0; console = []
def call(method, **params):
    global seq; seq += 1
    ws.send(json.dumps({"id": seq, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("method") == "Log.entryAdded": console.append(m["params"]["entry"]["text"])
        if m.get("method") == "Runtime.consoleAPICalled": console.append(str(m["params"]["args"]))
        if m.get("id") == seq:
            if "error" in m: raise RuntimeError(m["error"])
            return m.get("result", {})
def js(e):
    r = call("Runtime.evaluate", expression=e, returnByValue=True, awaitPromise=True)
    if "exceptionDetails" in r: raise RuntimeError(r["exceptionDetails"])
    return r["result"].get("value")
def wait_new(old_marker=True):
    end = time.time() + 15
    while time.time() < end:
        try:
            if js("window.__old !== true") and js("document.readyState") == "complete": return
        except Exception: pass
        time.sleep(0.1)
    raise RuntimeError("no new page")
def act(expr):
    js("window.__old = true"); js(expr); wait_new()
def goto(url):
    js("window.__old = true"); call("Page.navigate", url=url); wait_new()
call("Page.enable"); call("Log.enable"); call("Runtime.enable")
# Every document records its CSP violations where the test can read them.
call("Page.addScriptToEvaluateOnNewDocument", source="""
  window.__violations = JSON.parse(sessionStorage.getItem('v') || '[]');
  document.addEventListener('securitypolicyviolation', e => {
    window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
    sessionStorage.setItem('v', JSON.stringify(window.__violations));
  });""")
ok = True
def report(what, cond, extra=""):
    global ok; ok &= bool(cond); print(("PASS " if cond else "FAIL ") + what, extra)
def styled():  # the inline <style> applied: body has the stylesheet's font, not the UA default
    return js("getComputedStyle(document.body).fontFamily") != "\"Times New Roman\"" and js("document.styleSheets.length") >= 1

goto(base + "/login")
report("login page renders with its CSS", styled(), js("getComputedStyle(document.body).fontFamily"))
js("document.querySelector('input[name=name]').value='sam'; document.querySelector('input[name=password]').value='sam long password'")
act("document.querySelector('form[action=\"/login\"]').requestSubmit()")
report("login form posts and lands on the queue", js("location.pathname") == "/", js("location.href"))
report("queue renders with its CSS", styled())
sel = js("document.querySelector('select[onchange]') ? document.querySelector('select[onchange]').name : null")
report("queue has a filter select with onchange", sel is not None, sel)
act(f"(()=>{{const s=document.querySelector('select[name={sel}]'); s.value=s.options[s.options.length-1].value; s.dispatchEvent(new Event('change'));}})()")
report("the filter select submits on change (inline handler allowed by its hash)", sel in js("location.search"), js("location.href"))
goto(base + "/")
act("document.querySelector('a[href^=\"/tickets/\"]').click()")
report("ticket page opens from the queue", js("location.pathname").startswith("/tickets/"), js("location.pathname"))
report("ticket page renders with its CSS", styled())
forms = js("[...document.querySelectorAll('form')].map(f=>f.getAttribute('action'))")
print("     ticket forms:", forms)
act("(()=>{const f=document.querySelector('form[action$=\"/update\"]'); const k=f.querySelector('[name=kind][value=internal]'); if(k){k.checked=true; k.selected=true;} const sk=f.querySelector('select[name=kind]'); if(sk) sk.value='internal'; f.querySelector('[name=message]').value='CSP check note'; f.requestSubmit();})()")
report("update form posts (form-action 'self', 303 back)", js("location.pathname").startswith("/tickets/") and "CSP check note" in js("document.body.innerText"), js("location.href"))
goto(base + "/checks"); report("checks page renders", styled())
goto(base + "/checks/acme-www"); report("check page with SVG charts renders", styled() and js("document.querySelectorAll('svg').length") >= 1, js("document.querySelectorAll('svg').length"))
goto(base + "/customers"); report("customers page renders", styled())
goto(base + "/kpis"); report("kpis page renders", styled())
goto(checks_url); report("customer checks page renders", styled())
js("document.querySelector('input[name=title]').value='Checkout slow'; document.querySelector('textarea[name=text]').value='Since noon the checkout takes 30 s.'")
act("document.querySelector('form[action$=\"/report\"]').requestSubmit()")
report("customer report form posts", "/c/" in js("location.pathname"), js("location.href") + " | " + js("document.body.innerText")[:120].replace("\n"," "))
goto(ticket_url); report("customer ticket page renders", styled())
js("document.querySelector('textarea[name=text]').value='   '")
act("document.querySelector('form[action$=\"/reply\"]').requestSubmit()")
back = js("!!document.querySelector('a[href^=\"javascript:\"]')")
report("a blank reply shows the error page with its Back link", back, js("document.body.innerText")[:80].replace("\n", " "))
js("window.__old = true"); js("document.querySelector('a[href^=\"javascript:\"]').click()")
time.sleep(1.5)
went_back = js("location.pathname").startswith("/c/t/") and not js("location.pathname").endswith("/reply")
report("the Back link goes back (javascript: URL allowed by its hash)", went_back, js("location.href"))
v = js("window.__violations")
report("no CSP violation on any page", not v, json.dumps(v))
ran = js("(()=>{const s=document.createElement('script'); s.textContent='window.__ran=1'; document.body.appendChild(s); return window.__ran === 1})()")
time.sleep(0.3)
report("an injected inline script is refused (the policy is enforced)", not ran and js("window.__violations.length") == 1, json.dumps(js("window.__violations")))
js("(()=>{const a=document.createElement('a'); a.href='javascript:window.__x=1'; a.id='evil'; document.body.appendChild(a); a.click();})()")
time.sleep(0.5)
report("a javascript: link without the hash is refused", js("window.__x") is None and js("window.__violations.length") == 2, json.dumps(js("window.__violations")))
csp_console = [c for c in console if "Content Security Policy" in c or "Refused" in c]
report("only those refusals in the console", len(csp_console) == 2, json.dumps(csp_console)[:600])
proc.terminate(); shutil.rmtree(profile, ignore_errors=True)
print("ALL PASS" if ok else "SOMETHING FAILED")
