/* tinyq report: draws the report's charts from the data tinyq embedded in the page
 * (<script id="tq-data" type="application/json">), with Chart.js (inlined before this script).
 *
 * Every chart is a <figure class="chart" data-chart=ID> holding its canvas and, under "data", a
 * table of exactly the values the chart plots (read back from the chart object after drawing), so
 * that a person can read the numbers and tests/cli_report.sh can compare them with the run's files.
 * When everything has drawn, #tq-status gets data-status="ok"; otherwise "error" with the reasons. */
(function () {
  'use strict';
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                  '#7f7f7f', '#bcbd22', '#17becf'];
  const charts = [];

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const fmtInt = (v) => (v === null || v === undefined ? '' : Math.round(Number(v)).toLocaleString('en-US'));
  const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v) ? '' : Number(v).toFixed(d));
  const color = (i) => COLORS[i % COLORS.length];

  /* Values of a column of a parsed CSV ({columns, rows}); null where absent. */
  function column(csv, name) {
    const j = csv.columns.indexOf(name);
    return j < 0 ? null : csv.rows.map((r) => (r[j] === undefined ? null : r[j]));
  }
  const hasValues = (a) => a && a.some((v) => v !== null);

  function lineDataset(label, data, i, extra) {
    return Object.assign({ label, data, borderColor: color(i), backgroundColor: color(i),
                           pointRadius: 2, borderWidth: 2, spanGaps: false }, extra || {});
  }

  /* The values a chart plots, as a table: categorical charts one row per label, xy charts one row
   * per point (dataset, x, y). */
  function dataTable(id, chart) {
    const t = el('table', { class: 'tq-data', 'data-chart': id });
    const ds = chart.data.datasets;
    const xy = ds.length && ds[0].data.length && typeof ds[0].data[0] === 'object' &&
               ds[0].data[0] !== null && !Array.isArray(ds[0].data[0]);
    const show = (v) => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join('..') : String(v));
    if (xy) {
      const valued = 'v' in ds[0].data[0]; /* a heatmap's cells: x, y and the value it colours */
      t.classList.add('xy');
      t.append(el('tr', {}, el('th', { class: 'l' }, 'series'), el('th', {}, 'x'), el('th', {}, 'y'),
                  valued ? el('th', {}, 'value') : null));
      for (const d of ds)
        for (const p of d.data)
          t.append(el('tr', {}, el('td', { class: 'l' }, d.label), el('td', {}, show(p.x)), el('td', {}, show(p.y)),
                      valued ? el('td', {}, show(p.v)) : null));
    } else {
      const head = el('tr', {}, el('th', { class: 'l' }, chart.options.tqXName || 'x'));
      for (const d of ds) head.append(el('th', {}, d.label));
      t.append(head);
      chart.data.labels.forEach((lab, i) => {
        const tr = el('tr', {}, el('td', { class: 'l' }, show(lab)));
        for (const d of ds) tr.append(el('td', {}, show(d.data[i])));
        t.append(tr);
      });
    }
    return t;
  }

  /* A canvas that Chart.js has drawn on has pixels that are not fully transparent. */
  function canvasHasInk(c) {
    const g = c.getContext('2d');
    if (!c.width || !c.height) return false;
    const px = g.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  }

  /* Adds a chart to `grid`: config is a Chart.js configuration; opts: xName names the x column of
   * the data table, wide / tall / height (pixels) size it, note goes under it. */
  function addChart(grid, id, title, config, opts) {
    opts = opts || {};
    const canvas = el('canvas');
    const fig = el('figure', { class: 'chart' + (opts.wide ? ' wide' : '') + (opts.tall ? ' tall' : ''),
                               'data-chart': id, 'data-drawn': '0' },
                   el('figcaption', {}, title),
                   el('div', Object.assign({ class: 'canvas-box' }, opts.height ? { style: 'height: ' + opts.height + 'px' } : {}), canvas));
    grid.append(fig);
    const entry = { id, fig, canvas, chart: null };
    charts.push(entry);
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false,
                                     tqXName: opts.xName }, config.options || {});
    config.options.plugins = Object.assign({ legend: { labels: { boxWidth: 12 } } },
                                           config.options.plugins || {});
    entry.chart = new Chart(canvas, config);
    entry.chart.draw();
    const n = entry.chart.data.datasets.reduce((s, d) => s + d.data.length, 0);
    fig.setAttribute('data-points', String(n));
    if (opts.note) fig.append(el('div', { class: 'sub' }, opts.note));
    fig.append(el('details', {}, el('summary', {}, 'data'), el('div', { class: 'scroll' }, dataTable(id, entry.chart))));
    return entry.chart;
  }

  function kv(pairs) {
    const d = el('div', { class: 'kv' });
    for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== '') d.append(el('span', {}, k + ': ', el('b', {}, String(v))));
    return d;
  }

  /* A plain table; id (data-table) lets tests find it. */
  function table(headers, rows, rowClass, id) {
    const t = el('table', id ? { 'data-table': id } : {});
    t.append(el('tr', {}, ...headers.map((h, i) => el('th', { class: i === 0 ? 'l' : '' }, h))));
    rows.forEach((r, k) => t.append(el('tr', { class: rowClass ? rowClass(k) : '' },
                                        ...r.map((v, i) => el('td', { class: i === 0 || typeof v === 'string' && !/^[-+\d.,% e]*$/.test(v) ? 'l' : '' },
                                                              v === null || v === undefined ? '' : String(v))))));
    return el('div', { class: 'scroll' }, t);
  }

  /* ---- the model: per-layer bits and memory */
  function modelCharts(sec, grid, m, prefix) {
    const layers = m.layers.filter((l) => l.kernel_bits || l.act_bits);
    const names = layers.map((l) => l.name);
    const bits = (key) => layers.map((l) => (l[key] ? l[key] : null));
    if (layers.length) {
      addChart(grid, prefix + 'bits', 'Bits per layer (' + m.file + ')', {
        type: 'bar',
        data: { labels: names, datasets: [
          { label: 'kernel', data: bits('kernel_bits'), backgroundColor: color(0) },
          { label: 'bias', data: bits('bias_bits'), backgroundColor: color(2) },
          { label: 'activation', data: bits('act_bits'), backgroundColor: color(3) }] },
        options: { scales: { y: { title: { display: true, text: 'bits' } } } },
      }, { xName: 'layer', wide: true });
    }
    const wl = m.layers.filter((l) => l.bytes > 0);
    addChart(grid, prefix + 'memory', 'Weight memory per layer, bytes (' + m.file + ')', {
      type: 'bar',
      data: { labels: wl.map((l) => l.name), datasets: [
        { label: 'bytes at the layer\'s bits', data: wl.map((l) => l.bytes), backgroundColor: color(4) }] },
      options: { scales: { y: { title: { display: true, text: 'bytes' } } } },
    }, { xName: 'layer', wide: true });
    sec.append(el('h3', {}, 'Model: ' + m.arch + ' (' + m.file + ')'),
               kv([['parameters', fmtInt(m.params)], ['MACs', fmtInt(m.macs)],
                   ['weight bytes', fmtInt(m.bytes)], ['reference (float32) bytes', fmtInt(m.params * 4)]]),
               kv([['AutoQKeras size', fmtInt(m.trial_bits) + ' bits'],
                   ['of the 16-bit reference', fmt(100 * m.trial_bits / m.reference_bits, 1) + ' %']]),
               table(['layer', 'class', 'output', 'params', 'MACs', 'kernel bits', 'bias bits', 'activation bits', 'bytes', 'quantizers'],
                     m.layers.map((l) => [l.name, l.class, l.out.join('×'), fmtInt(l.params), fmtInt(l.macs),
                                          l.kernel_bits, l.bias_bits, l.act_bits, fmtInt(l.bytes),
                                          [l.kernel_q, l.bias_q, l.act_q].filter((q) => q).join('  ')])));
  }

  /* A heatmap of one statistic: a row per layer, a column per epoch, each cell shaded from light (the
   * lowest value) to dark (the highest; on a log scale when log). The cells are a Chart.js scatter's
   * points (tooltips, the data table) filled as rectangles by a small plugin. Cells without a value
   * (or not positive on a log scale) stay empty. */
  const SHADES = [[247, 251, 255], [107, 174, 214], [8, 48, 107]];
  function shadeOf(f) {
    const k = f < 0.5 ? 0 : 1, u = f < 0.5 ? f * 2 : f * 2 - 1;
    return 'rgb(' + SHADES[k].map((a, i) => Math.round(a + (SHADES[k + 1][i] - a) * u)).join(',') + ')';
  }
  const heatCells = {
    id: 'tqHeatCells',
    beforeDatasetsDraw(chart) {
      const xs = chart.scales.x, ys = chart.scales.y, g = chart.ctx;
      const w = Math.abs(xs.getPixelForValue(1) - xs.getPixelForValue(0));
      const h = ys.ticks.length > 1 ? Math.abs(ys.getPixelForValue(1) - ys.getPixelForValue(0)) : ys.height;
      const ds = chart.data.datasets[0];
      g.save();
      chart.getDatasetMeta(0).data.forEach((pt, i) => {
        g.fillStyle = ds.tqShade(ds.data[i].v);
        g.fillRect(pt.x - w / 2 + 0.5, pt.y - h / 2 + 0.5, Math.max(1, w - 1), Math.max(1, h - 1));
      });
      g.restore();
    },
  };
  function heatmap(grid, id, title, layers, epochs, valueOf, log) {
    const pts = [];
    for (const y of layers)
      for (const x of epochs) {
        const v = valueOf(y, x);
        if (v !== null && v !== undefined && (!log || v > 0)) pts.push({ x, y, v });
      }
    if (!pts.length) return;
    const t = (v) => (log ? Math.log10(v) : v);
    const lo = Math.min(...pts.map((p) => t(p.v))), hi = Math.max(...pts.map((p) => t(p.v)));
    const e0 = epochs[0], e1 = epochs[epochs.length - 1];
    const show = (u) => (log ? Math.pow(10, u) : u).toPrecision(3);
    addChart(grid, id, title, {
      type: 'scatter',
      data: { datasets: [{ label: title, data: pts, pointRadius: 0, pointHoverRadius: 0, pointHitRadius: 8,
                           tqShade: (v) => shadeOf(hi > lo ? (t(v) - lo) / (hi - lo) : 0.5) }] },
      options: { scales: { x: { type: 'linear', min: e0 - 0.5, max: e1 + 0.5, title: { display: true, text: 'epoch' },
                                grid: { display: false },
                                afterBuildTicks: (ax) => { /* every epoch, or every k-th of many */
                                  const k = Math.ceil(epochs.length / 25);
                                  ax.ticks = epochs.filter((_, i) => i % k === 0).map((value) => ({ value }));
                                } },
                           y: { type: 'category', labels: layers, offset: true, grid: { display: false },
                                ticks: { autoSkip: false } } },
                 plugins: { legend: { display: false },
                            tooltip: { callbacks: { label: (c) => c.raw.y + ', epoch ' + c.raw.x + ': ' + c.raw.v } } } },
      plugins: [heatCells],
    }, { xName: 'epoch', wide: true, height: Math.max(140, 17 * layers.length + 60),
         note: 'shade: light ' + show(lo) + ' … dark ' + show(hi) + (log ? ' (log scale)' : '') });
  }

  /* ---- per-layer statistics over epochs (layers.csv of tinyq train --layer-stats): heatmaps (layer
   * by epoch) of what the study looked at, lines (one per layer) of the rest */
  function layerStatCharts(grid, ls, prefix) {
    const col = (name) => ls.columns.indexOf(name);
    const layerCol = col('layer'), epochCol = col('epoch'), tensorCol = col('tensor');
    if (layerCol < 0 || epochCol < 0 || tensorCol < 0) return;
    const epochs = [...new Set(ls.rows.map((r) => r[epochCol]))].sort((a, b) => a - b);
    const metrics = [ /* [tensor, column, title, scale, heatmap, reference line] */
      ['kernel', 'update_ratio', '‖ΔW‖/‖W‖ per epoch (weight-update ratio; above 1 warns "explode")', 'logarithmic', 1],
      ['kernel', 'codes_changed', 'Share of quantized kernel codes that changed in the epoch', 'linear', 1],
      ['kernel', 'sparsity', 'Kernel sparsity (share of exact zeros)', 'linear', 1],
      ['kernel', 'sqnr_db', 'SQNR of the quantized kernel, dB', 'linear', 1],
      ['activation', 'sqnr_db', 'SQNR of each activation slot on the probe batch, dB', 'linear', 1],
      ['kernel', 'mean_abs_dw', 'Mean |Δw| per epoch (1e-3 marked; every |Δw| below 1e-4 warns "vanish")', 'logarithmic', 0, 1e-3],
      ['kernel', 'zero_codes', 'Quantized kernel: share of zero codes', 'linear', 0],
      ['activation', 'clip_fraction', 'Share of each activation slot clipped on the probe batch', 'linear', 0],
      ['kernel', 'grad_norm', 'Kernel gradient norm (last step of the epoch)', 'logarithmic', 0],
    ];
    for (const [tensor, key, title, scale, heat, ref] of metrics) {
      const j = col(key);
      const rows = ls.rows.filter((r) => r[tensorCol] === tensor);
      if (j < 0 || !rows.some((r) => r[j] !== null)) continue;
      const layers = [...new Set(rows.map((r) => r[layerCol]))];
      const valueOf = (name, e) => {
        const r = rows.find((q) => q[layerCol] === name && q[epochCol] === e);
        return r && r[j] !== null && (scale !== 'logarithmic' || r[j] > 0) ? r[j] : null;
      };
      const id = prefix + (tensor === 'activation' ? 'act-' : '') + key;
      if (heat) {
        heatmap(grid, id, title, layers, epochs, valueOf, scale === 'logarithmic');
        continue;
      }
      const datasets = layers.map((name, i) => lineDataset(name, epochs.map((e) => valueOf(name, e)), i,
                                                           { pointRadius: 1.5, borderWidth: 1.5, borderDash: i >= COLORS.length ? [5, 3] : [] }));
      if (ref) datasets.push(lineDataset(String(ref), epochs.map(() => ref), 7, { borderDash: [6, 4], pointRadius: 0 }));
      addChart(grid, id, title, {
        type: 'line', data: { labels: epochs, datasets },
        options: { scales: { x: { title: { display: true, text: 'epoch' } },
                             y: Object.assign({ type: scale }, /share|sparsity/i.test(title) ? { min: 0 } : {}) },
                   plugins: { legend: { display: layers.length <= 16, position: 'right' } } },
      }, { xName: 'epoch', wide: true });
    }
  }

  /* ---- ROC per machine id (roc.csv: id,fpr,tpr,auc) on the DCASE test folder, the diagonal for chance */
  function rocChart(grid, roc, id) {
    const ids = [...new Set(column(roc, 'id'))];
    const fpr = column(roc, 'fpr'), tpr = column(roc, 'tpr'), auc = column(roc, 'auc'), idc = column(roc, 'id');
    const datasets = ids.map((m, i) => {
      const rows = idc.map((v, r) => r).filter((r) => idc[r] === m);
      return lineDataset('id ' + String(m).padStart(2, '0') + ' (AUC ' + fmt(auc[rows[0]], 4) + ')',
                         rows.map((r) => ({ x: fpr[r], y: tpr[r] })), i, { showLine: true, stepped: false });
    });
    datasets.push(lineDataset('chance', [{ x: 0, y: 0 }, { x: 1, y: 1 }], ids.length, { showLine: true, borderDash: [4, 4], pointRadius: 0 }));
    addChart(grid, id, 'ROC per machine id (test folder)', {
      type: 'scatter', data: { datasets },
      options: { scales: { x: { min: 0, max: 1, title: { display: true, text: 'false positive rate' } },
                           y: { min: 0, max: 1, title: { display: true, text: 'true positive rate' } } } },
    }, { xName: 'fpr' });
  }

  /* ---- a training run */
  function trainSection(s, sec, grid, prefix) {
    const log = s.log;
    const epochs = column(log, 'epoch') || log.rows.map((_, i) => i);
    const curves = [['acc', 'Accuracy per epoch', [['accuracy', 'train'], ['val_accuracy', 'validation']]],
                    ['loss', 'Loss per epoch', [['loss', 'train'], ['val_loss', 'validation']]],
                    ['lr', 'Learning rate per epoch', [['lr', 'learning rate']]]];
    for (const [id, title, cols] of curves) {
      const datasets = [];
      cols.forEach(([c, label], i) => {
        const v = column(log, c);
        if (hasValues(v)) datasets.push(lineDataset(label + ' (' + c + ')', v, i));
      });
      const tv = s.test && { acc: s.test.accuracy, loss: s.test.loss }[id];
      if (tv !== undefined && tv !== null) /* one number: the run's model after its last epoch */
        datasets.push(lineDataset('test (' + s.test.file + ')', epochs.map((_, i) => (i === epochs.length - 1 ? tv : null)), 2, { pointRadius: 6, pointStyle: 'rectRot' }));
      if (!datasets.length) continue;
      addChart(grid, prefix + id, title, {
        type: 'line', data: { labels: epochs, datasets },
        options: { scales: { x: { title: { display: true, text: 'epoch' } } } },
      }, { xName: 'epoch' });
    }
    const va = column(log, 'val_accuracy'), vl = column(log, 'val_loss');
    const best = (a, better) => a && a.reduce((b, v, i) => (v !== null && (b < 0 || better(v, a[b])) ? i : b), -1);
    const bi = best(vl, (x, y) => x < y);
    sec.insertBefore(kv([['epochs', log.rows.length], ['data', s.task && s.task.data],
                         ['best val_loss', bi >= 0 ? fmt(vl[bi], 4) + ' (epoch ' + epochs[bi] + ')' : ''],
                         ['val_accuracy there', bi >= 0 && va ? fmt(va[bi], 4) : ''],
                         ['test accuracy', s.test && s.test.accuracy !== null ? fmt(s.test.accuracy, 4) : '']]), grid);
    if (s.layer_stats) layerStatCharts(grid, s.layer_stats, prefix + 'layers-');
    if (s.roc) rocChart(grid, s.roc, prefix + 'roc');
    if (s.model) modelCharts(sec, grid, s.model, prefix + 'model-');
  }

  /* ---- the GP's per-layer sensitivity (sensitivity.csv of a Bayesian search): a bar per search
   * dimension (a layer's kernel, bias or activation choice), most sensitive first, coloured by group */
  function sensitivityCharts(grid, sv, prefix) {
    const name = column(sv, 'name'), group = column(sv, 'group');
    const points = column(sv, 'points') || [], ard = column(sv, 'ard_weight') || [];
    const groups = [['kernel', 0], ['bias', 2], ['activation', 3]];
    const charts = [
      ['main_effect', 'main-effect', 'GP main effect per dimension: how far its choice alone moves the score (additive component)',
       'score range over the dimension\'s options'],
      ['sensitivity', 'sensitivity', 'GP sensitivity per dimension: 1 / ARD lengthscale (interaction component)',
       '1 / lengthscale (options on [0, 1] by log2 bits)']];
    for (const [key, id, title, axis] of charts) {
      const v = column(sv, key);
      if (!name || !group || !hasValues(v)) continue;
      const rank = (i) => (v[i] === null ? -Infinity : v[i]);
      const order = v.map((_, i) => i).sort((a, b) => rank(b) - rank(a) || a - b);
      addChart(grid, prefix + id, title, {
        type: 'bar',
        data: { labels: order.map((i) => name[i]),
                datasets: groups.map(([g, c]) => ({ label: g, data: order.map((i) => (group[i] === g ? v[i] : null)),
                                                    backgroundColor: color(c), skipNull: true })) },
        options: { indexAxis: 'y', scales: { x: { beginAtZero: true, title: { display: true, text: axis },
                                                  ticks: { callback: (x) => (x !== 0 && Math.abs(x) < 1e-3 ? Number(x).toExponential(1) : String(+Number(x).toPrecision(3))) } },
                                             y: { ticks: { autoSkip: false, font: { size: 10 } } } } },
      }, { xName: 'dimension', height: Math.max(200, 13 * order.length + 70),
           note: 'sensitivity.csv: the GP fitted on ' + points[0] + ' trials; the ARD component has weight ' + fmt(ard[0], 3) +
                 ' (near 0, its lengthscales stay near their prior and the main effect says more)' });
    }
  }

  /* ---- a search */
  function searchSection(s, sec, grid, prefix) {
    const ok = s.trials.filter((t) => t.status === 'ok');
    const labels = s.trials.map((t) => t.trial);
    let bestSoFar = null;
    const running = s.trials.map((t) => {
      if (t.status === 'ok' && (bestSoFar === null || t.score > bestSoFar)) bestSoFar = t.score;
      return bestSoFar;
    });
    addChart(grid, prefix + 'trials', 'Score and accuracy (metric) per trial', {
      type: 'line',
      data: { labels, datasets: [
        lineDataset('score', s.trials.map((t) => (t.status === 'ok' ? t.score : null)), 0, { showLine: false, pointRadius: 4 }),
        lineDataset('metric', s.trials.map((t) => (t.status === 'ok' ? t.metric : null)), 2, { showLine: false, pointRadius: 4, pointStyle: 'triangle' }),
        lineDataset('best score so far', running, 1, { pointRadius: 0, stepped: true })] },
      options: { scales: { x: { title: { display: true, text: 'trial' } } } },
    }, { xName: 'trial' });
    const front = new Set((s.pareto ? column(s.pareto, 'trial') : []) || []);
    const pts = (list) => list.map((t) => ({ x: t.trial_size, y: t.metric, trial: t.trial }));
    const onFront = ok.filter((t) => front.has(t.trial)).sort((a, b) => a.trial_size - b.trial_size);
    addChart(grid, prefix + 'pareto', 'Bits against accuracy (metric); Pareto front (pareto.csv)', {
      type: 'scatter',
      data: { datasets: [
        { label: 'Pareto front', data: pts(onFront), showLine: true, borderColor: color(1), backgroundColor: color(1), pointRadius: 6 },
        { label: 'trials', data: pts(ok.filter((t) => !front.has(t.trial))), backgroundColor: color(0) + '99', pointRadius: 4 }] },
      options: { scales: { x: { title: { display: true, text: 'bits of the trial model' } },
                           y: { title: { display: true, text: 'metric' } } },
                 plugins: { tooltip: { callbacks: { label: (c) => 'trial ' + c.raw.trial + ': ' + fmtInt(c.raw.x) + ' bits, ' + c.raw.y } } } },
    });
    if (s.best && s.best.layers.length) {
      const L = s.best.layers;
      addChart(grid, prefix + 'best', 'Best configuration (' + s.best.file + ') per layer, bits', {
        type: 'bar',
        data: { labels: L.map((l) => l.name), datasets: [
          { label: 'kernel', data: L.map((l) => l.kernel_bits), backgroundColor: color(0) },
          { label: 'bias', data: L.map((l) => l.bias_bits), backgroundColor: color(2) },
          { label: 'activation', data: L.map((l) => l.activation_bits), backgroundColor: color(3) }] },
        options: { scales: { y: { title: { display: true, text: 'bits' } } } },
      }, { xName: 'layer', wide: true });
    }
    if (s.sensitivity) sensitivityCharts(grid, s.sensitivity, prefix);
    const st = s.settings || {};
    sec.insertBefore(kv([['model', st.model], ['data', st.data], ['tuner', st.tuner], ['seed', st.seed],
                         ['trials', s.trials.length + (st.trials ? ' of ' + st.trials : '')],
                         ['epochs per trial', st.epochs], ['train fraction', st.train_fraction],
                         ['best trial', s.best && s.best.trial ? s.best.trial : '']]), grid);
    const top = ok.slice().sort((a, b) => b.score - a.score);
    sec.append(el('h3', {}, 'Trials (best score first)'),
               table(['trial', 'status', 'score', 'metric', 'bits', '% of reference', 'loss', 'seconds'],
                     top.concat(s.trials.filter((t) => t.status !== 'ok')).map((t) => [
                       t.trial, t.status, fmt(t.score, 4), fmt(t.metric, 4), fmtInt(t.trial_size),
                       t.reference_size ? fmt(100 * t.trial_size / t.reference_size, 1) : '', fmt(t.loss, 4), fmt(t.seconds, 1)]),
                     (k) => (k === 0 ? 'best' : '')));
  }

  /* ---- an export: the static memory plan */
  function exportSection(s, sec, grid, prefix) {
    const p = s.plan, T = p.tensors;
    addChart(grid, prefix + 'lifetimes', 'Tensor lifetimes over the operation sequence (write → last read)', {
      type: 'bar',
      data: { labels: T.map((t) => t.name), datasets: [
        { label: 'written by op first, last read by op last: the bar covers ops first .. last+1', data: T.map((t) => [t.first_op, t.last_op + 1]), backgroundColor: color(0), borderSkipped: false, barPercentage: 0.7 }] },
      options: { indexAxis: 'y', scales: { x: { min: 0, max: p.ops.length, ticks: { stepSize: 1 }, title: { display: true, text: 'operation' } } },
                 plugins: { tooltip: { callbacks: { label: (c) => { const t = T[c.dataIndex]; return 'ops ' + t.first_op + '..' + t.last_op + ', ' + fmtInt(t.bytes) + ' B at offset ' + fmtInt(t.offset); } } } } },
    }, { xName: 'tensor', wide: true, tall: T.length > 12 });
    const live = p.ops.map((_, k) => T.filter((t) => t.first_op <= k && k <= t.last_op).reduce((a, t) => a + t.bytes, 0));
    const top = p.ops.map((_, k) => T.filter((t) => t.first_op <= k && k <= t.last_op).reduce((a, t) => Math.max(a, t.offset + t.bytes), 0));
    addChart(grid, prefix + 'arena', 'Arena use per operation, bytes', {
      type: 'line',
      data: { labels: p.ops.map((o) => o.index), datasets: [
        lineDataset('bytes of live tensors', live, 0),
        lineDataset('highest byte in use', top, 3),
        lineDataset('arena (' + fmtInt(p.arena_bytes) + ' B)', p.ops.map(() => p.arena_bytes), 1, { borderDash: [6, 4], pointRadius: 0 })] },
      options: { scales: { x: { title: { display: true, text: 'operation' } }, y: { beginAtZero: true } } },
    }, { xName: 'operation' });
    addChart(grid, prefix + 'weights', 'Weight bytes per operation', {
      type: 'bar',
      data: { labels: p.ops.map((o) => o.index + ' ' + o.layer), datasets: [
        { label: 'weights, biases, requantization tables', data: p.ops.map((o) => o.weight_bytes), backgroundColor: color(4) }] },
    }, { xName: 'operation' });
    sec.insertBefore(kv([['model file', s.model_file], ['arena', fmtInt(p.arena_bytes) + ' B'],
                         ['weights', fmtInt(p.weight_bytes) + ' B'], ['operations', p.ops.length],
                         ['model.h arena', s.header_arena !== undefined ? fmtInt(s.header_arena) + ' B' : '']]), grid);
    sec.append(el('h3', {}, 'Operations'),
               table(['#', 'layer', 'kernel', 'output', 'bytes', 'offset', 'scale', 'zp', 'accumulator', 'weight bytes'],
                     p.ops.map((o) => [o.index, o.layer, o.kernel, o.output + ' ' + o.shape.join('×'), fmtInt(o.bytes),
                                       fmtInt(o.offset), o.scale, o.zp, o.acc, fmtInt(o.weight_bytes)]), null, prefix + 'ops'));
    if (s.model) modelCharts(sec, grid, s.model, prefix + 'model-');
  }

  /* ---- several training runs side by side */
  function comparisonSection(runs, main) {
    const sec = el('section', { class: 'run', 'data-kind': 'compare' }, el('h2', {}, 'Runs compared'));
    const grid = el('div', { class: 'grid' });
    sec.append(grid);
    main.append(sec);
    const maxE = Math.max(...runs.map((r) => r.log.rows.length));
    const labels = Array.from({ length: maxE }, (_, i) => i);
    for (const [key, title] of [['val_accuracy', 'Validation accuracy per epoch'], ['accuracy', 'Training accuracy per epoch'], ['val_loss', 'Validation loss per epoch']]) {
      const ds = runs.filter((r) => hasValues(column(r.log, key)))
                     .map((r, i) => lineDataset(r.name, labels.map((e) => { const v = column(r.log, key); return e < v.length ? v[e] : null; }), i));
      if (ds.length) addChart(grid, 'compare-' + key, title, { type: 'line', data: { labels, datasets: ds },
                                options: { scales: { x: { title: { display: true, text: 'epoch' } } } } }, { xName: 'epoch' });
    }
    sec.append(table(['run', 'epochs', 'last val_accuracy', 'best val_accuracy', 'weight bytes', 'test accuracy'],
                     runs.map((r) => { const v = column(r.log, 'val_accuracy') || [];
                                       const vv = v.filter((x) => x !== null);
                                       return [r.name, r.log.rows.length, fmt(vv[vv.length - 1], 4), vv.length ? fmt(Math.max(...vv), 4) : '',
                                               r.model ? fmtInt(r.model.bytes) : '', r.test ? fmt(r.test.accuracy, 4) : '']; })));
  }

  function render() {
    const data = JSON.parse(document.getElementById('tq-data').textContent);
    const main = document.querySelector('main');
    const trains = data.sections.filter((s) => s.kind === 'train');
    if (trains.length >= 2) comparisonSection(trains, main);
    const builders = { train: trainSection, search: searchSection, export: exportSection };
    data.sections.forEach((s, i) => {
      const sec = el('section', { class: 'run', 'data-kind': s.kind },
                     el('h2', {}, { train: 'Training run', search: 'Search', export: 'Export (integer deployment)' }[s.kind] + ': ' + s.name),
                     el('p', { class: 'sub' }, s.path + (s.files ? ' — ' + s.files.join(', ') : '')));
      const grid = el('div', { class: 'grid' });
      sec.append(grid);
      main.append(sec);
      builders[s.kind](s, sec, grid, 's' + i + '-');
    });
  }

  const status = document.getElementById('tq-status');
  try {
    render();
  } catch (e) {
    console.error('tinyq report: ' + (e && e.stack ? e.stack : e)); /* recorded by the page's error hook */
  }
  const drawn = charts.filter((c) => { const ok = c.chart && canvasHasInk(c.canvas); c.fig.setAttribute('data-drawn', ok ? '1' : '0'); return ok; });
  status.setAttribute('data-charts', String(charts.length));
  status.setAttribute('data-drawn', String(drawn.length));
  status.setAttribute('data-errors', String(window.tqErrors.length));
  const good = window.tqErrors.length === 0 && drawn.length === charts.length && charts.length > 0;
  status.setAttribute('data-status', good ? 'ok' : 'error');
  status.textContent = (good ? '' : 'PROBLEM: ') + drawn.length + ' of ' + charts.length + ' charts drawn' +
                       (window.tqErrors.length ? '; errors: ' + window.tqErrors.join(' | ') : '');
})();
