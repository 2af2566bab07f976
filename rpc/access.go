package rpc

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/dnode-p2p/dnode/internal/webui"
)

// access decides which Host and Origin headers the server accepts: the
// defence against DNS rebinding (a page of evil.example whose name the
// attacker points at 127.0.0.1 reaches the server with Host
// evil.example) and against other sites' pages (a browser names their
// site in Origin). After geth's vhosts.
type access struct {
	listen string          // the listen host, lower case, without brackets
	anyIP  bool            // listening on 0.0.0.0 or ::: any IP literal names us
	names  map[string]bool // rpc_hosts, lower case
	all    bool            // rpc_hosts holds "*"
}

func newAccess(listenHost string, hosts []string) access {
	a := access{listen: normalizeHost(listenHost), names: make(map[string]bool)}
	if ip := net.ParseIP(a.listen); ip != nil && ip.IsUnspecified() {
		a.anyIP = true
	}
	for _, h := range hosts {
		if h = strings.TrimSpace(h); h == "*" {
			a.all = true
		} else if h != "" {
			a.names[normalizeHost(h)] = true
		}
	}
	return a
}

// normalizeHost lower-cases a host name and drops brackets and a final dot.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.Trim(strings.ToLower(h), "[]"), ".")
	return h
}

// hostAllowed reports whether hostport (a Host header, port optional)
// names this server: localhost, a loopback IP, the listen host (any IP
// literal when listening on an unspecified address), or a name of
// rpc_hosts. IP literals other than these are refused too: only names
// matter for DNS rebinding, but an address of the machine the server
// does not listen on has no business here either.
func (a access) hostAllowed(hostport string) bool {
	if hostport == "" {
		return false
	}
	if a.all {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normalizeHost(host)
	switch {
	case host == "localhost", host == a.listen, a.names[host]:
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || a.anyIP
	}
	return false
}

// originAllowed reports whether a request with this Origin header may be
// served: none (not a browser), or a page whose host hostAllowed accepts.
func (a access) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false // "null" (a sandboxed or file page) included
	}
	return a.hostAllowed(u.Host)
}

// WebSocket subprotocols. A browser cannot set headers on a WebSocket, so
// a page offers the token as a subprotocol instead: it opens the socket
// with the subprotocols [WSProtocol, WSTokenPrefix+token], and the server
// accepts the token from there and answers with WSProtocol (never echoing
// the token). Offering WSTokenPrefix+token alone fails in browsers: they
// require the server to select one of the offered subprotocols.
const (
	WSProtocol    = "dnode.jsonrpc"
	WSTokenPrefix = "dnode.bearer."
)

// guard checks, in this order, the Host header, the Origin header and the
// token (not for /metrics when MetricsPublic, nor for the web view's
// static files, which hold no data).
func (s *Server) guard(next http.Handler) http.Handler {
	return guard(s.access, s.cfg.AuthToken, func(r *http.Request) bool {
		return (s.cfg.MetricsPublic && r.URL.Path == "/metrics") || webFile(r)
	}, next)
}

// webFile reports whether r asks for the web view's page or one of its
// static files: GET (or HEAD) of / or of a path under /web/.
func webFile(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, webui.AssetPrefix)
}

// Protect wraps next in the checks the RPC server makes, for another HTTP
// server of a node's operator (`dnode devnet`'s page): the Host header
// must name localhost, a loopback IP, the host of listen (host:port) or
// one of hosts; a request with an Origin must come from such a host
// (both 403 otherwise); and, when token is not "", a request must carry
// it as "Authorization: Bearer <token>" (or, on a WebSocket upgrade, as
// the subprotocol WSTokenPrefix+token), else 401, unless public(r) says
// the request needs no token (public may be nil). The handler is safe
// for concurrent use.
func Protect(next http.Handler, listen, token string, hosts []string, public func(*http.Request) bool) (http.Handler, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("rpc: listen address %q: %w", listen, err)
	}
	if public == nil {
		public = func(*http.Request) bool { return false }
	}
	return guard(newAccess(host, hosts), token, public, next), nil
}

func guard(a access, token string, public func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("forbidden: Host %q is not allowed: this server answers to localhost, "+
				"loopback addresses and its listen address; add other names to rpc_hosts", r.Host), http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); !a.originAllowed(origin) {
			http.Error(w, fmt.Sprintf("forbidden: Origin %q is not allowed: requests from web pages are refused "+
				"unless the page's host is in rpc_hosts", origin), http.StatusForbidden)
			return
		}
		if token != "" && !public(r) && !authorized(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dnode"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <token> (the token is in the node's "+
				"<datastore>/rpc.cookie, or DNODE_RPC_TOKEN)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries token: in its Authorization
// header, or, on a WebSocket upgrade, as a subprotocol WSTokenPrefix+token.
func authorized(r *http.Request, token string) bool {
	if scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return false
	}
	for _, p := range websocket.Subprotocols(r) {
		if got, ok := strings.CutPrefix(p, WSTokenPrefix); ok &&
			subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
			return true
		}
	}
	return false
}

// isLoopback reports whether host names only loopback addresses.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
