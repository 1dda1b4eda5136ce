// Scans one marker with the official socket.io-client and prints the ack as JSON.
// Usage: node scan.mjs URL DICTIONARY MARKER_ID [LANG] [PAYLOAD_JSON]
import { io } from "socket.io-client";

const [url, dictionary, markerId, lang = "vi", raw] = process.argv.slice(2);
const socket = io(`${url}/visit`, {
  transports: ["websocket"],
  reconnection: false,
  auth: { lang, device: { max_triangles: 200000 } },
});
const fail = (message) => {
  console.error(message);
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 30000);
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));
socket.on("connect", async () => {
  const payload = raw ? JSON.parse(raw) : { dictionary, marker_id: Number(markerId) };
  const ack = await socket.timeout(10000).emitWithAck("scan", payload);
  console.log(JSON.stringify(ack));
  clearTimeout(timer);
  socket.close();
});
