// Sends one report with one large attachment through the report page in Debian's Chromium
// (JavaScript on: cleaned, age-encrypted and uploaded by tus in the browser), and prints
// one JSON line: the seconds from submit to "sent", and the peak memory of Chromium while
// it ran (the page's JavaScript heap from DevTools, and the resident memory of all of
// Chromium's processes, sampled from /proc every 100 ms). For scripts/bench-web.
//
// Usage: node upload.mjs NODE_MODULES SOURCE_URL FILE
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";

const [nodeModules, sourceUrl, file] = process.argv.slice(2);
if (!nodeModules || !sourceUrl || !file) {
  console.error("usage: node upload.mjs NODE_MODULES SOURCE_URL FILE");
  process.exit(2);
}
const { chromium } = createRequire(join(nodeModules, "resolve-from-here.js"))("playwright-core");

// The proportional set size (resident memory, shared pages divided among the processes
// that share them, so that summing does not count them twice), in bytes, of every process
// whose command line names `marker` (Chromium passes its --user-data-dir to each).
function chromiumPss(marker) {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) continue;
      const rollup = readFileSync(`/proc/${entry}/smaps_rollup`, "utf8");
      total += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

const profile = mkdtempSync(join(tmpdir(), "tipline-bench-web-"));
process.on("exit", () => rmSync(profile, { recursive: true, force: true }));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  ignoreHTTPSErrors: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await context.newPage();
const devtools = await context.newCDPSession(page);
await devtools.send("Performance.enable");
await page.goto(`${sourceUrl}/report`);
await page.waitForFunction(() => document.documentElement.dataset.mode === "browser", null,
  { timeout: 10000 });
await page.fill("#q-what_happened", "A benchmark report with one large file.");
const blankPss = chromiumPss(profile);
await page.setInputFiles("#attachments", file);
await page.waitForTimeout(1000);

const idlePss = chromiumPss(profile);
let peakPss = idlePss;
let peakHeap = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    peakPss = Math.max(peakPss, chromiumPss(profile));
    const { metrics } = await devtools.send("Performance.getMetrics");
    const heap = metrics.find((metric) => metric.name === "JSHeapTotalSize")?.value ?? 0;
    peakHeap = Math.max(peakHeap, heap);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
})();

const started = Date.now();
await page.click("button[type=submit]");
await page.waitForSelector("#codename-value", { timeout: 120000 });
const codename = await page.textContent("#codename-value");
await page.fill("#codename-retype", codename);
await page.click("#codename-confirm");
await page.waitForFunction(() => ["sent", "failed"].includes(document.documentElement.dataset.flow),
  null, { timeout: 3600000, polling: 500 });
const seconds = (Date.now() - started) / 1000;
const flow = await page.evaluate(() => document.documentElement.dataset.flow);
sampling = false;
await sampler;
await context.close();
console.log(JSON.stringify({ flow, seconds, blank_pss: blankPss, idle_pss: idlePss, peak_pss: peakPss, peak_js_heap: peakHeap }));
if (flow !== "sent") process.exit(1);
