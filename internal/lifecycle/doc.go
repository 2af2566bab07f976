// Package lifecycle holds the bounded waits of dnode's Stop(ctx) methods:
// a service cancels its goroutines, then waits for them at most until its
// context is done, so that a goroutine ignoring its context (an
// application job) delays a Stop to its deadline, not forever.
package lifecycle
