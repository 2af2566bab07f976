package rpc

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

const pingReq = `{"jsonrpc":"2.0","method":"ping","id":1}`

// wsDial upgrades to /ws with the given headers and returns the status.
func wsDial(t *testing.T, srv *Server, header http.Header) int {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+srv.Addr()+"/ws", header)
	if err == nil {
		ws.Close()
	}
	if resp == nil {
		t.Fatalf("upgrade: no response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Requests without the token or with a wrong one are refused, over HTTP
// and on the WebSocket upgrade; the right one works on both.
func TestAuthRefusesMissingAndWrongToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, AuthToken: "c00kie"})
	for name, hdr := range map[string][]string{
		"none":  nil,
		"wrong": {"Authorization", "Bearer nope"},
		"basic": {"Authorization", "Basic c00kie"},
	} {
		if status, body := post(t, srv, pingReq, hdr...); status != http.StatusUnauthorized || !strings.Contains(body, "rpc.cookie") {
			t.Errorf("HTTP, %s token: %d %q", name, status, body)
		}
		h := http.Header{}
		if hdr != nil {
			h.Set(hdr[0], hdr[1])
		}
		if status := wsDial(t, srv, h); status != http.StatusUnauthorized {
			t.Errorf("WebSocket, %s token: %d", name, status)
		}
	}
	if status, body := post(t, srv, pingReq, "Authorization", "Bearer c00kie"); status != http.StatusOK || !strings.Contains(body, "pong") {
		t.Errorf("right token: %d %s", status, body)
	}
	if status := wsDial(t, srv, http.Header{"Authorization": {"Bearer c00kie"}}); status != http.StatusSwitchingProtocols {
		t.Errorf("WebSocket with the right token: %d", status)
	}
}

// A Host header that names another site (DNS rebinding) is refused with
// 403 and a message naming it; localhost, loopback IPs, the listen host
// and rpc_hosts are accepted.
func TestForeignHostRefused(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, AuthToken: "t", Hosts: []string{"node.example.org"}})
	_, port, _ := strings.Cut(srv.Addr(), ":")
	auth := []string{"Authorization", "Bearer t"}
	for _, host := range []string{"evil.example:" + port, "evil.example", "localhost.evil.example", "192.0.2.7:" + port, "example.org"} {
		status, body := post(t, srv, pingReq, append(auth, "Host", host)...)
		if status != http.StatusForbidden || !strings.Contains(body, host) || !strings.Contains(body, "rpc_hosts") {
			t.Errorf("Host %q: %d %q", host, status, body)
		}
		h := http.Header{"Authorization": {"Bearer t"}}
		h.Set("Host", host)
		ws, resp, err := (&websocket.Dialer{}).DialContext(t.Context(), "ws://"+srv.Addr()+"/ws", http.Header{
			"Authorization": {"Bearer t"}, "Host": {host}})
		if err == nil {
			ws.Close()
			t.Errorf("WebSocket with Host %q upgraded", host)
		} else if resp != nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("WebSocket with Host %q: %d", host, resp.StatusCode)
			}
		}
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST", "127.0.0.1:" + port, "127.0.0.2", "[::1]:" + port,
		"node.example.org:" + port, "Node.Example.Org."} {
		if status, body := post(t, srv, pingReq, append(auth, "Host", host)...); status != http.StatusOK {
			t.Errorf("Host %q refused: %d %q", host, status, body)
		}
	}
	// "*" accepts any host.
	any := startServer(t, Config{Node: n, AuthToken: "t", Hosts: []string{"*"}})
	if status, _ := post(t, any, pingReq, append(auth, "Host", "evil.example")...); status != http.StatusOK {
		t.Errorf("rpc_hosts * refused a host: %d", status)
	}
}

// A WebSocket upgrade from a web page of another site is refused; none
// (a program) and a page of an allowed host are accepted.
func TestWebSocketForeignOriginRefused(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, AuthToken: "t", Hosts: []string{"dash.example.org"}})
	for _, origin := range []string{"http://evil.example", "https://evil.example:443", "null", "file://", "http://192.0.2.1"} {
		h := http.Header{"Authorization": {"Bearer t"}, "Origin": {origin}}
		if status := wsDial(t, srv, h); status != http.StatusForbidden {
			t.Errorf("Origin %q: %d", origin, status)
		}
		if status, body := post(t, srv, pingReq, "Authorization", "Bearer t", "Origin", origin); status != http.StatusForbidden ||
			!strings.Contains(body, "Origin") {
			t.Errorf("HTTP with Origin %q: %d %q", origin, status, body)
		}
	}
	for _, origin := range []string{"", "http://localhost:3000", "http://127.0.0.1:8080", "https://dash.example.org"} {
		h := http.Header{"Authorization": {"Bearer t"}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if status := wsDial(t, srv, h); status != http.StatusSwitchingProtocols {
			t.Errorf("Origin %q refused: %d", origin, status)
		}
	}
}

// /metrics needs the token unless MetricsPublic.
func TestMetricsPublic(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "dnode_up 1") })
	get := func(srv *Server) int {
		resp, err := http.Get("http://" + srv.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	closed := startServer(t, Config{Node: n, AuthToken: "t", Metrics: metrics})
	if got := get(closed); got != http.StatusUnauthorized {
		t.Errorf("metrics_public false: /metrics without the token: %d", got)
	}
	open := startServer(t, Config{Node: n, AuthToken: "t", Metrics: metrics, MetricsPublic: true})
	if got := get(open); got != http.StatusOK {
		t.Errorf("metrics_public true: /metrics without the token: %d", got)
	}
	if status, _ := post(t, open, pingReq); status != http.StatusUnauthorized {
		t.Errorf("metrics_public opened the RPC too: %d", status)
	}
}
