// The Socket.IO connections of the pages. WebSocket only: on a slow network the long-polling
// handshake and upgrade would cost several round trips before the first scan.
import { io } from "/vendor/socket.io/socket.io.esm.min.js";

export function connect(namespace, auth) {
  return io(namespace, { transports: ["websocket"], auth, reconnectionDelayMax: 5000 });
}

// emit with an ack and a deadline; resolves to the ack or {ok:false, error:{code:"timeout"}}
export function request(socket, event, payload, timeoutMs = 8000) {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
      if (err) resolve({ ok: false, error: { code: "timeout", message: "No answer from the server." } });
      else resolve(ack);
    });
  });
}
