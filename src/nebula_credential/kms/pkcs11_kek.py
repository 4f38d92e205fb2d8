"""A KEK on a PKCS#11 token (an HSM; SoftHSM2 in our tests): sealing happens on the token.

The source is a PKCS#11 URI (RFC 7512)::

    pkcs11:token=LABEL;object=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/PATH

``module-path`` may come from ``NEBULA_CREDENTIAL_PKCS11_MODULE`` instead, and the user
PIN from ``NEBULA_CREDENTIAL_PKCS11_PIN`` instead of a ``pin-source`` file (mode 0600,
like a key file). A ``pin-value`` in the URI is refused: it would sit in the process list.

The key is an AES-256 secret key that the token marks sensitive and not extractable;
:meth:`TokenKek.from_uri` refuses any other, so the KEK never leaves the token and every
seal and open is an AES-GCM operation the token performs. :func:`generate_token_kek`
makes such a key. A PKCS#11 session serves one operation at a time, so calls are
serialised on a lock; a token that stops answering is reopened once per call before the
call fails with UNAVAILABLE.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from ._errors import KekConfigError, KekUnavailable, Tampered
from .envelope import check_kek_id

MODULE_ENV: Final = "NEBULA_CREDENTIAL_PKCS11_MODULE"
PIN_ENV: Final = "NEBULA_CREDENTIAL_PKCS11_PIN"
_MAX_PIN: Final = 256


@dataclass(frozen=True)
class TokenUri:
    """The parts of a ``pkcs11:`` KEK source we use."""

    token: str
    object: str
    module: str
    pin_source: str | None

    @classmethod
    def parse(cls, uri: str) -> TokenUri:
        """:class:`KekConfigError` unless ``uri`` names a token, an object and a module."""
        body = uri.removeprefix("pkcs11:")
        path, _, query = body.partition("?")
        attrs = _pairs(path, ";")
        params = _pairs(query, "&")
        if "pin-value" in params:
            raise KekConfigError(
                "put the PIN in a pin-source file or $" + PIN_ENV + ", not the URI"
            )
        module = params.get("module-path") or os.environ.get(MODULE_ENV, "")
        missing = [
            k for k, v in (("token", attrs.get("token")), ("object", attrs.get("object"))) if not v
        ]
        if missing or not module:
            raise KekConfigError(
                "a pkcs11: KEK names token=...;object=... and module-path (or $" + MODULE_ENV + ")"
            )
        return cls(attrs["token"], attrs["object"], module, params.get("pin-source"))

    def pin(self) -> str:
        """The user PIN from ``pin-source`` (a 0600 file) or the environment."""
        if self.pin_source is not None:
            path = Path(self.pin_source.removeprefix("file:"))
            return _read_pin(path)
        pin = os.environ.get(PIN_ENV)
        if not pin:
            raise KekConfigError(f"no PIN: add pin-source=file:PATH to the URI or set ${PIN_ENV}")
        return pin


def _pairs(text: str, separator: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, text.split(separator)):
        key, eq, value = part.partition("=")
        if not eq:
            raise KekConfigError(f"the pkcs11: URI attribute {unquote(key)!r} has no value")
        out[unquote(key)] = unquote(value)
    return out


def _read_pin(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KekConfigError(f"cannot open the PIN file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_mode & 0o077:
            raise KekConfigError(
                f"the PIN file {path} must be readable by its owner only (chmod 600)"
            )
        raw = handle.read(_MAX_PIN + 1)
    pin = raw.decode("utf-8", "replace").strip()
    if not pin or len(raw) > _MAX_PIN:
        raise KekConfigError(f"the PIN file {path} holds no usable PIN")
    return pin


def _session(uri: TokenUri) -> Any:
    """A read-write session, logged in as the user. PKCS#11 logs in per process and
    token, not per session: a second KEK on a token this process already opened (two
    KEKs on one HSM during a rotation) joins that login instead of logging in again."""
    import pkcs11

    try:
        lib = pkcs11.lib(uri.module)
        token = lib.get_token(token_label=uri.token)
        try:
            return token.open(user_pin=uri.pin(), rw=True)
        except pkcs11.UserAlreadyLoggedIn:
            return token.open(rw=True)
    except pkcs11.PKCS11Error as exc:
        raise KekConfigError(f"cannot open token {uri.token!r}: {type(exc).__name__}") from None
    except RuntimeError as exc:  # the module itself could not be loaded
        raise KekConfigError(f"cannot load the PKCS#11 module {uri.module}: {exc}") from None


def _find_key(session: Any, label: str) -> Any:
    import pkcs11
    from pkcs11 import KeyType, ObjectClass

    try:
        return session.get_key(
            object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label
        )
    except pkcs11.NoSuchKey:
        raise KekConfigError(f"no AES key labelled {label!r} on the token") from None
    except pkcs11.MultipleObjectsReturned:
        raise KekConfigError(f"several AES keys are labelled {label!r} on the token") from None


class TokenKek:
    """A non-extractable AES-256 key on a PKCS#11 token."""

    def __init__(self, uri: TokenUri) -> None:
        self._uri = uri
        self._id = check_kek_id(f"pkcs11-{uri.object}")
        self._lock = threading.Lock()
        self._session: Any = None
        self._key: Any = None
        self._connect()

    @classmethod
    def from_uri(cls, source: str) -> TokenKek:
        """The KEK that the ``pkcs11:`` URI ``source`` names."""
        return cls(TokenUri.parse(source))

    @property
    def kek_id(self) -> str:
        """``pkcs11-`` and the key's label."""
        return self._id

    def _connect(self) -> None:
        from pkcs11 import Attribute

        session = _session(self._uri)
        key = _find_key(session, self._uri.object)
        if key[Attribute.EXTRACTABLE] or not key[Attribute.SENSITIVE]:
            session.close()
            raise KekConfigError(
                f"the key {self._uri.object!r} can leave the token: use a sensitive, "
                "non-extractable key (kms new-kek makes one)"
            )
        self._session, self._key = session, key

    def _call(self, operation: str, data: bytes, nonce: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        method = getattr(self._key, operation)
        params = GCMParams(nonce, aad, 128)
        return bytes(method(data, mechanism=Mechanism.AES_GCM, mechanism_param=params))

    def _round_trip_works(self) -> bool:
        """Whether the token still seals and opens: tokens differ in how they report a
        failed GCM tag (SoftHSM2 says CKR_GENERAL_ERROR), so a decryption that failed on
        a token that works is taken as a tampered blob."""
        import pkcs11

        nonce, probe = os.urandom(12), b"nebula-credential kms probe"
        try:
            sealed = self._call("encrypt", probe, nonce, b"")
            return self._call("decrypt", sealed, nonce, b"") == probe
        except pkcs11.PKCS11Error:
            return False

    def _run(self, operation: str, data: bytes, nonce: bytes, aad: bytes) -> bytes:
        import pkcs11

        tampered = Tampered(f"the ciphertext fails authentication under KEK {self._id!r}")
        failure = "none"
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._call(operation, data, nonce, aad)
                except (pkcs11.EncryptedDataInvalid, pkcs11.EncryptedDataLenRange):
                    raise tampered from None
                except pkcs11.PKCS11Error as exc:
                    failure = type(exc).__name__
                if operation == "decrypt" and self._round_trip_works():
                    raise tampered
                if attempt == 1:
                    self._reconnect()
        raise KekUnavailable(f"the token of KEK {self._id!r} failed: {failure}")

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):  # the session is being replaced: it broke
            self._session.close()
        try:
            self._connect()
        except KekConfigError as exc:
            raise KekUnavailable(str(exc)) from None

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM on the token."""
        return self._run("encrypt", plaintext, nonce, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext, decrypted on the token, or :class:`Tampered`."""
        return self._run("decrypt", sealed, nonce, aad)

    def close(self) -> None:
        """End the token session."""
        with self._lock:
            self._session.close()

    def __repr__(self) -> str:
        return f"TokenKek({self._id!r})"


def generate_token_kek(source: str) -> TokenKek:
    """Make a sensitive, non-extractable AES-256 key on the token, labelled as ``source``
    names it; :class:`KekConfigError` when a key with that label exists already."""
    import pkcs11
    from pkcs11 import Attribute, KeyType, MechanismFlag

    uri = TokenUri.parse(source)
    check_kek_id(f"pkcs11-{uri.object}")
    session = _session(uri)
    try:
        if list(session.get_objects({Attribute.LABEL: uri.object})):
            raise KekConfigError(f"the token already holds an object labelled {uri.object!r}")
        session.generate_key(
            KeyType.AES,
            256,
            label=uri.object,
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True},
        )
    except pkcs11.PKCS11Error as exc:
        raise KekConfigError(f"the token refused to make the key: {type(exc).__name__}") from None
    finally:
        session.close()
    return TokenKek(uri)
