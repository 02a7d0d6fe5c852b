"""The port-forward subresource as kube-apiserver serves it to websocket clients (v4.channel.k8s.io).

After the HTTP 101 upgrade, each forwarded port has two channels: 2i carries data both ways and
2i+1 carries errors from the kubelet. The first frame on each channel is the channel byte and the
port number (little endian, two bytes); every later frame is the channel byte and payload. Client
frames are masked (RFC 6455). Here the "pod port" is a local TCP server the test started, so probes
run end to end through the real client's websocket code.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_BINARY, OP_CLOSE, OP_PING = 0x2, 0x8, 0x9


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def frame(payload: bytes, opcode: int = OP_BINARY) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _exactly(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _exactly(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _exactly(sock, 8))[0]
    mask = _exactly(sock, 4) if b1 & 0x80 else b""
    data = _exactly(sock, n)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return b0 & 0x0F, data


def _upgrade(handler: Any) -> None:
    protocols = [p.strip() for p in handler.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers.get("Sec-WebSocket-Key", "")))
    handler.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io" if "v4.channel.k8s.io" in protocols
                        else (protocols or ["channel.k8s.io"])[0])
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True


REQUESTERS = ("pilot-discovery", "pilot-agent")  # istiod's and the sidecar's own `request` subcommands


def serve_exec(handler: Any, command: list[str], istiod: tuple[str, int] | None) -> None:
    """Exec in istiod or a sidecar: `pilot-discovery request GET PATH` fetches PATH from istiod's own
    monitoring port, `pilot-agent request GET PATH` from the Envoy admin (PATH without its leading slash,
    as istioctl passes it); here each is the test's stand-in. The body goes on stdout (channel 1), the
    Status on channel 3, as the kubelet sends them."""
    _upgrade(handler)
    client: socket.socket = handler.connection
    if command[:1] and command[0] in REQUESTERS and command[1:3] == ["request", "GET"] and len(command) == 4:
        command = [*command[:3], "/" + command[3].lstrip("/")]
    if not (command[:1] and command[0] in REQUESTERS and command[1:3] == ["request", "GET"] and len(command) == 4):
        status = {"metadata": {}, "status": "Failure", "reason": "InternalError",
                  "message": f"exec: {command[:1]}: executable file not found in $PATH"}
    else:
        try:
            if istiod is None:
                raise OSError("connection refused")
            with socket.create_connection(istiod, timeout=3) as conn:
                conn.sendall(f"GET {command[3]} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                conn.settimeout(3)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            body = data.partition(b"\r\n\r\n")[2]
            for i in range(0, len(body), 16384):
                client.sendall(frame(b"\x01" + body[i:i + 16384]))
            status = {"metadata": {}, "status": "Success"}
        except OSError as exc:
            client.sendall(frame(b"\x02" + f"Error: {exc}\n".encode()))
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": "command terminated with non-zero exit code: exit status 1"}
    client.sendall(frame(b"\x03" + json.dumps(status).encode()))
    client.sendall(frame(struct.pack("!H", 1000), OP_CLOSE))


def serve_portforward(handler: Any, port: int, target: tuple[str, int] | None, stopping: threading.Event) -> None:
    """Answer the upgrade on handler's connection and pump bytes between the client and target."""
    _upgrade(handler)
    client: socket.socket = handler.connection
    number = struct.pack("<H", port)
    lock = threading.Lock()

    def send(payload: bytes, opcode: int = OP_BINARY) -> None:
        with lock:
            client.sendall(frame(payload, opcode))

    send(b"\x00" + number)
    send(b"\x01" + number)
    try:
        upstream = socket.create_connection(target, timeout=2) if target else None
    except OSError as exc:
        upstream = None
        error = str(exc)
    else:
        error = "connection refused"
    if upstream is None:
        send(b"\x01" + f"an error occurred forwarding {port} -> {port}: dial tcp4 127.0.0.1:{port}: "
                       f"connect: {error}".encode())
        send(b"", OP_CLOSE)
        return
    upstream.settimeout(None)

    def pump_back() -> None:  # pod port -> client
        try:
            while not stopping.is_set():
                data = upstream.recv(65536)
                if not data:
                    break
                send(b"\x00" + data)
            send(struct.pack("!H", 1000), OP_CLOSE)
        except OSError:
            pass

    back = threading.Thread(target=pump_back, daemon=True)
    back.start()
    try:
        client.settimeout(0.5)
        while not stopping.is_set() and back.is_alive():
            try:
                opcode, data = read_frame(client)
            except TimeoutError:
                continue
            if opcode == OP_CLOSE:
                break
            if opcode == OP_BINARY and data[:1] == b"\x00" and len(data) > 1:
                upstream.sendall(data[1:])
    except (OSError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_RDWR)
        upstream.close()
        back.join(timeout=1)
