"""Input checks for the manifest generators: names, durations, versions, schedules.

Every failure is a :class:`ManifestError` (a domain ``ValidationError``, so the CLI exits
with 2) whose message names the option and says what a valid value looks like.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from ..domain import ValidationError
from ..kubernetes.model import api_names

OLDEST_MINOR: Final = 16
NEWEST_MINOR: Final = 40
# The newest release whose schemas the manifests are checked against (kubernetes-validate):
# what is generated for when no version is given and no cluster tells its own.
DEFAULT_KUBE_VERSION: Final = "1.37"

# ASCII digits only: ``\d`` would take fullwidth or Arabic-Indic digits, which Python's
# int() reads but Kubernetes and Go do not.
_DURATION: Final = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
_VERSION: Final = re.compile(r"v?([0-9]+)\.([0-9]+)(\.[0-9]+)?")
_LABEL_VALUE: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
# An image reference as container runtimes parse it (distribution/reference):
# [registry[:port]/]path[:tag][@digest], lower-case path components.
_HOST: Final = (
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]+)?"
)
_PATH: Final = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
_IMAGE: Final = re.compile(
    rf"({_HOST}/)?{_PATH}(/{_PATH})*(:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
    r"(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
MAX_IMAGE: Final = 4096


class ManifestError(ValidationError):
    """An input that would produce a manifest Kubernetes rejects (CLI exit code 2)."""


def _shown(value: object) -> str:
    return repr(str(value)[:80])


def dns_label(value: str, what: str) -> str:
    """A DNS-1123 label (namespaces, ServiceAccounts, container names): 1-63 chars."""
    return api_names.dns_label(value, what, error=ManifestError)


def dns_subdomain(value: str, what: str) -> str:
    """A DNS-1123 subdomain (most object names): at most 253 chars, dot-separated labels."""
    return api_names.dns_subdomain(value, what, error=ManifestError)


def duration(value: str, what: str) -> str:
    """A Go duration such as ``1h``, ``30m`` or ``1h30m`` (``0`` turns refreshing off)."""
    if value == "0" or (isinstance(value, str) and _DURATION.fullmatch(value)):
        return value
    raise ManifestError(
        f"{what} {_shown(value)} is not a duration: use a number with a unit, e.g. 1h, 30m, "
        "1h30m or 90s (0 disables it)"
    )


_SECONDS: Final = re.compile(r"([0-9]{1,7})([smhd]?)")
_UNIT: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: str, what: str) -> int:
    """A duration as ``nebula-credential rotate`` reads it (``90s``, ``10m``, ``2h``, ``1d``
    or plain seconds), in seconds."""
    match = _SECONDS.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ManifestError(
            f"{what} {_shown(value)} is not a duration: use a whole number with an optional "
            "unit, e.g. 90s, 10m, 2h or 1d"
        )
    return int(match[1]) * _UNIT[match[2]]


def positive(value: int, what: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ManifestError(f"{what} must be a whole number of at least {minimum}, not {value!r}")
    return value


def non_empty(value: str, what: str) -> str:
    """Free text that ends up in a manifest (a region, a URL, a remote key): one word of
    printable characters; control and bidirectional characters would reach whoever
    reads the YAML, and the service it names would not recognise the value."""
    if (
        not isinstance(value, str)
        or not value
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise ManifestError(
            f"{what} {_shown(value)} must be non-empty, without whitespace or control characters"
        )
    return value


def secret_key(value: str, what: str) -> str:
    """A key inside a Secret's ``data`` (letters, digits, ``-``, ``_``, ``.``; never
    ``.`` or starting with ``..``, which the kubelet keeps for its own files)."""
    return api_names.data_key(value, what, error=ManifestError)


def label_value(value: str, what: str) -> str:
    """A label value (``app: NAME``): at most 63 letters, digits, ``-``, ``_``, ``.``,
    starting and ending with a letter or digit."""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise ManifestError(
            f"{what} {_shown(value)} is also a label value, so it must be at most 63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return value


def image_reference(value: str) -> str:
    """A container image reference (``registry:5000/team/app:1.2@sha256:…``), ASCII only:
    the API server takes any text here and the pod would fail to pull it."""
    if not isinstance(value, str) or len(value) > MAX_IMAGE or not _IMAGE.fullmatch(value):
        raise ManifestError(
            f"image {_shown(value)} is not an image reference: use [REGISTRY[:PORT]/]NAME"
            "[:TAG][@DIGEST] with a lower-case NAME, e.g. ghcr.io/acme/app:1.2"
        )
    return value


def absolute_path(value: str, what: str) -> str:
    """An absolute path in a container, printable ASCII without whitespace or ``:``."""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or not value.isascii()
        or not value.isprintable()
        or any(c.isspace() or c == ":" for c in value)
        or ".." in value.split("/")
    ):
        raise ManifestError(
            f"{what} {_shown(value)} must be an absolute path without whitespace, ':', "
            "control characters or '..'"
        )
    return value


class KubeVersion(NamedTuple):
    """The Kubernetes version manifests are generated for; picks API versions."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, minor: int) -> bool:
        return self.minor >= minor

    @property
    def pdb_api(self) -> str:
        return "policy/v1" if self.at_least(21) else "policy/v1beta1"

    @property
    def cronjob_api(self) -> str:
        return "batch/v1" if self.at_least(21) else "batch/v1beta1"


def kube_version(value: str | KubeVersion = DEFAULT_KUBE_VERSION) -> KubeVersion:
    """Parse ``1.29`` / ``v1.20.2`` into a :class:`KubeVersion` we can generate for."""
    if isinstance(value, KubeVersion):
        return value
    match = _VERSION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) != 1:
        raise ManifestError(f"Kubernetes version {_shown(value)} must look like 1.29 or v1.20.2")
    minor = int(match[2])
    if not OLDEST_MINOR <= minor <= NEWEST_MINOR:
        raise ManifestError(
            f"Kubernetes version {_shown(value)} is outside what manifests are generated for "
            f"(1.{OLDEST_MINOR} to 1.{NEWEST_MINOR})"
        )
    return KubeVersion(1, minor)
