// Package chatrpc adapts a dchat.Chat to the rpc.Chat interface, so that
// the JSON-RPC server (which does not import dchat) can drive it.
package chatrpc

import (
	"sync"

	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/rpc"
)

// Adapt returns c as an rpc.Chat.
func Adapt(c *dchat.Chat) rpc.Chat { return adapter{c} }

type adapter struct{ c *dchat.Chat }

func convert(m dchat.Message) rpc.ChatMessage {
	return rpc.ChatMessage{ID: m.ID, Sender: m.Sender.String(), Text: m.Text, Time: m.Time.Unix(), Hops: m.Hops}
}

func (a adapter) Send(text string) (rpc.ChatMessage, error) {
	m, err := a.c.Send(text)
	if err != nil {
		return rpc.ChatMessage{}, err
	}
	return convert(m), nil
}

func (a adapter) Recv(limit int) []rpc.ChatMessage {
	msgs := a.c.Recv(limit)
	out := make([]rpc.ChatMessage, len(msgs))
	for i, m := range msgs {
		out[i] = convert(m)
	}
	return out
}

// Subscribe forwards delivered messages until cancel is called; the
// forwarding goroutine is owned by the subscription and ends with it.
func (a adapter) Subscribe() (<-chan rpc.ChatMessage, func()) {
	sub := a.c.Subscribe(0)
	feed := make(chan rpc.ChatMessage, 16)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(feed)
		for {
			select {
			case m, ok := <-sub.C():
				if !ok {
					return
				}
				select {
				case feed <- convert(m):
				case <-done:
					return
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return feed, func() {
		once.Do(func() {
			close(done)
			sub.Close()
			wg.Wait()
		})
	}
}
