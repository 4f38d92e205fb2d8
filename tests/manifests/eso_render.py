"""The Secret External Secrets Operator writes for an ExternalSecret, worked out as ESO does.

Follows ESO's controller (``ApplyTemplate``/``setMetadata`` of
``pkg/controllers/externalsecret`` and ``runtime/template/v2``) for a new Secret:

- the remote values form the data map: one key per ``data`` entry (its property of a
  JSON secret, or the whole text), and every property of each ``dataFrom.extract``
  secret (text as is, other JSON values as JSON);
- without a template the Secret holds the data map and the ExternalSecret's labels and
  annotations; with one, the template's type, labels and annotations, the data map too
  when ``mergePolicy`` is ``Merge`` (or the template has no data), then every template
  value rendered with Go ``text/template`` over the data map (key -> text);
- ESO's own marks: ``reconcile.external-secrets.io/managed=true``, ``created-by`` (the
  SHA3-224 of ``namespace/name``, creation policy Owner), the ``data-hash`` annotation
  (SHA3-224 of Go's ``%+v`` of the data) and the owner reference to the ExternalSecret.

Only the template actions our generator uses are rendered (``toJson .``, ``index .
"KEY" | toJson``, ``index . "KEY" | atoi``); any other action fails the test rather
than being guessed. ``toJson`` is sprig's: Go's ``json.Marshal``, which sorts map keys
and escapes ``<``, ``>``, ``&``, U+2028 and U+2029.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_INDEX = re.compile(r'index \. "([-._a-zA-Z0-9]+)" \| (toJson|atoi)')
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}
_GO_ESCAPES["\u2029"] = "\\u2029"


def go_json(value: Any) -> str:
    """``json.Marshal`` as Go writes it (sprig's ``toJson``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def go_atoi(text: str) -> str:
    """sprig's ``atoi``: ``strconv.Atoi``, 0 when the text is not a 64-bit integer."""
    if _GO_INT.fullmatch(text) and -(2**63) <= int(text) < 2**63:
        return str(int(text))
    return "0"


def _action(expr: str, values: dict[str, str]) -> str:
    if expr == "toJson .":
        return go_json(values)
    found = _INDEX.fullmatch(expr)
    if found is None:
        raise AssertionError(f"this test does not render {expr!r}; extend it as ESO would")
    value = values.get(found.group(1), "")  # index of a missing map key: the zero value
    return go_json(value) if found.group(2) == "toJson" else go_atoi(value)


def render(template: str, values: dict[str, str]) -> str:
    """``template`` executed over ``values`` (Go ``text/template``, our actions only)."""
    out: list[str] = []
    position = 0
    for match in _ACTION.finditer(template):
        out.append(template[position : match.start()])
        expr = match.group(1)
        if expr.startswith("-") or expr.endswith("-"):
            raise AssertionError("trim markers are not rendered by this test")
        out.append(_action(expr.strip(), values))
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def data_map(spec: dict[str, Any], remote: dict[str, Any]) -> dict[str, str]:
    """The values ESO fetches for ``spec`` from a store holding ``remote``."""
    values: dict[str, str] = {}
    for entry in spec.get("data", []):
        ref = entry["remoteRef"]
        held = remote[ref["key"]]
        values[entry["secretKey"]] = _text(held[ref["property"]] if "property" in ref else held)
    for source in spec.get("dataFrom", []):
        for name, value in remote[source["extract"]["key"]].items():
            values[name] = _text(value)
    return values


def _go_bytes_map(data: dict[str, bytes]) -> str:
    """Go's ``fmt.Sprintf("%+v", map[string][]byte)``: keys sorted, bytes in decimal."""
    items = (f"{key}:[{' '.join(str(b) for b in data[key])}]" for key in sorted(data))
    return f"map[{' '.join(items)}]"


def _hash(text: str) -> str:
    return hashlib.sha3_224(text.encode()).hexdigest()


def eso_secret(external_secret: dict[str, Any], remote: dict[str, Any], uid: str) -> dict[str, Any]:
    """The Secret ESO creates for ``external_secret`` (creation policy Owner)."""
    meta, spec = external_secret["metadata"], external_secret["spec"]
    assert spec["target"]["creationPolicy"] == "Owner", "only Owner is worked out here"
    values = data_map(spec, remote)
    template = spec["target"].get("template")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    data: dict[str, bytes] = {}
    secret_type = "Opaque"
    if template is None:
        labels.update(meta.get("labels", {}))
        annotations.update(meta.get("annotations", {}))
        data.update({k: v.encode() for k, v in values.items()})
    else:
        assert template.get("engineVersion", "v2") == "v2"
        secret_type = template.get("type") or secret_type
        if template.get("mergePolicy") == "Merge" or not template.get("data"):
            data.update({k: v.encode() for k, v in values.items()})
        for key, text in template.get("data", {}).items():
            data[key] = render(text, values).encode()
        tmeta = template.get("metadata", {})
        labels.update({k: render(v, values) for k, v in tmeta.get("labels", {}).items()})
        annotations.update({k: render(v, values) for k, v in tmeta.get("annotations", {}).items()})
    labels["reconcile.external-secrets.io/created-by"] = _hash(
        f"{meta['namespace']}/{meta['name']}"
    )
    labels["reconcile.external-secrets.io/managed"] = "true"
    annotations["reconcile.external-secrets.io/data-hash"] = _hash(_go_bytes_map(data))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": spec["target"]["name"],
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": external_secret["apiVersion"],
                    "kind": "ExternalSecret",
                    "name": meta["name"],
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "type": secret_type,
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }
