"""Packets from a Linux monitor-mode interface through an AF_PACKET raw socket.

The interface must already be in monitor mode with radiotap headers (``iw dev
wlan0 set type monitor``); its ARP hardware type is then 803. Opening the socket
needs CAP_NET_RAW: without it the error says which capability or systemd setting
is missing instead of a bare "Operation not permitted".
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from agent.sources.wifi.capture import Packet
from agent.sources.wifi.dot11 import LINKTYPE_IEEE802_11_RADIOTAP

ARPHRD_IEEE80211_RADIOTAP = 803
ETH_P_ALL = 0x0003
RECV_BYTES = 65_535  # larger than any 802.11 frame plus radiotap
POLL_S = 0.5
"""recv timeout: how quickly a stop request is noticed when the air is silent."""
RECONNECT_S = 5.0
"""Wait before reopening a vanished interface: a driver reload takes seconds."""
PACKET_OUTGOING = 4  # sll_pkttype of frames this host sent: not something we heard
SYSFS_NET = Path("/sys/class/net")

SocketFactory = Callable[[], socket.socket]

log = logging.getLogger(__name__)


class LiveCaptureError(OSError):
    """The interface cannot be captured from; the message is one line that says why."""


def raw_socket() -> socket.socket:
    return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))


def interface_type(interface: str, sysfs: Path = SYSFS_NET) -> int | None:
    """The interface's ARP hardware type, None if the interface does not exist."""
    try:
        return int((sysfs / interface / "type").read_text().strip())
    except (OSError, ValueError):
        return None


class LiveCapture:
    """Yields packets from ``interface`` until ``stop`` is set, reopening it when it vanishes.

    Args:
        interface: the monitor-mode interface name.
        socket_factory: creates the raw socket (injectable; default AF_PACKET).
        clock: capture timestamps (UTC seconds).
        sysfs: where interface hardware types are read (``/sys/class/net``).
        reconnect_s: wait between attempts to reopen a vanished interface.
    """

    def __init__(
        self,
        interface: str,
        socket_factory: SocketFactory = raw_socket,
        clock: Callable[[], float] = time.time,
        sysfs: Path = SYSFS_NET,
        reconnect_s: float = RECONNECT_S,
    ) -> None:
        self.interface = interface
        self._sysfs = sysfs
        self._reconnect_s = reconnect_s
        self._socket_factory = socket_factory
        self._clock = clock
        self.state = "starting"
        self.reconnects = 0
        self.received = 0

    def open(self) -> socket.socket:
        """Open and bind the raw socket.

        The capability is checked first: it is what a fresh install most often lacks,
        and the socket cannot be opened without it whatever the interface.

        Raises:
            LiveCaptureError: missing capability, no such interface, or not monitor mode.
        """
        try:
            sock = self._socket_factory()
        except PermissionError:
            raise LiveCaptureError(
                f"capturing on {self.interface} needs the CAP_NET_RAW capability: add "
                "AmbientCapabilities=CAP_NET_RAW to the systemd unit (or run as root)"
            ) from None
        kind = interface_type(self.interface, self._sysfs)
        problem = None
        if kind is None:
            problem = f"interface {self.interface} does not exist"
        elif kind != ARPHRD_IEEE80211_RADIOTAP:
            problem = (
                f"interface {self.interface} is not in monitor mode with radiotap headers "
                f"(hardware type {kind}, need {ARPHRD_IEEE80211_RADIOTAP}); "
                f"run: iw dev {self.interface} set type monitor"
            )
        else:
            try:
                sock.bind((self.interface, 0))
                sock.settimeout(POLL_S)
            except OSError as e:
                problem = f"cannot bind to {self.interface}: {e.strerror or e}"
        if problem is not None:
            sock.close()
            raise LiveCaptureError(problem)
        return sock

    def packets(self, stop: threading.Event) -> Iterator[Packet]:
        """Packets as (count, time, link type, bytes); raises only for setup errors.

        Raises:
            LiveCaptureError: the first open fails (later losses are retried).
        """
        sock: socket.socket | None = self.open()
        self.state = "up"
        try:
            while not stop.is_set():
                if sock is None:
                    if stop.wait(self._reconnect_s):
                        break
                    try:
                        sock = self.open()
                    except LiveCaptureError:
                        continue
                    self.state = "up"
                    self.reconnects += 1
                    log.warning("capture on %s reopened", self.interface)
                try:
                    data, address = sock.recvfrom(RECV_BYTES)
                except TimeoutError:
                    continue
                except OSError as e:
                    # The radio went away (driver reload, USB unplugged) or the socket
                    # broke: say so once and reopen it until it comes back.
                    sock.close()
                    sock = None
                    self.state = "reconnecting"
                    log.warning(
                        "capture on %s lost (%s); reopening every %g s",
                        self.interface,
                        e.strerror or e,
                        self._reconnect_s,
                    )
                    continue
                if address[2] == PACKET_OUTGOING:
                    continue
                self.received += 1
                yield self.received, self._clock(), LINKTYPE_IEEE802_11_RADIOTAP, data
        finally:
            if sock is not None:
                sock.close()
            self.state = "stopped"
