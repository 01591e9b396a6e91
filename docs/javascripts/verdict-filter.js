// The overview's verdict filter: buttons (data-verdict) toggle which rows of the claim table
// show (rows carry data-verdict). Several verdicts can be on at once; "all" clears them.
// Without JavaScript every row shows.
function setupVerdictFilter(root) {
  root.querySelectorAll(".verdict-filter").forEach((bar) => {
    const table = root.querySelector("#" + bar.dataset.target);
    if (!table) return;
    const buttons = [...bar.querySelectorAll("button[data-verdict]")];
    const all = bar.querySelector(".verdict-filter-all");
    const apply = () => {
      const on = buttons.filter((b) => b.getAttribute("aria-pressed") === "true")
        .map((b) => b.dataset.verdict);
      all.setAttribute("aria-pressed", on.length ? "false" : "true");
      table.querySelectorAll("tbody tr").forEach((row) => {
        row.hidden = on.length > 0 && !on.includes(row.dataset.verdict);
      });
    };
    buttons.forEach((b) => b.addEventListener("click", () => {
      const pressed = b.getAttribute("aria-pressed") === "true";
      b.setAttribute("aria-pressed", pressed ? "false" : "true");
      apply();
    }));
    all.addEventListener("click", () => {
      buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
      apply();
    });
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(({ body }) => setupVerdictFilter(body));
} else {
  document.addEventListener("DOMContentLoaded", () => setupVerdictFilter(document.body));
}
