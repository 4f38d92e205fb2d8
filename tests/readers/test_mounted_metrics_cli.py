"""``mounted --follow --metrics-port``: reloads and reload errors, scraped over HTTP.

The kubelet cannot run here: ``kubelet.KubeletVolume`` repeats its atomic-writer swaps
on real files, and the CLI runs as a real process serving /metrics on loopback.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kubelet import KubeletVolume
from prometheus_client.parser import text_string_to_metric_families

CANARY = "canary-metrics-reader-3e1"


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback
        text = reply.read().decode()
    assert CANARY not in text
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool comes with Debian's prometheus package"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("nebula_reader_")
    }


def until(url: str, name: str, value: float) -> dict[str, float]:
    deadline = time.monotonic() + 5
    while True:
        found = scrape(url)
        if found.get(name) == value or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_reader_reloads_and_errors_are_served_as_metrics(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": CANARY})
    exe = Path(sys.executable).with_name("nebula-credential")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    proc = subprocess.Popen(
        [str(exe), "mounted", str(volume.root), "--kind", "oauth2", "--follow",
         "-o", "json", "--metrics-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert proc.stdout is not None
        first = proc.stderr.readline()
        assert first.startswith("serving metrics on http://127.0.0.1:"), first
        url = first.split()[-1]
        assert proc.stdout.readline().startswith("{")  # the first version is in force
        volume.swap({"access_token": CANARY + "-2"})
        assert until(url, "nebula_reader_reloads_total", 1.0)["nebula_reader_reloads_total"] == 1
        volume.swap({"refresh_token": "no access token"})  # invalid for oauth2
        found = until(url, "nebula_reader_reload_errors_total", 1.0)
        assert found["nebula_reader_reload_errors_total"] == 1
        assert found["nebula_reader_reloads_total"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert CANARY not in err + out  # not revealed


def test_metrics_port_without_follow_is_a_usage_error(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": CANARY})
    exe = Path(sys.executable).with_name("nebula-credential")
    done = subprocess.run(
        [str(exe), "mounted", str(volume.root), "--kind", "oauth2", "--metrics-port", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--metrics-port needs --follow" in done.stderr
    assert CANARY not in done.stdout + done.stderr
