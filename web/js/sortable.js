// A reorderable list: drag an item by its grip (HTML5 drag and drop), or
// use its Move up / Move down buttons, or Alt+ArrowUp / Alt+ArrowDown while
// the item has focus. The list itself does not change order: it tells
// ``onMove(from, to)`` and the caller re-renders, so one place owns the order.
import { h } from "./dom.js";
import { t } from "./i18n.js";

/**
 * items: the values; content(item, index) → nodes shown in the item;
 * name(item) → text naming it (for the grip and the move buttons);
 * onMove(from, to, via): splice semantics (take out at from, insert at to);
 * via is "up" | "down" (a button), "key" or "drag".
 */
export function sortableList(items, { content, name, onMove, labelKey }) {
  const list = h("ul", { class: "sortable", "aria-label": labelKey ? t(labelKey) : undefined });
  let dragFrom = null;
  items.forEach((item, index) => {
    const label = name(item);
    const grip = h("span", {
      class: "grip",
      draggable: "true",
      title: t("combos.drag", { name: label }),
      "aria-hidden": "true",
      dataset: { grip: "" },
    }, "⠿");
    const up = h("button", {
      type: "button",
      class: "secondary small",
      disabled: index === 0,
      dataset: { move: "up" },
      "aria-label": t("combos.move-up-named", { name: label }),
      title: t("combos.move-up"),
      onclick: () => onMove(index, index - 1, "up"),
    }, h("span", { "aria-hidden": "true" }, "↑"));
    const down = h("button", {
      type: "button",
      class: "secondary small",
      disabled: index === items.length - 1,
      dataset: { move: "down" },
      "aria-label": t("combos.move-down-named", { name: label }),
      title: t("combos.move-down"),
      onclick: () => onMove(index, index + 1, "down"),
    }, h("span", { "aria-hidden": "true" }, "↓"));
    const li = h("li", {
      tabindex: "0",
      dataset: { index: String(index) },
      "aria-label": t("combos.position", { name: label, position: index + 1, total: items.length }),
    }, grip, h("div", { class: "sortable-body" }, content(item, index)), h("div", { class: "row sortable-moves" }, up, down));
    grip.addEventListener("dragstart", (event) => {
      dragFrom = index;
      li.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", String(index));
      event.dataTransfer.setDragImage(li, 10, 10);
    });
    grip.addEventListener("dragend", () => {
      li.classList.remove("dragging");
      dragFrom = null;
    });
    li.addEventListener("dragover", (event) => {
      if (dragFrom === null) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      li.classList.add("drop-target");
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-target"));
    li.addEventListener("drop", (event) => {
      if (dragFrom === null) return;
      event.preventDefault();
      li.classList.remove("drop-target");
      const from = dragFrom;
      dragFrom = null;
      if (from !== index) onMove(from, index, "drag");
    });
    li.addEventListener("keydown", (event) => {
      if (event.target !== li || !event.altKey) return;
      if (event.key === "ArrowUp" && index > 0) {
        event.preventDefault();
        onMove(index, index - 1, "key");
      } else if (event.key === "ArrowDown" && index < items.length - 1) {
        event.preventDefault();
        onMove(index, index + 1, "key");
      }
    });
    list.append(li);
  });
  return list;
}

/** A copy of ``items`` with the one at ``from`` moved to ``to``. */
export function moved(items, from, to) {
  const copy = [...items];
  const [item] = copy.splice(from, 1);
  copy.splice(to, 0, item);
  return copy;
}
