"""URLs as they may be shown: never the user and password a URL can embed."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urljoin, urlsplit

# A pattern, not a compiled one: only a redirect needs it (re caches it on first use).
_UNSHOWN: Final = r"[^\x21-\x7e]"


def shown_url(url: object) -> str:
    """``url`` without the user and password it may embed (``https://u:p@host``)."""
    text = str(url)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc or host is None:
        return text
    host = f"[{host}]" if ":" in host else host
    return parts._replace(netloc=host if port is None else f"{host}:{port}").geturl()


def origin_and_path(url: str) -> tuple[str, str]:
    """(``scheme://host[:port]``, ``/path?query``) of an absolute http(s) URL."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return f"{parts.scheme}://{parts.netloc}", target


def shown_origin(url: str, location: str) -> str | None:
    """``scheme://host[:port]`` of where ``location`` (relative to ``url``) points, as it
    may be shown (a redirect's target): no user, path or query, no control or non-ASCII
    characters; None when it is not a URL."""
    try:
        parts = urlsplit(urljoin(url, location))
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = re.sub(_UNSHOWN, "?", parts.scheme)[:10] or "?"
    host = re.sub(_UNSHOWN, "?", host)[:255]
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")
