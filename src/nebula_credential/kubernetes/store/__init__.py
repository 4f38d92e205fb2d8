"""The credential store on Secrets: the provider and its reads, compare-and-swap writes,
deletes, change feed, rotation leases, re-encryption and the sync facade. It speaks
only the :class:`~..api.transport.SecretTransport` seam of the layer below.
"""
