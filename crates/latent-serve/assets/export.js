/* latent explore, exported: the page's backend computed from window.latentBundle (plain
 * ES2020, no modules, nothing fetched). `latent explore --export page.html` writes
 *
 *   window.latentBundle (a literal): the session, the mapped rows, each run's codes, map,
 *                                  decoder and sampler (crates/latent/src/explore.rs, bundle)
 *   this file                      defines window.latentBackend from the bundle
 *   explore.js                     the page, which uses window.latentBackend when defined
 *
 * The backend has the methods of explore.js's httpBackend: session(), rows(ids),
 * decode(run, points, neighbours), interpolate(run, a, b, steps, path), grid(run, corners,
 * size), sample(run, n, temperature, seed); each returns a Promise of the JSON the server's
 * API answers (crates/latent-serve/src/lib.rs). A request the server would refuse (4xx) is
 * rejected with an Error whose message is the server's (`status` 400), checked against the
 * same limits (session.limits).
 *
 * Arithmetic: codes, map positions and decoded rows are f32 values (Math.fround) like the
 * server's, and answered as the server's JSON carries them (the shortest decimal that reads
 * back as the same f32: 14.23, not 14.229999542236328); the decoder's products run in
 * float64, so the rows agree with `latent decode` (f32) to about 1e-6 relative. Neighbour
 * distances are summed in float64 in the server's order: the same rows, the same distances.
 *
 * Sampling differs from the server's: the server draws with ChaCha (rand), this page with
 * xoshiro128** seeded by splitmix64 of the seed, and Box–Muller normals. The same seed gives
 * the same samples in the page every time, but not the server's samples.
 */
(function () {
  'use strict';

  /** An answer the server would give as 4xx {"error": message}. */
  class BackendError extends Error {
    constructor(message, status) {
      super(message);
      this.name = 'BackendError';
      this.status = status === undefined ? 400 : status;
    }
  }
  const fail = (msg) => { throw new BackendError(msg); };
  const bad = (msg) => { throw new BackendError(`the exported page's data are malformed: ${msg}`, 500); };

  // ------------------------------------------------------------------ reading the bundle
  /** standard base64 → bytes */
  function bytesOf(b64, what) {
    if (typeof b64 !== 'string') bad(`${what} is not base64 text`);
    let bin;
    try { bin = atob(b64); } catch (e) { bad(`${what} is not base64 (${e.message})`); }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  /** base64 of little-endian f32 → Float32Array or Float64Array (`Type`) of `len` values */
  function floatsOf(b64, len, what, Type) {
    const bytes = bytesOf(b64, what);
    if (bytes.length !== 4 * len) bad(`${what} has ${bytes.length / 4} values, not ${len}`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new (Type || Float64Array)(len);
    for (let i = 0; i < len; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
  function numbers(v, len, what) {
    if (!Array.isArray(v) || v.length !== len || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      bad(`${what} is not ${len} finite numbers`);
    }
    return Float64Array.from(v);
  }
  const ACTIVATIONS = {
    relu: (x) => (x > 0 ? x : 0),
    tanh: Math.tanh,
    silu: (x) => x * sigmoid(x),
    leaky_relu: (x) => (x > 0 ? x : 0.01 * x),
    identity: null,
  };
  /** stable logistic, as the Rust decoder computes it */
  function sigmoid(x) {
    if (x >= 0) return 1 / (1 + Math.exp(-x));
    const e = Math.exp(x);
    return e / (1 + e);
  }

  function readRun(b, r, session, D) {
    const info = session.runs[r];
    const name = `run ${r} (${info && info.name})`;
    if (!b || typeof b !== 'object') bad(`${name} is missing`);
    const K = info.latent_dim, n = session.data.rows;
    if (!Number.isInteger(K) || K < 1) bad(`${name}: latent_dim ${K}`);
    const codes = floatsOf(b.codes, n * K, `${name}: codes`, Float32Array);

    const m = b.map || {};
    const origin = numbers(m.origin, K, `${name}: map origin`);
    if (!Array.isArray(m.axes) || m.axes.length < 1 || m.axes.length > 2) bad(`${name}: map axes`);
    const axes = m.axes.map((a, j) => numbers(a, K, `${name}: map axis ${j}`));
    const scales = numbers(m.scales, axes.length, `${name}: map scales`);

    const dec = b.decoder || {};
    if (!Array.isArray(dec.layers) || !dec.layers.length) bad(`${name}: no decoder layers`);
    let width = K;
    const layers = dec.layers.map((l, i) => {
      if (l.rows !== width || !Number.isInteger(l.cols) || l.cols < 1) {
        bad(`${name}: decoder layer ${i} is ${l.rows}×${l.cols}, its input is ${width} wide`);
      }
      width = l.cols;
      return {
        rows: l.rows, cols: l.cols,
        w: floatsOf(l.w, l.rows * l.cols, `${name}: decoder layer ${i} weights`),
        b: floatsOf(l.b, l.cols, `${name}: decoder layer ${i} bias`),
      };
    });
    if (width !== D) bad(`${name}: the decoder writes ${width} values, the rows have ${D}`);
    if (!Object.prototype.hasOwnProperty.call(ACTIVATIONS, dec.activation)) {
      bad(`${name}: unknown activation ${JSON.stringify(dec.activation)}`);
    }
    if (dec.output !== 'sigmoid' && dec.output !== 'identity') {
      bad(`${name}: unknown output ${JSON.stringify(dec.output)}`);
    }
    const inv = dec.invert || {};
    let invert;
    if (inv.kind === 'none') invert = { kind: 'none' };
    else if (inv.kind === 'unit') {
      if (!Number.isFinite(inv.min) || !Number.isFinite(inv.max)) bad(`${name}: unit scaling without min/max`);
      // the Rust inversion: v · (max − min) + min, the span in f32
      invert = { kind: 'unit', min: inv.min, span: Math.fround(inv.max - inv.min) };
    } else if (inv.kind === 'standardize') {
      invert = {
        kind: 'standardize',
        mean: numbers(inv.mean, D, `${name}: standardization mean`),
        std: numbers(inv.std, D, `${name}: standardization std`),
      };
    } else bad(`${name}: unknown inversion ${JSON.stringify(inv.kind)}`);

    const smp = b.sampler || {};
    let sampler;
    if (smp.kind === 'prior') sampler = { kind: 'prior' };
    else if (smp.kind === 'gaussian') {
      if (!Array.isArray(smp.chol) || smp.chol.length !== K) bad(`${name}: sampler chol is not ${K}×${K}`);
      const chol = new Float64Array(K * K);
      smp.chol.forEach((row, i) => chol.set(numbers(row, K, `${name}: sampler chol row ${i}`), i * K));
      sampler = { kind: 'gaussian', mean: numbers(smp.mean, K, `${name}: sampler mean`), chol };
    } else bad(`${name}: unknown sampler ${JSON.stringify(smp.kind)}`);

    const widest = Math.max(K, ...layers.map((l) => l.cols));
    return {
      name: info.name, K, n, codes, origin, axes, scales, layers,
      act: ACTIVATIONS[dec.activation], sigmoid: dec.output === 'sigmoid', invert, sampler,
      h0: new Float64Array(widest), h1: new Float64Array(widest),
    };
  }

  /** The bundle, checked and its arrays decoded; every base64 array read once. */
  function load() {
    const B = window.latentBundle;
    if (!B || typeof B !== 'object') bad('no bundle (window.latentBundle)');
    if (B.format !== 'latent-explore-bundle') bad(`format ${JSON.stringify(B.format)}`);
    if (B.version !== 1) bad(`bundle version ${JSON.stringify(B.version)}, this page reads 1`);
    const session = B.session;
    if (!session || !session.data || !Array.isArray(session.runs) || !session.limits) bad('no session');
    const d = session.data;
    const n = d.rows, D = Array.isArray(d.features) ? d.features.length : -1;
    if (!Number.isInteger(n) || n < 0 || D < 1) bad(`the data are ${n} rows of ${D} features`);
    const rows = B.rows || {};
    let x;
    if (rows.dtype === 'u8') {
      x = bytesOf(rows.data, 'rows');
      if (x.length !== n * D) bad(`rows: ${x.length} values, not ${n} × ${D}`);
    } else if (rows.dtype === 'f32') {
      x = floatsOf(rows.data, n * D, 'rows', Float32Array);
    } else bad(`rows of dtype ${JSON.stringify(rows.dtype)}`);
    let sd = null;
    if (B.neighbour_units === 'sd') sd = numbers(d.feature_sd, D, 'feature_sd');
    else if (B.neighbour_units !== 'data') bad(`neighbour units ${JSON.stringify(B.neighbour_units)}`);
    if (!Array.isArray(B.runs) || B.runs.length !== session.runs.length) bad('the runs do not match the session');
    const runs = B.runs.map((b, r) => readRun(b, r, session, D));
    const text = JSON.stringify(session);
    return { text, limits: session.limits, n, D, x, sd, runs };
  }

  let loaded = null;
  function model() {
    if (loaded === null) {
      try { loaded = { ok: load() }; } catch (e) { loaded = { err: e }; }
    }
    if (loaded.err) throw loaded.err;
    return loaded.ok;
  }

  // ------------------------------------------------------------------ requests, checked
  function isCount(v) { return Number.isSafeInteger(v) && v >= 0; }
  function countOf(what, v) {
    if (!isCount(v)) fail(`${what}: ${JSON.stringify(v)} is not a count (a whole number ≥ 0)`);
    return v;
  }
  function checkCount(what, n, max) {
    if (n === 0) fail(`${what}: at least 1 is needed`);
    if (n > max) fail(`${what}: ${n} asked, at most ${max}`);
  }
  function runOf(M, r) {
    if (!isCount(r)) fail(`run: ${JSON.stringify(r)} is not a run number`);
    if (r >= M.runs.length) fail(`run ${r} does not exist (the session has ${M.runs.length})`);
    return M.runs[r];
  }
  function fmtNumber(v) {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'inf';
    if (v === -Infinity) return '-inf';
    return String(v);
  }
  /** the code (Float64Array of f32 values) of a point of run R */
  function resolve(R, p, what) {
    const shape = `${what}: a point is {"row": i}, {"map": [x, y]} or {"code": [${R.K} numbers]}`;
    if (!p || typeof p !== 'object' || Array.isArray(p)) fail(`${shape}, not ${JSON.stringify(p)}`);
    const keys = Object.keys(p);
    if (keys.length !== 1) fail(`${shape}, not ${JSON.stringify(p)}`);
    const z = new Float64Array(R.K);
    if (keys[0] === 'row') {
      const i = p.row;
      if (!isCount(i)) fail(`${what}: row ${JSON.stringify(i)} is not a row number`);
      if (i >= R.n) fail(`row ${i} is not mapped (rows 0…${R.n - 1})`);
      for (let k = 0; k < R.K; k++) z[k] = R.codes[i * R.K + k];
      return z;
    }
    if (keys[0] === 'map') {
      const m = p.map;
      if (!Array.isArray(m) || m.length !== 2 || !m.every((v) => typeof v === 'number')) {
        fail(`${what}: a map position is [x, y], not ${JSON.stringify(m)}`);
      }
      const [x, y] = m;
      if (!(Number.isFinite(x) && Number.isFinite(y))) {
        fail(`non-finite value: map position (${fmtNumber(x)}, ${fmtNumber(y)})`);
      }
      // MapAxes::lift: the origin moved x σ along the first axis and y σ along the second
      const acc = Float64Array.from(R.origin);
      R.axes.forEach((a, j) => {
        const ts = (j === 0 ? x : y) * R.scales[j];
        for (let k = 0; k < R.K; k++) acc[k] += ts * a[k];
      });
      for (let k = 0; k < R.K; k++) z[k] = Math.fround(acc[k]);
      return z;
    }
    if (keys[0] === 'code') {
      const c = p.code;
      if (!Array.isArray(c) || !c.every((v) => typeof v === 'number')) {
        fail(`${what}: a code is a list of numbers, not ${JSON.stringify(c)}`);
      }
      if (c.length !== R.K) fail(`a code of ${R.name} has ${R.K} coordinates, not ${c.length}`);
      for (let k = 0; k < R.K; k++) {
        const v = Math.fround(c[k]);
        if (!Number.isFinite(v)) fail(`code coordinate ${k} is ${fmtNumber(v)}`);
        z[k] = v;
      }
      return z;
    }
    return fail(`${shape}, not ${JSON.stringify(p)}`);
  }

  /** An f32 value as serde_json writes it and JSON.parse reads it back: the shortest decimal
   *  that rounds to the same f32, the nearest of that length (14.23 for the f32 nearest
   *  14.23); null for a non-finite value. More digits never stop rounding back: a binary
   *  search over 1…9 significant digits (9 always do). */
  function f32jsonSlow(v) {
    let lo = 1, hi = 9, at = NaN;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = Number(v.toPrecision(mid));
      if (Math.fround(c) === v) { hi = mid; at = c; } else lo = mid + 1;
    }
    return Number.isNaN(at) ? Number(v.toPrecision(9)) : at;
  }
  const POW10 = [];
  for (let i = 0; i <= 22; i++) POW10.push(Number('1e' + i));   // exact doubles
  function f32json(v) {
    if (Number.isInteger(v) && Math.abs(v) <= 16777216) return v;
    if (!Number.isFinite(v)) return null;
    // the p-digit decimal m · 10^−k as an exact integer m and an exact power of ten: one
    // correctly rounded division (or product) gives the double JSON.parse would read
    const a = Math.abs(v), sign = v < 0 ? -1 : 1;
    const e = Math.floor(Math.log10(a));
    if (!(e >= -13 && e <= 13)) return f32jsonSlow(v);
    let lo = 1, hi = 9, at = NaN;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const k = mid - 1 - e;
      const c = sign * (k >= 0 ? Math.round(a * POW10[k]) / POW10[k] : Math.round(a / POW10[-k]) * POW10[-k]);
      if (Math.fround(c) === v) { hi = mid; at = c; } else lo = mid + 1;
    }
    return Number.isNaN(at) ? f32jsonSlow(v) : at;
  }
  function f32list(a) {
    const out = new Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = f32json(a[i]);
    return out;
  }

  // ------------------------------------------------------------------ the computations
  /** decode one code (f32 values, K) into out (D, f32 values in data units) */
  function decodeOne(R, z, out) {
    let h = R.h0, o = R.h1;
    h.set(z);
    const L = R.layers, last = L.length - 1;
    for (let l = 0; l <= last; l++) {
      const { rows, cols, w, b } = L[l];
      for (let j = 0; j < cols; j++) o[j] = b[j];
      for (let i = 0; i < rows; i++) {
        const hi = h[i];
        if (hi === 0) continue;
        const off = i * cols;
        for (let j = 0; j < cols; j++) o[j] += hi * w[off + j];
      }
      if (l < last && R.act) {
        const f = R.act;
        for (let j = 0; j < cols; j++) o[j] = f(o[j]);
      }
      const t = h; h = o; o = t;
    }
    const D = out.length, inv = R.invert;
    for (let j = 0; j < D; j++) {
      let v = R.sigmoid ? Math.fround(sigmoid(h[j])) : Math.fround(h[j]);
      if (inv.kind === 'unit') v = v * inv.span + inv.min;
      else if (inv.kind === 'standardize') v = v * inv.std[j] + inv.mean[j];
      out[j] = Math.fround(v);
    }
    return out;
  }

  /** MapAxes::project of one code */
  function project(R, z) {
    const xy = [0, 0];
    R.axes.forEach((a, j) => {
      let along = 0;
      for (let k = 0; k < R.K; k++) along += (z[k] - R.origin[k]) * a[k];
      xy[j] = Math.fround(along / R.scales[j]);
    });
    return f32list(xy);
  }

  /** the k mapped rows nearest `row`, nearest first, ties by row number (Session::neighbours) */
  function neighbours(M, row, k) {
    const { x, n, D, sd } = M;
    k = Math.min(k, n);
    if (k === 0) return [];
    const bestD = new Float64Array(k), bestI = new Int32Array(k), bestS = new Float64Array(k);
    let count = 0;
    const STRIDE = 32;
    for (let i = 0; i < n; i++) {
      const off = i * D;
      // a partial sum at or above the k-th best's cannot win: sums of squares only grow and a
      // tie goes to the lower row number, already listed
      const limit = count === k ? bestS[k - 1] : Infinity;
      let ss = 0, j = 0;
      if (sd === null) {
        while (j < D) {
          const end = Math.min(D, j + STRIDE);
          for (; j < end; j++) { const d = x[off + j] - row[j]; ss += d * d; }
          if (ss >= limit) break;
        }
      } else {
        while (j < D) {
          const end = Math.min(D, j + STRIDE);
          for (; j < end; j++) { const d = (x[off + j] - row[j]) / sd[j]; ss += d * d; }
          if (ss >= limit) break;
        }
      }
      if (j < D) continue;
      const dist = Math.sqrt(ss);
      if (count === k && !(dist < bestD[k - 1])) continue;
      let at = count < k ? count++ : k - 1;
      while (at > 0 && bestD[at - 1] > dist) {
        bestD[at] = bestD[at - 1]; bestI[at] = bestI[at - 1]; bestS[at] = bestS[at - 1];
        at--;
      }
      bestD[at] = dist; bestI[at] = i; bestS[at] = ss;
    }
    const out = [];
    for (let q = 0; q < count; q++) out.push({ row: bestI[q], distance: bestD[q] });
    return out;
  }

  /** decode codes (an array of Float64Array K) into the server's answer */
  function answer(M, R, codes, k) {
    checkCount('codes to decode', codes.length, M.limits.batch);
    const out = { codes: [], rows: [], map: [], neighbours: [] };
    const row = new Float64Array(M.D);
    for (const z of codes) {
      decodeOne(R, z, row);
      out.codes.push(f32list(z));
      out.rows.push(f32list(row));
      out.map.push(project(R, z));
      if (k > 0) {
        if (k > M.limits.neighbours) fail(`neighbours: ${k} asked, at most ${M.limits.neighbours}`);
        out.neighbours.push(neighbours(M, row, k));
      }
    }
    return out;
  }

  /** latent_explore::interpolate_codes: first a, last b exactly, float64 in between */
  function interpolateCodes(a, b, steps, path) {
    const K = a.length;
    let weights = (t) => [1 - t, t];
    if (path === 'slerp') {
      let dot = 0, na = 0, nb = 0;
      for (let k = 0; k < K; k++) { dot += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
      na = Math.sqrt(na); nb = Math.sqrt(nb);
      const cos = na > 0 && nb > 0 ? Math.min(1, Math.max(-1, dot / (na * nb))) : 1;
      const omega = Math.acos(cos), so = Math.sin(omega);
      if (!(so < 1e-6)) weights = (t) => [Math.sin((1 - t) * omega) / so, Math.sin(t * omega) / so];
    }
    const out = [];
    for (let i = 0; i < steps; i++) {
      if (i === 0) { out.push(Float64Array.from(a)); continue; }
      if (i === steps - 1) { out.push(Float64Array.from(b)); continue; }
      const [wa, wb] = weights(i / (steps - 1));
      const z = new Float64Array(K);
      for (let k = 0; k < K; k++) z[k] = Math.fround(wa * a[k] + wb * b[k]);
      out.push(z);
    }
    return out;
  }

  // ---- seeded normals: splitmix64 → xoshiro128**, Box–Muller
  function rngOf(seed) {
    let s = BigInt(seed) & 0xffffffffffffffffn;
    const M64 = 0xffffffffffffffffn;
    const splitmix = () => {
      s = (s + 0x9e3779b97f4a7c15n) & M64;
      let z = s;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
      return z ^ (z >> 31n);
    };
    const a = splitmix(), b = splitmix();
    const st = new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
    if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
    const rotl = (x, k) => (x << k) | (x >>> (32 - k));
    const next = () => {   // xoshiro128**
      const r = Math.imul(rotl(Math.imul(st[1], 5), 7), 9) >>> 0;
      const t = st[1] << 9;
      st[2] ^= st[0]; st[3] ^= st[1]; st[1] ^= st[2]; st[0] ^= st[3];
      st[2] ^= t; st[3] = rotl(st[3], 11);
      return r;
    };
    let spare = null;
    return () => {   // a standard normal
      if (spare !== null) { const v = spare; spare = null; return v; }
      const u1 = (next() + 1) / 4294967296;   // (0, 1]: log is finite
      const u2 = next() / 4294967296;
      const rad = Math.sqrt(-2 * Math.log(u1));
      spare = rad * Math.sin(2 * Math.PI * u2);
      return rad * Math.cos(2 * Math.PI * u2);
    };
  }

  function sampleCodes(R, n, T, seed) {
    const normal = rngOf(seed);
    const K = R.K, out = [];
    const eps = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < K; k++) eps[k] = Math.fround(normal());
      const z = new Float64Array(K);
      if (R.sampler.kind === 'prior') {
        // N(0, I) draws times the temperature
        for (let k = 0; k < K; k++) z[k] = Math.fround(eps[k] * T);
      } else {
        // mean + T · L ε
        const { mean, chol } = R.sampler;
        for (let r = 0; r < K; r++) {
          let v = 0;
          for (let c = 0; c <= r; c++) v += chol[r * K + c] * eps[c];
          z[r] = Math.fround(mean[r] + T * Math.fround(v));
        }
      }
      out.push(z);
    }
    return out;
  }

  // ------------------------------------------------------------------ the backend
  /** run f now; its value or its error as a Promise (as an answer from the server would be) */
  function later(f) {
    return new Promise((resolve) => resolve(f(model())));
  }

  const backend = {
    exported: true,
    session() {
      return later((M) => JSON.parse(M.text));
    },
    rows(ids) {
      return later((M) => {
        let list = ids;
        if (typeof list === 'string') list = list.split(',').filter((s) => s !== '').map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : s));
        if (!Array.isArray(list)) fail(`ids: ${JSON.stringify(ids)} is not a list of row numbers`);
        const wrong = list.find((i) => !isCount(i));
        if (wrong !== undefined) fail(`ids: ${JSON.stringify(wrong)} is not a row number`);
        if (list.length > M.limits.rows) fail(`rows: ${list.length} asked, at most ${M.limits.rows}`);
        const out = [];
        for (const i of list) {
          if (i >= M.n) fail(`row ${i} is not mapped (rows 0…${M.n - 1})`);
          out.push(f32list(M.x.subarray(i * M.D, (i + 1) * M.D)));
        }
        return { rows: out };
      });
    },
    decode(run, points, neighbours) {
      return later((M) => {
        const k = neighbours === undefined || neighbours === null ? 0 : countOf('neighbours', neighbours);
        if (!Array.isArray(points)) fail(`points: ${JSON.stringify(points)} is not a list of points`);
        checkCount('points to decode', points.length, M.limits.batch);
        const R = runOf(M, run);
        const codes = points.map((p, j) => resolve(R, p, `points[${j}]`));
        return answer(M, R, codes, k);
      });
    },
    interpolate(run, a, b, steps, path, neighbours) {
      return later((M) => {
        countOf('steps', steps);
        const how = path === undefined || path === null ? 'lerp' : path;
        if (how !== 'lerp' && how !== 'slerp') fail(`path: unknown variant ${JSON.stringify(how)}, expected "lerp" or "slerp"`);
        const k = neighbours === undefined || neighbours === null ? 0 : countOf('neighbours', neighbours);
        checkCount('interpolation steps', steps, M.limits.steps);
        const R = runOf(M, run);
        const za = resolve(R, a, 'a'), zb = resolve(R, b, 'b');
        if (steps < 2) {
          fail(`invalid parameter \`steps\`: an interpolation needs at least 2 steps (its endpoints), got ${steps}`);
        }
        return answer(M, R, interpolateCodes(za, zb, steps, how), k);
      });
    },
    grid(run, corners, size) {
      return later((M) => {
        countOf('size', size);
        if (!Array.isArray(corners) || corners.length !== 4) {
          fail(`corners: four points (top-left, top-right, bottom-left, bottom-right), not ${JSON.stringify(corners)}`);
        }
        checkCount('grid size', size, M.limits.grid);
        if (size < 2) fail('grid size: at least 2 (its corners)');
        const R = runOf(M, run);
        const z = corners.map((p, c) => resolve(R, p, `corners[${c}]`));
        const K = R.K, last = size - 1, codes = [];
        for (let i = 0; i < size; i++) {
          for (let j = 0; j < size; j++) {
            let c = -1;
            if (i === 0 && j === 0) c = 0;
            else if (i === 0 && j === last) c = 1;
            else if (i === last && j === 0) c = 2;
            else if (i === last && j === last) c = 3;
            if (c >= 0) { codes.push(Float64Array.from(z[c])); continue; }
            const u = i / last, t = j / last;
            const v = new Float64Array(K);
            for (let k = 0; k < K; k++) {
              v[k] = Math.fround((z[0][k] * (1 - t) + z[1][k] * t) * (1 - u) + (z[2][k] * (1 - t) + z[3][k] * t) * u);
            }
            codes.push(v);
          }
        }
        return answer(M, R, codes, 0);
      });
    },
    sample(run, n, temperature, seed) {
      return later((M) => {
        countOf('n', n);
        const T = temperature === undefined || temperature === null ? 1 : temperature;
        if (typeof T !== 'number') fail(`temperature: ${JSON.stringify(T)} is not a number`);
        const s = seed === undefined || seed === null ? 0 : seed;
        if (!(Number.isInteger(s) && s >= 0 && s < 18446744073709551616)) fail(`seed: ${JSON.stringify(seed)} is not a whole number in 0…2⁶⁴−1`);
        checkCount('samples', n, M.limits.samples);
        const R = runOf(M, run);
        const t32 = Math.fround(T);
        if (!(Number.isFinite(t32) && t32 >= 0)) {
          fail(`invalid parameter \`temperature\`: must be a finite number ≥ 0, got ${fmtNumber(t32)}`);
        }
        return answer(M, R, sampleCodes(R, n, t32, s), 0);
      });
    },
  };

  window.latentBackend = backend;
})();
