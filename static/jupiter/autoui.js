/* Auto-UI settings forms: add and remove rows of list settings (SPEC U2).
   Rows are server-rendered; a new row is a copy of the list's <template>, whose field names
   hold "__index__" until it is added. The server reads rows in page order, whatever their
   numbers, so numbers only need to be unique. */
(function () {
  "use strict";

  const PLACEHOLDER = "__index__";
  const ATTRIBUTES = ["name", "id", "for", "aria-describedby"];

  /* Replace the first placeholder only: a nested list's own rows keep theirs. */
  function renumber(root, index) {
    root.querySelectorAll("*").forEach(function (element) {
      ATTRIBUTES.forEach(function (attribute) {
        const value = element.getAttribute(attribute);
        if (value && value.includes(PLACEHOLDER)) {
          element.setAttribute(attribute, value.replace(PLACEHOLDER, String(index)));
        }
      });
      if (element.tagName === "TEMPLATE") {
        renumber(element.content, index);
      }
    });
  }

  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-list-add]");
    if (add) {
      const list = add.closest("[data-list]");
      const template = list.querySelector(":scope > template[data-list-template]");
      const rows = list.querySelector(":scope > [data-list-rows]");
      const index = Number(list.dataset.next || "0");
      list.dataset.next = String(index + 1);
      const row = template.content.cloneNode(true);
      renumber(row, index);
      rows.appendChild(row);
      const added = rows.lastElementChild;
      if (window.htmx) {
        window.htmx.process(added);
      }
      const input = added.querySelector("input:not([type=hidden]), select, textarea");
      if (input) {
        input.focus();
      }
      return;
    }
    const remove = event.target.closest("[data-list-remove]");
    if (remove) {
      remove.closest("[data-list-row]").remove();
    }
  });
})();
