package dnode

// Version is dnode's version; nodes advertise "dnode/<Version>" as their
// libp2p user agent.
const Version = "0.1.0"

// UserAgent is the identify agent version of a dnode host.
const UserAgent = "dnode/" + Version
