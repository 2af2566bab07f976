package rpc

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
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

// guard checks, in this order, the Host header, the Origin header and the
// token (not for /metrics when MetricsPublic).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.access.hostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("forbidden: Host %q is not allowed: this server answers to localhost, "+
				"loopback addresses and its listen address; add other names to rpc_hosts", r.Host), http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); !s.access.originAllowed(origin) {
			http.Error(w, fmt.Sprintf("forbidden: Origin %q is not allowed: requests from web pages are refused "+
				"unless the page's host is in rpc_hosts", origin), http.StatusForbidden)
			return
		}
		public := s.cfg.MetricsPublic && r.URL.Path == "/metrics"
		if s.cfg.AuthToken != "" && !public && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dnode"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <token> (the token is in the node's "+
				"<datastore>/rpc.cookie, or DNODE_RPC_TOKEN)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.cfg.AuthToken)) == 1
}

// isLoopback reports whether host names only loopback addresses.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
