// Infinite scroll: when the "More images" link comes near the viewport, fetch the next page's
// cards (an HTML fragment rendered by the server) and append them. Without JavaScript, or if a
// fetch fails, the link still works as a plain link to the next page.
(() => {
  "use strict";
  const grid = document.getElementById("feed-grid");
  if (!grid || !("IntersectionObserver" in window) || !("content" in document.createElement("template"))) return;
  let loading = false;

  const currentLink = () => document.querySelector("#feed-more [data-more]");

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }, { rootMargin: "800px 0px" });

  const watch = () => {
    const link = currentLink();
    if (link) observer.observe(link);
  };

  async function loadMore() {
    const link = currentLink();
    if (!link || loading) return;
    loading = true;
    observer.unobserve(link);
    link.setAttribute("aria-busy", "true");
    link.textContent = "Loading…";
    try {
      const response = await fetch(link.dataset.more, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      const pager = template.content.querySelector("#feed-more");
      if (!response.ok || !pager) {
        const message = template.content.querySelector(".form-error");
        link.closest("#feed-more").replaceChildren(message || document.createTextNode("Could not load more images."));
        return;
      }
      for (const card of template.content.querySelectorAll(".card")) grid.append(card);
      document.getElementById("feed-more").replaceWith(pager);
      watch();
    } catch (error) {
      // Offline or the server went away: leave a working link behind (a click loads the full page).
      link.removeAttribute("aria-busy");
      link.textContent = "More images";
    } finally {
      loading = false;
    }
  }

  watch();
})();
