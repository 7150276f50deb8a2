/*
 * The nce-ood web console: the models page (/ui/) and a model's page (/ui/models/{name}), served
 * by the service, or the same model page inlined in a report file. Plain browser JavaScript, no
 * build step. Data comes from the API with the reader's API key (kept in this tab's session
 * storage, sent in a header) or, in a report, from the page itself. Every value taken from data
 * enters the page as text (textContent, canvas text), never as markup.
 */
(function () {
  'use strict';

  var KEY = 'nce-ood.apiKey';
  var REFRESH_MS = 5000;
  var VERSIONS_REFRESH_MS = 30000;
  /**
   * Longest a request may go unanswered: a service that hangs (or a proxy that holds the
   * connection) would otherwise stop the refreshes with "Updated ..." still on screen.
   */
  var REQUEST_TIMEOUT_MS = 20000;
  /** Longest the refreshes wait for a text selection to end (one left on the page would stop them for good). */
  var SELECTION_PAUSE_MS = 60000;
  /** A flagged record's values shown at once; more behind a toggle. */
  var VALUES_SHOWN = 12;
  /** The flagged records whose further values are open, by record. */
  var openValues = {};
  var CONFIRM_MS = 5000;
  /**
   * A second activation sooner than this after the first is part of the same gesture (a
   * double-click, Enter pressed twice) and does not confirm: an outside probe's double-click on
   * Promote promoted at once, its second click landing on the button the first had just armed.
   * 0.9 s: the longest double-click interval systems offer (a probe's clicks 650 ms apart promoted at 600).
   */
  var CONFIRM_AFTER_MS = 900;
  var TOP_FEATURES = 15;
  // Bars at 3:1 or more against the white chart (the reference's grey 3.6:1, the window's blue 5.6:1);
  // the window's narrower bar stands on the reference's, so both show where they overlap.
  var COLORS = { reference: 'rgba(90, 100, 115, 0.75)', window: '#0066cc', loss: '#b35900', valLoss: '#7a3e9d', auc: '#0066cc', threshold: '#b00020', psi: '#0066cc', selected: '#b35900' };

  var embedded = document.getElementById('console-data');
  var report = embedded ? JSON.parse(embedded.textContent) : null;
  var main = document.getElementById('main');
  var pageKind = main ? main.getAttribute('data-page') : '';
  var authMeta = document.querySelector('meta[name="nce-ood-auth"]');
  var authRequired = !report && authMeta !== null && authMeta.getAttribute('content') === 'required';
  var charts = {};
  var selectedFeature = null;
  var lastConsole = null;

  /** An element with attributes and children; strings become text nodes. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') el.textContent = attrs[k];
        else if (k === 'className') el.className = attrs[k];
        else if (k === 'onclick') el.addEventListener('click', attrs[k]);
        else el.setAttribute(k, attrs[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return el;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  /**
   * Empties `el` and fills it again with `fill(el)`, keeping keyboard focus on the new element of
   * the same `data-key` as the focused one: a refresh every few seconds must not throw a keyboard
   * user back to the top of the page.
   */
  /**
   * Redraws `el`, keeping keyboard focus on the element of the same data-key; when that element is
   * gone (a promoted version's button), on `fallback`, so focus never drops to the page.
   */
  function refill(el, fill, fallback) {
    var active = document.activeElement;
    var key = active && active !== el && el.contains(active) ? active.getAttribute('data-key') : null;
    fill(clear(el));
    if (key === null) return;
    var again = Array.prototype.filter.call(el.querySelectorAll('[data-key]'), function (x) {
      return x.getAttribute('data-key') === key;
    })[0];
    if (again) again.focus();
    else if (fallback) fallback.focus();
  }

  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return 'n/a';
    if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
    return x.toFixed(digits === undefined ? 2 : digits);
  }

  /** A share as a percentage; one that is not exactly 0 or 1 never reads as either (a flagged share of 0.99996 is not all records). */
  function pct(x) {
    if (x === null || x === undefined || !isFinite(x)) return 'n/a';
    if (x > 0 && x < 0.00005) return '<0.01%';
    if (x < 1 && x >= 0.9995) return '>99.9%';
    return (100 * x).toFixed(x > 0 && x < 0.01 ? 2 : 1) + '%';
  }

  function when(iso) {
    return iso ? String(iso).replace('T', ' ').slice(0, 19) + ' UTC' : 'n/a';
  }

  /**
   * Writes the status line. Only `announce`d texts (a key is needed, a load failed) go to the
   * live region screen readers read out; the routine "Updated ..." of every refresh does not.
   */
  function setStatus(text, announce) {
    var s = byId('status');
    if (s) s.textContent = text;
    var live = byId('announce');
    // The same failure at every refresh of an outage is announced once (a screen reader heard it every 5 s).
    if (live && !(announce && live.textContent === text)) live.textContent = announce ? text : '';
  }

  /** When the page was last drawn from fresh answers (UTC), or null before the first. */
  var updatedAt = null;

  /** Says when the page last refreshed (not announced: it changes every few seconds). */
  function setUpdated() {
    // In UTC, as every other time on the page.
    updatedAt = new Date().toISOString().slice(11, 19) + ' UTC';
    setStatus('Updated ' + updatedAt + '; refreshes every ' + REFRESH_MS / 1000 + ' s.');
    scrollStops();
  }

  /**
   * A table's scrolling region is a tab stop (to scroll it with the keyboard) only while it has
   * something to scroll: otherwise it is one more stop that does nothing. One that has focus keeps it.
   */
  function scrollStops() {
    document.querySelectorAll('.table-scroll').forEach(function (region) {
      if (region.scrollWidth > region.clientWidth + 1) region.setAttribute('tabindex', '0');
      else if (region !== document.activeElement) region.removeAttribute('tabindex');
    });
  }
  window.addEventListener('resize', scrollStops);

  /** Most characters of a name on a chart axis. */
  var LABEL_CHARS = 32;

  /**
   * Most characters of a label on a chart of `width` pixels: LABEL_CHARS, fewer on a narrow
   * screen, so that the labels take at most a third of it (about 7 pixels a character) and the
   * bars keep the rest (an outside probe: 32 characters at 375 pixels left no bars, and cut the
   * labels at the left).
   */
  function labelChars(width) {
    return Math.max(8, Math.min(LABEL_CHARS, Math.floor((width || 0) / 3 / 7)));
  }

  /** A name as a chart axis shows it: whole, or its first `most` characters and an ellipsis. */
  function shortLabel(name, most) {
    var chars = Array.from(String(name));
    return chars.length > most ? chars.slice(0, most - 1).join('') + '\u2026' : String(name);
  }

  /** The axis labels of the chart on canvas `id` for `names`, shortened to its width ({@link labelChars}). */
  function axisLabels(id, names) {
    var most = labelChars(byId(id).parentNode.clientWidth);
    return names.map(function (name) {
      return shortLabel(name, most);
    });
  }

  /** Tooltip callbacks that title a bar with its whole name, `names[i]` for bar i (the axis may show it shortened). */
  function wholeNames(names) {
    return {
      callbacks: {
        title: function (items) {
          return items.length > 0 ? String(names[items[0].dataIndex]) : '';
        },
      },
    };
  }

  /** A term and its value in a definition list. */
  function facts(dl, pairs) {
    clear(dl);
    pairs.forEach(function (p) {
      dl.appendChild(h('div', null, h('dt', { text: p[0] }), h('dd', { text: p[1] })));
    });
  }

  // ---- the API, with the reader's key ----

  function NeedKey(message) {
    this.message = message;
  }

  /** Text an HTTP header can carry (visible Latin-1 and spaces). */
  var HEADER_TEXT = /^[\x20-\x7e\xa0-\xff]+$/;

  function apiKey() {
    var key = null;
    try {
      key = sessionStorage.getItem(KEY);
      // One stored before the form checked keys: forgotten, and asked for again.
      if (key !== null && !HEADER_TEXT.test(key)) {
        sessionStorage.removeItem(KEY);
        key = null;
      }
    } catch {
      return null;
    }
    return key;
  }

  /** Thrown when a request went unanswered for REQUEST_TIMEOUT_MS: what it asked may or may not have been done. */
  /**
   * Where a hint (the job list) failed: a key that may not read it, or a queue that cannot answer,
   * leaves it out, but a key refused or a service that did not answer at all is the page's failure
   * (said at once: swallowed, a hang caught in a job read showed "Updated" until the next refresh
   * hung too, 45 s instead of 20).
   */
  function hintFailed(e) {
    if (e instanceof NeedKey || (e && e.timedOut)) throw e;
  }

  function timedOut() {
    return Object.assign(new Error('the service did not answer within ' + REQUEST_TIMEOUT_MS / 1000 + ' s'), { timedOut: true });
  }

  function api(path, init) {
    var headers = { accept: 'application/json' };
    var key = apiKey();
    if (key) headers.authorization = 'Bearer ' + key;
    var controller = new AbortController();
    var timer = setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    return fetch(path, Object.assign({ headers: headers, credentials: 'same-origin', cache: 'no-store', signal: controller.signal }, init || {}))
      .then(answered, function (e) {
        // fetch's own failure: no answer at all (or none within the timeout).
        throw controller.signal.aborted ? timedOut() : Object.assign(new Error('the service cannot be reached'), { unreachable: true, cause: e });
      })
      .catch(function (e) {
        throw controller.signal.aborted && !(e instanceof NeedKey) ? timedOut() : e;
      })
      .finally(function () {
        clearTimeout(timer);
      });
    function answered(res) {
      if (res.status === 401) {
        try {
          sessionStorage.removeItem(KEY);
        } catch {
          /* storage unavailable */
        }
        throw new NeedKey(key ? 'That key was not accepted.' : '');
      }
      return res.json().then(
        function (body) {
          if (!res.ok) throw Object.assign(new Error((body && body.detail) || 'HTTP ' + res.status), { status: res.status });
          return body;
        },
        function () {
          throw new Error('HTTP ' + res.status);
        },
      );
    }
  }

  /** The key form's label: a key is needed, or (`another`, from the header's button) one in use may be changed. */
  var KEY_LABEL = { needed: 'This service needs an API key', another: 'Another API key (Escape keeps the one in use)' };

  function askForKey(message, another) {
    var section = byId('auth');
    if (!section) return;
    section.hidden = false;
    var label = section.querySelector('label[for="key"]');
    if (label) label.textContent = another ? KEY_LABEL.another : KEY_LABEL.needed;
    section.setAttribute('data-another', another ? 'true' : '');
    // A service restarted with API keys after the page opened without: the key can be changed from now on.
    var button = byId('key-button');
    if (button) button.hidden = false;
    byId('key-error').textContent = message || '';
    byId('key').focus();
  }

  function setUpKeyForm(start) {
    var form = byId('key-form');
    if (!form) return;
    var button = byId('key-button');
    if (button) {
      button.hidden = !authRequired;
      button.addEventListener('click', function () {
        // "Another" key only where one is in use: with none stored, the form asks for one, and
        // Escape does not hide it (an outside probe was left with a blank page and no refreshes).
        askForKey('', Boolean(apiKey()));
      });
    }
    // Opened to change a key that works: Escape closes it, and focus goes back to its button.
    form.addEventListener('keydown', function (event) {
      if (event.key !== 'Escape' || byId('auth').getAttribute('data-another') !== 'true') return;
      byId('key').value = '';
      byId('auth').hidden = true;
      if (button) button.focus();
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var value = byId('key').value.trim();
      if (!value) return;
      // A header carries Latin-1 only: a key with a typographic dash or quote pasted from a
      // document, or an emoji, could never be sent, and stored it would fail every request.
      if (!HEADER_TEXT.test(value)) {
        byId('key-error').textContent = 'That key holds a character an HTTP header cannot carry (a typographic dash or quote, an emoji): type it again.';
        byId('key').focus();
        return;
      }
      try {
        sessionStorage.setItem(KEY, value);
      } catch {
        /* storage unavailable: the key lives as long as this page */
      }
      byId('key').value = '';
      byId('auth').hidden = true;
      // Focus was in the form, now hidden: it goes to the status line, which says how the key fares.
      var status = byId('status');
      status.setAttribute('tabindex', '-1');
      status.focus();
      // Another key may allow other actions (promote): the versions are drawn again for it.
      versionsLoadedAt = 0;
      start();
    });
  }

  /** Asks for a key before anything else: a model page draws no empty boxes under the prompt. */
  function keyFirst(message) {
    askForKey(message);
    if (pageKind === 'model') {
      showSections(false);
      // Nor the summary's figures, which the key no longer reads (drawn again once one is given).
      var summary = byId('summary');
      if (summary) summary.textContent = '';
    }
    // The models page keeps nothing on screen that the key no longer reads (drawn again once one is given).
    else if (main) main.classList.add('locked');
  }

  function failed(e) {
    if (e instanceof NeedKey) {
      keyFirst(e.message);
      setStatus('An API key is needed.', true);
      return;
    }
    // What is on the page is as old as the last refresh that drew it: said, since it stays.
    setStatus('Could not load: ' + (e && e.message ? e.message : String(e)) + '.' + (updatedAt ? ' Shown as of ' + updatedAt + '.' : ''), true);
  }

  // ---- charts (Chart.js) ----

  /** Draws a vertical line at `options.plugins.threshold.value` on a chart whose x axis is evenly spaced bins from `lo` to `hi`. */
  var thresholdLine = {
    id: 'threshold',
    afterDatasetsDraw: function (chart, _args, opts) {
      if (!opts || opts.value === undefined || opts.value === null) return;
      var x = chart.scales.x;
      var px = x.left + ((opts.value - opts.lo) / (opts.hi - opts.lo)) * (x.right - x.left);
      if (!(px >= x.left && px <= x.right)) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = COLORS.threshold;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(px, chart.chartArea.top);
      ctx.lineTo(px, chart.chartArea.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = COLORS.threshold;
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText(opts.label, Math.min(px + 4, x.right - ctx.measureText(opts.label).width), chart.chartArea.top + 12);
      ctx.restore();
    },
  };

  /** Creates the chart on a canvas, or updates the one there in place (no animation, no flicker). */
  function chart(id, config, label) {
    var canvas = byId(id);
    if (!canvas || typeof Chart === 'undefined') return null;
    canvas.setAttribute('aria-label', label);
    var existing = charts[id];
    if (existing && existing.config.type === config.type && existing.data.datasets.length === config.data.datasets.length) {
      existing.data.labels = config.data.labels;
      existing.data.datasets.forEach(function (d, i) {
        d.data = config.data.datasets[i].data;
        d.label = config.data.datasets[i].label;
        d.backgroundColor = config.data.datasets[i].backgroundColor;
      });
      existing.options.plugins.threshold = config.options.plugins.threshold;
      // The callbacks too: they close over this draw's data (the drift chart's ranking), and the
      // first draw's would name and open the features in their first order (an outside probe:
      // the top bar labelled f8 said f0 in its tooltip, and a click on it opened f0).
      if (config.options.plugins.tooltip) existing.options.plugins.tooltip = config.options.plugins.tooltip;
      if (config.options.onClick) existing.options.onClick = config.options.onClick;
      existing.update('none');
      return existing;
    }
    if (existing) existing.destroy();
    config.options.animation = false;
    // Numbers as the rest of the page writes them (a decimal point), whatever the browser's locale.
    config.options.locale = 'en-US';
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    config.plugins = [thresholdLine];
    charts[id] = new Chart(canvas, config);
    return charts[id];
  }

  function drawHistory(c) {
    var hist = c.history;
    chart(
      'history-chart',
      {
        type: 'line',
        data: {
          labels: hist.map(function (e, i) {
            return hist.some(function (x) { return x.pass > 1; }) ? 'pass ' + e.pass + ' epoch ' + e.epoch : String(i + 1);
          }),
          datasets: [
            { label: 'training loss', data: hist.map(function (e) { return e.loss; }), borderColor: COLORS.loss, backgroundColor: COLORS.loss, yAxisID: 'y', pointRadius: 2 },
            { label: 'validation loss', data: hist.map(function (e) { return e.valLoss; }), borderColor: COLORS.valLoss, backgroundColor: COLORS.valLoss, yAxisID: 'y', pointRadius: 2 },
            { label: 'validation AUC', data: hist.map(function (e) { return e.valAuc; }), borderColor: COLORS.auc, backgroundColor: COLORS.auc, yAxisID: 'auc', pointRadius: 2, borderDash: [4, 3] },
          ],
        },
        options: {
          plugins: { threshold: {}, legend: { position: 'bottom' } },
          scales: {
            x: { title: { display: true, text: 'epoch' } },
            y: { position: 'left', title: { display: true, text: 'NCE loss (nats)' } },
            auc: { position: 'right', min: 0, max: 1, grid: { drawOnChartArea: false }, title: { display: true, text: 'AUC' } },
          },
        },
      },
      'Training of version ' + c.version + ': loss and validation AUC over ' + hist.length + ' epochs',
    );
    var m = c.model;
    facts(byId('training-facts'), [
      ['Version', c.version],
      ['Trained', when(m.createdAt)],
      ['Training rows', String(m.trainRows)],
      ['Validation rows', String(m.validationRows)],
      // contaminationTrim's rows, not contamination's (which moves the threshold and leaves every row in).
      ['Rows left out of the fit (contaminationTrim)', String(m.trimmedRows)],
      ['Dataset rows', String(m.datasetRows)],
      // Best epoch 0: no epoch beat the start, p = q, so the model is its noise density alone (and the AUC is the start's).
      ['Epochs (best)', m.epochsRun + (m.bestEpoch === 0 ? ' (none beat the start: the score is the noise density alone)' : ' (' + m.bestEpoch + ')')],
      // Of the classifier against its noise: not of detection (a model of data its noise describes well is near 0.5).
      ['Validation AUC (data vs noise, not detection)', num(m.valAuc, 3)],
      ['Validation loss', num(m.valLoss, 4)],
      ['Training time', num(m.seconds, 1) + ' s'],
      ['Score', m.scoreKind],
      // The partners' noises too: they make up most of the score.
      ['Noise', [m.noise].concat(m.partnerNoises || []).map(function (n) { return n && n.type ? n.type : 'n/a'; }).join(' + ')],
      ['Backend', m.backend],
    ]);
    drawWarnings(m.warnings || []);
    byId('training-config').textContent = JSON.stringify({ noise: m.noise, partnerNoises: m.partnerNoises || [], config: m.config }, null, 2);
  }

  /** The training's warnings (what in the data will make the model flag records for a reason likely not meant), above its facts. */
  function drawWarnings(warnings) {
    var box = byId('training-warnings');
    if (!box) return;
    box.hidden = warnings.length === 0;
    var list = clear(box.querySelector('ul'));
    warnings.forEach(function (w) {
      list.appendChild(h('li', { text: w }));
    });
  }

  function drawScores(c) {
    var s = c.scores;
    // Bin centres; records beyond the range count in the outermost bins, labelled by their inner
    // edges (the first bin holds every score below its upper edge, not only those below its centre).
    var labels = s.reference.map(function (_v, i) {
      if (i === 0) return '< ' + num(s.edges[1], 1);
      if (i === s.reference.length - 1) return '>= ' + num(s.edges[i], 1);
      return num((s.edges[i] + s.edges[i + 1]) / 2, 1);
    });
    var windowName = report ? report.source.file || 'no data file' : 'recent traffic';
    chart(
      'score-chart',
      {
        type: 'bar',
        data: {
          labels: labels,
          datasets: [
            { label: 'reference (held-out records)', data: s.reference, backgroundColor: COLORS.reference, grouped: false, barPercentage: 1, categoryPercentage: 1 },
            { label: windowName + ' (' + s.records + ' records)', data: s.window, backgroundColor: COLORS.window, grouped: false, barPercentage: 0.7, categoryPercentage: 1 },
          ],
        },
        options: {
          plugins: { threshold: { value: s.threshold, lo: s.edges[0], hi: s.edges[s.edges.length - 1], label: 'ood threshold ' + num(s.threshold, 2) }, legend: { position: 'bottom' } },
          scales: { x: { title: { display: true, text: 'score (nats; higher = more like the reference)' } }, y: { title: { display: true, text: 'share of records' } } },
        },
      },
      'Score distribution of version ' + c.version + ': reference and ' + s.records + ' recent records, ood threshold ' + num(s.threshold, 2),
    );
    byId('scores-note').textContent =
      s.records === 0
        ? !report && c.traffic.scored > 0
          ? 'None of the ' + c.traffic.scored + ' records this version scored on this replica is recent enough for the window (DRIFT_WINDOW_SECONDS): the reference alone is shown.'
          : 'No records scored by this version yet: the reference alone is shown.'
        : s.records + (report ? ' records of the file; ' : ' recent records scored by this version; ') + (s.outside > 0 ? pct(s.outside) + ' of them lie outside the range shown and count in the outermost bars (as the reference\'s lowest scores count in the first). ' : 'all within the range shown. ') + 'Records below the threshold are flagged ood: ' + flaggedByDesign(c.model) + '.';
  }

  /** What share of records like the reference the threshold flags, and why when it is not targetFpr. */
  function flaggedByDesign(m) {
    var c = m.contamination || 0;
    var why;
    if (m.tailShare && m.expectedFlagged <= m.tailShare + 1e-12) {
      why = 'targetFpr ' + pct(m.targetFpr) + ', with the threshold raised above the lowest held-out scores, which stand apart from the others (likely anomalies): set where the lower tail of the others puts it, or among the others';
    } else if (m.expectedFlagged > c + m.targetFpr * (1 - c) + 1e-12) {
      why = 'targetFpr ' + pct(m.targetFpr) + (c ? ' at contamination ' + pct(c) : '') + ', but ' + m.validationRows + ' held-out records are too few to calibrate it: the threshold is the lowest of their scores';
    } else {
      why = c ? 'the stated contamination ' + pct(c) + ' and targetFpr ' + pct(m.targetFpr) + ' of the rest' : 'targetFpr';
    }
    return 'about ' + pct(m.expectedFlagged) + ' of records like the reference (' + why + ')';
  }

  /** A dataset's columns for the list: the first dozen, then how many more (an embedding's 768 would fill the page). */
  function columnList(columns) {
    var shown = 12;
    return columns.length <= shown ? columns.join(', ') : columns.slice(0, shown).join(', ') + ' and ' + (columns.length - shown) + ' more';
  }

  function drawDrift(c) {
    var d = c.drift;
    // A report's file is all there is: fewer records than drift needs is final, not a wait.
    var tooFew = report ? 'not measured: it needs ' + d.minRecords + ' records, the file has ' + d.records : 'after ' + d.minRecords + ' records';
    var rows = [
      [report ? 'Records in the file' : 'Records in the window', String(d.records)],
      ['Score PSI', d.psi === null ? tooFew : num(d.psi, 3)],
      ['Score KS', d.ks === null ? tooFew : num(d.ks, 3)],
    ];
    // The drift window restarts when the served version changes; the Scores panel keeps a version's records.
    if (!report && c.scores.records > d.records) rows.splice(1, 0, ['Window since', 'this version was last made current (the Scores panel counts its ' + c.scores.records + ' recent records from before too)']);
    facts(byId('drift-facts'), rows);
    var ranked = d.features.slice(0, TOP_FEATURES);
    var names = ranked.map(function (f) {
      return f.feature;
    });
    var hasPsi = d.psi !== null;
    var barChart = chart(
      'feature-chart',
      {
        type: 'bar',
        data: {
          // Long names shortened on the axis (the tooltip, the table and the detail show them whole).
          labels: axisLabels('feature-chart', names),
          datasets: [
            {
              label: 'PSI against the training data',
              data: ranked.map(function (f) { return f.psi === null ? 0 : f.psi; }),
              backgroundColor: ranked.map(function (f) { return f.feature === selectedFeature ? COLORS.selected : COLORS.psi; }),
            },
          ],
        },
        options: {
          indexAxis: 'y',
          plugins: {
            threshold: {},
            legend: { display: false },
            tooltip: wholeNames(names),
          },
          scales: { x: { min: 0, title: { display: true, text: 'PSI (above 0.25: a large shift)' } } },
          onClick: function (_event, elements) {
            if (elements.length > 0) selectFeature(ranked[elements[0].index].feature);
          },
        },
      },
      hasPsi && ranked.length > 0 ? 'Feature drift of version ' + c.version + ', most drifted first: ' + ranked[0].feature + ' (PSI ' + num(ranked[0].psi, 3) + ')' : 'Feature drift of version ' + c.version + ': not enough records yet',
    );
    var wrap = byId('feature-chart').parentNode;
    wrap.style.height = Math.max(120, 40 + 26 * ranked.length) + 'px';
    if (barChart) barChart.resize();
    // A wide model's page gets its most drifted features only.
    var shown = d.features.length;
    byId('feature-table').querySelector('caption').textContent =
      (d.featureCount > shown ? 'The ' + shown + ' most drifted of ' + d.featureCount + ' features' : 'Features, most drifted first') + ': select one to compare its distributions';
    refill(byId('feature-table').querySelector('tbody'), function (body) {
      d.features.forEach(function (f, i) {
        var button = h('button', { type: 'button', className: 'link', 'data-key': f.feature, 'aria-pressed': String(f.feature === selectedFeature), onclick: function () { selectFeature(f.feature); } }, f.feature);
        body.appendChild(h('tr', { 'data-rank': String(i + 1) }, h('td', null, button), h('td', { text: f.psi === null ? 'n/a' : num(f.psi, 3) })));
      });
    });
    drawFeatureDetail(c);
  }

  function selectFeature(name) {
    // A pressed feature's button pressed again closes its detail (the button is a toggle).
    selectedFeature = selectedFeature === name ? null : name;
    if (lastConsole) drawDrift(lastConsole);
    var detail = byId('feature-detail');
    if (detail && detail.scrollIntoView) detail.scrollIntoView({ block: 'nearest' });
  }

  function drawFeatureDetail(c) {
    var f = null;
    c.drift.features.forEach(function (x) {
      if (x.feature === selectedFeature) f = x;
    });
    var detail = byId('feature-detail');
    if (!f) {
      detail.hidden = true;
      return;
    }
    detail.hidden = false;
    byId('feature-detail-h').textContent = f.feature + ': training data against ' + (report ? report.source.file || 'no data file' : 'the window') + (f.psi === null ? '' : ' (PSI ' + num(f.psi, 3) + ')');
    chart(
      'feature-dist-chart',
      {
        type: 'bar',
        data: {
          // A category may be long (a user agent): shortened on the axis, whole in the tooltip.
          labels: axisLabels('feature-dist-chart', f.bins),
          datasets: [
            { label: 'training data', data: f.reference, backgroundColor: COLORS.reference },
            { label: report ? report.source.file || 'no data file' : 'window', data: f.window, backgroundColor: COLORS.window },
          ],
        },
        options: {
          plugins: {
            threshold: {},
            legend: { position: 'bottom' },
            tooltip: wholeNames(f.bins),
          },
          scales: { y: { title: { display: true, text: 'share of records' } } },
        },
      },
      'Distribution of feature ' + f.feature + ' in the training data and the window, version ' + c.version,
    );
  }

  function drawFlagged(c) {
    byId('flagged-note').textContent =
      c.flagged.length === 0
        ? 'No flagged records ' + (report ? 'in the file.' : 'sampled yet.')
        : (report ? 'Flagged rows of the file, the last ones' : 'The most recent flagged records (a bounded sample)') +
          ', with the features that moved their score most (negative: lowered it).' +
          (c.rawValues ? '' : ' Values are not shown' + (report ? '.' : ' (CONSOLE_RAW_VALUES, or a key without admin scope).'));
    // Redrawn with focus kept on the same record's toggle (its data-key).
    refill(byId('flagged-list'), function (list) {
      drawFlaggedItems(list, c);
    });
  }

  function drawFlaggedItems(list, c) {
    // Records of one batch may share a time and a score (repeated records): each toggle's key counts
    // the ones before it, so it stays the same record's through refreshes.
    var seen = {};
    c.flagged.forEach(function (r) {
      var base = (r.row !== undefined ? 'line ' + r.row : r.at) + ' ' + r.score;
      seen[base] = (seen[base] || 0) + 1;
      var key = seen[base] > 1 ? base + ' #' + seen[base] : base;
      var max = 0;
      r.contributions.forEach(function (x) {
        max = Math.max(max, Math.abs(x.value));
      });
      var bars = h('ul', { className: 'contributions', 'aria-label': 'top contributions' });
      r.contributions.forEach(function (x) {
        var fill = h('span', { className: 'fill' + (x.value < 0 ? ' negative' : '') });
        fill.style.width = (max > 0 ? (100 * Math.abs(x.value)) / max : 0) + '%';
        bars.appendChild(h('li', { className: 'contribution' }, h('span', { className: 'feature', title: x.feature, text: x.feature }), h('span', { className: 'bar', 'aria-hidden': 'true' }, fill), h('span', { className: 'value', text: num(x.value, 2) })));
      });
      var head = h('p', { className: 'flagged-head' }, (r.row !== undefined ? 'line ' + r.row : when(r.at)) + ': score ' + num(r.score, 2) + ', percentile ' + pct(r.percentile));
      var item = h('li', { className: 'flagged-record' }, head, bars);
      if (r.values) drawValues(item, r, key);
      list.appendChild(item);
    });
  }

  /**
   * A flagged record's values: the contributing features' first, at most VALUES_SHOWN; the rest
   * (a wide model has hundreds) behind a toggle, drawn when opened.
   */
  function drawValues(item, r, key) {
    var top = r.contributions.map(function (x) {
      return x.feature;
    });
    var keys = Object.keys(r.values).sort(function (a, b) {
      var ia = top.indexOf(a);
      var ib = top.indexOf(b);
      return (ia < 0 ? top.length : ia) - (ib < 0 ? top.length : ib);
    });
    function rows(table, list) {
      list.forEach(function (k) {
        var v = r.values[k];
        table.appendChild(h('tr', null, h('th', { scope: 'row', title: k, text: k }), h('td', { text: v === null ? 'missing' : String(v) })));
      });
      return table;
    }
    item.appendChild(rows(h('table', { className: 'values' }, h('caption', { text: 'values' })), keys.slice(0, VALUES_SHOWN)));
    var rest = keys.slice(VALUES_SHOWN);
    if (rest.length === 0) return;
    // Which record's toggle is open (by its key) outlives the redraw of every refresh.
    var more = h('details', { className: 'more-values' }, h('summary', { text: rest.length + ' more values', 'data-key': key }));
    more.addEventListener('toggle', function () {
      if (more.open) openValues[key] = true;
      else delete openValues[key];
      if (more.open && !more.querySelector('table')) more.appendChild(rows(h('table', { className: 'values' }), rest));
    });
    if (openValues[key]) more.open = true;
    item.appendChild(more);
  }

  function drawVersions(name, versions, access) {
    refill(
      byId('versions-table').querySelector('tbody'),
      function (body) {
        drawVersionRows(body, name, versions, access);
      },
      byId('promote-status'),
    );
  }

  /** Whether a key of this access (the console's `access`: admin, score or open) may promote a version. */
  function mayPromote(access) {
    return access === 'admin' || access === 'open';
  }

  function drawVersionRows(body, name, versions, access) {
    var canPromote = !report && mayPromote(access);
    versions
      .slice()
      .reverse()
      .forEach(function (v) {
        var status = v.damaged ? 'damaged: ' + v.damaged : v.current ? 'current' : v.candidate ? 'candidate: ' + v.candidate : 'previous';
        var action = null;
        if (canPromote && !v.current && !v.damaged) {
          // A version of other features changes what every client must send: the question says so.
          var schema = v.candidate && /^SCHEMA_CHANGED/.test(v.candidate) ? ' Its features differ from the current version\'s (' + v.candidate.replace(/^SCHEMA_CHANGED:\s*/, '') + '): clients must then send records of its features.' : '';
          action = labelPromote(h('button', { type: 'button', 'data-key': v.version, onclick: function (event) { onSecondClick(event, 'Promote version ' + v.version + '?' + schema + ' Activate its button again within ' + CONFIRM_MS / 1000 + ' s to make it current.', function () { promote(name, v.version); }); } }), isArmed(v.version));
          // A key held down repeats its activation: not a second, deliberate one.
          action.addEventListener('keydown', function (event) {
            if (event.repeat && (event.key === 'Enter' || event.key === ' ')) event.preventDefault();
          });
        }
        body.appendChild(
          h('tr', { className: v.current ? 'current' : '' }, h('td', { text: v.version }), h('td', { text: status }), h('td', { text: when(v.createdAt) }), h('td', { text: v.valAuc === undefined ? 'n/a' : num(v.valAuc, 3) }), h('td', { text: v.trainRows === undefined ? 'n/a' : String(v.trainRows) }), h('td', null, action)),
        );
      });
  }

  /** A promote button's label while it waits for the second activation. */
  var ARMED_LABEL = 'Press again to promote';

  /**
   * A promote button's text and its spoken name, which holds the text (voice control says what it
   * sees; the name adds the version): "Promote", or once pressed, "Press again to promote".
   */
  function labelPromote(button, armedNow) {
    var version = button.getAttribute('data-key');
    button.textContent = armedNow ? ARMED_LABEL : 'Promote';
    button.setAttribute('aria-label', armedNow ? ARMED_LABEL + ' version ' + version : 'Promote version ' + version);
    return button;
  }
  /**
   * The promote button asked last: its key (the version) and when. Kept here, not on the button,
   * since the versions table is drawn again every refresh or two (a candidate-only model's at every
   * one), which would otherwise lose a first click made just before (an outside probe: a second
   * click 1.2 s later only armed the new button).
   */
  var armed = null;

  function isArmed(key) {
    return armed !== null && armed.key === key && Date.now() - armed.at < CONFIRM_MS;
  }

  /**
   * Acts on a second activation of the button within CONFIRM_MS, and at least CONFIRM_AFTER_MS
   * after the first: the first one only asks, on the button and on the promote status line,
   * which screen readers read (`question`), since a promote changes what every client is scored
   * with and one stray click, or a double-click, must not do it. A key held down does not repeat
   * its activation (see drawVersionRows).
   */
  function onSecondClick(event, question, act) {
    var button = event.currentTarget;
    var key = button.getAttribute('data-key');
    if (isArmed(key)) {
      // The same gesture as the one that armed it (a double-click): the button keeps asking, and
      // the status line says why this press did nothing.
      if (Date.now() - armed.at < CONFIRM_AFTER_MS) {
        byId('promote-status').textContent = question + ' (A press within ' + CONFIRM_AFTER_MS / 1000 + ' s of the first, as a double-click, does not count.)';
        return;
      }
      armed = null;
      labelPromote(button, false);
      act();
      return;
    }
    var stamp = { key: key, at: Date.now() };
    armed = stamp;
    promoteButtons().forEach(function (b) {
      labelPromote(b, b.getAttribute('data-key') === key);
    });
    var status = byId('promote-status');
    status.textContent = question;
    setTimeout(function () {
      if (armed !== stamp) return;
      armed = null;
      // The button as drawn now (the table may have been drawn again meanwhile).
      promoteButtons().forEach(function (b) {
        if (b.getAttribute('data-key') === key) labelPromote(b, false);
      });
      if (status.textContent === question) status.textContent = '';
    }, CONFIRM_MS);
  }

  function promoteButtons() {
    return Array.prototype.slice.call(document.querySelectorAll('#versions-table button[data-key]'));
  }

  /** The version this page last promoted, while the page shows it current (its "is current" line is cleared once another is). */
  var promotedTo = null;

  /** Whether a promote's answer is awaited. */
  var promoting = false;

  function promote(name, version) {
    var out = byId('promote-status');
    if (promoting) return;
    promotedTo = null;
    // One promote at a time: another press waits for its answer (it could be sent twice). Marked
    // aria-disabled, not disabled, which would take keyboard focus off the button pressed.
    promoting = true;
    out.textContent = 'Promoting ' + version + '...';
    promoteButtons().forEach(function (b) {
      b.setAttribute('aria-disabled', 'true');
    });
    var done = function () {
      promoting = false;
      promoteButtons().forEach(function (b) {
        b.removeAttribute('aria-disabled');
      });
    };
    api('/v1/models/' + encodeURIComponent(name) + '/versions/' + encodeURIComponent(version) + '/promote', { method: 'POST' }).then(
      function () {
        done();
        out.textContent = 'Version ' + version + ' is current.';
        promotedTo = version;
        // Answers to requests sent before the promote are dropped (a slow one would draw the old
        // version over the new), and the page is drawn again at once, versions too.
        generation++;
        refreshModel(name, true).catch(failed);
      },
      function (e) {
        done();
        if (e instanceof NeedKey) {
          out.textContent = 'Not promoted: the key was not accepted.';
          return failed(e);
        }
        out.textContent = e.timedOut ? 'No answer to the promote within ' + REQUEST_TIMEOUT_MS / 1000 + ' s: the versions below say whether it was made.' : 'Not promoted: ' + e.message + '.';
        // The versions as they are now (the one refused may have been found damaged, or deleted).
        refreshModel(name, true).catch(failed);
      },
    );
  }

  /** Whether this page has shown its model (a version, or candidates): gone since, it was deleted. */
  var modelShown = false;

  function drawModel(c) {
    lastConsole = c;
    modelShown = true;
    byId('title').textContent = c.name;
    document.title = 'nce-ood: ' + c.name;
    byId('summary').textContent =
      'Version ' + c.version + ', trained ' + when(c.model.createdAt) + '.' + (report && report.source.file === null ? '' : ' ' + c.traffic.scored + (c.traffic.scored === 1 ? ' record' : ' records') + ' scored, ' + c.traffic.flagged + ' flagged (' + pct(c.traffic.scored ? c.traffic.flagged / c.traffic.scored : null) + ')' + (report ? ' in ' + report.source.file + '.' : ' by this version on this replica.'));
    drawHistory(c);
    drawSchedule(c.schedule);
    drawScores(c);
    drawDrift(c);
    drawFlagged(c);
  }

  /**
   * The model's retraining schedule, when it has one: its cron, time zone, dataset and next run.
   * Left out where the service could not say (its scheduler unreachable).
   */
  function drawSchedule(schedule) {
    var line = byId('schedule');
    if (!line) return;
    line.hidden = !schedule;
    line.textContent = !schedule
      ? ''
      : 'Retrained on a schedule: cron "' + schedule.cron + '" (' + schedule.timezone + '), on dataset "' + schedule.dataset + '"; ' +
        (schedule.nextRun === null
          ? 'its cron fires no more.'
          : Date.parse(schedule.nextRun) < Date.now() - 60000
            ? 'its next run, ' + when(schedule.nextRun) + ', is overdue: no worker is taking jobs (distributed mode).'
            : 'next run ' + when(schedule.nextRun) + '.');
  }

  // ---- pages ----

  var versionsLoadedAt = 0;
  var versionsOf = null;

  /**
   * Shows the model page's sections, or (no such model) hides them and says so, linking to the
   * list; `kept` (the versions, of a model without a current version) stays shown, never hidden
   * for a moment: focus on its Promote button would be lost at every refresh.
   */
  function showSections(shown, kept) {
    var active = document.activeElement;
    var lost = false;
    document.querySelectorAll('main > section.card:not(#auth)').forEach(function (section) {
      var hide = !shown && section !== kept;
      if (hide && section.contains(active)) lost = true;
      section.hidden = hide;
    });
    // A control that was focused in a section now hidden (the model was deleted): focus goes to
    // the line that says so, not back to the top of the document.
    if (lost) {
      var summary = byId('summary');
      summary.setAttribute('tabindex', '-1');
      summary.focus();
    }
  }

  /**
   * Whether the last refresh found no current version. The next refreshes look the model up in the
   * model list (always 200) before asking for its page: asked for every few seconds, a model
   * that does not exist would answer 404s the browser logs as errors each time.
   */
  // The first load too: a model without a current version (a first training, a typo) would log a 404.
  var withoutCurrent = true;
  /** Bumped by a promote: an answer to a request sent before it is not drawn. */
  var generation = 0;

  function refreshModel(name, versionsToo) {
    if (withoutCurrent) return drawWithoutCurrent(name);
    var asked = generation;
    return api('/v1/models/' + encodeURIComponent(name) + '/console').then(function (c) {
      if (asked !== generation) return;
      showSections(true);
      drawModel(c);
      if (promotedTo !== null && c.version !== promotedTo) {
        // Another client promoted since: this page's "is current" line no longer holds.
        promotedTo = null;
        byId('promote-status').textContent = '';
      }
      setUpdated();
      // After the retraining line, which reads the jobs: a training that ended since the versions
      // were read may have added one (a candidate the gate kept back), which the line names.
      return drawRetraining(name, c.model.createdAt, asked, c.access).then(function () {
        var stale = versionsToo || versionsOf !== c.version || Date.now() - versionsLoadedAt > VERSIONS_REFRESH_MS || modelJobs.endedAt > versionsLoadedAt;
        if (!stale || asked !== generation) return;
        return api('/v1/models/' + encodeURIComponent(name) + '/versions').then(function (v) {
          if (asked !== generation) return;
          versionsLoadedAt = Date.now();
          versionsOf = c.version;
          drawVersions(name, v.versions, c.access);
        });
      });
    }, function (e) {
      if (asked !== generation) throw e;
      if (e && e.status === 503) return drawUnloadable(name, e, asked);
      if (!e || e.status !== 404) throw e;
      withoutCurrent = true;
      return drawWithoutCurrent(name);
    });
  }

  /**
   * A model whose current version cannot be loaded (its files damaged, or a registry this replica
   * cannot reach and a model it does not hold): why, and its versions, to promote another from
   * here. Where the versions cannot be read either, the first failure is what the page says.
   */
  function drawUnloadable(name, cause, asked) {
    return Promise.all([api('/v1/console'), api('/v1/models/' + encodeURIComponent(name) + '/versions')]).then(
      function (answers) {
        if (asked !== generation) return;
        var access = answers[0].access;
        var others = answers[1].versions.filter(function (v) {
          return !v.current && !v.damaged;
        });
        var next = others.length === 0 ? 'No other version can be served: train one.' : mayPromote(access) ? 'Promote another version below to serve it.' : 'An admin key can promote another version below (this key may not).';
        drawVersionsAlone(name, answers[1].versions, access, 'Model "' + name + '" cannot score: ' + cause.message + (/[.!?]$/.test(cause.message) ? ' ' : '. ') + next);
      },
      function () {
        throw cause;
      },
    );
  }

  /**
   * The model page with its versions alone (no version it can serve: all candidates, or the current
   * one cannot be loaded), under `summary`, which says why: to promote one from here.
   */
  function drawVersionsAlone(name, versions, access, summary) {
    showSections(false, byId('versions'));
    versionsOf = null;
    modelShown = true;
    document.title = 'nce-ood: ' + name;
    clear(byId('summary')).appendChild(document.createTextNode(summary));
    drawVersions(name, versions, access);
    setUpdated();
  }

  /** What {@link jobsOf} last read for the model page. */
  var modelJobs = { at: 0, live: [], rest: [], endedAt: 0 };

  /**
   * The model's newest training job, or null where it completed: one queued or running read whole
   * (for its last epoch), a failed one as listed (with its error).
   */
  function newestJob(name) {
    return jobsOf('limit=1&model=' + encodeURIComponent(name), modelJobs).then(function (jobs) {
      var job = jobs[0];
      if (!job || (job.state === 'completed' && !keptBack(job))) return null;
      return job.state === 'failed' || job.state === 'completed' ? job : api('/v1/jobs/' + encodeURIComponent(job.id));
    });
  }

  /** Whether a completed job's version was kept back as a candidate (the quality gate, a schema change). */
  function keptBack(job) {
    return !!job.result && job.result.promoted === false;
  }

  /**
   * The model's newest training job where it says something the version shown does not: queued or
   * running (its last epoch), or failed or kept back as a candidate after this version was trained
   * (a scheduled or drift retrain that failed would otherwise show nowhere on the page, and one the
   * gate kept back only as a row of the versions table). The job list is only a hint: a
   * key that may not read it, or a queue that cannot answer, leaves the line out.
   */
  function drawRetraining(name, versionCreatedAt, asked, access) {
    var line = byId('retraining');
    if (!line) return Promise.resolve();
    return newestJob(name)
      .then(function (job) {
        return job && (job.state === 'failed' || job.state === 'completed') && !(Date.parse(job.createdAt) > Date.parse(versionCreatedAt)) ? null : job;
      })
      .catch(function (e) {
        hintFailed(e);
        return null;
      })
      .then(function (job) {
        if (asked !== generation) return;
        line.hidden = job === null;
        line.textContent = job === null ? '' : jobLine(job, true, access);
      });
  }

  /**
   * A model without a current version, as the model list has it: its versions when it has some
   * (candidates the quality gate refused, to promote from here), else that there is no such model
   * yet. Once the list shows a current version, the page draws the model again.
   */
  function drawWithoutCurrent(name) {
    // As in refreshModel: a promote meanwhile makes these answers old news.
    var asked = generation;
    return api('/v1/console').then(function (index) {
      if (asked !== generation) return;
      var listed = index.models.filter(function (m) {
        return m.name === name;
      })[0];
      if (listed && listed.version !== null) {
        withoutCurrent = false;
        return refreshModel(name, true);
      }
      if (!listed) return drawMissing(name, asked);
      return api('/v1/models/' + encodeURIComponent(name) + '/versions').then(
        function (v) {
          if (asked !== generation) return;
          drawVersionsAlone(name, v.versions, index.access, 'Model "' + name + '" has no current version: the quality gate kept every version below as a candidate. ' + (mayPromote(index.access) ? 'Promote one to serve it.' : 'An admin key can promote one to serve it (this key may not).'));
        },
        function (e) {
          // Deleted between the two answers.
          if (!e || e.status !== 404) throw e;
          return drawMissing(name, asked);
        },
      );
    });
  }

  /**
   * A model with no version: that there is none (yet), and its newest training job while one is
   * queued or running (its last epoch), or how its last one failed: a first training is watched here.
   */
  function drawMissing(name, asked) {
    return newestJob(name)
      .catch(function (e) {
        hintFailed(e);
        return null;
      })
      .then(function (job) {
        if (asked !== generation) return;
        showSections(false);
        document.title = 'nce-ood: ' + name;
        var summary = clear(byId('summary'));
        // Shown on this page before: it was deleted meanwhile, not yet to come.
        summary.appendChild(document.createTextNode('There is no model named "' + name + '"' + (modelShown ? ' any more (it was deleted): ' : ' (yet): ')));
        summary.appendChild(h('a', { href: '/ui/' }, 'see the models there are'));
        summary.appendChild(document.createTextNode('. This page shows it once it is trained.'));
        // A completed job of a model not there: it was deleted since (a kept-back version goes with it).
        if (job && job.state !== 'completed') summary.appendChild(h('p', { id: 'training-job', text: jobLine(job) }));
        setUpdated();
      });
  }

  /**
   * What a training job is doing or how it failed, of the model's first training or (`retraining`)
   * of a new version; `access`, the key's, says who may promote a version kept back.
   */
  function jobLine(job, retraining, access) {
    if (job.state === 'failed') return (retraining ? 'Its last retraining' : 'Its last training') + ', job ' + job.id + ', failed: ' + (job.error ? job.error.code + ': ' + job.error.message : 'no reason given') + '.';
    if (job.state === 'completed') return 'Its last retraining, job ' + job.id + ', kept version ' + job.result.version + ' back as a candidate: ' + (job.result.reason || 'no reason given') + '. It serves only if promoted' + (mayPromote(access) ? ' (Versions, below).' : ', which an admin key can do (this key may not).');
    var what = retraining ? 'A retraining' : 'Its training';
    var last = job.progress && job.progress.length ? job.progress[job.progress.length - 1] : null;
    if (!last) return what + ', job ' + job.id + ', is ' + job.state + '.';
    return what + ', job ' + job.id + ', is running: epoch ' + last.epoch + ' of at most ' + last.epochs + (last.partner ? ' of a kernel partner' : '') + ', validation loss ' + num(last.valLoss, 4) + '.';
  }

  /**
   * Training jobs, newest first, of the `query` (`limit=`, `model=`): those queued or running asked
   * at every refresh, all of them (a training started after the page opened shows within one;
   * MAX_QUEUED_JOBS bounds them), the rest (how the newest ended: failed, completed) every VERSIONS_REFRESH_MS, and at
   * once when a job seen queued or running has ended since. The distributed queue reads up to 1,000
   * finished jobs of each state to list them: asked of every open page every 5 s, that would weigh
   * on Redis. The list is only a hint: a key that may not read it, or a queue that cannot answer,
   * gives none.
   */
  function jobsOf(query, cache) {
    // Every queued and running job (MAX_QUEUED_JOBS of them may wait, 100 by default): a limit of
    // 50 left first trainings beyond it off the page (an outside probe: 60 queued, 10 not shown).
    var liveQuery = query.replace(/(^|&)limit=\d+/, '$1limit=1000');
    var live = Promise.all([api('/v1/jobs?state=running&' + liveQuery), api('/v1/jobs?state=queued&' + liveQuery)]);
    return live
      .then(function (answers) {
        var now = answers[0].jobs.concat(answers[1].jobs);
        var ids = {};
        now.forEach(function (j) {
          ids[j.id] = true;
        });
        var ended = cache.live.some(function (id) {
          return !ids[id];
        });
        cache.live = Object.keys(ids);
        if (ended) cache.endedAt = Date.now();
        var rest =
          !ended && Date.now() - cache.at < VERSIONS_REFRESH_MS
            ? Promise.resolve(cache.rest)
            : Promise.all([api('/v1/jobs?' + query), cache.failed ? api('/v1/jobs?state=failed&' + cache.failed) : { jobs: [] }]).then(function (lists) {
                // Failed ones read apart too (the models page): newer jobs of other models, say 50
                // retrains that changed nothing, would otherwise push a failed first training off the list.
                var listed = {};
                lists[0].jobs.forEach(function (j) {
                  listed[j.id] = true;
                });
                cache.at = Date.now();
                cache.rest = lists[0].jobs.concat(
                  lists[1].jobs.filter(function (j) {
                    return !listed[j.id];
                  }),
                );
                return cache.rest;
              });
        return rest.then(function (jobs) {
          // Those the last full read saw queued or running are as the fresh lists have them now.
          var finished = jobs.filter(function (j) {
            return !ids[j.id] && j.state !== 'queued' && j.state !== 'running';
          });
          return now.concat(finished).sort(function (a, b) {
            return Date.parse(b.createdAt) - Date.parse(a.createdAt);
          });
        });
      })
      .catch(function (e) {
        hintFailed(e);
        return [];
      });
  }

  /**
   * What {@link jobsOf} last read for the models page, and its query of failed jobs besides: the
   * API's most (another model's retrains failing again and again would push a failed first
   * training out of fewer).
   */
  var indexJobs = { at: 0, live: [], rest: [], endedAt: 0, failed: 'limit=1000' };

  function refreshIndex() {
    // The job list only adds models in their first training.
    var jobs = jobsOf('limit=50', indexJobs).then(function (list) {
      return { jobs: list };
    });
    // A datasets read that fails (its folder or store away) is said in its own section: the models
    // table, read from elsewhere, goes on refreshing (an outside probe: it stopped with it).
    var datasetsRead = api('/v1/datasets').catch(function (e) {
      hintFailed(e);
      return { failure: e && e.message ? e.message : String(e) };
    });
    return Promise.all([api('/v1/console'), datasetsRead, jobs]).then(function (answers) {
      main.classList.remove('locked');
      var models = answers[0].models;
      refill(byId('models-table').querySelector('tbody'), function (body) {
        drawModelRows(body, models, answers[0].access);
      });
      var pending = drawPending(models, answers[2].jobs);
      var empty = byId('models-empty');
      empty.hidden = models.length > 0;
      var parts = [];
      if (pending.training > 0) parts.push(pending.training + (pending.training === 1 ? ' is' : ' are') + ' in training');
      if (pending.failed > 0) parts.push(pending.failed + (pending.failed === 1 ? ' failed its' : ' failed their') + ' first training');
      empty.textContent = parts.length > 0 ? 'No model has a version yet: ' + parts.join(', ') + ' (below).' : 'No models yet: upload a dataset and train one (see the API page).';
      var datasets = clear(byId('datasets-table').querySelector('tbody'));
      var failure = byId('datasets-failure');
      failure.hidden = !answers[1].failure;
      failure.textContent = answers[1].failure ? 'Datasets could not be read: ' + answers[1].failure + '.' : '';
      (answers[1].datasets || []).forEach(function (d) {
        datasets.appendChild(h('tr', null, h('th', { scope: 'row', text: d.name }), h('td', { text: String(d.rows) }), h('td', { text: columnList(d.columns) }), h('td', { text: when(d.updatedAt) })));
      });
      setUpdated();
    });
  }

  /** How long a model whose first training failed stays listed: a day to read why. */
  var FAILED_LISTED_MS = 24 * 3600 * 1000;

  /**
   * Whether a failed first training still stands for its model: not when the model was deleted
   * (MODEL_DELETED: it is gone), nor a day after it failed (cancelled or not): a model without a
   * version cannot be deleted, so nothing else would take it off the list.
   */
  function stillPending(job) {
    if (job.error && job.error.code === 'MODEL_DELETED') return false;
    var at = Date.parse(job.finishedAt || job.createdAt);
    return !Number.isFinite(at) || Date.now() - at <= FAILED_LISTED_MS;
  }

  /**
   * Models that have no version yet, from their newest training job: queued, running, or how it
   * failed (within a day, cancelled or not: {@link stillPending}). Each links to its page, which
   * follows the job.
   */
  function drawPending(models, jobs) {
    // No prototype: a model named toString or constructor is not already seen.
    var seen = Object.create(null);
    models.forEach(function (m) {
      seen[m.name] = true;
    });
    var pending = [];
    jobs.forEach(function (j) {
      var name = j.payload.model;
      if (seen[name]) return;
      seen[name] = true;
      if (j.state === 'completed' || (j.state === 'failed' && !stillPending(j))) return;
      pending.push(j);
    });
    byId('pending').hidden = pending.length === 0;
    refill(byId('pending-list'), function (list) {
      pending.forEach(function (j) {
        var state = j.state === 'failed' ? 'its last training failed: ' + (j.error ? j.error.code : 'no reason given') : 'training, job ' + j.id + ' ' + j.state;
        list.appendChild(h('li', null, h('a', { href: '/ui/models/' + encodeURIComponent(j.payload.model), 'data-key': j.payload.model }, j.payload.model), document.createTextNode(': ' + state)));
      });
    });
    var failed = pending.filter(function (j) {
      return j.state === 'failed';
    }).length;
    return { training: pending.length - failed, failed: failed };
  }

  function drawModelRows(body, models, access) {
    models.forEach(function (m) {
      // Kept back: nothing served, so no training time or AUC of a served version (the candidates' are on its page).
      var unserved = m.version === null && !m.damaged;
      var link = h('a', { href: '/ui/models/' + encodeURIComponent(m.name), 'data-key': m.name }, m.name);
      body.appendChild(
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, link),
          h('td', { text: m.version === null ? 'none: candidate ' + m.candidate + ' kept back (' + (mayPromote(access) ? 'promote it' : 'an admin key can promote it') + ' on its page)' : m.version }),
          h('td', { text: m.damaged ? 'damaged: ' + m.damaged : m.createdAt ? when(m.createdAt) : unserved ? 'none served' : 'n/a' }),
          h('td', { text: m.valAuc === undefined ? (unserved ? 'none served' : 'n/a') : num(m.valAuc, 3) }),
          h('td', { text: String(m.scored) }),
          h('td', { text: m.scored ? pct(m.flagged / m.scored) : 'n/a' }),
          h('td', { text: m.psi === null ? 'n/a' : num(m.psi, 3) }),
        ),
      );
    });
  }

  /** Whether the user holds a text selection on the page, which a redraw would take away. */
  function selecting() {
    var selection = window.getSelection ? window.getSelection() : null;
    return selection !== null && !selection.isCollapsed && selection.toString().length > 0;
  }

  /**
   * Runs `step` now and every REFRESH_MS; stops asking while a key is needed. It skips a refresh
   * while text is selected (a redraw took the selection away within 5 s: a version id or a flagged
   * record's values could not be copied), and asks nothing while the tab is in the background,
   * refreshing at once when it is shown again.
   */
  function every(step) {
    var timer = null;
    var asleep = false;
    // A step in flight, and whether start() came meanwhile: it runs again once that one ends,
    // instead of starting a second loop beside it (two loops asked for everything twice).
    var busy = false;
    var again = false;
    // When the refreshes began to wait for a selection to end: after SELECTION_PAUSE_MS they go on.
    var pausedAt = null;
    function later() {
      timer = setTimeout(tick, REFRESH_MS);
    }
    function tick() {
      timer = null;
      if (document.hidden) {
        asleep = true;
        return;
      }
      if (selecting()) {
        if (pausedAt === null) pausedAt = Date.now();
        if (Date.now() - pausedAt < SELECTION_PAUSE_MS) {
          setStatus('Refresh paused while text is selected.' + (updatedAt ? ' Shown as of ' + updatedAt + '.' : ''));
          return later();
        }
      } else {
        pausedAt = null;
      }
      busy = true;
      step().then(
        function () {
          ended(null);
        },
        function (e) {
          failed(e);
          ended(e);
        },
      );
    }
    function ended(e) {
      busy = false;
      if (again) {
        again = false;
        return tick();
      }
      if (!(e instanceof NeedKey)) later();
    }
    document.addEventListener('visibilitychange', function () {
      if (document.hidden || !asleep) return;
      asleep = false;
      tick();
    });
    return function start() {
      asleep = false;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (busy) again = true;
      else tick();
    };
  }

  function run() {
    if (report) {
      drawModel(report.console);
      drawVersions(report.console.name, report.versions, 'report');
      setStatus(
        report.source.file === null
          ? 'Report of the model alone (no data file scored: nce-ood report --data FILE.csv adds one), made ' + when(report.source.createdAt) + '.'
          : 'Report of ' + report.source.file + ' (' + report.source.rows + ' rows), made ' + when(report.source.createdAt) + '.',
      );
      return;
    }
    var start;
    if (pageKind === 'model') {
      var name = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop());
      byId('title').textContent = name;
      start = every(function () {
        return refreshModel(name, false);
      });
    } else if (pageKind === 'index') {
      start = every(refreshIndex);
    } else {
      return;
    }
    setUpKeyForm(start);
    if (authRequired && !apiKey()) keyFirst('');
    else start();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
  else run();
})();
