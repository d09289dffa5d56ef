/* latent explore: the page's script (plain ES2020, no modules, nothing fetched but the API).
 *
 * Layout of this file:
 *   helpers            formatting, element building
 *   backend            the ONLY place that talks to the server (an export mode replaces it
 *                      by defining window.latentBackend with the same methods before this runs)
 *   state              one object S
 *   rendering of rows  images (pixelated canvases) and tables (bar charts / sparklines)
 *   maps               drawing, pan / zoom, hover tooltip, click / shift-click
 *   decoding           per-run queue: one request in flight, the latest value wins
 *   sliders, neighbours, picks, interpolation, grid, sampling
 *   init               load the session, build the panels, decode row 0 everywhere
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ helpers
  const MINUS = '\u2212';
  const MAP_SIZE = 440;        // CSS px of a map canvas
  const MAIN_SIZE = 168;       // CSS px of the decoded view (image)
  const THUMB_SIZE = 56;       // neighbours, tooltip
  const CELL_SIZE = 48;        // strip / sample cells
  const HOVER_PX = 5;          // how near a point must be to hover / click it
  const DRAG_PX = 3;           // more movement than this turns a click into a pan
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
    '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const NO_LABEL = '#6b7280';
  const LETTERS = 'ABCD';

  const $ = (id) => document.getElementById(id);

  /** h('div', {class: 'x', id: 'y', text: 'z', onclick: f, 'data-row': 3}, child...) */
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'style') e.style.cssText = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function minus(s) {
    if (/^-0(\.0*)?$/.test(s)) s = s.slice(1);
    return s.startsWith('-') ? MINUS + s.slice(1) : s;
  }
  /** fixed decimals, with a real minus sign */
  function fmt(v, d = 2) {
    return Number.isFinite(v) ? minus(v.toFixed(d)) : String(v);
  }
  /** p significant digits */
  function sig(v, p = 3) {
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    let s;
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) s = v.toExponential(p - 1);
    else if (a >= 10 ** p) s = v.toFixed(0);
    else s = v.toPrecision(p);
    return minus(s);
  }
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  function intOf(input, lo, hi, fallback) {
    let v = Math.round(Number(input.value));
    if (!Number.isFinite(v)) v = fallback;
    v = clamp(v, lo, hi);
    if (String(v) !== input.value) input.value = String(v);
    return v;
  }

  // ------------------------------------------------------------------ backend
  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  const tokenMeta = document.querySelector('meta[name="latent-token"]');
  const TOKEN = tokenMeta ? tokenMeta.getAttribute('content') : '';

  async function request(method, path, body) {
    const headers = { 'x-latent-token': TOKEN, 'accept': 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(`no answer from the server (${e.message})`, 0);
    }
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
    if (!resp.ok) {
      const msg = json && typeof json.error === 'string' ? json.error
        : (text.trim().slice(0, 300) || resp.statusText || 'request failed');
      throw new ApiError(`${msg} (HTTP ${resp.status})`, resp.status);
    }
    if (json === null || typeof json !== 'object') {
      throw new ApiError(`${path}: the answer is not JSON`, resp.status);
    }
    return json;
  }

  /** Everything the page asks of the server. Nothing else in this file calls fetch. */
  const httpBackend = {
    session() { return request('GET', 'api/session'); },
    rows(ids) { return request('GET', 'api/rows?ids=' + ids.join(',')); },
    decode(run, points, neighbours) {
      return request('POST', 'api/decode', { run, points, neighbours });
    },
    interpolate(run, a, b, steps, path) {
      return request('POST', 'api/interpolate', { run, a, b, steps, path });
    },
    grid(run, corners, size) { return request('POST', 'api/grid', { run, corners, size }); },
    sample(run, n, temperature, seed) {
      return request('POST', 'api/sample', { run, n, temperature, seed });
    },
  };
  const backend = window.latentBackend || httpBackend;

  // ------------------------------------------------------------------ state
  const S = {
    loaded: false,         // session in and panels built
    ready: false,          // ... and the first decode (row 0) done in every run
    session: null, data: null, runs: [], limits: null, n: 0,
    pending: 0,            // requests in flight
    current: [],           // per run {point, code}
    lastDecoded: [],       // per run {codes, rows} exactly as received
    work: [],              // per run: the code the sliders edit (Float64 copy)
    marker: [],            // per run [x, y]: where the current code lies on the map
    caption: [],
    views: [],             // per run {cx, cy, s}: map centre and px per σ
    maps: [],              // per run {x: Float64Array, y: Float64Array}
    picks: [],             // {points: [Point per run], pos: [[x,y]|null per run], desc}
    strips: [], grids: [], samples: [],   // per run {codes, rows, map, ...} or null
    queues: [],            // per run decode queue {busy, next}
    tokens: { interp: 0, grid: 0, sample: 0 },
    nbToken: [],
    seed: 1,
    errors: [],            // messages shown in #status since the last user action
    rowCache: new Map(), rowWaiting: new Map(),
    colorOf: null,         // Uint8Array: palette index per point (10 = no label)
    image: null,           // {h, w, c} when rows are images
  };

  function track(promise) {
    S.pending++;
    document.body.classList.add('busy');
    const done = () => {
      S.pending--;
      if (S.pending === 0) document.body.classList.remove('busy');
    };
    return promise.then((v) => { done(); return v; }, (e) => { done(); throw e; });
  }

  function setStatus(text, kind) {
    const st = $('status');
    st.textContent = text;
    st.title = text;
    st.className = kind || '';
  }
  /** show a failed request in #status; the errors of one user action are listed together */
  function report(e, what) {
    const msg = `${what}: ${e && e.message ? e.message : e}`;
    if (!S.errors.includes(msg)) S.errors.push(msg);
    setStatus(S.errors.slice(-3).join(' · '), 'error');
  }
  /** a new user action: old error messages give way */
  function newAction() {
    S.errors = [];
    if ($('status').className === 'error') setStatus(S.ready ? 'ready' : '', S.ready ? 'ok' : '');
  }
  const runName = (r) => S.runs[r].name;

  // ------------------------------------------------------------------ rows
  function labelOf(i) {
    const L = S.data.labels;
    if (!L || i < 0 || i >= L.length) return null;
    return L[i];
  }
  function classText(l) {
    if (l === null || l === undefined) return '';
    const C = S.data.classes;
    return C && C[l] !== undefined ? String(C[l]) : `label ${l}`;
  }
  function rowText(i) {
    const l = labelOf(i);
    return l === null ? `row ${i}` : `row ${i} · ${classText(l)}`;
  }

  /** data rows by id, cached; resolves to an array (undefined where the fetch failed) */
  function getRows(ids) {
    const need = [...new Set(ids)].filter((i) => !S.rowCache.has(i) && !S.rowWaiting.has(i));
    const max = Math.max(1, S.limits.rows | 0);
    for (let at = 0; at < need.length; at += max) {
      const chunk = need.slice(at, at + max);
      const p = track(backend.rows(chunk)).then((res) => {
        chunk.forEach((id, j) => { if (res.rows && res.rows[j]) S.rowCache.set(id, res.rows[j]); });
      }, (e) => report(e, 'rows')).then(() => chunk.forEach((id) => S.rowWaiting.delete(id)));
      chunk.forEach((id) => S.rowWaiting.set(id, p));
    }
    return Promise.all(ids.map((i) => S.rowWaiting.get(i))).then(() => ids.map((i) => S.rowCache.get(i)));
  }

  /** canvas sized to CSS px w x h at the device pixel ratio; returns a 2-D context in CSS px */
  function hiDpi(canvas, w, hgt) {
    const dpr = window.devicePixelRatio || 1;
    const W = Math.round(w * dpr), H = Math.round(hgt * dpr);
    if (canvas.width !== W) canvas.width = W;
    if (canvas.height !== H) canvas.height = H;
    canvas.style.width = w + 'px';
    canvas.style.height = hgt + 'px';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  function drawImageRow(canvas, row, size) {
    const { h: H, w: W, c: C } = S.image;
    const [lo, hi] = S.data.range;
    const k = 255 / ((hi - lo) || 1);
    if (canvas.width !== W) canvas.width = W;
    if (canvas.height !== H) canvas.height = H;
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(W, H);
    const d = img.data;
    for (let p = 0; p < W * H; p++) {
      const b = p * C;
      const r = (row[b] - lo) * k;
      const g = C >= 3 ? (row[b + 1] - lo) * k : r;
      const bl = C >= 3 ? (row[b + 2] - lo) * k : r;
      d[4 * p] = r; d[4 * p + 1] = g; d[4 * p + 2] = bl; d[4 * p + 3] = 255; // clamped by the array
    }
    ctx.putImageData(img, 0, 0);
    const scale = Math.max(H, W) <= size ? Math.max(1, Math.floor(size / Math.max(H, W))) : size / Math.max(H, W);
    const fit = Math.max(H, W) * scale < size * 0.8 ? size / Math.max(H, W) : scale;
    canvas.style.width = Math.round(W * fit) + 'px';
    canvas.style.height = Math.round(H * fit) + 'px';
    canvas.classList.add('pixelated');
  }

  /** tiny bar sparkline of a table row in σ units of each feature */
  function drawSpark(canvas, row, w, hgt) {
    const ctx = hiDpi(canvas, w, hgt);
    const { feature_mean: mu, feature_sd: sd } = S.data;
    ctx.fillStyle = '#f8fafc';
    ctx.fillRect(0, 0, w, hgt);
    const mid = hgt / 2, D = row.length, bw = w / Math.max(1, D);
    ctx.fillStyle = '#cbd5e1';
    ctx.fillRect(0, mid - 0.25, w, 0.5);
    for (let j = 0; j < D; j++) {
      const z = sd[j] > 0 ? clamp((row[j] - mu[j]) / sd[j], -3, 3) : 0;
      const len = (z / 3) * (mid - 1);
      ctx.fillStyle = z >= 0 ? '#2563eb' : '#ea580c';
      ctx.fillRect(j * bw + bw * 0.1, z >= 0 ? mid - len : mid, Math.max(0.6, bw * 0.8), Math.abs(len));
    }
  }

  /** a new canvas showing a row at about `size` CSS px */
  function thumb(row, size, cls) {
    const c = h('canvas', { class: cls || 'thumb' });
    if (row) paintThumb(c, row, size);
    else if (!S.image) hiDpi(c, size, Math.round(size * 0.6));
    else { c.style.width = size + 'px'; c.style.height = size + 'px'; }
    return c;
  }
  function paintThumb(canvas, row, size) {
    if (S.image) drawImageRow(canvas, row, size);
    else drawSpark(canvas, row, size, Math.round(size * 0.6));
  }

  // ---- the main decoded view
  function buildBars(container) {
    container.textContent = '';
    S.data.features.forEach((name, j) => {
      container.append(h('div', { class: 'bar-row', 'data-feature': j },
        h('span', { class: 'bar-name', title: name, text: name }),
        h('span', { class: 'bar-track' }, h('span', { class: 'bar' })),
        h('span', { class: 'bar-value' })));
    });
  }
  function showDecoded(r, row) {
    const target = $(`decoded-${r}`);
    if (S.image) { drawImageRow(target, row, MAIN_SIZE); return; }
    const { feature_mean: mu, feature_sd: sd, features } = S.data;
    const rowsEl = target.children;
    for (let j = 0; j < rowsEl.length; j++) {
      const v = row[j];
      const z = sd[j] > 0 ? (v - mu[j]) / sd[j] : 0;
      const zc = clamp(z, -3, 3);
      const bar = rowsEl[j].children[1].firstChild;
      const w = Math.abs(zc) / 3 * 50;
      bar.style.left = (zc >= 0 ? 50 : 50 - w) + '%';
      bar.style.width = w + '%';
      bar.className = 'bar ' + (z >= 0 ? 'pos' : 'neg') + (Math.abs(z) > 3 ? ' over' : '');
      rowsEl[j].children[2].textContent = sig(v, 4);
      rowsEl[j].title = `${features[j]}: ${sig(v, 4)} (${z >= 0 ? '+' : ''}${fmt(z)} σ from the mean)`;
    }
  }

  // ------------------------------------------------------------------ maps
  let sprites = null, spriteDpr = 0, spriteRadius = 0;
  function pointRadius() { return S.n > 20000 ? 1.4 : S.n > 3000 ? 2 : 2.6; }
  function getSprites() {
    const dpr = window.devicePixelRatio || 1, rad = pointRadius();
    if (sprites && spriteDpr === dpr && spriteRadius === rad) return sprites;
    spriteDpr = dpr; spriteRadius = rad;
    sprites = PALETTE.concat([NO_LABEL]).map((col) => {
      const css = 2 * rad + 2, px = Math.ceil(css * dpr);
      const c = document.createElement('canvas');
      c.width = c.height = px;
      const g = c.getContext('2d');
      g.globalAlpha = 0.78;
      g.fillStyle = col;
      g.beginPath();
      g.arc(px / 2, px / 2, rad * dpr, 0, 2 * Math.PI);
      g.fill();
      return { canvas: c, css };
    });
    return sprites;
  }

  const toPx = (v, x, y) => [MAP_SIZE / 2 + (x - v.cx) * v.s, MAP_SIZE / 2 - (y - v.cy) * v.s];
  const toMap = (v, px, py) => [v.cx + (px - MAP_SIZE / 2) / v.s, v.cy - (py - MAP_SIZE / 2) / v.s];

  function niceStep(span, target) {
    const raw = span / target;
    const p = 10 ** Math.floor(Math.log10(raw));
    const m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  const drawQueued = new Set();
  function drawMapSoon(r) {
    if (drawQueued.size === 0) requestAnimationFrame(() => {
      const rs = [...drawQueued];
      drawQueued.clear();
      rs.forEach(drawMap);
    });
    drawQueued.add(r);
  }
  function drawAllMaps() { S.runs.forEach((_, r) => drawMapSoon(r)); }

  function drawMap(r) {
    const canvas = $(`map-${r}`);
    if (!canvas) return;
    const ctx = hiDpi(canvas, MAP_SIZE, MAP_SIZE);
    const v = S.views[r], M = S.maps[r];
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, MAP_SIZE, MAP_SIZE);

    // grid lines at nice σ steps, the axes through 0 darker
    const step = niceStep(MAP_SIZE / v.s, 6);
    const dec = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const [x0, y1] = toMap(v, 0, 0), [x1, y0] = toMap(v, MAP_SIZE, MAP_SIZE);
    ctx.font = '10px system-ui, sans-serif';
    ctx.lineWidth = 1;
    for (let gx = Math.ceil(x0 / step) * step; gx <= x1; gx += step) {
      const [px] = toPx(v, gx, 0);
      ctx.strokeStyle = Math.abs(gx) < step / 2 ? '#94a3b8' : '#eef2f7';
      ctx.beginPath(); ctx.moveTo(Math.round(px) + 0.5, 0); ctx.lineTo(Math.round(px) + 0.5, MAP_SIZE); ctx.stroke();
      ctx.fillStyle = '#94a3b8';
      ctx.fillText(fmt(gx, dec), px + 2, MAP_SIZE - 3);
    }
    for (let gy = Math.ceil(y0 / step) * step; gy <= y1; gy += step) {
      const [, py] = toPx(v, 0, gy);
      ctx.strokeStyle = Math.abs(gy) < step / 2 ? '#94a3b8' : '#eef2f7';
      ctx.beginPath(); ctx.moveTo(0, Math.round(py) + 0.5); ctx.lineTo(MAP_SIZE, Math.round(py) + 0.5); ctx.stroke();
      ctx.fillStyle = '#94a3b8';
      ctx.fillText(fmt(gy, dec), 3, py - 3);
    }

    // the points
    const sp = getSprites(), half = sp[0].css / 2, col = S.colorOf;
    for (let i = 0; i < S.n; i++) {
      const px = MAP_SIZE / 2 + (M.x[i] - v.cx) * v.s;
      const py = MAP_SIZE / 2 - (M.y[i] - v.cy) * v.s;
      if (!(px > -half && px < MAP_SIZE + half && py > -half && py < MAP_SIZE + half)) continue;
      const s = sp[col[i]];
      ctx.drawImage(s.canvas, px - half, py - half, s.css, s.css);
    }

    // overlays: interpolation path, grid cells, samples
    const strip = S.strips[r];
    if (strip && strip.map && strip.map.length) {
      ctx.strokeStyle = '#b45309'; ctx.fillStyle = '#b45309'; ctx.lineWidth = 1.6;
      ctx.beginPath();
      strip.map.forEach(([x, y], j) => { const [px, py] = toPx(v, x, y); if (j) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
      ctx.stroke();
      strip.map.forEach(([x, y]) => { const [px, py] = toPx(v, x, y); ctx.fillRect(px - 2, py - 2, 4, 4); });
    }
    const grid = S.grids[r];
    if (grid && grid.map) {
      ctx.strokeStyle = '#0f766e'; ctx.lineWidth = 1;
      grid.map.forEach(([x, y]) => { const [px, py] = toPx(v, x, y); ctx.strokeRect(px - 2.5, py - 2.5, 5, 5); });
    }
    const smp = S.samples[r];
    if (smp && smp.map) {
      ctx.strokeStyle = '#6d28d9'; ctx.lineWidth = 1.5;
      smp.map.forEach(([x, y]) => {
        const [px, py] = toPx(v, x, y);
        ctx.beginPath(); ctx.moveTo(px - 4, py - 4); ctx.lineTo(px + 4, py + 4);
        ctx.moveTo(px + 4, py - 4); ctx.lineTo(px - 4, py + 4); ctx.stroke();
      });
    }

    // picks as letters
    ctx.font = 'bold 11px system-ui, sans-serif';
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    S.picks.forEach((p, j) => {
      const pos = p.pos[r];
      if (!pos) return;
      const [px, py] = toPx(v, pos[0], pos[1]);
      ctx.beginPath(); ctx.arc(px, py, 8, 0, 2 * Math.PI);
      ctx.fillStyle = '#ffffff'; ctx.fill();
      ctx.strokeStyle = '#111827'; ctx.lineWidth = 1.5; ctx.stroke();
      ctx.fillStyle = '#111827'; ctx.fillText(LETTERS[j], px, py + 0.5);
    });
    ctx.textAlign = 'start'; ctx.textBaseline = 'alphabetic';

    // the current code: a crosshair
    const m = S.marker[r];
    if (m && Number.isFinite(m[0]) && Number.isFinite(m[1])) {
      const [px, py] = toPx(v, m[0], m[1]);
      for (const [w, c] of [[4, '#ffffff'], [1.6, '#dc2626']]) {
        ctx.strokeStyle = c; ctx.lineWidth = w;
        ctx.beginPath();
        ctx.moveTo(px - 12, py); ctx.lineTo(px - 4, py); ctx.moveTo(px + 4, py); ctx.lineTo(px + 12, py);
        ctx.moveTo(px, py - 12); ctx.lineTo(px, py - 4); ctx.moveTo(px, py + 4); ctx.lineTo(px, py + 12);
        ctx.stroke();
        ctx.beginPath(); ctx.arc(px, py, 6, 0, 2 * Math.PI); ctx.stroke();
      }
    }
  }

  function fitViews() {
    let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    S.maps.forEach((M) => {
      for (let i = 0; i < S.n; i++) {
        const x = M.x[i], y = M.y[i];
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
        if (x < lo[0]) lo[0] = x; if (x > hi[0]) hi[0] = x;
        if (y < lo[1]) lo[1] = y; if (y > hi[1]) hi[1] = y;
      }
    });
    if (!(hi[0] > lo[0])) { lo[0] = -3; hi[0] = 3; }
    if (!(hi[1] > lo[1])) { lo[1] = -3; hi[1] = 3; }
    // one centre and one scale for all runs: their σ units are comparable
    const span = Math.max(hi[0] - lo[0], hi[1] - lo[1]) * 1.1;
    const view = { cx: (lo[0] + hi[0]) / 2, cy: (lo[1] + hi[1]) / 2, s: MAP_SIZE / span };
    S.runs.forEach((_, r) => { S.views[r] = Object.assign({}, view); });
  }

  function canvasXY(canvas, e) {
    const rect = canvas.getBoundingClientRect();
    return [e.clientX - rect.left - canvas.clientLeft, e.clientY - rect.top - canvas.clientTop];
  }
  function nearest(r, px, py, within) {
    const v = S.views[r], M = S.maps[r];
    let best = -1, bd = within * within;
    for (let i = 0; i < S.n; i++) {
      const dx = MAP_SIZE / 2 + (M.x[i] - v.cx) * v.s - px;
      const dy = MAP_SIZE / 2 - (M.y[i] - v.cy) * v.s - py;
      const d = dx * dx + dy * dy;
      if (d <= bd) { bd = d; best = i; }
    }
    return best;
  }

  // ---- tooltip
  let tipRow = -1;
  function showTooltip(r, i, e) {
    const tip = $('tooltip');
    if (tipRow !== i) {
      tipRow = i;
      const slot = $('tooltip-thumb');
      slot.textContent = '';
      const c = thumb(S.rowCache.get(i), THUMB_SIZE, 'thumb');
      slot.append(c);
      const l = labelOf(i);
      $('tooltip-text').textContent = '';
      $('tooltip-text').append(h('b', { text: `row ${i}` }),
        l === null ? '' : h('div', { text: classText(l) }),
        h('div', { class: 'muted', text: `(${fmt(S.maps[r].x[i])}, ${fmt(S.maps[r].y[i])})` }));
      tip.dataset.row = String(i);
      if (!S.rowCache.has(i)) {
        getRows([i]).then(([row]) => { if (tipRow === i && row) paintThumb(c, row, THUMB_SIZE); });
      }
    }
    tip.hidden = false;
    const w = tip.offsetWidth, ht = tip.offsetHeight;
    let x = e.clientX + 14, y = e.clientY + 14;
    if (x + w > window.innerWidth - 4) x = e.clientX - 14 - w;
    if (y + ht > window.innerHeight - 4) y = e.clientY - 14 - ht;
    tip.style.left = (x + window.scrollX) + 'px';
    tip.style.top = (y + window.scrollY) + 'px';
  }
  function hideTooltip() {
    tipRow = -1;
    const tip = $('tooltip');
    tip.hidden = true;
    delete tip.dataset.row;
  }

  function wireMap(r) {
    const canvas = $(`map-${r}`);
    let drag = null;
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      drag = { x0: e.clientX, y0: e.clientY, lx: e.clientX, ly: e.clientY, moved: false, shift: e.shiftKey };
      try { canvas.setPointerCapture(e.pointerId); } catch (_) { /* synthetic event */ }
    });
    canvas.addEventListener('pointermove', (e) => {
      if (drag) {
        if (!drag.moved && Math.hypot(e.clientX - drag.x0, e.clientY - drag.y0) > DRAG_PX) {
          drag.moved = true;
          hideTooltip();
          canvas.classList.add('panning');
        }
        if (drag.moved) {
          const v = S.views[r];
          v.cx -= (e.clientX - drag.lx) / v.s;
          v.cy += (e.clientY - drag.ly) / v.s;
          drawMapSoon(r);
        }
        drag.lx = e.clientX; drag.ly = e.clientY;
        return;
      }
      const [px, py] = canvasXY(canvas, e);
      const i = nearest(r, px, py, HOVER_PX);
      canvas.classList.toggle('on-point', i >= 0);
      if (i >= 0) showTooltip(r, i, e); else hideTooltip();
    });
    const end = (e, click) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      canvas.classList.remove('panning');
      try { canvas.releasePointerCapture(e.pointerId); } catch (_) { /* not captured */ }
      if (click && !d.moved) clickMap(r, canvas, e, d.shift || e.shiftKey);
    };
    canvas.addEventListener('pointerup', (e) => end(e, true));
    canvas.addEventListener('pointercancel', (e) => end(e, false));
    canvas.addEventListener('pointerleave', () => { if (!drag) { hideTooltip(); canvas.classList.remove('on-point'); } });
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const v = S.views[r];
      const [px, py] = canvasXY(canvas, e);
      const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? MAP_SIZE : 1;
      const f = Math.exp(-clamp(e.deltaY * unit, -600, 600) * 0.0015);
      const [mx, my] = toMap(v, px, py);
      v.s = clamp(v.s * f, 1e-3, 1e7);
      // keep the map point under the cursor where it is
      v.cx = mx - (px - MAP_SIZE / 2) / v.s;
      v.cy = my + (py - MAP_SIZE / 2) / v.s;
      hideTooltip();
      drawMapSoon(r);
    }, { passive: false });
  }

  function clickMap(r, canvas, e, shift) {
    // where on the map first: newAction() may change the page's layout (an error message in
    // the header goes), which moves the canvas under the event's client coordinates
    const [px, py] = canvasXY(canvas, e);
    newAction();
    const i = nearest(r, px, py, HOVER_PX);
    let point, pos;
    if (i >= 0) {
      point = { row: i };
      pos = S.runs.map((_, q) => [S.maps[q].x[i], S.maps[q].y[i]]);
    } else {
      const [x, y] = toMap(S.views[r], px, py);
      point = { map: [x, y] };
      pos = S.runs.map(() => [x, y]);
    }
    if (shift) addPick(S.runs.map(() => point), pos, pointText(point));
    else selectEverywhere(point);
  }

  // ------------------------------------------------------------------ decoding
  function pointText(p) {
    if (!p) return '';
    if (p.row !== undefined) return `row ${p.row}`;
    if (p.map) return `map (${fmt(p.map[0])}, ${fmt(p.map[1])})`;
    return 'code';
  }
  function captionOf(p) {
    return p.row !== undefined ? rowText(p.row) : pointText(p);
  }
  function neighboursK() { return Math.max(0, Math.min(8, S.limits.neighbours | 0)); }

  /** decode `point` in run r; one request in flight per run, the newest waiting one replaces
   *  an older waiting one. Resolves true once this (or a newer) request has been shown. */
  function requestDecode(r, point, caption) {
    const q = S.queues[r];
    let resolve;
    const done = new Promise((res) => { resolve = res; });
    const job = { point, caption, resolve };
    if (q.next) q.next.resolve(done);   // superseded before it was sent
    q.next = job;
    if (!q.busy) pumpDecode(r);
    return done;
  }
  async function pumpDecode(r) {
    const q = S.queues[r];
    q.busy = true;
    while (q.next) {
      const job = q.next;
      q.next = null;
      try {
        const res = await track(backend.decode(r, [job.point], neighboursK()));
        applyDecode(r, job, res, q.next !== null);
        job.resolve(true);
      } catch (e) {
        report(e, `decode in ${runName(r)}`);
        job.resolve(false);
      }
    }
    q.busy = false;
  }

  function applyDecode(r, job, res, newerWaiting) {
    if (!res || !Array.isArray(res.codes) || !res.codes.length || !Array.isArray(res.rows) || !res.rows.length) {
      throw new ApiError('the decode answer has no codes/rows', 0);
    }
    const code = res.codes[0];
    S.lastDecoded[r] = { codes: res.codes, rows: res.rows };
    S.current[r] = { point: job.point, code };
    S.caption[r] = job.caption;
    S.marker[r] = res.map && res.map[0] ? res.map[0] : null;
    if (!newerWaiting) {
      // a newer slider value is on its way: keep what the sliders say, else follow the code
      S.work[r] = Float64Array.from(code);
      setSliders(r, code);
    }
    showDecoded(r, res.rows[0]);
    const m = S.marker[r];
    $(`caption-${r}`).textContent = job.caption;
    $(`where-${r}`).textContent = m ? `lies at (${fmt(m[0])}, ${fmt(m[1])}) on the map` : '';
    showNeighbours(r, res.neighbours && res.neighbours[0] ? res.neighbours[0] : []);
    drawMapSoon(r);
    updateButtons();
  }

  function selectEverywhere(point) {
    newAction();
    clearSelectedCells();
    return Promise.all(S.runs.map((_, r) => requestDecode(r, point, captionOf(point))));
  }

  // ------------------------------------------------------------------ neighbours
  function showNeighbours(r, list) {
    const box = $(`neighbours-${r}`);
    const token = ++S.nbToken[r];
    box.textContent = '';
    if (!list.length) {
      box.append(h('div', { class: 'muted', text: neighboursK() ? 'no neighbours' : 'neighbours are off' }));
      return;
    }
    const canvases = list.map((nb) => {
      const i = nb.row;
      const c = thumb(S.rowCache.get(i), THUMB_SIZE, 'thumb');
      const l = labelOf(i);
      box.append(h('div', {
        class: 'neighbour', 'data-row': i, title: `${rowText(i)}: distance ${sig(nb.distance)}`,
        onclick: () => selectEverywhere({ row: i }),
      }, c,
      h('div', { class: 'nb-text' },
        h('span', { class: 'nb-row', text: `row ${i}` }),
        l === null ? null : h('span', { class: 'nb-label', text: classText(l) }),
        h('span', { class: 'nb-dist', text: `d ${sig(nb.distance)}` }))));
      return c;
    });
    const missing = list.map((nb) => nb.row).filter((i) => !S.rowCache.has(i));
    if (missing.length) {
      getRows(list.map((nb) => nb.row)).then((rows) => {
        if (token !== S.nbToken[r]) return;
        rows.forEach((row, j) => { if (row) paintThumb(canvases[j], row, THUMB_SIZE); });
      });
    }
  }

  // ------------------------------------------------------------------ sliders
  function sigmaOf(r, k, v) {
    const run = S.runs[r];
    const sd = run.code_sd[k];
    return sd > 0 ? (v - run.code_mean[k]) / sd : 0;
  }
  function setSliders(r, code) {
    const n = S.runs[r].sliders;
    for (let k = 0; k < n; k++) {
      const s = sigmaOf(r, k, code[k]);
      $(`slider-${r}-${k}`).value = String(clamp(s, -4, 4));
      $(`slider-${r}-${k}-value`).textContent = fmt(s);
    }
  }
  function onSlider(r, k, input) {
    newAction();
    clearSelectedCells();
    const s = Number(input.value);
    S.runs.forEach((run, q) => {
      if (k >= run.latent_dim || !S.work[q]) return;
      S.work[q][k] = run.code_mean[k] + s * run.code_sd[k];
      if (k < run.sliders) {
        if (q !== r) $(`slider-${q}-${k}`).value = String(s);
        $(`slider-${q}-${k}-value`).textContent = fmt(s);
      }
      requestDecode(q, { code: Array.from(S.work[q]) }, `sliders (z${k} = ${fmt(s)} σ)`);
    });
  }
  function buildSliders(r) {
    const run = S.runs[r];
    const box = $(`sliders-${r}`);
    for (let k = 0; k < run.sliders; k++) {
      const input = h('input', {
        type: 'range', id: `slider-${r}-${k}`, min: -4, max: 4, step: 0.01, value: 0,
        'data-dim': k, 'aria-label': `z${k} in σ`,
      });
      input.addEventListener('input', () => onSlider(r, k, input));
      box.append(h('div', { class: 'slider-row' },
        h('label', { for: `slider-${r}-${k}`, text: `z${k}` }), input,
        h('output', { id: `slider-${r}-${k}-value`, for: `slider-${r}-${k}`, text: fmt(0) })));
    }
  }

  // ------------------------------------------------------------------ picks
  function addPick(points, pos, desc) {
    if (S.picks.length >= LETTERS.length) {
      setStatus(`at most ${LETTERS.length} picks: clear them first`, 'error');
      return false;
    }
    S.picks.push({ points, pos, desc });
    renderPicks();
    drawAllMaps();
    return true;
  }
  function pickCurrent() {
    newAction();
    if (S.current.some((c) => !c || !c.point)) return;
    const points = [], pos = [];
    S.runs.forEach((_, r) => {
      const { point, code } = S.current[r];
      if (point.row !== undefined) {
        points.push({ row: point.row });
        pos.push([S.maps[r].x[point.row], S.maps[r].y[point.row]]);
      } else if (point.map) {
        points.push({ map: point.map.slice() });
        pos.push(point.map.slice());
      } else {
        points.push({ code: Array.from(code) });   // each run keeps its own code
        pos.push(S.marker[r] ? S.marker[r].slice() : null);
      }
    });
    addPick(points, pos, pointText(points[0]));
  }
  function renderPicks() {
    const box = $('picks');
    box.textContent = '';
    S.picks.forEach((p, j) => {
      box.append(h('button', {
        type: 'button', class: 'chip', id: `pick-${LETTERS[j]}`, 'data-letter': LETTERS[j],
        title: `show pick ${LETTERS[j]}`, text: `${LETTERS[j]}: ${p.desc}`,
        onclick: () => {
          newAction();
          clearSelectedCells();
          S.runs.forEach((_, r) => requestDecode(r, p.points[r], `pick ${LETTERS[j]}: ${p.desc}`));
        },
      }));
    });
    $('picks-hint').hidden = S.picks.length > 0;
    updateButtons();
  }
  function clearPicks() {
    newAction();
    S.picks = [];
    renderPicks();
    drawAllMaps();
  }

  function updateButtons() {
    const haveCurrent = S.loaded && S.current.every((c) => c && c.point);
    $('pick-button').disabled = !haveCurrent || S.picks.length >= LETTERS.length;
    $('clear-picks').disabled = S.picks.length === 0;
    $('interp-button').disabled = !S.loaded || S.picks.length < 2;
    $('grid-button').disabled = !S.loaded || S.picks.length < 4;
    $('sample-button').disabled = !S.loaded;
  }

  // ------------------------------------------------------------------ strips and grids
  function clearSelectedCells() {
    document.querySelectorAll('.cell.selected').forEach((c) => c.classList.remove('selected'));
  }
  /** a cell j of one kind of set was clicked: its code is current in every run that has it */
  function selectCell(kind, j, caption) {
    newAction();
    clearSelectedCells();
    S.runs.forEach((_, r) => {
      const set = S[kind][r];
      if (!set || !set.codes || !set.codes[j]) return;
      const box = $(`${kind === 'strips' ? 'strip' : kind === 'grids' ? 'grid' : 'samples'}-${r}`);
      const cell = box.querySelector(`.cell[data-index="${j}"]`);
      if (cell) cell.classList.add('selected');
      requestDecode(r, { code: set.codes[j] }, caption);
    });
  }
  function fillCells(box, rows, size, caption, onpick) {
    box.textContent = '';
    rows.forEach((row, j) => {
      box.append(h('div', {
        class: 'cell', 'data-index': j, title: caption(j), tabindex: 0,
        onclick: () => onpick(j),
        onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onpick(j); } },
      }, thumb(row, size, 'cell-img')));
    });
  }
  function checkSet(res, n, what) {
    if (!res || !Array.isArray(res.codes) || !Array.isArray(res.rows) || res.rows.length !== res.codes.length) {
      throw new ApiError(`the ${what} answer has no codes/rows`, 0);
    }
    if (n !== undefined && res.rows.length !== n) {
      throw new ApiError(`the ${what} answer has ${res.rows.length} rows, not ${n}`, 0);
    }
  }

  function runInterp() {
    newAction();
    if (S.picks.length < 2) return Promise.resolve();
    const steps = intOf($('interp-steps'), 2, Math.max(2, S.limits.steps | 0), 10);
    const path = $('interp-path').value;
    const [a, b] = S.picks;
    const token = ++S.tokens.interp;
    return Promise.all(S.runs.map((_, r) =>
      track(backend.interpolate(r, a.points[r], b.points[r], steps, path)).then((res) => {
        if (token !== S.tokens.interp) return;
        checkSet(res, undefined, 'interpolate');
        const n = res.rows.length;
        S.strips[r] = res;
        $(`strip-title-${r}`).textContent = `A → B, ${path}, ${n} steps`;
        fillCells($(`strip-${r}`), res.rows, CELL_SIZE, (j) => `A→B step ${j + 1}/${n}`,
          (j) => selectCell('strips', j, `A→B step ${j + 1}/${n}`));
        drawMapSoon(r);
      }).catch((e) => report(e, `interpolate in ${runName(r)}`))));
  }

  function runGrid() {
    newAction();
    if (S.picks.length < 4) return Promise.resolve();
    const size = intOf($('grid-size'), 2, Math.max(2, S.limits.grid | 0), 8);
    const token = ++S.tokens.grid;
    return Promise.all(S.runs.map((_, r) =>
      track(backend.grid(r, S.picks.slice(0, 4).map((p) => p.points[r]), size)).then((res) => {
        if (token !== S.tokens.grid) return;
        checkSet(res, size * size, 'grid');
        S.grids[r] = res;
        const box = $(`grid-${r}`);
        const cell = Math.max(14, Math.min(CELL_SIZE, Math.floor((MAP_SIZE - 2 * size) / size)));
        box.style.gridTemplateColumns = `repeat(${size}, ${cell + 2}px)`;
        $(`grid-title-${r}`).textContent = `grid ${size} × ${size} (A B / C D)`;
        const cap = (j) => `grid row ${Math.floor(j / size) + 1}, column ${(j % size) + 1}`;
        fillCells(box, res.rows, cell, cap, (j) => selectCell('grids', j, cap(j)));
        drawMapSoon(r);
      }).catch((e) => report(e, `grid in ${runName(r)}`))));
  }

  function runSample() {
    newAction();
    const n = intOf($('sample-count'), 1, Math.max(1, S.limits.samples | 0), 8);
    const t = Number($('temperature').value);
    const seed = S.seed++;
    const token = ++S.tokens.sample;
    return Promise.all(S.runs.map((run, r) =>
      track(backend.sample(r, n, t, seed)).then((res) => {
        if (token !== S.tokens.sample) return;
        checkSet(res, undefined, 'sample');
        S.samples[r] = res;
        $(`sampler-${r}`).textContent = `draws from ${run.sampler} · temperature ${fmt(t)} · seed ${seed}`;
        const cap = (j) => `sample ${j + 1} (seed ${seed})`;
        fillCells($(`samples-${r}`), res.rows, CELL_SIZE, cap, (j) => selectCell('samples', j, cap(j)));
        drawMapSoon(r);
      }).catch((e) => report(e, `sample in ${runName(r)}`))));
  }

  // ------------------------------------------------------------------ building the page
  function describeData() {
    const d = S.data;
    if (S.image) {
      const { h: H, w: W, c: C } = S.image;
      return `${H}×${W} ${C === 1 ? 'grey' : C === 3 ? 'colour' : C + '-channel'} images`;
    }
    return `table, ${d.features.length} features`;
  }

  function buildPanel(r) {
    const run = S.runs[r], map = run.map;
    const method = `${run.method} · ${run.latent_dim} latent dim${run.latent_dim === 1 ? '' : 's'}`;
    const decoded = S.image
      ? h('canvas', { id: `decoded-${r}`, class: 'decoded pixelated', width: 1, height: 1 })
      : h('div', { id: `decoded-${r}`, class: 'decoded bars' });
    const panel = h('section', { class: 'panel', id: `panel-${r}`, 'data-run': r },
      h('h2', { id: `title-${r}` }, h('span', { class: 'run-name', text: run.name }),
        h('span', { class: 'run-method', text: method })),
      h('div', { class: 'map-area' },
        h('div', { class: 'map-head' },
          h('span', { class: 'map-title', id: `map-title-${r}`, text: map.title || '' }),
          h('button', { type: 'button', class: 'small', id: `reset-view-${r}`, text: 'reset view',
            title: 'fit all points', onclick: () => { fitOne(r); } })),
        h('div', { class: 'map-box' },
          h('div', { class: 'y-label', id: `y-label-${r}` }, h('span', { text: map.y_label || '' })),
          h('canvas', { id: `map-${r}`, class: 'map', 'data-points': S.n, width: MAP_SIZE, height: MAP_SIZE,
            style: `width:${MAP_SIZE}px;height:${MAP_SIZE}px` })),
        h('div', { class: 'x-label', id: `x-label-${r}`, text: map.x_label || '' }),
        h('div', { class: 'legend', id: `legend-${r}` })),
      h('div', { class: 'decoded-area' + (S.image ? '' : ' table') },
        h('figure', { class: 'decoded-figure' }, decoded,
          h('figcaption', {},
            h('div', { class: 'caption', id: `caption-${r}` }),
            h('div', { class: 'muted where', id: `where-${r}` }))),
        h('div', { class: 'neighbours-area' },
          h('h3', { text: 'nearest data rows' }),
          h('div', { class: 'neighbours', id: `neighbours-${r}` }))),
      h('div', { class: 'section' },
        h('h3', {}, 'latent sliders ',
          h('span', { class: 'muted', text: run.sliders < run.latent_dim
            ? `(σ units; first ${run.sliders} of ${run.latent_dim} dims)` : '(σ units)' }),
          h('button', { type: 'button', class: 'small', id: `centre-${r}`, text: 'mean code',
            title: 'decode the mean code', onclick: () => {
              newAction(); clearSelectedCells();
              requestDecode(r, { code: run.code_mean.slice() }, 'the mean code');
            } })),
        h('div', { class: 'sliders', id: `sliders-${r}` })),
      h('div', { class: 'section' },
        h('h3', { id: `strip-title-${r}`, text: 'interpolation' }),
        h('div', { class: 'strip', id: `strip-${r}` },
          h('span', { class: 'muted', text: 'pick A and B, then interpolate' }))),
      h('div', { class: 'section' },
        h('h3', { id: `grid-title-${r}`, text: 'grid' }),
        h('div', { class: 'grid', id: `grid-${r}` },
          h('span', { class: 'muted', text: 'pick A, B, C, D, then grid' }))),
      h('div', { class: 'section' },
        h('h3', { text: 'samples' }),
        h('div', { class: 'muted sampler', id: `sampler-${r}`, text: `draws from ${run.sampler}` }),
        h('div', { class: 'strip', id: `samples-${r}` })));
    if (!S.image) buildBars(decoded);
    return panel;
  }

  function fitOne(r) {
    const keep = S.views.slice();
    fitViews();
    S.views = S.views.map((v, q) => (q === r ? v : keep[q]));
    drawMapSoon(r);
  }

  function buildLegend(r) {
    const box = $(`legend-${r}`);
    const L = S.data.labels;
    if (!L) {
      box.append(h('span', { class: 'legend-item' },
        h('span', { class: 'swatch', style: `background:${NO_LABEL}` }), 'no labels'));
      return;
    }
    const counts = new Map();
    for (let i = 0; i < S.n; i++) counts.set(L[i], (counts.get(L[i]) || 0) + 1);
    [...counts.keys()].sort((a, b) => a - b).forEach((l) => {
      box.append(h('span', { class: 'legend-item', 'data-label': l, title: `${counts.get(l)} rows` },
        h('span', { class: 'swatch', style: `background:${PALETTE[((l % 10) + 10) % 10]}` }),
        classText(l)));
    });
  }

  function checkSession(sess) {
    const bad = (m) => { throw new ApiError(`the session is malformed: ${m}`, 0); };
    if (!sess || !sess.data || !Array.isArray(sess.runs) || !sess.runs.length) bad('no data or no runs');
    const d = sess.data;
    if (!Array.isArray(d.features) || !Array.isArray(d.feature_mean) || !Array.isArray(d.feature_sd)) bad('no features');
    sess.runs.forEach((run, r) => {
      if (!run.map || !Array.isArray(run.map.x) || !Array.isArray(run.map.y)) bad(`run ${r} has no map`);
      if (run.map.x.length !== run.map.y.length) bad(`run ${r}: map x and y differ in length`);
      if (!Array.isArray(run.code_mean) || !Array.isArray(run.code_sd)) bad(`run ${r} has no code_mean/code_sd`);
    });
    if (!sess.limits) bad('no limits');
  }

  async function init() {
    setStatus('loading…');
    let sess;
    try {
      sess = await track(backend.session());
      checkSession(sess);
    } catch (e) {
      report(e, 'session');
      return;
    }
    S.session = sess;
    S.data = sess.data;
    S.runs = sess.runs;
    S.limits = sess.limits;
    S.n = Math.min(...S.runs.map((run) => run.map.x.length));
    const d = S.data;
    const D = d.features.length;
    if (d.kind === 'image') {
      let shape = d.shape;
      if (!shape || shape.length < 2) {
        const side = Math.round(Math.sqrt(D));
        shape = side * side === D ? [side, side, 1] : null;
      }
      if (shape) S.image = { h: shape[0], w: shape[1], c: shape[2] || 1 };
    }
    if (!Array.isArray(d.range) || d.range.length !== 2) d.range = [0, 1];
    S.colorOf = new Uint8Array(S.n);
    for (let i = 0; i < S.n; i++) {
      const l = labelOf(i);
      S.colorOf[i] = l === null ? 10 : ((l % 10) + 10) % 10;
    }
    S.maps = S.runs.map((run) => ({ x: Float64Array.from(run.map.x), y: Float64Array.from(run.map.y) }));
    S.runs.forEach((run, r) => {
      run.sliders = Math.max(0, Math.min(run.sliders === undefined ? 64 : run.sliders, run.latent_dim, 64));
      S.current[r] = { point: null, code: null };
      S.lastDecoded[r] = null;
      S.work[r] = Float64Array.from(run.code_mean);
      S.marker[r] = null;
      S.strips[r] = S.grids[r] = S.samples[r] = null;
      S.queues[r] = { busy: false, next: null };
      S.nbToken[r] = 0;
    });

    $('data-name').textContent = d.name;
    $('data-rows').textContent = `${S.n} of ${d.total} rows shown`;
    $('data-kind').textContent = describeData();
    document.title = `latent explore: ${d.name}`;
    $('interp-steps').max = String(S.limits.steps);
    $('grid-size').max = String(S.limits.grid);
    $('sample-count').max = String(S.limits.samples);

    const panels = $('panels');
    panels.textContent = '';
    panels.classList.toggle('single', S.runs.length === 1);
    S.runs.forEach((_, r) => panels.append(buildPanel(r)));
    fitViews();
    S.runs.forEach((_, r) => { buildLegend(r); buildSliders(r); wireMap(r); drawMap(r); });
    S.loaded = true;
    updateButtons();

    setStatus('decoding…');
    const first = S.n > 0 ? { row: 0 } : { map: [0, 0] };
    const ok = await Promise.all(S.runs.map((_, r) => requestDecode(r, first, captionOf(first))));
    if (ok.every(Boolean)) {
      S.ready = true;
      if ($('status').className !== 'error') setStatus('ready', 'ok');
    }
    updateButtons();
  }

  function wireControls() {
    $('pick-button').addEventListener('click', pickCurrent);
    $('clear-picks').addEventListener('click', clearPicks);
    $('interp-button').addEventListener('click', runInterp);
    $('grid-button').addEventListener('click', runGrid);
    $('sample-button').addEventListener('click', runSample);
    const t = $('temperature');
    const showT = () => { $('temperature-value').textContent = fmt(Number(t.value)); };
    t.addEventListener('input', showT);
    showT();
    window.addEventListener('scroll', hideTooltip, { passive: true });
    // a new device pixel ratio (zoom, another screen): redraw the maps sharp
    let dpr = window.devicePixelRatio;
    window.addEventListener('resize', () => {
      if (window.devicePixelRatio !== dpr) { dpr = window.devicePixelRatio; drawAllMaps(); }
    });
    updateButtons();
  }

  // ------------------------------------------------------------------ for tests (and the curious)
  function screenOfMap(r, x, y) {
    const canvas = $(`map-${r}`);
    let rect = canvas.getBoundingClientRect();
    if (rect.top < 0 || rect.left < 0 || rect.bottom > window.innerHeight || rect.right > window.innerWidth) {
      // coordinates are for the pointer: bring the map into view first
      canvas.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      rect = canvas.getBoundingClientRect();
    }
    const [px, py] = toPx(S.views[r], x, y);
    return { x: rect.left + canvas.clientLeft + px, y: rect.top + canvas.clientTop + py };
  }
  window.latentExplorer = {
    get ready() { return S.ready; },
    get session() { return S.session; },
    get current() { return S.current; },
    get lastDecoded() { return S.lastDecoded; },
    get pending() { return S.pending; },
    get picks() { return S.picks; },
    screenOf(r, i) { return screenOfMap(r, S.maps[r].x[i], S.maps[r].y[i]); },
    screenOfMap,
    backend,
  };

  wireControls();
  init();
})();
