// Package integration holds dnode's multi-node tests on real loopback
// sockets. Each test builds its nodes through the harness in
// harness_test.go (random ports, a temporary datastore per node, short
// timers, logs to t.Log when DNODE_TEST_LOG is set) and checks for
// goroutine leaks with goleak.
package integration
