// What the browser scenarios of driver.mjs share: Debian's Chromium, launched headless by
// playwright-core (web/node_modules), contexts that record every request, console message,
// page error and CSP violation, the report form filled generically from its DOM, and axe-core.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// ES modules ignore NODE_PATH: resolve the packages from the web/ folder's node_modules.
const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.TIPLINE_CHROMIUM || '/usr/bin/chromium';
// No network of the browser's own (updates, sync, QUIC probes): the only requests left are
// the pages'.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let axeSource;
function axe() {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What one context saw; `offences()` lists what fails every scenario: a request to another
// origin, a CSP violation (from the page's event, or Chromium's console message, which is
// all there is with JavaScript off) and an uncaught page error.
export class Watch {
  constructor(origin) {
    this.origin = origin;
    this.requests = [];
    this.foreign = [];
    this.failed = [];
    this.console = [];
    this.csp = [];
    this.pageErrors = [];
  }

  offences() {
    return [
      ...this.foreign.map((url) => `request to another origin: ${url}`),
      ...this.csp.map((text) => `CSP violation: ${text}`),
      ...this.pageErrors.map((text) => `uncaught page error: ${text}`),
    ];
  }
}

function sameOrigin(url, origin) {
  if (url.startsWith('data:') || url.startsWith('about:')) return true;
  try {
    const parsed = new URL(url.startsWith('blob:') ? url.slice(5) : url);
    return parsed.origin === origin;
  } catch {
    return false;
  }
}

// A fresh context for `base` (the self-signed demo certificate accepted) with a Watch.
export async function watchedContext(browser, base, options = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  const watch = new Watch(new URL(base).origin);
  context.on('request', (request) => {
    const line = `${request.method()} ${request.url()}`;
    watch.requests.push(line);
    if (!sameOrigin(request.url(), watch.origin)) watch.foreign.push(line);
  });
  context.on('requestfailed', (request) => {
    watch.failed.push({
      method: request.method(),
      url: request.url(),
      error: request.failure()?.errorText ?? '',
    });
  });
  context.on('page', (page) => {
    page.on('console', (message) => {
      const text = `${message.type()}: ${message.text()} (${page.url()})`;
      watch.console.push(text);
      if (/content[- ]security[- ]policy/i.test(message.text())) watch.csp.push(text);
    });
    page.on('pageerror', (error) => watch.pageErrors.push(`${error.message} (${page.url()})`));
  });
  if (options.javaScriptEnabled !== false) {
    // Init scripts and bindings go through DevTools, so the page's CSP does not stop them.
    await context.exposeBinding('__tiplineCspViolation', (_source, violation) => {
      watch.csp.push(violation);
    });
    await context.addInitScript(() => {
      document.addEventListener(
        'securitypolicyviolation',
        (event) => {
          window.__tiplineCspViolation(
            `${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'} ` +
              `at ${event.sourceFile}:${event.lineNumber} (${location.href})`,
          );
        },
        true,
      );
    });
  }
  return { context, watch };
}

// The upload rows of the JavaScript layer (#uploads li.upload) as the page changes them:
// a MutationObserver reports each change through a DevTools binding at once, even while the
// page's main thread is too busy (encrypting) to answer page.evaluate for a second or more.
// `tracker.rows` holds the latest {state, fraction, button, text} of each row and
// `tracker.changes` every change with its time.
export async function trackUploads(context) {
  const tracker = { rows: [], changes: [] };
  await context.exposeBinding('__tiplineUploads', (_source, rows) => {
    const time = Date.now();
    rows.forEach((row, index) => {
      const before = tracker.rows[index];
      if (before?.state !== row.state || before?.fraction !== row.fraction) {
        tracker.changes.push({ time, index, ...row });
      }
    });
    tracker.rows = rows;
  });
  await context.addInitScript(() => {
    let last = '';
    const report = () => {
      const rows = [...document.querySelectorAll('#uploads li.upload')].map((item) => {
        const bar = item.querySelector('progress');
        return {
          state: item.dataset.state ?? '',
          fraction: bar && bar.max > 0 ? bar.value / bar.max : 0,
          button: item.querySelector('button.pause')?.textContent.trim() ?? '',
          text: item.textContent,
        };
      });
      const now = JSON.stringify(rows);
      if (now === last) return;
      last = now;
      window.__tiplineUploads(rows);
    };
    new MutationObserver(report).observe(document, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ['data-state', 'value', 'max'],
    });
  });
  return tracker;
}

// Fills every question of the report form in `page` and returns the answers the report
// document must then hold, as the server writes them: text as typed, a month as
// "YYYY-MM", a choice of several as the list of values, any other choice as its value.
// `tag` makes the text answers of one run recognisable.
export async function fillEveryQuestion(page, tag) {
  const form = page
    .locator('main form')
    .filter({ has: page.locator('button[type=submit]') })
    .first();
  const controls = await form.locator('[name]').evaluateAll((elements) =>
    elements.map((element) => ({
      tag: element.tagName.toLowerCase(),
      type: (element.getAttribute('type') || '').toLowerCase(),
      name: element.getAttribute('name'),
      id: element.id,
      value: element.getAttribute('value'),
      maxLength: element.maxLength > 0 ? element.maxLength : 1000,
      options:
        element.tagName === 'SELECT'
          ? [...element.options].map((option) => option.value).filter((value) => value)
          : [],
    })),
  );
  const answers = {};
  const chosen = new Set();
  for (const control of controls) {
    const { tag: kind, type, name } = control;
    const field = form.locator(`[name="${name}"]`);
    if (kind === 'input' && ['hidden', 'file', 'submit', 'button', 'reset'].includes(type)) {
      continue;
    }
    if (kind === 'input' && (type === 'checkbox' || type === 'radio')) {
      if (chosen.has(name)) continue;
      chosen.add(name);
      // Every option of this question: a checkbox question gets its first and last, a
      // radio question its first.
      const values = controls
        .filter((other) => other.name === name && other.type === type)
        .map((other) => other.value);
      const picked = type === 'checkbox' ? [...new Set([values[0], values.at(-1)])] : [values[0]];
      for (const value of picked) await form.locator(`[name="${name}"][value="${value}"]`).check();
      answers[name] = type === 'checkbox' ? picked : picked[0];
      continue;
    }
    if (kind === 'select') {
      let value = control.options[0];
      if (name.endsWith('.year')) value = control.options.includes('2024') ? '2024' : value;
      else if (name.endsWith('.month')) value = '03';
      else if (control.options.includes('NL')) value = 'NL';
      await field.selectOption(value);
      const [question, part] = name.split('.');
      if (part === 'year') answers[question] = `${value}${answers[question] ?? ''}`;
      else if (part === 'month') answers[question] = `${answers[question] ?? ''}-${value}`;
      else answers[name] = value;
      continue;
    }
    // Text: ASCII punctuation, Latin accents and Uyghur script, within the field's limit.
    const text = `${tag} ${name}: they said "come home" — Ürümqi, ئۈرۈمچى`.slice(
      0,
      control.maxLength,
    );
    await field.fill(text);
    answers[name] = text;
  }
  return answers;
}

// Runs axe-core on the page and returns its violations. The source goes in through
// DevTools (page.evaluate), which the page's CSP (script-src 'self') does not govern.
export async function axeViolations(page) {
  await page.evaluate(axe());
  const results = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }),
  );
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(' ')),
  }));
}

// The page's language, direction and the computed direction of its <main>.
export function languageOf(page) {
  return page.evaluate(() => ({
    lang: document.documentElement.getAttribute('lang'),
    dir: document.documentElement.getAttribute('dir'),
    mainDirection: document.querySelector('main')
      ? getComputedStyle(document.querySelector('main')).direction
      : null,
  }));
}
