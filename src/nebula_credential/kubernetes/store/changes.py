"""The change feed of the Kubernetes provider: a watch that resumes and resyncs.

A list gives the resourceVersion to start from, so nothing after it is missed. A
dropped connection or a restarted API server resumes the watch from the last version
seen (the server replays what happened meanwhile); a version too old to resume (HTTP
410 Gone) starts over from a fresh list and tells the consumer to forget everything.
Reconnection backs off up to two seconds and goes on until the consumer closes the feed
(each watch started again is a ``restart`` for the metrics: ``lost`` or ``gone``);
a refusal that asking again cannot cure (403, a second 401, a configuration error) ends
the feed with that error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Final

from ... import observe
from ..._log import get_logger
from ...domain import (
    AuthenticationError,
    ConfigurationError,
    CredentialError,
    PermissionDenied,
)
from ...providers import Change
from ..api.errors import Gone
from ..api.transport import SecretTransport
from ..model.mapping import ANN_ID

logger = get_logger("nebula_credential.kubernetes")
_FIRST_DELAY: Final = 0.1
_MAX_DELAY: Final = 2.0


def _delay(failures: int) -> float:
    return random.uniform(0.5, 1.0) * min(_MAX_DELAY, _FIRST_DELAY * 2.0 ** (failures - 1))  # noqa: S311


async def change_feed(
    transport: SecretTransport, labels: Mapping[str, str]
) -> AsyncIterator[Change]:
    """Changes to the Secrets matching ``labels``, by credential id (see :class:`Change`)."""
    version: str | None = None
    failures = 0
    restart: str | None = None  # why the next watch is started again, when it is
    where = f"namespace {transport.namespace!r} at {transport.server}"
    while True:
        try:
            if version is None:
                version = await transport.resource_version(labels)
                failures = 0
                yield Change("resync")
            elif failures:
                await transport.resource_version(labels)  # the server answers again
                failures = 0
                logger.info("watch on secrets in %s resumed from version %s", where, version)
                yield Change("resumed")
            if restart is not None:
                observe.watch_event("restart", restart)
                restart = None
            stream = transport.watch(labels, version, restart_on_gone=False)
            async with aclosing(stream):
                async for _, secret in stream:
                    version = secret.resource_version or version
                    credential_id = secret.annotations.get(ANN_ID)
                    if credential_id is not None:
                        yield Change("changed", credential_id)
        except Gone:
            logger.info("watch on secrets in %s expired; starting over", where)
            version = None
            restart = "gone"
            continue
        except (PermissionDenied, AuthenticationError, ConfigurationError) as exc:
            # Asking again cannot help (a Role without 'watch', refused credentials):
            # the consumer learns it at once instead of a LIST every two seconds forever.
            logger.warning("the watch on secrets in %s cannot go on: %s", where, exc)
            raise
        except CredentialError as exc:
            failures += 1
            restart = "lost"
            if failures == 1:
                logger.warning("lost the watch on secrets in %s: %s", where, exc)
                yield Change("lost")
            await asyncio.sleep(_delay(failures))
