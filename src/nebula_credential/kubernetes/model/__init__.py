"""The Secret model, without I/O: names, the credential <-> Secret mapping, foreign
Secrets, size limits, ownership, and the wire structs of Secrets and Leases.

Pod readers, manifests and sealing import this layer only; it loads no HTTP client.
"""
