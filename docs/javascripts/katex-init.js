// Render the math that pymdownx.arithmatex (generic mode) leaves as \( \) and \[ \],
// with the KaTeX copy shipped in docs/assets/katex (no network needed).
function renderMath(root) {
  renderMathInElement(root, {
    delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
}
// Search results are built after the page (and again for every query): render their math too.
function renderSearchResults() {
  const list = document.querySelector(".md-search-result__list");
  if (!list || list.dataset.katexObserved) return;
  list.dataset.katexObserved = "1";
  // Rendering changes the list too: stop observing while rendering, or the observer would
  // wake itself for ever.
  const observer = new MutationObserver(() => {
    observer.disconnect();
    renderMath(list);
    observer.observe(list, { childList: true, subtree: true });
  });
  observer.observe(list, { childList: true, subtree: true });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(() => renderSearchResults());
}
if (typeof document$ !== "undefined") {
  document$.subscribe(({ body }) => renderMath(body));
} else {
  document.addEventListener("DOMContentLoaded", () => renderMath(document.body));
}
