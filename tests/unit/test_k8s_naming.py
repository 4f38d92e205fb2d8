"""Secret names and label values are valid for Kubernetes and never collide."""

from __future__ import annotations

import random
import re
import string

import pytest

from nebula_credential import ConfigurationError, CredentialId, CredentialScope
from nebula_credential.kubernetes.model.naming import (
    check_prefix,
    label_value,
    scope_labels,
    scope_selector,
    secret_name,
    tag_label,
)

# The API server's own rules (k8s.io/apimachinery/pkg/util/validation).
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
PREFIX = "nebula-credentials"


def assert_valid_name(name: str) -> None:
    assert len(name) <= 253, name
    assert DNS1123_SUBDOMAIN.fullmatch(name), name


def test_plain_ids_keep_their_readable_name() -> None:
    assert secret_name(PREFIX, "github-token") == "nebula-credentials-github-token"
    assert secret_name(PREFIX, "oauth2") == "nebula-credentials-oauth2"


@pytest.mark.parametrize(
    "cid", ["A_b", "a.b", "a_b", "A-B", "a-", "-a", "_", "Cred_0193.x", "x" * 255, "X" * 255]
)
def test_lossy_ids_get_a_valid_hashed_name(cid: str) -> None:
    name = secret_name(PREFIX, CredentialId(cid))
    assert_valid_name(name)
    assert name.startswith(f"{PREFIX}-")


def test_similar_ids_never_share_a_name() -> None:
    ids = ["A_b", "a-b", "a.b", "a_b", "A-B", "a-B", "a--b", "A.B", "a_B"]
    names = {secret_name(PREFIX, cid) for cid in ids}
    assert len(names) == len(ids)


def test_long_ids_differing_only_at_the_end_get_distinct_names() -> None:
    base = "Org_Service." + "a" * 230
    ids = [base + suffix for suffix in ("x", "y", "X", "_", "-1", "-2")]
    names = [secret_name(PREFIX, cid) for cid in ids]
    for name in names:
        assert_valid_name(name)
    assert len(set(names)) == len(ids)


def test_a_plain_id_cannot_spell_a_hashed_name() -> None:
    hashed = secret_name(PREFIX, "A_b")
    # Whatever follows the prefix of a hashed name contains '.', which makes an id lossy.
    spelled = hashed[len(PREFIX) + 1 :]
    assert "." in spelled
    assert secret_name(PREFIX, spelled) != hashed


def test_random_ids_are_valid_and_unique() -> None:
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits + "-_."
    ids = set()
    while len(ids) < 3000:
        length = rng.choice([1, 2, 3, 8, 40, 200, 255])
        cid = rng.choice(string.ascii_letters) + "".join(
            rng.choice(alphabet) for _ in range(length - 1)
        )
        ids.add(cid)
    names = set()
    for cid in ids:
        name = secret_name("p", CredentialId(cid))
        assert_valid_name(name)
        names.add(name)
    assert len(names) == len(ids)


@pytest.mark.parametrize("bad", ["", "UPPER", "-x", "x-", "a_b", "a.b", "x" * 64])
def test_bad_prefixes_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        check_prefix(bad)


@pytest.mark.parametrize("good", ["payments", "a", "v1.2", "org_unit-7", "x" * 63])
def test_valid_label_values_are_kept(good: str) -> None:
    assert label_value(good) == good


@pytest.mark.parametrize(
    "bad", ["alice@example.com", "org:acme/team:x", "x" * 64, "-lead", "trail-", "a b", "é"]
)
def test_invalid_label_values_are_hashed(bad: str) -> None:
    value = label_value(bad)
    assert LABEL_VALUE.fullmatch(value)
    assert len(value) <= 63
    assert value != bad
    assert value == label_value(bad)


def test_scope_labels_have_one_label_per_ancestor() -> None:
    scope = CredentialScope("org:acme/workspace:eng/user:alice")
    labels = scope_labels(scope)
    assert len(labels) == 4  # exact hash + three ancestors
    for key, value in labels.items():
        assert LABEL_NAME.fullmatch(key.split("/")[1])
        assert LABEL_VALUE.fullmatch(value)
    for ancestor in ("org:acme", "org:acme/workspace:eng", str(scope)):
        key, value = scope_selector(CredentialScope(ancestor), descendants=True) or ("", "")
        assert labels[key] == value
    exact = scope_selector(scope, descendants=False)
    assert exact is not None
    assert labels[exact[0]] == exact[1]


def test_sibling_scopes_sharing_a_text_prefix_do_not_match() -> None:
    labels = scope_labels(CredentialScope("org:acmex/team:core"))
    selector = scope_selector(CredentialScope("org:acme"), descendants=True)
    assert selector is not None
    assert labels.get(selector[0]) != selector[1]


def test_global_prefix_selects_everything_and_global_exact_is_one_hash() -> None:
    assert scope_selector(CredentialScope("global"), descendants=True) is None
    exact = scope_selector(CredentialScope("global"), descendants=False)
    assert exact is not None
    assert scope_labels(CredentialScope("global")) == {exact[0]: exact[1]}


@pytest.mark.parametrize(
    ("key", "value"), [("env", "prod"), ("team/owner", "a b"), ("x" * 63, "v" * 100)]
)
def test_tag_labels_are_valid(key: str, value: str) -> None:
    name, label = tag_label(key, value)
    prefix, _, short = name.partition("/")
    assert prefix == "tag.nebula-credential"
    assert LABEL_NAME.fullmatch(short)
    assert len(short) <= 63
    assert LABEL_VALUE.fullmatch(label)
