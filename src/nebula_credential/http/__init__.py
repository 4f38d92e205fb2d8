"""HTTP for everything the product sends: two thin drivers over one message model.

:class:`~.message.Request` and :class:`~.message.Response` are plain bytes with the rules
a driver needs (how a request may be repeated, how much answer it accepts);
:mod:`.aio` drives them on aiohttp inside an event loop, :mod:`.blocking` on the
standard library's ``http.client`` without one. Neither follows redirects, repeats a
request or reads past the cap; the protocols above them (the Kubernetes API core, the
OAuth2 token endpoint, certificate fetches) decide what an answer means. Importing this
package loads neither driver.
"""
