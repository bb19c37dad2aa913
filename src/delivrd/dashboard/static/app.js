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

  async function render() {
    const seq = ++renderSeq;
    const main = document.getElementById("main");
    const { page, params } = route();
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
    applyLanguage();
    if (chart) { chart.destroy(); chart = null; }
    const pages = { overview, search, rejects };
    try {
      const view = await (own(pages, page) || overview)(params, () => seq === renderSeq);
      if (seq === renderSeq && view) main.replaceChildren(view);
    } catch (err) {
      if (seq !== renderSeq) return;
      if (err instanceof AuthNeeded) showLogin(main, Boolean(sessionStorage.getItem(KEY)));
      else showError(main, err);
    }
    applyLanguage();
  }

  // ---------- overview ----------

  const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };

  /** The chosen range as ISO times, and the bucket that gives a readable chart for it. */
  function chosenRange(params) {
    const now = Date.now();
    let since, until, range = params.get("range") || "24h";
    if (params.get("since")) {
      range = "custom";
      since = new Date(params.get("since"));
      until = params.get("until") ? new Date(params.get("until")) : new Date(now);
    } else {
      until = new Date(now);
      since = new Date(now - (own(RANGES, range) || RANGES["24h"]));
    }
    const by = until - since <= 2 * 86400e3 ? "hour" : "day";
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
      h("div", { class: "value " + ((extra && extra.tone) || ""), "data-testid": testid }, value),
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

  function table(columns, rows, testid, wide) {
    if (!rows.length) return h("p", { class: "muted" }, t("none"));
    return h("div", { class: "scroll" }, h("table", { "data-testid": testid, class: wide ? "wide" : null },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, t(c.label))))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(row))))))));
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

  /** An x-axis label in the reader's language: the day for days, the hour (and the day at midnight) for hours. */
  function tick(seconds, step) {
    const d = new Date(seconds * 1000);
    const day = { month: "numeric", day: "numeric" };
    if (step >= 86400) return d.toLocaleDateString(locale(), day);
    const hour = d.toLocaleTimeString(locale(), { hour: "numeric" });
    return d.getHours() === 0 ? d.toLocaleDateString(locale(), day) + "\n" + hour : hour;
  }

  function drawChart(holder, groups, chosen) {
    const step = chosen.by === "day" ? 86400 : 3600;
    // a bar stands in the middle of its hour or day; the axis spans the whole chosen range
    const points = groups
      .map((g) => ({ x: Date.parse(g.key) / 1000 + step / 2, total: g.total, rate: g.success_rate === null ? null : g.success_rate * 100 }))
      .filter((p) => !Number.isNaN(p.x))
      .sort((a, b) => a.x - b.x);
    if (!points.length || !window.uPlot) { holder.replaceChildren(h("p", { class: "muted" }, t("chart.empty"))); return; }
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim();
    const axis = { stroke: color("--muted"), grid: { stroke: color("--line"), width: 1 }, ticks: { stroke: color("--line") } };
    const width = Math.max(240, holder.clientWidth);
    const from = Math.floor(Date.parse(chosen.since) / 1000 / step) * step;  // whole buckets at both ends
    const to = Math.ceil(Date.parse(chosen.until) / 1000 / step) * step;
    chart = new window.uPlot({
      width, height: 240,
      scales: { x: { time: true, range: () => [from, to] }, n: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] }, pct: { range: [0, 100] } },
      axes: [
        { ...axis, values: (u, ticks) => ticks.map((v) => tick(v, step)) },
        { ...axis, scale: "n", size: 64, values: (u, ticks) => ticks.map((v) => num(v)) },
        { ...axis, scale: "pct", side: 1, grid: { show: false }, values: (u, ticks) => ticks.map((v) => v + "%") },
      ],
      series: [
        { label: t("chart.time"), value: (u, v) => (v === null ? "—" : new Date(v * 1000).toLocaleString(locale())) },
        { label: t("chart.volume"), scale: "n", fill: color("--bar"), stroke: color("--bar"), paths: window.uPlot.paths.bars({ size: [0.7, 60] }), value: (u, v) => num(v) },
        { label: t("chart.rate"), scale: "pct", stroke: color("--ok"), width: 2, points: { show: true }, spanGaps: true, value: (u, v) => (v === null ? "—" : v.toFixed(1) + "%") },
      ],
    }, [points.map((p) => p.x), points.map((p) => p.total), points.map((p) => p.rate)], holder);
  }

  async function overview(params, current) {
    const chosen = chosenRange(params);
    const base = { since: chosen.since, until: chosen.until };
    const stats = (by) => api("v1/stats?" + qs({ ...base, by }));
    setTwin("v1/stats?" + qs({ ...base, by: chosen.by }));
    // Three stats queries: each reads the whole range, so failures by category are summed
    // here from the per-code groups (the catalogue's category of each code, as by=category does).
    const [series, errmsgs, countries, activity, codes] = await Promise.all([
      stats(chosen.by), stats("errmsg"), stats("nationcode"), api("v1/activity"),
      receiptCodes().catch(() => null),  // explanations are a bonus: the numbers stand without them
    ]);
    if (!current()) return null;

    const last = activity.last_callback;
    const cards = h("section", { class: "cards", "aria-label": t("nav.overview") },
      card("total", t("card.total"), num(series.total)),
      card("delivered", t("card.delivered"), num(series.delivered), { tone: "good" }),
      card("failed", t("card.failed"), num(series.failed), { tone: series.failed ? "bad" : "" }),
      card("pending", t("card.pending"), num(series.pending)),
      card("no-receipt", t("card.no_receipt"), num(series.no_receipt), { tone: series.no_receipt ? "warn" : "" }),
      card("success-rate", t("card.success_rate"), pct(series.success_rate)),
      card("last-callback", t("card.last_callback"), last ? ago(last.received_at) : "—", {
        wide: true, tone: last ? "" : "warn",
        note: last ? when(last.received_at) + " · " + t("card.outcome", { route: last.route, outcome: last.outcome, items: last.items }) : t("card.never"),
      }),
      card("duplicates", t("card.duplicates"), num(activity.report_duplicates), { note: t("card.all_time") }),
      card("rejects", t("card.rejects"), num(activity.rejects), { note: t("card.all_time"), tone: activity.rejects ? "warn" : "" }));

    const chartHolder = h("div", { class: "chart", "data-testid": "chart" });
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

    const view = h("div", {},
      rangePicker(chosen),
      cards,
      h("div", { class: "grid" },
        h("section", { class: "panel full" }, h("h2", {}, t("chart.title")), chartHolder),
        h("section", { class: "panel" }, h("h2", {}, t("fail.title")), table([
          { label: "col.category", cell: (g) => categoryName(g.key || "unknown", codes) },
          { label: "col.failed", num: true, cell: (g) => num(g.failed) },
          { label: "col.share", num: true, cell: (g) => pct(failedTotal ? g.failed / failedTotal : null) },
        ], failing, "categories")),
        h("section", { class: "panel" }, h("h2", {}, t("latency.title")),
          latency.p50 === null || latency.p50 === undefined
            ? h("p", { class: "muted" }, t("latency.none"))
            : h("div", { class: "latency", "data-testid": "latency" }, ["p50", "p90", "p99"].map((q) => [
              h("span", {}, q),
              h("div", { class: "track" }, bar(p99 ? Math.max(2, (100 * latency[q]) / p99) : 0)),
              h("span", { class: "num" }, duration(latency[q])),
            ]))),
        h("section", { class: "panel full" }, h("h2", {}, t("codes.title")), table([
          { label: "col.code", cell: (g) => h("code", {}, g.key === null ? "—" : g.key) },
          { label: "col.category", cell: (g) => (codes ? categoryName(codes.find(g.key).category, codes) : "") },
          { label: "col.failed", num: true, cell: (g) => num(g.failed) },
          { label: "col.explanation", cell: (g) => (codes ? said(codes.find(g.key).explanation) : "") },
          { label: "col.action", cell: (g) => (codes ? said(codes.find(g.key).action) : "") },
        ], topCodes, "codes", true)),
        h("section", { class: "panel full" }, h("h2", {}, t("country.title")), table([
          { label: "col.country", cell: (g) => country(g.key) },
          { label: "col.rate", num: true, cell: (g) => pct(g.success_rate) },
          { label: "col.total", num: true, cell: (g) => num(g.total) },
          { label: "col.delivered", num: true, cell: (g) => num(g.delivered) },
          { label: "col.failed", num: true, cell: (g) => num(g.failed) },
        ], byCountry, "countries"))));
    // uPlot measures its holder, so draw once the view is in the page.
    requestAnimationFrame(() => { if (current()) drawChart(chartHolder, series.groups, chosen); });
    return view;
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

  async function search(params, current) {
    const q = (params.get("q") || "").trim();
    const input = h("input", { type: "search", name: "q", id: "q", value: q, placeholder: t("search.placeholder"), autocomplete: "off" });
    const form = h("form", {
      class: "search", role: "search",
      onsubmit: (event) => { event.preventDefault(); go("search", { q: input.value.trim() }); },
    }, h("label", { for: "q" }, t("search.label"), input), h("button", { class: "primary", type: "submit" }, t("search.go")));
    if (!q) { setTwin("v1/messages/{sid}"); return h("div", {}, form, h("p", { class: "muted" }, t("search.hint"))); }

    const codes = await receiptCodes().catch(() => null);
    let results;
    const phone = /^\+?\d[\d\s-]{5,}$/.test(q) ? "+" + q.replace(/[^\d]/g, "") : null;
    try {
      if (phone && q.startsWith("+")) {
        results = await phoneResults(phone, codes);
      } else {
        setTwin("v1/messages/" + encodeURIComponent(q));
        results = messageView(await api("v1/messages/" + encodeURIComponent(q)), codes);
      }
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      // Not a sid: digits alone may be a phone number typed without its "+".
      results = phone ? await phoneResults(phone, codes).catch(() => null) : null;
      if (!results) results = h("p", { class: "muted", "data-testid": "not-found" }, t("search.notfound", { q }), " ", t("search.hint"));
    }
    if (!current()) return null;
    return h("div", {}, form, results);
  }

  async function phoneResults(phone, codes) {
    setTwin("v1/phones/" + encodeURIComponent(phone));
    let data;
    try {
      data = await api("v1/phones/" + encodeURIComponent(phone));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return h("p", { class: "muted", "data-testid": "not-found" }, t("search.notfound", { q: phone }));
      throw err;
    }
    const messages = data.messages || data.items || [];
    if (!messages.length) return h("p", { class: "muted", "data-testid": "not-found" }, t("search.notfound", { q: phone }));
    return h("section", { "data-testid": "phone" }, h("h2", {}, t("phone.title", { phone: data.phone || phone })),
      messages.map((m) => messageView(m, codes)));
  }

  // ---------- rejects ----------

  async function rejects(params, current) {
    setTwin("v1/rejects");
    const first = await api("v1/rejects?limit=50");
    if (!current()) return null;
    const body = h("tbody", {});
    const more = h("button", { type: "button", hidden: !first.next_cursor }, t("rejects.more"));
    let cursor = first.next_cursor;
    const add = (items) => body.append(...items.map((r) => h("tr", { "data-testid": "reject" },
      h("td", {}, when(r.received_at)),
      h("td", {}, r.route, r.item_index === null ? "" : " #" + r.item_index),
      h("td", {}, r.reason),
      h("td", {}, h("pre", { class: "raw" }, r.raw === null ? "—" : r.raw)))));
    add(first.items);
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await api("v1/rejects?" + qs({ limit: 50, cursor }));
        add(page.items);
        cursor = page.next_cursor;
        more.hidden = !cursor;
      } catch (err) {
        more.after(h("p", { class: "error" }, err.message));
      }
      more.disabled = false;
    });
    return h("section", { class: "panel" }, h("h2", {}, t("rejects.title")), h("p", { class: "muted" }, t("rejects.help")),
      first.items.length
        ? h("div", { class: "scroll" }, h("table", { "data-testid": "rejects" },
          h("thead", {}, h("tr", {}, ["col.time", "col.route", "col.reason", "col.raw"].map((c) => h("th", {}, t(c))))), body))
        : h("p", { class: "muted" }, t("rejects.none")),
      more);
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
