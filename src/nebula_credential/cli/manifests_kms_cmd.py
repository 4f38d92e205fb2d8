"""``manifests kms-plugin``: run our KMS plugin beside kube-apiserver, as a static Pod or
a systemd unit (the EncryptionConfiguration that points at it is ``encryption-config
kms``)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from .. import manifests as m
from .manifests_common import KubeVersionOpt, _emit, _target, manifests_app


class PluginFormat(StrEnum):
    STATIC_POD = "static-pod"
    SYSTEMD = "systemd"


@manifests_app.command("kms-plugin")
def kms_plugin_cmd(
    ctx: typer.Context,
    kek: Annotated[
        str,
        typer.Option(help="file:PATH or pkcs11:...?module-path=..&pin-source=file:.. on the host"),
    ],
    format: Annotated[
        PluginFormat, typer.Option("--format", help="static-pod or systemd")
    ] = PluginFormat.STATIC_POD,
    socket: Annotated[
        str, typer.Option(help="unix:///PATH of the socket kube-apiserver calls")
    ] = m.kms.DEFAULT_SOCKET,
    image: Annotated[str, typer.Option(help="static-pod: image with nebula-credential[kms]")] = (
        "nebula-credential:latest"
    ),
    mount: Annotated[
        list[str] | None,
        typer.Option(help="static-pod: another host path to mount read-only (a token store)"),
    ] = None,
    executable: Annotated[str, typer.Option(help="systemd: the nebula-credential binary")] = (
        "/usr/local/bin/nebula-credential"
    ),
    user: Annotated[str, typer.Option(help="systemd: the service user")] = "nebula-kms",
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on loopback at this port")
    ] = None,
    kube_version: KubeVersionOpt = None,
) -> None:
    """The KMS plugin beside kube-apiserver: a static Pod or a sandboxed systemd unit."""
    if format is PluginFormat.SYSTEMD:
        unit = m.kms_plugin_unit(
            kek=kek, endpoint=socket, executable=executable, user=user, metrics_port=metrics_port
        )
        sys.stdout.write(unit)
        return
    target = _target(ctx, kube_version)
    pod = m.kms_plugin_pod(
        kek=kek, endpoint=socket, image=image, mounts=mount or [], metrics_port=metrics_port
    )
    _emit(ctx, [pod], target)
