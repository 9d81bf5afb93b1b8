// A little JavaScript where it helps; every page works without it.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // Tabs of the instance form: show one panel at a time, remember it for the save.
  const tabbed = document.querySelector("form.tabbed");
  if (tabbed) {
    const buttons = tabbed.querySelectorAll("[role=tab]");
    const show = (id) => {
      buttons.forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === id)));
      tabbed.querySelectorAll("[data-panel]").forEach((p) => { p.hidden = p.dataset.panel !== id; });
      tabbed.querySelector("input[name=tab]").value = id;
    };
    buttons.forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
    show(tabbed.dataset.openTab || buttons[0].dataset.tab);

    // A checkbox that needs another one is usable only while that one is on.
    tabbed.querySelectorAll("input[data-requires]").forEach((box) => {
      const needed = document.getElementById(box.dataset.requires);
      const sync = () => {
        box.disabled = !needed.checked;
        if (!needed.checked) box.checked = false;
      };
      needed.addEventListener("change", sync);
      if (!box.checked) sync();
    });

    // Put the cursor on the first refused line of a number list.
    const bad = tabbed.querySelector("textarea[data-bad-lines]");
    if (bad && bad.dataset.badLines) {
      const line = parseInt(bad.dataset.badLines.split(",")[0], 10);
      const lines = bad.value.split("\n");
      const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
      bad.focus();
      bad.setSelectionRange(start, start + (lines[line - 1] || "").length);
    }
  }

  // The log refreshes only when asked ("Das Log aktualisiert sich nicht automatisch").
  const refresh = document.getElementById("log-refresh");
  const logBox = document.getElementById("log");
  if (refresh && logBox) {
    refresh.addEventListener("click", async (event) => {
      event.preventDefault();
      const answer = await fetch(logBox.dataset.src, { credentials: "same-origin" });
      if (answer.ok) {
        const text = await answer.text();
        logBox.textContent = text || refresh.dataset.empty;
        logBox.scrollTop = logBox.scrollHeight;
      }
    });
  }

  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach((f) => {
    f.addEventListener("submit", (event) => {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    });
  });
});
