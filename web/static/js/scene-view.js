// Draws an exhibit's scene with three.js: on a marker (camera mode) or turning on a stand
// (viewer mode). Scene files are Draco-compressed GLBs; the decoder comes from this server.
import * as THREE from "/vendor/three/three.module.min.js";
import { GLTFLoader } from "/vendor/three/addons/loaders/GLTFLoader.js";
import { DRACOLoader } from "/vendor/three/addons/loaders/DRACOLoader.js";
import { markerMatrix, projectionFromIntrinsics } from "./pose.js";

const UNIT = new THREE.Vector3(1, 1, 1);
let sharedLoader = null;
function loader() {
  if (!sharedLoader) {
    const draco = new DRACOLoader();
    draco.setDecoderPath("/vendor/draco/");
    draco.setDecoderConfig({ type: "wasm" });
    draco.preload();
    sharedLoader = new GLTFLoader();
    sharedLoader.setDRACOLoader(draco);
  }
  return sharedLoader;
}

// Start fetching the decoder while the page waits for the scene file.
export function warmUp() {
  loader();
}

// Levels to load, lightest first, then the recommended one (skipped when it is the same).
export function lodPlan(scene) {
  const lods = [...(scene?.lods || [])];
  if (!lods.length) return [];
  const lightest = lods.reduce((a, b) => (b.triangles < a.triangles ? b : a));
  const recommended = lods.find((l) => l.level === scene.recommended_lod) || lightest;
  return recommended === lightest ? [lightest] : [lightest, recommended];
}

// How big the model stands on a marker: a tabletop replica whose footprint is about this many
// marker sides, whatever its real size (a 0.8 m drum on a 15 cm code would fill the view).
const FOOTPRINT_IN_MARKERS = 1.6;

export class SceneView {
  constructor(canvas, { mode = "viewer", onState } = {}) {
    this.canvas = canvas;
    this.mode = mode;
    this.onState = onState || (() => {});
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: mode === "marker" });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.scene = new THREE.Scene();
    // Lights only, no environment map: prefiltering one costs seconds on a tablet's GPU (and
    // in software rendering), before anything shows. Metals get a second, colder light so
    // they do not look black.
    this.scene.add(new THREE.HemisphereLight(0xfff4e0, 0x3a3530, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 2.2);
    sun.position.set(1, 2, 1.5);
    this.scene.add(sun);
    const fill = new THREE.DirectionalLight(0xcfe0ff, 1.2);
    fill.position.set(-1.5, 0.5, -1);
    this.scene.add(fill);
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.01, 100);
    this.anchor = new THREE.Group(); // the marker (camera mode) or the stand (viewer mode)
    this.anchor.matrixAutoUpdate = false;
    this.scene.add(this.anchor);
    this.holder = new THREE.Group(); // the model, centred, base on the anchor
    this.anchor.add(this.holder);
    this.hotspotGroup = new THREE.Group();
    this.holder.add(this.hotspotGroup);
    this.model = null;
    this.loadToken = 0;
    this.target = null; // smoothed pose: {position, quaternion}
    this.current = null;
    this.lastPoseAt = 0;
    this.visible = mode === "viewer";
    this.running = true;
    this.extraFrame = null;
    this.dirty = true;
    if (mode === "viewer") {
      this.anchor.matrixAutoUpdate = true;
      this.scene.background = new THREE.Color(0xf1ece2);
    }
    this.resize();
    this._observer = new ResizeObserver(() => this.resize());
    this._observer.observe(canvas);
    const tick = () => {
      if (!this.running) return;
      this.frame();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  resize() {
    this.dirty = true;
    const w = this.canvas.clientWidth || 1;
    const h = this.canvas.clientHeight || 1;
    this.renderer.setSize(w, h, false);
    if (this.mode === "viewer") {
      this.camera.aspect = w / h;
      this.camera.updateProjectionMatrix();
    }
  }

  // Camera mode: the picture the server analyses is w×h with these intrinsics.
  setIntrinsics(intrinsics, w, h) {
    this.camera.projectionMatrix.fromArray(projectionFromIntrinsics(intrinsics, w, h));
    this.camera.projectionMatrixInverse.copy(this.camera.projectionMatrix).invert();
    this.dirty = true;
  }

  // Loads the manifest's scene, lightest level first; resolves when the first level shows.
  async show(manifest) {
    const token = ++this.loadToken;
    const plan = lodPlan(manifest.scene);
    this.markerSize = manifest.anchor?.marker_size_m || 0.15;
    this.offset = manifest.anchor?.offset || [0, 0, 0];
    this.hotspots = manifest.hotspots || [];
    if (!plan.length) throw new Error("This exhibit has no scene file.");
    for (const [i, lod] of plan.entries()) {
      const gltf = await loader().loadAsync(lod.url);
      if (token !== this.loadToken) return; // another exhibit was asked for meanwhile
      this.place(gltf.scene, lod);
      // Reported once it is on screen; the next level is decoded only after that, so a slow
      // device shows something before it spends time on the detailed one.
      await this.whenDrawn();
      if (token !== this.loadToken) return;
      this.onState({ state: i === 0 ? "model" : "refined", level: lod.level });
    }
  }

  whenDrawn() {
    return new Promise((resolve) => {
      this.extraFrame = resolve;
    });
  }

  place(object, lod) {
    if (this.model) {
      this.holder.remove(this.model);
      this.model.traverse((node) => {
        node.geometry?.dispose();
        if (node.material) [].concat(node.material).forEach((m) => m.dispose());
      });
    }
    // Scans are often open surfaces (or wound inside out): draw both sides of every face.
    object.traverse((node) => {
      if (node.material) for (const m of [].concat(node.material)) m.side = THREE.DoubleSide;
    });
    const box = new THREE.Box3().setFromObject(object);
    const size = box.getSize(new THREE.Vector3());
    const centre = box.getCenter(new THREE.Vector3());
    object.position.set(-centre.x, -box.min.y, -centre.z);
    this.model = object;
    this.model.userData.level = lod.level;
    this.holder.add(object);
    this.size = size;
    if (this.mode === "marker") {
      const footprint = Math.max(size.x, size.z, 1e-6);
      const scale = (FOOTPRINT_IN_MARKERS * this.markerSize) / footprint;
      this.holder.scale.setScalar(scale);
      // The model stands on the paper: its up (+y) along the marker's normal (+z).
      this.holder.rotation.set(Math.PI / 2, 0, 0);
      this.holder.position.set(...this.offset.map((v) => v * scale));
    } else {
      this.holder.scale.setScalar(1);
      // Far enough that the bounding sphere fits the narrower field of view, seen from a
      // little above, as a visitor standing by a display case would.
      const radius = size.length() / 2;
      const halfFov = THREE.MathUtils.degToRad(this.camera.fov / 2);
      const narrow = Math.min(halfFov, Math.atan(Math.tan(halfFov) * this.camera.aspect));
      const distance = (radius / Math.sin(narrow)) * 1.05;
      const direction = new THREE.Vector3(0.55, 0.45, 1).normalize();
      this.camera.near = distance / 100;
      this.camera.far = distance * 100;
      this.camera.position.copy(direction.multiplyScalar(distance)).add(new THREE.Vector3(0, size.y / 2, 0));
      this.camera.lookAt(0, size.y / 2, 0);
      this.camera.updateProjectionMatrix();
      this.orbitTarget = new THREE.Vector3(0, size.y / 2, 0);
    }
    this.drawHotspots();
    this.dirty = true;
  }

  drawHotspots(selected = -1) {
    this.hotspotGroup.clear();
    if (!this.model || !this.size) return;
    const r = Math.max(this.size.x, this.size.y, this.size.z) * 0.025;
    this.hotspots.forEach((spot, i) => {
      if (!spot.position) return;
      const dot = new THREE.Mesh(
        new THREE.SphereGeometry(i === selected ? r * 1.6 : r, 16, 12),
        new THREE.MeshBasicMaterial({ color: i === selected ? 0xffc400 : 0xd9480f }),
      );
      // hotspot positions are in the model's own coordinates, like the loaded scene
      dot.position.set(...spot.position).add(this.model.position);
      dot.raycast = () => {}; // picking goes through the markers to the surface
      this.hotspotGroup.add(dot);
    });
    this.dirty = true;
  }

  selectHotspot(index) {
    this.drawHotspots(index);
  }

  // Camera mode: a new pose from the server. Drawn smoothed between the ~5 poses a second.
  setPose(rvec, tvec) {
    const m = new THREE.Matrix4().fromArray(markerMatrix(rvec, tvec));
    const pose = { position: new THREE.Vector3(), quaternion: new THREE.Quaternion(), scale: new THREE.Vector3() };
    m.decompose(pose.position, pose.quaternion, pose.scale);
    this.target = pose;
    if (!this.current || !this.visible) this.current = { position: pose.position.clone(), quaternion: pose.quaternion.clone() };
    this.lastPoseAt = performance.now();
    this.visible = true;
  }

  hide() {
    this.visible = false;
  }

  // Draws only when something changed: an idle tablet (or a software renderer) must not spend
  // its CPU redrawing the same picture sixty times a second while it encodes camera frames.
  frame() {
    let changed = this.dirty;
    if (this.mode === "marker") {
      const shown = this.visible && Boolean(this.model);
      if (shown !== this.anchor.visible) changed = true;
      if (shown && this.target && this.current) {
        const far = this.current.position.distanceToSquared(this.target.position) > 1e-10;
        const turned = 1 - Math.abs(this.current.quaternion.dot(this.target.quaternion)) > 1e-9;
        if (far || turned || changed) {
          // Exponential smoothing: a third of the remaining way each frame, so 5 poses a
          // second glide instead of jumping.
          this.current.position.lerp(this.target.position, 0.35);
          this.current.quaternion.slerp(this.target.quaternion, 0.35);
          this.anchor.matrix.compose(this.current.position, this.current.quaternion, UNIT);
          this.anchor.matrixWorldNeedsUpdate = true;
          changed = true;
        }
      }
      this.anchor.visible = shown;
    }
    if (this.beforeRender?.()) changed = true;
    if (changed) {
      this.dirty = false;
      this.renderer.render(this.scene, this.camera);
    }
    if (this.extraFrame && this.model && !this.dirty) {
      const done = this.extraFrame;
      this.extraFrame = null;
      done();
    }
  }

  // The model's surface under a point of the canvas (CSS pixels), in the model's own
  // coordinates (those hotspots are stored in), or null.
  pick(x, y) {
    if (!this.model) return null;
    const ndc = new THREE.Vector2((x / this.canvas.clientWidth) * 2 - 1, 1 - (y / this.canvas.clientHeight) * 2);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const hit = ray.intersectObject(this.model, true)[0];
    if (!hit) return null;
    const position = this.model.worldToLocal(hit.point.clone());
    const normal = hit.face
      ? hit.face.normal.clone().transformDirection(hit.object.matrixWorld).normalize()
      : new THREE.Vector3(0, 1, 0);
    if (normal.dot(ray.ray.direction) > 0) normal.negate(); // the side the curator looks at
    const round = (v) => Math.round(v * 10000) / 10000;
    return { position: position.toArray().map(round), normal: normal.toArray().map(round) };
  }

  // Screen position (CSS pixels in the canvas) of the marker's centre, or null.
  markerCentreOnScreen() {
    if (!this.anchor.visible) return null;
    const p = new THREE.Vector3().setFromMatrixPosition(this.anchor.matrixWorld).project(this.camera);
    return { x: ((p.x + 1) / 2) * this.canvas.clientWidth, y: ((1 - p.y) / 2) * this.canvas.clientHeight };
  }

  dispose() {
    this.running = false;
    this._observer.disconnect();
    this.renderer.dispose();
  }
}
