"""A kubeconfig's entries are typed as read: wrong types are named, values never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nebula_credential import ConfigurationError
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.config.endpoint import endpoint_for

CANARY = "canary-5f0c2a"


def write(path: Path, **sections: Any) -> Path:
    doc: dict[str, Any] = {
        "clusters": [{"name": "c1", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u1", "user": {"token": CANARY}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1"}}],
        "current-context": "dev",
    }
    doc.update(sections)
    path.write_text(yaml.safe_dump(doc))
    return path


def load(path: Path, **kwargs: Any) -> Any:
    return load_cluster_config(kubeconfig=path, environ={}, **kwargs)


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (
            {"clusters": [{"name": "c1", "cluster": {"server": 6443}}]},
            r"server of the cluster 'c1' in kubeconfig .*config must be a string, not a number",
        ),
        (
            {"clusters": [{"name": "c1", "cluster": {"insecure-skip-tls-verify": CANARY}}]},
            r"insecure-skip-tls-verify of the cluster 'c1' .* must be true or false, not a string",
        ),
        (
            {"users": [{"name": "u1", "user": {"token": [CANARY]}}]},
            r"token of the user 'u1' .* must be a string, not a list",
        ),
        (
            {"users": [{"name": "u1", "user": {"password": {"p": CANARY}}}]},
            r"password of the user 'u1' .* must be a string, not a mapping",
        ),
        (
            {"users": [{"name": "u1", "user": {"auth-provider": CANARY}}]},
            r"auth-provider of the user 'u1' .* must be a mapping",
        ),
        (
            {"users": [{"name": "u1", "user": {"exec": {"command": "p", "args": [CANARY, 1]}}}]},
            r"args of the exec plugin of the user 'u1' .* must be a list of strings",
        ),
        (
            {"users": [{"name": "u1", "user": {"exec": {"env": [{"name": "K", "value": 7}]}}}]},
            r"env of the exec plugin of the user 'u1' .* name/value pairs",
        ),
        (
            {"contexts": [{"name": "dev", "context": {"cluster": "c1", "namespace": 3}}]},
            r"namespace of the context 'dev' .* must be a string",
        ),
        ({"contexts": [{"name": "dev", "context": {"user": "u1"}}]}, r"'dev' .* names no cluster"),
        ({"users": [{"user": {"token": CANARY}}]}, r"entry 1 of users in kubeconfig .* no name"),
        ({"users": [{"name": "u1"}]}, r"the user 'u1' in kubeconfig .* has no 'user' mapping"),
        ({"users": {"u1": {"token": CANARY}}}, r"users in kubeconfig .* must be a list"),
        ({"current-context": ["dev"]}, r"current-context in kubeconfig .* must be a string"),
    ],
)
def test_a_wrong_type_names_the_file_and_entry_never_the_value(
    tmp_path: Path, sections: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path / "config", **sections)
    with pytest.raises(ConfigurationError, match=expected) as caught:
        load(path)
    assert CANARY not in str(caught.value)
    assert caught.value.__cause__ is None


def test_an_entry_of_another_context_is_checked_too(tmp_path: Path) -> None:
    """kubectl refuses a file whose entries have wrong types, used or not."""
    users = [
        {"name": "u1", "user": {"token": CANARY}},
        {"name": "other", "user": {"tokenFile": 42}},
    ]
    with pytest.raises(ConfigurationError, match="tokenFile of the user 'other'"):
        load(write(tmp_path / "config", users=users))


def test_a_name_defined_twice_keeps_its_first_definition(tmp_path: Path) -> None:
    clusters = [
        {
            "name": "c1",
            "cluster": {"server": "https://127.0.0.1:1", "proxy-url": "http://127.0.0.1:2"},
        },
        {"name": "c1", "cluster": {"server": "https://127.0.0.1:9"}},
    ]
    target = load(write(tmp_path / "config", clusters=clusters))
    endpoint = endpoint_for(target, environ={})
    # Server and proxy come from the same entry, as kubectl reads them.
    assert (endpoint.server, endpoint.proxy) == ("https://127.0.0.1:1", "http://127.0.0.1:2")


def test_views_show_no_secret(tmp_path: Path) -> None:
    users = [
        {
            "name": "u1",
            "user": {
                "token": CANARY,
                "password": CANARY,
                "client-key-data": CANARY,
                "exec": {"command": "p", "env": [{"name": "K", "value": CANARY}]},
                "auth-provider": {"config": {"id-token": CANARY}},
            },
        }
    ]
    clusters = [
        {
            "name": "c1",
            "cluster": {
                "server": f"https://admin:{CANARY}@127.0.0.1:1",
                "proxy-url": f"http://me:{CANARY}@127.0.0.1:3128",
            },
        }
    ]
    target = load(write(tmp_path / "config", users=users, clusters=clusters))
    shown = f"{target!r} {target.user!r} {target.cluster!r}"
    assert CANARY not in shown
    assert "token='********'" in repr(target.user)
    assert "server='https://127.0.0.1:1'" in repr(target.cluster)


def test_relative_paths_and_plugin_commands_resolve_against_their_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    users = [
        {
            "name": "u1",
            "user": {
                "client-certificate": "crt.pem",
                "client-key": "/abs/key.pem",
                "tokenFile": "token",
                "exec": {"command": "./bin/plugin", "apiVersion": "v"},
            },
        },
        {"name": "u2", "user": {"exec": {"command": "on-path-plugin"}}},
    ]
    contexts = [
        {"name": "dev", "context": {"cluster": "c1", "user": "u1"}},
        {"name": "two", "context": {"cluster": "c1", "user": "u2"}},
    ]
    path = write(sub / "config", users=users, contexts=contexts)
    user = load(path).user
    assert user.client_certificate == str(sub / "crt.pem")
    assert user.client_key == "/abs/key.pem"
    assert user.token_file == str(sub / "token")
    assert user.exec["command"] == str(sub / "bin" / "plugin")
    assert load(path, context="two").user.exec["command"] == "on-path-plugin"


def test_a_context_without_a_user_is_anonymous(tmp_path: Path) -> None:
    contexts = [{"name": "dev", "context": {"cluster": "c1"}}]
    target = load(write(tmp_path / "config", contexts=contexts))
    assert repr(target.user) == "KubeUser()"
    assert "auth='none'" in repr(endpoint_for(target, environ={}))


def test_a_context_naming_an_undefined_user(tmp_path: Path) -> None:
    contexts = [{"name": "dev", "context": {"cluster": "c1", "user": "gone"}}]
    with pytest.raises(ConfigurationError, match="refers to user 'gone'"):
        load(write(tmp_path / "config", contexts=contexts))


def test_a_cluster_without_a_server_is_named_when_connecting(tmp_path: Path) -> None:
    clusters = [{"name": "c1", "cluster": {"insecure-skip-tls-verify": True}}]
    target = load(write(tmp_path / "config", clusters=clusters))
    with pytest.raises(ConfigurationError, match=r"the cluster in .* has no server URL"):
        endpoint_for(target, environ={})
