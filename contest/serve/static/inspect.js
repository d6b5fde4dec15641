// The page's "look inside" view: POST the drawing to /inspect and show every member's saliency
// over the image, one member's feature maps layer by layer and the nearest training images.
// Uses pad, $, answerOf and showError of app.js. Plain JS, no build.
"use strict";

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function bytesOf(picture) {
  const text = atob(picture.data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function viridis(v) {   // v in 0..1 -> [r, g, b], linear between five stops
  const x = v * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const t = x - i;
  return VIRIDIS[i].map((c, k) => c + t * (VIRIDIS[i + 1][k] - c));
}

function hot(v) {   // black -> red -> yellow -> white
  return [255 * Math.min(1, 3 * v), 255 * Math.min(1, Math.max(0, 3 * v - 1)),
          255 * Math.min(1, Math.max(0, 3 * v - 2))];
}

function canvasOf(width, height, colour) {   // colour(i) -> [r, g, b] of pixel i
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([...colour(i), 255], 4 * i);
  context.putImageData(image, 0, 0);
  return canvas;
}

function rgbOf(picture) {   // an image picture ([h, w] grey or [h, w, 3]) -> pixel i -> rgb
  const bytes = bytesOf(picture);
  return picture.shape.length === 3
    ? (i) => [bytes[3 * i], bytes[3 * i + 1], bytes[3 * i + 2]]
    : (i) => [bytes[i], bytes[i], bytes[i]];
}

function figure(canvas, caption, className) {
  const item = document.createElement("figure");
  item.className = className;
  const text = document.createElement("figcaption");
  text.textContent = caption;
  item.append(canvas, text);
  return item;
}

function saliencyFigures(answer) {
  const [height, width] = answer.image.shape;
  const base = rgbOf(answer.image);
  return answer.members.map((member) => {
    const heat = bytesOf(member.saliency);
    const canvas = canvasOf(width, height, (i) => {
      const v = heat[i] / 255;
      const alpha = Math.pow(v, 0.7);
      const colour = hot(v);
      return base(i).map((c, k) => (1 - alpha) * 0.6 * c + alpha * colour[k]);
    });
    return figure(canvas, `member ${member.member}: ${member.label}`, "saliency");
  });
}

function mapRows(layers) {
  return layers.map((layer) => {
    const [count, height, width] = layer.maps.shape;
    const bytes = bytesOf(layer.maps);
    const row = document.createElement("div");
    row.className = "maprow";
    const name = document.createElement("span");
    name.textContent = `${layer.name} ${layer.shape.join("x")}`;
    row.append(name);
    for (let c = 0; c < count; c++) {
      const offset = c * height * width;
      const canvas = canvasOf(width, height, (i) => viridis(bytes[offset + i] / 255));
      canvas.title = `channel ${layer.channels[c]}`;
      row.append(canvas);
    }
    return row;
  });
}

function neighbourFigures(answer) {
  if (!answer.neighbours) return [];
  return answer.neighbours.map((near) => {
    const [height, width] = near.image.shape;
    return figure(canvasOf(width, height, rgbOf(near.image)),
                  `#${near.index}: ${near.name}`, "neighbour");
  });
}

function showInside(answer) {
  $("inside-section").hidden = false;
  $("saliency").replaceChildren(...saliencyFigures(answer));
  const select = $("inside-member");
  if (select.options.length !== answer.members.length) {
    select.replaceChildren(...answer.members.map((m) => new Option(String(m.member), m.member)));
  }
  select.value = String(answer.feature_maps[0].member);
  $("maps").replaceChildren(...mapRows(answer.feature_maps[0].layers));
  $("neighbours").replaceChildren(...neighbourFigures(answer));
  $("inside-status").textContent = answer.neighbours ? ""
    : `nearest training images: ${answer.neighbours_status}`;
  if (answer.neighbours_status.startsWith("loading")) setTimeout(lookInside, 2000);
}

function lookInside() {
  if (!drawn) { showError("draw a digit first"); return; }
  const member = $("inside-member").value || "0";
  pad.toBlob(async (blob) => {
    try {
      const response = await answerOf(await fetch(`/inspect?member=${member}`, {
        method: "POST", headers: {"Content-Type": "image/png"}, body: blob}));
      showInside(await response.json());
      showError("");
    } catch (error) {
      showError(error.message);
    }
  }, "image/png");
}

$("look").addEventListener("click", lookInside);
$("inside-member").addEventListener("change", lookInside);
