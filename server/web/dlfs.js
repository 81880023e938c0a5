// dlfsd's web browser, the folder page's script (served from the binary at /ui/static/dlfs.js;
// the pages work without it, less these): uploads of files and whole folders (picked or dropped)
// in parallel and in parts through the API's upload sessions, with a progress bar per file and
// overall, resumable after a failure (the server keeps the parts it has: a resumed file sends
// only the rest, even after the page was reloaded and the same files picked again); a CSV import
// and a storage driver's sync, each followed to its end. The API is called with the session
// cookie and the page's CSRF token in X-CSRF-Token (server/api_context.cpp).
"use strict";
(function () {
  const meta = document.querySelector("meta[name=csrf-token]");
  const panel = document.getElementById("uploader");
  if (!meta || !panel) return;
  const csrf = meta.content;
  for (const id of ["upload-js", "csv-form", "sync-panel"]) {  // what needs this script
    const e = document.getElementById(id);
    if (e) e.hidden = false;
  }
  const dataset = panel.dataset.dataset;
  const folder = panel.dataset.dir;
  const kPartBytes = 8 << 20;  // a file up to this size is one part
  const kFilesAtOnce = 3;
  const kPartsAtOnce = 3;  // per file
  const kTries = 4;  // per call, then the file waits for "Resume"

  function human(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; ++u; }
    return (u ? n.toFixed(1) : String(n)) + " " + units[u];
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
  function joinPath(dir, rel) { return (dir.endsWith("/") ? dir : dir + "/") + rel.replace(/^\/+/, ""); }

  // The API, as JSON; a failure throws an Error with the server's message.
  async function api(method, path, body, isForm) {
    const headers = { "X-CSRF-Token": csrf };
    if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch("/api/v1" + path, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error("cannot reach dlfsd (" + e.message + ")");
    }
    let doc = null;
    try { doc = await res.json(); } catch (e) { /* no JSON body */ }
    if (!res.ok) {
      const err = new Error((doc && doc.message) || res.status + " " + res.statusText);
      err.status = res.status;
      err.doc = doc;
      throw err;
    }
    return doc;
  }

  // One part's bytes by XMLHttpRequest (fetch tells nothing of an upload's progress).
  function putPart(uid, n, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("PUT", "/api/v1/uploads/" + encodeURIComponent(uid) + "/parts/" + n);
      x.setRequestHeader("X-CSRF-Token", csrf);
      x.setRequestHeader("Content-Type", "application/octet-stream");
      x.upload.onprogress = (e) => onProgress(e.loaded);
      x.onload = () => {
        if (x.status >= 200 && x.status < 300) return resolve();
        let message = x.status + " " + x.statusText;
        try { message = JSON.parse(x.responseText).message || message; } catch (e) { /* not JSON */ }
        const err = new Error(message);
        err.status = x.status;
        reject(err);
      };
      x.onerror = () => reject(new Error("cannot reach dlfsd"));
      x.ontimeout = () => reject(new Error("timed out"));
      x.send(blob);
    });
  }

  // A call tried again (kTries in all) while the failure may pass: no answer, a 5xx, 408, 429.
  async function tried(what, call, onRetry) {
    for (let attempt = 1; ; ++attempt) {
      try {
        return await call();
      } catch (e) {
        const passing = !e.status || e.status >= 500 || e.status === 408 || e.status === 429;
        if (attempt >= kTries || !passing) throw e;
        if (onRetry) onRetry(what + ": " + e.message + "; trying again");
        await sleep(300 * 2 ** attempt);
      }
    }
  }

  // ---- uploads ----
  const list = document.getElementById("upload-list");
  const total = document.getElementById("upload-total");
  const totalText = document.getElementById("upload-total-text");
  const resume = document.getElementById("resume-uploads");
  const jobs = [];  // every file of this page's uploads
  let running = 0;

  function showTotal() {
    let size = 0, sent = 0, done = 0, failed = 0;
    for (const j of jobs) {
      size += j.file.size;
      sent += j.state === "done" ? j.file.size : Math.min(j.file.size, j.sentBytes());
      done += j.state === "done";
      failed += j.state === "failed";
    }
    total.max = Math.max(size, 1);
    total.value = jobs.length && done === jobs.length ? total.max : sent;
    totalText.textContent = done + " of " + jobs.length + " files, " + human(sent) + " of " + human(size) +
      (failed ? ", " + failed + " failed" : "") + (done === jobs.length && jobs.length ? " - all uploaded" : "");
    resume.hidden = failed === 0;
    total.parentElement.hidden = jobs.length === 0;
    if (jobs.length && done === jobs.length) {
      totalText.append(" ", el("a", { href: location.href, class: "refresh" }, "refresh the folder"));
    }
  }

  class Job {
    constructor(file, path) {
      this.file = file;
      this.path = path;
      this.state = "queued";
      this.partSent = new Map();  // part -> bytes sent of it
      this.row = el("li", { class: "upload", "data-path": path });
      this.bar = el("progress", { max: Math.max(file.size, 1), value: 0 });
      this.status = el("span", { class: "upload-status" }, "queued");
      this.row.append(el("span", { class: "upload-name" }, path + " "), this.bar, " ", this.status);
      list.append(this.row);
    }
    sentBytes() { let n = 0; for (const v of this.partSent.values()) n += v; return n; }
    show(state, text) {
      this.state = state;
      this.row.dataset.state = state;
      this.status.textContent = text;
      this.bar.value = state === "done" ? this.bar.max : Math.min(this.file.size, this.sentBytes());
      showTotal();
    }
    async run() {
      this.show("uploading", "starting");
      try {
        // The same key for the same file: a session the server has already answers what it got.
        const key = ["web", this.path, this.file.size, this.file.lastModified].join(":");
        const retrying = (text) => this.show("uploading", text);
        const s = await tried("starting", () => api("POST", "/datasets/" + encodeURIComponent(dataset) + "/uploads",
          { path: this.path, size: this.file.size, partSize: kPartBytes, key }), retrying);
        const have = new Set(s.received || []);
        const todo = [];
        for (let n = 0; n < s.parts; ++n) {
          if (have.has(n)) this.partSent.set(n, Math.min(kPartBytes, this.file.size - n * kPartBytes));
          else todo.push(n);
        }
        this.row.dataset.resumed = have.size;  // (parts the server had: not sent again)
        if (have.size) this.show("uploading", "resumed: " + have.size + " of " + s.parts + " parts on the server");
        await this.sendParts(s.id, todo);
        let item;
        for (let attempt = 0; ; ++attempt) {
          try {
            item = await tried("completing", () => api("POST", "/uploads/" + encodeURIComponent(s.id) + "/complete"), retrying);
            break;
          } catch (e) {
            // Parts the server lacks (one lost): sent again, then completed again.
            if (e.status === 409 && e.doc && e.doc.missing && attempt < 2) await this.sendParts(s.id, e.doc.missing);
            else throw e;
          }
        }
        this.item = item;
        this.show("done", "uploaded");
        const a = el("a", { class: "uploaded", href: "/ui/items/" + encodeURIComponent(item.id) }, "open");
        this.row.append(" ", a);
      } catch (e) {
        this.show("failed", "failed: " + e.message + " (Resume sends what is missing)");
      }
    }
    async sendParts(uid, parts) {
      const queue = parts.slice();
      const worker = async () => {
        while (queue.length) {
          const n = queue.shift();
          const from = n * kPartBytes, to = Math.min(this.file.size, from + kPartBytes);
          await tried("part " + n, async () => {
            this.partSent.set(n, 0);
            try {
              await putPart(uid, n, this.file.slice(from, to), (loaded) => {
                this.partSent.set(n, loaded);
                this.show("uploading", human(this.sentBytes()) + " of " + human(this.file.size));
              });
            } catch (e) {
              this.partSent.set(n, 0);
              throw e;
            }
            this.partSent.set(n, to - from);
          }, (text) => this.show("uploading", text));
        }
      };
      await Promise.all(Array.from({ length: Math.min(kPartsAtOnce, parts.length) }, worker));
    }
  }

  function pump() {
    while (running < kFilesAtOnce) {
      const next = jobs.find((j) => j.state === "queued");
      if (!next) break;
      ++running;
      next.run().finally(() => { --running; pump(); });
    }
    showTotal();
  }

  function add(entries) {  // [{file, rel}]
    for (const { file, rel } of entries) jobs.push(new Job(file, joinPath(folder, rel)));
    pump();
  }

  resume.addEventListener("click", () => {
    for (const j of jobs) if (j.state === "failed") { j.partSent.clear(); j.show("queued", "queued again"); }
    pump();
  });

  // The file pickers: a folder's files keep their paths under it.
  const form = document.getElementById("upload-form");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const picked = [];
    for (const input of form.querySelectorAll("input[type=file]")) {
      for (const f of input.files) picked.push({ file: f, rel: f.webkitRelativePath || f.name });
      input.value = "";
    }
    add(picked);
  });

  // Drag and drop, folders walked (the entries API: directory readers answer in batches).
  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, rel: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, prefix + entry.name + "/", out);
      }
    }
  }
  const drop = document.getElementById("drop");
  for (const t of ["dragenter", "dragover"])
    drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    const items = Array.from(ev.dataTransfer.items || []);
    const entries = items.map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    const out = [];
    if (entries.length) for (const e of entries) await walk(e, "", out);
    else for (const f of ev.dataTransfer.files) out.push({ file: f, rel: f.name });
    add(out);
  });

  // ---- commands followed to their end: CSV import, sync ----
  async function follow(command, box) {
    const bar = el("progress", { max: 100, value: command.progress || 0 });
    const text = el("span", { class: "job-status" });
    box.replaceChildren(bar, " ", text);
    for (;;) {
      bar.value = command.progress || 0;
      const counts = Object.entries(command.report || {}).filter(([, v]) => typeof v === "number");
      const report = counts.length ? ": " + counts.map(([k, v]) => v + " " + k).join(", ") : "";
      text.textContent = command.type + ": " + command.status + " (" + (command.progress || 0) + "%)" + report;
      box.dataset.status = command.status;
      if (command.status === "success" || command.status === "failed") {
        if (command.error) text.textContent += " - " + command.error;
        const back = el("a", { href: location.href, class: "refresh" }, "refresh the folder");
        box.append(" ", back);
        return;
      }
      await sleep(500);
      command = await api("GET", "/commands/" + encodeURIComponent(command.id));
    }
  }

  const csv = document.getElementById("csv-form");
  if (csv) csv.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = document.getElementById("csv-progress");
    const file = document.getElementById("csv-file").files[0];
    if (!file) return;
    const body = new FormData();
    body.append("name", file.name);
    body.append("to", folder);
    body.append("file", file, file.name);
    box.textContent = "sending " + file.name;
    try {
      await follow(await api("POST", "/datasets/" + encodeURIComponent(dataset) + "/imports/csv", body, true), box);
    } catch (e) {
      box.dataset.status = "failed";
      box.replaceChildren(el("span", { class: "error" }, "import refused: " + e.message));
    }
  });

  const sync = document.getElementById("sync");
  if (sync) sync.addEventListener("click", async () => {
    const box = document.getElementById("sync-progress");
    sync.disabled = true;
    try {
      await follow(await api("POST", "/datasets/" + encodeURIComponent(dataset) + "/sync", {}), box);
    } catch (e) {
      box.dataset.status = "failed";
      box.replaceChildren(el("span", { class: "error" }, "sync refused: " + e.message));
    } finally {
      sync.disabled = false;
    }
  });
})();
