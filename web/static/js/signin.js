// The sign-in form shared by the staff pages; resolves with the user once signed in with a role
// at least `minimum`.
import { currentUser, login, logout } from "./api.js";
import { t } from "./i18n.js";

const RANK = { member: 1, docent: 2, librarian: 3, admin: 4 };

export async function signIn(minimum, { form, error, who, outButton }) {
  const allowed = (user) => user && (RANK[user.role] || 0) >= RANK[minimum];
  let user = await currentUser();
  if (allowed(user)) return show(user);
  form.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        user = await login(form.elements.email.value, form.elements.password.value);
      } catch (exc) {
        error.textContent = exc.message;
        return;
      }
      if (!allowed(user)) {
        error.textContent = t("signin.role");
        return;
      }
      form.hidden = true;
      resolve(show(user));
    });
  });

  function show(signedIn) {
    form.hidden = true;
    who.textContent = `${t("signin.as")} ${signedIn.name || signedIn.email}`;
    outButton.hidden = false;
    outButton.addEventListener("click", async () => {
      await logout();
      location.reload();
    });
    return signedIn;
  }
}
