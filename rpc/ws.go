package rpc

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one WebSocket connection: its reader (the HTTP handler's
// goroutine) runs the requests in order, its writer goroutine sends the
// replies and notifications queued on out, and one pump goroutine per
// subscription feeds out. Everything stops when ctx is cancelled: by the
// client going away, a write failure, or Server.Close.
type wsConn struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelFunc
	out    chan []byte
	wg     sync.WaitGroup // writer and pumps

	mu     sync.Mutex
	ws     *websocket.Conn // nil until upgraded
	closed bool
	subs   map[string]uint64 // method → subscription id
}

// serve runs the connection until it ends, then waits for its goroutines.
func (c *wsConn) serve(ws *websocket.Conn) {
	c.mu.Lock()
	c.ws = ws
	closed := c.closed
	c.mu.Unlock()
	if closed {
		_ = ws.Close()
		return
	}
	ws.SetReadLimit(c.s.cfg.MaxBody)
	_ = ws.SetReadDeadline(time.Now().Add(wsPongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(wsPongWait)) })
	c.wg.Add(1)
	go c.writeLoop(ws)
	c.readLoop(ws)
	c.cancel()
	_ = ws.Close()
	c.wg.Wait()
}

// readLoop runs every message the client sends until the connection
// fails or ctx is done.
func (c *wsConn) readLoop(ws *websocket.Conn) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
				c.ctx.Err() == nil {
				c.s.log.Debug("RPC WebSocket closed", "err", err)
			}
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(wsPongWait))
		if !c.s.acquire() {
			if !c.send(marshalError(requestID(data), busy(c.s.cfg.MaxInFlight))) {
				return
			}
			continue
		}
		reply, starts := c.s.disp.handle(c.ctx, data, c)
		c.s.release()
		if reply != nil && !c.send(reply) {
			for _, start := range starts {
				start() // releases: ctx is done
			}
			return
		}
		for _, start := range starts {
			start()
		}
	}
}

// writeLoop sends what is queued on out, and pings, until ctx is done or
// a write fails.
func (c *wsConn) writeLoop(ws *websocket.Conn) {
	defer c.wg.Done()
	ping := time.NewTicker(wsPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case msg := <-c.out:
			_ = ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.s.log.Debug("RPC WebSocket write failed", "err", err)
				c.cancel()
				_ = ws.Close() // unblocks the reader
				return
			}
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteTimeout)); err != nil {
				c.cancel()
				_ = ws.Close()
				return
			}
		}
	}
}

// send queues msg for the writer; it returns false once ctx is done.
func (c *wsConn) send(msg []byte) bool {
	select {
	case c.out <- msg:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// subscribe implements session.
func (c *wsConn) subscribe(name string, p pump, release func()) (uint64, func()) {
	c.mu.Lock()
	if id, ok := c.subs[name]; ok {
		c.mu.Unlock()
		release()
		return id, nil
	}
	id := c.s.nextSubID()
	c.subs[name] = id
	c.mu.Unlock()
	start := func() {
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			release()
			return
		}
		// start runs on the reader goroutine, so this Add happens before
		// serve's Wait.
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			defer release()
			defer func() {
				// The source ended: let a new call subscribe again.
				c.mu.Lock()
				if c.subs[name] == id {
					delete(c.subs, name)
				}
				c.mu.Unlock()
			}()
			p(c.ctx, func(item any) bool {
				msg, err := marshalNotification(name, item)
				if err != nil {
					c.s.log.Error("RPC notification not encodable", "method", name, "err", err)
					return true
				}
				return c.send(msg)
			})
		}()
	}
	return id, start
}

// close ends the connection with a close frame (code, reason), at most
// waiting wsCloseTimeout for the frame to be written.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	c.closed = true
	ws := c.ws
	c.mu.Unlock()
	c.cancel()
	if ws == nil {
		return
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wsCloseTimeout))
	_ = ws.Close()
}
