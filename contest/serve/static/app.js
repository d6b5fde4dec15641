// The page of `contest serve`: draw on a canvas, send it as PNG to POST /predict?images=true,
// show the preprocessed 28x28 image, probability bars and each member's vote. Plain JS, no build.
"use strict";

const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const $ = (id) => document.getElementById(id);
let drawing = false;
let drawn = false;

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  drawn = false;
}

function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
          (event.clientY - box.top) * pad.height / box.height];
}

function startStroke(event) {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = padPoint(event);
  ink.beginPath();
  ink.moveTo(x, y);
  ink.lineTo(x + 0.1, y + 0.1);
  ink.stroke();
  drawn = true;
  event.preventDefault();
}

function continueStroke(event) {
  if (!drawing) return;
  const [x, y] = padPoint(event);
  ink.lineTo(x, y);
  ink.stroke();
  event.preventDefault();
}

function endStroke() {
  if (!drawing) return;
  drawing = false;
  predictDrawing();
}

function showError(message) {
  $("error").textContent = message || "";
}

async function answerOf(response) {
  if (response.ok) return response;
  let message = `HTTP ${response.status}`;
  try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
  throw new Error(message);
}

function predictDrawing() {
  if (!drawn) return;
  pad.toBlob(async (blob) => {
    try {
      const response = await answerOf(await fetch("/predict?images=true", {
        method: "POST", headers: {"Content-Type": "image/png"}, body: blob}));
      showPrediction(await response.json());
      showError("");
    } catch (error) {
      showError(error.message);
    }
  }, "image/png");
}

function showSeen(rows) {
  const seen = $("seen").getContext("2d");
  const image = seen.createImageData(rows[0].length, rows.length);
  rows.flat().forEach((value, i) => {
    image.data.set([value, value, value, 255], 4 * i);
  });
  seen.putImageData(image, 0, 0);
}

function showBars(probabilities, label) {
  $("bars").replaceChildren(...probabilities.map((p, digit) => {
    const row = document.createElement("div");
    row.className = "bar" + (digit === label ? " top" : "");
    row.innerHTML = `<span>${digit}</span><span class="track"><span class="fill"
      style="display:block;width:${(100 * p).toFixed(1)}%"></span></span>
      <span>${(100 * p).toFixed(1)}%</span>`;
    return row;
  }));
}

function showVotes(members, label, disagree) {
  $("votes").replaceChildren(...members.map((member) => {
    const item = document.createElement("li");
    const vote = member.labels[0];
    item.className = "vote" + (vote === label ? "" : " other");
    item.textContent = `${member.file}: ${vote} (${(100 * member.confidence[0]).toFixed(1)}%)`;
    return item;
  }));
  $("agreement").textContent = disagree
    ? "The members disagree: the votes in red differ from the ensemble."
    : `All ${members.length} members agree.`;
}

function showPrediction(answer) {
  const label = answer.labels[0];
  $("prediction").textContent = String(label);
  $("confidence").textContent = `confidence ${(100 * answer.confidence[0]).toFixed(1)}%`;
  showSeen(answer.images[0]);
  showBars(answer.probabilities[0], label);
  showVotes(answer.members, label, answer.disagree[0]);
}

const CONTENT_TYPES = {npy: "application/x-npy", csv: "text/csv", png: "image/png",
                       json: "application/json"};

async function predictFile() {
  const file = $("file").files[0];
  if (!file) { showError("choose an images file first"); return; }
  const suffix = file.name.split(".").pop().toLowerCase();
  const type = CONTENT_TYPES[suffix] || file.type || "application/octet-stream";
  $("file-status").textContent = `predicting ${file.name}…`;
  try {
    const response = await answerOf(await fetch("/predict", {
      method: "POST", headers: {"Content-Type": type, "Accept": "text/csv"}, body: file}));
    const text = await response.text();
    const link = $("download");
    link.href = URL.createObjectURL(new Blob([text], {type: "text/csv"}));
    link.hidden = false;
    const count = text.trim().split("\n").length - 1;
    $("file-status").textContent = `${file.name}: ${count} images predicted`;
    showError("");
  } catch (error) {
    $("file-status").textContent = "";
    showError(`${file.name}: ${error.message}`);
  }
}

async function showInfo() {
  try {
    const info = await (await answerOf(await fetch("/info"))).json();
    const accuracy = info.validation_accuracy == null ? ""
      : `, validation accuracy ${(100 * info.validation_accuracy).toFixed(2)}%`;
    $("info").textContent = `${info.members.length} members of arch ${info.arch}` +
      ` (${info.input.height}x${info.input.width} input${accuracy})`;
  } catch (error) {
    $("info").textContent = `not ready: ${error.message}`;
  }
}

ink.lineWidth = 18;
ink.lineCap = "round";
ink.lineJoin = "round";
ink.strokeStyle = "#000";
clearPad();
pad.addEventListener("pointerdown", startStroke);
pad.addEventListener("pointermove", continueStroke);
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", clearPad);
$("predict").addEventListener("click", predictDrawing);
$("upload").addEventListener("click", predictFile);
showInfo();
