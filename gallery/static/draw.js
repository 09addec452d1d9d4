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
