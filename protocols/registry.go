package protocols

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dnode-p2p/dnode/channel"
)

// Protocol is one protocol instance attached to one channel.
type Protocol interface {
	// Start runs after the version handshake succeeded. It must not block:
	// long-running work goes into goroutines started with Channel.Go. An
	// error stops the channel.
	Start(ctx context.Context) error
}

// Constructor builds a protocol instance for a channel that is about to
// run its handshake. It may subscribe to the channel but must not send.
type Constructor func(ch *channel.Channel) (Protocol, error)

// Registration describes one protocol for the registry.
type Registration struct {
	Name     string          // unique name, for logs
	Sessions channel.Session // session kinds the protocol runs on
	Specs    []*channel.Spec // stream protocols it uses; their handlers are installed per network
	New      Constructor
}

// Errors returned by Register.
var (
	ErrDuplicate = errors.New("protocol already registered")
	ErrFrozen    = errors.New("registry is frozen: the node has started")
	ErrInvalid   = errors.New("invalid registration")
)

// Registry is the ordered list of registrations. It is safe for
// concurrent use. Registrations made after Freeze are refused, since
// handlers for their streams would not be installed.
type Registry struct {
	mu     sync.RWMutex
	regs   []Registration
	frozen bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds a protocol. Protocols are attached in registration order.
func (r *Registry) Register(reg Registration) error {
	if reg.Name == "" || reg.New == nil || reg.Sessions == 0 {
		return fmt.Errorf("%w: %q needs a name, sessions and a constructor", ErrInvalid, reg.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return fmt.Errorf("%w: %s", ErrFrozen, reg.Name)
	}
	for _, o := range r.regs {
		if o.Name == reg.Name {
			return fmt.Errorf("%w: %s", ErrDuplicate, reg.Name)
		}
		for _, s := range o.Specs {
			for _, t := range reg.Specs {
				if s.Name() == t.Name() {
					return fmt.Errorf("%w: stream %s of %s is used by %s", ErrDuplicate, t.Name(), reg.Name, o.Name)
				}
			}
		}
	}
	r.regs = append(r.regs, reg)
	return nil
}

// Freeze refuses further registrations. The node calls it in Start.
func (r *Registry) Freeze() {
	r.mu.Lock()
	r.frozen = true
	r.mu.Unlock()
}

// Unfreeze allows registrations again; the node calls it in Stop.
func (r *Registry) Unfreeze() {
	r.mu.Lock()
	r.frozen = false
	r.mu.Unlock()
}

// Registrations returns the registrations in order.
func (r *Registry) Registrations() []Registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Registration(nil), r.regs...)
}

// Specs returns every stream Spec of every registration.
func (r *Registry) Specs() []*channel.Spec {
	var out []*channel.Spec
	for _, reg := range r.Registrations() {
		out = append(out, reg.Specs...)
	}
	return out
}

// Matching returns the names of the protocols that run on session kind s,
// in order.
func (r *Registry) Matching(s channel.Session) []string {
	var out []string
	for _, reg := range r.Registrations() {
		if reg.Sessions&s != 0 {
			out = append(out, reg.Name)
		}
	}
	return out
}

// Attached is the set of protocols constructed for one channel.
type Attached struct {
	names  []string
	protos []Protocol
}

// Attach constructs every protocol whose sessions include ch's kind, in
// registration order, and attaches their Specs to ch. A constructor error
// aborts and is returned.
func (r *Registry) Attach(ch *channel.Channel) (*Attached, error) {
	a := &Attached{}
	for _, reg := range r.Registrations() {
		if reg.Sessions&ch.Session() == 0 {
			continue
		}
		for _, s := range reg.Specs {
			ch.Attach(s)
		}
		p, err := reg.New(ch)
		if err != nil {
			return nil, fmt.Errorf("protocol %s: %w", reg.Name, err)
		}
		a.names = append(a.names, reg.Name)
		a.protos = append(a.protos, p)
	}
	return a, nil
}

// Names returns the attached protocols' names in order.
func (a *Attached) Names() []string { return a.names }

// Start starts every attached protocol in order and returns the first
// error.
func (a *Attached) Start(ctx context.Context) error {
	for i, p := range a.protos {
		if err := p.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", a.names[i], err)
		}
	}
	return nil
}
