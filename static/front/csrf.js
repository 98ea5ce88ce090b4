// The CSRF token Django set as a cookie, for the X-CSRFToken header of writing requests.
export function csrfToken() {
  return document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] ?? "";
}
