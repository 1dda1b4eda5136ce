// The curator studio: upload a scan and watch it being processed, preview its levels of
// detail, write an exhibit (texts per language, marker, hotspots, catalogue link), publish,
// print the marker sheet, and see where visitors are and what they looked at.
import { api, token, upload } from "./api.js";
import { getLang, langSwitch, t } from "./i18n.js";
import { signIn } from "./signin.js";
import { connect, request } from "./socket.js";

const $ = (id) => document.getElementById(id);
const STAGES = ["normalise", "lod", "compress", "thumbnail", "printable"];
const state = { exhibits: [], exhibit: null, hotspots: [], catalog: null, view: null, assetId: null, presence: new Map() };

function cell(text, tag = "td") {
  return Object.assign(document.createElement(tag), { textContent: text });
}

function pickText(texts) {
  return (texts && (texts[getLang()] || Object.values(texts)[0])) || "";
}

// Upload and processing ------------------------------------------------------------------

function showStages(current, status) {
  const index = STAGES.indexOf(current);
  $("stages").replaceChildren(
    ...STAGES.map((name, i) => {
      const li = cell(name, "li");
      li.dataset.state = status === "ready" || i < index ? "done" : i === index ? "active" : "waiting";
      return li;
    }),
  );
}

async function onUpload(event) {
  event.preventDefault();
  const file = $("scan-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  form.append("title", file.name.replace(/\.[^.]+$/, ""));
  $("upload-status").textContent = "";
  $("upload-progress").value = 0;
  try {
    const body = await upload("/api/v1/assets", form, (share) => {
      // the bytes are half the work; processing is the other half
      $("upload-progress").value = Math.round(share * 50);
    });
    state.assetId = body.id;
    $("asset-id").value = body.id;
    showStages(STAGES[0], body.status);
    await refreshAsset(body.id);
  } catch (exc) {
    $("upload-status").textContent = exc.message;
    $("upload-status").className = "error";
  }
}

function onAssetEvent(message) {
  if (message.id !== state.assetId) return;
  $("upload-progress").value = 50 + Math.round((message.progress || 0) / 2);
  showStages(message.stage, message.status);
  $("upload-status").textContent = `${message.status}: ${message.stage}`;
  if (message.status === "ready" || message.status === "failed") refreshAsset(message.id);
}

async function refreshAsset(id) {
  const asset = await api(`/api/v1/assets/${id}`);
  document.body.dataset.assetStatus = asset.status;
  if (asset.status === "failed") {
    $("upload-status").textContent = asset.error;
    $("upload-status").className = "error";
    return;
  }
  if (asset.status !== "ready") return;
  $("upload-progress").value = 100;
  showStages("done", "ready");
  $("upload-status").textContent = "ready";
  $("upload-status").className = "";
  showLods(asset.lods);
  if (asset.lods.length) previewLod(asset.lods[asset.lods.length - 1]);
}

function showLods(lods) {
  $("lods").tBodies[0].replaceChildren(
    ...lods.map((lod) => {
      const row = document.createElement("tr");
      const button = cell(t("exhibit.model"), "button");
      button.type = "button";
      button.setAttribute("aria-label", `${t("exhibit.model")} LOD ${lod.level}`);
      button.addEventListener("click", () => previewLod(lod));
      const action = document.createElement("td");
      action.append(button);
      row.append(cell(String(lod.level)), cell(lod.triangles.toLocaleString()), cell((lod.bytes / 1024).toFixed(1)), action);
      return row;
    }),
  );
}

async function studioView() {
  if (!state.view) {
    const [{ SceneView }, { OrbitControls }] = await Promise.all([
      import("./scene-view.js"),
      import("/vendor/three/addons/controls/OrbitControls.js"),
    ]);
    const canvas = $("studio-view");
    state.view = new SceneView(canvas, { mode: "viewer" });
    const controls = new OrbitControls(state.view.camera, canvas);
    controls.listenToKeyEvents(canvas);
    let aimed = false;
    state.view.beforeRender = () => {
      if (state.view.orbitTarget && !aimed) {
        controls.target.copy(state.view.orbitTarget);
        aimed = true;
      }
      return controls.update();
    };
    // A click (not a drag) on the surface adds a hotspot there.
    let down = null;
    canvas.addEventListener("pointerdown", (e) => (down = [e.clientX, e.clientY]));
    canvas.addEventListener("pointerup", (e) => {
      if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return;
      const rect = canvas.getBoundingClientRect();
      const hit = state.view.pick(e.clientX - rect.left, e.clientY - rect.top);
      if (hit) addHotspot(hit);
    });
  }
  return state.view;
}

async function previewLod(lod) {
  const view = await studioView();
  view.hotspots = state.hotspots.map((h) => ({ position: h.position }));
  await view.show({ scene: { lods: [lod], recommended_lod: lod.level }, hotspots: view.hotspots });
  document.body.dataset.preview = String(lod.level);
}

// Hotspots -------------------------------------------------------------------------------

function addHotspot(hit) {
  state.hotspots.push({ position: hit.position, normal: hit.normal, title: { vi: "", en: "" }, body: {} });
  renderHotspots();
}

function renderHotspots() {
  const list = $("hotspots");
  list.replaceChildren(
    ...state.hotspots.map((spot, i) => {
      const li = document.createElement("li");
      for (const lang of ["vi", "en"]) {
        const id = `hotspot-${i}-${lang}`;
        const label = cell(`${t("curator.hotspotTitle")} (${lang})`, "label");
        label.htmlFor = id;
        const input = Object.assign(document.createElement("input"), { id, value: spot.title[lang] || "", lang });
        input.addEventListener("input", () => (spot.title[lang] = input.value));
        li.append(label, input);
      }
      const remove = cell(t("curator.remove"), "button");
      remove.type = "button";
      remove.addEventListener("click", () => {
        state.hotspots.splice(i, 1);
        renderHotspots();
      });
      li.append(" ", remove);
      return li;
    }),
  );
  if (state.view) {
    state.view.hotspots = state.hotspots.map((h) => ({ position: h.position }));
    state.view.drawHotspots();
  }
}

// Exhibits -------------------------------------------------------------------------------

async function loadExhibits() {
  const { items } = await api("/api/v1/exhibits?all=true&limit=200");
  state.exhibits = items;
  const select = $("pick-exhibit");
  select.replaceChildren(
    Object.assign(document.createElement("option"), { value: "", textContent: t("curator.new") }),
    ...items.map((e) => Object.assign(document.createElement("option"), { value: e.id, textContent: `${pickText(e.title)} (${e.slug})` })),
  );
  if (state.exhibit) select.value = String(state.exhibit.id);
}

function fillForm(exhibit) {
  state.exhibit = exhibit;
  const f = $("exhibit-form").elements;
  f.slug.value = exhibit?.slug || "";
  f.title_vi.value = exhibit?.title?.vi || "";
  f.title_en.value = exhibit?.title?.en || "";
  f.narration_vi.value = exhibit?.narration?.vi || "";
  f.narration_en.value = exhibit?.narration?.en || "";
  f.marker_id.value = exhibit?.marker?.id ?? "";
  f.marker_size.value = exhibit?.marker?.size_m ?? 0.15;
  f.asset_id.value = exhibit?.asset_id ?? state.assetId ?? "";
  f.published.checked = Boolean(exhibit?.published);
  state.hotspots = (exhibit?.hotspots || []).map((h) => ({ ...h, title: { ...h.title }, body: { ...(h.body || {}) } }));
  state.catalog = exhibit?.catalog ? { source: exhibit.catalog.source, record_id: exhibit.catalog.record_id } : null;
  $("catalog-linked").textContent = state.catalog ? `${state.catalog.source}: ${state.catalog.record_id}` : "";
  renderHotspots();
  const sheet = $("marker-sheet");
  sheet.hidden = !exhibit;
  if (exhibit) sheet.href = `/api/v1/exhibits/${exhibit.id}/marker.pdf`;
}

function texts(vi, en) {
  const out = {};
  if (vi.trim()) out.vi = vi.trim();
  if (en.trim()) out.en = en.trim();
  return out;
}

async function onSave(event) {
  event.preventDefault();
  const f = $("exhibit-form").elements;
  const body = {
    slug: f.slug.value.trim(),
    title: texts(f.title_vi.value, f.title_en.value),
    narration: texts(f.narration_vi.value, f.narration_en.value),
    marker: { dictionary: "aruco_4x4_50", id: Number(f.marker_id.value), size_m: Number(f.marker_size.value) },
    hotspots: state.hotspots.map((h) => ({ position: h.position, normal: h.normal, title: texts(h.title.vi || "", h.title.en || ""), body: h.body || {} })),
    published: f.published.checked,
  };
  if (f.asset_id.value) body.asset_id = Number(f.asset_id.value);
  if (state.catalog) body.catalog = state.catalog;
  const status = $("exhibit-status");
  try {
    const saved = state.exhibit
      ? await api(`/api/v1/exhibits/${state.exhibit.id}`, { method: "PATCH", json: body })
      : await api("/api/v1/exhibits", { method: "POST", json: body });
    fillForm(saved);
    await loadExhibits();
    status.textContent = t("curator.saved");
    status.className = "";
    document.body.dataset.saved = saved.slug;
  } catch (exc) {
    status.textContent = exc.message;
    status.className = "error";
  }
}

// Catalogue ------------------------------------------------------------------------------

async function onCatalogSearch(event) {
  event.preventDefault();
  const results = $("catalog-results");
  try {
    const { items } = await api(`/api/v1/catalog/records?q=${encodeURIComponent($("catalog-q").value)}&limit=10`);
    results.replaceChildren(
      ...items.map((record) => {
        const li = cell(`${record.title} — ${record.author || ""} `, "li");
        const link = cell(t("curator.link"), "button");
        link.type = "button";
        link.addEventListener("click", () => {
          state.catalog = record.link;
          $("catalog-linked").textContent = `${record.title} (${record.source}: ${record.record_id})`;
        });
        li.append(link);
        return li;
      }),
    );
  } catch (exc) {
    results.replaceChildren(cell(exc.status === 404 ? t("curator.unavailable") : exc.message, "li"));
  }
}

// Presence and analytics -----------------------------------------------------------------

function renderPresence() {
  const names = new Map(state.exhibits.map((e) => [e.id, pickText(e.title)]));
  $("presence").tBodies[0].replaceChildren(
    ...[...state.presence.entries()].map(([id, visitors]) => {
      const row = document.createElement("tr");
      row.dataset.exhibitId = String(id);
      row.append(cell(names.get(id) || `#${id}`), cell(String(visitors)));
      return row;
    }),
  );
}

async function loadAnalytics() {
  const table = $("analytics");
  try {
    const { items } = await api("/api/v1/analytics/exhibits");
    const head = document.createElement("tr");
    for (const key of ["curator.exhibit", "curator.scans", "curator.visitors", "curator.dwell", "lang.label"]) head.append(Object.assign(cell(t(key), "th"), { scope: "col" }));
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(
      ...items.map((item) => {
        const row = document.createElement("tr");
        const langs = Object.entries(item.languages || {}).map(([l, n]) => `${l}: ${n}`).join(", ");
        row.append(cell(item.slug || `#${item.exhibit_id}`), cell(String(item.scans)), cell(String(item.unique_visitors)), cell(item.median_dwell_s ?? "—"), cell(langs));
        return row;
      }),
    );
  } catch (exc) {
    table.tBodies[0].replaceChildren(cell(exc.message));
  }
}

async function main() {
  langSwitch(() => {
    renderHotspots();
    renderPresence();
    loadAnalytics();
  });
  await signIn("librarian", { form: $("sign-in"), error: $("sign-in-error"), who: $("who"), outButton: $("sign-out") });
  $("studio").hidden = false;
  const socket = connect("/visit", { lang: getLang(), token: token() });
  socket.on("asset", onAssetEvent);
  socket.on("presence", (p) => {
    state.presence.set(p.exhibit_id, p.visitors);
    renderPresence();
  });
  socket.on("connect", async () => {
    const ack = await request(socket, "presence:list", {});
    if (ack.ok) for (const p of ack.presence) state.presence.set(p.exhibit_id, p.visitors);
    renderPresence();
  });
  $("upload").addEventListener("submit", onUpload);
  $("exhibit-form").addEventListener("submit", onSave);
  $("catalog-search").addEventListener("submit", onCatalogSearch);
  $("pick-exhibit").addEventListener("change", async () => {
    const id = $("pick-exhibit").value;
    fillForm(id ? state.exhibits.find((e) => String(e.id) === id) : null);
    const exhibit = state.exhibit;
    if (exhibit?.asset_id) {
      state.assetId = exhibit.asset_id;
      refreshAsset(exhibit.asset_id);
    }
  });
  await loadExhibits();
  fillForm(null);
  loadAnalytics();
}

main();
