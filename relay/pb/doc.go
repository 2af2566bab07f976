// Package pb holds the relay protocol's wire messages (relay.proto) and
// their generated code. See docs/protocol.md for the rules.
package pb
