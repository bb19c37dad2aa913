/* The dashboard: renders delivrd's /v1 JSON API, nothing more.

   Every URL is relative (no leading slash), so the page works at / and under any
   reverse-proxy prefix. Aggregates come from v1/stats; the browser never pulls raw
   report rows in bulk. Text from the API is always set as text, never as HTML. */
"use strict";
(function () {
  const I18N = window.DELIVRD_I18N;
  const KEY = "delivrd.key";       // sessionStorage: the API key, for this tab only
  const LANG = "delivrd.lang";     // localStorage: the chosen language
  const stored = localStorage.getItem(LANG);
  let lang = stored && Object.hasOwn(I18N, stored) ? stored : /^zh\b/i.test(navigator.language || "") ? "zh" : "en";
  let renderSeq = 0;               // a newer render makes an older one's late answers moot
  let chart = null;
  let polling = null;              // the timer of the shown page's refresh
  let following = null;            // the AbortController of the shown page's event stream
  const POLL_MS = 3000;            // how often an open page asks whether anything arrived
  const FULL_MS = 30000;           // and reloads its figures anyway (the window moves, pending turns no_receipt)

  // ---------- small helpers ----------

  /** `object[key]` when `object` has `key` itself: a key from data or the URL ("constructor", "__proto__")
      must find nothing rather than what every object inherits. */
  const own = (object, key) => (object && Object.hasOwn(object, key) ? object[key] : undefined);

  function t(key, vars) {
    let text = own(own(I18N, lang), key) || own(I18N.en, key) || key;
    for (const [name, value] of Object.entries(vars || {})) text = text.split("{" + name + "}").join(String(value));
    return text;
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const locale = () => (lang === "zh" ? "zh-CN" : "en");
  const num = (n) => (n === null || n === undefined ? "—" : new Intl.NumberFormat(locale()).format(n));
  const pct = (r) => (r === null || r === undefined ? "—" : (r * 100).toFixed(1) + "%");
  const when = (iso) => (iso ? new Date(iso).toLocaleString(locale()) : "—");

  function duration(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return (ms / 60000).toFixed(1) + " min";
    return (ms / 3600000).toFixed(1) + " h";
  }

  function qs(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== null && value !== undefined) search.set(name, value);
    return search.toString();
  }

  // ---------- the API ----------

  class AuthNeeded extends Error {}
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.errmsg) || "HTTP " + status);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = "Bearer " + key;
    let response;
    try {
      response = await fetch(path, { headers, credentials: "same-origin" });
    } catch (err) {
      throw new Error(t("error.network", { message: err.message }));
    }
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: reported below by status */ }
    if (response.status === 401 && body && body.result === 1008) throw new AuthNeeded();
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  let catalogue = null;  // code → entry, fetched once per page load
  async function receiptCodes() {
    if (!catalogue) catalogue = api("v1/receipt-codes").then(indexCatalogue).catch((err) => { catalogue = null; throw err; });
    return catalogue;
  }

  /** The catalogue (v1/receipt-codes) as a lookup with its own rules: exact code, then a range
      of codes of the same length, then the longest prefix; anything else is `unknown`. */
  function indexCatalogue(data) {
    const exact = new Map(data.codes.map((c) => [c.code, c]));
    const ranges = data.patterns.filter((p) => p.range);
    const prefixes = data.patterns.filter((p) => p.prefix).sort((a, b) => b.prefix.length - a.prefix.length);
    const labels = new Map(data.categories.map((c) => [c.key, c.label]));
    return {
      find(code) {
        if (code === null || code === undefined) return data.unknown;
        return exact.get(code)
          || ranges.find((p) => code.length === p.range[0].length && p.range[0] <= code && code <= p.range[1])
          || prefixes.find((p) => code.startsWith(p.prefix))
          || data.unknown;
      },
      label(category) { return labels.get(category); },
    };
  }

  /** The reader's language of a catalogue text ({"en": …, "zh": …}). */
  const said = (text) => (text ? text[lang] || text.en : "");

  /** A category's name: the catalogue's, or the page's own when the catalogue is unavailable. */
  const categoryName = (category, codes) => (codes && codes.label(category) ? said(codes.label(category)) : t("cat." + category));

  // ---------- shell: routing, language, sign-in ----------

  function route() {
    const hash = location.hash.replace(/^#\/?/, "");
    const [page, query] = hash.split("?");
    return { page: page || "overview", params: new URLSearchParams(query || "") };
  }

  function go(page, params) {
    const query = qs(params || {});
    const hash = "#/" + (page === "overview" ? "" : page) + (query ? "?" + query : "");
    if (location.hash === hash) render();  // the same again: no hashchange, so ask for fresh figures
    else location.hash = hash;
  }

  function setTwin(path) {
    const twin = document.getElementById("twin");
    twin.href = path;
    twin.textContent = path;
  }

  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    const toggle = document.getElementById("lang");
    toggle.textContent = lang === "zh" ? "English" : "中文";
    toggle.lang = lang === "zh" ? "en" : "zh";
    document.getElementById("signout").hidden = !sessionStorage.getItem(KEY);
  }

  function showLogin(main, wrong) {
    const input = h("input", { type: "password", id: "api-key", autocomplete: "current-password", required: true });
    main.replaceChildren(h("form", {
      class: "login panel",
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        render();
      },
    },
    h("h2", {}, t("auth.title")),
    h("p", { class: "muted" }, t("auth.help")),
    wrong ? h("p", { class: "error", role: "alert" }, t("auth.wrong")) : null,
    h("label", { for: "api-key" }, t("auth.key")), input,
    h("button", { class: "primary", type: "submit" }, t("auth.submit"))));
    input.focus();
  }

  function showError(main, err) {
    const message = err instanceof ApiError ? t("error.api", { status: err.status, message: err.message }) : err.message;
    main.replaceChildren(h("p", { class: "error", role: "alert" }, message));
  }

  /** Show the page the address names. A page answers { view, refresh }: refresh, when given, updates the view
      in place while it is shown (polled every POLL_MS while the tab is visible; never two at once). */
  async function render() {
    const seq = ++renderSeq;
    const current = () => seq === renderSeq;
    const main = document.getElementById("main");
    const { page, params } = route();
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
    applyLanguage();
    clearTimeout(polling);
    if (following) { following.abort(); following = null; }
    if (chart) { chart.destroy(); chart = null; }
    const pages = { overview, search, rejects, live };
    try {
      const shown = await (own(pages, page) || overview)(params, current);
      if (!current() || !shown) return;
      // what the reader is typing in the search box survives a view that arrives meanwhile
      const typing = document.activeElement && document.activeElement.id === "q" ? document.activeElement.value : null;
      main.replaceChildren(shown.view);
      const box = document.getElementById("q");
      if (typing !== null && box && box.value !== typing) { box.value = typing; box.focus(); }
      if (shown.refresh) poll(shown.refresh, current);
    } catch (err) {
      if (!current()) return;
      if (err instanceof AuthNeeded) showLogin(main, Boolean(sessionStorage.getItem(KEY)));
      else showError(main, err);
    }
    applyLanguage();
  }

  function poll(refresh, current) {
    const again = () => { if (current()) polling = setTimeout(tick, POLL_MS); };
    async function tick() {
      if (!current()) return;
      if (document.hidden) { again(); return; }  // a hidden tab asks nothing; it refreshes when shown again
      try {
        await refresh();
      } catch (err) {
        if (err instanceof AuthNeeded && current()) { render(); return; }  // the key changed: ask for it
        // anything else (delivrd restarting, the network): keep what is shown and try again
      }
      again();
    }
    again();
  }

  // ---------- overview ----------

  const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };

  /** Seconds per bucket of the chart. */
  const STEP = { minute: 60, hour: 3600, day: 86400 };

  /** The chosen range as ISO times, and the bucket that gives a readable chart for it: minutes up to 3 hours
      (from v1/activity, which counts them), hours up to 8 days, days beyond (from v1/stats). A named range
      ends now, so each call moves it on. */
  function chosenRange(params) {
    const now = Date.now();
    let since, until, range = params.get("range") || "24h";
    if (params.get("since")) {
      range = "custom";
      since = new Date(params.get("since"));
      until = params.get("until") ? new Date(params.get("until")) : new Date(now);
    } else {
      if (!own(RANGES, range)) range = "24h";
      until = new Date(now);
      since = new Date(now - RANGES[range]);
    }
    const span = until - since;
    const by = span <= 3 * 3600e3 ? "minute" : span <= 8 * 86400e3 ? "hour" : "day";
    return { range, since: since.toISOString(), until: until.toISOString(), by };
  }

  function rangePicker(chosen) {
    const localInput = (iso) => {
      const d = new Date(iso);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    };
    const since = h("input", { type: "datetime-local", name: "since", value: localInput(chosen.since), "aria-label": t("range.since") });
    const until = h("input", { type: "datetime-local", name: "until", value: localInput(chosen.until), "aria-label": t("range.until") });
    const form = h("form", {
      hidden: chosen.range !== "custom",
      onsubmit: (event) => {
        event.preventDefault();
        const s = new Date(since.value), u = new Date(until.value);
        if (!(s < u)) { form.append(h("span", { class: "error" }, t("range.bad"))); return; }
        go("overview", { since: s.toISOString(), until: u.toISOString() });
      },
    }, t("range.since"), since, t("range.until"), until, h("button", { type: "submit" }, t("range.apply")));
    const buttons = Object.keys(RANGES).map((name) => h("button", {
      type: "button", "data-range": name, "aria-pressed": String(chosen.range === name),
      onclick: () => go("overview", { range: name }),
    }, t("range." + name)));
    const custom = h("button", {
      type: "button", "data-range": "custom", "aria-pressed": String(chosen.range === "custom"),
      onclick: () => { form.hidden = false; },
    }, t("range.custom"));
    return h("div", { class: "ranges" }, buttons, custom, form);
  }

  function card(testid, label, value, extra) {
    return h("div", { class: "card panel " + ((extra && extra.wide) ? "wide" : "") },
      h("div", { class: "label" }, label),
      h("div", { class: "value " + ((extra && extra.tone) || ""), "data-testid": testid, "data-ago": extra && extra.ago }, value),
      extra && extra.note ? h("div", { class: "note" }, extra.note) : null);
  }

  /** A latency bar `percent` wide: set through the style object, as the page's CSP forbids style attributes. */
  function bar(percent) {
    const fill = h("div", { class: "fill" });
    fill.style.width = percent + "%";
    return fill;
  }

  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
    if (seconds < 60) return rtf.format(-Math.round(seconds), "second");
    if (seconds < 3600) return rtf.format(-Math.round(seconds / 60), "minute");
    if (seconds < 86400) return rtf.format(-Math.round(seconds / 3600), "hour");
    return rtf.format(-Math.round(seconds / 86400), "day");
  }

  /** A table of `rows`, and a button that downloads the same rows as CSV. A column: { label (an i18n key),
      cell(row) → text or node, num (right-aligned), csv(row) → the plain value when the cell formats it }. */
  function table(columns, rows, testid, wide, csvName) {
    if (!rows.length) return h("p", { class: "muted" }, t("none"));
    return h("div", {},
      h("div", { class: "scroll" }, h("table", { "data-testid": testid, class: wide ? "wide" : null },
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, t(c.label))))),
        h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(row)))))))),
      csvButton(testid, () => csvRows(columns, rows), csvName || testid));
  }

  function csvRows(columns, rows) {
    const text = (value) => (value instanceof Node ? value.textContent : value === null || value === undefined ? "" : String(value));
    return [columns.map((c) => t(c.label)), ...rows.map((row) => columns.map((c) => text(c.csv ? c.csv(row) : c.cell(row))))];
  }

  /** One CSV field: quoted when it holds a separator, a quote or a line break; text a spreadsheet would run as a
      formula (= + - @ first) is kept as text by a leading apostrophe. */
  function csvField(value) {
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?%?$/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function csvButton(testid, rows, name) {
    return h("div", { class: "csv" }, h("button", {
      type: "button", "data-testid": testid + "-csv",
      onclick: () => {
        // UTF-8 with a byte-order mark, which spreadsheets need to read Chinese labels right
        const text = "\ufeff" + rows().map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
        const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
        const link = h("a", { href: url, download: "delivrd-" + name + ".csv", hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      },
    }, t("csv.download")));
  }

  // Calling code → ISO region, for a country name in the reader's language (Intl.DisplayNames).
  const REGIONS = {
    1: "US", 7: "RU", 20: "EG", 27: "ZA", 33: "FR", 34: "ES", 39: "IT", 44: "GB", 49: "DE", 52: "MX", 55: "BR",
    60: "MY", 61: "AU", 62: "ID", 63: "PH", 64: "NZ", 65: "SG", 66: "TH", 81: "JP", 82: "KR", 84: "VN", 86: "CN",
    90: "TR", 91: "IN", 92: "PK", 95: "MM", 234: "NG", 852: "HK", 853: "MO", 855: "KH", 856: "LA", 880: "BD",
    886: "TW", 966: "SA", 971: "AE",
  };
  function country(code) {
    if (code === null || code === undefined || code === "") return "—";
    const region = own(REGIONS, code);
    if (!region || !Intl.DisplayNames) return "+" + code;
    return "+" + code + " " + new Intl.DisplayNames([locale()], { type: "region" }).of(region);
  }

  /** Tick spacings to choose from, in seconds: whole minutes, hours and days of the reader's clock. */
  const INCREMENTS = [60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400];

  /** The x-axis ticks of [min, max] (seconds) for a plot `width` px wide, and their labels, far enough apart to be read,
      on the reader's whole minutes, hours or midnights; the time alone where it is enough, the date too on the
      first tick, where the day changes and wherever the time alone would repeat, the date alone for days. Every
      label is different, so none reads as another moment. */
  function xTicks(min, max, width) {
    const span = max - min;
    const room = (step) => Math.max(2, Math.floor(width / (step >= 86400 ? 45 : 65)));  // a date is narrower than a time
    const fits = INCREMENTS.filter((step) => span / step <= room(step) && (step >= 86400 || span <= 3 * 86400));
    const step = fits.length ? fits[0] : INCREMENTS[INCREMENTS.length - 1];
    const at = [];
    if (step < 86400) {
      const minutes = step / 60;
      const aligned = (t) => { const d = new Date(t * 1000); return (d.getHours() * 60 + d.getMinutes()) % minutes === 0; };
      let t = Math.ceil(min / 60) * 60;
      while (t <= max && !aligned(t)) t += 60;
      while (t <= max) {
        at.push(t);
        t += step;
        while (t <= max && !aligned(t)) t += 60;  // a clock change moved the reader's whole hours
      }
    } else {
      const d = new Date(min * 1000);
      d.setHours(0, 0, 0, 0);
      if (d.getTime() / 1000 < min) d.setDate(d.getDate() + 1);
      for (; d.getTime() / 1000 <= max; d.setDate(d.getDate() + step / 86400)) at.push(d.getTime() / 1000);
    }
    const dates = at.map((t) => new Date(t * 1000));
    const years = new Set(dates.map((d) => d.getFullYear()));
    const dateOf = (d) => d.toLocaleDateString(locale(), years.size > 1 ? { year: "numeric", month: "numeric", day: "numeric" } : { month: "numeric", day: "numeric" });
    const timeOf = (d) => d.toLocaleTimeString(locale(), step % 3600 === 0 ? { hour: "numeric" } : { hour: "numeric", minute: "2-digit" });
    const seen = new Set();
    const labels = dates.map((d, i) => {
      if (step >= 86400) return dateOf(d);
      const time = timeOf(d);
      let label = i === 0 || dateOf(d) !== dateOf(dates[i - 1]) ? dateOf(d) + "\n" + time : time;
      if (seen.has(label)) label = dateOf(d) + "\n" + time;
      seen.add(label);
      return label;
    });
    return { at, labels };
  }

  /** The chart's columns: one bar per bucket of the whole range (empty ones too, so every bar is one bucket
      wide), in the middle of its bucket, and the success rate where there is one. */
  function chartData(groups, chosen) {
    if (chosen.by === "day" && chosen.zone) return dayData(groups, chosen);
    const step = STEP[chosen.by];
    const from = Math.floor(Date.parse(chosen.since) / 1000 / step) * step;  // whole buckets at both ends
    const to = Math.ceil(Date.parse(chosen.until) / 1000 / step) * step;
    const byStart = new Map(groups.map((g) => [Date.parse(g.key) / 1000, g]));
    const xs = [], totals = [], rates = [];
    for (let start = from; start < to && xs.length < 5000; start += step) {
      const g = byStart.get(start);
      xs.push(start + step / 2);
      totals.push(g ? g.total : 0);
      rates.push(g && g.success_rate !== null ? g.success_rate * 100 : null);
    }
    return { from, to, step, filled: groups.filter((g) => g.total > 0).length, columns: [xs, totals, rates], starts: byStart };
  }

  /** Seconds the clock of `zone` (IANA) is ahead of UTC at the moment `seconds`. */
  function zoneOffset(zone, seconds) {
    const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
      .formatToParts(new Date(seconds * 1000)).find((p) => p.type === "timeZoneName").value;  // "GMT+08:00", "GMT"
    const m = /GMT([+-])(\d\d):(\d\d)/.exec(name);
    return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
  }

  /** Days as v1/stats counts them: from midnight to midnight in the zone its answer names (the server's
      --timezone), keyed by their date there; each bar starts at its day's first moment. */
  function dayData(groups, chosen) {
    const zone = chosen.zone;
    const start = (date) => {  // the first moment of `date` (YYYY-MM-DD) in the zone
      const naive = Date.parse(date + "T00:00:00Z") / 1000;
      return naive - zoneOffset(zone, naive - zoneOffset(zone, naive));
    };
    const next = (date) => new Date(Date.parse(date + "T00:00:00Z") + 86400e3).toISOString().slice(0, 10);
    const dateIn = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
    const byDate = new Map(groups.map((g) => [g.key, g]));
    const until = Date.parse(chosen.until) / 1000;
    let date = dateIn.format(new Date(chosen.since)), at = start(date);
    const from = at, xs = [], totals = [], rates = [], starts = new Map();
    while (at < until && xs.length < 5000) {
      const g = byDate.get(date), following = next(date), end = start(following);
      if (g) starts.set(at, g);
      xs.push((at + end) / 2);
      totals.push(g ? g.total : 0);
      rates.push(g && g.success_rate !== null ? g.success_rate * 100 : null);
      date = following;
      at = end;
    }
    return { from, to: at, step: STEP.day, filled: groups.filter((g) => g.total > 0).length, columns: [xs, totals, rates], starts };
  }

  /** Steps of the messages axis: whole messages only. */
  const COUNT_STEPS = [1, 2, 5].flatMap((n) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7].map((p) => n * p)).sort((a, b) => a - b);

  /** Draw the chart, or update the one drawn (no flicker: uPlot redraws its canvas in place). */
  function drawChart(holder, groups, chosen) {
    const data = chartData(groups, chosen);
    holder.dataset.bucket = chosen.by;
    holder.dataset.points = String(data.filled);
    // each bar with messages: when its bucket starts (UTC) and how many; for tests and tools, as data-ticks
    holder.dataset.bars = JSON.stringify([...data.starts].filter(([, g]) => g.total > 0)
      .map(([at, g]) => [new Date(at * 1000).toISOString(), g.total]));
    if (!data.filled || !window.uPlot) {
      if (chart) { chart.destroy(); chart = null; }
      holder.replaceChildren(h("p", { class: "muted" }, t("chart.empty")));
      holder.dataset.ticks = "[]";
      return;
    }
    holder.frame = data;  // the scale and the ticks read the range from here, so setData moves them along
    if (chart && chart.root.parentNode === holder) { chart.setData(data.columns); return; }
    if (chart) chart.destroy();
    holder.replaceChildren();
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim();
    const axis = { stroke: color("--muted"), grid: { stroke: color("--line"), width: 1 }, ticks: { stroke: color("--line") } };
    let ticks = { at: [], labels: [] };
    chart = new window.uPlot({
      width: Math.max(240, holder.clientWidth), height: 240,
      scales: { x: { time: true, range: () => [holder.frame.from, holder.frame.to] }, n: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] }, pct: { range: [0, 100] } },
      axes: [
        {
          ...axis, size: 52,
          // the plot's width: the holder's less the two value axes (uPlot's own is not settled when it asks)
          splits: () => { ticks = xTicks(holder.frame.from, holder.frame.to, holder.clientWidth - 130); return ticks.at; },
          // the labels as drawn, kept on the holder: the canvas shows them to people, this to tests and tools
          values: (u, splits) => { holder.dataset.ticks = JSON.stringify(ticks.labels); return splits.map((v) => ticks.labels[ticks.at.indexOf(v)] || ""); },
        },
        { ...axis, scale: "n", size: 64, incrs: COUNT_STEPS, values: (u, values) => values.map((v) => num(v)) },
        { ...axis, scale: "pct", side: 1, grid: { show: false }, values: (u, values) => values.map((v) => v + "%") },
      ],
      series: [
        { label: t("chart.time"), value: (u, v) => (v === null ? "—" : new Date((v - holder.frame.step / 2) * 1000).toLocaleString(locale())) },
        { label: t("chart.volume"), scale: "n", fill: color("--bar"), stroke: color("--bar"), paths: window.uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false }, value: (u, v) => num(v) },
        { label: t("chart.rate"), scale: "pct", stroke: color("--ok"), width: 2, points: { show: true }, spanGaps: true, value: (u, v) => (v === null ? "—" : v.toFixed(1) + "%") },
      ],
    }, data.columns, holder);
  }

  /** Everything the overview shows, fetched at once. Totals and groups from v1/stats (three queries, each over
      the whole range: failures by category are summed here from the per-code groups, as by=category does);
      the chart's minutes, the last callback and the counters from v1/activity. */
  async function overviewData(chosen) {
    const base = { since: chosen.since, until: chosen.until };
    const stats = (by) => api("v1/stats?" + qs({ ...base, by }));
    const minutes = chosen.by === "minute";
    const [series, errmsgs, countries, activity, codes] = await Promise.all([
      stats(minutes ? null : chosen.by), stats("errmsg"), stats("nationcode"),
      api("v1/activity" + (minutes ? "?" + qs(base) : "")),
      receiptCodes().catch(() => null),  // explanations are a bonus: the numbers stand without them
    ]);
    return { series, errmsgs, countries, activity, codes, groups: minutes ? activity.minutes : series.groups };
  }

  /** What v1/activity says has arrived: when it changes, the figures are worth reloading. */
  const arrivals = (a) => JSON.stringify([a.last_callback, a.inbox, a.reports, a.report_duplicates, a.replies, a.rejects, a.refused_callbacks]);

  async function overview(params, current) {
    let chosen = chosenRange(params);
    let data = await overviewData(chosen);
    chosen.zone = data.series.timezone;  // days start at midnight in the server's zone (--timezone)
    if (!current()) return null;
    const twin = () => setTwin(chosen.by === "minute" ? "v1/activity?" + qs({ since: chosen.since, until: chosen.until })
      : "v1/stats?" + qs({ since: chosen.since, until: chosen.until, by: chosen.by }));
    twin();
    // the panels are filled, and on each refresh filled again in place: the page around them stays as it is
    const slots = {
      cards: h("section", { class: "cards", "aria-label": t("nav.overview") }),
      chart: h("div", { class: "chart", "data-testid": "chart" }),
      categories: h("div", {}), latency: h("div", {}), codes: h("div", {}), countries: h("div", {}),
    };
    const fill = () => {
      const { series, errmsgs, countries, activity, codes } = data;
      const last = activity.last_callback;
      slots.cards.replaceChildren(
        card("total", t("card.total"), num(series.total)),
        card("delivered", t("card.delivered"), num(series.delivered), { tone: "good" }),
        card("failed", t("card.failed"), num(series.failed), { tone: series.failed ? "bad" : "" }),
        card("pending", t("card.pending"), num(series.pending)),
        card("no-receipt", t("card.no_receipt"), num(series.no_receipt), { tone: series.no_receipt ? "warn" : "" }),
        card("success-rate", t("card.success_rate"), pct(series.success_rate)),
        // authenticated callbacks only; requests refused for their token or source are counted apart, as a warning
        card("last-callback", t("card.last_callback"), last ? ago(last.received_at) : "—", {
          wide: true, tone: last && !activity.refused_callbacks ? "" : "warn", ago: last ? last.received_at : null,
          note: (last ? when(last.received_at) + " · " + t("card.outcome", { route: last.route, outcome: last.outcome, items: last.items }) : t("card.never"))
            + (activity.refused_callbacks ? " · " + t("card.refused", { n: num(activity.refused_callbacks) }) : ""),
        }),
        card("duplicates", t("card.duplicates"), num(activity.report_duplicates), { note: t("card.all_time") }),
        card("rejects", t("card.rejects"), num(activity.rejects), { note: t("card.all_time"), tone: activity.rejects ? "warn" : "" }));

      const byCategory = new Map();
      for (const g of errmsgs.groups) {
        if (!g.failed) continue;
        const category = codes ? codes.find(g.key).category : "unknown";
        byCategory.set(category, (byCategory.get(category) || 0) + g.failed);
      }
      const failing = [...byCategory].map(([key, failed]) => ({ key, failed })).sort((a, b) => b.failed - a.failed);
      const failedTotal = series.failed;
      const topCodes = errmsgs.groups.filter((g) => g.failed > 0).sort((a, b) => b.failed - a.failed).slice(0, 10);
      const byCountry = countries.groups.slice().sort((a, b) => b.total - a.total);
      const latency = series.latency_ms || {};
      const p99 = latency.p99 || 0;
      const named = (name) => name + "-" + chosen.since.slice(0, 16).replace(/:/g, "") + "Z-" + chosen.until.slice(0, 16).replace(/:/g, "") + "Z";
      slots.categories.replaceChildren(table([
        { label: "col.category", cell: (g) => categoryName(g.key || "unknown", codes) },
        { label: "col.failed", num: true, cell: (g) => num(g.failed), csv: (g) => g.failed },
        { label: "col.share", num: true, cell: (g) => pct(failedTotal ? g.failed / failedTotal : null) },
      ], failing, "categories", false, named("categories")));
      slots.latency.replaceChildren(latency.p50 === null || latency.p50 === undefined
        ? h("p", { class: "muted" }, t("latency.none"))
        : h("div", { class: "latency", "data-testid": "latency" }, ["p50", "p90", "p99"].map((q) => [
          h("span", {}, q),
          h("div", { class: "track" }, bar(p99 ? Math.max(2, (100 * latency[q]) / p99) : 0)),
          h("span", { class: "num" }, duration(latency[q])),
        ])));
      slots.codes.replaceChildren(table([
        { label: "col.code", cell: (g) => h("code", {}, g.key === null ? "—" : g.key) },
        { label: "col.category", cell: (g) => (codes ? categoryName(codes.find(g.key).category, codes) : "") },
        { label: "col.failed", num: true, cell: (g) => num(g.failed), csv: (g) => g.failed },
        { label: "col.explanation", cell: (g) => (codes ? said(codes.find(g.key).explanation) : "") },
        { label: "col.action", cell: (g) => (codes ? said(codes.find(g.key).action) : "") },
      ], topCodes, "codes", true, named("codes")));
      slots.countries.replaceChildren(table([
        { label: "col.country", cell: (g) => country(g.key) },
        { label: "col.rate", num: true, cell: (g) => pct(g.success_rate) },
        { label: "col.total", num: true, cell: (g) => num(g.total), csv: (g) => g.total },
        { label: "col.delivered", num: true, cell: (g) => num(g.delivered), csv: (g) => g.delivered },
        { label: "col.failed", num: true, cell: (g) => num(g.failed), csv: (g) => g.failed },
      ], byCountry, "countries", false, named("countries")));
    };
    fill();

    const view = h("div", {},
      rangePicker(chosen),
      slots.cards,
      h("div", { class: "grid" },
        h("section", { class: "panel full" }, h("h2", {}, t("chart.title")), slots.chart),
        h("section", { class: "panel" }, h("h2", {}, t("fail.title")), slots.categories),
        h("section", { class: "panel" }, h("h2", {}, t("latency.title")), slots.latency),
        h("section", { class: "panel full" }, h("h2", {}, t("codes.title")), slots.codes),
        h("section", { class: "panel full" }, h("h2", {}, t("country.title")), slots.countries)));
    // uPlot measures its holder, so draw once the view is in the page.
    requestAnimationFrame(() => { if (current()) drawChart(slots.chart, data.groups, chosen); });

    let seen = arrivals(data.activity), loadedAt = Date.now();
    async function refresh() {
      const activity = await api("v1/activity");
      if (!current()) return;
      if (arrivals(activity) === seen && Date.now() - loadedAt < FULL_MS) return;
      const next = chosenRange(params);  // a named range moves on with the clock
      const fresh = await overviewData(next);
      if (!current()) return;
      chosen = next;
      chosen.zone = fresh.series.timezone;
      data = fresh;
      seen = arrivals(fresh.activity);
      loadedAt = Date.now();
      twin();
      fill();
      drawChart(slots.chart, data.groups, chosen);
    }
    return { view, refresh };
  }

  // ---------- search ----------

  function stateBadge(state) {
    const tone = own({ delivered: "good", failed: "bad", no_receipt: "warn" }, state) || "";
    return h("span", { class: "badge " + tone, "data-testid": "state" }, t("state." + state));
  }

  function receiptItem(report, codes) {
    const entry = codes ? codes.find(report.errmsg) : null;
    const ok = report.report_status === "SUCCESS";
    return h("li", { class: ok ? "delivered" : "failed", "data-testid": "receipt" },
      h("div", {}, h("strong", {}, t("msg.receipt")), " ", h("code", {}, report.errmsg || "—"), " · ",
        categoryName(entry ? entry.category : ok ? "delivered" : "unknown", codes),
        report.duplicates ? h("span", { class: "muted" }, " · " + t("msg.duplicates", { n: report.duplicates })) : null),
      h("div", { class: "muted" }, t("msg.handset") + ": " + when(report.user_receive_at) + " · " + t("msg.received") + ": " + when(report.received_at)),
      entry && entry.code !== null ? h("div", {}, said(entry.explanation)) : report.description ? h("div", {}, report.description) : null,
      entry && !ok ? h("div", { class: "muted" }, "→ " + said(entry.action)) : null);
  }

  function messageView(message, codes) {
    const send = message.send;
    const reports = (message.reports || []).slice().sort((a, b) => (a.received_at < b.received_at ? -1 : 1));
    const sentAt = send && (send.sent_at || send.SentAt);
    return h("article", { class: "message panel", "data-testid": "message" },
      h("div", {}, h("code", {}, message.sid || "—"), " ", stateBadge(message.state)),
      h("dl", {},
        send ? [
          h("dt", {}, t("msg.phone")), h("dd", {}, send.phone || send.PhoneNumber || "—"),
          h("dt", {}, t("msg.template")), h("dd", {}, send.template_id || send.TemplateId || "—"),
          h("dt", {}, t("msg.sign")), h("dd", {}, send.sign_name || send.SignName || "—"),
        ] : [h("dt", {}, t("msg.phone")), h("dd", {}, (reports[0] && reports[0].phone) || "—")],
        message.latency_ms === null || message.latency_ms === undefined ? null
          : [h("dt", {}, t("msg.latency")), h("dd", {}, duration(message.latency_ms))]),
      h("ol", { class: "timeline" },
        send ? h("li", { "data-testid": "sent" }, h("strong", {}, t("msg.send")), " ", h("span", { class: "muted" }, when(sentAt)))
          : h("li", { class: "muted" }, t("msg.nosend")),
        reports.map((r) => receiptItem(r, codes))));
  }

  /** Digits typed as a phone number (spaces, dashes, dots and brackets allowed): "+" and the digits when typed
      with "+", else the digits alone, which delivrd reads with its --default-country. Otherwise null. */
  function typedPhone(q) {
    if (!/^\+?[\d\s().-]{6,}$/.test(q) || !/\d{6}/.test(q.replace(/\D/g, ""))) return null;
    return (q.startsWith("+") ? "+" : "") + q.replace(/\D/g, "");
  }

  async function search(params, current) {
    const q = (params.get("q") || "").trim();
    const input = h("input", { type: "search", name: "q", id: "q", value: q, placeholder: t("search.placeholder"), autocomplete: "off" });
    const form = h("form", {
      class: "search", role: "search",
      onsubmit: (event) => { event.preventDefault(); go("search", { q: input.value.trim() }); },
    }, h("label", { for: "q" }, t("search.label"), input), h("button", { class: "primary", type: "submit" }, t("search.go")));
    if (!q) { setTwin("v1/messages/{sid}"); return { view: h("div", {}, form, h("p", { class: "muted" }, t("search.hint"))) }; }

    const phone = typedPhone(q);
    // what was found, as JSON (to see whether a refresh brings anything new) and as a view
    async function lookup() {
      const codes = await receiptCodes().catch(() => null);
      if (phone) {
        setTwin("v1/phones/" + encodeURIComponent(phone));
        try {
          const data = await api("v1/phones/" + encodeURIComponent(phone));
          const known = data.messages.length || (data.replies || []).length || (data.optout && data.optout.changes.length);
          if (known) return [JSON.stringify(data), phoneView(data, codes)];
        } catch (err) {
          // delivrd says why the number cannot be one (its 400), unless the text may still be a sid
          if (!(err instanceof ApiError && err.status === 400)) throw err;
          if (phone.startsWith("+")) return [null, h("p", { class: "error", "data-testid": "not-found" }, err.message)];
        }
      }
      setTwin("v1/messages/" + encodeURIComponent(q));
      try {
        const message = await api("v1/messages/" + encodeURIComponent(q));
        return [JSON.stringify(message), messageView(message, codes)];
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        return [null, h("p", { class: "muted", "data-testid": "not-found" }, t("search.notfound", { q }), " ", t("search.hint"))];
      }
    }
    let [shown, results] = await lookup();
    if (!current()) return null;
    const holder = h("div", {}, results);
    async function refresh() {  // a pending message gets its receipt while the page is open
      if (shown === null) return;  // nothing found: asking again would only repeat the 404
      const [fresh, view] = await lookup();
      if (!current() || fresh === shown) return;
      shown = fresh;
      holder.replaceChildren(view);
    }
    return { view: h("div", {}, form, holder), refresh };
  }

  /** Whether the number is on the opt-out list: since when, from what (a reply's keyword, by hand, an import). */
  function optoutStatus(optout) {
    if (!optout || !optout.opted_out) {
      const was = optout && optout.changes.length;
      return h("p", { class: "muted", "data-testid": "optout" }, t(was ? "optout.removed" : "optout.off"));
    }
    const entry = optout.entry;
    return h("p", { "data-testid": "optout" },
      h("span", { class: "badge bad" }, t("optout.on")), " ",
      t("optout.since", { when: when(entry.at), source: t("optout.source." + entry.source) }),
      entry.note ? h("span", {}, " · ", h("code", {}, entry.note)) : null,
      entry.sign ? h("span", { class: "muted" }, " · " + t("msg.sign") + ": " + entry.sign) : null);
  }

  function replyItem(reply) {
    const scope = [reply.sign, reply.extend].filter(Boolean).join(" · ");
    return h("li", { "data-testid": "reply" },
      h("div", {}, h("strong", {}, t("reply.label")), " ", h("code", {}, reply.text === null ? "—" : reply.text)),
      h("div", { class: "muted" }, (scope ? scope + " · " : "") + t("msg.received") + ": " + when(reply.received_at)));
  }

  function phoneView(data, codes) {
    const replies = data.replies || [];
    return h("section", { "data-testid": "phone" }, h("h2", {}, t("phone.title", { phone: data.phone })),
      optoutStatus(data.optout),
      replies.length ? h("article", { class: "panel", "data-testid": "replies" },
        h("h3", {}, t("replies.title")), h("ol", { class: "timeline" }, replies.map(replyItem))) : null,
      data.messages.map((m) => messageView(m, codes)));
  }

  // ---------- rejects ----------

  const REJECT_COLUMNS = [
    { label: "col.time", cell: (r) => when(r.received_at) },
    { label: "col.route", cell: (r) => r.route + (r.item_index === null ? "" : " #" + (r.item_index + 1)) },
    { label: "col.reason", cell: (r) => r.reason },
    { label: "col.raw", cell: (r) => h("pre", { class: "raw" }, r.raw === null ? "—" : r.raw), csv: (r) => (r.raw === null ? "—" : r.raw) },
  ];

  async function rejects(params, current) {
    setTwin("v1/rejects");
    const first = await api("v1/rejects?limit=50");
    if (!current()) return null;
    const shown = first.items.slice();  // newest first, as the table lists them
    const body = h("tbody", {});
    const more = h("button", { type: "button", hidden: !first.next_cursor }, t("rejects.more"));
    let cursor = first.next_cursor;
    const row = (r) => h("tr", { "data-testid": "reject" }, REJECT_COLUMNS.map((c) => h("td", {}, c.cell(r))));
    body.append(...shown.map(row));
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await api("v1/rejects?" + qs({ limit: 50, cursor }));
        shown.push(...page.items);
        body.append(...page.items.map(row));
        cursor = page.next_cursor;
        more.hidden = !cursor;
      } catch (err) {
        more.after(h("p", { class: "error" }, err.message));
      }
      more.disabled = false;
    });
    const none = h("p", { class: "muted" }, t("rejects.none"));
    const listing = h("div", { hidden: !shown.length },
      h("div", { class: "scroll" }, h("table", { "data-testid": "rejects" },
        h("thead", {}, h("tr", {}, REJECT_COLUMNS.map((c) => h("th", {}, t(c.label))))), body)),
      csvButton("rejects", () => csvRows(REJECT_COLUMNS, shown), "rejects-" + new Date().toISOString().slice(0, 16).replace(/:/g, "") + "Z"));
    none.hidden = Boolean(shown.length);
    async function refresh() {  // new rejects go on top; the pages loaded below stay
      const page = await api("v1/rejects?limit=50");
      if (!current()) return;
      const newest = shown.length ? shown[0].id : 0;
      const added = page.items.filter((r) => r.id > newest);
      if (!added.length) return;
      shown.unshift(...added);
      body.prepend(...added.map(row));
      listing.hidden = false;
      none.hidden = true;
    }
    return {
      view: h("section", { class: "panel" }, h("h2", {}, t("rejects.title")), h("p", { class: "muted" }, t("rejects.help")), listing, none, more),
      refresh,
    };
  }

  // ---------- live: the events as they happen, and where they go ----------

  const FEED_MAX = 200;            // events the feed shows; older ones drop off the bottom
  const RECONNECT_MS = 2000;

  /** Follow v1/events (Server-Sent Events) until `signal` aborts: `onEvent(event)` for each, `onState(state)` as the
      connection comes and goes. Read through fetch, not EventSource, so the API key goes in the Authorization
      header as on every other call (EventSource cannot send one, and a key in the URL would end up in logs).
      After a break it reconnects with Last-Event-ID: nothing is missed, nothing shown twice. */
  async function follow(path, onEvent, onState, signal) {
    let lastId = null;
    while (!signal.aborted) {
      const headers = { Accept: "text/event-stream" };
      const key = sessionStorage.getItem(KEY);
      if (key) headers.Authorization = "Bearer " + key;
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      try {
        const response = await fetch(path, { headers, credentials: "same-origin", signal });
        if (response.status === 401) throw new AuthNeeded();
        if (!response.ok) throw new ApiError(response.status, null);
        onState("connected");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const fields = {};
            for (const line of buffer.slice(0, end).split("\n")) {
              if (!line || line.startsWith(":")) continue;  // a comment: the keep-alive
              const colon = line.indexOf(":");
              const name = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              fields[name] = name === "data" && Object.hasOwn(fields, "data") ? fields.data + "\n" + text : text;
            }
            buffer = buffer.slice(end + 2);
            if (Object.hasOwn(fields, "id")) lastId = fields.id;
            if (Object.hasOwn(fields, "data")) onEvent(JSON.parse(fields.data));
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof AuthNeeded) throw err;
        // delivrd restarting, the network, a process serving its most streams: try again from lastId
      }
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  /** What an event is about, in a few words: the number, the sid, the receipt code, the reply's text, or where an
      opt-out change came from. */
  function eventSummary(event) {
    const d = event.data || {};
    const phone = d.phone || d.mobile || d.PhoneNumber || "—";
    if (event.type === "reply.received") return [phone, " ", h("q", {}, d.text || "")];
    if (event.type.startsWith("optout.")) return [phone, " ", h("span", { class: "muted" }, d.source || ""), d.note ? [" ", h("q", {}, d.note)] : null];
    return [phone, " ", h("code", {}, d.sid || d.SerialNo || "—"), d.errmsg ? [" ", h("code", {}, d.errmsg)] : null];
  }

  function eventRow(event) {
    const tone = own({ "report.delivered": "good", "report.failed": "bad", "message.no_receipt": "warn", "optout.added": "warn" }, event.type) || "";
    return h("tr", { "data-testid": "event" },
      h("td", {}, when(event.timestamp)),
      h("td", {}, h("span", { class: "badge " + tone }, t("event." + event.type))),
      h("td", {}, eventSummary(event)));
  }

  function endpointState(e) {
    if (e.state === "disabled") return h("span", { class: "badge bad", title: e.state_reason || "" }, t("endpoint.disabled"));
    if (e.failing_since) return h("span", { class: "badge warn" }, t("endpoint.failing"));
    return h("span", { class: "badge good" }, t("endpoint.active"));
  }

  function endpointRow(e) {
    const lag = e.lag;
    return h("tr", { "data-testid": "endpoint" },
      h("td", {}, h("code", {}, e.url), h("div", { class: "muted" }, e.id)),
      h("td", {}, endpointState(e)),
      h("td", { class: "num" }, num(e.delivered)),
      h("td", { class: "num" }, num(e.failed_events)),
      h("td", {}, e.last_error ? [e.last_error, h("div", { class: "muted" }, when(e.last_error_at))] : "—"),
      h("td", { class: "num", "data-testid": "lag" },
        t("endpoint.lag", { events: num(lag.events + lag.retrying), time: duration(lag.seconds * 1000) })),
      h("td", {}, when(e.next_attempt)));
  }

  const ENDPOINT_COLUMNS = ["endpoint.url", "endpoint.state", "endpoint.delivered", "endpoint.failed", "endpoint.error", "endpoint.lagcol", "endpoint.next"];

  async function live(params, current) {
    setTwin("v1/endpoints");
    const first = await api("v1/endpoints");
    if (!current()) return null;
    const endpoints = h("tbody", {});
    const endpointTable = h("div", { class: "scroll" }, h("table", { "data-testid": "endpoints" },
      h("thead", {}, h("tr", {}, ENDPOINT_COLUMNS.map((c) => h("th", { class: /delivered|failed|lagcol/.test(c) ? "num" : null }, t(c))))),
      endpoints));
    const noEndpoints = h("p", { class: "muted" }, t("endpoint.none"));
    function showEndpoints(data) {
      endpoints.replaceChildren(...data.items.map(endpointRow));
      endpointTable.hidden = !data.items.length;
      noEndpoints.hidden = Boolean(data.items.length);
    }
    showEndpoints(first);

    const feed = h("tbody", {});
    const quiet = h("p", { class: "muted" }, t("live.waiting"));
    const feedTable = h("div", { class: "scroll", hidden: true }, h("table", { "data-testid": "feed" },
      h("thead", {}, h("tr", {}, h("th", {}, t("col.time")), h("th", {}, t("live.type")), h("th", {}, t("live.what")))), feed));
    const status = h("span", { class: "badge", "data-testid": "live-status" }, t("live.connecting"));
    following = new AbortController();
    follow("v1/events", (event) => {
      feed.prepend(eventRow(event));
      while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
      feedTable.hidden = false;
      quiet.hidden = true;
    }, (state) => {
      status.textContent = t("live." + state);
      status.className = "badge " + (state === "connected" ? "good" : "warn");
    }, following.signal).catch((err) => { if (err instanceof AuthNeeded && current()) render(); });

    async function refresh() {
      const data = await api("v1/endpoints");
      if (current()) showEndpoints(data);
    }
    return {
      view: h("div", {},
        h("section", { class: "panel", "data-testid": "endpoints-panel" }, h("h2", {}, t("endpoint.title")),
          h("p", { class: "muted" }, t("endpoint.help")), endpointTable, noEndpoints),
        h("section", { class: "panel live" }, h("h2", {}, t("live.title"), " ", status),
          h("p", { class: "muted" }, t("live.help", { most: FEED_MAX })), quiet, feedTable)),
      refresh,
    };
  }

  // ---------- start ----------

  function start() {
    document.getElementById("lang").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      localStorage.setItem(LANG, lang);
      render();
    });
    document.getElementById("signout").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      render();
    });
    window.addEventListener("hashchange", render);
    // "12 seconds ago" counts on between refreshes
    setInterval(() => { for (const el of document.querySelectorAll("[data-ago]")) el.textContent = ago(el.dataset.ago); }, 1000);
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        const holder = document.querySelector("[data-testid=chart]");
        if (chart && holder) chart.setSize({ width: Math.max(240, holder.clientWidth), height: 240 });
      }, 150);
    });
    render();
  }

  start();
})();
