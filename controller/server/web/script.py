"""The pages' one script, inlined (with the page's CSP nonce): nothing is fetched from
elsewhere. It polls /web/tip and, when the state branch moved, swaps each `data-live`
element for the same one of a fresh copy of the page (forms, outside them, keep what is
typed); on a run's page it follows the log's event stream, resuming by byte offset."""

SCRIPT = r"""
(function () {
  "use strict";
  var tip = document.body.getAttribute("data-tip");
  function refresh() {
    fetch("/web/tip", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j || j.tip === tip) { return null; }
        return fetch(location.href, {credentials: "same-origin", cache: "no-store"})
          .then(function (r) { return r.text(); })
          .then(function (text) {
            var doc = new DOMParser().parseFromString(text, "text/html");
            document.querySelectorAll("[data-live]").forEach(function (el) {
              var fresh = doc.getElementById(el.id);
              if (fresh) { el.replaceWith(document.importNode(fresh, true)); }
            });
            tip = j.tip;
            document.body.setAttribute("data-tip", tip);
          });
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, 1500); });
  }
  setTimeout(refresh, 1500);

  var log = document.getElementById("livelog");
  if (!log) { return; }
  var sent = 0, ended = false;
  function follow() {
    var es = new EventSource(log.getAttribute("data-stream") + "?offset=" + sent);
    es.addEventListener("log", function (e) {
      var d = JSON.parse(e.data);
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(d.text));
      sent = d.offset;
      if (atEnd) { log.scrollTop = log.scrollHeight; }
    });
    es.addEventListener("end", function (e) {
      ended = true;
      es.close();
      var d = JSON.parse(e.data), st = document.getElementById("runstate");
      if (st) { st.textContent = d.status.replace(/_/g, " "); }
      setTimeout(function () { location.reload(); }, 300);
    });
    es.onerror = function () {
      es.close();
      if (!ended) { setTimeout(follow, 1000); }
    };
  }
  follow();
})();
"""
