"""Field names follow the rules of a Secret data key, so every provider accepts them."""

from __future__ import annotations

import pytest

from nebula_credential import Credential, InvalidCredential

CANARY = "canary-field-name-73e1"


@pytest.mark.parametrize(
    "name",
    [".", "..", "..x", "...", "..credential.json", "", "a/b", "a b", "x" * 254, "é", "a\nb"],
)
def test_names_kubernetes_rejects_are_rejected_everywhere(name: str) -> None:
    with pytest.raises(InvalidCredential, match="field name #1 is not valid") as caught:
        Credential("ok", "generic", {name: "v"})
    assert "'..'" in str(caught.value)  # the rule is stated


@pytest.mark.parametrize("name", ["a..b", ".x", "x.", "-", "_", "x..", "._-", "x" * 253])
def test_names_a_secret_data_key_allows_are_accepted(name: str) -> None:
    assert Credential("ok", "generic", {name: "v"}).reveal(name) == "v"


def test_reserved_name_is_still_refused() -> None:
    with pytest.raises(InvalidCredential, match="reserved"):
        Credential("ok", "generic", {"credential.json": "v"})


def test_an_invalid_name_is_not_quoted() -> None:
    # "api_key:<secret>" is what a ':' typed for '=' produces.
    with pytest.raises(InvalidCredential) as caught:
        Credential("ok", "generic", {"a": "v", f"api_key:{CANARY}": "v"})
    assert CANARY not in str(caught.value)
    assert "#2" in str(caught.value)
