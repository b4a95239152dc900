// datamap interactive map. Record text is only ever placed with textContent (never innerHTML).
(function () {
  "use strict";
  const t0 = performance.now();
  const D = JSON.parse(document.getElementById("dm-data").textContent);
  const N = D.ids.length;

  function bytes(b64) {
    const s = atob(b64), n = s.length, u = new Uint8Array(n);
    for (let i = 0; i < n; i++) u[i] = s.charCodeAt(i);
    return u;
  }
  const cols = {};
  for (const k of D.metrics) cols[k] = new Float32Array(bytes(D.cols[k]).buffer);
  const gold = new Int32Array(bytes(D.gold).buffer);
  const pred = new Int32Array(bytes(D.pred).buffer);
  const region = bytes(D.region);
  // the data map (variability x confidence), or a 2-D projection of the embeddings (D.xy)
  const X = D.xy ? new Float32Array(bytes(D.x).buffer) : cols.variability;
  const Y = D.xy ? new Float32Array(bytes(D.y).buffer) : cols.confidence;
  // an sft run (D.sft): no classes, token-level axes, prompt/completion records, a chart per record point
  const SFT = D.sft || null;
  const XLABEL = D.xy ? D.xy.x : SFT ? SFT.axis[0] : "variability", YLABEL = D.xy ? D.xy.y : SFT ? SFT.axis[1] : "confidence";
  const UNIT = SFT ? SFT.unit : "epoch", PLABEL = SFT ? SFT.p : "p(gold)";
  const cluster = D.cluster ? new Int32Array(bytes(D.cluster).buffer) : null;
  // RUN/label_issues.parquet joined by id (datamap errors): rank 1 = most likely mislabeled, 0 = unranked
  const IS = D.issues || null;
  const irank = IS ? new Int32Array(bytes(IS.rank).buffer) : null, iflag = IS ? bytes(IS.flag) : null;
  const issueClass = (i) => (irank[i] === 0 ? 2 : iflag[i] ? 0 : 1);  // flagged, not flagged, unranked
  const names = D.label_names;
  const E = D.epochs || 0, PG = D.pgold ? bytes(D.pgold) : null;  // gold probability per epoch, 255 = 1
  const CE = D.correct_epochs || 0;  // correctness counts in CE epochs: values k / CE

  // ---- geometry: data -> CSS pixels of the overlay canvas; the view (x0..x1, y0..y1) zooms and pans ----
  const ML = 58, MT = 10, MR = 14, MB = 46, PW = 720, PH = 540, HX = 80, HY = 80;
  function homeView(full) {
    if (full && !D.xy) {
      let xmax = 0;
      for (let i = 0; i < N; i++) if (X[i] > xmax) xmax = X[i];
      if (!(xmax > 0)) xmax = 0.5;
      return [-0.02 * xmax, 1.04 * xmax, -0.03, 1.03];
    }
    // fit the data: the range of the points plus 4 % each side
    let xa = Infinity, xb = -Infinity, ya = Infinity, yb = -Infinity;
    for (let i = 0; i < N; i++) {
      const x = X[i], y = Y[i];
      if (x < xa) xa = x; if (x > xb) xb = x; if (y < ya) ya = y; if (y > yb) yb = y;
    }
    if (!N) return [-1, 1, -1, 1];
    const pad = (a, b) => { const w = b > a ? b - a : 0.1; return [a - 0.04 * w, b + 0.04 * w]; };
    return [...pad(xa, xb), ...pad(ya, yb)];
  }
  let fullRange = false;
  let home = homeView(false);
  let [x0, x1, y0, y1] = home;
  const toPx = (x) => ML + ((x - x0) / (x1 - x0)) * PW;
  const toPy = (y) => MT + (1 - (y - y0) / (y1 - y0)) * PH;
  const fromPx = (px) => x0 + ((px - ML) / PW) * (x1 - x0);
  const fromPy = (py) => y0 + (1 - (py - MT) / PH) * (y1 - y0);
  const PX = new Float32Array(N), PY = new Float32Array(N);
  const inPlot = (px, py) => px >= ML && px <= ML + PW && py >= MT && py <= MT + PH;

  // ---- state ----
  const flag = new Uint8Array(N);      // 0 hidden, 1 shown, 2 shown and selected
  const sel = new Uint8Array(N);
  const rgb = new Uint8Array(3 * N);
  let searchMask = null, query = "", lastMode = null, dragMode = null;
  const regionOn = D.regions.map(() => true);
  const labelOn = names.map(() => true);

  // ---- DOM ----
  const $ = (id) => document.getElementById(id);
  const overlay = $("dm-overlay"), glc = $("dm-gl"), dens = $("dm-density"), plot = $("dm-plot");
  const dpr = window.devicePixelRatio || 1;
  const W = ML + PW + MR, H = MT + PH + MB;
  plot.style.width = W + "px"; plot.style.height = H + "px";
  function sizeCanvas(c, w, h) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); c.style.width = w + "px"; c.style.height = h + "px"; }
  sizeCanvas(overlay, W, H);
  sizeCanvas(glc, PW, PH); sizeCanvas(dens, PW, PH);
  glc.style.left = dens.style.left = ML + "px"; glc.style.top = dens.style.top = MT + "px";
  const hx = $("dm-histx"), hy = $("dm-histy");
  sizeCanvas(hx, W, HX); sizeCanvas(hy, HY, H);
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  if (D.xy) $("dm-full").parentElement.hidden = true;
  if (D.xy) $("dm-bounds").parentElement.hidden = true;

  // ---- colours ----
  const PALETTE = [[31,119,180],[255,127,14],[44,160,44],[214,39,40],[148,103,189],[140,86,75],[227,119,194],[127,127,127],[188,189,34],[23,190,207]];
  const REGION_RGB = D.region_rgb || {};  // the one region palette (views/static.py REGION_COLORS)
  const VIRIDIS = [[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];
  function ramp(t) {
    if (!(t >= 0)) t = 0; if (t > 1) t = 1;
    const s = t * (VIRIDIS.length - 1), k = Math.min(Math.floor(s), VIRIDIS.length - 2), f = s - k;
    const a = VIRIDIS[k], b = VIRIDIS[k + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }
  // one colour per correctness count k = 0..CE: red (never correct), grey, blue (always); as the PNG
  function correctRGB(k) {
    const t = CE ? k / CE : 1, lo = [204, 38, 38], mid = [140, 140, 140], hi = [33, 89, 191];
    const [a, b, f] = t <= 0.5 ? [lo, mid, t / 0.5] : [mid, hi, (t - 0.5) / 0.5];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }
  const css = (c) => "rgb(" + c.map(Math.round).join(",") + ")";
  const colorSel = $("dm-color");
  const colorChoices = SFT ? [["correctness", SFT.correctness], ["region", "region"]]
    : [["correctness", "correctness"], ["region", "region"], ["gold", "gold label"], ["pred", "predicted label"]];
  if (cluster) colorChoices.push(["cluster", "cluster"]);
  if (IS) colorChoices.push(["label_issue", "label issue"]);
  for (const m of D.metrics) if (m !== "correctness") colorChoices.push([m, m]);
  for (const [v, t] of colorChoices) colorSel.add(new Option(t, v));
  colorSel.value = D.color_by;

  function swatchRow(c, text) { const row = el("div"); const sw = el("span", undefined, "dm-swatch"); sw.style.background = css(c); row.append(sw, el("span", text)); return row; }
  function computeColors() {
    const by = colorSel.value, legend = $("dm-legend");
    legend.replaceChildren(el("b", "Colour: " + colorSel.options[colorSel.selectedIndex].text));
    const put = (i, c) => { rgb[3 * i] = c[0]; rgb[3 * i + 1] = c[1]; rgb[3 * i + 2] = c[2]; };
    if (by === "cluster") {
      // cluster j (code j) cycles through the palette; noise (name "noise") is light grey
      const pal = D.cluster_names.map((c, j) => (c === "noise" ? [200, 200, 200] : PALETTE[j % PALETTE.length]));
      for (let i = 0; i < N; i++) put(i, pal[cluster[i]]);
      const SHOWN = 20;
      D.cluster_names.slice(0, SHOWN).forEach((c, j) => legend.append(swatchRow(pal[j], c === "noise" ? "noise (-1)" : "cluster " + c)));
      if (D.cluster_names.length > SHOWN) legend.append(el("div", "\u2026 " + (D.cluster_names.length - SHOWN) + " more clusters (colours repeat)"));
    } else if (by === "region" || by === "gold" || by === "pred") {
      const cats = by === "region" ? D.regions : names;
      const pal = cats.map((c, j) => (by === "region" && REGION_RGB[c]) || PALETTE[j % PALETTE.length]);
      const code = by === "region" ? region : by === "gold" ? gold : pred;
      for (let i = 0; i < N; i++) put(i, pal[code[i]] || PALETTE[7]);
      cats.forEach((c, j) => legend.append(swatchRow(pal[j], c)));
    } else if (by === "label_issue") {
      const cats = [["flagged", [214, 39, 40]], ["not flagged", [130, 160, 200]], ["unranked (threshold sample)", [200, 200, 200]]];
      const count = [0, 0, 0];
      for (let i = 0; i < N; i++) { const k = issueClass(i); count[k]++; put(i, cats[k][1]); }
      cats.forEach(([t, c], k) => {
        if (k === 2 && !count[k]) return;
        const row = swatchRow(c, t + " (" + count[k].toLocaleString("en") + ")"); row.dataset.issue = t; legend.append(row);
      });
    } else if (by === "correctness" && CE) {
      // correctness takes CE + 1 values: one colour each, with its count
      const pal = [], count = new Array(CE + 1).fill(0), v = cols.correctness;
      for (let k = 0; k <= CE; k++) pal.push(correctRGB(k).map(Math.round));
      for (let i = 0; i < N; i++) { const k = Math.max(0, Math.min(CE, Math.round(v[i] * CE))); count[k]++; put(i, pal[k]); }
      for (let k = CE; k >= 0; k--) {
        const row = swatchRow(pal[k], "correct in " + k + " of " + CE + " epochs (" + count[k].toLocaleString("en") + ")");
        row.dataset.k = String(k); legend.append(row);
      }
    } else {
      const v = cols[by];
      let lo = Infinity, hi = -Infinity, nInf = 0;
      for (let i = 0; i < N; i++) { const a = v[i]; if (Number.isFinite(a)) { if (a < lo) lo = a; if (a > hi) hi = a; } else if (a === Infinity) nInf++; }
      if (by === "correctness") { lo = 0; hi = 1; }
      if (!(hi > lo)) { hi = lo + 1; if (!Number.isFinite(hi)) { lo = 0; hi = 1; } }
      for (let i = 0; i < N; i++) put(i, ramp(v[i] === Infinity ? 1 : (v[i] - lo) / (hi - lo)));
      const bar = el("div", undefined, "dm-bar");
      bar.style.background = "linear-gradient(to right," + VIRIDIS.map(css).join(",") + ")";
      legend.append(bar, el("div", fmt(lo) + " \u2192 " + fmt(hi) + (nInf ? "  (\u221e drawn as the top colour: " + nInf + " never learned)" : "")));
    }
    gpu.colors();
  }

  function fmt(v) {
    if (v === Infinity) return "\u221e";
    if (!Number.isFinite(v)) return String(v);
    return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : v.toFixed(3);
  }

  // ---- renderer: WebGL points, 2-D canvas fallback ----
  const gpu = (function () {
    const gl = window.DATAMAP_NO_WEBGL ? null : glc.getContext("webgl", { antialias: false, preserveDrawingBuffer: true });
    if (!gl) return canvasRenderer();
    const vs = "attribute float ax; attribute float ay; attribute vec3 ac; attribute float af;" +
      "uniform vec4 ur; uniform float us; uniform float up; uniform float ua; varying vec4 vc;" +
      "void main(){ if (abs(af - up) > 0.5) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); gl_PointSize = 0.0; return; }" +
      "gl_Position = vec4((ax - ur.x) / (ur.y - ur.x) * 2.0 - 1.0, (ay - ur.z) / (ur.w - ur.z) * 2.0 - 1.0, 0.0, 1.0);" +
      "gl_PointSize = up > 1.5 ? us + 2.0 : us; vc = vec4(ac, up > 1.5 ? 1.0 : ua); }";
    const fs = "precision mediump float; varying vec4 vc; void main(){ vec2 d = gl_PointCoord - 0.5; if (dot(d, d) > 0.25) discard; gl_FragColor = vc; }";
    function sh(type, src) { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s); if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s)); return s; }
    const prog = gl.createProgram();
    gl.attachShader(prog, sh(gl.VERTEX_SHADER, vs)); gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, fs)); gl.linkProgram(prog);
    gl.useProgram(prog);
    function attr(name, data, size, type, norm) {
      const b = gl.createBuffer(), loc = gl.getAttribLocation(prog, name);
      gl.bindBuffer(gl.ARRAY_BUFFER, b); gl.bufferData(gl.ARRAY_BUFFER, data, gl.DYNAMIC_DRAW);
      gl.enableVertexAttribArray(loc); gl.vertexAttribPointer(loc, size, type, norm, 0, 0);
      return b;
    }
    attr("ax", X, 1, gl.FLOAT, false); attr("ay", Y, 1, gl.FLOAT, false);
    const bc = attr("ac", rgb, 3, gl.UNSIGNED_BYTE, true), bf = attr("af", flag, 1, gl.UNSIGNED_BYTE, false);
    const ur = gl.getUniformLocation(prog, "ur");
    const size = (N > 200000 ? 2 : N > 20000 ? 3 : 4) * dpr;
    const us = gl.getUniformLocation(prog, "us"), up = gl.getUniformLocation(prog, "up"), ua = gl.getUniformLocation(prog, "ua");
    gl.enable(gl.BLEND); gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    return {
      kind: "webgl",
      colors() { gl.bindBuffer(gl.ARRAY_BUFFER, bc); gl.bufferSubData(gl.ARRAY_BUFFER, 0, rgb); },
      flags() { gl.bindBuffer(gl.ARRAY_BUFFER, bf); gl.bufferSubData(gl.ARRAY_BUFFER, 0, flag); },
      draw(anySel) {
        gl.viewport(0, 0, glc.width, glc.height); gl.clearColor(1, 1, 1, 1); gl.clear(gl.COLOR_BUFFER_BIT);
        gl.uniform4f(ur, x0, x1, y0, y1);
        // points grow a little when zoomed in (fewer points per pixel)
        const zoom = Math.min(4, Math.sqrt((home[1] - home[0]) / (x1 - x0)));
        gl.uniform1f(us, Math.max(size, Math.min(size * zoom, 8 * dpr)));
        gl.uniform1f(ua, anySel ? 0.25 : (N > 200000 ? 0.5 : 0.75));
        gl.uniform1f(up, 1); gl.drawArrays(gl.POINTS, 0, N);
        gl.uniform1f(up, 2); gl.drawArrays(gl.POINTS, 0, N);
      },
    };
  })();

  function canvasRenderer() {
    const ctx = glc.getContext("2d");
    return {
      kind: "canvas2d", colors() {}, flags() {},
      draw(anySel) {
        const w = glc.width, h = glc.height, img = ctx.createImageData(w, h), p = img.data;
        p.fill(255);
        const a = anySel ? 0.25 : 0.6;
        for (const pass of [1, 2]) for (let i = 0; i < N; i++) {
          if (flag[i] !== pass) continue;
          const px = Math.floor((toPx(X[i]) - ML) * dpr - 0.5), py = Math.floor((toPy(Y[i]) - MT) * dpr - 0.5), al = pass === 2 ? 1 : a;
          for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
            const x = px + dx, y = py + dy; if (x < 0 || y < 0 || x >= w || y >= h) continue;
            const o = 4 * (y * w + x);
            for (let c = 0; c < 3; c++) p[o + c] = p[o + c] * (1 - al) + rgb[3 * i + c] * al;
          }
        }
        ctx.putImageData(img, 0, 0);
      },
    };
  }

  // ---- density layer: hexagons over the shown points in view, shaded by log count ----
  const HEXR = 7, SQ3 = Math.sqrt(3);  // hexagon radius, CSS pixels
  let densityMax = 0;
  function drawDensity() {
    const c = dens.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0); c.clearRect(0, 0, PW, PH);
    densityMax = 0;
    if (!$("dm-density-on").checked) { $("dm-density-legend").textContent = ""; return; }
    const dx = HEXR * SQ3, dy = HEXR * 1.5, cols_ = Math.ceil(PW / dx) + 3, rows = Math.ceil(PH / dy) + 2;  // column k holds q = k - 1
    const count = new Uint32Array(cols_ * rows);
    for (let i = 0; i < N; i++) {
      if (!flag[i]) continue;
      const px = PX[i] - ML, py = PY[i] - MT;
      if (px < 0 || px > PW || py < 0 || py > PH) continue;
      // the hexagon holding the pixel: axial coordinates, cube rounding, then offset (odd rows shifted)
      const fq = (px * SQ3 / 3 - py / 3) / HEXR, fr = (2 / 3) * py / HEXR, fs = -fq - fr;
      let rq = Math.round(fq), rr = Math.round(fr);
      const rs = Math.round(fs), eq = Math.abs(rq - fq), er = Math.abs(rr - fr), es = Math.abs(rs - fs);
      if (eq > er && eq > es) rq = -rr - rs; else if (er > es) rr = -rq - rs;
      const br = rr, bq = rq + ((rr - (rr & 1)) >> 1) + 1;
      if (br >= 0 && br < rows && bq >= 0 && bq < cols_) count[br * cols_ + bq]++;
    }
    for (let k = 0; k < count.length; k++) if (count[k] > densityMax) densityMax = count[k];
    // one path per shade (32 shades) instead of one fill per hexagon
    const lm = Math.log(densityMax), SHADES = 32, paths = [];
    for (let k = 0; k < SHADES; k++) paths.push(new Path2D());
    const corner = [];
    for (let s = 0; s < 6; s++) { const a = Math.PI / 6 + (s * Math.PI) / 3; corner.push([HEXR * Math.cos(a), HEXR * Math.sin(a)]); }
    for (let r = 0; r < rows; r++) for (let q = 0; q < cols_; q++) {
      const n = count[r * cols_ + q]; if (!n) continue;
      const t = lm > 0 ? Math.log(n) / lm : 0, cx = (q - 1 + (r & 1) / 2) * dx, cy = r * dy;
      const path = paths[Math.min(SHADES - 1, Math.floor(t * SHADES))];
      path.moveTo(cx + corner[0][0], cy + corner[0][1]);
      for (let s = 1; s < 6; s++) path.lineTo(cx + corner[s][0], cy + corner[s][1]);
      path.closePath();
    }
    for (let k = 0; k < SHADES; k++) {
      c.fillStyle = "rgba(" + ramp(1 - (k + 0.5) / SHADES).map(Math.round).join(",") + ",0.7)";
      c.fill(paths[k]);
    }
    $("dm-density-legend").textContent = "hexagons: 1 (yellow) to " + densityMax.toLocaleString("en") + " points (purple), log scale";
  }

  // ---- axes, region boundaries, selection outline ----
  const octx = overlay.getContext("2d");
  octx.scale(dpr, dpr);
  function ticks(lo, hi, n) {
    const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0);
    const out = []; for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Math.round(v / step) * step);
    return out;
  }
  const tickText = (v) => String(parseFloat(v.toPrecision(6)));
  // region boundaries of the allenai ranking: ambiguous = variability >= a; easy = confidence >= e,
  // hard = confidence <= h (outside ambiguous); taken from the points' own regions
  const bounds = (function () {
    if (D.xy) return null;
    const j = (name) => D.regions.indexOf(name), amb = j("ambiguous"), easy = j("easy"), hard = j("hard");
    let a = Infinity, e = Infinity, h = -Infinity;
    for (let i = 0; i < N; i++) {
      const r = region[i];
      if (r === amb && X[i] < a) a = X[i]; else if (r === easy && Y[i] < e) e = Y[i]; else if (r === hard && Y[i] > h) h = Y[i];
    }
    return { ambiguous: a, easy: e, hard: h };
  })();
  let dragPath = null;
  function drawOverlay() {
    octx.clearRect(0, 0, W, H);
    octx.strokeStyle = "#444"; octx.fillStyle = "#333"; octx.lineWidth = 1; octx.font = "12px sans-serif";
    octx.strokeRect(ML + 0.5, MT + 0.5, PW, PH);
    octx.textAlign = "center"; octx.textBaseline = "top";
    for (const v of ticks(x0, x1, 8)) { const x = toPx(v); octx.beginPath(); octx.moveTo(x, MT + PH); octx.lineTo(x, MT + PH + 5); octx.stroke(); octx.fillText(tickText(v), x, MT + PH + 7); }
    octx.fillText(XLABEL, ML + PW / 2, MT + PH + 26);
    octx.textAlign = "right"; octx.textBaseline = "middle";
    for (const v of ticks(y0, y1, 8)) { const y = toPy(v); octx.beginPath(); octx.moveTo(ML - 5, y); octx.lineTo(ML, y); octx.stroke(); octx.fillText(tickText(v), ML - 7, y); }
    octx.save(); octx.translate(14, MT + PH / 2); octx.rotate(-Math.PI / 2); octx.textAlign = "center"; octx.fillText(YLABEL, 0, 0); octx.restore();
    if (bounds && $("dm-bounds").checked) {
      octx.save(); octx.beginPath(); octx.rect(ML, MT, PW, PH); octx.clip();
      octx.strokeStyle = "rgba(60,60,60,0.8)"; octx.setLineDash([6, 4]); octx.fillStyle = "#333"; octx.textBaseline = "bottom";
      const xa = Number.isFinite(bounds.ambiguous) ? toPx(bounds.ambiguous) : ML + PW;
      if (Number.isFinite(bounds.ambiguous)) { octx.beginPath(); octx.moveTo(xa, MT); octx.lineTo(xa, MT + PH); octx.stroke(); octx.textAlign = "left"; octx.fillText("ambiguous \u2192", xa + 4, MT + PH / 2); }
      for (const [k, label, base] of [["easy", "easy-to-learn \u2191", "bottom"], ["hard", "hard-to-learn \u2193", "top"]]) {
        if (!Number.isFinite(bounds[k])) continue;
        const y = toPy(bounds[k]); octx.beginPath(); octx.moveTo(ML, y); octx.lineTo(xa, y); octx.stroke();
        octx.textAlign = "left"; octx.textBaseline = base; octx.fillText(label, ML + 6, y + (base === "top" ? 3 : -3));
      }
      octx.restore();
    }
    if (pinned >= 0 && flag[pinned]) {  // a ring around the pinned point
      const px = toPx(X[pinned]), py = toPy(Y[pinned]);
      if (inPlot(px, py)) { octx.strokeStyle = "#000"; octx.lineWidth = 2; octx.beginPath(); octx.arc(px, py, 7, 0, 2 * Math.PI); octx.stroke(); octx.lineWidth = 1; }
    }
    if (dragPath && dragPath.length > 1 && dragMode !== "pan") {
      octx.strokeStyle = "#000"; octx.setLineDash([4, 3]); octx.beginPath();
      if (dragMode === "box") { const a = dragPath[0], b = dragPath[dragPath.length - 1]; octx.rect(a[0], a[1], b[0] - a[0], b[1] - a[1]); }
      else { octx.moveTo(dragPath[0][0], dragPath[0][1]); for (const p of dragPath) octx.lineTo(p[0], p[1]); octx.closePath(); }
      octx.stroke(); octx.setLineDash([]);
    }
  }

  // ---- marginal histograms of the points in view (shown points grey, selected points dark) ----
  const BINS = 50;
  function drawHists() {
    const cx = new Float64Array(BINS), cy = new Float64Array(BINS), sx = new Float64Array(BINS), sy = new Float64Array(BINS);
    for (let i = 0; i < N; i++) {
      if (!flag[i]) continue;
      const fx = (X[i] - x0) / (x1 - x0), fy = (Y[i] - y0) / (y1 - y0);
      if (!(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1)) continue;
      const bx = Math.min(BINS - 1, Math.floor(fx * BINS)), by = Math.min(BINS - 1, Math.floor(fy * BINS));
      cx[bx]++; cy[by]++; if (flag[i] === 2) { sx[bx]++; sy[by]++; }
    }
    const mx = Math.max(1, ...cx), my = Math.max(1, ...cy);
    const a = hx.getContext("2d"); a.setTransform(dpr, 0, 0, dpr, 0, 0); a.clearRect(0, 0, W, HX);
    const b = hy.getContext("2d"); b.setTransform(dpr, 0, 0, dpr, 0, 0); b.clearRect(0, 0, HY, H);
    const bw = PW / BINS, bh = PH / BINS;
    for (let k = 0; k < BINS; k++) {
      a.fillStyle = "#b8b8b8"; a.fillRect(ML + k * bw, HX - (cx[k] / mx) * (HX - 4), bw - 1, (cx[k] / mx) * (HX - 4));
      a.fillStyle = "#333"; a.fillRect(ML + k * bw, HX - (sx[k] / mx) * (HX - 4), bw - 1, (sx[k] / mx) * (HX - 4));
      const y = MT + PH - (k + 1) * bh;
      b.fillStyle = "#b8b8b8"; b.fillRect(0, y, (cy[k] / my) * (HY - 4), bh - 1);
      b.fillStyle = "#333"; b.fillRect(0, y, (sy[k] / my) * (HY - 4), bh - 1);
    }
  }

  // ---- hover: uniform grid over the pixel positions of the points in view (rebuilt after a view change) ----
  const CELL = 8, GW = Math.ceil(W / CELL), GH = Math.ceil(H / CELL);
  const cellStart = new Int32Array(GW * GH + 1), order = new Int32Array(N), cell = new Int32Array(N);
  let indexed = false;
  function reindex() {
    cellStart.fill(0);
    for (let i = 0; i < N; i++) {
      const px = toPx(X[i]), py = toPy(Y[i]);
      PX[i] = px; PY[i] = py;
      if (!inPlot(px, py)) { cell[i] = -1; continue; }  // out of view: never hovered or selected
      cell[i] = Math.floor(py / CELL) * GW + Math.floor(px / CELL); cellStart[cell[i] + 1]++;
    }
    for (let c = 0; c < GW * GH; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, GW * GH);
    for (let i = 0; i < N; i++) if (cell[i] >= 0) order[fill[cell[i]]++] = i;
    indexed = true;
  }
  const RADIUS = 6;
  function nearest(px, py) {
    if (!indexed) reindex();
    if (!inPlot(px, py)) return -1;
    const gx = Math.floor(px / CELL), gy = Math.floor(py / CELL);
    let best = -1, bd = RADIUS * RADIUS;
    for (let cy = gy - 1; cy <= gy + 1; cy++) {
      if (cy < 0 || cy >= GH) continue;
      for (let cx = gx - 1; cx <= gx + 1; cx++) {
        if (cx < 0 || cx >= GW) continue;
        const c = cy * GW + cx;
        for (let k = cellStart[c]; k < cellStart[c + 1]; k++) {
          const i = order[k]; if (!flag[i]) continue;
          const dx = PX[i] - px, dy = PY[i] - py, d = dx * dx + dy * dy;
          if (d < bd || (d === bd && i < best)) { bd = d; best = i; }
        }
      }
    }
    return best;
  }

  // ---- drawing: everything that depends on the view, at most once per animation frame ----
  let nShown = N, nSel = 0, frameQueued = false;
  function redraw() {
    const r0 = performance.now();
    reindex(); gpu.draw(nSel > 0); drawDensity(); drawHists(); drawOverlay();
    api.lastRedrawMs = performance.now() - r0;
  }
  function requestRedraw() {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(() => { frameQueued = false; redraw(); });
  }
  function setView(v) {
    let [a, b, c, d] = v;
    const minW = 1e-6 * (home[1] - home[0]), minH = 1e-6 * (home[3] - home[2]);
    if (!(b - a > minW)) { const m = (a + b) / 2; a = m - minW / 2; b = m + minW / 2; }
    if (!(d - c > minH)) { const m = (c + d) / 2; c = m - minH / 2; d = m + minH / 2; }
    [x0, x1, y0, y1] = [a, b, c, d];
    indexed = false; tip.hidden = true; hovered = -1;
    requestRedraw();
  }
  // zoom by `f` (< 1 zooms in) about the pixel (px, py) of the overlay
  function zoomAt(f, px, py) {
    const cx = fromPx(px), cy = fromPy(py);
    setView([cx - (cx - x0) * f, cx + (x1 - cx) * f, cy - (cy - y0) * f, cy + (y1 - cy) * f]);
  }
  function panBy(dxPx, dyPx) {
    const dx = (dxPx / PW) * (x1 - x0), dy = (dyPx / PH) * (y1 - y0);
    setView([x0 - dx, x1 - dx, y0 + dy, y1 + dy]);
  }
  function resetView() { setView(home.slice()); }

  // ---- filters, search, counts ----
  let topK = 0, flaggedOnly = false;  // label-issue filters: rank <= topK (0 = off), flagged only
  const issueShown = (i) => !IS || ((!topK || (irank[i] > 0 && irank[i] <= topK)) && (!flaggedOnly || iflag[i] === 1));
  function update() {
    nShown = 0; nSel = 0;
    for (let i = 0; i < N; i++) {
      const v = regionOn[region[i]] && labelOn[gold[i]] !== false && (!searchMask || searchMask[i]) && issueShown(i);
      if (!v) sel[i] = 0;
      flag[i] = v ? (sel[i] ? 2 : 1) : 0;
      if (v) { nShown++; if (sel[i]) nSel++; }
    }
    gpu.flags(); redraw();
    $("dm-count").textContent = nShown.toLocaleString("en") + " of " + N.toLocaleString("en") + " shown, " + nSel.toLocaleString("en") + " selected";
    $("dm-export").disabled = nSel === 0;
  }
  function checkboxes(host, items, state, counts) {
    items.forEach((name, j) => {
      const lab = el("label"), cb = document.createElement("input");
      cb.type = "checkbox"; cb.checked = true; cb.dataset.index = String(j);
      cb.addEventListener("change", () => { state[j] = cb.checked; update(); });
      lab.append(cb, document.createTextNode(" " + name + " (" + counts[j].toLocaleString("en") + ")"));
      host.append(lab);
    });
  }
  const rc = D.regions.map(() => 0), lc = names.map(() => 0);
  for (let i = 0; i < N; i++) { rc[region[i]]++; lc[gold[i]]++; }
  checkboxes($("dm-regions"), D.regions, regionOn, rc);
  checkboxes($("dm-labels"), names, labelOn, lc);
  if (SFT) $("dm-labels").parentElement.hidden = true;  // no classes to filter by
  if (IS) {
    let nf = 0;
    for (let i = 0; i < N; i++) nf += iflag[i];
    const box = el("div"), k = document.createElement("input"), f = document.createElement("input");
    box.id = "dm-issue-filters";
    k.type = "number"; k.id = "dm-topk"; k.min = "1"; k.step = "1"; k.placeholder = "all"; k.style.width = "6em";
    f.type = "checkbox"; f.id = "dm-flagged";
    const lk = el("label", "top "), lf = el("label");
    lk.append(k, document.createTextNode(" label issues"));
    lf.append(f, document.createTextNode(" flagged only (" + nf.toLocaleString("en") + ")"));
    box.append(el("b", "Label issues"), document.createTextNode(" "), lk, lf);
    $("dm-filters").append(box);
    k.addEventListener("input", () => { const v = Math.floor(Number(k.value)); topK = k.value !== "" && v >= 1 ? v : 0; update(); });
    f.addEventListener("change", () => { flaggedOnly = f.checked; update(); });
  }

  let lower = null, searchTimer = null;
  function applySearch() {
    query = $("dm-search").value;
    const q = query.toLowerCase();
    if (!q) { searchMask = null; update(); return; }
    if (!lower) { lower = new Array(N); for (let i = 0; i < N; i++) lower[i] = (D.text[i] + (D.pair ? "\n" + D.text_pair[i] : "")).toLowerCase(); }
    searchMask = new Uint8Array(N);
    for (let i = 0; i < N; i++) if (lower[i].includes(q)) searchMask[i] = 1;
    update();
  }
  $("dm-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(applySearch, 150); });
  colorSel.addEventListener("change", () => { computeColors(); gpu.draw(nSel > 0); });
  $("dm-density-on").addEventListener("change", () => drawDensity());
  $("dm-bounds").addEventListener("change", () => drawOverlay());
  $("dm-full").addEventListener("change", () => { fullRange = $("dm-full").checked; home = homeView(fullRange); resetView(); });
  $("dm-zoom-in").addEventListener("click", () => zoomAt(1 / 1.5, ML + PW / 2, MT + PH / 2));
  $("dm-zoom-out").addEventListener("click", () => zoomAt(1.5, ML + PW / 2, MT + PH / 2));
  $("dm-reset").addEventListener("click", resetView);
  for (const [id, dx, dy] of [["dm-left", 1, 0], ["dm-right", -1, 0], ["dm-up", 0, 1], ["dm-down", 0, -1]])
    $(id).addEventListener("click", () => panBy(dx * PW / 4, dy * PH / 4));

  // ---- per-epoch chart of the gold-class probability (SVG built with DOM calls; epochs shown 1..E) ----
  const SVGNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function epochChart(i) {
    const cw = 230, ch = 96, l = 30, r = 8, t = 8, b = 26, w = cw - l - r, h = ch - t - b;
    const ex = (e) => l + (E > 1 ? ((e - 1) / (E - 1)) * w : w / 2), ey = (p) => t + (1 - p) * h;
    const s = svg("svg", { width: cw, height: ch, class: "dm-chart", "data-id": D.ids[i] });
    s.append(svg("rect", { x: l, y: t, width: w, height: h, fill: "none", stroke: "#bbb" }));
    const used = D.epochs_used && D.epochs_used < E ? D.epochs_used : E;  // burn-out: later epochs not in the metrics
    if (used < E) {
      const x0 = (ex(used) + ex(used + 1)) / 2, shade = svg("rect", { x: x0, y: t, width: l + w - x0, height: h, fill: "#eee", class: "dm-burnout" });
      shade.append(svg("title", {}, "epochs " + (used + 1) + "\u2013" + E + ": after --burn-out " + used + ", not in the metrics"));
      s.append(shade);
    }
    for (const p of [0, 0.5, 1]) {
      s.append(svg("line", { x1: l, x2: l + w, y1: ey(p), y2: ey(p), stroke: p === 0.5 ? "#ddd" : "none" }));
      s.append(svg("text", { x: l - 4, y: ey(p) + 3, "text-anchor": "end", class: "dm-tick" }, String(p)));
    }
    const step = Math.max(1, Math.ceil(E / 10));
    for (let e = 1; e <= E; e += step) s.append(svg("text", { x: ex(e), y: t + h + 11, "text-anchor": "middle", class: "dm-tick dm-etick" }, String(e)));
    s.append(svg("text", { x: l + w / 2, y: ch - 3, "text-anchor": "middle", class: "dm-tick" }, UNIT));
    const pts = [];
    for (let e = 1; e <= E; e++) pts.push([ex(e), ey(PG[i * E + e - 1] / 255)]);
    s.append(svg("polyline", { points: pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "), fill: "none", stroke: "#2a5db0", "stroke-width": 1.5 }));
    pts.forEach((p, k) => {
      const v = PG[i * E + k] / 255, counted = k < used;
      const c = svg("circle", { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 2.5, fill: counted ? "#2a5db0" : "#aaa", "data-epoch": k + 1, "data-p": v.toFixed(3), "data-counted": counted ? 1 : 0 });
      c.append(svg("title", {}, UNIT + " " + (k + 1) + ": " + PLABEL + " " + v.toFixed(3) + (counted ? "" : " (after --burn-out: not in the metrics)")));
      s.append(c);
    });
    const box = el("div", undefined, "dm-chartbox");
    box.append(el("div", (SFT ? SFT.chart : "gold-class probability per epoch") + (used < E ? " (metrics use " + UNIT + "s 1\u2013" + used + ")" : ""), "dm-k"), s);
    return box;
  }

  const TRUNC = 280;
  function issueText(i) {
    if (!irank[i]) return "label issue: not ranked (threshold sample)";
    return "label issue: rank " + irank[i].toLocaleString("en") + " of " + IS.n_ranked.toLocaleString("en") + " (" + IS.method + "), "
      + (iflag[i] ? "flagged" : "not flagged");
  }
  function recordNodes(i, full) {
    const out = [];
    let cut = false;
    const txt = (label, s) => {
      const long = !full && s.length > TRUNC;
      cut = cut || long;
      const d = el("div", undefined, "dm-text");
      if (label) d.append(el("span", label + ": ", "dm-k"));
      d.append(el("span", long ? s.slice(0, TRUNC) + "\u2026" : s, "dm-body"));
      out.push(d);
    };
    const head = el("div"); head.append(el("span", "id ", "dm-k"), el("span", D.ids[i], "dm-id")); out.push(head);
    const tl = SFT ? SFT.text_labels : ["premise", "hypothesis"];
    if (D.pair) { txt(tl[0], D.text[i]); txt(tl[1], D.text_pair[i]); } else txt("", D.text[i]);
    out.push(el("div", (SFT ? "" : "gold: " + (names[gold[i]] ?? gold[i]) + "   predicted: " + (names[pred[i]] ?? pred[i]) + "   ") + "region: " + D.regions[region[i]]
      + (cluster ? "   cluster: " + (D.cluster_names[cluster[i]] === "noise" ? "noise (-1)" : D.cluster_names[cluster[i]]) : "")));
    if (IS) out.push(el("div", issueText(i), irank[i] && iflag[i] ? "dm-issue dm-flagged" : "dm-issue"));
    const m = D.metrics.map((k) => k + " " + (k === "forgetfulness" && cols[k][i] === Infinity ? (SFT ? "\u221e (never exact)" : "\u221e (never correct)") : fmt(cols[k][i])));
    out.push(el("div", m.join("   "), "dm-k"));
    if (PG) out.push(epochChart(i));
    else if (full) out.push(el("div", D.pgold_note || "no per-epoch chart", "dm-k"));
    if (cut) out.push(el("div", "text truncated: click the point for the full text", "dm-more"));
    return out;
  }

  const tip = $("dm-tooltip");
  let hovered = -1;
  function hover(px, py, clientX, clientY) {
    const h0 = performance.now();
    const i = nearest(px, py);
    if (i < 0) { tip.hidden = true; hovered = -1; }
    else {
      if (i !== hovered) { tip.replaceChildren(...recordNodes(i, false)); tip.dataset.id = D.ids[i]; hovered = i; }
      tip.hidden = false;
      const r = tip.getBoundingClientRect();
      let left = clientX + 14, top = clientY + 14;
      if (left + r.width > window.innerWidth) left = Math.max(0, clientX - 14 - r.width);
      if (top + r.height > window.innerHeight) top = Math.max(0, clientY - 14 - r.height);
      tip.style.left = left + "px"; tip.style.top = top + "px";
    }
    api.lastHoverMs = performance.now() - h0;
  }
  let pinned = -1;
  function pin(i) {
    pinned = i;
    const d = $("dm-detail");
    if (i < 0) { d.replaceChildren(el("p", "Nothing pinned. Click a point to read its full record.", "dm-hint")); d.dataset.id = ""; return; }
    d.replaceChildren(el("b", "Pinned record"), ...recordNodes(i, true));
    d.dataset.id = D.ids[i];
  }

  // ---- the top label issues by rank (drawn points): a click pins the point ----
  if (IS) {
    const box = el("div"), list = el("ol"), LIST_TRUNC = 90;
    box.id = "dm-issues";
    const cut = IS.cut === "negative_aum" ? "AUM < 0" : IS.cut === "threshold_samples" ? "AUM < " + fmt(IS.cut_value) + " (threshold samples)"
      : IS.cut === "cleanlab" ? "cleanlab's find_label_issues" : IS.cut;
    box.append(el("b", "Top label issues"), el("div", "by " + IS.method + " rank" + (D.sampled ? ", among the drawn points" : "") + "; "
      + IS.n_flagged.toLocaleString("en") + " of " + IS.n_ranked.toLocaleString("en") + " flagged (" + cut + ")", "dm-k"), list);
    for (const [i, given, predicted] of IS.top) {
      const li = el("li"), s = D.text[i];
      li.dataset.id = D.ids[i]; li.tabIndex = 0; li.title = "pin this example";
      li.append(el("span", "#" + irank[i] + " ", "dm-rank"), el("span", given + " \u2192 " + predicted + (iflag[i] ? ", flagged" : ""), "dm-k"),
        el("div", s.length > LIST_TRUNC ? s.slice(0, LIST_TRUNC) + "\u2026" : s, "dm-body"));
      const go = () => { pin(i); drawOverlay(); };
      li.addEventListener("click", go);
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
      list.append(li);
    }
    if (!IS.top.length) box.append(el("p", "No ranked examples among the drawn points.", "dm-hint"));
    $("dm-side").insertBefore(box, $("dm-detail"));
  }

  // ---- selection: box or lasso drag (pan mode: the drag moves the view); a click pins a point ----
  function inPoly(x, y, poly) {
    let inside = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const xa = poly[a][0], ya = poly[a][1], xb = poly[b][0], yb = poly[b][1];
      if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
    }
    return inside;
  }
  function finishSelection(path, mode, add) {
    if (!indexed) reindex();
    if (!add) sel.fill(0);
    let xa = Infinity, xb = -Infinity, ya = Infinity, yb = -Infinity;
    for (const p of path) { xa = Math.min(xa, p[0]); xb = Math.max(xb, p[0]); ya = Math.min(ya, p[1]); yb = Math.max(yb, p[1]); }
    if (mode === "box") { const a = path[0], b = path[path.length - 1]; xa = Math.min(a[0], b[0]); xb = Math.max(a[0], b[0]); ya = Math.min(a[1], b[1]); yb = Math.max(a[1], b[1]); }
    for (let i = 0; i < N; i++) {
      if (!flag[i] || cell[i] < 0) continue;  // hidden, or out of view
      const x = PX[i], y = PY[i];
      if (x < xa || x > xb || y < ya || y > yb) continue;
      if (mode === "box" || inPoly(x, y, path)) sel[i] = 1;
    }
    update();
  }
  const local = (e) => { const r = overlay.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  let down = null;
  overlay.addEventListener("mousedown", (e) => {
    if (e.button !== 0) return;
    down = { p: local(e), last: local(e), shift: e.shiftKey }; dragPath = [down.p]; dragMode = $("dm-mode").value; e.preventDefault();
  });
  window.addEventListener("mousemove", (e) => {
    if (down) {
      const p = local(e);
      if (dragMode === "pan") { panBy(p[0] - down.last[0], p[1] - down.last[1]); down.last = p; dragPath.push(p); return; }
      dragPath.push(p); drawOverlay(); tip.hidden = true; return;
    }
    if (e.target !== overlay) { tip.hidden = true; hovered = -1; return; }
    const p = local(e); hover(p[0], p[1], e.clientX, e.clientY);
  });
  window.addEventListener("mouseup", (e) => {
    if (!down) return;
    const p = local(e), moved = Math.hypot(p[0] - down.p[0], p[1] - down.p[1]);
    dragPath.push(p);
    const path = dragPath, shift = down.shift;
    down = null; dragPath = null;
    if (moved < 3 && path.length < 4) { pin(nearest(p[0], p[1])); drawOverlay(); return; }
    if (dragMode === "pan") return;
    lastMode = dragMode;  // the recipe records how the selection was made
    finishSelection(path, lastMode, shift);
  });
  overlay.addEventListener("mouseleave", () => { if (!down) { tip.hidden = true; hovered = -1; } });
  overlay.addEventListener("wheel", (e) => {
    e.preventDefault();
    const p = local(e), unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
    zoomAt(Math.pow(1.0015, Math.max(-400, Math.min(400, e.deltaY * unit))), p[0], p[1]);
  }, { passive: false });
  overlay.addEventListener("dblclick", (e) => { e.preventDefault(); resetView(); });
  $("dm-clear").addEventListener("click", () => { sel.fill(0); update(); });

  function selectedIds() { const ids = []; for (let i = 0; i < N; i++) if (flag[i] === 2) ids.push(D.ids[i]); return ids; }
  function selectionObject() {
    const name = ($("dm-name").value || "").replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[.]+/, "") || "map_selection";
    const ids = selectedIds();
    const recipe = {
      source: "map.html", run: D.run, view: D.xy ? D.xy.kind : "map", mode: lastMode, search: query,
      regions: D.regions.filter((_, j) => regionOn[j]), labels: names.filter((_, j) => labelOn[j]),
      sampled: !!D.sampled,
    };
    if (D.sampled) { recipe.sample_seed = D.seed; recipe.max_points = D.max_points; }
    if (IS) recipe.label_issues = { method: IS.method, top_k: topK || null, flagged_only: flaggedOnly };
    return { name: name, ids: ids, recipe: recipe, sizes: { total: D.n_total, selected: ids.length } };
  }
  $("dm-export").addEventListener("click", () => {
    const obj = selectionObject();
    const url = URL.createObjectURL(new Blob([JSON.stringify(obj, null, 2) + "\n"], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url; a.download = obj.name + ".json"; document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  });

  // ---- test and benchmark hooks ----
  let index = null;
  const api = {
    ready: false, renderer: gpu.kind, n: N, lastHoverMs: null, lastRedrawMs: null,
    dataToClient(x, y) { const r = overlay.getBoundingClientRect(); return { x: r.left + toPx(x), y: r.top + toPy(y) }; },
    pointPixel(id) {
      if (!index) { index = new Map(); for (let i = 0; i < N; i++) index.set(D.ids[i], i); }
      const i = index.get(String(id)); if (i === undefined) return null;
      const r = overlay.getBoundingClientRect(); return { x: r.left + toPx(X[i]), y: r.top + toPy(Y[i]) };
    },
    view: () => [x0, x1, y0, y1], home: () => home.slice(), setView: (v) => setView(v), densityMax: () => densityMax,
    bounds: () => bounds, shownCount: () => nShown, selectedIds: selectedIds, selection: selectionObject,
    shownIds() { const ids = []; for (let i = 0; i < N; i++) if (flag[i]) ids.push(D.ids[i]); return ids; },
  };
  window.datamap = api;

  computeColors();
  update();
  pin(-1);
  requestAnimationFrame(() => { api.readyMs = performance.now(); api.initMs = api.readyMs - t0; api.ready = true; });
})();
