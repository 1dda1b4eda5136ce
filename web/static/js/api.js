// REST calls from the pages: the session cookie authenticates, and every change echoes the
// CSRF cookie in a header, as web/auth.py asks.
const TOKEN_KEY = "smartlib.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
  }
}

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)smartlib_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Multipart upload with progress (fetch has no upload progress), for scans and prints.
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        // an empty or non-JSON answer is reported by status below
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    xhr.send(form);
  });
}

export async function login(email, password) {
  const data = await api("/api/v1/auth/login", { method: "POST", json: { email, password } });
  // The socket needs the bearer token; it lives only as long as the tab.
  sessionStorage.setItem(TOKEN_KEY, data.token);
  return data.user;
}

export async function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  await api("/api/v1/auth/logout", { method: "POST" }).catch(() => null);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

// The signed-in user, or null; a page whose tab lost its token signs in again.
export async function currentUser() {
  if (!token()) return null;
  try {
    return await api("/api/v1/users/me");
  } catch {
    return null;
  }
}
