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
import { pad, reportDocument } from "./report.js";
import { kindOf, strip } from "./strip.js";
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
    typeof crypto === "object" && typeof crypto.getRandomValues === "function"
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

class Refused extends Error {
  constructor(status) {
    super(`refused: ${status}`);
    this.status = status;
  }
}

// What the witness reads when a step fails.
function reasonOf(error) {
  const status = error instanceof Refused || error instanceof UploadRefused ? error.status : -1;
  if (status === 503) return t("error_not_accepting");
  if (status === 429 || status === 507) return t("error_busy");
  if (status === 413) return t("error_too_large");
  if (status > 0) return t("error_refused", { status });
  return t("error_network");
}

// Notes under the file input on what will happen to each chosen file's hidden details.
function describeChosenFiles(input, notes, limits) {
  input.addEventListener("change", async () => {
    const files = [...input.files];
    const items = [];
    if (files.length > limits.uploadsPerDraft) {
      items.push(element("li", { class: "problem" }, t("too_many_files", { count: limits.uploadsPerDraft })));
    }
    for (const file of files) {
      if (file.size > limits.uploadBytes) {
        items.push(element("li", { class: "problem" },
          t("file_too_large", { name: file.name, size: formatBytes(limits.uploadBytes) })));
        continue;
      }
      const photo = (await kindOf(file)) !== "other";
      items.push(element("li", {}, t(photo ? "file_will_be_cleaned" : "file_cannot_be_cleaned", { name: file.name })));
    }
    notes.replaceChildren(...items);
  });
}

// One row of the upload list: the file's name, a progress bar, its state and a pause button.
class UploadRow {
  constructor(file, list) {
    this.progress = element("progress", { max: "100", value: "0", "aria-label": file.name });
    this.state = element("span", { class: "state" }, t("upload_waiting"));
    this.note = element("span", { class: "note" });
    this.button = element("button", { type: "button", class: "pause", disabled: true }, t("pause"));
    this.row = element("li", { class: "upload", "data-state": "waiting" },
      element("span", { class: "name", dir: "auto" }, file.name), this.progress, this.state,
      this.note, this.button);
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

// The whole encrypted submission. Each step is done once: after a failure, send() goes on
// from the step that failed (the source stays registered, finished uploads stay finished).
class Submission {
  constructor(view, limits) {
    this.view = view;
    this.limits = limits;
    this.report = reportDocument(form);
    this.files = [...form.elements.attachments.files];
    this.rows = this.files.map((file) => new UploadRow(file, view.uploads));
    this.uploadIds = new Array(this.files.length).fill(null);
    this.uploads = new Array(this.files.length).fill(null);
    this.codename = null;
    this.keys = null;
    this.registered = false;
    this.draft = null;
    this.recipients = null;
    this.submitted = false;
  }

  async send() {
    const { view } = this;
    view.status(t("status_preparing"));
    if (this.recipients === null) this.recipients = await this.fetchRecipients();
    if (this.codename === null) this.codename = codename.generate();
    if (this.keys === null) {
      this.keys = await codename.derive(this.codename, this.limits.codenameSalt,
        (fraction) => view.status(t("status_preparing_percent", { percent: Math.round(fraction * 100) })));
    }
    if (!this.registered) {
      const loginSecret = base64.encode(this.keys.loginSecret);
      const source = await postJson("/api/v1/sources", { login_secret: loginSecret, recipient: this.keys.recipient });
      if (source.status !== 201) throw new Refused(source.status);
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
      const sealed = await this.encrypter().encrypt(pad(new TextEncoder().encode(this.report)));
      const body = { report: base64.encode(sealed), draft: this.draft, uploads: this.uploadIds };
      const answer = await postJson("/api/v1/submissions", body);
      if (answer.status !== 201) throw new Refused(answer.status);
      this.submitted = true;
    }
  }

  async fetchRecipients() {
    const answer = await fetch("/api/v1/keys", { credentials: "omit", cache: "no-store" });
    if (answer.status !== 200) throw new Refused(answer.status);
    const keys = await answer.json();
    return JSON.parse(keys.bundle).recipients.map((recipient) => recipient.age);
  }

  encrypter() {
    const encrypter = new Encrypter();
    for (const recipient of this.recipients) encrypter.addRecipient(recipient);
    return encrypter;
  }

  async sendFile(i) {
    const row = this.rows[i];
    let upload = this.uploads[i];
    if (upload === null) {
      row.set("cleaning", t("upload_cleaning"));
      const { blob, result } = await strip(this.files[i]);
      row.note.textContent = t(result === "stripped" ? "file_cleaned" : result === "clean"
        ? "file_had_nothing_hidden" : "file_not_cleaned");
      const stream = await this.encrypter().encrypt(blob.stream());
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
      row.button.addEventListener("click", () => {
        if (row.row.dataset.state === "paused") upload.resume();
        else upload.pause();
      });
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
    this.failed = element("section", { id: "report-failed", hidden: true, role: "alert" },
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
    const done = element("p", { id: "codename-confirmed", role: "status" });
    const check = () => {
      const typed = codename.normalize(retype.value);
      if (typed.digits !== digits) {
        mismatch.hidden = false;
        retype.setAttribute("aria-invalid", "true");
        retype.focus();
        return;
      }
      mismatch.hidden = true;
      retype.removeAttribute("aria-invalid");
      retype.disabled = true;
      confirm.disabled = true;
      done.textContent = t("codename_confirmed");
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
      retype, mismatch, element("p", {}, confirm), done);
    this.codenamePanel.hidden = false;
    this.codenamePanel.querySelector("h2").focus();
  }

  fail(reason) {
    this.failedText.textContent = reason;
    this.failed.hidden = false;
    this.retry.disabled = false;
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

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = [...input.files];
    if (files.length > limits.uploadsPerDraft || files.some((file) => file.size > limits.uploadBytes)) {
      input.focus();
      return;
    }
    form.hidden = true;
    const view = new SendingView();
    const submission = new Submission(view, limits);
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
        view.fail(reasonOf(error));
      }
    };
    view.retry.addEventListener("click", () => {
      view.retry.disabled = true;
      root.dataset.flow = "sending";
      attempt();
    });
    await attempt();
  });
}

start();
