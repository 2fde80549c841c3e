"""Imported by a worker process before its first job (see the ``preloaded_runner`` fixture): no network there.

Every attempt to open a connection is refused at once, as on a machine without internet."""

import socket
import urllib.error
import urllib.request


def _refuse(*args, **kwargs):
    raise OSError("network disabled in tests")


def _refuse_url(*args, **kwargs):
    raise urllib.error.URLError("offline")


for _name in ("getaddrinfo", "create_connection"):
    setattr(socket, _name, _refuse)
socket.socket.connect = _refuse
urllib.request.urlopen = _refuse_url
