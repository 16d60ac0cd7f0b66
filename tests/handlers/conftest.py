"""Fixtures shared by the static-file tests; each module defines its own ``site``."""

import pytest
from static_server import RfcHandler, serving


@pytest.fixture
def serve(site):
    """Start a ThreadingHTTPServer serving ``site`` with ``base`` plus ``attributes``."""

    def start(base=RfcHandler, **attributes):
        return serving(type("H", (base,), {"directory": str(site), **attributes}))

    return start


@pytest.fixture
def rfc(serve):
    """The address of a server with RFC 9110 conditionals on, serving ``site``."""
    with serve() as address:
        yield address
