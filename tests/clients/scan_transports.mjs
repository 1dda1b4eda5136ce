// Sends each payload as a `scan` with the official socket.io-client over one transport and
// prints the acks as a JSON array, in order.
// Usage: node scan_transports.mjs URL websocket|polling PAYLOADS_JSON_ARRAY
import { io } from "socket.io-client";

const [url, transport, raw] = process.argv.slice(2);
const socket = io(`${url}/visit`, {
  transports: [transport],
  upgrade: false,
  reconnection: false,
  auth: { lang: "en", device: { max_triangles: 200000 } },
});
const fail = (message) => {
  console.error(message);
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 20000);
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));
socket.on("connect", async () => {
  const acks = [];
  for (const payload of JSON.parse(raw)) {
    acks.push(await socket.timeout(10000).emitWithAck("scan", payload));
  }
  console.log(JSON.stringify(acks));
  clearTimeout(timer);
  socket.close();
});
