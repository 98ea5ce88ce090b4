// What only the team sees on a run page: teammates' notes arriving live, and copying a new share link.
import { liveEvents } from "../front/live.js";

const runId = Number(document.getElementById("run").dataset.run);
const notes = document.getElementById("notes-list");

liveEvents.addEventListener("run.notes", async ({ detail }) => {
  if (detail.run !== runId) return;
  // The server renders the notes (markdown with HTML escaped); the socket only says that they changed.
  const response = await fetch(notes.dataset.url);
  if (response.ok) notes.innerHTML = await response.text();
});

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    field.select();
    await navigator.clipboard?.writeText(field.value);
    button.textContent = "Copied";
  });
}
