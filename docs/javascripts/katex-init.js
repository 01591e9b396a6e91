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
// A search snippet is cut to a fixed length, sometimes inside a formula: what is left of it
// (an opening \( or \[ without its closing one) cannot be rendered, so it is replaced by "…".
function cutUnclosedMath(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const cut = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.search(/\\[(\[]/);
    if (at >= 0) cut.push([node, at]);
  }
  cut.forEach(([node, at]) => { node.data = node.data.slice(0, at) + "…"; });
}

// Search highlights query words with <mark>, which splits a formula into several text nodes
// that KaTeX cannot render: remove the highlights that fall inside a formula.
function unmarkMath(root) {
  root.querySelectorAll("mark").forEach((mark) => {
    let before = "";
    for (let n = mark.previousSibling; n; n = n.previousSibling) before = n.textContent + before;
    const open = Math.max(before.lastIndexOf("\\("), before.lastIndexOf("\\["));
    const close = Math.max(before.lastIndexOf("\\)"), before.lastIndexOf("\\]"));
    if (open > close) {
      const parent = mark.parentNode;
      parent.replaceChild(document.createTextNode(mark.textContent), mark);
      parent.normalize();
    }
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
    unmarkMath(list);
    renderMath(list);
    cutUnclosedMath(list);
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
