// node.js: one node's web view. It polls p2p.get_info and relay.get_stats
// every second and p2p.get_hosts every five, and follows
// dnet.subscribe_events over the WebSocket (a channel or slot event
// refreshes the info at once).
"use strict";

(() => {
  const { $, el, svg, bytes, rate, age, short } = UI;
  const POLL_MS = 1000, HOSTS_EVERY = 5, RATE_POINTS = 120, MAX_EVENTS = 200;

  const state = {
    running: false, ticks: 0, timer: null, unsubscribe: null,
    prev: new Map(),        // channel id → {t, in, out}: last poll's counters
    linkRate: new Map(),    // channel id → bytes/s over the last poll
    relayPrev: null, relaySeries: [], hasRelay: true,
    connecting: new Set(),  // slots with a dial under way (from events)
    refreshSoon: null,
  };

  function setStatus(text, cls) {
    const s = $("status");
    s.textContent = text;
    s.className = "pill " + (cls || "");
  }

  // ---- identity, reachability, slots, channels -------------------------

  function isPublicIP(addr) {
    let m = /^\/ip4\/(\d+)\.(\d+)\.\d+\.\d+/.exec(addr);
    if (m) {
      const a = +m[1], b = +m[2];
      return !(a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) ||
        (a === 169 && b === 254) || (a === 100 && b >= 64 && b < 128));
    }
    m = /^\/ip6\/([0-9a-f:]+)/i.exec(addr);
    if (m) return /^[23]/.test(m[1]);
    return /^\/dns/.test(addr);
  }

  function renderInfo(info) {
    $("peer-id").textContent = info.peer_id || "– (node not running)";
    $("network").textContent = info.network ? "· " + info.network : "";
    $("app-version").textContent = info.app_version;
    const addrs = $("addrs");
    addrs.replaceChildren(...(info.addrs.length ? info.addrs.map((a) => el("div", {}, a)) : ["–"]));
    const inbound = info.channels.filter((c) => c.direction === "inbound").length;
    const ext = info.external_addrs && info.external_addrs.length ? info.external_addrs : info.addrs;
    const pub = ext.some(isPublicIP);
    $("reach").textContent = (pub ? "advertises a public address" : "advertises private or loopback addresses only") + "; " +
      (inbound ? inbound + " peer" + (inbound > 1 ? "s" : "") + " dialed in" : "no inbound channel yet");

    const slots = info.outbound_slots;
    const filled = slots.filter((id) => id !== 0).length;
    $("slots-count").textContent = filled + " of " + slots.length + " filled";
    $("slots").replaceChildren(...slots.map((id, i) => {
      const cls = id !== 0 ? "slot filled" : state.connecting.has(i) ? "slot connecting" : "slot";
      return el("div", { class: cls, title: id !== 0 ? "slot " + i + ": channel " + id : "slot " + i + ": empty" }, i);
    }));

    const now = Date.now() / 1000;
    $("channel-count").textContent = info.channels_total;
    $("channels").replaceChildren(...info.channels.map((c) => el("tr", {},
      el("td", { class: "num" }, c.id),
      el("td", { class: "mono", title: c.peer_id }, short(c.peer_id)),
      el("td", { class: "mono" }, c.addr),
      el("td", {}, c.session),
      el("td", {}, c.direction),
      el("td", { class: "num" }, c.rtt_ms ? c.rtt_ms.toFixed(1) + " ms" : "–"),
      el("td", { class: "num", title: c.msgs_in + " messages" }, bytes(c.bytes_in)),
      el("td", { class: "num", title: c.msgs_out + " messages" }, bytes(c.bytes_out)),
      el("td", { class: "num" }, c.start_time ? age(Math.max(0, Math.round(now - c.start_time))) : "–"))));
  }

  // measureLinks turns the channels' byte counters into rates since the
  // last poll.
  function measureLinks(info) {
    const t = performance.now() / 1000, seen = new Set();
    for (const c of info.channels) {
      seen.add(c.id);
      const p = state.prev.get(c.id), total = c.bytes_in + c.bytes_out;
      if (p && t > p.t) state.linkRate.set(c.id, Math.max(0, (total - p.total) / (t - p.t)));
      state.prev.set(c.id, { t, total });
    }
    for (const id of [...state.prev.keys()]) {
      if (!seen.has(id)) { state.prev.delete(id); state.linkRate.delete(id); }
    }
  }

  function renderFlow(info) {
    const g = $("flow"), cx = 200, cy = 150, r = 115;
    const parts = [];
    const chans = info.channels;
    chans.forEach((c, i) => {
      const a = (2 * Math.PI * i) / Math.max(chans.length, 1) - Math.PI / 2;
      const x = cx + r * Math.cos(a), y = cy + r * Math.sin(a);
      const bps = state.linkRate.get(c.id) || 0;
      const w = Math.min(12, 1 + Math.log2(1 + bps / 64));
      parts.push(svg("line", { class: "link", x1: cx, y1: cy, x2: x, y2: y, "stroke-width": w.toFixed(2) }));
      const label = svg("text", { x: (cx + x) / 2, y: (cy + y) / 2 - 3, "text-anchor": "middle" });
      label.textContent = bps >= 1 ? rate(bps) : "";
      parts.push(label);
      parts.push(svg("circle", { class: "peer", cx: x, cy: y, r: 9 }));
      const name = svg("text", { x, y: y + (y >= cy ? 21 : -13), "text-anchor": "middle" });
      name.textContent = "…" + c.peer_id.slice(-6) + " · " + c.session;
      parts.push(name);
    });
    parts.push(svg("circle", { class: "self", cx, cy, r: 30 }));
    const me = svg("text", { class: "self-label", x: cx, y: cy + 3, "text-anchor": "middle" });
    me.textContent = info.peer_id ? "…" + info.peer_id.slice(-6) : "node";
    parts.push(me);
    g.replaceChildren(...parts);
  }

  // ---- host lists, relay ------------------------------------------------

  async function refreshHosts() {
    const h = await DnodeRPC.call("p2p.get_hosts");
    $("hosts").replaceChildren(...["gold", "white", "grey", "dark", "black"].map((k) =>
      el("tr", {}, el("td", {}, k), el("td", { class: "num", id: "hosts-" + k }, h[k].length))));
  }

  async function refreshRelay() {
    if (!state.hasRelay) return;
    let s;
    try {
      s = await DnodeRPC.call("relay.get_stats");
    } catch (e) {
      if (e.code === -32601) { // this node runs no relay
        state.hasRelay = false;
        $("relay").replaceChildren(el("tr", {}, el("td", { class: "muted" }, "this node runs no relay")));
        return;
      }
      throw e;
    }
    const t = performance.now() / 1000, p = state.relayPrev;
    if (p && t > p.t) {
      state.relaySeries.push({ sent: (s.bytes_sent - p.sent) / (t - p.t), recv: (s.bytes_received - p.recv) / (t - p.t) });
      if (state.relaySeries.length > RATE_POINTS) state.relaySeries.shift();
    }
    document.body.dataset.ratePoints = state.relaySeries.length; // for tests and screenshots
    state.relayPrev = { t, sent: s.bytes_sent, recv: s.bytes_received };
    const rows = [
      ["published", s.published], ["received", s.received], ["duplicates", s.duplicates],
      ["bytes sent", bytes(s.bytes_sent)], ["bytes received", bytes(s.bytes_received)],
      ["links", s.links], ["trees", s.trees + " (eager " + s.eager + ", lazy " + s.lazy + ")"],
      ["history", s.history + " messages, " + bytes(s.history_bytes)], ["pending", s.pending],
      ["grafts / prunes", s.grafts + " / " + s.prunes],
      ["dropped", Object.values(s.dropped || {}).reduce((a, b) => a + b, 0)],
    ];
    $("relay").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", { class: "num" }, v))));
    drawRate();
  }

  function drawRate() {
    const c = $("rate"), dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 400, h = c.clientHeight || 120;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pts = state.relaySeries;
    const top = Math.max(1024, ...pts.map((p) => Math.max(p.sent, p.recv)));
    const css = getComputedStyle(document.documentElement);
    const line = (key, color) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      pts.forEach((p, i) => {
        const x = w - (pts.length - 1 - i) * (w / (RATE_POINTS - 1)), y = h - 4 - (p[key] / top) * (h - 18);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    };
    line("sent", css.getPropertyValue("--sent").trim());
    line("recv", css.getPropertyValue("--recv").trim());
    ctx.fillStyle = css.getPropertyValue("--muted").trim();
    ctx.font = "10px sans-serif";
    ctx.fillText("max " + rate(top), 4, 11);
  }

  // ---- events -----------------------------------------------------------

  function describe(info) {
    return Object.entries(info || {}).filter(([k]) => k !== "chan" && k !== "time")
      .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ");
  }

  function onEvent(ev) {
    const kind = ev.event, info = ev.info || {};
    if (kind === "outbound_slot_connecting") state.connecting.add(info.slot);
    if (kind === "outbound_slot_connected" || kind === "outbound_slot_disconnected" ||
      kind === "outbound_slot_sleeping") state.connecting.delete(info.slot);
    const bad = /failed|disconnected|stopped|no_peers|drop/.test(kind);
    const list = $("events");
    list.prepend(el("li", {}, el("span", { class: "muted" }, new Date().toLocaleTimeString() + " "),
      el("span", { class: bad ? "kind bad" : "kind" }, kind), describe(info)));
    while (list.childElementCount > MAX_EVENTS) list.lastElementChild.remove();
    if (/^(channel_|outbound_slot_|inbound_|manual_|direct_)/.test(kind) && !state.refreshSoon) {
      state.refreshSoon = setTimeout(() => { state.refreshSoon = null; tick(false); }, 100);
    }
  }

  // The checkbox turns the node's per-message events (send, recv) on and
  // off with dnet.switch: that is the node's setting, for every
  // subscriber, so the page only changes it when asked.
  function wireSwitch() {
    const box = $("msg-events");
    box.onchange = async () => {
      try {
        await DnodeRPC.call("dnet.switch", [box.checked]);
      } catch (e) {
        box.checked = !box.checked;
        setStatus(e.message, "bad");
      }
    };
  }

  // ---- the loop -----------------------------------------------------------

  async function tick(scheduled) {
    try {
      const info = await DnodeRPC.call("p2p.get_info");
      measureLinks(info);
      renderInfo(info);
      renderFlow(info);
      if (scheduled) {
        if (state.ticks % HOSTS_EVERY === 0) await refreshHosts();
        await refreshRelay();
        state.ticks++;
      }
      setStatus("live", "ok");
      if (!state.unsubscribe) {
        state.unsubscribe = DnodeRPC.subscribe("dnet.subscribe_events", [], onEvent,
          (up) => { $("events-state").textContent = up ? "· live" : "· reconnecting…"; });
      }
    } catch (e) {
      if (e.status === 401) {
        stop();
        setStatus("locked", "bad");
        UI.login(DnodeRPC.hasToken() ? "The node refused the token (it changes at every start of the node)."
          : "This node's RPC needs its token.", start);
        return;
      }
      setStatus(e.message, "bad");
    }
  }

  function loop() {
    tick(true).finally(() => { if (state.running) state.timer = setTimeout(loop, POLL_MS); });
  }

  function start() {
    if (state.running) return;
    state.running = true;
    loop();
  }

  function stop() {
    state.running = false;
    clearTimeout(state.timer);
    if (state.unsubscribe) { state.unsubscribe(); state.unsubscribe = null; }
  }

  wireSwitch();
  start();
})();
