"""The kind of a Secret another tool wrote: precedence, type mappings and hint wording."""

from __future__ import annotations

import base64

import pytest

from nebula_credential import CorruptData, InvalidCredential
from nebula_credential.kubernetes.model.foreign import foreign_credential
from nebula_credential.kubernetes.model.foreign_kinds import fitting_kind, speaking_cli
from nebula_credential.kubernetes.model.objects import SecretObject

CANARY = "canary-5d1e-do-not-print"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tls_secret(**labels: str) -> SecretObject:
    return SecretObject(
        name="p-web",
        labels=dict(labels),
        type="kubernetes.io/tls",
        data={"tls.crt": b64("CERT"), "tls.key": b64(CANARY), "ca.crt": b64("CA")},
    )


def test_the_type_comes_after_the_caller_the_labels_and_the_key() -> None:
    cert = foreign_credential(tls_secret(), "ns", prefix="p")
    assert (cert.id, cert.kind.value, cert.fields["ca_chain"]) == ("web", "certificate", "CA")
    assert cert.reveal("private_key") == CANARY
    labelled = foreign_credential(tls_secret(**{"credential-type": "generic"}), "ns", prefix="p")
    assert set(labelled.fields) == {"tls.crt", "tls.key", "ca.crt"}
    keyed = tls_secret()
    keyed.data["credential_type"] = b64("generic")
    assert foreign_credential(keyed, "ns", prefix="p").kind.value == "generic"
    called = foreign_credential(tls_secret(), "ns", prefix="p", kind="generic")
    assert called.kind.value == "generic"


def test_the_callers_renames_win_over_the_types() -> None:
    cert = foreign_credential(
        tls_secret(), "ns", prefix="p", field_names={"ca.crt": "certificate", "tls.crt": "ca_chain"}
    )
    assert (cert.fields["certificate"], cert.fields["ca_chain"]) == ("CA", "CERT")


@pytest.mark.parametrize(
    ("keys", "kind"),
    [
        ({"username", "password"}, "basic_auth"),
        ({"host", "username", "password", "port"}, "database"),
        ({"access_token", "refresh_token"}, "oauth2"),
        ({"api_key"}, "api_key"),
        ({"access_key_id", "secret_access_key"}, "aws"),
        ({"accessToken"}, "generic"),
        ({"username"}, "generic"),  # basic_auth needs a password
    ],
)
def test_the_kind_that_fits_the_keys(keys: set[str], kind: str) -> None:
    assert fitting_kind(keys, "Opaque").value == kind


def test_hints_name_the_fitting_kind_in_the_callers_words() -> None:
    login = SecretObject(name="p-db", data={"username": b64("u"), "password": b64(CANARY)})
    with pytest.raises(CorruptData) as library:
        foreign_credential(login, "ns", prefix="p")
    assert "pass kind='basic_auth' or label it" in str(library.value)
    assert str(library.value).endswith("nebula-credential/kind=basic_auth")
    with speaking_cli(), pytest.raises(InvalidCredential) as cli:
        foreign_credential(login, "ns", prefix="p", kind="oauth2")
    text = str(cli.value)
    assert "basic_auth (its keys fit), --kind generic, or pass --ignore-unknown" in text
    assert "--map-key KEY=FIELD" in text
    assert "kind=" not in text
    assert "field_names" not in text
    assert CANARY not in text
    # The words go back to the library's once the command is done.
    with pytest.raises(InvalidCredential, match="ignore_unknown=True"):
        foreign_credential(login, "ns", prefix="p", kind="oauth2")
