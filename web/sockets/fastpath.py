"""The Socket.IO packet path, made cheap enough for thousands of tablets on one core.

Profiling the stock python-socketio/engine.io stack under 2,000 websocket tablets showed the
time going to bookkeeping rather than to the work: four asyncio tasks per scan (the engine.io
read wait, the event handler, the writer's queue wait, and one task per recipient of every
emit), a per-connection writer queue, permessage-deflate on every 2 KB manifest (the Node
client offers it and aiohttp accepts it; Node's server declines it by default), and the
manifest re-serialised with the stdlib json on every ack. What replaces each, here:

- `LeanWebSocket`, engine.io's websocket driver slot: uncompressed frames, one read loop
  without a task per message, and sends written straight to the transport as complete frames
  (servers do not mask frames, so one encoded frame serves every recipient of a broadcast).
- `DirectEmit`, a client manager whose emits encode the packet and the frame once and write
  it to each tablet's transport in one loop, with no task per recipient.
- `FastServer`, which runs the events a namespace lists in `inline_events` (answered from
  memory) in the read loop instead of a task per event, and keeps a small environ.
- `OrjsonPacket` with `orjson.Fragment`: pre-encoded JSON (a cached manifest) is spliced into
  the ack as bytes.

Everything stays protocol-correct Socket.IO 5 / Engine.IO 4: the packets are the ones the stock
server writes (byte for byte, given the same JSON encoder), long-polling and the polling to
websocket upgrade take python-socketio's own path, and binary attachments go the stock way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Callable
from typing import Any

import engineio
import orjson
import socketio
from aiohttp import WSMsgType
from aiohttp.web import WebSocketResponse
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from web.sockets.manager import SharedRedisManager

# A tablet that stops reading while its transport buffer passes this is dropped (it reconnects)
# rather than growing the server's memory without bound.
SLOW_READER_BYTES = 8 * 1024 * 1024
# What a namespace may want of the handshake; the rest of aiohttp's environ (every header and
# the request object) need not live as long as the connection.
ENVIRON_KEPT = (
    "REMOTE_ADDR",
    "QUERY_STRING",
    "PATH_INFO",
    "HTTP_USER_AGENT",
    "HTTP_ORIGIN",
    "HTTP_COOKIE",
    "HTTP_AUTHORIZATION",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_ACCEPT_LANGUAGE",
)
_TEXT, _BINARY = 0x81, 0x82  # FIN + opcode


def websocket_frame(payload: bytes, first_byte: int = _TEXT) -> bytes:
    """One unfragmented, unmasked server-to-client frame (RFC 6455, 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first_byte, size)
    elif size < 65536:
        header = struct.pack("!BBH", first_byte, 126, size)
    else:
        header = struct.pack("!BBQ", first_byte, 127, size)
    return header + payload


def _fragment_default(value: Any) -> Any:
    if isinstance(value, orjson.Fragment):
        return orjson.loads(value.contents)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OrjsonCodec:
    """The `json` module interface python-socketio's Packet calls, backed by orjson.

    orjson writes compact UTF-8 JSON, as `dumps(obj, separators=(',', ':'))` asks for, and
    splices `orjson.Fragment`s verbatim. What orjson refuses (integers past 64 bits, non-string
    keys; NaN when reading) falls back to the stdlib, so accepted input stays the same.
    """

    @staticmethod
    def dumps(obj: Any, **_options: Any) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:
            return json.dumps(
                obj, separators=(",", ":"), ensure_ascii=False, default=_fragment_default
            )

    @staticmethod
    def loads(text: str | bytes, **_options: Any) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text)


class OrjsonPacket(socketio.packet.Packet):
    json = OrjsonCodec


def preencoded(value: Any) -> orjson.Fragment:
    """`value` serialised once, to be spliced into any number of packets."""
    return orjson.Fragment(orjson.dumps(value))


class LeanWebSocket:
    """Engine.IO's aiohttp websocket driver, without compression, queues or per-message tasks.

    Engine.IO calls `LeanWebSocket(handler, server)(environ)` with `handler` the connecting
    socket's own websocket handler. A socket that opens on websocket is served here; a socket
    upgrading from long-polling runs the stock handler (handshake, queue and writer task) on top
    of this object's `wait`/`send`/`close`.
    """

    def __init__(self, handler: Any, server: engineio.AsyncServer) -> None:
        self.handler = handler
        self.server = server
        self.ws: WebSocketResponse | None = None
        self.transport: asyncio.Transport | None = None
        self._closing: asyncio.Future[Any] | None = None

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        ws = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await ws.prepare(request)
        self.ws, self.transport = ws, request.transport
        socket = getattr(self.handler, "__self__", None)
        if socket is None or socket.connected:
            await self.handler(self)
        else:
            await self._serve(socket)
        return ws

    # The interface engine.io's stock handler uses (the upgrade from long-polling).
    async def wait(self) -> str | bytes:
        assert self.ws is not None
        msg = await self.ws.receive()
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            raise OSError("websocket closed")
        return msg.data

    async def send(self, message: str | bytes) -> None:
        self.write(message)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def write(self, message: str | bytes) -> None:
        """Send an Engine.IO packet, text given as `str` and binary as `bytes`."""
        if isinstance(message, str):
            self.write_frame(websocket_frame(message.encode()))
        else:
            self.write_frame(websocket_frame(message, _BINARY))

    def write_frame(self, frame: bytes) -> None:
        """Queue a complete frame on the transport; never waits, never interleaves."""
        transport, ws = self.transport, self.ws
        if transport is None or ws is None or ws.closed or transport.is_closing():
            return
        if transport.get_write_buffer_size() > SLOW_READER_BYTES:
            transport.abort()
            return
        transport.write(frame)

    async def _serve(self, socket: Any) -> None:
        assert self.ws is not None
        server, ws = self.server, self.ws
        socket.connected = socket.upgraded = True

        async def send(pkt: eio_packet.Packet) -> None:
            if await socket.check_ping_timeout():
                self.write(pkt.encode())
            if pkt.packet_type == eio_packet.CLOSE:
                # The server ended the session (a ping timeout, a disconnect, shutdown): end
                # the read loop below too, which waits without a timeout of its own.
                self._closing = asyncio.ensure_future(ws.close())

        # Everything engine.io and python-socketio send to this socket now goes out at once,
        # in the order it was sent, without the queue and the writer task.
        socket.send = send
        socket.lean = self
        while not socket.queue.empty():  # what was sent before the upgrade: the OPEN packet
            queued = socket.queue.get_nowait()
            socket.queue.task_done()
            if queued is not None:
                self.write(queued.encode())
        answer_inline = getattr(server, "answer_inline", None)
        try:
            while True:
                # No timeout here (one timer per message): engine.io's service task closes
                # sockets whose pings go unanswered, and that close ends this loop.
                msg = await ws.receive()
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                if len(msg.data) > server.max_http_buffer_size:
                    break
                data = msg.data
                if (
                    answer_inline is not None
                    and msg.type is WSMsgType.TEXT
                    and data.startswith("42/")
                    and await answer_inline(socket.sid, data, self.write_frame)
                ):
                    continue
                try:
                    await socket.receive(eio_packet.Packet(encoded_packet=msg.data))
                except eio_exceptions.UnknownPacketError:
                    pass
                except eio_exceptions.SocketIsClosedError:
                    break
                except Exception:
                    server.logger.exception("Unknown receive error")
        finally:
            socket.lean = None
            with contextlib.suppress(Exception):
                await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
            with contextlib.suppress(Exception):
                await ws.close()


class DirectEmit(socketio.AsyncManager):
    """Emits encode once and write the same frame to every websocket recipient in one loop.

    The stock manager starts one task per recipient so that a slow one cannot hold up the
    rest; here no write waits (a tablet that stops reading is dropped at `SLOW_READER_BYTES`),
    so the loop alone is enough. Long-polling recipients, acks with callbacks and binary
    attachments take the stock path.
    """

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            return await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        if isinstance(encoded, list):  # binary attachments
            return await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        message = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame: bytes | None = None
        sockets = self.server.eio.sockets
        others: list[str] = []
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            lean = getattr(socket, "lean", None)
            if lean is None:
                others.append(eio_sid)
                continue
            if frame is None:
                frame = websocket_frame(message.encode().encode())
            lean.write_frame(frame)
        if others:
            await asyncio.gather(
                *(self.server._send_eio_packet(eio_sid, message) for eio_sid in others)
            )


class FastServer(socketio.AsyncServer):
    """python-socketio's server with the packet path above.

    A namespace opts events into running in the read loop with an `inline_events` attribute:
    only events answered from memory belong there, since the tablet's next message waits for
    them (other tablets never do).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", OrjsonPacket)
        super().__init__(**kwargs)
        self.eio._async = {**self.eio._async, "websocket": LeanWebSocket}
        # Inline answers are written as JSON text frames, which is what this packet class sends.
        if issubclass(self.packet_class, OrjsonPacket):
            self.eio.answer_inline = self.answer_inline

    async def answer_inline(
        self, eio_sid: str, message: str, write: Callable[[bytes], None]
    ) -> bool:
        """Serve an inline event straight from its websocket frame; False: not one of those.

        `message` is an Engine.IO MESSAGE carrying a Socket.IO EVENT with a namespace,
        `42/ns,ID[...]`. When its event is inline and it asks for an ack, the namespace's
        handler runs as it would on the stock path (same handler, same validation, same
        error acks) and the ack `43/ns,ID[...]` is written as one frame, skipping the four
        packet objects, two decoders and the send chain in between.
        """
        comma = message.find(",")
        bracket = message.find("[", comma)
        if comma < 0 or bracket < 0 or eio_sid in self._binary_packet:
            return False
        namespace, ack_id = message[2:comma], message[comma + 1 : bracket]
        if not (ack_id.isascii() and ack_id.isdigit()):
            return False
        inline = getattr(self.namespace_handlers.get(namespace), "inline_events", ())
        if not inline:
            return False
        try:
            data = self.packet_class.json.loads(message[bracket:])
        except ValueError:
            return False
        if not (isinstance(data, list) and data and isinstance(data[0], str)):
            return False
        if data[0] not in inline:
            return False
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return False
        result = await self._trigger_event(data[0], namespace, sid, *data[1:])
        if result is self.not_handled:
            return True
        args = [] if result is None else list(result) if isinstance(result, tuple) else [result]
        try:
            body = orjson.dumps(args)
        except TypeError:
            # Bytes (binary attachments) or what only the stdlib encodes: the stock way.
            ack = self.packet_class(sio_packet.ACK, namespace=namespace, id=int(ack_id), data=args)
            await self._send_packet(eio_sid, ack)
            return True
        write(websocket_frame(b"43" + message[2:bracket].encode() + body))
        return True

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        small = {key: environ[key] for key in ENVIRON_KEPT if key in environ}
        return await super()._handle_eio_connect(eio_sid, small)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        namespace = namespace or "/"
        handler = self.namespace_handlers.get(namespace)
        event = data[0] if data else None
        if not isinstance(event, str) or event not in getattr(handler, "inline_events", ()):
            return await super()._handle_event(eio_sid, namespace, id, data)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            return None
        await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
        return None


class DirectRedisManager(SharedRedisManager, DirectEmit):
    """The cross-process manager, delivering its local share of every emit the direct way."""
