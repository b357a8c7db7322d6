"""The app makes no outbound connection: every socket it opens goes to loopback.

Run under ``strace`` with the offline variables removed from its environment (the app
must set them itself). The trace must show the app binding its port (so the trace
works) and no connect() to any address outside the loopback range.
"""

import json
import os
import re
import shutil
import urllib.request

import pytest

from qa.config import OFFLINE_ENVIRONMENT

from .conftest import running_app

STRACE = shutil.which("strace")
_ADDRESS = re.compile(
    r'connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), (?:sin_addr=inet_addr|inet_pton\(AF_INET6)\(?"([^"]+)"'
)

pytestmark = pytest.mark.integration


def _outside_loopback(trace: str) -> list[str]:
    bad = []
    for port, address in _ADDRESS.findall(trace):
        if not (address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")):
            bad.append(f"{address}:{port}")
    return bad


def test_the_trace_parser_sees_outside_addresses():
    line = 'connect(11, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0'
    assert _outside_loopback(line) == ["10.255.255.53:53"]
    local = 'connect(7, {sa_family=AF_INET, sin_port=htons(7860), sin_addr=inet_addr("127.0.0.1")}, 16) = 0'
    assert _outside_loopback(local) == []


def test_the_app_opens_no_connection_beyond_loopback(tmp_path):
    if STRACE is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing in CI (.ci/run installs it)")
        pytest.skip("strace is not installed (apt-get install -y strace)")
    trace = tmp_path / "strace.log"
    wrapper = (STRACE, "-f", "-qq", "-e", "trace=network", "-o", str(trace))
    with running_app(tmp_path, wrapper=wrapper, drop_env=tuple(OFFLINE_ENVIRONMENT)) as (url, _):
        request = urllib.request.Request(
            url + "gradio_api/call/answer",
            data=json.dumps({"data": ["今年建筑业税收目标是多少", None, 3, None]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        event = json.load(urllib.request.urlopen(request, timeout=60))["event_id"]
        reply = urllib.request.urlopen(url + f"gradio_api/call/answer/{event}", timeout=60).read().decode()
        assert "突破4亿元" in json.loads(reply.split("data:", 1)[1])[0]["text"]
    text = trace.read_text()
    port = url.rstrip("/").rsplit(":", 1)[1]
    assert f"htons({port})" in text  # the trace saw the app's own socket
    assert _outside_loopback(text) == []
