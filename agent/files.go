package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/gomesos/gomesos/codec"
)

// readCap is the most one /files/read returns: 16 pages of 4 KiB, as Mesos.
const readCap = 16 * 4096

// files is Mesos's FilesProcess: it serves sandboxes attached under
// virtual paths, and nothing outside them.
type files struct {
	mu       sync.RWMutex
	attached map[string]string // virtual path -> real directory
}

func (f *files) attach(dir string, paths []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attached == nil {
		f.attached = make(map[string]string)
	}
	for _, p := range paths {
		f.attached[path.Clean("/"+p)] = dir
	}
}

// detach removes every virtual path that leads to one of dirs.
func (f *files) detach(dirs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, d := range f.attached {
		for _, dir := range dirs {
			if d == dir {
				delete(f.attached, p)
			}
		}
	}
}

// detachWithin removes every /files path of the sandboxes at or below
// dir (a directory garbage collection removed).
func (f *files) detachWithin(dir string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, d := range f.attached {
		if within(dir, d) {
			delete(f.attached, p)
		}
	}
}

var (
	errFileNotFound = errors.New("not found")
	errEscapes      = errors.New("path escapes the sandbox")
)

// resolve maps a virtual path to a real one inside an attached directory.
// The longest attached prefix wins. Lexical ".." is cleaned first, so it can
// only lead out of every attachment; symbolic links are resolved and must
// stay inside the attached directory.
func (f *files) resolve(virtual string) (string, error) {
	p := path.Clean("/" + virtual)
	f.mu.RLock()
	var root, rest, dir string
	for prefix, d := range f.attached {
		if p != prefix && !strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/") {
			continue
		}
		if dir == "" || len(prefix) > len(root) {
			root, dir = prefix, d
			rest = strings.TrimPrefix(p, prefix)
		}
	}
	f.mu.RUnlock()
	if dir == "" {
		return "", errFileNotFound
	}
	realRoot, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", errFileNotFound
	}
	real, err := filepath.EvalSymlinks(filepath.Join(realRoot, filepath.FromSlash(rest)))
	if err != nil {
		return "", errFileNotFound
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", errEscapes
	}
	return real, nil
}

// filesError is a refusal of the files logic: the HTTP status Mesos
// answers with and the reason.
type filesError struct {
	status int
	msg    string
}

func (e *filesError) Error() string { return e.msg }

// refusal is the filesError for err, met looking for the virtual path what.
func refusal(err error, what string) *filesError {
	switch {
	case errors.Is(err, errEscapes):
		return &filesError{http.StatusForbidden, "Path '" + what + "' leaves the sandbox"}
	default:
		return &filesError{http.StatusNotFound, "Path '" + what + "' does not exist"}
	}
}

// failFiles answers an error of list or readAt.
func failFiles(w http.ResponseWriter, err error) {
	var fe *filesError
	if errors.As(err, &fe) {
		httpError(w, fe.status, fe.msg)
		return
	}
	httpError(w, http.StatusInternalServerError, err.Error())
}

func (f *files) fail(w http.ResponseWriter, err error, what string) { failFiles(w, refusal(err, what)) }

// pathParam is the query's path parameter; when there is none it answers
// 400 and returns false.
func pathParam(w http.ResponseWriter, q url.Values) (string, bool) {
	virtual := q.Get("path")
	if virtual == "" {
		httpError(w, http.StatusBadRequest, "Expecting 'path=value' in query.\n")
		return "", false
	}
	return virtual, true
}

// sizeParam is the query's offset or length parameter (name): -1 when it is
// absent, else a number no less than -1; otherwise it answers 400 and
// returns false.
func sizeParam(w http.ResponseWriter, q url.Values, name string) (int64, bool) {
	s := q.Get(name)
	if s == "" {
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		httpError(w, http.StatusBadRequest, "Failed to parse "+name+": "+err.Error()+".\n")
		return 0, false
	}
	if n < -1 {
		httpError(w, http.StatusBadRequest, "Negative "+name+" provided: "+s+".\n")
		return 0, false
	}
	return n, true
}

// open resolves a virtual path and opens the file there, returning its real
// path too; when it cannot, it answers as fail does and returns false.
func (f *files) open(w http.ResponseWriter, virtual string) (*os.File, string, bool) {
	real, err := f.resolve(virtual)
	if err != nil {
		f.fail(w, err, virtual)
		return nil, "", false
	}
	fh, err := os.Open(real)
	if err != nil {
		f.fail(w, errFileNotFound, virtual)
		return nil, "", false
	}
	return fh, real, true
}

// fileInfoJSON is one entry of /files/browse.
type fileInfoJSON struct {
	Path  string       `json:"path"`
	Nlink int64        `json:"nlink"`
	Size  int64        `json:"size"`
	Mtime codec.Double `json:"mtime"`
	Mode  string       `json:"mode"`
	UID   string       `json:"uid"`
	GID   string       `json:"gid"`
}

// fileEntry is one entry of a listing: its virtual path and its stat.
type fileEntry struct {
	virtual string
	info    fs.FileInfo
}

// list is the entries of the directory at a virtual path (the file itself
// when it is not a directory), by path; the /files/browse endpoint and the
// LIST_FILES call answer with it.
func (f *files) list(virtual string) ([]fileEntry, error) {
	real, err := f.resolve(virtual)
	if err != nil {
		return nil, refusal(err, virtual)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, refusal(errFileNotFound, virtual)
	}
	vbase := strings.TrimSuffix(path.Clean("/"+virtual), "/")
	if !fi.IsDir() {
		return []fileEntry{{vbase, fi}}, nil
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", virtual, err)
	}
	out := make([]fileEntry, 0, len(entries))
	for _, e := range entries {
		info, err := os.Lstat(filepath.Join(real, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, fileEntry{vbase + "/" + e.Name(), info})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].virtual < out[j].virtual })
	return out, nil
}

// browse is GET /files/browse?path=: the entries of a directory.
func (f *files) browse(w http.ResponseWriter, r *http.Request) {
	virtual, ok := pathParam(w, r.URL.Query())
	if !ok {
		return
	}
	entries, err := f.list(virtual)
	if err != nil {
		failFiles(w, err)
		return
	}
	out := make([]fileInfoJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, fileInfo(e.virtual, e.info))
	}
	writeJSON(w, r, out)
}

// readAt reads the file at a virtual path: its size, and at most length
// bytes (at most readCap; -1 for readCap) from offset; an offset of -1 asks
// for the size alone. /files/read and READ_FILE answer with it.
func (f *files) readAt(virtual string, offset, length int64) (size int64, data []byte, err error) {
	real, err := f.resolve(virtual)
	if err != nil {
		return 0, nil, refusal(err, virtual)
	}
	fh, err := os.Open(real)
	if err != nil {
		return 0, nil, refusal(errFileNotFound, virtual)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, nil, refusal(errFileNotFound, virtual)
	}
	if fi.IsDir() {
		return 0, nil, &filesError{http.StatusBadRequest, "Cannot read a directory.\n"}
	}
	size = fi.Size()
	if offset == -1 {
		return size, nil, nil
	}
	if length == -1 || length > readCap {
		length = readCap
	}
	if offset >= size || length == 0 {
		return size, nil, nil
	}
	buf := make([]byte, min(length, size-offset))
	n, err := fh.ReadAt(buf, offset)
	if err != nil && err != io.EOF {
		return 0, nil, &filesError{http.StatusInternalServerError, "Failed to read file: " + err.Error()}
	}
	return size, buf[:n], nil
}

// read is GET /files/read?path=&offset=&length=: {"offset","data"}; an
// offset of -1 asks for the file's size.
func (f *files) read(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	virtual, ok := pathParam(w, q)
	if !ok {
		return
	}
	offset, ok := sizeParam(w, q, "offset")
	if !ok {
		return
	}
	length, ok := sizeParam(w, q, "length")
	if !ok {
		return
	}
	size, data, err := f.readAt(virtual, offset, length)
	if err != nil {
		failFiles(w, err)
		return
	}
	type result struct {
		Offset int64  `json:"offset"`
		Data   string `json:"data"`
	}
	if offset == -1 {
		offset = size
	}
	writeJSON(w, r, result{Offset: offset, Data: string(data)})
}

// download is GET /files/download?path=: the file itself.
func (f *files) download(w http.ResponseWriter, r *http.Request) {
	virtual, ok := pathParam(w, r.URL.Query())
	if !ok {
		return
	}
	fh, real, ok := f.open(w, virtual)
	if !ok {
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || fi.IsDir() {
		httpError(w, http.StatusBadRequest, "Cannot download a directory.\n")
		return
	}
	ct := mime.TypeByExtension(filepath.Ext(real))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(filepath.Base(real)))
	http.ServeContent(w, r, "", fi.ModTime(), fh)
}

func fileInfo(virtual string, fi fs.FileInfo) fileInfoJSON {
	out := fileInfoJSON{
		Path:  virtual,
		Nlink: 1,
		Size:  fi.Size(),
		Mtime: codec.Double(float64(fi.ModTime().UnixNano()) / 1e9),
		Mode:  modeString(fi.Mode()),
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.Nlink = int64(st.Nlink)
		out.UID = userName(st.Uid)
		out.GID = groupName(st.Gid)
	}
	return out
}

// modeString renders a mode as ls does ("drwxr-xr-x", "-rw-r--r--").
func modeString(m fs.FileMode) string {
	var b [10]byte
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	return string(b[:])
}

var (
	namesMu    sync.Mutex
	userNames  = map[uint32]string{}
	groupNames = map[uint32]string{}
)

func userName(uid uint32) string {
	namesMu.Lock()
	defer namesMu.Unlock()
	if n, ok := userNames[uid]; ok {
		return n
	}
	n := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(n); err == nil {
		n = u.Username
	}
	userNames[uid] = n
	return n
}

func groupName(gid uint32) string {
	namesMu.Lock()
	defer namesMu.Unlock()
	if n, ok := groupNames[gid]; ok {
		return n
	}
	n := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(n); err == nil {
		n = g.Name
	}
	groupNames[gid] = n
	return n
}

// writeJSON writes v as JSON, wrapped for ?jsonp=callback when asked.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = io.WriteString(w, cb+"(")
		_, _ = w.Write(b)
		_, _ = io.WriteString(w, ");")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
