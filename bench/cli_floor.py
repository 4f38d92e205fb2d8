"""The least a Python CLI built like ours does for one Kubernetes ``get``: a floor.

Imports typer (the CLI framework), PyYAML (kubeconfig files), ssl and http.client (one
HTTPS request), reads the kubeconfig, and GETs one Secret with its token and CA. It
parses no options, checks nothing and prints only the body's size.
``bench/local_store.py`` times it beside ``kubectl get secret`` and ``nebula-credential
get``: what it costs is not ours to save.

    python bench/cli_floor.py KUBECONFIG NAMESPACE SECRET
"""

from __future__ import annotations

import base64
import http.client
import ssl
import sys
from urllib.parse import urlsplit

import typer
import yaml


def main() -> None:
    kubeconfig, namespace, name = sys.argv[1:4]
    with open(kubeconfig, encoding="utf-8") as handle:
        config = yaml.load(handle, Loader=yaml.CSafeLoader)
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    server = urlsplit(cluster["server"])
    conn = http.client.HTTPSConnection(server.hostname or "", server.port, context=context)
    conn.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/secrets/{name}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    body = conn.getresponse().read()
    typer.echo(len(body))


if __name__ == "__main__":
    main()
