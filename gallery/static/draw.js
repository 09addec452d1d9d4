// The draw form: when the model changes, follow its native size unless the user typed their own.
(() => {
  "use strict";
  const form = document.getElementById("draw");
  if (!form) return;
  const model = form.elements.namedItem("checkpoint");
  const width = form.elements.namedItem("width");
  const height = form.elements.namedItem("height");
  if (!model || !width || !height) return;
  const sizeOf = () => model.selectedOptions[0] && model.selectedOptions[0].dataset.size;
  let automatic = width.value === sizeOf() && height.value === sizeOf();
  const typed = () => { automatic = false; };
  width.addEventListener("input", typed);
  height.addEventListener("input", typed);
  model.addEventListener("change", () => {
    const size = sizeOf();
    if (automatic && size) {
      width.value = size;
      height.value = size;
    }
  });
})();

// img2img from the member's own disk: the picture goes to /api/uploads, and the address it comes back
// under fills the "init image" field that the form submits like any other.
(() => {
  "use strict";
  const form = document.getElementById("draw");
  const picker = form && form.querySelector('[data-role="init-upload"]');
  if (!picker) return;
  const target = form.elements.namedItem("init_image");
  const denoise = form.elements.namedItem("denoising_strength");
  const problem = form.querySelector('[data-role="upload-error"]');
  picker.addEventListener("change", async () => {
    const file = picker.files && picker.files[0];
    if (!file) return;
    problem.hidden = true;
    const body = new FormData();
    body.append("image", file);
    try {
      const response = await fetch("/api/uploads", { method: "POST", body });
      const answer = await response.json();
      if (!response.ok) {
        problem.textContent = (answer.error && answer.error.message) || "the upload was refused";
        problem.hidden = false;
        return;
      }
      target.value = answer.init_image;
      if (denoise && !denoise.value) denoise.value = "0.6";
    } catch (error) {
      problem.textContent = "the upload did not reach the gallery; try again";
      problem.hidden = false;
    }
  });
})();

// The live prompt check: as the member types, the server's check (the same one `/draw` and the bot run)
// shows A1111's token counts per 75-token chunk and every problem with its position.
(() => {
  "use strict";
  const form = document.getElementById("draw");
  const out = form && form.querySelector('[data-role="prompt-check"]');
  if (!out) return;
  const field = (name) => form.elements.namedItem(name);
  let timer = null;
  let asked = 0;
  const show = (review) => {
    out.replaceChildren();
    const counts = review.tokens && review.tokens.prompt;
    if (counts) {
      const line = document.createElement("span");
      line.className = "token-count";
      line.textContent = `tokens ${counts.length ? counts.map((n) => `${n}/75`).join(" · ") : "0/75"}`;
      out.append(line);
    }
    for (const message of [...review.errors, ...review.warnings]) {
      const item = document.createElement("span");
      item.className = review.errors.includes(message) ? "check-error" : "check-warning";
      item.textContent = message;
      out.append(item);
    }
  };
  const check = async () => {
    const ticket = ++asked;
    const body = {
      prompt: field("prompt").value,
      negative_prompt: field("negative_prompt").value,
      checkpoint: field("checkpoint") ? field("checkpoint").value : "",
      steps: field("steps") ? field("steps").value : "",
    };
    try {
      const response = await fetch("/api/prompt/check", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (response.ok && ticket === asked) show(await response.json());
    } catch (error) {
      // Offline for a moment: the check on submit still runs.
    }
  };
  for (const name of ["prompt", "negative_prompt", "checkpoint", "steps"]) {
    const input = field(name);
    if (input) input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 350); });
  }
  if (field("prompt").value) check();
})();
