// rpc.js: the RPC client of dnode's web pages. The token comes from the
// URL's fragment (#token=..., which browsers never send to the server) or
// the login form, and is kept in this tab's sessionStorage; every call
// sends it as a Bearer token, the WebSocket as the subprotocol
// "dnode.bearer.<token>" (browsers cannot set headers on a WebSocket).
"use strict";

const DnodeRPC = (() => {
  const KEY = "dnode.token";

  function readToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(KEY) || "";
  }

  let token = readToken();
  let nextID = 1;

  class RPCError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  // call runs one JSON-RPC request over HTTP and returns its result; it
  // throws an RPCError (status 401 when the token is missing or wrong).
  async function call(method, params) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    const body = JSON.stringify({ jsonrpc: "2.0", id: nextID++, method, params: params || [] });
    let resp;
    try {
      resp = await fetch("/", { method: "POST", headers, body, cache: "no-store" });
    } catch (e) {
      throw new RPCError("node unreachable: " + e.message, 0, 0);
    }
    if (resp.status === 401) throw new RPCError("unauthorized: the token is missing or wrong", 0, 401);
    let msg;
    try {
      msg = await resp.json();
    } catch (e) {
      throw new RPCError("HTTP " + resp.status + ": not JSON", 0, resp.status);
    }
    if (msg.error) throw new RPCError(msg.error.message, msg.error.code, resp.status);
    return msg.result;
  }

  // subscribe opens the WebSocket, subscribes to method and calls
  // onItem(params[0]) for every notification; onState(bool) reports the
  // socket up or down. It reconnects with a growing delay, and returns a
  // function that stops it.
  function subscribe(method, params, onItem, onState) {
    let ws = null, stopped = false, delay = 500, timer = null;
    function open() {
      const protocols = ["dnode.jsonrpc"];
      if (token) protocols.push("dnode.bearer." + token);
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(scheme + location.host + "/ws", protocols);
      ws.onopen = () => {
        delay = 500;
        onState(true);
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: nextID++, method, params: params || [] }));
      };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.method === method && Array.isArray(msg.params)) onItem(msg.params[0]);
      };
      ws.onclose = () => {
        onState(false);
        if (stopped) return;
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
      ws.onerror = () => {}; // onclose follows and reconnects
    }
    open();
    return () => { stopped = true; clearTimeout(timer); if (ws) ws.close(); };
  }

  // setToken replaces the token (from the login form).
  function setToken(t) {
    token = t.trim();
    sessionStorage.setItem(KEY, token);
  }

  return { call, subscribe, setToken, hasToken: () => token !== "", RPCError };
})();

// Small DOM and formatting helpers shared by the pages.
const UI = {
  $(id) { return document.getElementById(id); },
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : String(c));
    return e;
  },
  svg(tag, attrs) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  },
  bytes(n) {
    if (n < 1024) return n + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(n < 10 ? 1 : 0) + " " + units[i];
  },
  rate(n) { return UI.bytes(Math.round(n)) + "/s"; },
  age(secs) {
    if (secs < 60) return secs + "s";
    if (secs < 3600) return Math.floor(secs / 60) + "m" + String(secs % 60).padStart(2, "0") + "s";
    if (secs < 86400) return Math.floor(secs / 3600) + "h" + String(Math.floor(secs / 60) % 60).padStart(2, "0") + "m";
    return Math.floor(secs / 86400) + "d" + String(Math.floor(secs / 3600) % 24).padStart(2, "0") + "h";
  },
  short(id) { return id.length > 16 ? id.slice(0, 6) + "…" + id.slice(-6) : id; },
  // login shows the token form; submit calls done() with the new token set.
  login(message, done) {
    const box = UI.$("login");
    UI.$("login-msg").textContent = message;
    box.hidden = false;
    UI.$("login-form").onsubmit = (ev) => {
      ev.preventDefault();
      DnodeRPC.setToken(UI.$("login-token").value);
      box.hidden = true;
      done();
    };
  },
};
