// Polls /status.json and rebuilds the status page's tables, with the
// same columns as the server's rendering. Text goes in through
// textContent only: nothing the proxy saw can become markup.
"use strict";
(function () {
  const refresh = Number(document.body.dataset.refresh) || 2000;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    const tr = el("tr");
    for (const c of cells) {
      tr.appendChild(c instanceof Node ? c : el("td", c));
    }
    return tr;
  }
  function num(v) { return el("td", v, "n"); }
  function mono(v) { return el("td", v, "mono"); }
  function fill(id, rows, span) {
    const body = document.getElementById(id);
    body.replaceChildren(...rows);
    if (rows.length === 0 && span) {
      const td = el("td", "none", "none");
      td.colSpan = span;
      body.appendChild(row([td]));
    }
  }
  function routeName(name, kind) {
    if (name) return name;
    return kind ? "(" + kind + ")" : "(no route)";
  }
  function match(host, path) { return (host || "*") + (path || "") + "/*"; }
  function percent(r) { return (r * 100).toFixed(1) + "%"; }
  function orNone(l) { return l && l.length ? l.join(", ") : "—"; }
  function clock(t) { return new Date(t).toISOString().slice(11, 19); }

  function render(s) {
    document.getElementById("version").textContent = s.version;
    document.getElementById("command").textContent = s.command;
    document.getElementById("uptime").textContent = s.uptime;
    const ready = document.getElementById("ready");
    ready.replaceChildren(s.ready ? el("span", "ready", "ok") : el("span", "not ready: " + s.not_ready, "bad"));
    fill("routes", s.routes.map(r => row([
      routeName(r.name, r.kind), r.listener || "", el("td", match(r.host, r.path), "mono match"), r.kind, mono(r.target || ""),
      num(r.recent.requests), num(r.recent.client_errors), num(r.recent.server_errors), num(percent(r.recent.error_rate)),
      num(r.total.requests), num(r.total.server_errors),
    ])));
    fill("listeners", s.listeners.map(l => row([l.name || "", mono(l.url)])));
    fill("children", s.children.map(c => {
      const state = el("td", c.state);
      if (c.last_error) state.appendChild(el("span", " (" + c.last_error + ")", "none"));
      const out = el("td");
      out.appendChild(el("pre", c.output.map(l => l + "\n").join("")));
      return row([routeName(c.route, "spawn"), state, num(c.pid), c.uptime, num(c.restarts), num(c.crashes), num(c.failed_starts), out]);
    }), 8);
    fill("trust", s.routes.filter(r => r.kind).map(r => row([
      routeName(r.name, r.kind), mono(orNone(r.trusted)), mono(orNone(r.trusted_standard)),
      mono(orNone(r.verify_keyids)), mono(orNone(r.sign_keyids)),
    ])));
    fill("errors", s.errors.map(e => row([
      clock(e.time), routeName(e.route, ""), num(e.status), mono(e.method + " " + e.target),
      mono(e.client || ""), mono(e.upstream || ""), e.cause, mono(e.request_id || ""),
    ])), 8);
    document.getElementById("updated").textContent = "updated " + clock(s.now) + " UTC";
  }

  async function poll() {
    try {
      const resp = await fetch("/status.json", { cache: "no-store" });
      if (!resp.ok) throw new Error(resp.status + " " + resp.statusText);
      render(await resp.json());
    } catch (err) {
      document.getElementById("updated").textContent = "update failed: " + err.message;
    }
    setTimeout(poll, refresh);
  }
  poll();
})();
