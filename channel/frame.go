package channel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// WriteFrame writes msg to w as one frame (unsigned-varint length, then
// the protobuf encoding) after checking it is at most max bytes.
func WriteFrame(w io.Writer, msg proto.Message, max int) error {
	data, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	if len(data) > max {
		return fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, len(data), max)
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(data)+binary.MaxVarintLen32), uint64(len(data)))
	_, err = w.Write(append(buf, data...))
	return err
}

// ReadFrame reads one frame of at most max bytes from r into msg. Errors
// caused by the peer's bytes (bad length, oversize, truncation, bad
// encoding) wrap ErrViolation; others are the reader's.
func ReadFrame(r io.Reader, msg proto.Message, max int) error {
	br := &byteReader{r: r}
	first, err := br.ReadByte()
	if err != nil {
		return err
	}
	buf, err := readFrameRest(first, br, max)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(buf, msg); err != nil {
		return fmt.Errorf("%w: undecodable message: %w", ErrViolation, err)
	}
	return nil
}

// readFrameRest reads the rest of a frame whose first length byte is
// first, refusing lengths above max before reading the payload.
func readFrameRest(first byte, br *byteReader, max int) ([]byte, error) {
	n, err := readFrameLen(first, br, max)
	if err != nil {
		return nil, err
	}
	return readPayload(br.r, n)
}

// readFrameLen reads the rest of a frame's length whose first byte is
// first and checks it against max.
func readFrameLen(first byte, br io.ByteReader, max int) (int, error) {
	n, err := readUvarint(first, br)
	if err != nil {
		return 0, fmt.Errorf("%w: bad frame length: %w", ErrViolation, err)
	}
	if n > uint64(max) {
		return 0, fmt.Errorf("%w: frame of %d bytes, cap %d", ErrViolation, n, max)
	}
	return int(n), nil
}

// readPayload reads a frame's payload of n bytes; a stream that ends
// before it is complete is a violation.
func readPayload(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, n)
	if err := readFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// readFull fills buf with a frame's payload; a stream that ends before
// it is full is a violation.
func readFull(r io.Reader, buf []byte) error {
	_, err := io.ReadFull(r, buf)
	return truncated(err)
}

// truncated turns the end of a stream within a frame into a violation.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: truncated frame", ErrViolation)
	}
	return err
}
