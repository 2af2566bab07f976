// devnet.js: the whole devnet as a graph, from GET /graph (polled every
// second with the page's token).
"use strict";

(() => {
  const { $, svg, rate } = UI;
  const POLL_MS = 1000;
  const prev = new Map(); // link key → {t, total}
  let running = false, timer = null;

  function setStatus(text, cls) {
    const s = $("status");
    s.textContent = text;
    s.className = "pill " + (cls || "");
  }

  async function fetchGraph() {
    const headers = {};
    const token = sessionStorage.getItem("dnode.token");
    if (token) headers["Authorization"] = "Bearer " + token;
    let resp;
    try {
      resp = await fetch("/graph", { headers, cache: "no-store" });
    } catch (e) {
      throw new DnodeRPC.RPCError("devnet unreachable: " + e.message, 0, 0);
    }
    if (resp.status === 401) throw new DnodeRPC.RPCError("unauthorized", 0, 401);
    if (!resp.ok) throw new DnodeRPC.RPCError("HTTP " + resp.status, 0, resp.status);
    return resp.json();
  }

  // place puts the nodes, the seed first, on a circle (a node in the
  // middle would sit on the lines between opposite nodes).
  function place(nodes) {
    const pos = new Map(), cx = 400, cy = 300;
    nodes.forEach((n, i) => {
      const a = (2 * Math.PI * i) / nodes.length - Math.PI / 2;
      pos.set(n.peer_id, [cx + 250 * Math.cos(a), cy + 250 * Math.sin(a)]);
    });
    return pos;
  }

  function render(g) {
    $("network").textContent = "· " + g.network;
    const nodes = g.nodes, pos = place(nodes), seedIDs = new Set(nodes.filter((n) => n.seed).map((n) => n.peer_id));
    $("node-count").textContent = nodes.length;
    $("link-count").textContent = g.links.length;
    $("full-count").textContent = nodes.filter((n) => !n.seed && n.slots > 0 && n.filled === n.slots).length;
    const t = performance.now() / 1000, parts = [], seen = new Set();
    for (const l of g.links) {
      const a = pos.get(l.from), b = pos.get(l.to);
      if (!a || !b) continue;
      const key = l.from + ">" + l.to + ">" + l.id, total = l.bytes_in + l.bytes_out, p = prev.get(key);
      seen.add(key);
      const bps = p && t > p.t ? Math.max(0, (total - p.total) / (t - p.t)) : 0;
      prev.set(key, { t, total });
      const line = svg("line", {
        class: seedIDs.has(l.to) ? "glink seed" : "glink", x1: a[0], y1: a[1], x2: b[0], y2: b[1],
        "stroke-width": Math.min(10, 1 + Math.log2(1 + bps / 64)).toFixed(2),
      });
      const title = svg("title");
      title.textContent = l.from_name + " → " + l.to_name + " (" + l.session + "): " + rate(bps);
      line.append(title);
      parts.push(line);
    }
    for (const k of [...prev.keys()]) if (!seen.has(k)) prev.delete(k);
    for (const n of nodes) {
      const [x, y] = pos.get(n.peer_id);
      const cls = n.seed ? "gnode seed" : n.slots > 0 && n.filled === n.slots ? "gnode full" : "gnode";
      const group = svg("g", { class: "node", "data-peer": n.peer_id });
      const circle = svg("circle", { class: cls, cx: x, cy: y, r: n.seed ? 16 : 12 });
      const title = svg("title");
      title.textContent = n.name + " " + n.peer_id + (n.seed ? "" : " · slots " + n.filled + "/" + n.slots);
      circle.append(title);
      const label = svg("text", { x, y: y < 300 ? y - (n.seed ? 22 : 18) : y + (n.seed ? 30 : 26), "text-anchor": "middle" });
      label.textContent = n.name + (n.seed ? "" : " " + n.filled + "/" + n.slots) + " · …" + n.peer_id.slice(-6);
      if (n.web) {
        const link = svg("a", { href: n.web, target: "_blank", rel: "noopener" });
        link.append(circle, label);
        group.append(link);
      } else {
        group.append(circle, label);
      }
      parts.push(group);
    }
    $("graph").replaceChildren(...parts);
  }

  async function tick() {
    try {
      render(await fetchGraph());
      setStatus("live", "ok");
    } catch (e) {
      if (e.status === 401) {
        running = false;
        setStatus("locked", "bad");
        UI.login("The devnet needs its token.", start);
        return;
      }
      setStatus(e.message, "bad");
    }
  }

  function loop() {
    tick().finally(() => { if (running) timer = setTimeout(loop, POLL_MS); });
  }

  function start() {
    if (running) return;
    running = true;
    loop();
  }

  start();
})();
