// Writes every CCTV age test vector from the npm package `cctv-age` to a folder, one file
// per vector with its upstream name, byte for byte.
// Usage: node extract-cctv.mjs PATH/TO/node_modules/cctv-age/index.js OUT_DIR
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [module, out] = process.argv.slice(2);
if (!module || !out) {
  console.error("usage: node extract-cctv.mjs PATH/TO/cctv-age/index.js OUT_DIR");
  process.exit(2);
}
const vectors = await import(pathToFileURL(resolve(module)).href);
mkdirSync(out, { recursive: true });
let count = 0;
for (const [name, bytes] of Object.entries(vectors)) {
  if (!(bytes instanceof Uint8Array)) continue;
  writeFileSync(join(out, name), bytes);
  count += 1;
}
if (count === 0) {
  console.error("cctv-age holds no vectors");
  process.exit(1);
}
console.log(`extracted ${count} age test vectors to ${out}`);
