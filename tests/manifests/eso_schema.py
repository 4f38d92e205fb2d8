"""The parts of the External Secrets Operator CRD schemas our manifests use.

Transcribed by hand from ESO's ``external-secrets.io`` CRDs (v1 and v1beta1 have the same
shape for these fields), with ``additionalProperties: false`` everywhere so that a
misspelt or misplaced field fails, as ``kubernetes-validate --strict`` does for built-in
kinds. A subset: fields we never generate are simply absent, which the strict check then
refuses, so a new field needs its schema here first.
"""

from __future__ import annotations

from typing import Any

import jsonschema


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


_STR = {"type": "string", "minLength": 1}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_SA_REF = _obj(["name"], name=_STR, namespace=_STR, audiences={"type": "array"})
_META = _obj(
    ["name", "namespace"],
    name=_STR,
    namespace=_STR,
    labels={"type": "object"},
    annotations={"type": "object"},
)

SECRET_STORE_SPEC = _obj(
    ["provider"],
    provider={
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {
            "aws": _obj(
                ["service"],
                service={"enum": ["SecretsManager", "ParameterStore"]},
                region=_STR,
                auth=_obj([], jwt=_obj([], serviceAccountRef=_SA_REF)),
            ),
            "azurekv": _obj(
                ["vaultUrl"],
                vaultUrl={"type": "string", "pattern": "^https://"},
                authType={"enum": ["ServicePrincipal", "ManagedIdentity", "WorkloadIdentity"]},
                serviceAccountRef=_SA_REF,
            ),
            "vault": _obj(
                ["server", "auth"],
                server=_STR,
                path=_STR,
                version={"enum": ["v1", "v2"]},
                auth=_obj(
                    [],
                    kubernetes=_obj(
                        ["mountPath", "role"],
                        mountPath=_STR,
                        role=_STR,
                        serviceAccountRef=_SA_REF,
                    ),
                ),
            ),
        },
    },
)

EXTERNAL_SECRET_SPEC = _obj(
    [],
    refreshInterval={"type": "string"},
    secretStoreRef=_obj(["name"], name=_STR, kind={"enum": ["SecretStore", "ClusterSecretStore"]}),
    target=_obj(
        [],
        name=_STR,
        creationPolicy={"enum": ["Owner", "Orphan", "Merge", "None"]},
        template=_obj(
            [],
            type=_STR,
            engineVersion={"enum": ["v1", "v2"]},
            mergePolicy={"enum": ["Replace", "Merge"]},
            metadata=_obj([], annotations=_STRING_MAP, labels=_STRING_MAP),
            data=_STRING_MAP,
        ),
    ),
    data={
        "type": "array",
        "items": _obj(
            ["secretKey", "remoteRef"],
            secretKey=_STR,
            remoteRef=_obj(["key"], key=_STR, property=_STR),
        ),
    },
    dataFrom={"type": "array", "items": _obj([], extract=_obj(["key"], key=_STR))},
)


def _document(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        ["apiVersion", "kind", "metadata", "spec"],
        apiVersion={"enum": ["external-secrets.io/v1", "external-secrets.io/v1beta1"]},
        kind={"const": kind},
        metadata=_META,
        spec=spec,
    )


SCHEMAS = {
    "SecretStore": _document("SecretStore", SECRET_STORE_SPEC),
    "ExternalSecret": _document("ExternalSecret", EXTERNAL_SECRET_SPEC),
}


def validate_eso(manifest: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``manifest`` strays from the CRD subset."""
    jsonschema.validate(manifest, SCHEMAS[manifest["kind"]])
