// Small progressive enhancements: copy buttons, confirmations, selecting every tag, and live job
// progress. Every page reads and works without this file; the buttons stay hidden until it runs,
// and a running job's page refreshes itself through <noscript><meta refresh> instead.
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

  // Tag selection on a repository page: a "select all" box and a count of what is selected.
  document.querySelectorAll("form[data-selection]").forEach(function (form) {
    var boxes = form.querySelectorAll("input[name=tag]");
    var all = form.querySelector("[data-select-all]");
    var count = form.querySelector("[data-selection-count]");
    var hint = count ? count.textContent : "";
    function update() {
      var selected = form.querySelectorAll("input[name=tag]:checked").length;
      if (count) { count.textContent = selected ? selected + " selected. " + hint : hint; }
      if (all) { all.checked = selected > 0 && selected === boxes.length; all.indeterminate = selected > 0 && selected < boxes.length; }
    }
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
  });

  // A running job: poll its status and show progress; reload once it ends to show the result.
  var job = document.querySelector("[data-job-status-url]");
  if (job) {
    var url = job.getAttribute("data-job-status-url");
    var phase = job.querySelector("[data-job-phase]");
    var bar = job.querySelector("[data-job-progress]");
    var counter = job.querySelector("[data-job-count]");
    var poll = function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (status) {
          if (status.finished) { window.location.reload(); return; }
          if (phase && status.phase) { phase.textContent = status.phase; }
          if (bar && status.progress_total) { bar.max = status.progress_total; bar.value = status.progress_done; }
          if (counter && status.progress_total) { counter.textContent = status.progress_done + " of " + status.progress_total; }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 500);
  }
})();
