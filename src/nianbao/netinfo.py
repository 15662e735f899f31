"""This computer's addresses on the office network (for the addresses people can open)."""

from __future__ import annotations

import socket


def lan_addresses() -> list[str]:
    """This computer's IPv4 addresses others on the network can reach (best effort, no traffic:
    a UDP socket is only routed, never sent on)."""
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # a documentation address: nothing is sent
            found.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(info[4][0])
    except OSError:
        pass
    return [a for a in dict.fromkeys(found) if not a.startswith(("127.", "0.", "169.254."))]
