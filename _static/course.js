// The course book's own script (see relucourse/tooling/sphinxext.py).
// Search snippets: Sphinx builds each snippet from the page's main block, which in this theme
// begins with a print-only table of contents ("Contents" and the section list). Drop that block
// before Sphinx extracts the text.
(function () {
  function patch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search._coursePatched) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".onlyprint").forEach(function (el) { el.remove(); });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search._coursePatched = true;
  }
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
