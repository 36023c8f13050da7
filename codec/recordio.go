package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxRecord bounds the size of one RecordIO record a Reader accepts.
const DefaultMaxRecord = 64 << 20

// RecordWriter writes RecordIO records: the decimal length, a newline, then
// exactly that many bytes.
type RecordWriter struct {
	w   io.Writer
	buf []byte
}

// NewRecordWriter returns a writer of RecordIO records to w.
func NewRecordWriter(w io.Writer) *RecordWriter { return &RecordWriter{w: w} }

// WriteRecord writes one record in a single Write call.
func (rw *RecordWriter) WriteRecord(data []byte) error {
	rw.buf = strconv.AppendInt(rw.buf[:0], int64(len(data)), 10)
	rw.buf = append(rw.buf, '\n')
	rw.buf = append(rw.buf, data...)
	_, err := rw.w.Write(rw.buf)
	return err
}

// RecordReader reads RecordIO records.
type RecordReader struct {
	r   *bufio.Reader
	max int
}

// NewRecordReader returns a reader of RecordIO records from r; records longer
// than max bytes are an error (max <= 0 means DefaultMaxRecord).
func NewRecordReader(r io.Reader, max int) *RecordReader {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	return &RecordReader{r: bufio.NewReader(r), max: max}
}

// ErrRecordTooLarge is returned for a record longer than the reader's limit.
var ErrRecordTooLarge = errors.New("recordio: record too large")

// ReadRecord returns the next record. It returns io.EOF at a clean end of
// stream and io.ErrUnexpectedEOF when the stream ends inside a record.
func (rr *RecordReader) ReadRecord() ([]byte, error) {
	var n uint64
	digits := 0
	for {
		b, err := rr.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if b == '\n' {
			break
		}
		if b < '0' || b > '9' {
			return nil, fmt.Errorf("recordio: invalid length byte %q", b)
		}
		digits++
		if digits > 19 {
			return nil, ErrRecordTooLarge
		}
		n = n*10 + uint64(b-'0')
	}
	if digits == 0 {
		return nil, errors.New("recordio: empty length")
	}
	if n > uint64(rr.max) {
		return nil, fmt.Errorf("%w: %d bytes", ErrRecordTooLarge, n)
	}
	if n <= smallRecord {
		data := make([]byte, n)
		if _, err := io.ReadFull(rr.r, data); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return data, nil
	}
	// A large record: let the buffer grow as the bytes arrive, so that a
	// peer announcing a huge length it never sends cannot make us allocate
	// it up front.
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, rr.r, int64(n))
	if uint64(got) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// smallRecord is the size up to which ReadRecord allocates a record whole.
const smallRecord = 64 << 10
