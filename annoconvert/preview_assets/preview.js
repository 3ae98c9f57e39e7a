// annoconvert preview: pages through the embedded examples and filters them by label.
// Images live once in data.images; an <img data-img="k"> gets its data URL when shown.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("preview-data").textContent);
  var main = document.getElementById("examples");
  var filter = document.getElementById("filter");
  var prev = document.getElementById("prev");
  var next = document.getElementById("next");
  var info = document.getElementById("pageinfo");
  var page = 0;

  function shown() {
    var label = filter.value;
    if (!label) return data.examples;
    return data.examples.filter(function (e) { return e.labels.indexOf(label) >= 0; });
  }

  function render() {
    var list = shown();
    var pages = Math.max(1, Math.ceil(list.length / data.perPage));
    if (page >= pages) page = pages - 1;
    if (page < 0) page = 0;
    var slice = list.slice(page * data.perPage, (page + 1) * data.perPage);
    main.innerHTML = slice.map(function (e) { return e.html; }).join("");
    var imgs = main.querySelectorAll("img[data-img]");
    for (var i = 0; i < imgs.length; i++) {
      imgs[i].src = data.images[Number(imgs[i].getAttribute("data-img"))];
    }
    info.textContent = "page " + (page + 1) + " / " + pages + " \u00b7 " + list.length +
      " example" + (list.length === 1 ? "" : "s");
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    document.body.setAttribute("data-page", String(page + 1));
  }

  prev.addEventListener("click", function () { page -= 1; render(); window.scrollTo(0, 0); });
  next.addEventListener("click", function () { page += 1; render(); window.scrollTo(0, 0); });
  filter.addEventListener("change", function () { page = 0; render(); });
  render();
})();
