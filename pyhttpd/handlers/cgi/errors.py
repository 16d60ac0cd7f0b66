"""Why a CGI run produced no response, and the status the client gets for it."""

import http


class CGIError(Exception):
    """A CGI run that cannot produce a response; ``status`` is the answer for the client.

    ``str(exc)`` is a detailed message for the log; ``public_message`` a short text for the
    client; ``stderr`` the script's captured stderr (possibly empty); ``returncode`` the exit
    status when known. The child process has ended and been reaped when this is raised.
    """

    status = http.HTTPStatus.INTERNAL_SERVER_ERROR
    public_message = "CGI script failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.stderr = b""
        self.returncode: int | None = None


class CGILaunchError(CGIError):
    """The script could not be started (refused, missing interpreter, exec failure): 500."""

    status = http.HTTPStatus.INTERNAL_SERVER_ERROR
    public_message = "CGI script could not be started"


class CGIBadResponse(CGIError):
    """The script did not produce a valid CGI header block: 502."""

    status = http.HTTPStatus.BAD_GATEWAY
    public_message = "CGI script sent an invalid response"


class CGITimeout(CGIError):
    """The script ran past its time limit and was killed: 504."""

    status = http.HTTPStatus.GATEWAY_TIMEOUT
    public_message = "CGI script timed out"
