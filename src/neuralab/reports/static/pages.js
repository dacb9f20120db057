// neuralab report pages: draw the metric charts with plotly.js, follow a training run, filter the run list.
// Every text from a run is set with textContent, never as HTML.
"use strict";

const PLOT_CONFIG = {responsive: true, displaylogo: false};
const POLL_MS = 2000;

function drawCharts(charts) {
  const box = document.getElementById("charts");
  if (!box) return;
  charts.forEach((chart, i) => {
    let div = box.children[i];
    if (!div) {
      div = document.createElement("div");
      div.className = "chart";
      box.appendChild(div);
    }
    div.dataset.metric = chart.metric;
    Plotly.react(div, chart.data, chart.layout, PLOT_CONFIG);
  });
  if (!charts.length && !box.children.length) {
    box.textContent = "No metrics logged yet.";
  }
}

// A run still training: fetch its charts again whenever new rows were logged, until it ends.
function follow(url) {
  let known = -1;
  const tick = async () => {
    let done = false;
    try {
      const reply = await fetch(`${url}&known=${known}`, {cache: "no-store"});
      if (reply.ok) {
        const state = await reply.json();
        known = state.rows;
        const status = document.getElementById("status");
        status.textContent = state.status;
        status.className = `status status-${state.status}`;
        document.getElementById("steps").textContent = state.steps;
        if (state.charts) {
          const box = document.getElementById("charts");
          if (box.textContent === "No metrics logged yet.") box.textContent = "";
          drawCharts(state.charts);
        }
        done = !["running", "stopped"].includes(state.status);
      }
    } catch (err) {
      // the server is gone or restarting: keep trying
    }
    if (!done) setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

function filterRuns() {
  const family = document.getElementById("family").value;
  const recipe = document.getElementById("recipe").value;
  const text = document.getElementById("text").value.toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll("tr.run")) {
    const keep = (!family || row.dataset.family === family) && (!recipe || row.dataset.recipe === recipe) &&
      (!text || row.dataset.name.toLowerCase().includes(text) || row.dataset.recipe.includes(text));
    row.hidden = !keep;
    shown += keep ? 1 : 0;
  }
  document.getElementById("shown").textContent = shown;
}

document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("chart-data");
  if (data) drawCharts(JSON.parse(data.textContent));
  if (document.body.dataset.liveUrl) follow(document.body.dataset.liveUrl);
  if (document.getElementById("runs")) {
    for (const id of ["family", "recipe", "text"]) {
      for (const event of ["input", "change"]) document.getElementById(id).addEventListener(event, filterRuns);
    }
    filterRuns();
  }
});
