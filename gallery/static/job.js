// A job's page follows its render: server-sent events when they work, polling when they don't.
// Every update is the same status object as GET /api/jobs/{id}; the DOM is built with
// textContent only, so nothing a user typed is ever parsed as HTML.
(() => {
  "use strict";
  const root = document.querySelector("[data-job-id]");
  if (!root || root.dataset.finished === "true") return;
  const id = root.dataset.jobId;
  const part = (role) => root.querySelector(`[data-role="${role}"]`);

  const duration = (seconds) => {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 1) return "done any moment";
    if (seconds < 90) return `done in about ${Math.round(seconds)} s`;
    return `done in about ${Math.round(seconds / 60)} min`;
  };

  const showImages = (images) => {
    const list = part("images");
    list.replaceChildren();
    for (const image of images) {
      const item = document.createElement("li");
      item.className = "card";
      const link = document.createElement("a");
      link.className = "card-image";
      link.href = image.url;
      const img = document.createElement("img");
      img.src = image.thumbnail_url;
      img.alt = `image ${image.index + 1}, seed ${image.seed}`;
      img.width = image.width;
      img.height = image.height;
      if (image.width < 256) img.className = "pixelated";
      link.append(img);
      const body = document.createElement("div");
      body.className = "card-body";
      body.textContent = `seed ${image.seed}`;
      item.append(link, body);
      list.append(item);
    }
  };

  const render = (status) => {
    const state = part("state");
    state.textContent = status.state;
    state.className = `state state-${status.state}`;
    const progress = part("progress");
    progress.max = Math.max(1, status.progress_total);
    progress.value = status.progress_step;
    part("where").textContent = status.state === "queued"
      ? `#${status.queue_position} in the queue`
      : `step ${status.progress_step} of ${status.progress_total}`;
    part("eta").textContent = duration(status.eta_seconds);
    const preview = part("preview");
    if (preview && typeof status.preview === "string" && status.preview.startsWith("data:image/webp;base64,")) {
      preview.src = status.preview;
      preview.hidden = false;
    }
    const error = part("error");
    error.textContent = status.error || "";
    error.hidden = !status.error;
    if (!status.finished) return;
    root.dataset.finished = "true";
    part("live").hidden = true;
    if (status.state === "done" && status.images.length === 1) {
      window.location.assign(status.images[0].url);
    } else {
      showImages(status.images);
    }
  };

  let polling = false;
  const poll = async () => {
    polling = true;
    try {
      const response = await fetch(`/api/jobs/${id}`, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const status = await response.json();
        render(status);
        if (status.finished) return;
      }
    } catch (error) {
      // The gallery restarted or the network blinked: try again shortly.
    }
    setTimeout(poll, 1000);
  };

  if (!window.EventSource) {
    poll();
    return;
  }
  const source = new EventSource(`/api/jobs/${id}/events`);
  source.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    render(status);
    if (status.finished) source.close();
  });
  source.addEventListener("error", () => {
    if (root.dataset.finished === "true" || polling) return;
    source.close();
    poll();
  });
})();
