// The report page's progressive layer (design §2): with it, the witness's browser encrypts
// the report and every file before anything leaves the device, to the recipients of
// GET /api/v1/keys, and sends them through the source API; without it (or in a browser that
// lacks what it needs) the same form posts to /report and the server encrypts on receipt.
//
// Every word it shows comes from the page's catalog (web/i18n/<language>/app.toml), handed
// over in the form's data-strings attribute. The DOM hooks the browser tests rely on are
// listed in tests/browser/README.md.
import { base64 } from "@scure/base";
import { Encrypter } from "age-encryption";

import * as codename from "./codename.js";
import { monthsWithoutYear, pad, reportDocument } from "./report.js";
import { strip } from "./strip.js";
import { Upload, UploadRefused } from "./tus.js";

const root = document.documentElement;
const form = document.getElementById("report");

function supported() {
  return (
    typeof BigInt === "function" &&
    typeof ReadableStream === "function" &&
    typeof TransformStream === "function" &&
    typeof Blob === "function" && typeof Blob.prototype.stream === "function" &&
    typeof TextEncoder === "function" &&
    typeof XMLHttpRequest === "function" &&
    // age-encryption needs WebCrypto, which browsers offer only in a secure context
    // (HTTPS, an onion service, or loopback).
    window.isSecureContext === true &&
    typeof crypto === "object" && typeof crypto.getRandomValues === "function" &&
    typeof crypto.subtle === "object"
  );
}

let strings = {};
// The catalog text of `key`, with {name} placeholders filled from `values`.
function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{([a-z_]+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) node.setAttribute(name, "");
    else if (value !== false && value !== undefined) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    ++unit;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

async function postJson(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await answer.text();
  return { status: answer.status, body: text ? JSON.parse(text) : {} };
}

async function fetchRecipients() {
  const answer = await fetch("/api/v1/keys", { credentials: "omit", cache: "no-store" });
  if (answer.status !== 200) throw new Refused(answer.status);
  const keys = await answer.json();
  return JSON.parse(keys.bundle).recipients.map((recipient) => recipient.age);
}

// The report may have been stored: its answer was lost, and sending it again is refused.
class Uncertain extends Error {}

class Refused extends Error {
  constructor(status) {
    super(`refused: ${status}`);
    this.status = status;
  }
}

// What the witness reads when a step fails.
function reasonOf(error) {
  if (error instanceof Uncertain) return t("error_uncertain");
  const status = error instanceof Refused || error instanceof UploadRefused ? error.status : -1;
  if (status === 503) return t("error_not_accepting");
  if (status === 429 || status === 507) return t("error_busy");
  if (status === 413) return t("error_too_large");
  if (status > 0) return t("error_refused", { status });
  return t("error_network");
}

// Each chosen file cleaned once, as soon as it is chosen, so that the note under the file
// field says what will really be sent: strip() results by File.
const cleaning = new WeakMap();
// A file that cannot be read at all (moved, deleted) counts as unreadable.
function cleaned(file) {
  if (!cleaning.has(file)) {
    cleaning.set(file, strip(file).catch(() => ({ blob: file, result: "unreadable" })));
  }
  return cleaning.get(file);
}

function encrypterFor(recipients) {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return encrypter;
}

// The ciphertext length of `size` bytes sealed to `recipients`.
async function sealedSize(recipients, size) {
  const stream = await encrypterFor(recipients).encrypt(new ReadableStream({ start: (c) => c.close() }));
  stream.cancel().catch(() => {});
  return stream.size(size);
}

// The problems that stop the chosen files from being sent, as text; none is [].
async function fileProblems(files, limits) {
  const problems = [];
  if (files.length > limits.uploadsPerDraft) {
    problems.push(t("too_many_files", { count: limits.uploadsPerDraft }));
  }
  for (const file of files) {
    if (file.size > limits.uploadBytes) {
      problems.push(t("file_too_large", { name: file.name, size: formatBytes(limits.uploadBytes) }));
    } else if ((await cleaned(file)).result === "unreadable") {
      problems.push(t("file_unreadable", { name: file.name }));
    }
  }
  return problems;
}

// Notes under the file input on what will happen to each chosen file's hidden details.
function describeChosenFiles(input, notes, limits) {
  let generation = 0;
  input.addEventListener("change", async () => {
    const current = ++generation;
    const files = [...input.files];
    const items = [];
    for (const problem of await fileProblems(files, limits)) {
      items.push(element("li", { class: "problem" }, problem));
    }
    for (const file of files) {
      if (file.size > limits.uploadBytes) continue;
      const { result } = await cleaned(file);
      if (result === "unreadable") continue;
      const key = result === "unsupported" ? "file_cannot_be_cleaned" : "file_will_be_cleaned";
      items.push(element("li", {}, t(key, { name: file.name })));
    }
    if (current === generation) notes.replaceChildren(...items);
  });
}

// One row of the upload list: the file's name, a progress bar, its state and a pause button.
let rowCount = 0;
class UploadRow {
  constructor(file, list) {
    const nameId = `upload-name-${++rowCount}`;
    this.progress = element("progress", { max: "100", value: "0", "aria-labelledby": nameId });
    this.state = element("span", { class: "state" }, t("upload_waiting"));
    this.note = element("span", { class: "note" });
    // Its accessible description is the file's name: "Pause" alone would not say which.
    this.button = element("button", { type: "button", class: "pause", disabled: true,
      "aria-describedby": nameId }, t("pause"));
    this.row = element("li", { class: "upload", "data-state": "waiting" },
      element("span", { class: "name", dir: "auto", id: nameId }, file.name), this.progress,
      this.state, this.note, this.button);
    list.append(this.row);
    this.percent = 0;
  }

  set(state, text) {
    this.row.dataset.state = state;
    this.state.textContent = text;
  }

  show(sent, total) {
    this.percent = total === 0 ? 100 : Math.floor((100 * sent) / total);
    this.progress.value = this.percent;
    if (this.row.dataset.state === "uploading") {
      this.state.textContent = t("upload_uploading", { percent: this.percent });
    }
  }
}

// Answers after which a file's upload is started afresh (cleaned, sealed and created again)
// rather than resumed: the upload expired (404, 410) or was refused, e.g. because the
// recipient bundle changed while it was sent (400).
const RESTART_UPLOAD = new Set([400, 404, 410]);
const MAX_UPLOAD_STARTS = 3;

// The whole encrypted submission. Each step is done once: after a failure, send() goes on
// from the step that failed (the source stays registered, finished uploads stay finished).
class Submission {
  constructor(view, limits, recipients, files) {
    this.view = view;
    this.limits = limits;
    this.report = reportDocument(form);
    this.files = files;
    this.rows = this.files.map((file) => new UploadRow(file, view.uploads));
    this.uploadIds = new Array(this.files.length).fill(null);
    this.uploads = new Array(this.files.length).fill(null);
    this.uploadStarts = new Array(this.files.length).fill(0);
    this.codename = null;
    this.keys = null;
    this.registered = false;
    this.draft = null;
    this.recipients = recipients;
    this.submitted = false;
    this.submissionUnanswered = false;  // a POST /api/v1/submissions got no answer
  }

  async send() {
    const { view } = this;
    view.status(t("status_preparing"));
    if (this.codename === null) this.codename = codename.generate();
    if (this.keys === null) {
      // Announced in steps of a quarter: a screen reader would read every percent.
      let announced = 0;
      this.keys = await codename.derive(this.codename, this.limits.codenameSalt, (fraction) => {
        const percent = Math.floor(fraction * 4) * 25;
        if (percent > announced) view.status(t("status_preparing_percent", { percent }));
        announced = Math.max(announced, percent);
      });
    }
    if (!this.registered) {
      const loginSecret = base64.encode(this.keys.loginSecret);
      const source = await postJson("/api/v1/sources", { login_secret: loginSecret, recipient: this.keys.recipient });
      // 409: already registered, which for a fresh random codename can only be this page's
      // own earlier request whose answer was lost.
      if (source.status !== 201 && source.status !== 409) throw new Refused(source.status);
      this.registered = true;
      view.showCodename(codename.displayForm(this.codename), this.codename);
    }
    if (this.draft === null) {
      const draft = await postJson("/api/v1/drafts", { login_secret: base64.encode(this.keys.loginSecret) });
      if (draft.status !== 201) throw new Refused(draft.status);
      this.draft = draft.body.draft;
      this.keys.loginSecret.fill(0);
    }
    if (this.files.length > 0) view.status(t("status_uploading"));
    for (let i = 0; i < this.files.length; ++i) {
      if (this.uploadIds[i] === null) this.uploadIds[i] = await this.sendFile(i);
    }
    view.status(t("status_sending_report"));
    if (!this.submitted) {
      const sealed = await encrypterFor(this.recipients).encrypt(pad(new TextEncoder().encode(this.report)));
      const body = { report: base64.encode(sealed), draft: this.draft, uploads: this.uploadIds };
      let answer;
      try {
        answer = await postJson("/api/v1/submissions", body);
      } catch (error) {
        this.submissionUnanswered = true;
        throw error;
      }
      // The draft is used up by the submission that stored the report: after an answer
      // that never arrived, its 400 means the report may well be stored already.
      if (answer.status === 400 && this.submissionUnanswered) throw new Uncertain();
      if (answer.status !== 201) throw new Refused(answer.status);
      this.submitted = true;
      this.report = null;
    }
  }

  async sendFile(i) {
    for (;;) {
      try {
        return await this.uploadFile(i);
      } catch (error) {
        const restart = error instanceof UploadRefused && RESTART_UPLOAD.has(error.status);
        if (!restart || this.uploadStarts[i] >= MAX_UPLOAD_STARTS) throw error;
        this.uploads[i] = null;
        if (error.status === 400) this.recipients = await fetchRecipients();
      }
    }
  }

  async uploadFile(i) {
    const row = this.rows[i];
    let upload = this.uploads[i];
    if (upload === null) {
      ++this.uploadStarts[i];
      row.set("cleaning", t("upload_cleaning"));
      const { blob, result } = await cleaned(this.files[i]);
      row.note.textContent = t(result === "stripped" ? "file_cleaned" : result === "clean"
        ? "file_had_nothing_hidden" : "file_not_cleaned");
      const stream = await encrypterFor(this.recipients).encrypt(blob.stream());
      const length = stream.size(blob.size);
      if (length > this.limits.uploadBytes) throw new Refused(413);
      upload = new Upload({
        endpoint: new URL("/api/v1/uploads", location.href).href,
        draft: this.draft,
        stream,
        length,
        onProgress: (sent, total) => row.show(sent, total),
        onState: (state) => {
          const texts = {
            uploading: t("upload_uploading", { percent: row.percent }),
            paused: t("upload_paused", { percent: row.percent }),
            retrying: t("upload_retrying"),
            done: t("upload_done"),
          };
          row.set(state, texts[state]);
          row.button.textContent = t(state === "paused" ? "resume" : "pause");
          row.button.disabled = state === "done";
        },
      });
      this.uploads[i] = upload;
      row.button.disabled = false;
      row.button.onclick = () => {
        if (row.row.dataset.state === "paused") upload.resume();
        else upload.pause();
      };
    }
    try {
      return await upload.start();
    } catch (error) {
      row.set("failed", t("upload_failed"));
      row.button.disabled = true;  // "Try again" below the list goes on from here
      throw error;
    }
  }
}

// The page while a report is sent: status line, upload rows, the codename, the outcome.
class SendingView {
  constructor() {
    this.statusLine = element("p", { id: "app-status", role: "status" });
    this.uploads = element("ul", { id: "uploads", class: "uploads" });
    this.codenamePanel = element("section", { id: "codename-panel", hidden: true, "aria-labelledby": "codename-heading" });
    this.sent = element("section", { id: "report-sent", hidden: true, tabindex: "-1" },
      element("h2", {}, t("sent_heading")), element("p", {}, t("sent_text")));
    this.failedText = element("p", { id: "report-failed-reason" });
    this.retry = element("button", { type: "button", id: "report-retry" }, t("try_again"));
    this.failed = element("section", { id: "report-failed", hidden: true, role: "alert", tabindex: "-1" },
      element("h2", {}, t("failed_heading")), this.failedText, element("p", {}, t("failed_kept")), this.retry);
    this.heading = element("h2", { id: "sending-heading", tabindex: "-1" }, t("sending_heading"));
    this.section = element("section", { id: "sending", "aria-labelledby": "sending-heading" },
      this.heading, this.statusLine, this.uploads);
    form.after(this.section, this.codenamePanel, this.sent, this.failed);
    this.confirmed = false;
  }

  status(text) {
    this.statusLine.textContent = text;
  }

  // Shows the codename once; resolves this.confirmed when the witness has retyped it.
  showCodename(display, digits) {
    const value = element("p", { id: "codename-value", class: "codename", dir: "ltr", translate: "no" }, display);
    const copied = element("span", { role: "status", class: "copied" });
    const copy = element("button", { type: "button", id: "codename-copy" }, t("codename_copy"));
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(display);
        copied.textContent = t("codename_copied");
      } catch {
        copied.textContent = t("codename_copy_failed");
      }
    });
    const print = element("button", { type: "button", id: "codename-print" }, t("codename_print"));
    print.addEventListener("click", () => window.print());
    const retype = element("input", {
      id: "codename-retype", type: "text", inputmode: "numeric", autocomplete: "off",
      spellcheck: "false", dir: "ltr", "aria-describedby": "codename-retype-help",
    });
    const mismatch = element("p", { id: "codename-mismatch", class: "problem", role: "alert", hidden: true }, t("codename_mismatch"));
    const confirm = element("button", { type: "button", id: "codename-confirm" }, t("codename_confirm"));
    const check = () => {
      const typed = codename.normalize(retype.value);
      if (typed.digits !== digits) {
        mismatch.hidden = false;
        retype.setAttribute("aria-invalid", "true");
        retype.focus();
        return;
      }
      // Kept: the codename leaves the page, so that nobody who later sees this device
      // or the browser's restored session finds it here.
      retype.value = "";
      const heading = element("h2", { id: "codename-heading", tabindex: "-1" }, t("codename_heading"));
      this.codenamePanel.replaceChildren(heading, element("p", { id: "codename-confirmed" }, t("codename_confirmed")));
      heading.focus();
      this.confirmed = true;
      this.onConfirmed?.();
    };
    confirm.addEventListener("click", check);
    retype.addEventListener("keydown", (event) => {
      if (event.key === "Enter") check();
    });
    this.codenamePanel.replaceChildren(
      element("h2", { id: "codename-heading", tabindex: "-1" }, t("codename_heading")),
      element("p", {}, t("codename_intro")), value,
      element("p", { class: "actions" }, copy, " ", print, " ", copied),
      element("p", { class: "warning" }, t("codename_keep")),
      element("label", { for: "codename-retype" }, t("codename_retype_label")),
      element("p", { id: "codename-retype-help", class: "help" }, t("codename_retype_help")),
      retype, mismatch, element("p", {}, confirm));
    this.codenamePanel.hidden = false;
    this.codenamePanel.querySelector("h2").focus();
  }

  fail(reason, canRetry) {
    this.failedText.textContent = reason;
    this.failed.hidden = false;
    this.retry.hidden = !canRetry;
    this.retry.disabled = false;
    this.failed.focus();
  }
}

function start() {
  if (!form) return;
  strings = JSON.parse(form.dataset.strings || "{}");
  const notice = document.getElementById("mode");
  if (!supported()) {
    root.dataset.mode = "server";
    if (notice) notice.textContent = t("mode_fallback");
    return;
  }
  root.dataset.mode = "browser";
  if (notice) notice.textContent = t("mode_browser");
  const limits = {
    codenameSalt: form.dataset.codenameSalt,
    uploadBytes: Number(form.dataset.uploadBytes),
    uploadsPerDraft: Number(form.dataset.uploadsPerDraft),
  };
  const input = form.elements.attachments;
  const notes = element("ul", { id: "file-notes", class: "file-notes", "aria-live": "polite" });
  input.after(notes);
  describeChosenFiles(input, notes, limits);

  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    try {
      await submit(input, notes, limits);
    } finally {
      busy = false;
    }
  });
}

// What stops the form from being sent, shown under the file field; true when all is well.
async function checkForm(input, notes, limits, files) {
  for (const select of monthsWithoutYear(form)) {
    const year = form.elements[select.name.replace(/\.month$/, ".year")];
    year.setCustomValidity(t("month_needs_year"));
    year.addEventListener("change", () => year.setCustomValidity(""), { once: true });
  }
  if (!form.reportValidity()) return null;
  const problems = await fileProblems(files, limits);
  let recipients = null;
  try {
    recipients = await fetchRecipients();
    for (const file of files) {
      const { blob } = await cleaned(file);
      if (await sealedSize(recipients, blob.size) > limits.uploadBytes) {
        problems.push(t("file_too_large", { name: file.name, size: formatBytes(limits.uploadBytes) }));
      }
    }
  } catch (error) {
    problems.push(reasonOf(error));
  }
  if (problems.length === 0) return recipients;
  notes.replaceChildren(...problems.map((problem) => element("li", { class: "problem", role: "alert" }, problem)));
  input.focus();
  return null;
}

async function submit(input, notes, limits) {
  const files = [...input.files];
  const recipients = await checkForm(input, notes, limits, files);
  if (recipients === null) return;
  form.hidden = true;
  const view = new SendingView();
  const submission = new Submission(view, limits, recipients, files);
  root.dataset.flow = "sending";
  const leaving = (e) => e.preventDefault();
  window.addEventListener("beforeunload", leaving);
  view.heading.focus();
  const finish = () => {
    if (!submission.submitted || !view.confirmed) {
      if (submission.submitted) view.status(t("status_waiting_for_codename"));
      return;
    }
    window.removeEventListener("beforeunload", leaving);
    // Nothing of the report stays in the page once it is sent.
    form.reset();
    submission.codename = null;
    submission.files = [];
    view.section.hidden = true;
    view.codenamePanel.hidden = true;
    view.sent.hidden = false;
    view.sent.focus();
    root.dataset.flow = "sent";
  };
  view.onConfirmed = finish;
  const attempt = async () => {
    view.failed.hidden = true;
    try {
      await submission.send();
      finish();
    } catch (error) {
      root.dataset.flow = "failed";
      view.fail(reasonOf(error), !(error instanceof Uncertain));
      if (error instanceof Uncertain) window.removeEventListener("beforeunload", leaving);
    }
  };
  view.retry.addEventListener("click", () => {
    view.retry.disabled = true;
    root.dataset.flow = "sending";
    view.heading.focus();
    attempt();
  });
  await attempt();
}

start();
