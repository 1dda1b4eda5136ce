// /visit/{slug}: one exhibit without the camera. The poster and the text come first; three.js
// and the scene follow (their downloads were started by the page's preload links).
import { renderPanel } from "./exhibit-panel.js";
import { getLang, langSwitch, setLang, t } from "./i18n.js";
import { openModelDialog, wireDialog } from "./model-fallback.js";
import { keepOffline, registerOffline } from "./offline.js";

const $ = (id) => document.getElementById(id);
const viewer = $("viewer");
const canvas = $("view");
let manifest = JSON.parse($("manifest").textContent);
let view = null;

function showText() {
  if (!manifest) {
    $("panel").replaceChildren(Object.assign(document.createElement("p"), { textContent: t("exhibit.notfound") }));
    $("view3d").hidden = true;
    viewer.hidden = true;
    return;
  }
  document.title = `${manifest.exhibit.title} — smartlib`;
  renderPanel($("panel"), manifest, { onHotspot: (i) => view?.selectHotspot(i) });
  canvas.setAttribute("aria-label", `${t("exhibit.model")}: ${manifest.exhibit.title}`);
  const poster = $("poster");
  if (manifest.scene?.poster && viewer.dataset.model === "none") {
    poster.src = manifest.scene.poster;
    poster.alt = `${t("exhibit.poster")}: ${manifest.exhibit.title}`;
    poster.hidden = false;
  }
}

async function showModel() {
  if (!manifest?.scene?.lods?.length) return;
  viewer.dataset.model = "loading";
  const [{ SceneView }, { OrbitControls }] = await Promise.all([
    import("./scene-view.js"),
    import("/vendor/three/addons/controls/OrbitControls.js"),
  ]);
  view = new SceneView(canvas, {
    mode: "viewer",
    onState: ({ state, level }) => {
      viewer.dataset.level = String(level);
      if (state === "model") {
        viewer.dataset.model = "visible";
        $("poster").hidden = true;
        performance.mark("smartlib:first-model");
      }
    },
  });
  const controls = new OrbitControls(view.camera, canvas);
  controls.listenToKeyEvents(canvas);
  controls.enableDamping = true;
  view.beforeRender = () => {
    if (view.orbitTarget && !controls.userData?.aimed) {
      controls.target.copy(view.orbitTarget);
      controls.userData = { aimed: true };
    }
    return controls.update();
  };
  await view.show(manifest);
  keepOffline(manifest);
}

async function changeLanguage(lang) {
  if (!manifest) return;
  const response = await fetch(`/visit/${encodeURIComponent(manifest.exhibit.slug)}/manifest.json?lang=${lang}`);
  if (!response.ok) return;
  manifest = await response.json();
  showText();
  if (view) view.hotspots = manifest.hotspots;
}

function main() {
  // The server rendered the page in the language it was asked for; remember that choice.
  if (document.documentElement.lang !== getLang()) setLang(document.documentElement.lang);
  langSwitch(changeLanguage);
  wireDialog($("model-dialog"));
  $("view3d").addEventListener("click", () => manifest && openModelDialog($("model-dialog"), manifest));
  showText();
  registerOffline();
  showModel().catch((exc) => {
    viewer.dataset.model = "failed";
    console.warn("scene:", exc.message);
  });
}

main();
