"""What the controller knows of one namespace, and the patch it makes from it.

The watches (:mod:`.watches`) feed :class:`Namespace` with our Secrets and the
workloads; each change marks the workloads it concerns, and :class:`Debounce` runs one
evaluation per workload once its changes have been quiet for ``quiet`` seconds (or at
most ``max_wait`` after the first): a burst of changes to one credential is one patch,
so one rollout. Only the leader patches, and only when the digest differs from the one
the pod template carries: the patch names the workload's resourceVersion, so it never
overwrites a template it has not seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ..domain import Credential, CredentialError
from ..kubernetes.api.errors import Missing, StaleWrite
from ..kubernetes.api.object_calls import Document, ObjectCalls
from ..kubernetes.model.mapping import ANN_ID, decode
from ..kubernetes.model.objects import SecretObject
from .actions import ControllerMetrics, act
from .digests import key_digests, workload_digest
from .leader import Leader
from .references import (
    ALL_KEYS,
    DIGEST,
    RELOAD,
    BadAnnotation,
    Wanted,
    template_digest,
    wanted,
)
from .rotations import Rotations

QUIET: Final = 1.0
MAX_WAIT: Final = 5.0
_PROBLEMS: Final = ("bad-annotation", "corrupt-credential", "missing-credential", "refused")


class Debounce:
    """Runs ``work(key)`` once per burst of :meth:`mark` calls for ``key``."""

    def __init__(
        self, work: Callable[[Any], Awaitable[None]], quiet: float, max_wait: float
    ) -> None:
        self._work = work
        self._quiet = quiet
        self._max_wait = max_wait
        self._due: dict[Any, tuple[float, float]] = {}  # key -> (first, last) mark
        self._tasks: dict[Any, asyncio.Task[None]] = {}

    def mark(self, key: Any) -> None:
        now = time.monotonic()
        first, _ = self._due.get(key, (now, now))
        self._due[key] = (first, now)
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(self._wait(key))

    async def _wait(self, key: Any) -> None:
        try:
            while True:
                first, last = self._due[key]
                due = min(last + self._quiet, first + self._max_wait)
                pause = due - time.monotonic()
                if pause <= 0:
                    break
                await asyncio.sleep(pause)
            del self._due[key]
        finally:
            del self._tasks[key]
        await self._work(key)

    def cancel(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()


class Namespace:
    """Our Secrets and the opted-in workloads of one namespace."""

    def __init__(
        self,
        calls: ObjectCalls,
        leader: Leader,
        metrics: ControllerMetrics,
        *,
        quiet: float = QUIET,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.name = calls.namespace
        self.calls = calls
        self.leader = leader
        self.metrics = metrics
        self.secrets: dict[str, tuple[str, dict[str, str]]] = {}  # name -> (id, key digests)
        self.ids: dict[str, str] = {}  # credential id -> Secret name
        self.corrupt: set[str] = set()  # ids whose credential.json does not decode
        self.workloads: dict[tuple[str, str], Document] = {}
        self.wants: dict[tuple[str, str], Wanted] = {}
        self.bad: dict[tuple[str, str], str] = {}  # malformed annotations: why
        # Problems already logged, per workload and action: the workload's uid, its
        # reload annotation and why (our own patches change neither).
        self._reported: dict[tuple[tuple[str, str], str], str] = {}
        self._events: set[asyncio.Task[None]] = set()  # Events being posted
        self.rotations: Rotations | None = None  # set when the controller rotates
        self.synced = False  # the first list of our Secrets is in
        self.debounce = Debounce(self.evaluate, quiet, max_wait)

    # -- Secrets -------------------------------------------------------------------------

    def secret_seen(self, kind: str, secret: SecretObject) -> None:
        credential_id = secret.annotations.get(ANN_ID)
        before = self.secrets.get(secret.name)
        credential: Credential | None = None
        old_id = None if before is None else before[0]
        if (
            old_id is not None
            and (kind == "DELETED" or old_id != credential_id)  # or edited by hand
            and self.ids.get(old_id) == secret.name
        ):  # the old id is not here now
            del self.ids[old_id]
            self.corrupt.discard(old_id)
        if kind == "DELETED" or credential_id is None:
            self.secrets.pop(secret.name, None)
        else:
            self.secrets[secret.name] = (credential_id, key_digests(secret.data))
            self.ids[credential_id] = secret.name
            try:
                credential = decode(secret, self.name)
                self.corrupt.discard(credential_id)
            except CredentialError:  # a hand edit into garbage: no rollout onto it
                self.corrupt.add(credential_id)
        if self.rotations is not None:
            self.rotations.seen(kind, secret, credential)
        after = self.secrets.get(secret.name)
        if before != after:
            for workload_id in self._users(secret.name, before, after):
                self.debounce.mark(workload_id)

    def listed(self) -> None:
        """The first list of our Secrets is in. Before it no workload is judged: a
        credential not listed yet would look missing (a false Warning Event)."""
        if not self.synced:
            self.synced = True
            for workload_id in [*self.wants, *self.bad]:
                self.debounce.mark(workload_id)

    def _users(
        self, name: str, *entries: tuple[str, dict[str, str]] | None
    ) -> list[tuple[str, str]]:
        ids = {entry[0] for entry in entries if entry is not None}
        return [
            workload_id
            for workload_id, want in self.wants.items()
            if name in want.keys or ids.intersection(want.ids)
        ]

    # -- Workloads -----------------------------------------------------------------------

    def workload_seen(self, kind: str, event: str, workload: Document) -> None:
        name = str((workload.get("metadata") or {}).get("name") or "")
        workload_id = (kind, name)
        self.wants.pop(workload_id, None)
        if event == "DELETED":
            self.workloads.pop(workload_id, None)
            self.bad.pop(workload_id, None)
            self._forget(workload_id, *_PROBLEMS)
            return
        self.workloads[workload_id] = workload
        self.bad.pop(workload_id, None)
        try:
            want = wanted(workload)
        except BadAnnotation as exc:
            self.bad[workload_id] = str(exc)  # reported by the leader, in evaluate
            self.debounce.mark(workload_id)
            return
        if want is not None:
            self.wants[workload_id] = want
            self.debounce.mark(workload_id)

    def mark_all(self) -> None:
        """Look at every opted-in workload again (leadership just won), and at the
        malformed ones: made while no one led, they were told by no one."""
        for workload_id in [*self.wants, *self.bad]:
            self.debounce.mark(workload_id)

    # -- The patch -----------------------------------------------------------------------

    async def evaluate(self, workload_id: tuple[str, str]) -> None:
        workload = self.workloads.get(workload_id)
        if workload is None or not self.synced or not self.leader.acting():
            return
        if workload_id in self.bad:
            self._problem(workload_id, "bad-annotation", self.bad[workload_id])
            return
        want = self.wants.get(workload_id)
        if want is None:
            return
        kind, name = workload_id
        parts = self._parts(workload_id, want)
        current = template_digest(workload)
        if current is None and all(part[1] is None for part in parts):
            return  # nothing found yet: a first digest would restart it for nothing
        corrupt = sorted({part[0] for part in parts if part[0] in self.corrupt})
        if not corrupt:
            self._forget(workload_id, "corrupt-credential")
        else:
            why = (
                f"credential(s) {', '.join(map(repr, corrupt))} in namespace {self.name!r} "
                "do not decode (credential.json edited by hand?); no restart until mended"
            )
            self._problem(workload_id, "corrupt-credential", why, credentials=corrupt)
            return
        # PBKDF2 takes milliseconds: off the loop, so hundreds of workloads changing at
        # once never hold up the leader's renewals (or the watches) behind them.
        digest = await asyncio.to_thread(workload_digest, f"{kind}/{self.name}/{name}", parts)
        if digest == current:
            return
        meta = workload.get("metadata") or {}
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "spec": {"template": {"metadata": {"annotations": {DIGEST: digest}}}},
        }
        if not self.leader.acting():  # the term may have ended while this waited
            return
        try:
            stored = await self.calls.patch_workload(kind, name, patch)
        except (StaleWrite, Missing):
            return  # the watch brings the newer workload, or its deletion
        except CredentialError as exc:
            self._problem(workload_id, "refused", str(exc))
            return
        self.workloads[workload_id] = stored
        self._forget(workload_id, "refused")
        self.metrics.restarts.labels(kind.lower()).inc()
        credentials = sorted(part[0] for part in parts)
        act("restart", namespace=self.name, kind=kind, name=name, credentials=credentials)

    def _parts(
        self, workload_id: tuple[str, str], want: Wanted
    ) -> list[tuple[str, dict[str, str] | None, set[str]]]:
        parts: list[tuple[str, dict[str, str] | None, set[str]]] = []
        if want.auto:
            for secret_name, keys in want.keys.items():
                found = self.secrets.get(secret_name)
                if found is not None:
                    parts.append((found[0], found[1], keys))
            return parts
        missing: list[str] = []
        for credential_id in want.ids:
            held_in = self.ids.get(credential_id)
            if held_in is None:
                missing.append(credential_id)
                parts.append((credential_id, None, set()))
                continue
            keys = want.keys.get(held_in, {ALL_KEYS})
            parts.append((credential_id, self.secrets[held_in][1], keys))
        if not missing:
            self._forget(workload_id, "missing-credential")
        else:  # one problem naming them all: one line and one Event, not one each
            named = ", ".join(map(repr, missing))
            verb = "has" if len(missing) == 1 else "have"
            self._problem(
                workload_id,
                "missing-credential",
                f"credential {named} {verb} no Secret in namespace {self.name!r}",
            )
        return parts

    def _problem(self, workload_id: tuple[str, str], action: str, why: str, **fields: Any) -> None:
        """One log line (and an Event) per problem and workload version, not per look."""
        kind, name = workload_id
        workload = self.workloads.get(workload_id) or {}
        meta = workload.get("metadata") or {}
        said = f"{meta.get('uid')}:{(meta.get('annotations') or {}).get(RELOAD)}:{why}"
        if self._reported.get((workload_id, action)) == said:
            return
        self._reported[(workload_id, action)] = said
        act(action, namespace=self.name, kind=kind, name=name, reason=why, **fields)
        if self.leader.acting():  # only the leader reports, so one line per problem
            task = asyncio.ensure_future(self._event(workload, kind, action, why))
            self._events.add(task)
            task.add_done_callback(self._events.discard)

    def _forget(self, workload_id: tuple[str, str], *actions: str) -> None:
        """The problem is gone: the next time it comes it is told again."""
        for action in actions:
            self._reported.pop((workload_id, action), None)

    async def _event(self, workload: Document, kind: str, action: str, why: str) -> None:
        from .events import warning_event

        try:
            await self.calls.event_create(warning_event(workload, kind, action, why))
        except (CredentialError, StaleWrite, Missing) as exc:
            act("event-failed", namespace=self.name, reason=type(exc).__name__)
