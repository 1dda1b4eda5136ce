// Decode a (Draco- or meshopt-compressed, possibly quantised) GLB with the reference decoders
// that three.js also uses, and write its triangles in world space for the Python side:
//   node decode.mjs IN.glb OUT.bin
// OUT.bin: uint32 vertexCount, uint32 triangleCount, float32 xyz × vertexCount,
//          uint32 indices × 3·triangleCount (all primitives merged).
// Prints one JSON line: {primitives: [{attributes: [...], vertices, triangles, uvRange}], extensions}.
import { writeFileSync } from 'node:fs';
import { NodeIO } from '@gltf-transform/core';
import { ALL_EXTENSIONS } from '@gltf-transform/extensions';
import draco3d from 'draco3dgltf';
import { MeshoptDecoder } from 'meshoptimizer';

const [input, output] = process.argv.slice(2);
await MeshoptDecoder.ready;
const io = new NodeIO()
  .registerExtensions(ALL_EXTENSIONS)
  .registerDependencies({
    'draco3d.decoder': await draco3d.createDecoderModule(),
    'meshopt.decoder': MeshoptDecoder,
  });
const doc = await io.read(input);
const root = doc.getRoot();

function floats(accessor) {
  const raw = accessor.getArray();
  const out = new Float32Array(raw.length);
  let scale = 1;
  if (accessor.getNormalized()) {
    const max = { 5120: 127, 5121: 255, 5122: 32767, 5123: 65535 }[accessor.getComponentType()];
    scale = 1 / max;
  }
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] * scale;
  if (accessor.getNormalized()) for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], -1);
  return out;
}

const positions = [];
const indices = [];
const primitives = [];
let base = 0;
for (const scene of root.listScenes()) {
  scene.traverse((node) => {
    const mesh = node.getMesh();
    if (!mesh) return;
    const m = node.getWorldMatrix();
    for (const prim of mesh.listPrimitives()) {
      const pos = floats(prim.getAttribute('POSITION'));
      const n = pos.length / 3;
      for (let i = 0; i < n; i++) {
        const x = pos[3 * i], y = pos[3 * i + 1], z = pos[3 * i + 2];
        positions.push(
          m[0] * x + m[4] * y + m[8] * z + m[12],
          m[1] * x + m[5] * y + m[9] * z + m[13],
          m[2] * x + m[6] * y + m[10] * z + m[14]);
      }
      const idx = prim.getIndices() ? prim.getIndices().getArray() : null;
      const count = idx ? idx.length : n;
      for (let i = 0; i < count; i++) indices.push(base + (idx ? idx[i] : i));
      base += n;
      const info = { attributes: prim.listSemantics(), vertices: n, triangles: count / 3 };
      const uv = prim.getAttribute('TEXCOORD_0');
      if (uv) {
        const a = floats(uv);
        let lo = Infinity, hi = -Infinity;
        for (const value of a) { lo = Math.min(lo, value); hi = Math.max(hi, value); }
        info.uvRange = [lo, hi];
      }
      primitives.push(info);
    }
  });
}
const header = new Uint32Array([positions.length / 3, indices.length / 3]);
writeFileSync(output, Buffer.concat([
  Buffer.from(header.buffer),
  Buffer.from(new Float32Array(positions).buffer),
  Buffer.from(new Uint32Array(indices).buffer),
]));
console.log(JSON.stringify({ primitives, extensions: root.listExtensionsUsed().map((e) => e.extensionName) }));
