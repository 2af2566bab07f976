package rpc

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// get fetches path from s with the given headers (name, value pairs).
func get(t *testing.T, s *Server, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+s.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// The web view's page and files are served without the token (they hold
// no data), with a CSP that keeps them to their own origin; everything
// else still needs it, and the Host check applies to the page too.
func TestWebViewServedWithoutToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, AuthToken: "c00kie"})
	for path, want := range map[string]string{
		"/":              `<script src="/web/node.js">`,
		"/web/node.js":   "p2p.get_info",
		"/web/rpc.js":    "dnode.bearer.",
		"/web/style.css": "font-family",
	} {
		resp, body := get(t, srv, path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, body without %q", path, resp.StatusCode, want)
			continue
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	for _, path := range []string{"/web/", "/web/missing.js"} {
		if resp, _ := get(t, srv, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, srv, "/index.html"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET of another path without the token: %d, want 401", resp.StatusCode)
	}
	if status, _ := post(t, srv, pingReq); status != http.StatusUnauthorized {
		t.Errorf("POST / without the token: %d, want 401", status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.Addr()+"/", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET / with a foreign Host: %d, want 403", resp.StatusCode)
	}
}

// A browser's WebSocket carries the token as a subprotocol: the right
// one is accepted and the server selects WSProtocol (never the token);
// a wrong one, or WSProtocol alone, is refused; a foreign Origin is
// refused even with the right token.
func TestWebSocketTokenSubprotocol(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, AuthToken: "c00kie"})
	dial := func(origin string, protocols ...string) (*websocket.Conn, int) {
		d := websocket.Dialer{Subprotocols: protocols}
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := d.DialContext(t.Context(), "ws://"+srv.Addr()+"/ws", h)
		if resp == nil {
			t.Fatalf("upgrade: no response: %v", err)
		}
		resp.Body.Close()
		return ws, resp.StatusCode
	}
	ws, status := dial("http://"+srv.Addr(), WSProtocol, WSTokenPrefix+"c00kie")
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("right token as subprotocol: %d", status)
	}
	if got := ws.Subprotocol(); got != WSProtocol {
		t.Errorf("selected subprotocol %q, want %q", got, WSProtocol)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(pingReq)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), "pong") {
		t.Errorf("ping over the socket: %q %v", msg, err)
	}
	ws.Close()
	for name, protos := range map[string][]string{
		"wrong token":   {WSProtocol, WSTokenPrefix + "nope"},
		"no token":      {WSProtocol},
		"empty token":   {WSProtocol, WSTokenPrefix},
		"prefix as tok": {WSProtocol, "c00kie"},
	} {
		if ws, status := dial("", protos...); status != http.StatusUnauthorized {
			if ws != nil {
				ws.Close()
			}
			t.Errorf("%s: %d, want 401", name, status)
		}
	}
	if ws, status := dial("http://evil.example", WSProtocol, WSTokenPrefix+"c00kie"); status != http.StatusForbidden {
		if ws != nil {
			ws.Close()
		}
		t.Errorf("foreign Origin with the right token: %d, want 403", status)
	}
}
