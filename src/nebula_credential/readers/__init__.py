"""Pod-side readers: a credential from a mounted Secret volume or from env variables.

They use the Secret key mapping (``kubernetes.foreign``), never a Kubernetes client: a
pod reading its own Secret volume needs no API access and no HTTP stack.
"""

from ._decode import DEFAULT_PATH, PATH_VARIABLE, default_path
from ._events import ReloadEvent, ReloadObserver, add_reload_observer
from .env import credential_from_env
from .mounted import MountedChange, MountedCredential, read_mounted

__all__ = [
    "DEFAULT_PATH",
    "PATH_VARIABLE",
    "MountedChange",
    "MountedCredential",
    "ReloadEvent",
    "ReloadObserver",
    "add_reload_observer",
    "credential_from_env",
    "default_path",
    "read_mounted",
]
