// Removing hidden details (Exif with GPS, XMP, IPTC, comments, text chunks) from photos in
// the browser, before they are encrypted. The pixels are never decoded or re-encoded: the
// cleaned file is the original's image segments in their order, as a Blob made of slices of
// the original, so even a large file is never held in memory.
//
// kindOf(file) tells what a file is from its first bytes (never from its name): "jpeg",
// "png", "webp" or "other". strip(file) gives { blob, result }, result being "stripped"
// (details were removed), "clean" (there were none) or "unreadable" (not a well-formed file
// of its kind: it is sent as it is, and the page says so).

const JPEG_SOI = [0xff, 0xd8, 0xff];
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes, prefix, at = 0) {
  return prefix.every((byte, i) => bytes[at + i] === byte);
}

function ascii(bytes, at, length) {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

async function read(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

export async function kindOf(file) {
  const head = await read(file, 0, 12);
  if (startsWith(head, JPEG_SOI)) return "jpeg";
  if (startsWith(head, PNG_SIGNATURE)) return "png";
  if (head.length === 12 && ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 4) === "WEBP") {
    return "webp";
  }
  return "other";
}

class Unreadable extends Error {}

// JPEG: every marker segment before and between scans is looked at; APPn and COM segments
// are dropped except the three that change how pixels look (JFIF, an ICC colour profile,
// Adobe's colour transform). The first image ends at its EOI: anything after it (thumbnails
// and depth maps of MPF, vendor trailers) is dropped too. Entropy-coded data is copied.
const KEPT_APP_SEGMENTS = [
  [0xe0, "JFIF\0"],
  [0xe2, "ICC_PROFILE\0"],
  [0xee, "Adobe"],
];

function keepsSegment(marker, payloadStart) {
  if (marker === 0xfe) return false;  // COM
  if (marker < 0xe0 || marker > 0xef) return true;  // not APPn
  return KEPT_APP_SEGMENTS.some(
    ([kept, id]) => kept === marker && ascii(payloadStart, 0, id.length) === id,
  );
}

// The bytes of the JFIF APP0 header up to its thumbnail: "JFIF\0", version, density units,
// densities, thumbnail width and height.
const JFIF_BYTES = 14;

// The parts that make the cleaned JPEG, found in one streamed pass over the file: segment
// headers are read a byte at a time, scan data a chunk at a time.
async function jpegParts(file) {
  const reader = file.stream().getReader();
  let chunk = new Uint8Array(0);
  let chunkStart = 0;  // file offset of chunk[0]
  let ended = false;
  // The byte at file offset `at`, reading on as needed; -1 past the end of the file.
  async function byteAt(at) {
    while (at >= chunkStart + chunk.length) {
      if (ended) return -1;
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        return -1;
      }
      chunkStart += chunk.length;
      chunk = value;
    }
    if (at < chunkStart) throw new Error("jpegRanges reads forward only");
    return chunk[at - chunkStart];
  }
  async function bytes(at, length) {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; ++i) {
      const byte = await byteAt(at + i);
      if (byte < 0) throw new Unreadable();
      out[i] = byte;
    }
    return out;
  }

  // Parts of the output: [start, end) ranges of the file, or replacement bytes.
  const parts = [[0, 2]];  // SOI
  const keep = (start, end) => {
    const last = parts[parts.length - 1];
    if (Array.isArray(last) && last[1] === start) last[1] = end;
    else parts.push([start, end]);
  };
  let removed = false;
  let at = 2;
  let inScan = false;
  try {
    for (;;) {
      let byte = await byteAt(at);
      if (byte < 0) {
        // No EOI: decoders show what the scans hold, so the file is kept to its end.
        if (inScan) break;
        throw new Unreadable();
      }
      if (byte !== 0xff) {
        // Entropy-coded data within a scan; between segments, stray bytes that decoders
        // skip (and so does this). Either way up to the next 0xFF in the chunk at hand.
        const next = chunk.indexOf(0xff, at - chunkStart);
        const end = next < 0 ? chunkStart + chunk.length : chunkStart + next;
        if (inScan) keep(at, end);
        else removed = true;
        at = end;
        continue;
      }
      // A marker: 0xFF, optional fill bytes 0xFF, then its code.
      let codeAt = at + 1;
      while ((byte = await byteAt(codeAt)) === 0xff) ++codeAt;
      if (byte < 0) {
        if (inScan) break;
        throw new Unreadable();
      }
      const marker = byte;
      if (inScan && (marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7))) {
        keep(at, codeAt + 1);  // stuffed 0xFF00 or a restart marker: still scan data
        at = codeAt + 1;
        continue;
      }
      if (marker === 0xd9) {  // EOI: the end of the first image
        keep(at, codeAt + 1);
        if ((await byteAt(codeAt + 1)) >= 0) removed = true;  // a trailer is dropped
        break;
      }
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8) || marker === 0x00) {
        throw new Unreadable();  // standalone markers do not belong here
      }
      const lengthBytes = await bytes(codeAt + 1, 2);
      const length = (lengthBytes[0] << 8) | lengthBytes[1];
      if (length < 2) throw new Unreadable();
      const end = codeAt + 1 + length;
      const probe = await bytes(codeAt + 3, Math.min(JFIF_BYTES, length - 2));
      if (!keepsSegment(marker, probe)) {
        removed = true;
      } else if (marker === 0xe0 && probe.length === JFIF_BYTES && probe[12] * probe[13] > 0) {
        // A JFIF thumbnail is a small copy of the photo, as it was before any editing:
        // the header is kept without it.
        const header = new Uint8Array(4 + JFIF_BYTES);
        header.set([0xff, 0xe0, 0x00, 2 + JFIF_BYTES]);
        header.set(probe.subarray(0, 12), 4);
        parts.push(header);
        removed = true;
      } else {
        keep(at, end);
      }
      // Reach the end of the segment, so that the next read starts there.
      if ((await byteAt(end - 1)) < 0) throw new Unreadable();
      at = end;
      inScan = marker === 0xda;  // SOS: entropy-coded data follows its header
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return { parts, removed };
}

// PNG: the signature, then only the chunks that define the image (critical chunks, colour
// and transparency, physical size, animation); text (tEXt, zTXt, iTXt), Exif (eXIf), time
// stamps (tIME) and any unknown chunk are dropped, as is anything after IEND.
const PNG_KEPT = new Set([
  "IHDR", "PLTE", "IDAT", "IEND", "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB", "cICP",
  "mDCv", "cLLi", "bKGD", "hIST", "pHYs", "sPLT", "acTL", "fcTL", "fdAT",
]);

async function pngParts(file) {
  const parts = [file.slice(0, 8)];
  let removed = false;
  let imageData = false;
  let at = 8;
  for (;;) {
    const header = await read(file, at, at + 8);
    if (header.length < 8) {
      // Cut off before IEND: decoders show the image data there is, and so is it kept.
      if (imageData) break;
      throw new Unreadable();
    }
    const length = new DataView(header.buffer).getUint32(0);
    const type = ascii(header, 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new Unreadable();
    const end = at + 12 + length;
    if (end > file.size) {
      if (type !== "IDAT") throw new Unreadable();
      parts.push(file.slice(at));
      break;
    }
    if (PNG_KEPT.has(type)) parts.push(file.slice(at, end));
    else removed = true;
    imageData ||= type === "IDAT";
    at = end;
    if (type === "IEND") break;
  }
  if (at < file.size) removed = true;
  return { parts, removed };
}

// WebP: the RIFF container's chunks that define the image are kept; EXIF and XMP chunks (and
// unknown ones) are dropped, the VP8X header's flags for them cleared, the RIFF size fixed.
const WEBP_KEPT = new Set(["VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP"]);
const VP8X_EXIF_FLAG = 0x08;
const VP8X_XMP_FLAG = 0x04;

// A VP8X chunk holds 10 bytes; anything much larger is not one.
const VP8X_MAX_BYTES = 64;
const WEBP_IMAGE = new Set(["VP8 ", "VP8L", "ANMF"]);

async function webpParts(file) {
  const head = await read(file, 0, 12);
  const riffEnd = 8 + new DataView(head.buffer).getUint32(4, true);
  if (riffEnd > file.size) throw new Unreadable();
  const parts = [];
  let body = 4;  // "WEBP"
  let removed = riffEnd < file.size;
  let image = false;
  let at = 12;
  while (at < riffEnd) {
    const header = await read(file, at, at + 8);
    if (header.length < 8) throw new Unreadable();
    const type = ascii(header, 0, 4);
    const size = new DataView(header.buffer).getUint32(4, true);
    let end = at + 8 + size + (size % 2);
    // The last chunk's padding byte is sometimes missing; decoders accept that, and the
    // cleaned file gets it back.
    const padMissing = end === riffEnd + 1 && size % 2 === 1;
    if (padMissing) end = riffEnd;
    if (end > riffEnd) throw new Unreadable();
    const chunkParts = [];
    if (type === "VP8X") {
      if (size < 10 || size > VP8X_MAX_BYTES) throw new Unreadable();
      const chunk = await read(file, at, end);
      if (chunk[8] & (VP8X_EXIF_FLAG | VP8X_XMP_FLAG)) removed = true;
      chunk[8] &= ~(VP8X_EXIF_FLAG | VP8X_XMP_FLAG);
      chunkParts.push(chunk);
    } else if (WEBP_KEPT.has(type)) {
      chunkParts.push(file.slice(at, end));
      image ||= WEBP_IMAGE.has(type);
    } else {
      removed = true;
    }
    if (chunkParts.length > 0 && padMissing) chunkParts.push(new Uint8Array(1));
    for (const part of chunkParts) {
      parts.push(part);
      body += part instanceof Blob ? part.size : part.length;
    }
    at = end;
  }
  if (!image) throw new Unreadable();
  const riff = new Uint8Array(12);
  riff.set(head.subarray(0, 12));
  new DataView(riff.buffer).setUint32(4, body, true);
  return { parts: [riff, ...parts], removed };
}

export async function strip(file) {
  const kind = await kindOf(file);
  try {
    if (kind === "jpeg") {
      const { parts, removed } = await jpegParts(file);
      if (!removed) return { blob: file, result: "clean" };
      const pieces = parts.map((part) => (Array.isArray(part) ? file.slice(...part) : part));
      return { blob: new Blob(pieces), result: "stripped" };
    }
    if (kind === "png" || kind === "webp") {
      const { parts, removed } = await (kind === "png" ? pngParts(file) : webpParts(file));
      if (!removed) return { blob: file, result: "clean" };
      return { blob: new Blob(parts), result: "stripped" };
    }
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error;
    return { blob: file, result: "unreadable" };
  }
  return { blob: file, result: "unsupported" };
}
