// Small progressive enhancements: copy buttons and confirmations. Every page reads and works
// without this file; the buttons stay hidden until it runs.
(function () {
  "use strict";

  function copyText(text) {
    // navigator.clipboard exists only in secure contexts (https or localhost); a registry on a
    // LAN is often plain http, so fall back to a selected textarea and execCommand.
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  var status = document.getElementById("copy-status");

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      var label = button.textContent;
      copyText(text).then(function () {
        button.classList.add("copied");
        button.textContent = "Copied";
        if (status) { status.textContent = "Copied: " + text; }
      }, function () {
        button.textContent = "Select and copy";
        if (status) { status.textContent = "Copying is not allowed here; select the text instead."; }
      }).then(function () {
        setTimeout(function () { button.classList.remove("copied"); button.textContent = label; }, 1600);
      });
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
