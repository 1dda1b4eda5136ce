// The visitor page: camera → server (frames) → pose → the model drawn on the marker.
import { CameraFeed } from "./camera.js";
import { renderPanel } from "./exhibit-panel.js";
import { getLang, langSwitch, t } from "./i18n.js";
import { openModelDialog, wireDialog } from "./model-fallback.js";
import { keepOffline, registerOffline } from "./offline.js";
import { connect, request } from "./socket.js";

const $ = (id) => document.getElementById(id);
const stage = $("stage");
const status = $("status");
const cameraButton = $("camera-toggle");
const dialog = $("model-dialog");

// How long without the marker before the model is taken off the picture.
const LOST_AFTER_MS = 800;

const state = {
  manifest: null,
  socket: null,
  feed: null,
  view: null, // SceneView, loaded with three.js only when the camera starts
  tour: null,
  lastSeen: 0,
  statusKey: "status.idle",
};

function visitorId() {
  let id = localStorage.getItem("smartlib.visitor");
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem("smartlib.visitor", id);
  }
  return id;
}

// A rough triangle budget: small-memory devices get the lighter level.
function maxTriangles() {
  const memory = navigator.deviceMemory || 4;
  return memory <= 2 ? 50000 : 150000;
}

function setStatus(key) {
  state.statusKey = key;
  status.textContent = t(key);
  status.dataset.state = key;
}

function openSocket() {
  const socket = connect("/visit", {
    lang: getLang(),
    visitor_id: visitorId(),
    device: { max_triangles: maxTriangles() },
  });
  socket.on("tour:stop", (stop) => onTourStop(stop));
  socket.on("presence", (p) => {
    if (state.manifest && p.exhibit_id === state.manifest.exhibit.id) {
      document.body.dataset.presence = String(p.visitors);
    }
  });
  state.socket = socket;
  return socket;
}

function showManifest(manifest) {
  state.manifest = manifest;
  document.body.dataset.exhibitId = String(manifest.exhibit.id);
  renderPanel($("panel"), manifest, { onHotspot: (i) => state.view?.selectHotspot(i) });
  const poster = $("poster");
  if (manifest.scene?.poster) {
    poster.src = manifest.scene.poster;
    poster.alt = `${t("exhibit.poster")}: ${manifest.exhibit.title}`;
    poster.hidden = state.feed?.running ?? false;
  } else {
    poster.hidden = true;
  }
  $("view3d").hidden = !(manifest.scene?.lods || []).length;
  const link = $("exhibit-link");
  link.href = `/visit/${encodeURIComponent(manifest.exhibit.slug)}`;
  link.hidden = false;
  keepOffline(manifest);
  if (state.view) loadScene(manifest);
}

async function loadScene(manifest) {
  stage.dataset.model = "loading";
  try {
    await state.view.show(manifest);
  } catch (exc) {
    stage.dataset.model = "failed";
    status.textContent = exc.message;
  }
}

function onSceneState({ state: s, level }) {
  stage.dataset.level = String(level);
  if (s === "model" && stage.dataset.model === "loading") stage.dataset.model = "loaded";
}

function onFrameAck(ack) {
  state.found = (state.found || 0) + (ack.markers.length ? 1 : 0);
  // Counters for whoever watches the page (and its tests): frames sent, answered, with a marker.
  stage.dataset.frames = `${state.feed.sent}/${state.feed.answered}/${state.found}`;
  if (ack.manifest) showManifest(ack.manifest);
  const current = state.manifest?.exhibit.id;
  const marker = ack.markers.find((m) => m.exhibit_id === current) || ack.markers.find((m) => m.exhibit_id);
  if (!marker || !state.view) return;
  state.lastSeen = performance.now();
  state.view.setPose(marker.pose.rvec, marker.pose.tvec);
  setStatus("status.found");
}

function watchMarker() {
  if (!state.feed?.running) return;
  const view = state.view;
  const seen = performance.now() - state.lastSeen < LOST_AFTER_MS;
  if (!seen && view?.visible) {
    view.hide();
    setStatus(state.lastSeen ? "status.lost" : "status.looking");
  }
  const onMarker = Boolean(view?.visible && view.model);
  if (onMarker) stage.dataset.model = "on-marker";
  else if (stage.dataset.model === "on-marker") stage.dataset.model = "loaded";
  requestAnimationFrame(watchMarker);
}

async function startCamera() {
  cameraButton.disabled = true;
  try {
    // three.js is fetched only by visitors who use the camera view.
    const { SceneView, warmUp } = await import("./scene-view.js");
    warmUp();
    stage.hidden = false;
    state.feed = new CameraFeed($("video"), () => state.socket, {
      onAck: onFrameAck,
      onError: (error) => error && console.warn("frame:", error.message),
    });
    await state.feed.start();
    stage.style.setProperty("--aspect", `${state.feed.width} / ${state.feed.height}`);
    if (!state.view) state.view = new SceneView($("overlay"), { mode: "marker", onState: onSceneState });
    state.view.setIntrinsics(state.feed.intrinsics, state.feed.width, state.feed.height);
    if (state.manifest) loadScene(state.manifest);
    $("poster").hidden = true;
    cameraButton.dataset.i18n = "camera.stop";
    cameraButton.textContent = t("camera.stop");
    setStatus("status.looking");
    requestAnimationFrame(watchMarker);
  } catch (exc) {
    stage.hidden = true;
    state.feed?.stop();
    state.feed = null;
    status.textContent = `${t("camera.denied")} (${exc.name || exc.message})`;
  } finally {
    cameraButton.disabled = false;
  }
}

function stopCamera() {
  state.feed?.stop();
  state.feed = null;
  state.view?.hide();
  stage.hidden = true;
  stage.dataset.model = "none";
  if (state.manifest?.scene?.poster) $("poster").hidden = false;
  cameraButton.dataset.i18n = "camera.start";
  cameraButton.textContent = t("camera.start");
  setStatus("status.idle");
}

function onTourStop(stop) {
  state.tour = { ...(state.tour || {}), id: stop.tour_id, index: stop.index };
  showTour();
  if (stop.manifest) showManifest(stop.manifest);
}

function showTour() {
  const box = $("tour-status");
  const tour = state.tour;
  if (!tour) {
    box.textContent = "";
    $("tour-leave").hidden = true;
    return;
  }
  const title = tour.title ? (tour.title[getLang()] || Object.values(tour.title)[0]) : "";
  const count = tour.stops ? ` ${t("tour.of")} ${tour.stops}` : "";
  box.textContent = `${t("tour.joined")}: ${title} — ${t("tour.stop")} ${tour.index + 1}${count}`;
  box.dataset.index = String(tour.index);
  $("tour-leave").hidden = false;
}

async function joinTour(event) {
  event.preventDefault();
  const code = $("tour-code").value.trim();
  const ack = await request(state.socket, "tour:join", { code });
  if (!ack.ok) {
    $("tour-status").textContent = ack.error.message;
    return;
  }
  state.tour = { id: ack.tour.id, title: ack.tour.title, stops: ack.tour.stops, index: ack.index };
  showTour();
  showManifest(ack.manifest);
}

async function leaveTour() {
  await request(state.socket, "tour:leave", {});
  state.tour = null;
  showTour();
}

async function loadList() {
  const list = $("exhibits");
  try {
    const response = await fetch("/api/v1/exhibits?limit=200");
    const { items } = await response.json();
    const lang = getLang();
    list.replaceChildren(
      ...items.map((exhibit) => {
        const link = document.createElement("a");
        link.href = `/visit/${encodeURIComponent(exhibit.slug)}`;
        link.textContent = exhibit.title[lang] || Object.values(exhibit.title)[0] || exhibit.slug;
        const li = document.createElement("li");
        li.append(link);
        return li;
      }),
    );
    if (!items.length) list.replaceChildren(Object.assign(document.createElement("li"), { textContent: t("list.empty") }));
  } catch {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: t("list.failed") }));
  }
}

async function changeLanguage(lang) {
  setStatus(state.statusKey);
  cameraButton.textContent = t(cameraButton.dataset.i18n);
  loadList();
  showTour();
  // The server speaks the language chosen at connection: connect again with the new one
  // (a tour member is put back at the current stop in the new language).
  state.socket.auth = { ...state.socket.auth, lang };
  state.socket.disconnect().connect();
  if (state.manifest) {
    const slug = encodeURIComponent(state.manifest.exhibit.slug);
    const response = await fetch(`/visit/${slug}/manifest.json?lang=${lang}&max_triangles=${maxTriangles()}`);
    if (response.ok) showManifest(await response.json());
  }
}

function main() {
  langSwitch(changeLanguage);
  setStatus(navigator.onLine ? "status.idle" : "status.offline");
  wireDialog(dialog);
  openSocket();
  cameraButton.addEventListener("click", () => (state.feed?.running ? stopCamera() : startCamera()));
  $("view3d").addEventListener("click", () => state.manifest && openModelDialog(dialog, state.manifest));
  $("tour-form").addEventListener("submit", joinTour);
  $("tour-leave").addEventListener("click", leaveTour);
  window.addEventListener("offline", () => setStatus("status.offline"));
  window.addEventListener("online", () => setStatus(state.feed?.running ? "status.looking" : "status.idle"));
  loadList();
  registerOffline();
}

main();
