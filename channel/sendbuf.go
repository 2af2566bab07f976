package channel

// fillWrite moves the start of parts into *buf, up to maxWrite bytes in
// all, and returns what is left of parts: a large frame's length prefix
// (and any frames before it) then leave in a full write with the frame's
// first bytes rather than in a small write of their own (one yamux frame,
// one noise message and one syscall more per large message), at the cost
// of copying less than maxWrite bytes of it.
func fillWrite(buf *[]byte, parts [][]byte) [][]byte {
	for len(parts) > 0 {
		room := maxWrite - len(*buf)
		if room <= 0 {
			break
		}
		p := parts[0]
		if len(p) > room {
			*buf = append(*buf, p[:room]...)
			parts[0] = p[room:]
			break
		}
		*buf = append(*buf, p...)
		parts = parts[1:]
	}
	return parts
}
