// The two languages of the pages: the visitor's choice is kept in localStorage and in a cookie
// (so that the server renders /visit/{slug} in it on the next visit).
export const LANGUAGES = ["vi", "en"];
const KEY = "smartlib.lang";

const TEXTS = {
  vi: {
    "app.name": "Thư viện thông minh",
    "lang.label": "Ngôn ngữ",
    "visit.title": "Khám phá hiện vật",
    "visit.intro": "Hướng máy ảnh vào mã in cạnh hiện vật để xem mô hình 3D ngay trên mã.",
    "camera.start": "Bật máy ảnh",
    "camera.stop": "Tắt máy ảnh",
    "camera.label": "Hình ảnh từ máy ảnh, có mô hình 3D vẽ chồng lên mã",
    "camera.denied": "Không dùng được máy ảnh. Bạn vẫn có thể chọn hiện vật trong danh sách bên dưới.",
    "status.idle": "Máy ảnh đang tắt.",
    "status.looking": "Đang tìm mã…",
    "status.found": "Đã thấy mã của hiện vật.",
    "status.lost": "Mất dấu mã — giữ máy ảnh hướng về mã.",
    "status.offline": "Đang ngoại tuyến: chỉ xem được các hiện vật đã tải trước.",
    "status.loading": "Đang tải mô hình…",
    "status.model": "Mô hình đã hiện.",
    "exhibit.none": "Chưa chọn hiện vật.",
    "exhibit.narration": "Thuyết minh",
    "exhibit.audio": "Nghe thuyết minh",
    "exhibit.hotspots": "Điểm đáng chú ý",
    "exhibit.view3d": "Xem 3D / AR",
    "exhibit.close": "Đóng",
    "exhibit.poster": "Ảnh xem trước của mô hình",
    "exhibit.model": "Mô hình 3D",
    "exhibit.open": "Trang riêng của hiện vật",
    "exhibit.notfound": "Không tìm thấy hiện vật này.",
    "exhibit.controls": "Kéo hoặc dùng phím mũi tên để xoay, cuộn để phóng to.",
    "catalog.title": "Đọc sách về hiện vật",
    "catalog.author": "Tác giả",
    "catalog.call": "Số hiệu xếp giá",
    "catalog.isbn": "ISBN",
    "catalog.open": "Xem trong mục lục",
    "tour.title": "Tham gia chuyến tham quan",
    "tour.code": "Mã chuyến tham quan",
    "tour.join": "Tham gia",
    "tour.leave": "Rời chuyến",
    "tour.joined": "Đang theo chuyến",
    "tour.stop": "Điểm dừng",
    "tour.of": "trên",
    "list.title": "Các hiện vật",
    "list.empty": "Chưa có hiện vật nào.",
    "list.failed": "Không tải được danh sách hiện vật.",
    "presence.here": "người đang xem",
    "signin.title": "Đăng nhập",
    "signin.email": "Thư điện tử",
    "signin.password": "Mật khẩu",
    "signin.submit": "Đăng nhập",
    "signin.out": "Đăng xuất",
    "signin.as": "Đã đăng nhập:",
    "signin.role": "Tài khoản này không có quyền dùng trang này.",
    "docent.title": "Hướng dẫn viên",
    "docent.pick": "Chọn chuyến tham quan",
    "docent.start": "Dẫn chuyến này",
    "docent.code": "Mã để khách tham gia",
    "docent.joined": "Khách đang theo",
    "docent.next": "Điểm tiếp theo",
    "docent.prev": "Điểm trước",
    "docent.none": "Chưa có chuyến tham quan nào.",
    "curator.title": "Xưởng giám tuyển",
    "curator.upload": "Tải lên bản quét 3D",
    "curator.file": "Tệp mô hình (GLB, glTF, OBJ, PLY, STL)",
    "curator.send": "Tải lên",
    "curator.lods": "Các mức chi tiết",
    "curator.triangles": "tam giác",
    "curator.exhibit": "Hiện vật",
    "curator.new": "Hiện vật mới",
    "curator.slug": "Đường dẫn (slug)",
    "curator.titleVi": "Tên (tiếng Việt)",
    "curator.titleEn": "Tên (tiếng Anh)",
    "curator.narrVi": "Thuyết minh (tiếng Việt)",
    "curator.narrEn": "Thuyết minh (tiếng Anh)",
    "curator.marker": "Mã ArUco 4×4 số",
    "curator.markerSize": "Cạnh mã (m)",
    "curator.asset": "Mô hình",
    "curator.publish": "Công bố",
    "curator.save": "Lưu",
    "curator.saved": "Đã lưu.",
    "curator.sheet": "Tải tờ in mã (PDF)",
    "curator.hotspotHint": "Bấm lên mô hình để thêm điểm đáng chú ý.",
    "curator.hotspotTitle": "Tiêu đề điểm",
    "curator.remove": "Xoá",
    "curator.presence": "Khách đang ở các hiện vật",
    "curator.analytics": "Thống kê 30 ngày",
    "curator.scans": "Lượt quét",
    "curator.dwell": "Thời gian xem (giây)",
    "curator.visitors": "Khách",
    "curator.catalog": "Liên kết mục lục",
    "curator.search": "Tìm",
    "curator.link": "Liên kết",
    "curator.unavailable": "Chức năng này chưa có trên máy chủ.",
    "maker.title": "Không gian sáng tạo",
    "maker.resources": "Thiết bị và phòng",
    "maker.availability": "Lịch trống",
    "maker.book": "Đặt chỗ",
    "maker.start": "Bắt đầu",
    "maker.end": "Kết thúc",
    "maker.mine": "Lịch đặt của tôi",
    "maker.ical": "Đăng ký lịch (iCal)",
    "maker.booked": "Đã đặt chỗ.",
    "maker.cancel": "Huỷ",
    "maker.printers": "Máy in 3D",
    "maker.jobs": "Lệnh in",
    "maker.print": "Gửi lệnh in",
    "maker.printfile": "Tệp in (G-code, STL, 3MF)",
    "maker.free": "trống",
    "maker.busy": "đã có người đặt",
  },
  en: {
    "app.name": "Smart library",
    "lang.label": "Language",
    "visit.title": "Explore the exhibits",
    "visit.intro": "Point the camera at the printed code beside an exhibit to see its 3D model on the code.",
    "camera.start": "Start camera",
    "camera.stop": "Stop camera",
    "camera.label": "Camera view with the 3D model drawn over the code",
    "camera.denied": "The camera is not available. You can still pick an exhibit from the list below.",
    "status.idle": "The camera is off.",
    "status.looking": "Looking for a code…",
    "status.found": "Found an exhibit's code.",
    "status.lost": "Lost the code — keep the camera on it.",
    "status.offline": "Offline: only exhibits loaded before can be shown.",
    "status.loading": "Loading the model…",
    "status.model": "The model is showing.",
    "exhibit.none": "No exhibit chosen yet.",
    "exhibit.narration": "Narration",
    "exhibit.audio": "Listen to the narration",
    "exhibit.hotspots": "Points of interest",
    "exhibit.view3d": "View in 3D / AR",
    "exhibit.close": "Close",
    "exhibit.poster": "Preview picture of the model",
    "exhibit.model": "3D model",
    "exhibit.open": "The exhibit's own page",
    "exhibit.notfound": "This exhibit was not found.",
    "exhibit.controls": "Drag or use the arrow keys to turn it, scroll to zoom.",
    "catalog.title": "Read the book",
    "catalog.author": "Author",
    "catalog.call": "Call number",
    "catalog.isbn": "ISBN",
    "catalog.open": "Open in the catalogue",
    "tour.title": "Join a guided tour",
    "tour.code": "Tour code",
    "tour.join": "Join",
    "tour.leave": "Leave the tour",
    "tour.joined": "Following",
    "tour.stop": "Stop",
    "tour.of": "of",
    "list.title": "Exhibits",
    "list.empty": "No exhibits yet.",
    "list.failed": "Could not load the exhibits.",
    "presence.here": "people looking",
    "signin.title": "Sign in",
    "signin.email": "Email",
    "signin.password": "Password",
    "signin.submit": "Sign in",
    "signin.out": "Sign out",
    "signin.as": "Signed in as",
    "signin.role": "This account may not use this page.",
    "docent.title": "Docent",
    "docent.pick": "Choose a tour",
    "docent.start": "Lead this tour",
    "docent.code": "Code for visitors to join",
    "docent.joined": "Visitors following",
    "docent.next": "Next stop",
    "docent.prev": "Previous stop",
    "docent.none": "There are no tours yet.",
    "curator.title": "Curator studio",
    "curator.upload": "Upload a 3D scan",
    "curator.file": "Model file (GLB, glTF, OBJ, PLY, STL)",
    "curator.send": "Upload",
    "curator.lods": "Levels of detail",
    "curator.triangles": "triangles",
    "curator.exhibit": "Exhibit",
    "curator.new": "New exhibit",
    "curator.slug": "Address (slug)",
    "curator.titleVi": "Title (Vietnamese)",
    "curator.titleEn": "Title (English)",
    "curator.narrVi": "Narration (Vietnamese)",
    "curator.narrEn": "Narration (English)",
    "curator.marker": "ArUco 4×4 marker number",
    "curator.markerSize": "Marker side (m)",
    "curator.asset": "Model",
    "curator.publish": "Published",
    "curator.save": "Save",
    "curator.saved": "Saved.",
    "curator.sheet": "Download the marker sheet (PDF)",
    "curator.hotspotHint": "Click on the model to add a point of interest.",
    "curator.hotspotTitle": "Point title",
    "curator.remove": "Remove",
    "curator.presence": "Visitors at the exhibits",
    "curator.analytics": "Last 30 days",
    "curator.scans": "Scans",
    "curator.dwell": "Dwell (seconds)",
    "curator.visitors": "Visitors",
    "curator.catalog": "Catalogue link",
    "curator.search": "Search",
    "curator.link": "Link",
    "curator.unavailable": "This is not available on the server yet.",
    "maker.title": "Makerspace",
    "maker.resources": "Machines and rooms",
    "maker.availability": "Availability",
    "maker.book": "Book",
    "maker.start": "Start",
    "maker.end": "End",
    "maker.mine": "My bookings",
    "maker.ical": "Subscribe (iCal)",
    "maker.booked": "Booked.",
    "maker.cancel": "Cancel",
    "maker.printers": "3D printers",
    "maker.jobs": "Print jobs",
    "maker.print": "Send a print",
    "maker.printfile": "Print file (G-code, STL, 3MF)",
    "maker.free": "free",
    "maker.busy": "booked",
  },
};

function cookieLang() {
  const match = document.cookie.match(/(?:^|;\s*)smartlib_lang=([a-z]+)/);
  return match ? match[1] : null;
}

export function getLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    // storage can be blocked (private mode); the cookie still remembers
  }
  const candidates = [stored, cookieLang(), ...(navigator.languages || []).map((l) => l.slice(0, 2))];
  return candidates.find((l) => LANGUAGES.includes(l)) || "vi";
}

export function setLang(lang) {
  if (!LANGUAGES.includes(lang)) return;
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    // see getLang
  }
  document.cookie = `smartlib_lang=${lang}; path=/; max-age=31536000; samesite=lax`;
  applyTexts(lang);
}

export function t(key, lang = getLang()) {
  return TEXTS[lang]?.[key] ?? TEXTS.vi[key] ?? key;
}

// Elements carry data-i18n="key" (text) and data-i18n-attr="attr:key;attr:key" (attributes).
export function applyTexts(lang = getLang(), root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n, lang);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key, lang));
    }
  }
  for (const button of root.querySelectorAll("[data-lang-choice]")) {
    button.setAttribute("aria-pressed", String(button.dataset.langChoice === lang));
  }
}

// Wires the vi/en buttons of a page; `onChange` runs after the texts are switched.
export function langSwitch(onChange) {
  for (const button of document.querySelectorAll("[data-lang-choice]")) {
    button.addEventListener("click", () => {
      const lang = button.dataset.langChoice;
      if (lang === getLang() && document.documentElement.lang === lang) return;
      setLang(lang);
      onChange?.(lang);
    });
  }
  applyTexts();
}
