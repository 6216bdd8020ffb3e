"""Headless Chromium driven over the DevTools protocol (CDP), for tests that must load live pages
behind Airflow's login.

Why this exists: `chromium --headless --dump-dom URL` cannot send a login, and the Lakehouse
view's pages need Airflow's JWT (the `_token` cookie the Airflow UI's login leaves, which the API
server reads when no Authorization header is sent). Playwright and Selenium are not installed
here and there is no network to install them, so this is the least that does the job: Chromium's
`--remote-debugging-pipe` (the browser reads commands on fd 3 and writes answers and events on
fd 4, each a JSON message ended by a NUL byte), one page target, and the few commands the
tests use: set a cookie, navigate and wait for the load, read the DOM, take a screenshot.
No library beyond the standard one.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


class ChromiumError(RuntimeError):
    """Chromium answered a command with an error, or not in time."""


class Chromium:
    """One headless browser with one page. Use as a context manager: the browser and its
    profile folder are gone afterwards."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900):
        self.binary = binary or shutil.which("chromium") or CHROMIUM
        self.size = (width, height)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []

    def __enter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="cdp-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child's fd 3 is what it reads, fd 4 what it writes: moved above 4 first, so that
        # neither dup2 in the child overwrites the other's source.
        reads = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        writes = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds():
            os.dup2(reads, 3)
            os.dup2(writes, 4)

        self.process = subprocess.Popen(
            [
                self.binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,  # noqa: PLW1509 - before any thread of ours exists
            pass_fds=(3, 4),
        )
        os.close(reads)
        os.close(writes)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            self.send("Page.enable", session=True)
            width, height = self.size
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=True,
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", timeout_s=10)
                except (ChromiumError, OSError):
                    pass
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=15)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._profile.cleanup()

    # -- the protocol ---------------------------------------------------------------------------

    def send(
        self, method: str, params: dict | None = None, session: bool = False, timeout_s=60
    ) -> dict:
        """Send one command (to the page's session, or the browser) and return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self._receive(deadline, f"an answer to {method}")
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error']}")
                return answer.get("result") or {}
            self._events.append(answer)

    def _receive(self, deadline: float, waiting_for: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no {waiting_for} in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ChromiumError(f"Chromium closed its pipe before {waiting_for}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def _wait_for_event(self, method: str, timeout_s: float = 60) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            self._events.append(self._receive(deadline, f"event {method}"))

    # -- what the tests use ---------------------------------------------------------------------

    def set_cookie(self, url: str, name: str, value: str) -> None:
        """A cookie for `url`'s site, as a login would have left it."""
        self.send("Network.setCookie", {"url": url, "name": name, "value": value}, session=True)

    def open(self, url: str, timeout_s: float = 60) -> int:
        """Navigate and wait for the page's load event; the HTTP status of the document."""
        self.send("Network.enable", session=True)
        self._events.clear()
        navigated = self.send("Page.navigate", {"url": url}, session=True)
        if navigated.get("errorText"):
            raise ChromiumError(f"{url}: {navigated['errorText']}")
        self._wait_for_event("Page.loadEventFired", timeout_s)
        status = None
        for event in self._events:
            if event.get("method") == "Network.responseReceived" and (
                event["params"].get("type") == "Document"
            ):
                status = event["params"]["response"]["status"]
        self.send("Network.disable", session=True)
        return status

    def evaluate(self, expression: str):
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def dom(self) -> str:
        """The document as the browser holds it now (after its scripts ran)."""
        return self.evaluate("document.documentElement.outerHTML")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page, at the browser's width."""
        metrics = self.send("Page.getLayoutMetrics", session=True)
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": self.size[0],
            "height": max(int(content["height"]), 1),
            "scale": 1,
        }
        shot = self.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
            session=True,
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
