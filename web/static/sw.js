// Offline after the first visit: the visitor pages' shell, the exhibits' manifests and their
// scene files stay on the tablet. Scene files are content-addressed (/files/<sha256>.<ext>),
// so a cached copy is never stale; pages and manifests are fetched fresh when the network
// answers and come from the cache when it does not. Staff pages are left alone.
const VERSION = "smartlib-v1";
const SHELL = `${VERSION}-shell`;
const DATA = `${VERSION}-data`;
const FILES = `${VERSION}-files`;

const SHELL_URLS = [
  "/visit",
  "/static/style.css",
  "/static/icons/icon.svg",
  "/static/js/visit.js",
  "/static/js/exhibit-page.js",
  "/static/js/exhibit-panel.js",
  "/static/js/scene-view.js",
  "/static/js/pose.js",
  "/static/js/camera.js",
  "/static/js/i18n.js",
  "/static/js/socket.js",
  "/static/js/offline.js",
  "/static/js/model-fallback.js",
  "/vendor/socket.io/socket.io.esm.min.js",
  "/vendor/three/three.module.min.js",
  "/vendor/three/three.core.min.js",
  "/vendor/three/addons/loaders/GLTFLoader.js",
  "/vendor/three/addons/loaders/DRACOLoader.js",
  "/vendor/three/addons/utils/BufferGeometryUtils.js",
  "/vendor/three/addons/utils/SkeletonUtils.js",
  "/vendor/three/addons/controls/OrbitControls.js",
  "/vendor/draco/draco_wasm_wrapper.js",
  "/vendor/draco/draco_decoder.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(SHELL_URLS))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (!name.startsWith(VERSION)) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// The page names what it showed (its URL, manifest and scene files) so that they are kept
// even when they were fetched before this worker took control.
self.addEventListener("message", (event) => {
  const urls = (event.data?.keep || []).filter((u) => typeof u === "string" && u.startsWith("/"));
  event.waitUntil(
    Promise.all(
      urls.map(async (url) => {
        const cache = await caches.open(url.startsWith("/files/") ? FILES : DATA);
        if (url.startsWith("/files/") && (await cache.match(url))) return;
        try {
          const response = await fetch(url, { credentials: "same-origin" });
          if (response.ok) await cache.put(url, response);
        } catch {
          // offline right now: kept next time
        }
      }),
    ),
  );
});

function isVisitorData(url) {
  return (
    url.pathname === "/visit" ||
    /^\/visit\/[a-z0-9-]+(\/manifest\.json)?$/.test(url.pathname) ||
    url.pathname === "/api/v1/exhibits"
  );
}

async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    // Vary (Accept-Encoding, Accept) differs between a navigation and the page's own keep
    // request for the same URL; the URL is what identifies a visitor page here.
    const cached =
      (await cache.match(request, { ignoreVary: true })) ||
      (await caches.match(request, { ignoreSearch: true, ignoreVary: true }));
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request, cacheName) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.status === 200) {
    const cache = await caches.open(cacheName);
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET" || request.headers.has("range")) return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/files/")) {
    event.respondWith(cacheFirst(request, FILES));
  } else if (url.pathname.startsWith("/vendor/") || url.pathname.startsWith("/static/")) {
    event.respondWith(networkFirst(request, SHELL));
  } else if (isVisitorData(url)) {
    event.respondWith(networkFirst(request, DATA));
  }
});
