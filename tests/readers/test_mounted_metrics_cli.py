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


def _families(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback
        text = reply.read().decode()
    return {family.name for family in text_string_to_metric_families(text)}


def test_metrics_addr_chooses_the_interface_and_only_reader_series_are_served(
    tmp_path: Path,
) -> None:
    """A pod's Prometheus scrapes the pod's address, not its loopback: the bind address is
    the user's choice; and a volume reader publishes no API or cache series stuck at 0."""
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": CANARY})
    exe = Path(sys.executable).with_name("nebula-credential")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    for addr, shown in (("127.0.0.2", "http://127.0.0.2:"), ("::1", "http://[::1]:")):
        proc = subprocess.Popen(
            [str(exe), "mounted", str(volume.root), "--kind", "oauth2", "--follow",
             "-o", "json", "--metrics-port", "0", "--metrics-addr", addr],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            first = proc.stderr.readline()
            assert first.startswith(f"serving metrics on {shown}"), first
            names = _families(first.split()[-1])
            assert {"nebula_reader_reloads", "nebula_reader_reload_errors"} <= names
            ours = {n for n in names if n.startswith("nebula_")}
            assert all(n.startswith(("nebula_reader_", "nebula_hand_edits")) for n in ours), ours
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err


def test_a_metrics_addr_that_is_not_an_ip_address_is_a_usage_error(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": CANARY})
    exe = Path(sys.executable).with_name("nebula-credential")
    base = [str(exe), "mounted", str(volume.root), "--kind", "oauth2", "--follow"]
    for extra, said in (
        (["--metrics-port", "0", "--metrics-addr", "metrics.example"], "not an IP address"),
        (["--metrics-port", "0", "--metrics-addr", "127.0.0.1\x1b[2J"], "not an IP address"),
        (["--metrics-addr", "127.0.0.1"], "--metrics-addr needs --metrics-port"),
    ):
        done = subprocess.run(base + extra, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, done.stderr
        assert said in done.stderr
        assert "\x1b" not in done.stderr
        assert done.stdout == ""
