"""A headless Chromium driven over the DevTools protocol: open a page, wait until a JS condition holds, take a
screenshot. Only Debian's ``chromium`` and tornado's websocket client (a Dask dependency) are needed."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from tornado.websocket import websocket_connect


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


async def _session(url: str, ready_js: str, timeout: float, size: tuple[int, int], read_js: str) -> tuple[bytes, dict]:
    # Chromium's helper processes may still be writing to the profile while it is removed: ignore that.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={size[0]},{size[1]}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            port = None
            for line in proc.stderr:  # Chromium announces its DevTools endpoint on stderr
                match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
                if match:
                    port = int(match.group(1))
                    break
            assert port, "chromium did not open its DevTools endpoint"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                page = next(t for t in json.load(response) if t["type"] == "page")
            ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=2**28)
            ids = itertools.count(1)

            async def call(method: str, **params):
                call_id = next(ids)
                await ws.write_message(json.dumps({"id": call_id, "method": method, "params": params}))
                while True:
                    message = json.loads(await ws.read_message())
                    if message.get("id") == call_id:
                        assert "error" not in message, message
                        return message["result"]

            await call("Page.enable")
            await call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            while True:
                result = await call("Runtime.evaluate", expression=ready_js, returnByValue=True, awaitPromise=True)
                if result["result"].get("value") is True:
                    break
                assert time.monotonic() < deadline, f"page never satisfied: {ready_js}"
                await asyncio.sleep(0.1)
            shot = await call("Page.captureScreenshot", format="png")
            page_state = await call("Runtime.evaluate", expression=read_js, returnByValue=True)
            ws.close()
            return base64.b64decode(shot["data"]), page_state["result"]["value"]
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole session: chromium and its helpers
            proc.wait()


# What the page itself reports at the screenshot: the viewport it laid itself out in, in device pixels.
_PAGE_STATE = "({width: Math.round(innerWidth * devicePixelRatio), height: Math.round(innerHeight * devicePixelRatio)})"


def screenshot(url: str, ready_js: str, timeout: float = 60, size: tuple[int, int] = (1400, 900),
               read_js: str = _PAGE_STATE) -> tuple[bytes, dict]:
    """PNG bytes of ``url`` once the JS expression ``ready_js`` evaluates to true in the page, and the page's
    own account of that moment: by default ``width`` and ``height`` of its viewport in device pixels, or
    whatever the JS expression ``read_js`` returns (as JSON-able data)."""
    return asyncio.run(_session(url, ready_js, timeout, size, read_js))
