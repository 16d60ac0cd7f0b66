"""The one error type of the protocol core: a refusal that knows its HTTP answer."""


class ProtocolError(Exception):
    """A request the server must refuse.

    ``status`` is the code to answer with, ``reason`` the phrase for the status line (None:
    the standard phrase), ``detail`` a short explanation for the body. The connection that
    produced it is not safe to reuse: whoever answers also closes it.
    """

    def __init__(self, status: int, detail: str, reason: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.reason = reason
