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
