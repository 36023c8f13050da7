package master

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/gomesos/gomesos/codec"
)

// subscribe POSTs a subscription (body, to path) to the master at addr on
// a connection of its own, as an agent on its own machine opens one, and
// returns the master's response; closing its body closes the connection.
//
// The request is HTTP/1.1 written by hand in one write, and the response
// is read with http.ReadResponse (which decodes the chunked stream):
// net/http's client would give every one of 10,000 streams two goroutines
// and its buffers and bookkeeping, the cost of which falls on the cores
// the masters use, where it stands for work done on 10,000 other machines.
// What the masters see is the same: one TCP connection per subscription,
// the same request line, headers and body, a stream read until it ends.
func (b *failoverBench) subscribe(ctx context.Context, addr, path string, body []byte) (*http.Response, error) {
	conn, err := b.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Ending ctx ends the connection, and any read or write on it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	rc := &rawConn{Conn: conn, stop: stop}
	req := requestBuffers.Get().(*[]byte)
	buf := append((*req)[:0], "POST "...)
	buf = append(buf, path...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, addr...)
	buf = append(buf, "\r\nUser-Agent: gomesos-bench\r\nContent-Type: "+codec.MediaProtobuf+"\r\nAccept: "+codec.MediaProtobuf+"\r\nContent-Length: "...)
	buf = strconv.AppendInt(buf, int64(len(body)), 10)
	buf = append(buf, "\r\n\r\n"...)
	buf = append(buf, body...)
	_, err = conn.Write(buf)
	*req = buf
	requestBuffers.Put(req)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("POST %s%s: %w", addr, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("POST %s%s: %w", addr, path, err)
	}
	// The body's own Close would read the stream to its end.
	resp.Body = struct {
		io.Reader
		io.Closer
	}{resp.Body, rc}
	return resp, nil
}

// requestBuffers holds the buffers subscriptions are written from.
var requestBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// rawConn is a subscription's connection: closing it also forgets its
// context.
type rawConn struct {
	net.Conn
	stop func() bool
	once sync.Once
}

func (c *rawConn) Close() error {
	var err error
	c.once.Do(func() {
		c.stop()
		err = c.Conn.Close()
	})
	return err
}
