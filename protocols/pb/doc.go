// Package pb holds the protobuf messages of dnode's built-in protocols
// (version, ping, addr). The .proto file is committed together with its
// generated Go code, so building dnode needs no protoc; `go generate` in
// this directory regenerates it (protoc 3.21 and protoc-gen-go v1.36.11).
package pb
