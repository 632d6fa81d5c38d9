// The Hafiz console's one script (served from the console's origin; the page's
// Content-Security-Policy allows no inline script). Every page works without it;
// it adds confirmations, drag-and-drop uploads with progress, and live charts.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

// ---- confirmations -------------------------------------------------------
document.addEventListener("submit", (e) => {
  const f = e.target;
  if (f.classList && f.classList.contains("confirm") && !window.confirm(f.dataset.confirm || "Sure?")) {
    e.preventDefault();
  }
});

// ---- uploads -------------------------------------------------------------
const MULTIPART_ABOVE = 16 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

function send(method, url, body, onProgress, headers) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open(method, url);
    xhr.setRequestHeader("x-csrf-token", csrf());
    for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
    xhr.onload = () => {
      let doc = {};
      try { doc = JSON.parse(xhr.responseText || "{}"); } catch (_) { doc = { message: xhr.responseText }; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(doc);
      else reject(new Error(doc.message || doc.code || ("HTTP " + xhr.status)));
    };
    xhr.onerror = () => reject(new Error("network error"));
    xhr.onabort = () => reject(new Error("cancelled"));
    xhr.send(body);
  });
  return { xhr, done };
}

function uploadRow(name, size) {
  const li = document.createElement("li");
  li.className = "upload";
  li.dataset.key = name;
  const label = document.createElement("span");
  label.textContent = name + " ";
  const bar = document.createElement("progress");
  bar.max = Math.max(size, 1);
  bar.value = 0;
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = " waiting";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  cancel.className = "cancel";
  li.append(label, bar, state, cancel);
  document.getElementById("uploads").append(li);
  return { li, bar, state, cancel };
}

async function uploadFile(zone, file, relPath) {
  const bucket = zone.dataset.bucket;
  const key = (zone.dataset.prefix || "") + relPath;
  const base = "/upload/" + encodeURIComponent(bucket);
  const row = uploadRow(key, file.size);
  let current = null;
  let cancelled = false;
  let uploadId = null;
  row.cancel.onclick = () => { cancelled = true; if (current) current.xhr.abort(); };
  const type = file.type || "application/octet-stream";
  try {
    row.state.textContent = " uploading";
    if (file.size <= MULTIPART_ABOVE) {
      current = send("PUT", base + "?key=" + encodeURIComponent(key), file, (n) => { row.bar.value = n; }, { "content-type": type });
      await current.done;
    } else {
      const q = "?key=" + encodeURIComponent(key);
      current = send("POST", base + "/multipart" + q + "&action=create", null, null, { "x-file-type": type });
      uploadId = (await current.done).uploadId;
      const parts = [];
      let sent = 0;
      for (let n = 1, off = 0; off < file.size; n++, off += PART_SIZE) {
        if (cancelled) throw new Error("cancelled");
        const blob = file.slice(off, Math.min(off + PART_SIZE, file.size));
        current = send("PUT", base + "/part" + q + "&uploadId=" + encodeURIComponent(uploadId) + "&n=" + n, blob,
          (k) => { row.bar.value = sent + k; });
        const r = await current.done;
        sent += blob.size;
        parts.push({ n, etag: r.etag });
      }
      current = send("POST", base + "/multipart" + q + "&action=complete&uploadId=" + encodeURIComponent(uploadId),
        JSON.stringify(parts), null, { "content-type": "application/json" });
      await current.done;
    }
    row.bar.value = row.bar.max;
    row.state.textContent = " done";
    row.li.classList.add("done");
  } catch (err) {
    row.state.textContent = " " + (cancelled ? "cancelled" : err.message);
    row.li.classList.add(cancelled ? "cancelled" : "failed");
    if (uploadId) {
      send("POST", base + "/multipart?key=" + encodeURIComponent(key) + "&action=abort&uploadId=" + encodeURIComponent(uploadId)).done.catch(() => {});
    }
  }
  row.cancel.remove();
}

// Files of a dropped folder, with their paths inside it.
function entries(entry, path) {
  return new Promise((resolve) => {
    if (entry.isFile) {
      entry.file((f) => resolve([{ file: f, path: path + f.name }]), () => resolve([]));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      const all = [];
      const more = () => reader.readEntries(async (batch) => {
        if (!batch.length) {
          const nested = await Promise.all(all.map((e) => entries(e, path + entry.name + "/")));
          resolve(nested.flat());
        } else { all.push(...batch); more(); }
      }, () => resolve([]));
      more();
    } else resolve([]);
  });
}

async function uploadAll(zone, items) {
  zone.classList.add("busy");
  // One at a time: a folder of many files should not open hundreds of requests.
  for (const it of items) await uploadFile(zone, it.file, it.path);
  zone.classList.remove("busy");
  zone.dataset.finished = String(Number(zone.dataset.finished || 0) + items.length);
  document.dispatchEvent(new CustomEvent("hafiz:uploads-done", { detail: items.length }));
}

function setupDropzone() {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const dt = e.dataTransfer;
    let items = [];
    const list = dt.items ? Array.from(dt.items) : [];
    const withEntries = list.filter((i) => i.kind === "file" && i.webkitGetAsEntry && i.webkitGetAsEntry());
    if (withEntries.length) {
      const found = await Promise.all(withEntries.map((i) => entries(i.webkitGetAsEntry(), "")));
      items = found.flat();
    }
    if (!items.length) items = Array.from(dt.files || []).map((f) => ({ file: f, path: f.name }));
    await uploadAll(zone, items);
  });
  for (const id of ["files", "folder"]) {
    const input = document.getElementById(id);
    if (!input) continue;
    input.addEventListener("change", async () => {
      const items = Array.from(input.files).map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
      await uploadAll(zone, items);
      input.value = "";
    });
  }
}

// ---- live charts ---------------------------------------------------------
function setupCharts() {
  const box = document.getElementById("charts");
  if (!box) return;
  const every = Number(box.dataset.everyMs || 2000);
  const history = [];
  const series = {
    rate: (a, b) => (b.requests - a.requests),
    error_rate: (a, b) => (b.errors - a.errors),
    in_rate: (a, b) => (b.bytes_in - a.bytes_in),
    out_rate: (a, b) => (b.bytes_out - a.bytes_out),
  };
  const fmt = (v) => (v >= 1024 * 1024 ? (v / 1048576).toFixed(1) + " Mi" : v >= 1024 ? (v / 1024).toFixed(1) + " Ki" : v.toFixed(1));
  const tick = async () => {
    try {
      const r = await fetch(box.dataset.source, { credentials: "same-origin" });
      if (!r.ok) return;
      const m = await r.json();
      history.push(m);
      if (history.length > 61) history.shift();
      const set = (id, v) => { const el = document.getElementById(id); if (el) el.textContent = v; };
      set("m-requests", String(m.requests));
      set("m-errors", String(m.errors));
      set("m-in_flight", String(m.in_flight));
      set("m-p50_ms", m.p50_ms == null ? "—" : m.p50_ms.toFixed(1) + " ms");
      set("m-p99_ms", m.p99_ms == null ? "—" : m.p99_ms.toFixed(1) + " ms");
      if (m.heal) set("m-heal", m.heal);
      for (const [name, f] of Object.entries(series)) {
        const svg = document.getElementById("chart-" + name);
        if (!svg || history.length < 2) continue;
        const pts = [];
        for (let i = 1; i < history.length; i++) {
          const dt = Math.max((history[i].t - history[i - 1].t) / 1000, 0.001);
          pts.push(Math.max(f(history[i - 1], history[i]) / dt, 0));
        }
        const max = Math.max(...pts, 1);
        const poly = svg.querySelector("polyline");
        poly.setAttribute("points", pts.map((v, i) => `${(i * 300) / 59},${78 - (v / max) * 74}`).join(" "));
        svg.dataset.points = String(pts.length);
        svg.dataset.last = String(pts[pts.length - 1]);
        set("last-" + name, fmt(pts[pts.length - 1]) + "/s");
      }
    } catch (_) { /* the next tick tries again */ }
  };
  tick();
  setInterval(tick, every);
}

// A form the server means to be sent at once (the SAML request to the IdP).
function autosubmit() {
  const f = document.querySelector("form.autosubmit");
  if (f) f.submit();
}

document.addEventListener("DOMContentLoaded", () => { setupDropzone(); setupCharts(); autosubmit(); });
