// Vote buttons: send the vote form with fetch and update the heart and count in place, so the page
// does not reload. Without JavaScript the form posts and the server sends the browser back. One
// listener on the document also serves cards that infinite scroll appends later.
(() => {
  "use strict";
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("vote-form")) return;
    event.preventDefault();
    const button = form.querySelector("button.vote");
    const count = form.querySelector("[data-role=vote-count]");
    const message = form.querySelector("[data-role=vote-message]");
    if (button.disabled) return;
    button.disabled = true;
    message.textContent = "";
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.status === 401) {
        const next = form.querySelector("input[name=next]").value;
        window.location.assign("/login?why=vote&next=" + encodeURIComponent(next));
        return;
      }
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        message.textContent = (body.error && body.error.message) || "Could not vote; try again.";
        return;
      }
      count.textContent = String(body.score);
      button.classList.toggle("voted", body.voted);
      button.setAttribute("aria-pressed", body.voted ? "true" : "false");
      button.title = body.voted ? "Take back your vote" : "Vote for this image";
    } catch (error) {
      message.textContent = "Could not reach the gallery; try again.";
    } finally {
      button.disabled = false;
    }
  });
})();
