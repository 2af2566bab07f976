package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

func newChatCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Chat through a running node's dchat",
		Long: "Chat sends every line read from standard input as a chat message\n" +
			"(dchat.send over the node's RPC WebSocket) and prints messages as they\n" +
			"arrive (dchat.subscribe). It ends at the end of input or on SIGINT.\n" +
			"--json prints each incoming message as a JSON object, one per line.\n" +
			"The node must run with dchat enabled.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			conn, err := c.Dial(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted while connecting
				}
				return f.clientError(c, err)
			}
			defer conn.Close()
			sub, err := conn.Subscribe(ctx, "dchat.subscribe")
			var rerr *rpc.Error
			if errors.As(err, &rerr) && rerr.Code == rpc.CodeMethodNotFound {
				return failure(fmt.Errorf("the node at %s runs without dchat (%s)", c.Endpoint(), rerr.Message))
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return f.clientError(c, err)
			}

			out := &lockedWriter{w: cmd.OutOrStdout()}
			printed := make(chan struct{})
			go func() { // ends when conn closes, which the deferred Close ensures
				defer close(printed)
				for raw := range sub.C {
					if err := printChat(out, raw, f.json); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "dnode: %v\n", err)
					}
				}
			}()
			defer func() {
				_ = conn.Close()
				<-printed
			}()

			// Lines are read in their own goroutine so that a signal ends
			// the command while the terminal waits for input; it returns
			// at the end of input (the process exits anyway).
			lines := make(chan string)
			readErr := make(chan error, 1)
			go func() {
				sc := bufio.NewScanner(cmd.InOrStdin())
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				for sc.Scan() {
					select {
					case lines <- sc.Text():
					case <-ctx.Done():
						return
					}
				}
				readErr <- sc.Err()
			}()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-conn.Done():
					return failure(fmt.Errorf("lost the connection to dnode RPC at %s", c.Endpoint()))
				case err := <-readErr:
					if err != nil {
						return failure(fmt.Errorf("reading input: %w", err))
					}
					return nil
				case line := <-lines:
					text := strings.TrimRight(line, "\r")
					if strings.TrimSpace(text) == "" {
						continue
					}
					if err := f.clientError(c, conn.Call(ctx, "dchat.send", nil, text)); err != nil {
						if ctx.Err() != nil {
							return nil
						}
						return err
					}
				}
			}
		},
	}
	f.register(cmd)
	return cmd
}

// printChat prints one incoming message: raw JSON, or "[15:04:05] <sender> text".
func printChat(w io.Writer, raw json.RawMessage, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	var m rpc.ChatMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("bad chat message %s: %w", raw, err)
	}
	at := time.Now()
	if m.Time > 0 {
		at = time.Unix(m.Time, 0)
	}
	_, err := fmt.Fprintf(w, "[%s] <%s> %s\n", at.Format("15:04:05"), m.Sender, m.Text)
	return err
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
