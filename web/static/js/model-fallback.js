// "View in 3D / AR": <model-viewer> in a dialog, for devices where the camera view does not work
// (it offers WebXR, Scene Viewer or Quick Look where the device has them). Loaded only when
// asked for: the library is large.
import { t } from "./i18n.js";

let ready = null;

function loadModelViewer() {
  // model-viewer reads its decoder locations from this global when each element is made, and
  // otherwise fetches them from public CDNs: point them all at this server first.
  self.ModelViewerElement = {
    ...(self.ModelViewerElement || {}),
    dracoDecoderLocation: "/vendor/draco/",
    ktx2TranscoderLocation: "/vendor/basis/",
    lottieLoaderLocation: "/vendor/lottie/",
  };
  ready ??= import("/vendor/model-viewer/model-viewer.min.js");
  return ready;
}

export async function openModelDialog(dialog, manifest) {
  await loadModelViewer();
  const lods = manifest.scene?.lods || [];
  const chosen = lods.find((l) => l.level === manifest.scene.recommended_lod) || lods[0];
  if (!chosen) return;
  const viewer = document.createElement("model-viewer");
  viewer.setAttribute("src", chosen.url);
  viewer.setAttribute("alt", `${t("exhibit.model")}: ${manifest.exhibit.title}`);
  viewer.setAttribute("camera-controls", "");
  viewer.setAttribute("ar", "");
  viewer.setAttribute("ar-modes", "webxr scene-viewer quick-look");
  if (manifest.scene.poster) viewer.setAttribute("poster", manifest.scene.poster);
  const slot = dialog.querySelector(".model-slot");
  slot.replaceChildren(viewer);
  dialog.querySelector("h2").textContent = manifest.exhibit.title;
  dialog.showModal();
  return viewer;
}

export function wireDialog(dialog) {
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.querySelector(".model-slot").replaceChildren());
}
