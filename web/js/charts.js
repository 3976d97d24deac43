// Small SVG charts drawn by hand: stacked columns over categories (days) and
// horizontal bars. Each chart is an image with an accessible name; every bar
// or segment carries a <title>, which browsers show as a tooltip. Text goes
// in with textContent, never as markup.
import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
// Mid-tone colours that keep their contrast on a light and on a dark surface.
export const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f"];
export const OTHER_COLOR = "#8c8c8c";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

function title(text) {
  const el = svg("title");
  el.textContent = text;
  return el;
}

function label(text, attrs, tooltip) {
  const el = svg("text", attrs);
  el.textContent = text;
  if (tooltip) el.append(title(tooltip));
  return el;
}

/** A round top for an axis: 1, 2 or 5 times a power of ten, at least ``max``. */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

// Charts read left to right in every language (time runs that way), so the
// drawing keeps that direction under dir="rtl" too.
function frame(name, width, height) {
  return svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": name, focusable: "false", direction: "ltr",
  });
}

/**
 * Columns per category, each stacked from the series' values.
 * {name, categories: [{key, label}], series: [{name, color, values: {categoryKey: n}}],
 *  tip: (seriesName, categoryLabel, value) => text, format: n => text, width}
 * ``width`` is the drawing's width in CSS pixels, so text keeps its size.
 */
export function stackedColumns({ name, categories, series, tip, format = String, width = 640 }) {
  const height = 220;
  const left = 44;
  const bottom = 22;
  const top = 8;
  const plot = height - bottom - top;
  const totals = categories.map((c) => series.reduce((sum, s) => sum + (s.values[c.key] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const root = frame(name, width, height);
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plot * (1 - fraction);
    root.append(svg("line", { class: "axis", x1: left, x2: width, y1: y, y2: y }));
    root.append(label(format(max * fraction), { x: left - 6, y: y + 4, "text-anchor": "end" }));
  }
  const slot = (width - left) / Math.max(1, categories.length);
  const barWidth = Math.max(2, Math.min(40, slot * 0.7));
  // Leave room for each label (about 50px) so the text never overlaps.
  const every = Math.ceil(categories.length / Math.max(1, Math.floor((width - left) / 50)));
  categories.forEach((category, index) => {
    const x = left + slot * index + (slot - barWidth) / 2;
    let y = top + plot;
    for (const s of series) {
      const value = s.values[category.key] || 0;
      if (!value) continue;
      const tall = (value / max) * plot;
      y -= tall;
      root.append(svg("rect", { x, y, width: barWidth, height: Math.max(tall, 0.5), fill: s.color },
        title(tip(s.name, category.label, value))));
    }
    if (index % every === 0) {
      root.append(label(category.label, { x: x + barWidth / 2, y: height - 6, "text-anchor": "middle" }));
    }
  });
  return h("div", { class: "chart" }, root);
}

/** One horizontal bar per item: {name, items: [{name, value, color, tip}], format, width}. */
export function horizontalBars({ name, items, format = String, width = 640 }) {
  const row = 26;
  const labelWidth = Math.round(Math.min(190, width * 0.38));
  const valueWidth = 56;
  const fits = Math.floor(labelWidth / 7.5); // characters of the name that fit
  const height = Math.max(1, items.length) * row + 4;
  const max = Math.max(1, ...items.map((item) => item.value));
  const root = frame(name, width, height);
  items.forEach((item, index) => {
    const y = index * row + 4;
    const shown = item.name.length > fits ? `${item.name.slice(0, fits - 1)}…` : item.name;
    root.append(label(shown, { x: 0, y: y + row / 2 + 4 }, shown === item.name ? null : item.name));
    const long = ((width - labelWidth - valueWidth) * item.value) / max;
    root.append(svg("rect", { x: labelWidth, y: y + 3, width: Math.max(long, 1), height: row - 8, fill: item.color, rx: 2 },
      title(item.tip || `${item.name}: ${format(item.value)}`)));
    root.append(label(format(item.value), { x: labelWidth + long + 6, y: y + row / 2 + 4 }));
  });
  return h("div", { class: "chart" }, root);
}

/** Swatches naming each colour: [{name, color}]. */
export function legend(items) {
  return h("ul", { class: "legend chart-legend" }, items.map((item) => {
    const swatch = h("i", { "aria-hidden": "true" });
    swatch.style.background = item.color;
    return h("li", {}, swatch, item.name);
  }));
}
