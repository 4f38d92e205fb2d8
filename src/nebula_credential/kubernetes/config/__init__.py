"""Where the cluster is and who we are: kubeconfig and in-cluster resolution
(``cluster``, ``kubeconfig``), then what an HTTP client needs of it (``endpoint``: URL,
TLS, proxy, credentials from tokens, token files and exec plugins).

Resolving a kubeconfig loads no HTTP client: every Kubernetes command does it first.
"""
