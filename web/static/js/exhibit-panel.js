// The text side of an exhibit: title, narration (text and audio), points of interest, and the
// catalogue card. Everything comes in the visitor's language in the manifest.
import { t } from "./i18n.js";

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function renderPanel(container, manifest, { onHotspot } = {}) {
  if (!manifest) {
    container.replaceChildren(el("p", { textContent: t("exhibit.none") }));
    return;
  }
  const { exhibit, hotspots = [], catalog } = manifest;
  const parts = [el("h2", { id: "exhibit-title", textContent: exhibit.title })];
  parts[0].lang = exhibit.lang;
  if (manifest.tour_note) parts.push(el("p", { className: "tour-note", textContent: manifest.tour_note }));
  if (exhibit.narration) {
    const narration = el("p", { className: "narration", textContent: exhibit.narration });
    narration.lang = exhibit.lang;
    parts.push(narration);
  }
  if (exhibit.narration_audio) {
    const audio = el("audio", { controls: true, preload: "none", src: exhibit.narration_audio });
    audio.setAttribute("aria-label", t("exhibit.audio"));
    parts.push(el("p", {}, audio));
  }
  if (hotspots.length) {
    const detail = el("p", { className: "hotspot-body", id: "hotspot-body" });
    detail.setAttribute("aria-live", "polite");
    const list = el("ul", { className: "hotspots" });
    hotspots.forEach((spot, index) => {
      const button = el("button", { type: "button", textContent: spot.title || `#${index + 1}` });
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => {
        for (const other of list.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
        button.setAttribute("aria-pressed", "true");
        detail.textContent = spot.body || "";
        onHotspot?.(index);
      });
      list.append(el("li", {}, button));
    });
    parts.push(el("h3", { textContent: t("exhibit.hotspots") }), list, detail);
  }
  if (catalog) parts.push(catalogCard(catalog));
  container.replaceChildren(...parts);
}

export function catalogCard(catalog) {
  const rows = [
    [t("catalog.author"), catalog.author],
    [t("catalog.call"), catalog.call_number],
    [t("catalog.isbn"), catalog.isbn],
  ].filter(([, value]) => value);
  const list = el("dl");
  for (const [label, value] of rows) list.append(el("dt", { textContent: label }), el("dd", { textContent: value }));
  const card = el(
    "section",
    { className: "catalog-card" },
    el("h3", { textContent: t("catalog.title") }),
    el("p", { className: "book-title", textContent: catalog.title || catalog.record_id }),
    list,
  );
  card.setAttribute("aria-label", t("catalog.title"));
  // Only links on this server: the page must not send visitors' devices elsewhere unasked.
  if (catalog.url && catalog.url.startsWith("/")) {
    card.append(el("a", { href: catalog.url, textContent: t("catalog.open") }));
  }
  return card;
}
