// The course book's own script (see relucourse/tooling/sphinxext.py).
// Search snippets: Sphinx builds each snippet from the page's main block, which in this theme
// begins with a print-only table of contents ("Contents" and the section list). Drop that block
// before Sphinx extracts the text. Maths in a snippet would show as its TeX source
// ("\(\mathrm{ReLU}(x) = \max(0, x)\)"): each formula is rewritten as readable text first
// ("ReLU(x) = max(0, x)"), by courseTexToText below.
var courseTexToText = (function () {
  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ",
    sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ",
    Delta: "Δ", Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", sim: "~",
    propto: "∝", equiv: "≡", cdot: "·", times: "×", pm: "±", mp: "∓", infty: "∞", in: "∈",
    notin: "∉", subset: "⊂", to: "→", rightarrow: "→", leftarrow: "←", Rightarrow: "⇒",
    mapsto: "↦", partial: "∂", nabla: "∇", sum: "Σ", prod: "Π", int: "∫", ldots: "…",
    cdots: "…", dots: "…", mid: "|", vert: "|", lvert: "|", rvert: "|", Vert: "‖", lVert: "‖",
    rVert: "‖", langle: "⟨", rangle: "⟩", lbrace: "{", rbrace: "}", "{": "{", "}": "}",
    "%": "%", "_": "_", "&": "&", "#": "#", "$": "$", quad: " ", qquad: " ", ",": " ",
    ";": " ", ":": " ", " ": " ", "!": "", "\\": "; "
  };
  var DROP = /^(left|right|big|Big|bigg|Bigg|bigl|bigr|Bigl|Bigr|displaystyle|textstyle|limits|nolimits|label|tag|nonumber|notag)$/;
  var FONTS = /^(mathrm|mathbf|mathit|mathsf|mathtt|mathcal|mathbb|boldsymbol|bm|text|textrm|textbf|textit|texttt|operatorname|mbox|hat|bar|tilde|vec|overline|underline|widehat|widetilde)$/;
  var SUP = {"0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷",
             "8": "⁸", "9": "⁹", "-": "⁻", "+": "⁺"};

  function group(tex, i) {  // the argument starting at i: {...} or one character; [text, next]
    while (tex[i] === " ") i++;
    if (tex[i] !== "{") {
      if (tex[i] === "\\") {
        var m = /^\\([a-zA-Z]+|.)/.exec(tex.slice(i));
        if (FONTS.test(m[1])) {  // _\text{in}: the command and its argument
          var arg = group(tex, i + m[0].length);
          return [tex.slice(i, arg[1]), arg[1]];
        }
        return [m[0], i + m[0].length];
      }
      return [tex[i] || "", i + 1];
    }
    var depth = 0;
    for (var j = i; j < tex.length; j++) {
      if (tex[j] === "\\") { j++; continue; }
      if (tex[j] === "{") depth++;
      else if (tex[j] === "}" && --depth === 0) return [tex.slice(i + 1, j), j + 1];
    }
    return [tex.slice(i + 1), tex.length];
  }
  function wrap(text) {  // parentheses around anything longer than one symbol
    return /^[\w.α-ωΑ-Ω∞]+$/.test(text) ? text : "(" + text + ")";
  }
  function convert(tex) {
    var out = "", i = 0;
    while (i < tex.length) {
      var c = tex[i];
      if (c === "\\") {
        var m = /^\\([a-zA-Z]+|.)/.exec(tex.slice(i)), name = m ? m[1] : "";
        i += m ? m[0].length : 1;
        var a, b;
        if (name === "frac" || name === "dfrac" || name === "tfrac") {
          a = group(tex, i); b = group(tex, a[1]); i = b[1];
          out += wrap(convert(a[0])) + "/" + wrap(convert(b[0]));
        } else if (name === "sqrt") {
          a = group(tex, i); i = a[1]; out += "√" + wrap(convert(a[0]));
        } else if (name === "begin" || name === "end") {
          i = group(tex, i)[1]; out += " ";
        } else if (FONTS.test(name)) {
          a = group(tex, i); i = a[1];
          if (name === "operatorname" && /\w$/.test(out)) out += " ";
          out += convert(a[0]);
        } else if (DROP.test(name)) {
          // sizing and layout commands: nothing to read
        } else if (Object.prototype.hasOwnProperty.call(SYMBOLS, name)) {
          out += SYMBOLS[name];
        } else {
          out += name;  // \max, \log, \tanh, \exp, ...: the name reads as itself
        }
      } else if (c === "^" || c === "_") {
        a = group(tex, i + 1); i = a[1];
        var inner = convert(a[0]);
        if (!inner) {
          // an empty script: nothing to read
        } else if (c === "^" && /^[-+]?[0-9]+$/.test(inner)) {
          out += inner.split("").map(function (d) { return SUP[d]; }).join("");
        } else {
          out += c + wrap(inner);
        }
      } else if (c === "{" || c === "}") {
        i++;
      } else if (c === "&") {
        out += " "; i++;
      } else {
        out += c; i++;
      }
    }
    return out;
  }
  return function (tex) {
    tex = tex.trim().replace(/^(\\\(|\\\[|\$\$|\$)/, "").replace(/(\\\)|\\\]|\$\$|\$)$/, "");
    return convert(tex).replace(/\s+/g, " ").replace(/\( /g, "(").replace(/ \)/g, ")").trim();
  };
})();

(function () {
  function patch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search._coursePatched) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".onlyprint").forEach(function (el) { el.remove(); });
      doc.querySelectorAll("span.math").forEach(function (el) {
        el.textContent = courseTexToText(el.textContent);
      });
      doc.querySelectorAll("div.math").forEach(function (el) {  // a block: keep words apart
        el.textContent = " " + courseTexToText(el.textContent) + " ";
      });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search._coursePatched = true;
  }
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();

// A formula too wide for the screen (on a phone) scrolls sideways; a keyboard user scrolls it
// with the arrow keys once it has focus, so such a formula takes part in the tab order (WCAG
// 2.1.1). One that fits does not (no useless tab stops). Widths change with the window: a
// ResizeObserver keeps this true. (The theme does the same for code cells and outputs.)
(function () {
  var BOXES = "article span.math, article div.math mjx-container";
  function update(box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.hasAttribute("tabindex")) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("data-course-scrolls", "");
    } else if (!scrolls && box.hasAttribute("data-course-scrolls")) {
      box.removeAttribute("tabindex");
      box.removeAttribute("data-course-scrolls");
    }
  }
  var observer = window.ResizeObserver
    ? new ResizeObserver(function (entries) { entries.forEach(function (e) { update(e.target); }); })
    : null;
  function watch() {
    document.querySelectorAll(BOXES).forEach(function (box) {
      if (box.hasAttribute("data-course-watched")) return;
      box.setAttribute("data-course-watched", "");
      if (observer) observer.observe(box); else update(box);
    });
  }
  function start() {
    watch();
    // formulas become scrollable boxes once MathJax has typeset them
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(watch);
    } else {
      window.addEventListener("load", function () {
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(watch);
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
