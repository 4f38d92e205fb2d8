"""The commands the root group lists, and the module that defines each.

Each is built when the command line names it, and its module imported then
(cli/lazy.py): ``get`` does not pay for the manifest generators or sealing.
"""

from __future__ import annotations

from .lazy import LazyCommand

# store, get, list and delete are defined in cli/app.py, the root group.
LAZY_COMMANDS = (
    LazyCommand("store", "app", "Create or replace a credential."),
    LazyCommand("get", "app", "Show a credential; secret values stay hidden unless --reveal."),
    LazyCommand("list", "app", "List credentials, optionally by scope, kind and tags."),
    LazyCommand("delete", "app", "Delete a credential; succeeds when it is already absent."),
    LazyCommand(
        "mounted", "pod", "Show the credential of a mounted Secret volume (as the pod reads it)."
    ),
    LazyCommand(
        "env",
        "pod",
        "Show the credential held in environment variables (never updated; prefer files).",
    ),
    LazyCommand(
        "doctor",
        "doctor_cmd",
        "Check the Kubernetes set-up for credentials; exit 1 when something needed is missing.",
    ),
    LazyCommand(
        "seal",
        "seal_cmd",
        "Print a SealedSecret (bitnami.com/v1alpha1) that is safe to commit to Git.",
    ),
    LazyCommand(
        "unseal", "seal_cmd", "Open a SealedSecret offline (recovery) and print the plain Secret."
    ),
    LazyCommand(
        "audit",
        "audit_cmd",
        "Secret events of a kube-apiserver audit log: counts by user and verb, flags.",
    ),
    LazyCommand(
        "reencrypt",
        "reencrypt_cmd",
        "Write Secrets back unchanged, so they are encrypted with the current key.",
    ),
    LazyCommand(
        "migrate",
        "ops_cmd",
        "Copy credentials from the source (global options) to another provider.",
    ),
    LazyCommand(
        "replicate",
        "ops_cmd",
        "Copy credentials from the source to several Kubernetes contexts at once.",
    ),
    LazyCommand(
        "rotate",
        "rotate_cmd",
        "Refresh oauth2 tokens with the refresh-token grant, or undo the last rotation.",
    ),
    LazyCommand(
        "manifests",
        "manifests_cmd",
        "Print Kubernetes manifests (YAML for kubectl apply) for credentials.",
    ),
    LazyCommand(
        "controller",
        "controller_cmd",
        "Restart opted-in workloads when their credentials change; rotate when due.",
    ),
    LazyCommand(
        "kms",
        "kms_cmd",
        "Run the KMS plugin that encrypts Secrets at rest for kube-apiserver (KMS v1 and v2).",
    ),
)
