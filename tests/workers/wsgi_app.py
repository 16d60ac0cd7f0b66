"""A WSGI application served by ``wsgiref.simple_server``'s classes, with no pyhttpd import.

Served under a worker with ``--handler wsgiref.simple_server:WSGIRequestHandler`` and
``--server wsgi_app:make_server``; the answer names the method, the path and the body.
"""

from wsgiref.simple_server import WSGIServer


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {environ['wsgi.input'].read(length).decode()}"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body.encode()]


def make_server(address, handler, bind_and_activate=True):
    """The server factory: wsgiref's WSGIServer with ``app`` set, as its users build it."""
    server = WSGIServer(address, handler, bind_and_activate)
    server.set_app(app)
    return server
