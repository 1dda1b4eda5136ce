// Load generator for bench/realtime_bench.py: N tablets on the official socket.io-client over
// websocket, driven through the phases the benchmark measures. Results are JSON lines on stdout;
// after connecting it prints {"phase":"connected"} and waits for a line on stdin, so the caller
// can read the server's memory with every tablet connected.
//
// Usage: node load.mjs '{"url": ..., "clients": 2000, ...}'
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const cfg = JSON.parse(process.argv[2]);
const SCAN = { dictionary: cfg.dictionary, marker_id: cfg.marker_id };
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const connect = (auth) =>
  new Promise((resolve, reject) => {
    const socket = io(`${cfg.url}/visit`, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout: 60000,
      auth,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(err));
  });

const scan = (socket) =>
  new Promise((resolve) => {
    socket.emit("scan", SCAN, (ack) => resolve(ack));
  });

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const tablets = [];
  const started = performance.now();
  for (let i = 0; i < cfg.clients; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(cfg.clients, i + 50); j++) {
      batch.push(
        connect({
          lang: "vi",
          device: { max_triangles: 200000 },
          visitor_id: `bench-tablet-${String(j).padStart(5, "0")}`,
        }),
      );
    }
    tablets.push(...(await Promise.all(batch)));
  }
  // Every tablet scans once: it now stands at the exhibit, as in a busy gallery.
  let manifestBytes = 0;
  for (let i = 0; i < tablets.length; i += 100) {
    const acks = await Promise.all(tablets.slice(i, i + 100).map(scan));
    for (const ack of acks) if (!ack?.ok) throw new Error(`scan failed: ${JSON.stringify(ack)}`);
    manifestBytes = JSON.stringify(acks[0].manifest).length;
  }
  out({ phase: "connected", clients: tablets.length, seconds: (performance.now() - started) / 1000, manifest_bytes: manifestBytes });
  await lines.next();

  // (1) Throughput: every tablet scans again as soon as its previous scan is acked.
  {
    let counting = false;
    let stop = false;
    let acks = 0;
    let errors = 0;
    let all = 0;
    const loop = (socket) => {
      socket.emit("scan", SCAN, (ack) => {
        all++;
        if (counting) {
          if (ack?.ok && ack.manifest) acks++;
          else errors++;
        }
        if (!stop) loop(socket);
      });
    };
    tablets.forEach(loop);
    await sleep(cfg.warmup_s * 1000);
    counting = true;
    const t0 = performance.now();
    await sleep(cfg.scan_s * 1000);
    counting = false;
    const elapsed = (performance.now() - t0) / 1000;
    stop = true;
    await sleep(1500); // let the scans in flight drain before the next phase
    out({ phase: "scan", acks, errors, seconds: elapsed, per_s: acks / elapsed, all_acks: all });
  }

  // (4) Steady load: a fixed rate of scans spread over the tablets; latency per ack.
  {
    const latencies = [];
    let errors = 0;
    let sent = 0;
    const interval = 1000 / cfg.steady_rate;
    const total = Math.round(cfg.steady_rate * cfg.steady_s);
    const t0 = performance.now();
    await new Promise((resolve) => {
      let done = 0;
      const tick = () => {
        const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
        while (sent < due) {
          const socket = tablets[sent % tablets.length];
          const sentAt = performance.now();
          sent++;
          socket.emit("scan", SCAN, (ack) => {
            latencies.push(performance.now() - sentAt);
            if (!ack?.ok) errors++;
            if (++done === total) resolve();
          });
        }
        if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
      };
      tick();
    });
    latencies.sort((a, b) => a - b);
    out({
      phase: "steady",
      scans: latencies.length,
      errors,
      seconds: (performance.now() - t0) / 1000,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      max_ms: latencies[latencies.length - 1],
    });
  }

  // (2) Broadcast: every tablet follows the tour; the docent moves it; time to the last tablet.
  {
    for (let i = 0; i < tablets.length; i += 100) {
      const acks = await Promise.all(
        tablets.slice(i, i + 100).map(
          (socket) => new Promise((resolve) => socket.emit("tour:join", { tour_id: cfg.tour_id }, resolve)),
        ),
      );
      for (const ack of acks) if (!ack?.ok) throw new Error(`tour:join failed: ${JSON.stringify(ack)}`);
    }
    const docent = await connect({ lang: "vi", token: cfg.docent_token });
    const rounds = [];
    for (let round = 0; round < cfg.broadcasts; round++) {
      const index = (round + 1) % 2;
      let received = 0;
      let last = 0;
      let bad = 0;
      const t0 = performance.now();
      const all = new Promise((resolve) => {
        for (const socket of tablets) {
          socket.once("tour:stop", (stop) => {
            last = performance.now();
            if (stop?.index !== index || !stop.manifest) bad++;
            if (++received === tablets.length) resolve();
          });
        }
      });
      const ack = await new Promise((resolve) => docent.emit("tour:goto", { tour_id: cfg.tour_id, index }, resolve));
      if (!ack?.ok) throw new Error(`tour:goto failed: ${JSON.stringify(ack)}`);
      await Promise.race([all, sleep(15000)]);
      rounds.push({ last_ms: last - t0, received, bad });
      await sleep(300);
    }
    docent.close();
    const lasts = rounds.map((r) => r.last_ms).sort((a, b) => a - b);
    out({ phase: "broadcast", rounds, last_ms_median: percentile(lasts, 50) });
  }

  for (const socket of tablets) socket.close();
  await sleep(200);
  process.exit(0);
}

main().catch((err) => {
  out({ phase: "error", message: String(err?.stack ?? err) });
  process.exit(1);
});
