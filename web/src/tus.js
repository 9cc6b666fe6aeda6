// A small tus 1.0.0 client (core, creation) for one encrypted file, read from a stream whose
// length is known in advance. Tipline's server is the only peer it needs to talk to.
//
// The stream cannot be read twice, so the client holds one window of it (WINDOW_BYTES) until
// the server has confirmed every byte of the window; after a dropped connection it asks the
// server (HEAD) how much it stored and sends the rest of the window from there. The server
// only ever confirms bytes it received, so its offset is never behind the window's start.
// XMLHttpRequest rather than fetch, for upload progress.

export const WINDOW_BYTES = 8 * 1024 * 1024;
// Reading from the encrypting stream settles promise after promise, which never lets the
// page handle a click or repaint; every YIELD_BYTES the read waits for the next task.
const YIELD_BYTES = 256 * 1024;
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const MAX_ATTEMPTS = 40;  // a little over 15 minutes of retries before giving up

// Thrown for an answer that retrying cannot fix; `status` is the HTTP status.
export class UploadRefused extends Error {
  constructor(status, what) {
    super(`${what}: ${status}`);
    this.status = status;
  }
}

class Aborted extends Error {}

// A request that shows no progress for this long is taken as a dead connection (a Tor
// circuit can stall without closing) and is retried.
const STALL_MS = 60000;

function request(method, url, headers, body, onProgress, setCurrent) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let stalled = false;
    let watchdog = 0;
    const watch = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        xhr.abort();
      }, STALL_MS);
    };
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      watch();
      onProgress?.(event.loaded);
    };
    xhr.onprogress = watch;
    xhr.onloadend = () => clearTimeout(watchdog);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("network"));
    xhr.onabort = () => reject(stalled ? new Error("stalled") : new Aborted());
    setCurrent(xhr);
    watch();
    xhr.send(body);
  });
}

// The upload of `length` bytes from `stream` under draft `draft`. Events: onProgress(sent,
// length) and onState(state), state being "uploading", "paused", "retrying" or "done".
// start() resolves to the upload's id once the server holds every byte, and rejects with
// UploadRefused, or with an Error once retries are used up; it may then be called again to
// go on from where the server is.
export class Upload {
  constructor({ endpoint, draft, stream, length, onProgress, onState }) {
    this.endpoint = endpoint;
    this.draft = draft;
    this.reader = stream.getReader();
    this.length = length;
    this.onProgress = onProgress ?? (() => {});
    this.onState = onState ?? (() => {});
    this.location = null;
    this.offset = 0;  // what the server has confirmed
    this.window = new Uint8Array(0);
    this.windowStart = 0;
    this.carried = null;  // the part of a stream chunk past the last window
    this.buffer = null;  // the memory of every window
    this.paused = false;
    this.current = null;
    this.resumeWaiter = null;
  }

  // Takes effect before the next request; a PATCH under way is cut off. A creation under
  // way is left to finish, since cutting it off could leave an upload the client never
  // learns the address of.
  pause() {
    this.paused = true;
    if (this.location !== null) this.current?.abort();
    this.onState("paused");
  }

  resume() {
    this.paused = false;
    this.resumeWaiter?.();
  }

  async start() {
    let attempt = 0;
    let offsetAtFailure = -1;
    for (;;) {
      try {
        await this.waitWhilePaused();
        this.onState("uploading");
        await this.run();
        this.onState("done");
        return this.location.slice(this.location.lastIndexOf("/") + 1);
      } catch (error) {
        if (error instanceof UploadRefused) throw error;
        if (error instanceof Aborted && this.paused) continue;
        // Progress since the last failure earns a fresh set of retries.
        if (this.offset > offsetAtFailure) attempt = 0;
        offsetAtFailure = this.offset;
        if (++attempt >= MAX_ATTEMPTS) throw error;
        this.onState("retrying");
        await this.sleep(RETRY_DELAYS_MS[Math.min(attempt - 1, RETRY_DELAYS_MS.length - 1)]);
      }
    }
  }

  waitWhilePaused() {
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve) => {
      this.resumeWaiter = () => {
        this.resumeWaiter = null;
        resolve();
      };
    });
  }

  sleep(ms) {
    // A resume click cuts the wait short.
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.resumeWaiter = () => {
        clearTimeout(timer);
        this.resumeWaiter = null;
        resolve();
      };
    });
  }

  send(method, url, headers, body, onProgress) {
    if (this.paused && method !== "DELETE") return Promise.reject(new Aborted());
    return request(method, url, { "Tus-Resumable": "1.0.0", ...headers }, body, onProgress,
      (xhr) => { this.current = xhr; });
  }

  async run() {
    if (this.location === null) await this.create();
    if (this.offset > 0 || this.window.length > 0) await this.askOffset();
    while (this.offset < this.length) {
      if (this.offset >= this.windowStart + this.window.length) await this.nextWindow();
      const from = this.offset - this.windowStart;
      const body = this.window.subarray(from);
      const base = this.offset;
      const answer = await this.send("PATCH", this.location, {
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": String(this.offset),
      }, body, (loaded) => this.onProgress(Math.min(base + loaded, this.length), this.length));
      if (answer.status === 409) {
        // Out of step with the server: learn its offset, after a pause (start's retry).
        throw new Error("PATCH: 409");
      }
      if (answer.status !== 204) this.refuseOrRetry(answer.status, "PATCH");
      this.confirm(Number(answer.getResponseHeader("Upload-Offset")));
    }
    this.onProgress(this.length, this.length);
  }

  async create() {
    const answer = await this.send("POST", this.endpoint, {
      "Upload-Length": String(this.length),
      "Upload-Metadata": `draft ${btoa(this.draft)}`,
    }, null);
    if (answer.status !== 201) this.refuseOrRetry(answer.status, "POST");
    this.location = new URL(answer.getResponseHeader("Location"), this.endpoint).href;
  }

  async askOffset() {
    const answer = await this.send("HEAD", this.location, {}, null);
    if (answer.status !== 200) this.refuseOrRetry(answer.status, "HEAD");
    this.confirm(Number(answer.getResponseHeader("Upload-Offset")));
  }

  confirm(offset) {
    // Bytes the server holds but this client never sent, or a step back past the window,
    // would mean another writer: nothing sensible can be sent from here.
    if (!Number.isSafeInteger(offset) || offset < this.windowStart ||
        offset > this.windowStart + this.window.length) {
      throw new UploadRefused(0, "unexpected Upload-Offset");
    }
    this.offset = offset;
    this.onProgress(offset, this.length);
  }

  refuseOrRetry(status, what) {
    // Server trouble and rate limits pass; anything else will not get better by retrying.
    if (status === 0 || status === 429 || status >= 500) throw new Error(`${what}: ${status}`);
    throw new UploadRefused(status, what);
  }

  // The next window of the stream, starting where the last one ended.
  async nextWindow() {
    const start = this.windowStart + this.window.length;
    const size = Math.min(WINDOW_BYTES, this.length - start);
    // One buffer for every window: a request body is copied when it is sent, so the buffer
    // can take the next window once the server has confirmed this one, and no 8 MiB
    // garbage per window waits for the collector.
    this.buffer ??= new Uint8Array(Math.min(WINDOW_BYTES, this.length));
    const window = this.buffer.subarray(0, size);
    let filled = 0;
    while (filled < size) {
      let value = this.carried;
      this.carried = null;
      if (value === null) {
        const next = await this.reader.read();
        if (next.done) throw new UploadRefused(0, "the file ended early");
        value = next.value;
      }
      // A stream chunk may cross the window's end: its rest starts the next window.
      const take = Math.min(value.length, size - filled);
      window.set(value.subarray(0, take), filled);
      if (Math.floor((filled + take) / YIELD_BYTES) > Math.floor(filled / YIELD_BYTES)) {
        await nextTask();
      }
      filled += take;
      if (take < value.length) this.carried = value.subarray(take);
    }
    this.window = window;
    this.windowStart = start;
  }

  // Stops for good and asks the server to delete what it has (tus termination).
  async cancel() {
    this.paused = true;
    this.current?.abort();
    this.reader.cancel().catch(() => {});
    if (this.location !== null) {
      await this.send("DELETE", this.location, {}, null).catch(() => {});
    }
  }
}
