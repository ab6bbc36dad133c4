// Heat map: hover readout (scene × scene: D) and click to the scene's row.
// The matrix image carries its cell size and values (null above 400 scenes) as data-*.
(function () {
  var m = document.getElementById('matrix'), o = document.getElementById('hover');
  if (!m) return;
  var cell = Number(m.dataset.cell), d = JSON.parse(m.dataset.d || 'null');
  function ij(e) {
    var r = m.getBoundingClientRect();
    return [Math.floor((e.clientY - r.top) / cell), Math.floor((e.clientX - r.left) / cell)];
  }
  function lab(i) { return 'S' + String(i + 1).padStart(3, '0'); }
  m.addEventListener('mousemove', function (e) {
    var p = ij(e), v = d && d[p[0]] ? d[p[0]][p[1]] : undefined;
    o.textContent = lab(p[0]) + ' \u00d7 ' + lab(p[1]) +
      (v === null ? ': unknown' : v === undefined ? '' : ': D = ' + v.toFixed(3)) +
      ' (click: go to ' + lab(p[0]) + ')';
  });
  m.addEventListener('click', function (e) {
    location.hash = '#s' + String(ij(e)[0] + 1).padStart(3, '0');
  });
})();
