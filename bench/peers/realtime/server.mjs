// The Node peer for bench/realtime_bench.py: socket.io 4.x doing the work smartlib's /visit
// namespace does on the hot paths, with the socket.io defaults a Node deployment would use.
//
// - `scan {dictionary, marker_id}` is validated, answered from memory with the same manifest
//   smartlib serves, and the tablet joins the exhibit's room; head counts go out as `presence`
//   to that room, at most once per exhibit per tick of 50 ms.
// - `tour:join {tour_id}` puts the tablet in the room of its (language, device budget) group.
// - `tour:goto {tour_id, index}` (docent token only) emits `tour:stop` to every group's room.
//
// Usage: node server.mjs PORT MANIFEST.json DOCENT_TOKEN
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { Server } from "socket.io";

const [port, manifestPath, docentToken] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const MARKER = `${manifest.marker.dictionary}:${manifest.marker.id}`;
const EXHIBIT = manifest.manifest.exhibit.id;
const DICTIONARIES = new Set(["aruco_4x4_50", "apriltag_36h11"]);
const LANGUAGES = ["vi", "en"];
const BUDGETS = [20000, 50000, 150000, 500000, 2000000];

const budgetOf = (maxTriangles) => {
  if (typeof maxTriangles !== "number") return 150000;
  const fitting = BUDGETS.filter((b) => b <= maxTriangles);
  return fitting.length ? fitting[fitting.length - 1] : BUDGETS[0];
};
const invalid = (message) => ({ ok: false, error: { code: "invalid", message } });

const http = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404, { "content-type": "text/plain" });
  res.end("ok");
});
const io = new Server(http);
const visit = io.of("/visit");
const counts = new Map();
const dirty = new Set();
let flushTimer = null;

const presenceChanged = (exhibitId) => {
  dirty.add(exhibitId);
  flushTimer ??= setTimeout(() => {
    flushTimer = null;
    for (const id of dirty) {
      visit.to([`ex:${id}`, "staff"]).emit("presence", { exhibit_id: id, visitors: counts.get(id) ?? 0 });
    }
    dirty.clear();
  }, 50);
};

visit.use((socket, next) => {
  const auth = socket.handshake.auth ?? {};
  socket.data.lang = LANGUAGES.includes(auth.lang) ? auth.lang : "vi";
  socket.data.budget = budgetOf(auth.device?.max_triangles);
  socket.data.docent = Boolean(docentToken) && auth.token === docentToken;
  socket.data.exhibit = null;
  next();
});

visit.on("connection", (socket) => {
  socket.on("scan", (payload, ack) => {
    if (typeof ack !== "function") return;
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      return ack(invalid("'scan' takes exactly one object as payload."));
    }
    const keys = Object.keys(payload);
    const { dictionary, marker_id: markerId } = payload;
    if (keys.length !== 2 || !DICTIONARIES.has(dictionary) || !Number.isInteger(markerId) ||
        markerId < 0 || markerId > 100000) {
      return ack(invalid("Bad scan."));
    }
    if (`${dictionary}:${markerId}` !== MARKER) {
      return ack({ ok: false, error: { code: "not_found", message: `No published exhibit uses marker ${markerId} of ${dictionary}.` } });
    }
    if (socket.data.exhibit !== EXHIBIT) {
      if (socket.data.exhibit !== null) {
        socket.leave(`ex:${socket.data.exhibit}`);
        counts.set(socket.data.exhibit, counts.get(socket.data.exhibit) - 1);
        presenceChanged(socket.data.exhibit);
      }
      socket.data.exhibit = EXHIBIT;
      socket.join(`ex:${EXHIBIT}`);
      counts.set(EXHIBIT, (counts.get(EXHIBIT) ?? 0) + 1);
      presenceChanged(EXHIBIT);
    }
    ack({ ok: true, manifest: manifest.manifest });
  });

  socket.on("tour:join", (payload, ack) => {
    if (typeof ack !== "function") return;
    const tourId = payload?.tour_id;
    if (!Number.isInteger(tourId) || tourId < 1) return ack(invalid("Bad tour."));
    socket.join(`tour:${tourId}:${socket.data.lang}:${socket.data.budget}`);
    ack({ ok: true, tour: { id: tourId, title: "", stops: 3 }, index: 0, manifest: manifest.manifest });
  });

  socket.on("tour:goto", (payload, ack) => {
    if (typeof ack !== "function") return;
    if (!socket.data.docent) {
      return ack({ ok: false, error: { code: "forbidden", message: "Only a docent can move a tour to another stop." } });
    }
    const { tour_id: tourId, index } = payload ?? {};
    if (!Number.isInteger(tourId) || !Number.isInteger(index)) return ack(invalid("Bad stop."));
    for (const lang of LANGUAGES) {
      for (const budget of BUDGETS) {
        visit.to(`tour:${tourId}:${lang}:${budget}`).emit("tour:stop", { tour_id: tourId, index, manifest: manifest.manifest });
      }
    }
    ack({ ok: true, index });
  });

  socket.on("disconnect", () => {
    if (socket.data.exhibit !== null) {
      counts.set(socket.data.exhibit, counts.get(socket.data.exhibit) - 1);
      presenceChanged(socket.data.exhibit);
    }
  });
});

http.listen(Number(port), "127.0.0.1", () => console.log(`node peer on ${port}`));
