// web/src/strip.js on photos that Debian's exiftool filled with a GPS position, XMP, a
// comment and text, then read back by exiftool: the cleaned file has none of them, keeps
// its image data byte for byte, and other files are left alone. Run by ctest (web.strip).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { crc32, deflateSync } from "node:zlib";

import { kindOf, strip } from "../src/strip.js";

// A 1x1 grey JPEG (JFIF, no metadata), as GdkPixbuf saves it.
const PLAIN_JPEG = Buffer.from(
  "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a1816" +
    "16183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c6567" +
    "63ffdb0043011112121815182f1a1a2f63423842636363636363636363636363636363636363636363636363" +
    "6363636363636363636363636363636363636363636363636363ffc000110800010001030122000211010311" +
    "01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303" +
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024" +
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566" +
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7" +
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400" +
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407" +
    "05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a" +
    "162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869" +
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9" +
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100" +
    "02110311003f0028a28a00ffd9",
  "hex",
);

function pngChunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

// A 2x2 8-bit grey PNG.
function plainPng() {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header[8] = 8;  // bit depth; colour type 0 (grey)
  const rows = Buffer.from([0, 0x40, 0x80, 0, 0xc0, 0xff]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(rows)),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

// A 1x1 lossless WebP (VP8L).
const PLAIN_WEBP = Buffer.from("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", "base64");

const folder = mkdtempSync(join(tmpdir(), "tipline-strip-"));
process.on("exit", () => rmSync(folder, { recursive: true, force: true }));

// The file with exiftool's GPS position, XMP creator and comment/description written in.
function withMetadata(name, bytes) {
  const path = join(folder, name);
  writeFileSync(path, bytes);
  execFileSync("exiftool", [
    "-q", "-overwrite_original",
    "-GPSLatitude=52.3753", "-GPSLatitudeRef=N", "-GPSLongitude=4.8897", "-GPSLongitudeRef=E",
    "-XMP-dc:Creator=Canary Witness", "-Comment=canary comment",
    "-EXIF:Artist=Canary Artist", "-PNG:Description=canary description", path,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  return readFileSync(path);
}

// Every tag exiftool finds in the file, as one flat object.
function tags(name, bytes) {
  const path = join(folder, name);
  writeFileSync(path, bytes);
  return JSON.parse(execFileSync("exiftool", ["-j", "-a", "-G1", path]).toString())[0];
}

async function cleaned(bytes) {
  const { blob, result } = await strip(new Blob([bytes]));
  return { bytes: Buffer.from(await blob.arrayBuffer()), result };
}

function assertNoCanary(name, bytes) {
  const found = tags(name, bytes);
  const text = JSON.stringify(found);
  for (const canary of ["GPS", "Canary", "canary", "XMP"]) {
    assert.ok(!text.includes(canary), `${name}: exiftool still finds ${canary}: ${text}`);
  }
  assert.ok(!bytes.includes("Exif\0\0"), `${name}: an Exif block is left`);
}

// The bytes from the first SOS marker to the end: the compressed image itself.
function jpegScan(bytes) {
  return bytes.subarray(bytes.indexOf(Buffer.from([0xff, 0xda])));
}

test("a JPEG loses its Exif GPS, XMP and comment, keeps JFIF and its scan, and drops a trailer",
  async () => {
    const dirty = Buffer.concat([withMetadata("in.jpg", PLAIN_JPEG), Buffer.from("trailer")]);
    assert.ok(JSON.stringify(tags("dirty.jpg", dirty)).includes("GPSLatitude"), "exiftool wrote GPS");
    const { bytes, result } = await cleaned(dirty);
    assert.equal(result, "stripped");
    assertNoCanary("out.jpg", bytes);
    assert.ok(bytes.subarray(0, 20).includes("JFIF"), "JFIF is kept");
    assert.deepEqual(jpegScan(bytes), jpegScan(PLAIN_JPEG));
    assert.ok(!bytes.includes("trailer"));
  });

test("a JPEG without metadata is sent as it is", async () => {
  const { bytes, result } = await cleaned(PLAIN_JPEG);
  assert.equal(result, "clean");
  assert.deepEqual(bytes, PLAIN_JPEG);
});

test("a PNG loses eXIf, text and XMP chunks and keeps its image chunks", async () => {
  const plain = plainPng();
  const dirty = withMetadata("in.png", plain);
  assert.ok(JSON.stringify(tags("dirty.png", dirty)).includes("GPS"), "exiftool wrote GPS");
  const { bytes, result } = await cleaned(dirty);
  assert.equal(result, "stripped");
  assertNoCanary("out.png", bytes);
  assert.deepEqual(bytes, plain);
});

test("a WebP loses EXIF and XMP chunks and their VP8X flags", async () => {
  const dirty = withMetadata("in.webp", PLAIN_WEBP);
  assert.ok(JSON.stringify(tags("dirty.webp", dirty)).includes("GPS"), "exiftool wrote GPS");
  const { bytes, result } = await cleaned(dirty);
  assert.equal(result, "stripped");
  assertNoCanary("out.webp", bytes);
  assert.equal(bytes.readUInt32LE(4), bytes.length - 8, "the RIFF size is the file's");
  assert.ok(bytes.includes(PLAIN_WEBP.subarray(12)), "the VP8L chunk is kept byte for byte");
  const flags = bytes[20];
  assert.equal(flags & 0x0c, 0, "no EXIF or XMP flag in VP8X");
});

test("other files and broken photos are sent as they are, and said so", async () => {
  const pdf = Buffer.from("%PDF-1.4\n% canary\n");
  assert.equal(await kindOf(new Blob([pdf])), "other");
  assert.deepEqual(await cleaned(pdf), { bytes: pdf, result: "unsupported" });
  const cut = PLAIN_JPEG.subarray(0, 300);
  assert.deepEqual(await cleaned(cut), { bytes: cut, result: "unreadable" });
  const badPng = Buffer.concat([plainPng().subarray(0, 20), Buffer.alloc(4, 0xff)]);
  assert.equal((await cleaned(badPng)).result, "unreadable");
  assert.equal((await cleaned(Buffer.from("RIFF\xff\xff\xff\x7fWEBP", "latin1"))).result, "unreadable");
});

test("damaged photos that decoders still show are cleaned too", async () => {
  const dirty = withMetadata("damaged.jpg", PLAIN_JPEG);
  // Cut off in its scan (no EOI): everything up to the cut is kept, the metadata is not.
  const cut = dirty.subarray(0, dirty.length - 4);
  const cutResult = await cleaned(cut);
  assert.equal(cutResult.result, "stripped");
  assertNoCanary("cut.jpg", cutResult.bytes);
  assert.deepEqual(jpegScan(cutResult.bytes), jpegScan(PLAIN_JPEG).subarray(0, jpegScan(PLAIN_JPEG).length - 4));
  // A stray byte between two segments is skipped, as decoders skip it.
  const stray = Buffer.concat([dirty.subarray(0, 20), Buffer.from([0x00]), dirty.subarray(20)]);
  const strayResult = await cleaned(stray);
  assert.equal(strayResult.result, "stripped");
  assertNoCanary("stray.jpg", strayResult.bytes);
  assert.deepEqual(jpegScan(strayResult.bytes), jpegScan(PLAIN_JPEG));
  // A PNG cut off in its image data.
  const png = withMetadata("damaged.png", plainPng());
  const pngResult = await cleaned(png.subarray(0, png.indexOf("IDAT") + 7));
  assert.equal(pngResult.result, "stripped");
  assertNoCanary("cut.png", pngResult.bytes);
  // A WebP whose last, odd-sized chunk lacks its padding byte gets it back.
  const webp = withMetadata("damaged.webp", PLAIN_WEBP);
  const odd = Buffer.concat([webp, Buffer.from("ABCD\x01\x00\x00\x00Z", "latin1")]);
  odd.writeUInt32LE(odd.length - 8, 4);
  const webpResult = await cleaned(odd);
  assert.equal(webpResult.result, "stripped");
  assertNoCanary("odd.webp", webpResult.bytes);
  assert.equal(webpResult.bytes.readUInt32LE(4), webpResult.bytes.length - 8);
});

test("a JFIF thumbnail, a copy of the photo as it was, is dropped", async () => {
  // PLAIN_JPEG's APP0 with a 1x1 thumbnail of three bytes.
  const app0 = Buffer.from("ffe00013" + "4a46494600010100000100010101" + "aabbcc", "hex");
  const withThumbnail = Buffer.concat([PLAIN_JPEG.subarray(0, 2), app0, PLAIN_JPEG.subarray(20)]);
  const { bytes, result } = await cleaned(withThumbnail);
  assert.equal(result, "stripped");
  assert.deepEqual(bytes.subarray(0, 20), Buffer.concat([PLAIN_JPEG.subarray(0, 18), Buffer.from([0, 0])]));
  assert.ok(!bytes.includes(Buffer.from("aabbcc", "hex")));
  assert.deepEqual(jpegScan(bytes), jpegScan(PLAIN_JPEG));
});

test("a large JPEG is cleaned in one streamed pass", async () => {
  // 64 MiB of scan data (no 0xFF, so no markers) between a real header and EOI.
  const header = withMetadata("big.jpg", PLAIN_JPEG);
  const sos = jpegScan(header);
  const scanHeaderLength = 2 + sos.readUInt16BE(2);
  const body = Buffer.alloc(64 * 1024 * 1024, 0x5a);
  const big = new Blob([header.subarray(0, header.length - sos.length + scanHeaderLength), body,
    Buffer.from([0xff, 0xd9])]);
  const started = Date.now();
  const { blob, result } = await strip(big);
  assert.equal(result, "stripped");
  // Its headers are cleaned as the small file's are; the scan data is all there.
  const small = (await cleaned(header)).bytes;
  const headers = small.subarray(0, small.length - jpegScan(small).length + scanHeaderLength);
  assert.equal(blob.size, headers.length + body.length + 2);
  assert.deepEqual(Buffer.from(await blob.slice(0, headers.length).arrayBuffer()), headers);
  console.log(`cleaned a 64 MiB JPEG in ${Date.now() - started} ms`);
});
