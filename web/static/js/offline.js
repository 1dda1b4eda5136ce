// Registers the service worker that keeps the visitor pages, manifests and scene files for
// offline use after the first visit, and tells it what this page showed.
export function registerOffline() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    // Offline support is an extra; the page works without it.
  });
}

export function keepOffline(manifest) {
  if (!("serviceWorker" in navigator) || !manifest) return;
  const slug = encodeURIComponent(manifest.exhibit.slug);
  const keep = [
    location.pathname,
    `/visit/${slug}`,
    `/visit/${slug}/manifest.json`,
    ...(manifest.scene?.lods || []).map((lod) => lod.url),
  ];
  if (manifest.scene?.poster) keep.push(manifest.scene.poster);
  navigator.serviceWorker.ready.then((registration) => registration.active?.postMessage({ keep }));
}
