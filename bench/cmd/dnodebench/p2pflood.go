package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

// p2pFloodProto is the stream protocol of the p2pflood baseline.
const p2pFloodProto = "/dnodebench/p2pflood/1.0.0"

// p2pflood is the minimal flood over libp2p, the floor for DarkFi's
// broadcast on go-libp2p: bare hosts (TCP, noise, yamux, as newBareHost),
// one long-lived stream per edge used both ways, the raw flood's frames
// (4-byte length, 16-byte id, payload), relay once to every other
// neighbour (seen set), and per stream a writer that flushes when its
// queue is empty. It shares the raw flood's node code; only the
// connections are libp2p streams instead of TCP connections.
type p2pflood struct {
	flood
	hosts []host.Host
}

func (p *p2pflood) name() string { return "p2pflood" }

func (p *p2pflood) label() string { return "p2pflood (flood over bare libp2p), same topology" }

// newP2PFlood builds n hosts and opens one stream along each edge. dial,
// if not nil, gives the address host a dials to reach host b (a delaying
// proxy); by default b's own addresses.
func newP2PFlood(n int, edges [][2]int) *p2pflood {
	return newP2PFloodVia(n, edges, nil)
}

func newP2PFloodVia(n int, edges [][2]int, via func(a, b int, h host.Host) []ma.Multiaddr) *p2pflood {
	p := &p2pflood{}
	var wg sync.WaitGroup
	for range n {
		h := newBareHost()
		fn := &fnode{f: &p.flood, seen: map[[16]byte]bool{}}
		p.hosts = append(p.hosts, h)
		p.nodes = append(p.nodes, fn)
		h.SetStreamHandler(p2pFloodProto, func(s network.Stream) {
			fn.add(s)
			wg.Done()
		})
	}
	ctx := context.Background()
	sem := make(chan struct{}, 16)
	var dials sync.WaitGroup
	for _, e := range edges {
		wg.Add(1)
		sem <- struct{}{}
		dials.Go(func() {
			defer func() { <-sem }()
			a, b := p.hosts[e[0]], p.hosts[e[1]]
			ai := addrInfo(b)
			if via != nil {
				ai.Addrs = via(e[0], e[1], b)
			}
			must(a.Connect(ctx, ai))
			s, err := a.NewStream(ctx, b.ID(), p2pFloodProto)
			must(err)
			// An empty hello frame makes the peer's handler run now
			// (protocol negotiation is lazy).
			var hello [4]byte
			_, err = s.Write(hello[:])
			must(err)
			p.nodes[e[0]].add(s)
		})
	}
	dials.Wait()
	wg.Wait()
	return p
}

func (p *p2pflood) close() {
	p.flood.close()
	for _, h := range p.hosts {
		h.Close()
	}
}

// publish is the raw flood's publish (the embedded method would do too;
// spelled out so the frame layout is visible here).
func (p *p2pflood) publish(i int) string {
	fr := make([]byte, 4+16+1024)
	binary.BigEndian.PutUint32(fr, 16+1024)
	_, _ = rand.Read(fr[4:20])
	p.nodes[i].handle(fr, nil)
	return hex.EncodeToString(fr[4:20])
}
