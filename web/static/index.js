// Lists the published exhibits with their markers, each linking to its page.
const list = document.getElementById("exhibits");

async function load() {
  const response = await fetch("/api/v1/exhibits?limit=200");
  const { items } = await response.json();
  list.replaceChildren(...items.map((exhibit) => {
    const li = document.createElement("li");
    const vi = document.createElement("a");
    vi.href = `/visit/${encodeURIComponent(exhibit.slug)}`;
    vi.textContent = exhibit.title.vi ?? exhibit.slug;
    const en = document.createElement("span");
    en.lang = "en";
    en.textContent = exhibit.title.en ? ` — ${exhibit.title.en}` : "";
    const marker = document.createElement("small");
    marker.textContent = ` (marker ${exhibit.marker.dictionary} #${exhibit.marker.id})`;
    li.append(vi, en, marker);
    return li;
  }));
  if (!items.length) list.replaceChildren(Object.assign(document.createElement("li"), {
    textContent: "Chưa có hiện vật nào được công bố.",
  }));
}

load().catch(() => {
  list.replaceChildren(Object.assign(document.createElement("li"), {
    textContent: "Không tải được danh sách hiện vật.",
  }));
});
