// The docent's page: pick a tour, give visitors its code, move everyone to the next stop.
import { api, token } from "./api.js";
import { getLang, langSwitch, t } from "./i18n.js";
import { signIn } from "./signin.js";
import { connect, request } from "./socket.js";

const $ = (id) => document.getElementById(id);
const state = { tours: [], titles: new Map(), tour: null, index: 0, socket: null };

function pickText(texts) {
  if (!texts) return "";
  return texts[getLang()] || Object.values(texts)[0] || "";
}

async function loadTours() {
  const [{ items }, exhibits] = await Promise.all([
    api("/api/v1/tours"),
    api("/api/v1/exhibits?limit=200").catch(() => ({ items: [] })),
  ]);
  state.tours = items;
  state.exhibits = exhibits.items;
  for (const exhibit of exhibits.items) state.titles.set(exhibit.id, exhibit.title);
  const select = $("tour");
  select.replaceChildren(
    ...items.map((tour) => Object.assign(document.createElement("option"), { value: tour.id, textContent: pickText(tour.title) })),
  );
  if (!items.length) $("lead").append(Object.assign(document.createElement("p"), { textContent: t("docent.none") }));
}

function render() {
  const tour = state.tour;
  if (!tour) return;
  $("tour-live").hidden = false;
  $("tour-name").textContent = pickText(tour.title);
  $("tour-code").textContent = tour.code;
  $("stops").replaceChildren(
    ...tour.stops.map((stop, i) => {
      const li = document.createElement("li");
      li.textContent = pickText(state.titles.get(stop.exhibit_id)) || `#${stop.exhibit_id}`;
      if (i === state.index) {
        li.setAttribute("aria-current", "step");
        li.append(" ◀");
      }
      return li;
    }),
  );
  $("prev").disabled = state.index <= 0;
  $("next").disabled = state.index >= tour.stops.length - 1;
  $("tour-live").dataset.index = String(state.index);
  $("followers").textContent = t("curator.unavailable");
}

async function goto(index) {
  const ack = await request(state.socket, "tour:goto", { tour_id: state.tour.id, index });
  if (!ack.ok) {
    $("docent-status").textContent = ack.error.message;
    return;
  }
  state.index = ack.index;
  const stop = state.tour.stops[state.index];
  $("docent-status").textContent = `${t("tour.stop")} ${state.index + 1}: ${pickText(state.titles.get(stop.exhibit_id))}`;
  render();
}

async function main() {
  langSwitch(() => render());
  await signIn("docent", { form: $("sign-in"), error: $("sign-in-error"), who: $("who"), outButton: $("sign-out") });
  state.socket = connect("/visit", { lang: getLang(), token: token() });
  $("lead").hidden = false;
  await loadTours();
  $("pick").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = Number($("tour").value);
    state.tour = await api(`/api/v1/tours/${id}`);
    state.index = state.tour.current_index || 0;
    // Followers are counted by the server only for librarians (presence); a docent sees the
    // count when the server offers one.
    render();
  });
  $("next").addEventListener("click", () => goto(state.index + 1));
  $("prev").addEventListener("click", () => goto(state.index - 1));
}

main();
