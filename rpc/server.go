package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/internal/webui"
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
	// upgrade as "Authorization: Bearer <token>" (/metrics too, unless
	// MetricsPublic).
	AuthToken string
	// Hosts are the host names accepted in the Host header, and in the
	// Origin header of a browser, besides localhost, loopback IPs and the
	// listen host (rpc_hosts, after geth's vhosts); "*" accepts any.
	Hosts []string
	// MetricsPublic serves /metrics without the token.
	MetricsPublic bool
	Metrics       http.Handler // served at GET /metrics when set
	Logger        *slog.Logger // nil discards
	MaxBody       int64        // bound on a request body or WebSocket message; default DefaultMaxBody
	// MaxBatch bounds the requests of a batch; default DefaultMaxBatch.
	MaxBatch int
	// MaxResponse bounds the bytes of one reply (a batch's replies
	// together); default DefaultMaxResponse. Notifications are not
	// bounded by it.
	MaxResponse int
	// MaxInFlight bounds the messages served at once, over HTTP and the
	// WebSockets together; default DefaultMaxInFlight.
	MaxInFlight int
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

	access   access
	inflight chan struct{} // one token per message being served

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
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = DefaultMaxResponse
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
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
		cfg: cfg,
		log: cfg.Logger,
		disp: &dispatcher{methods: methodTable(cfg.Node, cfg.Chat, cfg.Relay), log: cfg.Logger,
			maxBatch: cfg.MaxBatch, maxResponse: cfg.MaxResponse},
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*wsConn]struct{}),
		access:   newAccess(host, cfg.Hosts),
		inflight: make(chan struct{}, cfg.MaxInFlight),
	}
	s.up = websocket.Upgrader{
		HandshakeTimeout: readHeaderTimeout,
		Subprotocols:     []string{WSProtocol},
		// guard checked the Origin already; checking again here keeps the
		// upgrade safe on its own.
		CheckOrigin: func(r *http.Request) bool { return s.access.originAllowed(r.Header.Get("Origin")) },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", s.serveRPC)
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.Handle("GET /{$}", webui.Node())
	mux.Handle("GET "+webui.AssetPrefix, webui.Assets())
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

// acquire takes an in-flight slot without waiting; release returns it.
func (s *Server) acquire() bool {
	select {
	case s.inflight <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) release() { <-s.inflight }

// serveRPC serves one JSON-RPC message posted to /.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	if !s.acquire() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, marshalError(nullID, busy(s.cfg.MaxInFlight)))
		return
	}
	defer s.release()
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
