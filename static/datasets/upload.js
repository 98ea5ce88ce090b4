// Resumable, chunked upload of an archive, or of a picked folder packed as a tar in the browser.
import { tarOf } from "./tar.js";
import { csrfToken } from "../front/csrf.js";
import { formatDuration } from "../front/duration.js";

const CHUNK_BYTES = 8 * 1024 * 1024;
const MAX_RETRIES = 8;

const form = document.getElementById("upload-form");
const nameInput = document.getElementById("dataset-name");
const archiveInput = document.getElementById("archive-input");
const folderInput = document.getElementById("folder-input");
const dropzone = document.getElementById("dropzone");
const chosen = document.getElementById("chosen");
const button = document.getElementById("upload-button");
const progress = document.getElementById("upload-progress");
const bar = document.getElementById("progress-bar");
const text = document.getElementById("progress-text");
const eta = document.getElementById("progress-eta");
const errorBox = document.getElementById("upload-error");

let selection = null; // {blob, label, key}
let active = null; // {id, request}: the upload in flight, so it can be cancelled

function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function choose(blob, label, key) {
  selection = { blob, label, key };
  chosen.hidden = false;
  chosen.textContent = `${label} · ${formatBytes(blob.size)}`;
  if (!nameInput.value) nameInput.value = label.replace(/\.(zip|tgz|tar\.gz|tar)$/i, "").replace(/^.*\//, "");
  button.disabled = false;
}

function chooseArchive(file) {
  choose(file, file.name, `nasweb-upload:${file.name}:${file.size}:${file.lastModified}`);
}

archiveInput.addEventListener("change", () => archiveInput.files[0] && chooseArchive(archiveInput.files[0]));
folderInput.addEventListener("change", () => {
  const files = [...folderInput.files];
  if (!files.length) return;
  const folder = files[0].webkitRelativePath.split("/")[0];
  const newest = Math.max(...files.map((f) => f.lastModified));
  choose(tarOf(files), `${folder}/ (${files.length} files)`, `nasweb-upload:${folder}:${files.length}:${newest}`);
});
for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("dropzone--over");
  });
}
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dropzone--over"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("dropzone--over");
  const file = event.dataTransfer.files[0];
  if (file && /\.(zip|tar|tgz|tar\.gz)$/i.test(file.name)) chooseArchive(file);
  else if (file) showError("To upload a folder, use “Choose a folder”; dropping works for .zip and .tar.gz files.");
});

function showError(message) {
  progress.hidden = false;
  errorBox.hidden = false;
  errorBox.textContent = message;
}

async function api(method, url, body, headers = {}) {
  const response = await fetch(url, { method, body, headers: { "X-CSRFToken": csrfToken(), ...headers } });
  const payload = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { response, payload };
}

function errorText(payload) {
  return Object.values(payload).flat().join(" ") || "The server refused the upload.";
}

async function openUpload() {
  const known = localStorage.getItem(selection.key);
  if (known) {
    const { response, payload } = await api("GET", `/api/datasets/${known}/upload/`);
    if (response.ok && payload.status === "uploading") return { id: known, received: payload.received };
  }
  const body = JSON.stringify({ name: nameInput.value.trim(), size: selection.blob.size, team: Number(form.dataset.team) });
  const { response, payload } = await api("POST", "/api/datasets/uploads/", body, { "Content-Type": "application/json" });
  if (!response.ok) throw new Error(errorText(payload));
  localStorage.setItem(selection.key, payload.id);
  return { id: payload.id, received: 0 };
}

function putChunk(id, start, chunk, onProgress) {
  // XMLHttpRequest rather than fetch: only it reports upload progress within a chunk.
  return new Promise((resolve, reject) => {
    if (!active) return reject(new Error("cancelled"));
    const request = new XMLHttpRequest();
    request.open("PUT", `/api/datasets/${id}/upload/`);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.setRequestHeader("Content-Range", `bytes ${start}-${start + chunk.size - 1}/${selection.blob.size}`);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.upload.addEventListener("progress", (event) => onProgress(start + event.loaded));
    request.addEventListener("load", () => resolve({ status: request.status, payload: JSON.parse(request.responseText || "{}") }));
    request.addEventListener("error", () => reject(new Error("network")));
    request.addEventListener("abort", () => reject(new Error("cancelled")));
    active.request = request;
    request.send(chunk);
  });
}

async function upload() {
  errorBox.hidden = true;
  progress.hidden = false;
  button.disabled = true;
  const total = selection.blob.size;
  let { id, received } = await openUpload();
  active = { id, request: null };
  const started = performance.now();
  const startedAt = received;
  const show = (sent) => {
    const seconds = (performance.now() - started) / 1000;
    const speed = (sent - startedAt) / Math.max(seconds, 0.001);
    bar.style.width = `${(100 * sent) / total}%`;
    text.textContent = `${formatBytes(sent)} of ${formatBytes(total)} · ${formatBytes(speed)}/s`;
    eta.textContent = sent < total && seconds > 1 && speed > 0 ? `${formatDuration(Math.ceil((total - sent) / speed))} left` : "";
  };
  show(received);
  let retries = 0;
  while (received < total) {
    try {
      const { status, payload } = await putChunk(id, received, selection.blob.slice(received, received + CHUNK_BYTES), show);
      if (status === 200 || status === 409) {
        received = payload.received;
        retries = 0;
      } else {
        throw new Error(errorText(payload));
      }
    } catch (error) {
      if (error.message !== "network" || retries >= MAX_RETRIES) throw error;
      retries += 1;
      text.textContent = `Connection lost, retrying (${retries}/${MAX_RETRIES})…`;
      await new Promise((resolve) => setTimeout(resolve, 1000 * retries));
      const { payload } = await api("GET", `/api/datasets/${id}/upload/`);
      received = payload.received ?? received;
    }
    show(received);
  }
  localStorage.removeItem(selection.key);
  text.textContent = "Uploaded. Opening your dataset…";
  location.assign(`/datasets/${id}/`);
}

document.getElementById("cancel-upload").addEventListener("click", async () => {
  if (!active) return;
  const { id, request } = active;
  active = null;
  request?.abort();
  await api("DELETE", `/api/datasets/${id}/`);
  localStorage.removeItem(selection.key);
  progress.hidden = true;
  button.disabled = false;
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!selection) return;
  upload().catch((error) => {
    if (error.message === "cancelled") return;
    button.disabled = false;
    showError(error.message === "network" ? "The connection was lost. Choose the same file again to continue the upload." : error.message);
  });
});

// A file chosen before this module ran (a fast user, or the browser restoring the form) still counts.
if (archiveInput.files[0]) chooseArchive(archiveInput.files[0]);
