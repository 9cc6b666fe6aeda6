// The browser scenarios of tests/browser_test.cpp: Debian's Chromium, headless, driven by
// playwright-core against a tipline-server serving a demo instance over TLS on loopback.
//
//   node tests/browser/driver.mjs SCENARIO --base https://127.0.0.1:PORT
//        [--artifacts DIR] [--deadline SECONDS] [FILE...]
//
//   nojs FILE...  the report with JavaScript off: every question answered, FILEs attached,
//                 the codename retyped, the submitted page reached
//   js FILE...    the same through the JavaScript layer (tests/browser/README.md), the last
//                 FILE's upload taken offline for 2 s and paused then resumed on the way
//   fallback      a browser that lacks what the layer needs (here: not a secure context)
//                 keeps the no-JavaScript form, says so, and the form still sends
//   rtl           /?lang=ug and /report?lang=ug are right-to-left Uyghur pages
//   pages         axe-core on every page in English and Uyghur, with screenshots in DIR
//   decode FILE   Chromium decodes FILE as an image; prints its size
//
// Every scenario fails on a request to another origin than --base, a CSP violation or an
// uncaught page error, listing each. Prints "note: ..." lines and last a line
// "RESULT {json}". Exit status: 0 passed, 1 failed (the reasons on stderr), 2 usage,
// 77 skipped (the reason on stdout), as when the server lacks what a scenario needs yet.
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

import {
  axeViolations,
  fillEveryQuestion,
  languageOf,
  launch,
  sleep,
  trackUploads,
  watchedContext as newWatchedContext,
} from './browser.mjs';

const SKIP = 77;

class Failure extends Error {}
class Skip extends Error {}

let options;
try {
  options = parseArgs({
    allowPositionals: true,
    options: {
      base: { type: 'string' },
      artifacts: { type: 'string' },
      deadline: { type: 'string', default: '600' },
    },
  });
} catch (error) {
  console.error(`driver: ${error.message}`);
  process.exit(2);
}
const [scenario, ...files] = options.positionals;
const base = options.values.base;
const artifacts = options.values.artifacts;
const scenarios = { nojs, js, fallback, rtl, pages, decode };
if (!(scenario in scenarios) || (scenario !== 'decode' && !base)) {
  console.error('usage: node driver.mjs nojs|js|fallback|rtl|pages|decode --base URL [--artifacts DIR] ' +
    '[--deadline SECONDS] [FILE...]');
  process.exit(2);
}

// What every context of the run saw, reported even when a scenario fails half-way.
const watches = [];
async function watchedContext(...args) {
  const made = await newWatchedContext(...args);
  watches.push(made.watch);
  return made;
}

const notes = [];
function note(text) {
  notes.push(text);
  console.log(`note: ${text}`);
}

function path(url) {
  return new URL(url).pathname;
}

// GET `target` on the server; fails unless it answers `status`.
async function open(page, target, status = 200) {
  const response = await page.goto(new URL(target, base).href, { timeout: 30_000 });
  if (response?.status() !== status) {
    throw new Failure(`GET ${target} answered ${response?.status()}, not ${status}`);
  }
}

// Clicks the form's submit button and waits for the page the POST to `action` answers.
async function submitForm(page, action, timeout) {
  const answered = page.waitForResponse(
    (response) => response.request().method() === 'POST' && path(response.url()) === action,
    { timeout },
  );
  // The answer's page has replaced the form once the main frame navigated.
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame(),
    timeout,
  });
  navigated.catch(() => {});  // awaited below, unless the answer never came
  await page.locator('main form button[type=submit]').first().click({ noWaitAfter: true });
  const response = await answered;
  await navigated;
  await page.waitForLoadState('load', { timeout: 30_000 });
  return response;
}

async function heading(page) {
  return ((await page.locator('main h1').first().textContent({ timeout: 5_000 })) ?? '').trim();
}

// The no-JavaScript codename page: retypes the codename it shows (as displayed, with its
// spaces) and waits for the page that follows. Returns the codename.
async function retypeCodename(page) {
  const codename = ((await page.locator('main .codename').first().textContent()) ?? '').trim();
  if (!/^[0-9]{4}( [0-9]{4}){5}$/.test(codename)) {
    throw new Failure(`the codename page shows "${codename}", not 24 digits in groups of four`);
  }
  await page.locator('main input[name=codename]').pressSequentially(codename);
  const confirmed = await submitForm(page, '/codename', 60_000);
  if (confirmed.status() !== 200) {
    throw new Failure(`POST /codename answered ${confirmed.status()}: ${await heading(page)}`);
  }
  if ((await page.locator('main input[name=codename_shown]').count()) > 0) {
    throw new Failure(`the retyped codename was not accepted: ${await heading(page)}`);
  }
  return codename;
}

// With JavaScript off: the form filled, FILES attached, posted, the codename retyped.
async function nojs(browser) {
  const { context } = await watchedContext(browser, base, { javaScriptEnabled: false });
  const page = await context.newPage();
  await open(page, '/report');
  const answers = await fillEveryQuestion(page, 'nojs');
  await page.locator('main input[type=file]').setInputFiles(files);
  const started = Date.now();
  const posted = await submitForm(page, '/report', 300_000);
  const seconds = (Date.now() - started) / 1000;
  const shown = await page.locator('main input[name=codename_shown]').count();
  if (posted.status() !== 200 || shown !== 1) {
    throw new Failure(`POST /report answered ${posted.status()}, not the codename page: ` +
      `${await heading(page)}`);
  }
  const codename = await retypeCodename(page);
  return { answers, codename, submitted: await heading(page), seconds };
}

// Polls `probe` every 50 ms until it returns something truthy, and returns that; fails
// with `what` after `timeout` ms.
async function until(probe, timeout, what) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Failure(`timed out after ${timeout / 1000} s: ${what}`);
    await sleep(50);
  }
}

const percent = (fraction) => `${Math.round(100 * fraction)} %`;

// With JavaScript on: the same report through the JavaScript layer (tests/browser/README.md),
// the last file's upload cut off by going offline, then paused and resumed.
async function js(browser) {
  const { context, watch } = await watchedContext(browser, base);
  const tracker = await trackUploads(context);
  const page = await context.newPage();
  await open(page, '/report');
  const mode = await page
    .waitForFunction(() => document.documentElement.dataset.mode === 'browser', null, {
      timeout: 10_000,
    })
    .then(() => 'browser')
    .catch(() => page.evaluate(() => document.documentElement.dataset.mode ?? '(unset)'));
  if (mode !== 'browser') {
    const said = await page.locator('#mode').textContent().catch(() => '');
    throw new Skip('the JavaScript layer did not take over /report within 10 s ' +
      `(data-mode is "${mode}"; #mode says "${(said ?? '').trim()}")`);
  }
  const answers = await fillEveryQuestion(page, 'js');
  await page.locator('main input[type=file]').setInputFiles(files);
  // Slower than loopback, as over Tor, so that a PATCH is often under way: DevTools
  // throttling. Going offline goes through the same DevTools session (emulated network
  // conditions are per session: Playwright's context.setOffline would not override these).
  const devtools = await context.newCDPSession(page);
  const network = (offline) =>
    devtools.send('Network.emulateNetworkConditions', {
      offline,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 8 * 1024 * 1024,
    });
  await network(false);
  const started = Date.now();
  await page.locator('main form button[type=submit]').first().click();

  // The codename is confirmed whenever it appears, while the files upload.
  const codenameConfirmed = (async () => {
    const shown = page.locator('#codename-value');
    await shown.waitFor({ state: 'visible', timeout: 120_000 });
    const codename = ((await shown.textContent()) ?? '').trim();
    // Filled at once: key by key, each key waits for a main thread busy encrypting.
    await page.locator('#codename-retype').fill(codename, { timeout: 60_000 });
    await page.locator('#codename-confirm').click({ timeout: 60_000 });
    return codename;
  })();
  codenameConfirmed.catch(() => {});  // awaited below, which reports its failure

  // The largest file, the last, is the one to interrupt: its row, found by name.
  const name = basename(files.at(-1));
  await until(() => tracker.rows.length === files.length, 60_000,
    `${files.length} rows in #uploads`);
  const named = tracker.rows.findIndex((row) => row.text.includes(name));
  const index = named >= 0 ? named : files.length - 1;
  const row = () => tracker.rows[index];
  const log = {};

  // Offline from past 30 % for at least 2 s, and until the loss shows (a failed request or
  // the row retrying): the next PATCH may wait for the browser to encrypt its window.
  const before = await until(() => (row().fraction >= 0.3 || row().state === 'done') && row(),
    300_000, `the upload of ${name} passing 30 %`);
  if (before.state === 'done') {
    throw new Failure(`the upload of ${name} finished before it could be interrupted`);
  }
  const failedBefore = watch.failed.length;
  const offline = Date.now();
  await network(true);
  await sleep(2000);
  const lost = () => watch.failed.length > failedBefore || row().state === 'retrying';
  const noticed = await until(lost, 15_000, `the upload of ${name} noticing the network gone`)
    .catch((error) => error);
  await network(false);
  if (noticed instanceof Error) throw noticed;
  log.offline = {
    from: percent(before.fraction),
    seconds: (Date.now() - offline) / 1000,
    failed: watch.failed.slice(failedBefore).map((f) => `${f.method} ${path(f.url)}: ${f.error}`),
  };
  const resumed = await until(
    () => row().state === 'uploading' && row().fraction > before.fraction && row(), 60_000,
    `the upload of ${name} going on after the network came back`);

  // Paused: the row says so, its button says something else, and nothing more is sent.
  if (resumed.fraction >= 0.95) throw new Failure(`the upload of ${name} ended before a pause`);
  // A click event straight on the button: a pointer click waits for the page to answer its
  // checks between seconds of encryption, while rows and the codename panel move it around.
  const pauseButton = page.locator('#uploads li.upload').nth(index).locator('button.pause');
  await pauseButton.dispatchEvent('click');
  const paused = await until(() => row().state === 'paused' && row(), 20_000,
    `the row of ${name} showing data-state="paused" after a click on its pause button`);
  const pausedAt = Date.now();
  await sleep(2000);
  const during = tracker.changes.filter((c) => c.index === index && c.time > pausedAt);
  if (row().state !== 'paused' || during.some((change) => change.fraction > paused.fraction)) {
    throw new Failure(`the upload of ${name} went on while paused: ` +
      `at ${percent(paused.fraction)} when paused, then ` +
      during.map((c) => `${c.state} ${percent(c.fraction)}`).join(', '));
  }
  if (paused.button === resumed.button) {
    throw new Failure(`the pause button still says "${paused.button}" once paused`);
  }
  log.paused = { at: percent(paused.fraction), button: [resumed.button, paused.button] };
  await pauseButton.dispatchEvent('click');
  await until(() => row().state !== 'paused', 20_000,
    `the row of ${name} leaving "paused" after a second click on its button`);

  const codename = await codenameConfirmed;
  await page.locator('#report-sent, #report-failed').first()
    .waitFor({ state: 'visible', timeout: 300_000 });
  if (await page.locator('#report-failed').isVisible()) {
    throw new Failure(`the report failed: ${await page.locator('#report-failed').textContent()}`);
  }
  const flow = await page.evaluate(() => document.documentElement.dataset.flow);
  if (flow !== 'sent') throw new Failure(`#report-sent shows, but data-flow is "${flow}"`);
  const finished = tracker.rows.map((each) => each.state);
  if (finished.some((state) => state !== 'done')) {
    throw new Failure(`#report-sent shows with uploads in states ${finished.join(', ')}`);
  }
  log.states = [...new Set(tracker.changes.filter((c) => c.index === index).map((c) => c.state))];
  log.patches = watch.requests.filter((line) => line.startsWith('PATCH ')).length;
  const seconds = (Date.now() - started) / 1000;
  return { answers, codename, seconds, upload: log };
}

function localised(target, language) {
  if (language === 'en') return target;
  return `${target}${target.includes('?') ? '&' : '?'}lang=${language}`;
}

// A browser without WebCrypto (outside a secure context) cannot encrypt: the layer leaves
// the form to post as it does without JavaScript, and the notice at its top says so.
async function fallback(browser) {
  const { context } = await watchedContext(browser, base);
  await context.addInitScript(() => {
    Object.defineProperty(window, 'isSecureContext', { value: false });
  });
  const page = await context.newPage();
  await open(page, '/report');
  await until(async () => (await page.evaluate(() => document.documentElement.dataset.mode)) !== undefined,
    10_000, 'the layer to choose a mode');
  const seen = await page.evaluate(() => ({
    mode: document.documentElement.dataset.mode,
    notice: document.getElementById('mode')?.textContent ?? '',
    expected: JSON.parse(document.getElementById('report').dataset.strings).mode_fallback,
  }));
  if (seen.mode !== 'server') throw new Failure(`data-mode is "${seen.mode}", not "server"`);
  if (seen.notice !== seen.expected) {
    throw new Failure(`the notice says "${seen.notice}", not the fallback text "${seen.expected}"`);
  }
  await fillEveryQuestion(page, 'fallback');
  const posted = await submitForm(page, '/report', 60_000);
  if (posted.status() !== 200) throw new Failure(`POST /report answered ${posted.status()}`);
  const codename = await retypeCodename(page);
  return { mode: seen.mode, codename: codename.length };
}

// Uyghur pages are right to left.
async function rtl(browser) {
  const { context } = await watchedContext(browser, base);
  const page = await context.newPage();
  const found = {};
  for (const target of ['/?lang=ug', '/report?lang=ug']) {
    await open(page, target);
    found[target] = await languageOf(page);
  }
  if (found['/?lang=ug'].lang === 'en') {
    throw new Skip('the server does not honour ?lang= yet: /?lang=ug is <html lang="en">');
  }
  const wrong = Object.entries(found)
    .filter(([, seen]) => seen.lang !== 'ug' || seen.dir !== 'rtl' || seen.mainDirection !== 'rtl')
    .map(([target, seen]) => `${target}: <html lang="${seen.lang}" dir="${seen.dir}">, ` +
      `main's computed direction ${seen.mainDirection}`);
  if (wrong.length > 0) throw new Failure(`not right-to-left Uyghur: ${wrong.join('; ')}`);
  return found;
}

// axe-core on every page, in English and Uyghur, each page also photographed. The pages
// without JavaScript are scanned in a context that runs JavaScript (axe needs it) but never
// gets the page's own script: what a browser with JavaScript off shows. The report page is
// scanned again with the JavaScript layer, through its codename and sent states when it
// takes over.
async function pages(browser) {
  mkdirSync(artifacts, { recursive: true });
  const scanned = [];
  const screenshots = [];
  const visit = async (page, language, name, expectLanguage = true) => {
    const seen = await languageOf(page);
    if (expectLanguage && seen.lang !== language) {
      note(`${name} in ${language}: the page is <html lang="${seen.lang}">`);
    }
    const file = join(artifacts, `${language}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
    const violations = await axeViolations(page);
    scanned.push({ page: `${language} ${name}`, url: page.url(), violations });
  };

  const languages = ['en'];
  {
    const { context } = await watchedContext(browser, base);
    const page = await context.newPage();
    await open(page, '/?lang=ug');
    if ((await languageOf(page)).lang === 'ug') languages.push('ug');
    else note('the server does not honour ?lang= yet: the Uyghur pages are not scanned');
    await context.close();
  }

  for (const language of languages) {
    const { context } = await watchedContext(browser, base);
    await context.route('**/static/*.js', (route) => route.abort('blockedbyclient'));
    const page = await context.newPage();
    await open(page, localised('/', language));
    await visit(page, language, 'landing');
    await open(page, localised('/report', language));
    await visit(page, language, 'report');
    await fillEveryQuestion(page, 'pages');
    const posted = await submitForm(page, '/report', 60_000);
    if (posted.status() !== 200) {
      throw new Failure(`${language}: POST /report answered ${posted.status()}`);
    }
    await visit(page, language, 'codename');
    await retypeCodename(page);
    await visit(page, language, 'submitted');
    // A form whose CSRF token is not the cookie's: the error page.
    await open(page, localised('/report', language));
    await fillEveryQuestion(page, 'pages');
    await page.locator('main input[name=csrf_token]').evaluate((input) => {
      input.value = '0'.repeat(64);
    });
    const refused = await submitForm(page, '/report', 60_000);
    if (refused.status() !== 403) {
      throw new Failure(`${language}: a forged CSRF token got ${refused.status()}, not 403`);
    }
    await visit(page, language, 'error');
    await context.close();

    // The same report page with its JavaScript layer.
    const layered = await watchedContext(browser, base);
    const withScript = await layered.context.newPage();
    await open(withScript, localised('/report', language));
    const active = await withScript
      .waitForFunction(() => document.documentElement.dataset.mode === 'browser', null, {
        timeout: 10_000,
      })
      .then(() => true, () => false);
    await visit(withScript, language, 'report-js');
    if (active) {
      await fillEveryQuestion(withScript, 'pages');
      await withScript.locator('main form button[type=submit]').first().click();
      const shown = withScript.locator('#codename-value');
      await shown.waitFor({ state: 'visible', timeout: 120_000 });
      await visit(withScript, language, 'codename-js');
      await withScript.locator('#codename-retype').pressSequentially(
        ((await shown.textContent()) ?? '').trim());
      await withScript.locator('#codename-confirm').click();
      await withScript.locator('#report-sent, #report-failed').first()
        .waitFor({ state: 'visible', timeout: 120_000 });
      await visit(withScript, language, 'sent-js');
    } else {
      note(`${language}: the JavaScript layer did not take over /report; its codename and ` +
        'sent states are not scanned');
    }
    await layered.context.close();
  }

  const serious = [];
  for (const { page, violations } of scanned) {
    for (const violation of violations) {
      const line = `${page}: ${violation.id} (${violation.impact}) ${violation.help} at ` +
        violation.targets.join(', ');
      if (violation.impact === 'serious' || violation.impact === 'critical') serious.push(line);
      else note(`axe: ${line}`);
    }
  }
  if (serious.length > 0) {
    throw new Failure(`axe found serious or critical violations:\n  ${serious.join('\n  ')}`);
  }
  return { languages, scanned: scanned.map((s) => s.page), screenshots };
}

// Chromium's own decoder reads FILE: a check that a JPEG is well formed.
async function decode(browser) {
  const bytes = readFileSync(files[0]).toString('base64');
  const context = await browser.newContext();
  const page = await context.newPage();
  const size = await page.evaluate(async (encoded) => {
    const binary = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    try {
      const bitmap = await createImageBitmap(new Blob([binary], { type: 'image/jpeg' }));
      return { width: bitmap.width, height: bitmap.height };
    } catch (error) {
      return { error: String(error) };
    }
  }, bytes);
  if (size.error) throw new Failure(`Chromium cannot decode ${files[0]}: ${size.error}`);
  return size;
}

let browser;
const deadline = Number(options.values.deadline) * 1000;
// Bounded: a stuck browser is closed (and with it its processes) before the caller's own
// deadline kills this process.
const watchdog = setTimeout(async () => {
  console.error(`FAIL: the ${scenario} scenario did not finish within ${deadline / 1000} s`);
  await browser?.close().catch(() => {});
  process.exit(1);
}, deadline);

// What every context saw that fails any scenario, as lines.
function offences() {
  const all = watches.flatMap((watch) => watch.offences());
  return all.length === 0 ? [] : [`${all.length} offences:`, ...all.map((line) => `  ${line}`)];
}

let status = 0;
try {
  browser = await launch();
  const result = await scenarios[scenario](browser);
  if (offences().length > 0) throw new Failure(offences().join('\n'), { cause: 'offences' });
  const requests = watches.reduce((sum, watch) => sum + watch.requests.length, 0);
  console.log(`RESULT ${JSON.stringify({ ...result, requests, notes })}`);
} catch (error) {
  if (error instanceof Skip) {
    console.log(`SKIP: ${error.message}`);
    status = SKIP;
  } else {
    const reason = error instanceof Failure ? error.message : error.stack;
    // Offences found before another failure are reported with it.
    const more = error.cause === 'offences' ? [] : offences();
    console.error([`FAIL: ${reason}`, ...more].join('\n'));
    status = 1;
  }
} finally {
  clearTimeout(watchdog);
  await browser?.close().catch(() => {});
}
process.exit(status);
