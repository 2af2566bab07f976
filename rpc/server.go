package rpc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/relay"
)

// DefaultMaxBody is the default bound on a request body or WebSocket
// message.
const DefaultMaxBody = 1 << 20

// MaxConns bounds the WebSocket connections open at once; further
// upgrades are answered 503.
const MaxConns = 64

// Timeouts of the HTTP server and the WebSocket connections.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	wsWriteTimeout    = 10 * time.Second
	wsPongWait        = 60 * time.Second
	wsPingInterval    = 25 * time.Second
	wsCloseTimeout    = 200 * time.Millisecond
	shutdownTimeout   = 2 * time.Second
)

// Config says how to build a Server.
type Config struct {
	Node *dnode.Node // required
	Chat Chat        // may be nil: then dchat.* are not found
	// Relay may be nil: then relay.* are not found.
	Relay *relay.Relay
	// Listen is the host:port to bind ("127.0.0.1:0" picks a port). A
	// host that is not a loopback address (or localhost) needs AuthToken.
	Listen string
	// AuthToken, when set, must come with every HTTP request and WebSocket
	// upgrade as "Authorization: Bearer <token>".
	AuthToken string
	Metrics   http.Handler // served at GET /metrics when set
	Logger    *slog.Logger // nil discards
	MaxBody   int64        // bound on a request body or WebSocket message; default DefaultMaxBody
}

// Server is the JSON-RPC server of one node. See the package doc.
type Server struct {
	cfg  Config
	log  *slog.Logger
	disp *dispatcher
	http *http.Server
	up   websocket.Upgrader

	ctx    context.Context // cancelled by Close; base of every request
	cancel context.CancelFunc
	wg     sync.WaitGroup // Serve and the WebSocket connections

	mu      sync.Mutex
	started bool
	closed  bool
	ln      net.Listener
	conns   map[*wsConn]struct{}
	subIDs  uint64
	closeMu sync.Mutex // serialises Close
}

// New validates cfg and returns a Server that is not started.
func New(cfg Config) (*Server, error) {
	if cfg.Node == nil {
		return nil, errors.New("rpc: no node")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("rpc: listen address %q: %w", cfg.Listen, err)
	}
	if cfg.AuthToken == "" && !isLoopback(host) {
		return nil, fmt.Errorf("rpc: refusing to listen on %q without an auth token: "+
			"the RPC controls the node; bind a loopback address (127.0.0.1, [::1], localhost) "+
			"or set a token (DNODE_RPC_TOKEN)", cfg.Listen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		disp:   &dispatcher{methods: methodTable(cfg.Node, cfg.Chat, cfg.Relay), log: cfg.Logger},
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*wsConn]struct{}),
	}
	s.up = websocket.Upgrader{
		HandshakeTimeout: readHeaderTimeout,
		// Browsers were refused in guard already (without a token); with
		// a token the Authorization header, which a page cannot set on a
		// WebSocket, is the protection.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", s.serveRPC)
	mux.HandleFunc("GET /ws", s.serveWS)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.http = &http.Server{
		Handler:           s.guard(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// isLoopback reports whether host names only loopback addresses.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start binds the listen address and serves in the background until
// Close. It returns the bind error; ctx bounds the bind only.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("rpc: server closed")
	case s.started:
		return errors.New("rpc: server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("rpc: %w", err)
	}
	s.started = true
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("RPC server failed", "err", err)
		}
	}()
	s.log.Info("RPC server listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the bound address (host:port), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops the server: it closes the listener, every WebSocket
// connection and their subscriptions, and waits for requests in flight
// (at most about 2 s) and for every goroutine of the server. It is
// idempotent.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if !first {
		return nil
	}
	s.cancel()
	for _, c := range conns {
		c.close(websocket.CloseGoingAway, "server closing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = s.http.Close()
	}
	s.wg.Wait()
	return err
}

// guard refuses browsers and checks the token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AuthToken != "" {
			if !s.authorized(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dnode"`)
				http.Error(w, "unauthorized: send Authorization: Bearer <token>", http.StatusUnauthorized)
				return
			}
		} else if r.Header.Get("Origin") != "" {
			// Browsers send Origin; refusing it keeps web pages from
			// driving a token-less node through the user's browser.
			http.Error(w, "forbidden: requests from web pages are refused", http.StatusForbidden)
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

// serveRPC serves one JSON-RPC message posted to /.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, marshalError(nullID,
				errorf(CodeInvalidRequest, "invalid request: body larger than %d bytes", s.cfg.MaxBody)))
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	reply, _ := s.disp.handle(r.Context(), body, nil)
	if reply == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// serveWS upgrades to a WebSocket and serves it until either side closes.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	case len(s.conns) >= MaxConns:
		s.mu.Unlock()
		http.Error(w, fmt.Sprintf("too many WebSocket connections (at most %d)", MaxConns), http.StatusServiceUnavailable)
		return
	}
	// Reserve the slot before upgrading, so that Close sees the
	// connection and waits for it.
	c := &wsConn{s: s, out: make(chan []byte, 64), subs: make(map[string]uint64)}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		c.cancel()
		return // Upgrade answered the client already
	}
	c.serve(ws)
}

// nextSubID returns a subscription id unique within the server.
func (s *Server) nextSubID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subIDs++
	return s.subIDs
}
