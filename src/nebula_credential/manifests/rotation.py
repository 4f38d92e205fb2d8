"""The rotation CronJob and the Role it runs with.

``nebula-credential rotate --due`` lists the namespace's Secrets, reads and rewrites the
credentials that are due (``get``, ``list``, ``update``, ``patch``: an update with a known
version is one guarded JSON Patch; it never creates or deletes a Secret: a credential
deleted meanwhile is a conflict, not re-created) and
holds a rotation lease per credential while it does, a ``coordination.k8s.io`` Lease
named like the credential's Secret (``get``, ``create``, ``delete``). Which credentials
are due is known only when the job runs, so neither can be held to names.

Issued tokens that cannot be stored yet are kept in a journal under the data
directory and the next ``rotate`` in that directory stores them (without spending the
refresh token again). The job keeps that directory in an ``emptyDir`` and restarts a
failed container in the same pod (``restartPolicy: OnFailure``), so the restarted run
finds the journal and finishes the pending grant. The ``emptyDir`` lives as long as the
pod and is ``medium: Memory``: tokens never reach the node's disk. Its mount point is
world-writable, which the data directory must not be, so ``NEBULA_CREDENTIAL_HOME`` is
a directory inside it that ``rotate`` creates private (0700).
"""

from __future__ import annotations

from typing import Final

from ._checks import (
    DEFAULT_KUBE_VERSION,
    KubeVersion,
    ManifestError,
    _shown,
    dns_label,
    dns_subdomain,
    image_reference,
    kube_version,
    positive,
    seconds,
)
from ._schedule import cron_schedule
from .access import (
    DEFAULT_NAMESPACE,
    LEASE_VERBS,
    Manifest,
    binding,
    lease_rule,
    role,
    rule,
)
from .workloads import meta

DEFAULT_ROTATOR: Final = "nebula-rotator"
DATA_MOUNT: Final = "/var/lib/nebula-credential"
DATA_DIR: Final = f"{DATA_MOUNT}/home"
HOME_ENV: Final = "NEBULA_CREDENTIAL_HOME"
ROTATE_SECRET_VERBS: Final = ("get", "list", "update", "patch")
DEFAULT_TIMEOUT: Final = 30
MAX_TIMEOUT: Final = 240  # what `rotate --timeout` accepts
DEFAULT_WRITE_DEADLINE: Final = "330s"
MAX_WRITE_DEADLINE: Final = 6 * 3600  # what `rotate --write-deadline` accepts
# Around one rotation: the listing, the lease, the reads and the API's own retries
# (the margin the rotation lease itself allows beyond timeout + write deadline).
RUN_MARGIN: Final = 60
FIRST_RESTART: Final = 10  # the kubelet's first pause before restarting a container
STARTING_DEADLINE: Final = 300  # how late a run may start (startingDeadlineSeconds)
JOURNAL_NOTE: Final = "nebula-credential/note"


def job_deadline_floor(timeout: int, write_deadline: int) -> int:
    """Seconds one rotation can take: a Job deadline must exceed it, or a rotation that
    got new tokens may be killed (with its pod and its journal) before storing them."""
    return timeout + write_deadline + RUN_MARGIN


def default_job_deadline(timeout: int, write_deadline: int) -> int:
    """A run that rotates, the kubelet's first restart pause, and a restarted run that
    stores what the first one kept (within the write deadline again)."""
    floor = job_deadline_floor(timeout, write_deadline)
    return floor + FIRST_RESTART + write_deadline + RUN_MARGIN


def rotation_rbac(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    service_account: str = DEFAULT_ROTATOR,
    service_account_namespace: str | None = None,
) -> list[Manifest]:
    """The Role ``rotate --due`` needs in ``namespace`` (see the module docstring), and
    its RoleBinding to ``service_account``."""
    dns_label(namespace, "namespace")
    dns_subdomain(service_account, "service account")
    sa_ns = dns_label(service_account_namespace or namespace, "service account namespace")
    name = f"{service_account}-credential-rotator"
    made = role(
        namespace,
        name,
        [rule(ROTATE_SECRET_VERBS), lease_rule(LEASE_VERBS)],
        f"get/list/update/patch of EVERY Secret in {namespace} (rotate --due lists them all and "
        "rewrites whichever credential is due; resourceNames cannot restrict list, and "
        "which are due is known only at run time) and get/create/delete of EVERY Lease in "
        f"{namespace} (each credential's rotation lease, named like its Secret); no "
        "create or delete of Secrets",
    )
    return [made, binding(namespace, name, service_account, sa_ns)]


def _check_window(within: str, schedule: str) -> int:
    """``within`` in seconds, refused unless it outlasts the longest wait between runs
    plus how late a run may start: a token expiring just after one run's window would
    lapse before the next run."""
    window = seconds(within, "within")
    gap = cron_schedule(schedule).longest_gap
    if window <= gap + STARTING_DEADLINE:
        raise ManifestError(
            f"within {_shown(within)} ({window}s) must exceed the longest wait between runs of "
            f"schedule {_shown(schedule)} ({gap}s) plus the {STARTING_DEADLINE}s a run may start "
            f"late, or a token can expire between two runs: use at least "
            f"{gap + STARTING_DEADLINE + 1}s or a more frequent --schedule"
        )
    return window


def _bounded(value: int, what: str, minimum: int, maximum: int) -> int:
    if positive(value, what, minimum=minimum) > maximum:
        raise ManifestError(f"{what} must be at most {maximum} seconds, not {value}")
    return value


def rotation_cronjob(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    name: str = "nebula-credential-rotate",
    image: str = "nebula-credential:latest",
    schedule: str = "*/15 * * * *",
    service_account: str = DEFAULT_ROTATOR,
    kube: str | KubeVersion = DEFAULT_KUBE_VERSION,
    within: str = "30m",
    timeout: int = DEFAULT_TIMEOUT,
    write_deadline: str = DEFAULT_WRITE_DEADLINE,
    active_deadline: str | None = None,
) -> Manifest:
    """A CronJob running ``nebula-credential rotate --due --within W --timeout T
    --write-deadline D`` in its namespace (see the module docstring for its journal).

    ``within`` must be longer than the longest time between runs plus the
    ``startingDeadlineSeconds`` a run may start late (the default 30m is twice the
    default 15 minutes), or a token expiring just after one run has lapsed before the
    next; shorter is refused. The Job's
    ``activeDeadlineSeconds`` is ``active_deadline``, by default
    :func:`default_job_deadline`; one not above :func:`job_deadline_floor` is refused.
    A run with many due credentials (rotated four at a time) needs a longer one.
    """
    version = kube_version(kube)
    dns_label(namespace, "namespace")
    dns_label(name, "cronjob name")  # CronJob names must leave room for job suffixes
    if len(name) > 52:
        raise ManifestError(f"cronjob name {name!r} must be at most 52 characters")
    dns_subdomain(service_account, "service account")
    image_reference(image)
    _check_window(within, schedule)
    _bounded(timeout, "timeout", 1, MAX_TIMEOUT)
    write = _bounded(
        seconds(write_deadline, "write deadline"), "write deadline", 0, MAX_WRITE_DEADLINE
    )
    floor = job_deadline_floor(timeout, write)
    deadline = default_job_deadline(timeout, write)
    if active_deadline is not None:
        deadline = seconds(active_deadline, "active deadline")
        if deadline <= floor:
            raise ManifestError(
                f"active deadline {active_deadline!r} ({deadline}s) must exceed timeout + "
                f"write deadline + {RUN_MARGIN}s = {floor}s, or the Job may be stopped while "
                f"a rotation stores tokens it was issued; use at least {floor + 1}s or "
                "shorten --write-deadline"
            )
    command = ["nebula-credential", "--provider", "kubernetes", "rotate", "--due"]
    command += ["--within", within, "--timeout", str(timeout), "--write-deadline", write_deadline]
    cronjob_meta = meta(name, namespace, name)
    cronjob_meta["annotations"] = {
        JOURNAL_NOTE: (
            f"tokens issued but not yet stored are kept in {DATA_DIR} (an emptyDir in "
            "memory); restartPolicy OnFailure restarts a failed run in the same pod, which "
            f"stores them; activeDeadlineSeconds {deadline} > timeout {timeout}s + write "
            f"deadline {write}s + {RUN_MARGIN}s"
        )
    }
    return {
        "apiVersion": version.cronjob_api,
        "kind": "CronJob",
        "metadata": cronjob_meta,
        "spec": {
            "schedule": cron_schedule(schedule).text,
            # Overlapping runs would be safe (each credential's lease lets one rotate
            # it); Forbid only saves a second listing of the same Secrets.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": deadline,
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "serviceAccountName": service_account,
                            "restartPolicy": "OnFailure",
                            "containers": [
                                {
                                    "name": "rotate",
                                    "image": image,
                                    "command": command,
                                    "env": [
                                        {
                                            "name": "KUBERNETES_NAMESPACE",
                                            "valueFrom": {
                                                "fieldRef": {"fieldPath": "metadata.namespace"}
                                            },
                                        },
                                        {"name": HOME_ENV, "value": DATA_DIR},
                                    ],
                                    "volumeMounts": [
                                        {"name": "rotation-journal", "mountPath": DATA_MOUNT}
                                    ],
                                }
                            ],
                            "volumes": [
                                {
                                    "name": "rotation-journal",
                                    "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"},
                                }
                            ],
                        },
                    },
                }
            },
        },
    }
