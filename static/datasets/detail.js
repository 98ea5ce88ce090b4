import { liveEvents } from "../front/live.js";

const ingestion = document.getElementById("ingestion");
if (ingestion) {
  const datasetId = Number(ingestion.dataset.dataset);
  const bar = document.getElementById("ingestion-bar");
  const text = document.getElementById("ingestion-text");
  // Every stage apps.datasets.ingestion reports, in words.
  const stages = { extracting: "Unpacking the archive", reading: "Reading each image's size", decoding: "Opening every image",
    checking: "Checking the data", saving: "Saving the images for training" };
  liveEvents.addEventListener("dataset.progress", ({ detail }) => {
    if (detail.dataset !== datasetId) return;
    bar.classList.remove("progress__bar--busy");
    bar.style.width = `${detail.total ? (100 * detail.done) / detail.total : 0}%`;
    text.textContent = `${stages[detail.stage] ?? detail.stage}: ${detail.done} of ${detail.total}`;
  });
  liveEvents.addEventListener("dataset.status", ({ detail }) => {
    if (detail.dataset === datasetId) location.reload();
  });
  // A page opened after the worker finished, or that missed the event while reconnecting, still gets there.
  const poll = setInterval(async () => {
    const response = await fetch(`/api/datasets/${datasetId}/`);
    if (response.ok && !["uploading", "ingesting"].includes((await response.json()).status)) {
      clearInterval(poll);
      location.reload();
    }
  }, 5000);
}

const gallery = document.getElementById("gallery");
if (gallery) {
  const datasetId = gallery.dataset.dataset;
  const grid = document.getElementById("gallery-grid");
  const pageLabel = document.getElementById("gallery-page");
  const prev = document.getElementById("gallery-prev");
  const next = document.getElementById("gallery-next");
  const tabs = [...gallery.querySelectorAll(".tab")];
  let label = tabs[0]?.dataset.label;
  let page = 1;

  async function show() {
    const query = new URLSearchParams({ label, page });
    const response = await fetch(`/api/datasets/${datasetId}/images/?${query}`);
    const data = await response.json();
    grid.replaceChildren(
      ...data.results.map((image) => {
        const figure = document.createElement("figure");
        const img = document.createElement("img");
        img.src = image.thumbnail_url;
        img.alt = `${image.label}: ${image.path}`;
        img.loading = "lazy";
        const caption = document.createElement("figcaption");
        caption.textContent = image.path.split("/").pop();
        caption.title = `${image.path} · ${image.width}×${image.height}`;
        figure.append(img, caption);
        return figure;
      }),
    );
    const pages = Math.max(1, Math.ceil(data.count / 48));
    pageLabel.textContent = `Page ${page} of ${pages}`;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
    for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.dataset.label === label));
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      label = tab.dataset.label;
      page = 1;
      show();
    });
  }
  prev.addEventListener("click", () => {
    page -= 1;
    show();
  });
  next.addEventListener("click", () => {
    page += 1;
    show();
  });
  show();
}
