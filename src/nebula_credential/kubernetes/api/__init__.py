"""The Kubernetes API protocol, without I/O: what to send, and what an answer means.

:mod:`.requests` builds each call (and says how it may be repeated), :mod:`.interpret`
reads an answer or a missing one into a :class:`~.interpret.Verdict` (done, retry after
so long, authenticate again, fail with this error), :mod:`.watch` keeps the state of a
watch across its streams. :mod:`.exchange` is the one loop that runs a call on a driver
of :mod:`nebula_credential.http` with the retry policy, counting every attempt.
"""
