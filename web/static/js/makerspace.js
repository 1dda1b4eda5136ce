// The makerspace: book a machine within the rules (refusals shown in the server's words), my
// bookings and their calendar feed, prints and the farm's live state.
import { api, token, upload } from "./api.js";
import { getLang, langSwitch, t } from "./i18n.js";
import { signIn } from "./signin.js";
import { connect } from "./socket.js";

const $ = (id) => document.getElementById(id);
const state = { resources: [], jobs: new Map(), printers: new Map() };

function cell(text, tag = "td") {
  return Object.assign(document.createElement(tag), { textContent: text ?? "" });
}

// datetime-local values are the tablet's wall clock; the API wants an offset.
function withOffset(local) {
  const date = new Date(local);
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
}

function fmt(iso) {
  return new Date(iso).toLocaleString(getLang() === "vi" ? "vi-VN" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

async function loadResources() {
  const { items } = await api("/api/v1/resources?limit=100");
  state.resources = items;
  $("resource").replaceChildren(...items.map((r) => Object.assign(document.createElement("option"), { value: r.id, textContent: r.name })));
  await loadAvailability();
}

async function loadAvailability() {
  const id = $("resource").value;
  if (!id) return;
  const from = new Date();
  const to = new Date(from.getTime() + 7 * 86400e3);
  const query = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  try {
    const { items } = await api(`/api/v1/resources/${id}/availability?${query}`);
    $("free").replaceChildren(...items.slice(0, 14).map((f) => cell(`${fmt(f.start)} – ${fmt(f.end)} (${t("maker.free")})`, "li")));
  } catch (exc) {
    $("free").replaceChildren(cell(exc.message, "li"));
  }
}

async function onBook(event) {
  event.preventDefault();
  const status = $("book-status");
  try {
    await api("/api/v1/reservations", {
      method: "POST",
      json: { resource_id: Number($("resource").value), start: withOffset($("start").value), end: withOffset($("end").value) },
    });
    status.textContent = t("maker.booked");
    status.className = "";
    await Promise.all([loadMine(), loadAvailability()]);
  } catch (exc) {
    status.textContent = exc.message; // the server names the rule that refused it
    status.className = "error";
  }
}

async function loadMine() {
  const { items } = await api("/api/v1/reservations?limit=50");
  $("mine").replaceChildren(
    ...items
      .filter((r) => r.state !== "cancelled")
      .map((r) => {
        const li = cell(`${r.resource_name}: ${fmt(r.start)} – ${fmt(r.end)} (${r.state}) `, "li");
        const cancel = cell(t("maker.cancel"), "button");
        cancel.type = "button";
        cancel.addEventListener("click", async () => {
          await api(`/api/v1/reservations/${r.id}`, { method: "DELETE" }).catch((exc) => ($("book-status").textContent = exc.message));
          loadMine();
        });
        li.append(cancel);
        return li;
      }),
  );
}

async function onIcal() {
  const { url } = await api("/api/v1/users/me/feed-token", { method: "POST" });
  const link = $("ical-link");
  link.href = url;
  link.textContent = url;
  link.hidden = false;
}

async function onPrint(event) {
  event.preventDefault();
  const file = $("print-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  try {
    const job = await upload("/api/v1/print-jobs", form);
    state.jobs.set(job.id, job);
    renderJobs();
    $("print-status").textContent = job.estimate_s ? `~${Math.round(job.estimate_s / 60)} min` : job.state;
    $("print-status").className = "";
  } catch (exc) {
    $("print-status").textContent = exc.message;
    $("print-status").className = "error";
  }
}

function renderJobs() {
  $("jobs").tBodies[0].replaceChildren(
    ...[...state.jobs.values()].map((job) => {
      const row = document.createElement("tr");
      row.dataset.jobId = String(job.id);
      row.dataset.state = job.state;
      const eta = job.eta_s ? `${Math.round(job.eta_s / 60)} min` : "—";
      row.append(cell(String(job.id)), cell(job.name), cell(job.state), cell(job.progress == null ? "—" : String(Math.round(job.progress))), cell(eta));
      return row;
    }),
  );
}

function renderPrinters() {
  $("printers").tBodies[0].replaceChildren(
    ...[...state.printers.values()].map((p) => {
      const row = document.createElement("tr");
      row.dataset.printerId = String(p.id);
      const temps = p.temps ? Object.entries(p.temps).map(([k, v]) => `${k} ${typeof v === "object" ? v.actual ?? "" : v}`).join(", ") : "—";
      row.append(cell(p.name || `#${p.id}`), cell(p.state), cell(temps), cell(p.job_id ? `#${p.job_id}` : "—"));
      return row;
    }),
  );
}

async function loadFarm() {
  try {
    const [jobs, printers] = await Promise.all([api("/api/v1/print-jobs?limit=50"), api("/api/v1/printers")]);
    for (const job of jobs.items) state.jobs.set(job.id, job);
    for (const printer of printers.items) state.printers.set(printer.id, printer);
  } catch (exc) {
    $("print-status").textContent = exc.status === 404 ? t("curator.unavailable") : exc.message;
  }
  renderJobs();
  renderPrinters();
}

async function main() {
  langSwitch(() => loadAvailability());
  await signIn("member", { form: $("sign-in"), error: $("sign-in-error"), who: $("who"), outButton: $("sign-out") });
  $("space").hidden = false;
  $("resource").addEventListener("change", loadAvailability);
  $("book").addEventListener("submit", onBook);
  $("ical").addEventListener("click", onIcal);
  $("print").addEventListener("submit", onPrint);
  const socket = connect("/makerspace", { token: token() });
  socket.on("job", (job) => {
    state.jobs.set(job.id, { ...(state.jobs.get(job.id) || {}), ...job });
    renderJobs();
  });
  socket.on("printer", (printer) => {
    state.printers.set(printer.id, { ...(state.printers.get(printer.id) || {}), ...printer });
    renderPrinters();
  });
  await Promise.all([loadResources().catch((exc) => ($("free").textContent = exc.message)), loadMine().catch(() => {}), loadFarm()]);
}

main();
