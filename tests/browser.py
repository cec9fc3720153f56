"""Open an HTML file in headless Chromium and report broken images and console errors (no tests here).

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
messages separated by NUL bytes), so it needs no Python package beyond the standard library:
only the ``chromium`` binary (Debian package ``chromium``; ``.ci/run`` installs it). The browser
runs with a fresh profile and no network (unresolvable hosts, a dead proxy).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--remote-debugging-pipe",
)
IMAGES_JS = (
    "JSON.stringify(Array.from(document.images).map("
    "i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth})))"
)


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    """What the browser saw: every image (alt, loaded, natural width) and every error message."""

    images: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def broken_images(self) -> list[str]:
        """Alt texts of images that did not load (not complete or zero natural width)."""
        return [str(i["alt"]) for i in self.images if not i["complete"] or i["width"] == 0]


class _Pipe:
    def __init__(self, binary: str, profile: str) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def remap() -> None:  # runs in the child: the protocol expects fds 3 (in) and 4 (out)
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)  # copies above 4 first: no clobbering
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=remap,  # noqa: PLW1509 - single-threaded test helper
            pass_fds=(3, 4),  # kept open after preexec_fn remapped them
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for msg in self.events:
            if msg.get("method") == method:
                return msg
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            self.events.append(msg)
            if msg.get("method") == method:
                return msg

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):  # killed below if still running
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            out.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            out.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
    return out


def check_page(html_file: Path, binary: str, timeout: float = 60.0) -> PageCheck:
    """Load ``html_file`` in headless Chromium; return its images and every console/log error."""
    with tempfile.TemporaryDirectory(prefix="harxai-chromium-") as profile:
        pipe = _Pipe(binary, profile)
        try:
            targets = pipe.call("Target.getTargets", timeout=timeout)["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            session = pipe.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Log"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Page.navigate", {"url": Path(html_file).resolve().as_uri()}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout=timeout)
            pipe.drain(0.5)  # late console messages
            result = pipe.call(
                "Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True}, session=session
            )
            images = json.loads(result["result"]["value"])
            return PageCheck(images=images, errors=_errors(pipe.events))
        finally:
            pipe.close()
