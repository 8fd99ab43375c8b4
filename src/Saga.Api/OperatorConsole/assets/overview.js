// The overview, live: polls the figures the server computes once per refresh for every browser, and updates the
// page the server wrote (counts, facts, the table of buckets) in place, with two SVG charts drawn here.
// No library: two small charts do not need one, and nothing here needs styles or scripts the CSP forbids.
(() => {
  'use strict';
  const section = document.getElementById('overview');
  if (!section) return;
  const source = section.dataset.source;
  const refresh = Math.max(1000, Number(section.dataset.refresh) || 5000);
  const toggle = document.getElementById('live-toggle');
  const svgNs = 'http://www.w3.org/2000/svg';
  let paused = false;
  let timer = 0;
  let failures = 0;
  let busy = false;

  const text = (id, value) => {
    const element = document.getElementById(id);
    if (!element || element.textContent === value) return;
    element.textContent = value;
    // The highlight is an animation in console.css, shown only to those who do not ask for reduced motion.
    element.classList.remove('changed');
    void element.offsetWidth;
    element.classList.add('changed');
  };
  const number = (value) => (value === null || value === undefined ? '—' : String(value));
  const decimal = (value) => (value === null || value === undefined ? '—' : String(Math.round(value * 100) / 100));
  const time = (iso) => new Date(iso).toISOString().replace('T', ' ').replace('Z', ' UTC');

  const svg = (name, attributes, parent) => {
    const element = document.createElementNS(svgNs, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    if (parent) parent.appendChild(element);
    return element;
  };

  // A round ceiling for the y axis: 1, 2 or 5 times a power of ten.
  const ceiling = (max) => {
    if (!(max > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(max)));
    return [1, 2, 5, 10].map((m) => m * power).find((c) => c >= max);
  };

  function draw(figure, buckets, series, bars) {
    const width = 600, height = 170, left = 48, right = 8, top = 10, bottom = 22;
    const values = series.flatMap((s) => buckets.map(s.value)).filter((v) => v !== null && v !== undefined);
    const top_ = ceiling(Math.max(0, ...values));
    const x = (i) => left + (i * (width - left - right)) / buckets.length;
    const y = (v) => top + (height - top - bottom) * (1 - v / top_);
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true', focusable: 'false', class: 'chart-svg' });
    for (const v of [0, top_ / 2, top_]) {
      svg('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'grid' }, root);
      svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, root).textContent = decimal(v);
    }
    svg('text', { x: left, y: height - 6, class: 'axis' }, root).textContent = `−${Math.round((buckets.length * bucketSeconds) / 60)} min`;
    svg('text', { x: width - right, y: height - 6, 'text-anchor': 'end', class: 'axis' }, root).textContent = 'now';
    const step = (width - left - right) / buckets.length;
    series.forEach((s, n) => {
      if (bars) {
        buckets.forEach((b, i) => {
          const v = s.value(b) || 0;
          if (v > 0) svg('rect', { x: x(i) + 1, y: y(v), width: Math.max(1, step - 2), height: y(0) - y(v), class: `series-${n}` }, root);
        });
        return;
      }
      // A line through the buckets that had an ended transfer; a gap where none did.
      let path = '', pen = 'M';
      buckets.forEach((b, i) => {
        const v = s.value(b);
        if (v === null || v === undefined) { pen = 'M'; return; }
        path += `${pen}${(x(i) + step / 2).toFixed(1)},${y(v).toFixed(1)} `;
        pen = 'L';
      });
      if (path) svg('path', { d: path, class: `line series-${n}` }, root);
    });
    const legend = document.createElement('figcaption');
    series.forEach((s, n) => {
      const key = document.createElement('span');
      key.className = `key series-${n}`;
      key.textContent = s.name;
      legend.appendChild(key);
    });
    figure.replaceChildren(root, legend);
  }

  let bucketSeconds = 10;

  function show(overview) {
    text('figures-at', time(overview.at));
    for (const [state, count] of Object.entries(overview.counts)) {
      const row = document.getElementById(`state-${state}`);
      const cell = row && row.querySelector('td.number');
      if (cell && !cell.id) cell.id = `count-${state}`;
      if (cell) text(cell.id, number(count));
    }
    text('figure-check-backs-due', number(overview.checkBacksDue));
    if (!overview.systemWide) return;
    const throughput = overview.throughput;
    const latency = throughput && throughput.latency;
    text('figure-per-second', decimal(throughput && throughput.perSecond));
    text('figure-p50', decimal(latency && latency.p50));
    text('figure-p95', decimal(latency && latency.p95));
    text('figure-p99', decimal(latency && latency.p99));
    text('figure-error-queues', overview.errorQueues ? number(overview.errorQueues.total) : 'unknown');
    if (!throughput) return;
    bucketSeconds = throughput.bucketSeconds;
    const buckets = throughput.buckets;
    const rate = document.getElementById('chart-rate');
    const slow = document.getElementById('chart-latency');
    if (rate) {
      draw(rate, buckets, [{ name: 'ended per second', value: (b) => b.perSecond }], true);
      rate.setAttribute('aria-label', `Transfers ended per second over the last ${throughput.windowSeconds / 60} minutes: ${decimal(throughput.perSecond)} on average`);
    }
    if (slow) {
      const at = (p) => (b) => (b.latency ? b.latency[p] : null);
      draw(slow, buckets, [{ name: 'p50', value: at('p50') }, { name: 'p95', value: at('p95') }, { name: 'p99', value: at('p99') }], false);
      slow.setAttribute('aria-label', latency
        ? `Latency over the last ${throughput.windowSeconds / 60} minutes: p50 ${decimal(latency.p50)} ms, p95 ${decimal(latency.p95)} ms, p99 ${decimal(latency.p99)} ms`
        : 'Latency: no transfer ended in the window');
    }
    const body = document.querySelector('#buckets tbody');
    if (body) {
      body.replaceChildren(...buckets.map((b) => {
        const row = document.createElement('tr');
        const cells = [time(b.start), number(b.finished), decimal(b.perSecond), decimal(b.latency && b.latency.p50),
          decimal(b.latency && b.latency.p95), decimal(b.latency && b.latency.p99)];
        cells.forEach((value, i) => {
          const cell = document.createElement('td');
          if (i > 0) cell.className = 'number';
          cell.textContent = value;
          row.appendChild(cell);
        });
        return row;
      }));
    }
  }

  async function poll() {
    timer = 0;
    if (paused || document.hidden || busy) return;
    busy = true;
    try {
      // 'manual': a signed-out browser's redirect to the sign-in page is not followed as if it were figures.
      const response = await fetch(source, { headers: { Accept: 'application/json' }, credentials: 'same-origin', redirect: 'manual', cache: 'no-store' });
      if (response.type === 'opaqueredirect' || response.status === 401 || response.status === 403) {
        stop('Signed out: live updates stopped. Reload the page to sign in again.');
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      show(await response.json());
      failures = 0;
      section.classList.remove('stale');
    } catch {
      failures++;
      section.classList.add('stale');
    } finally {
      busy = false;
    }
    schedule();
  }

  function schedule() {
    if (!paused && !document.hidden && !timer) timer = window.setTimeout(poll, refresh * Math.min(8, 2 ** failures));
  }

  function stop(message) {
    paused = true;
    if (toggle) {
      toggle.hidden = true;
    }
    const note = document.createElement('p');
    note.className = 'message';
    note.setAttribute('role', 'status');
    note.textContent = message;
    section.prepend(note);
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener('click', () => {
      paused = !paused;
      toggle.setAttribute('aria-pressed', String(paused));
      toggle.textContent = paused ? 'Resume live updates' : 'Pause live updates';
      if (paused && timer) { window.clearTimeout(timer); timer = 0; }
      if (!paused) poll();
    });
  }
  // A tab nobody looks at asks nothing; it catches up when shown again.
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !timer) poll(); });
  section.dataset.live = 'on';
  poll();
})();
