"""URLs as they may be shown: never the user and password a URL can embed."""

from __future__ import annotations

from urllib.parse import urlsplit


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
