package master

import "io"

// gate bounds the readers that encode snapshots at once to one fewer than
// the processors, so that the loop always has one: readers wait for each
// other, never the loop for readers. A reader holds the gate while it
// encodes, not while the network takes what it encoded (gate.writer), so a
// slow client delays no one.
type gate chan struct{}

func newGate(n int) gate { return make(gate, n) }

func (g gate) acquire() { g <- struct{}{} }
func (g gate) release() { <-g }

// writer is w written through with the gate released meanwhile: the
// holder's network writes do not hold up the others' encoding.
func (g gate) writer(w io.Writer) io.Writer { return gatedWriter{g: g, w: w} }

type gatedWriter struct {
	g gate
	w io.Writer
}

func (gw gatedWriter) Write(p []byte) (int, error) {
	gw.g.release()
	defer gw.g.acquire()
	return gw.w.Write(p)
}
