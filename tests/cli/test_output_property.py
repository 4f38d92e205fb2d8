"""Property: whatever text others wrote, every output of ``audit``, ``doctor``, ``list`` and
``get`` shows it as text and keeps it whole.

Random names and values — Rich markup, escape sequences (ESC, CSI, OSC), C0 and C1
controls, bidirectional characters, backslashes that look like escapes, wide and
combining characters — go through every format each command offers. For each output:
the exit code is the one for ordinary input, no raw control or bidirectional character
reaches stdout or stderr (newline, and tab outside table cells, excepted), and the exact
text comes back: from JSON and YAML as it was, from text and tables by reading the
documented escapes back (``cli/safe_text.py``). Table cells do not show trailing blanks
(a cell is padded), so those are compared without them.

A seeded generator with a fixed number of cases keeps the run repeatable and short: many
values per API-server round trip, and audit reads a generated log file.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nebula_credential import Credential, SyncKubernetesSecretsProvider
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

_DOCTOR_TESTS = str(Path(__file__).resolve().parents[1] / "doctor")
if _DOCTOR_TESTS not in sys.path:
    sys.path.insert(0, _DOCTOR_TESTS)

from operator_support import SEALED, create_with_condition, install_operator_crds  # noqa: E402

SEEDS = (20261207, 7, 4242)
FORMATS = ("table", "json", "yaml")
WIDE = {"COLUMNS": "1000"}  # no folding: a folded cell is layout, not text

# What must never reach a terminal raw: C0 controls but tab and newline, DEL, C1, the
# bidirectional marks, embeddings, overrides and isolates, the Unicode line separators.
_RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_MARKUP = [
    "[/bold]x",
    "alice[red]",
    "[bold]",
    "[/]",
    "[link=https://e.invalid]y[/link]",
    "[",
    ":smile:",
]
_ESCAPES = [
    "\x1b[31m",
    "\x1b[2J",
    "\x1b]0;title\x07",
    "\x1b]8;;https://e.invalid\x1b\\",
    "\x9b1m",
    "\x1bc",
    "\x1b[?1049h",
    "\x90q\x9c",
]
_CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
_BIDI = [*"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029"]
_LOOKALIKES = ["\\", "\\x1b", "\\u202e", "\\\\", "\\n", "\\t", "C:\\temp", "\\x", "a\\"]
_OTHER = ["é", "日本", "😀", "e\u0301", "ß", "\u200b", "  ", " ", ",", "=", ", x=y", "'", '"', "%s"]
_POOLS = (_MARKUP, _ESCAPES, _CONTROLS, _BIDI, _LOOKALIKES, _OTHER)
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


def hostile(rng: random.Random, *, most: int, printable: bool = False) -> str:
    """A non-empty text of at most ``most`` characters, built from hostile pieces."""
    while True:
        pieces = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.3:
                pieces.append("".join(rng.choices(_ID_CHARS + " [](){}/", k=rng.randint(1, 6))))
            else:
                pieces.append(rng.choice(rng.choice(_POOLS)))
        text = "".join(pieces)
        if printable:
            text = "".join(c for c in text if c.isprintable())
        text = text[:most]
        if text.strip():
            return text


def random_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        cid = rng.choice(_ID_CHARS[:62]) + "".join(rng.choices(_ID_CHARS, k=rng.randint(0, 30)))
        if cid not in taken:
            taken.add(cid)
            return cid


def unescape(shown: str) -> str:
    """Read back what :mod:`nebula_credential.cli.safe_text` shows (its docstring)."""
    out: list[str] = []
    i = 0
    while i < len(shown):
        char, rest = shown[i], shown[i + 1 : i + 6]
        if char == "\\" and rest:
            if rest[0] == "\\":
                out.append("\\")
                i += 2
                continue
            if rest[0] in "nt":
                out.append("\n" if rest[0] == "n" else "\t")
                i += 2
                continue
            hexes = {"x": 2, "u": 4}.get(rest[0], 0)
            if hexes and re.fullmatch(f"[0-9a-f]{{{hexes}}}", rest[1 : 1 + hexes]):
                out.append(chr(int(rest[1 : 1 + hexes], 16)))
                i += 2 + hexes
                continue
        out.append(char)
        i += 1
    return "".join(out)


def assert_no_raw(text: str, *, tabs: bool = True) -> None:
    found = _RAW.search(text) or (None if tabs else re.search("\t", text))
    if found is not None:
        near = text[max(found.start() - 40, 0) : found.end() + 40]
        raise AssertionError(f"raw {found.group()!r} in output near {near!r}")


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body line of rich tables (one leading pad removed, trailing
    blanks dropped)."""
    return [
        [part[1:].rstrip() for part in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def _run_all(cli: Callable[..., Any], args: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
    return {fmt: cli("-o", fmt, *args, env=env) for fmt in FORMATS}


# --------------------------------------------------------------------------- the helper


def test_every_text_the_helper_shows_reads_back_exactly() -> None:
    """The escaping itself: a literal ``\\x1b`` and an ESC must not look alike."""
    from nebula_credential.cli.safe_text import cell, one_line, visible

    rng = random.Random(SEEDS[0])
    texts = [hostile(rng, most=40) for _ in range(3000)]
    texts += ["\\x1b", "\x1b", "\\\x1b", "\\", "\\\n", "C:\\temp\t", "a\\", "\\u202e"]
    for text in texts:
        shown, line = visible(text), one_line(text)
        assert unescape(shown) == text, repr(text)
        assert unescape(line) == text, repr(text)
        assert_no_raw(shown)
        assert_no_raw(line, tabs=False)
        assert "\n" not in line
        assert cell(text).plain == line
    assert len({visible(t) for t in set(texts)}) == len(set(texts))  # never two alike


def test_tags_and_final_newlines_read_back_from_list_and_get(cli) -> None:
    """``a=1,b=2`` was one tag or two; ``h`` and ``h`` + newline looked the same."""
    local = ("--provider", "local")
    for cid, host, tags in (("one", "h\n", ["a=1,b=2"]), ("two", "h", ["a=1", "b=2"])):
        tag_args = [arg for tag in tags for arg in ("--tag", tag)]
        stored = cli(
            *local, "store", cid, "--kind", "database", "--field", f"host={host}",
            "--field", "username=u", "--field", "password=-", *tag_args, stdin="pw",
        )  # fmt: skip
        assert stored.returncode == 0, stored.stderr
    listed = cli(*local, "list", env=WIDE)
    assert listed.returncode == 0, listed.stderr
    tags: dict[str, list[str]] = {}
    cid = ""
    for row in table_rows(listed.stdout):
        cid = row[0] or cid
        tags.setdefault(cid, []).append(row[5])
    assert tags == {"one": ["a=1,b=2"], "two": ["a=1", "b=2"]}
    one, two = (_detail(cli(*local, "get", c, env=WIDE).stdout) for c in ("one", "two"))
    assert (one["tags"], two["tags"]) == ("a=1,b=2", "a=1\nb=2")
    assert (one["fields.host"], two["fields.host"]) == ("h\n", "h")


# --------------------------------------------------------------------------- audit


def _audit_event(number: int, user: str, name: str, verb: str) -> str:
    when = f"2024-05-01T12:{number // 60:02d}:{number % 60:02d}.000000Z"
    return json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": f"id-{number}",
            "stage": "ResponseComplete",
            "verb": verb,
            "user": {"username": user, "groups": ["system:authenticated"]},
            "objectRef": {"resource": "secrets", "namespace": "prod", "name": name},
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": when,
            "stageTimestamp": when,
        }
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_audit_shows_any_user_and_secret_name_as_text(cli, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    users = sorted({hostile(rng, most=16) for _ in range(24)} - {"alice"})
    names = {user: hostile(rng, most=16) for user in users}
    verbs = {user: rng.choice(("get", "list", "watch")) for user in users}
    log = tmp_path / "audit.log"
    lines = [_audit_event(0, "alice", "db", "get")]
    lines += [_audit_event(n, u, names[u], verbs[u]) for n, u in enumerate(users, start=1)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")

    done = _run_all(cli, ("audit", str(log), "--allow", "alice"), WIDE)
    for fmt, result in done.items():
        assert result.returncode == 1, (fmt, result.stderr)  # flagged, as for plain names
        assert "Traceback" not in result.stderr
        assert_no_raw(result.stdout + result.stderr)
        flagged = result.stderr.splitlines()[-1]
        expected = f"flagged: {len(users)} principal(s) outside --allow read Secrets: "
        assert unescape(flagged) == expected + ", ".join(users)
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        report = load(done[fmt].stdout)
        assert sorted(p["user"] for p in report["flagged"]) == users
        assert {p["user"]: p["names"] for p in report["flagged"]} == {u: [names[u]] for u in users}
    table = done["table"].stdout
    by_user, flagged_table = table.split("Read by principals outside --allow")
    rows = table_rows(by_user)
    assert len(rows) == len(users) + 1  # one line per user: nothing folded
    assert sorted(unescape(r[0]) for r in rows) == sorted(map(_blank_tail, [*users, "alice"]))
    shown = {unescape(r[0]): unescape(r[4]) for r in table_rows(flagged_table)}
    assert shown == {_blank_tail(u): _blank_tail(names[u]) for u in users}

    events = cli("audit", str(log), "--events", env=WIDE)
    assert events.returncode == 0, events.stderr
    assert_no_raw(events.stdout + events.stderr)
    assert [unescape(line) for line in events.stdout.splitlines()[1:]] == [
        f"2024-05-01T12:00:{n:02d}Z  {u}  {verbs[u]}  prod/{names[u]}  200"
        for n, u in enumerate(users, start=1)
    ]
    as_json = cli("audit", str(log), "--events", "-o", "json")
    assert_no_raw(as_json.stdout)
    assert [json.loads(line)["user"] for line in as_json.stdout.splitlines()][1:] == users


# --------------------------------------------------------------------------- doctor


@pytest.fixture(scope="module")
def operator_plane(control_plane_factory: PlaneFactory) -> Iterator[ControlPlane]:
    plane = control_plane_factory("output-property", identity_pool=1)
    install_operator_crds(plane)
    yield plane
    plane.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_doctor_shows_any_condition_message_as_text(
    cli, operator_plane: ControlPlane, seed: int
) -> None:
    rng = random.Random(seed)
    ns = f"property-{seed}"
    operator_plane.ensure_namespace(ns)
    messages = {f"sealed-{n}": hostile(rng, most=60) for n in range(16)}
    for name, message in messages.items():
        create_with_condition(operator_plane, SEALED, ns, name, message)
    args = ("--kubeconfig", str(operator_plane.admin_kubeconfig), "--namespace", ns, "doctor")
    done = _run_all(cli, args, WIDE)
    for fmt, result in done.items():
        assert result.returncode == 1, (fmt, result.stdout, result.stderr)  # not Synced
        assert "Traceback" not in result.stderr
        assert_no_raw(result.stdout + result.stderr, tabs=False)
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        found = {f["check"]: f["detail"] for f in load(done[fmt].stdout)["findings"]}
        for name, message in messages.items():
            assert found[f"SealedSecret {name}"] == f"not Synced: {message}", fmt
    table = {}
    for line in done["table"].stdout.splitlines():
        if line.startswith("FAIL SealedSecret "):
            check, _, detail = line[len("FAIL ") :].partition(": ")
            table[check] = unescape(detail)
    assert table == {f"SealedSecret {n}": f"not Synced: {m}" for n, m in messages.items()}


# --------------------------------------------------------------------------- list and get


def _credential(rng: random.Random, cid: str) -> Credential:
    fields = {
        name: hostile(rng, most=40)
        for name in ("host", "username", "database", "engine", "sslmode")
    }
    fields["password"] = hostile(rng, most=40)
    tags = {f"t{n}": hostile(rng, most=30, printable=True) for n in range(rng.randint(1, 3))}
    return Credential(
        cid,
        "database",
        fields,
        owner=hostile(rng, most=40, printable=True),
        tags=tags,
    )


def _detail(text: str) -> dict[str, str]:
    """``get``'s two-column view: each key's value, its continuation lines joined (an
    empty line is one of them)."""
    lines = text.splitlines()
    width = max(len(line.split("  ")[0]) for line in lines if line and line[0] != " ")
    values: dict[str, list[str]] = {}
    key = ""
    for line in lines:
        if line[:width].strip():
            key = line[:width].strip()
            values[key] = [line[width + 2 :]]
        else:
            values[key].append(line[width + 2 :])
    return {k: "\n".join(v) for k, v in values.items()}


def _blank_tail(text: str, *, view: bool = False) -> str:
    """``text`` as a table shows it: without the trailing blanks that are shown raw. In
    ``get``'s view (``view``) tabs and newlines are raw, so each line loses them; a rich
    table cell is one line with tabs and newlines escaped."""

    def trim(line: str) -> str:
        while line and line[-1].isspace() and not _RAW.match(line[-1]):
            if not view and line[-1] in "\t\n":
                break
            line = line[:-1]
        return line

    return "\n".join(map(trim, text.split("\n"))) if view else trim(text)


@pytest.mark.parametrize("seed", SEEDS)
def test_list_and_get_show_any_stored_text_as_text(
    cli, control_plane: ControlPlane, seed: int
) -> None:
    rng = random.Random(seed)
    ns = f"property-{seed}-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(ns)
    taken: set[str] = set()
    stored = [_credential(rng, random_id(rng, taken)) for _ in range(8)]
    with SyncKubernetesSecretsProvider(
        namespace=ns, kubeconfig=str(control_plane.admin_kubeconfig), transport="blocking"
    ) as store:
        for credential in stored:
            store.store(credential)
    base = ("--provider", "kubernetes", "--kubeconfig", str(control_plane.admin_kubeconfig))
    base += ("--namespace", ns)
    by_id = {c.id: c for c in stored}

    listed = _run_all(cli, (*base, "list"), WIDE)
    for fmt, result in listed.items():
        assert result.returncode == 0, (fmt, result.stderr)
        assert_no_raw(result.stdout + result.stderr, tabs=fmt != "table")
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        records = {r["id"]: r for r in load(listed[fmt].stdout)}
        assert set(records) == set(by_id), fmt
        for cid, record in records.items():
            assert record["owner"] == by_id[cid].owner
            assert record["tags"] == dict(by_id[cid].tags)
            assert record["fields"]["username"] == by_id[cid].fields["username"]
    tags: dict[str, list[str]] = {}
    cid = ""
    for row in table_rows(listed["table"].stdout):
        cid = row[0] or cid
        tags.setdefault(cid, []).append(unescape(row[5]))
    tags.pop("ID", None)
    assert tags == {
        cid: [_blank_tail(f"{k}={v}") for k, v in c.tags.items()] for cid, c in by_id.items()
    }

    for credential in stored:
        shown = _run_all(cli, (*base, "get", credential.id, "--reveal"), WIDE)
        for fmt, result in shown.items():
            assert result.returncode == 0, (fmt, result.stderr)
            assert_no_raw(result.stdout + result.stderr)
        for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
            record = load(shown[fmt].stdout)
            assert record["owner"] == credential.owner
            assert record["tags"] == dict(credential.tags)
            assert record["fields"] == {
                name: credential.reveal(name) for name in credential.fields
            }, fmt
        view = _detail(shown["table"].stdout)
        assert unescape(view["owner"]) == _blank_tail(credential.owner or "", view=True)
        assert unescape(view["tags"]) == "\n".join(
            _blank_tail(f"{k}={v}", view=True) for k, v in credential.tags.items()
        )
        for name in credential.fields:
            key = f"fields.{name}" + (" (secret)" if name == "password" else "")
            value = str(credential.reveal(name))
            assert unescape(view[key]) == _blank_tail(value, view=True), name
