package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/webui"
	"github.com/dnode-p2p/dnode/rpc"
)

// Graph is the devnet as the web view draws it: GET /graph's body.
type Graph struct {
	Network string      `json:"network"`
	Nodes   []GraphNode `json:"nodes"` // the seed first, then node1..nodeN
	Links   []GraphLink `json:"links"` // one per channel, from the side that dialed
}

// GraphNode is one node of a Graph.
type GraphNode struct {
	Name   string `json:"name"` // seed, node1, ...
	PeerID string `json:"peer_id"`
	Seed   bool   `json:"seed"`
	Slots  int    `json:"slots"`         // outbound slots (0 for the seed)
	Filled int    `json:"filled"`        // of them filled
	Web    string `json:"web,omitempty"` // the node's own web view, with its token
}

// GraphLink is one channel of a Graph, as the dialing node sees it.
type GraphLink struct {
	ID       uint64 `json:"id"` // the channel id on the dialing node
	From     string `json:"from"`
	To       string `json:"to"`
	FromName string `json:"from_name"`
	ToName   string `json:"to_name"`
	Session  string `json:"session"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

// Graph returns the devnet's nodes and the channels between them (the
// channels each node dialed; a channel to a peer outside the devnet is
// left out). nodeURL, when not nil, gives node i's web view link. It is
// safe to call while the devnet runs, concurrently with itself.
func (d *Devnet) Graph(nodeURL func(i int) string) Graph {
	g := Graph{Network: Network, Nodes: []GraphNode{}, Links: []GraphLink{}}
	names := make(map[peer.ID]string, len(d.Nodes)+1)
	if d.seed != nil {
		id := d.seed.Host().ID()
		names[id] = "seed"
		g.Nodes = append(g.Nodes, GraphNode{Name: "seed", PeerID: id.String(), Seed: true})
	}
	for i, n := range d.Nodes {
		name := fmt.Sprintf("node%d", i+1)
		names[n.ID()] = name
		gn := GraphNode{Name: name, PeerID: n.ID().String()}
		for _, id := range nodeinternal.OutboundSlots(n) {
			gn.Slots++
			if id != 0 {
				gn.Filled++
			}
		}
		if nodeURL != nil {
			gn.Web = nodeURL(i)
		}
		g.Nodes = append(g.Nodes, gn)
	}
	for i, n := range d.Nodes {
		from := names[n.ID()]
		for _, ch := range n.Channels() {
			to, ok := names[ch.Peer()]
			if !ok || ch.Direction() != network.DirOutbound {
				continue
			}
			st := ch.Stats()
			g.Links = append(g.Links, GraphLink{
				ID: ch.ID(), From: d.Nodes[i].ID().String(), To: ch.Peer().String(), FromName: from, ToName: to,
				Session: ch.Session().String(), BytesIn: st.BytesIn, BytesOut: st.BytesOut,
			})
		}
	}
	return g
}

// WebConfig says how to serve the devnet's web view.
type WebConfig struct {
	Listen string // host:port; a loopback address ("127.0.0.1:0" picks a port)
	// Token, when set, must come with GET /graph as "Authorization:
	// Bearer <token>" (the page is public, as a node's is; see rpc.Protect).
	Token   string
	NodeURL func(i int) string // node i's web view link; may be nil
	Logger  *slog.Logger       // nil discards
}

// Web is the devnet's running web view.
type Web struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// ServeWeb serves the devnet page at GET / and its data at GET /graph on
// cfg.Listen until Close. It is to be called after Start; the devnet
// must outlive it.
func (d *Devnet) ServeWeb(ctx context.Context, cfg WebConfig) (*Web, error) {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("devnet web: listen address %q: %w", cfg.Listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("devnet web: %q is not a loopback address", cfg.Listen)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", webui.Devnet())
	mux.Handle("GET "+webui.AssetPrefix, webui.Assets())
	mux.HandleFunc("GET /graph", func(w http.ResponseWriter, _ *http.Request) {
		body, err := json.Marshal(d.Graph(cfg.NodeURL))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
	public := func(r *http.Request) bool { return r.URL.Path != "/graph" }
	handler, err := rpc.Protect(mux, cfg.Listen, cfg.Token, nil, public)
	if err != nil {
		return nil, fmt.Errorf("devnet web: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("devnet web: %w", err)
	}
	w := &Web{
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(w.done)
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("devnet web server failed", "err", err)
		}
	}()
	return w, nil
}

// Addr returns the bound host:port.
func (w *Web) Addr() string { return w.ln.Addr().String() }

// Close stops the server, waiting up to 2 s for requests in flight. It
// is idempotent.
func (w *Web) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := w.srv.Shutdown(ctx)
	if err != nil {
		err = w.srv.Close()
	}
	<-w.done
	return err
}
