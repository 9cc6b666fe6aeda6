// Fills a tip line with COUNT reports through the source API, as browsers would send them:
// each a report document (tipline-report/1), Padmé-padded and age-encrypted with the npm
// age-encryption package to the recipients of GET /api/v1/keys, then POSTed as
// {"report": BASE64} over TLS keep-alive, CONCURRENCY at a time. For scripts/bench-review.
//
// Usage: node feed.mjs NODE_MODULES SOURCE_URL COUNT CONCURRENCY
// The server's certificate must be trusted through NODE_EXTRA_CA_CERTS. Answers other than
// 201 stop the run with exit status 1. Every 97th report's text holds "needle-97", so a
// search has a known number of hits: floor((COUNT - 1) / 97) + 1.
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, sourceUrl, countText, concurrencyText] = process.argv.slice(2);
const count = Number(countText);
const concurrency = Number(concurrencyText);
if (!nodeModules || !sourceUrl || !(count > 0) || !(concurrency > 0)) {
  console.error("usage: node feed.mjs NODE_MODULES SOURCE_URL COUNT CONCURRENCY");
  process.exit(2);
}
const entry = createRequire(join(nodeModules, "resolve-from-here.js")).resolve("age-encryption");
const age = await import(pathToFileURL(entry).href);

const keys = await fetch(`${sourceUrl}/api/v1/keys`);
if (keys.status !== 200) throw new Error(`GET /api/v1/keys answered ${keys.status}`);
const recipients = JSON.parse((await keys.json()).bundle).recipients.map((r) => r.age);

const types = ["surveillance", "family_pressure", "police_station", "online_threats", "other"];
const countries = ["NL", "DE", "FR", "GB", "US", "CA", "AU", "SE", "RS", "HR"];

// crypto/include/tipline/crypto/padding.h: m || 0x80 || zeros, Padmé length of |m| + 1.
function padmeLength(length) {
  if (length <= 8) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const mask = 2 ** (e - s) - 1;
  return Math.floor((length + mask) / (mask + 1)) * (mask + 1);
}
function pad(bytes) {
  const padded = new Uint8Array(padmeLength(bytes.length + 1));
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  return padded;
}

function report(i) {
  const answers = {
    what_happened:
      `Report ${i}: a man who said he was from the consulate visited my family twice` +
      (i % 97 === 0 ? " (needle-97)." : "."),
    when: `${2020 + (i % 6)}-${String(1 + (i % 12)).padStart(2, "0")}`,
    country: countries[i % countries.length],
    incident_type: [types[i % types.length]],
  };
  return new TextEncoder().encode(JSON.stringify({ format: "tipline-report/1", answers }));
}

async function submit(i) {
  const encrypter = new age.Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  const sealed = await encrypter.encrypt(pad(report(i)));
  const answer = await fetch(`${sourceUrl}/api/v1/submissions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ report: Buffer.from(sealed).toString("base64") }),
  });
  if (answer.status !== 201) {
    throw new Error(`report ${i}: POST /api/v1/submissions answered ${answer.status}`);
  }
  await answer.arrayBuffer();
}

let next = 0;
async function worker() {
  while (next < count) await submit(next++);
}
try {
  await Promise.all(Array.from({ length: concurrency }, worker));
} catch (error) {
  console.error(`feed: ${error.message}`);
  process.exit(1);
}
