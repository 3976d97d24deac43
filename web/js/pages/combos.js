// Combos: named, ordered lists of targets (provider/model or another combo)
// with a strategy. Reordering, adding and removing a target of a saved
// combo is saved at once; the strategy and weights wait for Save.
import { del, get, patch, post } from "../api.js";
import { badge, busy, button, checkbox, clear, confirmDialog, field, h, pageHead, select, table, toast } from "../dom.js";
import { formatNumber, t } from "../i18n.js";
import { moved, sortableList } from "../sortable.js";

// omniroute/routing/strategies.py; only "weighted" reads the weights.
const STRATEGIES = ["fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized", "weighted"];
const USES_WEIGHTS = new Set(["weighted"]);

function strategySelect(value) {
  return select(STRATEGIES.map((s) => [s, t(`combos.strategy.${s}`)]), value);
}

export default async function render(root, ctx) {
  const live = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const listBox = h("div", { class: "combo-list" });
  let choices = { models: [], combos: [] };
  const createBox = h("div");
  root.append(
    pageHead("combos.title", button("common.refresh", () => load(), { class: "secondary" })),
    h("p", { class: "muted" }, t("combos.intro")),
    live,
    createBox,
    h("h2", {}, t("combos.list")),
    listBox,
  );

  const announce = (text) => {
    live.textContent = text;
  };

  async function load() {
    const [combos, providers] = await Promise.all([get("/api/combos"), get("/api/providers")]);
    if (ctx.signal.aborted) return;
    choices = {
      models: providers.providers.flatMap((p) => p.models.map((m) => `${p.name}/${m}`)),
      combos: combos.combos.map((c) => c.name),
    };
    clear(createBox, createCard());
    clear(listBox, combos.combos.length
      ? combos.combos.map(comboCard)
      : h("p", { class: "muted" }, t("combos.empty")));
  }

  // ---- the target list editor, shared by the new-combo form and each combo
  function targetEditor(initial, strategy, { self, onSave } = {}) {
    let targets = initial.map((target) => ({ ref: target.ref, weight: target.weight ?? 1, enabled: target.enabled ?? true, problem: target.problem }));
    let current = strategy;
    const holder = h("div");
    const error = h("p", { class: "error-text", role: "alert" });
    const status = h("p", { class: "small muted", role: "status" });

    function draw(focus) {
      const list = targets.length
        ? sortableList(targets, { content: targetContent, name: (target) => target.ref, onMove: move, labelKey: "combos.targets" })
        : h("p", { class: "muted" }, t("combos.no-targets"));
      clear(holder, list);
      if (focus) {
        const li = list.querySelector(`li[data-index="${focus.index}"]`);
        const control = focus.control && li?.querySelector(focus.control);
        (control && !control.disabled ? control : li)?.focus();
      }
    }

    function targetContent(target, index) {
      const parts = [h("code", { class: "target-ref" }, target.ref)];
      if (target.problem) parts.push(badge(t("combos.problem", { problem: target.problem }), "bad"));
      const on = checkbox("combos.target-on", target.enabled);
      on.input.addEventListener("change", () => {
        target.enabled = on.input.checked;
        changed({ index, control: "input[type=checkbox]" });
      });
      on.input.setAttribute("aria-label", t("combos.target-on-named", { name: target.ref }));
      parts.push(on.element);
      if (USES_WEIGHTS.has(current)) {
        const weight = h("input", { type: "number", min: "0", step: "1", value: String(target.weight), class: "weight" });
        weight.addEventListener("input", () => {
          target.weight = Number.parseInt(weight.value, 10);
        });
        weight.setAttribute("aria-label", t("combos.weight-named", { name: target.ref }));
        parts.push(h("label", { class: "check" }, t("combos.weight"), weight));
      }
      parts.push(h("button", {
        type: "button",
        class: "danger small",
        "aria-label": t("combos.remove-target-named", { name: target.ref }),
        onclick: () => {
          targets = targets.filter((_, i) => i !== index);
          announce(t("combos.removed", { name: target.ref }));
          draw({ index: Math.min(index, targets.length - 1) });
          changed();
        },
      }, t("combos.remove-target")));
      return h("div", { class: "row" }, parts);
    }

    function move(from, to, via) {
      const name = targets[from].ref;
      targets = moved(targets, from, to);
      const control = via === "up" || via === "down" ? `[data-move=${via}]` : null;
      draw({ index: to, control });
      announce(t("combos.moved", { name, position: to + 1, total: targets.length }));
      changed({ index: to, control });
    }

    // Quick moves send overlapping saves; only the newest answer may redraw.
    let generation = 0;
    async function changed(focus) {
      if (!onSave) return;
      const mine = ++generation;
      status.textContent = "";
      const saved = await busy(null, () => onSave(), error);
      if (saved && mine === generation) {
        status.textContent = t("combos.saved-order", { name: self });
        targets = saved.targets.map((target) => ({ ...target }));
        // Only the problems may differ: keep the user's place in the list.
        for (const [i, target] of saved.targets.entries()) {
          const shown = holder.querySelector(`li[data-index="${i}"] .target-ref`);
          if (!shown || shown.textContent !== target.ref) return draw(focus);
        }
        if (saved.targets.some((target) => target.problem)) draw(focus);
      }
    }

    // Adding: one of the known models or combos, or any text.
    const pick = h("select");
    pick.append(h("option", { value: "" }, t("combos.pick-placeholder")));
    const modelGroup = h("optgroup", { label: t("combos.group-models") }, choices.models.map((m) => h("option", { value: m }, m)));
    const others = choices.combos.filter((c) => c !== self);
    const comboGroup = h("optgroup", { label: t("combos.group-combos") }, others.map((c) => h("option", { value: c }, c)));
    if (choices.models.length) pick.append(modelGroup);
    if (others.length) pick.append(comboGroup);
    const free = h("input", { type: "text", placeholder: "provider/model", autocomplete: "off", spellcheck: "false" });
    function add(ref, control) {
      const value = ref.trim();
      if (!value) return;
      targets = [...targets, { ref: value, weight: 1, enabled: true }];
      announce(t("combos.added", { name: value }));
      draw();
      control.value = "";
      changed();
    }
    const addForm = h("div", { class: "form-grid add-target" },
      h("div", {}, field("combos.pick", pick), button("combos.add-picked", () => add(pick.value, pick), { class: "secondary small" })),
      h("div", {}, field("combos.free", free, "combos.free-hint"), button("combos.add-free", () => add(free.value, free), { class: "secondary small" })));
    free.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        add(free.value, free);
      }
    });

    draw();
    return {
      element: h("div", { class: "target-editor" }, h("h3", {}, t("combos.targets")), holder, status, error, addForm),
      targets: () => targets.map(({ ref, weight, enabled }) => ({ ref, weight: Number.isFinite(weight) ? weight : 1, enabled })),
      setStrategy(value) {
        current = value;
        draw();
      },
      error,
    };
  }

  // ---- a new combo
  function createCard() {
    const name = h("input", { type: "text", autocomplete: "off", spellcheck: "false", required: true });
    const strategy = strategySelect("fill-first");
    const editor = targetEditor([], "fill-first");
    strategy.addEventListener("change", () => editor.setStrategy(strategy.value));
    const error = h("p", { class: "error-text", role: "alert" });
    const create = button("combos.create", () => busy(create, async () => {
      const body = { name: name.value.trim(), strategy: strategy.value, targets: editor.targets() };
      await post("/api/combos", body);
      toast(t("combos.created", { name: body.name }));
      await load();
    }, error));
    return h("details", { class: "card new-combo" },
      h("summary", {}, t("combos.new")),
      h("div", { class: "form-grid" }, field("combos.name", name), field("combos.strategy", strategy, "combos.strategy-hint")),
      editor.element,
      error,
      h("div", { class: "row" }, create));
  }

  // ---- one saved combo
  function comboCard(combo) {
    const path = `/api/combos/${encodeURIComponent(combo.name)}`;
    const strategy = strategySelect(combo.strategy);
    const result = h("div", { class: "test-result", "aria-live": "polite" });
    const editor = targetEditor(combo.targets, combo.strategy, {
      self: combo.name,
      onSave: async () => {
        return patch(path, { targets: editor.targets() });
      },
    });
    strategy.addEventListener("change", () => editor.setStrategy(strategy.value));
    const save = button("common.save", () => busy(save, async () => {
      await patch(path, { strategy: strategy.value, targets: editor.targets() });
      toast(t("common.saved"));
      await load();
    }, editor.error));
    const toggle = button(combo.enabled ? "common.disable" : "common.enable", () => busy(toggle, async () => {
      await patch(path, { enabled: !combo.enabled });
      toast(t(combo.enabled ? "combos.disabled-toast" : "combos.enabled-toast", { name: combo.name }));
      await load();
    }), { class: "secondary small" });
    const remove = button("common.delete", async () => {
      if (!(await confirmDialog(t("combos.delete-confirm", { name: combo.name }), "common.delete"))) return;
      await busy(remove, async () => {
        await del(path);
        toast(t("combos.deleted", { name: combo.name }));
        await load();
      });
    }, { class: "danger small" });
    const test = button("common.test", () => busy(test, async () => {
      clear(result, h("p", { class: "muted" }, t("combos.testing")));
      const answer = await post(`${path}/test`);
      showTest(result, answer);
    }, result), { class: "secondary small" });
    return h("section", { class: "card combo", "aria-label": combo.name, dataset: { combo: combo.name } },
      h("div", { class: "page-head" },
        h("h2", {}, combo.name),
        h("div", { class: "row" },
          badge(combo.enabled ? t("common.enabled") : t("common.disabled"), combo.enabled ? "ok" : "warn"),
          badge(t(`combos.strategy.${combo.strategy}`)))),
      h("div", { class: "row" }, test, toggle, remove),
      result,
      h("div", { class: "form-grid" }, field("combos.strategy", strategy, "combos.strategy-hint")),
      editor.element,
      h("div", { class: "row" }, save));
  }

  function showTest(box, answer) {
    const rows = answer.targets || [];
    clear(box,
      h("p", {}, badge(answer.ok ? t("combos.test-ok") : t("combos.test-failed"), answer.ok ? "ok" : "bad")),
      rows.length ? table([
        { label: "combos.col.target", value: (r) => h("code", {}, r.target) },
        { label: "combos.col.step", value: (r) => String(r.step) },
        { label: "combos.col.result", value: (r) => badge(r.ok ? t("combos.ok") : t("combos.failed"), r.ok ? "ok" : "bad") },
        { label: "combos.col.status", value: (r) => (r.status == null ? "—" : String(r.status)) },
        { label: "combos.col.latency", value: (r) => (r.latency_ms == null ? "—" : t("combos.ms", { ms: formatNumber(r.latency_ms) })) },
        { label: "combos.col.model", value: (r) => r.model || "—" },
        { label: "combos.col.error", value: (r) => r.error || "" },
      ], rows) : h("p", { class: "muted" }, t("combos.test-none")));
  }

  await load();
}
